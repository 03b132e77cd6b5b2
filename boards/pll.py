"""ECP5 EHXPLLL: parameter search (like Project Trellis' ``ecppll``) and the clock domain.

``f_out = f_in / CLKI_DIV * CLKFB_DIV`` with the feedback taken from CLKOP; the limits are
the ECP5 data sheet's (FPGA-DS-02012, sysCLOCK PLL timing): PFD 3.125..400 MHz, VCO
400..800 MHz, output 3.125..400 MHz.  For 25 MHz -> 45 MHz this picks CLKI_DIV 5, CLKFB_DIV 9,
CLKOP_DIV 13 (VCO 585 MHz), the same as ``ecppll -i 25 -o 45`` (the boards' clock); for
60 MHz, CLKI_DIV 5, CLKFB_DIV 12, CLKOP_DIV 10 (VCO 600 MHz).
"""

from __future__ import annotations

from dataclasses import dataclass

from amaranth.hdl import ClockSignal, Elaboratable, Instance, Module, Signal
from amaranth.lib.cdc import ResetSynchronizer

PFD_HZ = (3.125e6, 400e6)
VCO_HZ = (400e6, 800e6)
OUT_HZ = (3.125e6, 400e6)
VCO_TARGET_HZ = 600e6
"""Among equally exact settings, the VCO closest to this (as ``ecppll`` does)."""


@dataclass(frozen=True)
class PllSettings:
    """EHXPLLL dividers and the frequencies they give (Hz)."""

    clki_div: int
    clkfb_div: int
    clkop_div: int
    f_in: float
    f_out: float
    f_vco: float

    @property
    def clkop_cphase(self) -> int:
        """Coarse phase of CLKOP for 0 degrees (as ``ecppll`` sets it)."""
        return (self.clkop_div - 1) // 2


def solve_pll(f_in: float, f_out: float, tolerance: float = 1e-3) -> PllSettings:
    """The EHXPLLL setting closest to ``f_out`` (Hz) from ``f_in`` (Hz).

    Raises
    ------
    ValueError
        If no setting is within ``tolerance`` (relative) of ``f_out``.
    """
    best, best_key = None, None
    for clki_div in range(1, 129):
        pfd = f_in / clki_div
        if not PFD_HZ[0] <= pfd <= PFD_HZ[1]:
            continue
        for clkfb_div in range(1, 81):
            out = pfd * clkfb_div
            if not OUT_HZ[0] <= out <= OUT_HZ[1]:
                continue
            for clkop_div in range(1, 129):
                vco = out * clkop_div
                if not VCO_HZ[0] <= vco <= VCO_HZ[1]:
                    continue
                key = (abs(out - f_out), abs(vco - VCO_TARGET_HZ))
                if best_key is None or key < best_key:
                    best, best_key = PllSettings(clki_div, clkfb_div, clkop_div, f_in, out,
                                                 vco), key
    if best is None or abs(best.f_out - f_out) > tolerance * f_out:
        raise ValueError(f"the ECP5 PLL cannot make {f_out / 1e6:g} MHz from "
                         f"{f_in / 1e6:g} MHz within {tolerance:.1%}")
    return best


class EcpPll(Elaboratable):
    """Drives clock domain ``domain`` (defined by the parent) from an EHXPLLL and holds it
    in reset until the PLL locks.

    Parameters
    ----------
    clk_in : Signal
        The oscillator input (buffered pin).
    settings : PllSettings
        Dividers from :func:`solve_pll`.
    reset : Value, optional
        An extra asynchronous reset (e.g. a button), active high.
    domain : str
        Name of the clock domain (the parent module defines it).
    """

    def __init__(self, clk_in, settings: PllSettings, *, reset=None, domain: str = "sync"):
        self.clk_in = clk_in
        self.settings = settings
        self.reset = reset
        self.domain = domain
        self.clk = Signal()

    def elaborate(self, platform):
        m = Module()
        s = self.settings
        locked = Signal()
        m.submodules.pll = Instance(
            "EHXPLLL",
            a_FREQUENCY_PIN_CLKI=f"{s.f_in / 1e6:g}", a_FREQUENCY_PIN_CLKOP=f"{s.f_out / 1e6:g}",
            a_ICP_CURRENT="12", a_LPF_RESISTOR="8", a_MFG_ENABLE_FILTEROPAMP="1",
            a_MFG_GMCREF_SEL="2",
            p_PLLRST_ENA="DISABLED", p_INTFB_WAKE="DISABLED", p_STDBY_ENABLE="DISABLED",
            p_DPHASE_SOURCE="DISABLED", p_OUTDIVIDER_MUXA="DIVA", p_OUTDIVIDER_MUXB="DIVB",
            p_OUTDIVIDER_MUXC="DIVC", p_OUTDIVIDER_MUXD="DIVD",
            p_CLKI_DIV=s.clki_div, p_CLKOP_ENABLE="ENABLED", p_CLKOP_DIV=s.clkop_div,
            p_CLKOP_CPHASE=s.clkop_cphase, p_CLKOP_FPHASE=0, p_FEEDBK_PATH="CLKOP",
            p_CLKFB_DIV=s.clkfb_div,
            i_RST=0, i_STDBY=0, i_CLKI=self.clk_in, o_CLKOP=self.clk, i_CLKFB=self.clk,
            i_PHASESEL0=0, i_PHASESEL1=0, i_PHASEDIR=1, i_PHASESTEP=1, i_PHASELOADREG=1,
            i_PLLWAKESYNC=0, i_ENCLKOP=0, o_LOCK=locked)
        m.d.comb += ClockSignal(self.domain).eq(self.clk)
        not_ready = ~locked if self.reset is None else ~locked | self.reset
        # No explicit clock constraint: nextpnr derives f_out from the EHXPLLL dividers and
        # the oscillator pin's constraint ("Derived frequency constraint of 15.0 MHz").
        m.submodules.reset_sync = ResetSynchronizer(not_ready, domain=self.domain)
        return m
