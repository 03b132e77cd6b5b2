"""RTLIL generation, Yosys ``synth_ecp5`` and nextpnr-ecp5 for one core configuration.

The synthesis top is :class:`hdl.core.SNNCore` itself (its register bus, ``busy`` and
``done`` become the pins, 79 of them), so the numbers are the core's own, without a board
top.  RTLIL, not Verilog, goes into Yosys: the bit-plane memory images stay compact.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from flows.bram_registers import VERSION as BRAM_REGISTERS_VERSION
from flows.bram_registers import absorb_output_registers
from flows.cache import StageCache, digest, source_digest
from flows.devices import Device
from flows.toolchain import ToolError, ToolRun, run_tool, tool_version
from golden.config import SNNConfig
from golden.errors import UserError
from golden.weights import write_atomic

TOP = "snn_core"
CORE_CELLS = ("LUT4", "TRELLIS_FF", "CCU2C", "DP16KD", "MULT18X18D", "PFUMX", "L6MUX21",
              "TRELLIS_DPR16X4")
"""Yosys cell types counted in the synthesis statistics."""
REPORT_CELLS = {"TRELLIS_COMB": "LUT4", "TRELLIS_FF": "FF", "DP16KD": "DP16KD",
                "MULT18X18D": "MULT18X18D", "TRELLIS_IO": "IO", "TRELLIS_RAMW": "RAMW"}
"""nextpnr utilisation entries reported, with the name used in report.json."""
PLACEHOLDER_SEED = 1
"""Seed of the placeholder block-RAM contents the flows synthesize with (one netlist for
every weights file of a shape; the weights are simulated, or patched into the bitstream)."""
_YOSYS_PASS = re.compile(r"^\d+(\.\d+)*\. Executing ")
_NEXTPNR_STAGE = re.compile(r"Packing|Placing|placer|Routing|Running main router|iteration #"
                            r"|Max frequency|Critical path")


@dataclass
class SynthResult:
    """Everything the reports need from synthesis and place-and-route.

    Attributes
    ----------
    cells : dict
        Yosys cell counts after ``synth_ecp5`` (cell type -> count).
    memory_groups : dict
        DP16KD per memory (e.g. ``"hidden.plane3"``): blocks, distinct read enables,
        always-enabled ports.
    utilization : dict
        nextpnr utilisation per cell type: ``{"used": int, "available": int}``.
    fmax_per_clock : dict
        Achieved Fmax per clock net in MHz.
    target_mhz : float
        The ``--freq`` given to nextpnr.
    critical_path : list of dict
        The worst path of the core clock (from, to, delay in ns, net/cell names).
    runs : list of ToolRun
        Tool command lines, wall times and logs (of the runs that made the results).
    reused : bool
        Every stage came from the stage cache (no tool ran).
    stages : list of dict
        One row per stage (RTLIL, Yosys, nextpnr): ``stage``, ``seconds``, ``reused``,
        ``cache`` (the entry) and, when reused, ``made_seconds``.
    placeholder_seed : int or None
        The netlist was built with seeded random block-RAM contents (not the weights).
    bram_output_registers : dict
        Read registers moved into DP16KD output registers (:func:`absorb_block_ram_registers`).
    """

    cells: dict[str, int]
    memory_groups: dict[str, dict[str, int]]
    utilization: dict[str, dict[str, int]] = field(default_factory=dict)
    fmax_per_clock: dict[str, float] = field(default_factory=dict)
    target_mhz: float = 0.0
    critical_path: list[dict] = field(default_factory=list)
    runs: list[ToolRun] = field(default_factory=list)
    reused: bool = False
    stages: list[dict] = field(default_factory=list)
    placeholder_seed: int | None = None
    bram_output_registers: dict = field(default_factory=dict)

    @property
    def fmax_mhz(self) -> float | None:
        """Fmax of the core clock (``clk``) in MHz, None if nextpnr reported none."""
        for name, mhz in self.fmax_per_clock.items():
            if "clk" in name:
                return mhz
        return next(iter(self.fmax_per_clock.values()), None)


def write_rtlil(config: SNNConfig, w_hidden: np.ndarray, w_out: np.ndarray, path: Path, *,
                placeholder_seed: int | None = None) -> None:
    """Elaborate :class:`hdl.core.SNNCore` for ``config`` and write its RTLIL to ``path``
    (atomically; with ``placeholder_seed``: placeholder block-RAM contents)."""
    from amaranth.back import rtlil

    from hdl.core import SNNCore

    try:
        core = SNNCore(config=config, w_hidden=w_hidden, w_out=w_out,
                       placeholder_seed=placeholder_seed)
    except (TypeError, ValueError) as err:
        raise UserError(f"the core cannot be generated for this configuration ({err})") from None
    write_atomic(path, rtlil.convert(core, name=TOP, emit_src=False))


ABC9_WIRE_DELAY_PS = 950
"""The wire delay ABC9 adds per LUT level when it maps the core (``abc9 -W``; synth_ecp5
uses 300 ps).  A routed ECP5 net costs about 1 ns, and ABC maps every path only as fast as
its own model's slowest one: with 300 ps per level a long carry chain elsewhere made
logic paths of 8-10 LUT levels look acceptable; at about a net's delay it keeps them flat."""


