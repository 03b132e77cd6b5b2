"""ECP5 power and energy estimates (no open ECP5 power estimator exists; these are ours).

Two models, both labelled *estimate* everywhere they appear (docs/power.md):

* **resource model**: static power of the device from the data sheet, plus dynamic power =
  activity x per-resource energy, with the resources counted in the synthesized netlist and
  the activity from simulation (:mod:`flows.activity`);
* **event model**: the contract's event counters x per-event energies, plus the per-cycle
  clock energy and static power over the image's run time.

Every coefficient lives in :data:`COEFFICIENTS` or :data:`STATIC_POWER` with its source.
Stated uncertainty: a factor of :data:`UNCERTAINTY` either way on the dynamic part.
"""

from __future__ import annotations

from dataclasses import dataclass

UNCERTAINTY = 3.0
"""The dynamic estimate may be off by this factor either way (static: about 1.5x)."""
ENDS = ("low", "central", "high")
"""The three ends of every estimate: all coefficients (and the static figure) at their low,
central or high value.  Claims that do not depend on the coefficients (orderings, ratios)
are checked at all three (``tests/test_flows_power.py``)."""


@dataclass(frozen=True)
class Coefficient:
    """One energy coefficient: ``value`` (central) in ``unit``, its ``low`` and ``high``
    ends, where it comes from, and whether that source was re-checked (``verified``)."""

    value: float
    unit: str
    source: str
    low: float | None = None
    high: float | None = None
    verified: str = "taken as stated"

    def at(self, end: str = "central") -> float:
        """The value at ``end`` (``low``, ``central`` or ``high``)."""
        if end == "central":
            return self.value
        if end not in ENDS:
            raise ValueError(f"end must be one of {ENDS}, not {end!r}")
        value = getattr(self, end)
        return self.value if value is None else value


REGISTER_UW_100MHZ = 25.1
"""Measured power per toggling register at 100 MHz on a ULX3S (LFE5U-85F), idle subtracted
(targeted/fpga-reg-power; the OrangeCrab LFE5U-25F figure of the same experiment is 23 uW)."""

