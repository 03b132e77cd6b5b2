"""Scoreboard: RTL results against :func:`golden.reference.infer` and the cycle model.

Every image is compared on its class, its 10 output spike counts, every contract counter
and the RTL cycle count against the cycle model
(:func:`golden.cycle_model.cycles_per_image`).  The first divergence is reported with the
image, the batch settings and the seed that rebuilds the case.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from flows.rtl_sim import Batch, RtlResults
from golden.config import RunSettings, SNNConfig
from golden.cycle_model import cycles_per_image
from golden.reference import COUNTER_NAMES, infer


@dataclass
class Divergence:
    """The first image where RTL and reference (or cycle model) differ."""

    image: int
    batch: int
    image_in_batch: int
    fields: dict[str, dict[str, object]]
    settings: dict[str, object]
    seed: int | None = None
    location: str | None = None

    def describe(self) -> str:
        """One paragraph naming the image, what differed and how to reproduce it."""
        parts = [f"{name}: expected {v['expected']}, RTL {v['rtl']}"
                 for name, v in self.fields.items()]
        where = f" [{self.location}]" if self.location else ""
        return (f"first divergence at image {self.image} (batch {self.batch}, settings "
                f"{self.settings}, seed {self.seed}): " + "; ".join(parts) + where)


@dataclass
class Score:
    """Totals of a comparison (JSON-friendly through :meth:`summary`)."""

    images: int = 0
    mismatches: int = 0
    rtl_correct: int = 0
    reference_correct: int = 0
    cycles: list[int] = field(default_factory=list)
    first_divergence: Divergence | None = None

    def summary(self) -> dict[str, object]:
        labelled = self.images or 1
        return {
            "images": self.images,
            "mismatches": self.mismatches,
            "first_divergence": (asdict(self.first_divergence)
                                 if self.first_divergence else None),
            "rtl_accuracy": self.rtl_correct / labelled,
            "reference_accuracy": self.reference_correct / labelled,
            "cycles_per_image": float(np.mean(self.cycles)) if self.cycles else 0.0,
        }


def _settings_dict(settings: RunSettings) -> dict[str, object]:
    out = asdict(settings)
    if settings.hidden_mask is not None:
        out["hidden_mask"] = f"{sum(settings.hidden_mask)} of {len(settings.hidden_mask)} on"
    return out


def score_batches(config: SNNConfig, w_hidden, w_out, batches: list[Batch],
                  results: list[RtlResults], labels: list[np.ndarray] | None = None,
                  seed: int | None = None) -> Score:
    """Compare every batch; ``labels`` (per batch) give accuracies when present."""
    score = Score()
    for b, (batch, rtl) in enumerate(zip(batches, results, strict=True)):
        ref = infer(w_hidden, w_out, batch.images, config, batch.settings)
        expected = {"class": ref.pred, **{f"count{k}": ref.counts[:, k] for k in range(10)},
                    **{name: ref.counters[name] for name in COUNTER_NAMES},
                    "cycles": cycles_per_image(config, batch.images, batch.settings, ref)}
        got = {"class": rtl.pred, **{f"count{k}": rtl.counts[:, k] for k in range(10)},
               **{name: rtl.counters[name] for name in (*COUNTER_NAMES, "cycles")}}
        wrong = np.zeros(len(batch.images), dtype=bool)
        for name, values in expected.items():
            wrong |= np.asarray(values) != np.asarray(got[name])
        if wrong.any() and score.first_divergence is None:
            i = int(np.argmax(wrong))
            score.first_divergence = Divergence(
                image=score.images + i, batch=b, image_in_batch=i, seed=seed,
                settings=_settings_dict(batch.settings),
                fields={name: {"expected": int(expected[name][i]), "rtl": int(got[name][i])}
                        for name in expected if expected[name][i] != got[name][i]})
        score.mismatches += int(wrong.sum())
        score.images += len(batch.images)
        score.cycles.extend(int(c) for c in rtl.counters["cycles"])
        if labels is not None:
            score.rtl_correct += int((rtl.pred == labels[b]).sum())
            score.reference_correct += int((ref.pred == labels[b]).sum())
    return score


def locate_step(config: SNNConfig, w_hidden, w_out, settings: RunSettings, image: np.ndarray,
                run=None) -> str:
    """Re-run one diverging image with T' = 1..T steps (the counters after T' steps are
    prefixes of the full run) and name the first step, layer and output neuron that differ.

    Hidden neurons are not observable on the bus; the hidden layer is named when the hidden
    spike count already differs at that step.
    """
    from dataclasses import replace

    from flows.rtl_sim import run_rtl

    def prefix(t: int) -> RunSettings:
        ctl = settings.controller
        if ctl is not None and ctl.interval >= t:  # no checkpoint yet: the start precisions
            return replace(settings, controller=None, timesteps=t,
                           bits_hidden=ctl.start_bits_hidden, bits_out=ctl.start_bits_out)
        return replace(settings, timesteps=t)

    run = run or run_rtl
    timesteps, _ = settings.resolve(config)
    batches = [Batch(prefix(t), image[None]) for t in range(1, timesteps + 1)]
    for t, (batch, rtl) in enumerate(zip(batches, run(config, w_hidden, w_out, batches),
                                         strict=True)):
        ref = infer(w_hidden, w_out, batch.images, config, batch.settings)
        differs = [name for name in COUNTER_NAMES
                   if ref.counters[name][0] != rtl.counters[name][0]]
        neurons = [k for k in range(10) if ref.counts[0, k] != rtl.counts[0, k]]
        if differs or neurons:
            layer = ("hidden layer" if {"input_spikes", "hidden_spikes"} & set(differs)
                     else "output layer or synapse accounting")
            where = f", output neuron(s) {neurons}" if neurons else ""
            return f"first diverging step {t}: {layer}{where}, counters {differs}"
    return "no step-level divergence when re-run (the difference is in the final result)"
