"""The integer reference model against DESIGN.md section 2 and a naive scalar re-reading."""

import numpy as np
import pytest

from golden.config import PRECISIONS, ControllerSettings, RunSettings, SNNConfig
from golden.reference import (
    COUNTER_NAMES,
    classify,
    encode,
    infer,
    input_spikes,
    leak,
    quantize,
)
from tests.naive_reference import run_image


@pytest.mark.parametrize("timesteps", [1, 7, 16, 32])
def test_sigma_delta_spike_count_is_rounded_rate(timesteps):
    x = np.arange(256)
    counts = encode(x, timesteps).sum(axis=0)
    assert np.array_equal(counts, (timesteps * x + 128) >> 8)
    assert counts[0] == 0


def test_bright_pixels_spike_at_step_zero_dark_ones_do_not():
    first = input_spikes(np.arange(256), 0)
    assert not first[:128].any() and first[128:].all()


def test_quantizer_truncates_magnitude_toward_zero():
    w = np.array([127, 64, 63, -127, -64, -63, 0, 1, -1, 100, -100])
    assert quantize(w, 8).tolist() == w.tolist()
    assert quantize(w, 2).tolist() == [64, 64, 0, -64, -64, 0, 0, 0, 0, 64, -64]
    assert quantize(w, 4).tolist() == [112, 64, 48, -112, -64, -48, 0, 0, 0, 96, -96]
    assert set(np.unique(quantize(np.arange(-127, 128), 2))) == {-64, 0, 64}


def test_quantizer_is_nested_and_monotone():
    w = np.arange(-127, 128)
    for low in PRECISIONS:
        for high in PRECISIONS:
            if low <= high:
                assert np.array_equal(quantize(quantize(w, high), low), quantize(w, low))
                assert np.all(np.abs(quantize(w, low)) <= np.abs(quantize(w, high)))


def test_ties_go_to_membrane_then_lower_index():
    counts = np.array([[3, 5, 5, 0, 0, 0, 0, 0, 0, 5],
                       [2, 2, 2, 2, 2, 2, 2, 2, 2, 2],
                       [0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
                       [1, 0, 0, 0, 0, 0, 0, 0, 0, 0]])
    membranes = np.array([[900, 10, 40, 0, 0, 0, 0, 0, 0, 40],
                          [5, 5, 7, 7, 1, 1, 1, 1, 1, 1],
                          [-3, -1, -2, -1, -9, -9, -9, -9, -9, -9],
                          [-500, 0, 0, 0, 0, 0, 0, 0, 0, 0]])
    assert classify(counts, membranes).tolist() == [2, 2, 1, 0]


def _single_pixel_network(w_hidden_value, leak, theta_hidden):
    """N=1: one bright pixel (255, spikes every step) drives one hidden neuron."""
    w_hidden = np.zeros((784, 1), dtype=np.int8)
    w_hidden[0, 0] = w_hidden_value
    w_out = np.zeros((1, 10), dtype=np.int8)
    w_out[0, 3] = 50
    image = np.zeros((1, 784), dtype=np.uint8)
    image[0, 0] = 255
    cfg = SNNConfig(n_hidden=1, timesteps=5, theta_hidden=theta_hidden, theta_out=1000,
                    leak_hidden=leak, block_size=1, lanes=1)
    return w_hidden, w_out, image, cfg


def test_neuron_order_is_leak_integrate_fire_reset():
    # v: t0 0+100=100; t1 100-50+100=150 (not > 150); t2 150-75+100=175 fires -> 25;
    # t3 25-12+100=113; t4 113-56+100=157 fires -> 7.  Other orders give other spike counts.
    r = infer(*_single_pixel_network(100, 1, 150))
    assert r.counters["hidden_spikes"].tolist() == [2]
    assert r.out_membrane[0].tolist() == [0, 0, 0, 100, 0, 0, 0, 0, 0, 0]
    assert r.counts.sum() == 0


def test_negative_membrane_leaks_with_arithmetic_shift():
    # The hidden neuron fires every step; its output weight -101 drives output neuron 3 down
    # with leak k = 1: -101; -101+51-101 = -151; -151+76-101 = -176; -176+88-101 = -189;
    # -189+95-101 = -195.  Rounding the shift toward zero would give -196.
    w_hidden, w_out, image, cfg = _single_pixel_network(127, 1, 1)
    w_out[0, 3] = -101
    cfg = cfg.replace(leak_hidden=0, leak_out=1, theta_out=1000)
    r = infer(w_hidden, w_out, image, cfg)
    assert r.counters["hidden_spikes"].tolist() == [5]
    assert r.out_membrane[0, 3] == -195
    assert leak(np.array([-101, -1, 101, 1]), 1).tolist() == [-50, 0, 51, 1]


def _random_case(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 13))
    sparsity = rng.uniform(0, 0.95)
    w_hidden = rng.integers(-127, 128, (784, n)) * (rng.random((784, n)) > sparsity)
    w_out = rng.integers(-127, 128, (n, 10)) * (rng.random((n, 10)) > sparsity / 2)
    cfg = SNNConfig(n_hidden=n, timesteps=int(rng.integers(1, 9)),
                    theta_hidden=int(rng.integers(1, 1500)), theta_out=int(rng.integers(1, 300)),
                    leak_hidden=int(rng.integers(0, 5)), leak_out=int(rng.integers(0, 5)),
                    block_size=int(rng.integers(1, n + 1)), lanes=1)
    settings = RunSettings(bits_hidden=int(rng.integers(2, 9)), bits_out=int(rng.integers(2, 9)),
                           tau_hidden=int(rng.integers(0, 100)), tau_out=int(rng.integers(0, 100)),
                           hidden_mask=tuple(rng.random(n) > 0.25))
    images = (rng.random((3, 784)) < 0.3) * rng.integers(0, 256, (3, 784))
    return (w_hidden.astype(np.int8), w_out.astype(np.int8), images.astype(np.uint8), cfg,
            settings)