def yosys_script(rtlil_path: Path, json_path: Path, abc9: bool) -> str:
    """The Yosys script of :func:`run_yosys` (the flip-flops of the core's registered fan-out
    copies are kept, :func:`hdl.logic.registered_copies`).  With ``abc9``, synth_ecp5 runs
    in two parts around its LUT mapping, which is its own (``abc9 -W``
    :data:`ABC9_WIRE_DELAY_PS`)."""
    from hdl.logic import FANOUT_COPY
    head = (f"read_rtlil {rtlil_path.name}; "
            f"setattr -set keep 1 a:{FANOUT_COPY} %ci1 t:$dff %i; ")
    if not abc9:
        return head + f"synth_ecp5 -top {TOP} -json {json_path.name}; stat"
    return head + (f"synth_ecp5 -top {TOP} -abc9 -run :map_luts; "
                   "techmap -map +/lattice/latches_map.v; "
                   f"abc9 -W {ABC9_WIRE_DELAY_PS}; clean; "
                   f"synth_ecp5 -top {TOP} -abc9 -run map_cells: -json {json_path.name}; stat")


def absorb_block_ram_registers(json_path: Path, top: str = TOP) -> dict:
    """Move the read registers behind the block RAM of module ``top`` into their DP16KD
    output registers (:mod:`flows.bram_registers`); rewrites ``json_path`` atomically and
    returns ``{"ports": ..., "flip_flops": ..., "skipped": {reason: ports}}``."""
    netlist = json.loads(json_path.read_text())
    absorbed = absorb_output_registers(netlist, top)
    write_atomic(json_path, json.dumps(netlist))
    return asdict(absorbed)


def run_yosys(rtlil_path: Path, json_path: Path, workdir: Path, *, abc9: bool = True,
              progress: bool = True) -> ToolRun:
    """``synth_ecp5`` of the RTLIL file into a nextpnr JSON netlist."""
    script = yosys_script(rtlil_path, json_path, abc9)
    return run_tool("yosys", ["-p", script], workdir / "yosys.log", "yosys synth_ecp5",
                    cwd=workdir, progress=progress, watch=_YOSYS_PASS)


ROUTED_JSON = "nextpnr_routed.json"
"""nextpnr's routed design (``--write``), read by the netlist simulation."""
ROUTED_SDF = "nextpnr.sdf"
"""The routed design's delays (``--sdf``), read by :mod:`flows.timing_paths`."""


ROUTERS = ("router1", "router2")
"""nextpnr's routers: router1 (its default for ECP5) and router2 (negotiated congestion,
much faster on a congested design, e.g. N = 128 at 128 lanes)."""


TIMING_WEIGHTS = range(1, 1001)
"""Accepted weights of timing against wire length in nextpnr's HeAP placer
(``--placer-heap-timingweight``; nextpnr's default is 10)."""


def nextpnr_args(json_path: Path, device: Device, *, freq_mhz: float, seed: int,
                 router: str = "router1", timing_weight: int | None = None) -> list[str]:
    """The nextpnr-ecp5 arguments of :func:`run_nextpnr` (``timing_weight`` None: nextpnr's
    default placer timing weight)."""
    if router not in ROUTERS:
        raise ValueError(f"router must be one of {', '.join(ROUTERS)}, not {router!r}")
    if timing_weight is not None and timing_weight not in TIMING_WEIGHTS:
        raise ValueError(f"timing_weight must be in 1..1000, not {timing_weight!r}")
    return [*device.nextpnr_args(), "--json", json_path.name, "--report", "nextpnr.json",
            "--write", ROUTED_JSON, "--sdf", ROUTED_SDF,
            "--freq", f"{freq_mhz:g}", "--seed", str(seed), "--timing-allow-fail",
            *(["--router", router] if router != "router1" else []),
            *(["--placer-heap-timingweight", str(timing_weight)]
              if timing_weight is not None else [])]


