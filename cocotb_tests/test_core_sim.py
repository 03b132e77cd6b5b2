"""Default RTL regression (``make sim``): RTL == golden reference on every image and counter.

* six random networks (odd N not a multiple of L, random L and B, sparsity 0..0.95, random
  thresholds, leaks, T), each run at every hidden precision 2..8 with random output
  precision, taus and masks, with register changes between batches, back-to-back images, the
  empty and the all-white image, and a reset in the middle of an image;
* the shipped shapes N = L = 128 and N = L = 48 (one chunk) with random weights, 50 % of them
  zero, and non-zero leaks (the committed weights have none);
* block-sparse random networks (80 % of the hidden blocks zero) at L < N and at L = N,
  every precision and dynamic mode with gating: rows and lane chunks are skipped;
* the committed weights files at several precisions, masks and taus;
* dynamic mode (docs/controller.md): random controllers on random networks (escalations,
  early exits and gating all occur) and the default controller and variants on the
  committed weights.

The cycle model is checked on every image as well.  Each configuration has its own build
directory under ``build/sim/``; ``SIM=icarus`` switches simulator.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from cocotb_tests.cases import (
    COMMITTED_WEIGHTS,
    block_sparse_network,
    dynamic_sweep,
    mnist_images,
    precision_sweep,
    random_settings,
    sparse_sweep,
)
from flows.rtl_sim import Batch, run_rtl
from flows.scoreboard import Score, locate_step, score_batches
from golden.config import ControllerSettings, RunSettings, SNNConfig
from golden.geometry import hidden_geometry
from golden.networks import Network, committed_network, random_network, random_weights
from golden.reference import block_maxima, infer

RANDOM_SEEDS = (11, 23, 37, 41, 59, 67)
IMAGES_PER_PRECISION = 7


def run_and_score(network: Network, batches: list[Batch],
                  labels: list[np.ndarray] | None = None) -> Score:
    """Simulate, compare and fail with the first divergence and the seed."""
    results = run_rtl(network.config, network.w_hidden, network.w_out, batches)
    score = score_batches(network.config, network.w_hidden, network.w_out, batches, results,
                          labels=labels, seed=network.seed)
    if score.mismatches:
        first = score.first_divergence
        first.location = locate_step(network.config, network.w_hidden, network.w_out,
                                     batches[first.batch].settings,
                                     batches[first.batch].images[first.image_in_batch])
        pytest.fail(f"{score.mismatches} of {score.images} images differ; {first.describe()}")
    return score


@pytest.mark.parametrize("seed", RANDOM_SEEDS)
def test_random_network_every_precision(seed):
    network = random_network(seed)
    score = run_and_score(network, precision_sweep(network, IMAGES_PER_PRECISION))
    assert score.images == 2 + IMAGES_PER_PRECISION * 7


def _shape_sweep(network: Network, images: np.ndarray) -> list[Batch]:
    rng = np.random.default_rng(network.seed)
    plain = RunSettings()
    return [Batch(plain, images[:10]),
            Batch(RunSettings.uniform(4), images[10:20]),
            Batch(random_settings(rng, network.config, 3), images[20:30]),
            Batch(plain, images[30:35])]


@pytest.mark.parametrize(("n_hidden", "events"), [(128, None), (48, None), (48, 1)])
def test_default_shape_random_weights(n_hidden, events):
    """The shipped shapes (N = L, one chunk) with leaks and 50 % zero weights, which the
    committed weights (no leak) do not exercise; two events per cycle (the default) and
    one."""
    rng = np.random.default_rng(n_hidden)
    config = SNNConfig(n_hidden=n_hidden, lanes=n_hidden, block_size=16, theta_hidden=700,
                       theta_out=300, leak_hidden=3, leak_out=4, events_per_cycle=events)
    network = Network(config, random_weights(rng, (784, n_hidden), 0.5),
                      random_weights(rng, (n_hidden, 10), 0.2), seed=n_hidden)
    images, _ = mnist_images(35, offset=100)
    run_and_score(network, _shape_sweep(network, images))


@pytest.mark.parametrize(("n_hidden", "lanes", "block_size"),
                         [(64, 16, 8), (50, 50, 16)], ids=["L<N", "L=N"])
def test_block_sparse_network_skips_chunks(n_hidden, lanes, block_size):
    """Chunk skip (L < N: two blocks per chunk) and row skip (L = N): counters and cycles equal
    the reference and the cycle model, and the cases really skip."""
    network = block_sparse_network(n_hidden + lanes, n_hidden=n_hidden, lanes=lanes,
                                   block_size=block_size)
    geometry = hidden_geometry(network.config)
    zero = geometry.chunk_levels(block_maxima(network.w_hidden, block_size)) == 0
    assert zero.all(axis=1).sum() > 100  # whole rows skipped at every precision
    if geometry.chunks > 1:
        assert (zero.any(axis=1) & ~zero.all(axis=1)).sum() > 100  # and single chunks
    batches = sparse_sweep(network, 3)
    score = run_and_score(network, batches)
    assert score.images == 2 + 3 * len(batches)


@pytest.mark.parametrize("path", COMMITTED_WEIGHTS, ids=lambda p: p.stem)
def test_committed_weights(path):
    network = committed_network(path)
    rng = np.random.default_rng(4)
    mask = tuple(bool(b) for b in rng.random(network.config.n_hidden) < 0.8)
    settings = [RunSettings(), RunSettings.uniform(6, tau_hidden=8),
                RunSettings.uniform(4, hidden_mask=mask),
                RunSettings(bits_hidden=3, bits_out=5, tau_hidden=32, tau_out=16,
                            hidden_mask=mask),
                RunSettings.uniform(2)]
    images, labels = mnist_images(20 * len(settings))
    batches = [Batch(s, images[20 * i:20 * (i + 1)]) for i, s in enumerate(settings)]
    run_and_score(network, batches, labels=[labels[20 * i:20 * (i + 1)]
                                            for i in range(len(settings))])


@pytest.mark.parametrize("seed", RANDOM_SEEDS[:4])
def test_random_network_dynamic_mode(seed):
    """Random controllers on random networks: decisions, escalations, early exits and gating
    must all match the reference (counters and cycles included)."""
    network = random_network(seed)
    batches = dynamic_sweep(network, IMAGES_PER_PRECISION)
    score = run_and_score(network, batches)
    assert score.images == 2 + IMAGES_PER_PRECISION * len(batches)


def test_dynamic_mode_exercises_every_decision():
    """The dynamic cases above really contain exits, escalations, gated neurons and images in
    which block gating switched blocks off."""
    exits = changes = gating = block_gating = 0
    for seed in RANDOM_SEEDS[:4]:
        network = random_network(seed)
        for batch in dynamic_sweep(network, IMAGES_PER_PRECISION):
            ref = infer(network.w_hidden, network.w_out, batch.images, network.config,
                        batch.settings)
            timesteps, _ = batch.settings.resolve(network.config)
            exits += int(np.sum(ref.counters["steps"] < timesteps))
            changes += int(ref.counters["precision_changes"].sum())
            gating += int(batch.settings.controller.gate_idle)
            if batch.settings.controller.gate_blocks:
                ungated = infer(network.w_hidden, network.w_out, batch.images, network.config,
                                replace(batch.settings, controller=replace(
                                    batch.settings.controller, gate_blocks=0)))
                block_gating += int(np.sum(ref.counters["syn_gated"]
                                           > ungated.counters["syn_gated"]))
    assert exits > 0 and changes > 0 and gating > 0 and block_gating > 0


@pytest.mark.parametrize("path", COMMITTED_WEIGHTS, ids=lambda p: p.stem)
def test_committed_weights_dynamic_mode(path):
    """The default controller and variants (gating, block gating, 8-bit with early exit) on
    real images."""
    network = committed_network(path)
    settings = [RunSettings(controller=ControllerSettings()),
                RunSettings(controller=ControllerSettings(gate_idle=True, exit_margin=5)),
                RunSettings(tau_hidden=16, controller=ControllerSettings.gating_only(8)),
                RunSettings(controller=ControllerSettings(gate_blocks=2)),
                RunSettings(controller=ControllerSettings(gate_blocks=5, gate_idle=True,
                                                          exit_margin=4)),
                RunSettings(controller=ControllerSettings.gating_only(
                    4, interval=3, gate_idle=False, gate_blocks=3)),
                RunSettings(controller=ControllerSettings(
                    start_bits_hidden=3, start_bits_out=8, step_bits_hidden=5,
                    step_bits_out=0, interval=2, escalate_margin=2, exit_margin=4))]
    images, labels = mnist_images(15 * len(settings), offset=500)
    batches = [Batch(s, images[15 * i:15 * (i + 1)]) for i, s in enumerate(settings)]
    run_and_score(network, batches, labels=[labels[15 * i:15 * (i + 1)]
                                            for i in range(len(settings))])


def _queued_case(kind: str) -> tuple[Network, list[Batch]]:
    """A network and queued batches; the last batch of "committed" is dynamic mode, whose
    images (about 300-500 cycles) are too short for this testbench's host (one bus word per
    cycle, 196 per image) to queue every next one in time."""
    if kind == "committed":
        network = committed_network(COMMITTED_WEIGHTS[0])
        images, _ = mnist_images(24, offset=700)
        return network, [Batch(RunSettings(), images[:12], queued=True),
                         Batch(RunSettings(controller=ControllerSettings(gate_idle=True)),
                               images[12:], queued=True)]
    if kind == "L<N":  # one event per cycle, several chunks, SCAN of 200 cycles
        network = block_sparse_network(5, n_hidden=64, lanes=16, block_size=8)
    else:  # N = 200 at two events per cycle: FINISH can outlast a SCAN, launch in CLASSIFY
        rng = np.random.default_rng(200)
        config = SNNConfig(n_hidden=200, lanes=200, block_size=16, theta_hidden=300,
                           theta_out=200, timesteps=6)
        network = Network(config, random_weights(rng, (784, 200), 0.5),
                          random_weights(rng, (200, 10), 0.2), seed=200)
    images, _ = mnist_images(10, offset=300)
    rng = np.random.default_rng(network.seed)
    return network, [Batch(random_settings(rng, network.config, 5), images, queued=True)]


@pytest.mark.parametrize("kind", ["committed", "L<N", "late-launch"])
def test_queued_images_overlap_and_keep_their_cycles(kind):
    """Back to back: every next image is queued while the previous one runs.  Results,
    counters and cycles equal the reference and the single-image cycle model (the score),
    and each image's SCAN really overlaps the end of the previous one: two images finish
    fewer cycles apart than the second one's cycles."""
    from hdl.core import early_launch

    network, batches = _queued_case(kind)
    assert early_launch(network.config) == (kind != "late-launch")
    results = run_rtl(network.config, network.w_hidden, network.w_out, batches)
    score = score_batches(network.config, network.w_hidden, network.w_out, batches, results,
                          seed=network.seed)
    assert score.mismatches == 0, score.first_divergence.describe()
    for batch, result in zip(batches, results, strict=True):
        if batch.settings.controller is None:
            period = np.diff(result.finished)
            cycles = result.counters["cycles"][1:]
            assert np.all(period < cycles), (period, cycles)
