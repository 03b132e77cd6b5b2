"""flows/sweep.py: bad input, skipped points, and a tiny synthesis sweep on a separately
started Dask scheduler with two workers, compared with the same sweep on a LocalCluster and
resumed from its own results (all on 127.0.0.1)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flows.sweep_report import comparable, load
from tests.conftest import assert_one_line_error

ROOT = Path(__file__).resolve().parents[1]
SWEEP = [sys.executable, str(ROOT / "flows" / "sweep.py")]
DASK = str(Path(sys.executable).with_name("dask"))
TINY = ["--neurons", "6", "8", "--weights", "random", "--stage", "synth", "--quiet"]
"""Two points of a few thousand LUT4s each: Yosys only, about 20 s each on one core."""


def _sweep(*argv, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([*SWEEP, *map(str, argv)], capture_output=True, text=True,
                          cwd=ROOT, timeout=timeout)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("argv, fragment", [
    (["--board", "no-such-board"], "unknown board"),
    (["--seeds", "-1"], "--seeds"),
    (["--lanes", "0"], "--lanes"),
    (["--bits", "9"], "--bits"),
    (["--stage", "route"], "--stage"),
    (["--neurons", "48", "128", "--weights", "missing.npz"], "single --neurons"),
    (["--neurons", "48", "--weights", "missing.npz"], "does not exist"),
])
def test_bad_input_is_one_line(tmp_path, argv, fragment):
    proc = _sweep(*argv, "--out", tmp_path / "out", timeout=180)
    assert_one_line_error(proc, fragment)
    assert not (tmp_path / "out").exists()


def test_unreachable_scheduler_is_one_line(tmp_path):
    proc = _sweep(*TINY, "--scheduler", f"tcp://127.0.0.1:{_free_port()}",
                  "--connect-timeout", "1", "--out", tmp_path / "out", timeout=180)
    assert_one_line_error(proc, "cannot reach the Dask scheduler")
    assert not (tmp_path / "out").exists()


def test_points_that_cannot_fit_are_skipped_with_the_reason(tmp_path):
    proc = _sweep("--neurons", "128", "--lanes", "128", "--weights", "random", "--board",
                  "ulx3s-12f", "--stage", "synth", "--workers", "1", "--quiet",
                  "--out", tmp_path, timeout=180)
    assert proc.returncode == 0, proc.stderr
    [point] = load(tmp_path)["points"]
    assert point["status"] == "skipped" and "DP16KD" in point["reason"]
    assert "skipped" in (tmp_path / "sweep.md").read_text()


def _start(argv: list[str], log: Path) -> subprocess.Popen:
    with log.open("w") as stderr:
        return subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=stderr,
                                start_new_session=True)


def _stop(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_separate_scheduler_gives_the_local_results_and_a_rerun_resumes(tmp_path):
    address_file = tmp_path / "scheduler.json"
    procs = [_start([DASK, "scheduler", "--host", "127.0.0.1", "--port", "0",
                     "--no-dashboard", "--scheduler-file", str(address_file)],
                    tmp_path / "scheduler.log")]
    try:
        deadline = time.monotonic() + 30
        while not address_file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        address = json.loads(address_file.read_text())["address"]
        assert address.startswith("tcp://127.0.0.1:")
        procs += [_start([DASK, "worker", address, "--host", "127.0.0.1", "--nthreads", "1",
                          "--no-dashboard", "--name", f"w{i}"], tmp_path / f"worker{i}.log")
                  for i in range(2)]
        remote = _sweep(*TINY, "--scheduler", address, "--out", tmp_path / "remote")
    finally:
        _stop(procs)
    assert remote.returncode == 0, remote.stderr
    local = _sweep(*TINY, "--workers", "2", "--out", tmp_path / "local")
    assert local.returncode == 0, local.stderr
    remote_points, local_points = load(tmp_path / "remote"), load(tmp_path / "local")
    assert [p["status"] for p in local_points["points"]] == ["done", "done"]
    assert comparable(remote_points) == comparable(local_points)
    assert remote_points["timing"]["workers"] == local_points["timing"]["workers"] == 2
    again = _sweep(*TINY, "--workers", "1", "--out", tmp_path / "local", timeout=180)
    assert again.returncode == 0, again.stderr
    resumed = load(tmp_path / "local")
    assert all(p["reused"] for p in resumed["points"])
    assert comparable(resumed) == comparable(local_points)


def test_build_keeps_the_best_seed_and_lists_every_seed(tmp_path, monkeypatch):
    import argparse

    import flows.sweep
    from flows.build import best_seed

    def fake_place_seeds(args, n, spec, out):
        points = []
        for seed, fmax in zip(args.seeds, (90.5, 104.25, None), strict=True):
            name = f"seed{seed}"
            (out / "points" / name / "work").mkdir(parents=True)
            (out / "points" / name / "work" / "stamp.json").write_text(str(seed))
            points.append({"name": name, "inputs": {"seed": seed},
                           **({"status": "done", "result": {"fmax_mhz": fmax, "lut4": 9}}
                              if fmax else {"status": "failed", "error": "nextpnr failed"})})
        return points

    monkeypatch.setattr(flows.sweep, "place_seeds", fake_place_seeds)
    seeds = best_seed(argparse.Namespace(seeds=[1, 2, 3]), 8, "random", tmp_path)
    assert seeds["best"] == 2
    assert [r["fmax_mhz"] for r in seeds["rows"]] == [90.5, 104.25, None]
    assert (tmp_path / "work-n8" / "stamp.json").read_text() == "2"
