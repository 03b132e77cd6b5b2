"""report.json, report.md, the PNG plots and compare.md of a build (all written atomically).

Every figure carries its source; power and energy figures say "estimate".
"""

from __future__ import annotations

import io
from pathlib import Path

from golden import cli
from golden.weights import write_atomic

TARGETS = {"fmax_mhz": 100.0, "latency_us": 30.0, "energy_per_image_uj": 10.0,
           "build_seconds": 300.0}
"""Design goals of the core (N=128, 8 bits, LFE5U-85F): Fmax >=, latency <=, energy <=,
build time <=."""


def _paths_over_lines(paths: dict | None) -> list[str]:
    """The endpoints over the target clock, grouped by start and end register."""
    if not paths:
        return []
    lines = [f"Every endpoint timed ({paths['source']}): worst {paths['worst_ns']:.2f} ns "
             f"({paths['fmax_mhz']:.2f} MHz); {paths['endpoints_over_target']} of "
             f"{paths['endpoints']:,} endpoints over {paths['target_mhz']:g} MHz, in "
             f"{paths['groups_over_target']} groups"
             + (f" (the worst {len(paths['groups'])} below)"
                if len(paths["groups"]) < paths["groups_over_target"] else "") + ".", ""]
    if paths["groups"]:
        lines += ["| worst ns | endpoints | from | to | routing ns | cells |",
                  "|---:|---:|---|---|---:|---:|"]
        lines += [f"| {g['worst_ns']:.2f} | {g['endpoints']} | `{g['start']}` | "
                  f"`{g['end']}.{g['pin']}` | {g['routing_ns']:.2f} | {g['cells']} |"
                  for g in paths["groups"]]
        lines.append("")
    return lines


