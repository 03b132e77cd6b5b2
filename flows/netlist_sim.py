"""Simulate the ECP5 netlist of the core (after synthesis or after routing) against the reference.

Examples::

    python flows/netlist_sim.py --neurons 37 --random-seed 7 --bits 3 --images 20
    python flows/netlist_sim.py --neurons 48 --weights weights/mnist-784-48-10.npz \\
        --bits dynamic --images 20 --stage routed --json

The netlist is the one the flow builds (``flows/synth.py``): Yosys ``synth_ecp5`` output
(``--stage synth``), or nextpnr-ecp5's routed design (``--write``) turned back into Verilog
by Yosys (``--stage routed``).  It runs with the ECP5 cell models of ``flows/cells/`` in
Verilator (zero delay: function, not timing) under the same cocotb testbench and scoreboard
as ``flows/verify.py``: every class, output count, counter and cycle count is compared with
the integer reference and the cycle model.  Prints images, mismatches, first_divergence,
stage, cells (by type), simulated_cycles and seconds per image.  Exit code 0 when every
image agrees, 1 on any mismatch, 2 on bad input or a tool failure.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from collections import Counter
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from flows.cache import StageCache
from flows.devices import BOARDS, DEFAULT_BOARD, board_device
from flows.rtl_sim import (
    TOPLEVEL,
    Batch,
    RtlResults,
    build_sources,
    ensure_simulator,
    run_batches,
    simulator_name,
)
from flows.scoreboard import locate_step, score_batches
from flows.synth import ROUTERS
from flows.toolchain import run_tool
from flows.verify import add_network_arguments, network_from_args
from golden import cli
from golden.config import RunSettings, SNNConfig
from golden.errors import UserError, run_cli
from golden.mnist import load_split
from golden.modes import add_mode_arguments, check_settings, mode_json, settings_from_args
from golden.networks import Network
from golden.weights import write_atomic

PROJECT_ROOT = Path(__file__).resolve().parents[1]
CELL_MODELS = tuple(Path(__file__).resolve().parent / "cells" / name
                    for name in ("ecp5_cells.v", "dp16kd.v", "mult18x18d.v"))
"""ECP5 cell models compiled with every netlist (origin and licence in each file)."""
STAGES = ("synth", "routed")
ROUTED_JSON = "nextpnr_routed.json"
"""nextpnr-ecp5's routed design (``--write``) in a flow work directory."""
VERILATOR_ARGS = ("-Wno-lint", "-Wno-style", "-Wno-MULTIDRIVEN")
"""The netlist and the cell models trigger many style warnings that say nothing here."""
COLLISION = "DP16KD collision"
"""What the DP16KD model prints when both ports touch one row in a cycle (see dp16kd.v)."""


