"""Default RTL regression (``make sim``): RTL == golden reference on every image and counter.

* six random networks (odd N not a multiple of L, random L and B, sparsity 0..0.95, random
  thresholds, leaks, T), each run at every hidden precision 2..8 with random output
  precision, taus and masks, with register changes between batches, back-to-back images, the
  empty and the all-white image, and a reset in the middle of an image;
* the default hardware shapes N=128 (L=128) and N=48 (L=48) with random weights, until the
  committed weights of that shape exist;
* the committed weights files at several precisions, masks and taus (skipped until trained).

The cycle model is checked on every image as well.  Each configuration has its own build
directory under ``build/sim/``; ``SIM=icarus`` switches simulator.
"""

from __future__ import annotations

import numpy as np
import pytest

from cocotb_tests.cases import (
    COMMITTED_WEIGHTS,
    Network,
    committed_network,
    mnist_images,
    precision_sweep,
    random_network,
    random_settings,
    random_weights,
)
from cocotb_tests.rtl_sim import Batch, run_rtl
from cocotb_tests.scoreboard import Score, locate_step, score_batches
from golden.config import RunSettings, SNNConfig

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


@pytest.mark.parametrize("n_hidden", [128, 48])
def test_default_shape_random_weights(n_hidden):
    committed = COMMITTED_WEIGHTS[0 if n_hidden == 128 else 1]
    if committed.exists():
        pytest.skip(f"{committed.name} exists: test_committed_weights covers N={n_hidden}")
    rng = np.random.default_rng(n_hidden)
    config = SNNConfig(n_hidden=n_hidden, lanes=n_hidden, block_size=16, theta_hidden=700,
                       theta_out=300, leak_hidden=3, leak_out=4)
    network = Network(config, random_weights(rng, (784, n_hidden), 0.5),
                      random_weights(rng, (n_hidden, 10), 0.2), seed=n_hidden)
    images, _ = mnist_images(35, offset=100)
    run_and_score(network, _shape_sweep(network, images))


@pytest.mark.parametrize("path", COMMITTED_WEIGHTS, ids=lambda p: p.stem)
def test_committed_weights(path):
    if not path.exists():
        pytest.skip(f"{path.relative_to(path.parents[1])} is not committed yet "
                    "(training in progress); random weights cover this shape meanwhile")
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