@pytest.mark.parametrize("seed", range(12))
def test_vectorized_reference_equals_naive_scalar_model(seed):
    w_hidden, w_out, images, cfg, s = _random_case(seed)
    result = infer(w_hidden, w_out, images, cfg, s)
    for i, pixels in enumerate(images):
        pred, counts, membranes, counters = run_image(
            pixels, w_hidden.tolist(), w_out.tolist(), theta_h=cfg.theta_hidden,
            theta_o=cfg.theta_out, leak_h=cfg.leak_hidden, leak_o=cfg.leak_out,
            timesteps=cfg.timesteps, bits_h=s.bits_hidden, bits_o=s.bits_out,
            tau_h=s.tau_hidden, tau_o=s.tau_out, mask=s.hidden_mask, block=cfg.block_size)
        assert result.pred[i] == pred, f"seed {seed} image {i}: class"
        assert result.counts[i].tolist() == counts, f"seed {seed} image {i}: counts"
        assert result.out_membrane[i].tolist() == membranes, f"seed {seed} image {i}: membrane"
        for name in COUNTER_NAMES:
            assert result.counters[name][i] == counters[name], f"seed {seed} image {i}: {name}"


@pytest.mark.parametrize("dynamic", [False, True])
def test_results_do_not_depend_on_chunking(dynamic):
    w_hidden, w_out, images, cfg, s = _random_case(99)
    images = np.repeat(images, 5, axis=0)
    images[::2] = np.roll(images[::2], 37, axis=1)  # images differ within every chunk
    if dynamic:
        s = RunSettings(hidden_mask=s.hidden_mask, tau_hidden=s.tau_hidden,
                        controller=ControllerSettings(interval=1, exit_margin=1,
                                                      gate_idle=True))
        cfg = cfg.replace(timesteps=max(cfg.timesteps, 3))
    whole = infer(w_hidden, w_out, images, cfg, s)
    pieces = infer(w_hidden, w_out, images, cfg, s, chunk=4)
    for name in ("pred", "counts", "out_membrane", "hidden_per_step", "final_bits",
                 "bits_per_step"):
        a, b = getattr(whole, name), getattr(pieces, name)
        assert (a is None and b is None) or np.array_equal(a, b), name
    for name in COUNTER_NAMES:
        assert np.array_equal(whole.counters[name], pieces.counters[name]), name


def test_counter_invariants_and_full_gating():
    w_hidden, w_out, images, cfg, _ = _random_case(5)
    n = cfg.n_hidden
    r = infer(w_hidden, w_out, images, cfg, RunSettings.uniform(5, tau_hidden=20))
    syn = sum(r.counters[k] for k in ("syn_active", "syn_zero", "syn_below", "syn_gated"))
    assert np.array_equal(syn, r.counters["input_spikes"] * n + r.counters["hidden_spikes"] * 10)
    assert np.all(r.counters["membrane_updates"] == cfg.timesteps * (n + 10))
    assert np.all(r.counters["precision_changes"] == 0)

    off = infer(w_hidden, w_out, images, cfg, RunSettings(hidden_mask=(False,) * n))
    assert off.counters["hidden_spikes"].sum() == 0 and off.counts.sum() == 0
    assert np.array_equal(off.counters["syn_gated"], off.counters["input_spikes"] * n)
    assert np.array_equal(off.counters["weight_bits_read"],
                          off.counters["input_spikes"] * 7 * cfg.n_blocks)
    assert np.all(off.counters["membrane_updates"] == cfg.timesteps * 10)


def test_tau_skips_small_weights():
    w_hidden, w_out, images, cfg, _ = _random_case(7)
    loose = infer(w_hidden, w_out, images, cfg, RunSettings.uniform(8))
    strict = infer(w_hidden, w_out, images, cfg, RunSettings.uniform(8, tau_hidden=127,
                                                                      tau_out=127))
    assert strict.counters["syn_below"].sum() > 0
    assert loose.counters["syn_below"].sum() == 0
    assert strict.counters["weight_bits_read"].sum() < loose.counters["weight_bits_read"].sum()
