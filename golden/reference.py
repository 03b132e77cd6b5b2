"""The integer reference model: the specification of what the hardware computes.

This is DESIGN.md section 2 written as NumPy, vectorized over images.  Every membrane update is
an exact integer operation; the synaptic sums use float32 matrix products, which are exact here
because every partial sum is an integer below 2**24 (at most ``784 * 127 = 99,568`` per step).

The public entry point is :func:`infer`.  Its results (classes, output spike counts, final
output membranes and the per-image event counters under their JSON names) are what the RTL must
reproduce bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from golden.config import MAGNITUDE_BITS, WEIGHT_BITS, RunSettings, SNNConfig

COUNTER_NAMES = (
    "steps",
    "input_spikes",
    "hidden_spikes",
    "output_spikes",
    "syn_active",
    "syn_zero",
    "syn_below",
    "syn_gated",
    "weight_bits_read",
    "membrane_updates",
    "precision_changes",
)
"""Event counter names, in the order the hardware exposes them (DESIGN.md section 2)."""

SYNAPSE_CLASSES = ("syn_active", "syn_zero", "syn_below", "syn_gated")


def input_spikes(pixels: np.ndarray, t: int) -> np.ndarray:
    """Sigma-delta encoding: which pixels (0..255) spike at step ``t`` (bool, same shape).

    A pixel ``x`` spikes at ``t`` iff ``((t+1)*x + 128) >> 8 != (t*x + 128) >> 8``.
    """
    x = np.asarray(pixels, dtype=np.int32)
    return ((t + 1) * x + 128) >> 8 != (t * x + 128) >> 8


def encode(pixels: np.ndarray, timesteps: int) -> np.ndarray:
    """All input spikes of ``pixels`` (``[..., 784]`` uint8) as bool ``[T, ..., 784]``."""
    return np.stack([input_spikes(pixels, t) for t in range(timesteps)])


def quantize(weights: np.ndarray, bits: int) -> np.ndarray:
    """``q_b(w) = sign(w) * ((|w| >> (8-b)) << (8-b))``: truncate the magnitude toward zero."""
    w = np.asarray(weights, dtype=np.int32)
    shift = WEIGHT_BITS - bits
    return np.sign(w) * ((np.abs(w) >> shift) << shift)


def quantize_magnitude(magnitude: np.ndarray, bits: int) -> np.ndarray:
    """``q_b`` of a non-negative magnitude (block metadata): keep its top ``b-1`` bits."""
    shift = WEIGHT_BITS - bits
    return (np.asarray(magnitude, dtype=np.int32) >> shift) << shift


@dataclass(frozen=True)
class LayerTables:
    """What one layer reads and adds at one (precision, tau, mask) setting.

    Attributes
    ----------
    effective : float32 ``[fan_in, fan_out]``
        ``q_b(w)`` for active synapses, 0 for zero, below and gated ones.
    synapse_classes : float32 ``[fan_in, 4]``
        Per presynaptic neuron, how many of its synapses are active, zero, below, gated.
    bits_read : float32 ``[fan_in]``
        Weight-memory bits read per presynaptic spike (metadata + enabled planes).
    """

    effective: np.ndarray
    synapse_classes: np.ndarray
    bits_read: np.ndarray


def layer_tables(
    weights: np.ndarray, bits: int, tau: int, post_mask: np.ndarray, block_size: int
) -> LayerTables:
    """Classify every synapse of a layer and count the bits one presynaptic spike reads.

    ``weights`` is ``[fan_in, fan_out]`` sign-magnitude in -127..127, ``post_mask`` says which
    postsynaptic neurons are on and ``block_size`` is the metadata block width B (neurons).
    """
    q = quantize(weights, bits)
    mag = np.abs(q)
    on = np.broadcast_to(np.asarray(post_mask, dtype=bool), q.shape)
    gated = ~on
    zero = on & (mag == 0)
    below = on & (mag != 0) & (mag < tau)
    active = on & (mag != 0) & (mag >= tau)
    classes = np.stack([c.sum(axis=1) for c in (active, zero, below, gated)], axis=1)

    fan_out = q.shape[1]
    bits_read = np.zeros(q.shape[0], dtype=np.int64)
    for start in range(0, fan_out, block_size):
        stop = min(start + block_size, fan_out)
        meta = quantize_magnitude(np.abs(weights[:, start:stop]).max(axis=1), bits)
        block_on = bool(np.any(post_mask[start:stop]))
        planes_read = (meta != 0) & (meta >= tau) & block_on
        bits_read += MAGNITUDE_BITS + planes_read * bits * (stop - start)
    effective = np.where(active, q, 0).astype(np.float32)
    return LayerTables(effective, classes.astype(np.float32), bits_read.astype(np.float32))


@dataclass
class InferenceResult:
    """Per-image results of :func:`infer` (``n`` images).

    Attributes
    ----------
    pred : int64 ``[n]``
        Class: most output spikes; ties to larger final output membrane, then lower index.
    counts : int64 ``[n, 10]``
        Output spike counts.
    out_membrane : int64 ``[n, 10]``
        Output membranes after the last step (after reset).
    counters : dict of int64 ``[n]``
        Event counters under the names of :data:`COUNTER_NAMES`.
    final_bits : int64 ``[n, 2]`` or None
        Dynamic mode: hidden and output precision when the image ended (None in static mode).
    hidden_per_step : int64 ``[n, T]`` or None
        Hidden spikes of every step (0 after an early exit); the cycle model needs them.
    bits_per_step : int64 ``[n, T, 2]`` or None
        Hidden and output precision of every step (0 after an early exit); None in static
        mode (see :meth:`step_bits`).
    """

    pred: np.ndarray
    counts: np.ndarray
    out_membrane: np.ndarray
    counters: dict[str, np.ndarray]
    final_bits: np.ndarray | None = None
    hidden_per_step: np.ndarray | None = None
    bits_per_step: np.ndarray | None = None

    @classmethod
    def concatenate(cls, parts: list[InferenceResult]) -> InferenceResult:
        """One result from the results of consecutive chunks of images."""
        def joined(name):
            values = [getattr(p, name) for p in parts]
            return None if values[0] is None else np.concatenate(values)

        return cls(pred=joined("pred"), counts=joined("counts"),
                   out_membrane=joined("out_membrane"),
                   counters={k: np.concatenate([p.counters[k] for p in parts])
                             for k in COUNTER_NAMES},
                   final_bits=joined("final_bits"), hidden_per_step=joined("hidden_per_step"),
                   bits_per_step=joined("bits_per_step"))

    def step_bits(self, settings: RunSettings) -> np.ndarray:
        """Precisions in force at every step run, int64 ``[n, T, 2]`` (0 after an exit)."""
        if self.bits_per_step is not None:
            return self.bits_per_step
        n, timesteps = self.hidden_per_step.shape
        out = np.zeros((n, timesteps, 2), dtype=np.int64)
        out[:] = (settings.bits_hidden, settings.bits_out)
        return out

    def summed_counters(self) -> dict[str, int]:
        """Every counter summed over the images (plain ints, for JSON)."""
        return {name: int(self.counters[name].sum()) for name in COUNTER_NAMES}


def classify(counts: np.ndarray, out_membrane: np.ndarray) -> np.ndarray:
    """Most spikes; ties to the larger final membrane, then to the lower class index."""
    top = counts == counts.max(axis=1, keepdims=True)
    v = np.where(top, out_membrane, np.iinfo(np.int64).min)
    best = top & (v == v.max(axis=1, keepdims=True))
    return np.argmax(best, axis=1)


def leak(v: np.ndarray, shift: int) -> np.ndarray:
    """``v -= v >> k`` with an arithmetic shift; ``k = 0`` means no leak."""
    if shift == 0:
        return v
    return v - (v >> shift)


class LayerState:
    """Membranes of one layer for a batch of images, with its neuron update rule."""

    def __init__(self, n_images: int, n_neurons: int, theta: int, leak_shift: int):
        self.v = np.zeros((n_images, n_neurons), dtype=np.int64)
        self.theta = theta
        self.leak_shift = leak_shift

    def step(self, spikes_in: np.ndarray, effective: np.ndarray) -> np.ndarray:
        """Leak, integrate ``spikes_in @ effective``, fire (``v > theta``), reset by subtraction.

        Returns the bool spike vector of this step.
        """
        self.v = leak(self.v, self.leak_shift)
        self.v += (spikes_in @ effective).astype(np.int64)
        fired = self.v > self.theta
        self.v -= fired * self.theta
        return fired


def infer(
    w_hidden: np.ndarray,
    w_out: np.ndarray,
    images: np.ndarray,
    config: SNNConfig,
    settings: RunSettings | None = None,
    *,
    chunk: int = 2000,
) -> InferenceResult:
    """Run the integer SNN on ``images`` (uint8 ``[n, 784]``).

    ``w_hidden`` is int ``[784, N]`` and ``w_out`` int ``[N, 10]``, sign-magnitude values in
    -127..127; ``config`` gives thresholds, leaks and B; ``settings`` the run-time registers.
    With ``settings.controller`` set this is dynamic mode (:mod:`golden.controller`).
    Images are processed ``chunk`` at a time to bound memory (results do not depend on it).
    """
    settings = settings or RunSettings()
    if settings.dynamic:
        # Imported here: golden.controller builds on this module's primitives.
        from golden.controller import infer_dynamic

        return infer_dynamic(w_hidden, w_out, images, config, settings, chunk=chunk)
    timesteps, mask = settings.resolve(config)
    hidden = layer_tables(w_hidden, settings.bits_hidden, settings.tau_hidden, mask,
                          config.block_size)
    out_mask = np.ones(config.n_outputs, dtype=bool)
    output = layer_tables(w_out, settings.bits_out, settings.tau_out, out_mask,
                          config.n_outputs)
    parts = [
        _infer_chunk(images[i : i + chunk], hidden, output, config, timesteps, mask)
        for i in range(0, len(images), chunk)
    ]
    if not parts:
        parts = [_infer_chunk(images[:0], hidden, output, config, timesteps, mask)]
    return InferenceResult.concatenate(parts)


def _infer_chunk(images, hidden: LayerTables, output: LayerTables, config: SNNConfig,
                 timesteps: int, mask: np.ndarray) -> InferenceResult:
    n = len(images)
    pixels = np.asarray(images, dtype=np.int32).reshape(n, config.n_inputs)
    hid = LayerState(n, config.n_hidden, config.theta_hidden, config.leak_hidden)
    out = LayerState(n, config.n_outputs, config.theta_out, config.leak_out)
    counts = np.zeros((n, config.n_outputs), dtype=np.int64)
    counters = {name: np.zeros(n, dtype=np.int64) for name in COUNTER_NAMES}
    trace = np.zeros((n, timesteps), dtype=np.int64)
    for t in range(timesteps):
        s_in = input_spikes(pixels, t).astype(np.float32)
        s_hid = hid.step(s_in, hidden.effective).astype(np.float32)
        trace[:, t] = s_hid.sum(axis=1)
        s_out = out.step(s_hid, output.effective)
        counts += s_out
        classes = s_in @ hidden.synapse_classes + s_hid @ output.synapse_classes
        for i, name in enumerate(SYNAPSE_CLASSES):
            counters[name] += classes[:, i].astype(np.int64)
        counters["weight_bits_read"] += (
            s_in @ hidden.bits_read + s_hid @ output.bits_read
        ).astype(np.int64)
        counters["input_spikes"] += s_in.sum(axis=1).astype(np.int64)
        counters["hidden_spikes"] += s_hid.sum(axis=1).astype(np.int64)
        counters["output_spikes"] += s_out.sum(axis=1)
    counters["steps"][:] = timesteps
    counters["membrane_updates"][:] = timesteps * (int(mask.sum()) + config.n_outputs)
    return InferenceResult(classify(counts, out.v), counts, out.v.copy(), counters,
                           hidden_per_step=trace)
