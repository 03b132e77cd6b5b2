"""The core's control interface: a 32-bit register bus shared by tests, board top and host.

Word addresses (``ADDRESS_WIDTH`` bits).  Writes take effect at the clock edge; a read returns
the register addressed in the previous cycle (``r_data`` is registered).

========================  ====  =========================================================
address                   R/W   contents
========================  ====  =========================================================
``IMAGE`` + w (0..195)    W     pixels ``4w .. 4w+3``, pixel ``4w+i`` in bits ``8i+7:8i``
``CONTROL``               R/W   W: bit 0 = 1 starts an image (ignored while busy);
                                R: bit 0 busy, bit 1 done (cleared by the next start),
                                bit 2 scanning (the image memory is being read; once it
                                reads 0 the next image may be written while the core
                                computes)
``PRECISION``             R/W   bits 3:0 hidden precision, 7:4 output precision (2..8;
                                writes are clamped into 2..8); may change between steps;
                                reads the precision in force (in dynamic mode the
                                controller's)
``TAU``                   R/W   bits 6:0 hidden tau, 14:8 output tau (0..127, 0 = off)
``TIMESTEPS``             R/W   bits 7:0 T (writes clamped into 1..t_max)
``CONTROLLER``            R/W   dynamic mode (docs/controller.md): bit 0 enable,
                                7:4 start precision hidden, 11:8 start precision output
                                (clamped into 2..8), 14:12 / 18:16 escalation step
                                hidden / output (bits, 7 clamped to 6), bit 20 gate idle
                                hidden neurons; 0 = static mode
``CHECKPOINTS``           R/W   bits 7:0 checkpoint interval (steps; 0 acts as 1),
                                15:8 escalate margin, 23:16 exit margin (0 = never)
``RESULT``                R     bits 3:0 class of the last image
``INFO``                  R     bits 15:0 N, 23:16 t_max
``COUNTS`` + k (0..9)     R     output spike count of class k
``COUNTERS`` + i          R     event counter ``COUNTER_ORDER[i]`` (32 bits)
``MASK`` + k              R/W   hidden neuron mask bits ``32k+31 .. 32k`` (1 = on)
========================  ====  =========================================================

Write the mask, tau, T and the controller registers only while the core is idle, the image
while idle or once ``SCANNING`` reads 0.
"""

from __future__ import annotations

from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from golden.config import MAX_ESCALATION, ControllerSettings, RunSettings
from golden.reference import COUNTER_NAMES

ADDRESS_WIDTH = 10
DATA_WIDTH = 32
IMAGE = 0x000
CONTROL = 0x100
PRECISION = 0x101
TAU = 0x102
TIMESTEPS = 0x103
RESULT = 0x104
INFO = 0x105
CONTROLLER = 0x106
CHECKPOINTS = 0x107
CONTROLLER_FIELDS = 0x177FF1
"""Bits of ``CONTROLLER`` that hold a field (the others read 0)."""
CONTROLLER_WIDTH = CONTROLLER_FIELDS.bit_length()
CHECKPOINTS_WIDTH = 24
COUNTS = 0x110
COUNTERS = 0x120
MASK = 0x200
COUNTER_ORDER = (*COUNTER_NAMES, "cycles")
"""Counters readable at ``COUNTERS + i``: the contract's counters, then RTL cycles."""
START = 1
"""``CONTROL`` write value that starts an image."""
BUSY, DONE, SCANNING = 1, 2, 4
"""``CONTROL`` read bits."""


class ControlBus(wiring.Signature):
    """Register bus, initiator view: ``addr``, ``w_data``, ``w_en`` out, ``r_data`` in."""

    def __init__(self):
        super().__init__({
            "addr": Out(ADDRESS_WIDTH),
            "w_data": Out(DATA_WIDTH),
            "w_en": Out(1),
            "r_data": In(DATA_WIDTH),
        })


def mask_words(n_hidden: int) -> int:
    """Bus words of the hidden neuron mask."""
    return -(-n_hidden // DATA_WIDTH)


def controller_words(settings: RunSettings) -> tuple[int, int]:
    """``(CONTROLLER, CHECKPOINTS)`` register values for ``settings`` ((0, 0) = static)."""
    ctl = settings.controller
    if ctl is None:
        return 0, 0
    control = (1 | ctl.start_bits_hidden << 4 | ctl.start_bits_out << 8
               | ctl.step_bits_hidden << 12 | ctl.step_bits_out << 16 | int(ctl.gate_idle) << 20)
    checkpoints = ctl.interval | ctl.escalate_margin << 8 | ctl.exit_margin << 16
    return control, checkpoints


def decode_controller(control: int, checkpoints: int, timesteps: int,
                      t_max: int) -> tuple[ControllerSettings | None, tuple[int, int] | None]:
    """What the RTL does with ``CONTROLLER``/``CHECKPOINTS`` register values, for T steps.

    Returns ``(controller, None)`` in dynamic mode with at least one checkpoint,
    ``(None, (bits_hidden, bits_out))`` when dynamic mode has no checkpoint inside the image
    (the start precisions then hold for the whole image), and ``(None, None)`` in static
    mode.  Clamps like the RTL: precisions into 2..8, steps to 6, interval 0 to 1; an exit
    margin above ``t_max`` can never be reached (acts as 0), an escalate margin above it
    always escalates (acts as ``t_max``: margins at checkpoints stay below T).
    """
    if not control & 1:
        return None, None
    start_h, start_o = (min(max(control >> s & 0xF, 2), 8) for s in (4, 8))
    step_h, step_o = (min(control >> s & 0x7, MAX_ESCALATION) for s in (12, 16))
    interval = max(checkpoints & 0xFF, 1)
    escalate, leave = checkpoints >> 8 & 0xFF, checkpoints >> 16 & 0xFF
    if interval >= timesteps:
        return None, (start_h, start_o)
    return ControllerSettings(
        start_bits_hidden=start_h, start_bits_out=start_o, step_bits_hidden=step_h,
        step_bits_out=step_o, interval=interval, escalate_margin=min(escalate, t_max),
        exit_margin=leave if leave <= t_max else 0, gate_idle=bool(control >> 20 & 1)), None