def _fmt(value, digits: int = 1) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def render_markdown(report: dict) -> str:
    """The human-readable report of one build."""
    r, cfg = report, report["config"]
    lines = [
        f"# [784, {cfg['neurons']}, 10] on {r['device']} ({r['board']}), {cfg['bits']}-bit",
        "",
        f"Lanes {cfg['lanes']}, block size {cfg['block_size']}, T = {cfg['timesteps']}, "
        + (f"weights `{r['weights']['path']}` ({r['weights']['kind']})" if r["weights"]["path"]
           else f"weights: {r['weights']['kind']}")
        + f"; placement seed {r['seed']}, nextpnr {r.get('router', 'router1')}"
        + (f", placer timing weight {r['placer_timing_weight']}"
           if r.get("placer_timing_weight") is not None else "") + ".",
        "",
        "## Area (nextpnr utilisation)",
        "",
        f"Netlist built with block-RAM contents: {r['block_ram_contents']}." if
        r.get("block_ram_contents") else None,
        "" if r.get("block_ram_contents") else None,
        "| cell | used | available | % |",
        "|---|---:|---:|---:|",
    ]
    for cell, u in r["utilization"].items():
        pct = 100 * u["used"] / u["available"] if u["available"] else 0
        lines.append(f"| {cell} | {u['used']:,} | {u['available']:,} | {pct:.1f} |")
    lines += ["", "Yosys cells: " + ", ".join(f"{k} {v:,}" for k, v in r["cells"].items() if v),
              "", "DP16KD per memory: " + ", ".join(
                  f"{k} {g['blocks']}" for k, g in r["memory_groups"].items()), ""]
    absorbed = r.get("bram_output_registers")
    if absorbed:
        lines += [f"Block RAM output registers: {absorbed['ports']} DP16KD read ports register "
                  f"their data in the block (REGMODE OUTREG), {absorbed['flip_flops']:,} "
                  "fabric flip-flops fewer (flows/bram_registers.py).", ""]
    lines += ["## Timing (nextpnr, after routing)", "",
              f"Target {r['target_mhz']:g} MHz; achieved: " + ", ".join(
                  f"`{k}` {v:.1f} MHz" for k, v in r["fmax_per_clock"].items())
              + f" ({'PASS' if r['timing_met'] else 'FAIL'}). Operating clock for latency "
              f"and power: {r['clock_mhz']:.1f} MHz.", ""]
    if r.get("seeds"):
        lines += ["Placement seeds (" + r["seeds"]["rule"] + "; this report is seed "
                  f"{r['seeds']['best']}): " + ", ".join(
                      f"seed {row['seed']} " + (f"{row['fmax_mhz']:.1f} MHz" if row["fmax_mhz"]
                                                else f"failed ({row['error']})")
                      for row in r["seeds"]["rows"]) + ".", ""]
    if r["critical_path"]:
        steps = r["critical_path"]
        kind = {t: sum(s["delay_ns"] for s in steps if s["type"] == t)
                for t in ("clk-to-q", "logic", "routing", "setup")}
        lines += [f"Critical path: {sum(kind.values()):.2f} ns from `{steps[0]['from']}` to "
                  f"`{steps[-1]['to']}`: " + ", ".join(f"{v:.2f} ns {k}"
                                                      for k, v in kind.items()) + ".", "",
                  "First and last steps:", "", "| type | ns | from | to |",
                  "|---|---:|---|---|"]
        shown = steps if len(steps) <= 8 else steps[:4] + steps[-4:]
        lines += [f"| {s['type']} | {s['delay_ns']:.2f} | `{s['from']}` | `{s['to']}` |"
                  for s in shown]
        lines.append("")
    lines += _paths_over_lines(r.get("paths_over_target"))
    lat = r["cycles"]
    lines += ["## Speed", "",
              f"- cycles per image: **{lat['mean']:,.0f}** (min {lat['min']:,}, max "
              f"{lat['max']:,}); source: {lat['source']}",
              f"- latency per image: **{r['latency_us']:.2f} us** at {r['clock_mhz']:.1f} MHz "
              f"({1e6 / r['latency_us']:,.0f} images/s one at a time)" if r["latency_us"] else "",
              _throughput_line(r), ""]
    if lat.get("mismatches") is not None:
        lines.insert(-1, f"- RTL vs reference mismatches on the sample: {lat['mismatches']}")
    lines += _netlist_lines(r.get("netlist_sim"))
    lines += ["## Accuracy per precision", "", f"Source: {r['accuracy']['source']}", ""]
    acc = r["accuracy"]["per_bits"]
    if acc:
        lines += ["| bits | " + " | ".join(acc) + " |", "|---|" + "---:|" * len(acc),
                  "| accuracy | " + " | ".join(f"{v:.4f}" for v in acc.values()) + " |", ""]
    p = r["power_mw"]
    act = r["activity"]
    lines += ["## Power and energy (ESTIMATE)", "",
              f"Resource model (docs/power.md): static power, dynamic = netlist resources x "
              f"simulated activity x energy coefficients. Activity: {act['source']}; "
              f"alpha = {act['alpha']:.4f} toggles per net per cycle (mean over the sample).",
              ""]
    if act.get("by_class"):
        spread = act["spread"]
        lines += [f"Toggle rate per resource class (sample: {act['images']} test images, "
                  f"{act['cycles']:,} busy cycles; per-image spread):", "",
                  "| class | signal bits | alpha | min | median | max | std | sem |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|"]
        rows = list(act["by_class"].items()) + [("all", {**spread, "alpha": act["alpha"],
                                                         "bits": sum(v["bits"] for v in
                                                                     act["by_class"].values())})]
        lines += [f"| {k} | {v['bits']:,} | {v['alpha']:.4f} | {v['min']:.4f} | "
                  f"{v['median']:.4f} | {v['max']:.4f} | {v['std']:.4f} | {v['sem']:.4f} |"
                  for k, v in rows]
        lines += ["", f"Stated error of the activity: {act['error']}.", ""]
    lines += ["| part | mW (estimate, central) |", "|---|---:|"]
    lines += [f"| {k} | {v:.1f} |" for k, v in p.items()]
    basis = r.get("static_basis", {})
    lines += ["", "| energy per image (uJ, estimate) | low | central | high |",
              "|---|---:|---:|---:|",
              f"| resource model, static included | {r['energy_per_image_uj_low']:.2f} | "
              f"**{r['energy_per_image_uj']:.2f}** | {r['energy_per_image_uj_high']:.2f} |",
              f"| resource model, dynamic only | {r['dynamic_energy_per_image_uj_low']:.2f} | "
              f"{r['dynamic_energy_per_image_uj']:.2f} | "
              f"{r['dynamic_energy_per_image_uj_high']:.2f} |",
              f"| event model (counters x per-event energies + clock + static) | "
              f"{r['event_model']['energy_per_image_uj_low']:.2f} | "
              f"{r['event_model']['energy_per_image_uj']:.2f} | "
              f"{r['event_model']['energy_per_image_uj_high']:.2f} |", "",
              "Low / high: every coefficient at its low / high end; static figure: "
              + "; ".join(f"{k}: {v}" for k, v in basis.items()) + ".", ""]
    lines += ["Static power of the other ULX3S devices (data sheet, typical): " + ", ".join(
        f"{k} {v:.0f} mW" for k, v in r["static_by_device_mw"].items())
              + f"; energy per image on a 25F at the same clock (estimate): "
                f"{r['energy_per_image_uj_25f']:.2f} uJ.", ""]
    pack = r["packing"]
    lines += ["## Block-RAM packing per lane setting (ESTIMATE)", "",
              f"Source: {pack['source']}. Fewer lanes cost more cycles per input spike "
              f"(chunks); the LFE5U-25F has {pack['dp16kd_25f']} DP16KD.", "",
              "| lanes | block size | cycles per spike | DP16KD | fits 25F |",
              "|---:|---:|---:|---:|---|"]
    lines += [f"| {p['lanes']} | {p['block_size']} | {p['chunks']} | {p['dp16kd']} | "
              f"{'yes' if p['dp16kd'] <= pack['dp16kd_25f'] else 'no'} |" for p in pack["rows"]]
    lines.append("")
    sweep = r["precision_sweep"]
    lines += ["## Precision sweep (ESTIMATE, both models)", "",
              f"Sample: {sweep['images']} test images; cycles from the cycle model; the "
              "resource model keeps the simulated alpha of the build precision.", "",
              "| bits | cycles | weight bits read | resource model uJ | event model uJ |",
              "|---:|---:|---:|---:|---:|"]
    for row in sweep["rows"]:
        lines.append(f"| {row['bits']} | {row['cycles']:,.0f} | {row['weight_bits_read']:,.0f}"
                     f" | {row['resource_uj']:.3f} | {row['event_uj']:.3f} |")
    same_at = sweep.get("same_order_at", {})
    lines += ["", f"Both models order precisions 8..2 the same way: "
              f"**{'yes' if sweep['same_order'] else 'NO'}** "
              + ("(at the low / central / high ends: " + " / ".join(
                  "yes" if same_at[e] else "NO" for e in ("low", "central", "high")) + ") "
                 if same_at else "")
              + f"(resource: {sweep['resource_order']}, event: {sweep['event_order']}).", ""]
    lines += ["## Design goals", "", "| goal | value | met |", "|---|---:|---|"]
    lines += [f"| {t['name']} | {t['value']} | {t['met']} |" for t in r["targets"]]
    lines += ["", "## Reproduce", "", "```", r["command"], "```", "",
              "Tools: " + "; ".join(f"{k}: {v}" for k, v in r["tools"].items()), "",
              "| stage | wall s | CPU s | stage cache |", "|---|---:|---:|---|"]
    lines += [f"| {s['stage']} | {s['seconds']:.1f} | {_fmt(s.get('cpu_seconds'))} | "
              f"{_cache_cell(s)} |" for s in r["stages"]]
    lines += ["", "Tool command lines:", ""] + [f"    {c}" for c in r["tool_commands"]]
    return "\n".join(line for line in lines if line is not None) + "\n"


