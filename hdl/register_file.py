"""The core's run-time registers and their bus decode (:mod:`hdl.regmap`)."""

from __future__ import annotations

from amaranth.hdl import Const, Module, Mux, Signal
from amaranth.lib import data
from amaranth.lib.wiring import In, Out

from golden.config import N_OUTPUTS, PRECISIONS, SNNConfig
from golden.timing import IMAGE_WORDS
from hdl import regmap
from hdl.counter_bank import COUNTERS
from hdl.event_list import WORD_BITS
from hdl.logic import clamp, registered_copies
from hdl.validated import ValidatedComponent


class RegisterFile(ValidatedComponent):
    """Decodes bus writes into the run-time registers and answers bus reads.

    Parameters
    ----------
    config : SNNConfig
        N (mask width), t_max (``TIMESTEPS`` clamp, count width) and T (its reset value).
    reset_bits : int
        Precision of both layers after reset, 2..8 bits.

    Attributes
    ----------
    bus : In(ControlBus)
        The register bus.
    busy, done, scanning : In(1)
        The status bits ``CONTROL`` reads.
    finish : In(1)
        The running image is done: ``result``, ``counts`` and ``counters`` are final in the
        next cycle, and ``RESULT``, ``COUNTS`` and ``COUNTERS`` read them from then on until
        the next image is done (a queued image may already be running and counting).
    take_queued : In(1)
        The queued image was launched.
    bits_in_force : In(PRECISION_FIELDS)
        The precisions ``PRECISION`` reads (the controller's in dynamic mode).
    result : In(4)
        The class of the last image.
    counts : In(ArrayLayout(count, 10))
        Output spike counts.
    counters : In(COUNTERS)
        The event counters.
    start : Out(1)
        A start write while idle (a one-cycle strobe).
    queued : Out(1)
        A start was written while busy and its image waits (until ``take_queued``).
    acknowledge : Out(1)
        A start was written (taken or queued).
    image_addr, image_data, image_we : Out
        Image word writes, for the event list's image memory.
    precision : Out(PRECISION_FIELDS)
        The static precisions (clamped into 2..8).
    tau : Out(TAU_FIELDS)
        Magnitude thresholds.
    timesteps : Out(8)
        T (clamped into 1..t_max).
    mask : Out(N)
        The hidden neuron mask (1 = on).
    controller, checkpoints : Out(CONTROLLER_FIELDS), Out(CHECKPOINTS_FIELDS)
        Dynamic-mode settings (docs/controller.md).
    """

    @classmethod
    def validate(cls, *, config: SNNConfig, reset_bits: int = 8) -> None:
        """Raise ``TypeError``/``ValueError`` for parameters :class:`RegisterFile` rejects."""
        if not isinstance(config, SNNConfig):
            raise TypeError(f"config must be an SNNConfig, not {config!r}")
        if reset_bits not in PRECISIONS:
            raise ValueError(f"reset_bits must be in {PRECISIONS[0]}..{PRECISIONS[-1]}, "
                             f"not {reset_bits}")

    def __init__(self, *, config: SNNConfig, reset_bits: int = 8):
        self._config = config
        n = config.n_hidden
        super().__init__({
            "bus": In(regmap.ControlBus()),
            "busy": In(1), "done": In(1), "scanning": In(1), "finish": In(1),
            "take_queued": In(1), "queued": Out(1), "acknowledge": Out(1),
            "bits_in_force": In(regmap.PRECISION_FIELDS),
            "result": In(4),
            "counts": In(data.ArrayLayout(range(config.t_max + 1), N_OUTPUTS)),
            "counters": In(COUNTERS),
            "start": Out(1),
            "image_addr": Out(range(IMAGE_WORDS)), "image_data": Out(WORD_BITS),
            "image_we": Out(1),
            "precision": Out(regmap.PRECISION_FIELDS,
                             init={"hidden": reset_bits, "out": reset_bits}),
            "tau": Out(regmap.TAU_FIELDS),
            "timesteps": Out(regmap.TIMESTEPS_FIELDS.size, init=config.timesteps),
            "mask": Out(n, init=(1 << n) - 1),
            "controller": Out(regmap.CONTROLLER_FIELDS),
            "checkpoints": Out(regmap.CHECKPOINTS_FIELDS),
        })

    def elaborate(self, platform):
        m = Module()
        cfg, bus = self._config, self.bus
        n, width = cfg.n_hidden, regmap.DATA_WIDTH

        def written(layout):
            """The bus word seen through a register's layout."""
            return layout(bus.w_data[:layout.size])

        m.d.comb += [
            self.image_addr.eq(bus.addr), self.image_data.eq(bus.w_data),
            self.image_we.eq(bus.w_en & (bus.addr < IMAGE_WORDS)),
            self.acknowledge.eq(bus.w_en & (bus.addr == regmap.CONTROL)
                                & written(regmap.CONTROL_FIELDS).start),
            self.start.eq(self.acknowledge & ~self.busy),
        ]
        with m.If(self.take_queued):
            m.d.sync += self.queued.eq(0)
        with m.If(self.acknowledge & self.busy):
            m.d.sync += self.queued.eq(1)
        with m.If(bus.w_en):
            with m.Switch(bus.addr):
                with m.Case(regmap.PRECISION):
                    precision = written(regmap.PRECISION_FIELDS)
                    m.d.sync += [self.precision.hidden.eq(clamp(precision.hidden, 2, 8)),
                                 self.precision.out.eq(clamp(precision.out, 2, 8))]
                with m.Case(regmap.TAU):
                    tau = written(regmap.TAU_FIELDS)
                    m.d.sync += [self.tau.hidden.eq(tau.hidden), self.tau.out.eq(tau.out)]
                with m.Case(regmap.TIMESTEPS):
                    m.d.sync += self.timesteps.eq(
                        clamp(written(regmap.TIMESTEPS_FIELDS).timesteps, 1, cfg.t_max))
                with m.Case(regmap.CONTROLLER):
                    m.d.sync += self.controller.eq(
                        bus.w_data[:regmap.CONTROLLER_FIELDS.size]
                        & regmap.field_bits(regmap.CONTROLLER_FIELDS))
                with m.Case(regmap.CHECKPOINTS):
                    m.d.sync += self.checkpoints.eq(written(regmap.CHECKPOINTS_FIELDS))
                for k in range(regmap.mask_words(n)):
                    with m.Case(regmap.MASK + k):
                        bits = min(width, n - width * k)
                        m.d.sync += self.mask.word_select(k, width)[:bits].eq(bus.w_data[:bits])

        status = Signal(regmap.STATUS_FIELDS)
        m.d.comb += [status.busy.eq(self.busy), status.done.eq(self.done),
                     status.scanning.eq(self.scanning), status.queued.eq(self.queued)]
        # The last finished image's result, counts and counters: the live values in the
        # cycle after `finish`, kept from then on.  The flag is registered once per register
        # word (one flag selecting every word's bits was a long net in front of the read
        # multiplexer).
        live = {"result": self.result, **{f"count{k}": self.counts[k] for k in range(N_OUTPUTS)},
                **{name: self.counters[name] for name in regmap.COUNTER_ORDER}}
        finished = dict(zip(live, registered_copies(m, self.finish, len(live), "finished"),
                            strict=True))
        last = {}
        for name in live:
            kept = Signal(len(live[name]), name=f"kept_{name}")
            with m.If(finished[name]):
                m.d.sync += kept.eq(live[name])
            last[name] = Mux(finished[name], live[name], kept)
        result = last["result"]
        counts = [last[f"count{k}"] for k in range(N_OUTPUTS)]
        counters = {name: last[name] for name in regmap.COUNTER_ORDER}
        info = regmap.INFO_FIELDS.const({"n_hidden": n, "t_max": cfg.t_max})
        readable = {
            regmap.CONTROL: status,
            regmap.PRECISION: self.bits_in_force,
            regmap.CONTROLLER: self.controller,
            regmap.CHECKPOINTS: self.checkpoints,
            regmap.TAU: self.tau,
            regmap.TIMESTEPS: self.timesteps,
            regmap.RESULT: result,
            regmap.INFO: Const(info.as_bits(), regmap.INFO_FIELDS.size),
            **{regmap.COUNTS + k: counts[k] for k in range(N_OUTPUTS)},
            **{regmap.COUNTERS + i: counters[name]
               for i, name in enumerate(regmap.COUNTER_ORDER)},
            **{regmap.MASK + k: self.mask.word_select(k, width)
               for k in range(regmap.mask_words(n))},
        }
        with m.Switch(bus.addr):
            for address, value in readable.items():
                with m.Case(address):
                    m.d.sync += bus.r_data.eq(value)
            with m.Default():
                m.d.sync += bus.r_data.eq(0)
        return m
