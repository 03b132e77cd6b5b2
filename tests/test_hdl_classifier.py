"""The classifier, simulated against the classification rule on random and tied outputs."""

from __future__ import annotations

import numpy as np
import pytest
from amaranth.sim import Simulator

from golden.config import N_OUTPUTS, SNNConfig
from golden.timing import CLASSIFY_CYCLES
from hdl.classifier import Classifier


def _expected(counts, membranes):
    """Most spikes, ties to the larger membrane, then the lower class."""
    return min(range(N_OUTPUTS), key=lambda k: (-counts[k], -membranes[k], k))


@pytest.mark.parametrize("seed", range(3))
def test_classifier_follows_the_rule_in_its_cycle_count(seed):
    config = SNNConfig(n_hidden=8, lanes=8, block_size=4)
    dut = Classifier(config=config)
    rng = np.random.default_rng(seed)
    width = len(dut.membranes[0])
    lo, hi = -(1 << (width - 1)), (1 << (width - 1)) - 1
    cases = []
    for _ in range(60):
        counts = [int(v) for v in rng.integers(0, rng.choice([2, 4, config.t_max + 1]),
                                               N_OUTPUTS)]
        membranes = [int(v) for v in rng.choice([rng.integers(-3, 3, N_OUTPUTS),
                                                 rng.integers(lo, hi + 1, N_OUTPUTS)])]
        if rng.random() < 0.2:
            membranes = [int(rng.choice([lo, hi]))] * N_OUTPUTS  # extremes, all tied
        cases.append((counts, membranes))
    cases.append(([0] * N_OUTPUTS, [lo] * N_OUTPUTS))  # every class at the smallest key
    seen = []

    async def bench(ctx):
        for counts, membranes in cases:
            for k in range(N_OUTPUTS):
                ctx.set(dut.counts[k], counts[k])
                ctx.set(dut.membranes[k], membranes[k])
            ctx.set(dut.start, 1)
            await ctx.tick()
            ctx.set(dut.start, 0)
            cycles = 1
            while not ctx.get(dut.done):
                await ctx.tick()
                cycles += 1
            await ctx.tick()
            seen.append((ctx.get(dut.result), cycles))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert seen == [(_expected(c, v), CLASSIFY_CYCLES) for c, v in cases]
