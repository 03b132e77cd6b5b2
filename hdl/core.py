"""The ``[784, N, 10]`` SNN core: control registers, sequencer, membranes and counters.

Per image: SCAN (build the input list, clear the hidden membranes), then per time step
INTEGRATE (every spiking input adds its hidden weight row, ``chunks`` cycles per spike) and
FIRE (fire, reset and leak every hidden chunk, collect the hidden spikes); after the last
step FINISH and CLASSIFY.  A second FSM runs the output layer of step ``t`` (LEAK, then every
hidden spike adds its output row, DRAIN, COMPARE, FIRE) while the hidden layer integrates step
``t+1``; FIRE of ``t+1`` waits for it.  The hidden membranes of step ``t+1`` are leaked in
the FIRE pass of step ``t`` (a leak of the all-zero membranes of step 0 is a no-op).
docs/hdl.md describes the blocks, docs/cycle_model.md the cycle count.
"""

from __future__ import annotations

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from golden.config import N_INPUTS, N_OUTPUTS, PRECISIONS, SNNConfig
from golden.geometry import hidden_geometry, output_geometry
from golden.timing import IMAGE_WORDS, MARGIN_CYCLES
from hdl import regmap
from hdl.controller import PrecisionController
from hdl.event_list import EventList
from hdl.logic import clamp, popcount, registered_popcount
from hdl.spike_walker import SpikeWalker
from hdl.synapse_reader import SynapseRowReader
from hdl.weight_planes import check_weights

COUNTER_WIDTH = regmap.DATA_WIDTH
"""Bits of every event counter (one bus word each)."""


def counter_bound(config: SNNConfig) -> int:
    """An upper bound of every counter (incl. cycles) for any image at ``T = t_max``."""
    hidden = hidden_geometry(config)
    per_step_bits = (N_INPUTS * (7 * hidden.n_blocks + 8 * config.n_hidden)
                     + config.n_hidden * (7 + 8 * N_OUTPUTS))
    per_step_cycles = (N_INPUTS * hidden.chunks + IMAGE_WORDS + hidden.chunks
                       + config.n_hidden + 64 + MARGIN_CYCLES + 2)
    return 4 * IMAGE_WORDS + hidden.chunks + config.t_max * max(per_step_bits, per_step_cycles)


def _leak(value, shift: int):
    """``v -= v >> k`` (arithmetic shift); ``k = 0`` is no leak."""
    return value - (value >> shift) if shift else value


