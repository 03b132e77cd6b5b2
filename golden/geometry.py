"""How one layer's synapse rows are cut into lane chunks and metadata blocks.

A layer has ``rows`` presynaptic neurons and ``fan_out`` postsynaptic neurons.  The hardware
updates ``lanes`` postsynaptic neurons per clock cycle, so a row is processed as
``chunks = ceil(fan_out / lanes)`` chunks; neuron ``j`` is lane ``j % lanes`` of chunk
``j // lanes`` (lanes past ``fan_out`` in the last chunk are padding and always off).

Metadata blocks of ``block_size`` consecutive neurons need not line up with chunks.  Each
chunk sees up to ``slots`` blocks (those that overlap it); slot ``s`` of chunk ``c`` is block
``c * lanes // block_size + s``.  A block is *counted* (its 7 metadata bits and plane bits go
into ``weight_bits_read``) in the one chunk where it starts, and *gates* the plane reads of
every chunk it overlaps.

The bit-plane memories are split by lane into *segments*: the coarsest cut of the ``lanes``
lanes such that, in every chunk, a segment's lanes lie in one block (or are all padding).
Each segment of each plane is its own memory with its own read enable, so a block that
reads no planes enables no memory (with ``block_size`` dividing ``lanes`` the segments are
the blocks of a chunk; with one chunk they are the blocks; padding lanes of the last chunk
belong to the segment they fall in and are never counted).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from golden.config import N_INPUTS, N_OUTPUTS, SNNConfig


@dataclass(frozen=True)
class SlotInfo:
    """Block ``block`` as seen from one chunk: ``width`` neurons, ``counted`` in this chunk."""

    block: int
    width: int
    counted: bool


@dataclass(frozen=True, kw_only=True)
class LayerGeometry:
    """Lane chunks and metadata blocks of one layer (all sizes in neurons).

    Parameters
    ----------
    rows : int
        Presynaptic neurons (weight rows).
    fan_out : int
        Postsynaptic neurons per row.
    lanes : int
        Postsynaptic neurons updated per clock cycle, 1..fan_out.
    block_size : int
        Neurons per metadata block, >= 1 (a block wider than the row is the whole row).
    """

    rows: int
    fan_out: int
    lanes: int
    block_size: int

    def __post_init__(self):
        for name in ("rows", "fan_out"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, not {getattr(self, name)}")
        if not 1 <= self.lanes <= self.fan_out:
            raise ValueError(f"lanes must be in 1..{self.fan_out} (the layer's fan-out), "
                             f"not {self.lanes}")
        if self.block_size < 1:
            raise ValueError(f"block_size must be >= 1, not {self.block_size}")

    @property
    def chunks(self) -> int:
        """Clock cycles (lane chunks) per presynaptic spike: ``ceil(fan_out / lanes)``."""
        return math.ceil(self.fan_out / self.lanes)

    @property
    def n_blocks(self) -> int:
        """Metadata blocks per row: ``ceil(fan_out / block_size)``."""
        return math.ceil(self.fan_out / self.block_size)

    @property
    def words(self) -> int:
        """Words of every per-row memory (plane and metadata): ``rows * chunks``."""
        return self.rows * self.chunks

    def block_range(self, block: int) -> range:
        """Neurons of metadata block ``block`` (the last block may be narrower)."""
        start = block * self.block_size
        return range(start, min(start + self.block_size, self.fan_out))

    def chunk_slots(self, chunk: int) -> list[SlotInfo]:
        """The blocks that overlap lane chunk ``chunk``, in slot order."""
        lo = chunk * self.lanes
        hi = min(lo + self.lanes, self.fan_out)
        first, last = lo // self.block_size, (hi - 1) // self.block_size
        return [SlotInfo(block=k, width=len(self.block_range(k)),
                         counted=k * self.block_size >= lo)
                for k in range(first, last + 1)]

    @property
    def slots(self) -> int:
        """Most blocks any chunk overlaps (metadata words hold this many 7-bit fields)."""
        return max(len(self.chunk_slots(c)) for c in range(self.chunks))

    @property
    def segments(self) -> list[range]:
        """Lane ranges of the plane memories: the block starts of every chunk cut the lanes
        (see the module text; padding lanes go with the segment they fall in)."""
        cuts = {0, self.lanes}
        for chunk in range(self.chunks):
            lo = chunk * self.lanes
            for neuron in range(lo, min(lo + self.lanes, self.fan_out)):
                if neuron % self.block_size == 0:
                    cuts.add(neuron - lo)
        edges = sorted(cuts)
        return [range(a, b) for a, b in zip(edges, edges[1:], strict=False)]

    def segment_slot(self, chunk: int, segment: range) -> int | None:
        """Slot (in :meth:`chunk_slots` order) of the block that lanes ``segment`` of
        ``chunk`` belong to, None if they are padding."""
        neuron = chunk * self.lanes + segment.start
        if neuron >= self.fan_out:
            return None
        return neuron // self.block_size - chunk * self.lanes // self.block_size

    def chunk_blocks(self, chunk: int) -> list[int]:
        """The blocks that overlap lane chunk ``chunk``."""
        return [slot.block for slot in self.chunk_slots(chunk)]

    def chunk_levels(self, maxima: np.ndarray) -> np.ndarray:
        """Per row and chunk, the bit length (0..7) of the largest block metadata ``m`` of the
        blocks that overlap the chunk (``maxima`` int ``[rows, blocks]``): every such block
        has ``q_b(m) = 0`` iff ``level + b <= 8``.  uint8 ``[rows, chunks]``."""
        top = np.stack([maxima[:, self.chunk_blocks(c)].max(axis=1)
                        for c in range(self.chunks)], axis=1)
        return np.where(top > 0, np.floor(np.log2(np.maximum(top, 1))) + 1, 0).astype(np.uint8)

    def chunk_live(self, on: np.ndarray) -> np.ndarray:
        """Which chunks have a block with a neuron on (``on`` bool ``[..., fan_out]``):
        bool ``[..., chunks]``.  A chunk that is not live is fully gated."""
        blocks = np.stack([on[..., self.block_range(k)].any(axis=-1)
                           for k in range(self.n_blocks)], axis=-1)
        return np.stack([blocks[..., self.chunk_blocks(c)].any(axis=-1)
                         for c in range(self.chunks)], axis=-1)

    def lane_valid(self, chunk: int) -> int:
        """Bit mask of the lanes of ``chunk`` that are real neurons (not padding)."""
        width = min(self.lanes, self.fan_out - chunk * self.lanes)
        return (1 << width) - 1


def hidden_geometry(config: SNNConfig) -> LayerGeometry:
    """Chunks and blocks of the hidden layer: 784 rows, N neurons, ``min(L, N)`` lanes
    (more lanes than neurons would only be padding: L > N is a whole row per cycle)."""
    return LayerGeometry(rows=N_INPUTS, fan_out=config.n_hidden,
                         lanes=min(config.lanes, config.n_hidden),
                         block_size=config.block_size)


def output_geometry(config: SNNConfig) -> LayerGeometry:
    """The output layer: N rows of 10 neurons, all 10 updated per cycle, one block of 10."""
    return LayerGeometry(rows=config.n_hidden, fan_out=N_OUTPUTS, lanes=N_OUTPUTS,
                         block_size=N_OUTPUTS)
