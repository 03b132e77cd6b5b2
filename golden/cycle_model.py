"""Cycles per image of the hardware core, from the image, T, the chunk count C and the
hidden spikes of every step of a reference run (docs/cycle_model.md derives every term).

``cycles = scan + integrate(0) + sum_{t>=1} max(integrate(t), out(t-1)) + T * (C + 2)
+ out(T-1) + 4``

* ``scan = max(784 / 4E + 3, C + 1) + 1``: one list word of 4E pixels per cycle, in
  parallel with clearing the hidden membranes (one chunk per cycle);
* ``integrate(t)``: the input walk of step t (below): every issued spike costs its chunks
  that are not skipped (chunk skip: docs/cycle_model.md); with one chunk per spike
  (``C == 1``) and no skipped row it is ``input_spikes(t) + silent_words(t) + 14`` when the
  last listed word spikes at t;
* ``out(t-1) = ceil(h(t-1) / E) + 7 (+ 7 if h(t-1) > 0)``: the output layer of step t-1
  (E hidden spikes per cycle, then draining the reader) runs while the hidden layer
  integrates step t; the hidden fire pass waits for both;
* ``C + 2`` per step for the hidden fire pass (with the registered end of the integration),
  and 4 cycles to classify.

In dynamic mode a checkpoint stops that overlap for its step, and an early exit adds the
controller's decision before classifying.  The model reads everything it needs from the
reference run (:class:`golden.reference.InferenceResult`: steps run and hidden spikes per
step), so it runs the network no second time; it depends on NumPy and :mod:`golden.timing`
only.
"""

from __future__ import annotations

import numpy as np

from golden.config import N_INPUTS, WEIGHT_BITS, RunSettings, SNNConfig
from golden.geometry import hidden_geometry
from golden.reference import InferenceResult, input_spikes
from golden.timing import (
    CLASSIFY_CYCLES,
    CLEAR_LATENCY,
    FIRE_OVERHEAD,
    MARGIN_CYCLES,
    OUTPUT_CYCLES,
    OUTPUT_READER_LATENCY,
    PIXELS_PER_WORD,
    READER_LATENCY,
    SCAN_LATENCY,
    WALK_DELAY,
    WALK_LATENCY,
)

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


def list_word_pixels(events: int) -> int:
    """Pixels per list word of a core that issues ``events`` input spikes per cycle."""
    return PIXELS_PER_WORD * events