class SNNCore(wiring.Component):
    """A ``[784, N, 10]`` sigma-delta SNN with run-time precision, skip logic and counters.

    Parameters
    ----------
    config : SNNConfig
        N, T (reset value of ``TIMESTEPS``), t_max, thresholds, leaks, lanes L, block size B.
    w_hidden : int array ``[784, N]``
        Hidden weights, sign-magnitude in -127..127 (baked into bit-plane memories).
    w_out : int array ``[N, 10]``
        Output weights, sign-magnitude in -127..127.
    reset_bits : int
        Precision of both layers after reset, 2..8 bits.

    Attributes
    ----------
    bus : In(ControlBus)
        The register bus (:mod:`hdl.regmap`).
    busy : Out(1)
        An image is being processed.
    done : Out(1)
        The last image finished; cleared by the next start.
    """

    def __init__(self, *, config: SNNConfig, w_hidden, w_out, reset_bits: int = 8):
        try:
            self._check(config, reset_bits)
            self._w_hidden = check_weights("w_hidden", w_hidden, N_INPUTS, config.n_hidden)
            self._w_out = check_weights("w_out", w_out, config.n_hidden, N_OUTPUTS)
        except (TypeError, ValueError):
            self._MustUse__silence = True  # a rejected core is not an unused one
            raise
        self._config = config
        self._reset_bits = reset_bits
        self._hidden = hidden_geometry(config)
        self._output = output_geometry(config)
        super().__init__({"bus": In(regmap.ControlBus()), "busy": Out(1), "done": Out(1)})

    @staticmethod
    def _check(config, reset_bits: int) -> None:
        if not isinstance(config, SNNConfig):
            raise TypeError(f"config must be an SNNConfig, not {config!r}")
        if reset_bits not in PRECISIONS:
            raise ValueError(f"reset_bits must be in {PRECISIONS[0]}..{PRECISIONS[-1]}, "
                             f"not {reset_bits}")
        if counter_bound(config).bit_length() > COUNTER_WIDTH:
            raise ValueError(f"t_max {config.t_max} is too large for the "
                             f"{COUNTER_WIDTH}-bit counters")

    @property
    def config(self) -> SNNConfig:
        """The configuration this core was generated for."""
        return self._config

    def elaborate(self, platform):
        m = Module()
        cfg, hg = self._config, self._hidden
        n, chunks, lanes = cfg.n_hidden, hg.chunks, hg.lanes
        m.submodules.inputs = inputs = EventList(t_max=cfg.t_max)
        m.submodules.hidden = hidden = SynapseRowReader(geometry=hg, weights=self._w_hidden)
        m.submodules.output = output = SynapseRowReader(geometry=self._output,
                                                        weights=self._w_out,
                                                        register_request=True)

        # Run-time registers and results.
        bits_hidden = Signal(4, init=self._reset_bits)
        bits_out = Signal(4, init=self._reset_bits)
        tau_hidden, tau_out = Signal(7), Signal(7)
        timesteps = Signal(8, init=cfg.timesteps)
        mask = Signal(n, init=(1 << n) - 1)
        controller_reg = Signal(regmap.CONTROLLER_WIDTH)
        checkpoints_reg = Signal(regmap.CHECKPOINTS_WIDTH)
        result = Signal(4)
        counts = [Signal(range(cfg.t_max + 1), name=f"count{k}") for k in range(N_OUTPUTS)]
        counters = {name: Signal(COUNTER_WIDTH, name=name) for name in regmap.COUNTER_ORDER}
        out_membrane = [Signal(signed(cfg.out_membrane_width), name=f"out_membrane{k}")
                        for k in range(N_OUTPUTS)]

        # Dynamic mode (docs/controller.md): the controller sets the precisions in force;
        # `alive` clears the hidden neurons it gates, `fired_ever` (rotated through the fire
        # pass one chunk at a time) remembers which hidden neurons have fired this image.
        m.submodules.controller = ctl = PrecisionController(count_width=len(counts[0]))
        m.d.comb += [
            ctl.enable.eq(controller_reg[0]), ctl.static_hidden.eq(bits_hidden),
            ctl.static_out.eq(bits_out), ctl.start_hidden.eq(controller_reg[4:8]),
            ctl.start_out.eq(controller_reg[8:12]), ctl.step_hidden.eq(controller_reg[12:15]),
            ctl.step_out.eq(controller_reg[16:19]), ctl.gate_idle.eq(controller_reg[20]),
            ctl.escalate_margin.eq(checkpoints_reg[8:16]),
            ctl.exit_margin.eq(checkpoints_reg[16:24]),
            *[ctl.counts[k].eq(counts[k]) for k in range(N_OUTPUTS)],
        ]
        interval = Signal(8)
        m.d.comb += interval.eq(Mux(checkpoints_reg[0:8] == 0, 1, checkpoints_reg[0:8]))
        since_checkpoint = Signal(8)
        alive = Signal(n, init=(1 << n) - 1)
        fired_ever = Signal(chunks * lanes)
        neuron_on = Signal(n)
        m.d.comb += neuron_on.eq(mask & alive)

        bus = self.bus
        start, scanning = Signal(), Signal()
        m.d.comb += [
            inputs.image_addr.eq(bus.addr),
            inputs.image_data.eq(bus.w_data),
            inputs.image_we.eq(bus.w_en & (bus.addr < IMAGE_WORDS)),
            start.eq(bus.w_en & (bus.addr == regmap.CONTROL) & bus.w_data[0] & ~self.busy),
        ]
        with m.If(bus.w_en):
            with m.Switch(bus.addr):
                with m.Case(regmap.PRECISION):
                    m.d.sync += [bits_hidden.eq(clamp(bus.w_data[0:4], 2, 8)),
                                 bits_out.eq(clamp(bus.w_data[4:8], 2, 8))]
                with m.Case(regmap.TAU):
                    m.d.sync += [tau_hidden.eq(bus.w_data[0:7]), tau_out.eq(bus.w_data[8:15])]
                with m.Case(regmap.TIMESTEPS):
                    m.d.sync += timesteps.eq(clamp(bus.w_data[0:8], 1, cfg.t_max))
                with m.Case(regmap.CONTROLLER):
                    m.d.sync += controller_reg.eq(bus.w_data & regmap.CONTROLLER_FIELDS)
                with m.Case(regmap.CHECKPOINTS):
                    m.d.sync += checkpoints_reg.eq(bus.w_data)
                for k in range(regmap.mask_words(n)):
                    with m.Case(regmap.MASK + k):
                        width = min(regmap.DATA_WIDTH, n - regmap.DATA_WIDTH * k)
                        m.d.sync += mask.word_select(k, regmap.DATA_WIDTH)[:width].eq(
                            bus.w_data[:width])
        readable = {
            regmap.CONTROL: Cat(self.busy, self.done, scanning),
            regmap.PRECISION: Cat(ctl.bits_hidden, ctl.bits_out),
            regmap.CONTROLLER: controller_reg,
            regmap.CHECKPOINTS: checkpoints_reg,
            regmap.TAU: Cat(tau_hidden, Const(0, 1), tau_out),
            regmap.TIMESTEPS: timesteps,
            regmap.RESULT: result,
            regmap.INFO: Const(n | cfg.t_max << 16, 32),
            **{regmap.COUNTS + k: counts[k] for k in range(N_OUTPUTS)},
            **{regmap.COUNTERS + i: counters[name]
               for i, name in enumerate(regmap.COUNTER_ORDER)},
            **{regmap.MASK + k: mask.word_select(k, regmap.DATA_WIDTH)
               for k in range(regmap.mask_words(n))},
        }
        with m.Switch(bus.addr):
            for address, value in readable.items():
                with m.Case(address):
                    m.d.sync += bus.r_data.eq(value)
            with m.Default():
                m.d.sync += bus.r_data.eq(0)

        m.d.comb += [
            hidden.bits.eq(ctl.bits_hidden), hidden.tau.eq(tau_hidden),
            hidden.post_mask.eq(neuron_on),
            output.bits.eq(ctl.bits_out), output.tau.eq(tau_out),
            output.post_mask.eq((1 << N_OUTPUTS) - 1),
        ]

        # Hidden membranes: one word of `lanes` membranes per chunk.
        membranes = Memory(shape=data.ArrayLayout(signed(cfg.hidden_membrane_width), lanes),
                           depth=chunks, init=[])
        m.submodules.membranes = membranes
        membrane_write = membranes.write_port()
        membrane_read = membranes.read_port(transparent_for=(membrane_write,))
        lane_on_table = Array(
            Cat(neuron_on, Const(0, chunks * lanes - n)).word_select(c, lanes)
            for c in range(chunks))

        # SCAN clears the membranes, one chunk per cycle from `start` (registered flags, outside
        # the FSM: a state decode reached every membrane bit's reset).
        clear_valid, clear_chunk = Signal(), Signal(range(chunks))
        with m.If(clear_valid):
            m.d.comb += [membrane_write.addr.eq(clear_chunk), membrane_write.en.eq(1)]
            m.d.sync += clear_chunk.eq(clear_chunk + 1)
            with m.If(clear_chunk == chunks - 1):
                m.d.sync += clear_valid.eq(0)

        # Every chunk the hidden reader delivers is added into its membranes.
        with m.If(hidden.out_valid):
            m.d.comb += [membrane_write.addr.eq(hidden.out_chunk), membrane_write.en.eq(1)]
            for lane in range(lanes):
                m.d.comb += membrane_write.data[lane].eq(
                    membrane_read.data[lane] + hidden.weight[lane])
        with m.If(output.out_valid):
            m.d.sync += [v.eq(v + output.weight[k]) for k, v in enumerate(out_membrane)]

        # Event counters add registered per-cycle increments (short paths into the 32-bit
        # adders).  Every increment lands a few cycles after its event, long before `done`.
        fired_hidden_q, lane_on_q = Signal(lanes), Signal(lanes)
        m.d.sync += [fired_hidden_q.eq(0), lane_on_q.eq(0)]  # set by the fire pass
        output_fire, fired_out, fired_out_q = Signal(), Signal(N_OUTPUTS), Signal(N_OUTPUTS)
        m.d.sync += fired_out_q.eq(0)  # set by the output fire
        hidden_fired_count = registered_popcount(m, fired_hidden_q, "hidden_fired")
        hidden_updated_count = registered_popcount(m, lane_on_q, "hidden_updated")
        increment_terms = {
            name: getattr(hidden, field) + getattr(output, field)
            for name, field in (("syn_active", "n_active"), ("syn_zero", "n_zero"),
                                ("syn_below", "n_below"), ("syn_gated", "n_gated"),
                                ("weight_bits_read", "bits_read"))}
        increment_terms.update({
            "hidden_spikes": hidden_fired_count,
            "membrane_updates": hidden_updated_count + Mux(output_fire, N_OUTPUTS, 0),
            "output_spikes": popcount(fired_out_q),
            "steps": output_fire,
            "precision_changes": ctl.decided & ctl.changed,
        })
        for name, term in increment_terms.items():
            increment = Signal(term.shape(), name=f"{name}_increment")
            m.d.sync += [increment.eq(term), counters[name].eq(counters[name] + increment)]

        fire_valid, fire_chunk = Signal(), Signal(range(chunks))
        # The fire pass shifts each step's hidden spikes into `fired_spikes`; the output
        # layer loads them into the walker (LEAK) and walks that copy.
        fired_spikes = Signal(chunks * lanes)
        m.submodules.spike_walker = walker = SpikeWalker(width=chunks * lanes)
        m.d.comb += walker.spikes.eq(fired_spikes)
        # The fire pass datapath (FIRE state; `fire_valid` is only set there), outside the FSM
        # so that no state decode reaches the N membrane write multiplexers.
        lane_on, fired = Signal(lanes), Signal(lanes)
        m.d.comb += lane_on.eq(lane_on_table[fire_chunk])
        for lane in range(lanes):
            v = membrane_read.data[lane]
            m.d.comb += fired[lane].eq(lane_on[lane] & (v > cfg.theta_hidden))
        with m.If(fire_valid):
            m.d.comb += [membrane_write.addr.eq(fire_chunk), membrane_write.en.eq(1)]
            for lane in range(lanes):
                v = membrane_read.data[lane]
                # Both candidates are leaked in parallel; `fired` only selects.
                m.d.comb += membrane_write.data[lane].eq(
                    Mux(fired[lane], _leak(v - cfg.theta_hidden, cfg.leak_hidden),
                        Mux(lane_on[lane], _leak(v, cfg.leak_hidden), v)))
            m.d.sync += [fired_spikes.eq(Cat(fired_spikes[lanes:], fired)),
                         fired_ever.eq(Cat(fired_ever[lanes:], fired_ever[:lanes] | fired)),
                         fired_hidden_q.eq(fired), lane_on_q.eq(lane_on)]

        step = Signal(range(cfg.t_max + 1))
        last_step = Signal(8)
        issue_valid, issue_row = Signal(), Signal(range(N_INPUTS))
        issue_chunk = Signal(range(chunks))
        sweep_chunk, sweep_running = Signal(range(chunks)), Signal()
        output_start, output_idle = Signal(), Signal()
        class_index, compared = Signal(range(N_OUTPUTS + 1)), Signal(range(N_OUTPUTS))
        best, best_count = Signal(range(N_OUTPUTS)), Signal.like(counts[0])
        best_membrane = Signal.like(out_membrane[0])
        selected_count = Signal.like(counts[0])
        selected_membrane = Signal.like(out_membrane[0])

        m.d.comb += [hidden.row.eq(issue_row), hidden.chunk.eq(issue_chunk),
                     hidden.valid.eq(issue_valid), inputs.step.eq(step)]
        m.d.comb += self.busy.eq(1)
        integrated = Signal()
        m.d.sync += integrated.eq(0)  # set in INTEGRATE only
        with m.If(self.busy):
            m.d.sync += counters["cycles"].eq(counters["cycles"] + 1)

        def advance_sweep():
            m.d.sync += sweep_chunk.eq(sweep_chunk + 1)
            with m.If(sweep_chunk == chunks - 1):
                m.d.sync += sweep_running.eq(0)

        with m.FSM():
            with m.State("IDLE"):
                m.d.comb += self.busy.eq(0)
                with m.If(start):
                    m.d.comb += inputs.scan.eq(1)
                    m.d.sync += [c.eq(0) for c in (*counters.values(), *counts, *out_membrane)]
                    m.d.comb += ctl.begin.eq(1)
                    m.d.sync += [self.done.eq(0), step.eq(0), last_step.eq(timesteps - 1),
                                 sweep_chunk.eq(0), sweep_running.eq(1),
                                 clear_valid.eq(1), clear_chunk.eq(0),
                                 alive.eq((1 << n) - 1), fired_ever.eq(0),
                                 since_checkpoint.eq(0)]
                    m.next = "SCAN"
            with m.State("SCAN"):
                m.d.comb += scanning.eq(1)
                with m.If(sweep_running):
                    advance_sweep()
                with m.If(inputs.idle & ~sweep_running):
                    m.d.comb += inputs.walk.eq(1)
                    m.next = "INTEGRATE"
            with m.State("INTEGRATE"):
                accept = ~issue_valid | (issue_chunk == chunks - 1)
                m.d.comb += [inputs.ready.eq(accept), membrane_read.addr.eq(hidden.next_chunk)]
                with m.If(accept):
                    m.d.sync += [issue_valid.eq(inputs.valid), issue_row.eq(inputs.pixel),
                                 issue_chunk.eq(0)]
                    with m.If(inputs.valid):
                        m.d.sync += counters["input_spikes"].eq(counters["input_spikes"] + 1)
                with m.Else():
                    m.d.sync += issue_chunk.eq(issue_chunk + 1)
                # The end of the integration (walk over, reader and output layer idle) is
                # registered: the reader's stage flags are spread over the die. It cannot
                # revert within INTEGRATE, so the registered copy is exact, one cycle later.
                m.d.sync += integrated.eq(inputs.idle & ~issue_valid & ~hidden.busy
                                          & output_idle)
                with m.If(integrated):
                    m.d.sync += [sweep_chunk.eq(0), sweep_running.eq(1), integrated.eq(0)]
                    m.next = "FIRE"
            with m.State("FIRE"):
                m.d.comb += membrane_read.addr.eq(sweep_chunk)
                m.d.sync += [fire_valid.eq(sweep_running), fire_chunk.eq(sweep_chunk)]
                with m.If(sweep_running):
                    advance_sweep()
                with m.If(fire_valid):
                    with m.If(fire_chunk == chunks - 1):
                        # The output layer takes this step's hidden spikes while the
                        # hidden layer integrates the next step (after a checkpoint: once
                        # the controller has decided).
                        m.d.comb += output_start.eq(1)
                        m.d.sync += [step.eq(step + 1), since_checkpoint.eq(since_checkpoint + 1)]
                        with m.If(step == last_step):
                            m.next = "FINISH"
                        with m.Elif(controller_reg[0] & (since_checkpoint + 1 >= interval)):
                            m.d.sync += since_checkpoint.eq(0)
                            m.next = "CHECKPOINT"
                        with m.Else():
                            m.d.comb += inputs.walk.eq(1)
                            m.next = "INTEGRATE"
            with m.State("CHECKPOINT"):
                # The output layer finishes the step; then the controller walks the counts.
                with m.If(output_idle):
                    m.d.comb += ctl.check.eq(1)
                    m.next = "DECIDE"
            with m.State("DECIDE"):
                with m.If(ctl.decided):
                    with m.If(ctl.leave):
                        m.next = "FINISH"
                    with m.Else():
                        with m.If(ctl.gate):
                            m.d.sync += alive.eq(alive & fired_ever[:n])
                        m.d.comb += inputs.walk.eq(1)
                        m.next = "INTEGRATE"
            with m.State("FINISH"):
                with m.If(output_idle):
                    m.d.sync += class_index.eq(0)
                    m.next = "CLASSIFY"
            with m.State("CLASSIFY"):
                # Cycle i registers class i's count and membrane; cycle i + 1 compares them.
                m.d.sync += [selected_count.eq(Array(counts)[class_index]),
                             selected_membrane.eq(Array(out_membrane)[class_index]),
                             compared.eq(class_index), class_index.eq(class_index + 1)]
                better = ((compared == 0) | (selected_count > best_count)
                          | ((selected_count == best_count)
                             & (selected_membrane > best_membrane)))
                with m.If((class_index != 0) & better):
                    m.d.sync += [best.eq(compared), best_count.eq(selected_count),
                                 best_membrane.eq(selected_membrane)]
                with m.If(class_index == N_OUTPUTS):
                    m.d.sync += [result.eq(Mux(better, compared, best)), self.done.eq(1)]
                    m.next = "IDLE"

        with m.FSM(name="output_layer"):
            with m.State("IDLE"):
                m.d.comb += output_idle.eq(1)
                with m.If(output_start):
                    m.next = "LEAK"
            with m.State("LEAK"):
                m.d.sync += [v.eq(_leak(v, cfg.leak_out)) for v in out_membrane]
                m.d.comb += walker.load.eq(1)
                m.next = "INTEGRATE"
            with m.State("INTEGRATE"):
                m.d.comb += [output.row.eq(walker.index), output.valid.eq(walker.valid),
                             walker.advance.eq(1)]
                with m.If(~walker.valid):
                    m.next = "DRAIN"
            with m.State("DRAIN"):
                # Until the last row's weights have been added (the reader is idle): the
                # cycle count stays a function of the hidden spike counts.
                with m.If(~output.busy):
                    m.next = "COMPARE"
            with m.State("COMPARE"):
                # The threshold compares are registered: FIRE then only subtracts and counts
                # (a compare feeding the count adders was the N=48 critical path).
                m.d.sync += fired_out.eq(Cat(*[v > cfg.theta_out for v in out_membrane]))
                m.next = "FIRE"
            with m.State("FIRE"):
                m.d.comb += output_fire.eq(1)
                m.d.sync += fired_out_q.eq(fired_out)
                for k, v in enumerate(out_membrane):
                    m.d.sync += [v.eq(Mux(fired_out[k], v - cfg.theta_out, v)),
                                 counts[k].eq(counts[k] + fired_out[k])]
                m.next = "IDLE"
        return m
