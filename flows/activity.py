"""What the core does per image: cycles, memory port enables and signal toggle rates.

Three sources, each named in the reports:

* **cycles** from the RTL simulation (Verilator through :func:`flows.rtl_sim.run_rtl`,
  whose counters the scoreboard checks against the reference), or from the documented cycle
  model (:mod:`golden.cycle_model`) driven by a reference run when no simulator is wanted;
* **DP16KD port enables** of the weight memories (one per bit-plane and lane segment),
  counted exactly from the weights, the input spike trains, the masks and the reader's
  enable rules (:mod:`hdl.synapse_reader`);
* **toggle rate** of the logic: bit toggles per signal bit per cycle, from a VCD of the
  Amaranth simulation of whole images.
"""

from __future__ import annotations

import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from golden.config import WEIGHT_BITS, RunSettings, SNNConfig
from golden.cycle_model import cycles_per_image, image_costs
from golden.geometry import LayerGeometry, hidden_geometry, output_geometry
from golden.reference import InferenceResult, block_maxima, encode, infer, quantize_magnitude
from golden.timing import PIXELS_PER_WORD
from hdl.weight_planes import SIGN_PLANE, plane_memory_name


@dataclass
class Cycles:
    """Cycles per image over a sample and where they came from."""

    per_image: np.ndarray
    source: str
    mismatches: int | None = None

    @property
    def mean(self) -> float:
        """Mean cycles per image."""
        return float(np.mean(self.per_image)) if len(self.per_image) else 0.0


def model_cycles(config: SNNConfig, w_hidden, w_out, images: np.ndarray,
                 settings: RunSettings) -> Cycles:
    """Cycles from :func:`golden.cycle_model.cycles_per_image` on a reference run."""
    result = infer(w_hidden, w_out, images, config, settings)
    cycles = cycles_per_image(config, images, settings, result)
    return Cycles(cycles, f"cycle model (golden/cycle_model.py) on a reference run, "
                          f"{len(images)} test images")


def rtl_cycles(config: SNNConfig, w_hidden, w_out, images: np.ndarray,
               settings: RunSettings) -> Cycles:
    """Cycles read from the RTL's ``cycles`` counter in a Verilator (cocotb) simulation.

    Every image's class, output counts, counters and cycles are also compared with the
    reference and the cycle model; ``mismatches`` says how many images differed.  The
    simulation is compiled once per configuration and reads the weights when it starts.
    """
    from flows.rtl_sim import Batch, run_rtl, simulator_name
    from flows.scoreboard import score_batches

    batches = [Batch(settings, images)]
    results = run_rtl(config, w_hidden, w_out, batches, loaded=True)
    score = score_batches(config, w_hidden, w_out, batches, results)
    return Cycles(results[0].counters["cycles"].astype(np.int64),
                  f"RTL simulation ({simulator_name()} via cocotb), {len(images)} test images",
                  mismatches=score.mismatches)


def _segment_blocks(geometry: LayerGeometry) -> list[list[int | None]]:
    """Per lane segment, per chunk: the block whose planes the segment's memory holds
    (None for padding): the memory is enabled exactly when that block reads planes."""
    out = []
    for segment in geometry.segments:
        row = []
        for chunk in range(geometry.chunks):
            slot = geometry.segment_slot(chunk, segment)
            row.append(None if slot is None else geometry.chunk_slots(chunk)[slot].block)
        out.append(row)
    return out


def _block_on(on: np.ndarray, geometry: LayerGeometry) -> np.ndarray:
    """Which blocks have a neuron on: ``[..., blocks]`` from ``on`` ``[..., fan_out]``."""
    return np.stack([on[..., geometry.block_range(k)].any(axis=-1)
                     for k in range(geometry.n_blocks)], axis=-1)


def _hidden_reads(w_hidden, geometry: LayerGeometry, spikes: np.ndarray, step_bits: np.ndarray,
                  block_on: np.ndarray, tau: int) -> dict[str, float]:
    """Read enables of every hidden plane memory, summed over images: exact.

    ``spikes`` bool ``[T, n, 784]``, ``step_bits`` ``[n, T]`` (0 after an early exit),
    ``block_on`` bool ``[n, T, blocks]``.  A segment's memory of plane ``p`` is read for a
    spike and chunk iff its block is on, ``q_b(m) != 0`` and (sign plane) ``q_b(m) >= tau``
    or (magnitude planes) ``p < b``, as :class:`hdl.synapse_reader.SynapseRowReader` does.
    """
    n, timesteps = step_bits.shape
    maxima = block_maxima(np.asarray(w_hidden, np.int16), geometry.block_size)
    # Spikes of each (image, step) on the rows whose block k reads magnitudes / its sign.
    magnitude = np.zeros((n, timesteps, geometry.n_blocks))
    sign = np.zeros_like(magnitude)
    for bits in np.unique(step_bits):
        if bits == 0:
            continue
        q = quantize_magnitude(maxima, int(bits))
        at = (step_bits == bits).T  # [T, n]
        flags = np.concatenate([q != 0, (q != 0) & (q >= max(tau, 1))], axis=1)
        counts = (spikes & at[..., None]).astype(np.float32) @ flags.astype(np.float32)
        counts = counts.transpose(1, 0, 2).reshape(n, timesteps, 2, geometry.n_blocks)
        magnitude += counts[:, :, 0]
        sign += counts[:, :, 1]
    magnitude *= block_on
    sign *= block_on
    reads: dict[str, float] = {}
    segments = _segment_blocks(geometry)
    for k, blocks in enumerate(segments):
        for p in range(WEIGHT_BITS):
            source = sign if p == SIGN_PLANE else magnitude * (step_bits > p)[..., None]
            reads[plane_memory_name(p, k, len(segments))] = float(
                sum(source[..., b].sum() for b in blocks if b is not None))
    return reads


