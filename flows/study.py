"""Quantization only / pruning only / joint: the study table of ``flows/pareto.py``.

In the form of Schaefer et al. 2023 ("The Hardware Impact of Quantization and Pruning for
Weights in Spiking Neural Networks"): every row is one weights file at one run mode, with its
accuracy, event-model energy per image, cycles per image and energy-delay product (EDP =
energy x cycles), each relative to the dense network at static 8 bits on the same hardware
configuration (lanes L and block size B come from the configuration passed in, so rows at
other L or B are one more call).  Their published factors are printed beside ours; they
measured a different network on a different data set (below).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from golden.config import ControllerSettings, RunSettings

PUBLISHED = {
    "reference": "C. J. S. Schaefer, P. Taheri, M. Horeni, S. Joshi, \"The Hardware Impact of "
                 "Quantization and Pruning for Weights in Spiking Neural Networks\", "
                 "arXiv:2302.04174 (2023)",
    "data": "DVS128 Gesture (event-camera gestures, 11 classes) with a convolutional SNN on "
            "their architectural accelerator model; ours: MNIST digits (sigma-delta encoded "
            "pixels, 10 classes), a [784, 128, 10] network, the event model of this core",
    "abstract": "quantization down to ternary weights costs no accuracy; pruning keeps "
                "iso-accuracy up to 80 % sparsity, where it needs 45 % more energy than the "
                "best quantization",
    "factors": {
        "quantization only": ("energy", 2.4),
        "pruning only": ("energy", 3.1),
        "joint": ("EDP", 10.0),
    },
    "factors_source": "as quoted in the project's design brief (DESIGN.md section 7), not "
                      "re-checked against the paper's tables here",
}
"""Schaefer et al.'s published figures and how their setting differs from ours."""

FAMILIES = ("baseline", "quantization only", "pruning only", "joint", "dynamic")
"""The paper's three families (static settings) and ours beyond it: run-time precision with
early exit, alone or with block gating, on the dense and the sparse files."""
ACCURACY_WINDOW_PP = 0.3
"""Best factors are taken over rows within this many points of dense 8-bit accuracy."""


@dataclass(frozen=True)
class StudyRow:
    """One row to evaluate: family, weights file, label and run-time registers."""

    family: str
    weights: Path
    label: str
    settings: RunSettings


def study_rows(dense: Path, sparse: list[Path], gate_blocks: int) -> list[StudyRow]:
    """The rows of the table: dense at 8/4/2 bits (quantization only), every sparse file at 8
    bits (pruning only) and at 4/2 bits (joint), then the dynamic controller on every file,
    alone and with block gating ``gate_blocks`` (0 = without those rows)."""
    rows = [StudyRow("baseline", dense, "8-bit", RunSettings.uniform(8)),
            StudyRow("quantization only", dense, "4-bit", RunSettings.uniform(4)),
            StudyRow("quantization only", dense, "2-bit", RunSettings.uniform(2))]
    rows += [StudyRow("pruning only", path, "8-bit", RunSettings.uniform(8)) for path in sparse]
    rows += [StudyRow("joint", path, f"{bits}-bit", RunSettings.uniform(bits))
             for path in sparse for bits in (4, 2)]
    for path in (dense, *sparse):
        rows.append(StudyRow("dynamic", path, "dynamic",
                             RunSettings(controller=ControllerSettings())))
        if gate_blocks:
            rows.append(StudyRow("dynamic", path, f"dynamic + block gating {gate_blocks}",
                                 RunSettings(controller=ControllerSettings(
                                     gate_blocks=gate_blocks))))
    return rows


def relative(results: list[dict]) -> list[dict]:
    """Add ``delta_pp``, ``energy_factor``, ``cycles_ratio`` and ``edp_factor`` (against the
    baseline row, the first) to every result (dicts with accuracy, energy, cycles)."""
    base = results[0]
    base_edp = base["energy_per_image_uj"] * base["cycles_per_image"]
    for r in results:
        edp = r["energy_per_image_uj"] * r["cycles_per_image"]
        r.update(delta_pp=100 * (r["accuracy"] - base["accuracy"]),
                 energy_factor=base["energy_per_image_uj"] / r["energy_per_image_uj"],
                 cycles_ratio=r["cycles_per_image"] / base["cycles_per_image"],
                 edp_factor=base_edp / edp)
    return results