COEFFICIENTS = {
    "net_toggle_pj": Coefficient(
        0.245, "pJ per net transition (routing + driving LUT/FF output)",
        "register-chain calibration: one register toggling every cycle costs 0.251 pJ/cycle "
        "(25.1 uW at 100 MHz measured on a ULX3S 85F by targeted/fpga-reg-power, board "
        "supply, idle subtracted) minus ff_clock_pj; low: 80 % of it (the measurement "
        "includes the board regulator's losses); high: 2x (a chain's register-to-register "
        "hop is the shortest route; general nets are longer and fan out)",
        low=0.20, high=0.50,
        verified="method verified (repository README); the per-register figure is read from "
                 "the repository's result table as stated"),
    "ff_clock_pj": Coefficient(
        0.006, "pJ per flip-flop per clock cycle (clock pin + local clock branch load)",
        "about 5 fF of clock pin and local branch at 1.1 V (C V^2); low/high 0.003 / 0.025 "
        "(0.025 = a slice's clock wiring charged to each FF)", low=0.003, high=0.025),
    "clock_tree_pj": Coefficient(
        50.0, "pJ per clock cycle for one global clock net (85F; scaled by LUT count)",
        "measured on an iCE40 UltraPlus 5K (40 nm, 5.3k LUTs) by tinyvision-ai-inc/ice40_power: "
        "a 28-bit counter adds (613.5 - 85.6) uA x 1.219 V at 12 MHz = 54 pJ per cycle over "
        "a blank design, and doubling the counter adds only 3 uA, so about 50 pJ is the "
        "clock network; the same order at 24 and 48 MHz.  No ECP5 figure is public: low "
        "25 pJ, high 4x (the 85F's clock tree spans 16x the LUTs)", low=25.0, high=200.0,
        verified="verified (repository README table), applied to ECP5 as an estimate"),
    "dp16kd_port_pj": Coefficient(
        34.0, "pJ per enabled DP16KD port per clock cycle",
        "about 34 pJ per 18-bit access: Xilinx DS512 (Block Memory Generator) Table 41 block-RAM "
        "power scaled to 40 nm / 1.1 V; an enabled port costs it whether or not its data "
        "change; low 20 pJ (DESIGN.md's order 15-30), high 50 pJ",
        low=20.0, high=50.0),
    "mult18_pj": Coefficient(
        15.0, "pJ per MULT18X18D operation with all inputs toggling (scaled by activity)",
        "estimate: 18x18 array multiplier at 1.1 V, 40 nm (order 10-20 pJ); unused by the "
        "core (no MULT18X18D in its netlist)", low=10.0, high=20.0),
    "io_out_toggle_pj": Coefficient(
        30.0, "pJ per output-pin transition (LVCMOS33, ~5 pF board load)",
        "C*V^2/2 with C = 5 pF, V = 3.3 V (27 pJ) + output driver; low 3 pF, high 10 pF",
        low=18.0, high=60.0, verified="physics (C V^2 / 2)"),
    "io_in_toggle_pj": Coefficient(
        2.0, "pJ per input-pin transition", "estimate: input buffer at 2.5/3.3 V",
        low=1.0, high=4.0),
    # Event model (architectural): energy per contract event.
    "event_weight_bit_pj": Coefficient(
        1.9, "pJ per weight bit read (weight_bits_read)",
        "dp16kd_port_pj / 18 bits (the 1024 x 18 DP16KD shape of the plane memories)",
        low=1.1, high=2.8),
    "event_synapse_pj": Coefficient(
        4.5, "pJ per active synapse (syn_active): weight operand, plane muxes, adder into a "
        "24-bit membrane and its glitches",
        "about 18 net transitions per active synapse x net_toggle_pj (from measured "
        "per-register energy on ECP5 boards); low 1.5 pJ (24 bits x 0.3 toggles x 0.2 pJ: "
        "the add alone), high 9 pJ", low=1.5, high=9.0),
    "event_skipped_synapse_pj": Coefficient(
        0.1, "pJ per zero/below/gated synapse (mux to 0, class popcount)",
        "estimate: a few net toggles", low=0.05, high=0.3),
    "event_membrane_pj": Coefficient(
        2.0, "pJ per membrane update (membrane_updates): compare, reset, leak of 24 bits",
        "24 bits x ~0.4 toggles/bit x net_toggle_pj", low=1.0, high=6.0),
    "event_spike_pj": Coefficient(
        3.0, "pJ per spike (input, hidden or output): list walk, request, priority encoder",
        "estimate: ~15 net toggles", low=1.5, high=9.0),
    "event_always_on_ports": Coefficient(
        6.0, "DP16KD ports enabled every cycle (charged dp16kd_port_pj per cycle)",
        "the input image (1 block) and word-list (2 blocks) memories of hdl/event_list.py have "
        "their read and write enables tied to 1 in the Yosys netlist (memory_groups of "
        "flows/build.py at N = 48 and 128): 2 ports each", verified="netlist (this project)"),
}
"""The one table of energy coefficients (at the nominal 1.1 V core supply)."""

