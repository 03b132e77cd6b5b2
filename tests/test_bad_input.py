"""Generated bad and edge-case input for every command-line tool (fixed seeds).

Each case runs a tool's ``main`` in-process through :func:`golden.errors.run_cli` and must
either succeed with a correct result (exit 0) or exit 2 with exactly one ``error:`` line
naming the culprit and no traceback, leave no file or folder behind, and finish within its
time limit.  The classes: option values out of range or not finite (ranges generated from
:mod:`golden.cli`'s limits), damaged weights files, damaged or empty IDX data, output paths
that are directories or empty, and non-regular files.  The protocol's noise cases are in
``tests/test_link_noise.py`` and ``cocotb_tests/test_board_uart.py``.
"""

from __future__ import annotations

import gzip
import importlib
import json
import os
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from golden.errors import run_cli
from tests.conftest import ROOT

TOOLS = {"evaluate": "golden.evaluate", "train": "golden.train", "summary": "golden.summary",
         "verify": "flows.verify", "pareto": "flows.pareto", "build": "flows.build",
         "demo": "boards.demo", "bitstream": "boards.bitstream", "model": "boards.model"}
TIME_LIMIT_S = 20
"""Most a single case may take (an error case takes milliseconds)."""

# --- option values -------------------------------------------------------------------------

INT_JUNK = ("x", "1.5", "")
FLOAT_JUNK = ("nan", "inf", "-inf", "x", "")


def bad_integers(lo: int, hi: int | None = None) -> list[str]:
    return [str(lo - 1), *([str(hi + 1)] if hi is not None else []), *INT_JUNK]


def bad_numbers(lo: float | None = None, hi: float | None = None, *,
                above: float | None = None) -> list[str]:
    values = list(FLOAT_JUNK)
    if above is not None:
        values += [f"{above:g}", f"{above - 1:g}"]
    if lo is not None:
        values.append(f"{lo - 0.5:g}")
    if hi is not None:
        values.append(f"{hi + 0.5:g}")
    return values


MODE_OPTIONS = {"--tau": bad_integers(0, 127), "--interval": bad_integers(1, 255),
                "--escalate-margin": bad_integers(0, 255), "--exit-margin": bad_integers(0, 255)}
OPTIONS = {
    "evaluate": {**MODE_OPTIONS, "--timesteps": bad_integers(1, 255),
                 "--lanes": bad_integers(1, 1024), "--limit": bad_integers(1)},
    "train": {"--neurons": bad_integers(1, 1024), "--epochs": bad_integers(1),
              "--batch": bad_integers(1), "--val": bad_integers(1),
              "--train-limit": bad_integers(0), "--timesteps": bad_integers(1, 255),
              "--theta-hidden": bad_integers(1), "--theta-out": bad_integers(1),
              "--leak-hidden": bad_integers(0, 15), "--leak-out": bad_integers(0, 15),
              "--threads": bad_integers(1), "--seed": bad_integers(0, 2**32 - 1),
              "--lr": bad_numbers(above=0), "--init-gain": bad_numbers(above=0),
              "--slope": bad_numbers(above=0), "--temperature": bad_numbers(above=0),
              "--smoothing": bad_numbers(0, 1), "--rate-reg": bad_numbers(0),
              "--l1": bad_numbers(0), "--augment": bad_numbers(0),
              "--late-start": bad_numbers(0, 1), "--late-ramp": bad_numbers(0, 1),
              "--distill": bad_numbers(0), "--ema": bad_numbers(0, 1),
              "--floor-4bit": bad_numbers(0, 1), "--floor-2bit": bad_numbers(0, 1)},
    "verify": {**MODE_OPTIONS, "--neurons": bad_integers(1, 1024),
               "--lanes": bad_integers(1, 1024), "--images": bad_integers(1),
               "--sparsity": bad_numbers(0, 1)},
    "pareto": {"--limit": bad_integers(1), "--clock-mhz": bad_numbers(above=0, hi=500)},
    "build": {**MODE_OPTIONS, "--neurons": bad_integers(1, 1024),
              "--lanes": bad_integers(1, 1024), "--block-size": bad_integers(1, 1024),
              "--timesteps": bad_integers(1, 255), "--seed": bad_integers(0, 2**32 - 1),
              "--freq": bad_numbers(above=0, hi=500), "--images": bad_integers(1),
              "--activity-images": bad_integers(0), "--sweep-images": bad_integers(1)},
    "demo": {**MODE_OPTIONS, "--images": bad_integers(1), "--show": bad_integers(0),
             "--baud": bad_integers(1, 12_000_000), "--clock-mhz": bad_numbers(above=0, hi=500),
             "--timeout": bad_numbers(above=0, hi=3600)},
    "bitstream": {"--baud": bad_integers(1, 12_000_000),
                  "--clock-mhz": bad_numbers(above=0, hi=500)},
    "model": {"--baud": bad_integers(1, 12_000_000), "--clock-mhz": bad_numbers(above=0, hi=500),
              "--fault-rate": bad_numbers(0, 1), "--seed": bad_integers(0, 2**32 - 1),
              "--noise-hex": ["xyz", "a5 0"], "--fault-kinds": ["burst,thunder", ""]},
}


