"""Networks to run: random ``[784, N, 10]`` networks from a seed, and committed weights files.

``flows/verify.py --random-seed S`` and the synthesis of random-weight baselines take their
networks from here; the same seed always gives the same network.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from golden.config import N_INPUTS, N_OUTPUTS, SNNConfig
from golden.weights import load_weights

LEAK_CHOICES = (0, 0, 1, 2, 3, 4, 6, 15)


@dataclass
class Network:
    """A configuration with its weights (random or from a file)."""

    config: SNNConfig
    w_hidden: np.ndarray
    w_out: np.ndarray
    seed: int | None = None


def random_weights(rng: np.random.Generator, shape: tuple[int, int],
                   sparsity: float) -> np.ndarray:
    """Sign-magnitude int8 weights, a fraction ``sparsity`` of them exactly zero."""
    magnitude = np.minimum(np.abs(rng.normal(0, 45, shape)), 127).astype(np.int16)
    weights = np.where(rng.random(shape) < 0.5, -magnitude, magnitude)
    weights[rng.random(shape) < sparsity] = 0
    return weights.astype(np.int8)


def random_network(seed: int, *, n_hidden: int | None = None, lanes: int | None = None,
                   sparsity: float | None = None) -> Network:
    """A random ``[784, N, 10]`` network and hardware configuration.

    Unless given, N is odd and not a multiple of the lanes L, B is independent of L, and the
    thresholds, leaks, T and the weight sparsity (0..0.95) are random.
    """
    rng = np.random.default_rng(seed)
    if n_hidden is None:
        n_hidden = int(rng.integers(5, 80)) * 2 + 1
    if lanes is None:
        candidates = [d for d in range(2, n_hidden) if n_hidden % d and n_hidden / d <= 12]
        lanes = int(rng.choice(candidates)) if candidates else n_hidden
    if sparsity is None:
        sparsity = float(rng.uniform(0, 0.95))
    block_size = int(rng.integers(1, min(n_hidden, 40) + 1))
    config = SNNConfig(
        n_hidden=n_hidden, lanes=lanes, block_size=block_size,
        timesteps=int(rng.integers(4, 21)), t_max=32,
        theta_hidden=int(rng.integers(60, 1500)), theta_out=int(rng.integers(30, 800)),
        leak_hidden=int(rng.choice(LEAK_CHOICES)), leak_out=int(rng.choice(LEAK_CHOICES)))
    return Network(config, random_weights(rng, (N_INPUTS, n_hidden), sparsity),
                   random_weights(rng, (n_hidden, N_OUTPUTS), sparsity / 2), seed)


def committed_network(path: Path, lanes: int | None = None,
                      block_size: int | None = None) -> Network:
    """A committed weights file with the default hardware parameters (L = min(128, N),
    B = min(16, N)) unless given."""
    weights = load_weights(path)
    lanes = lanes or min(128, weights.n_hidden)
    block_size = min(block_size or 16, weights.n_hidden)
    return Network(weights.config(lanes=lanes, block_size=block_size),
                   weights.w_hidden, weights.w_out)
