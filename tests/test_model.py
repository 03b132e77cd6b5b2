"""The PyTorch model's integer path equals the reference; training runs end to end."""

import json
from dataclasses import asdict

import numpy as np
import pytest
import torch

from golden.config import PRECISIONS, ControllerSettings, RunSettings, SNNConfig
from golden.model import SNN, encode_torch, quantize_ste
from golden.reference import encode, infer, quantize
from golden.weights import load_weights
from tests.conftest import COMMITTED_WEIGHTS, run_cli


def test_torch_encoding_and_quantizer_match_numpy():
    x = np.arange(256, dtype=np.uint8).reshape(1, 256)
    spikes = encode_torch(torch.from_numpy(np.tile(x, (1, 1))), 16).numpy()
    assert np.array_equal(spikes[:, 0].astype(bool), encode(x[0], 16))
    latent = torch.linspace(-1, 1, 2001)
    w8 = np.clip(np.round(latent.numpy() * 127), -127, 127).astype(int)
    for bits in PRECISIONS:
        assert np.array_equal(quantize_ste(latent, bits).detach().numpy(), quantize(w8, bits))


def _assert_torch_equals_reference(model, images, bits):
    w_hidden, w_out = model.integer_weights()
    ref = infer(w_hidden, w_out, images, model.config, RunSettings.uniform(bits))
    pred, counts, membranes = model.integer_eval(images, bits)
    assert np.array_equal(counts, ref.counts), f"{bits}-bit output counts differ"
    assert np.array_equal(membranes, ref.out_membrane), f"{bits}-bit membranes differ"
    # The class by DESIGN.md section 2, written out here (most spikes, then the larger final
    # membrane, then the lower index), not by golden.reference.classify.
    expected = [max(range(10), key=lambda k: (c[k], v[k], -k))
                for c, v in zip(counts, membranes, strict=True)]
    assert pred.tolist() == expected == ref.pred.tolist(), f"{bits}-bit classes differ"


@pytest.mark.parametrize("n_hidden", sorted(COMMITTED_WEIGHTS))
def test_torch_integer_path_equals_reference_on_committed_weights(test_split, n_hidden):
    model = SNN.from_weights(load_weights(COMMITTED_WEIGHTS[n_hidden]))
    for bits in PRECISIONS:
        _assert_torch_equals_reference(model, test_split.images[:250], bits)


def test_torch_integer_path_equals_reference_with_leak(test_split):
    cfg = SNNConfig(n_hidden=40, theta_hidden=700, theta_out=300, leak_hidden=2, leak_out=3)
    model = SNN(cfg, init_gain=1.5, seed=3)
    for bits in PRECISIONS:
        _assert_torch_equals_reference(model, test_split.images[:200], bits)


def test_committed_weights_meta_records_training_and_accuracy():
    for n_hidden, path in COMMITTED_WEIGHTS.items():
        w = load_weights(path)
        assert w.n_hidden == n_hidden and w.timesteps == 16
        meta = w.meta
        assert meta["training_images"]["count"] == 9000
        assert len(meta["training_images"]["file_sha256"]) == 64
        assert meta["validation"]["count"] == 1000
        assert set(meta["reference"]["accuracy"]) == {str(b) for b in PRECISIONS} | {"dynamic"}
        assert meta["reference"]["test_images"] == 10000
        # The dynamic accuracy was measured with today's default controller (a setting added
        # since, absent from the record, must be at its off default).
        recorded = meta["reference"]["dynamic_controller"]
        assert set(recorded) <= set(asdict(ControllerSettings()))
        assert {**asdict(ControllerSettings()), **recorded} == asdict(ControllerSettings())
        assert all(not asdict(ControllerSettings())[k] for k in
                   set(asdict(ControllerSettings())) - set(recorded))


def test_training_smoke_run_writes_a_loadable_file(tmp_path):
    out = tmp_path / "smoke.npz"
    proc = run_cli("golden/train.py", "--neurons", 8, "--epochs", 1, "--train-limit", 256,
                   "--val", 64, "--batch", 64, "--out", out, "--quiet", "--skip-test")
    assert proc.returncode == 0, proc.stderr
    w = load_weights(out)
    assert w.w_hidden.shape == (784, 8) and w.meta["training_images"]["count"] == 256
    assert json.loads(proc.stdout)["out"] == str(out)
    assert np.abs(w.w_hidden).max() > 0


def test_training_schedule_options_run_and_record_the_selection(tmp_path):
    out = tmp_path / "late.npz"
    proc = run_cli("golden/train.py", "--neurons", 8, "--epochs", 2, "--train-limit", 256,
                   "--val", 64, "--batch", 64, "--out", out, "--quiet", "--skip-test",
                   "--train-bits", "8,mid", "--train-weights", "1,0.5", "--late-bits", "2",
                   "--late-weights", "0.3", "--late-start", "0.5", "--late-ramp", "0.25",
                   "--distill", "1", "--select", "floor", "--ema", "0.9")
    assert proc.returncode == 0, proc.stderr
    validation = load_weights(out).meta["validation"]
    assert validation["selection"] == "floor" and validation["best_epoch"] in (1, 2)


def test_late_factor_and_floor_selection():
    from argparse import Namespace

    from golden.train import late_factor, selection_key
    assert [late_factor(p, 0.5, 0.2) for p in (0.0, 0.49, 0.6, 0.7, 1.0)] == pytest.approx(
        [0, 0, 0.5, 1, 1])
    assert late_factor(0.5, 0.5, 0) == 1
    args = Namespace(select="floor", floor_4bit=0.005, floor_2bit=0.02)
    ok = selection_key({8: 0.960, 4: 0.958, 2: 0.941}, args)
    better_but_unbalanced = selection_key({8: 0.970, 4: 0.970, 2: 0.900}, args)
    assert ok > better_but_unbalanced
    assert selection_key({8: 0.965, 4: 0.965, 2: 0.950}, args) > ok
