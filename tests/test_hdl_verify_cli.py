"""flows/verify.py: argument errors exit 2 with one line; mismatches exit 1 (RTL stubbed)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from flows import rtl_sim, verify
from flows.rtl_sim import RtlResults
from golden.cycle_model import cycles_per_image
from golden.errors import UserError, run_cli
from golden.reference import infer


@pytest.mark.parametrize(("argv", "message"), [
    (["--neurons", "8", "--bits", "dynamic", "--interval", "20", "--random-seed", "1"],
     "interval must be below T"),
    (["--neurons", "8", "--bits", "dynamic", "--step-bits", "9", "--random-seed", "1"],
     "--step-bits: expected an integer in 0..6"),
    (["--neurons", "0", "--bits", "4", "--random-seed", "1"], "--neurons"),
    (["--neurons", "8", "--bits", "4", "--random-seed", "1", "--sparsity", "1.5"],
     "--sparsity"),
    (["--neurons", "8", "--bits", "4", "--random-seed", "1", "--images", "0"], "--images"),
    (["--neurons", "8", "--bits", "4", "--weights", "no/such.npz"], "does not exist"),
])
def test_bad_input_is_one_line_and_exit_2(argv, message, capsys):
    assert run_cli(verify.main, argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err


@pytest.mark.parametrize("bits", ["9", "1", "fast"])
def test_unknown_precision_is_one_line(bits, capsys):
    assert run_cli(verify.main, ["--neurons", "8", "--bits", bits, "--random-seed", "1"]) == 2
    assert "invalid choice" in capsys.readouterr().err


def test_unknown_simulator_is_one_line(monkeypatch):
    monkeypatch.setenv("SIM", "modelsim")
    with pytest.raises(UserError, match="SIM=modelsim"):
        rtl_sim.simulator_name()


def _stub_rtl(corrupt: bool):
    def run_rtl(config, w_hidden, w_out, batches, sim=None):
        out = []
        for batch in batches:
            ref = infer(w_hidden, w_out, batch.images, config, batch.settings)
            counters = dict(ref.counters)
            counters["cycles"] = cycles_per_image(config, batch.images, batch.settings, ref)
            counts = ref.counts.copy()
            if corrupt and len(counts) > 1:  # image 1 of the run; step re-runs are 1 image
                counts[1, 4] += 1
            elif corrupt and batch.settings.timesteps == 3:
                counts[0, 4] += 1
            out.append(RtlResults(ref.pred.copy(), counts, counters))
        return out
    return run_rtl


@pytest.mark.parametrize("corrupt", [False, True])
def test_json_summary_and_exit_code(corrupt, monkeypatch, capsys):
    monkeypatch.setattr(verify, "run_rtl", _stub_rtl(corrupt))
    monkeypatch.setattr(verify, "prepare", lambda *args: None)
    argv = ["--neurons", "9", "--bits", "3", "--random-seed", "5", "--lanes", "4",
            "--images", "3", "--json"]
    assert verify.main(argv) == (1 if corrupt else 0)
    summary = json.loads(capsys.readouterr().out)
    for key in ("images", "mismatches", "first_divergence", "rtl_accuracy",
                "reference_accuracy", "cycles_per_image"):
        assert key in summary
    assert summary["images"] == 3 and summary["lanes"] == 4
    assert summary["mismatches"] == (1 if corrupt else 0)
    if corrupt:
        assert summary["first_divergence"]["image"] == 1
        assert "count4" in summary["first_divergence"]["fields"]
        assert "step 2" in summary["first_divergence"]["location"]
        assert "neuron(s) [4]" in summary["first_divergence"]["location"]
    assert np.isclose(summary["rtl_accuracy"], summary["reference_accuracy"])
