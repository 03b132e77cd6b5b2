"""The classification: the most output spikes, ties to the larger membrane, then the lower
class (DESIGN.md section 2)."""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Signal, Value, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from golden.config import N_OUTPUTS, SNNConfig
from golden.timing import CLASSIFY_CYCLES
from hdl.logic import one_hot_index


class Classifier(wiring.Component):
    """Ranks the 10 classes by all their pairwise compares: ``CLASSIFY_CYCLES`` (4) from
    ``start`` to ``done``.

    The first two cycles register every class's key twice (one unsigned number: the count
    above the membrane; a copy by the output layer, one by the compares); the third registers
    the 45 pairwise compares (class ``j`` strictly better than a lower class ``i``); the
    fourth registers the index of the class that wins every pair: strictly better than each
    lower class and at least as good as each higher one, so exactly one class wins and ties
    go to the lower class.  It is written to ``result`` in the ``done`` cycle.  Every stage
    is one compare or a few logic levels between registers (no compare selects a key for the
    next compare).

    Parameters
    ----------
    config : SNNConfig
        t_max (count width) and the output membrane width.

    Attributes
    ----------
    start : In(1)
        Classify ``counts`` and ``membranes`` (final at ``start``, held until ``done``).
    counts, membranes : In(ArrayLayout)
        Output spike counts and final membrane potentials.
    done : Out(1)
        The cycle ``result`` is written (a strobe).
    result : Out(4)
        The class of the last image.
    """

    def __init__(self, *, config: SNNConfig):
        super().__init__({
            "start": In(1),
            "counts": In(data.ArrayLayout(range(config.t_max + 1), N_OUTPUTS)),
            "membranes": In(data.ArrayLayout(signed(config.out_membrane_width), N_OUTPUTS)),
            "done": Out(1), "result": Out(range(N_OUTPUTS)),
        })

    def elaborate(self, platform):
        m = Module()
        key_width = len(self.counts[0]) + len(self.membranes[0])

        def key(k):
            # Class k's rank as one unsigned number: the count above the membrane (its sign
            # bit flipped: two's complement in unsigned order), so "better" is one compare.
            membrane = Value.cast(self.membranes[k])
            return Cat(membrane[:-1], ~membrane[-1], self.counts[k])

        # Every key registered twice (the output layer's registers are spread over the die,
        # and every key reaches nine compares): once by the output layer, once by the compares.
        keys = []
        for k in range(N_OUTPUTS):
            far, near = (Signal(key_width, name=f"class{k}_key{i}") for i in range(2))
            m.d.sync += [far.eq(key(k)), near.eq(far)]
            keys.append(near)
        # better[(i, j)], i < j: class j strictly better than class i.
        better = {}
        for j in range(N_OUTPUTS):
            for i in range(j):
                better[i, j] = Signal(name=f"class{j}_above{i}")
                m.d.sync += better[i, j].eq(keys[j] > keys[i])
        # The class that wins every pair, and its index, in one stage (a few logic levels).
        wins = Signal(N_OUTPUTS)
        m.d.comb += wins.eq(Cat(*[
            Cat(*[better[i, k] for i in range(k)], *[~better[k, j]
                                                      for j in range(k + 1, N_OUTPUTS)]).all()
            for k in range(N_OUTPUTS)]))
        winner = Signal(range(N_OUTPUTS))
        m.d.sync += winner.eq(one_hot_index(m, wins, "winning_class"))
        stages = 4  # registered stages before ``result``: keys twice, compares, winner
        assert stages == CLASSIFY_CYCLES, (stages, CLASSIFY_CYCLES)
        started = Signal(stages)
        m.d.sync += started.eq(Cat(self.start, started[:-1]))
        m.d.comb += self.done.eq(started[-1])
        with m.If(self.done):
            m.d.sync += self.result.eq(winner)
        return m
