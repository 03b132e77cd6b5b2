"""golden/evaluate.py: JSON output, --limit, --predictions, and exit codes."""

import json

import numpy as np

from golden.config import RunSettings
from golden.mnist import load_split
from golden.reference import COUNTER_NAMES, infer
from golden.weights import load_weights
from tests.conftest import assert_one_line_error, run_cli


def test_json_equals_reference_on_first_k_images(tiny_weights, tmp_path):
    out = tmp_path / "pred.npz"
    proc = run_cli("golden/evaluate.py", "--weights", tiny_weights, "--bits", 3, "--limit", 40,
                   "--json", "--predictions", out)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["images"] == 40 and report["bits"] == 3
    assert set(COUNTER_NAMES) <= set(report["counters"])
    w = load_weights(tiny_weights)
    test = load_split("test").first(40)
    ref = infer(w.w_hidden, w.w_out, test.images, w.config(), RunSettings.uniform(3))
    assert report["counters"] == ref.summed_counters()
    assert report["accuracy"] == float(np.mean(ref.pred == test.labels))
    with np.load(out) as saved:
        assert np.array_equal(saved["pred"], ref.pred)
        assert np.array_equal(saved["counts"], ref.counts) and saved["counts"].shape == (40, 10)


def test_mask_and_tau_reach_the_model(tiny_weights):
    """Half the neurons masked and tau = 40: the CLI's counters are the reference's with
    exactly these registers, and each register changes them."""
    def counters(*args):
        proc = run_cli("golden/evaluate.py", "--weights", tiny_weights, "--limit", 10,
                       "--json", "--bits", 6, *args)
        return json.loads(proc.stdout)["counters"]

    got = counters("--hidden-mask", "first:6", "--tau", 40)
    w = load_weights(tiny_weights)
    test = load_split("test").first(10)
    settings = RunSettings.uniform(6, tau_hidden=40, tau_out=40,
                                   hidden_mask=tuple(i < 6 for i in range(12)))
    assert got == infer(w.w_hidden, w.w_out, test.images, w.config(), settings).summed_counters()
    assert got["syn_below"] > 0 and got["syn_gated"] > 0 and got["hidden_spikes"] > 0
    assert got != counters("--hidden-mask", "first:6")
    assert got != counters("--tau", 40)


def test_bad_parameters_exit_2(tiny_weights):
    assert_one_line_error(run_cli("golden/evaluate.py", "--weights", tiny_weights,
                                  "--tau", 200), "--tau: expected an integer in 0..127")
    assert_one_line_error(run_cli("golden/evaluate.py", "--weights", tiny_weights,
                                  "--hidden-mask", "0101"), "--hidden-mask must be 12")
    assert_one_line_error(run_cli("golden/evaluate.py", "--weights", tiny_weights,
                                  "--limit", 0), "--limit: expected an integer >= 1")
    assert_one_line_error(run_cli("golden/evaluate.py", "--weights", tiny_weights,
                                  "--lanes", 0), "--lanes: expected an integer in 1..1024")
    proc = run_cli("golden/evaluate.py", "--weights", tiny_weights, "--bits", 9)
    assert proc.returncode == 2 and "invalid choice" in proc.stderr
    assert_one_line_error(run_cli("golden/evaluate.py", "--weights", "no/such.npz"),
                          "does not exist")


def test_human_readable_output(tiny_weights):
    proc = run_cli("golden/evaluate.py", "--weights", tiny_weights, "--limit", 20)
    assert proc.returncode == 0
    assert "accuracy" in proc.stdout and "weight_bits_read" in proc.stdout


def test_bits_all_sweeps_every_precision(tiny_weights):
    proc = run_cli("golden/evaluate.py", "--weights", tiny_weights, "--limit", 15, "--json",
                   "--bits", "all")
    summary = json.loads(proc.stdout)  # one object
    reports = summary["modes"]
    assert summary["images"] == 15
    assert [r["bits"] for r in reports] == [8, 7, 6, 5, 4, 3, 2, "dynamic"]
    bits_read = [r["counters"]["weight_bits_read"] for r in reports]
    assert all(r["images"] == 15 for r in reports) and len(set(bits_read)) > 1
    assert_one_line_error(run_cli("golden/evaluate.py", "--weights", tiny_weights, "--bits",
                                  "all", "--predictions", "x.npz"), "--predictions needs one")


def test_fewer_lanes_cost_cycles_not_accuracy(tiny_weights):
    reports = {}
    for lanes in (12, 3):
        proc = run_cli("golden/evaluate.py", "--weights", tiny_weights, "--limit", 10, "--json",
                       "--bits", 8, "--lanes", lanes)
        assert proc.returncode == 0, proc.stderr
        reports[lanes] = json.loads(proc.stdout)
    assert reports[3]["accuracy"] == reports[12]["accuracy"]
    assert reports[3]["cycles_per_image"] > reports[12]["cycles_per_image"]
