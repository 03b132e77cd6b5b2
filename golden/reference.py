"""The integer reference model: the specification of what the hardware computes.

This is DESIGN.md section 2 written as NumPy, vectorized over images.  Every membrane update is
an exact integer operation; the synaptic sums use float32 matrix products, which are exact here
because every partial sum is an integer below 2**24 (at most ``784 * 127 = 99,568`` per step).

The public entry point is :func:`infer`.  Its results (classes, output spike counts, final
output membranes and the per-image event counters under their JSON names) are what the RTL must
reproduce bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from golden.config import MAGNITUDE_BITS, WEIGHT_BITS, RunSettings, SNNConfig
from golden.controller import ImageControl
from golden.geometry import hidden_geometry

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


def block_maxima(weights: np.ndarray, block_size: int) -> np.ndarray:
    """Block metadata: the largest ``|w|`` of every row and block of ``block_size`` consecutive
    postsynaptic neurons (the last block may be narrower), int ``[fan_in, blocks]``.

    The mask is ignored (DESIGN.md section 2); the hardware's metadata memory holds these.
    """
    magnitude = np.abs(np.asarray(weights, dtype=np.int32))
    starts = range(0, magnitude.shape[1], block_size)
    return np.stack([magnitude[:, s:s + block_size].max(axis=1) for s in starts], axis=1)


@dataclass(frozen=True)
class LayerTables:
    """How one layer classifies its synapses at one (precision, tau), for any neuron mask.

    Attributes
    ----------
    effective : float32 ``[fan_in, fan_out]``
        ``q_b(w)`` where the synapse is active when its neuron is on (non-zero and
        ``>= tau``), else 0.  A masked neuron's synapses are gated by the step, not here.
    active, zero, below : float32 ``[fan_in, fan_out]``
        Indicator of each class for an unmasked postsynaptic neuron.
    planes_enabled : float32 ``[fan_in, blocks]``
        1 where a block's metadata ``m`` enables its planes: ``q_b(m) != 0`` and
        ``q_b(m) >= tau`` (it still needs an unmasked neuron in the block).
    below_enabled : float32 ``[fan_in, blocks]``
        1 where a block is below tau (``q_b(m) != 0``, ``q_b(m) < tau``): the hardware reads
        its ``b - 1`` magnitude planes (not its sign plane) to tell zero from below, bits
        that ``weight_bits_read`` does not count (see :meth:`extra_bits`).
    block_widths : int64 ``[blocks]``
        Neurons of every metadata block (the last may be narrower).
    bits : int
        The precision b (planes read per enabled block).
    """

    effective: np.ndarray
    active: np.ndarray
    zero: np.ndarray
    below: np.ndarray
    planes_enabled: np.ndarray
    below_enabled: np.ndarray
    block_widths: np.ndarray
    bits: int
    _per_mask: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def fan_out(self) -> int:
        """Postsynaptic neurons of the layer."""
        return self.effective.shape[1]

    def per_spike(self, on: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """For one mask shared by every image: per presynaptic neuron, its synapses of each
        class (float32 ``[fan_in, 4]``, in the order of :data:`SYNAPSE_CLASSES`) and the
        weight bits one of its spikes reads (float32 ``[fan_in]``).  ``on`` is bool
        ``[fan_out]`` (None = every neuron on)."""
        key = None if on is None else np.packbits(on).tobytes()
        if key not in self._per_mask:
            on_f = np.ones(self.fan_out, np.float32) if on is None else on.astype(np.float32)
            gated = np.full(len(self.effective), self.fan_out - on_f.sum(), np.float32)
            classes = np.stack([self.active @ on_f, self.zero @ on_f, self.below @ on_f,
                                gated], axis=1)
            self._per_mask[key] = (classes, self.bits_read(self._block_on(on_f[None])[0]))
        return self._per_mask[key]

    def bits_read(self, block_on: np.ndarray) -> np.ndarray:
        """Weight bits one spike of each presynaptic neuron reads (float32 ``[fan_in]``) when
        the blocks ``block_on`` (bool ``[blocks]``) have an unmasked neuron."""
        return self.metadata_bits + self.planes_enabled @ self._plane_bits(block_on)

    @property
    def metadata_bits(self) -> int:
        """Metadata bits one spike reads: 7 per block, always (mask ignored)."""
        return MAGNITUDE_BITS * len(self.block_widths)

    def _plane_bits(self, block_on: np.ndarray) -> np.ndarray:
        """Plane bits of each block if its metadata enables it: ``b x width`` where the block
        has an unmasked neuron, else 0 (float32, the shape of ``block_on``)."""
        return (self.bits * self.block_widths * block_on).astype(np.float32)

    def _block_on(self, on: np.ndarray) -> np.ndarray:
        """Which blocks have an unmasked neuron: ``[k, blocks]`` from ``on`` ``[k, fan_out]``."""
        edges = np.cumsum(self.block_widths)[:-1]
        return np.stack([part.any(axis=1) for part in np.split(on > 0, edges, axis=1)], axis=1)

    def extra_bits(self, spikes: np.ndarray, on: np.ndarray | None) -> np.ndarray:
        """Plane bits the hardware reads beyond ``weight_bits_read`` for the presynaptic
        ``spikes`` (float32 ``[k, fan_in]``): ``(b - 1) x width`` per spike and below-tau
        block with an unmasked neuron (0 at ``tau = 0``; not a contract counter).  ``on`` as
        in :meth:`count`."""
        on_f = np.ones((1, self.fan_out), np.float32) if on is None else on.astype(np.float32)
        block_on = self._block_on(on_f if on_f.ndim == 2 else on_f[None])
        widths = ((self.bits - 1) * self.block_widths * block_on).astype(np.float32)
        return ((spikes @ self.below_enabled) * widths).sum(axis=1)

    def count(self, spikes: np.ndarray, on: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Synapse classes (float32 ``[k, 4]``) and weight bits read (float32 ``[k]``) of the
        presynaptic ``spikes`` (float32 ``[k, fan_in]``) of one step, with the postsynaptic
        neurons ``on`` (bool ``[fan_out]`` shared by every image, ``[k, fan_out]`` per image,
        or None for all on)."""
        if on is None or on.ndim == 1:
            classes, bits = self.per_spike(on)
            return spikes @ classes, spikes @ bits
        on_f = on.astype(np.float32)
        n_spikes = spikes.sum(axis=1)
        classes = np.stack([((spikes @ table) * on_f).sum(axis=1)
                            for table in (self.active, self.zero, self.below)]
                           + [n_spikes * (self.fan_out - on_f.sum(axis=1))], axis=1)
        plane_bits = (spikes @ self.planes_enabled) * self._plane_bits(self._block_on(on))
        return classes, n_spikes * self.metadata_bits + plane_bits.sum(axis=1)


