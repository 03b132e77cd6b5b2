"""Synthesis baselines: the comparison logic (fast) and a real N=48 synthesis (slow).

The real synthesis (Yosys + nextpnr-ecp5, about 3-5 min on 2 cores) runs in ``make test``
and CI; ``SNN_SYNTH_TESTS=0`` skips it for a quick local run, ``make synth-test`` runs it
alone.
"""

import os

import numpy as np
import pytest

from flows.baseline import AREA_KEYS, compare, load_baseline


def _baseline():
    return {"utilization": {"LUT4": 1000, "FF": 500, "DP16KD": 29, "MULT18X18D": 6},
            "fmax_mhz": 50.0,
            "tolerance": {"LUT4": 0.05, "FF": 0.05, "DP16KD": 0.0, "MULT18X18D": 0.0,
                          "fmax_mhz": 0.1}}


def test_within_tolerance_passes():
    problems, notes = compare(_baseline(), {"LUT4": 1040, "FF": 490, "DP16KD": 29,
                                            "MULT18X18D": 6}, 46.0)
    assert problems == [] and notes == []


def test_regressions_fail():
    problems, _ = compare(_baseline(), {"LUT4": 1100, "FF": 500, "DP16KD": 30,
                                        "MULT18X18D": 6}, 40.0)
    assert len(problems) == 3
    assert any("LUT4 grew" in p for p in problems) and any("Fmax dropped" in p
                                                            for p in problems)


def test_improvements_are_notes():
    problems, notes = compare(_baseline(), {"LUT4": 800, "FF": 500, "DP16KD": 29,
                                            "MULT18X18D": 6}, 100.0)
    assert problems == [] and len(notes) == 2


@pytest.mark.parametrize("n", [48, 128])
def test_committed_baselines_agree_with_the_block_ram_model(n):
    """Each committed baseline is complete, describes a valid configuration of N neurons,
    and its DP16KD count is what the packing model (hdl/bram.py) predicts for it."""
    from golden.config import SNNConfig
    from hdl.bram import dp16kd_total

    baseline = load_baseline(n)
    assert set(baseline["utilization"]) == set(AREA_KEYS)
    assert set(baseline["tolerance"]) == {*AREA_KEYS, "fmax_mhz"}
    cfg = baseline["config"]
    config = SNNConfig(n_hidden=cfg["neurons"], lanes=cfg["lanes"],
                       block_size=cfg["block_size"], timesteps=cfg["timesteps"],
                       t_max=cfg["t_max"], events_per_cycle=cfg["events_per_cycle"])
    assert config.n_hidden == n
    assert baseline["utilization"]["DP16KD"] == dp16kd_total(config)
    # The design goal is 100 MHz, which the core with two events per cycle and image queueing
    # misses (78.1 MHz at N = 48, seed 1): the baselines are recorded as measured, so that
    # they guard against further loss, and this floor against a baseline taken from a
    # broken build.
    assert baseline["fmax_mhz"] >= 60.0


@pytest.mark.skipif(os.environ.get("SNN_SYNTH_TESTS") == "0",
                    reason="SNN_SYNTH_TESTS=0: synthesis skipped (make synth-test runs it)")
def test_n48_synthesis_matches_baseline(tmp_path):
    from flows.devices import board_device
    from flows.synth import synthesize
    from golden.config import SNNConfig
    from golden.networks import random_weights

    baseline = load_baseline(48)
    cfg = baseline["config"]
    config = SNNConfig(n_hidden=48, lanes=cfg["lanes"], block_size=cfg["block_size"],
                       timesteps=cfg["timesteps"], t_max=cfg["t_max"],
                       events_per_cycle=cfg["events_per_cycle"])
    rng = np.random.default_rng(baseline["seed"])
    w_hidden = random_weights(rng, (784, 48), 0.5)
    w_out = random_weights(rng, (48, 10), 0.3)
    result = synthesize(config, w_hidden, w_out, board_device("ulx3s-85f"), tmp_path,
                        freq_mhz=100.0, seed=baseline["seed"], progress=False,
                        placeholder_seed=None)  # the recorded weights, baked in
    used = {key: result.utilization[key]["used"] for key in AREA_KEYS}
    problems, notes = compare(baseline, used, result.fmax_mhz)
    assert not problems, "; ".join(problems + notes)
