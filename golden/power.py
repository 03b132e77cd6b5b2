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


@dataclass(frozen=True)
class Coefficient:
    """One energy coefficient: ``value`` in ``unit``, where it comes from."""

    value: float
    unit: str
    source: str


COEFFICIENTS = {
    "net_toggle_pj": Coefficient(
        0.20, "pJ per net transition (routing + driving LUT/FF output)",
        "DESIGN.md section 5 (order 0.2 pJ); with ff_clock_pj calibrated so that one register "
        "toggling every cycle costs 0.225 pJ/cycle = 22.5 uW at 100 MHz, against the 23 uW "
        "measured on a ULX3S 85F by targeted/fpga-reg-power"),
    "ff_clock_pj": Coefficient(
        0.025, "pJ per flip-flop per clock cycle (clock pin + local clock branch load)",
        "estimate: about 2 fF pin + 18 fF of slice clock wiring at 1.1 V; the remainder of "
        "the register-chain calibration above"),
    "clock_tree_pj": Coefficient(
        15.0, "pJ per clock cycle for one global clock net (85F; scaled by LUT count)",
        "estimate: about 12 pF of primary clock spine/branch capacitance at 1.1 V; no public "
        "ECP5 figure (Lattice TN1266 delegates to the Power Calculator)"),
    "dp16kd_port_pj": Coefficient(
        20.0, "pJ per enabled DP16KD port per clock cycle",
        "DESIGN.md section 5 (order 15-30 pJ per enabled port-cycle for a 40 nm 18 kbit "
        "block RAM); an enabled port costs it whether or not its data change"),
    "mult18_pj": Coefficient(
        15.0, "pJ per MULT18X18D operation with all inputs toggling (scaled by activity)",
        "estimate: 18x18 array multiplier at 1.1 V, 40 nm (order 10-20 pJ)"),
    "io_out_toggle_pj": Coefficient(
        30.0, "pJ per output-pin transition (LVCMOS33, ~5 pF board load)",
        "C*V^2/2 with C = 5 pF, V = 3.3 V (27 pJ) + output driver"),
    "io_in_toggle_pj": Coefficient(
        2.0, "pJ per input-pin transition", "estimate: input buffer at 2.5/3.3 V"),
    # Event model (architectural): energy per contract event.
    "event_weight_bit_pj": Coefficient(
        1.1, "pJ per weight bit read (weight_bits_read)",
        "dp16kd_port_pj / 18 bits (the 1024 x 18 DP16KD shape of the plane memories)"),
    "event_synapse_pj": Coefficient(
        1.5, "pJ per active synapse (syn_active): an 8-bit add into a 24-bit membrane",
        "24 bits x ~0.3 toggles/bit x net_toggle_pj (carry chain + FF)"),
    "event_skipped_synapse_pj": Coefficient(
        0.1, "pJ per zero/below/gated synapse (mux to 0, class popcount)",
        "estimate: a few net toggles"),
    "event_membrane_pj": Coefficient(
        2.0, "pJ per membrane update (membrane_updates): compare, reset, leak of 24 bits",
        "24 bits x ~0.4 toggles/bit x net_toggle_pj"),
    "event_spike_pj": Coefficient(
        3.0, "pJ per spike (input, hidden or output): list walk, request, priority encoder",
        "estimate: ~15 net toggles"),
}
"""The one table of energy coefficients (at the nominal 1.1 V core supply)."""

STATIC_POWER = {
    # device: (ICC mA at VCC 1.1 V, ICCAUX mA at 2.5 V, ICCIO mA per bank, banks)
    "LFE5U-12F": (77.0, 8.0, 0.5, 7),
    "LFE5U-25F": (77.0, 8.0, 0.5, 7),
    "LFE5U-45F": (116.0, 12.0, 0.5, 7),
    "LFE5U-85F": (212.0, 16.0, 0.5, 7),
    "LFE5UM5G-45F": (116.0, 12.0, 0.5, 7),
    "LFE5UM5G-85F": (212.0, 16.0, 0.5, 7),
}
"""Typical standby supply currents, transcribed from the Lattice ECP5/ECP5-5G Family Data Sheet
(FPGA-DS-02012, "Supply Current (Standby)", typical at 25 C, nominal supplies).  The 12F is
the 25F die.  Banks at 3.3 V.  Re-check against the current data-sheet revision.  The ECP5-5G
parts (LFE5UM5G, ECPIX-5 boards) carry the LFE5U figures of the same die at their 1.2 V core
supply: an estimate, no ECP5-5G standby figure is transcribed here (SERDES unused)."""
VCC, VCCAUX, VCCIO = 1.1, 2.5, 3.3
CORE_VOLTAGE = {"LFE5UM5G-45F": 1.2, "LFE5UM5G-85F": 1.2}
"""Core supply (V) of the devices whose VCC is not :data:`VCC`."""


