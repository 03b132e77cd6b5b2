"""ECP5 boards and devices: the one table that ``flows/`` and ``boards/`` share.

A board id (``ulx3s-85f``) names a device (``LFE5U-85F``), its package and speed grade, and
the nextpnr-ecp5 options that select it.  Resource counts are the LFE5U data-sheet figures
(Lattice FPGA-DS-02012, "ECP5 and ECP5-5G Family Selection Guide", table 1.1); the place
and route report gives the authoritative ``available`` numbers of each build.
"""

from __future__ import annotations

from dataclasses import dataclass

from golden.errors import UserError


@dataclass(frozen=True)
class Device:
    """One ECP5 device in one package.

    Attributes
    ----------
    name : str
        Lattice part name without package/speed, e.g. ``"LFE5U-85F"``.
    nextpnr_size : str
        The nextpnr-ecp5 size flag, e.g. ``"--85k"``.
    package : str
        nextpnr-ecp5 package name (``"CABGA381"``).
    speed : int
        Speed grade (6 is the slowest, as on the ULX3S).
    luts : int
        LUT4s (data sheet, in thousands rounded: 12k/24k/44k/84k).
    dp16kd : int
        sysMEM EBR blocks (DP16KD, 18 kbit each).
    mult18 : int
        18x18 multipliers (MULT18X18D).
    """

    name: str
    nextpnr_size: str
    package: str
    speed: int
    luts: int
    dp16kd: int
    mult18: int

    def nextpnr_args(self) -> list[str]:
        """Command-line options that select this device in nextpnr-ecp5."""
        return [self.nextpnr_size, "--package", self.package, "--speed", str(self.speed)]


DEVICES = {
    "LFE5U-12F": Device("LFE5U-12F", "--12k", "CABGA381", 6, 12_000, 32, 28),
    "LFE5U-25F": Device("LFE5U-25F", "--25k", "CABGA381", 6, 24_000, 56, 28),
    "LFE5U-45F": Device("LFE5U-45F", "--45k", "CABGA381", 6, 44_000, 108, 72),
    "LFE5U-85F": Device("LFE5U-85F", "--85k", "CABGA381", 6, 84_000, 208, 156),
    "LFE5UM5G-45F": Device("LFE5UM5G-45F", "--um5g-45k", "CABGA554", 8, 44_000, 108, 72),
    "LFE5UM5G-85F": Device("LFE5UM5G-85F", "--um5g-85k", "CABGA554", 8, 84_000, 208, 156),
}
"""ECP5 devices by part name: the LFE5U parts of the ULX3S (CABGA381, speed 6) and the
ECP5-5G parts of the ECPIX-5 (CABGA554, speed 8)."""

BOARDS = {
    "ulx3s-12f": "LFE5U-12F",
    "ulx3s-25f": "LFE5U-25F",
    "ulx3s-45f": "LFE5U-45F",
    "ulx3s-85f": "LFE5U-85F",
    "ecpix5-45f": "LFE5UM5G-45F",
    "ecpix5-85f": "LFE5UM5G-85F",
}
"""Board id -> device part name (Radiona ULX3S variants, LFE5U-xxF-6BG381C; LambdaConcept
ECPIX-5 variants, LFE5UM5G-xxF-8BG554).  The same ids as ``boards/platforms.py``."""

DEFAULT_BOARD = "ulx3s-85f"


def board_device(board: str) -> Device:
    """The device of board id ``board``; a one-sentence :class:`UserError` if unknown."""
    try:
        return DEVICES[BOARDS[board]]
    except KeyError:
        raise UserError(f"unknown board {board!r}; known boards: "
                        f"{', '.join(sorted(BOARDS))}") from None


def check_block_ram(config, device: Device) -> None:
    """Refuse, before a long synthesis, a lane setting whose memories cannot fit ``device``
    (the estimate matched every build to one block: 71 DP16KD at N=128, L=128, 70 placed with
    the committed weights, whose constant metadata bits Yosys drops; 53 at L=26, B=26)."""
    from hdl.bram import dp16kd_total, widest_fit

    need = dp16kd_total(config)
    if need <= device.dp16kd:
        return
    fit = widest_fit(config, device.dp16kd)
    hint = (f"try --lanes {fit.lanes} --block-size {fit.block_size} ({fit.dp16kd} DP16KD, "
            f"{fit.chunks} cycles per input spike)" if fit else "use a larger device")
    raise UserError(f"N={config.n_hidden} with {config.lanes} lanes and block size "
                    f"{config.block_size} needs about {need} DP16KD block RAMs and the "
                    f"{device.name} has {device.dp16kd}; {hint}")
