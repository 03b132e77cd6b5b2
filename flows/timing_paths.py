"""Every endpoint's worst path, from the routed design's SDF: the paths over a target clock.

nextpnr prints one critical path per clock.  A core that misses its clock by a few percent
usually has tens of endpoints over it, in several unrelated places, and each placement seed
shows a different one first; fixing them one seed at a time chases the noise.  This module
times every endpoint from the delays nextpnr writes with ``--sdf`` (the interconnect delay
of every routed connection, every cell's arcs, clock-to-out and setup), with the same
numbers nextpnr's own analysis uses (worst corner, clock skew not modelled), and groups the
endpoints over the target by their start and end registers.

``python -m flows.timing_paths OUT/work-n128/nextpnr.sdf --freq 115`` prints the groups and
the worst path of each; :func:`paths_over` gives the same as JSON for ``report.json``.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from golden.errors import UserError

CLOCK_PINS = frozenset({"CLK", "CLKA", "CLKB", "WCK", "CLKI", "CLKO"})
"""Cell pins that take the clock: an arc from one starts a path (clock-to-out), a routed
connection into one is the clock network (not timed)."""

_INTERCONNECT = re.compile(r"\(INTERCONNECT (\S+) (\S+) \(\d+:\d+:(\d+)\)")
_IOPATH = re.compile(r"\(IOPATH (?:\(posedge )?(\w+)\)? (\w+) \(\d+:\d+:(\d+)\)")
_SETUP = re.compile(r"\(SETUPHOLD \(posedge (\w+)\) \(posedge (\w+)\) \(\d+:\d+:(\d+)\)")

Pin = tuple[str, str]
"""(cell instance, pin)."""


@dataclass
class DelayGraph:
    """The timing arcs of one SDF (delays in ps, the worst of min:typ:max)."""

    arcs: dict[Pin, list[tuple[Pin, int, bool]]] = field(default_factory=lambda: defaultdict(list))
    """pin -> [(next pin, delay, routed)]: routed connections and cell arcs."""
    launch: dict[Pin, int] = field(default_factory=dict)
    """Output pins driven from a clock pin, with their clock-to-out delay."""
    setup: dict[Pin, int] = field(default_factory=dict)
    """Input pins checked against the clock, with their setup time."""
    cell_type: dict[str, str] = field(default_factory=dict)


def _unescape(name: str) -> str:
    return re.sub(r"\\(.)", r"\1", name)


def _split_pin(text: str) -> Pin:
    """``instance/pin`` at the last unescaped ``/`` (SDF's divider)."""
    for i in range(len(text) - 1, 0, -1):
        if text[i] == "/" and text[i - 1] != "\\":
            return _unescape(text[:i]), text[i + 1:]
    raise ValueError(f"no pin in {text!r}")


def read_sdf(path: Path) -> DelayGraph:
    """The timing arcs of nextpnr's ``--sdf`` output; a missing or foreign file is a
    :class:`UserError`."""
    try:
        text = Path(path).read_text(errors="replace")
    except OSError as err:
        raise UserError(f"cannot read the SDF file {path} ({err.strerror or err})") from None
    if not text.lstrip().startswith("(DELAYFILE"):
        raise UserError(f"{path} is not an SDF file (it does not start with '(DELAYFILE'); "
                        "nextpnr writes one with --sdf")
    graph = DelayGraph()
    cell_type, instance = "", None
    for number, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        try:
            if s.startswith("(CELLTYPE"):
                cell_type = s.split('"')[1]
            elif s.startswith("(INSTANCE"):
                instance = _unescape(s[len("(INSTANCE"):-1].strip())
                graph.cell_type[instance] = cell_type
            elif s.startswith("(INTERCONNECT"):
                found = _INTERCONNECT.match(s)
                source, sink = _split_pin(found.group(1)), _split_pin(found.group(2))
                if sink[1] not in CLOCK_PINS:
                    graph.arcs[source].append((sink, int(found.group(3)), True))
            elif s.startswith("(IOPATH"):
                found = _IOPATH.match(s)
                pin, out, delay = found.group(1), found.group(2), int(found.group(3))
                if pin in CLOCK_PINS:
                    key = (instance, out)
                    graph.launch[key] = max(graph.launch.get(key, 0), delay)
                else:
                    graph.arcs[(instance, pin)].append(((instance, out), delay, False))
            elif s.startswith("(SETUPHOLD (posedge"):
                found = _SETUP.match(s)
                if found.group(2) in CLOCK_PINS:
                    graph.setup[(instance, found.group(1))] = int(found.group(3))
        except (AttributeError, IndexError, ValueError):
            raise UserError(f"{path}, line {number}: not an SDF line this reader knows "
                            f"({s[:80]!r})") from None
    if not graph.setup:
        raise UserError(f"{path} has no setup checks: nothing to time")
    return graph


@dataclass(frozen=True)
class Step:
    """One pin of a path: its arrival time and how the path got there."""

    instance: str
    pin: str
    cell_type: str
    arrival_ps: int
    routed: bool
    """The step into this pin was a routed connection (else a cell arc or clock-to-out)."""


@dataclass(frozen=True)
class EndpointGroup:
    """Endpoints over the target that start and end at the same registers (bit indices
    folded), with the worst one's path."""

    start: str
    end: str
    pin: str
    endpoints: int
    worst_ps: int
    path: tuple[Step, ...]

    @property
    def routing_ps(self) -> int:
        steps = self.path
        return sum(b.arrival_ps - a.arrival_ps for a, b in zip(steps, steps[1:], strict=False)
                   if b.routed)


@dataclass(frozen=True)
class Timing:
    """Every endpoint's worst arrival (ps, setup included) against ``period_ps``."""

    period_ps: float
    worst_ps: int
    endpoints: int
    untimed_pins: int
    """Pins on combinational loops (not timed; nextpnr breaks such loops the same way)."""
    over: int
    groups: tuple[EndpointGroup, ...]

    @property
    def fmax_mhz(self) -> float:
        return 1e6 / self.worst_ps


def _arrivals(graph: DelayGraph):
    """Latest arrival at every pin reachable from a launch, and the step that set it."""
    waiting: dict[Pin, int] = defaultdict(int)
    for successors in graph.arcs.values():
        for pin, _, _ in successors:
            waiting[pin] += 1
    arrival: dict[Pin, int] = dict(graph.launch)
    came_from: dict[Pin, tuple[Pin, bool]] = {}
    ready = [pin for pin in {*graph.arcs, *graph.launch} if waiting[pin] == 0]
    while ready:
        pin = ready.pop()
        here = arrival.get(pin)
        for successor, delay, routed in graph.arcs.get(pin, ()):
            if here is not None and successor not in graph.launch and (
                    successor not in arrival or here + delay > arrival[successor]):
                arrival[successor] = here + delay
                came_from[successor] = (pin, routed)
            waiting[successor] -= 1
            if waiting[successor] == 0:
                ready.append(successor)
    untimed = sum(1 for count in waiting.values() if count > 0)
    return arrival, came_from, untimed


def register_name(instance: str) -> str:
    """The HDL register behind a packed cell's name (Yosys appends ``_TRELLIS_FF_Q...``
    and ``$N`` to the signal name), bit and copy indices folded to ``#``."""
    name = re.sub(r"_TRELLIS_FF_Q.*$", "", instance)
    name = re.sub(r"(?<=.)\$\d+$", "", name)
    return re.sub(r"\d+", "#", name)


def analyse(graph: DelayGraph, period_ps: float) -> Timing:
    """Time every endpoint and group those over ``period_ps``, worst group first."""
    arrival, came_from, untimed = _arrivals(graph)
    ends = sorted(((arrival[pin] + setup, pin) for pin, setup in graph.setup.items()
                   if pin in arrival), reverse=True)
    if not ends:
        raise UserError("no endpoint of the SDF is reached from a clocked output")
    groups: dict[tuple[str, str, str], dict] = {}
    over = [(total, pin) for total, pin in ends if total > period_ps]
    for total, pin in over:
        pins = [pin]
        while pins[-1] in came_from:
            pins.append(came_from[pins[-1]][0])
        pins.reverse()
        routed = [False] + [came_from[p][1] for p in pins[1:]]
        key = (register_name(pins[0][0]), register_name(pin[0]), pin[1])
        if key not in groups:
            path = tuple(Step(p[0], p[1], graph.cell_type.get(p[0], "?"), arrival[p], r)
                         for p, r in zip(pins, routed, strict=True))
            groups[key] = {"worst": total, "count": 0, "path": path}
        groups[key]["count"] += 1
    return Timing(period_ps=period_ps, worst_ps=ends[0][0], endpoints=len(ends),
                  untimed_pins=untimed, over=len(over),
                  groups=tuple(EndpointGroup(start, end, pin, g["count"], g["worst"], g["path"])
                               for (start, end, pin), g in groups.items()))


def paths_over(sdf: Path, freq_mhz: float, *, groups: int = 12) -> dict:
    """The endpoints of ``sdf`` over the period of ``freq_mhz``, for ``report.json``: the
    worst arrival, counts and the first ``groups`` groups (worst first)."""
    timing = analyse(read_sdf(sdf), 1e6 / freq_mhz)
    return {
        "source": f"every endpoint timed from nextpnr's SDF ({Path(sdf).name}), worst corner",
        "target_mhz": freq_mhz, "worst_ns": timing.worst_ps / 1000,
        "fmax_mhz": round(timing.fmax_mhz, 2), "endpoints": timing.endpoints,
        "endpoints_over_target": timing.over, "groups_over_target": len(timing.groups),
        "untimed_pins": timing.untimed_pins,
        "groups": [{"start": g.start, "end": g.end, "pin": g.pin, "endpoints": g.endpoints,
                    "worst_ns": g.worst_ps / 1000, "routing_ns": g.routing_ps / 1000,
                    "cells": sum(1 for s in g.path if not s.routed) - 1}
                   for g in timing.groups[:groups]],
    }


def format_timing(timing: Timing, paths: int) -> str:
    """The groups as a table, then the worst path of the first ``paths`` groups."""
    lines = [f"worst endpoint {timing.worst_ps / 1000:.2f} ns ({timing.fmax_mhz:.2f} MHz) of "
             f"{timing.endpoints:,}; {timing.over} over {timing.period_ps / 1000:.3f} ns in "
             f"{len(timing.groups)} groups"
             + (f"; {timing.untimed_pins} pins on combinational loops not timed"
                if timing.untimed_pins else ""), ""]
    lines += [f"{g.worst_ps / 1000:6.2f} ns {g.endpoints:4d}  {g.start} -> {g.end}.{g.pin}"
              for g in timing.groups]
    for g in timing.groups[:paths]:
        lines += ["", f"{g.worst_ps / 1000:.2f} ns: {g.start} -> {g.end}.{g.pin} "
                      f"({g.routing_ps / 1000:.2f} ns routing)"]
        previous = 0
        for s in g.path:
            kind = "route" if s.routed else "cell"
            lines.append(f"  {s.arrival_ps / 1000:6.2f} +{(s.arrival_ps - previous) / 1000:4.2f} "
                         f"{kind:5s} {s.cell_type:13s} {s.instance}.{s.pin}")
            previous = s.arrival_ps
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Time every endpoint of a routed design from its SDF (``nextpnr.sdf`` in a build's
    work directory) and list those over the target clock, grouped by start and end
    register, with the worst path of each group."""
    from golden import cli

    p = cli.ArgumentParser(description=main.__doc__)
    p.add_argument("sdf", type=cli.input_file, help="nextpnr's --sdf output")
    p.add_argument("--freq", type=cli.clock_mhz, required=True,
                   help="target clock in MHz: endpoints slower than its period are listed")
    p.add_argument("--paths", type=cli.integer(0), default=5,
                   help="print the worst path of this many groups (default 5)")
    args = p.parse_args(argv)
    print(format_timing(analyse(read_sdf(args.sdf), 1e6 / args.freq), args.paths))
    return 0


if __name__ == "__main__":
    import sys

    from golden.errors import run_cli

    sys.exit(run_cli(main))
