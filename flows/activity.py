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
    period: float | None = None
    """Mean cycles from one image's end to the next one's when queued back to back (RTL
    only; None from the cycle model)."""

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

    The images run back to back (each next one written and queued while the previous one
    runs, by a testbench host that writes one bus word per cycle), which also gives the
    ``period`` between their ends.  Every image's class, output counts, counters and cycles
    are compared with the reference and the cycle model; ``mismatches`` says how many images
    differed.  The simulation is compiled once per configuration and reads the weights when
    it starts.
    """
    from flows.rtl_sim import Batch, run_rtl, simulator_name
    from flows.scoreboard import score_batches

    batches = [Batch(settings, images, queued=True)]
    results = run_rtl(config, w_hidden, w_out, batches, loaded=True)
    score = score_batches(config, w_hidden, w_out, batches, results)
    return Cycles(results[0].counters["cycles"].astype(np.int64),
                  f"RTL simulation ({simulator_name()} via cocotb), {len(images)} test images "
                  f"back to back", mismatches=score.mismatches, period=results[0].period)


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
    by_class: dict | None = None
    """Per resource class (:data:`TOGGLE_CLASSES`): ``alpha`` (over the sample), ``bits``,
    and the spread of the per-image alpha (``min``, ``median``, ``max``, ``std``) and the
    standard error of the mean (``sem``)."""
    spread: dict | None = None
    """The spread of the per-image overall alpha (same keys)."""


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


TOGGLE_CLASSES = ("ff", "logic", "carry", "bram")
"""Resource classes of the RTL toggle rates: flip-flops (registers clocked by ``clk``),
logic nets (other wires: LUTs and muxes), carry nets (results of +, -, <, >: CCU2C chains)
and block-RAM ports (read data, address and enable bits of every memory)."""
TOGGLE_IMAGES_PER_RUN = 20
"""Images per simulator run of :func:`rtl_toggles` (each image dumps the toggle counts of
every signal bit, tens of MB at N = 128: a run's dumps are read and removed before the next)."""
_MODULE_TEXT = re.compile(r"^module (\S+)\s*\(.*?^endmodule", re.M | re.S)
_DECL = re.compile(r"^  (input|output|wire|reg)\s+(?:signed\s+)?(?:\[(\d+):(\d+)\]\s+)?(\S+)"
                   r"(\s*\[[^\]]*\])?(?:\s*=[^;]*)?\s*;", re.M)
_FF = re.compile(r"^\s+(\S+)\s*(?:\[[^\]]*\]\s*)?<=", re.M)
_ASSIGN = re.compile(r"^  assign (\S+)\s*(?:\[[^\]]*\]\s*)?= (.*);$", re.M)
_MEMORY_READ = re.compile(r"^\s+if \(([^)]*)\) begin\n\s+(\S+)\s*<= (\S+)\[(.*?)\];", re.M)
_ARITH = re.compile(r"\s(?:\+|-|<|>|<=|>=)\s")
_ALIAS = re.compile(r"^(?:\\?\S+?)\s*(?:\[[\d:]+\])?$")
_SLICE = re.compile(r"^\s*(\\?\S+?)\s*(?:\[(\d+)(?::(\d+))?\])?\s*$")
_MANGLED = re.compile(r"__0([0-9a-fA-F]{2})")


def _name(identifier: str) -> str:
    """A Verilog identifier without the escape backslash (Verilator's coverage names)."""
    return identifier[1:] if identifier.startswith("\\") else identifier


def classify_signals(verilog_text: str) -> dict[tuple[str, str], str]:
    """``(module, signal) -> class`` (:data:`TOGGLE_CLASSES`, or ``skip``) of every signal of
    the Amaranth-generated Verilog ``verilog_text``.

    ``skip``: ports (an input is its driver's net, an output an internal net; the top's pins
    have their own I/O term) and pure renames (``assign a = b``), so that each net counts
    once.  Whole-bit classes: a signal holding a memory's enable or address is classed
    ``bram`` (its other bits too: they are few)."""
    out: dict[tuple[str, str], str] = {}
    for match in _MODULE_TEXT.finditer(verilog_text):
        module, body = _name(match.group(1)), match.group(0)
        kinds = {}
        for decl in _DECL.finditer(body):
            if decl.group(5) and "0:0" not in decl.group(5).replace(" ", ""):
                continue  # a memory array (excluded from the coverage)
            name = _name(decl.group(4))
            if kinds.get(name) not in ("input", "output"):
                kinds[name] = decl.group(1)
        classes = {name: "skip" if kind in ("input", "output") else "logic"
                   for name, kind in kinds.items()}
        for ff in _FF.finditer(body):
            if classes.get(_name(ff.group(1))) == "logic":
                classes[_name(ff.group(1))] = "ff"
        for assign in _ASSIGN.finditer(body):
            name, rhs = _name(assign.group(1)), assign.group(2)
            if classes.get(name) != "logic":
                continue
            if _ARITH.search(f" {rhs} "):
                classes[name] = "carry"
            elif _ALIAS.match(rhs):
                classes[name] = "skip"
        for read in _MEMORY_READ.finditer(body):
            for part in (read.group(1), read.group(2), read.group(4)):
                slice_ = _SLICE.match(part)
                if slice_ and classes.get(_name(slice_.group(1))) not in (None, "skip"):
                    classes[_name(slice_.group(1))] = "bram"
        out.update({(module, name): cls for name, cls in classes.items()})
    return out


SHADOW = "$tq"
"""Infix of the per-cycle sample registers of a net (:func:`instrument_for_toggles`)."""
SHADOW_WIDTH = 32
"""Bits per sample register: Verilator miscounts the toggles of signals wider than 64."""


def instrument_for_toggles(verilog_text: str, classes: dict[tuple[str, str], str]) -> str:
    """The core's Verilog instrumented for per-cycle toggle counts (Verilator only).

    Verilator's toggle coverage counts every change a signal makes within the evaluation of
    a time step, so a combinational net that settles through intermediate values counts
    several times per cycle.  Here every classified net ``x`` (:func:`classify_signals`,
    class not ``skip``) gets registers ``x$tqK`` (32 bits each: Verilator miscounts the
    toggles of signals wider than 64 bits) that sample it at every rising clock edge, and
    only these registers are covered: their toggles are the net's settled value changes
    from one cycle to the next (zero-delay activity: no glitches).  A hook zeroes every
    counter at every rising edge of ``busy`` and, at every falling edge, writes them to
    ``toggles_K.dat`` (K = 0, 1, ... per image) in the run directory (``$c``)."""
    pieces, last = [], 0
    for match in _MODULE_TEXT.finditer(verilog_text):
        module, body = _name(match.group(1)), match.group(0)
        header_end = body.index(";\n") + 2
        shadows, seen = [], set()
        for decl in _DECL.finditer(body):
            name = _name(decl.group(4))
            if classes.get((module, name), "skip") == "skip" or name in seen:
                continue
            seen.add(name)
            if decl.group(5) and "0:0" not in decl.group(5).replace(" ", ""):
                continue
            source = decl.group(4) + (" [0]" if decl.group(5) else " ")
            if not decl.group(2):
                shadows.append(f"  reg \\{name}{SHADOW}0 ;\n  always @(posedge clk) "
                               f"\\{name}{SHADOW}0  <= {source};\n")
                continue
            low = min(int(decl.group(2)), int(decl.group(3)))
            width = abs(int(decl.group(2)) - int(decl.group(3))) + 1
            for k, at in enumerate(range(0, width, SHADOW_WIDTH)):
                top = min(width, at + SHADOW_WIDTH) - 1
                shadows.append(
                    f"  reg [{top - at}:0] \\{name}{SHADOW}{k} ;\n  always @(posedge clk) "
                    f"\\{name}{SHADOW}{k}  <= {source}[{low + top}:{low + at}];\n")
        end = body.rindex("endmodule")
        body = (body[:header_end] + "  /*verilator coverage_off*/\n" + body[header_end:end]
                + "  /*verilator coverage_on*/\n" + "".join(shadows) + body[end:])
        pieces += [verilog_text[last:match.start()], body]
        last = match.end()
    text = "".join(pieces) + verilog_text[last:]
    hook = (
        "  /*verilator coverage_off*/\n"
        "  reg toggles_busy = 1'b0;\n"
        "  always @(posedge clk) begin\n"
        '    if (busy && !toggles_busy) $c("vlSymsp->_vm_contextp__->coveragep()->zero();");\n'
        '    if (!busy && toggles_busy) $c("{ static int k = 0; auto* c = '
        'vlSymsp->_vm_contextp__->coveragep(); c->write((std::string(\\"toggles_\\") + '
        'std::to_string(k++) + \\".dat\\").c_str()); c->zero(); }");\n'
        "    toggles_busy <= busy;\n"
        "  end\n")
    top = text.index("module snn_core(")
    end = text.index("endmodule", top)
    return text[:end] + hook + text[end:]


def read_toggle_dump(path: Path, classes: dict[tuple[str, str], str],
                     ) -> dict[str, tuple[int, int]]:
    """``class -> (toggles, signal bits)`` of one Verilator coverage dump."""
    toggles = dict.fromkeys(TOGGLE_CLASSES, 0)
    bits = dict.fromkeys(TOGGLE_CLASSES, 0)
    with open(path, encoding="latin-1") as f:
        for line in f:
            if not line.startswith("C '"):
                continue
            key, count = line.rsplit(" ", 1)
            fields = dict(item.split("\x02", 1) for item in key[3:-1].split("\x01") if item)
            if fields.get("t") != "toggle":
                continue
            module = fields["page"].removeprefix("v_toggle/")
            signal = _MANGLED.sub(lambda m: chr(int(m.group(1), 16)), fields["o"])
            signal, _, edge = signal.rpartition(":")
            name = signal.split("[", 1)[0]
            if SHADOW not in name:
                continue
            name = name.rsplit(SHADOW, 1)[0]
            cls = classes.get((module, name), "logic")
            if cls == "skip":
                continue
            toggles[cls] += int(count)
            if edge == "0->1":
                bits[cls] += 1
    return {cls: (toggles[cls], bits[cls]) for cls in TOGGLE_CLASSES}


def _spread(values: np.ndarray) -> dict[str, float]:
    values = np.asarray(values, dtype=np.float64)
    return {"min": float(values.min()), "median": float(np.median(values)),
            "max": float(values.max()), "std": float(values.std(ddof=1)) if len(values) > 1
            else 0.0, "sem": float(values.std(ddof=1) / np.sqrt(len(values)))
            if len(values) > 1 else 0.0}


def rtl_toggles(config: SNNConfig, w_hidden, w_out, images: np.ndarray,
                settings: RunSettings) -> Toggles:
    """Toggle rates per resource class from the RTL simulation (Verilator toggle coverage).

    The core's Verilog (weights read from files at start, as :func:`flows.rtl_sim.run_rtl`
    with ``loaded``) is built once per configuration with ``--coverage-toggle``; every image's
    busy window dumps the toggle count of every signal bit, and the RTL's ``cycles`` counter
    of that image is the window's length.  Memory arrays are left out (their words are not
    nets); each net counts once (:func:`classify_signals`).  Per image and class, alpha =
    toggles / (bits x cycles); the sample's alpha is the cycle-weighted mean.
    """
    from amaranth.back import verilog

    from flows.rtl_sim import (
        TOPLEVEL,
        _locked,
        build_directory,
        build_sources,
        ensure_simulator,
        load_memories_from_files,
        run_batches,
    )
    from flows.rtl_sim import Batch as SimBatch
    from hdl.core import SNNCore

    ensure_simulator("verilator")
    build_dir = build_directory(config, w_hidden, w_out, "verilator", loaded=True)
    build_dir = build_dir.with_name(build_dir.name + "-toggles")
    core = SNNCore(config=config, w_hidden=w_hidden, w_out=w_out, placeholder_seed=0)
    plain = load_memories_from_files(verilog.convert(core, name=TOPLEVEL, emit_src=False),
                                     config)
    classes = classify_signals(plain)
    text = instrument_for_toggles(plain, classes)
    with _locked(build_dir):
        source = build_dir / f"{TOPLEVEL}.v"
        if not source.exists() or source.read_text() != text:
            source.with_suffix(".tmp").write_text(text)
            source.with_suffix(".tmp").replace(source)
        runner = build_sources([source], build_dir, "verilator", extra_args=(
            "--coverage-toggle", "--coverage-underscore", "--coverage-max-width", "1000000"))
    per_image: list[dict[str, tuple[int, int]]] = []
    cycles: list[int] = []
    for start in range(0, len(images), TOGGLE_IMAGES_PER_RUN):
        chunk = images[start:start + TOGGLE_IMAGES_PER_RUN]
        dumps: list[dict[str, tuple[int, int]]] = []

        def read(run_dir: Path, dumps=dumps, chunk=chunk):
            for i in range(len(chunk)):
                path = run_dir / f"toggles_{i}.dat"
                dumps.append(read_toggle_dump(path, classes))
                path.unlink()

        results = run_batches(runner, build_dir, config, [SimBatch(settings, chunk)],
                              loaded_weights=(w_hidden, w_out), inspect=read)
        per_image += dumps
        cycles += [int(c) for c in results[0].counters["cycles"]]
    cyc = np.asarray(cycles, dtype=np.float64)
    by_class = {}
    total_toggles, total_bits = np.zeros(len(cyc)), 0
    for cls in TOGGLE_CLASSES:
        toggles = np.array([d[cls][0] for d in per_image], dtype=np.float64)
        bits = per_image[0][cls][1] if per_image else 0
        alpha = toggles / np.maximum(1, bits * cyc)
        by_class[cls] = {"alpha": float(toggles.sum() / max(1, bits * cyc.sum())),
                         "bits": int(bits), **_spread(alpha)}
        total_toggles += toggles
        total_bits += bits
    overall = total_toggles / np.maximum(1, total_bits * cyc)
    mode = "dynamic mode" if settings.dynamic else f"{settings.bits_hidden} bits"
    return Toggles(float(total_toggles.sum() / max(1, total_bits * cyc.sum())),
                   int(cyc.sum()), len(images),
                   f"RTL simulation (Verilator toggle coverage) of {len(images)} test images at "
                   f"{mode} ({int(cyc.sum())} busy cycles)",
                   by_class=by_class, spread=_spread(overall))
