"""Helpers of the generated bad-input suite (``tests/test_bad_options.py``,
``tests/test_bad_files.py``): the tools, quick valid arguments, damaged files and the runner.

Each case runs a tool's ``main`` in-process through :func:`golden.errors.run_cli` and must
either succeed (exit 0) or exit 2 with exactly one ``error:`` line and no traceback, leave no
file or folder behind, and finish within :data:`TIME_LIMIT_S`.  The fixtures (``bad_files``,
``workdir``, ``no_work``) are in ``tests/conftest.py``.
"""

from __future__ import annotations

import gzip
import importlib
import os
import time
import zipfile
from pathlib import Path

import numpy as np

from golden.errors import run_cli

ROOT = Path(__file__).resolve().parents[1]

TOOLS = {"evaluate": "golden.evaluate", "train": "golden.train", "summary": "golden.summary",
         "verify": "flows.verify", "pareto": "flows.pareto", "build": "flows.build",
         "demo": "boards.demo", "bitstream": "boards.bitstream", "model": "boards.model"}
TIME_LIMIT_S = 20
"""Most a single case may take (an error case takes milliseconds)."""


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


def work_paths(workdir: Path) -> dict[str, Path]:
    """Output paths of a case (weights file, folder) inside its working directory."""
    return {"tiny": "", "out": workdir / "out.npz", "dir": workdir / "out"}


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


def idx(kind: str, array: np.ndarray) -> bytes:
    magic = 0x803 if kind == "images" else 0x801
    dims = array.shape if kind == "labels" else (array.shape[0], 28, 28)
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in dims)
    return header + array.astype(np.uint8).tobytes()


IDX_VARIANTS = ("zero-images", "bad-gzip", "truncated-gzip", "huge-count", "labels-too-big",
                "images-directory", "images-fifo")


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



def make_files(root: Path) -> dict:
    """A valid tiny weights file, every damaged weights file and every damaged MNIST directory
    (:data:`IDX_VARIANTS`) under ``root``."""
    from golden.weights import Weights, save_weights

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


def loads(path: Path) -> bool:
    from golden.errors import UserError
    from golden.weights import load_weights

    try:
        load_weights(path)
    except UserError:
        return False
    return True
