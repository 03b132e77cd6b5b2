"""Board tops elaborate for every board family; build cache keys; nextpnr log parsing."""

import pytest

from boards import bitstream
from boards.platforms import BOARDS, DEFAULT_CLOCK_HZ
from boards.top import BoardTop
from golden.weights import load_weights

NEXTPNR_LOG = """\
Info: Device utilisation:
Info: 	          TRELLIS_IO:      13/    365     3%
Info: 	              DP16KD:      75/    208    36%
Info: 	             EHXPLLL:       1/      4    25%
Info: 	        TRELLIS_COMB:   31778/  83640    37%
Info: Max frequency for clock '$glbnet$pll.clk': 40.10 MHz (FAIL at 45.00 MHz)
Info: Max frequency for clock '$glbnet$pll.clk': 51.27 MHz (PASS at 45.00 MHz)
"""


def test_nextpnr_log_parsing():
    assert bitstream._fmax(NEXTPNR_LOG) == 51.27
    assert bitstream._utilisation(NEXTPNR_LOG) == {
        "TRELLIS_IO": "13/365", "DP16KD": "75/208", "EHXPLLL": "1/4",
        "TRELLIS_COMB": "31778/83640"}
    assert bitstream._fmax("no timing here") is None


@pytest.mark.parametrize("board_id", ["ulx3s-85f", "ecpix5-85f"])
def test_board_top_elaborates(board_id, tiny_weights):
    spec = BOARDS[board_id]
    weights = load_weights(tiny_weights)
    soc = bitstream.make_soc(weights, DEFAULT_CLOCK_HZ, 3_000_000, spec.banks)
    plan = spec.platform_class()().prepare(BoardTop(board=spec, soc=soc), name="top")
    files = dict(plan.files)
    rtlil, lpf = files["top.il"], files["top.lpf"]
    ki = 20 if board_id.startswith("ecpix5") else 5  # 100 or 25 MHz -> 45 MHz (VCO 585 MHz)
    for parameter in (f"CLKI_DIV {ki}", "CLKFB_DIV 9", "CLKOP_DIV 13"):
        assert f"parameter \\{parameter}\n" in rtlil, parameter
    assert "uart_0__rx__io" in lpf and "uart_0__tx__io" in lpf
    assert ("led_7__io" in lpf) == (spec.leds == "single")


def test_cache_key_follows_inputs(tiny_weights):
    weights = load_weights(tiny_weights)
    spec = BOARDS["ulx3s-85f"]
    key = bitstream.build_directory(spec, weights, DEFAULT_CLOCK_HZ, 3_000_000)
    assert key == bitstream.build_directory(spec, weights, DEFAULT_CLOCK_HZ, 3_000_000)
    assert key != bitstream.build_directory(spec, weights, DEFAULT_CLOCK_HZ, 1_000_000)
    assert key != bitstream.build_directory(BOARDS["ulx3s-45f"], weights, DEFAULT_CLOCK_HZ,
                                            3_000_000)
    changed = load_weights(tiny_weights)
    changed.w_out[0, 0] ^= 1
    # the routed placeholder design serves both weights; each gets its own patched bitstream
    assert key == bitstream.build_directory(spec, changed, DEFAULT_CLOCK_HZ, 3_000_000)
    assert bitstream.patched_directory(key, weights) != bitstream.patched_directory(key,
                                                                                    changed)
    baked = bitstream.build_directory(spec, weights, DEFAULT_CLOCK_HZ, 3_000_000,
                                      placeholder_seed=None)
    assert baked != key != bitstream.build_directory(spec, weights, DEFAULT_CLOCK_HZ,
                                                     3_000_000, placeholder_seed=2)
    assert baked != bitstream.build_directory(spec, changed, DEFAULT_CLOCK_HZ, 3_000_000,
                                              placeholder_seed=None)
    assert key.name.startswith("ulx3s-85f-")


def test_program_command(monkeypatch, tmp_path):
    monkeypatch.setenv("OPENFPGALOADER", "true")
    command = bitstream.program_command("ecpix5-45f", tmp_path / "top.bit", flash=True)
    assert command[1:] == ["-b", "ecpix5", "--write-flash", str(tmp_path / "top.bit")]


def test_the_synthesis_script_keeps_the_soc_module(tiny_weights):
    """The ``setattr`` before synthesis must name a module of the top: a renamed module would
    silently flatten the SoC again (and meet Yosys 0.70's ABC9 assertion)."""
    spec = BOARDS["ulx3s-25f"]
    soc = bitstream.make_soc(load_weights(tiny_weights), DEFAULT_CLOCK_HZ, 3_000_000, spec.banks)
    plan = spec.platform_class()().prepare(BoardTop(board=spec, soc=soc), name=bitstream.NAME,
                                           script_after_read=bitstream.SCRIPT_AFTER_READ)
    files = dict(plan.files)
    module = bitstream.SCRIPT_AFTER_READ.split()[-1]
    assert f"module \\{module}\n" in files[f"{bitstream.NAME}.il"]
    assert bitstream.SCRIPT_AFTER_READ in files[f"{bitstream.NAME}.ys"]


@pytest.mark.parametrize("board_id", sorted(BOARDS))
def test_boards_that_cannot_hold_the_placeholder_design_bake_the_weights(
        board_id, tiny_weights, monkeypatch):
    seeds = []

    def routed(board_id, weights, *, clock_hz, baud, placeholder_seed):
        seeds.append(placeholder_seed)
        return "routed"

    monkeypatch.setattr(bitstream, "_routed", routed)
    monkeypatch.setattr(bitstream, "_patched", lambda routed, weights, seed: "patched")
    weights = load_weights(tiny_weights)
    result = bitstream.build_bitstream(board_id, weights)
    if BOARDS[board_id].patchable:
        assert (result, seeds) == ("patched", [bitstream.PLACEHOLDER_SEED])
    else:
        assert (result, seeds) == ("routed", [None])
    assert bitstream.build_bitstream(board_id, weights, bake_weights=True) == "routed"
    assert seeds[-1] is None
    assert not BOARDS["ulx3s-25f"].patchable and BOARDS["ulx3s-85f"].patchable
