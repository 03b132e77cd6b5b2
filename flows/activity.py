"""What the core does per image: cycles, memory port enables and signal toggle rates.

Three sources, each named in the reports:

* **cycles** from the RTL simulation (Verilator through :func:`flows.rtl_sim.run_rtl`,
  whose counters the scoreboard checks against the reference), or from the documented cycle
  model (:mod:`golden.cycle_model`) driven by a reference run when no simulator is wanted;
* **DP16KD port enables** of the weight memories, counted exactly from the weights, the
  input spike trains and the reader's enable rules (:mod:`hdl.synapse_reader`);
* **toggle rate** of the logic: bit toggles per signal bit per cycle, from a VCD of the
  Amaranth simulation of whole images.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from golden.config import WEIGHT_BITS, RunSettings, SNNConfig
from golden.cycle_model import cycles_per_image
from golden.geometry import LayerGeometry, hidden_geometry, output_geometry
from golden.reference import InferenceResult, block_maxima, encode, infer, quantize_magnitude


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


def _row_read_flags(weights: np.ndarray, geometry: LayerGeometry, bits: int,
                    tau: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row: chunks that read the sign plane, chunks that read the magnitude planes.

    Mirrors :class:`hdl.synapse_reader.SynapseRowReader` with every neuron unmasked: the
    sign plane is enabled iff a block of the chunk passes (``q_b(m) != 0`` and
    ``q_b(m) >= max(tau, 1)``), the magnitude planes ``1 .. b-1`` iff one is non-zero.
    """
    maxima = quantize_magnitude(block_maxima(weights, geometry.block_size), bits)
    sign = np.zeros(geometry.rows, dtype=np.int64)
    magnitude = np.zeros(geometry.rows, dtype=np.int64)
    for chunk in range(geometry.chunks):
        blocks = [slot.block for slot in geometry.chunk_slots(chunk)]
        m = maxima[:, blocks]
        magnitude += (m != 0).any(axis=1)
        sign += ((m != 0) & (m >= max(tau, 1))).any(axis=1)
    return sign, magnitude


def weight_reads(config: SNNConfig, w_hidden, w_out, images: np.ndarray,
                 settings: RunSettings, result: InferenceResult) -> dict[str, float]:
    """Mean read enables per image of every weight memory (``hidden.plane3``, ...).

    ``result`` is the reference run of ``images`` with ``settings``: its per-step hidden
    spikes and precisions (dynamic mode changes them within an image, and an early exit ends
    it) weight the enables.  The hidden layer is exact for an unmasked layer (input spikes
    per pixel and step times the row's enables at that step's precision); the output layer
    uses the mean enables of its rows times the hidden spikes of the steps at each precision.
    Masked or gated neurons are not subtracted (an upper bound then).
    """
    timesteps, _ = settings.resolve(config)
    n = max(len(images), 1)
    spikes = encode(images, timesteps)  # [T, n, 784]
    step_bits = result.step_bits(settings)  # [n, T, 2]
    hidden_steps = np.asarray(result.hidden_per_step, dtype=np.float64)  # [n, T]
    reads: dict[str, float] = {}
    layers = (("hidden", w_hidden, hidden_geometry(config), settings.tau_hidden, 0),
              ("output", w_out, output_geometry(config), settings.tau_out, 1))
    for name, weights, geometry, tau, layer in layers:
        totals = dict.fromkeys(["metadata", *(f"plane{k}" for k in range(WEIGHT_BITS))], 0.0)
        for bits in np.unique(step_bits[:, :, layer]):
            if bits == 0:
                continue  # steps after an early exit
            at_bits = (step_bits[:, :, layer] == bits).T  # [T, n]
            sign, magnitude = _row_read_flags(np.asarray(weights, np.int16), geometry,
                                              int(bits), tau)
            if layer == 0:
                row_spikes = np.einsum("tip,ti->p", spikes, at_bits.astype(np.float32))
                sign_reads, magnitude_reads = row_spikes @ sign, row_spikes @ magnitude
                meta_reads = row_spikes.sum() * geometry.chunks
            else:
                events = float((hidden_steps * at_bits.T).sum())
                sign_reads, magnitude_reads = events * sign.mean(), events * magnitude.mean()
                meta_reads = events * geometry.chunks
            totals["metadata"] += float(meta_reads)
            totals["plane0"] += float(sign_reads)
            for plane in range(1, int(bits)):
                totals[f"plane{plane}"] += float(magnitude_reads)
        reads.update({f"{name}.{key}": value / n for key, value in totals.items()})
    return reads


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