def base_args(tool: str, w: dict[str, Path]) -> list[str]:
    """Arguments that make a valid, quick run of ``tool`` (the bad option is added to them)."""
    return {"evaluate": ["--weights", w["tiny"], "--limit", "5"],
            "train": ["--out", w["out"], "--epochs", "1", "--train-limit", "40", "--val", "8",
                      "--skip-test", "--quiet", "--neurons", "8"],
            "summary": [str(w["tiny"])],
            "verify": ["--neurons", "12", "--weights", w["tiny"], "--images", "2"],
            "pareto": ["--weights", w["tiny"], "--limit", "5", "--out", w["dir"]],
            "build": ["--neurons", "12", "--weights", w["tiny"], "--out", w["dir"]],
            "demo": ["--loopback", "--weights", w["tiny"], "--images", "3"],
            "bitstream": ["--weights", w["tiny"]],
            "model": ["--pty", "--weights", w["tiny"]]}[tool]


OPTION_CASES = [(tool, option, value) for tool, options in OPTIONS.items()
                for option, values in options.items() for value in values]

# --- damaged files -------------------------------------------------------------------------


def weights_variants(good: bytes, rng: np.random.Generator) -> dict[str, bytes | None]:
    """Damaged weights files by name (None: a directory of that name, "fifo": a FIFO)."""
    out: dict[str, bytes | None] = {
        "empty": b"", "text": b"weights\n", "truncated-header": good[:30],
        "truncated": good[:len(good) // 2], "truncated-tail": good[:-10]}
    for k in range(12):  # flipped bytes in the compressed members and the directory
        data = bytearray(good)
        at = int(rng.integers(40, len(good) - 30))
        data[at] ^= 1 << int(rng.integers(8))
        out[f"flip-{k}"] = bytes(data)
    import io

    buffer = io.BytesIO()
    np.save(buffer, np.zeros((784, 4), np.int8))
    out["npy-as-npz"] = buffer.getvalue()
    header = buffer.getvalue()
    huge = header.replace(b"(784, 4)", b"(4000000000, 4000000000)".ljust(8))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z, zipfile.ZipFile(io.BytesIO(good)) as src:
        for name in src.namelist():
            z.writestr(name, huge if name == "w_hidden.npy" else src.read(name))
    out["huge-shape"] = buffer.getvalue()
    return out


SPECIAL_FILES = ("directory", "fifo", "device")
WEIGHTS_TOOLS = {"evaluate": ["--limit", "3"], "summary": [], "pareto": ["--limit", "3"],
                 "verify": ["--neurons", "12", "--images", "1"],
                 "demo": ["--loopback", "--images", "3"],
                 "bitstream": [], "build": ["--neurons", "12"], "model": ["--pty"]}
WEIGHTS_NAMES = ["empty", "text", "truncated-header", "truncated", "truncated-tail",
                 *(f"flip-{k}" for k in range(12)), "npy-as-npz", "huge-shape", *SPECIAL_FILES]
WEIGHTS_CASES = [(tool, name) for tool in WEIGHTS_TOOLS for name in WEIGHTS_NAMES]


def idx(kind: str, array: np.ndarray) -> bytes:
    magic = 0x803 if kind == "images" else 0x801
    dims = array.shape if kind == "labels" else (array.shape[0], 28, 28)
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in dims)
    return header + array.astype(np.uint8).tobytes()


IDX_VARIANTS = ("zero-images", "bad-gzip", "truncated-gzip", "huge-count", "labels-too-big",
                "images-directory", "images-fifo")
IDX_TOOLS = {"evaluate": ["--limit", "3"], "pareto": ["--limit", "3"], "train": [],
             "demo": ["--loopback", "--images", "3"], "verify": ["--neurons", "12"]}
IDX_CASES = [(tool, name) for tool in IDX_TOOLS for name in IDX_VARIANTS]


def make_idx_dir(root: Path, variant: str) -> Path:
    """An MNIST directory whose test files are damaged as ``variant`` (train files real)."""
    directory = root / f"mnist-{variant}"
    directory.mkdir()
    shared = ROOT.parent / "shared" / "datasets" / "mnist"
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"):
        (directory / name).symlink_to(shared / name)
    images = directory / "t10k-images-idx3-ubyte.gz"
    labels = directory / "t10k-labels-idx1-ubyte.gz"
    rng = np.random.default_rng(5)
    good_images = idx("images", rng.integers(0, 256, (20, 784)))
    good_labels = idx("labels", rng.integers(0, 10, 20))
    labels.write_bytes(gzip.compress(good_labels))
    if variant == "zero-images":
        images.write_bytes(gzip.compress(idx("images", np.zeros((0, 784)))))
        labels.write_bytes(gzip.compress(idx("labels", np.zeros(0))))
    elif variant == "bad-gzip":
        images.write_bytes(b"\x1f\x8b" + rng.integers(0, 256, 200, dtype=np.uint8).tobytes())
    elif variant == "truncated-gzip":
        images.write_bytes(gzip.compress(good_images)[:100])
    elif variant == "huge-count":
        data = bytearray(good_images)
        data[4:8] = (2**31).to_bytes(4, "big")
        images.write_bytes(gzip.compress(bytes(data)))
    elif variant == "labels-too-big":
        images.write_bytes(gzip.compress(good_images))
        labels.write_bytes(gzip.compress(idx("labels", np.full(20, 10))))
    elif variant == "images-directory":
        images.mkdir()
    elif variant == "images-fifo":
        os.mkfifo(images)
    return directory


# --- running -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    from golden.weights import Weights, save_weights

    root = tmp_path_factory.mktemp("bad-input")
    rng = np.random.default_rng(1)
    tiny = root / "tiny.npz"
    save_weights(tiny, Weights(rng.integers(-127, 128, (784, 12)).astype(np.int8),
                               rng.integers(-127, 128, (12, 10)).astype(np.int8),
                               theta_hidden=900, theta_out=200, leak_hidden=3, leak_out=0,
                               timesteps=8, meta={"reference": {"accuracy": {
                                   **{str(b): 0.1 for b in range(2, 9)}}},
                                   "training_images": {"count": 1}}))
    weights = {}
    for name, data in weights_variants(tiny.read_bytes(), np.random.default_rng(13)).items():
        weights[name] = root / f"{name}.npz"
        weights[name].write_bytes(data)
    weights["directory"] = root / "directory.npz"
    weights["directory"].mkdir()
    weights["fifo"] = root / "fifo.npz"
    os.mkfifo(weights["fifo"])
    weights["device"] = Path("/dev/null")
    data_dirs = {variant: make_idx_dir(root, variant) for variant in IDX_VARIANTS}
    return {"tiny": tiny, "weights": weights, "data": data_dirs}


def _listing(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def run_tool(tool: str, argv: list, capsys, cwd: Path) -> tuple[int, str, str]:
    """Run ``tool`` in-process from ``cwd``; exit code, stdout, stderr."""
    main = importlib.import_module(TOOLS[tool]).main
    before = _listing(cwd)
    start = time.monotonic()
    try:
        code = run_cli(main, [str(a) for a in argv])
    except SystemExit as exit_:  # only --help may exit through argparse
        code = exit_.code
    assert time.monotonic() - start < TIME_LIMIT_S
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    if code == 2:
        lines = [line for line in err.splitlines() if line.startswith("error: ")]
        assert len(lines) == 1, err
        assert _listing(cwd) == before, "a rejected run left files behind"
    return code, out, err


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MNIST_DIR", str(ROOT.parent / "shared" / "datasets" / "mnist"))
    return tmp_path


def _work(tool: str, workdir: Path) -> dict[str, Path]:
    return {"tiny": "", "out": workdir / "out.npz", "dir": workdir / "out"}


@pytest.mark.parametrize("tool, option, value", OPTION_CASES,
                         ids=[f"{t}{o}={v or 'empty'}" for t, o, v in OPTION_CASES])
def test_bad_option_is_one_sentence(files, workdir, capsys, no_work, tool, option, value):
    paths = {**_work(tool, workdir), "tiny": files["tiny"]}
    code, _, err = run_tool(tool, [*base_args(tool, paths), f"{option}={value}"], capsys,
                            workdir)
    assert code == 2, err
    assert option in err, err


@pytest.mark.parametrize("tool, name", WEIGHTS_CASES, ids=[f"{t}-{n}" for t, n in WEIGHTS_CASES])
def test_damaged_weights_file(files, workdir, capsys, no_work, tool, name):
    path = files["weights"][name]
    if tool not in ("evaluate", "summary", "demo") and _loads(path):
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


def _loads(path: Path) -> bool:
    from golden.errors import UserError
    from golden.weights import load_weights

    try:
        load_weights(path)
    except UserError:
        return False
    return True


@pytest.mark.parametrize("tool, name", IDX_CASES, ids=[f"{t}-{n}" for t, n in IDX_CASES])
def test_damaged_data(files, workdir, capsys, monkeypatch, no_work, tool, name):
    directory = files["data"][name]
    monkeypatch.setenv("MNIST_DIR", str(directory))
    args = {"evaluate": ["--weights", files["tiny"]], "pareto": ["--weights", files["tiny"],
                                                                  "--out", workdir / "out"],
            "train": [a for a in base_args("train", _work("train", workdir))
                      if a != "--skip-test"],
            "demo": ["--weights", files["tiny"]],
            "verify": ["--weights", files["tiny"]]}[tool]
    code, _, err = run_tool(tool, [*args, *IDX_TOOLS[tool]], capsys, workdir)
    assert code == 2, err
    assert "t10k" in err or "test" in err, err


OUTPUT_CASES = [("evaluate", "--predictions", "dir"), ("evaluate", "--predictions", "empty"),
                ("evaluate", "--predictions", "under-file"), ("train", "--out", "dir"),
                ("train", "--out", "empty"), ("train", "--out", "under-file"),
                ("pareto", "--out", "file"), ("pareto", "--out", "empty"),
                ("pareto", "--out", "under-file"), ("build", "--out", "file"),
                ("build", "--out", "under-file"), ("build", "--out", "empty")]


@pytest.mark.parametrize("tool, option, kind", OUTPUT_CASES,
                         ids=[f"{t}{o}-{k}" for t, o, k in OUTPUT_CASES])
def test_bad_output_path(files, workdir, capsys, no_work, tool, option, kind):
    (workdir / "a-dir").mkdir()
    (workdir / "a-file").write_text("keep")
    target = {"dir": workdir / "a-dir", "empty": "", "file": workdir / "a-file",
              "under-file": workdir / "a-file" / "x"}[kind]
    paths = {**_work(tool, workdir), "tiny": files["tiny"]}
    args = [a for a in base_args(tool, paths)]
    code, _, err = run_tool(tool, [*args, option, target], capsys, workdir)
    assert code == 2, err
    assert (workdir / "a-file").read_text() == "keep"


BOGUS_CASES = [
    ("train", ["--init-gain", "nan"]), ("train", ["--val", "-5"]), ("train", ["--ema", "2"]),
    ("pareto", ["--clock-mhz", "-100"]), ("pareto", ["--clock-mhz", "nan"]),
    ("demo", ["--baud", "0"]), ("demo", ["--timeout", "inf"]),
    ("bitstream", ["--clock-mhz", "7.77"]), ("bitstream", ["--clock-mhz", "20", "--baud",
                                                          "9000000"]),
    ("evaluate", ["--timesteps", "256"]), ("build", ["--board", "no-such-board"]),
    ("demo", ["--board", "no-such-board"]), ("verify", ["--random-seed", "-1"]),
]


@pytest.mark.parametrize("tool, extra", BOGUS_CASES, ids=[f"{t}{' '.join(e)}"
                                                          for t, e in BOGUS_CASES])
def test_no_run_with_bogus_figures(files, workdir, capsys, no_work, tool, extra):
    paths = {**_work(tool, workdir), "tiny": files["tiny"]}
    args = base_args(tool, paths)
    if tool == "verify":
        args = ["--neurons", "12", "--images", "2"]
    code, _, err = run_tool(tool, [*args, *extra], capsys, workdir)
    assert code == 2, err


def test_evaluate_all_bits_json_is_one_object(files, workdir, capsys):
    code, out, _ = run_tool("evaluate", ["--weights", files["tiny"], "--limit", "5", "--bits",
                                         "all", "--json"], capsys, workdir)
    assert code == 0
    report = json.loads(out)
    assert [r["bits"] for r in report["modes"]] == [8, 7, 6, 5, 4, 3, 2, "dynamic"]


@pytest.fixture
def no_work(monkeypatch):
    """Long work (synthesis, RTL simulation, a serial port) must never start in this suite."""
    def refuse(*args, **kwargs):
        raise AssertionError("a bad input reached the long work")

    import boards.bitstream
    import flows.build
    import flows.verify

    monkeypatch.setattr(flows.verify, "verify", refuse)
    monkeypatch.setattr(flows.build, "synthesize", refuse)
    monkeypatch.setattr(boards.bitstream, "find_tool", refuse)
    monkeypatch.setattr("boards.model.serve_pty", refuse)


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
    """A bitstream cache entry or a synthesis stamp that is cut short or foreign is ignored
    (the work is done again), never a traceback."""
    from boards.bitstream import Bitstream, _cached
    from flows.synth import _reuse

    entry = Bitstream(tmp_path / "top.bit", False, 1.0, 10, 50.0, {}, "ulx3s-85f", 15_000_000,
                      3_000_000)
    (tmp_path / "top.bit").write_bytes(b"bits")
    text = json.dumps({**entry.summary(), "cached": False})
    assert _cached(tmp_path) is None  # no entry yet
    (tmp_path / "build.json").write_text(text)
    assert _cached(tmp_path) is not None
    (tmp_path / "build.json").write_text(CACHE_DAMAGE[damage](text))
    assert _cached(tmp_path) is None
    stamp = tmp_path / "stamp.json"
    stamp.write_text(CACHE_DAMAGE[damage](json.dumps({"stamp": {"a": 1}, "runs": []})))
    (tmp_path / "nextpnr.json").write_text("{")
    assert _reuse(stamp, {"a": 1}, tmp_path / "top.json", 100.0) is None


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


@pytest.mark.parametrize("tool", sorted(TOOLS))
def test_each_tool_from_the_command_line(tool):
    """The same one line from a real process (its ``__main__`` goes through run_cli)."""
    import subprocess
    import sys

    from tests.conftest import assert_one_line_error

    argv = {"evaluate": ["--limit=0"], "train": ["--threads=0"], "verify": ["--neurons=0"],
            "summary": ["no-such.npz"], "pareto": ["--clock-mhz=nan"], "build": ["--seed=-1"],
            "demo": ["--clock-mhz=nan"], "bitstream": ["--baud=0"], "model": ["--seed=-1"]}[tool]
    proc = subprocess.run([sys.executable, "-m", TOOLS[tool], *argv], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert_one_line_error(proc, argv[0].split("=")[0])