def best_factors(results: list[dict]) -> dict[str, dict]:
    """Per family, the row with the largest factor of the published kind (energy or EDP):
    among rows within :data:`ACCURACY_WINDOW_PP` of the baseline accuracy (``ours``, None if
    none) and among all rows of the family (``any``, with its accuracy change)."""
    out = {}
    for family, (kind, published) in PUBLISHED["factors"].items():
        key = "energy_factor" if kind == "energy" else "edp_factor"
        rows = [r for r in results if r["family"] == family]
        near = [r for r in rows if r["delta_pp"] >= -ACCURACY_WINDOW_PP]
        best, top = max(near, key=lambda r: r[key], default=None), max(
            rows, key=lambda r: r[key], default=None)
        out[family] = {"kind": kind, "published": published,
                       "ours": None if best is None else best[key],
                       "row": None if best is None else f"{best['model']} {best['label']}",
                       "any": None if top is None else (top[key], top["delta_pp"],
                                                        f"{top['model']} {top['label']}")}
    return out


def render(results: list[dict], lanes: int, block_size: int, images: int) -> list[str]:
    """The study section of ``pareto.md`` (Markdown lines)."""
    lines = [
        f"## Quantization only / pruning only / joint (L = {lanes}, B = {block_size})",
        "",
        f"Form of Schaefer et al. 2023: each row against the dense network at static 8 bits "
        f"(same L and B, same event model, {images:,} images). Factors are `dense 8-bit / "
        f"row` (energy, EDP; larger is better), cycles a ratio `row / dense 8-bit`.",
        "",
        "| family | model | mode | accuracy | vs dense 8-bit (pp) | energy/image (uJ) | "
        "energy factor | cycles | cycles ratio | EDP factor |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['family']} | {r['model']} | {r['label']} | {r['accuracy']:.4f} | "
            f"{r['delta_pp']:+.2f} | {r['energy_per_image_uj']:.3f} | "
            f"{r['energy_factor']:.2f}x | {r['cycles_per_image']:,.0f} | "
            f"{r['cycles_ratio']:.2f} | {r['edp_factor']:.2f}x |")
    lines += ["", f"Best factor per family (static settings, like the paper's) within "
              f"{ACCURACY_WINDOW_PP} pp of dense 8-bit, beside the published one; the dynamic "
              "rows go beyond the paper:", "",
              "| family | kind | ours | row | best at any accuracy | Schaefer et al. 2023 |",
              "|---|---|---|---|---|---|"]
    for family, b in best_factors(results).items():
        ours = "none within the window" if b["ours"] is None else f"{b['ours']:.2f}x"
        top = "-" if b["any"] is None else (f"{b['any'][0]:.2f}x at {b['any'][1]:+.2f} pp "
                                            f"({b['any'][2]})")
        lines.append(f"| {family} | {b['kind']} | {ours} | {b['row'] or '-'} | {top} | "
                     f"{b['published']:g}x |")
    window = [r for r in results if r["family"] == "dynamic"
              and r["delta_pp"] >= -ACCURACY_WINDOW_PP]
    for kind, key in (("energy", "energy_factor"), ("EDP", "edp_factor")):
        best = max(window, key=lambda r: r[key], default=None)
        if best is not None:
            lines.append(f"| dynamic (beyond the paper) | {kind} | {best[key]:.2f}x | "
                         f"{best['model']} {best['label']} | - | - |")
    lines += ["", f"Published: {PUBLISHED['reference']}. Their factors are "
              f"{PUBLISHED['factors_source']}; the abstract says: {PUBLISHED['abstract']}. "
              f"Data set and model differ: {PUBLISHED['data']}. Compare directions and orders "
              "of magnitude, not digits."]
    return lines
