"""Command-line options checked when they are parsed, with the limits the config classes use.

Every tool builds its parser with :class:`ArgumentParser` (a bad option is one sentence and
exit code 2, like every other :class:`~golden.errors.UserError`) and declares its options
with the types below: integers in a range, finite numbers, positive physical quantities,
files to read and paths to write.  The ranges come from :mod:`golden.config`, so an option
accepts exactly what the configuration it feeds accepts.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import stat
from collections.abc import Callable
from pathlib import Path

from golden.config import MAX_NEURONS, MAX_STEPS
from golden.errors import UserError

MAX_CLOCK_MHZ = 500.0
"""Highest core clock an option accepts (MHz); an ECP5 fabric clock tops out near 400 MHz."""
MAX_BAUD = 12_000_000
"""Highest UART bit rate an option accepts (bit/s; FTDI bridges top out at 12 Mbaud)."""


class ArgumentParser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` whose usage errors are a :class:`UserError` (one line,
    exit code 2 through :func:`golden.errors.run_cli`) instead of a usage dump."""

    def error(self, message: str):
        raise UserError(f"{message} (see --help)")


def integer(lo: int, hi: int | None = None) -> Callable[[str], int]:
    """An option type: an integer in ``lo..hi`` (no upper limit when ``hi`` is None)."""
    expected = f"an integer >= {lo}" if hi is None else f"an integer in {lo}..{hi}"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, not {text!r}") from None
        if value < lo or (hi is not None and value > hi):
            raise argparse.ArgumentTypeError(f"expected {expected}, not {value}")
        return value

    parse.__name__ = "integer"
    return parse


def number(*, lo: float | None = None, hi: float | None = None,
           above: float | None = None) -> Callable[[str], float]:
    """An option type: a finite number, ``>= lo``, ``<= hi`` and ``> above`` where given."""
    parts = [f">= {lo:g}" if lo is not None else "", f"> {above:g}" if above is not None else "",
             f"<= {hi:g}" if hi is not None else ""]
    expected = " ".join(["a number", " and ".join(filter(None, parts))]).strip()

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or (lo is not None and value < lo) or (
                hi is not None and value > hi) or (above is not None and value <= above):
            raise argparse.ArgumentTypeError(f"expected {expected}, not {text!r}")
        return value

    parse.__name__ = "number"
    return parse


neurons = integer(1, MAX_NEURONS)
"""Hidden neurons N (and lanes L, block size B): the limits of :class:`SNNConfig`."""
steps = integer(1, MAX_STEPS)
"""Time steps T: the limits of :class:`SNNConfig` and :class:`RunSettings`."""
count = integer(1)
"""A number of things that must not be zero (images, epochs, threads, ...)."""
seed = integer(0, 2**32 - 1)
"""A random seed (NumPy and PyTorch accept 0..2**32-1)."""
fraction = number(lo=0, hi=1)
"""A fraction in 0..1."""
non_negative = number(lo=0)
positive = number(above=0)
clock_mhz = number(above=0, hi=MAX_CLOCK_MHZ)
"""A core clock in MHz."""
timeout_s = number(above=0, hi=3600)
"""A time-out in seconds."""
baud = integer(1, MAX_BAUD)
"""A UART bit rate in bit/s."""


def project_default(path: Path) -> str:
    """A default path inside the project, spelled so that it works from any directory:
    relative to the working directory when it is inside it, else absolute."""
    path = Path(path).resolve()
    return str(path.relative_to(Path.cwd())) if path.is_relative_to(Path.cwd()) else str(path)


def hex_bytes(text: str) -> bytes:
    """An option type: bytes written in hexadecimal (spaces allowed)."""
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected hexadecimal bytes such as 'a5 00 10', "
                                         f"not {text!r}") from None


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"


def readable_file(path: str | os.PathLike, what: str = "file") -> Path:
    """``path`` if it is a regular file, else a :class:`UserError` saying what it is."""
    path = Path(path)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise UserError(f"{what} {path} does not exist") from None
    except OSError as err:
        raise UserError(f"{what} {path} cannot be read ({err.strerror})") from None
    if not stat.S_ISREG(mode):
        raise UserError(f"{what} {path} is {_kind(mode)}, not a file")
    return path


def writable_path(path: str | os.PathLike, what: str = "output file") -> Path:
    """``path`` if a file may be written there (it is not empty, not a directory, and its
    folder is one), else a :class:`UserError`."""
    if not str(path):
        raise UserError(f"the {what} name is empty")
    path = Path(path)
    if path.exists() and not path.is_file():
        raise UserError(f"{what} {path} is {_kind(path.stat().st_mode)}, not a file")
    folder = path.parent
    if not folder.is_dir():
        state = "is not a directory" if folder.exists() else "does not exist"
        raise UserError(f"{what} {path}: the folder {folder} {state}")
    return path


def output_dir(path: str | os.PathLike) -> Path:
    """``path`` if a directory may be made or used there, else a :class:`UserError`
    (nothing is created: a rejected run leaves no empty folder)."""
    if not str(path):
        raise UserError("the output directory name is empty")
    path = Path(path)
    existing = next((p for p in (path, *path.parents) if p.exists()), None)
    if existing is not None and not existing.is_dir():
        raise UserError(f"output directory {path}: {existing} is not a directory")
    return path


def _argument(check: Callable[[str], Path]) -> Callable[[str], Path]:
    def parse(text: str) -> Path:
        try:
            return check(text)
        except UserError as err:
            raise argparse.ArgumentTypeError(str(err)) from None

    parse.__name__ = check.__name__
    return parse


input_file = _argument(readable_file)
"""An option type: a regular file that exists."""
output_file = _argument(writable_path)
"""An option type: a file that may be written (not a directory, its folder is one)."""
output_folder = _argument(output_dir)
"""An option type: a directory that may be created or used."""


def strict_json(value, **kwargs) -> str:
    """``json.dumps`` that refuses NaN and infinities (they are not JSON)."""
    try:
        return json.dumps(value, allow_nan=False, **kwargs)
    except ValueError as err:
        raise UserError(f"a result is not a finite number ({err})") from None


def add_events_argument(p: argparse.ArgumentParser) -> None:
    """``--events-per-cycle`` (read by :func:`events_config`)."""
    p.add_argument("--events-per-cycle", type=int, choices=(1, 2), default=None, metavar="E",
                   help="input spikes the core integrates per clock cycle, 1 or 2 (2 reads "
                        "the hidden weights through both ports of every block RAM and needs a "
                        "whole hidden row per cycle, L >= N; only the cycles per image, the "
                        "latency and the energy depend on it) (default: 2 when L >= N, else 1)")


def events_config(config, events: int | None):
    """``config`` with ``events_per_cycle = events`` (None keeps it), or a
    :class:`UserError` saying why that configuration cannot take it."""
    if events is None:
        return config
    try:
        return config.replace(events_per_cycle=events)
    except ValueError as err:
        raise UserError(f"--events-per-cycle {events}: {err}") from None
