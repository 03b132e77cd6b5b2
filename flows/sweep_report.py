"""sweep.json, sweep.md and the plots of a design sweep (every file written atomically).

Plots (only of the figures the sweep's stage produced): ``fmax.png`` (Fmax per N and lanes),
``area.png`` (DP16KD and LUT4 vs lanes), ``latency_energy.png`` (latency and energy per
image vs N, ``--stage full``) and ``fmax_seeds.png`` (Fmax spread over placement seeds).
"""

from __future__ import annotations

import io
import json
from collections import defaultdict
from pathlib import Path

from golden import cli
from golden.weights import write_atomic

COLUMNS = (("lut4", "LUT4"), ("ff", "FF"), ("dp16kd", "DP16KD"), ("fmax_mhz", "Fmax MHz"),
           ("latency_us", "latency us"), ("energy_per_image_uj", "uJ/image (estimate)"))
"""Result fields shown in sweep.md, when any point has them."""


def write_summary(out: Path, points: list[dict], *, timing: dict | None = None,
                  command: list[str] | None = None) -> list[Path]:
    """Write sweep.json and sweep.md (and, once ``timing`` is known, the plots)."""
    out.mkdir(parents=True, exist_ok=True)
    summary = {"points": points, "timing": timing,
               "command": " ".join(command) if command else None}
    written = [out / "sweep.md"]
    write_atomic(out / "sweep.md", render_markdown(summary))
    if timing is not None:
        written += _plots(out, points)
    write_atomic(out / "sweep.json", cli.strict_json(summary, indent=1))
    return written + [out / "sweep.json"]


def _settings(point: dict) -> dict:
    """A point's inputs with the lanes and block size actually built."""
    return {**point["inputs"], **point.get("used", {})}


def _label(inputs: dict) -> str:
    return " | ".join(str(inputs[k]) for k in ("neurons", "lanes", "block_size", "bits", "seed",
                                               "board"))


def render_markdown(summary: dict) -> str:
    """The sweep as one table, then the skipped points and the errors."""
    points = summary["points"]
    results = [p.get("result") or {} for p in points]
    columns = [(k, title) for k, title in COLUMNS if any(r.get(k) is not None for r in results)]
    lines = ["# Design sweep", ""]
    if points:
        lines += [f"Stage `{points[0]['inputs']['stage']}`; {len(points)} points: "
                  + ", ".join(f"{sum(p.get('status') == s for p in points)} {s}"
                              for s in ("done", "failed", "skipped")) + ".", ""]
    timing = summary.get("timing")
    if timing:
        lines += [f"{timing['workers']} workers ({timing['scheduler']}); start-up "
                  f"{timing['startup_seconds']:.1f} s, points {timing['run_seconds']:.1f} s, "
                  f"shutdown {timing['shutdown_seconds']:.1f} s (wall "
                  f"{timing['wall_seconds']:.1f} s); sum of the point times "
                  f"{_point_seconds(points):.1f} s.", ""]
    lines += ["| N | lanes | block | bits | seed | board | status | "
              + " | ".join(t for _, t in columns) + " | s |",
              "|---:|---:|---:|---|---:|---|---|" + "---:|" * (len(columns) + 1)]
    for point, result in zip(points, results, strict=True):
        status = point.get("status", "pending") + (" (reused)" if point.get("reused") else "")
        cells = [_fmt(result.get(k)) for k, _ in columns]
        lines.append(f"| {_label(_settings(point))} | {status} | " + " | ".join(cells)
                     + f" | {_fmt(point.get('seconds'))} |")
    problems = [p for p in points if p.get("status") in ("skipped", "failed")]
    if problems:
        lines += ["", "## Skipped and failed points", ""]
        lines += [f"- `{p['name']}` {p['status']}: {p.get('reason') or p.get('error')}"
                  for p in problems]
    if summary.get("command"):
        lines += ["", "## Reproduce", "", "```", summary["command"], "```"]
    return "\n".join(lines) + "\n"


def _point_seconds(points: list[dict]) -> float:
    return sum(p.get("seconds", 0) for p in points if not p.get("reused"))


def _fmt(value) -> str:
    if value is None:
        return "-"
    return f"{value:,.1f}" if isinstance(value, float) else f"{value:,}"


def _plots(out: Path, points: list[dict]) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    done = [(_settings(p), p["result"]) for p in points if p.get("status") == "done"]
    written = []

    def save(fig, name):
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
        plt.close(fig)
        write_atomic(out / name, buffer.getvalue())
        written.append(out / name)

    def series(x_key, y_key, group_key):
        lines = defaultdict(lambda: defaultdict(list))
        for inputs, result in done:
            if result.get(y_key) is not None:
                lines[inputs[group_key]][inputs[x_key]].append(result[y_key])
        return {g: sorted((x, max(ys)) for x, ys in xs.items()) for g, xs in lines.items()}

    if any(r.get("fmax_mhz") for _, r in done):
        fig, ax = plt.subplots(figsize=(6, 4))
        for lanes, xy in sorted(series("neurons", "fmax_mhz", "lanes").items()):
            ax.plot(*zip(*xy, strict=True), "o-", label=f"L = {lanes}")
        ax.set(xlabel="hidden neurons N", ylabel="Fmax, best seed (MHz)",
               title="Fmax per N and lanes (nextpnr)")
        ax.legend()
        save(fig, "fmax.png")
        by_point = defaultdict(list)
        for inputs, result in done:
            if result.get("fmax_mhz"):
                by_point[_label({**inputs, "seed": "*"})].append(result["fmax_mhz"])
        fig, ax = plt.subplots(figsize=(6, 0.5 + 0.4 * len(by_point)))
        for row, values in enumerate(by_point[label] for label in sorted(by_point)):
            ax.plot(values, [row] * len(values), "o")
            ax.hlines(row, min(values), max(values))
        ax.set_yticks(range(len(by_point)), sorted(by_point), fontsize=7)
        ax.set(xlabel="Fmax (MHz)", title="Fmax spread over placement seeds "
                                          "(N | lanes | block | bits | seeds | board)")
        save(fig, "fmax_seeds.png")
    if done:
        fig, axes = plt.subplots(1, 2, figsize=(10, 4))
        for ax, key, name in ((axes[0], "dp16kd", "DP16KD"), (axes[1], "lut4", "LUT4")):
            for n, xy in sorted(series("lanes", key, "neurons").items()):
                ax.plot(*zip(*xy, strict=True), "o-", label=f"N = {n}")
            ax.set(xlabel="lanes L", ylabel=name, title=f"{name} vs lanes")
            ax.legend()
        save(fig, "area.png")
    if any(r.get("latency_us") for _, r in done):
        fig, axes = plt.subplots(1, 2, figsize=(10, 4))
        for ax, key, name in ((axes[0], "latency_us", "latency per image (us)"),
                              (axes[1], "energy_per_image_uj",
                               "energy per image (uJ, estimate)")):
            for lanes, xy in sorted(series("neurons", key, "lanes").items()):
                ax.plot(*zip(*xy, strict=True), "o-", label=f"L = {lanes}")
            ax.set(xlabel="hidden neurons N", ylabel=name)
            ax.legend()
        save(fig, "latency_energy.png")
    return written


def comparable(summary: dict) -> list[dict]:
    """The points of a sweep.json without what depends on the run (times, reuse, stage
    cache use), for
    comparing two runs of the same sweep."""
    return [{k: v for k, v in p.items() if k not in ("seconds", "reused", "detail", "stages")}
            for p in summary["points"]]


def load(out: Path) -> dict:
    """A sweep's sweep.json."""
    return json.loads((out / "sweep.json").read_text())
