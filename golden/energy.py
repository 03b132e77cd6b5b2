"""Event-model energy per image of any run mode, from one reference run (an estimate).

``energy = counters x per-event energies + cycles x clock energy`` with the coefficients of
:data:`golden.power.COEFFICIENTS`; cycles come from the documented cycle model
(:func:`golden.cycle_model.cycles_per_image`, which covers early exits and controller
checkpoints) and the clocked flip-flop count from the committed area baseline of the same N
(``flows/baselines/n<N>.json``, interpolated linearly in N between the committed baselines
for other N).  Static power is excluded: it depends on the device and clock, which the flow
report (``flows/build.py``) adds.  This is what ``golden/evaluate.py --json`` reports as
``energy_per_image_uj`` so that any two modes compare from one command each.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from golden import power
from golden.config import RunSettings, SNNConfig
from golden.cycle_model import cycles_per_image
from golden.reference import COUNTER_NAMES, InferenceResult

BASELINE_DIR = Path(__file__).resolve().parents[1] / "flows" / "baselines"
"""The committed synthesis baselines (JSON data written by ``flows/build.py``)."""
MODEL = ("event model (golden/power.py): reference counters x per-event energies + "
         "cycle-model cycles x clock energy; static power excluded; estimate")


def baseline_flip_flops(n_hidden: int) -> tuple[int, str]:
    """Flip-flops of a core with ``n_hidden`` neurons and where the figure comes from."""
    points = {}
    for path in sorted(BASELINE_DIR.glob("n*.json")):
        baseline = json.loads(path.read_text())
        points[int(baseline["config"]["neurons"])] = int(baseline["utilization"]["FF"])
    if n_hidden in points:
        return points[n_hidden], f"flows/baselines/n{n_hidden}.json"
    ns = sorted(points)
    ff = float(np.interp(n_hidden, ns, [points[n] for n in ns], left=None, right=None))
    if n_hidden < ns[0] or n_hidden > ns[-1]:
        slope = (points[ns[-1]] - points[ns[0]]) / (ns[-1] - ns[0])
        ff = points[ns[0]] + slope * (n_hidden - ns[0])
    return max(1, round(ff)), "linear in N through " + ", ".join(
        f"flows/baselines/n{n}.json" for n in ns)


def event_energy(config: SNNConfig, images: np.ndarray, settings: RunSettings,
                 result: InferenceResult, cycles: np.ndarray | None = None) -> dict[str, object]:
    """Mean event-model energy per image (uJ; central, with ``_low``/``_high`` ends), its
    parts, and mean cycles per image (``cycles``: the cycle model's per-image cycles when the
    caller has them already)."""
    if not len(images):
        return {"energy_per_image_uj": 0.0, "energy_per_image_uj_low": 0.0,
                "energy_per_image_uj_high": 0.0, "energy_parts_uj": {},
                "cycles_per_image": 0.0, "energy_model": MODEL}
    if cycles is None:
        cycles = cycles_per_image(config, images, settings, result)
    cycles = float(np.mean(cycles))
    counters = {name: float(np.mean(result.counters[name])) for name in COUNTER_NAMES}
    counters["physical_bits_read"] = float(np.mean(result.physical_bits_read))
    ff_count, ff_source = baseline_flip_flops(config.n_hidden)
    parts = power.event_energy_pj(counters, cycles, ff_count)
    ends = {end: sum(power.event_energy_pj(counters, cycles, ff_count, end=end).values()) * 1e-6
            for end in ("low", "high")}
    return {
        "energy_per_image_uj": sum(parts.values()) * 1e-6,
        "energy_per_image_uj_low": ends["low"],
        "energy_per_image_uj_high": ends["high"],
        "energy_parts_uj": {k: v * 1e-6 for k, v in parts.items()},
        "cycles_per_image": cycles,
        "energy_model": f"{MODEL}; clocked flip-flops {ff_count} from {ff_source}; low/high: "
                        "every coefficient at its low/high end",
    }
