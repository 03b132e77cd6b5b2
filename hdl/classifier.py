"""The classification: the most output spikes, ties to the larger membrane, then the lower
class (DESIGN.md section 2)."""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal, Value, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from golden.config import N_OUTPUTS, SNNConfig
from golden.timing import CLASSIFY_CYCLES


class Classifier(wiring.Component):
    """Ranks the 10 classes in a registered knockout tournament: ``CLASSIFY_CYCLES`` (4)
    from ``start`` to ``done``.

    The first cycle registers every class's key (one unsigned number: the count above the
    membrane); three rounds each register the better of every pair (10 -> 5 -> 3 -> 2); the
    last compare writes ``result`` in the ``done`` cycle.  A pair keeps its higher class
    only when that class is strictly better, and pairs are always of adjacent classes, so
    ties go to the lower class.  No path loops back: every stage is a compare and a select
    between registers.

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

        def entry(name):
            return Signal(key_width, name=f"{name}_key"), Signal(range(N_OUTPUTS),
                                                                  name=f"{name}_class")

        def better_of(a, b):
            # (key, class) of a pair of adjacent entries, the lower classes first
            take_b = b[0] > a[0]
            return Mux(take_b, b[0], a[0]), Mux(take_b, b[1], a[1])

        # Every key registered (the output layer's registers are spread over the die).
        entries = []
        for k in range(N_OUTPUTS):
            k_key, k_class = entry(f"class{k}")
            m.d.sync += [k_key.eq(key(k)), k_class.eq(k)]
            entries.append((k_key, k_class))
        # Rounds of pairs, registered, down to the last two.
        round_index = 0
        while len(entries) > 2:
            round_index += 1
            winners = []
            for i in range(0, len(entries), 2):
                pair = entries[i:i + 2]
                w_key, w_class = entry(f"round{round_index}_{i // 2}")
                chosen = better_of(*pair) if len(pair) == 2 else pair[0]
                m.d.sync += [w_key.eq(chosen[0]), w_class.eq(chosen[1])]
                winners.append((w_key, w_class))
            entries = winners
        stages = round_index + 1  # registered stages before the final compare
        assert stages == CLASSIFY_CYCLES, (stages, CLASSIFY_CYCLES)
        started = Signal(stages)
        m.d.sync += started.eq(Cat(self.start, started[:-1]))
        m.d.comb += self.done.eq(started[-1])
        with m.If(self.done):
            m.d.sync += self.result.eq(better_of(*entries)[1])
        return m
