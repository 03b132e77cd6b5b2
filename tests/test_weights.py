"""Weights files: round trip, and every kind of broken file gives one sentence and exit 2."""

import io
import json
import zipfile

import numpy as np
import pytest

from golden.weights import WeightsError, load_weights, save_weights
from tests.conftest import assert_one_line_error, run_cli


def _fields(path):
    with np.load(path, allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}


def _rewrite(src, dst, **changes):
    fields = _fields(src)
    for key, value in changes.items():
        if value is None:
            fields.pop(key)
        else:
            fields[key] = value
    buffer = io.BytesIO()
    np.savez(buffer, **fields)
    dst.write_bytes(buffer.getvalue())
    return dst


def test_round_trip(tiny_weights, tmp_path):
    w = load_weights(tiny_weights)
    assert w.n_hidden == 12 and w.timesteps == 8 and w.leak_hidden == 3
    assert w.meta == {"note": "random test weights"}
    save_weights(tmp_path / "copy.npz", w)
    again = load_weights(tmp_path / "copy.npz")
    assert np.array_equal(again.w_hidden, w.w_hidden) and np.array_equal(again.w_out, w.w_out)


BROKEN = {
    "missing field": ({"theta_out": None}, "has no field 'theta_out'"),
    "minus 128": ({"w_hidden": np.full((784, 12), -128, np.int8)}, "field 'w_hidden' holds -128"),
    "wrong dtype": ({"w_out": np.zeros((12, 10), np.int16)}, "field 'w_out' must be int8"),
    "wrong shape": ({"w_out": np.zeros((11, 10), np.int8)}, "field 'w_out' has shape (11, 10)"),
    "wrong rows": ({"w_hidden": np.zeros((783, 12), np.int8)}, "field 'w_hidden' has shape"),
    "1-d": ({"w_hidden": np.zeros(784, np.int8)}, "field 'w_hidden' must be 2-d"),
    "format": ({"format": np.array("snn-weights/2")}, "field 'format' is 'snn-weights/2'"),
    "encoding": ({"encoding": np.array("poisson")}, "field 'encoding' is 'poisson'"),
    "quantizer": ({"quantizer": np.array("round")}, "field 'quantizer' is 'round'"),
    "meta json": ({"meta": np.array("{not json")}, "field 'meta' is not valid JSON"),
    "meta list": ({"meta": np.array("[1, 2]")}, "field 'meta' must hold a JSON object"),
    "scalar dtype": ({"theta_hidden": np.array(5.0)}, "field 'theta_hidden' must be a 0-d int32"),
    "theta zero": ({"theta_out": np.array(0, np.int32)}, "field 'theta_out' is 0"),
    "leak": ({"leak_hidden": np.array(16, np.int32)}, "field 'leak_hidden' is 16"),
    "timesteps": ({"timesteps": np.array(0, np.int32)}, "field 'timesteps' is 0"),
    "string type": ({"format": np.array(3)}, "field 'format' must be a 0-d string"),
}


@pytest.mark.parametrize("case", BROKEN)
def test_broken_field_is_named(tiny_weights, tmp_path, case):
    changes, message = BROKEN[case]
    path = _rewrite(tiny_weights, tmp_path / "broken.npz", **changes)
    with pytest.raises(WeightsError) as err:
        load_weights(path)
    assert message in str(err.value) and str(path) in str(err.value)


def test_theta_too_large_for_the_membrane(tiny_weights, tmp_path):
    path = _rewrite(tiny_weights, tmp_path / "big.npz", theta_hidden=np.array(2**30, np.int32))
    with pytest.raises(WeightsError, match="theta_hidden must be in"):
        load_weights(path)


@pytest.mark.parametrize("content", [b"", b"garbage bytes, not a zip file", None])
def test_unreadable_files(tiny_weights, tmp_path, content):
    path = tmp_path / "bad.npz"
    if content is None:  # a zip truncated in the middle
        content = tiny_weights.read_bytes()[:300]
    path.write_bytes(content)
    with pytest.raises(WeightsError, match="not a readable .npz weights file"):
        load_weights(path)


def test_pickled_object_array_is_refused(tmp_path):
    path = tmp_path / "pickle.npz"
    with zipfile.ZipFile(path, "w") as z:
        buffer = io.BytesIO()
        np.save(buffer, np.array([{"a": 1}], dtype=object), allow_pickle=True)
        z.writestr("w_hidden.npy", buffer.getvalue())
    with pytest.raises(WeightsError):
        load_weights(path)


@pytest.mark.parametrize("case", ["minus 128", "missing field", "wrong shape"])
def test_cli_exit_code_and_single_line(tiny_weights, tmp_path, case):
    changes, message = BROKEN[case]
    path = _rewrite(tiny_weights, tmp_path / "broken.npz", **changes)
    proc = run_cli("golden/evaluate.py", "--weights", path, "--limit", 5)
    assert_one_line_error(proc, message)


def test_save_is_atomic_and_keeps_old_file_on_error(tiny_weights):
    before = tiny_weights.read_bytes()
    w = load_weights(tiny_weights)
    bad = type(w)(w.w_hidden.astype(np.int16), w.w_out, 1, 1, 0, 0, 8)
    with pytest.raises(WeightsError):
        save_weights(tiny_weights, bad)
    assert tiny_weights.read_bytes() == before
    assert [p.name for p in tiny_weights.parent.iterdir() if p.name.endswith(".tmp")] == []


SPARSE = "weights/mnist-784-128-10-s80.npz"


def _with_pruning_meta(tmp_path, **pruning):
    fields = _fields(SPARSE)
    meta = json.loads(str(fields["meta"]))
    meta["pruning"].update(pruning)
    return _rewrite(SPARSE, tmp_path / "sparse.npz", meta=np.array(json.dumps(meta)))


def test_committed_sparse_files_agree_with_their_meta():
    for path in (SPARSE, "weights/mnist-784-128-10-s90.npz"):
        pruning = load_weights(path).meta["pruning"]
        assert pruning["block_sparsity"] >= pruning["sparsity"]


@pytest.mark.parametrize("change, message", [
    ({"block_sparsity": 0.85}, "meta records 0.8500 of the hidden blocks of 16 all-zero"),
    ({"block_size": 32}, "the meta disagrees with the weights"),
    ({"sparsity": 0.9}, "(target 0.9), but its w_hidden has 0.8001"),
    ({"weight_sparsity": 0.5}, "meta records a weight sparsity of 0.5000"),
    ({"block_size": "16"}, "meta 'pruning' needs block_size >= 1"),
])
def test_sparse_meta_that_disagrees_with_the_weights_is_one_error(tmp_path, change, message):
    proc = run_cli("golden/evaluate.py", "--weights", _with_pruning_meta(tmp_path, **change),
                   "--limit", 5)
    assert_one_line_error(proc, message)
