"""Board top: the oscillator through the PLL, the UART pins and the LEDs around :class:`UartSNN`.

Every pin comes from ``platform.request(...)`` of an amaranth-boards platform; only the
board's LED style (:attr:`boards.platforms.Board.leds`) differs between boards.
"""

from __future__ import annotations

from amaranth.hdl import ClockDomain, Const, Elaboratable, Module
from amaranth.lib import io

from boards.platforms import Board
from boards.pll import EcpPll, solve_pll
from boards.soc import UartSNN


class BoardTop(Elaboratable):
    """The demo design of one board.

    Parameters
    ----------
    board : Board
        Which board (:data:`boards.platforms.BOARDS`).
    soc : UartSNN
        The UART top; its ``clock_hz`` is what the PLL makes from the board's oscillator.
    """

    def __init__(self, *, board: Board, soc: UartSNN):
        self.board = board
        self.soc = soc

    def elaborate(self, platform):
        m = Module()
        clk_port = platform.request(platform.default_clk, dir="-")
        m.submodules.clk_buf = clk_buf = io.Buffer("i", clk_port)
        reset = None
        if platform.default_rst is not None:
            rst_port = platform.request(platform.default_rst, dir="-")
            m.submodules.rst_buf = rst_buf = io.Buffer("i", rst_port)
            reset = rst_buf.i
        settings = solve_pll(platform.default_clk_frequency, self.soc.info.clock_hz)
        m.domains.sync = ClockDomain("sync")
        m.submodules.pll = EcpPll(clk_buf.i, settings, reset=reset)
        m.submodules.soc = soc = self.soc

        def pin(direction, port, name):
            buffer = io.Buffer(direction, port)
            m.submodules[name] = buffer
            return buffer.i if direction == "i" else buffer.o

        uart = platform.request("uart", 0, dir="-")
        m.d.comb += [soc.rx.eq(pin("i", uart.rx, "uart_rx")),
                     pin("o", uart.tx, "uart_tx").eq(soc.tx)]
        if self.board.leds == "single":
            for i in range(8):
                m.d.comb += pin("o", platform.request("led", i, dir="-"), f"led{i}").eq(
                    soc.leds[i])
        else:
            for i in range(4):
                led = platform.request("rgb_led", i, dir="-")
                m.d.comb += [
                    pin("o", led.g, f"led{i}_g").eq(soc.leds[i]),
                    pin("o", led.r, f"led{i}_r").eq(soc.leds[6] if i == 0 else Const(0)),
                    pin("o", led.b, f"led{i}_b").eq(soc.leds[7] if i == 1 else Const(0))]
        return m
