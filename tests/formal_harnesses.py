"""Formal harnesses (``make formal``): the blocks where simulation is weakest.

Each harness wraps one block of the design.  Its free inputs are top-level ports (the solver
picks any value in every cycle); ``Assume`` states what the block's environment guarantees,
``Assert`` what the block must guarantee for every such input, ``Cover`` that the
interesting cases are reachable.  :mod:`tests.formal` runs them with SymbiYosys.
"""

from __future__ import annotations

from amaranth.hdl import (
    Assert,
    Assume,
    Cat,
    Const,
    Cover,
    Elaboratable,
    Module,
    Mux,
    ResetSignal,
    Signal,
    signed,
)
from amaranth.lib import data

from boards import protocol as p
from boards.executor import CommandExecutor
from boards.framing import FrameReceiver, Job, crc16_next
from boards.uart import UartRx
from golden.config import N_INPUTS, WEIGHT_BITS, SNNConfig
from golden.geometry import hidden_geometry
from hdl import regmap
from hdl.hidden_neurons import HiddenNeurons

WEIGHT_MAX = (1 << WEIGHT_BITS - 1) - 1
"""Largest weight magnitude (127)."""


class Harness(Elaboratable):
    """A formal harness: free inputs (``ports``) around a block; no reset after the start."""

    ports: list[Signal]

    def elaborate(self, platform):
        m = Module()
        m.d.comb += Assume(~ResetSignal())
        self.check(m)
        return m

    def check(self, m: Module) -> None:
        raise NotImplementedError


def crc16_serial(crc, byte):
    """CRC-16/CCITT-FALSE after one more byte, one bit at a time (the textbook shift
    register; the receiver's is a flat XOR network, so the two are built differently)."""
    for i in range(8):
        feedback = byte[7 - i] ^ crc[15]
        crc = Cat(Const(0, 1), crc[:15]) ^ Mux(feedback, p.CRC_POLY, 0)
    return crc


class CrcCheck(Harness):
    """The receiver's and the transmitter's CRC step (:func:`boards.framing.crc16_next`, a
    flat XOR network) equals the bit-serial CRC-16/CCITT-FALSE for every register value and
    byte."""

    def __init__(self):
        self.crc, self.byte = Signal(16), Signal(8)
        self.ports = [self.crc, self.byte]

    def check(self, m):
        m.d.comb += Assert(crc16_next(self.crc, self.byte) == crc16_serial(self.crc, self.byte),
                           "the XOR network differs from the bit-serial CRC")


class UartRxCheck(Harness):
    """:class:`~boards.uart.UartRx` behind a reference 8N1 transmitter at ``divisor`` cycles
    a bit, bytes back to back or with any gap: every byte arrives once, with its value; a
    low stop bit is a framing error and never a byte.

    After a low stop bit the line idles for a bit time (a receiver waits for the end of a
    break before it hunts for the next start bit).
    """

    def __init__(self, divisor: int):
        self.divisor = divisor
        self.start, self.byte, self.stop = Signal(), Signal(8), Signal()
        self.ports = [self.start, self.byte, self.stop]

    def check(self, m):
        d = self.divisor
        m.submodules.dut = dut = UartRx(divisor=d)
        frame = Signal(10)
        sending, bit, tick = Signal(), Signal(range(10)), Signal(range(d))
        quiet = Signal(range(d + 1), init=d)  # idle cycles since the last frame (saturating)
        last_stop_low = Signal()
        sent, got = Signal(4), Signal(4)
        sent_bytes = Signal(data.ArrayLayout(9, 2))  # byte and stop bit by sent count parity

        m.d.comb += dut.rx.eq(Mux(sending, frame.bit_select(bit, 1), 1))
        last_cycle = sending & (bit == 9) & (tick == d - 1)
        may_start = (~sending & (~last_stop_low | (quiet == d))) | (last_cycle & frame[9])
        m.d.comb += Assume(~self.start | may_start)
        with m.If(sending):
            m.d.sync += tick.eq(Mux(tick == d - 1, 0, tick + 1))
            with m.If(tick == d - 1):
                m.d.sync += bit.eq(bit + 1)
            with m.If(last_cycle):
                m.d.sync += [sending.eq(0), quiet.eq(0), last_stop_low.eq(~frame[9])]
        with m.Elif(quiet != d):
            m.d.sync += quiet.eq(quiet + 1)
        with m.If(self.start):
            m.d.sync += [frame.eq(Cat(Const(0, 1), self.byte, self.stop)), sending.eq(1),
                         bit.eq(0), tick.eq(0), sent.eq(sent + 1),
                         sent_bytes[sent[0]].eq(Cat(self.byte, self.stop))]

        expected = sent_bytes[got[0]]
        outstanding = (sent - got)[:4]
        with m.If(dut.valid | dut.error):
            m.d.sync += got.eq(got + 1)
        m.d.comb += [
            Assert(~(dut.valid & dut.error), "valid and error at once"),
            Assert(~(dut.valid | dut.error) | (outstanding != 0), "a byte nobody sent"),
            Assert(~dut.valid | ((dut.data == expected[:8]) & expected[8]),
                   "a byte received with the wrong value or a low stop bit"),
            Assert(~dut.error | ~expected[8], "a framing error on a good byte"),
            Assert(outstanding <= 2, "more than two bytes in flight"),
            Assert(sending | (quiet < 4) | (outstanding == 0),
                   "a byte not received 4 cycles after its stop bit"),
        ]
        back_to_back, seen_error = Signal(), Signal()
        with m.If(self.start & last_cycle):
            m.d.sync += back_to_back.eq(1)
        with m.If(dut.error):
            m.d.sync += seen_error.eq(1)
        m.d.comb += [Cover(back_to_back & dut.valid & (got != 0)),
                     Cover(seen_error & dut.valid)]