def _cache_cell(stage: dict) -> str:
    if stage.get("reused"):
        return f"reused {stage['cache']} (made in {stage['made_seconds']:.0f} s)"
    return f"ran, stored {stage['cache']}" if stage.get("cache") else ""


def _throughput_line(r: dict) -> str:
    """The back-to-back throughput line of the speed section ("" when not measured)."""
    if not r.get("throughput_images_per_second"):
        return "- back-to-back throughput: not measured (cycles from the cycle model)"
    return (f"- back to back (each next image queued while the previous one runs; its SCAN "
            f"overlaps the previous image's end): **{r['throughput_images_per_second']:,.0f} "
            f"images/s** at {r['clock_mhz']:.1f} MHz, one image every "
            f"{r['back_to_back_cycles_per_image']:,.1f} cycles (RTL simulation, a host that "
            f"writes one bus word per cycle)")


def _netlist_lines(sim: dict | None) -> list[str]:
    """The routed-netlist simulation section (``--netlist-sim K``), empty without one."""
    if not sim:
        return []
    cells = ", ".join(f"{k} {v:,}" for k, v in sim["cells"].items())
    first = sim["first_divergence"]
    return ["## Routed netlist simulation", "",
            f"- {sim['images']} test images through nextpnr's routed netlist (ECP5 cell models "
            f"of flows/cells, Verilator, zero delay): **{sim['mismatches']} mismatches** "
            f"against the reference (class, output counts, every counter, cycles)",
            f"- first divergence: {first if first else 'none'}",
            f"- {sim['simulated_cycles']:,} cycles simulated, {sim['seconds_per_image']} s per "
            f"image (Verilator build {sim['build_seconds']} s)",
            f"- DP16KD cycles where both ports touched one row (undefined on the device, old "
            f"data in the model): {sim['dp16kd_collisions']}",
            f"- cells: {cells}", ""]


