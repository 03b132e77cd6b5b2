"""Damaged files for every tool that reads them (helpers: ``tests/bad_input.py``).

Weights files cut short, with flipped bytes, a ``.npy`` named ``.npz``, a huge declared
shape, directories, FIFOs and devices; MNIST directories with 0 images, bad or cut gzip, a
huge image count, bad labels, a directory or FIFO as the image file; truncated or foreign
cache entries; weights that ``save_weights`` must refuse; incomplete accuracy records.  Each
is one sentence naming the file (exit 2), never a traceback.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.bad_input import IDX_VARIANTS, SPECIAL_FILES, base_args, loads, run_tool, work_paths

WEIGHTS_TOOLS = {"evaluate": ["--limit", "3"], "summary": [], "pareto": ["--limit", "3"],
                 "verify": ["--neurons", "12", "--images", "1"],
                 "demo": ["--loopback", "--images", "3"],
                 "bitstream": [], "build": ["--neurons", "12"], "model": ["--pty"]}
WEIGHTS_NAMES = ["empty", "text", "truncated-header", "truncated", "truncated-tail",
                 *(f"flip-{k}" for k in range(12)), "npy-as-npz", "huge-shape", *SPECIAL_FILES]
WEIGHTS_CASES = [(tool, name) for tool in WEIGHTS_TOOLS for name in WEIGHTS_NAMES]


IDX_TOOLS = {"evaluate": ["--limit", "3"], "pareto": ["--limit", "3"], "train": [],
             "demo": ["--loopback", "--images", "3"], "verify": ["--neurons", "12"]}
IDX_CASES = [(tool, name) for tool in IDX_TOOLS for name in IDX_VARIANTS]


@pytest.mark.parametrize("tool, name", WEIGHTS_CASES, ids=[f"{t}-{n}" for t, n in WEIGHTS_CASES])
def test_damaged_weights_file(bad_files, workdir, capsys, no_work, tool, name):
    path = bad_files["weights"][name]
    if tool not in ("evaluate", "summary", "demo") and loads(path):
        return  # a harmless flip: the tools that would start long work are not run on it
    args = [str(path)] if tool == "summary" else ["--weights", path]
    if tool in ("pareto", "build"):
        args += ["--out", workdir / "out"]
    code, _, err = run_tool(tool, [*args, *WEIGHTS_TOOLS[tool]], capsys, workdir)
    if code == 0:  # a flip that hit nothing the file's meaning depends on
        assert name.startswith("flip-")
        return
    assert code == 2, err
    assert str(path) in err, err
    if name in SPECIAL_FILES:
        assert "does not exist" not in err, err



@pytest.mark.parametrize("tool, name", IDX_CASES, ids=[f"{t}-{n}" for t, n in IDX_CASES])
def test_damaged_data(bad_files, workdir, capsys, monkeypatch, no_work, tool, name):
    directory = bad_files["data"][name]
    monkeypatch.setenv("MNIST_DIR", str(directory))
    args = {"evaluate": ["--weights", bad_files["tiny"]], "pareto": ["--weights", bad_files["tiny"],
                                                                  "--out", workdir / "out"],
            "train": [a for a in base_args("train", work_paths(workdir))
                      if a != "--skip-test"],
            "demo": ["--weights", bad_files["tiny"]],
            "verify": ["--weights", bad_files["tiny"]]}[tool]
    code, _, err = run_tool(tool, [*args, *IDX_TOOLS[tool]], capsys, workdir)
    assert code == 2, err
    assert "t10k" in err or "test" in err, err


SAVE_CASES = [{"theta_hidden": 0}, {"theta_out": -3}, {"timesteps": 0}, {"timesteps": 256},
              {"leak_hidden": 16}, {"leak_out": -1}, {"theta_hidden": 2**40},
              {"meta": {"accuracy": float("nan")}}, {"meta": {"object": object()}},
              {"theta_hidden": 10**9}]


@pytest.mark.parametrize("change", SAVE_CASES, ids=[str(c) for c in SAVE_CASES])
def test_save_weights_writes_only_what_loads(tmp_path, change):
    from golden.errors import UserError
    from golden.weights import Weights, save_weights

    rng = np.random.default_rng(2)
    fields = {"theta_hidden": 100, "theta_out": 100, "leak_hidden": 0, "leak_out": 0,
              "timesteps": 8, **change}
    path = tmp_path / "w.npz"
    with pytest.raises(UserError, match=str(path)):
        save_weights(path, Weights(rng.integers(-127, 128, (784, 4)).astype(np.int8),
                                   rng.integers(-127, 128, (4, 10)).astype(np.int8), **fields))
    assert list(tmp_path.iterdir()) == []


CACHE_DAMAGE = {"truncated": lambda text: text[:len(text) // 2], "empty": lambda text: "",
                "foreign": lambda text: json.dumps({"something": "else"}),
                "list": lambda text: "[1, 2]"}


@pytest.mark.parametrize("damage", CACHE_DAMAGE)
def test_damaged_caches_are_rebuilt(tmp_path, damage):
    """A bitstream cache entry or a stage-cache record that is cut short or foreign is
    ignored (the work is done again), never a traceback."""
    from boards.bitstream import Bitstream, _cached
    from flows.cache import StageCache

    entry = Bitstream(tmp_path / "top.bit", False, 1.0, 10, 50.0, {}, "ulx3s-85f", 15_000_000,
                      3_000_000)
    (tmp_path / "top.bit").write_bytes(b"bits")
    text = json.dumps({**entry.summary(), "cached": False})
    assert _cached(tmp_path) is None  # no entry yet
    (tmp_path / "build.json").write_text(text)
    assert _cached(tmp_path) is not None
    (tmp_path / "build.json").write_text(CACHE_DAMAGE[damage](text))
    assert _cached(tmp_path) is None
    cache = StageCache(tmp_path / "cache")
    stored = cache.store("pnr", {"a": 1}, files={"top.bit": tmp_path / "top.bit"})
    assert cache.lookup("pnr", {"a": 1}) is not None
    record = stored.path / "entry.json"
    record.write_text(CACHE_DAMAGE[damage](record.read_text()))
    assert cache.lookup("pnr", {"a": 1}) is None


META_CASES = [{}, {"reference": {}}, {"reference": {"accuracy": {}}},
              {"reference": {"accuracy": {str(b): 0.5 for b in range(2, 9)}}},
              {"reference": {"accuracy": {**{str(b): 0.5 for b in range(2, 9)}, "8": "high"}},
               "training_images": {"count": 5}},
              {"reference": {"accuracy": {**{str(b): 0.5 for b in range(2, 9)}, "8": 7}},
               "training_images": {"count": 5}},
              {"reference": {"accuracy": [0.5]}, "training_images": {"count": 5}},
              {"reference": {"accuracy": {str(b): 0.5 for b in range(2, 9)}},
               "training_images": None}]


@pytest.mark.parametrize("meta", META_CASES, ids=[f"meta{i}" for i in range(len(META_CASES))])
def test_summary_of_incomplete_meta(tmp_path, workdir, capsys, meta):
    from golden.weights import Weights, save_weights

    rng = np.random.default_rng(3)
    path = tmp_path / "w.npz"
    save_weights(path, Weights(rng.integers(-127, 128, (784, 4)).astype(np.int8),
                               rng.integers(-127, 128, (4, 10)).astype(np.int8), theta_hidden=100,
                               theta_out=100, leak_hidden=0, leak_out=0, timesteps=8, meta=meta))
    code, _, err = run_tool("summary", [path], capsys, workdir)
    assert code == 2 and str(path) in err, err
