"""Dynamic mode (docs/controller.md): the vectorized controller against a naive scalar one,
against static mode, and its parameter checks."""

from dataclasses import asdict

import numpy as np
import pytest

from golden.config import ControllerSettings, RunSettings, SNNConfig
from golden.controller import ImageControl, busy_blocks, output_margin
from golden.reference import COUNTER_NAMES, infer
from tests.naive_reference import run_image


def _random_controller(rng, timesteps: int, block_size: int) -> ControllerSettings:
    return ControllerSettings(
        start_bits_hidden=int(rng.integers(2, 9)), start_bits_out=int(rng.integers(2, 9)),
        step_bits_hidden=int(rng.integers(0, 7)), step_bits_out=int(rng.integers(0, 7)),
        interval=int(rng.integers(1, timesteps)), escalate_margin=int(rng.integers(0, 4)),
        exit_margin=int(rng.integers(0, 4)), gate_idle=bool(rng.integers(0, 2)),
        gate_blocks=int(rng.choice([0, rng.integers(1, block_size + 1)])))


def _random_case(seed: int):
    rng = np.random.default_rng(1000 + seed)
    n = int(rng.integers(3, 24))
    sparsity = rng.random()
    w_hidden = rng.integers(-127, 128, (784, n)) * (rng.random((784, n)) > sparsity)
    w_out = rng.integers(-127, 128, (n, 10)) * (rng.random((n, 10)) > sparsity / 2)
    cfg = SNNConfig(n_hidden=n, timesteps=int(rng.integers(2, 12)),
                    theta_hidden=int(rng.integers(1, 1500)), theta_out=int(rng.integers(1, 200)),
                    leak_hidden=int(rng.integers(0, 5)), leak_out=int(rng.integers(0, 5)),
                    block_size=int(rng.integers(1, n + 1)), lanes=1)
    settings = RunSettings(tau_hidden=int(rng.integers(0, 60)), tau_out=int(rng.integers(0, 60)),
                           hidden_mask=tuple(rng.random(n) > 0.2),
                           controller=_random_controller(rng, cfg.timesteps, cfg.block_size))
    images = (rng.random((6, 784)) < 0.3) * rng.integers(0, 256, (6, 784))
    return (w_hidden.astype(np.int8), w_out.astype(np.int8), images.astype(np.uint8), cfg,
            settings)


@pytest.mark.parametrize("seed", range(16))
def test_dynamic_reference_equals_naive_scalar_controller(seed):
    w_hidden, w_out, images, cfg, s = _random_case(seed)
    result = infer(w_hidden, w_out, images, cfg, s)
    for i, pixels in enumerate(images):
        pred, counts, membranes, counters = run_image(
            pixels, w_hidden.tolist(), w_out.tolist(), theta_h=cfg.theta_hidden,
            theta_o=cfg.theta_out, leak_h=cfg.leak_hidden, leak_o=cfg.leak_out,
            timesteps=cfg.timesteps, bits_h=8, bits_o=8, tau_h=s.tau_hidden, tau_o=s.tau_out,
            mask=s.hidden_mask, block=cfg.block_size, controller=asdict(s.controller))
        where = f"seed {seed} image {i}"
        assert result.pred[i] == pred, f"{where}: class"
        assert result.counts[i].tolist() == counts, f"{where}: counts"
        assert result.out_membrane[i].tolist() == membranes, f"{where}: membrane"
        for name in COUNTER_NAMES:
            assert result.counters[name][i] == counters[name], f"{where}: {name}"
        assert result.hidden_per_step[i].sum() == counters["hidden_spikes"]


def test_the_random_cases_exercise_every_decision():
    """Exits, escalations and gating all happen somewhere in the cases above."""
    exits = changes = 0
    gated = {"gate_idle": 0, "gate_blocks": 0}
    for seed in range(16):
        w_hidden, w_out, images, cfg, s = _random_case(seed)
        r = infer(w_hidden, w_out, images, cfg, s)
        exits += int(np.sum(r.counters["steps"] < cfg.timesteps))
        changes += int(r.counters["precision_changes"].sum())
        for name, off in (("gate_idle", False), ("gate_blocks", 0)):
            if getattr(s.controller, name):
                ungated = infer(w_hidden, w_out, images, cfg,
                                RunSettings(tau_hidden=s.tau_hidden, tau_out=s.tau_out,
                                            hidden_mask=s.hidden_mask,
                                            controller=ControllerSettings(
                                                **{**asdict(s.controller), name: off})))
                gated[name] += int(np.sum(r.counters["syn_gated"]
                                          > ungated.counters["syn_gated"]))
    assert exits and changes and all(gated.values()), gated


def test_busy_blocks_keeps_blocks_with_enough_fired_neurons():
    fired = np.array([[1, 1, 0, 0, 0, 1, 1], [0, 0, 0, 1, 1, 1, 0]], dtype=bool)
    # Blocks of 3: {0,1,2}, {3,4,5}, {6} (the last one narrower).
    assert busy_blocks(fired, 3, 2).astype(int).tolist() == [
        [1, 1, 1, 0, 0, 0, 0], [0, 0, 0, 1, 1, 1, 0]]
    assert busy_blocks(fired, 3, 1).astype(int).tolist() == [
        [1, 1, 1, 1, 1, 1, 1], [0, 0, 0, 1, 1, 1, 0]]
    assert busy_blocks(fired, 3, 3).astype(int).tolist() == [[0] * 7, [0, 0, 0, 1, 1, 1, 0]]


