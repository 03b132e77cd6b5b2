"""``make sim-full``: all 10,000 MNIST test images through the RTL at N = 128: 8 bits, 4 bits
and dynamic mode (the default controller, docs/controller.md), and the block-pruned weights
(80 % of the hidden blocks zero: rows and chunks are skipped) in dynamic mode.

Run as ``python -m cocotb_tests.sim_full [--weights W] [--bits 8 4 dynamic]
[--sparse-weights S] [--sparse-bits dynamic] [--images K] [--jobs 2]``.
The images of each run go back to back (each next one queued while the previous one runs).
Every image must equal the reference (class, counts, counters, cycle model); prints the RTL
accuracy, cycles per image, cycles between image ends and simulated images per second per
precision.  The precisions
run as parallel simulations (``--jobs``, one core each).  Exit code 1 on
any mismatch, 2 on bad input (e.g. the weights file is not there yet).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from cocotb_tests.cases import COMMITTED_WEIGHTS, SPARSE_WEIGHTS
from flows.verify import verify
from golden import cli
from golden.config import ControllerSettings, RunSettings
from golden.errors import run_cli
from golden.mnist import load_split
from golden.modes import BITS_CHOICES, DYNAMIC
from golden.networks import committed_network


def _settings(bits: str) -> RunSettings:
    if bits == DYNAMIC:
        return RunSettings(controller=ControllerSettings())
    return RunSettings.uniform(int(bits))


def main(argv: list[str] | None = None) -> int:
    parser = cli.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--weights", default=str(COMMITTED_WEIGHTS[0]),
                        help="weights file to simulate")
    parser.add_argument("--bits", nargs="+", default=["8", "4", DYNAMIC], choices=BITS_CHOICES,
                        help="modes to run: precisions of both layers, or 'dynamic'")
    parser.add_argument("--sparse-weights", default=str(SPARSE_WEIGHTS),
                        help="block-pruned weights file to simulate as well")
    parser.add_argument("--sparse-bits", nargs="*", default=[DYNAMIC], choices=BITS_CHOICES,
                        help="modes of the block-pruned weights (none: skip them)")
    parser.add_argument("--images", type=cli.count, default=None,
                        help="only the first K test images (default: all)")
    parser.add_argument("--jobs", type=cli.count, default=2,
                        help="precisions simulated at the same time (one simulator each)")
    args = parser.parse_args(argv)
    runs = [(args.weights, bits) for bits in args.bits]
    runs += [(args.sparse_weights, bits) for bits in args.sparse_bits]
    networks = {path: committed_network(path) for path in {path for path, _ in runs}}
    split = load_split("test").first(args.images)
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:  # each job waits on a simulator
        summaries = list(pool.map(lambda run: verify(networks[run[0]], _settings(run[1]),
                                                     split.images, split.labels,
                                                     back_to_back=True), runs))
    for (path, _), summary in zip(runs, summaries, strict=True):
        print(json.dumps({"weights": Path(path).name} | {key: summary[key] for key in (
            "bits", "images", "mismatches", "rtl_accuracy", "reference_accuracy",
            "cycles_per_image", "back_to_back_cycles_per_image", "images_per_second",
            "first_divergence")}))
    images = sum(summary["images"] for summary in summaries)
    print(f"{images} images simulated in {time.monotonic() - started:.0f} s "
          f"({images / (time.monotonic() - started):.1f} images/s with {args.jobs} jobs)")
    return 1 if any(summary["mismatches"] for summary in summaries) else 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
