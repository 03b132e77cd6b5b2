"""cocotb testbench of the UART top: a host UART model on ``rx``/``tx``, driven by a case file.

The case (``$BOARD_CASE``, written by :func:`cocotb_tests.tb_board_sim.run_board`) lists
steps of request bytes; every byte the top sends back is recorded per step in
``$BOARD_RESULT``.  Checking happens in the caller.  Bits are driven and sampled with
timers of exactly ``divisor`` clock periods (one callback per bit, not per clock).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, Timer

from boards.protocol import FrameDecoder

BYTE_BITS = 10
"""Start bit, 8 data bits, stop bit."""
ANSWER_BYTE_TIMES = 4000
"""Longest wait for an expected answer, in byte times."""


class UartHost:
    """The host end of the serial line: sends bytes on ``rx``, collects frames from ``tx``."""

    def __init__(self, dut, bit_ps: int):
        self.dut = dut
        self.bit_ps = bit_ps
        self.received = bytearray()
        self.decoder = FrameDecoder()
        self.frames = 0
        dut.rx.value = 1

    async def send(self, data: bytes, stop_bit: int = 1) -> None:
        for byte in data:
            for bit in (0, *((byte >> i) & 1 for i in range(8)), stop_bit):
                self.dut.rx.value = bit
                await Timer(self.bit_ps, "ps")
        self.dut.rx.value = 1

    async def line_break(self) -> None:
        """A zero byte with a low stop bit (a UART framing error), then idle."""
        await self.send(b"\0", stop_bit=0)
        await Timer(2 * self.bit_ps, "ps")

    async def monitor(self) -> None:
        while True:
            await FallingEdge(self.dut.tx)
            await Timer(self.bit_ps // 2, "ps")
            assert int(self.dut.tx.value) == 0, "a glitch on tx, not a start bit"
            byte = 0
            for i in range(8):
                await Timer(self.bit_ps, "ps")
                byte |= int(self.dut.tx.value) << i
            await Timer(self.bit_ps, "ps")
            assert int(self.dut.tx.value) == 1, f"tx byte {byte:#04x} has a low stop bit"
            self.received.append(byte)
            self.frames += len(self.decoder.feed(bytes([byte])))

    async def wait_frames(self, count: int, what: str) -> None:
        for _ in range(ANSWER_BYTE_TIMES):
            if self.frames >= count:
                return
            await Timer(BYTE_BITS * self.bit_ps, "ps")
        raise AssertionError(f"{what}: {self.frames} frames after {ANSWER_BYTE_TIMES} byte "
                             f"times, expected {count}")


@cocotb.test()
async def run_session(dut):
    """Play every step of the case and record the answers."""
    case = json.loads(Path(os.environ["BOARD_CASE"]).read_text())
    period_ps = 2 * round(0.5e12 / case["clock_hz"])  # even: two equal clock half-periods
    host = UartHost(dut, case["divisor"] * period_ps)
    cocotb.start_soon(Clock(dut.clk, period_ps, unit="ps").start())
    dut.rst.value = 1
    await ClockCycles(dut.clk, 4)
    dut.rst.value = 0
    cocotb.start_soon(host.monitor())
    answers = []
    for number, step in enumerate(case["steps"]):
        start_frames, start_bytes = host.frames, len(host.received)
        for i, frame in enumerate(step["frames"]):
            await host.wait_frames(start_frames + i - step["window"] + 1,
                                   f"step {number}, window before frame {i}")
            await host.send(bytes.fromhex(frame))
        await host.send(bytes.fromhex(step["raw"]))
        if step["line_break"]:
            await host.line_break()
        await host.wait_frames(start_frames + step["expect"], f"step {number}")
        await Timer(max(step["gap_bits"], 3 * BYTE_BITS) * host.bit_ps, "ps")
        answers.append(bytes(host.received[start_bytes:]).hex())
    with open(os.environ["BOARD_RESULT"], "w") as f:
        json.dump(answers, f)
