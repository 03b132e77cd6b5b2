"""Weights files (``weights/<name>.npz``, format ``snn-weights/1``): save, load, validate.

Fields (DESIGN.md section 2): ``format``, ``w_hidden`` int8 ``[784, N]``, ``w_out`` int8
``[N, 10]``, 0-d int32 ``theta_hidden``, ``theta_out``, ``leak_hidden``, ``leak_out``,
``timesteps``, 0-d str ``encoding``, ``quantizer`` and ``meta`` (JSON).  Loading checks every
one of them and raises :class:`WeightsError` with one sentence naming the file and the field.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from golden.cli import readable_file
from golden.config import (
    ENCODING,
    FORMAT,
    MAX_LEAK_SHIFT,
    N_INPUTS,
    N_OUTPUTS,
    QUANTIZER,
    WEIGHT_MAX,
    SNNConfig,
)
from golden.errors import UserError

SCALAR_FIELDS = ("theta_hidden", "theta_out", "leak_hidden", "leak_out", "timesteps")
STRING_FIELDS = ("format", "encoding", "quantizer", "meta")
ALL_FIELDS = ("format", "w_hidden", "w_out", *SCALAR_FIELDS, "encoding", "quantizer", "meta")


class WeightsError(UserError):
    """A weights file that is missing, unreadable or breaks the format (one sentence)."""


@dataclass(frozen=True)
class Weights:
    """A trained network: sign-magnitude weights in -127..127 plus its neuron constants."""

    w_hidden: np.ndarray
    w_out: np.ndarray
    theta_hidden: int
    theta_out: int
    leak_hidden: int
    leak_out: int
    timesteps: int
    meta: dict = field(default_factory=dict)

    @property
    def n_hidden(self) -> int:
        """Hidden neurons N."""
        return self.w_hidden.shape[1]

    def config(self, **hardware) -> SNNConfig:
        """The :class:`SNNConfig` of this network; ``hardware`` sets lanes, B, t_max, ..."""
        hardware.setdefault("t_max", max(SNNConfig().t_max, self.timesteps))
        return SNNConfig(n_hidden=self.n_hidden, timesteps=self.timesteps,
                         theta_hidden=self.theta_hidden, theta_out=self.theta_out,
                         leak_hidden=self.leak_hidden, leak_out=self.leak_out, **hardware)


def save_weights(path: str | os.PathLike, weights: Weights) -> None:
    """Write ``weights`` to ``path`` atomically (a temporary file renamed into place).

    The fields are checked exactly as :func:`load_weights` checks them, so a file this writes
    always loads; a defect raises :class:`WeightsError` and leaves ``path`` untouched.
    """
    path = Path(path)
    _check_arrays(path, {"w_hidden": weights.w_hidden, "w_out": weights.w_out})
    try:
        arrays = {
            "format": np.array(FORMAT),
            "w_hidden": np.asarray(weights.w_hidden, dtype=np.int8),
            "w_out": np.asarray(weights.w_out, dtype=np.int8),
            **{name: np.array(getattr(weights, name), dtype=np.int32)
               for name in SCALAR_FIELDS},
            "encoding": np.array(ENCODING),
            "quantizer": np.array(QUANTIZER),
            "meta": np.array(json.dumps(weights.meta, sort_keys=True, allow_nan=False)),
        }
    except (TypeError, ValueError, OverflowError) as err:
        raise WeightsError(f"cannot write {path}: {err}") from None
    from_fields(path, arrays)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    write_atomic(Path(path), buffer.getvalue())


def write_atomic(path: Path, data: bytes | str) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never half."""
    path = Path(path)
    if isinstance(data, str):
        data = data.encode()
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as err:
        raise UserError(f"cannot write to {path.parent} ({err.strerror})") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the usual file mode
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_weights(path: str | os.PathLike) -> Weights:
    """Load and validate a weights file; raise :class:`WeightsError` on any defect."""
    try:
        path = readable_file(path, "weights file")
    except UserError as err:
        raise WeightsError(str(err)) from None
    try:
        with open(path, "rb") as f:
            head = f.read(6)
            if head == b"\x93NUMPY":
                raise WeightsError(f"{path} holds a single .npy array, not an .npz weights "
                                   "file")
            if not head.startswith(b"PK"):
                raise WeightsError(f"{path} is not a readable .npz weights file (not a zip "
                                   "archive)")
            f.seek(0)
            with np.load(f, allow_pickle=False) as npz:
                fields = {name: npz[name] for name in npz.files if name in ALL_FIELDS}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError, zlib.error) as err:
        raise WeightsError(f"{path} is not a readable .npz weights file ({err})") from None
    except MemoryError:
        raise WeightsError(f"{path} declares an array too large for memory: the file is "
                           "corrupt") from None
    return from_fields(path, fields)