class FrameReceiverCheck(Harness):
    """:class:`~boards.framing.FrameReceiver` on any byte stream against a shadow parser
    written from docs/protocol.md: the same jobs in the same cycles; no frame accepted whose
    CRC over its bytes is wrong; after garbage, an error or a time-out the next frame is
    received; a buffer the executor holds is never written.  (The shadow's CRC step is the
    receiver's, which ``crc`` proves equal to the bit-serial definition.)"""

    def __init__(self, banks: int = 2, timeout: int = 16):
        self.banks, self.timeout = banks, timeout
        self.byte, self.byte_valid, self.byte_error = Signal(8), Signal(), Signal()
        self.errors_allowed, self.release = Signal(), Signal()
        self.release_bank = Signal(range(max(banks, 2)))
        self.ports = [self.byte, self.byte_valid, self.byte_error, self.errors_allowed,
                      self.release, self.release_bank]

    def check(self, m):
        banks, timeout = self.banks, self.timeout
        m.submodules.dut = dut = FrameReceiver(banks=banks, timeout=timeout)
        byte, valid = self.byte, self.byte_valid
        m.d.comb += [dut.byte.eq(byte), dut.byte_valid.eq(valid),
                     dut.byte_error.eq(self.byte_error),
                     dut.errors_allowed.eq(self.errors_allowed),
                     dut.release.eq(self.release), dut.release_bank.eq(self.release_bank)]

        active, n = Signal(), Signal(16)
        cmd, tag, length, crc = Signal(8), Signal(8), Signal(16), Signal(16)
        silence = Signal(range(timeout + 1))
        busy, bank, drop = Signal(banks), Signal(range(max(banks, 2))), Signal()
        error, post, taken = Signal(3), Signal(), Signal(banks)
        crc_after = crc16_next(crc, byte)
        new_length = Cat(length[:8], byte)
        known = Signal()
        legal = Signal()
        m.d.comb += [
            known.eq((cmd == p.IDENTIFY) | (cmd == p.WRITE_REGS) | (cmd == p.READ_REGS)
                     | (cmd == p.CLASSIFY) | (cmd == p.READ_RESULT)),
            legal.eq(Mux((cmd == p.IDENTIFY) | (cmd == p.READ_RESULT), new_length == 0,
                     Mux(cmd == p.WRITE_REGS,  # the legal lengths listed: no divider
                         new_length.matches(*(p.REG_ENTRY_BYTES * k
                                              for k in range(1, p.MAX_REGS + 1))),
                         Mux(cmd == p.READ_REGS,
                             (new_length >= 2) & (new_length <= 2 * p.MAX_REGS)
                             & (new_length % 2 == 0),
                             new_length <= p.MAX_IMAGE_BYTES)))),
        ]

        def finish(code):
            m.d.comb += [error.eq(code), post.eq(1)]
            m.d.sync += active.eq(0)

        with m.If(valid):
            # The CRC register runs over every byte and restarts at a frame's SOF (built
            # like the receiver's, which keeps the solver's work small).
            m.d.sync += [silence.eq(0), crc.eq(crc_after)]
        with m.Elif(silence != timeout):
            m.d.sync += silence.eq(silence + 1)
        with m.If(~active):
            with m.If(valid & (byte == p.SOF)):
                m.d.sync += [active.eq(1), n.eq(0), crc.eq(p.CRC_INIT), cmd.eq(0), tag.eq(0),
                             drop.eq(busy.bit_select(bank, 1))]
        with m.Elif(self.byte_error):
            finish(p.ERR_FRAMING)
        with m.Elif(valid):
            m.d.sync += n.eq(n + 1)
            with m.Switch(n):
                with m.Case(0):
                    m.d.sync += cmd.eq(byte)
                with m.Case(1):
                    m.d.sync += tag.eq(byte)
                with m.Case(2):
                    m.d.sync += length[:8].eq(byte)
                with m.Case(3):
                    m.d.sync += length.eq(new_length)
                    with m.If(~known):
                        finish(p.ERR_UNKNOWN_COMMAND)
                    with m.Elif(~legal):
                        finish(p.ERR_LENGTH)
            with m.If((n >= 5) & (n == length + 5)):
                with m.If(crc_after != 0):
                    finish(p.ERR_CHECKSUM)
                with m.Elif(drop):
                    finish(p.ERR_BUSY)
                with m.Else():
                    finish(0)
                    m.d.comb += taken.eq(Const(1, banks) << bank)
                    m.d.sync += bank.eq((bank + 1) % banks)
        with m.Elif(silence == timeout):
            finish(p.ERR_TIMEOUT)
        released = Mux(self.release, Const(1, banks) << self.release_bank, 0)
        m.d.sync += busy.eq((busy | taken) & ~released)
        m.d.comb += Assume(~(valid & self.byte_error))
        m.d.comb += Assume(~self.release | busy.bit_select(self.release_bank, 1))

        accepted = dut.post & (dut.job.error == 0)
        payload_index = (n - 4)[:11]
        m.d.comb += [
            # A lemma: the two CRC registers agree in every cycle (checked here, it spares the
            # solver an XOR-network equivalence over the whole stream at every step).
            Assert(dut.crc == crc, "the receiver's CRC register differs from the shadow's"),
            Assert(dut.post == (post & ((error == 0) | self.errors_allowed)),
                   "a job posted when the shadow parser posts none, or none when it does"),
            Assert(~dut.post | ((dut.job.error == error) & (dut.job.cmd == cmd)
                                & (dut.job.tag == tag)), "a job with the wrong code, cmd or tag"),
            Assert(~accepted | ((dut.job.length == length) & (dut.job.bank == bank)),
                   "a frame posted with the wrong length or buffer"),
            Assert(~accepted | (crc_after == 0), "a frame accepted with a bad CRC"),
            Assert(~dut.buf_en | (active & ~drop & (dut.buf_addr
                                                    == bank * p.BANK_BYTES + payload_index)),
                   "a payload byte written outside its frame's buffer"),
            Assert(~dut.buf_en | ~busy.bit_select(bank, 1), "a buffer in use overwritten"),
        ]
        seen_error, seen_timeout = Signal(), Signal()
        with m.If(dut.post & (dut.job.error != 0)):
            m.d.sync += seen_error.eq(1)
        with m.If(dut.post & (dut.job.error == p.ERR_TIMEOUT)):
            m.d.sync += seen_timeout.eq(1)
        m.d.comb += [Cover(accepted & seen_error), Cover(accepted & seen_timeout),
                     Cover(dut.post & (dut.job.error == p.ERR_CHECKSUM)),
                     Cover(dut.post & (dut.job.error == p.ERR_FRAMING))]


