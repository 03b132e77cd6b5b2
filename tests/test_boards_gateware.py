"""Board gateware pieces in Amaranth's simulator, the PLL solver and the board table."""

import numpy as np
import pytest
from amaranth.hdl import Module, Signal
from amaranth.sim import Simulator

from boards import protocol as p
from boards.framing import crc16_next
from boards.platforms import BOARDS, board
from boards.pll import solve_pll
from boards.uart import UartRx, UartTx
from golden.errors import UserError


def test_crc16_gateware_equals_protocol():
    crc, byte, out = Signal(16), Signal(8), Signal(16)
    m = Module()
    m.d.comb += out.eq(crc16_next(crc, byte))
    rng = np.random.default_rng(5)
    cases = [(int(c), int(b)) for c, b in zip(rng.integers(0, 1 << 16, 300),
                                               rng.integers(0, 256, 300), strict=True)]
    got = []

    async def bench(ctx):
        for c, b in cases:
            ctx.set(crc, c)
            ctx.set(byte, b)
            got.append(ctx.get(out))

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()
    assert got == [p.crc16(bytes([b]), c) for c, b in cases]


@pytest.mark.parametrize("divisor", [4, 7, 15])
def test_uart_loopback_and_framing_error(divisor):
    m = Module()
    m.submodules.tx = tx = UartTx(divisor=divisor)
    m.submodules.rx = rx = UartRx(divisor=divisor)
    force_low = Signal()
    m.d.comb += rx.rx.eq(tx.tx & ~force_low)
    sent = [0x00, 0xA5, 0xFF, 0x3C, 0x81]
    got, errors = [], []
    sim = Simulator(m)
    sim.add_clock(1e-6)

    async def sender(ctx):
        for byte in sent:
            ctx.set(tx.data, byte)
            ctx.set(tx.valid, 1)
            await ctx.tick().until(tx.ready)
            await ctx.tick()
            ctx.set(tx.valid, 0)
        await ctx.tick().repeat(12 * divisor)
        ctx.set(force_low, 1)  # a break: start, data and stop bit all low
        await ctx.tick().repeat(12 * divisor)
        ctx.set(force_low, 0)
        await ctx.tick().repeat(4 * divisor)
        ctx.set(tx.data, 0x5A)
        ctx.set(tx.valid, 1)
        await ctx.tick()
        ctx.set(tx.valid, 0)
        await ctx.tick().repeat(12 * divisor)

    async def receiver(ctx):
        async for _, _, valid, error, data in ctx.tick().sample(rx.valid, rx.error, rx.data):
            if valid:
                got.append(data)
            if error:
                errors.append(1)

    sim.add_testbench(sender)
    sim.add_process(receiver)
    sim.run_until(2e-6 * divisor * 200)
    assert got == sent + [0x5A]
    assert errors == [1]


def test_uart_rejects_tiny_divisor():
    with pytest.raises(ValueError, match="divisor"):
        UartRx(divisor=3)


@pytest.mark.parametrize("f_in, f_out, dividers", [
    (25e6, 45e6, (5, 9, 13)),  # ecppll -i 25 -o 45
    (100e6, 45e6, (20, 9, 13)),  # ecppll -i 100 -o 45
    (25e6, 50e6, (1, 2, 12)),  # VCO exactly 600 MHz
    (25e6, 15e6, (5, 3, 40)),  # the boards' core clock
])
def test_pll_matches_ecppll(f_in, f_out, dividers):
    s = solve_pll(f_in, f_out)
    assert (s.clki_div, s.clkfb_div, s.clkop_div) == dividers
    assert s.f_out == pytest.approx(f_out)
    assert 400e6 <= s.f_vco <= 800e6 and f_in / s.clki_div >= 3.125e6


def test_pll_impossible_frequency():
    with pytest.raises(ValueError, match="cannot make"):
        solve_pll(25e6, 1000e6)


def test_board_table_matches_platforms_and_flows():
    from flows.devices import BOARDS as FLOW_BOARDS

    assert set(FLOW_BOARDS) == set(BOARDS)  # build and demo accept the same board ids
    for board_id, spec in BOARDS.items():
        assert spec.platform_class().device == spec.device, board_id
        assert FLOW_BOARDS[board_id] == spec.device
    with pytest.raises(UserError, match="supported boards"):
        board("ulx3s-99f")
