"""Command executor (gateware): runs one job at a time on the core's register bus and answers.

Per job: execute (register writes, or decode the run-length image into the core's image
words and run it), then send the response frame byte by byte to the UART transmitter (the
CRC is computed on the fly).  Payload bytes come from the receiver's buffers (1-cycle read
latency); register reads return one cycle after the address (``hdl.regmap``).
"""

from __future__ import annotations

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal
from amaranth.lib.wiring import In, Out

from boards import protocol as p
from boards.framing import Job, crc16_next
from golden.config import N_INPUTS
from hdl import regmap
from hdl.validated import ValidatedComponent

BODY_NONE, BODY_IDENTIFY, BODY_READS, BODY_ERROR = range(4)


class CommandExecutor(ValidatedComponent):
    """Executes :class:`~boards.framing.Job` s against the core and sends the answers.

    Parameters
    ----------
    banks : int
        Payload buffers of the receiver.
    identify : bytes
        The IDENTIFY payload (:meth:`boards.protocol.DeviceInfo.to_bytes`).

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
    """

    @classmethod
    def validate(cls, *, banks: int, identify: bytes) -> None:
        """Raise ``ValueError`` for an empty IDENTIFY payload."""
        if not identify:
            raise ValueError("identify must be the non-empty IDENTIFY payload")

    def __init__(self, *, banks: int, identify: bytes):
        self._banks = banks
        self._identify = bytes(identify)
        super().__init__({
            "job": In(Job), "job_valid": In(1), "job_ack": Out(1),
            "buf_addr": Out(range(banks * p.BANK_BYTES)), "buf_data": In(8),
            "bus": Out(regmap.ControlBus()), "core_done": In(1),
            "tx_data": Out(8), "tx_valid": Out(1), "tx_ready": In(1),
            "release": Out(1), "release_bank": Out(range(max(banks, 2))),
            "last_class": Out(4), "classified": Out(1), "error_sent": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        job = Signal(Job)
        ptr = Signal(range(p.BANK_BYTES + 1))
        resp_cmd, resp_len = Signal(8), Signal(16)
        error_code = Signal(3)
        body = Signal(range(4))
        index = Signal(range(max(len(self._identify), len(p.RESULT_FIELDS), p.MAX_REGS) + 1))
        byte_index = Signal(2)
        tx_crc = Signal(16)
        shift = Signal(8 * p.REG_ENTRY_BYTES)
        from_buffer = Signal()  # READ_REGS (addresses from the payload) vs the result table
        pixel = Signal(range(N_INPUTS + 1))
        word = Signal(32)
        run = Signal(8)

        m.d.comb += [self.buf_addr.eq(job.bank * p.BANK_BYTES + ptr),
                     self.release_bank.eq(job.bank)]
        m.d.sync += [self.classified.eq(0), self.error_sent.eq(0)]

        table_addr = Array(Const(a, regmap.ADDRESS_WIDTH) for _, a, _ in p.RESULT_FIELDS)
        table_size = Array(Const(s - 1, 2) for _, _, s in p.RESULT_FIELDS)
        identify_rom = Array(Const(b, 8) for b in self._identify)
        read_addr = Mux(from_buffer, shift[:regmap.ADDRESS_WIDTH], table_addr[index])
        read_last_byte = Mux(from_buffer, 3, table_size[index])
        read_count = Mux(from_buffer, job.length >> 1, len(p.RESULT_FIELDS))

        def respond(cmd, length, kind):
            m.d.sync += [resp_cmd.eq(cmd), resp_len.eq(length), body.eq(kind), index.eq(0),
                         byte_index.eq(0)]
            m.next = "SOF"

        def fail(code):
            m.d.sync += error_code.eq(code)
            respond(p.ERROR, 2, BODY_ERROR)

        def emit(value, next_state=None, *, checked=True):
            """Offer ``value`` to the transmitter; move on when taken; ``checked`` bytes
            enter the CRC."""
            m.d.comb += [self.tx_data.eq(value), self.tx_valid.eq(1)]
            with m.If(self.tx_ready):
                if checked:
                    m.d.sync += tx_crc.eq(crc16_next(tx_crc, self.tx_data))
                if next_state is not None:
                    m.next = next_state
            return self.tx_ready

        def put_pixel(value):
            m.d.sync += [word.eq(Cat(word[8:], value)), pixel.eq(pixel + 1)]
            with m.If(pixel[:2] == 3):
                m.d.comb += [self.bus.addr.eq(regmap.IMAGE + (pixel >> 2)),
                             self.bus.w_data.eq(Cat(word[8:], value)), self.bus.w_en.eq(1)]

        with m.FSM():
            with m.State("IDLE"):
                m.d.comb += self.job_ack.eq(self.job_valid)
                with m.If(self.job_valid):
                    m.d.sync += [job.eq(self.job), ptr.eq(0), pixel.eq(0),
                                 from_buffer.eq(self.job.cmd == p.READ_REGS)]
                    with m.If(self.job.error != 0):
                        m.d.sync += error_code.eq(self.job.error)
                        respond(p.ERROR, 2, BODY_ERROR)
                    with m.Else():
                        ok = self.job.cmd | p.RESPONSE
                        with m.Switch(self.job.cmd):
                            with m.Case(p.IDENTIFY):
                                respond(ok, len(self._identify), BODY_IDENTIFY)
                            with m.Case(p.READ_RESULT):
                                respond(ok, p.RESULT_BYTES, BODY_READS)
                            with m.Case(p.READ_REGS):
                                respond(ok, self.job.length << 1, BODY_READS)
                            with m.Case(p.WRITE_REGS):
                                m.next = "WR_FETCH"
                            with m.Case(p.CLASSIFY):
                                m.next = "DEC_FETCH"

            # WRITE_REGS: 6 payload bytes per entry -> one bus write (CONTROL is skipped).
            with m.State("WR_FETCH"):
                m.d.sync += [ptr.eq(ptr + 1), index.eq(0)]
                m.next = "WR_LOAD"
            with m.State("WR_LOAD"):
                m.d.sync += [shift.eq(Cat(shift[8:], self.buf_data)), index.eq(index + 1)]
                with m.If(index == p.REG_ENTRY_BYTES - 1):
                    m.next = "WR_WRITE"
                with m.Else():
                    m.d.sync += ptr.eq(ptr + 1)
            with m.State("WR_WRITE"):
                address = shift[:regmap.ADDRESS_WIDTH]
                m.d.comb += [self.bus.addr.eq(address), self.bus.w_data.eq(shift[16:48]),
                             self.bus.w_en.eq(address != regmap.CONTROL)]
                with m.If(ptr == job.length):
                    respond(job.cmd | p.RESPONSE, 0, BODY_NONE)
                with m.Else():
                    m.next = "WR_FETCH"

            # CLASSIFY: run-length decode into the 196 image words, start, wait for done.
            with m.State("DEC_FETCH"):
                with m.If(ptr == job.length):
                    m.next = "DEC_PAD"
                with m.Else():
                    m.d.sync += ptr.eq(ptr + 1)
                    m.next = "DEC_BYTE"
            with m.State("DEC_BYTE"):
                with m.If(self.buf_data != 0):
                    with m.If(pixel == N_INPUTS):
                        fail(p.ERR_PAYLOAD)
                    with m.Else():
                        put_pixel(self.buf_data)
                        m.next = "DEC_FETCH"
                with m.Elif(ptr == job.length):
                    fail(p.ERR_PAYLOAD)  # the image ends inside a zero-run token
                with m.Else():
                    m.d.sync += ptr.eq(ptr + 1)
                    m.next = "DEC_RUN"
            with m.State("DEC_RUN"):
                m.d.sync += run.eq(self.buf_data)
                m.next = "DEC_ZEROS"
            with m.State("DEC_ZEROS"):
                with m.If(pixel == N_INPUTS):
                    fail(p.ERR_PAYLOAD)
                with m.Else():
                    put_pixel(0)
                    m.d.sync += run.eq(run - 1)
                    with m.If(run == 0):
                        m.next = "DEC_FETCH"
            with m.State("DEC_PAD"):
                with m.If(pixel == N_INPUTS):
                    m.d.comb += [self.bus.addr.eq(regmap.CONTROL),
                                 self.bus.w_data.eq(regmap.START), self.bus.w_en.eq(1)]
                    m.next = "RUN"
                with m.Else():
                    put_pixel(0)
            with m.State("RUN"):
                with m.If(self.core_done):
                    m.d.sync += self.classified.eq(1)
                    respond(job.cmd | p.RESPONSE, p.RESULT_BYTES, BODY_READS)

            # The response frame.
            with m.State("SOF"):
                with m.If(emit(p.SOF, "CMD", checked=False)):
                    m.d.sync += tx_crc.eq(p.CRC_INIT)
            with m.State("CMD"):
                emit(resp_cmd, "TAG")
            with m.State("TAG"):
                emit(job.tag, "LEN_L")
            with m.State("LEN_L"):
                emit(resp_len[:8], "LEN_H")
            with m.State("LEN_H"):
                with m.If(emit(resp_len[8:])):
                    with m.Switch(body):
                        with m.Case(BODY_NONE):
                            m.next = "CRC_H"
                        with m.Case(BODY_IDENTIFY):
                            m.next = "IDENTIFY"
                        with m.Case(BODY_ERROR):
                            m.next = "ERROR_CODE"
                        with m.Case(BODY_READS):
                            m.next = "READ_NEXT"
            with m.State("IDENTIFY"):
                with m.If(emit(identify_rom[index])):
                    m.d.sync += index.eq(index + 1)
                    with m.If(index == len(self._identify) - 1):
                        m.next = "CRC_H"
            with m.State("ERROR_CODE"):
                emit(error_code, "ERROR_CMD")
            with m.State("ERROR_CMD"):
                emit(job.cmd, "CRC_H")

            # Register reads (READ_REGS addresses from the payload, else the result table).
            with m.State("READ_NEXT"):
                with m.If(index == read_count):
                    m.next = "CRC_H"
                with m.Elif(from_buffer):
                    m.d.sync += ptr.eq(ptr + 1)
                    m.next = "READ_ADDR_LO"
                with m.Else():
                    m.next = "READ_WAIT"
            with m.State("READ_ADDR_LO"):
                m.d.sync += [shift[:8].eq(self.buf_data), ptr.eq(ptr + 1)]
                m.next = "READ_ADDR_HI"
            with m.State("READ_ADDR_HI"):
                m.d.sync += shift[8:16].eq(self.buf_data)
                m.next = "READ_WAIT"
            with m.State("READ_WAIT"):
                m.d.comb += self.bus.addr.eq(read_addr)
                m.next = "READ_EMIT"
            with m.State("READ_EMIT"):
                m.d.comb += self.bus.addr.eq(read_addr)
                with m.If(~from_buffer & (index == 0)):
                    m.d.sync += self.last_class.eq(self.bus.r_data[:4])
                with m.If(emit(self.bus.r_data.word_select(byte_index, 8))):
                    m.d.sync += byte_index.eq(byte_index + 1)
                    with m.If(byte_index == read_last_byte):
                        m.d.sync += [byte_index.eq(0), index.eq(index + 1)]
                        m.next = "READ_NEXT"

            with m.State("CRC_H"):
                emit(tx_crc[8:], "CRC_L", checked=False)
            with m.State("CRC_L"):
                with m.If(emit(tx_crc[:8], "IDLE", checked=False)):
                    m.d.comb += self.release.eq(job.error == 0)
                    m.d.sync += self.error_sent.eq(resp_cmd == p.ERROR)
        return m
