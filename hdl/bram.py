"""ECP5 DP16KD block-RAM estimate of the core's memories (docs/hdl.md, "Block RAM").

A DP16KD holds 16 kbit (18 kbit with parity bits) in one of these depth x width shapes;
each memory takes the cheapest shape, as Yosys' ``memory_libmap`` does for ECP5.  The
estimate assumes every memory of at least ``MIN_BRAM_BITS`` and more than 16 words goes to
DP16KD (the rest to LUT RAM or flip-flops) and that each bit-plane of each lane segment
(:attr:`golden.geometry.LayerGeometry.segments`: the blocks of a chunk) keeps its own blocks,
so that one clock enable per block and plane gates its reads.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from golden.config import MAGNITUDE_BITS, N_OUTPUTS, WEIGHT_BITS, SNNConfig
from golden.geometry import hidden_geometry, output_geometry
from golden.timing import IMAGE_WORDS
from hdl.event_list import WORD_BITS

DP16KD_SHAPES = ((16384, 1), (8192, 2), (4096, 4), (2048, 9), (1024, 18), (512, 36))
"""(depth, width) configurations of one DP16KD (512 x 36 is pseudo-dual-port, read-only
use is fine with one read port; two read ports need the true-dual-port shapes, up to 18
bits wide)."""
MIN_BRAM_BITS = 2048
"""Memories smaller than this are left to LUT RAM / flip-flops."""
MAX_DISTRIBUTED_DEPTH = 16
"""Memories this shallow (the hidden membranes at up to 16 chunks) are wide and shallow:
flip-flops or 16-deep LUT RAM, never block RAM."""


@dataclass(frozen=True)
class MemoryUse:
    """One memory of the core: ``count`` copies of ``depth`` x ``width`` bits."""

    name: str
    depth: int
    width: int
    count: int = 1
    read_ports: int = 1

    @property
    def blocks_each(self) -> int:
        """DP16KD per copy (0 when left to LUTs/FFs)."""
        if self.depth * self.width < MIN_BRAM_BITS or self.depth <= MAX_DISTRIBUTED_DEPTH:
            return 0
        shapes = DP16KD_SHAPES if self.read_ports == 1 else DP16KD_SHAPES[:-1]
        return min(math.ceil(self.depth / d) * math.ceil(self.width / w) for d, w in shapes)

    @property
    def blocks(self) -> int:
        return self.blocks_each * self.count


def memories(config: SNNConfig) -> list[MemoryUse]:
    """Every memory of the core for ``config`` (sizes in words and bits)."""
    hidden, output = hidden_geometry(config), output_geometry(config)
    ports, list_bits = config.issue_width, WORD_BITS * config.issue_width
    list_words = IMAGE_WORDS // config.issue_width
    return [
        *[MemoryUse(f"hidden weight planes, lanes {segment.start}..{segment.stop - 1}",
                    hidden.words, len(segment), WEIGHT_BITS, ports)
          for segment in hidden.segments],
        MemoryUse("hidden block metadata", hidden.words, MAGNITUDE_BITS * hidden.slots, 1,
                  ports),
        MemoryUse("hidden membranes", hidden.chunks,
                  hidden.lanes * config.hidden_membrane_width),
        MemoryUse("output weight planes", output.words, N_OUTPUTS, WEIGHT_BITS),
        MemoryUse("output block metadata", output.words, MAGNITUDE_BITS),
        MemoryUse("image", list_words, list_bits),
        MemoryUse("input word list", list_words, list_bits + 8),
    ]


def dp16kd_total(config: SNNConfig) -> int:
    """Estimated DP16KD blocks of the whole core."""
    return sum(memory.blocks for memory in memories(config))


@dataclass(frozen=True)
class Packing:
    """One lane / block-size setting of a network and its estimated DP16KD."""

    lanes: int
    block_size: int
    chunks: int
    dp16kd: int


def packing_options(config: SNNConfig, *, max_chunks: int = 8) -> list[Packing]:
    """Estimated DP16KD of ``config``'s network at ``chunks = 1..max_chunks`` cycles per
    input spike (``lanes = ceil(N / chunks)``), each with the configured block size and with
    one block per chunk (``block_size = lanes``: one metadata field per word)."""
    n = config.n_hidden
    seen, rows = set(), []
    for chunks in range(1, max_chunks + 1):
        lanes = math.ceil(n / chunks)
        for block in sorted({min(config.block_size, n), lanes}):
            key = (lanes, block)
            if key in seen:
                continue
            seen.add(key)
            candidate = config.replace(lanes=lanes, block_size=block)
            rows.append(Packing(lanes, block, hidden_geometry(candidate).chunks,
                                dp16kd_total(candidate)))
    return rows


def widest_fit(config: SNNConfig, dp16kd: int) -> Packing | None:
    """The packing with the most lanes (then the smallest block) needing at most
    ``dp16kd`` blocks, or None."""
    fits = [p for p in packing_options(config) if p.dp16kd <= dp16kd]
    return max(fits, key=lambda p: (p.lanes, -p.block_size), default=None)
