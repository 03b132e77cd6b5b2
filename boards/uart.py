"""8N1 UART receiver and transmitter with an integer clock divisor (gateware).

``divisor`` is clock cycles per bit (clock Hz / baud); the receiver samples each bit in its
middle, so a divisor of 4 or more works and an error of the baud rate up to about
``+-40 % / 10`` bits (~4 %) is tolerated.
"""

from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out

from hdl.validated import ValidatedComponent


class _UartComponent(ValidatedComponent):
    """A UART side: ``divisor`` clock cycles per bit."""

    @classmethod
    def validate(cls, *, divisor: int) -> None:
        """Raise ``ValueError`` unless ``divisor`` is an integer >= 4."""
        if isinstance(divisor, bool) or not isinstance(divisor, int) or divisor < 4:
            raise ValueError(f"divisor must be an integer >= 4 (clock cycles per bit), "
                             f"not {divisor!r}")


class UartRx(_UartComponent):
    """UART receiver.

    Parameters
    ----------
    divisor : int
        Clock cycles per bit (>= 4).

    Attributes
    ----------
    rx : In(1)
        The serial line (asynchronous; synchronized inside, idle high).
    data : Out(8)
        The last received byte, valid in the cycle ``valid`` is high.
    valid : Out(1)
        One-cycle strobe: a byte with a good stop bit arrived.
    error : Out(1)
        One-cycle strobe: a byte arrived with a low stop bit (framing error or break).
    """

    def __init__(self, *, divisor: int):
        self._divisor = divisor
        super().__init__({"rx": In(1, init=1), "data": Out(8), "valid": Out(1),
                          "error": Out(1)})

    def elaborate(self, platform):
        m = Module()
        line = Signal(init=1)
        m.submodules.sync = FFSynchronizer(self.rx, line, init=1)
        timer = Signal(range(self._divisor))
        bit = Signal(range(8))
        shift = Signal(8)
        m.d.sync += [self.valid.eq(0), self.error.eq(0)]
        with m.If(timer != 0):
            m.d.sync += timer.eq(timer - 1)
        with m.FSM():
            with m.State("IDLE"):
                with m.If(~line):
                    m.d.sync += timer.eq(self._divisor // 2 - 1)
                    m.next = "START"
            with m.State("START"):
                with m.If(timer == 0):
                    m.d.sync += [timer.eq(self._divisor - 1), bit.eq(0)]
                    with m.If(line):
                        m.next = "IDLE"  # a glitch, not a start bit
                    with m.Else():
                        m.next = "DATA"
            with m.State("DATA"):
                with m.If(timer == 0):
                    m.d.sync += [shift.eq(shift[1:] | line << 7), bit.eq(bit + 1),
                                 timer.eq(self._divisor - 1)]
                    with m.If(bit == 7):
                        m.next = "STOP"
            with m.State("STOP"):
                with m.If(timer == 0):
                    with m.If(line):
                        m.d.sync += [self.data.eq(shift), self.valid.eq(1)]
                        m.next = "IDLE"
                    with m.Else():
                        m.d.sync += self.error.eq(1)
                        m.next = "BREAK"
            with m.State("BREAK"):
                with m.If(line):
                    m.next = "IDLE"
        return m


class UartTx(_UartComponent):
    """UART transmitter with a valid/ready byte input.

    Parameters
    ----------
    divisor : int
        Clock cycles per bit (>= 4).

    Attributes
    ----------
    data : In(8)
        Byte to send, taken in a cycle where ``valid`` and ``ready`` are high.
    valid : In(1)
        ``data`` holds a byte to send.
    ready : Out(1)
        The transmitter is idle and takes ``data`` this cycle.
    tx : Out(1)
        The serial line (idle high).
    """

    def __init__(self, *, divisor: int):
        self._divisor = divisor
        super().__init__({"data": In(8), "valid": In(1), "ready": Out(1),
                          "tx": Out(1, init=1)})

    def elaborate(self, platform):
        m = Module()
        timer = Signal(range(self._divisor))
        bits_left = Signal(range(11))
        shift = Signal(10, init=0x3FF)
        m.d.comb += [self.tx.eq(shift[0]), self.ready.eq(bits_left == 0)]
        with m.If(bits_left != 0):
            with m.If(timer == 0):
                m.d.sync += [shift.eq(shift[1:] | 1 << 9), bits_left.eq(bits_left - 1),
                             timer.eq(self._divisor - 1)]
            with m.Else():
                m.d.sync += timer.eq(timer - 1)
        with m.Elif(self.valid):
            # start bit (0), 8 data bits LSB first, stop bit (1)
            m.d.sync += [shift.eq(self.data << 1 | 1 << 9), bits_left.eq(10),
                         timer.eq(self._divisor - 1)]
        return m
