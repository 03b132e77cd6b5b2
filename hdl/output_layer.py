"""The output layer: 10 membranes and spike counts, one step per ``start``."""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from golden.config import N_OUTPUTS, WEIGHT_BITS, SNNConfig
from hdl.hidden_neurons import leak
from hdl.logic import registered_copies
from hdl.spike_walker import SpikeWalker

REQUEST_DELAY = 1
"""Cycles from a hidden spike's pick by the spike walker to its read request (``row``): the
walker registers its pick in pieces (:attr:`hdl.spike_walker.SpikeWalker.handed_index`)."""


class OutputLayer(wiring.Component):
    """Runs one output step: LEAK, LOAD (the spike walker takes the hidden spikes, through a
    register: the hidden layer is far), then every hidden spike adds its output row
    (INTEGRATE), DRAIN (the reader empties), COMPARE (registered threshold compares), FIRE.

    It runs step ``t`` while the hidden layer integrates step ``t + 1``.

    Parameters
    ----------
    config : SNNConfig
        theta, leak and membrane width of the output layer, t_max (count width).
    spike_width : int
        Bits of the hidden spike vector (chunks x lanes: padding lanes never spike).
    events : int
        Hidden spikes taken per cycle, 1 or 2 (two rows requested and two weight vectors
        added per cycle).

    Attributes
    ----------
    clear : In(1)
        An image starts: membranes and counts return to 0.
    start : In(1)
        Run a step on ``spikes`` (only when ``idle``).
    spikes : In(spike_width)
        The hidden spikes of the step (final from the cycle after ``start``), registered and
        taken in LOAD.
    idle : Out(1)
        No step is running.
    row, row_valid : Out(ArrayLayout(range(N), events)), Out(events)
        Read requests to the output reader (``events`` hidden spikes per cycle): the spikes
        the walker handed out in the previous cycle (:data:`REQUEST_DELAY`).
    weight : In
        The reader's weights, one vector per port, added into the membranes in every cycle
        without a LEAK, FIRE or clear: the reader's weights are 0 while no request is out.
    reader_busy : In(1)
        The reader has requests in flight.
    fire : Out(1)
        The FIRE cycle of a step.
    fired : Out(10)
        Output neurons that fired, the cycle after ``fire`` (0 otherwise).
    counts, membranes : Out(ArrayLayout)
        Output spike counts and membrane potentials.
    """

    def __init__(self, *, config: SNNConfig, spike_width: int, events: int = 1):
        self._config = config
        self._spike_width = spike_width
        self._events = events
        super().__init__({
            "clear": In(1), "start": In(1), "spikes": In(spike_width), "idle": Out(1),
            "row": Out(data.ArrayLayout(range(config.n_hidden), events)),
            "row_valid": Out(events),
            "weight": In(data.ArrayLayout(data.ArrayLayout(signed(WEIGHT_BITS), N_OUTPUTS),
                                          events)),
            "reader_busy": In(1),
            "fire": Out(1), "fired": Out(N_OUTPUTS),
            "counts": Out(data.ArrayLayout(range(config.t_max + 1), N_OUTPUTS)),
            "membranes": Out(data.ArrayLayout(signed(config.out_membrane_width), N_OUTPUTS)),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self._config
        membranes = [self.membranes[k] for k in range(N_OUTPUTS)]
        counts = [self.counts[k] for k in range(N_OUTPUTS)]
        m.submodules.spike_walker = walker = SpikeWalker(width=self._spike_width,
                                                         events=self._events)
        spikes = Signal.like(self.spikes, name="spikes_copy")
        m.d.sync += spikes.eq(self.spikes)
        m.d.comb += walker.spikes.eq(spikes)

        # Every cycle adds the reader's weights, which are 0 unless a row is out (the
        # reader's valid flag on the membranes' enables was a die-wide net).
        m.d.sync += [v.eq(v + sum(self.weight[p][k] for p in range(self._events)))
                     for k, v in enumerate(membranes)]
        with m.If(self.clear):
            m.d.sync += [self.membranes.eq(0), self.counts.eq(0)]

        fired = Signal(N_OUTPUTS)
        m.d.sync += self.fired.eq(0)  # set in FIRE
        # The membrane and count updates of LEAK and FIRE are selected by registered flags
        # (each state lasts one cycle and has one predecessor), not by the state decode; one
        # copy of each per output neuron, beside its membrane (one flag reaching all ten
        # membranes' enables was a critical path).
        leak_next, fire_next = Signal(), Signal()
        leaking = registered_copies(m, leak_next, N_OUTPUTS, "leaking")
        firing = registered_copies(m, fire_next, N_OUTPUTS, "firing")
        # The spike walker's controls are registers too (the state decode reached every group
        # register of the walker across the die): `loading` is LOAD, `advancing` INTEGRATE.
        loading, advancing = Signal(), Signal()
        m.d.sync += loading.eq(0)
        m.d.comb += walker.load.eq(loading)
        m.d.comb += walker.advance.eq(advancing)
        # The requests: the walker's picks of the previous cycle (selected after its register)
        m.d.comb += [*[self.row[e].eq(walker.handed_index[e]) for e in range(self._events)],
                     self.row_valid.eq(walker.handed_valid)]
        for k, v in enumerate(membranes):
            with m.If(leaking[k]):
                m.d.sync += v.eq(leak(v, cfg.leak_out))
            with m.If(firing[k]):
                m.d.sync += [self.fired[k].eq(fired[k]),
                             v.eq(Mux(fired[k], v - cfg.theta_out, v)),
                             counts[k].eq(counts[k] + fired[k])]
        with m.FSM():
            with m.State("IDLE"):
                m.d.comb += self.idle.eq(1)
                with m.If(self.start):
                    m.d.comb += leak_next.eq(1)
                    m.next = "LEAK"
            with m.State("LEAK"):
                m.d.sync += loading.eq(1)
                m.next = "LOAD"
            with m.State("LOAD"):
                m.d.sync += advancing.eq(1)
                m.next = "INTEGRATE"
            with m.State("INTEGRATE"):
                with m.If(~walker.valid[0]):
                    m.d.sync += advancing.eq(0)
                    m.next = "DRAIN"
            with m.State("DRAIN"):
                # Until the last row's weights have been added (the reader is idle): the
                # cycle count stays a function of the hidden spike counts.
                with m.If(~self.reader_busy):
                    m.next = "COMPARE"
            with m.State("COMPARE"):
                # The threshold compares are registered: FIRE then only subtracts and counts
                # (a compare feeding the count adders was the N=48 critical path).
                m.d.sync += fired.eq(Cat(*[v > cfg.theta_out for v in membranes]))
                m.d.comb += fire_next.eq(1)
                m.next = "FIRE"
            with m.State("FIRE"):
                m.d.comb += self.fire.eq(1)
                m.next = "IDLE"
        return m
