"""DP16KD estimate of the core's memories (docs/hdl.md, "Block RAM")."""

from __future__ import annotations

from golden.config import SNNConfig
from hdl.bram import MemoryUse, dp16kd_total, memories, packing_options, widest_fit

LFE5U_25F_DP16KD = 56


def test_one_plane_of_784_x_128_takes_eight_blocks():
    assert MemoryUse("plane", 784, 128).blocks == 8
    assert MemoryUse("plane", 3136, 32).blocks == 7


def test_small_and_shallow_memories_stay_out_of_block_ram():
    assert MemoryUse("tiny", 48, 10).blocks == 0
    assert MemoryUse("membranes", 4, 736).blocks == 0


def test_n48_fits_a_25f_and_n128_needs_a_bigger_device():
    assert dp16kd_total(SNNConfig(n_hidden=48, lanes=48)) <= LFE5U_25F_DP16KD
    # two events per cycle (the default at L = N): the 98 x 64-bit image memory takes two
    # 512 x 36 blocks where the 196 x 32-bit one took one
    assert dp16kd_total(SNNConfig(n_hidden=128, lanes=128)) == 72
    assert dp16kd_total(SNNConfig(n_hidden=128, lanes=128, events_per_cycle=1)) == 71
    # the metadata (56 bits) read through two ports cannot use the 36-bit shape
    assert MemoryUse("metadata", 784, 56, read_ports=2).blocks == 4
    assert MemoryUse("metadata", 600, 56, read_ports=2).blocks == 4
    assert MemoryUse("metadata", 500, 56).blocks == 2
    # One memory per plane and block (784 x 16 bits: one 1024 x 18 DP16KD each), as many
    # blocks as one 784 x 128 memory per plane took.
    planes = [m for m in memories(SNNConfig(n_hidden=128, lanes=128))
              if m.name.startswith("hidden weight planes")]
    assert len(planes) == 8 and all(m.count == 8 and m.blocks == 8 for m in planes)


def test_n128_fits_a_25f_with_26_lanes_and_one_block_per_chunk():
    # 784 x 5 chunks = 3,920 words of 26 bits: 2 x 3 blocks of 2048 x 9 per plane (48 in
    # all) and a 7-bit metadata field per word (2 blocks); the 25F build measured 53.
    config = SNNConfig(n_hidden=128, lanes=128)
    fit = widest_fit(config, LFE5U_25F_DP16KD)
    assert (fit.lanes, fit.block_size, fit.chunks, fit.dp16kd) == (26, 26, 5, 53)
    # B = 16 at 26 lanes: blocks start at 7 different lanes of a chunk, 8 plane memories of
    # each lane segment.
    assert dp16kd_total(config.replace(lanes=26, block_size=16)) == 73
    assert all(p.dp16kd > LFE5U_25F_DP16KD for p in packing_options(config) if p.lanes > 26)