def scan_cycles(chunks: int, events: int = 1) -> int:
    """SCAN: every list word read and appended, in parallel with clearing the hidden
    membranes (one chunk per cycle), and the cycle that ends it."""
    return max(N_INPUTS // list_word_pixels(events) + SCAN_LATENCY, chunks + CLEAR_LATENCY) + 1


def listed_words(image: np.ndarray, events: int = 1) -> np.ndarray:
    """Pixels of the listed words (non-zero list words of ``4 * events`` pixels), int32
    ``[words, 4 * events]``."""
    width = list_word_pixels(events)
    pixels = np.asarray(image, dtype=np.int32).reshape(N_INPUTS // width, width)
    return pixels[(pixels != 0).any(axis=1)]


def word_spikes(image: np.ndarray, timesteps: int, events: int = 1) -> np.ndarray:
    """Spikes per listed word and step: int ``[T, words]``."""
    listed = listed_words(image, events)
    return np.stack([input_spikes(listed, t).sum(axis=1) for t in range(timesteps)])


def row_costs(levels: np.ndarray, bits: int, live: np.ndarray) -> np.ndarray:
    """Integration cycles of one spike of every input row: its chunks that are not skipped.

    A chunk is skipped when every block that overlaps it has ``q_b(m) = 0`` (``levels``
    uint8 ``[784, C]``, :meth:`golden.geometry.LayerGeometry.chunk_levels`) or when none of
    them has a neuron on (``live`` bool ``[C]``).  int ``[784]``; 0 = the row is skipped.
    """
    return (((levels.astype(np.int32) + bits) > WEIGHT_BITS) & live).sum(axis=1)


def step_costs(image: np.ndarray, timesteps: int, costs: np.ndarray | None,
               chunks: int, events: int = 1) -> list[list[list[int]]]:
    """Per step, per listed word: the costs (chunks issued) of its spikes that are issued,
    lowest pixel first.  ``costs`` int ``[T, 784]`` (None: every spike costs ``chunks``)."""
    width = list_word_pixels(events)
    listed = listed_words(image, events)
    pixels = np.asarray(image).reshape(N_INPUTS // width, width)
    rows = np.flatnonzero((pixels != 0).any(axis=1))[:, None] * width + np.arange(width)
    out = []
    for t in range(timesteps):
        spiking = input_spikes(listed, t)
        per_row = np.full(rows.shape, chunks) if costs is None else costs[t][rows]
        issued = np.where(spiking, per_row, 0)
        out.append([[int(c) for c in word if c] for word in issued])
    return out


def integrate_cycles(spikes_per_word, chunks: int | None = None) -> int:
    """Cycles of one step's INTEGRATE phase.

    ``spikes_per_word`` lists, per listed word, the chunks each of its issued spikes costs
    (lowest pixel first; an empty list is a silent word), or, with ``chunks``, the number of
    spikes of each word, each costing ``chunks``.

    The walker latches a word per cycle while it has nothing pending; a word's spikes issue
    one after the other, each taking as many cycles as it has chunks that are not skipped
    (the integrator takes one chunk per cycle); the phase ends when the walk is over and the
    last request has left the reader (:data:`READER_LATENCY` cycles).
    """
    if chunks is not None:
        spikes_per_word = [[chunks] * int(k) for k in spikes_per_word]
    # The prefetch pipeline delays a non-empty walk by WALK_LATENCY cycles.
    latched = WALK_LATENCY if len(spikes_per_word) else 0
    next_accept, last_issue, last_cost, walk_end = 0, None, 0, 1
    for word in spikes_per_word:
        if not word:
            walk_end = latched + 2
            latched += 1
            continue
        issue = max(latched + 1, next_accept)
        for cost in word[:-1]:
            issue += cost
        last_issue, last_cost = issue, word[-1]
        next_accept = last_issue + last_cost
        latched = last_issue
        walk_end = last_issue + 1
    if last_issue is None:
        return WALK_DELAY + 1 + walk_end
    return WALK_DELAY + 1 + max(walk_end, last_issue + last_cost + READER_LATENCY)


def paired_integrate_cycles(spikes_per_word) -> int:
    """Cycles of one step's INTEGRATE phase with two events per cycle (one chunk per row).

    ``spikes_per_word`` lists the issued spikes of every listed word (8 pixels), in list
    order.  The prefetch reads list word ``j`` in walk cycle ``j`` (never held back: its FIFO
    has a place for every list word) and offers it to the walker from cycle ``j +
    WALK_LATENCY + 1`` on; a word with no issued spike never reaches it.  Every cycle the
    walker issues the two lowest spikes of its pending word followed by the offered word
    (the pending word's odd spike pairs with the next word's first), and it takes the offered
    word (one per cycle) in every cycle that leaves nothing pending.  The walk is over once
    the last word has left the prefetch; the phase ends when the walk is over and the last
    request has left the reader (:data:`READER_LATENCY` cycles).
    """
    length = len(spikes_per_word)
    if length == 0:
        return WALK_DELAY + 2
    offered = [(j + WALK_LATENCY + 1, int(k)) for j, k in enumerate(spikes_per_word) if k]
    cycle, pending, taken, last_issue = WALK_DELAY, 0, 0, None
    while taken < len(offered) or pending:
        if not pending:  # wait for the next word; its first two spikes issue when offered
            cycle = max(cycle, offered[taken][0])
            pending = max(0, offered[taken][1] - 2)
            taken += 1
        else:  # up to two: from the pending word, then from the offered one (taken)
            issued = min(2, pending)
            pending -= issued
            if not pending and taken < len(offered) and offered[taken][0] <= cycle:
                pending = offered[taken][1] - (2 - issued)
                taken += 1
        last_issue = cycle
        cycle += 1
    walk_end = length + WALK_LATENCY + 1
    if last_issue is None:
        return WALK_DELAY + 1 + walk_end
    return WALK_DELAY + 1 + max(walk_end, last_issue + READER_LATENCY)


def output_cycles(hidden_spikes: int, events: int = 1) -> int:
    """Cycles of one step's output layer with ``hidden_spikes`` hidden spikes, ``events``
    of them taken per cycle."""
    return (-(-hidden_spikes // events) + OUTPUT_CYCLES
            + (OUTPUT_DRAIN_CYCLES if hidden_spikes else 0))


def image_phases(image: np.ndarray, chunks: int, hidden_per_step: np.ndarray,
                 checkpoints: frozenset[int] | set[int] = frozenset(),
                 costs: np.ndarray | None = None, events: int = 1) -> dict[str, int]:
    """The cycles of one image by phase (:data:`PHASES`; their sum is :func:`image_cycles`):
    ``scan``, ``integrate`` (the input walks), ``output_exposed`` (the output layer's cycles
    that no input walk hides: its excess over the next walk, after a checkpoint all of it,
    and the last step's), ``controller`` (checkpoint decisions and an early exit), ``fire``
    (the hidden fire passes) and ``classify``."""
    timesteps = len(hidden_per_step)
    per_step = step_costs(image, timesteps, costs, chunks, events)
    if events == 1:
        integrate = [integrate_cycles(words) for words in per_step]
    else:
        integrate = [paired_integrate_cycles([len(word) for word in words])
                     for words in per_step]
    output = [output_cycles(int(h), events) for h in hidden_per_step]
    exposed, decisions = output[-1], 0
    for t in range(1, timesteps):
        if t in checkpoints:
            exposed += output[t - 1]
            decisions += CHECKPOINT_CYCLES
        else:
            exposed += max(0, output[t - 1] - integrate[t])
    decisions += EXIT_CYCLES if timesteps in checkpoints else 0
    return {"scan": scan_cycles(chunks, events), "integrate": sum(integrate),
            "output_exposed": exposed, "controller": decisions,
            "fire": timesteps * (chunks + FIRE_OVERHEAD), "classify": CLASSIFY_CYCLES}


PHASES = ("scan", "integrate", "output_exposed", "controller", "fire", "classify")
"""The phases of :func:`image_phases`, in the order they first occur."""


def image_cycles(image: np.ndarray, chunks: int, hidden_per_step: np.ndarray,
                 checkpoints: frozenset[int] | set[int] = frozenset(),
                 costs: np.ndarray | None = None, events: int = 1) -> int:
    """Predicted RTL ``cycles`` for one image, given its hidden spikes per step run.

    ``checkpoints`` (dynamic mode) holds the step counts ``s`` after which the controller
    decided; there the next step's integration waits for the output layer and the decision
    (:data:`CHECKPOINT_CYCLES`) instead of overlapping it.  A checkpoint after the last step
    run is an early exit (:data:`EXIT_CYCLES` before classifying).  ``costs`` int
    ``[T, 784]``: the chunks a spike of each row issues at each step (:func:`row_costs`;
    None: every spike issues all ``chunks``).  ``events``: input spikes per cycle (2 needs
    ``chunks == 1``).
    """
    return sum(image_phases(image, chunks, hidden_per_step, checkpoints, costs,
                            events).values())


def cycles_per_image(config: SNNConfig, images: np.ndarray, settings: RunSettings,
                     result: InferenceResult) -> np.ndarray:
    """Predicted RTL ``cycles`` of every image of the reference run ``result`` (of ``images``
    with ``settings`` on ``config``): int64 ``[n]``.

    Static and dynamic mode alike: the steps each image ran and its hidden spikes per step
    come from ``result``; the checkpoints it passed from ``settings.controller``.
    """
    return phases_per_image(config, images, settings, result).sum(axis=1)


def phases_per_image(config: SNNConfig, images: np.ndarray, settings: RunSettings,
                     result: InferenceResult) -> np.ndarray:
    """The cycles of every image by phase (:data:`PHASES`, :func:`image_phases`): int64
    ``[n, len(PHASES)]``."""
    timesteps, _ = settings.resolve(config)
    if result.hidden_per_step.shape != (len(images), timesteps):
        raise ValueError(f"result holds {result.hidden_per_step.shape} hidden spike counts; "
                         f"expected one per image and step ({len(images)}, {timesteps})")
    checkpoints = (settings.controller.checkpoints(timesteps)
                   if settings.controller is not None else ())
    geometry = hidden_geometry(config)
    costs = image_costs(config, settings, result)
    out = np.zeros((len(images), len(PHASES)), dtype=np.int64)
    for i, (image, steps) in enumerate(zip(images, result.counters["steps"], strict=True)):
        visited = frozenset(s for s in checkpoints if s <= steps)
        phases = image_phases(image, geometry.chunks, result.hidden_per_step[i, :steps],
                              visited, None if costs is None else costs(i)[:steps],
                              config.issue_width)
        out[i] = [phases[name] for name in PHASES]
    return out


def image_costs(config: SNNConfig, settings: RunSettings, result: InferenceResult):
    """A function of the image index giving the chunks a spike of each row issues at every
    step (int ``[T, 784]``, :func:`row_costs` at that step's precision and mask), or None
    when ``result`` has no chunk levels (every spike then issues every chunk)."""
    if result.chunk_levels is None:
        return None
    geometry = hidden_geometry(config)
    timesteps, mask = settings.resolve(config)
    static_live = geometry.chunk_live(np.asarray(mask, bool))
    step_bits = result.step_bits(settings)[:, :, 0]
    cache: dict[tuple, np.ndarray] = {}

    def costs(i: int) -> np.ndarray:
        out = np.zeros((timesteps, len(result.chunk_levels)), dtype=np.int64)
        live = (static_live[None] if result.hidden_on_per_step is None
                else geometry.chunk_live(result.hidden_on_per_step[i]))
        for t in range(timesteps):
            bits = int(step_bits[i, t])
            if bits == 0:
                continue  # after an early exit
            chunk_live = live[0 if len(live) == 1 else t]
            key = (bits, chunk_live.tobytes())
            if key not in cache:
                cache[key] = row_costs(result.chunk_levels, bits, chunk_live)
            out[t] = cache[key]
        return out

    return costs
