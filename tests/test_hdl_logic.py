"""The combinational helpers of hdl.logic, simulated against Python on random vectors."""

from __future__ import annotations

import random

import pytest
from amaranth.hdl import Module, Signal
from amaranth.sim import Simulator

from hdl.logic import (
    FANOUT_COPY,
    PRIORITY_GROUP,
    lowest_set_bit,
    register_tree,
    registered_popcount,
    spike_sequence,
)


@pytest.mark.parametrize("width", [4, PRIORITY_GROUP, 40, 128])
def test_lowest_set_bit_matches_python(width):
    m = Module()
    bits = Signal(width)
    index, one_hot = lowest_set_bit(m, bits, "probe")
    rng = random.Random(width)
    values = [0, 1, 1 << (width - 1), (1 << width) - 1]
    values += [rng.getrandbits(width) & rng.getrandbits(width) & rng.getrandbits(width)
               for _ in range(200)]
    values += [1 << rng.randrange(width) for _ in range(50)]
    seen = []

    async def bench(ctx):
        for value in values:
            ctx.set(bits, value)
            seen.append((value, ctx.get(index), ctx.get(one_hot)))

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()
    assert len(seen) == len(values)
    for value, got_index, got_one_hot in seen:
        lowest = value & -value
        assert got_one_hot == lowest, hex(value)
        assert got_index == (lowest.bit_length() - 1 if value else 0), hex(value)


@pytest.mark.parametrize("events", [1, 2])
@pytest.mark.parametrize("width", [1, 5, PRIORITY_GROUP, 40, 128])
def test_spike_walker_hands_out_every_set_bit_from_both_ends(width, events):
    """Every set bit once, ``events`` per cycle: the lowest remaining one, with two also the
    highest remaining one (across groups, within one group, and one in the last cycle of an
    odd count)."""
    from hdl.spike_walker import SpikeWalker

    dut = SpikeWalker(width=width, events=events)
    rng = random.Random(width)
    vectors = [0, (1 << width) - 1, 1 << (width - 1), 1 | (1 << (width - 1))]
    vectors += [rng.getrandbits(width) & rng.getrandbits(width) for _ in range(12)]
    vectors += [sum(1 << i for i in range(0, width, PRIORITY_GROUP))]  # one bit per group
    vectors += [0b111 << (width - 3)] if width >= 3 else []  # several in the last group only
    walks, cycles = [], []

    async def bench(ctx):
        for vector in vectors:
            ctx.set(dut.spikes, vector)
            ctx.set(dut.load, 1)
            await ctx.tick()
            ctx.set(dut.load, 0)
            ctx.set(dut.advance, 1)
            handed, taken = [], 0
            while ctx.get(dut.valid[0]):
                valid = [ctx.get(dut.valid[e]) for e in range(events)]
                assert valid == sorted(valid, reverse=True)  # valid ones first
                picks = [ctx.get(dut.index[e]) if valid[e] else 0 for e in range(events)]
                handed += [pick for pick, v in zip(picks, valid, strict=True) if v]
                taken += 1
                await ctx.tick()
                # the registered copy of this cycle's picks
                assert [ctx.get(dut.handed_valid[e]) for e in range(events)] == valid
                assert [ctx.get(dut.handed_index[e]) for e in range(events)] == picks
            assert ctx.get(dut.index[0]) == 0 and not ctx.get(dut.valid)
            await ctx.tick()
            assert not ctx.get(dut.handed_valid) and ctx.get(dut.handed_index[0]) == 0
            walks.append(handed)
            cycles.append(taken)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    expected = []
    for v in vectors:
        remaining = [i for i in range(width) if (v >> i) & 1]
        handed = []
        while remaining:
            handed.append(remaining.pop(0))
            if events == 2 and remaining:
                handed.append(remaining.pop())
        expected.append(handed)
    assert walks == expected
    assert cycles == [-(-bin(v).count("1") // events) for v in vectors]


def test_spike_walker_rejects_a_bad_width():
    from hdl.spike_walker import SpikeWalker

    with pytest.raises(ValueError, match="width must be a positive integer"):
        SpikeWalker(width=0)


@pytest.mark.parametrize("width", [2, 4, 8, 16])
def test_spike_sequence_lists_the_set_bits_lowest_first(width):
    """Every value of ``width`` bits (a sample above 8 bits): lane ``k`` is the ``k``-th set
    bit and ``present[k]`` says whether there is one."""
    m = Module()
    bits = Signal(width)
    lanes, present = spike_sequence(m, bits, "probe")
    rng = random.Random(width)
    values = (list(range(1 << width)) if width <= 8
              else [0, (1 << width) - 1] + [rng.getrandbits(width) for _ in range(300)])
    seen = []

    async def bench(ctx):
        for value in values:
            ctx.set(bits, value)
            seen.append((value, [ctx.get(lane) for lane in lanes],
                         [ctx.get(flag) for flag in present]))

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()
    assert len(seen) == len(values)
    for value, got_lanes, got_present in seen:
        set_bits = [i for i in range(width) if value >> i & 1]
        assert got_present == [int(k < len(set_bits)) for k in range(width)], hex(value)
        assert got_lanes[:len(set_bits)] == set_bits, hex(value)


@pytest.mark.parametrize("stages", [2, 3])
@pytest.mark.parametrize("width", [5, 16, 40, 128])
def test_registered_popcount_counts_after_its_stages(width, stages):
    """The count of the vector set ``stages`` cycles earlier, on a new vector every cycle."""
    m = Module()
    bits = Signal(width)
    total = registered_popcount(m, bits, "probe", stages=stages)
    rng = random.Random(width + stages)
    values = [0, (1 << width) - 1] + [rng.getrandbits(width) for _ in range(60)]
    seen = []

    async def bench(ctx):
        for value in values + [0] * stages:
            ctx.set(bits, value)
            seen.append(ctx.get(total))
            await ctx.tick()

    sim = Simulator(m)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert seen[stages:] == [bin(value).count("1") for value in values]


def test_registered_popcount_refuses_other_stage_counts():
    m = Module()
    m._MustUse__silence = True  # never elaborated: the call is refused
    with pytest.raises(ValueError, match="stages"):
        registered_popcount(m, Signal(8), "probe", stages=4)


@pytest.mark.parametrize("fan_outs", [(1,), (4, 8), (2, 3, 2)])
def test_a_register_tree_delivers_its_input_at_every_leaf_after_one_cycle_per_level(fan_outs):
    """The leaves (their product in number, each a kept fan-out copy) all hold the value of
    ``len(fan_outs)`` cycles earlier."""
    m = Module()
    value = Signal(3)
    leaves = register_tree(m, value, fan_outs, "probe")
    count = 1
    for fan_out in fan_outs:
        count *= fan_out
    assert len(leaves) == count and all(leaf.attrs.get(FANOUT_COPY) for leaf in leaves)
    values = [5, 0, 7, 1, 3, 6, 2, 4]
    seen = []

    async def bench(ctx):
        for v in values + [0] * len(fan_outs):
            ctx.set(value, v)
            seen.append([ctx.get(leaf) for leaf in leaves])
            await ctx.tick()

    sim = Simulator(m)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert seen[len(fan_outs):] == [[v] * count for v in values]
