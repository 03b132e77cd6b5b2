"""Accuracy vs estimated energy per image of every run mode: the dynamic-quantization and
pruning study.

Evaluates, with the integer reference on the MNIST test set (default: all 10,000 images),
static precisions 8..2, magnitude pruning thresholds (incl. the tau that prunes 80 % of the
weights, against ternary: the comparison of Schaefer et al. 2023), activity-based neuron
gating, joint settings and dynamic policies (the default controller and variants).  Writes
``pareto.json``, ``pareto.md`` and ``pareto.png`` (accuracy vs energy, Pareto front marked)
into ``--out``.

Energy (estimates, both named in the outputs):

* **event model**: reference counters x per-event energies + cycle-model cycles x clock
  energy (:mod:`golden.energy`, static power excluded);
* **ECP5 total**: the event model plus the device's static power over the image's run time
  at the core clock (``--device``, ``--clock-mhz``, or both from a flow ``report.json``).

Examples::

    python flows/pareto.py                                   # full test set, ~5-10 min
    python flows/pareto.py --limit 1000 --out build/pareto-quick
    python flows/pareto.py --flow-report build/flow/n128/report.json
    python flows/pareto.py --split validation --pruning-grid --out build/pareto-validation

The study section (quantization only / pruning only / joint, in the form of Schaefer et al.
2023) adds the block-sparse weights files (``--sparse-weights``), one table per hardware
configuration of ``--study-lanes`` (lanes, optionally with a block size: ``32`` or ``26:26``);
by default the configuration of ``--lanes``/``--block-size`` and L = 32 lanes, where chunk
skip turns sparsity into latency.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from dataclasses import dataclass, replace
from itertools import product
from pathlib import Path

import numpy as np

from flows import study
from golden import cli, power
from golden.config import MAX_GATE_BLOCKS, PRECISIONS, ControllerSettings, RunSettings
from golden.energy import MODEL, event_energy
from golden.errors import UserError, run_cli
from golden.mnist import MnistSplit, load_split
from golden.modes import mode_json
from golden.reference import infer
from golden.weights import load_weights, write_atomic

REPO = Path(__file__).resolve().parents[1]
DEFAULT_WEIGHTS = REPO / "weights" / "mnist-784-128-10.npz"
SPARSE_WEIGHTS = tuple(REPO / "weights" / f"mnist-784-128-10-s{s}.npz" for s in (80, 90))
"""The block-sparse files of the study (those present are used by default)."""
GATE_BLOCKS = 2
"""Block gating K of the study rows: the value chosen on the validation split for the dense
file (docs/controller.md, "Block gating")."""
PRUNE_FRACTIONS = (0.5, 0.8, 0.9)
"""Fractions of the hidden weights (99 % of all weights) pruned by the threshold tau."""
FLOOR_PP = 6.0
"""The plot shows accuracies down to this many points below the best (others on the floor)."""
DEFAULT_CLOCK_MHZ = 100.0
"""Core clock for the ECP5 total when no flow report is given (the Fmax target)."""


@dataclass(frozen=True)
class Mode:
    """One point of the study: a label, its family and its run-time registers."""

    label: str
    family: str
    settings: RunSettings


def tau_for_fraction(weights: np.ndarray, fraction: float) -> int:
    """Smallest tau (0..127) with at least ``fraction`` of the weights below it (|w| < tau)."""
    mags = np.sort(np.abs(np.asarray(weights, dtype=np.int64)).ravel())
    for tau in range(128):
        if np.searchsorted(mags, tau, side="left") / mags.size >= fraction:
            return tau
    return 127


def study_modes(w_hidden, w_out, *, controller_grid: bool = False, pruning_grid: bool = False,
                gate_blocks: int = GATE_BLOCKS) -> list[Mode]:
    """Every mode of the study (static, pruning, gating, joint, dynamic); with
    ``controller_grid`` also a grid of controller parameters (to choose the default on the
    validation split), with ``pruning_grid`` a grid of block gating K (with and without idle
    neuron gating) on the default controller."""
    modes = [Mode(f"{b}-bit", "static precision", RunSettings.uniform(b))
             for b in sorted(PRECISIONS, reverse=True)]
    for fraction in PRUNE_FRACTIONS:
        tau = tau_for_fraction(w_hidden, fraction)
        modes.append(Mode(f"8-bit, hidden {fraction:.0%} pruned (tau {tau})", "magnitude pruning",
                          RunSettings.uniform(8, tau_hidden=tau)))
    tau_h, tau_o = tau_for_fraction(w_hidden, 0.8), tau_for_fraction(w_out, 0.8)
    modes.append(Mode(f"8-bit, both layers 80% pruned (tau {tau_h}/{tau_o})",
                      "magnitude pruning",
                      RunSettings.uniform(8, tau_hidden=tau_h, tau_out=tau_o)))
    for bits in (8, 4, 2):
        modes.append(Mode(f"{bits}-bit + gating", "neuron gating",
                          RunSettings(controller=ControllerSettings.gating_only(bits))))
    tau_h = tau_for_fraction(w_hidden, 0.5)
    modes.append(Mode(f"4-bit, hidden tau {tau_h}", "joint",
                      RunSettings.uniform(4, tau_hidden=tau_h)))
    modes.append(Mode(f"2-bit + gating, hidden tau {tau_h}", "joint",
                      RunSettings(tau_hidden=tau_h,
                                  controller=ControllerSettings.gating_only(2))))
    default = ControllerSettings()
    variants = [
        ("dynamic (default)", default),
        ("dynamic, no early exit", replace(default, exit_margin=0)),
        ("dynamic, exit margin 3", replace(default, exit_margin=3)),
        ("dynamic, exit margin 4", replace(default, exit_margin=4)),
        ("dynamic, escalate margin 2", replace(default, escalate_margin=2)),
        ("dynamic, to 8 bits at once", replace(default, step_bits_hidden=6, step_bits_out=6)),
        ("dynamic, start 2 bits", replace(default, start_bits_hidden=2, start_bits_out=2)),
        ("dynamic, interval 4", replace(default, interval=4)),
        ("dynamic, interval 3", replace(default, interval=3)),
        ("dynamic + gating", replace(default, gate_idle=True)),
        (f"dynamic + block gating {gate_blocks}", replace(default, gate_blocks=gate_blocks)),
        ("2-bit + early exit", replace(default, start_bits_hidden=2, start_bits_out=2,
                                       step_bits_hidden=0, step_bits_out=0)),
        ("4-bit + early exit", replace(default, start_bits_hidden=4, start_bits_out=4,
                                       step_bits_hidden=0, step_bits_out=0)),
        ("8-bit + early exit", replace(default, start_bits_hidden=8, start_bits_out=8,
                                       step_bits_hidden=0, step_bits_out=0)),
    ]
    modes += [Mode(label, "dynamic", RunSettings(controller=c)) for label, c in variants]
    if controller_grid:
        for interval, leave, escalate, step in product((2, 3, 4), (2, 3, 4), (1, 2), (2, 6)):
            c = replace(default, interval=interval, exit_margin=leave, escalate_margin=escalate,
                        step_bits_hidden=step, step_bits_out=step)
            modes.append(Mode(f"grid: interval {interval}, exit {leave}, escalate {escalate}, "
                              f"step {step}", "controller grid", RunSettings(controller=c)))
    if pruning_grid:
        for k, idle in product(range(1, 9), (False, True)):
            c = replace(default, gate_blocks=k, gate_idle=idle)
            modes.append(Mode(f"pruning grid: block gating {k}" + (" + idle" if idle else ""),
                              "pruning grid", RunSettings(controller=c)))
    return modes


def pareto_front(points: list[tuple[float, float]]) -> list[bool]:
    """Which (energy, accuracy) points no other point beats (lower-or-equal energy and
    higher-or-equal accuracy, one of them strictly)."""
    front = []
    for i, (e, a) in enumerate(points):
        dominated = any((e2 <= e and a2 >= a) and (e2 < e or a2 > a)
                        for j, (e2, a2) in enumerate(points) if j != i)
        front.append(not dominated)
    return front


def evaluate_mode(mode: Mode, weights, test, device: str, clock_mhz: float,
                  hardware: dict | None = None) -> dict:
    """Accuracy, counters, steps, cycles and both energy estimates of one mode (``hardware``:
    lanes and block size of the configuration, default the configuration's own)."""
    config = weights.config(**(hardware or {}))
    result = infer(weights.w_hidden, weights.w_out, test.images, config, mode.settings)
    energy = event_energy(config, test.images, mode.settings, result)
    n = max(len(test.images), 1)
    latency_us = energy["cycles_per_image"] / clock_mhz
    static_uj = {end: power.static_mw(device, end) * 1e-3 * latency_us for end in power.ENDS}
    return {
        "label": mode.label, "family": mode.family,
        "registers": mode_json(mode.settings),
        "accuracy": float(np.mean(result.pred == test.labels)),
        "energy_per_image_uj": energy["energy_per_image_uj"],
        "energy_per_image_uj_low": energy["energy_per_image_uj_low"],
        "energy_per_image_uj_high": energy["energy_per_image_uj_high"],
        "energy_parts_uj": energy["energy_parts_uj"],
        "ecp5_energy_per_image_uj": energy["energy_per_image_uj"] + static_uj["central"],
        "ecp5_energy_per_image_uj_low": energy["energy_per_image_uj_low"] + static_uj["low"],
        "ecp5_energy_per_image_uj_high": energy["energy_per_image_uj_high"]
        + static_uj["high"],
        "cycles_per_image": energy["cycles_per_image"],
        "latency_us": latency_us,
        "steps_per_image": float(result.counters["steps"].sum() / n),
        "weight_bits_read_per_image": float(result.counters["weight_bits_read"].sum() / n),
        "syn_active_per_image": float(result.counters["syn_active"].sum() / n),
        "precision_changes_per_image": float(result.counters["precision_changes"].sum() / n),
    }


def build_parser() -> argparse.ArgumentParser:
    p = cli.ArgumentParser(
        description="Accuracy vs estimated energy per image of static precisions, magnitude "
                    "pruning, neuron gating, joint settings and dynamic controller policies, on "
                    "the MNIST test set with the integer reference; marks the Pareto front.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--weights", default=cli.project_default(DEFAULT_WEIGHTS),
                   help="snn-weights/1 file")
    p.add_argument("--limit", type=cli.count, help="only the first K images (default: all)")
    p.add_argument("--split", choices=("test", "validation"), default="test",
                   help="test: the official 10k test set; validation: the last 1,000 images of "
                        "the training file (the split golden/train.py holds out; use it to "
                        "choose controller parameters, never the test set)")
    p.add_argument("--data-dir", help="MNIST directory (default: $MNIST_DIR, then "
                   "../shared/datasets/mnist)")
    p.add_argument("--out", default="build/pareto", type=cli.output_folder, help="output directory")
    p.add_argument("--controller-grid", action="store_true",
                   help="also evaluate a grid of controller parameters (interval 2..4, exit "
                        "margin 2..4, escalate margin 1..2, step 2 or 6 bits); with --split "
                        "validation this is how the default policy was chosen")
    p.add_argument("--pruning-grid", action="store_true",
                   help="also evaluate block gating K = 1..8, with and without idle-neuron "
                        "gating, on the default controller; with --split validation this is "
                        "how the block gating K was chosen")
    p.add_argument("--gate-blocks", type=cli.integer(0, MAX_GATE_BLOCKS), default=GATE_BLOCKS,
                   metavar="K",
                   help="block gating K of the 'dynamic + block gating' rows")
    p.add_argument("--sparse-weights", nargs="*", default=None, metavar="FILE",
                   help="block-sparse weights files for the quantization/pruning/joint study "
                        "(default: the committed s80 and s90 files; none: skip the study)")
    p.add_argument("--lanes", type=cli.neurons, default=None,
                   help="lanes L of the hardware configuration (default: N, one chunk)")
    p.add_argument("--block-size", type=cli.neurons, default=None,
                   help="metadata block size B (default: the configuration's, 16)")
    p.add_argument("--study-lanes", nargs="+", type=study_hardware, default=None,
                   metavar="L[:B]",
                   help="hardware configurations of the study tables, each lanes L or L:B "
                        "(block size B, default --block-size); e.g. 128 32 26:26 (default: "
                        "--lanes, and 32 when it is smaller than N)")
    p.add_argument("--device", default="LFE5U-85F", choices=sorted(power.STATIC_POWER),
                   help="device whose static power the ECP5 total adds")
    p.add_argument("--clock-mhz", type=cli.clock_mhz, default=DEFAULT_CLOCK_MHZ,
                   help="core clock for latency and static energy")
    p.add_argument("--flow-report", help="report.json of flows/build.py: take device and core "
                   "clock from it (overrides --device/--clock-mhz)")
    return p


def _clock_and_device(args) -> tuple[str, float, str]:
    if not args.flow_report:
        return args.device, args.clock_mhz, f"--clock-mhz {args.clock_mhz:g}, {args.device}"
    try:
        report = json.loads(cli.readable_file(args.flow_report, "--flow-report").read_text())
        device, clock_mhz = report["device"], float(report["clock_mhz"])
        power.static_mw(device)
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise UserError(f"--flow-report {args.flow_report}: not a readable flows/build.py "
                        f"report.json ({err})") from None
    if not 0 < clock_mhz <= cli.MAX_CLOCK_MHZ:
        raise UserError(f"--flow-report {args.flow_report}: its clock_mhz {clock_mhz} is not "
                        f"a clock in 0..{cli.MAX_CLOCK_MHZ:g} MHz")
    return device, clock_mhz, f"{args.flow_report} (nextpnr Fmax-limited core clock)"


VALIDATION_IMAGES = 1000
"""Size of the validation split: golden/train.py's default ``--val``."""


def _split(args):
    if args.split == "test":
        return load_split("test", args.data_dir)
    train = load_split("train", args.data_dir)
    return MnistSplit(train.images[-VALIDATION_IMAGES:], train.labels[-VALIDATION_IMAGES:],
                      f"{train.source}, last {VALIDATION_IMAGES} images (validation split)",
                      train.sha256, train.fallback)


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.limit is not None and args.limit < 1:
        raise UserError(f"--limit must be >= 1, not {args.limit}")
    device, clock_mhz, clock_source = _clock_and_device(args)
    weights = load_weights(args.weights)
    test = _split(args).first(args.limit)
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserError(f"cannot create output directory {out}: {err.strerror}") from None
    from tqdm import tqdm

    hardware = _hardware(args, weights)
    sparse = sparse_files(args, weights)
    configs = study_configs(args, weights, hardware)
    modes = study_modes(weights.w_hidden, weights.w_out, controller_grid=args.controller_grid,
                        pruning_grid=args.pruning_grid, gate_blocks=args.gate_blocks)
    rows, start = [], time.perf_counter()
    for mode in tqdm(modes, desc="modes", unit="mode", file=sys.stderr):
        rows.append(evaluate_mode(mode, weights, test, device, clock_mhz, hardware))
    studies = [{**config, "rows": run_study(args, rows if config == hardware else [], test,
                                            device, clock_mhz, config, weights, sparse)}
               for config in configs] if sparse else []
    for key in ("energy_per_image_uj", "ecp5_energy_per_image_uj"):
        front = pareto_front([(r[key], r["accuracy"]) for r in rows])
        for row, on in zip(rows, front, strict=True):
            row["front_" + key] = on
    summary = {
        "weights": args.weights, "images": int(len(test.images)), "data": test.source,
        "fallback_data": test.fallback, "device": device, "clock_mhz": clock_mhz,
        "clock_source": clock_source, "seconds": time.perf_counter() - start,
        "energy_model": MODEL, "static_basis": dict(power.STATIC_BASIS),
        "lanes": hardware["lanes"], "block_size": hardware["block_size"],
        "rows": rows, "targets": targets(rows, args.gate_blocks),
        "studies": studies, "published": study.PUBLISHED,
    }
    write_atomic(out / "pareto.png", plot(rows, summary))
    write_atomic(out / "pareto.md", render(summary))
    write_atomic(out / "pareto.json", cli.strict_json(summary, indent=1) + "\n")
    print(render(summary))
    print(f"wrote {out / 'pareto.md'}, {out / 'pareto.png'}, {out / 'pareto.json'}")
    return 0


def _hardware(args, weights) -> dict:
    """Lanes and block size of the configuration the study runs on."""
    config = weights.config()
    return {"lanes": min(args.lanes or weights.n_hidden, weights.n_hidden),
            "block_size": args.block_size or config.block_size}


def study_hardware(text: str) -> tuple[int, int | None]:
    """``L`` or ``L:B`` of ``--study-lanes``: lanes and an optional block size."""
    lanes, _, block = text.partition(":")
    try:
        return cli.neurons(lanes), (cli.neurons(block) if block else None)
    except argparse.ArgumentTypeError as err:
        raise argparse.ArgumentTypeError(f"{text!r} is not L or L:B ({err})") from None


def study_configs(args, weights, hardware: dict) -> list[dict]:
    """The hardware configurations of the study tables, the main one first, no repeats."""
    n = weights.n_hidden
    given = args.study_lanes or [(hardware["lanes"], None)] + ([(32, None)] if 32 < n else [])
    configs = []
    for lanes, block in given:
        config = {"lanes": min(lanes, n), "block_size": block or hardware["block_size"]}
        if args.gate_blocks > config["block_size"]:
            raise UserError(f"--gate-blocks {args.gate_blocks} is more than the block size "
                            f"{config['block_size']} of the study at L = {config['lanes']}; "
                            "block gating counts neurons of one block")
        if config not in configs:
            configs.append(config)
    return configs


def sparse_files(args, weights) -> dict[Path, object]:
    """The block-sparse files of the study, loaded, checked to have the dense file's N."""
    dense = Path(args.weights)
    if args.sparse_weights is None:  # the committed files of the same N
        paths = [p for p in SPARSE_WEIGHTS if p.exists() and p != dense]
    else:
        paths = [Path(cli.readable_file(p, "--sparse-weights")) for p in args.sparse_weights]
    loaded = {}
    for path in paths:
        loaded[path] = load_weights(path)
        if loaded[path].n_hidden == weights.n_hidden:
            continue
        if args.sparse_weights is None:
            del loaded[path]
        else:
            raise UserError(f"--sparse-weights {path}: {loaded[path].n_hidden} hidden neurons, "
                            f"but --weights {dense} has {weights.n_hidden}; the study "
                            "compares one shape")
    return loaded


def run_study(args, rows: list[dict], test, device: str, clock_mhz: float, hardware: dict,
              weights, sparse: dict) -> list[dict]:
    """The quantization only / pruning only / joint rows (dense rows reused from ``rows``)."""
    dense = Path(args.weights)
    loaded = {dense: weights, **sparse}
    if not sparse:
        return []
    known = {json.dumps(r["registers"], sort_keys=True): r for r in rows}
    out = []
    from tqdm import tqdm

    desc = f"study L={hardware['lanes']} B={hardware['block_size']}"
    for row in tqdm(study.study_rows(dense, list(sparse), args.gate_blocks), desc=desc,
                    unit="row", file=sys.stderr):
        key = json.dumps(mode_json(row.settings), sort_keys=True)
        if row.weights == dense and key in known:
            result = dict(known[key])
        else:
            result = evaluate_mode(Mode(row.label, row.family, row.settings), loaded[row.weights],
                                   test, device, clock_mhz, hardware)
        result.update(family=row.family, label=row.label, model=row.weights.name)
        out.append(result)
    return study.relative(out)


def targets(rows: list[dict], gate_blocks: int = GATE_BLOCKS) -> dict:
    """Design goals of dynamic mode: the default controller vs static 8-bit, and block gating
    vs the default controller, from the same energy model."""
    by = {r["label"]: r for r in rows}
    base, dyn = by["8-bit"], by["dynamic (default)"]
    gated = by.get(f"dynamic + block gating {gate_blocks}")
    ternary = by["2-bit"]
    pruned = next(r for r in rows if r["label"].startswith("8-bit, hidden 80% pruned"))
    return {
        "accuracy_drop_pp": 100 * (base["accuracy"] - dyn["accuracy"]),
        "accuracy_ok": dyn["accuracy"] >= base["accuracy"] - 0.003,
        "energy_ratio": dyn["energy_per_image_uj"] / base["energy_per_image_uj"],
        "energy_ratio_range": [dyn[f"energy_per_image_uj_{end}"]
                               / base[f"energy_per_image_uj_{end}"] for end in ("low", "high")],
        "energy_ok": dyn["energy_per_image_uj"] <= 0.5 * base["energy_per_image_uj"],
        "ecp5_energy_ratio": dyn["ecp5_energy_per_image_uj"] / base["ecp5_energy_per_image_uj"],
        "latency_cut": 1 - dyn["cycles_per_image"] / base["cycles_per_image"],
        "latency_ok": dyn["cycles_per_image"] <= 0.7 * base["cycles_per_image"],
        "steps_per_image": dyn["steps_per_image"],
        "ternary_vs_80pct_pruning": {
            "ternary": {"accuracy": ternary["accuracy"],
                        "energy_per_image_uj": ternary["energy_per_image_uj"]},
            "pruned_80pct": {"accuracy": pruned["accuracy"],
                             "energy_per_image_uj": pruned["energy_per_image_uj"]},
            "pruning_energy_vs_ternary": pruned["energy_per_image_uj"]
            / ternary["energy_per_image_uj"] - 1,
        },
        "block_gating": None if gated is None else {
            "gate_blocks": gate_blocks,
            "accuracy_drop_pp": 100 * (dyn["accuracy"] - gated["accuracy"]),
            "energy_saving": 1 - gated["energy_per_image_uj"] / dyn["energy_per_image_uj"],
            "ok": (gated["accuracy"] >= dyn["accuracy"] - 0.001 - 1e-12
                   and gated["energy_per_image_uj"] <= 0.8 * dyn["energy_per_image_uj"]),
        },
    }


def render(summary: dict) -> str:
    """The table (Markdown) with the Pareto front and the design-goal check."""
    rows, t = summary["rows"], summary["targets"]
    lines = [
        f"# Accuracy vs energy per image: {summary['images']:,} images",
        "",
        f"Weights `{summary['weights']}`; data {summary['data']}"
        + (" (FALLBACK DATA)" if summary["fallback_data"] else "") + "; command "
        f"`python flows/pareto.py`. Energy: {summary['energy_model']}. ECP5 total adds "
        f"{summary['device']} static power over the latency at {summary['clock_mhz']:g} MHz "
        f"({summary['clock_source']}). All energies are estimates: central value, and "
        "low-high with every coefficient at its low / high end (docs/power.md); the ECP5 "
        "static figure is " + "; ".join(f"{end}: {basis}" for end, basis in
                                        summary["static_basis"].items())
        + ". * = on the Pareto front (central values).",
        "",
        "| mode | family | accuracy | energy/image (uJ, event) | low-high | ECP5 total (uJ) | "
        "low-high | steps | cycles | weight bits read | precision changes |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        star = " *" if r["front_energy_per_image_uj"] else ""
        star2 = " *" if r["front_ecp5_energy_per_image_uj"] else ""
        lines.append(
            f"| {r['label']} | {r['family']} | {r['accuracy']:.4f} | "
            f"{r['energy_per_image_uj']:.3f}{star} | {r['energy_per_image_uj_low']:.3f}-"
            f"{r['energy_per_image_uj_high']:.3f} | {r['ecp5_energy_per_image_uj']:.3f}{star2} | "
            f"{r['ecp5_energy_per_image_uj_low']:.2f}-{r['ecp5_energy_per_image_uj_high']:.2f} | "
            f"{r['steps_per_image']:.2f} | {r['cycles_per_image']:,.0f} | "
            f"{r['weight_bits_read_per_image']:,.0f} | {r['precision_changes_per_image']:.2f} |")
    tp = t["ternary_vs_80pct_pruning"]
    lines += [
        "",
        "## Design goals (dynamic default vs static 8-bit, same energy model)",
        "",
        f"- accuracy: {-t['accuracy_drop_pp']:+.2f} pp vs 8-bit (goal >= -0.30 pp): "
        f"{'met' if t['accuracy_ok'] else 'MISSED'}",
        f"- energy: {100 * t['energy_ratio']:.0f} % of 8-bit, event model (goal <= 50 %, "
        f"stretch 35 %): {'met' if t['energy_ok'] else 'MISSED'} ("
        f"{100 * t['energy_ratio_range'][0]:.0f} % with every coefficient low, "
        f"{100 * t['energy_ratio_range'][1]:.0f} % high); ECP5 total "
        f"{100 * t['ecp5_energy_ratio']:.0f} %",
        f"- latency: cycles cut by {100 * t['latency_cut']:.0f} % (goal >= 30 %), "
        f"{t['steps_per_image']:.2f} steps/image: {'met' if t['latency_ok'] else 'MISSED'}",
        "",
        "## Ternary vs 80 % magnitude pruning (cf. Schaefer et al. 2023)",
        "",
        f"- ternary (2-bit): accuracy {tp['ternary']['accuracy']:.4f}, "
        f"{tp['ternary']['energy_per_image_uj']:.3f} uJ/image",
        f"- 8-bit with 80 % of the hidden weights pruned: accuracy "
        f"{tp['pruned_80pct']['accuracy']:.4f}, "
        f"{tp['pruned_80pct']['energy_per_image_uj']:.3f} uJ/image "
        f"({100 * tp['pruning_energy_vs_ternary']:+.0f} % energy vs ternary)",
    ]
    gating = t.get("block_gating")
    if gating:
        lines += [
            "",
            f"## Block gating {gating['gate_blocks']} vs the default controller (run-time "
            "pruning)",
            "",
            f"- {100 * gating['energy_saving']:.1f} % less energy at "
            f"{-gating['accuracy_drop_pp']:+.2f} pp (goal >= 20 % at >= -0.10 pp): "
            f"{'met' if gating['ok'] else 'MISSED'}",
        ]
    for table in summary.get("studies", []):
        lines += ["", *study.render(table["rows"], table["lanes"], table["block_size"],
                                    summary["images"])]
    return "\n".join(lines) + "\n"


def plot(rows: list[dict], summary: dict) -> bytes:
    """Accuracy vs event-model energy, one marker per family, the front as a line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    markers = {"static precision": "o", "magnitude pruning": "v", "neuron gating": "s",
               "joint": "D", "dynamic": "*", "controller grid": ".", "pruning grid": "x"}
    floor = max(r["accuracy"] for r in rows) * 100 - FLOOR_PP
    shown = lambda r: max(100 * r["accuracy"], floor)  # noqa: E731 - off-scale points on the floor
    for family, marker in markers.items():
        pts = [r for r in rows if r["family"] == family]
        if pts:
            ax.scatter([r["energy_per_image_uj"] for r in pts], [shown(r) for r in pts],
                       marker=marker, s=70 if marker == "*" else 30, label=family)
    front = sorted((r for r in rows if r["front_energy_per_image_uj"]),
                   key=lambda r: r["energy_per_image_uj"])
    ax.plot([r["energy_per_image_uj"] for r in front], [shown(r) for r in front],
            "k--", linewidth=0.8, label="Pareto front")
    for r in rows:
        off_scale = 100 * r["accuracy"] < floor
        if r["label"] in ("8-bit", "4-bit", "2-bit", "dynamic (default)") or off_scale:
            text = r["label"] + (f" ({100 * r['accuracy']:.1f} %, off scale)" if off_scale
                                 else "")
            ax.annotate(text, (r["energy_per_image_uj"], shown(r)), fontsize=6,
                        xytext=(3, 4), textcoords="offset points")
    ax.set_ylim(floor - 0.3, None)
    ax.set_xlabel("energy per image (uJ, event model, estimate)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"{Path(summary['weights']).name}, {summary['images']:,} images: accuracy vs "
                 "energy per image (estimate)", fontsize=9)
    ax.legend(fontsize=7)
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=120)
    plt.close(fig)
    return buffer.getvalue()


if __name__ == "__main__":
    sys.exit(run_cli(main))
