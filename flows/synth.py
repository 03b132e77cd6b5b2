"""RTLIL generation, Yosys ``synth_ecp5`` and nextpnr-ecp5 for one core configuration.

The synthesis top is :class:`hdl.core.SNNCore` itself (its register bus, ``busy`` and
``done`` become the pins, 79 of them), so the numbers are the core's own, without a board
top.  RTLIL, not Verilog, goes into Yosys: the bit-plane memory images stay compact.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from flows.devices import Device
from flows.toolchain import ToolError, ToolRun, run_tool
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
        Tool command lines, wall times and logs.
    reused : bool
        Yosys and nextpnr were skipped: ``workdir`` held the results of an identical run.
    """

    cells: dict[str, int]
    memory_groups: dict[str, dict[str, int]]
    utilization: dict[str, dict[str, int]] = field(default_factory=dict)
    fmax_per_clock: dict[str, float] = field(default_factory=dict)
    target_mhz: float = 0.0
    critical_path: list[dict] = field(default_factory=list)
    runs: list[ToolRun] = field(default_factory=list)
    reused: bool = False

    @property
    def fmax_mhz(self) -> float | None:
        """Fmax of the core clock (``clk``) in MHz, None if nextpnr reported none."""
        for name, mhz in self.fmax_per_clock.items():
            if "clk" in name:
                return mhz
        return next(iter(self.fmax_per_clock.values()), None)


def write_rtlil(config: SNNConfig, w_hidden: np.ndarray, w_out: np.ndarray, path: Path) -> None:
    """Elaborate :class:`hdl.core.SNNCore` for ``config`` and write its RTLIL to ``path``."""
    from amaranth.back import rtlil

    from hdl.core import SNNCore

    try:
        core = SNNCore(config=config, w_hidden=w_hidden, w_out=w_out)
    except (TypeError, ValueError) as err:
        raise UserError(f"the core cannot be generated for this configuration ({err})") from None
    path.write_text(rtlil.convert(core, name=TOP, emit_src=False))


def run_yosys(rtlil_path: Path, json_path: Path, workdir: Path, *, abc9: bool = True,
              progress: bool = True) -> ToolRun:
    """``synth_ecp5`` of the RTLIL file into a nextpnr JSON netlist."""
    script = (f"read_rtlil {rtlil_path.name}; "
              f"synth_ecp5 -top {TOP}{' -abc9' if abc9 else ''} -json {json_path.name}; "
              "stat")
    return run_tool("yosys", ["-p", script], workdir / "yosys.log", "yosys synth_ecp5",
                    cwd=workdir, progress=progress, watch=_YOSYS_PASS)


def run_nextpnr(json_path: Path, device: Device, workdir: Path, *, freq_mhz: float, seed: int,
                progress: bool = True) -> ToolRun:
    """Place and route on ``device``; writes ``nextpnr.json`` (``--report``) and the routed
    design ``nextpnr_routed.json`` (``--write``, for netlist simulation)."""
    args = [*device.nextpnr_args(), "--json", json_path.name, "--report", "nextpnr.json",
            "--write", "nextpnr_routed.json",
            "--freq", f"{freq_mhz:g}", "--seed", str(seed), "--timing-allow-fail"]
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


def synthesize(config: SNNConfig, w_hidden: np.ndarray, w_out: np.ndarray, device: Device,
               workdir: Path, *, freq_mhz: float, seed: int, abc9: bool = True,
               progress: bool = True) -> SynthResult:
    """RTLIL -> Yosys -> nextpnr for one configuration; every file stays in ``workdir``."""
    workdir.mkdir(parents=True, exist_ok=True)
    rtlil_path, json_path = workdir / f"{TOP}.il", workdir / f"{TOP}.json"
    write_rtlil(config, w_hidden, w_out, rtlil_path)
    stamp_path = workdir / "stamp.json"
    stamp = {"rtlil_sha256": hashlib.sha256(rtlil_path.read_bytes()).hexdigest(),
             "device": device.name, "freq_mhz": freq_mhz, "seed": seed, "abc9": abc9}
    reused = _reuse(stamp_path, stamp, json_path, freq_mhz)
    if reused is not None:
        return reused
    stamp_path.unlink(missing_ok=True)
    yosys = run_yosys(rtlil_path, json_path, workdir, abc9=abc9, progress=progress)
    cells, groups = netlist_cells(json_path)
    result = SynthResult(cells=cells, memory_groups=groups, target_mhz=freq_mhz, runs=[yosys])
    result.runs.append(run_nextpnr(json_path, device, workdir, freq_mhz=freq_mhz, seed=seed,
                                   progress=progress))
    parse_nextpnr_report(workdir / "nextpnr.json", result)
    runs = [{"command": r.command, "seconds": r.seconds, "cpu_seconds": r.cpu_seconds,
             "log": str(r.log)} for r in result.runs]
    write_atomic(stamp_path, json.dumps({"stamp": stamp, "runs": runs}))
    return result


def _reuse(stamp_path: Path, stamp: dict, json_path: Path, freq_mhz: float) -> SynthResult | None:
    """The result of an identical earlier run in the same directory, or None (also when its
    files are truncated or foreign: then the run is repeated)."""
    workdir = stamp_path.parent
    try:
        previous = json.loads(stamp_path.read_text())
        if previous["stamp"] != stamp or not (workdir / "nextpnr.json").is_file():
            return None
        cells, groups = netlist_cells(json_path)
        result = SynthResult(cells=cells, memory_groups=groups, target_mhz=freq_mhz,
                             runs=[ToolRun(run["command"], run["seconds"],
                                           run["cpu_seconds"], Path(run["log"]))
                                   for run in previous["runs"]], reused=True)
        parse_nextpnr_report(workdir / "nextpnr.json", result)
    except (OSError, ValueError, KeyError, TypeError, AttributeError, UserError):
        return None
    return result
