"""Mutation check: break one rule of the specification at a time and see the tests fail.

Each mutant is a one-rule change to the reference model (golden/reference.py) or the
controller (golden/controller.py), applied in a scratch copy of the project under
``build/mutants/``.  ``pytest tests`` must fail for every mutant ("killed"); a mutant that
survives names a rule that no test guards.  Run with ``make mutants`` (a few minutes: the
test files that guard the model run first and pytest stops at the first failure).

    python -m tests.mutants            # every mutant, a kill table, exit 1 if one survives
    python -m tests.mutants --list     # the mutants and the rule each breaks
    python -m tests.mutants -k leak    # only mutants whose name contains 'leak'
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRATCH = ROOT / "build" / "mutants"
REFERENCE, CONTROLLER = "golden/reference.py", "golden/controller.py"
FIRST_TESTS = ("tests/test_reference.py", "tests/test_controller.py", "tests/test_geometry.py",
               "tests/test_model.py", "tests/test_evaluate_cli.py")
"""Test files that guard the model, run first so that a mutant dies in seconds."""


@dataclass(frozen=True)
class Mutant:
    """Replace ``old`` by ``new`` in ``path`` (every occurrence; there must be ``count``)."""

    name: str
    rule: str
    path: str
    old: str
    new: str
    count: int = 1


MUTANTS = (
    Mutant("encoding-phase", "sigma-delta encoding adds 128 before the shift", REFERENCE,
           "return ((t + 1) * x + 128) >> 8 != (t * x + 128) >> 8",
           "return ((t + 1) * x + 127) >> 8 != (t * x + 127) >> 8"),
    Mutant("quantizer-rounds", "q_b truncates the magnitude toward zero", REFERENCE,
           "return np.sign(w) * ((np.abs(w) >> shift) << shift)",
           "return np.sign(w) * np.minimum(((np.abs(w) + (1 << shift >> 1)) >> shift) << shift,"
           " 127)"),
    Mutant("fire-on-equal", "a neuron spikes iff v > theta (strict)", REFERENCE,
           "fired = updated > theta", "fired = updated >= theta"),
    Mutant("reset-to-zero", "reset by subtraction of theta", REFERENCE,
           "v -= fired * theta", "v -= fired * v"),
    Mutant("leak-rounds-toward-zero", "leak v -= v >> k with an arithmetic shift", REFERENCE,
           "return v - (v >> shift)", "return v - np.trunc(v / (1 << shift)).astype(v.dtype)"),
    Mutant("tie-to-smaller-membrane", "ties go to the larger final output membrane", REFERENCE,
           "best = top & (v == v.max(axis=1, keepdims=True))",
           "best = top & (v == np.where(top, out_membrane, np.iinfo(np.int64).max)"
           ".min(axis=1, keepdims=True))"),
    Mutant("tie-to-higher-index", "remaining ties go to the lower class index", REFERENCE,
           "return np.argmax(best, axis=1)",
           "return best.shape[1] - 1 - np.argmax(best[:, ::-1], axis=1)"),
    Mutant("tau-boundary", "a synapse with |q_b(w)| = tau is active, not below", REFERENCE,
           "active = (mag != 0) & (mag >= tau)", "active = (mag != 0) & (mag > tau)"),
    Mutant("metadata-bits", "every block's 7 metadata bits are read", REFERENCE,
           "return MAGNITUDE_BITS * len(self.block_widths)",
           "return (MAGNITUDE_BITS + 1) * len(self.block_widths)"),
    Mutant("mask-ignored-in-block-skip", "a block with no unmasked neuron reads no planes",
           REFERENCE, "return (self.bits * self.block_widths * block_on).astype(np.float32)",
           "return (self.bits * self.block_widths * (block_on | True)).astype(np.float32)"),
    Mutant("metadata-tau-ignored", "planes are read iff q_b(m) != 0 and q_b(m) >= tau",
           REFERENCE, "planes_enabled=((meta != 0) & (meta >= tau))",
           "planes_enabled=(meta != 0)"),
    Mutant("membrane-updates-count-masked", "membrane_updates counts unmasked neurons only",
           REFERENCE, "n_on = config.n_hidden if on is None else on.sum(axis=-1)",
           "n_on = config.n_hidden"),
    Mutant("gated-counted-as-zero", "a synapse of a masked neuron is gated, not zero",
           REFERENCE, "classes = np.stack([self.active @ on_f, self.zero @ on_f,",
           "classes = np.stack([self.active @ on_f, self.zero.sum(axis=1),"),
    Mutant("exit-margin-strict", "an image stops when the margin is >= exit_margin",
           CONTROLLER, "leave = (ctl.exit_margin > 0) & (margin >= ctl.exit_margin)",
           "leave = (ctl.exit_margin > 0) & (margin > ctl.exit_margin)"),
    Mutant("escalate-on-equal", "escalate while the margin is below escalate_margin",
           CONTROLLER, "escalate = margin[~leave] < ctl.escalate_margin",
           "escalate = margin[~leave] <= ctl.escalate_margin"),
    Mutant("gate-on-last-step-only", "gating keeps neurons that fired since the image started",
           CONTROLLER, "self._fired_ever[rows] |= spikes", "self._fired_ever[rows] = spikes"),
    Mutant("precision-changes-counts-escalations",
           "precision_changes counts decisions that changed a precision", CONTROLLER,
           "self.changes[stay] += (new_bits != self.bits[stay]).any(axis=1)",
           "self.changes[stay] += escalate"),
    Mutant("block-gating-on-equal",
           "block gating switches off blocks with fewer than K fired neurons", CONTROLLER,
           "return np.repeat(fired >= gate_blocks, widths, axis=1)",
           "return np.repeat(fired > gate_blocks, widths, axis=1)"),
    Mutant("block-gating-after-exit", "block gating acts on the images that stay only",
           CONTROLLER, "self.mask[stay] &= busy_blocks(self._fired_ever[stay], self._block_size,",
           "self.mask[rows] &= busy_blocks(self._fired_ever[rows], self._block_size,"),
)


def scratch_copy(mutant: Mutant) -> Path:
    """A copy of the tracked project files with ``mutant`` applied."""
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                           check=True).stdout.split()
    target = SCRATCH / mutant.name
    shutil.rmtree(target, ignore_errors=True)
    for name in files:
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    path = target / mutant.path
    text = path.read_text()
    found = text.count(mutant.old)
    if found != mutant.count:
        raise SystemExit(f"error: mutant {mutant.name}: {mutant.path} holds {found} "
                         f"occurrence(s) of its pattern, expected {mutant.count}")
    path.write_text(text.replace(mutant.old, mutant.new))
    return target


def run_tests(project: Path, timeout: float) -> tuple[str, str]:
    """(outcome, first failing test) of ``pytest tests`` in ``project``, model tests first."""
    from golden.mnist import SHARED_MNIST

    env = {**os.environ, "PYTHONPATH": str(project), "PYTHONDONTWRITEBYTECODE": "1"}
    env.setdefault("MNIST_DIR", str(SHARED_MNIST))
    rest = sorted(str(p.relative_to(project)) for p in (project / "tests").glob("test_*.py")
                  if str(p.relative_to(project)) not in FIRST_TESTS)
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
               *FIRST_TESTS, *rest]
    try:
        done = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return "timeout", ""
    failed = [line.split(" ")[1] for line in done.stdout.splitlines()
              if line.startswith(("FAILED ", "ERROR "))]
    if done.returncode == 0:
        return "SURVIVED", ""
    return "killed", failed[0] if failed else f"pytest exit {done.returncode}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--list", action="store_true", help="list the mutants and exit")
    p.add_argument("-k", dest="select", default="", help="only mutants whose name has this")
    p.add_argument("--timeout", type=float, default=900, help="seconds per mutant")
    args = p.parse_args(argv)
    chosen = [m for m in MUTANTS if args.select in m.name]
    if args.list:
        for m in chosen:
            print(f"{m.name:<38} {m.path:<22} {m.rule}")
        return 0
    survivors = 0
    print(f"{'mutant':<38} {'outcome':<9} {'seconds':>7}  first failing test")
    for mutant in chosen:
        started = time.monotonic()
        outcome, test = run_tests(scratch_copy(mutant), args.timeout)
        survivors += outcome != "killed"
        print(f"{mutant.name:<38} {outcome:<9} {time.monotonic() - started:>7.0f}  {test}",
              flush=True)
        shutil.rmtree(SCRATCH / mutant.name, ignore_errors=True)
    print(f"{len(chosen) - survivors} of {len(chosen)} mutants killed")
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main())