class ExecutorBusCheck(Harness):
    """:class:`~boards.executor.CommandExecutor` with any jobs, payloads and answer timing
    against a core that takes any time: no register or image write reaches the core while
    an image runs (the rule of :mod:`hdl.regmap`, which the core itself does not enforce),
    so no request can change a running image's result.  Proved by induction."""

    def __init__(self):
        self.job, self.job_valid = Signal(Job.size), Signal()
        self.buf_data, self.tx_ready, self.finish = Signal(8), Signal(), Signal()
        self.ports = [self.job, self.job_valid, self.buf_data, self.tx_ready, self.finish]

    def check(self, m):
        m.submodules.dut = dut = CommandExecutor(banks=2, identify=bytes(range(1, 35)))
        busy, done = Signal(), Signal()
        start = dut.bus.w_en & (dut.bus.addr == regmap.CONTROL) & dut.bus.w_data[0]
        with m.If(start):
            m.d.sync += [busy.eq(1), done.eq(0)]
        with m.Elif(self.finish & busy):
            m.d.sync += [busy.eq(0), done.eq(1)]
        m.d.comb += [dut.job.eq(self.job), dut.job_valid.eq(self.job_valid),
                     dut.buf_data.eq(self.buf_data), dut.tx_ready.eq(self.tx_ready),
                     dut.core_done.eq(done), dut.bus.r_data.eq(0)]
        m.d.comb += [
            Assert(~(dut.bus.w_en & busy), "a bus write while the core runs an image"),
            Assert(~busy | dut.running, "the core runs but the executor does not wait"),
            Assert(~(busy & done), "busy and done at once"),
        ]


