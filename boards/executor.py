"""Command executor (gateware): runs one job at a time on the core's register bus and answers.

Per job: execute (register writes, or decode the run-length image into the core's image
words and run it), then send the response frame byte by byte to the UART transmitter (the
CRC is computed on the fly).  Payload bytes come from the receiver's buffers (1-cycle read
latency); register reads return one cycle after the address (``hdl.regmap``).
"""

from __future__ import annotations

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from boards import protocol as p
from boards.framing import Job, crc16_next
from golden.config import N_INPUTS
from hdl import regmap
from hdl.validated import ValidatedComponent

BODY_NONE, BODY_IDENTIFY, BODY_READS, BODY_ERROR = range(4)


class _State:
    """The executor's registers, shared by the parts of its state machine."""

    def __init__(self, identify_bytes: int):
        self.job = Signal(Job)
        self.ptr = Signal(range(p.BANK_BYTES + 1))
        self.resp_cmd, self.resp_len = Signal(8), Signal(16)
        self.error_code = Signal(3)
        self.body = Signal(range(4))
        self.index = Signal(range(max(identify_bytes, len(p.RESULT_FIELDS), p.MAX_REGS) + 1))
        self.byte_index = Signal(2)
        self.tx_crc = Signal(16)
        self.shift = Signal(8 * p.REG_ENTRY_BYTES)
        # READ_REGS (addresses from the payload) vs the result table.
        self.from_buffer = Signal()
        self.pixel = Signal(range(N_INPUTS + 1))
        self.word = Signal(regmap.IMAGE_FIELDS.size)
        self.run = Signal(8)


