"""flows/build.py: bad input gives one sentence and exit code 2, before any tool runs;
report rendering and the nextpnr resource-failure message."""

import os

import pytest
from conftest import assert_one_line_error, run_cli

from flows.devices import BOARDS, board_device
from flows.toolchain import ToolError


@pytest.mark.parametrize(("args", "fragment"), [
    (["--board", "ulx3s-99f"], "unknown board 'ulx3s-99f'"),
    (["--bits", "dynamic", "--interval", "0"], "--interval: expected an integer in 1..255"),
    (["--bits", "dynamic", "--start-bits", "1"], "--start-bits: expected an integer in 2..8"),
    (["--neurons", "0"], "--neurons"),
    (["--images", "0"], "--images: expected an integer >= 1"),
    (["--weights", "no/such/file.npz", "--neurons", "48"], "does not exist"),
    (["--board", "ulx3s-25f", "--weights", "random", "--block-size", "0"],
     "--block-size: expected an integer in 1..1024"),
    (["--board", "ulx3s-25f", "--weights", "random"],
     "needs about 72 DP16KD block RAMs and the LFE5U-25F has 56; try --lanes 26 "
     "--block-size 26"),
])
def test_bad_arguments(args, fragment, tmp_path):
    assert_one_line_error(run_cli("flows/build.py", *args, "--out", tmp_path), fragment)


def test_unknown_precision(tmp_path):
    proc = run_cli("flows/build.py", "--bits", "9", "--out", tmp_path)
    assert proc.returncode == 2 and "invalid choice: '9'" in proc.stderr


def test_unwritable_output_directory(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    assert_one_line_error(run_cli("flows/build.py", "--out", blocker / "out"),
                          "is not a directory")


def test_missing_tool(tmp_path):
    env = dict(os.environ, YOSYS=str(tmp_path / "no-yosys"))
    assert_one_line_error(run_cli("flows/build.py", "--out", tmp_path, env=env),
                          "yosys is missing")


def test_weights_of_the_wrong_size(tiny_weights, tmp_path):
    assert_one_line_error(run_cli("flows/build.py", "--neurons", "48", "--weights",
                                  tiny_weights, "--out", tmp_path), "N=12", "--neurons 48")


def test_board_table():
    assert board_device("ulx3s-85f").nextpnr_args()[:1] == ["--85k"]
    assert set(BOARDS) == {"ulx3s-12f", "ulx3s-25f", "ulx3s-45f", "ulx3s-85f", "ecpix5-45f",
                           "ecpix5-85f"}
    assert board_device("ulx3s-25f").dp16kd == 56
    assert board_device("ecpix5-85f").nextpnr_args() == ["--um5g-85k", "--package", "CABGA554",
                                                         "--speed", "8"]


def test_resource_failure_is_one_sentence(tmp_path, monkeypatch):
    """A nextpnr overflow log becomes 'does not fit' naming the device and the cell type."""
    from flows import synth

    def failing_tool(tool, args, log, label, **kw):
        log.write_text("Info: Device utilisation:\nInfo: \t DP16KD:  64/  56   114%\n"
                       "ERROR: Unable to place cell 'hidden.plane0.0.0', no BELs remaining to "
                       "implement cell type 'DP16KD'\n")
        raise ToolError("nextpnr-ecp5 failed")

    monkeypatch.setattr(synth, "run_tool", failing_tool)
    with pytest.raises(ToolError, match=r"does not fit LFE5U-25F: it needs more DP16KD .*"
                                        r"DP16KD 64/56"):
        synth.run_nextpnr(tmp_path / "x.json", board_device("ulx3s-25f"), tmp_path,
                          freq_mhz=100, seed=1, progress=False)


def test_board_table_agrees_with_boards_package():
    """flows.devices and boards.platforms name the same device for every shared board id."""
    platforms = pytest.importorskip("boards.platforms")
    assert set(BOARDS) == set(platforms.BOARDS)
    for board_id in BOARDS:
        assert platforms.BOARDS[board_id].device == board_device(board_id).name, board_id


def test_tool_runs_and_failures_are_reported(tmp_path):
    """A real (fast) Yosys call: log written, pipe closed (no ResourceWarning); a failing
    script becomes a ToolError naming the error and the log."""
    from flows.toolchain import run_tool

    run = run_tool("yosys", ["-V"], tmp_path / "ok.log", "yosys", cwd=tmp_path,
                   progress=False)
    assert "Yosys" in run.log.read_text() and run.seconds > 0
    with pytest.raises(ToolError, match=r"yosys failed .*no_such_pass.*see .*bad\.log"):
        run_tool("yosys", ["-p", "no_such_pass"], tmp_path / "bad.log", "yosys", cwd=tmp_path,
                 progress=False)

