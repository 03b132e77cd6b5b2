"""Timing constants of the hardware core, in clock cycles (docs/cycle_model.md).

The cycle model (:mod:`golden.cycle_model`) predicts the RTL's ``cycles`` counter from these
numbers, and the HDL (:mod:`hdl`) is built to them: the modules that realise a latency import
it from here, and the co-simulation checks the RTL's ``cycles`` against the model on every
image.  This module depends on nothing but :mod:`golden.config`, so the cycle and energy
models run without Amaranth.
"""

from __future__ import annotations

from golden.config import N_INPUTS, N_OUTPUTS

PIXEL_BITS = 8
"""Bits of one pixel in the image memory."""
PIXELS_PER_WORD = 4
"""Pixels per image word, scanned per cycle and held per list entry."""
IMAGE_WORDS = N_INPUTS // PIXELS_PER_WORD
"""Words of one image (196)."""
SCAN_LATENCY = 3
"""Cycles of a SCAN beyond one per image word: the launch registered into the scan strobe
(the launch decode is far from the image memory), the word read, the word registered."""
CLEAR_LATENCY = 1
"""Cycles of a SCAN's clear sweep beyond one per chunk of hidden membranes: the launch
registered into the clear strobe (the same register as the scan strobe)."""
WALK_LATENCY = 4
"""Extra cycles from a walk strobe to its first list entry (prefetch pipeline: list read,
registered entry, products and chunk summary registered, spike bits registered, spikes of
skipped rows dropped)."""
WALK_DELAY = 1
"""Cycles from the ``walk`` strobe to the start of the walk (the strobe, a long path from the
sequencer and controller, is registered first)."""
READER_LATENCY = 7
"""Cycles from a hidden weight-row request to its effective weights (metadata read and
register, plane enables registered, plane read and register, magnitude and tau compare,
weight compose)."""
OUTPUT_READER_LATENCY = READER_LATENCY + 2
"""The output layer's requests also pass two registers (the spike walker's pick, registered in
pieces before the final select, and the reader's request register): the walker's priority
encoders sit by the hidden spikes, far from the output weight memories."""
MARGIN_CYCLES = N_OUTPUTS + 3
"""Controller cycles from ``check`` to ``decided``: one per output count, the margin
(registered), the margin comparisons (registered), then the registered decision."""
FIRE_OVERHEAD = 2
"""Cycles of a step's hidden fire pass beyond one per chunk: the registered end of the
integration and the registered membrane read."""
CLASSIFY_CYCLES = 4
"""The classifier's knockout tournament: the keys registered, three registered rounds of
pairs (10 -> 5 -> 3 -> 2 classes); the last compare writes the result in the ``done``
cycle."""
OUTPUT_CYCLES = 7
"""Output layer of one step beyond its hidden spikes: leak, load (the hidden spikes pass a
register on their way to the spike walker), end of the spike walk, drain, the registered
threshold compare, fire, and the cycle in which the waiting hidden FSM sees it idle."""