def static_mw(device: str) -> float:
    """Typical static power of ``device`` in mW (core + auxiliary + I/O banks)."""
    icc, iccaux, iccio, banks = STATIC_POWER[device]
    return icc * CORE_VOLTAGE.get(device, VCC) + iccaux * VCCAUX + iccio * banks * VCCIO


def coefficient(name: str) -> float:
    """The value of coefficient ``name``."""
    return COEFFICIENTS[name].value


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
    """

    cells: dict[str, int]
    alpha: float
    cycles: float
    port_cycles: float
    io_in_toggles: float = 0.0
    io_out_toggles: float = 0.0
    clock_scale: float = 1.0


def logic_nets(cells: dict[str, int]) -> int:
    """Nets driven by logic: one per LUT4, mux, flip-flop, two per CCU2C (carry + sum)."""
    return (cells.get("LUT4", 0) + cells.get("PFUMX", 0) + cells.get("L6MUX21", 0)
            + cells.get("TRELLIS_FF", 0) + 2 * cells.get("CCU2C", 0))


def resource_energy_pj(activity: ResourceActivity) -> dict[str, float]:
    """Dynamic energy per image by part (pJ): clock, logic, memory, io."""
    a, cells = activity, activity.cells
    clock = a.cycles * (coefficient("clock_tree_pj") * a.clock_scale
                        + cells.get("TRELLIS_FF", 0) * coefficient("ff_clock_pj"))
    logic = a.cycles * a.alpha * (logic_nets(cells) * coefficient("net_toggle_pj")
                                  + cells.get("MULT18X18D", 0) * coefficient("mult18_pj"))
    memory = a.port_cycles * coefficient("dp16kd_port_pj")
    io = (a.io_in_toggles * coefficient("io_in_toggle_pj")
          + a.io_out_toggles * coefficient("io_out_toggle_pj"))
    return {"clock": clock, "logic": logic, "memory": memory, "io": io}


def power_breakdown_mw(device: str, energy_pj: dict[str, float], cycles: float,
                       clock_mhz: float) -> dict[str, float]:
    """Mean power (mW) while processing images back to back at ``clock_mhz``."""
    seconds = cycles / (clock_mhz * 1e6)
    out = {"static": static_mw(device)}
    out.update({part: pj * 1e-12 / seconds * 1e3 for part, pj in energy_pj.items()})
    out["total"] = sum(out.values())
    return out


def event_energy_pj(counters: dict[str, float], cycles: float, ff_count: int,
                    clock_scale: float = 1.0) -> dict[str, float]:
    """Architectural estimate per image (pJ) from mean event counters and cycles.

    Weight reads are charged at ``physical_bits_read`` when given (the contract's
    ``weight_bits_read`` plus the below-tau blocks' magnitude planes, which the hardware
    reads; :attr:`golden.reference.InferenceResult.physical_bits_read`)."""
    skipped = counters["syn_zero"] + counters["syn_below"] + counters["syn_gated"]
    spikes = counters["input_spikes"] + counters["hidden_spikes"] + counters["output_spikes"]
    return {
        "weight_reads": counters.get("physical_bits_read", counters["weight_bits_read"])
        * coefficient("event_weight_bit_pj"),
        "synapses": counters["syn_active"] * coefficient("event_synapse_pj")
        + skipped * coefficient("event_skipped_synapse_pj"),
        "membranes": counters["membrane_updates"] * coefficient("event_membrane_pj"),
        "spikes": spikes * coefficient("event_spike_pj"),
        "clock": cycles * (coefficient("clock_tree_pj") * clock_scale
                           + ff_count * coefficient("ff_clock_pj")),
    }


def register_chain_uw(registers: int, toggles_per_cycle: float, clock_mhz: float,
                      cells: dict[str, int] | None = None) -> float:
    """Resource-model power per register (uW) of a chain whose outputs toggle at
    ``toggles_per_cycle`` total per cycle (idle clock tree excluded, as in the measurement).

    ``cells`` defaults to a chain of bare flip-flops (no LUTs).
    """
    cells = cells or {"TRELLIS_FF": registers}
    nets = logic_nets(cells)
    activity = ResourceActivity(cells=cells, alpha=toggles_per_cycle / max(1, nets),
                                cycles=clock_mhz * 1e6, port_cycles=0.0, clock_scale=0.0)
    energy = resource_energy_pj(activity)
    return (energy["clock"] + energy["logic"]) * 1e-12 * 1e6 / registers
