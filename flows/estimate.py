"""Power and energy per image of a built core: resource model, event model, precision sweep.

Glue between :mod:`flows.synth` (what the netlist holds), :mod:`flows.activity` (what it
does per image) and :mod:`flows.power` (what that costs).  All results are estimates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from flows.activity import weight_reads
from golden import power
from golden.config import PRECISIONS, RunSettings, SNNConfig
from golden.cycle_model import cycles_per_image
from golden.reference import COUNTER_NAMES, infer
from golden.timing import IMAGE_WORDS

BUS_WRITES_PER_IMAGE = IMAGE_WORDS + 1
"""Register-bus writes per image: 196 image words + the start command."""
BUS_READS_PER_IMAGE = 1 + 10 + 12
"""Register-bus reads per image: result, 10 output counts, 12 counters."""


def io_toggles() -> tuple[float, float]:
    """(input, output) pin transitions per image if the register bus were on pins.

    A written word toggles about half its 32 data bits plus ~2 address bits and ``w_en``
    twice; a read word half of ``r_data``.  A board top (UART) replaces these pins.
    """
    return BUS_WRITES_PER_IMAGE * (16 + 2 + 2), BUS_READS_PER_IMAGE * 16.0


def port_cycles(memory_groups: dict[str, dict[str, int]], reads: dict[str, float],
                cycles: float) -> float:
    """Enabled DP16KD port-cycles per image.

    A group read enables ``blocks / read_enables`` blocks (blocks sharing one enable are
    read together); ports tied to 1 count every cycle.  Groups without a read count (the
    image and word-list memories) have only their always-on ports.
    """
    total = 0.0
    for name, group in memory_groups.items():
        total += reads.get(name, 0.0) * group["blocks"] / group["read_enables"]
        total += group["always_on_ports"] * cycles
    return total


@dataclass
class Setting:
    """Mean counters and cycles of one run mode over a sample of images."""

    settings: RunSettings
    counters: dict[str, float]
    cycles: float
    reads: dict[str, float]


def measure_setting(config: SNNConfig, w_hidden, w_out, images: np.ndarray,
                    settings: RunSettings) -> Setting:
    """Reference counters, cycle-model cycles and weight-memory reads of one mode."""
    result = infer(w_hidden, w_out, images, config, settings)
    counters = {name: float(np.mean(result.counters[name])) for name in COUNTER_NAMES}
    counters["physical_bits_read"] = float(np.mean(result.physical_bits_read))
    cycles = float(np.mean(cycles_per_image(config, images, settings, result)))
    reads = weight_reads(config, w_hidden, w_out, images, settings, result)
    return Setting(settings, counters, cycles, reads)


def resource_estimate(cells: dict[str, int], memory_groups: dict, alpha: float,
                      cycles: float, reads: dict[str, float], device: str,
                      clock_mhz: float, clock_scale: float,
                      alpha_by_class: dict[str, float] | None = None) -> dict[str, object]:
    """Resource-model power breakdown (mW) and energy per image (uJ) at ``clock_mhz``:
    central values, and ``energy_per_image_uj_low``/``_high`` (every coefficient and the
    static figure at its low / high end, :data:`golden.power.STATIC_BASIS`)."""
    io_in, io_out = io_toggles()
    activity = power.ResourceActivity(
        cells=cells, alpha=alpha, cycles=cycles,
        port_cycles=port_cycles(memory_groups, reads, cycles),
        io_in_toggles=io_in, io_out_toggles=io_out, clock_scale=clock_scale,
        alpha_by_class=alpha_by_class)
    seconds = cycles / (clock_mhz * 1e6)
    out: dict[str, object] = {}
    for end in power.ENDS:
        energy = power.resource_energy_pj(activity, end)
        dynamic_uj = sum(energy.values()) * 1e-6
        total = dynamic_uj + power.static_mw(device, end) * 1e-3 * seconds * 1e6
        suffix = "" if end == "central" else f"_{end}"
        out[f"energy_per_image_uj{suffix}"] = total
        out[f"dynamic_energy_per_image_uj{suffix}"] = dynamic_uj
        if end == "central":
            breakdown = power.power_breakdown_mw(device, energy, cycles, clock_mhz)
            out["power_mw"] = {k: round(v, 3) for k, v in breakdown.items()}
    out["port_cycles_per_image"] = activity.port_cycles
    out["static_basis"] = dict(power.STATIC_BASIS)
    return out


def event_estimate(counters: dict[str, float], cycles: float, ff_count: int, device: str,
                   clock_mhz: float, clock_scale: float) -> dict[str, object]:
    """Event-model energy per image (uJ): counters x energies + clock + static (central,
    with ``energy_per_image_uj_low``/``_high``)."""
    seconds = cycles / (clock_mhz * 1e6)
    out: dict[str, object] = {}
    for end in power.ENDS:
        parts = power.event_energy_pj(counters, cycles, ff_count, clock_scale, end)
        static_uj = power.static_mw(device, end) * 1e-3 * seconds * 1e6
        suffix = "" if end == "central" else f"_{end}"
        out[f"energy_per_image_uj{suffix}"] = sum(parts.values()) * 1e-6 + static_uj
        if end == "central":
            out["parts_uj"] = {k: v * 1e-6 for k, v in parts.items()} | {"static": static_uj}
    out["static_basis"] = dict(power.STATIC_BASIS)
    return out


def precision_sweep(config: SNNConfig, w_hidden, w_out, images: np.ndarray,
                    timesteps: int | None, cells: dict[str, int], memory_groups: dict,
                    alpha: float, device: str, clock_mhz: float,
                    clock_scale: float,
                    alpha_by_class: dict[str, float] | None = None) -> dict[str, object]:
    """Both models at every precision 8..2; do they rank the precisions the same way?"""
    rows = []
    for bits in sorted(PRECISIONS, reverse=True):
        s = measure_setting(config, w_hidden, w_out, images,
                            RunSettings.uniform(bits, timesteps=timesteps))
        resource = resource_estimate(cells, memory_groups, alpha, s.cycles, s.reads, device,
                                     clock_mhz, clock_scale, alpha_by_class)
        event = event_estimate(s.counters, s.cycles, cells.get("TRELLIS_FF", 0), device,
                               clock_mhz, clock_scale)
        rows.append({"bits": bits, "cycles": s.cycles,
                     "weight_bits_read": s.counters["weight_bits_read"],
                     "syn_active": s.counters["syn_active"],
                     "resource_uj": resource["energy_per_image_uj"],
                     "resource_uj_low": resource["energy_per_image_uj_low"],
                     "resource_uj_high": resource["energy_per_image_uj_high"],
                     "event_uj": event["energy_per_image_uj"],
                     "event_uj_low": event["energy_per_image_uj_low"],
                     "event_uj_high": event["energy_per_image_uj_high"]})
    resource_order = [r["bits"] for r in sorted(rows, key=lambda r: r["resource_uj"])]
    event_order = [r["bits"] for r in sorted(rows, key=lambda r: r["event_uj"])]
    same_at = {}
    for end in power.ENDS:
        suffix = "" if end == "central" else f"_{end}"
        same_at[end] = ([r["bits"] for r in sorted(rows, key=lambda r: r["resource_uj" + suffix])]
                        == [r["bits"] for r in sorted(rows, key=lambda r: r["event_uj" + suffix])])
    return {"images": int(len(images)), "rows": rows, "resource_order": resource_order,
            "event_order": event_order, "same_order": resource_order == event_order,
            "same_order_at": same_at}
