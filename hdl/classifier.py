"""The classification: the most output spikes, ties to the larger membrane, then the lower
class (DESIGN.md section 2)."""

from __future__ import annotations

from amaranth.hdl import Array, Cat, Module, Mux, Signal, Value, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from golden.config import N_OUTPUTS, SNNConfig


class Classifier(wiring.Component):
    """Compares the 10 classes one per cycle (``N_OUTPUTS + 1`` cycles from ``start``).

    Parameters
    ----------
    config : SNNConfig
        t_max (count width) and the output membrane width.

    Attributes
    ----------
    start : In(1)
        Classify ``counts`` and ``membranes`` (held until ``done``).
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
        count_width = len(self.counts[0])
        membrane_width = len(self.membranes[0])

        def key(k):
            # Class k's rank as one unsigned number: the count above the membrane (its sign
            # bit flipped: two's complement in unsigned order), so "better" is one compare.
            membrane = Value.cast(self.membranes[k])
            return Cat(membrane[:-1], ~membrane[-1], self.counts[k])

        keys = Array(key(k) for k in range(N_OUTPUTS))
        class_index, compared = Signal(range(N_OUTPUTS + 1)), Signal(range(N_OUTPUTS))
        best = Signal(range(N_OUTPUTS))
        # The best key so far (0 before class 0: class 0's key is >= 0, and if it is 0, class
        # 0 stays the best as it should); the selected class's key, registered.
        best_key = Signal(count_width + membrane_width)
        selected_key = Signal.like(best_key)
        comparing = Signal()  # selected_key holds a class (from the second COMPARE cycle on)
        better = Signal()
        m.d.comb += better.eq(selected_key > best_key)
        with m.FSM():
            with m.State("IDLE"):
                with m.If(self.start):
                    m.d.sync += [class_index.eq(0), comparing.eq(0), best.eq(0),
                                 best_key.eq(0)]
                    m.next = "COMPARE"
            with m.State("COMPARE"):
                # Cycle i registers class i's key; cycle i + 1 compares it.
                m.d.sync += [selected_key.eq(keys[class_index]), compared.eq(class_index),
                             class_index.eq(class_index + 1), comparing.eq(1)]
                with m.If(comparing & better):
                    m.d.sync += [best.eq(compared), best_key.eq(selected_key)]
                with m.If(class_index == N_OUTPUTS):
                    m.d.comb += self.done.eq(1)
                    m.d.sync += self.result.eq(Mux(better, compared, best))
                    m.next = "IDLE"
        return m
