"""A content-addressed cache of build stages (synthesis, place-and-route, simulations).

Every stage result is stored under ``build/cache/STAGE/KEY/`` where ``KEY`` is the SHA-256
of the stage's inputs: everything that determines the result (the netlist text or its hash,
tool versions, device, options, seed, clock, and the weights and images only where they
matter).  A build that finds an entry with its key reuses it, whatever its output directory.

An entry is a directory of files plus ``entry.json`` (its stage, key, inputs, the SHA-256 and
size of every file, an optional JSON value and the seconds the stage took).  It is written
into a scratch directory and renamed into place in one step, so a killed run never leaves a
half entry under its key; an entry whose files do not match ``entry.json`` (damaged,
truncated, edited) is not reused, and is removed.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

PROJECT_ROOT = Path(__file__).resolve().parents[1]
CACHE_ROOT = Path(os.environ.get("SNN_STAGE_CACHE") or PROJECT_ROOT / "build" / "cache")
"""Default cache directory: ``$SNN_STAGE_CACHE``, else ``build/cache`` in the project."""
FORMAT = "snn-stage-cache/1"
"""Entry format; part of every key, so a format change never reuses an old entry."""
ENTRY = "entry.json"


def digest(value) -> str:
    """SHA-256 (hex) of ``value``: bytes, str, a NumPy array (dtype, shape and data), a
    file (a :class:`~pathlib.Path`: its contents), or JSON-able data (canonical JSON)."""
    h = hashlib.sha256()
    if isinstance(value, bytes):
        h.update(value)
    elif isinstance(value, str):
        h.update(value.encode())
    elif isinstance(value, np.ndarray):
        array = np.ascontiguousarray(value)
        h.update(f"{array.dtype.str}{array.shape}".encode())
        h.update(array.tobytes())
    elif isinstance(value, Path):
        with open(value, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    else:
        h.update(json.dumps(value, sort_keys=True, default=_jsonable).encode())
    return h.hexdigest()


def _jsonable(value):
    if isinstance(value, np.ndarray):
        return digest(value)
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot key a {type(value).__name__}")


def source_digest(*patterns: str) -> str:
    """SHA-256 of the project source files matching ``patterns`` (names and contents): the
    code that decides a stage's result where no netlist stands for it."""
    h = hashlib.sha256()
    for pattern in patterns:
        for path in sorted(PROJECT_ROOT.glob(pattern)):
            h.update(str(path.relative_to(PROJECT_ROOT)).encode() + b"\0")
            h.update(path.read_bytes())
    return h.hexdigest()


@dataclass(frozen=True)
class Entry:
    """A complete cache entry: its directory, what it was made from and how long it took."""

    stage: str
    key: str
    path: Path
    inputs: dict
    value: object
    seconds: float

    def file(self, name: str) -> Path:
        """Path of a stored file."""
        return self.path / name

    def copy_to(self, directory: Path, *names: str) -> None:
        """Copy stored files into ``directory`` (each written atomically)."""
        directory.mkdir(parents=True, exist_ok=True)
        for name in names:
            tmp = directory / f".{name}.{os.getpid()}.tmp"
            shutil.copyfile(self.file(name), tmp)
            tmp.replace(directory / name)

    def describe(self) -> str:
        """``reused STAGE KEY (took N s when made)`` for the build's stage lines."""
        return f"reused {self.stage}/{self.key[:12]} (made in {self.seconds:.0f} s)"


class StageCache:
    """Stage results under ``root`` (``None``: a cache that never finds or keeps anything).

    Parameters
    ----------
    root : Path or None
        Cache directory (default ``build/cache``).
    """

    def __init__(self, root: Path | None = CACHE_ROOT):
        self.root = None if root is None else Path(root)

    def key(self, stage: str, inputs: dict) -> str:
        """The key of ``stage`` with ``inputs`` (SHA-256 hex)."""
        return digest({"format": FORMAT, "stage": stage, "inputs": inputs})

    def lookup(self, stage: str, inputs: dict) -> Entry | None:
        """The complete entry of ``stage`` with ``inputs``, or None (a damaged one is
        removed)."""
        if self.root is None:
            return None
        key = self.key(stage, inputs)
        path = self.root / stage / key
        if not path.is_dir():
            return None
        entry = _read_entry(path, stage, key)
        if entry is None:
            _discard(path)
        return entry

    def store(self, stage: str, inputs: dict, *, files: dict[str, Path] | None = None,
              value=None, seconds: float = 0.0) -> Entry | None:
        """Store ``files`` (name -> path, copied) and a JSON ``value`` as the result of
        ``stage`` with ``inputs``; atomic: the entry appears complete or not at all."""
        if self.root is None:
            return None
        key = self.key(stage, inputs)
        folder = self.root / stage
        folder.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=f".partial-{key[:12]}-", dir=folder))
        try:
            listing = {}
            for name, source in (files or {}).items():
                if "/" in name or name in ("", ".", "..", ENTRY):
                    raise ValueError(f"bad cache file name {name!r}")
                shutil.copyfile(source, scratch / name)
                listing[name] = {"sha256": digest(scratch / name),
                                 "bytes": (scratch / name).stat().st_size}
            record = {"format": FORMAT, "stage": stage, "key": key, "inputs": inputs,
                      "files": listing, "value": value, "seconds": round(seconds, 2),
                      "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
            (scratch / ENTRY).write_text(json.dumps(record, indent=1, default=_jsonable))
            for path in scratch.iterdir():
                with open(path, "rb") as f:
                    os.fsync(f.fileno())
            final = folder / key
            if final.exists():
                _discard(final)
            try:
                scratch.rename(final)
            except OSError:  # another process stored the same entry first
                if _read_entry(final, stage, key) is None:
                    raise
                shutil.rmtree(scratch, ignore_errors=True)
        except BaseException:
            shutil.rmtree(scratch, ignore_errors=True)
            raise
        return _read_entry(final, stage, key)


def _read_entry(path: Path, stage: str, key: str) -> Entry | None:
    """The entry in ``path`` if it is complete and every file matches its record."""
    try:
        record = json.loads((path / ENTRY).read_text())
        if (record["format"], record["stage"], record["key"]) != (FORMAT, stage, key):
            return None
        for name, info in record["files"].items():
            file = path / name
            if file.stat().st_size != info["bytes"] or digest(file) != info["sha256"]:
                return None
        return Entry(stage, key, path, record["inputs"], record.get("value"),
                     float(record.get("seconds", 0.0)))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _discard(path: Path) -> None:
    """Remove a damaged or replaced entry (first renamed away, so no reader sees it half)."""
    trash = path.with_name(f".discard-{path.name[:12]}-{os.getpid()}-{time.monotonic_ns()}")
    try:
        path.rename(trash)
    except OSError:
        return
    shutil.rmtree(trash, ignore_errors=True)