def layer_tables(weights: np.ndarray, bits: int, tau: int, block_size: int) -> LayerTables:
    """Classify every synapse of a layer at precision ``bits`` and threshold ``tau``.

    ``weights`` is ``[fan_in, fan_out]`` sign-magnitude in -127..127 and ``block_size`` the
    metadata block width B (neurons).  This is the one place where synapse classes and the
    planes a block reads are decided (DESIGN.md section 2).
    """
    q = quantize(weights, bits)
    mag = np.abs(q)
    active = (mag != 0) & (mag >= tau)
    meta = quantize_magnitude(block_maxima(weights, block_size), bits)
    fan_out = q.shape[1]
    widths = np.array([min(block_size, fan_out - s) for s in range(0, fan_out, block_size)])
    return LayerTables(
        effective=np.where(active, q, 0).astype(np.float32),
        active=active.astype(np.float32),
        zero=(mag == 0).astype(np.float32),
        below=((mag != 0) & (mag < tau)).astype(np.float32),
        planes_enabled=((meta != 0) & (meta >= tau)).astype(np.float32),
        below_enabled=((meta != 0) & (meta < tau)).astype(np.float32),
        block_widths=widths.astype(np.int64),
        bits=bits,
    )


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
    extra_plane_bits : int64 ``[n]`` or None
        Plane bits the hardware reads beyond ``weight_bits_read``: the magnitude planes of
        below-tau blocks (0 at ``tau = 0``; a derived figure, not a contract counter; see
        :meth:`physical_bits_read`).
    hidden_on_per_step : bool ``[n, T, N]`` or None
        Dynamic mode: the hidden neurons on at every step (the controller may gate them;
        the cycle model's chunk skip needs them); None in static mode (the mask register).
    chunk_levels : uint8 ``[784, C]`` or None
        Per input row and hidden lane chunk, the bit length of the chunk's largest block
        metadata (:meth:`golden.geometry.LayerGeometry.chunk_levels`): which chunks the
        hardware skips at each precision (the cycle model needs them; not a counter).
    """

    pred: np.ndarray
    counts: np.ndarray
    out_membrane: np.ndarray
    counters: dict[str, np.ndarray]
    final_bits: np.ndarray | None = None
    hidden_per_step: np.ndarray | None = None
    bits_per_step: np.ndarray | None = None
    extra_plane_bits: np.ndarray | None = None
    hidden_on_per_step: np.ndarray | None = None
    chunk_levels: np.ndarray | None = None

    @property
    def physical_bits_read(self) -> np.ndarray:
        """Weight-memory bits the hardware reads per image (int64 ``[n]``):
        ``weight_bits_read`` plus the below-tau blocks' magnitude planes (equal at
        ``tau = 0``)."""
        extra = 0 if self.extra_plane_bits is None else self.extra_plane_bits
        return self.counters["weight_bits_read"] + extra

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
                   bits_per_step=joined("bits_per_step"),
                   extra_plane_bits=joined("extra_plane_bits"),
                   hidden_on_per_step=joined("hidden_on_per_step"),
                   chunk_levels=parts[0].chunk_levels)

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



def neuron_step(v: np.ndarray, current: np.ndarray, theta: int, leak_shift: int,
                on: np.ndarray | None = None) -> np.ndarray:
    """One step of a layer's neurons, in place on the membranes ``v``: leak, integrate
    ``current``, fire (``v > theta``), reset by subtraction.  Neurons that are not ``on``
    (bool, broadcast against ``v``; None = all on) keep their membrane and do not fire.
    Returns the spikes (bool, shape of ``v``)."""
    if on is None:
        if leak_shift:
            v[...] = leak(v, leak_shift)
        v += current
        updated = v
    else:
        updated = leak(v, leak_shift) + current
    fired = updated > theta
    if on is not None:
        fired &= on
        np.copyto(v, updated, where=np.broadcast_to(on, v.shape))
    v -= fired * theta
    return fired


def _layer_step(v: np.ndarray, rows: slice | np.ndarray, current: np.ndarray, theta: int,
                leak_shift: int, on: np.ndarray | None = None) -> np.ndarray:
    """:func:`neuron_step` on the images ``rows`` of the membranes ``v`` (in place)."""
    if isinstance(rows, slice):
        return neuron_step(v[rows], current, theta, leak_shift, on)
    part = v[rows]
    fired = neuron_step(part, current, theta, leak_shift, on)
    v[rows] = part
    return fired


class NetworkTables:
    """The :class:`LayerTables` of both layers at every precision, built on first use."""

    def __init__(self, w_hidden, w_out, config: SNNConfig, settings: RunSettings):
        self._w_hidden, self._w_out = w_hidden, w_out
        self._config, self._settings = config, settings
        self._hidden: dict[int, LayerTables] = {}
        self._output: dict[int, LayerTables] = {}

    def hidden(self, bits: int) -> LayerTables:
        """The hidden layer at precision ``bits`` (metadata blocks of B neurons)."""
        if bits not in self._hidden:
            self._hidden[bits] = layer_tables(self._w_hidden, bits, self._settings.tau_hidden,
                                              self._config.block_size)
        return self._hidden[bits]

    def output(self, bits: int) -> LayerTables:
        """The output layer at precision ``bits`` (one block of 10)."""
        if bits not in self._output:
            self._output[bits] = layer_tables(self._w_out, bits, self._settings.tau_out,
                                              self._config.n_outputs)
        return self._output[bits]


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
    With ``settings.controller`` set this is dynamic mode (:mod:`golden.controller`), and the
    result also holds ``final_bits`` and ``bits_per_step``.  Images are processed ``chunk``
    at a time to bound memory (results do not depend on it).
    """
    settings = settings or RunSettings()
    timesteps, mask = settings.resolve(config)
    tables = NetworkTables(w_hidden, w_out, config, settings)
    parts = [_run_chunk(images[i:i + chunk], tables, config, settings, timesteps, mask)
             for i in range(0, max(len(images), 1), chunk)]
    result = InferenceResult.concatenate(parts)
    result.chunk_levels = hidden_geometry(config).chunk_levels(
        block_maxima(w_hidden, config.block_size))
    return result


