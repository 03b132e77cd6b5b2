"""Print the accuracy table of weights files from their ``meta`` (Markdown).

The figures are the integer-reference accuracies that ``golden/train.py`` measured on the test
set after training; ``golden/evaluate.py`` recomputes any of them.

Example::

    python golden/summary.py weights/mnist-784-128-10.npz weights/mnist-784-48-10.npz
"""

from __future__ import annotations

import sys

from golden import cli
from golden.config import PRECISIONS
from golden.errors import UserError, run_cli
from golden.weights import load_weights


def accuracy_table(paths: list[str]) -> str:
    """A Markdown table: one row per weights file, one column per precision 8..2 and one for
    dynamic mode (when ``golden/evaluate.py --bits all --write-meta`` has stored it)."""
    bits = sorted(PRECISIONS, reverse=True)
    lines = ["| network | training images | " + " | ".join(f"{b}-bit" for b in bits)
             + " | dynamic | 8-bit minus 2-bit |",
             "|---|---|" + "---|" * len(bits) + "---|---|"]
    for path in paths:
        w = load_weights(path)
        ref = w.meta.get("reference")
        if not ref:
            raise UserError(f"{path} has no test accuracy in its meta (trained with --skip-test)")
        acc = ref["accuracy"]
        cells = " | ".join(f"{100 * acc[str(b)]:.2f} %" for b in bits)
        cells += f" | {100 * acc['dynamic']:.2f} %" if "dynamic" in acc else " | n/a"
        gap = 100 * (acc["8"] - acc["2"])
        lines.append(f"| [784,{w.n_hidden},10] | {w.meta['training_images']['count']:,} | "
                     f"{cells} | {gap:+.2f} pp |")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = cli.ArgumentParser(description="Print the test accuracy per precision recorded in "
                                "weights files (integer reference, 10k test set).")
    p.add_argument("weights", nargs="+", help="snn-weights/1 files")
    print(accuracy_table(p.parse_args(argv).weights))
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
