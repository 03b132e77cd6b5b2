"""The endpoint timing of flows/timing_paths.py: a hand-made SDF with known arrivals, bad
files, and a small design routed by nextpnr whose own critical path it must reproduce."""

import json
import os
import subprocess

import pytest

from flows import timing_paths
from flows.toolchain import find_tool
from golden.errors import UserError

HEADER = """(DELAYFILE
  (SDFVERSION "3.0")
  (DESIGN "top")
  (DIVIDER /)
  (TIMESCALE 1ps)
"""


def _cell(kind: str, instance: str, body: str) -> str:
    return f"""  (CELL
    (CELLTYPE "{kind}")
    (INSTANCE {instance})
{body}
    )
"""


def _delays(*lines: str) -> str:
    return "    (DELAY\n      (ABSOLUTE\n" + "".join(f"        {x}\n" for x in lines) + \
        "      )\n    )"


def _checks(*lines: str) -> str:
    return "    (TIMINGCHECK\n" + "".join(f"      {x}\n" for x in lines) + "    )"


def _ff(instance: str) -> str:
    return _cell("TRELLIS_FF", instance, "\n".join([
        _delays("(IOPATH CLK Q (400:450:500) (400:450:500))"),
        _checks("(SETUPHOLD (posedge DI) (posedge CLK) (0:0:0) (200:250:300))",
                "(SETUPHOLD (negedge DI) (posedge CLK) (0:0:0) (200:250:300))",
                "(SETUPHOLD (posedge LSR) (posedge CLK) (300:350:420) (0:0:0))")]))


def _lut(instance: str) -> str:
    return _cell("TRELLIS_COMB", instance, _delays(
        "(IOPATH A F (150:180:200) (150:180:200))", "(IOPATH B F (150:180:200) (150:180:200))"))


def _sdf(routes: list[str], cells: list[str]) -> str:
    top = _cell("top", "", _delays(*routes))
    return HEADER + top + "".join(cells) + ")\n"


ROUTES = [
    r"(INTERCONNECT \$gbuf\$clk/CLKO count_TRELLIS_FF_Q_3/CLK (0:0:0) (0:0:0))",
    "(INTERCONNECT count_TRELLIS_FF_Q_3/Q sum_LUT4_Z/A (800:900:1000) (800:900:1000))",
    "(INTERCONNECT count_TRELLIS_FF_Q_1/Q sum_LUT4_Z/B (200:250:300) (200:250:300))",
    "(INTERCONNECT sum_LUT4_Z/F total\\$12_TRELLIS_FF_Q_7/DI (1500:1800:2000) (1500:1800:2000))",
    "(INTERCONNECT mem.0.0/DOA0 total\\$12_TRELLIS_FF_Q_2/LSR (50:80:100) (50:80:100))",
]
CELLS = [_ff("count_TRELLIS_FF_Q_3"), _ff("count_TRELLIS_FF_Q_1"), _lut("sum_LUT4_Z"),
         _ff(r"total\$12_TRELLIS_FF_Q_7"), _ff(r"total\$12_TRELLIS_FF_Q_2"),
         _cell("DP16KD", "mem.0.0", _delays("(IOPATH CLKA DOA0 (800:850:900) (800:850:900))"))]


def test_every_endpoint_is_timed_at_its_latest_arrival(tmp_path):
    """Worst corner: clock-to-out 500 + route 1000 + LUT 200 + route 2000 + setup 0 = 3700 ps
    through the slower of the LUT's two inputs; the block RAM's read into a reset pin: 900 +
    100 + setup 420 = 1420 ps; the clock's own routing is not a path."""
    sdf = tmp_path / "design.sdf"
    sdf.write_text(_sdf(ROUTES, CELLS))
    timing = timing_paths.analyse(timing_paths.read_sdf(sdf), period_ps=1e6 / 300)
    assert timing.worst_ps == 3700 and timing.fmax_mhz == pytest.approx(1e6 / 3700)
    assert timing.endpoints == 2 and timing.over == 1 and timing.untimed_pins == 0
    (group,) = timing.groups
    assert (group.start, group.end, group.pin) == ("count", "total", "DI")
    assert group.worst_ps == 3700 and group.endpoints == 1 and group.routing_ps == 3000
    assert [(s.instance, s.pin, s.arrival_ps, s.routed) for s in group.path] == [
        ("count_TRELLIS_FF_Q_3", "Q", 500, False), ("sum_LUT4_Z", "A", 1500, True),
        ("sum_LUT4_Z", "F", 1700, False), ("total$12_TRELLIS_FF_Q_7", "DI", 3700, True)]
    # At a slower target both endpoints pass; at a faster one both are over, grouped apart.
    assert timing_paths.analyse(timing_paths.read_sdf(sdf), 3700).over == 0
    fast = timing_paths.analyse(timing_paths.read_sdf(sdf), 1000)
    assert [(g.start, g.end, g.pin, g.worst_ps) for g in fast.groups] == [
        ("count", "total", "DI", 3700), ("mem.#.#", "total", "LSR", 1420)]


