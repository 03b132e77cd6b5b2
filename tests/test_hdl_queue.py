"""The register file's start queue and kept results (hdl/register_file.py) in the Amaranth
simulator, and where the sequencer launches a queued image (hdl.core.early_launch)."""

import pytest
from amaranth.sim import Simulator

from golden.config import SNNConfig
from golden.timing import CLASSIFY_CYCLES
from hdl import regmap
from hdl.core import early_launch
from hdl.register_file import RegisterFile

CONFIG = SNNConfig(n_hidden=8, lanes=8, block_size=4)


def _write(ctx, dut, address, value):
    ctx.set(dut.bus.addr, address)
    ctx.set(dut.bus.w_data, value)
    ctx.set(dut.bus.w_en, 1)


def test_a_start_while_busy_is_queued_once_and_cleared_when_taken():
    dut = RegisterFile(config=CONFIG)
    seen = []

    async def bench(ctx):
        _write(ctx, dut, regmap.CONTROL, regmap.START)  # idle: a start, acknowledged
        seen.append(("idle", ctx.get(dut.start), ctx.get(dut.acknowledge)))
        await ctx.tick()
        ctx.set(dut.busy, 1)
        seen.append(("busy", ctx.get(dut.start), ctx.get(dut.acknowledge)))  # queues
        await ctx.tick()
        ctx.set(dut.bus.w_en, 0)
        seen.append(("queued", ctx.get(dut.queued)))
        await ctx.tick()
        seen.append(("still", ctx.get(dut.queued)))
        ctx.set(dut.take_queued, 1)
        await ctx.tick()
        ctx.set(dut.take_queued, 0)
        seen.append(("taken", ctx.get(dut.queued)))
        _write(ctx, dut, regmap.CONTROL, 0)  # bit 0 clear: neither a start nor a queue
        await ctx.tick()
        seen.append(("zero", ctx.get(dut.queued), ctx.get(dut.acknowledge)))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert seen == [("idle", 1, 1), ("busy", 0, 1), ("queued", 1), ("still", 1),
                    ("taken", 0), ("zero", 0, 0)]


def test_results_of_the_finished_image_stay_readable_while_the_next_one_counts():
    dut = RegisterFile(config=CONFIG)
    reads = []

    async def read(ctx, address):
        ctx.set(dut.bus.addr, address)
        await ctx.tick()
        return ctx.get(dut.bus.r_data)

    async def bench(ctx):
        ctx.set(dut.result, 9)  # the class is written at the end of the `finish` cycle
        ctx.set(dut.finish, 1)
        await ctx.tick()
        ctx.set(dut.finish, 0)
        # the next cycle: everything final, read live (a queued image clears its counters at
        # the end of this cycle)
        ctx.set(dut.result, 3)
        ctx.set(dut.counters.cycles, 1234)
        ctx.set(dut.counts[2], 7)
        reads.append(await read(ctx, regmap.RESULT))
        ctx.set(dut.counters.cycles, 17)  # the queued image counts
        ctx.set(dut.counts[2], 0)
        for address in (regmap.RESULT, regmap.COUNTERS + regmap.COUNTER_ORDER.index("cycles"),
                        regmap.COUNTS + 2):
            reads.append(await read(ctx, address))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert reads == [3, 3, 1234, 7]


def test_early_launch_only_where_finish_cannot_outlast_a_scan():
    assert early_launch(SNNConfig(n_hidden=128, lanes=128))  # 89 <= 102 cycles
    assert early_launch(SNNConfig(n_hidden=128, lanes=26))  # one event: 153 <= 200
    assert not early_launch(SNNConfig(n_hidden=200, lanes=200))
    assert not early_launch(SNNConfig(n_hidden=256, lanes=64))


def _launch_to_walk(config: SNNConfig, early: bool) -> list[tuple[str, int]]:
    """Cycles from each launch to the next walk strobe: an image started while idle, then one
    queued while it runs (the sequencer alone, with a list that is always built and a data
    path that is always idle)."""
    from golden.geometry import hidden_geometry
    from hdl.sequencer import Sequencer

    dut = Sequencer(config=config, geometry=hidden_geometry(config), early_launch=early)
    seen = []

    async def bench(ctx):
        for port, value in ((dut.timesteps, 1), (dut.list_scanned, 1), (dut.list_idle, 1),
                            (dut.output_idle, 1)):
            ctx.set(port, value)
        ctx.set(dut.start, 1)
        launched, kind, classify_at = None, "idle", None
        for cycle in range(4 * hidden_geometry(config).chunks + 100):
            if ctx.get(dut.classify):
                classify_at = cycle
            # the classifier's latency (the queued image is launched at its start)
            ctx.set(dut.classified, classify_at is not None
                    and cycle == classify_at + CLASSIFY_CYCLES)
            if ctx.get(dut.launch):
                launched = cycle
            if ctx.get(dut.walk) and launched is not None:
                seen.append((kind, cycle - launched))
                launched, kind = None, "queued"
                ctx.set(dut.queued, 1)  # the next image waits while this one runs
            taken = ctx.get(dut.take_queued)
            await ctx.tick()
            ctx.set(dut.start, 0)
            if taken:  # the register file clears `queued` at the end of that cycle
                ctx.set(dut.queued, 0)
            if len(seen) == 2:
                break

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return seen


def test_a_queued_scan_is_as_long_as_an_idle_one_even_when_the_clear_sweep_dominates():
    # 256 chunks: the clear sweep (not the 196 or 98 list words) decides the SCAN's length
    config = SNNConfig(n_hidden=1024, lanes=4, block_size=4)
    (idle_kind, idle), (queued_kind, queued) = _launch_to_walk(config, early=False)
    assert (idle_kind, queued_kind) == ("idle", "queued")
    assert idle == 256 + 2 == queued


@pytest.mark.parametrize("n_hidden, lanes, dynamic", [(128, 128, False), (16, 4, False),
                                                       (16, 4, True)])
def test_the_fire_flag_announced_two_cycles_ahead_is_the_fire_pass(n_hidden, lanes, dynamic):
    """The hidden layer's tree of fire flag copies is fed ``fire_ahead``: two cycles later it
    must be ``fire_valid`` in every cycle (one and several chunks, with checkpoints)."""
    from golden.geometry import hidden_geometry
    from hdl.sequencer import Sequencer

    config = SNNConfig(n_hidden=n_hidden, lanes=lanes, block_size=4)
    chunks = hidden_geometry(config).chunks
    dut = Sequencer(config=config, geometry=hidden_geometry(config), early_launch=False)
    ahead, fire = [], []

    async def bench(ctx):
        for port, value in ((dut.timesteps, 3), (dut.list_scanned, 1), (dut.list_idle, 1),
                            (dut.output_idle, 1), (dut.dynamic, int(dynamic)),
                            (dut.interval, 1), (dut.decided, 1), (dut.classified, 1)):
            ctx.set(port, value)
        images = 0
        for cycle in range(2 * (30 * chunks + 100)):
            ahead.append(ctx.get(dut.fire_ahead))
            fire.append(ctx.get(dut.fire_valid))
            done = ctx.get(dut.done)
            images += done
            ctx.set(dut.acknowledge, done)
            ctx.set(dut.start, cycle == 0 or (done and images < 2))
            await ctx.tick()
        assert images == 2

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert sum(fire) == 2 * 3 * chunks  # every chunk of every step of both images
    assert fire[2:] == ahead[:-2]
