"""Move the read registers that follow a block RAM into the block RAM (DP16KD ``OUTREG``).

Yosys maps a synchronous read port to a DP16KD port without its output register
(``REGMODE NOREG``): the data leave the block about 5.8 ns after the clock edge (speed grade
6), and the fabric flip-flop that registers them is wherever the placer put it, often several
nanoseconds of routing away.  Yosys's ECP5 memory mapping cannot use the block's own output
register, so this pass does it on the netlist, between Yosys and nextpnr: a DP16KD port
whose every used data output drives exactly one plain flip-flop (same clock, no clock
enable, no set or reset, nothing else on the net) takes those flip-flops into its output
register (``REGMODE OUTREG``): the data then leave the block about 1 ns after the edge and
the next stage gets the routing time.

The function is unchanged: a NOREG port's output is its read latch, which changes only at a
clock edge with the port's clock enable; the output register samples it at every edge
(``OCE`` = 1, its reset ``RST`` tied to 0), which is what the removed flip-flops did, and it
powers up at 0 as they did.  The routed netlist simulation (:mod:`flows.netlist_sim`, with
the OUTREG model of ``flows/cells/dp16kd.v``) checks it against the reference.  The HDL
makes those registers reset-less (:mod:`hdl.synapse_reader`), so that they qualify.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

VERSION = 1
"""Bumped whenever the rewrite changes (part of the synthesis cache key)."""
DATA_BITS = 18
"""Data outputs per DP16KD port (DOA0..17, DOB0..17)."""


@dataclass(frozen=True)
class AbsorbedPorts:
    """What :func:`absorb_output_registers` did: ports turned to OUTREG and the flip-flops
    they took in; ports left as they were, by reason."""

    ports: int
    flip_flops: int
    skipped: dict[str, int]


def _is_const(bits, value: str) -> bool:
    return bits is None or all(b == value for b in bits)


def _plain_flip_flop(cell: dict, clock) -> bool:
    """A TRELLIS_FF that samples DI at every rising edge of ``clock``: no clock enable, no
    set/reset, power-up 0, not kept."""
    p, c = cell.get("parameters", {}), cell["connections"]
    return (cell["type"] == "TRELLIS_FF" and c.get("CLK") == clock
            and p.get("CLKMUX", "CLK") == "CLK"
            and (p.get("CEMUX", "").strip() == "1" or _is_const(c.get("CE"), "1"))
            and _is_const(c.get("LSR"), "0")
            and p.get("REGSET", "RESET") == "RESET"
            and not cell.get("attributes", {}).get("keep"))


def absorb_output_registers(netlist: dict, top: str) -> AbsorbedPorts:
    """Rewrite ``netlist`` (Yosys JSON, module ``top``) in place; see the module text."""
    module = netlist["modules"][top]
    cells = module["cells"]
    sinks: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for name, cell in cells.items():
        for port, bits in cell["connections"].items():
            if cell.get("port_directions", {}).get(port) != "input":
                continue
            for bit in bits:
                if isinstance(bit, int):
                    sinks[bit].append((name, port))
    for port in module.get("ports", {}).values():
        if port["direction"] != "input":
            for bit in port["bits"]:
                if isinstance(bit, int):
                    sinks[bit].append(("", "top-level port"))

    ports = flip_flops = 0
    skipped: dict[str, int] = defaultdict(int)
    for name in sorted(n for n, cell in cells.items() if cell["type"] == "DP16KD"):
        cell = cells[name]
        params, conn = cell.setdefault("parameters", {}), cell["connections"]
        for side in "AB":
            reason = _port_blocker(cells, sinks, params, conn, side)
            if reason:
                skipped[reason] += 1
                continue
            for i, bit in _used_outputs(conn, sinks, side):
                ff_name, _ = sinks[bit][0]
                conn[f"DO{side}{i}"] = list(cells[ff_name]["connections"]["Q"])
                del cells[ff_name]
                flip_flops += 1
            params[f"REGMODE_{side}"] = "OUTREG"
            conn[f"OCE{side}"] = ["1"]
            ports += 1
    return AbsorbedPorts(ports=ports, flip_flops=flip_flops, skipped=dict(skipped))


def _width(value) -> int:
    """A DATA_WIDTH parameter: Yosys JSON writes integers as binary strings."""
    return int(value, 2) if isinstance(value, str) else int(value)


def _used_outputs(conn, sinks, side: str) -> list[tuple[int, int]]:
    """``(i, net)`` of the data outputs ``DO<side><i>`` that drive a load."""
    return [(i, bits[0]) for i in range(DATA_BITS)
            if (bits := conn.get(f"DO{side}{i}")) and isinstance(bits[0], int)
            and sinks[bits[0]]]


def _port_blocker(cells, sinks, params, conn, side: str) -> str | None:
    """Why port ``side`` of a DP16KD cannot take its read registers in (None: it can)."""
    if _width(params.get("DATA_WIDTH_A", 18)) == 36:
        return "pseudo dual port (x36: one read port on both data buses)"
    if params.get(f"REGMODE_{side}", "NOREG") != "NOREG":
        return "output register already used"
    if params.get(f"CLK{side}MUX", f"CLK{side}") != f"CLK{side}":
        return "inverted clock"
    if not _is_const(conn.get(f"RST{side}"), "0"):
        return "port reset used"
    if not _is_const(conn.get(f"OCE{side}"), "1"):
        return "output clock enable used"
    used = [bit for _, bit in _used_outputs(conn, sinks, side)]
    if not used:
        return "no data read"
    clock = conn.get(f"CLK{side}")
    for bit in used:
        if len(sinks[bit]) != 1:
            return "data output with several loads"
        sink, pin = sinks[bit][0]
        if pin != "DI" or not _plain_flip_flop(cells[sink], clock):
            return "data output not into a plain flip-flop"
    return None