def _run_chunk(images, tables: NetworkTables, config: SNNConfig, settings: RunSettings,
               timesteps: int, mask: np.ndarray) -> InferenceResult:
    """The step loop of :func:`infer` for one chunk of images."""
    n = len(images)
    pixels = np.asarray(images, dtype=np.int32).reshape(n, config.n_inputs)
    control = ImageControl(n, settings, mask, timesteps, config.block_size)
    v_hid = np.zeros((n, config.n_hidden), dtype=np.int64)
    v_out = np.zeros((n, config.n_outputs), dtype=np.int64)
    counts = np.zeros((n, config.n_outputs), dtype=np.int64)
    counters = {name: np.zeros(n, dtype=np.int64) for name in COUNTER_NAMES}
    hidden_trace = np.zeros((n, timesteps), dtype=np.int64)
    bits_trace = np.zeros((n, timesteps, 2), dtype=np.int64)
    extra_bits = np.zeros(n, dtype=np.int64)
    dynamic = settings.controller is not None
    on_trace = np.zeros((n, timesteps, config.n_hidden), dtype=bool) if dynamic else None

    for t in range(timesteps):
        for bits_hidden, bits_out, rows in control.groups():
            hidden, output = tables.hidden(bits_hidden), tables.output(bits_out)
            on = control.hidden_on(rows)
            s_in = input_spikes(pixels[rows], t).astype(np.float32)
            current = (s_in @ hidden.effective).astype(np.int64)
            fired = _layer_step(v_hid, rows, current, config.theta_hidden, config.leak_hidden,
                                on)
            control.fired(rows, fired)
            s_hid = fired.astype(np.float32)
            current = (s_hid @ output.effective).astype(np.int64)
            s_out = _layer_step(v_out, rows, current, config.theta_out, config.leak_out)
            counts[rows] += s_out
            classes_in, bits_in = hidden.count(s_in, on)
            classes_hid, bits_hid = output.count(s_hid, None)
            classes = (classes_in + classes_hid).astype(np.int64)
            for i, name in enumerate(SYNAPSE_CLASSES):
                counters[name][rows] += classes[:, i]
            counters["weight_bits_read"][rows] += (bits_in + bits_hid).astype(np.int64)
            if hidden.below_enabled.any() or output.below_enabled.any():
                extra_bits[rows] += (hidden.extra_bits(s_in, on)
                                     + output.extra_bits(s_hid, None)).astype(np.int64)
            if on_trace is not None:
                on_trace[rows, t] = True if on is None else on
            hidden_trace[rows, t] = s_hid.sum(axis=1).astype(np.int64)
            bits_trace[rows, t] = (bits_hidden, bits_out)
            counters["input_spikes"][rows] += s_in.sum(axis=1).astype(np.int64)
            counters["output_spikes"][rows] += s_out.sum(axis=1)
            n_on = config.n_hidden if on is None else on.sum(axis=-1)
            counters["membrane_updates"][rows] += n_on + config.n_outputs
            counters["steps"][rows] += 1
        control.after_step(t + 1, counts)
    counters["hidden_spikes"][:] = hidden_trace.sum(axis=1)
    counters["precision_changes"][:] = control.changes
    return InferenceResult(classify(counts, v_out), counts, v_out, counters,
                           final_bits=control.bits if dynamic else None,
                           hidden_per_step=hidden_trace,
                           bits_per_step=bits_trace if dynamic else None,
                           extra_plane_bits=extra_bits, hidden_on_per_step=on_trace)
