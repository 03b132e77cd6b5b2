"""Synthesis baselines (flows/baselines/nN.json) and the regression check against them.

A baseline records LUT4 (nextpnr ``TRELLIS_COMB``), FF, DP16KD, MULT18X18D and Fmax of one
configuration with a tolerance per figure.  Area may not grow, and Fmax may not drop, by
more than its tolerance (a regression fails the test); improvements beyond it are returned
as notes, so that the baseline can be refreshed on purpose.
"""

from __future__ import annotations

import json

from golden.energy import BASELINE_DIR

AREA_KEYS = ("LUT4", "FF", "DP16KD", "MULT18X18D")


def load_baseline(n_hidden: int) -> dict:
    """The committed baseline of ``[784, n_hidden, 10]``."""
    return json.loads((BASELINE_DIR / f"n{n_hidden}.json").read_text())


def baseline_from_report(report: dict, tolerance: dict[str, float]) -> dict:
    """A baseline dict from a build's ``report.json`` contents."""
    used = {key: report["utilization"][key]["used"] for key in AREA_KEYS
            if key in report["utilization"]}
    return {"config": report["config"], "device": report["device"], "seed": report["seed"],
            "weights": report["weights"]["kind"], "tools": report["tools"],
            "utilization": used, "fmax_mhz": report["fmax_mhz"], "tolerance": tolerance}


def compare(baseline: dict, utilization: dict[str, int],
            fmax_mhz: float | None) -> tuple[list[str], list[str]]:
    """(regressions, improvements) against ``baseline``, one sentence each.

    Tolerances are fractions: ``{"LUT4": 0.05, ..., "fmax_mhz": 0.10}``.
    """
    problems, notes = [], []
    tol = baseline["tolerance"]
    for key, reference in baseline["utilization"].items():
        got = utilization.get(key)
        limit = tol.get(key, 0.0)
        if got is None:
            problems.append(f"{key} is missing from the build")
        elif got > reference * (1 + limit):
            problems.append(f"{key} grew from {reference} to {got} (> {limit:.0%})")
        elif got < reference * (1 - limit):
            notes.append(f"{key} shrank from {reference} to {got} (beyond {limit:.0%}): "
                         "update the baseline")
    reference = baseline["fmax_mhz"]
    limit = tol.get("fmax_mhz", 0.0)
    if fmax_mhz is None or fmax_mhz < reference * (1 - limit):
        problems.append(f"Fmax dropped from {reference} to {fmax_mhz} MHz (> {limit:.0%})")
    elif fmax_mhz > reference * (1 + limit):
        notes.append(f"Fmax rose from {reference} to {fmax_mhz} MHz (beyond {limit:.0%}): "
                     "update the baseline")
    return problems, notes


DEFAULT_TOLERANCE = {"LUT4": 0.05, "FF": 0.05, "DP16KD": 0.0, "MULT18X18D": 0.0,
                     "fmax_mhz": 0.10}
"""Tolerances (fractions): area +-5 %, block RAM and multipliers exact, Fmax +-10 %."""


def main(argv: list[str] | None = None) -> int:
    """Refresh a baseline from a ``--weights random`` build: ``python -m flows.baseline
    OUT/report.json`` writes ``flows/baselines/nN.json``."""
    from golden import cli
    from golden.errors import UserError
    from golden.weights import write_atomic

    p = cli.ArgumentParser(description=main.__doc__)
    p.add_argument("report", type=cli.input_file,
                   help="report.json of a build with --weights random")
    args = p.parse_args(argv)
    try:
        report = json.loads(args.report.read_text())
    except (OSError, ValueError) as err:
        raise UserError(f"{args.report} is not a readable report.json ({err})") from None
    if not report.get("weights", {}).get("kind", "").startswith("random"):
        raise UserError(f"{args.report} was not built with --weights random; the baseline "
                        "test rebuilds random weights from the recorded seed")
    baseline = baseline_from_report(report, DEFAULT_TOLERANCE)
    path = BASELINE_DIR / f"n{report['config']['neurons']}.json"
    write_atomic(path, json.dumps(baseline, indent=1) + "\n")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    import sys

    from golden.errors import run_cli

    sys.exit(run_cli(main))