def _output_row_flags(weights: np.ndarray, geometry: LayerGeometry, bits: int,
                      tau: int) -> tuple[np.ndarray, np.ndarray]:
    """Per output-weight row (one block of 10): reads its sign plane, its magnitude planes."""
    maxima = quantize_magnitude(block_maxima(weights, geometry.block_size), bits)[:, 0]
    return (maxima != 0) & (maxima >= max(tau, 1)), maxima != 0


def weight_reads(config: SNNConfig, w_hidden, w_out, images: np.ndarray,
                 settings: RunSettings, result: InferenceResult) -> dict[str, float]:
    """Mean read enables per image of every weight memory (``hidden.plane3_seg1``, ...).

    ``result`` is the reference run of ``images`` with ``settings``: its per-step hidden
    spikes, precisions and (with gating) hidden masks weight the enables.  The hidden layer
    is exact (input spikes per pixel and step times the enables of every block's plane
    memories at that step's precision and mask); the output layer uses the mean enables of
    its rows times the hidden spikes of the steps at each precision (exact when every output
    row is read alike).
    """
    timesteps, mask = settings.resolve(config)
    n = max(len(images), 1)
    spikes = encode(images, timesteps)  # [T, n, 784]
    step_bits = result.step_bits(settings)  # [n, T, 2]
    hidden_steps = np.asarray(result.hidden_per_step, dtype=np.float64)  # [n, T]
    hidden = hidden_geometry(config)
    on = (result.hidden_on_per_step if result.hidden_on_per_step is not None
          else np.broadcast_to(np.asarray(mask, bool), (len(images), timesteps, len(mask))))
    reads = {f"hidden.{key}": value / n for key, value in _hidden_reads(
        w_hidden, hidden, spikes, step_bits[:, :, 0], _block_on(on, hidden),
        settings.tau_hidden).items()}
    # The metadata memory is read once per issued chunk (skipped chunks and rows are not
    # issued); the chunk summary once per listed word and step run.
    steps_run = step_bits[:, :, 0] != 0
    costs = image_costs(config, settings, result)
    if costs is None:
        issued = float((spikes.sum(axis=2).T * steps_run).sum()) * hidden.chunks
    else:
        issued = float(sum((spikes[:, i] * costs(i)).sum() for i in range(len(images))))
    reads["hidden.metadata"] = issued / n
    words = np.asarray(images).reshape(len(images), -1, PIXELS_PER_WORD).any(axis=2).sum(axis=1)
    reads["inputs.chunk_summary"] = float((words * steps_run.sum(axis=1)).sum()) / n
    output = output_geometry(config)
    totals = dict.fromkeys(["metadata", *(f"plane{k}" for k in range(WEIGHT_BITS))], 0.0)
    for bits in np.unique(step_bits[:, :, 1]):
        if bits == 0:
            continue  # steps after an early exit
        at_bits = step_bits[:, :, 1] == bits  # [n, T]
        sign, magnitude = _output_row_flags(np.asarray(w_out, np.int16), output, int(bits),
                                            settings.tau_out)
        events = float((hidden_steps * at_bits).sum())
        totals["metadata"] += events * output.chunks
        totals["plane0"] += events * sign.mean()
        for plane in range(1, int(bits)):
            totals[f"plane{plane}"] += events * magnitude.mean()
    reads.update({f"output.{key}": value / n for key, value in totals.items()})
    return reads


def plane_bits(config: SNNConfig, reads: dict[str, float]) -> float:
    """Weight-plane bits read per image by the memories of :func:`weight_reads`: every
    memory's read enables times its width (the physical reads, metadata excluded; padding
    lanes of a last chunk that share a memory with real lanes are included)."""
    hidden, output = hidden_geometry(config), output_geometry(config)
    total = 0.0
    for layer, geometry in (("hidden", hidden), ("output", output)):
        segments = geometry.segments
        for k, segment in enumerate(segments):
            for p in range(WEIGHT_BITS):
                name = f"{layer}.{plane_memory_name(p, k, len(segments))}"
                total += reads.get(name, 0.0) * len(segment)
    return total