class HiddenBoundCheck(Harness):
    """docs/bounds.md for the hidden membranes of
    :class:`~hdl.hidden_neurons.HiddenNeurons`: with
    at most 784 weights of magnitude <= 127 a step and at most ``steps`` steps an image, in
    any order of clears, integrations and fire passes with any mask and gating,
    ``|v| <= 127 * (784 * steps so far + weights so far this step)`` and the register holds
    every integration's exact sum (it never wraps).
    Proved by induction (a bounded check cannot reach ``T x 784`` events).  The bound is
    tight: the same check with 126 in place of 127 (``per_weight``) must fail."""

    def __init__(self, config: SNNConfig, steps: int | None = None,
                 per_weight: int = WEIGHT_MAX):
        self.config = config
        self.steps = config.t_max if steps is None else steps
        self.per_weight = per_weight
        n = config.n_hidden
        # The fire pass flag is a free input registered twice (the component takes both).
        self.clear, self.add, self.fire_ahead = Signal(), Signal(), Signal()
        self.fire = Signal()
        self.weight = Signal(data.ArrayLayout(signed(WEIGHT_BITS), n))
        self.mask, self.gate = Signal(n), Signal()
        self.ports = [self.clear, self.add, self.fire_ahead, self.weight.as_value(), self.mask,
                      self.gate]

    def check(self, m):
        cfg = self.config
        geometry = hidden_geometry(cfg)
        assert geometry.chunks == 1, "one chunk: every membrane is observable"
        dut = HiddenNeurons(config=cfg, geometry=geometry)
        dut._MustUse__silence = True  # elaborated here, to reach its membrane memory
        m.submodules.dut = body = dut.elaborate(None)
        membrane = body.submodules.membranes.read_ports[0].data
        m.d.comb += [dut.clear.eq(self.clear), dut.weight_valid.eq(self.add),
                     dut.weight_chunk.eq(0), dut.weight.eq(self.weight),
                     dut.fire_valid.eq(self.fire), dut.fire_chunk.eq(0), dut.read_chunk.eq(0),
                     dut.fire_ahead.eq(self.fire_ahead),
                     dut.mask.eq(self.mask), dut.gate.eq(self.gate)]
        fire_next = Signal()
        m.d.sync += [fire_next.eq(self.fire_ahead), self.fire.eq(fire_next)]

        # The bound so far, kept by additions only (no multiplier for the solver):
        # ``base`` = per_weight * 784 * steps, ``limit`` = base + per_weight * weights this step.
        step_bound = self.per_weight * N_INPUTS
        base, limit = Signal(32), Signal(32)
        clearing = Signal()
        m.d.sync += clearing.eq(self.clear)
        with m.If(clearing):
            m.d.sync += [base.eq(0), limit.eq(0)]
        with m.Elif(self.add):
            m.d.sync += limit.eq(limit + self.per_weight)
        with m.Elif(self.fire):
            m.d.sync += [base.eq(base + step_bound), limit.eq(base + step_bound)]
        last_step = step_bound * (self.steps - 1)
        m.d.comb += [
            Assume(self.clear + self.add + self.fire <= 1),
            Assume(~clearing | ~(self.add | self.fire)),
            Assume(~self.add | ((limit + self.per_weight <= base + step_bound)
                                & (base <= last_step))),
            Assume(~self.fire | (base <= last_step)),
            # The reader's weights are 0 when none are valid.
            Assume(self.add | ~self.weight.as_value().any()),
            *(Assume((self.weight[k] >= -WEIGHT_MAX) & (self.weight[k] <= WEIGHT_MAX))
              for k in range(cfg.n_hidden)),
        ]
        exact = Signal(data.ArrayLayout(signed(cfg.hidden_membrane_width + 2), cfg.n_hidden))
        added = Signal()
        m.d.sync += added.eq(self.add)
        for k in range(cfg.n_hidden):
            v = membrane[k]
            m.d.sync += exact[k].eq(v + self.weight[k])
            m.d.comb += [
                Assert((v <= limit) & (v >= -limit), f"membrane {k} beyond the bound"),
                Assert(~added | (v == exact[k]), f"membrane {k} wrapped in an integration"),
            ]
        # With 127 and t_max steps the last limit is hidden_membrane_bound (docs/bounds.md).
        m.d.comb += Assert((base <= limit) & (limit <= base + step_bound)
                           & (limit <= step_bound * self.steps), "bound bookkeeping in range")
