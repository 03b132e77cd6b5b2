"""Bake sign-magnitude weights into bit-plane and block-metadata memory images.

Plane 0 holds the sign bits, plane ``p`` in 1..7 holds magnitude bit ``7 - p`` (plane 1 is the
most significant magnitude bit, 64).  Precision ``b`` therefore reads planes ``0 .. b-1``.
Word ``row * chunks + chunk`` of a plane holds bit ``lane`` for neuron
``chunk * lanes + lane``; the matching metadata word holds one 7-bit field per slot (the
largest ``|w|`` of that block in that row, see :mod:`golden.geometry`).
"""

from __future__ import annotations

import numpy as np

from golden.config import MAGNITUDE_BITS, WEIGHT_BITS, WEIGHT_MAX
from golden.geometry import LayerGeometry
from golden.reference import block_maxima

SLICE_WORDS = 512
"""Words of the bit columns that must differ in placeholder contents (a DP16KD holds 512
words of one bit column per 512 x 1 slice, and patch tools match them)."""
SIGN_PLANE = 0
"""Index of the sign plane; planes 1..7 are magnitude bits, most significant first."""


def check_weights(name: str, weights: np.ndarray, rows: int, fan_out: int) -> np.ndarray:
    """``weights`` as int16 ``[rows, fan_out]``; ValueError naming ``name`` if it is not."""
    array = np.asarray(weights)
    if array.shape != (rows, fan_out):
        raise ValueError(f"{name} must have shape ({rows}, {fan_out}), not {array.shape}")
    if array.dtype.kind not in "iu":
        raise ValueError(f"{name} must hold integers, not {array.dtype}")
    if array.size and (array.min() < -WEIGHT_MAX or array.max() > WEIGHT_MAX):
        raise ValueError(f"{name} must be sign-magnitude values in -127..127")
    return array.astype(np.int16)


def _pack_lanes(bits: np.ndarray) -> list[int]:
    """``bits`` bool ``[words, lanes]`` -> one int per word, lane 0 in bit 0."""
    packed = np.packbits(bits, axis=1, bitorder="little")
    return [int.from_bytes(row.tobytes(), "little") for row in packed]


def _lane_view(values: np.ndarray, geometry: LayerGeometry) -> np.ndarray:
    """``[rows, fan_out]`` -> ``[rows * chunks, lanes]`` with zero padding."""
    padded = np.zeros((geometry.rows, geometry.chunks * geometry.lanes), dtype=values.dtype)
    padded[:, : geometry.fan_out] = values
    return padded.reshape(geometry.words, geometry.lanes)


def plane_images(weights: np.ndarray, geometry: LayerGeometry) -> list[list[int]]:
    """The 8 bit-plane memory images (plane 0 = sign), each ``geometry.words`` ints."""
    lanes = _lane_view(weights, geometry)
    magnitude = np.abs(lanes)
    planes = [_pack_lanes(lanes < 0)]
    for plane in range(1, WEIGHT_BITS):
        planes.append(_pack_lanes((magnitude >> (WEIGHT_BITS - 1 - plane)) & 1 == 1))
    return planes


def metadata_image(weights: np.ndarray, geometry: LayerGeometry) -> list[int]:
    """The metadata memory image: per word, slot ``s`` in bits ``7s .. 7s+6``."""
    maxima = block_maxima(weights, geometry.block_size)
    slots = [geometry.chunk_slots(chunk) for chunk in range(geometry.chunks)]
    image = []
    for row in range(geometry.rows):
        for chunk_slots in slots:
            word = 0
            for s, slot in enumerate(chunk_slots):
                word |= int(maxima[row, slot.block]) << (MAGNITUDE_BITS * s)
            image.append(word)
    return image


def memory_images(weights: np.ndarray, geometry: LayerGeometry) -> list[list[int]]:
    """Every memory image of a layer: the 8 bit-planes, then the metadata."""
    return [*plane_images(weights, geometry), metadata_image(weights, geometry)]


def memory_widths(geometry: LayerGeometry) -> list[int]:
    """Word width in bits of each image of :func:`memory_images`."""
    return [geometry.lanes] * WEIGHT_BITS + [MAGNITUDE_BITS * geometry.slots]


def placeholder_images(geometry: LayerGeometry, seed) -> list[list[int]]:
    """Seeded random images in place of :func:`memory_images` of a layer.

    Every bit that some weights could set is random; the bits no weights can set (padding
    lanes, unused metadata slots) stay 0 as in every real image.  A netlist synthesized from
    them therefore has the same memories, whatever weights are loaded into it later (Yosys
    drops a data bit that is constant in all words, so real weights would change it), and
    no two non-zero 512-word bit columns ("slices") of the layer are equal, so a patch tool
    can find each of them in a routed design (short memories are redrawn until they differ).
    ``seed`` is anything :func:`numpy.random.default_rng` takes (e.g. ``[seed, layer]``).
    """
    rng = np.random.default_rng(seed)
    full = np.full((geometry.rows, geometry.fan_out), -WEIGHT_MAX, dtype=np.int16)
    supports = [np.array([[(word >> b) & 1 for b in range(width)] for word in image], bool)
                for image, width in zip(memory_images(full, geometry), memory_widths(geometry),
                                        strict=True)]
    bits = [rng.integers(0, 2, size=support.shape, dtype=np.uint8).astype(bool) & support
            for support in supports]
    for _ in range(64):
        seen, repeated = set(), []
        for m, memory in enumerate(bits):
            for start in range(0, len(memory), SLICE_WORDS):
                for b in range(memory.shape[1]):
                    column = memory[start:start + SLICE_WORDS, b]
                    if not column.any():
                        continue
                    key = np.packbits(column).tobytes()
                    if key in seen:
                        repeated.append((m, start, b))
                    seen.add(key)
        if not repeated:
            break
        for m, start, b in repeated:
            rows = slice(start, start + SLICE_WORDS)
            bits[m][rows, b] = rng.integers(0, 2, size=len(bits[m][rows, b])).astype(bool) \
                & supports[m][rows, b]
    return [_pack_lanes(memory) for memory in bits]
