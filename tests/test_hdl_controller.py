"""hdl/controller.py in the Amaranth simulator against the rules of docs/controller.md
(golden.controller.output_margin and the escalation/exit/gating order)."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from golden.config import ControllerSettings, RunSettings
from golden.controller import output_margin
from golden.timing import MARGIN_CYCLES
from hdl import regmap
from hdl.controller import PrecisionController


def _expected(bits, counts, start, step, escalate_margin, exit_margin, gate_idle):
    """(leave, changed, gate, new bits) by the documented rules (unclamped inputs)."""
    step = [min(s, 6) for s in step]
    margin = int(output_margin(np.array([counts]))[0])
    leave = exit_margin != 0 and margin >= exit_margin
    escalate = not leave and margin < escalate_margin
    new = [min(8, b + s) if escalate else b for b, s in zip(bits, step, strict=True)]
    return leave, escalate and new != bits, (not leave) and gate_idle, new


def _clamp_bits(value):
    return min(8, max(2, value))


@pytest.mark.parametrize("seed", range(4))
def test_checkpoint_decisions_follow_the_documented_rules(seed):
    rng = np.random.default_rng(seed)
    dut = PrecisionController(count_width=6)
    cases = []
    for _ in range(40):
        start = [int(v) for v in rng.integers(0, 16, 2)]
        cases.append({
            "start": start, "step": [int(v) for v in rng.integers(0, 8, 2)],
            "escalate_margin": int(rng.integers(0, 5)), "exit_margin": int(rng.integers(0, 5)),
            "gate_idle": bool(rng.integers(0, 2)),
            "checks": [[int(v) for v in rng.integers(0, 6 if rng.random() < 0.5 else 40, 10)]
                       for _ in range(int(rng.integers(1, 4)))]})
    seen = []

    async def bench(ctx):
        ctx.set(dut.enable, 1)
        for case in cases:
            ctx.set(dut.start_hidden, case["start"][0])
            ctx.set(dut.start_out, case["start"][1])
            ctx.set(dut.step_hidden, case["step"][0])
            ctx.set(dut.step_out, case["step"][1])
            ctx.set(dut.escalate_margin, case["escalate_margin"])
            ctx.set(dut.exit_margin, case["exit_margin"])
            ctx.set(dut.gate_idle, case["gate_idle"])
            ctx.set(dut.begin, 1)
            await ctx.tick()
            ctx.set(dut.begin, 0)
            bits = [_clamp_bits(v) for v in case["start"]]
            assert [ctx.get(dut.bits_hidden), ctx.get(dut.bits_out)] == bits
            for counts in case["checks"]:
                for k, c in enumerate(counts):
                    ctx.set(dut.counts[k], c)
                ctx.set(dut.check, 1)
                await ctx.tick()
                ctx.set(dut.check, 0)
                for _ in range(MARGIN_CYCLES - 1):
                    assert not ctx.get(dut.decided)
                    await ctx.tick()
                assert ctx.get(dut.decided)
                got = (bool(ctx.get(dut.leave)), bool(ctx.get(dut.changed)),
                       bool(ctx.get(dut.gate)))
                leave, changed, gate, new = _expected(
                    bits, counts, case["start"], case["step"], case["escalate_margin"],
                    case["exit_margin"], case["gate_idle"])
                assert got == (leave, changed, gate), (case, counts)
                await ctx.tick()
                assert not ctx.get(dut.decided)
                bits = new
                assert [ctx.get(dut.bits_hidden), ctx.get(dut.bits_out)] == bits
                seen.append((leave, changed, gate))
                if leave:
                    break

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert {s[0] for s in seen} == {True, False} and {s[1] for s in seen} == {True, False}


def test_static_mode_passes_the_precision_register_through():
    dut = PrecisionController(count_width=5)

    async def bench(ctx):
        ctx.set(dut.static_hidden, 5)
        ctx.set(dut.static_out, 3)
        ctx.set(dut.start_hidden, 2)
        ctx.set(dut.begin, 1)
        await ctx.tick()
        assert (ctx.get(dut.bits_hidden), ctx.get(dut.bits_out)) == (5, 3)
        ctx.set(dut.enable, 1)
        await ctx.delay(1e-9)
        assert ctx.get(dut.bits_hidden) == 2

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()


def test_bad_count_width():
    with pytest.raises(ValueError, match="count_width"):
        PrecisionController(count_width=0)


def test_block_gating_register_round_trip_and_clamp():
    settings = RunSettings(controller=ControllerSettings(gate_blocks=5, gate_idle=True))
    control, checkpoints = regmap.controller_words(settings)
    assert regmap.unpack(regmap.CONTROLLER_FIELDS, control).gate_blocks == 5
    decoded, _ = regmap.decode_controller(control, checkpoints, 16, 32, block_size=16)
    assert decoded == settings.controller
    # The RTL clamps K to B: 200 acts as B (every block gated unless all its neurons fired).
    big = regmap.pack(regmap.CONTROLLER_FIELDS, enable=1, start_hidden=4, start_out=4,
                      gate_blocks=200)
    decoded, _ = regmap.decode_controller(big, checkpoints, 16, 32, block_size=16)
    assert decoded.gate_blocks == 16
