"""Frame receiver (gateware): UART bytes -> checked frames in payload buffers, or errors.

It hunts for SOF, checks the header (known command, allowed length) as soon as it is complete,
writes the payload into one of ``banks`` buffers, checks the CRC and posts a :class:`Job`:
a frame to execute, or an error to answer (docs/protocol.md).  A UART framing error or a
gap of ``timeout`` cycles inside a frame abandons it; every failure returns to the hunt, so
garbage never needs a reset.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Signal
from amaranth.lib import data
from amaranth.lib.wiring import In, Out

from boards import protocol as p
from hdl.validated import ValidatedComponent


def _crc16_int(crc: int, byte: int) -> int:
    for i in range(8):
        feedback = (byte >> (7 - i) ^ crc >> 15) & 1
        crc = (crc << 1) & 0xFFFF ^ (p.CRC_POLY if feedback else 0)
    return crc


def _crc16_taps() -> list[tuple[list[int], list[int]]]:
    """Per output bit: the CRC bits and data bits it is the XOR of (the CRC is linear)."""
    taps = []
    for out in range(16):
        crc_bits = [i for i in range(16) if _crc16_int(1 << i, 0) >> out & 1]
        data_bits = [i for i in range(8) if _crc16_int(0, 1 << i) >> out & 1]
        taps.append((crc_bits, data_bits))
    return taps


_CRC16_TAPS = _crc16_taps()


def crc16_next(crc, byte):
    """CRC-16/CCITT-FALSE register after one more byte, as a flat XOR network (16 bits)."""
    bits = []
    for crc_bits, data_bits in _CRC16_TAPS:
        terms = [crc[i] for i in crc_bits] + [byte[i] for i in data_bits]
        bits.append(Cat(*terms).xor())
    return Cat(*bits)


Job = data.StructLayout({"error": 3, "cmd": 8, "tag": 8, "length": 11, "bank": 2})
"""A unit of work for the executor: a received frame (``error == 0``) or an error code."""


class FrameReceiver(ValidatedComponent):
    """Parses frames from a byte stream into payload buffers and posts jobs.

    Parameters
    ----------
    banks : int
        Payload buffers (a power of two); each holds one frame of up to ``p.BANK_BYTES``.
    timeout : int
        Clock cycles of silence inside a frame after which it is abandoned.

    Attributes
    ----------
    byte, byte_valid, byte_error : In
        Received bytes and UART framing errors (strobes).
    buf_addr, buf_data, buf_en : Out
        Write port into the payload buffers (``bank * BANK_BYTES + offset``).
    job, post : Out
        A job and its one-cycle post strobe.
    errors_allowed : In(1)
        The job queue has room for an error job (frame jobs always have room).
    release, release_bank : In
        The executor is done with a buffer.
    crc : Out(16)
        The running CRC register (restarted at each SOF; 0 after a good frame), for checks.
    """

    @classmethod
    def validate(cls, *, banks: int, timeout: int) -> None:
        """Raise ``ValueError`` for a bank count or time-out the receiver does not support."""
        if banks not in (1, 2, 4):
            raise ValueError(f"banks must be 1, 2 or 4, not {banks!r}")
        if isinstance(timeout, bool) or not isinstance(timeout, int) or timeout < 16:
            raise ValueError(f"timeout must be an integer >= 16 (cycles), not {timeout!r}")

    def __init__(self, *, banks: int, timeout: int):
        self._banks = banks
        self._timeout = timeout
        super().__init__({
            "byte": In(8), "byte_valid": In(1), "byte_error": In(1),
            "buf_addr": Out(range(banks * p.BANK_BYTES)), "buf_data": Out(8),
            "buf_en": Out(1),
            "job": Out(Job), "post": Out(1), "errors_allowed": In(1),
            "release": In(1), "release_bank": In(range(max(banks, 2))),
            "crc": Out(16),
        })

    def elaborate(self, platform):
        m = Module()
        crc = Signal(16)
        crc_next = crc16_next(crc, self.byte)
        m.d.comb += self.crc.eq(crc)
        cmd, tag, length = Signal(8), Signal(8), Signal(16)
        count = Signal(range(p.BANK_BYTES))
        bank = Signal(range(max(self._banks, 2)))
        bank_busy = Signal(self._banks)
        dropping = Signal()
        timer = Signal(range(self._timeout + 1))

        released = Signal(self._banks)
        with m.If(self.release):
            m.d.comb += released.eq(Const(1, 1) << self.release_bank)
        taken = Signal(self._banks)
        m.d.sync += bank_busy.eq((bank_busy | taken) & ~released)

        def post(error):
            m.d.comb += [self.job.error.eq(error), self.job.cmd.eq(cmd),
                         self.job.tag.eq(tag), self.job.length.eq(length),
                         self.job.bank.eq(bank)]
            if isinstance(error, int) and error == 0:
                m.d.comb += self.post.eq(1)
            else:
                m.d.comb += self.post.eq(self.errors_allowed)
            m.next = "HUNT"

        m.d.comb += [self.buf_addr.eq(bank * p.BANK_BYTES + count), self.buf_data.eq(self.byte)]
        with m.If(self.byte_valid):
            m.d.sync += [crc.eq(crc_next), timer.eq(0)]
        with m.Elif(timer != self._timeout):
            m.d.sync += timer.eq(timer + 1)

        new_length = Cat(length[:8], self.byte)
        header_ok = Signal()
        known = Signal()
        with m.Switch(cmd):
            with m.Case(p.IDENTIFY, p.READ_RESULT):
                m.d.comb += [known.eq(1), header_ok.eq(new_length == 0)]
            with m.Case(p.WRITE_REGS):
                # The legal lengths listed: a modulo-6 divider here was the board top's
                # critical path (24.5 MHz).
                m.d.comb += [known.eq(1), header_ok.eq(new_length.matches(
                    *(p.REG_ENTRY_BYTES * k for k in range(1, p.MAX_REGS + 1))))]
            with m.Case(p.READ_REGS):
                m.d.comb += [known.eq(1), header_ok.eq(
                    (new_length != 0) & (new_length <= p.MAX_REGS * 2) & ~new_length[0])]
            with m.Case(p.CLASSIFY):
                m.d.comb += [known.eq(1), header_ok.eq(new_length <= p.MAX_IMAGE_BYTES)]

        with m.FSM():
            with m.State("HUNT"):
                with m.If(self.byte_valid & (self.byte == p.SOF)):
                    m.d.sync += [crc.eq(p.CRC_INIT), dropping.eq(bank_busy.bit_select(bank, 1)),
                                 count.eq(0), cmd.eq(0), tag.eq(0)]
                    m.next = "CMD"
            for state, next_state in (("CMD", "TAG"), ("TAG", "LEN_L"), ("LEN_L", "LEN_H")):
                with m.State(state):
                    with m.If(self.byte_valid):
                        target = {"CMD": cmd, "TAG": tag, "LEN_L": length}[state]
                        m.d.sync += target[:8].eq(self.byte)
                        m.next = next_state
                    self._abandon(m, timer, post)
            with m.State("LEN_H"):
                with m.If(self.byte_valid):
                    m.d.sync += length.eq(new_length)
                    with m.If(~known):
                        post(p.ERR_UNKNOWN_COMMAND)
                    with m.Elif(~header_ok):
                        post(p.ERR_LENGTH)
                    with m.Elif(new_length == 0):
                        m.next = "CRC_H"
                    with m.Else():
                        m.next = "PAYLOAD"
                self._abandon(m, timer, post)
            with m.State("PAYLOAD"):
                with m.If(self.byte_valid):
                    m.d.comb += self.buf_en.eq(~dropping)
                    m.d.sync += count.eq(count + 1)
                    with m.If(count == length - 1):
                        m.next = "CRC_H"
                self._abandon(m, timer, post)
            with m.State("CRC_H"):
                with m.If(self.byte_valid):
                    m.next = "CRC_L"
                self._abandon(m, timer, post)
            with m.State("CRC_L"):
                with m.If(self.byte_valid):
                    with m.If(crc_next != 0):
                        post(p.ERR_CHECKSUM)
                    with m.Elif(dropping):
                        post(p.ERR_BUSY)
                    with m.Else():
                        post(0)
                        m.d.comb += taken.eq(Const(1, 1) << bank)
                        m.d.sync += bank.eq(bank + 1 if self._banks > 1 else 0)
                self._abandon(m, timer, post)
        return m

    def _abandon(self, m, timer, post):
        """Leave a half-received frame on a UART framing error or a time-out."""
        with m.If(self.byte_error):
            post(p.ERR_FRAMING)
        with m.Elif(~self.byte_valid & (timer == self._timeout)):
            post(p.ERR_TIMEOUT)
