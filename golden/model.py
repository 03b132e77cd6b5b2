"""PyTorch model of the integer SNN, for quantization-aware training and exact evaluation.

The forward pass *is* the integer model of DESIGN.md section 2: weights are the 8-bit
sign-magnitude integers truncated to ``b`` bits, membranes hold integers (float tensors whose
values are exact integers below 2**24), leak is ``v - floor(v / 2**k)``, firing is
``v > theta`` and reset subtracts ``theta``.  Only the backward pass differs: spikes use a
fast-sigmoid surrogate gradient and quantization a straight-through estimator.  In float64 and
without gradients, :meth:`SNN.integer_eval` therefore equals :func:`golden.reference.infer`
exactly (a test proves it).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from golden.config import N_INPUTS, N_OUTPUTS, WEIGHT_BITS, WEIGHT_MAX, SNNConfig
from golden.reference import classify


def encode_torch(pixels: torch.Tensor, timesteps: int) -> torch.Tensor:
    """Sigma-delta spikes of integer ``pixels [B, 784]`` (0..255) as float ``[T, B, 784]``."""
    x = pixels.to(torch.int32)
    t = torch.arange(timesteps + 1, dtype=torch.int32).view(-1, 1, 1)
    level = torch.div(t * x + 128, 256, rounding_mode="floor")
    return (level[1:] != level[:-1]).to(torch.float32)


class _SpikeFn(torch.autograd.Function):
    """Heaviside ``v > theta`` forward, fast-sigmoid surrogate gradient backward."""

    @staticmethod
    def forward(ctx, v, theta, slope):
        ctx.save_for_backward(v)
        ctx.theta, ctx.slope = theta, slope
        return (v > theta).to(v.dtype)

    @staticmethod
    def backward(ctx, grad):
        (v,) = ctx.saved_tensors
        x = (v - ctx.theta) / ctx.theta
        return grad * ctx.slope / (ctx.theta * (1 + ctx.slope * x.abs()) ** 2), None, None


def quantize_ste(latent: torch.Tensor, bits: int) -> torch.Tensor:
    """Integer weights at precision ``bits`` from latent weights in [-1, 1] (STE gradient).

    ``w8 = clamp(round(127 * latent))`` is the stored 8-bit weight and
    ``q_b(w8) = sign * floor(|w8| / 2**(8-b)) * 2**(8-b)`` the weight used at ``bits``.
    """
    scaled = latent * WEIGHT_MAX
    step = 2 ** (WEIGHT_BITS - bits)
    w8 = torch.clamp(torch.round(scaled), -WEIGHT_MAX, WEIGHT_MAX)
    q = torch.sign(w8) * torch.floor(w8.abs() / step) * step
    return scaled + (q - scaled).detach()


def _leak(v: torch.Tensor, shift: int) -> torch.Tensor:
    if shift == 0:
        return v
    return v - torch.floor(v / 2**shift)


class SNN(nn.Module):
    """``[784, N, 10]`` SNN whose latent weights quantize to the stored 8-bit integers."""

    def __init__(self, config: SNNConfig, *, surrogate_slope: float = 5.0,
                 init_gain: float = 0.5, seed: int = 0):
        super().__init__()
        self.config = config
        self.slope = surrogate_slope
        gen = torch.Generator().manual_seed(seed)
        n = config.n_hidden
        # Start so that one step's summed input (about 100 input or N/4 hidden spikes) has a
        # standard deviation of ``init_gain * theta`` (latent units: 1.0 = weight 127).
        self.w_hidden = nn.Parameter(
            torch.randn(N_INPUTS, n, generator=gen) * init_gain * config.theta_hidden
            / WEIGHT_MAX / np.sqrt(100.0))
        self.w_out = nn.Parameter(
            torch.randn(n, N_OUTPUTS, generator=gen) * init_gain * config.theta_out
            / WEIGHT_MAX / np.sqrt(max(n / 4, 1.0)))

    @classmethod
    def from_weights(cls, weights) -> SNN:
        """A model whose stored 8-bit weights are exactly those of a :class:`Weights` file."""
        model = cls(weights.config())
        with torch.no_grad():
            model.w_hidden.copy_(torch.from_numpy(weights.w_hidden.astype(np.float32)) / WEIGHT_MAX)
            model.w_out.copy_(torch.from_numpy(weights.w_out.astype(np.float32)) / WEIGHT_MAX)
        return model

    def clamp_(self) -> None:
        """Keep latent weights inside the representable range [-1, 1]."""
        with torch.no_grad():
            self.w_hidden.clamp_(-1, 1)
            self.w_out.clamp_(-1, 1)

    def integer_weights(self) -> tuple[np.ndarray, np.ndarray]:
        """The stored 8-bit sign-magnitude weights (int8 ``[784, N]`` and ``[N, 10]``)."""
        with torch.no_grad():
            return tuple(
                torch.clamp(torch.round(w * WEIGHT_MAX), -WEIGHT_MAX, WEIGHT_MAX)
                .to(torch.int8).numpy()
                for w in (self.w_hidden, self.w_out)
            )

    def forward(self, spikes: torch.Tensor, bits: int):
        """Run input ``spikes [T, B, 784]`` at precision ``bits`` (both layers).

        Returns output spike counts ``[B, 10]``, final output membranes ``[B, 10]`` and the
        hidden spike total ``[B]`` (for rate regularization).
        """
        cfg = self.config
        dtype = spikes.dtype
        wh = quantize_ste(self.w_hidden, bits).to(dtype)
        wo = quantize_ste(self.w_out, bits).to(dtype)
        batch = spikes.shape[1]
        vh = spikes.new_zeros(batch, cfg.n_hidden)
        vo = spikes.new_zeros(batch, N_OUTPUTS)
        counts = spikes.new_zeros(batch, N_OUTPUTS)
        hidden_total = spikes.new_zeros(batch)
        for s_in in spikes:
            vh = _leak(vh, cfg.leak_hidden) + s_in @ wh
            s_h = _SpikeFn.apply(vh, float(cfg.theta_hidden), self.slope)
            vh = vh - s_h.detach() * cfg.theta_hidden
            vo = _leak(vo, cfg.leak_out) + s_h @ wo
            s_o = _SpikeFn.apply(vo, float(cfg.theta_out), self.slope)
            vo = vo - s_o.detach() * cfg.theta_out
            counts = counts + s_o
            hidden_total = hidden_total + s_h.sum(dim=1)
        return counts, vo, hidden_total

    @torch.no_grad()
    def integer_eval(self, images: np.ndarray, bits: int, batch: int = 1000):
        """Exact integer evaluation in float64: (pred, counts, final output membranes)."""
        counts, membranes = [], []
        for i in range(0, len(images), batch):
            x = torch.from_numpy(np.asarray(images[i : i + batch]))
            spikes = encode_torch(x, self.config.timesteps).to(torch.float64)
            c, v, _ = self.forward(spikes, bits)
            counts.append(c.round().to(torch.int64).numpy())
            membranes.append(v.round().to(torch.int64).numpy())
        counts = np.concatenate(counts)
        membranes = np.concatenate(membranes)
        return classify(counts, membranes), counts, membranes