def run_nextpnr(json_path: Path, device: Device, workdir: Path, *, freq_mhz: float, seed: int,
                progress: bool = True, router: str = "router1",
                timing_weight: int | None = None) -> ToolRun:
    """Place and route on ``device``; writes ``nextpnr.json`` (``--report``), the routed
    design ``nextpnr_routed.json`` (``--write``, for netlist simulation) and its delays
    ``nextpnr.sdf`` (``--sdf``, for the path report of :mod:`flows.timing_paths`)."""
    args = nextpnr_args(json_path, device, freq_mhz=freq_mhz, seed=seed, router=router,
                        timing_weight=timing_weight)
    try:
        return run_tool("nextpnr-ecp5", args, workdir / "nextpnr.log",
                        f"nextpnr-ecp5 {device.name}", cwd=workdir, progress=progress,
                        watch=_NEXTPNR_STAGE)
    except ToolError as err:
        text = (workdir / "nextpnr.log").read_text(errors="replace")
        overflow = re.search(r"Design uses (\d+) ([A-Z0-9_]+) cells?, but device only has "
                             r"(\d+)|Unable to place cell '([^']+)', no BELs remaining "
                             r"to implement cell type '([^']+)'", text)
        if overflow:
            used = overflow.group(2) or overflow.group(5)
            raise ToolError(f"the design does not fit {device.name}: it needs more {used} "
                            f"cells than the device has ({_fit_hint(text)}); try a larger "
                            f"board or fewer neurons/lanes") from None
        raise err


def _fit_hint(log_text: str) -> str:
    found = re.findall(r"^Info:\s+(\w+):\s+(\d+)/\s*(\d+)\s+(\d+)%", log_text, re.M)
    over = [f"{name} {used}/{avail}" for name, used, avail, _ in found
            if int(used) > int(avail)]
    return ", ".join(over) or "see nextpnr.log"


def netlist_cells(json_path: Path) -> tuple[dict[str, int], dict[str, dict[str, int]]]:
    """Cell counts of the Yosys netlist and its DP16KD grouped by memory.

    A group is the memory a block belongs to (the cell name without its ``.row.col``
    suffix, e.g. ``hidden.plane3``); ``read_enables`` counts distinct clock-enable nets of
    port A (blocks of a group that share one enable are all read together) and
    ``always_on_ports`` the ports whose enable is tied to 1 (enabled every cycle).
    """
    module = json.loads(json_path.read_text())["modules"][TOP]
    counts = Counter(cell["type"] for cell in module["cells"].values())
    groups: dict[str, dict[str, object]] = {}
    for name, cell in module["cells"].items():
        if cell["type"] != "DP16KD":
            continue
        key = re.sub(r"(\.\d+)+$", "", name)
        group = groups.setdefault(key, {"blocks": 0, "enables": set(), "always_on_ports": 0})
        group["blocks"] += 1
        for port in ("CEA", "CEB"):
            bits = cell["connections"].get(port, ["0"])
            if bits == ["1"]:
                group["always_on_ports"] += 1
            elif bits != ["0"]:
                group["enables"].add(tuple(bits))
    memory_groups = {key: {"blocks": g["blocks"], "read_enables": max(1, len(g["enables"])),
                           "always_on_ports": g["always_on_ports"]}
                     for key, g in sorted(groups.items())}
    return {t: counts.get(t, 0) for t in CORE_CELLS}, memory_groups


def parse_nextpnr_report(report_path: Path, result: SynthResult) -> None:
    """Fill utilisation, Fmax per clock and the critical path from nextpnr's ``--report``."""
    data = json.loads(report_path.read_text())
    for cell, key in REPORT_CELLS.items():
        entry = data.get("utilization", {}).get(cell)
        if entry:
            result.utilization[key] = {"used": int(entry["used"]),
                                       "available": int(entry["available"])}
    result.fmax_per_clock = {_clock_name(name): round(float(v["achieved"]), 2)
                             for name, v in data.get("fmax", {}).items()}
    paths = data.get("critical_paths", [])
    core = [p for p in paths if "clk" in str(p.get("from", "")) and "clk" in str(p.get("to"))]
    if core or paths:
        result.critical_path = _path_steps((core or paths)[0])


