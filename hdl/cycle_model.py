"""Cycles per image of :class:`hdl.core.SNNCore`, from the image, T, the chunk count C and
the hidden spikes of every step (docs/cycle_model.md derives every term).

``cycles = scan + integrate(0) + sum_{t>=1} max(integrate(t), out(t-1)) + T * (C + 2)
+ out(T-1) + 11``

* ``scan = max(198, C) + 1``: 196 image words at 4 pixels per cycle, in parallel with
  clearing the hidden membranes (one chunk per cycle);
* ``integrate(t)``: the input walk of step t (below); with one chunk per spike (``C == 1``)
  it is ``input_spikes(t) + silent_words(t) + 13`` when the last listed word spikes at t;
* ``out(t-1) = h(t-1) + 6 (+ 6 if h(t-1) > 0)``: the output layer of step t-1 (one cycle per
  hidden spike, then draining the reader) runs while the hidden layer integrates step t; the
  hidden fire pass waits for both;
* ``C + 2`` per step for the hidden fire pass (with the registered end of the integration),
  and 11 cycles to classify.
"""

from __future__ import annotations

import numpy as np

from golden.config import RunSettings, SNNConfig
from golden.reference import LayerState, input_spikes, layer_tables
from hdl.controller import MARGIN_CYCLES
from hdl.event_list import (
    IMAGE_WORDS,
    PIXELS_PER_WORD,
    SCAN_LATENCY,
    WALK_DELAY,
    WALK_LATENCY,
)
from hdl.synapse_reader import LATENCY

SCAN_WORDS_CYCLES = IMAGE_WORDS + SCAN_LATENCY
"""Cycles until the last scanned word is appended (read, then registered)."""
READER_LATENCY = LATENCY
"""Cycles from a hidden weight-row request to its effective weights (metadata read and
register, plane enables registered, plane read and register, magnitude and tau compare,
weight compose): :data:`hdl.synapse_reader.LATENCY`."""
OUTPUT_READER_LATENCY = READER_LATENCY + 1
"""The output layer's reader also registers the request (after the priority encoder)."""
FIRE_OVERHEAD = 2
"""Cycles of a step's hidden fire pass beyond one per chunk: the registered end of the
integration and the registered membrane read."""
CLASSIFY_CYCLES = 11
"""One cycle per class (select, registered) and one for the last compare."""
OUTPUT_CYCLES = 6
"""Output layer of one step beyond its hidden spikes: leak, end of the spike walk, drain,
the registered threshold compare, fire, and the cycle in which the waiting hidden FSM sees
it idle."""
CHECKPOINT_CYCLES = MARGIN_CYCLES
"""Dynamic mode: cycles a checkpoint adds between the output layer of its step and the next
step's integration, which then no longer overlap (the controller's count walk and decision;
the cycle in which the hidden FSM sees the output layer idle is part of OUTPUT_CYCLES)."""
EXIT_CYCLES = MARGIN_CYCLES + 1
"""Dynamic mode: extra cycles before classifying after an early exit (the count walk, the
decision, and the FINISH state)."""
OUTPUT_DRAIN_CYCLES = OUTPUT_READER_LATENCY - 2
"""Further drain cycles of a step with hidden spikes: the last row's weights arrive
``OUTPUT_READER_LATENCY`` cycles after its request."""


def word_spikes(image: np.ndarray, timesteps: int) -> np.ndarray:
    """Spikes per listed word (non-zero 4-pixel word) and step: int ``[T, words]``."""
    pixels = np.asarray(image, dtype=np.int32).reshape(IMAGE_WORDS, PIXELS_PER_WORD)
    listed = pixels[(pixels != 0).any(axis=1)]
    return np.stack([input_spikes(listed, t).sum(axis=1) for t in range(timesteps)])


def integrate_cycles(spikes_per_word: np.ndarray, chunks: int) -> int:
    """Cycles of one step's INTEGRATE phase, given the spikes of each listed word.

    The walker latches a word per cycle while it has nothing pending; a word with ``k``
    spikes issues them ``chunks`` cycles apart (the integrator takes one chunk per cycle);
    the phase ends when the walk is over and the last request has left the reader
    (:data:`READER_LATENCY` cycles).
    """
    # The prefetch pipeline delays a non-empty walk by WALK_LATENCY cycles.
    latched = WALK_LATENCY if len(spikes_per_word) else 0
    next_accept, last_issue, walk_end = 0, None, 1
    for k in (int(s) for s in spikes_per_word):
        if k == 0:
            walk_end = latched + 2
            latched += 1
            continue
        first = max(latched + 1, next_accept)
        last_issue = first + (k - 1) * chunks
        next_accept = last_issue + chunks
        latched = last_issue
        walk_end = last_issue + 1
    if last_issue is None:
        return WALK_DELAY + 1 + walk_end
    return WALK_DELAY + 1 + max(walk_end, last_issue + chunks + READER_LATENCY)