def _parser() -> argparse.ArgumentParser:
    p = cli.ArgumentParser(description=__doc__.split("\n\n")[0],
                           epilog=__doc__.split("\n\n", 1)[1],
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    add_network_arguments(p)
    add_mode_arguments(p)
    p.add_argument("--images", type=cli.count, default=20,
                   help="the first K MNIST test images (default: 20)")
    p.add_argument("--stage", choices=STAGES, default="synth",
                   help="synth: the Yosys synth_ecp5 netlist; routed: nextpnr-ecp5's routed "
                        "netlist (place and route first) (default: synth)")
    p.add_argument("--board", default=DEFAULT_BOARD,
                   help=f"board for --stage routed, one of {', '.join(sorted(BOARDS))} "
                        f"(default: {DEFAULT_BOARD})")
    p.add_argument("--freq", type=cli.clock_mhz, default=100.0,
                   help="clock target given to nextpnr in MHz (default: 100)")
    p.add_argument("--placement-seed", type=cli.seed, default=1,
                   help="nextpnr placement seed (default: 1)")
    p.add_argument("--router", choices=ROUTERS, default="router1",
                   help="nextpnr router for --stage routed (router2 routes N = 128 in minutes) "
                        "(default: router1)")
    p.add_argument("--out", type=cli.output_folder, default=None,
                   help="work directory for the netlists and the simulator "
                        "(default: build/netlist/<configuration>)")
    p.add_argument("--json", action="store_true", help="print only the JSON summary")
    return p


def _digest(config: SNNConfig, w_hidden, w_out) -> str:
    digest = hashlib.sha256(repr(config).encode())
    for array in (w_hidden, w_out):
        digest.update(np.ascontiguousarray(array, dtype=np.int8).tobytes())
    return digest.hexdigest()[:12]


def default_workdir(config: SNNConfig, w_hidden, w_out) -> Path:
    """``build/netlist/nN-lL-bB-<hash of configuration and weights>``."""
    return (PROJECT_ROOT / "build" / "netlist" /
            f"n{config.n_hidden}-l{config.lanes}-b{config.block_size}-"
            f"{_digest(config, w_hidden, w_out)}")


def synthesize_netlist(config: SNNConfig, w_hidden, w_out, workdir: Path, *, stage: str,
                       device, freq_mhz: float, seed: int, progress: bool,
                       router: str = "router1", cache: StageCache | None = None,
                       timing_weight: int | None = None) -> None:
    """Make ``workdir/snn_core.json`` (and for ``routed`` the routed JSON) with the flow's
    :func:`flows.synth.synthesize`, with the weights synthesized into the block RAM (the
    flow's own netlists hold placeholder contents, which a bitstream gets patched over).
    Every stage comes from ``cache`` (default: the flow's stage cache) when it holds a
    result of identical inputs, so the runs of one network at several precisions synthesize
    and route it once."""
    from flows.synth import synthesize

    synthesize(config, w_hidden, w_out, device, workdir, freq_mhz=freq_mhz, seed=seed,
               progress=progress, placeholder_seed=None, router=router,
               timing_weight=timing_weight,
               cache=StageCache() if cache is None else cache,
               stop_after_yosys=stage != "routed")


def netlist_verilog(workdir: Path, stage: str, progress: bool = False) -> Path:
    """Write the stage's netlist as Verilog (Yosys ``read_json; write_verilog``); its path.

    The routed design is nextpnr's packed netlist (``TRELLIS_COMB``, ``TRELLIS_FF``,
    ``TRELLIS_IO``, ``DP16KD``, ...) with the parameters it was placed with.
    """
    source = workdir / (ROUTED_JSON if stage == "routed" else f"{TOPLEVEL}.json")
    if not source.is_file():
        raise UserError(f"{source} does not exist: synthesize (and for --stage routed, place "
                        "and route with --write) first")
    target = workdir / f"{TOPLEVEL}_{stage}.v"
    if target.is_file() and target.stat().st_mtime >= source.stat().st_mtime:
        return target
    tmp = target.with_suffix(".tmp.v")
    top = _top_module(source)  # nextpnr names it "top"
    rename = f"rename {top} {TOPLEVEL}; " if top != TOPLEVEL else ""
    if stage == "routed":
        source = _prepare_routed(source, workdir / "nextpnr_routed_tied.json")
    run_tool("yosys", ["-q", "-p", f"read_json {source.name}; {rename}delete t:$scopeinfo; "
                                   f"write_verilog -noattr {tmp.name}"],
             workdir / f"write_verilog_{stage}.log", f"yosys write_verilog ({stage})",
             cwd=workdir, progress=progress)
    tmp.replace(target)
    return target


def _prepare_routed(source: Path, target: Path) -> Path:
    """Copy of the routed design with the unconnected inputs of DP16KD and MULT18X18D tied high.

    nextpnr removes constant nets from these blocks and encodes them in ``<pin>MUX``
    parameters that assume an unrouted input reads 1: a pin the Yosys netlist ties to 1 is
    left unconnected with its MUX set to the pin itself (e.g. ``OCEAMUX = "OCEA"``), and a pin
    tied to 0 is left unconnected with ``"INV"``.  The simulator reads unconnected pins as 0,
    so they are tied to 1 here; the models apply the MUX parameters.  The same holds for the
    LUT inputs of ``TRELLIS_COMB``: nextpnr leaves LUT (and carry-chain) inputs tied to 1
    unconnected with the LUT's INITVAL unchanged (e.g. every CCU2 ``D`` input, which Yosys
    ties to 1), so unconnected ``A``-``D`` are tied to 1 too.  A ``TRELLIS_COMB`` placed in
    the second LUT of a slice (bel ``...K1``) gets ``IS_Z1 = 1``: its OFX output is then the
    L6MUX21 of ``FXA``/``FXB`` (nextpnr's JSON leaves the parameter out), not the PFUMX.
    ``TRELLIS_IO`` becomes ``TRELLIS_IO_IN`` or ``TRELLIS_IO_OUT`` by its ``DIR`` (its pad
    pin ``B`` is an inout, which Verilator cannot connect to an input port of the top).
    """
    design = json.loads(source.read_text())
    for module in design["modules"].values():
        for cell in module["cells"].values():
            if cell["type"] == "TRELLIS_IO":
                kind = {"INPUT": "TRELLIS_IO_IN", "OUTPUT": "TRELLIS_IO_OUT"}.get(
                    str(cell["parameters"].get("DIR", "")).strip())
                if kind:
                    cell["type"], cell["parameters"] = kind, {}
            if cell["type"] == "TRELLIS_COMB":
                pins = ("A", "B", "C", "D")
                bel = str(cell.get("attributes", {}).get("NEXTPNR_BEL", ""))
                if "IS_Z1" not in cell["parameters"] and bel.endswith(".K1"):
                    cell["parameters"]["IS_Z1"] = "1"
            elif cell["type"] in ("DP16KD", "MULT18X18D"):
                pins = [port for port, direction in cell.get("port_directions", {}).items()
                        if direction == "input"]
            else:
                continue
            for port in pins:
                if not cell["connections"].get(port):
                    cell["connections"][port] = ["1"]
    write_atomic(target, json.dumps(design))
    return target


def _top_module(source: Path) -> str:
    modules = json.loads(source.read_text())["modules"]
    tops = [name for name, m in modules.items() if m.get("attributes", {}).get("top")]
    return (tops or list(modules))[0]


def cell_counts(workdir: Path, stage: str) -> dict[str, int]:
    """Cells of the stage's netlist by type; routed ``TRELLIS_COMB`` split by mode
    (``TRELLIS_COMB:LOGIC``, ``TRELLIS_COMB:CCU2``, ...)."""
    source = workdir / (ROUTED_JSON if stage == "routed" else f"{TOPLEVEL}.json")
    module = json.loads(source.read_text())["modules"][_top_module(source)]
    counts: Counter[str] = Counter()
    for cell in module["cells"].values():
        kind = cell["type"]
        if kind == "$scopeinfo":
            continue
        if kind == "TRELLIS_COMB":
            kind += ":" + str(cell["parameters"].get("MODE", "LOGIC")).strip()
        counts[kind] += 1
    return dict(sorted(counts.items()))


class NetlistSimulation:
    """A built netlist simulation: run batches of images through it like :func:`run_rtl`."""

    def __init__(self, config: SNNConfig, workdir: Path, stage: str, sim: str = "verilator"):
        if sim != "verilator":
            raise UserError("netlist simulation runs on Verilator only (SIM=verilator)")
        ensure_simulator(sim)
        self.config, self.stage = config, stage
        self.build_dir = workdir / f"sim-{stage}"
        self.build_dir.mkdir(parents=True, exist_ok=True)
        source = netlist_verilog(workdir, stage)
        started = time.monotonic()
        self.runner = build_sources([source, *CELL_MODELS], self.build_dir, sim,
                                    extra_args=VERILATOR_ARGS)
        self.build_seconds = time.monotonic() - started
        self.collisions = 0

    def run(self, config, w_hidden, w_out, batches: list[Batch]) -> list[RtlResults]:
        """Same signature as :func:`flows.rtl_sim.run_rtl` (the weights are in the netlist)."""
        log = self.build_dir / "last_run.log"
        results = run_batches(self.runner, self.build_dir, self.config, batches, keep_log=log)
        self.collisions += log.read_text(errors="replace").count(COLLISION)
        return results


def simulate(network: Network, settings: RunSettings, images, labels, workdir: Path,
             stage: str) -> dict[str, object]:
    """Run ``images`` through the netlist in ``workdir``; the JSON summary."""
    config = network.config
    sim = NetlistSimulation(config, workdir, stage, simulator_name())
    batches = [Batch(settings, images)]
    started = time.monotonic()
    results = sim.run(config, network.w_hidden, network.w_out, batches)
    seconds = time.monotonic() - started
    score = score_batches(config, network.w_hidden, network.w_out, batches, results,
                          labels=[labels], seed=network.seed)
    first = score.first_divergence
    if first is not None:
        first.location = locate_step(config, network.w_hidden, network.w_out,
                                     batches[0].settings, images[first.image_in_batch],
                                     run=sim.run)
    summary = score.summary()
    return {
        "stage": stage, **summary,
        "simulated_cycles": int(sum(score.cycles)),
        "cells": cell_counts(workdir, stage),
        "dp16kd_collisions": sim.collisions,
        "neurons": config.n_hidden, "lanes": min(config.lanes, config.n_hidden),
        "block_size": config.block_size,
        "bits": settings.bits_hidden if settings.controller is None else "dynamic",
        "registers": mode_json(settings), "timesteps": config.timesteps, "seed": network.seed,
        "simulator": "verilator (zero delay, flows/cells models)",
        "build_seconds": round(sim.build_seconds, 1),
        "simulation_seconds": round(seconds, 2),
        "seconds_per_image": round(seconds / len(images), 3),
    }


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    network = network_from_args(args)
    settings = settings_from_args(args)
    check_settings(settings, network.config)
    if not 1 <= args.freq <= 500:
        raise UserError(f"--freq must be in 1..500 MHz, not {args.freq:g}")
    device = board_device(args.board)
    workdir = (args.out or default_workdir(network.config, network.w_hidden,
                                           network.w_out)).resolve()
    split = load_split("test").first(args.images)
    synthesize_netlist(network.config, network.w_hidden, network.w_out, workdir,
                       stage=args.stage, device=device, freq_mhz=args.freq,
                       seed=args.placement_seed, progress=not args.json, router=args.router)
    summary = simulate(network, settings, split.images, split.labels, workdir, args.stage)
    if not args.json:
        print(f"{args.stage} netlist: {summary['images']} images, {summary['mismatches']} "
              f"mismatches, {summary['simulated_cycles']:,} cycles simulated, "
              f"{summary['seconds_per_image']} s per image (Verilator build "
              f"{summary['build_seconds']} s)", file=sys.stderr)
    print(cli.strict_json(summary, indent=2))
    return 1 if summary["mismatches"] else 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
