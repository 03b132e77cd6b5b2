"""Core generator parameters, elaboration for both default shapes, the cycle model's terms and
the scoreboard's ability to fail (no simulator needed)."""

from __future__ import annotations

import re

import numpy as np
import pytest
from amaranth.back import rtlil

from flows.rtl_sim import Batch, RtlResults
from flows.scoreboard import score_batches
from golden.config import RunSettings, SNNConfig
from golden.cycle_model import (
    CLASSIFY_CYCLES,
    OUTPUT_DRAIN_CYCLES,
    READER_LATENCY,
    cycles_per_image,
    image_cycles,
    integrate_cycles,
    paired_integrate_cycles,
    row_costs,
    scan_cycles,
)
from golden.geometry import hidden_geometry
from golden.reference import infer
from golden.timing import WALK_LATENCY
from hdl import core
from hdl.core import SNNCore


def _weights(n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(-127, 128, (784, n)), rng.integers(-127, 128, (n, 10))


def _memory_read_ports(text: str) -> list[tuple[str, int]]:
    """(memory name, width) of every memory read port of an RTLIL design."""
    ports = re.findall(r'cell \$memrd_v2 \S+\n((?:\s+parameter .*\n)*)', text)
    out = []
    for params in ports:
        name = re.search(r'MEMID "\\\\([\w$]+)"', params).group(1).split("$")[0]
        out.append((name, int(re.search(r"WIDTH (\d+)", params).group(1))))
    return out


@pytest.mark.parametrize(("n_hidden", "lanes", "events"),
                         [(48, 48, None), (48, 48, 1), (128, 128, None), (128, 32, None)])
def test_default_shapes_elaborate_with_bit_plane_memories(n_hidden, lanes, events):
    """Both shipped shapes (and a multi-chunk one) elaborate: each layer reads 8 bit-plane
    memories per metadata block of a chunk (one bit per lane of the block, planes 0..7, each
    its own memory and read enable) and one metadata memory of 7 bits per slot; with two
    events per cycle (the default with one chunk) every weight memory has two read ports."""
    w_hidden, w_out = _weights(n_hidden)
    config = SNNConfig(n_hidden=n_hidden, lanes=lanes, events_per_cycle=events)
    assert config.issue_width == (events or (2 if lanes >= n_hidden else 1))
    text = rtlil.convert(SNNCore(config=config, w_hidden=w_hidden, w_out=w_out),
                         name="snn_core")
    ports = _memory_read_ports(text)
    blocks = lanes // config.block_size
    hidden = sorted(name for name, w in ports if name.startswith("plane") and w == 16)
    assert hidden == sorted(f"plane{k}_seg{s}" for k in range(8) for s in range(blocks)
                            for _ in range(config.issue_width)), ports
    output = sorted(name for name, w in ports if name.startswith("plane") and w == 10)
    assert output == sorted(f"plane{k}" for k in range(8)
                            for _ in range(config.issue_width)), ports
    slots = hidden_geometry(config).slots
    assert ports.count(("metadata", 7 * slots)) == config.issue_width
    assert ports.count(("metadata", 7)) == config.issue_width


def test_events_per_cycle_default_and_limits():
    assert SNNConfig(n_hidden=48, lanes=48).issue_width == 2
    assert SNNConfig(n_hidden=48, lanes=128).issue_width == 2
    assert SNNConfig(n_hidden=48, lanes=16).issue_width == 1
    # the default follows the lanes when they change
    assert SNNConfig(n_hidden=48, lanes=48).replace(lanes=16).issue_width == 1
    with pytest.raises(ValueError, match="lanes >= N"):
        SNNConfig(n_hidden=48, lanes=16, events_per_cycle=2)
    for bad in (0, 3):
        with pytest.raises(ValueError, match="events_per_cycle"):
            SNNConfig(n_hidden=48, lanes=48, events_per_cycle=bad)


@pytest.mark.parametrize("bits", [1, 9])
def test_impossible_reset_precision(bits):
    with pytest.raises(ValueError, match="reset_bits"):
        SNNCore(config=SNNConfig(n_hidden=8, lanes=8), w_hidden=_weights(8)[0],
                w_out=_weights(8)[1], reset_bits=bits)


@pytest.mark.parametrize(("changes", "name"), [
    ({"n_hidden": 0}, "n_hidden"), ({"lanes": 0}, "lanes"), ({"lanes": 1025}, "lanes"),
    ({"t_max": 256}, "t_max")])
def test_impossible_config_names_the_parameter(changes, name):
    with pytest.raises(ValueError, match=name):
        SNNConfig(**{"n_hidden": 8, "lanes": 8, "block_size": 4, **changes})


def test_more_lanes_than_neurons_is_one_row_per_cycle():
    assert hidden_geometry(SNNConfig(n_hidden=48, lanes=128)).lanes == 48
    assert hidden_geometry(SNNConfig(n_hidden=48, lanes=128)).chunks == 1
    assert hidden_geometry(SNNConfig(n_hidden=48, lanes=32)).chunks == 2


def test_weights_of_the_wrong_shape_or_range():
    w_hidden, w_out = _weights(8)
    config = SNNConfig(n_hidden=8, lanes=8, block_size=4)
    with pytest.raises(ValueError, match="w_hidden"):
        SNNCore(config=config, w_hidden=w_hidden[:, :7], w_out=w_out)
    with pytest.raises(ValueError, match="w_out"):
        SNNCore(config=config, w_hidden=w_hidden, w_out=np.full((8, 10), -128))


def test_t_max_too_large_for_the_counters(monkeypatch):
    monkeypatch.setattr(core, "COUNTER_WIDTH", 20)
    with pytest.raises(ValueError, match="t_max"):
        SNNCore(config=SNNConfig(n_hidden=8, lanes=8), w_hidden=_weights(8)[0],
                w_out=_weights(8)[1])


def test_integrate_cycles_one_chunk_per_spike():
    # Every listed word spikes: spikes + walk latency + reader latency + 2; a silent word
    # costs one cycle.
    assert (READER_LATENCY, WALK_LATENCY) == (7, 4)
    assert integrate_cycles(np.array([2, 1, 3]), chunks=1) == 6 + 14
    assert integrate_cycles(np.array([2, 0, 0, 3]), chunks=1) == 5 + 2 + 14
    assert integrate_cycles(np.array([], dtype=int), chunks=1) == 3


def test_integrate_cycles_follow_the_chunks_issued():
    # Each spike costs the chunks it issues; a word whose spikes are all skipped is silent.
    assert integrate_cycles([[4], [4]]) == integrate_cycles(np.array([1, 1]), chunks=4)
    assert integrate_cycles([[1, 2], [], [3]]) == 2 + 4 + (1 + 1 + 2) + 3 + 7
    assert integrate_cycles([[], []]) == integrate_cycles(np.array([0, 0]), chunks=3)


def test_paired_walk_issues_two_spikes_per_cycle_and_drops_silent_words():
    # 8-pixel list words; word j is offered from walk cycle j + 5 on; every cycle issues the
    # two lowest spikes of the pending word followed by the offered one; the phase ends
    # 2 + 7 cycles after the last issue, or 2 cycles after the last word left the prefetch.
    assert paired_integrate_cycles([]) == 3
    assert paired_integrate_cycles([0, 0, 0]) == 2 + 3 + 5  # nothing issued: the walk only
    assert paired_integrate_cycles([4, 4]) == 2 + 8 + 7  # issues in cycles 5..8
    assert paired_integrate_cycles([3, 3]) == 2 + 7 + 7  # odd spikes pair across words
    assert paired_integrate_cycles([3, 0, 1]) == 2 + 7 + 7  # word 2 is offered in cycle 7
    assert paired_integrate_cycles([3, 0, 0, 0, 1]) == 2 + 9 + 7  # prefetch-bound
    assert paired_integrate_cycles([1, 1, 1, 1]) == 2 + 8 + 7  # one word taken per cycle
    assert paired_integrate_cycles([8] * 10) == 2 + (5 + 39) + 7  # 80 spikes in 40 cycles


def test_scan_reads_eight_pixels_per_cycle_with_two_events():
    assert scan_cycles(1, 1) == 196 + 3 + 1
    assert scan_cycles(1, 2) == 98 + 3 + 1
    # many chunks: the clear sweep (one chunk per cycle, from the registered strobe) is longer
    assert scan_cycles(120, 2) == 120 + 1 + 1
    image = np.zeros(784, np.uint8)
    image[:16] = 255  # two 8-pixel list words, 8 spikes each at every step
    one = image_cycles(image, 1, np.array([0, 0]), events=1)
    two = image_cycles(image, 1, np.array([0, 0]), events=2)
    assert one - two == (200 - 102) + 2 * (integrate_cycles(np.array([4, 4, 4, 4]), chunks=1)
                                           - paired_integrate_cycles([8, 8]))


def test_row_costs_skip_zero_and_dead_chunks():
    levels = np.array([[0, 7, 1], [3, 0, 0]], np.uint8)
    live = np.array([True, True, False])
    assert row_costs(levels, 8, live).tolist() == [1, 1]
    assert row_costs(levels, 5, live).tolist() == [1, 0]  # q_5 keeps |w| >= 8: level >= 4
    assert row_costs(levels, 8, np.ones(3, bool)).tolist() == [2, 1]


def test_integrate_cycles_hides_silent_words_behind_multi_chunk_rows():
    # With 4 chunks per spike the walker latches up to 3 silent words for free.
    assert integrate_cycles(np.array([1, 0, 0, 1]), chunks=4) == integrate_cycles(
        np.array([1, 1]), chunks=4)
    assert integrate_cycles(np.array([1, 1]), chunks=4) == 2 + 4 + (1 + 4) + 4 + 7


def test_cycle_model_overlaps_the_output_layer_with_the_next_step():
    image = np.zeros(784, np.uint8)
    image[:8] = 255  # two listed words, 4 spikes each at every step
    per_step = integrate_cycles(np.array([4, 4]), chunks=1)
    quiet = image_cycles(image, 1, np.array([0, 0, 0]))
    assert CLASSIFY_CYCLES == 4
    assert quiet == 200 + 3 * per_step + 3 * 3 + 7 + 4
    # 40 hidden spikes in step 0 outlast integrate(1): the excess costs cycles
    busy = image_cycles(image, 1, np.array([40, 0, 0]))
    assert busy - quiet == 40 + 7 + OUTPUT_DRAIN_CYCLES - per_step
    assert image_cycles(image, 1, np.array([0, 0, 7])) - quiet == 7 + OUTPUT_DRAIN_CYCLES


def _fake_rtl(ref, images, config, settings):
    counters = dict(ref.counters)
    counters["cycles"] = cycles_per_image(config, images, settings, ref)
    return RtlResults(ref.pred.copy(), ref.counts.copy(), counters)


@pytest.mark.parametrize("field", ["syn_below", "count3", "class", "cycles"])
def test_scoreboard_reports_the_first_divergence(field):
    config = SNNConfig(n_hidden=8, lanes=8, block_size=4, theta_hidden=100, theta_out=50)
    w_hidden, w_out = _weights(8, seed=3)
    images = np.random.default_rng(1).integers(0, 256, (4, 784)).astype(np.uint8)
    settings = RunSettings(tau_hidden=30)
    ref = infer(w_hidden, w_out, images, config, settings)
    rtl = _fake_rtl(ref, images, config, settings)
    batch = [Batch(settings, images)]
    assert score_batches(config, w_hidden, w_out, batch, [rtl]).mismatches == 0
    if field == "class":
        rtl.pred[2] = (rtl.pred[2] + 1) % 10
    elif field.startswith("count"):
        rtl.counts[2, 3] += 1
    else:
        rtl.counters[field] = rtl.counters[field].copy()
        rtl.counters[field][2] += 1
    score = score_batches(config, w_hidden, w_out, batch, [rtl], seed=99)
    assert score.mismatches == 1
    assert score.first_divergence.image == 2 and field in score.first_divergence.fields
    assert "seed 99" in score.first_divergence.describe()
