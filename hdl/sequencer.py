"""The core's sequencer: the per-image and per-step state machine (docs/hdl.md)."""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from golden.config import MAX_NEURONS, N_INPUTS, SNNConfig
from golden.geometry import LayerGeometry
from hdl.logic import lowest_set_bit, popcount


class Sequencer(wiring.Component):
    """IDLE, SCAN, then per step INTEGRATE and FIRE (with CHECKPOINT and DECIDE in dynamic
    mode), then FINISH and CLASSIFY.

    SCAN builds the input list while the membranes clear; INTEGRATE issues every input spike's
    weight row to the hidden reader, one chunk per cycle, skipping the chunks that are off;
    FIRE sweeps the membranes chunk by chunk through the fire pass, then hands the step's
    spikes to the output layer.

    A start while an image runs is *queued* (``queued``): the queued image's SCAN is
    *launched* while the running image finishes (its last output layer and CLASSIFY, when
    ``early_launch``; else CLASSIFY only), so that both overlap; it becomes the running image
    (``begin``) in the cycle the running one is done.  The launch point is chosen so that the
    running image is always done before the queued image's SCAN is over: an image's cycles
    are the same whether it was queued or not.

    Parameters
    ----------
    config : SNNConfig
        t_max (step counter width).
    geometry : LayerGeometry
        Chunks of the hidden layer.
    events_per_cycle : int
        E, input spikes issued per cycle (2 only with one chunk per row).
    early_launch : bool
        Launch a queued image's SCAN as soon as the running image is in FINISH (True only
        where FINISH and CLASSIFY are always shorter than a SCAN).

    Attributes
    ----------
    start : In(1)
        Start an image (a strobe, taken while idle).
    queued : In(1)
        A started image waits (a level, set by a start while busy).
    launch : Out(1)
        An image's SCAN starts (with ``begin`` when started while idle; while the previous
        image finishes when queued); ``scan``, a cycle later, builds the list and clears the
        hidden membranes.
    take_queued : Out(1)
        The queued image was launched (clears ``queued``).
    begin : Out(1)
        The image becomes the running one: clear the counters, the output layer and the
        controller.
    cycles_before : Out(range)
        With ``begin``: the cycles the image has already run (its SCAN while the previous
        image finished), the start value of its ``cycles`` counter.
    busy, done, scanning : Out(1)
        An image is running; the last image finished (cleared by the next start or queued
        start: ``acknowledge``); the SCAN state or a scan strobe (``scan``) in flight.
    acknowledge : In(1)
        A start was written (taken or queued): clear ``done``.
    finish : Out(1)
        The running image is done (its result, counts and counters are final).
    timesteps : In(8)
        T, sampled at ``start``.
    dynamic : In(1)
        Dynamic mode: a checkpoint every ``interval`` steps (0 acts as 1).
    interval : In(8)
    scan, walk, ready, step : Out
        The event list's controls: build the list and clear the hidden membranes (``scan``:
        ``launch`` registered, a cycle later), walk it at ``step``, take an entry (``ready``
        is a register: computed a cycle early from the next state and row).
    list_scanned, list_idle, list_valid, list_pixel : In
        The event list's state (the list is built; scanning or walking is over) and its
        current up to E spikes.
    list_chunks : In(chunks)
        The chunks of the entry's row that are not skipped (at least one).
    row, chunk, row_valid : Out
        Weight-row requests to the hidden reader (up to E rows, one chunk of each per
        cycle), only the chunks of ``list_chunks``.
    skip_chunks : Out(chunks)
        The chunks of the row taken in the previous cycle that are skipped (registered; 0
        in other cycles).
    reader_busy : In(1)
    reader_next_chunk : In
        The chunk the hidden reader delivers next (read from the membranes a cycle early).
    read_chunk : Out
        Membrane read address.
    fire_valid, fire_chunk : Out
        The fire pass (registered).
    fire_ahead : Out(1)
        ``fire_valid`` two cycles later (for a register tree of copies of the fire flag).
    input_spike : Out(range(E + 1))
        Input spikes issued in the previous cycle (registered: the walker's outputs reach
        no counter).
    output_start : Out(1)
        Run the output layer on this step's hidden spikes.
    output_idle : In(1)
    check : Out(1)
        A checkpoint: the controller decides.
    decided, leave, gate_decision : In(1)
        The controller's decision: leave the image early, gate idle neurons.
    gate : Out(1)
        Gate the hidden neurons that have not fired (registered: the cycle after the
        decision; the next row request and chunk skip read the neurons on cycles later).
    classify : Out(1)
        Start the classifier.
    classified : In(1)
        The classifier wrote the result.
    """

    def __init__(self, *, config: SNNConfig, geometry: LayerGeometry,
                 events_per_cycle: int = 1, early_launch: bool = False):
        self._chunks = chunks = geometry.chunks
        self._early_launch = bool(early_launch)
        events = events_per_cycle
        super().__init__({
            "start": In(1), "queued": In(1), "launch": Out(1), "take_queued": Out(1),
            "begin": Out(1), "cycles_before": Out(range(2 * MAX_NEURONS)), "acknowledge": In(1),
            "finish": Out(1),
            "busy": Out(1), "done": Out(1), "scanning": Out(1),
            "timesteps": In(8), "dynamic": In(1), "interval": In(8),
            "scan": Out(1), "walk": Out(1), "ready": Out(1), "step": Out(range(config.t_max + 1)),
            "list_scanned": In(1), "list_idle": In(1), "list_valid": In(events),
            "list_pixel": In(data.ArrayLayout(range(N_INPUTS), events)),
            "list_chunks": In(chunks), "skip_chunks": Out(chunks),
            "row": Out(data.ArrayLayout(range(N_INPUTS), events)),
            "chunk": Out(range(chunks)), "row_valid": Out(events),
            "reader_busy": In(1), "reader_next_chunk": In(range(chunks)),
            "read_chunk": Out(range(chunks)),
            "fire_valid": Out(1), "fire_chunk": Out(range(chunks)), "fire_ahead": Out(1),
            "input_spike": Out(range(events + 1)),
            "output_start": Out(1), "output_idle": In(1),
            "check": Out(1), "decided": In(1), "leave": In(1), "gate_decision": In(1),
            "gate": Out(1),
            "classify": Out(1), "classified": In(1),
        })

    def elaborate(self, platform):
        m = Module()
        chunks = self._chunks
        step, last_step = self.step, Signal(8)
        interval, since_checkpoint = Signal(8), Signal(8)
        m.d.comb += interval.eq(Mux(self.interval == 0, 1, self.interval))
        sweep_chunk, sweep_running = Signal(range(chunks)), Signal()
        integrated = Signal()
        # set in INTEGRATE / DECIDE only
        m.d.sync += [integrated.eq(0), self.skip_chunks.eq(0), self.gate.eq(0),
                     self.input_spike.eq(0)]
        rest = Signal(chunks)
        first_index, first = lowest_set_bit(m, self.list_chunks, "first_chunk")
        next_index, following = lowest_set_bit(m, rest, "next_chunk")
        # `busy` is a register (set when an image starts, cleared when it is done), not a
        # state decode: the start strobe and every clear of an image start come from it.
        # A queued image is launched in FINISH (early_launch) or CLASSIFY; `launched` holds
        # until it begins, `ahead` counts its cycles until then.
        launched, ahead, finishing = Signal(), Signal.like(self.cycles_before), Signal()
        handover = Signal()  # the launched image begins (the cycle after the running is done)
        idle_start, follows = (self.start | self.queued) & ~self.busy, Signal()
        m.d.comb += [
            self.take_queued.eq(self.queued & ((~launched & finishing) | ~self.busy)),
            self.launch.eq(idle_start | self.take_queued),
            # (a queued image may also be launched in the very cycle the running one is done)
            follows.eq(launched | (self.take_queued & self.busy)),
            self.begin.eq(idle_start | handover),
            self.cycles_before.eq(Mux(handover, ahead + 1, 0)),
        ]
        m.d.sync += ahead.eq(Mux(self.take_queued, 0, Mux(launched, ahead + 1, ahead)))
        # The event list's scan strobe is the launch registered (in SCAN_LATENCY): the launch
        # decode, from the bus strobe and the state, is far from the image memory.
        # The hidden membranes clear from the same strobe (the launch decode also reached the
        # clear flags across the die), and the SCAN's clear sweep follows it.
        m.d.sync += self.scan.eq(self.launch)
        with m.If(self.scan):
            m.d.comb += self.scanning.eq(1)
            m.d.sync += [sweep_chunk.eq(0), sweep_running.eq(1)]
        with m.If(self.acknowledge):
            m.d.sync += self.done.eq(0)
        with m.If(self.begin):
            m.d.sync += [self.busy.eq(1), launched.eq(0)]
        # The step counters restart a cycle after `begin`, from a register (the begin decode
        # reached them across the die); SCAN, which follows, uses none of them.
        begun = Signal()
        m.d.sync += begun.eq(self.begin)
        with m.If(begun):
            m.d.sync += [step.eq(0), last_step.eq(self.timesteps - 1), since_checkpoint.eq(0)]
        with m.If(self.take_queued & self.busy):
            m.d.sync += launched.eq(1)

        # INTEGRATE issues the rows.  `integrating` (the FSM is in INTEGRATE) and `ready`
        # (INTEGRATE and no row chunk left to issue after this cycle: the event list hands
        # its entry over) are registers, computed a cycle early from the next state, the next
        # row and the next chunks still to issue: the state decode reaches neither the event
        # list nor the row registers (a retiming: the same values, the same cycles).
        integrating, integrating_next = Signal(), Signal()
        row_valid_next, rest_next = Signal.like(self.row_valid), Signal(chunks)
        m.d.comb += [integrating_next.eq(integrating), row_valid_next.eq(self.row_valid),
                     rest_next.eq(rest)]
        with m.If(self.ready):
            m.d.comb += [row_valid_next.eq(self.list_valid),
                         rest_next.eq(self.list_chunks & ~first)]
            m.d.sync += [self.row.eq(self.list_pixel), self.chunk.eq(first_index),
                         self.input_spike.eq(popcount(self.list_valid)),
                         self.skip_chunks.eq(Mux(self.list_valid[0], ~self.list_chunks, 0))]
        with m.Elif(integrating):
            m.d.comb += rest_next.eq(rest & ~following)
            m.d.sync += self.chunk.eq(next_index)
        # (With one chunk per row no chunk is ever left to issue: `ready` is then just the
        # next state's INTEGRATE.)
        row_done = (~row_valid_next.any() | (rest_next == 0)) if chunks > 1 else 1
        m.d.sync += [self.row_valid.eq(row_valid_next), rest.eq(rest_next),
                     integrating.eq(integrating_next),
                     self.ready.eq(integrating_next & row_done)]
        with m.If(integrating):
            m.d.comb += self.read_chunk.eq(self.reader_next_chunk)
        # The step's end tests, registered: the step and its checkpoint count change only at
        # the end of a step, many cycles before the next end.
        at_last_step, checkpoint_due = Signal(), Signal()
        m.d.sync += [at_last_step.eq(step == last_step),
                     checkpoint_due.eq(since_checkpoint + 1 >= interval)]
        fire_next = Signal()  # `fire_valid` of the next cycle
        m.d.comb += fire_next.eq(self.fire_valid)  # set in FIRE
        m.d.sync += self.fire_valid.eq(fire_next)
        # The end of a FIRE pass (its last chunk valid), registered from the sweep a cycle
        # early: the step counter's enable is then a register, not the state decode (the
        # counter sits by the event list's multipliers, far from the state).
        step_end = Signal()
        m.d.sync += step_end.eq(0)  # set in FIRE

        # The sweep (a SCAN's clear, a FIRE pass) advances wherever it runs: a queued image's
        # clear sweep starts while the running image finishes, like its hidden clear, so
        # its SCAN is as long as when started idle.
        with m.If(sweep_running):
            m.d.sync += sweep_chunk.eq(sweep_chunk + 1)
            with m.If(sweep_chunk == chunks - 1):
                m.d.sync += sweep_running.eq(0)

        # (`step_end` is only ever set in FIRE: the counters advance outside the state decode.)
        with m.If(step_end):
            m.d.sync += [step.eq(step + 1), since_checkpoint.eq(since_checkpoint + 1)]

        with m.FSM():
            with m.State("IDLE"):
                with m.If(self.begin):
                    m.next = "SCAN"
            with m.State("SCAN"):
                m.d.comb += self.scanning.eq(1)
                # (No walk runs in SCAN: the list is idle once it is built.)
                with m.If(self.list_scanned & ~sweep_running & ~self.scan):
                    m.d.comb += [self.walk.eq(1), integrating_next.eq(1)]
                    m.next = "INTEGRATE"
            with m.State("INTEGRATE"):
                # The end of the integration (walk over, reader and output layer idle) is
                # registered: the reader's stage flags are spread over the die. It cannot
                # revert within INTEGRATE, so the registered copy is exact, one cycle later.
                m.d.sync += integrated.eq(self.list_idle & ~self.row_valid.any()
                                          & ~self.reader_busy
                                          & self.output_idle)
                with m.If(integrated):
                    m.d.sync += [sweep_chunk.eq(0), sweep_running.eq(1), integrated.eq(0)]
                    m.d.comb += [integrating_next.eq(0), self.fire_ahead.eq(1)]
                    m.next = "FIRE"
            with m.State("FIRE"):
                m.d.comb += self.read_chunk.eq(sweep_chunk)
                m.d.comb += fire_next.eq(sweep_running)
                # (the next cycle's `fire_next`: the sweep goes on, and FIRE with it)
                m.d.comb += self.fire_ahead.eq(sweep_running & (sweep_chunk != chunks - 1))
                m.d.sync += [self.fire_chunk.eq(sweep_chunk),
                             step_end.eq(sweep_running & (sweep_chunk == chunks - 1))]
                with m.If(step_end):
                    # The output layer takes this step's hidden spikes while the hidden layer
                    # integrates the next step (after a checkpoint: once the controller has
                    # decided).
                    m.d.comb += self.output_start.eq(1)
                    with m.If(at_last_step):
                        m.next = "FINISH"
                    with m.Elif(self.dynamic & checkpoint_due):
                        m.d.sync += since_checkpoint.eq(0)
                        m.next = "CHECKPOINT"
                    with m.Else():
                        m.d.comb += [self.walk.eq(1), integrating_next.eq(1)]
                        m.next = "INTEGRATE"
            with m.State("CHECKPOINT"):
                # The output layer finishes the step; then the controller walks the counts.
                with m.If(self.output_idle):
                    m.d.comb += self.check.eq(1)
                    m.next = "DECIDE"
            with m.State("DECIDE"):
                with m.If(self.decided):
                    with m.If(self.leave):
                        m.next = "FINISH"
                    with m.Else():
                        m.d.comb += [self.walk.eq(1), integrating_next.eq(1)]
                        m.d.sync += self.gate.eq(self.gate_decision)
                        m.next = "INTEGRATE"
            with m.State("FINISH"):
                m.d.comb += finishing.eq(self._early_launch)
                with m.If(self.output_idle):
                    m.d.comb += self.classify.eq(1)
                    m.next = "CLASSIFY"
            with m.State("CLASSIFY"):
                m.d.comb += finishing.eq(1)
                with m.If(self.classified):
                    m.d.comb += self.finish.eq(1)
                    m.d.sync += self.done.eq(1)
                    with m.If(follows):
                        m.next = "HANDOVER"
                    with m.Else():
                        m.d.sync += self.busy.eq(0)
                        m.next = "IDLE"
            with m.State("HANDOVER"):
                # The finished image's results are read from their final registers in this
                # cycle (the register file keeps them); the launched image begins.
                m.d.comb += handover.eq(1)
                m.next = "SCAN"
        return m
