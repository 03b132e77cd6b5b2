"""Dynamic mode of the integer reference: the closed-loop precision controller.

The contract of static mode (DESIGN.md section 2) holds step by step; in addition every image
carries its own controller state: the precision of each layer, whether it is still running,
and which hidden neurons the controller has gated (docs/controller.md gives the rules and
the state diagram).  Images are processed together and grouped by their current precision
at every step, so this stays vectorized.

A hidden neuron gated by the controller behaves from the next step on exactly like one
masked by the ``MASK`` register: no leak, no integration, no spike, its synapses count as
``syn_gated`` and a metadata block whose neurons are all off reads no planes.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from golden.config import MAGNITUDE_BITS, PRECISIONS, ControllerSettings, RunSettings, SNNConfig
from golden.reference import (
    COUNTER_NAMES,
    InferenceResult,
    LayerTables,
    classify,
    input_spikes,
    layer_tables,
    leak,
    quantize,
    quantize_magnitude,
)


@dataclass(frozen=True)
class HiddenClassTables:
    """Mask-independent synapse classes of the hidden layer at one (precision, tau).

    Attributes
    ----------
    effective : float32 ``[784, N]``
        ``q_b(w)`` of active synapses (non-zero and ``>= tau``), else 0.
    active, zero, below : float32 ``[784, N]``
        Indicator of each class before masking.
    planes : float32 ``[784, blocks]``
        1 where a block's metadata enables its planes (``q_b(m) != 0`` and ``>= tau``).
    block_bits : float32 ``[blocks]``
        Plane bits of one block read: ``b * block width``.
    """

    effective: np.ndarray
    active: np.ndarray
    zero: np.ndarray
    below: np.ndarray
    planes: np.ndarray
    block_bits: np.ndarray


def hidden_class_tables(weights: np.ndarray, bits: int, tau: int,
                        block_size: int) -> HiddenClassTables:
    """Classify the hidden synapses at ``bits`` and ``tau`` for per-image masks."""
    q = quantize(weights, bits)
    mag = np.abs(q)
    fan_out = q.shape[1]
    starts = range(0, fan_out, block_size)
    planes = np.stack([
        quantize_magnitude(np.abs(weights[:, s:s + block_size]).max(axis=1), bits)
        for s in starts], axis=1)
    widths = np.array([min(block_size, fan_out - s) for s in starts])
    return HiddenClassTables(
        effective=np.where(mag >= max(tau, 1), q, 0).astype(np.float32),
        active=((mag != 0) & (mag >= tau)).astype(np.float32),
        zero=(mag == 0).astype(np.float32),
        below=((mag != 0) & (mag < tau)).astype(np.float32),
        planes=((planes != 0) & (planes >= tau)).astype(np.float32),
        block_bits=(bits * widths).astype(np.float32),
    )


class _Tables:
    """Per-precision tables of both layers, built on first use."""

    def __init__(self, w_hidden, w_out, config: SNNConfig, settings: RunSettings):
        self._w_hidden, self._w_out = w_hidden, w_out
        self._config, self._settings = config, settings
        self.hidden = cache(self._hidden)
        self.output = cache(self._output)

    def _hidden(self, bits: int) -> HiddenClassTables:
        return hidden_class_tables(self._w_hidden, bits, self._settings.tau_hidden,
                                   self._config.block_size)

    def _output(self, bits: int) -> LayerTables:
        n_out = self._config.n_outputs
        return layer_tables(self._w_out, bits, self._settings.tau_out,
                            np.ones(n_out, dtype=bool), n_out)


def infer_dynamic(w_hidden: np.ndarray, w_out: np.ndarray, images: np.ndarray,
                  config: SNNConfig, settings: RunSettings, *,
                  chunk: int = 2000) -> InferenceResult:
    """Run the integer SNN with the controller ``settings.controller`` (dynamic mode).

    Same arguments and results as :func:`golden.reference.infer`, plus ``final_bits``
    (``[n, 2]``: hidden and output precision at the end of each image), ``bits_per_step``
    (``[n, T, 2]``, 0 after an early exit) and ``hidden_per_step`` (``[n, T]`` hidden spikes
    per step; 0 after an early exit).
    """
    timesteps, mask = settings.resolve(config)
    tables = _Tables(w_hidden, w_out, config, settings)
    parts = [_run_chunk(images[i:i + chunk], tables, config, settings, timesteps, mask)
             for i in range(0, max(len(images), 1), chunk)]
    return InferenceResult.concatenate(parts)


def output_margin(counts: np.ndarray) -> np.ndarray:
    """Largest output spike count minus the second largest, per image (ties give 0)."""
    top2 = np.sort(counts, axis=1)[:, -2:]
    return top2[:, 1] - top2[:, 0]


def _run_chunk(images, tables: _Tables, config: SNNConfig, settings: RunSettings,
               timesteps: int, static_mask: np.ndarray) -> InferenceResult:
    ctl: ControllerSettings = settings.controller
    n, n_hidden = len(images), config.n_hidden
    pixels = np.asarray(images, dtype=np.int32).reshape(n, config.n_inputs)
    bits = np.empty((n, 2), dtype=np.int64)
    bits[:] = (ctl.start_bits_hidden, ctl.start_bits_out)
    steps_up = np.array([ctl.step_bits_hidden, ctl.step_bits_out])
    running = np.ones(n, dtype=bool)
    mask = np.broadcast_to(static_mask, (n, n_hidden)).copy()
    fired_ever = np.zeros((n, n_hidden), dtype=bool)
    v_hid = np.zeros((n, n_hidden), dtype=np.int64)
    v_out = np.zeros((n, config.n_outputs), dtype=np.int64)
    counts = np.zeros((n, config.n_outputs), dtype=np.int64)
    counters = {name: np.zeros(n, dtype=np.int64) for name in COUNTER_NAMES}
    trace = np.zeros((n, timesteps), dtype=np.int64)
    bits_trace = np.zeros((n, timesteps, 2), dtype=np.int64)
    checkpoints = set(ctl.checkpoints(timesteps))

    for t in range(timesteps):
        rows = np.flatnonzero(running)
        if not len(rows):
            break
        s_in = input_spikes(pixels[rows], t).astype(np.float32)
        m = mask[rows]
        bits_trace[rows, t] = bits[rows]
        s_hid = np.zeros((len(rows), n_hidden), dtype=np.float32)
        s_out = np.zeros((len(rows), config.n_outputs), dtype=np.int64)
        for b_hid, b_out in {tuple(p) for p in bits[rows]}:
            sel = np.flatnonzero((bits[rows, 0] == b_hid) & (bits[rows, 1] == b_out))
            r = rows[sel]
            hid, out = tables.hidden(b_hid), tables.output(b_out)
            fired = _hidden_step(v_hid, r, s_in[sel], m[sel], hid, config)
            fired_ever[r] |= fired
            s_hid[sel] = fired
            _count_hidden(counters, r, s_in[sel], m[sel], hid, config.block_size)
            v = leak(v_out[r], config.leak_out) + (fired @ out.effective).astype(np.int64)
            spikes = v > config.theta_out
            v_out[r] = v - spikes * config.theta_out
            s_out[sel] = spikes
            classes = fired.astype(np.float32) @ out.synapse_classes
            counters["syn_active"][r] += classes[:, 0].astype(np.int64)
            counters["syn_zero"][r] += classes[:, 1].astype(np.int64)
            counters["syn_below"][r] += classes[:, 2].astype(np.int64)
            counters["syn_gated"][r] += classes[:, 3].astype(np.int64)
            counters["weight_bits_read"][r] += (fired.astype(np.float32)
                                                @ out.bits_read).astype(np.int64)
        counts[rows] += s_out
        trace[rows, t] = s_hid.sum(axis=1).astype(np.int64)
        counters["input_spikes"][rows] += s_in.sum(axis=1).astype(np.int64)
        counters["hidden_spikes"][rows] += trace[rows, t]
        counters["output_spikes"][rows] += s_out.sum(axis=1)
        counters["membrane_updates"][rows] += m.sum(axis=1) + config.n_outputs
        counters["steps"][rows] += 1
        if t + 1 in checkpoints:
            _checkpoint(rows, counts, bits, steps_up, running, mask, fired_ever, counters, ctl)

    return InferenceResult(classify(counts, v_out), counts, v_out, counters,
                           final_bits=bits, hidden_per_step=trace, bits_per_step=bits_trace)


def _hidden_step(v_hid: np.ndarray, rows: np.ndarray, s_in: np.ndarray, mask: np.ndarray,
                 tables: HiddenClassTables, config: SNNConfig) -> np.ndarray:
    """Leak, integrate, fire and reset the unmasked hidden neurons of ``rows`` (in place);
    return their spikes (bool ``[rows, N]``)."""
    v = v_hid[rows]
    current = (s_in @ tables.effective).astype(np.int64)
    v = np.where(mask, leak(v, config.leak_hidden) + current, v)
    fired = mask & (v > config.theta_hidden)
    v_hid[rows] = v - fired * config.theta_hidden
    return fired


def _count_hidden(counters: dict, rows: np.ndarray, s_in: np.ndarray, mask: np.ndarray,
                  tables: HiddenClassTables, block_size: int) -> None:
    """Synapse classes and weight bits of the hidden layer with per-image masks."""
    on = mask.astype(np.float32)
    spikes = s_in.sum(axis=1)
    for name, table in (("syn_active", tables.active), ("syn_zero", tables.zero),
                        ("syn_below", tables.below)):
        counters[name][rows] += ((s_in @ table) * on).sum(axis=1).astype(np.int64)
    counters["syn_gated"][rows] += (spikes * (mask.shape[1] - on.sum(axis=1))).astype(np.int64)
    n_blocks = tables.planes.shape[1]
    block_on = np.stack([mask[:, k * block_size:(k + 1) * block_size].any(axis=1)
                         for k in range(n_blocks)], axis=1)
    plane_bits = ((s_in @ tables.planes) * block_on * tables.block_bits).sum(axis=1)
    counters["weight_bits_read"][rows] += (spikes * MAGNITUDE_BITS * n_blocks
                                           + plane_bits).astype(np.int64)


def _checkpoint(rows, counts, bits, steps_up, running, mask, fired_ever, counters,
                ctl: ControllerSettings) -> None:
    """The controller's decision for the images ``rows`` after a checkpoint step."""
    margin = output_margin(counts[rows])
    leave = (ctl.exit_margin > 0) & (margin >= ctl.exit_margin)
    running[rows[leave]] = False
    stay = rows[~leave]
    escalate = margin[~leave] < ctl.escalate_margin
    new_bits = np.where(escalate[:, None], np.minimum(bits[stay] + steps_up, PRECISIONS[-1]),
                        bits[stay])
    counters["precision_changes"][stay] += (new_bits != bits[stay]).any(axis=1)
    bits[stay] = new_bits
    if ctl.gate_idle:
        mask[stay] &= fired_ever[stay]