def test_block_gating_acts_at_checkpoints_of_images_that_stay():
    settings = RunSettings(controller=ControllerSettings(
        interval=2, escalate_margin=0, exit_margin=2, gate_blocks=2))
    control = ImageControl(2, settings, np.ones(6, dtype=bool), timesteps=8, block_size=3)
    control.fired(slice(None), np.array([[1, 1, 0, 1, 0, 0], [1, 0, 0, 1, 1, 0]], dtype=bool))
    control.after_step(1, np.zeros((2, 10), dtype=np.int64))  # not a checkpoint
    assert control.mask is None
    counts = np.zeros((2, 10), dtype=np.int64)
    counts[1, 0] = 2  # image 1 exits (margin 2); image 0 stays and is gated
    control.after_step(2, counts)
    assert control.running.tolist() == [True, False]
    assert control.mask[0].astype(int).tolist() == [1, 1, 1, 0, 0, 0]
    assert control.mask[1].all()


def test_block_gating_above_the_block_size_is_rejected():
    cfg = SNNConfig(n_hidden=8, timesteps=8, block_size=4)
    with pytest.raises(ValueError, match="gate_blocks must be in 0..4"):
        RunSettings(controller=ControllerSettings(gate_blocks=5)).resolve(cfg)
    with pytest.raises(ValueError, match="gate_blocks must be in 0..255"):
        ControllerSettings(gate_blocks=256)


@pytest.mark.parametrize("bits", [8, 5, 2])
def test_a_controller_that_never_acts_equals_static_mode(bits):
    w_hidden, w_out, images, cfg, s = _random_case(3)
    idle = ControllerSettings(start_bits_hidden=bits, start_bits_out=bits, step_bits_hidden=0,
                              step_bits_out=0, interval=1, escalate_margin=0, exit_margin=0)
    static = infer(w_hidden, w_out, images, cfg,
                   RunSettings.uniform(bits, tau_hidden=9, hidden_mask=s.hidden_mask))
    dynamic = infer(w_hidden, w_out, images, cfg,
                    RunSettings(bits_hidden=3, tau_hidden=9, hidden_mask=s.hidden_mask,
                                controller=idle))
    assert np.array_equal(static.counts, dynamic.counts)
    assert np.array_equal(static.out_membrane, dynamic.out_membrane)
    assert static.summed_counters() == dynamic.summed_counters()
    assert np.array_equal(static.hidden_per_step, dynamic.hidden_per_step)


def test_early_exit_stops_at_the_first_checkpoint_with_a_large_margin():
    w_hidden, w_out, images, cfg, _ = _random_case(7)
    cfg = cfg.replace(timesteps=8)
    full = infer(w_hidden, w_out, images, cfg, RunSettings.uniform(8))
    ctl = ControllerSettings(start_bits_hidden=8, start_bits_out=8, interval=2,
                             escalate_margin=0, exit_margin=1)
    r = infer(w_hidden, w_out, images, cfg, RunSettings(controller=ctl))
    assert set(r.counters["steps"].tolist()) <= {2, 4, 6, 8}
    for i, steps in enumerate(r.counters["steps"]):
        partial = infer(w_hidden, w_out, images[i:i + 1], cfg,
                        RunSettings.uniform(8, timesteps=int(steps)))
        assert np.array_equal(partial.counts[0], r.counts[i])
        if steps < 8:
            assert output_margin(partial.counts)[0] >= 1
    assert r.counters["input_spikes"].sum() <= full.counters["input_spikes"].sum()


def test_output_margin():
    counts = np.array([[0, 3, 1, 3, 0, 0, 0, 0, 0, 0], [5, 0, 0, 0, 0, 0, 0, 0, 0, 2],
                       [0] * 10])
    assert output_margin(counts).tolist() == [0, 3, 0]


@pytest.mark.parametrize("kwargs, message", [
    ({"start_bits_hidden": 1}, "start_bits_hidden must be in 2..8"),
    ({"start_bits_out": 9}, "start_bits_out must be in 2..8"),
    ({"step_bits_hidden": 7}, "step_bits_hidden must be in 0..6"),
    ({"interval": 0}, "interval must be in 1..255"),
    ({"exit_margin": -1}, "exit_margin must be in 0..255"),
])
def test_bad_controller_parameters_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ControllerSettings(**kwargs)


def test_checkpoints_beyond_t_and_margins_beyond_t_max_are_rejected():
    cfg = SNNConfig(n_hidden=4, timesteps=8, t_max=16)
    with pytest.raises(ValueError, match="interval must be below T = 8"):
        RunSettings(controller=ControllerSettings(interval=8)).resolve(cfg)
    with pytest.raises(ValueError, match="exit_margin must be in 0..16"):
        RunSettings(controller=ControllerSettings(exit_margin=17)).resolve(cfg)
    assert ControllerSettings(interval=3).checkpoints(8) == (3, 6)
