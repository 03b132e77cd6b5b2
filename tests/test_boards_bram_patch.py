"""Block-RAM patching of a routed design: slices, hex files, and a real tiny design.

The real test builds two 512 x 8 ROMs with Yosys and nextpnr-ecp5 (about a minute), patches
new contents in with ecpbram and checks every block; a patch that leaves one memory out
must fail the check (ecpbram itself exits 0).
"""

import subprocess

import numpy as np
import pytest

from boards import bram_patch
from boards.bram_patch import PatchError


def _image(rng, depth=512, width=8):
    return [int(v) for v in rng.integers(0, 1 << width, depth)]


def test_memory_slices_are_bit_columns_of_512_words():
    image = [0b01, 0b10, 0b11] + [0] * 600
    slices = bram_patch.memory_slices(2, image)
    assert slices.shape == (4, 512)  # 2 bits x 2 chunks of 512 words
    assert list(slices[0, :3]) == [True, False, True]  # bit 0 of words 0..2
    assert list(slices[1, :3]) == [False, True, True]  # bit 1
    assert not slices[2:].any()


def test_hex_pair_holds_every_slice(tmp_path):
    rng = np.random.default_rng(1)
    rows = [(8, _image(rng), _image(rng)), (4, _image(rng, 700, 4), _image(rng, 700, 4))]
    before, after = bram_patch.slice_pairs(rows)
    assert len(before) == 8 + 4 * 2
    from_hex, to_hex = bram_patch.write_hex_pair(before, after, tmp_path)
    for path, slices in ((from_hex, before), (to_hex, after)):
        words = [int(line, 16) for line in path.read_text().split()]
        assert len(words) % 512 == 0
        for k, expected in enumerate(slices):
            column = [(words[(k // 64) * 512 + i] >> (k % 64)) & 1 for i in range(512)]
            assert column == [int(b) for b in expected]


def test_repeated_placeholder_slices_are_refused():
    rng = np.random.default_rng(2)
    same = _image(rng)
    with pytest.raises(PatchError, match="repeat"):
        bram_patch.slice_pairs([(8, same, _image(rng)), (8, same, _image(rng))])


def test_new_bits_where_the_placeholder_has_none_are_refused():
    with pytest.raises(PatchError, match="cannot be patched"):
        bram_patch.slice_pairs([(1, [1] * 512 + [0] * 512, [1] * 1024)])


TINY_TOP = "tiny"


def _tiny_config(tmp_path, images):
    """A routed design with one 512 x 8 ROM per image, in block RAM; its text config."""
    from amaranth.back import rtlil
    from amaranth.hdl import Cat, Module
    from amaranth.lib import wiring
    from amaranth.lib.memory import Memory
    from amaranth.lib.wiring import In, Out

    from flows.toolchain import find_tool

    class Tiny(wiring.Component):
        addr: In(9)
        data: Out(8 * len(images))

        def elaborate(self, platform):
            m = Module()
            outs = []
            for i, image in enumerate(images):
                rom = Memory(shape=8, depth=512, init=image, attrs={"ram_style": "block"})
                m.submodules[f"rom{i}"] = rom
                port = rom.read_port()
                m.d.comb += port.addr.eq(self.addr)
                outs.append(port.data)
            m.d.comb += self.data.eq(Cat(*outs))
            return m

    (tmp_path / "tiny.il").write_text(rtlil.convert(Tiny(), name=TINY_TOP, emit_src=False))
    for command in (
            [find_tool("yosys"), "-q", "-p", f"read_rtlil tiny.il; synth_ecp5 -top {TINY_TOP} "
                                               "-json tiny.json"],
            [find_tool("nextpnr-ecp5"), "--25k", "--package", "CABGA381", "--json",
             "tiny.json", "--textcfg", "tiny.config", "--timing-allow-fail", "--quiet"]):
        subprocess.run(command, cwd=tmp_path, check=True, capture_output=True, timeout=900)
    return tmp_path / "tiny.config"


def test_patch_reaches_every_block_and_a_missed_block_fails(tmp_path):
    rng = np.random.default_rng(3)
    placeholders = [_image(rng), _image(rng)]
    config = _tiny_config(tmp_path, placeholders)
    new = [_image(rng), [0] * 512]
    rows = [(8, p, n) for p, n in zip(placeholders, new, strict=True)]

    work = tmp_path / "ok"
    work.mkdir()
    summary = bram_patch.patch_config(config, work / "out.config", rows, work)
    assert summary["blocks"] == 2 and summary["slices"] == 16
    blocks = bram_patch.read_bram_init((work / "out.config").read_text())
    found = bram_patch._find(blocks, {s.tobytes(): i for i, s in enumerate(
        np.packbits(bram_patch.slice_pairs(rows)[1][:8], axis=1))})
    assert len(set(found.values())) == 8  # the first ROM's new bit columns are all there
    patched, placeholder = (work / "out.config").read_text(), config.read_text()
    expected = bram_patch.slice_pairs(rows)[1]
    summary = bram_patch.compare_configs(patched, placeholder, expected)
    assert summary["expected_slices"] == 8 and summary["found"] == [8, 0]
    assert summary["second_found_within_first"] and not summary["first_found_within_second"]
    twin = bram_patch.compare_configs(patched, patched, expected)
    assert twin["identical_by_position"] and twin["first_found_within_second"]

    # ecpbram given only the first ROM exits 0; the check of both must fail
    before, after = bram_patch.slice_pairs(rows)
    part = tmp_path / "part"
    part.mkdir()
    from_hex, to_hex = bram_patch.write_hex_pair(before[:8], after[:8], part)
    bram_patch.run_ecpbram(config, part / "out.config", from_hex, to_hex)
    with pytest.raises(PatchError, match="unpatched"):
        bram_patch.check_patch(config.read_text(), (part / "out.config").read_text(),
                               before, after)

    # a design built with other placeholder contents is refused before any patch
    other = [(8, _image(rng), n) for n in new]
    with pytest.raises(PatchError, match="not built with this placeholder"):
        bram_patch.patch_config(config, tmp_path / "other.config", other, part)
