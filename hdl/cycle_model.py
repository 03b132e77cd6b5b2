"""Cycles per image of :class:`hdl.core.SNNCore`, from the image, T, the chunk count and the
``hidden_spikes`` counter (docs/cycle_model.md derives every term).

``cycles = scan + sum_t integrate(t) + T * (chunks + 4) + hidden_spikes + 10``

* ``scan = max(197, chunks) + 1``: 196 image words at one word (4 pixels) per cycle, in
  parallel with clearing the hidden membranes (one chunk per cycle);
* ``integrate(t)``: the input walk of step t (below); with one chunk per spike
  (``chunks == 1``) it is ``input_spikes(t) + silent_words(t) + 4`` when the last listed
  word spikes at t;
* ``chunks + 1`` for the fire pass, ``hidden_spikes(t) + 2`` for the output layer (one
  cycle per hidden spike + a drain cycle), 1 for the output fire: ``T * (chunks + 4)`` plus
  the ``hidden_spikes`` counter;
* 10 cycles to classify.
"""

from __future__ import annotations

import numpy as np

from golden.reference import input_spikes
from hdl.event_list import IMAGE_WORDS, PIXELS_PER_WORD

SCAN_WORDS_CYCLES = IMAGE_WORDS + 1
"""Cycles until the last scanned word is appended (reader latency 1)."""
READER_LATENCY = 2
"""Cycles from a weight-row request to its effective weights (metadata, then planes)."""
CLASSIFY_CYCLES = 10


def word_spikes(image: np.ndarray, timesteps: int) -> np.ndarray:
    """Spikes per listed word (non-zero 4-pixel word) and step: int ``[T, words]``."""
    pixels = np.asarray(image, dtype=np.int32).reshape(IMAGE_WORDS, PIXELS_PER_WORD)
    listed = pixels[(pixels != 0).any(axis=1)]
    return np.stack([input_spikes(listed, t).sum(axis=1) for t in range(timesteps)])


def integrate_cycles(spikes_per_word: np.ndarray, chunks: int) -> int:
    """Cycles of one step's INTEGRATE phase, given the spikes of each listed word.

    The walker latches a word per cycle while it has nothing pending; a word with ``k``
    spikes issues them ``chunks`` cycles apart (the integrator takes one chunk per cycle);
    the phase ends when the walk is over and the last request has left the 2-cycle reader.
    """
    latched, next_accept, last_issue, walk_end = 0, 0, None, 1
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
        return 1 + walk_end
    return 1 + max(walk_end, last_issue + chunks + READER_LATENCY + 1)


def image_cycles(image: np.ndarray, timesteps: int, chunks: int, hidden_spikes: int) -> int:
    """Predicted RTL ``cycles`` for one image (``hidden_spikes`` from the counters)."""
    scan = max(SCAN_WORDS_CYCLES, chunks) + 1
    integrate = sum(integrate_cycles(words, chunks)
                    for words in word_spikes(image, timesteps))
    return scan + integrate + timesteps * (chunks + 4) + int(hidden_spikes) + CLASSIFY_CYCLES


def predicted_cycles(images: np.ndarray, timesteps: int, chunks: int,
                     hidden_spikes: np.ndarray) -> np.ndarray:
    """:func:`image_cycles` for every image: int64 ``[n]``."""
    return np.array([image_cycles(image, timesteps, chunks, h)
                     for image, h in zip(images, hidden_spikes, strict=True)], dtype=np.int64)
