"""Digests of the reference model's and the RTL check's JSON outputs on fixed cases.

A refactoring of the reference engine, the cycle model or the energy model must leave every
figure as it was.  This script runs fixed commands, drops what depends on the machine
(``images_per_second``, ``simulation_seconds``) and hashes the rest; the digests of the last
accepted state are committed in ``tests/data/reference_digests.json``.

    python -m tests.reference_digest              # print the digests of every case
    python -m tests.reference_digest --check      # compare with the committed ones (exit 1)
    python -m tests.reference_digest --quick ...  # only the fast cases (seconds)
    python -m tests.reference_digest --update     # rewrite the committed file

The quick cases run in ``make test``; the full ones (10k images, RTL simulations, about
2 minutes) when the engine changes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DIGESTS = ROOT / "tests" / "data" / "reference_digests.json"
MACHINE_FIELDS = ("images_per_second", "simulation_seconds")
W48 = "weights/mnist-784-48-10.npz"

QUICK_CASES = {
    "evaluate-all-1000": ["golden/evaluate.py", "--bits", "all", "--json", "--limit", "1000"],
    "evaluate-48-lanes16-500": ["golden/evaluate.py", "--bits", "all", "--json",
                                "--weights", W48, "--lanes", "16", "--limit", "500"],
    "evaluate-tau-gate-1000": ["golden/evaluate.py", "--bits", "6", "--tau", "20", "--gate",
                               "--json", "--limit", "1000"],
    "evaluate-mask-1000": ["golden/evaluate.py", "--bits", "5", "--hidden-mask", "first:70",
                           "--timesteps", "12", "--lanes", "32", "--json", "--limit", "1000"],
    "evaluate-dynamic-gate-1000": ["golden/evaluate.py", "--bits", "dynamic", "--tau", "10",
                                   "--gate", "--lanes", "32", "--json", "--limit", "1000"],
}
FULL_CASES = {
    "evaluate-all-10k": ["golden/evaluate.py", "--bits", "all", "--json"],
    "evaluate-48-lanes16-3000": ["golden/evaluate.py", "--bits", "all", "--json",
                                 "--weights", W48, "--lanes", "16", "--limit", "3000"],
    "verify-37-3bit": ["flows/verify.py", "--neurons", "37", "--bits", "3", "--random-seed",
                       "7", "--sparsity", "0.6", "--lanes", "8", "--images", "40", "--json"],
    "verify-37-dynamic-gate": ["flows/verify.py", "--neurons", "37", "--bits", "dynamic",
                               "--gate", "--tau", "10", "--random-seed", "7", "--lanes", "8",
                               "--images", "40", "--json"],
    "verify-128-dynamic": ["flows/verify.py", "--neurons", "128", "--bits", "dynamic",
                           "--weights", "weights/mnist-784-128-10.npz", "--images", "100",
                           "--json"],
}


def normalized(stdout: str) -> list[dict]:
    """The JSON objects a command printed (one per line, or one indented object; the
    ``modes`` of an ``evaluate --bits all`` object, each of which repeats its fields), without
    the fields that depend on the machine."""
    text = stdout.strip()
    try:
        objects = [json.loads(text)]
    except json.JSONDecodeError:
        objects = [json.loads(line) for line in text.splitlines() if line.strip()]
    if len(objects) == 1 and "modes" in objects[0]:
        objects = objects[0]["modes"]
    for obj in objects:
        for key in MACHINE_FIELDS:
            obj.pop(key, None)
    return objects


def digest(argv: list[str]) -> str:
    """SHA-256 of the normalized output of ``python ARGV`` run in the project root."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, *argv], cwd=ROOT, env=env, capture_output=True,
                          text=True, check=True)
    canonical = json.dumps(normalized(done.stdout), sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="only the fast cases")
    p.add_argument("--check", action="store_true", help="compare with the committed digests")
    p.add_argument("--update", action="store_true", help="rewrite the committed digests")
    args = p.parse_args(argv)
    cases = dict(QUICK_CASES) if args.quick else {**QUICK_CASES, **FULL_CASES}
    committed = json.loads(DIGESTS.read_text()) if DIGESTS.exists() else {}
    got, bad = {}, []
    for name, case in cases.items():
        got[name] = digest(case)
        same = committed.get(name) == got[name]
        bad += [] if same else [name]
        print(f"{name:<28} {got[name][:16]}  {'same' if same else 'DIFFERENT'}", flush=True)
    if args.update:
        DIGESTS.parent.mkdir(exist_ok=True)
        DIGESTS.write_text(json.dumps({**committed, **got}, indent=2, sort_keys=True) + "\n")
    return 1 if args.check and bad else 0


if __name__ == "__main__":
    sys.exit(main())