@dataclass
class Toggles:
    """Signal activity of the simulated core while busy.

    Attributes
    ----------
    alpha : float
        Bit toggles per signal bit per clock cycle (0..1).
    cycles : int
        Busy cycles simulated.
    images : int
        Images simulated.
    """

    alpha: float
    cycles: int
    images: int
    source: str


SIMULATOR_RECURSION_LIMIT = 5000
"""Python recursion limit while Amaranth's simulator compiles the core."""


def simulate_toggles(config: SNNConfig, w_hidden, w_out, images: np.ndarray,
                     settings: RunSettings, vcd_dir: Path | None = None) -> Toggles:
    """Simulate ``images`` in Amaranth's simulator and count toggles in the VCD.

    Only the busy window counts (from ``start`` to ``done``); the clock and reset are
    excluded (the clock tree is its own power term).  Array views in the VCD repeat some
    bits under two names; both numerator and denominator count them, so ``alpha`` is a
    mean over signal bits either way.
    """
    from amaranth.sim import Simulator

    from hdl import regmap
    from hdl.core import SNNCore

    core = SNNCore(config=config, w_hidden=w_hidden, w_out=w_out)
    timesteps, _ = settings.resolve(config)
    # Amaranth compiles each fragment to Python; the N = 128 core's nested expressions can
    # exceed the default limit of Python's compiler when this runs in a worker thread.
    sys.setrecursionlimit(max(sys.getrecursionlimit(), SIMULATOR_RECURSION_LIMIT))
    sim = Simulator(core)
    period = 10e-9
    sim.add_clock(period)
    windows: list[tuple[int, int]] = []

    async def bench(ctx):
        bus = core.bus

        async def write(address, value):
            ctx.set(bus.addr, address)
            ctx.set(bus.w_data, int(value))
            ctx.set(bus.w_en, 1)
            await ctx.tick()
            ctx.set(bus.w_en, 0)

        await write(regmap.PRECISION, regmap.pack(
            regmap.PRECISION_FIELDS, hidden=settings.bits_hidden, out=settings.bits_out))
        await write(regmap.TAU, regmap.pack(
            regmap.TAU_FIELDS, hidden=settings.tau_hidden, out=settings.tau_out))
        await write(regmap.TIMESTEPS, timesteps)
        control, checkpoints = regmap.controller_words(settings)
        await write(regmap.CONTROLLER, control)
        await write(regmap.CHECKPOINTS, checkpoints)
        for image in images:
            words = np.asarray(image, np.uint8).reshape(-1, 4).view("<u4").ravel()
            for w, word in enumerate(words):
                await write(regmap.IMAGE + w, word)
            await write(regmap.CONTROL, regmap.START)
            cycles = 1
            while not ctx.get(core.done):
                await ctx.tick()
                cycles += 1
            windows.append(cycles)

    sim.add_testbench(bench)
    with tempfile.TemporaryDirectory(dir=vcd_dir) as tmp:
        vcd = Path(tmp) / "activity.vcd"
        with sim.write_vcd(str(vcd)):
            sim.run()
        toggles, bits, busy_cycles = count_vcd_toggles(vcd, period_fs=int(period * 1e15))
    alpha = toggles / max(1, bits * busy_cycles)
    return Toggles(alpha, busy_cycles, len(images),
                   f"VCD of the Amaranth simulation of {len(images)} test image(s) at "
                   f"{'dynamic mode' if settings.dynamic else f'{settings.bits_hidden} bits'} "
                   f"({busy_cycles} busy cycles)")


_VAR = re.compile(r"\$var\s+\S+\s+(\d+)\s+(\S+)\s+(\S+)")


def count_vcd_toggles(path: Path, period_fs: int) -> tuple[int, int, int]:
    """(bit toggles while ``busy``, signal bits, busy cycles) of an Amaranth VCD.

    Signals named ``clk`` and ``rst`` are ignored.  ``busy`` marks the window.
    """
    widths, ignored, busy_code = {}, set(), None
    values: dict[str, int] = {}
    toggles, busy, busy_since, busy_fs, now = 0, False, 0, 0, 0
    with open(path) as f:
        for line in f:
            if line.startswith("$var"):
                match = _VAR.match(line)
                width, code, name = int(match[1]), match[2], match[3]
                if name in ("clk", "rst"):
                    ignored.add(code)
                elif code not in widths:
                    widths[code] = width
                if name == "busy" and busy_code is None:
                    busy_code = code
                continue
            if not line or line[0] in "$ \n":
                continue
            if line[0] == "#":
                now = int(line[1:])
                continue
            if line[0] == "b":
                text, code = line[1:].split()
                value = int(text.replace("x", "0").replace("z", "0"), 2)
            else:
                value, code = (1 if line[0] == "1" else 0), line[1:].strip()
            if code in ignored:
                continue
            if code == busy_code:
                if value and not busy:
                    busy, busy_since = True, now
                elif not value and busy:
                    busy, busy_fs = False, busy_fs + now - busy_since
            old = values.get(code)
            values[code] = value
            if busy and old is not None:
                toggles += (old ^ value).bit_count()
    return toggles, sum(widths.values()), max(1, busy_fs // period_fs)