def test_report_json_and_text(tmp_path):
    sdf = tmp_path / "design.sdf"
    sdf.write_text(_sdf(ROUTES, CELLS))
    paths = timing_paths.paths_over(sdf, 1000)  # 1 ns
    assert paths["worst_ns"] == 3.7 and paths["endpoints_over_target"] == 2
    assert paths["groups"][0] == {"start": "count", "end": "total", "pin": "DI",
                                  "endpoints": 1, "worst_ns": 3.7, "routing_ns": 3.0,
                                  "cells": 1}
    text = timing_paths.format_timing(timing_paths.analyse(timing_paths.read_sdf(sdf), 1e3), 1)
    assert "3.70 ns    1  count -> total.DI" in text and "sum_LUT4_Z.F" in text


def test_a_combinational_loop_is_counted_not_timed(tmp_path):
    routes = ROUTES + ["(INTERCONNECT loop_a/F loop_b/A (10:10:10) (10:10:10))",
                       "(INTERCONNECT loop_b/F loop_a/A (10:10:10) (10:10:10))"]
    sdf = tmp_path / "loop.sdf"
    sdf.write_text(_sdf(routes, [*CELLS, _lut("loop_a"), _lut("loop_b")]))
    timing = timing_paths.analyse(timing_paths.read_sdf(sdf), 1e6 / 300)
    assert timing.worst_ps == 3700 and timing.untimed_pins == 4


@pytest.mark.parametrize("text, message", [
    ("module top; endmodule\n", "is not an SDF file"),
    (HEADER + "  (CELL\n    (CELLTYPE \"X\")\n    (INSTANCE a)\n"
     "        (INTERCONNECT a/F)\n", "line 9: not an SDF line"),
    (HEADER + ")\n", "has no setup checks"),
])
def test_a_bad_sdf_is_one_error(tmp_path, text, message):
    sdf = tmp_path / "bad.sdf"
    sdf.write_text(text)
    with pytest.raises(UserError, match=message):
        timing_paths.read_sdf(sdf)


def test_cli_errors_are_one_line(tmp_path, capsys):
    from golden.errors import run_cli

    assert run_cli(timing_paths.main, [str(tmp_path / "missing.sdf"), "--freq", "100"]) == 2
    assert run_cli(timing_paths.main, [str(tmp_path), "--freq", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("error:") for line in err)


@pytest.mark.skipif(os.environ.get("SNN_SYNTH_TESTS") == "0",
                    reason="SNN_SYNTH_TESTS=0 skips Yosys and nextpnr runs")
def test_the_worst_endpoint_is_nextpnrs_critical_path(tmp_path):
    """A small design (an accumulator, a compare, a product) placed and routed on the 25F:
    the worst endpoint's arrival is nextpnr's own critical path, to the picosecond."""
    from amaranth.back import rtlil
    from amaranth.hdl import Module, Signal
    from amaranth.lib import wiring
    from amaranth.lib.wiring import In, Out

    class Design(wiring.Component):
        a: In(16)
        b: In(16)
        flag: Out(1)
        acc: Out(24)

        def elaborate(self, platform):
            m = Module()
            a, b = Signal(16), Signal(16)
            m.d.sync += [a.eq(self.a), b.eq(self.b), self.acc.eq(self.acc + (a ^ b)),
                         self.flag.eq((self.acc > 1_000_000) & (a[:6] * b[:6] > 1000))]
            return m

    (tmp_path / "top.il").write_text(rtlil.convert(Design(), name="top", emit_src=False))
    subprocess.run([find_tool("yosys"), "-q", "-p",
                    "read_rtlil top.il; synth_ecp5 -top top -json top.json"],
                   cwd=tmp_path, check=True)
    subprocess.run([find_tool("nextpnr-ecp5"), "--25k", "--package", "CABGA381",
                    "--json", "top.json", "--lpf-allow-unconstrained", "--freq", "400",
                    "--timing-allow-fail", "--seed", "1", "--report", "report.json",
                    "--sdf", "top.sdf", "--quiet"], cwd=tmp_path, check=True,
                   capture_output=True)
    report = json.loads((tmp_path / "report.json").read_text())
    fmax = [v["achieved"] for k, v in report["fmax"].items()]
    timing = timing_paths.analyse(timing_paths.read_sdf(tmp_path / "top.sdf"), 2500)
    assert len(fmax) == 1 and timing.fmax_mhz == pytest.approx(fmax[0], abs=0.01)
    assert timing.over > 0 and timing.untimed_pins == 0
