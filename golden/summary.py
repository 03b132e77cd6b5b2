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
        try:
            acc = {key: _fraction(value) for key, value in ref["accuracy"].items()}
            cells = " | ".join(f"{100 * acc[str(b)]:.2f} %" for b in bits)
            gap = 100 * (acc["8"] - acc["2"])
            count = int(w.meta["training_images"]["count"])
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise UserError(f"{path} has an incomplete accuracy record in its meta "
                            f"({type(err).__name__}: {err}); golden/evaluate.py --bits all "
                            "--write-meta rewrites it") from None
        cells += f" | {100 * acc['dynamic']:.2f} %" if "dynamic" in acc else " | n/a"
        lines.append(f"| [784,{w.n_hidden},10] | {count:,} | {cells} | {gap:+.2f} pp |")
    return "\n".join(lines)


def _fraction(value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ValueError(f"accuracy {value!r} is not a fraction in 0..1")
    return float(value)


def main(argv=None) -> int:
    p = cli.ArgumentParser(description="Print the test accuracy per precision recorded in "
                                "weights files (integer reference, 10k test set).")
    p.add_argument("weights", nargs="+", help="snn-weights/1 files")
    print(accuracy_table(p.parse_args(argv).weights))
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
