"""Generated bad options for every command-line tool (helpers: ``tests/bad_input.py``).

Option values out of range, not finite or malformed (generated from the limits that
:mod:`golden.cli` shares with :mod:`golden.config`), output paths that are directories, empty
or under a file, and the runs that used to succeed with bogus figures: each is exit 2 with one
``error:`` line naming the option, before any long work, leaving nothing behind.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.bad_input import ROOT, TOOLS, base_args, run_tool, work_paths
from tests.conftest import assert_one_line_error

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
                 "--lanes": bad_integers(1, 1024), "--block-size": bad_integers(1, 1024),
                 "--limit": bad_integers(1), "--events-per-cycle": bad_integers(1, 2)},
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
              "--floor-4bit": bad_numbers(0, 1), "--floor-2bit": bad_numbers(0, 1),
              "--sparsity": [*bad_numbers(0, 0.97), "0.98"],
              "--block-size": bad_integers(1, 1024), "--prune-start": bad_numbers(0, 1),
              "--prune-end": bad_numbers(0, 1)},
    "verify": {**MODE_OPTIONS, "--neurons": bad_integers(1, 1024),
               "--lanes": bad_integers(1, 1024), "--block-size": bad_integers(1, 1024),
               "--images": bad_integers(1), "--sparsity": bad_numbers(0, 1),
               "--events-per-cycle": bad_integers(1, 2)},
    "pareto": {"--limit": bad_integers(1), "--clock-mhz": bad_numbers(above=0, hi=500)},
    "build": {**MODE_OPTIONS, "--neurons": bad_integers(1, 1024),
              "--lanes": bad_integers(1, 1024), "--block-size": bad_integers(1, 1024),
              "--timesteps": bad_integers(1, 255), "--seed": bad_integers(0, 2**32 - 1),
              "--freq": bad_numbers(above=0, hi=500), "--images": bad_integers(1),
              "--activity-images": bad_integers(0), "--sweep-images": bad_integers(1),
              "--events-per-cycle": bad_integers(1, 2), "--timing-weight": bad_integers(1, 1000)},
    "demo": {**MODE_OPTIONS, "--images": bad_integers(1), "--show": bad_integers(0),
             "--baud": bad_integers(1, 12_000_000), "--clock-mhz": bad_numbers(above=0, hi=500),
             "--timeout": bad_numbers(above=0, hi=3600)},
    "bitstream": {"--baud": bad_integers(1, 12_000_000),
                  "--clock-mhz": bad_numbers(above=0, hi=500)},
    "model": {"--baud": bad_integers(1, 12_000_000), "--clock-mhz": bad_numbers(above=0, hi=500),
              "--fault-rate": bad_numbers(0, 1), "--seed": bad_integers(0, 2**32 - 1),
              "--noise-hex": ["xyz", "a5 0"], "--fault-kinds": ["burst,thunder", ""]},
}


OPTION_CASES = [(tool, option, value) for tool, options in OPTIONS.items()
                for option, values in options.items() for value in values]


@pytest.mark.parametrize("tool, option, value", OPTION_CASES,
                         ids=[f"{t}{o}={v or 'empty'}" for t, o, v in OPTION_CASES])
def test_bad_option_is_one_sentence(bad_files, workdir, capsys, no_work, tool, option, value):
    paths = {**work_paths(workdir), "tiny": bad_files["tiny"]}
    code, _, err = run_tool(tool, [*base_args(tool, paths), f"{option}={value}"], capsys,
                            workdir)
    assert code == 2, err
    assert option in err, err


OUTPUT_CASES = [("evaluate", "--predictions", "dir"), ("evaluate", "--predictions", "empty"),
                ("evaluate", "--predictions", "under-file"), ("train", "--out", "dir"),
                ("train", "--out", "empty"), ("train", "--out", "under-file"),
                ("pareto", "--out", "file"), ("pareto", "--out", "empty"),
                ("pareto", "--out", "under-file"), ("build", "--out", "file"),
                ("build", "--out", "under-file"), ("build", "--out", "empty")]


@pytest.mark.parametrize("tool, option, kind", OUTPUT_CASES,
                         ids=[f"{t}{o}-{k}" for t, o, k in OUTPUT_CASES])
def test_bad_output_path(bad_files, workdir, capsys, no_work, tool, option, kind):
    (workdir / "a-dir").mkdir()
    (workdir / "a-file").write_text("keep")
    target = {"dir": workdir / "a-dir", "empty": "", "file": workdir / "a-file",
              "under-file": workdir / "a-file" / "x"}[kind]
    paths = {**work_paths(workdir), "tiny": bad_files["tiny"]}
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
def test_no_run_with_bogus_figures(bad_files, workdir, capsys, no_work, tool, extra):
    paths = {**work_paths(workdir), "tiny": bad_files["tiny"]}
    args = base_args(tool, paths)
    if tool == "verify":
        args = ["--neurons", "12", "--images", "2"]
    code, _, err = run_tool(tool, [*args, *extra], capsys, workdir)
    assert code == 2, err


@pytest.mark.parametrize("tool", ["evaluate", "verify", "build"])
def test_two_events_per_cycle_need_a_whole_row_per_cycle(bad_files, workdir, capsys, no_work,
                                                         tool):
    """Two events per cycle read a whole hidden row per port: with L < N the option is
    refused in one sentence that names it and the lanes."""
    paths = {**work_paths(workdir), "tiny": bad_files["tiny"]}
    code, _, err = run_tool(tool, [*base_args(tool, paths), "--lanes", "4",
                                   "--events-per-cycle", "2"], capsys, workdir)
    assert code == 2, err
    assert "--events-per-cycle" in err and "lanes" in err, err


def test_evaluate_all_bits_json_is_one_object(bad_files, workdir, capsys):
    code, out, _ = run_tool("evaluate", ["--weights", bad_files["tiny"], "--limit", "5", "--bits",
                                         "all", "--json"], capsys, workdir)
    assert code == 0
    report = json.loads(out)
    assert [r["bits"] for r in report["modes"]] == [8, 7, 6, 5, 4, 3, 2, "dynamic"]


@pytest.mark.parametrize("tool", sorted(TOOLS))
def test_each_tool_from_the_command_line(tool):
    """The same one line from a real process (its ``__main__`` goes through run_cli)."""
    argv = {"evaluate": ["--limit=0"], "train": ["--threads=0"], "verify": ["--neurons=0"],
            "summary": ["no-such.npz"], "pareto": ["--clock-mhz=nan"], "build": ["--seed=-1"],
            "demo": ["--clock-mhz=nan"], "bitstream": ["--baud=0"], "model": ["--seed=-1"]}[tool]
    proc = subprocess.run([sys.executable, "-m", TOOLS[tool], *argv], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert_one_line_error(proc, argv[0].split("=")[0])