STATIC_POWER = {
    # device: (ICC mA at VCC 1.1 V, ICCAUX mA at 2.5 V, ICCIO mA per bank, banks)
    "LFE5U-12F": (77.0, 16.0, 0.5, 7),
    "LFE5U-25F": (77.0, 16.0, 0.5, 7),
    "LFE5U-45F": (116.0, 16.0, 0.5, 7),
    "LFE5U-85F": (212.0, 26.0, 0.5, 7),
    "LFE5UM5G-45F": (116.0, 16.0, 0.5, 7),
    "LFE5UM5G-85F": (212.0, 26.0, 0.5, 7),
}
"""Typical standby supply currents of the Lattice ECP5/ECP5-5G Family Data Sheet
(FPGA-DS-02012, "Supply Current (Standby)", typical at 25 C, nominal supplies).  ICC and
ICCIO as transcribed before; ICCAUX 16 mA for the 12F/25F (data sheet section 3.10, as a
check of these figures stated) and 26 mA for the 85F (as a board design note quotes the
data sheet); the 45F's ICCAUX is not confirmed (16 mA taken).  The 12F is the 25F die.
Banks at 3.3 V.  The ECP5-5G parts (LFE5UM5G, ECPIX-5 boards) carry the LFE5U figures of
the same die at their 1.2 V core supply (an estimate; SERDES unused)."""
VCC, VCCAUX, VCCIO = 1.1, 2.5, 3.3
CORE_VOLTAGE = {"LFE5UM5G-45F": 1.2, "LFE5UM5G-85F": 1.2}
"""Core supply (V) of the devices whose VCC is not :data:`VCC`."""
BENCH_STATIC_MW = {"LFE5U-85F": 170.0}
"""Static power measured on a bench (typical part, room temperature): a ULX3S-85F board idles
at about 202 mW at its 5 V input, so the chip draws at most about 170 mW (figures as stated
by a check of this table; not re-measured here).  Devices without a bench figure use the
data-sheet figure scaled by the 85F's bench / data-sheet ratio."""
STATIC_HIGH_FACTOR = 1.5
"""High end of static power: data-sheet typical x 1.5 (junction temperature, process)."""
STATIC_BASIS = {
    "low": "bench typical (ULX3S-85F idle: chip <= ~170 mW; other devices scaled)",
    "central": "data-sheet typical (FPGA-DS-02012, 25 C)",
    "high": f"data-sheet typical x {STATIC_HIGH_FACTOR:g} (temperature, process)",
}
"""Which static figure each end of an energy range uses."""


def datasheet_static_mw(device: str) -> float:
    """Data-sheet typical static power of ``device`` in mW (core + auxiliary + I/O banks)."""
    icc, iccaux, iccio, banks = STATIC_POWER[device]
    return icc * CORE_VOLTAGE.get(device, VCC) + iccaux * VCCAUX + iccio * banks * VCCIO


def static_mw(device: str, end: str = "central") -> float:
    """Static power of ``device`` in mW at ``end`` (:data:`STATIC_BASIS` says which figure)."""
    sheet = datasheet_static_mw(device)
    if end == "low":
        if device in BENCH_STATIC_MW:
            return BENCH_STATIC_MW[device]
        ratio = BENCH_STATIC_MW["LFE5U-85F"] / datasheet_static_mw("LFE5U-85F")
        return sheet * ratio
    if end == "high":
        return sheet * STATIC_HIGH_FACTOR
    if end != "central":
        raise ValueError(f"end must be one of {ENDS}, not {end!r}")
    return sheet


def coefficient(name: str, end: str = "central") -> float:
    """The value of coefficient ``name`` at ``end``."""
    return COEFFICIENTS[name].at(end)


@dataclass(frozen=True)
class ResourceActivity:
    """What the resource model needs for one image at one setting.

    Attributes
    ----------
    cells : dict
        Netlist cell counts (``LUT4``, ``CCU2C``, ``TRELLIS_FF``, ``MULT18X18D``, ...).
    alpha : float
        Mean bit toggles per net per cycle (from simulation).
    cycles : float
        Clock cycles per image.
    port_cycles : float
        Enabled DP16KD port-cycles per image.
    io_in_toggles, io_out_toggles : float
        Pin transitions per image.
    clock_scale : float
        Device size relative to the 85F (scales the clock tree).
    alpha_by_class : dict or None
        Toggle rate per resource class (``ff``, ``logic``, ``carry``) when measured: flip-flop
        outputs, LUT/mux outputs and carry-chain nets then each take their own; else
        ``alpha`` for all.
    """

    cells: dict[str, int]
    alpha: float
    cycles: float
    port_cycles: float
    io_in_toggles: float = 0.0
    io_out_toggles: float = 0.0
    clock_scale: float = 1.0
    alpha_by_class: dict[str, float] | None = None


def logic_nets(cells: dict[str, int]) -> int:
    """Nets driven by logic: one per LUT4, mux, flip-flop, two per CCU2C (carry + sum)."""
    return (cells.get("LUT4", 0) + cells.get("PFUMX", 0) + cells.get("L6MUX21", 0)
            + cells.get("TRELLIS_FF", 0) + 2 * cells.get("CCU2C", 0))