def _clock_name(name: str) -> str:
    return name.replace("$glbnet$", "").replace("$TRELLIS_IO_IN", "")


def _path_steps(path: dict) -> list[dict]:
    steps = []
    for step in path.get("path", []):
        steps.append({"type": step.get("type"),
                      "delay_ns": round(float(step.get("delay", 0)), 3),
                      "from": _port(step.get("from")), "to": _port(step.get("to"))})
    return steps


def _port(end: dict | None) -> str:
    end = end or {}
    return f"{end.get('cell')}.{end.get('port')}"


def rtlil_inputs(config: SNNConfig, w_hidden, w_out, placeholder_seed: int | None) -> dict:
    """What the core's RTLIL is generated from: configuration, generator sources, Amaranth's
    version, and the weights only when they are baked in (no placeholder)."""
    from dataclasses import asdict
    from importlib.metadata import version

    from hdl.core import chunk_levels

    return {"config": asdict(config), "placeholder_seed": placeholder_seed,
            # baked in even with placeholders (the chunk-summary memory of chunk skip)
            "chunk_levels": digest(chunk_levels(config, w_hidden)),
            "weights": None if placeholder_seed is not None else
            [digest(np.asarray(w, dtype=np.int8)) for w in (w_hidden, w_out)],
            "sources": source_digest("hdl/*.py", "golden/*.py"),
            "amaranth": version("amaranth")}


def synth_inputs(rtlil_path: Path, json_path: Path, abc9: bool) -> dict:
    """What a Yosys run's netlist depends on: the RTLIL text, Yosys's version, the script."""
    return {"rtlil_sha256": digest(rtlil_path), "yosys": tool_version("yosys"),
            "script": yosys_script(rtlil_path, json_path, abc9),
            "bram_registers": BRAM_REGISTERS_VERSION}


def pnr_inputs(json_path: Path, device: Device, *, freq_mhz: float, seed: int,
               router: str = "router1", timing_weight: int | None = None) -> dict:
    """What a nextpnr run depends on: the netlist, nextpnr's version, device, package,
    speed grade and every option (clock, seed, router, placer timing weight)."""
    return {"netlist_sha256": digest(json_path), "nextpnr": tool_version("nextpnr-ecp5"),
            "device": device.name, "package": device.package, "speed": device.speed,
            "args": nextpnr_args(json_path, device, freq_mhz=freq_mhz, seed=seed,
                                 router=router, timing_weight=timing_weight)}


