"""The netlist pass that moves read registers into DP16KD output registers: which ports
qualify (the Verilator check of the rewritten netlist is in tests/test_netlist_sim.py)."""

import copy

import pytest

from flows.bram_registers import absorb_output_registers

CLK, OTHER_CLK, RESET, ENABLE = 2, 3, 4, 5
DO_NET, Q_NET = 100, 200


def _netlist(bits: int = 4, **ff_changes) -> dict:
    """One DP16KD whose port B data bits 0..bits-1 each drive one flip-flop."""
    ram = {"type": "DP16KD",
           "parameters": {"DATA_WIDTH_A": "10010", "DATA_WIDTH_B": "10010",
                          "REGMODE_A": "NOREG", "REGMODE_B": "NOREG", "CLKBMUX": "CLKB"},
           "port_directions": {"CLKB": "input", "RSTB": "input", "OCEB": "input",
                               **{f"DOB{i}": "output" for i in range(18)}},
           "connections": {"CLKB": [CLK], "RSTB": ["0"], "OCEB": ["1"],
                           **{f"DOB{i}": [DO_NET + i] for i in range(bits)}}}
    cells = {"ram": ram}
    for i in range(bits):
        connections = {"CLK": [CLK], "DI": [DO_NET + i], "LSR": ["0"], "Q": [Q_NET + i]}
        connections.update(ff_changes.get("connections", {}))
        cells[f"ff{i}"] = {"type": "TRELLIS_FF",
                           "parameters": {"CEMUX": "1 ", "CLKMUX": "CLK", "GSR": "DISABLED",
                                          "REGSET": "RESET", **ff_changes.get("parameters", {})},
                           "port_directions": {"CLK": "input", "DI": "input", "LSR": "input",
                                               "CE": "input", "Q": "output"},
                           "connections": connections}
    load = {"type": "LUT4", "port_directions": {"A": "input", "Z": "output"},
            "connections": {"A": [Q_NET], "Z": [300]}, "parameters": {}}
    cells["load"] = load
    return {"modules": {"top": {"cells": cells, "ports": {}, "netnames": {}}}}


def test_plain_read_registers_become_the_output_register():
    netlist = _netlist()
    result = absorb_output_registers(netlist, "top")
    cells = netlist["modules"]["top"]["cells"]
    assert (result.ports, result.flip_flops) == (1, 4)
    assert cells["ram"]["parameters"]["REGMODE_B"] == "OUTREG"
    assert cells["ram"]["parameters"]["REGMODE_A"] == "NOREG"
    assert [cells["ram"]["connections"][f"DOB{i}"] for i in range(4)] == [
        [Q_NET + i] for i in range(4)]
    assert cells["ram"]["connections"]["OCEB"] == ["1"]
    assert not [name for name in cells if name.startswith("ff")]
    assert result.skipped == {"no data read": 1}  # port A reads nothing here


@pytest.mark.parametrize("change, reason", [
    ({"connections": {"CE": [ENABLE]}, "parameters": {"CEMUX": "CE"}}, "plain flip-flop"),
    ({"connections": {"LSR": [RESET]}}, "plain flip-flop"),
    ({"connections": {"CLK": [OTHER_CLK]}}, "plain flip-flop"),
    ({"parameters": {"CLKMUX": "INV"}}, "plain flip-flop"),
    ({"parameters": {"REGSET": "SET"}}, "plain flip-flop"),
], ids=["clock-enable", "reset", "other-clock", "inverted-clock", "set"])
def test_registers_that_do_more_than_sample_stay_in_the_fabric(change, reason):
    netlist = _netlist(**change)
    before = copy.deepcopy(netlist)
    result = absorb_output_registers(netlist, "top")
    assert result.ports == result.flip_flops == 0
    assert any(reason in text for text in result.skipped), result.skipped
    assert netlist == before


@pytest.mark.parametrize("edit, reason", [
    (lambda cells: cells["load"]["connections"].update(A=[DO_NET + 1]), "several loads"),
    (lambda cells: cells["ram"]["connections"].update(RSTB=[RESET]), "port reset"),
    (lambda cells: cells["ram"]["connections"].update(OCEB=[ENABLE]), "output clock enable"),
    (lambda cells: cells["ram"]["parameters"].update(DATA_WIDTH_A="100100"), "pseudo dual"),
    (lambda cells: cells["ram"]["parameters"].update(REGMODE_B="OUTREG"), "already used"),
], ids=["fan-out", "port-reset", "output-enable", "x36", "outreg"])
def test_ports_whose_data_or_controls_are_used_otherwise_are_left(edit, reason):
    netlist = _netlist()
    cells = netlist["modules"]["top"]["cells"]
    cells["load"]["port_directions"]["A"] = "input"
    edit(cells)
    before = copy.deepcopy(netlist)
    result = absorb_output_registers(netlist, "top")
    assert result.ports == 0
    assert any(reason in text for text in result.skipped), result.skipped
    assert netlist == before


def test_data_on_a_top_level_output_is_left():
    netlist = _netlist()
    netlist["modules"]["top"]["ports"]["q"] = {"direction": "output", "bits": [DO_NET + 2]}
    result = absorb_output_registers(netlist, "top")
    assert result.ports == 0 and "several loads" in "".join(result.skipped)
