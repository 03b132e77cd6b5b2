"""Supported boards: id -> amaranth-boards platform, programmer cable, LEDs, serial port.

Board ids follow the project's convention (``ulx3s-85f``).  Adding a board is one entry here
when amaranth-boards has its platform with a ``uart`` resource (docs/boards.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from golden.errors import UserError

DEFAULT_BOARD = "ulx3s-85f"
DEFAULT_CLOCK_HZ = 45_000_000
"""Clock of the whole board top, core included (Hz).  3 Mbaud is an exact number of cycles a
bit from both the ULX3S' 25 MHz and the ECPIX-5's 100 MHz oscillator at 15, 30, 45, 60, 75
and 90 MHz; 45 MHz (15 cycles a bit) is the fastest of them that the routed ULX3S-85F top
meets (50.03 MHz, docs/boards.md; 60 MHz routes to 48.17 MHz), and the one the board tops are
simulated and built at.  The UART, not the clock, limits the demo."""
DEFAULT_BAUD = 3_000_000
"""UART bit rate: the most the ULX3S' FT231X supports."""


@dataclass(frozen=True)
class Board:
    """One board.

    Attributes
    ----------
    board_id : str
        Project id, e.g. ``"ulx3s-85f"``.
    platform : str
        amaranth-boards class, ``"module:Class"``.
    device : str
        FPGA part (must match the platform's).
    loader_board : str
        openFPGALoader ``-b`` name.
    usb_ids : tuple of (vid, pid)
        USB serial bridges that carry its UART (for port auto-detection).
    leds : str
        ``"single"`` (8 LEDs: class in 0..3, error 6, activity 7) or ``"rgb"`` (4 RGB LEDs:
        class on green, error on red of LED 0, activity on blue of LED 1).
    weights : str
        Default weights file (project-relative): N = 128 where it fits, else N = 48.
    banks : int
        Frame buffers (2 KiB of block RAM each) = frames the host keeps in flight.
    lanes : int or None
        Hidden neurons the core updates a cycle (None: a whole row, N).
    block_size : int
        Neurons per metadata block (docs/hdl.md, "Block RAM").
    patchable : bool
        Whether the routed placeholder design, whose weight memories are all block RAM, fits
        the device, so that weights are patched into one routed design; if not, every weights
        file is synthesized in (Yosys then keeps the small output-layer memories and the
        constant bits in logic).
    """

    board_id: str
    platform: str
    device: str
    loader_board: str
    usb_ids: tuple[tuple[int, int], ...]
    leds: str
    weights: str = "weights/mnist-784-128-10.npz"
    banks: int = 4
    lanes: int | None = None
    block_size: int = 16
    patchable: bool = True

    def platform_class(self):
        import importlib

        module, name = self.platform.split(":")
        return getattr(importlib.import_module(module), name)


_ULX3S_USB = ((0x0403, 0x6015),)  # FT231X
_ECPIX5_USB = ((0x0403, 0x6010),)  # FT2232H, UART on interface B

_SMALL = {12: dict(weights="weights/mnist-784-48-10.npz", banks=2, patchable=False),
          25: dict(weights="weights/mnist-784-128-10.npz", banks=2, lanes=26, block_size=26,
                   patchable=False)}
"""LFE5U-12F: 32 DP16KD hold N = 48 (29) and 2 frame buffers.  LFE5U-25F: 56 DP16KD hold
N = 128 at 26 lanes and blocks of 26 (53, docs/hdl.md) and 2 frame buffers; a whole row a
cycle (71) does not fit.  Neither holds the placeholder design, which puts every weight
memory in block RAM, the output layer's among them (the 25F top at N = 128 maps to 55
DP16KD with the weights synthesized in, docs/boards.md)."""

BOARDS = {
    **{f"ulx3s-{size}f": Board(f"ulx3s-{size}f",
                               f"amaranth_boards.ulx3s:ULX3S_{size}F_Platform",
                               f"LFE5U-{size}F", "ulx3s", _ULX3S_USB, "single",
                               **_SMALL.get(size, {}))
       for size in (12, 25, 45, 85)},
    **{f"ecpix5-{size}f": Board(f"ecpix5-{size}f",
                                f"amaranth_boards.ecpix5:ECPIX5{size}Platform",
                                f"LFE5UM5G-{size}F", "ecpix5", _ECPIX5_USB, "rgb")
       for size in (45, 85)},
}
"""Every supported board by id."""


def board(board_id: str) -> Board:
    """The board ``board_id``, or a one-sentence :class:`UserError` naming the known ones."""
    try:
        return BOARDS[board_id]
    except KeyError:
        raise UserError(f"unknown board {board_id!r}; supported boards: "
                        f"{', '.join(sorted(BOARDS))}") from None