def synthesize(config: SNNConfig, w_hidden: np.ndarray, w_out: np.ndarray, device: Device,
               workdir: Path, *, freq_mhz: float, seed: int, abc9: bool = True,
               progress: bool = True, cache: StageCache | None = None,
               placeholder_seed: int | None = PLACEHOLDER_SEED,
               stop_after_yosys: bool = False, router: str = "router1",
               timing_weight: int | None = None) -> SynthResult:
    """RTLIL -> Yosys -> nextpnr for one configuration, each stage taken from ``cache`` when
    it holds a result of identical inputs; the files are copied into ``workdir``.

    With ``placeholder_seed`` (the default) the block RAM holds seeded random placeholder
    contents, not the weights: netlist, area and timing are those of every weights file of
    this shape (see :class:`hdl.core.SNNCore`).  ``None`` bakes the weights in.
    ``stop_after_yosys`` skips nextpnr (area from the netlist only); ``router`` is nextpnr's
    router (:data:`ROUTERS`), ``timing_weight`` its placer's timing weight (None: nextpnr's
    default).
    """
    cache = cache if cache is not None else StageCache(None)
    workdir.mkdir(parents=True, exist_ok=True)
    rtlil_path, json_path = workdir / f"{TOP}.il", workdir / f"{TOP}.json"
    result = SynthResult(cells={}, memory_groups={}, target_mhz=freq_mhz,
                         placeholder_seed=placeholder_seed)

    inputs = rtlil_inputs(config, w_hidden, w_out, placeholder_seed)
    entry = cache.lookup("rtlil", inputs)
    if entry is None:
        started = time.monotonic()
        write_rtlil(config, w_hidden, w_out, rtlil_path, placeholder_seed=placeholder_seed)
        entry = cache.store("rtlil", inputs, files={rtlil_path.name: rtlil_path},
                            seconds=time.monotonic() - started)
        result.stages.append(_stage_row("RTLIL (Amaranth)", started, entry, reused=False))
    else:
        entry.copy_to(workdir, rtlil_path.name)
        result.stages.append(_stage_row("RTLIL (Amaranth)", None, entry, reused=True))

    inputs = synth_inputs(rtlil_path, json_path, abc9)
    entry = cache.lookup("synth", inputs)
    if entry is None:
        run = run_yosys(rtlil_path, json_path, workdir, abc9=abc9, progress=progress)
        absorbed = absorb_block_ram_registers(json_path)
        cells, groups = netlist_cells(json_path)
        value = {"run": _run_json(run), "cells": cells, "memory_groups": groups,
                 "bram_output_registers": absorbed}
        entry = cache.store("synth", inputs, files={json_path.name: json_path,
                                                    "yosys.log": run.log},
                            value=value, seconds=run.seconds)
        result.runs.append(run)
        result.stages.append(_stage_row("yosys synth_ecp5", None, entry, reused=False,
                                        run=run))
    else:
        entry.copy_to(workdir, json_path.name, "yosys.log")
        value = entry.value
        result.runs.append(_run_from_json(value["run"], workdir))
        result.stages.append(_stage_row("yosys synth_ecp5", None, entry, reused=True))
    result.cells, result.memory_groups = value["cells"], value["memory_groups"]
    result.bram_output_registers = value["bram_output_registers"]
    if stop_after_yosys:
        return result

    inputs = pnr_inputs(json_path, device, freq_mhz=freq_mhz, seed=seed, router=router,
                        timing_weight=timing_weight)
    entry = cache.lookup("pnr", inputs)
    if entry is None:
        run = run_nextpnr(json_path, device, workdir, freq_mhz=freq_mhz, seed=seed,
                          progress=progress, router=router, timing_weight=timing_weight)
        files = {"nextpnr.json": workdir / "nextpnr.json", "nextpnr.log": run.log}
        for name in (ROUTED_JSON, ROUTED_SDF):
            if (workdir / name).is_file():
                files[name] = workdir / name
        entry = cache.store("pnr", inputs, files=files,
                            value={"run": _run_json(run)}, seconds=run.seconds)
        result.runs.append(run)
        result.stages.append(_stage_row(f"nextpnr-ecp5 {device.name}", None, entry,
                                        reused=False, run=run))
    else:
        entry.copy_to(workdir, "nextpnr.json", "nextpnr.log")
        for name in (ROUTED_JSON, ROUTED_SDF):
            if entry.file(name).is_file():
                entry.copy_to(workdir, name)
            else:  # (a run cached before the file was kept: no stale copy of another run)
                (workdir / name).unlink(missing_ok=True)
        result.runs.append(_run_from_json(entry.value["run"], workdir))
        result.stages.append(_stage_row(f"nextpnr-ecp5 {device.name}", None, entry,
                                        reused=True))
    parse_nextpnr_report(workdir / "nextpnr.json", result)
    result.reused = all(row["reused"] for row in result.stages)
    return result


def _run_json(run: ToolRun) -> dict:
    return {"command": [Path(run.command[0]).name, *run.command[1:]], "seconds": run.seconds,
            "cpu_seconds": run.cpu_seconds, "log": run.log.name}


def _run_from_json(run: dict, workdir: Path) -> ToolRun:
    return ToolRun(run["command"], run["seconds"], run["cpu_seconds"], workdir / run["log"])


def _stage_row(stage: str, started: float | None, entry, *, reused: bool,
               run: ToolRun | None = None) -> dict:
    """One line of the build's stage table: what ran or what was reused."""
    seconds = run.seconds if run else (time.monotonic() - started if started else 0.0)
    row = {"stage": stage, "seconds": round(seconds, 1), "reused": reused,
           "cpu_seconds": None if run is None or run.cpu_seconds is None
           else round(run.cpu_seconds, 1)}
    if entry is not None:
        row["cache"] = f"{entry.stage}/{entry.key[:12]}"
        if reused:
            row["made_seconds"] = round(entry.seconds, 1)
    return row
