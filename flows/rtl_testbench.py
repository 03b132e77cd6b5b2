"""cocotb testbench: drive the core's register bus like a host and record what it reports.

The case file (``$SNN_CASE``, written by :func:`flows.rtl_sim.run_rtl`) holds batches
of images with their register settings; the results (class, output counts, every counter)
go to ``$SNN_RESULT``, with the clock cycle in which each image finished.  Comparison against
the reference happens in the caller.  Inputs are driven and outputs sampled on the falling
clock edge.  Once the core has scanned an image (``CONTROL`` bit 2 clear) the next image is
written while it computes; then the testbench awaits the image's ``finish`` strobe (no clock
stepping from Python while the core computes).  In a *queued* batch the next image is also
started (queued) while the current one computes, so the two overlap (back to back).
"""

from __future__ import annotations

import os

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, RisingEdge, Timer, with_timeout
from cocotb.utils import get_sim_time

from golden.timing import IMAGE_WORDS, PIXELS_PER_WORD
from hdl import regmap

CLOCK_NS = 10
SCAN_WAIT_CYCLES = IMAGE_WORDS + 2
"""Cycles after a start before the scan can be over (the SCAN phase takes at least 198)."""


class BusDriver:
    """Register-bus reads and writes, one per clock cycle (:mod:`hdl.regmap`)."""

    def __init__(self, dut):
        self.dut = dut

    async def write(self, address: int, value: int) -> None:
        self.dut.bus__addr.value = address
        self.dut.bus__w_data.value = value
        self.dut.bus__w_en.value = 1
        await FallingEdge(self.dut.clk)
        self.dut.bus__w_en.value = 0

    async def read(self, address: int) -> int:
        self.dut.bus__addr.value = address
        await FallingEdge(self.dut.clk)
        return int(self.dut.bus__r_data.value)


async def configure(bus: BusDriver, registers: np.ndarray, mask: np.ndarray) -> None:
    """Write precision, tau, T, the controller registers and the hidden mask."""
    bits_hidden, bits_out, tau_hidden, tau_out, timesteps, control, checkpoints = (
        int(r) for r in registers)
    await bus.write(regmap.PRECISION,
                    regmap.pack(regmap.PRECISION_FIELDS, hidden=bits_hidden, out=bits_out))
    await bus.write(regmap.TAU, regmap.pack(regmap.TAU_FIELDS, hidden=tau_hidden, out=tau_out))
    await bus.write(regmap.TIMESTEPS, timesteps)
    await bus.write(regmap.CONTROLLER, control)
    await bus.write(regmap.CHECKPOINTS, checkpoints)
    bits = np.zeros(regmap.mask_words(len(mask)) * regmap.DATA_WIDTH, dtype=np.uint8)
    bits[: len(mask)] = mask
    for k, word in enumerate(np.packbits(bits, bitorder="little").view("<u4")):
        await bus.write(regmap.MASK + k, int(word))


async def load_image(bus: BusDriver, image: np.ndarray) -> None:
    words = np.asarray(image, dtype=np.uint8).reshape(IMAGE_WORDS, PIXELS_PER_WORD)
    for w, word in enumerate(words.view("<u4").ravel()):
        await bus.write(regmap.IMAGE + w, int(word))


async def wait_for_scan(bus: BusDriver, *, at_once: bool = False) -> None:
    """Return once the core has scanned its image (the image memory is free again);
    ``at_once``: poll from now on (the scan may have started long ago)."""
    if not at_once:
        await Timer(SCAN_WAIT_CYCLES * CLOCK_NS - 1, "ns")
        await FallingEdge(bus.dut.clk)
    while await bus.read(regmap.CONTROL) & regmap.SCANNING:
        await ClockCycles(bus.dut.clk, 4 if at_once else 16, rising=False)


class FinishMonitor:
    """Records the clock cycle of every ``finish`` strobe (an image finished)."""

    def __init__(self, dut):
        self.dut, self.cycles = dut, []
        cocotb.start_soon(self._watch())

    async def _watch(self) -> None:
        while True:
            await RisingEdge(self.dut.finish)
            self.cycles.append(round(get_sim_time("ns") / CLOCK_NS))

    async def wait_for(self, count: int, timeout_cycles: int) -> None:
        """Return in the first cycle in which the results of the ``count``-th finished
        image (1-based) are readable (the cycle after its strobe), at the falling edge."""
        while len(self.cycles) < count:
            await with_timeout(RisingEdge(self.dut.finish), timeout_cycles * CLOCK_NS, "ns")
            await FallingEdge(self.dut.clk)  # (the watcher has recorded it by now)
        await FallingEdge(self.dut.clk)


