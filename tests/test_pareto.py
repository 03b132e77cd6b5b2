"""flows/pareto.py and the energy/mode options of golden/evaluate.py."""

import json

import numpy as np
import pytest

from flows.pareto import pareto_front, tau_for_fraction
from tests.conftest import assert_one_line_error, run_cli


def test_pareto_front_keeps_only_undominated_points():
    points = [(1.0, 0.90), (2.0, 0.95), (2.0, 0.94), (3.0, 0.95), (0.5, 0.80)]
    assert pareto_front(points) == [True, True, False, False, True]


def test_tau_for_fraction_prunes_at_least_that_fraction():
    w = np.arange(-100, 101)
    for fraction in (0.5, 0.8):
        tau = tau_for_fraction(w, fraction)
        assert np.mean(np.abs(w) < tau) >= fraction > np.mean(np.abs(w) < tau - 1)


def test_pareto_cli_writes_table_plot_and_json(tiny_weights, tmp_path):
    out = tmp_path / "pareto"
    proc = run_cli("flows/pareto.py", "--weights", tiny_weights, "--limit", 30, "--out", out)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((out / "pareto.json").read_text())
    labels = [r["label"] for r in summary["rows"]]
    assert {"8-bit", "2-bit", "dynamic (default)"} <= set(labels)
    assert any(r["front_energy_per_image_uj"] for r in summary["rows"])
    assert (out / "pareto.png").read_bytes()[:4] == b"\x89PNG"
    by = {r["label"]: r for r in summary["rows"]}
    # Fewer planes read costs less in the event model.
    assert by["2-bit"]["energy_per_image_uj"] < by["8-bit"]["energy_per_image_uj"]
    assert "Pareto" in (out / "pareto.md").read_text()


def test_evaluate_reports_energy_for_every_mode(tiny_weights):
    reports = {}
    for mode in (["--bits", "8"], ["--bits", "2"], ["--bits", "dynamic"],
                 ["--bits", "8", "--gate"]):
        proc = run_cli("golden/evaluate.py", "--weights", tiny_weights, "--limit", 20,
                       "--json", *mode)
        assert proc.returncode == 0, proc.stderr
        reports[" ".join(mode)] = json.loads(proc.stdout)
    for report in reports.values():
        assert report["energy_per_image_uj"] > 0 and report["cycles_per_image"] > 0
    assert reports["--bits dynamic"]["registers"]["controller"]["start_bits_hidden"] == 4
    assert reports["--bits 8 --gate"]["registers"]["controller"]["gate_idle"] is True


@pytest.mark.parametrize("args, message", [
    (["--bits", "dynamic", "--interval", "8"], "interval must be below T = 8"),
    (["--bits", "dynamic", "--start-bits", "9"], "--start-bits: expected an integer in 2..8"),
    (["--bits", "dynamic", "--step-bits", "2,x"], "--step-bits: expected an integer in 0..6"),
    (["--bits", "dynamic", "--exit-margin", "40"], "exit_margin must be in 0.."),
    (["--bits", "dynamic", "--gate-blocks", "200"], "gate_blocks must be in 0.."),
    (["--bits", "4", "--gate-blocks", "x"], "--gate-blocks: expected an integer"),
])
def test_bad_controller_flags_exit_2(tiny_weights, args, message):
    assert_one_line_error(run_cli("golden/evaluate.py", "--weights", tiny_weights, *args),
                          message)


def test_pareto_study_table_relative_to_dense_8_bit(tiny_weights, tmp_path):
    """The same file as the 'sparse' model: its 8-bit row equals the baseline (factor 1)."""
    twin = tmp_path / "twin.npz"
    twin.write_bytes(tiny_weights.read_bytes())
    out = tmp_path / "pareto"
    proc = run_cli("flows/pareto.py", "--weights", tiny_weights, "--limit", 20, "--out", out,
                   "--sparse-weights", twin, "--gate-blocks", 3, "--block-size", 4,
                   "--study-lanes", 12, "4", "4:3", "12")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((out / "pareto.json").read_text())
    assert summary["block_size"] == 4 and summary["lanes"] == 12
    tables = summary["studies"]
    assert [(t["lanes"], t["block_size"]) for t in tables] == [(12, 4), (4, 4), (4, 3)]
    rows = tables[0]["rows"]
    narrow = tables[1]["rows"][0]
    assert narrow["accuracy"] == rows[0]["accuracy"]
    assert narrow["cycles_per_image"] > rows[0]["cycles_per_image"]  # 3 chunks per row, not 1
    assert [r["family"] for r in rows[:4]] == ["baseline", "quantization only",
                                               "quantization only", "pruning only"]
    base, twin_8 = rows[0], rows[3]
    assert base["energy_factor"] == base["edp_factor"] == 1.0
    assert twin_8["model"] == "twin.npz"
    assert twin_8["energy_factor"] == pytest.approx(1.0) and twin_8["delta_pp"] == 0
    gated = [r for r in rows if r["label"] == "dynamic + block gating 3"]
    assert len(gated) == 2
    assert "Schaefer et al. 2023" in (out / "pareto.md").read_text()


def test_pareto_study_lanes_must_be_l_or_l_colon_b(tiny_weights, tmp_path):
    assert_one_line_error(
        run_cli("flows/pareto.py", "--weights", tiny_weights, "--limit", 5, "--out",
                tmp_path / "p", "--study-lanes", "4:x"),
        "is not L or L:B")
    assert_one_line_error(
        run_cli("flows/pareto.py", "--weights", tiny_weights, "--limit", 5, "--out",
                tmp_path / "p", "--gate-blocks", 3, "--study-lanes", "4:2"),
        "is more than the block size 2 of the study at L = 4")


def test_pareto_study_rejects_sparse_files_of_another_shape(tiny_weights, tmp_path):
    assert_one_line_error(
        run_cli("flows/pareto.py", "--weights", tiny_weights, "--limit", 5, "--out",
                tmp_path / "p", "--sparse-weights", "weights/mnist-784-128-10-s80.npz"),
        "the study compares one shape")
