"""Block-structured pruning during training: schedule, masks and a smoke run."""

import math

import numpy as np
import pytest
import torch

from golden.pruning import block_mask, cubic_sparsity, expand_mask
from golden.weights import load_weights, zero_block_fraction
from tests.conftest import assert_one_line_error, run_cli


def test_cubic_schedule_rises_from_start_to_end_then_holds():
    assert cubic_sparsity(0.05, 0.9, 0.1, 0.5) == 0
    assert cubic_sparsity(0.1, 0.9, 0.1, 0.5) == 0
    assert cubic_sparsity(0.3, 0.9, 0.1, 0.5) == pytest.approx(0.9 * (1 - 0.5**3))
    assert cubic_sparsity(0.5, 0.9, 0.1, 0.5) == 0.9
    assert cubic_sparsity(1.0, 0.9, 0.1, 0.5) == 0.9
    assert cubic_sparsity(0.3, 0.9, 0.3, 0.3) == 0.9


def test_block_mask_drops_the_weakest_blocks_with_a_narrower_last_block():
    w = torch.zeros(3, 10)  # B = 4: blocks of 4, 4 and 2 neurons per row
    w[0, 0], w[1, 5], w[2, 9], w[2, 1] = 0.5, 0.4, 0.3, 0.2
    keep = block_mask(w, 4, 0.5)  # 9 blocks: drop ceil(4.5) = 5
    assert keep.shape == (3, 3) and int((~keep).sum()) == 5
    assert keep[0, 0] and keep[1, 1] and keep[2, 2] and keep[2, 0]
    full = expand_mask(keep, 10, 4)
    assert full.shape == (3, 10) and torch.equal(full[2, 8:], torch.ones(2))
    w_int = np.zeros((3, 10), dtype=np.int8)
    w_int[0, 9] = -1
    assert zero_block_fraction(w_int, 4) == pytest.approx(8 / 9)


def test_pruned_training_reaches_the_sparsity_and_records_it(tmp_path):
    out = tmp_path / "pruned.npz"
    proc = run_cli("golden/train.py", "--neurons", 20, "--epochs", 2, "--train-limit", 256,
                   "--val", 64, "--batch", 64, "--out", out, "--quiet", "--skip-test",
                   "--threads", 1, "--sparsity", 0.8, "--block-size", 8,
                   "--prune-start", 0.1, "--prune-end", 0.4)
    assert proc.returncode == 0, proc.stderr
    w = load_weights(out)
    rows, n_blocks = 784, math.ceil(20 / 8)
    padded = np.zeros((rows, n_blocks * 8), dtype=int)
    padded[:, :20] = np.abs(w.w_hidden)
    zero = (padded.reshape(rows, n_blocks, 8).max(-1) == 0).mean()
    assert zero >= 0.8 and np.abs(w.w_hidden).max() > 0 and np.abs(w.w_out).max() > 0
    pruning = w.meta["pruning"]
    assert pruning["sparsity"] == 0.8 and pruning["block_size"] == 8
    assert pruning["prune_start"] == 0.1 and pruning["prune_end"] == 0.4
    assert pruning["block_sparsity"] == pytest.approx(zero)
    assert "cubic" in pruning["schedule"]
    assert all("block_sparsity" in h for h in w.meta["history"])


@pytest.mark.parametrize("value", ["0.98", "1", "-0.1", "nan", "inf", "x"])
def test_bad_sparsity_is_one_error_line(tmp_path, value):
    proc = run_cli("golden/train.py", "--out", tmp_path / "x.npz", "--sparsity", value)
    assert_one_line_error(proc, "--sparsity")
    assert not (tmp_path / "x.npz").exists()


def test_prune_start_after_end_is_one_error_line(tmp_path):
    proc = run_cli("golden/train.py", "--out", tmp_path / "x.npz", "--sparsity", "0.5",
                   "--prune-start", "0.6", "--prune-end", "0.4")
    assert_one_line_error(proc, "--prune-start")


def _tiny_training(tmp_path, name, *extra):
    out = tmp_path / f"{name}.npz"
    proc = run_cli("golden/train.py", "--neurons", 12, "--epochs", 1, "--train-limit", 128,
                   "--val", 32, "--batch", 64, "--out", out, "--quiet", "--skip-test",
                   "--threads", 1, "--timesteps", 8, *extra)
    assert proc.returncode == 0, proc.stderr
    return load_weights(out)


def test_a_dense_teacher_changes_the_training_and_is_recorded(tmp_path, tiny_weights):
    plain = _tiny_training(tmp_path, "plain")
    taught = _tiny_training(tmp_path, "taught", "--teacher", tiny_weights,
                            "--teacher-weight", 5)
    assert taught.meta["teacher"]["file"] == tiny_weights.name
    assert taught.meta["teacher"]["weight"] == 5
    assert plain.meta["teacher"] is None
    assert not np.array_equal(plain.w_hidden, taught.w_hidden)


def test_a_teacher_of_another_size_is_one_error_line(tmp_path, tiny_weights):
    proc = run_cli("golden/train.py", "--out", tmp_path / "x.npz", "--neurons", 20,
                   "--teacher", tiny_weights)
    assert_one_line_error(proc, "--teacher")
    assert not (tmp_path / "x.npz").exists()
