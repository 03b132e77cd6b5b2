"""Synthesis baselines (flows/baselines/nN.json) and the regression check against them.

A baseline records LUT4 (nextpnr ``TRELLIS_COMB``), FF, DP16KD, MULT18X18D and Fmax of one
configuration with a tolerance per figure.  Area may not grow, and Fmax may not drop, by
more than its tolerance (a regression fails the test); improvements beyond it are returned
as notes, so that the baseline can be refreshed on purpose.
"""

from __future__ import annotations

import json
from pathlib import Path

BASELINE_DIR = Path(__file__).resolve().parent / "baselines"
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
