"""The per-image event counters (DESIGN.md section 2) and the RTL cycle counter."""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from golden.config import N_OUTPUTS
from hdl import regmap
from hdl.logic import popcount, registered_popcount

COUNTER_WIDTH = regmap.DATA_WIDTH
"""Bits of every event counter (one bus word each)."""
COUNTERS = data.StructLayout({name: COUNTER_WIDTH for name in regmap.COUNTER_ORDER})
"""All counters, named as in :data:`hdl.regmap.COUNTER_ORDER`."""


class CounterBank(wiring.Component):
    """Counts the events of one image.

    Counters add registered per-cycle increments (short paths into the 32-bit adders); every
    increment lands a few cycles after its event, long before ``done``.

    Parameters
    ----------
    lanes : int
        Hidden neurons updated per cycle (width of ``hidden_fired``/``hidden_updated``).
    hidden, output : StructLayout
        Layouts of the two readers' ``counts`` (:func:`hdl.synapse_reader.synapse_counts`).
    events : int
        Most input spikes issued per cycle.

    Attributes
    ----------
    clear : In(1)
        An image starts: every counter returns to 0, ``cycles`` to ``cycles_before``.
    cycles_before : In
        Cycles the starting image has already run (its SCAN, when it was queued).
    busy : In(1)
        Counts ``cycles``.
    input_spike : In(range(events + 1))
        Input spikes issued to the hidden reader this cycle.
    hidden_counts, output_counts : In
        Synapse classes and weight bits of each reader's chunk.
    skipped_counts : In
        Zero and gated synapses, weight bits and input spikes of the hidden chunks and rows
        that were skipped (:mod:`hdl.chunk_skip`).
    hidden_fired, hidden_updated : In(lanes)
        Hidden neurons of the chunk the fire pass just wrote that fired / are on.
    output_fire : In(1)
        The output layer fires (once per step).
    output_fired : In(10)
        Output neurons that fired, the cycle after ``output_fire``.
    precision_changed : In(1)
        A controller decision changed a precision.
    counters : Out(COUNTERS)
        The counters.
    """

    def __init__(self, *, lanes: int, hidden: data.StructLayout, output: data.StructLayout,
                 skipped: data.StructLayout, events: int = 1):
        super().__init__({
            "clear": In(1), "cycles_before": In(range(2048)), "busy": In(1),
            "input_spike": In(range(events + 1)),
            "hidden_counts": In(hidden), "output_counts": In(output),
            "skipped_counts": In(skipped),
            "hidden_fired": In(lanes), "hidden_updated": In(lanes),
            "output_fire": In(1), "output_fired": In(N_OUTPUTS),
            "precision_changed": In(1),
            "counters": Out(COUNTERS),
        })

    def elaborate(self, platform):
        m = Module()
        counters, hidden, output = self.counters, self.hidden_counts, self.output_counts
        skipped = self.skipped_counts
        terms = {f"syn_{name}": hidden[name] + output[name]
                 for name in ("active", "zero", "below", "gated")}
        terms["syn_zero"] = terms["syn_zero"] + skipped.zero
        terms["syn_gated"] = terms["syn_gated"] + skipped.gated
        terms["weight_bits_read"] = hidden.bits_read + output.bits_read + skipped.bits_read
        terms["input_spikes"] = self.input_spike + skipped.input_spikes
        terms.update({
            "hidden_spikes": registered_popcount(m, self.hidden_fired, "hidden_fired", stages=3),
            "membrane_updates": (registered_popcount(m, self.hidden_updated, "hidden_updated",
                                                     stages=3)
                                 + Mux(self.output_fire, N_OUTPUTS, 0)),
            "output_spikes": popcount(self.output_fired),
            "steps": self.output_fire,
            "precision_changes": self.precision_changed,
        })
        for name, term in terms.items():
            increment = Signal(term.shape(), name=f"{name}_increment")
            m.d.sync += [increment.eq(term), counters[name].eq(counters[name] + increment)]
        with m.If(self.busy):
            m.d.sync += counters.cycles.eq(counters.cycles + 1)
        with m.If(self.clear):
            m.d.sync += [counters.eq(0), counters.cycles.eq(self.cycles_before)]
        return m