def output_cycles(hidden_spikes: int) -> int:
    """Cycles of one step's output layer with ``hidden_spikes`` hidden spikes."""
    return hidden_spikes + OUTPUT_CYCLES + (OUTPUT_DRAIN_CYCLES if hidden_spikes else 0)


def hidden_spike_trace(w_hidden: np.ndarray, images: np.ndarray, config: SNNConfig,
                       settings: RunSettings) -> np.ndarray:
    """Hidden spikes per image and step, int64 ``[n, T]``: the hidden layer of the reference
    run step by step (its row sums are the ``hidden_spikes`` counter)."""
    timesteps, mask = settings.resolve(config)
    tables = layer_tables(w_hidden, settings.bits_hidden, settings.tau_hidden, mask,
                          config.block_size)
    pixels = np.asarray(images, dtype=np.int32).reshape(len(images), -1)
    layer = LayerState(len(pixels), config.n_hidden, config.theta_hidden, config.leak_hidden)
    trace = [layer.step(input_spikes(pixels, t).astype(np.float32), tables.effective).sum(axis=1)
             for t in range(timesteps)]
    return np.stack(trace, axis=1).astype(np.int64)


def image_cycles(image: np.ndarray, chunks: int, hidden_per_step: np.ndarray,
                 checkpoints: frozenset[int] | set[int] = frozenset()) -> int:
    """Predicted RTL ``cycles`` for one image, given its hidden spikes per step run.

    ``checkpoints`` (dynamic mode) holds the step counts ``s`` after which the controller
    decided; there the next step's integration waits for the output layer and the decision
    (:data:`CHECKPOINT_CYCLES`) instead of overlapping it.  A checkpoint after the last step
    run is an early exit (:data:`EXIT_CYCLES` before classifying).
    """
    timesteps = len(hidden_per_step)
    integrate = [integrate_cycles(words, chunks) for words in word_spikes(image, timesteps)]
    output = [output_cycles(int(h)) for h in hidden_per_step]
    overlapped = integrate[0]
    for t in range(1, timesteps):
        if t in checkpoints:
            overlapped += output[t - 1] + CHECKPOINT_CYCLES + integrate[t]
        else:
            overlapped += max(integrate[t], output[t - 1])
    exit_cycles = EXIT_CYCLES if timesteps in checkpoints else 0
    return (max(SCAN_WORDS_CYCLES, chunks) + 1 + overlapped + timesteps * (chunks + FIRE_OVERHEAD)
            + output[-1] + exit_cycles + CLASSIFY_CYCLES)


def predicted_cycles(images: np.ndarray, chunks: int, hidden_trace: np.ndarray) -> np.ndarray:
    """:func:`image_cycles` for every image: int64 ``[n]``.

    ``hidden_trace`` is int ``[n, T]`` from :func:`hidden_spike_trace` (per-step counts:
    the overlap of the output layer with the next step makes the total alone not enough).
    """
    hidden_trace = np.asarray(hidden_trace)
    if hidden_trace.ndim != 2 or len(hidden_trace) != len(images):
        raise ValueError(f"hidden_trace must be [images, T] hidden spikes per step "
                         f"(hidden_spike_trace), not shape {hidden_trace.shape}")
    return np.array([image_cycles(image, chunks, h)
                     for image, h in zip(images, hidden_trace, strict=True)], dtype=np.int64)


def dynamic_cycles(config: SNNConfig, images: np.ndarray, settings: RunSettings,
                   result) -> np.ndarray:
    """Predicted RTL cycles of every image of a dynamic-mode reference run ``result``
    (:func:`golden.reference.infer` with ``settings.controller``): int64 ``[n]``."""
    from hdl.core import hidden_geometry

    timesteps, _ = settings.resolve(config)
    checkpoints = settings.controller.checkpoints(timesteps)
    chunks = hidden_geometry(config).chunks
    out = np.zeros(len(images), dtype=np.int64)
    for i, (image, steps) in enumerate(zip(images, result.counters["steps"], strict=True)):
        visited = frozenset(s for s in checkpoints if s <= steps)
        out[i] = image_cycles(image, chunks, result.hidden_per_step[i, :steps], visited)
    return out


def cycles_per_image(config: SNNConfig, w_hidden: np.ndarray, images: np.ndarray,
                     settings: RunSettings, *, w_out: np.ndarray | None = None) -> np.ndarray:
    """Predicted RTL cycles of every image for a network and register setting: int64 ``[n]``.

    Dynamic mode (``settings.controller``) needs ``w_out`` too: the output spike counts
    steer the controller.
    """
    from hdl.core import hidden_geometry

    if settings.dynamic:
        if w_out is None:
            raise ValueError("dynamic mode needs w_out for the cycle model (the controller "
                             "reads the output spike counts)")
        from golden.reference import infer

        result = infer(w_hidden, w_out, images, config, settings)
        return dynamic_cycles(config, images, settings, result)
    trace = hidden_spike_trace(w_hidden, images, config, settings)
    return predicted_cycles(images, hidden_geometry(config).chunks, trace)
