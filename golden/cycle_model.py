"""Cycles per image of the hardware core, from the image, T, the chunk count C and the
hidden spikes of every step of a reference run (docs/cycle_model.md derives every term).

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

In dynamic mode a checkpoint stops that overlap for its step, and an early exit adds the
controller's decision before classifying.  The model reads everything it needs from the
reference run (:class:`golden.reference.InferenceResult`: steps run and hidden spikes per
step), so it runs the network no second time; it depends on NumPy and :mod:`golden.timing`
only.
"""

from __future__ import annotations

import numpy as np

from golden.config import RunSettings, SNNConfig
from golden.geometry import hidden_geometry
from golden.reference import InferenceResult, input_spikes
from golden.timing import (
    CLASSIFY_CYCLES,
    FIRE_OVERHEAD,
    IMAGE_WORDS,
    MARGIN_CYCLES,
    OUTPUT_CYCLES,
    OUTPUT_READER_LATENCY,
    PIXELS_PER_WORD,
    READER_LATENCY,
    SCAN_LATENCY,
    WALK_DELAY,
    WALK_LATENCY,
)

SCAN_WORDS_CYCLES = IMAGE_WORDS + SCAN_LATENCY
"""Cycles until the last scanned word is appended (read, then registered)."""
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


def cycles_per_image(config: SNNConfig, images: np.ndarray, settings: RunSettings,
                     result: InferenceResult) -> np.ndarray:
    """Predicted RTL ``cycles`` of every image of the reference run ``result`` (of ``images``
    with ``settings`` on ``config``): int64 ``[n]``.

    Static and dynamic mode alike: the steps each image ran and its hidden spikes per step
    come from ``result``; the checkpoints it passed from ``settings.controller``.
    """
    timesteps, _ = settings.resolve(config)
    if result.hidden_per_step.shape != (len(images), timesteps):
        raise ValueError(f"result holds {result.hidden_per_step.shape} hidden spike counts; "
                         f"expected one per image and step ({len(images)}, {timesteps})")
    checkpoints = (settings.controller.checkpoints(timesteps)
                   if settings.controller is not None else ())
    chunks = hidden_geometry(config).chunks
    out = np.zeros(len(images), dtype=np.int64)
    for i, (image, steps) in enumerate(zip(images, result.counters["steps"], strict=True)):
        visited = frozenset(s for s in checkpoints if s <= steps)
        out[i] = image_cycles(image, chunks, result.hidden_per_step[i, :steps], visited)
    return out