async def reset(dut, cycles: int = 2) -> None:
    dut.rst.value = 1
    await ClockCycles(dut.clk, cycles)
    await FallingEdge(dut.clk)
    dut.rst.value = 0


async def check_register_file(bus: BusDriver, n_hidden: int) -> None:
    """INFO, reset values, clamping of PRECISION and TIMESTEPS, mask read-back."""
    info = await bus.read(regmap.INFO)
    assert info & 0xFFFF == n_hidden, f"INFO reads N={info & 0xFFFF}, expected {n_hidden}"
    assert await bus.read(regmap.PRECISION) == 0x88, "precision does not reset to 8/8"
    await bus.write(regmap.PRECISION, 0x91)
    assert await bus.read(regmap.PRECISION) == 0x82, "precision 1/9 is not clamped to 2/8"
    await bus.write(regmap.TIMESTEPS, 0)
    assert await bus.read(regmap.TIMESTEPS) == 1, "T = 0 is not clamped to 1"
    await bus.write(regmap.MASK, 0x5A5A5A5A)
    expected = 0x5A5A5A5A & ((1 << min(n_hidden, regmap.DATA_WIDTH)) - 1)
    assert await bus.read(regmap.MASK) == expected, "mask word 0 does not read back"


@cocotb.test()
async def run_case(dut):
    """Run every batch of the case file and save the RTL's answers."""
    with np.load(os.environ["SNN_CASE"]) as case:
        registers, masks, sizes = case["registers"], case["masks"], case["sizes"]
        resets, images, queued = case["resets"], case["images"], case["queued"]
        max_cycles = int(case["max_cycles"])
    bus = BusDriver(dut)
    dut.bus__w_en.value = 0
    dut.bus__addr.value = 0
    dut.bus__w_data.value = 0
    cocotb.start_soon(Clock(dut.clk, CLOCK_NS, unit="ns").start())
    await reset(dut)
    await check_register_file(bus, masks.shape[1])
    monitor = FinishMonitor(dut)
    n = len(images)
    pred = np.zeros(n, dtype=np.int64)
    counts = np.zeros((n, 10), dtype=np.int64)
    counters = np.zeros((n, len(regmap.COUNTER_ORDER)), dtype=np.int64)
    finished = np.zeros(n, dtype=np.int64)
    first, expected = 0, 0  # images finished so far (a reset aborts one without a strobe)
    for b, size in enumerate(sizes):
        if resets[b] >= 0:
            await configure(bus, registers[b], masks[b])
            await load_image(bus, images[first])
            await bus.write(regmap.CONTROL, regmap.START)
            await ClockCycles(dut.clk, int(resets[b]))
            await FallingEdge(dut.clk)
            assert int(dut.busy.value) == 1, "the core finished before the mid-image reset"
            await reset(dut)
            status = await bus.read(regmap.CONTROL)
            assert status == 0, f"CONTROL reads {status:#x} after reset, expected 0"
        await configure(bus, registers[b], masks[b])
        await load_image(bus, images[first])
        last = first + int(size)
        await bus.write(regmap.CONTROL, regmap.START)
        for i in range(first, last):
            if i + 1 < last:  # the next image goes in while this one computes
                await wait_for_scan(bus, at_once=bool(queued[b]))
                await load_image(bus, images[i + 1])
                if queued[b]:  # queued (or started, if this image is done already)
                    await bus.write(regmap.CONTROL, regmap.START)
            expected += 1
            await monitor.wait_for(expected, max_cycles)
            finished[i] = monitor.cycles[expected - 1]
            pred[i] = await bus.read(regmap.RESULT)
            for k in range(10):
                counts[i, k] = await bus.read(regmap.COUNTS + k)
            for c in range(len(regmap.COUNTER_ORDER)):
                counters[i, c] = await bus.read(regmap.COUNTERS + c)
            if i + 1 < last and not queued[b]:
                await bus.write(regmap.CONTROL, regmap.START)
        first += int(size)
    np.savez(os.environ["SNN_RESULT"], pred=pred, counts=counts, counters=counters,
             finished=finished)
