"""Test cases for the RTL regression: committed weights, register batches, edge images.

Everything is derived from one integer seed, printed on failure, so a case is rebuilt by
calling the same function with the same seed.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from flows.rtl_sim import PROJECT_ROOT, Batch
from golden.config import (
    MAX_ESCALATION,
    N_INPUTS,
    PRECISIONS,
    ControllerSettings,
    RunSettings,
    SNNConfig,
)
from golden.mnist import load_split
from golden.networks import Network, random_weights

COMMITTED_WEIGHTS = (PROJECT_ROOT / "weights" / "mnist-784-128-10.npz",
                     PROJECT_ROOT / "weights" / "mnist-784-48-10.npz")
SPARSE_WEIGHTS = PROJECT_ROOT / "weights" / "mnist-784-128-10-s80.npz"


def block_sparse_network(seed: int, *, n_hidden: int, lanes: int, block_size: int,
                         zero_blocks: float = 0.8) -> Network:
    """A random network whose hidden weights are zero in a fraction ``zero_blocks`` of their
    metadata blocks (one row x ``block_size`` neurons), like block-pruned training leaves
    them: many rows and lane chunks are skipped at every precision."""
    rng = np.random.default_rng(seed)
    config = SNNConfig(n_hidden=n_hidden, lanes=lanes, block_size=block_size,
                       timesteps=int(rng.integers(6, 17)), theta_hidden=int(rng.integers(80, 400)),
                       theta_out=int(rng.integers(40, 300)), leak_hidden=int(rng.integers(0, 5)),
                       leak_out=int(rng.integers(0, 5)))
    w_hidden = random_weights(rng, (N_INPUTS, n_hidden), 0.2)
    blocks = -(-n_hidden // block_size)
    zero = np.repeat(rng.random((N_INPUTS, blocks)) < zero_blocks, block_size, axis=1)
    w_hidden[zero[:, :n_hidden]] = 0
    return Network(config, w_hidden, random_weights(rng, (n_hidden, 10), 0.2), seed)


def sparse_sweep(network: Network, images_per_batch: int) -> list[Batch]:
    """Every hidden precision 2..8 (random taus and masks, one mask switching off a whole
    lane chunk), then dynamic mode with gating; the edge images in the first batch."""
    rng = np.random.default_rng(network.seed + 2000)
    config = network.config
    lanes = min(config.lanes, config.n_hidden)
    batches = []
    for i, bits in enumerate(PRECISIONS):
        images, _ = mnist_images(images_per_batch, offset=int(rng.integers(0, 9000)))
        if i == 0:
            images = np.concatenate([edge_images(), images])
        settings = random_settings(rng, config, bits)
        if i % 2:
            mask = rng.random(config.n_hidden) < 0.7
            start = int(rng.integers(0, config.n_hidden // lanes)) * lanes
            mask[start:start + lanes] = False
            settings = RunSettings(bits_hidden=bits, bits_out=settings.bits_out,
                                   tau_hidden=settings.tau_hidden, tau_out=settings.tau_out,
                                   hidden_mask=tuple(bool(b) for b in mask),
                                   timesteps=settings.timesteps)
        batches.append(Batch(settings, images))
    images, _ = mnist_images(images_per_batch, offset=int(rng.integers(0, 9000)))
    batches.append(Batch(RunSettings(tau_hidden=int(rng.choice([0, 24])), controller=(
        ControllerSettings(start_bits_hidden=3, start_bits_out=6, step_bits_hidden=3,
                           step_bits_out=2, interval=2, escalate_margin=2, exit_margin=4,
                           gate_idle=True))), images))
    return batches


def random_settings(rng: np.random.Generator, config: SNNConfig, bits_hidden: int,
                    masked: bool = True) -> RunSettings:
    """Register values: the given hidden precision, everything else random."""
    mask = None
    if masked and rng.random() < 0.7:
        mask = tuple(bool(b) for b in rng.random(config.n_hidden) < rng.uniform(0.3, 1))
    return RunSettings(
        bits_hidden=bits_hidden, bits_out=int(rng.choice(PRECISIONS)),
        tau_hidden=int(rng.choice([0, 0, rng.integers(1, 80)])),
        tau_out=int(rng.choice([0, 0, rng.integers(1, 80)])),
        hidden_mask=mask,
        timesteps=int(rng.choice([config.timesteps, rng.integers(1, config.t_max + 1)])))


def mnist_images(count: int, offset: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``count`` MNIST test images (and labels) from ``offset``."""
    split = load_split("test")
    stop = offset + count
    return split.images[offset:stop], split.labels[offset:stop]


def edge_images() -> np.ndarray:
    """An all-black image (empty input list) and an all-white one (every pixel spikes)."""
    return np.stack([np.zeros(N_INPUTS, np.uint8), np.full(N_INPUTS, 255, np.uint8)])


def precision_sweep(network: Network, images_per_batch: int) -> list[Batch]:
    """One batch per hidden precision 2..8 (random other registers), the edge images in the
    first, a reset during the scan or the first step in another; images differ per batch."""
    rng = np.random.default_rng(network.seed)
    reset_batch = int(rng.integers(1, len(PRECISIONS)))
    batches = []
    for i, bits in enumerate(PRECISIONS):
        images, _ = mnist_images(images_per_batch, offset=int(rng.integers(0, 9000)))
        if i == 0:
            images = np.concatenate([edge_images(), images])
        settings = random_settings(rng, network.config, bits)
        reset_after = int(rng.choice([30, 150, 210])) if i == reset_batch else None
        batches.append(Batch(settings, images, reset_after))
    return batches


def random_controller(rng: np.random.Generator, timesteps: int,
                      block_size: int) -> ControllerSettings:
    """Random controller parameters that act within ``timesteps`` steps (T >= 2), block
    gating with blocks of ``block_size`` neurons (K up to B) in about half of them."""
    settings = ControllerSettings(
        start_bits_hidden=int(rng.choice(PRECISIONS)), start_bits_out=int(rng.choice(PRECISIONS)),
        step_bits_hidden=int(rng.integers(0, MAX_ESCALATION + 1)),
        step_bits_out=int(rng.integers(0, MAX_ESCALATION + 1)),
        interval=int(rng.integers(1, min(timesteps, 6))),
        escalate_margin=int(rng.integers(0, 4)), exit_margin=int(rng.choice([0, 1, 2, 3, 5])),
        gate_idle=bool(rng.random() < 0.5))
    if rng.random() < 0.5:
        settings = replace(settings, gate_blocks=int(rng.integers(1, min(block_size, 8) + 1)))
    return settings


def dynamic_sweep(network: Network, images_per_batch: int, batches: int = 6) -> list[Batch]:
    """Batches in dynamic mode: random controllers (gating, escalations and early exits all
    likely), random taus and masks; the edge images in the first batch."""
    rng = np.random.default_rng(network.seed + 1000)
    config = network.config
    out = []
    for i in range(batches):
        images, _ = mnist_images(images_per_batch, offset=int(rng.integers(0, 9000)))
        if i == 0:
            images = np.concatenate([edge_images(), images])
        static = random_settings(rng, config, int(rng.choice(PRECISIONS)))
        timesteps = max(static.timesteps or config.timesteps, 2)
        settings = RunSettings(tau_hidden=static.tau_hidden, tau_out=static.tau_out,
                               hidden_mask=static.hidden_mask, timesteps=timesteps,
                               controller=random_controller(rng, timesteps,
                                                            config.block_size))
        out.append(Batch(settings, images))
    return out