def render_compare(reports: list[dict]) -> str:
    """compare.md: the builds side by side (same board, bits and options)."""
    heads = [f"[784, {r['config']['neurons']}, 10]" for r in reports]
    rows = [
        ("device", lambda r: r["device"]),
        ("bits / lanes", lambda r: f"{r['config']['bits']} / {r['config']['lanes']}"),
        ("LUT4 (TRELLIS_COMB)", lambda r: _used(r, "LUT4")),
        ("FF", lambda r: _used(r, "FF")),
        ("DP16KD", lambda r: _used(r, "DP16KD")),
        ("MULT18X18D", lambda r: _used(r, "MULT18X18D")),
        ("Fmax (MHz, nextpnr)", lambda r: _fmt(r["fmax_mhz"])),
        ("cycles / image", lambda r: _fmt(r["cycles_per_image"], 0)),
        ("latency (us)", lambda r: _fmt(r["latency_us"], 2)),
        ("back to back (images/s)", lambda r: _fmt(r.get("throughput_images_per_second"), 0)),
        ("power (mW, estimate)", lambda r: _fmt(r["power_mw"]["total"])),
        ("dynamic power (mW, estimate)",
         lambda r: _fmt(r["power_mw"]["total"] - r["power_mw"]["static"])),
        ("energy / image (uJ, estimate)", lambda r: _fmt(r["energy_per_image_uj"], 2)),
        ("accuracy at these bits", lambda r: _fmt(r["accuracy"]["at_bits"], 4)),
    ]
    lines = ["# Side-by-side comparison", "", "| | " + " | ".join(heads) + " |",
             "|---|" + "---:|" * len(heads)]
    lines += [f"| {name} | " + " | ".join(get(r) for r in reports) + " |" for name, get in rows]
    lines += ["", "Sources: area and Fmax from nextpnr-ecp5; cycles from "
              f"{reports[0]['cycles']['source'].split(',')[0]}; power and energy are "
              "estimates (docs/power.md); accuracy from each weights file's meta.", ""]
    return "\n".join(lines)


def _used(report: dict, cell: str) -> str:
    u = report["utilization"].get(cell)
    return f"{u['used']:,} ({100 * u['used'] / u['available']:.0f} %)" if u else "n/a"


def plot_png(report: dict) -> dict[str, bytes]:
    """PNG plots: power breakdown, precision sweep (both models), utilisation."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = {}
    n = report["config"]["neurons"]
    fig, ax = plt.subplots(figsize=(5, 3.2))
    parts = {k: v for k, v in report["power_mw"].items() if k != "total"}
    ax.bar(list(parts), list(parts.values()), color="tab:blue")
    ax.set_ylabel("mW")
    ax.set_title(f"N={n}: power breakdown (estimate, resource model)", fontsize=9)
    out["power.png"] = _png(fig, plt)

    sweep = report["precision_sweep"]["rows"]
    fig, ax = plt.subplots(figsize=(5, 3.2))
    bits = [row["bits"] for row in sweep]
    ax.plot(bits, [row["resource_uj"] for row in sweep], "o-", label="resource model")
    ax.plot(bits, [row["event_uj"] for row in sweep], "s--", label="event model")
    ax.set_xlabel("weight precision (bits)")
    ax.set_ylabel("energy per image (uJ, estimate)")
    ax.set_title(f"N={n}: energy vs precision (estimate; sample of test images)", fontsize=9)
    ax.invert_xaxis()
    ax.legend(fontsize=8)
    out["energy_vs_bits.png"] = _png(fig, plt)

    fig, ax = plt.subplots(figsize=(5, 3.2))
    util = report["utilization"]
    ax.bar(list(util), [100 * u["used"] / u["available"] for u in util.values()],
           color="tab:green")
    ax.set_ylabel("% of device")
    ax.set_title(f"N={n} on {report['device']}: utilisation (nextpnr)", fontsize=9)
    out["utilization.png"] = _png(fig, plt)
    return out


def _png(fig, plt) -> bytes:
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    return buffer.getvalue()


def write_reports(out_dir: Path, report: dict) -> list[Path]:
    """Write plots, report.md and, last, report.json (each file atomically)."""
    written = []
    for name, data in plot_png(report).items():
        write_atomic(out_dir / name, data)
        written.append(out_dir / name)
    write_atomic(out_dir / "report.md", render_markdown(report))
    write_atomic(out_dir / "report.json", cli.strict_json(report, indent=1) + "\n")
    return [*written, out_dir / "report.md", out_dir / "report.json"]
