"""Structured pruning of the hidden layer in the unit the core skips: metadata blocks.

A block is one input row of ``w_hidden`` times ``B`` consecutive hidden neurons (the last
block of a row may be narrower), exactly the block whose 7-bit metadata (its largest ``|w|``)
decides whether its weight planes are read.  An all-zero block has metadata 0, so its planes
are never read at any precision.  Training removes whole blocks gradually (a cubic schedule
between two points of training), then fine-tunes with the mask frozen.  The output layer stays
dense: it is one block of 10 per hidden spike, a small share of the reads.
"""

from __future__ import annotations

import math

import torch


def block_scores(w: torch.Tensor, block_size: int) -> torch.Tensor:
    """Squared L2 norm of every block of ``w [rows, N]``: a ``[rows, ceil(N / B)]`` tensor."""
    rows, n = w.shape
    n_blocks = math.ceil(n / block_size)
    padded = torch.zeros(rows, n_blocks * block_size, dtype=w.dtype)
    padded[:, :n] = w.detach()
    return padded.view(rows, n_blocks, block_size).pow(2).sum(-1)


def block_mask(w: torch.Tensor, block_size: int, sparsity: float) -> torch.Tensor:
    """Keep-mask ``[rows, n_blocks]`` (bool) that drops the ``ceil(sparsity * blocks)`` weakest."""
    scores = block_scores(w, block_size).flatten()
    drop = min(math.ceil(sparsity * scores.numel() - 1e-9), scores.numel())
    keep = torch.ones_like(scores, dtype=torch.bool)
    if drop > 0:
        keep[torch.argsort(scores, stable=True)[:drop]] = False
    return keep.view(w.shape[0], -1)


def expand_mask(mask: torch.Tensor, n: int, block_size: int) -> torch.Tensor:
    """The per-weight ``[rows, n]`` float mask of a block mask."""
    return mask.repeat_interleave(block_size, dim=1)[:, :n].to(torch.float32)


def cubic_sparsity(progress: float, target: float, start: float, end: float) -> float:
    """Sparsity at training ``progress`` (0..1): 0 before ``start``, ``target`` from ``end``.

    In between it rises as ``target * (1 - (1 - x)**3)`` with ``x`` the fraction of the way
    from ``start`` to ``end`` (fast at first, slow near the end).
    """
    if progress < start:
        return 0.0
    if progress >= end or end <= start:
        return target
    x = (progress - start) / (end - start)
    return target * (1 - (1 - x) ** 3)