class CommandExecutor(ValidatedComponent):
    """Executes :class:`~boards.framing.Job` s against the core and sends the answers.

    Parameters
    ----------
    banks : int
        Payload buffers of the receiver.
    identify : bytes
        The IDENTIFY payload (:meth:`boards.protocol.DeviceInfo.to_bytes`).
    block_ram_tail : int
        The last this many IDENTIFY bytes (the weights fingerprint) come from a block-RAM
        ROM, copied into registers in the cycles after reset, instead of from logic: a routed
        design's fingerprint can then be patched with its weights (0: all from logic).

    Attributes
    ----------
    job, job_valid, job_ack : In, In, Out
        The next job and its acknowledge (pops the job queue).
    buf_addr, buf_data : Out, In
        Read port of the payload buffers (data one cycle after the address).
    bus : Out(ControlBus)
        The core's register bus.
    core_done : In(1)
        The core's ``done``.
    tx_data, tx_valid, tx_ready : Out, Out, In
        Bytes to the UART transmitter.
    release, release_bank : Out
        A frame's buffer is free again.
    last_class : Out(4)
        Class of the last classified image (for the LEDs).
    classified, error_sent : Out(1)
        Strobes: an image was classified; an error frame was sent.
    running : Out(1)
        An image runs on the core: the executor waits for ``core_done`` and drives no bus
        write (the rule of :mod:`hdl.regmap`; ``make formal`` proves it).
    """

    @classmethod
    def validate(cls, *, banks: int, identify: bytes, block_ram_tail: int = 0) -> None:
        """Raise ``ValueError`` for an empty IDENTIFY payload or a tail longer than it."""
        if not identify:
            raise ValueError("identify must be the non-empty IDENTIFY payload")
        if not 0 <= block_ram_tail <= len(identify):
            raise ValueError(f"block_ram_tail must be in 0..{len(identify)}, not "
                             f"{block_ram_tail}")

    def __init__(self, *, banks: int, identify: bytes, block_ram_tail: int = 0):
        self._banks = banks
        self._identify = bytes(identify)
        self._tail = block_ram_tail
        super().__init__({
            "job": In(Job), "job_valid": In(1), "job_ack": Out(1),
            "buf_addr": Out(range(banks * p.BANK_BYTES)), "buf_data": In(8),
            "bus": Out(regmap.ControlBus()), "core_done": In(1),
            "tx_data": Out(8), "tx_valid": Out(1), "tx_ready": In(1),
            "release": Out(1), "release_bank": Out(range(max(banks, 2))),
            "last_class": Out(4), "classified": Out(1), "error_sent": Out(1),
            "running": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        s = _State(len(self._identify))
        job = s.job
        m.d.comb += [self.buf_addr.eq(job.bank * p.BANK_BYTES + s.ptr),
                     self.release_bank.eq(job.bank)]
        m.d.sync += [self.classified.eq(0), self.error_sent.eq(0)]
        identify = self._identify_bytes(m)

        with m.FSM():
            with m.State("IDLE"):
                m.d.comb += self.job_ack.eq(self.job_valid)
                with m.If(self.job_valid):
                    m.d.sync += [job.eq(self.job), s.ptr.eq(0), s.pixel.eq(0),
                                 s.from_buffer.eq(self.job.cmd == p.READ_REGS)]
                    with m.If(self.job.error != 0):
                        m.d.sync += s.error_code.eq(self.job.error)
                        self._respond(m, s, p.ERROR, 2, BODY_ERROR)
                    with m.Else():
                        ok = self.job.cmd | p.RESPONSE
                        with m.Switch(self.job.cmd):
                            with m.Case(p.IDENTIFY):
                                self._respond(m, s, ok, len(self._identify), BODY_IDENTIFY)
                            with m.Case(p.READ_RESULT):
                                self._respond(m, s, ok, p.RESULT_BYTES, BODY_READS)
                            with m.Case(p.READ_REGS):
                                self._respond(m, s, ok, self.job.length << 1, BODY_READS)
                            with m.Case(p.WRITE_REGS):
                                m.next = "WR_FETCH"
                            with m.Case(p.CLASSIFY):
                                m.next = "DEC_FETCH"
            self._write_registers(m, s)
            self._classify(m, s)
            self._send_response(m, s, identify)
        return m

    @staticmethod
    def _respond(m: Module, s: _State, cmd, length, kind: int) -> None:
        """Start the response frame."""
        m.d.sync += [s.resp_cmd.eq(cmd), s.resp_len.eq(length), s.body.eq(kind),
                     s.index.eq(0), s.byte_index.eq(0)]
        m.next = "SOF"

    def _fail(self, m: Module, s: _State, code: int) -> None:
        m.d.sync += s.error_code.eq(code)
        self._respond(m, s, p.ERROR, 2, BODY_ERROR)

    def _emit(self, m: Module, s: _State, value, next_state=None, *, checked=True):
        """Offer ``value`` to the transmitter; move on when taken; ``checked`` bytes enter
        the CRC."""
        m.d.comb += [self.tx_data.eq(value), self.tx_valid.eq(1)]
        with m.If(self.tx_ready):
            if checked:
                m.d.sync += s.tx_crc.eq(crc16_next(s.tx_crc, self.tx_data))
            if next_state is not None:
                m.next = next_state
        return self.tx_ready

    def _put_pixel(self, m: Module, s: _State, value) -> None:
        """Append a pixel to the image word; every fourth pixel writes the word."""
        word = Cat(s.word[8:], value)
        m.d.sync += [s.word.eq(word), s.pixel.eq(s.pixel + 1)]
        with m.If(s.pixel[:2] == regmap.IMAGE_FIELDS.length - 1):
            m.d.comb += [self.bus.addr.eq(regmap.IMAGE + (s.pixel >> 2)),
                         self.bus.w_data.eq(word), self.bus.w_en.eq(1)]

    def _write_registers(self, m: Module, s: _State) -> None:
        """WRITE_REGS: 6 payload bytes per entry -> one bus write (CONTROL is skipped)."""
        with m.State("WR_FETCH"):
            m.d.sync += [s.ptr.eq(s.ptr + 1), s.index.eq(0)]
            m.next = "WR_LOAD"
        with m.State("WR_LOAD"):
            m.d.sync += [s.shift.eq(Cat(s.shift[8:], self.buf_data)), s.index.eq(s.index + 1)]
            with m.If(s.index == p.REG_ENTRY_BYTES - 1):
                m.next = "WR_WRITE"
            with m.Else():
                m.d.sync += s.ptr.eq(s.ptr + 1)
        with m.State("WR_WRITE"):
            address = s.shift[:regmap.ADDRESS_WIDTH]
            m.d.comb += [self.bus.addr.eq(address), self.bus.w_data.eq(s.shift[16:48]),
                         self.bus.w_en.eq(address != regmap.CONTROL)]
            with m.If(s.ptr == s.job.length):
                self._respond(m, s, s.job.cmd | p.RESPONSE, 0, BODY_NONE)
            with m.Else():
                m.next = "WR_FETCH"

    def _classify(self, m: Module, s: _State) -> None:
        """CLASSIFY: run-length decode into the 196 image words, start, wait for done."""
        with m.State("DEC_FETCH"):
            with m.If(s.ptr == s.job.length):
                m.next = "DEC_PAD"
            with m.Else():
                m.d.sync += s.ptr.eq(s.ptr + 1)
                m.next = "DEC_BYTE"
        with m.State("DEC_BYTE"):
            with m.If(self.buf_data != 0):
                with m.If(s.pixel == N_INPUTS):
                    self._fail(m, s, p.ERR_PAYLOAD)
                with m.Else():
                    self._put_pixel(m, s, self.buf_data)
                    m.next = "DEC_FETCH"
            with m.Elif(s.ptr == s.job.length):
                self._fail(m, s, p.ERR_PAYLOAD)  # the image ends inside a zero-run token
            with m.Else():
                m.d.sync += s.ptr.eq(s.ptr + 1)
                m.next = "DEC_RUN"
        with m.State("DEC_RUN"):
            m.d.sync += s.run.eq(self.buf_data)
            m.next = "DEC_ZEROS"
        with m.State("DEC_ZEROS"):
            with m.If(s.pixel == N_INPUTS):
                self._fail(m, s, p.ERR_PAYLOAD)
            with m.Else():
                self._put_pixel(m, s, 0)
                m.d.sync += s.run.eq(s.run - 1)
                with m.If(s.run == 0):
                    m.next = "DEC_FETCH"
        with m.State("DEC_PAD"):
            with m.If(s.pixel == N_INPUTS):
                m.d.comb += [self.bus.addr.eq(regmap.CONTROL),
                             self.bus.w_data.eq(regmap.START), self.bus.w_en.eq(1)]
                m.next = "RUN"
            with m.Else():
                self._put_pixel(m, s, 0)
        with m.State("RUN"):
            m.d.comb += self.running.eq(1)
            with m.If(self.core_done):
                m.d.sync += self.classified.eq(1)
                self._respond(m, s, s.job.cmd | p.RESPONSE, p.RESULT_BYTES, BODY_READS)

    def _identify_bytes(self, m: Module) -> list:
        """The IDENTIFY bytes: constants, and the :attr:`block_ram_tail` registers loaded
        from their ROM after reset (address ``i`` is read while ``load == i``, so its data
        is there when ``load == i + 1``)."""
        head = [Const(b, 8) for b in self._identify[:len(self._identify) - self._tail]]
        if not self._tail:
            return head
        rom = Memory(shape=8, depth=self._tail, init=self._identify[-self._tail:],
                     attrs={"ram_style": "block"})
        m.submodules.identify_tail = rom
        port = rom.read_port()
        load = Signal(range(self._tail + 2), name="identify_load")
        tail = [Signal(8, name=f"identify_tail{i}") for i in range(self._tail)]
        m.d.comb += port.addr.eq(load)
        with m.If(load <= self._tail):
            m.d.sync += load.eq(load + 1)
        for i, byte in enumerate(tail):
            with m.If(load == i + 1):
                m.d.sync += byte.eq(port.data)
        return head + tail

    def _send_response(self, m: Module, s: _State, identify: list) -> None:
        """The response frame: header, body (IDENTIFY, error or register reads), CRC."""
        identify_rom = Array(identify)
        with m.State("SOF"):
            with m.If(self._emit(m, s, p.SOF, "CMD", checked=False)):
                m.d.sync += s.tx_crc.eq(p.CRC_INIT)
        with m.State("CMD"):
            self._emit(m, s, s.resp_cmd, "TAG")
        with m.State("TAG"):
            self._emit(m, s, s.job.tag, "LEN_L")
        with m.State("LEN_L"):
            self._emit(m, s, s.resp_len[:8], "LEN_H")
        with m.State("LEN_H"):
            with m.If(self._emit(m, s, s.resp_len[8:])):
                with m.Switch(s.body):
                    for kind, state in ((BODY_NONE, "CRC_H"), (BODY_IDENTIFY, "IDENTIFY"),
                                        (BODY_ERROR, "ERROR_CODE"), (BODY_READS, "READ_NEXT")):
                        with m.Case(kind):
                            m.next = state
        with m.State("IDENTIFY"):
            with m.If(self._emit(m, s, identify_rom[s.index])):
                m.d.sync += s.index.eq(s.index + 1)
                with m.If(s.index == len(self._identify) - 1):
                    m.next = "CRC_H"
        with m.State("ERROR_CODE"):
            self._emit(m, s, s.error_code, "ERROR_CMD")
        with m.State("ERROR_CMD"):
            self._emit(m, s, s.job.cmd, "CRC_H")
        self._read_registers(m, s)
        with m.State("CRC_H"):
            self._emit(m, s, s.tx_crc[8:], "CRC_L", checked=False)
        with m.State("CRC_L"):
            with m.If(self._emit(m, s, s.tx_crc[:8], "IDLE", checked=False)):
                m.d.comb += self.release.eq(s.job.error == 0)
                m.d.sync += self.error_sent.eq(s.resp_cmd == p.ERROR)

    def _read_registers(self, m: Module, s: _State) -> None:
        """Register reads: READ_REGS addresses from the payload, else the result table."""
        table_addr = Array(Const(a, regmap.ADDRESS_WIDTH) for _, a, _ in p.RESULT_FIELDS)
        table_size = Array(Const(size - 1, 2) for _, _, size in p.RESULT_FIELDS)
        read_addr = Mux(s.from_buffer, s.shift[:regmap.ADDRESS_WIDTH], table_addr[s.index])
        read_last_byte = Mux(s.from_buffer, 3, table_size[s.index])
        read_count = Mux(s.from_buffer, s.job.length >> 1, len(p.RESULT_FIELDS))
        with m.State("READ_NEXT"):
            with m.If(s.index == read_count):
                m.next = "CRC_H"
            with m.Elif(s.from_buffer):
                m.d.sync += s.ptr.eq(s.ptr + 1)
                m.next = "READ_ADDR_LO"
            with m.Else():
                m.next = "READ_WAIT"
        with m.State("READ_ADDR_LO"):
            m.d.sync += [s.shift[:8].eq(self.buf_data), s.ptr.eq(s.ptr + 1)]
            m.next = "READ_ADDR_HI"
        with m.State("READ_ADDR_HI"):
            m.d.sync += s.shift[8:16].eq(self.buf_data)
            m.next = "READ_WAIT"
        with m.State("READ_WAIT"):
            m.d.comb += self.bus.addr.eq(read_addr)
            m.next = "READ_EMIT"
        with m.State("READ_EMIT"):
            m.d.comb += self.bus.addr.eq(read_addr)
            with m.If(~s.from_buffer & (s.index == 0)):
                result = regmap.RESULT_FIELDS(self.bus.r_data[:regmap.RESULT_FIELDS.size])
                m.d.sync += self.last_class.eq(result.label)
            with m.If(self._emit(m, s, self.bus.r_data.word_select(s.byte_index, 8))):
                m.d.sync += s.byte_index.eq(s.byte_index + 1)
                with m.If(s.byte_index == read_last_byte):
                    m.d.sync += [s.byte_index.eq(0), s.index.eq(s.index + 1)]
                    m.next = "READ_NEXT"
