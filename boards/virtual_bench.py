"""cocotb bench of the virtual board: the UART top's RTL behind a pseudo-terminal.

Run by :class:`boards.virtual.VirtualBoard` (``$VIRTUAL_BOARD`` names its JSON settings).
The host's bytes from the terminal go onto the simulated ``rx`` line back to back at the
real bit timing; every byte the top sends on ``tx`` is sampled at mid-bit and written back
to the terminal.  Optional line faults (a flipped bit, a dropped or an inserted byte, each
at ``fault_rate`` per byte, both directions) come from a seeded generator.

Simulated time measures the board and the line, not the host or the simulator:

- the line idles only when the host has given no byte yet (a host that keeps frames in
  flight keeps it busy, however slowly the simulation runs);
- while every request has its answer and nothing is on the line (on a clean line),
  simulated time stands still until the host writes again (up to :data:`MAX_PAUSE_S` at a
  time); a host pause longer than :data:`HOST_PAUSE_S` (a resynchronization) becomes a
  simulated silence of at least twice the top's frame time-out.
"""

from __future__ import annotations

import json
import os
import select
import time
import tty
from pathlib import Path

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, Timer
from cocotb.utils import get_sim_time

from boards import protocol as p

BYTE_BITS = 10
HOST_PAUSE_S = 0.025
"""A host silence (wall time) this long stands for a deliberate pause of the line."""
MAX_PAUSE_S = 0.2
"""Longest stop of simulated time while idle; then it runs on a byte time per poll (a
miscount can slow the simulation down, never stall it)."""
WARM_UP_CYCLES = 20_000
"""Cycles simulated before the port is published, to measure the simulation's speed."""


class LineFaults:
    """Flips a bit of, drops, or inserts a random byte before a byte, at ``rate`` per byte."""

    def __init__(self, rate: float, rng: np.random.Generator):
        self.rate, self.rng = rate, rng
        self.counts = {"flip": 0, "drop": 0, "insert": 0}

    def apply(self, byte: int) -> bytes:
        if not self.rate or self.rng.random() >= self.rate:
            return bytes([byte])
        kind = ("flip", "drop", "insert")[int(self.rng.integers(3))]
        self.counts[kind] += 1
        if kind == "flip":
            return bytes([byte ^ 1 << int(self.rng.integers(8))])
        if kind == "drop":
            return b""
        return bytes([int(self.rng.integers(256)), byte])


class RequestCounter:
    """Follows the host's frames (before faults): how many are complete, and which start a
    CLASSIFY."""

    def __init__(self):
        self.frame = bytearray()
        self.complete = 0

    def feed(self, byte: int) -> bool:
        """Take one byte; True if it is the SOF of a CLASSIFY frame (known one byte later,
        so reported with the CMD byte)."""
        if not self.frame:
            if byte == p.SOF:
                self.frame.append(byte)
            return False
        self.frame.append(byte)
        if len(self.frame) >= p.HEADER_BYTES:
            length = int.from_bytes(self.frame[3:5], "little")
            if len(self.frame) == p.OVERHEAD_BYTES + length:
                self.frame.clear()
                self.complete += 1
                return False
        return len(self.frame) == 2 and byte == p.CLASSIFY


