"""The virtual board (``boards/demo.py --sim``) end to end: the demo's serial path, a
pseudo-terminal, the UART top in Verilator at the boards' clock and bit timing.

A small random network (N = 12) keeps the simulation quick; the N = 128 figures are in
docs/boards.md.  Checked: every answer equals the reference, the simulated throughput is
near the line-rate bound, and over a noisy line no wrong answer is accepted, nothing hangs,
every image is answered or reported lost, and the retries are counted.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from flows.rtl_sim import PROJECT_ROOT


@pytest.fixture(scope="module")
def small_weights(tmp_path_factory):
    from golden.weights import Weights, save_weights

    rng = np.random.default_rng(4)
    path = tmp_path_factory.mktemp("weights") / "small.npz"
    save_weights(path, Weights(rng.integers(-127, 128, (784, 12)).astype(np.int8),
                               rng.integers(-127, 128, (12, 10)).astype(np.int8),
                               theta_hidden=900, theta_out=200, leak_hidden=3, leak_out=0,
                               timesteps=8))
    return path


def _demo(weights, *args) -> dict:
    proc = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "boards/demo.py"), "--sim", "--weights",
         str(weights), "--json", *map(str, args)],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=1500)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


def test_virtual_board_answers_like_the_reference(small_weights):
    summary = _demo(small_weights, "--images", 12)
    assert summary["mismatches"] == 0 and summary["lost"] == 0 and summary["retries"] == 0
    assert summary["accuracy"] == summary["reference_accuracy"]
    # 12 frames and one answer's latency: at least 80 % of the bound in simulated time
    assert 0.8 <= summary["simulated_fraction_of_bound"] <= 1.0


def test_virtual_board_over_a_noisy_line(small_weights):
    summary = _demo(small_weights, "--images", 12, "--fault-rate", 0.003, "--seed", 2)
    faults = sum(n for side in summary["line_faults"].values() for n in side.values())
    assert faults > 0 and summary["retries"] > 0
    assert summary["mismatches"] == 0
    assert summary["images"] == 12 and len(summary["lost_images"]) == summary["lost"]