def from_fields(path: Path, fields: dict[str, np.ndarray]) -> Weights:
    """The :class:`Weights` the arrays of a weights file hold, checked field by field
    (:class:`WeightsError` naming ``path`` and the field)."""
    for name in ALL_FIELDS:
        if name not in fields:
            raise WeightsError(f"{path} has no field '{name}'")
    strings = {name: _string(path, name, fields[name]) for name in STRING_FIELDS}
    for name, want in (("format", FORMAT), ("encoding", ENCODING), ("quantizer", QUANTIZER)):
        if strings[name] != want:
            raise WeightsError(f"{path} field '{name}' is {strings[name]!r}, expected {want!r}")
    _check_arrays(path, fields)
    scalars = {name: _scalar(path, name, fields[name]) for name in SCALAR_FIELDS}
    try:
        meta = json.loads(strings["meta"])
    except json.JSONDecodeError:
        raise WeightsError(f"{path} field 'meta' is not valid JSON") from None
    if not isinstance(meta, dict):
        raise WeightsError(f"{path} field 'meta' must hold a JSON object")
    weights = Weights(fields["w_hidden"], fields["w_out"], meta=meta, **scalars)
    try:
        weights.config()
    except ValueError as err:
        raise WeightsError(f"{path}: {err}") from None
    _check_pruning_meta(path, meta.get("pruning"), fields["w_hidden"])
    return weights


SPARSITY_TOLERANCE = 1e-6
"""Largest difference between a recorded and a counted sparsity (JSON rounding)."""


def zero_block_fraction(w_hidden: np.ndarray, block_size: int) -> float:
    """Fraction of the hidden layer's blocks (one input row x ``block_size`` consecutive
    neurons, the last block of a row may be narrower) whose integer weights are all zero."""
    rows, n = w_hidden.shape
    n_blocks = -(-n // block_size)
    padded = np.zeros((rows, n_blocks * block_size), dtype=np.int64)
    padded[:, :n] = np.abs(w_hidden.astype(np.int64))
    return float((padded.reshape(rows, n_blocks, block_size).max(-1) == 0).mean())


def _check_pruning_meta(path: Path, pruning, w_hidden: np.ndarray) -> None:
    """A block-pruned file's meta (``golden/train.py --sparsity``) must describe its weights:
    the recorded block size, block sparsity (at least the target) and weight sparsity."""
    if not isinstance(pruning, dict) or not pruning.get("sparsity"):
        return
    block, recorded = pruning.get("block_size"), pruning.get("block_sparsity")
    target, weight_sparsity = pruning["sparsity"], pruning.get("weight_sparsity")
    numbers = (target, recorded, weight_sparsity)
    if (not isinstance(block, int) or isinstance(block, bool) or block < 1
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                       and 0 <= v <= 1 for v in numbers)):
        raise WeightsError(f"{path} meta 'pruning' needs block_size >= 1 and sparsity, "
                           "block_sparsity and weight_sparsity in 0..1")
    counted = zero_block_fraction(w_hidden, block)
    if abs(counted - recorded) > SPARSITY_TOLERANCE or counted < target - SPARSITY_TOLERANCE:
        raise WeightsError(f"{path} meta records {recorded:.4f} of the hidden blocks of "
                           f"{block} all-zero (target {target:g}), but its w_hidden has "
                           f"{counted:.4f}: the meta disagrees with the weights")
    zeros = float((w_hidden == 0).mean())
    if abs(zeros - weight_sparsity) > SPARSITY_TOLERANCE:
        raise WeightsError(f"{path} meta records a weight sparsity of {weight_sparsity:.4f}, "
                           f"but {zeros:.4f} of its w_hidden is zero: the meta disagrees "
                           "with the weights")


def _string(path: Path, name: str, value: np.ndarray) -> str:
    if value.shape != () or value.dtype.kind != "U":
        raise WeightsError(f"{path} field '{name}' must be a 0-d string")
    return str(value)


def _scalar(path: Path, name: str, value: np.ndarray) -> int:
    if value.shape != () or value.dtype != np.int32:
        raise WeightsError(f"{path} field '{name}' must be a 0-d int32, "
                           f"not {value.dtype} with shape {value.shape}")
    number = int(value)
    lo, hi = {"leak_hidden": (0, MAX_LEAK_SHIFT), "leak_out": (0, MAX_LEAK_SHIFT),
              "timesteps": (1, 255)}.get(name, (1, 2**31 - 1))
    if not lo <= number <= hi:
        raise WeightsError(f"{path} field '{name}' is {number}, expected {lo}..{hi}")
    return number


def _check_arrays(path: Path, fields: dict) -> None:
    w_hidden, w_out = fields["w_hidden"], fields["w_out"]
    for name, array in (("w_hidden", w_hidden), ("w_out", w_out)):
        array = np.asarray(array)
        if array.dtype != np.int8:
            raise WeightsError(f"{path} field '{name}' must be int8, not {array.dtype}")
        if array.ndim != 2:
            raise WeightsError(f"{path} field '{name}' must be 2-d, not shape {array.shape}")
        if array.size and int(array.min()) < -WEIGHT_MAX:
            raise WeightsError(f"{path} field '{name}' holds {int(array.min())}, but "
                               f"sign-magnitude weights are in -127..127")
    n = w_hidden.shape[1]
    if w_hidden.shape[0] != N_INPUTS or not 1 <= n <= 1024:
        raise WeightsError(f"{path} field 'w_hidden' has shape {w_hidden.shape}, "
                           f"expected [{N_INPUTS}, N] with N in 1..1024")
    if w_out.shape != (n, N_OUTPUTS):
        raise WeightsError(f"{path} field 'w_out' has shape {w_out.shape}, "
                           f"expected [{n}, {N_OUTPUTS}] to match w_hidden")