class Bridge:
    """The terminal side and the line side of the virtual board."""

    def __init__(self, dut, settings: dict):
        self.dut = dut
        self.settings = settings
        period_ps = 2 * round(0.5e12 / settings["clock_hz"])
        self.period_ps = period_ps
        self.bit_ps = settings["divisor"] * period_ps
        self.timeout_ps = round(settings["timeout_s"] * 1e12)
        rng = np.random.default_rng(settings["seed"])
        self.to_device = LineFaults(settings["fault_rate"], rng)
        self.to_host = LineFaults(settings["fault_rate"], rng)
        self.master, slave = os.openpty()
        tty.setraw(slave)
        self.slave = slave  # kept open: the host may come and go
        os.set_blocking(self.master, False)
        self.port = os.ttyname(slave)
        self.requests = RequestCounter()
        self.decoder = p.FrameDecoder()
        self.answers = 0
        self.receiving = False
        self.outgoing = bytearray()
        self.classify_starts: list[int] = []
        self.classify_answers: list[int] = []
        self.line_quiet_since = 0
        dut.rx.value = 1

    def now(self) -> int:
        return get_sim_time("ps")

    async def send(self, byte: int) -> None:
        for bit in (0, *((byte >> i) & 1 for i in range(8)), 1):
            self.dut.rx.value = bit
            await Timer(self.bit_ps, "ps")

    async def monitor(self) -> None:
        """Sample ``tx``; pass each byte (through the faults) to the terminal."""
        while True:
            await FallingEdge(self.dut.tx)
            self.receiving = True
            await Timer(self.bit_ps // 2, "ps")
            byte = 0
            for i in range(8):
                await Timer(self.bit_ps, "ps")
                byte |= int(self.dut.tx.value) << i
            await Timer(self.bit_ps, "ps")
            self.receiving = False
            if not int(self.dut.tx.value):
                continue  # a low stop bit: the host's UART would drop the byte
            for frame in self.decoder.feed(bytes([byte])):
                self.answers += 1
                if frame.cmd == p.CLASSIFY | p.RESPONSE:
                    self.classify_answers.append(self.now())
            self.outgoing += self.to_host.apply(byte)
            self.flush()

    def flush(self) -> None:
        while self.outgoing:
            try:
                written = os.write(self.master, self.outgoing)
            except BlockingIOError:
                return
            del self.outgoing[:written]

    def read_host(self) -> bytes:
        try:
            return os.read(self.master, 4096)
        except (BlockingIOError, OSError):
            return b""

    def idle(self) -> bool:
        """Every request answered and the line quiet: nothing for simulated time to do.

        Only on a clean line: with faults the counts can be off (a false SOF answered, a
        request that never arrived), and simulated time must run on for the top's time-out.
        """
        return (not self.settings["fault_rate"] and not self.receiving
                and self.answers >= self.requests.complete and not self.requests.frame)

    async def serve(self, stop: Path) -> None:
        pending = bytearray()
        last_host = None
        paused_since = None
        while True:
            data = self.read_host()
            if data:
                paused_since = None
                wall = time.monotonic()
                if not pending and (last_host is None or wall - last_host > HOST_PAUSE_S):
                    quiet = self.now() - self.line_quiet_since
                    if quiet < 2 * self.timeout_ps:
                        await Timer(2 * self.timeout_ps - quiet, "ps")
                last_host = wall
                pending += data
            if pending:
                byte = pending.pop(0)
                if self.requests.feed(byte):
                    self.classify_starts.append(self.now() - BYTE_BITS * self.bit_ps)
                for wire in self.to_device.apply(byte):
                    await self.send(wire)
                self.line_quiet_since = self.now()
                continue
            self.flush()
            if stop.exists():
                return
            if self.idle():
                paused_since = paused_since or time.monotonic()
                if time.monotonic() - paused_since < MAX_PAUSE_S:
                    select.select([self.master], [], [], 0.01)
                    continue
            else:
                paused_since = None
            await Timer(BYTE_BITS * self.bit_ps, "ps")

    def summary(self) -> dict:
        return {"simulated_ps": self.now(), "classify_starts_ps": self.classify_starts,
                "classify_answers_ps": self.classify_answers,
                "faults_to_device": self.to_device.counts, "faults_to_host": self.to_host.counts}


@cocotb.test()
async def virtual_board(dut):
    """Serve the top on a pseudo-terminal until the stop file appears."""
    settings = json.loads(Path(os.environ["VIRTUAL_BOARD"]).read_text())
    bridge = Bridge(dut, settings)
    cocotb.start_soon(Clock(dut.clk, bridge.period_ps, unit="ps").start())
    dut.rst.value = 1
    await ClockCycles(dut.clk, 4)
    dut.rst.value = 0
    start = time.monotonic()
    await ClockCycles(dut.clk, WARM_UP_CYCLES)
    speed = WARM_UP_CYCLES * bridge.period_ps * 1e-12 / max(time.monotonic() - start, 1e-6)
    cocotb.start_soon(bridge.monitor())
    port_file = Path(settings["port_file"])
    tmp = port_file.with_suffix(".tmp")
    tmp.write_text(json.dumps({"port": bridge.port, "speed": speed}))
    tmp.replace(port_file)
    await bridge.serve(Path(settings["stop_file"]))
    result = Path(settings["result_file"])
    tmp = result.with_suffix(".tmp")
    tmp.write_text(json.dumps(bridge.summary()))
    tmp.replace(result)
