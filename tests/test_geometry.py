"""Lane chunks, metadata blocks and the bit-plane memory images the generator bakes."""

from __future__ import annotations

import numpy as np
import pytest

from golden.config import MAGNITUDE_BITS
from golden.geometry import LayerGeometry
from golden.reference import block_maxima, layer_tables, quantize_magnitude
from hdl.synapse_reader import magnitude_mask
from hdl.weight_planes import metadata_image, plane_images

SHAPES = [(37, 8, 5), (37, 37, 37), (128, 128, 16), (10, 10, 10), (1, 1, 1), (65, 7, 20),
          (99, 33, 4), (48, 48, 16)]


def _geometry(fan_out, lanes, block_size, rows=6):
    return LayerGeometry(rows=rows, fan_out=fan_out, lanes=lanes, block_size=block_size)


@pytest.mark.parametrize(("fan_out", "lanes", "block_size"), SHAPES)
def test_every_block_counted_once_and_seen_by_every_chunk_it_overlaps(fan_out, lanes,
                                                                      block_size):
    g = _geometry(fan_out, lanes, block_size)
    counted = [slot.block for c in range(g.chunks) for slot in g.chunk_slots(c)
               if slot.counted]
    assert counted == list(range(g.n_blocks))
    for c in range(g.chunks):
        neurons = range(c * lanes, min((c + 1) * lanes, fan_out))
        assert {j // block_size for j in neurons} == {s.block for s in g.chunk_slots(c)}
        assert bin(g.lane_valid(c)).count("1") == len(neurons)
    assert sum(len(g.block_range(k)) for k in range(g.n_blocks)) == fan_out


@pytest.mark.parametrize(("fan_out", "lanes", "block_size"), SHAPES)
def test_planes_and_metadata_hold_the_weights(fan_out, lanes, block_size):
    g = _geometry(fan_out, lanes, block_size)
    w = np.random.default_rng(fan_out).integers(-127, 128, (g.rows, fan_out))
    planes = plane_images(w, g)
    rebuilt = np.zeros((g.rows, g.chunks * lanes), dtype=np.int64)
    for word in range(g.words):
        row, chunk = divmod(word, g.chunks)
        for lane in range(lanes):
            magnitude = sum(((planes[p][word] >> lane) & 1) << (7 - p) for p in range(1, 8))
            sign = -1 if (planes[0][word] >> lane) & 1 else 1
            rebuilt[row, chunk * lanes + lane] = sign * magnitude
    assert (rebuilt[:, :fan_out] == w).all() and (rebuilt[:, fan_out:] == 0).all()
    maxima = block_maxima(w, g.block_size)
    meta = metadata_image(w, g)
    for word in range(g.words):
        row, chunk = divmod(word, g.chunks)
        for s, slot in enumerate(g.chunk_slots(chunk)):
            field = (meta[word] >> (MAGNITUDE_BITS * s)) & 0x7F
            block = w[row, g.block_range(slot.block)]
            assert field == maxima[row, slot.block] == np.abs(block).max()


@pytest.mark.parametrize(("fan_out", "lanes", "block_size"), SHAPES)
@pytest.mark.parametrize("bits", [2, 5, 8])
def test_chunked_bit_accounting_equals_the_reference(fan_out, lanes, block_size, bits):
    """What the reader adds per chunk (counted slots only) sums to the contract's count."""
    g = _geometry(fan_out, lanes, block_size)
    rng = np.random.default_rng(bits)
    w = rng.integers(-127, 128, (g.rows, fan_out)) * (rng.random((g.rows, fan_out)) < 0.3)
    mask = rng.random(fan_out) < 0.6
    tau = 40
    maxima = block_maxima(w, g.block_size)
    got = np.zeros(g.rows)
    for row in range(g.rows):
        for c in range(g.chunks):
            for slot in g.chunk_slots(c):
                if not slot.counted:
                    continue
                m = int(quantize_magnitude(maxima[row, slot.block], bits))
                on = mask[g.block_range(slot.block)].any()
                got[row] += MAGNITUDE_BITS + (on and m != 0 and m >= tau) * bits * slot.width
    expected = layer_tables(w, bits, tau, block_size).per_spike(mask)[1]
    assert (got == expected).all()


def test_magnitude_mask_keeps_the_top_bits():
    assert [magnitude_mask(b) for b in range(2, 9)] == [64, 96, 112, 120, 124, 126, 127]


@pytest.mark.parametrize(("name", "kwargs"), [
    ("lanes", {"lanes": 0}), ("lanes", {"lanes": 11}), ("block_size", {"block_size": 0}),
    ("fan_out", {"fan_out": 0})])
def test_impossible_geometry_names_the_parameter(name, kwargs):
    args = {"rows": 4, "fan_out": 10, "lanes": 5, "block_size": 5, **kwargs}
    with pytest.raises(ValueError, match=name):
        LayerGeometry(**args)


@pytest.mark.parametrize(("fan_out", "lanes", "block_size"), SHAPES)
def test_lane_segments_lie_in_one_block_of_every_chunk(fan_out, lanes, block_size):
    """Each plane memory (lane segment) holds lanes of one block in every chunk, so one read
    enable per segment is a per-block enable; the segments tile the lanes."""
    g = _geometry(fan_out, lanes, block_size)
    assert [lane for s in g.segments for lane in s] == list(range(lanes))
    for c in range(g.chunks):
        for segment in g.segments:
            blocks = {(c * lanes + lane) // block_size for lane in segment
                      if c * lanes + lane < fan_out}
            slot = g.segment_slot(c, segment)
            if slot is None:
                assert not blocks
            else:
                assert blocks == {g.chunk_slots(c)[slot].block}
    if lanes % block_size == 0:
        assert len(g.segments) == lanes // block_size


@pytest.mark.parametrize(("fan_out", "lanes", "block_size"), SHAPES)
def test_chunk_levels_say_which_chunks_are_zero_at_each_precision(fan_out, lanes, block_size):
    g = _geometry(fan_out, lanes, block_size, rows=40)
    rng = np.random.default_rng(fan_out + lanes)
    w = rng.integers(-127, 128, (g.rows, fan_out)) >> rng.integers(0, 8, (g.rows, 1))
    levels = g.chunk_levels(block_maxima(w, block_size))
    for bits in range(2, 9):
        q = quantize_magnitude(block_maxima(w, block_size), bits)
        for c in range(g.chunks):
            zero = (q[:, g.chunk_blocks(c)] == 0).all(axis=1)
            assert np.array_equal(zero, levels[:, c].astype(int) + bits <= 8)