def net_toggles(cells: dict[str, int], alpha: float,
                alpha_by_class: dict[str, float] | None = None) -> float:
    """Net transitions per cycle: every logic net times its class's toggle rate."""
    if not alpha_by_class:
        return logic_nets(cells) * alpha
    a = alpha_by_class
    return ((cells.get("LUT4", 0) + cells.get("PFUMX", 0) + cells.get("L6MUX21", 0))
            * a["logic"] + cells.get("TRELLIS_FF", 0) * a["ff"]
            + 2 * cells.get("CCU2C", 0) * a["carry"])


def resource_energy_pj(activity: ResourceActivity, end: str = "central") -> dict[str, float]:
    """Dynamic energy per image by part (pJ): clock, logic, memory, io, at ``end``."""
    a, cells = activity, activity.cells

    def c(name):
        return coefficient(name, end)

    clock = a.cycles * (c("clock_tree_pj") * a.clock_scale
                        + cells.get("TRELLIS_FF", 0) * c("ff_clock_pj"))
    logic = a.cycles * (net_toggles(cells, a.alpha, a.alpha_by_class) * c("net_toggle_pj")
                        + a.alpha * cells.get("MULT18X18D", 0) * c("mult18_pj"))
    memory = a.port_cycles * c("dp16kd_port_pj")
    io = a.io_in_toggles * c("io_in_toggle_pj") + a.io_out_toggles * c("io_out_toggle_pj")
    return {"clock": clock, "logic": logic, "memory": memory, "io": io}


def power_breakdown_mw(device: str, energy_pj: dict[str, float], cycles: float,
                       clock_mhz: float, end: str = "central") -> dict[str, float]:
    """Mean power (mW) while processing images back to back at ``clock_mhz``."""
    seconds = cycles / (clock_mhz * 1e6)
    out = {"static": static_mw(device, end)}
    out.update({part: pj * 1e-12 / seconds * 1e3 for part, pj in energy_pj.items()})
    out["total"] = sum(out.values())
    return out


def event_energy_pj(counters: dict[str, float], cycles: float, ff_count: int,
                    clock_scale: float = 1.0, end: str = "central") -> dict[str, float]:
    """Architectural estimate per image (pJ) from mean event counters and cycles, at ``end``.

    Weight reads are charged at ``physical_bits_read`` when given (the contract's
    ``weight_bits_read`` plus the below-tau blocks' magnitude planes, which the hardware
    reads; :attr:`golden.reference.InferenceResult.physical_bits_read`).  The input
    memories' always-enabled DP16KD ports cost a port access every cycle."""
    def c(name):
        return coefficient(name, end)

    skipped = counters["syn_zero"] + counters["syn_below"] + counters["syn_gated"]
    spikes = counters["input_spikes"] + counters["hidden_spikes"] + counters["output_spikes"]
    return {
        "weight_reads": counters.get("physical_bits_read", counters["weight_bits_read"])
        * c("event_weight_bit_pj"),
        "synapses": counters["syn_active"] * c("event_synapse_pj")
        + skipped * c("event_skipped_synapse_pj"),
        "membranes": counters["membrane_updates"] * c("event_membrane_pj"),
        "spikes": spikes * c("event_spike_pj"),
        "input_memory": cycles * c("event_always_on_ports") * c("dp16kd_port_pj"),
        "clock": cycles * (c("clock_tree_pj") * clock_scale + ff_count * c("ff_clock_pj")),
    }


def register_chain_uw(registers: int, toggles_per_cycle: float, clock_mhz: float,
                      cells: dict[str, int] | None = None, end: str = "central") -> float:
    """Resource-model power per register (uW) of a chain whose outputs toggle at
    ``toggles_per_cycle`` total per cycle (idle clock tree excluded, as in the measurement).

    ``cells`` defaults to a chain of bare flip-flops (no LUTs).
    """
    cells = cells or {"TRELLIS_FF": registers}
    nets = logic_nets(cells)
    activity = ResourceActivity(cells=cells, alpha=toggles_per_cycle / max(1, nets),
                                cycles=clock_mhz * 1e6, port_cycles=0.0, clock_scale=0.0)
    energy = resource_energy_pj(activity, end)
    return (energy["clock"] + energy["logic"]) * 1e-12 * 1e6 / registers
