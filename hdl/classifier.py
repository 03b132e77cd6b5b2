"""The classification: the most output spikes, ties to the larger membrane, then the lower
class (DESIGN.md section 2)."""

from __future__ import annotations

from amaranth.hdl import Array, Module, Mux, Signal, signed
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
        counts = Array(self.counts[k] for k in range(N_OUTPUTS))
        membranes = Array(self.membranes[k] for k in range(N_OUTPUTS))
        class_index, compared = Signal(range(N_OUTPUTS + 1)), Signal(range(N_OUTPUTS))
        best, best_count = Signal(range(N_OUTPUTS)), Signal.like(self.counts[0])
        best_membrane = Signal.like(self.membranes[0])
        selected_count = Signal.like(self.counts[0])
        selected_membrane = Signal.like(self.membranes[0])
        with m.FSM():
            with m.State("IDLE"):
                with m.If(self.start):
                    m.d.sync += class_index.eq(0)
                    m.next = "COMPARE"
            with m.State("COMPARE"):
                # Cycle i registers class i's count and membrane; cycle i + 1 compares them.
                m.d.sync += [selected_count.eq(counts[class_index]),
                             selected_membrane.eq(membranes[class_index]),
                             compared.eq(class_index), class_index.eq(class_index + 1)]
                better = ((compared == 0) | (selected_count > best_count)
                          | ((selected_count == best_count)
                             & (selected_membrane > best_membrane)))
                with m.If((class_index != 0) & better):
                    m.d.sync += [best.eq(compared), best_count.eq(selected_count),
                                 best_membrane.eq(selected_membrane)]
                with m.If(class_index == N_OUTPUTS):
                    m.d.comb += self.done.eq(1)
                    m.d.sync += self.result.eq(Mux(better, compared, best))
                    m.next = "IDLE"
        return m
