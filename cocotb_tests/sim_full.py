"""``make sim-full``: all 10,000 MNIST test images through the RTL at N = 128, 8 and 4 bits.

Run as ``python -m cocotb_tests.sim_full [--weights W] [--bits 8 4] [--images K]``.  Every
image must equal the reference (class, counts, counters, cycle model); prints the RTL
accuracy, cycles per image and simulated images per second per precision.  Exit code 1 on
any mismatch, 2 on bad input (e.g. the weights file is not there yet).
"""

from __future__ import annotations

import argparse
import json
import sys

from cocotb_tests.cases import COMMITTED_WEIGHTS, committed_network
from flows.verify import verify
from golden.errors import run_cli
from golden.mnist import load_split


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--weights", default=str(COMMITTED_WEIGHTS[0]),
                        help="weights file to simulate")
    parser.add_argument("--bits", type=int, nargs="+", default=[8, 4],
                        help="precisions to run (both layers)")
    parser.add_argument("--images", type=int, default=None,
                        help="only the first K test images (default: all)")
    args = parser.parse_args(argv)
    network = committed_network(args.weights)
    split = load_split("test").first(args.images)
    failed = False
    for bits in args.bits:
        summary = verify(network, bits, split.images, split.labels)
        failed |= summary["mismatches"] > 0
        print(json.dumps({key: summary[key] for key in (
            "bits", "images", "mismatches", "rtl_accuracy", "reference_accuracy",
            "cycles_per_image", "images_per_second", "first_divergence")}))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
