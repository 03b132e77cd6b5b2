"""The core's control interface: a 32-bit register bus shared by tests, board top and host.

Word addresses (``ADDRESS_WIDTH`` bits).  Writes take effect at the clock edge; a read returns
the register addressed in the previous cycle (``r_data`` is registered).

========================  ====  =========================================================
address                   R/W   contents
========================  ====  =========================================================
``IMAGE`` + w (0..195)    W     pixels ``4w .. 4w+3``, pixel ``4w+i`` in bits ``8i+7:8i``
``CONTROL``               R/W   W: bit 0 = 1 starts an image, or while busy queues it
                                (it starts as the running image finishes, its SCAN
                                overlapping that image's end; a second queued start is
                                ignored);
                                R: bit 0 busy, bit 1 done (an image finished; cleared by
                                the next start or queued start), bit 2 scanning (the image
                                memory is being read; once it reads 0 the next image may be
                                written while the core computes), bit 3 queued
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
                                hidden neurons, 31:24 block gating K (gate blocks with
                                fewer than K fired neurons; 0 = off, clamped to B);
                                0 = static mode
``CHECKPOINTS``           R/W   bits 7:0 checkpoint interval (steps; 0 acts as 1),
                                15:8 escalate margin, 23:16 exit margin (0 = never)
``RESULT``                R     bits 3:0 class of the last finished image
``INFO``                  R     bits 15:0 N, 23:16 t_max
``COUNTS`` + k (0..9)     R     output spike count of class k (last finished image)
``COUNTERS`` + i          R     event counter ``COUNTER_ORDER[i]`` (32 bits; last finished
                                image)
``MASK`` + k              R/W   hidden neuron mask bits ``32k+31 .. 32k`` (1 = on)
========================  ====  =========================================================

Write the mask, tau, T and the controller registers only while the core is idle (a queued
image runs with the registers of the running one), the image while idle or once
``SCANNING`` reads 0.  Back to back: write image k + 1 once image k has been scanned
(``SCANNING`` reads 0), queue it (a start write, which also clears ``done``), wait for
``done`` (image k is finished), read its results (they stay readable until image k + 1 is
done), and repeat.

The fields of every register are described once, as the layouts below (``*_FIELDS``); the
core's register file views bus words through them, and host code packs and unpacks register
values with :func:`pack` and :func:`unpack`.
"""

from __future__ import annotations

from amaranth.hdl import unsigned
from amaranth.lib import data, wiring
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
COUNTS = 0x110
COUNTERS = 0x120
MASK = 0x200
COUNTER_ORDER = (*COUNTER_NAMES, "cycles")
"""Counters readable at ``COUNTERS + i``: the contract's counters, then RTL cycles."""


def _fields(**fields: tuple[int, int]) -> data.FlexibleLayout:
    """A register layout from ``name=(msb, lsb)`` bit ranges (as in the table above)."""
    size = max(msb for msb, _ in fields.values()) + 1
    return data.FlexibleLayout(size, {name: data.Field(unsigned(msb - lsb + 1), lsb)
                                      for name, (msb, lsb) in fields.items()})


IMAGE_FIELDS = data.ArrayLayout(8, 4)
"""An ``IMAGE`` word: pixel ``4w + i`` in element ``i``."""
CONTROL_FIELDS = _fields(start=(0, 0))
"""A ``CONTROL`` write."""
STATUS_FIELDS = _fields(busy=(0, 0), done=(1, 1), scanning=(2, 2), queued=(3, 3))
"""A ``CONTROL`` read."""
PRECISION_FIELDS = _fields(hidden=(3, 0), out=(7, 4))
TAU_FIELDS = _fields(hidden=(6, 0), out=(14, 8))
TIMESTEPS_FIELDS = _fields(timesteps=(7, 0))
CONTROLLER_FIELDS = _fields(enable=(0, 0), start_hidden=(7, 4), start_out=(11, 8),
                            step_hidden=(14, 12), step_out=(18, 16), gate_idle=(20, 20),
                            gate_blocks=(31, 24))
CHECKPOINTS_FIELDS = _fields(interval=(7, 0), escalate_margin=(15, 8), exit_margin=(23, 16))
RESULT_FIELDS = _fields(label=(3, 0))
INFO_FIELDS = _fields(n_hidden=(15, 0), t_max=(23, 16))



def field_bits(layout: data.Layout) -> int:
    """The bits of a register that hold a field (the others are written as 0 and read 0)."""
    return sum(((1 << field.width) - 1) << field.offset for _, field in layout)


def pack(layout: data.Layout, **fields: int) -> int:
    """A register value from field values (fields left out are 0)."""
    return layout.const(fields).as_bits()


def unpack(layout: data.Layout, value: int) -> data.Const:
    """The fields of a register value (``.name`` gives an ``int``; other bits are ignored)."""
    return data.Const(layout, value & ((1 << layout.size) - 1))


START = pack(CONTROL_FIELDS, start=1)
"""``CONTROL`` write value that starts an image."""
BUSY, DONE, SCANNING, QUEUED = (pack(STATUS_FIELDS, **{name: 1})
                                 for name in ("busy", "done", "scanning", "queued"))
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
    control = pack(CONTROLLER_FIELDS, enable=1, start_hidden=ctl.start_bits_hidden,
                   start_out=ctl.start_bits_out, step_hidden=ctl.step_bits_hidden,
                   step_out=ctl.step_bits_out, gate_idle=int(ctl.gate_idle),
                   gate_blocks=ctl.gate_blocks)
    checkpoints = pack(CHECKPOINTS_FIELDS, interval=ctl.interval,
                       escalate_margin=ctl.escalate_margin, exit_margin=ctl.exit_margin)
    return control, checkpoints


def decode_controller(control: int, checkpoints: int, timesteps: int, t_max: int,
                      block_size: int) -> tuple[ControllerSettings | None,
                                                tuple[int, int] | None]:
    """What the RTL does with ``CONTROLLER``/``CHECKPOINTS`` register values, for T steps.

    Returns ``(controller, None)`` in dynamic mode with at least one checkpoint,
    ``(None, (bits_hidden, bits_out))`` when dynamic mode has no checkpoint inside the image
    (the start precisions then hold for the whole image), and ``(None, None)`` in static
    mode.  Clamps like the RTL: precisions into 2..8, steps to 6, interval 0 to 1; an exit
    margin above ``t_max`` can never be reached (acts as 0), an escalate margin above it
    always escalates (acts as ``t_max``: margins at checkpoints stay below T); a block
    gating K above ``block_size`` acts as ``block_size``.
    """
    control, checkpoints = unpack(CONTROLLER_FIELDS, control), unpack(CHECKPOINTS_FIELDS,
                                                                       checkpoints)
    if not control.enable:
        return None, None
    start_h, start_o = (min(max(bits, 2), 8) for bits in (control.start_hidden,
                                                          control.start_out))
    step_h, step_o = (min(step, MAX_ESCALATION) for step in (control.step_hidden,
                                                             control.step_out))
    interval = max(checkpoints.interval, 1)
    escalate, leave = checkpoints.escalate_margin, checkpoints.exit_margin
    if interval >= timesteps:
        return None, (start_h, start_o)
    return ControllerSettings(
        start_bits_hidden=start_h, start_bits_out=start_o, step_bits_hidden=step_h,
        step_bits_out=step_o, interval=interval, escalate_margin=min(escalate, t_max),
        exit_margin=leave if leave <= t_max else 0, gate_idle=bool(control.gate_idle),
        gate_blocks=min(control.gate_blocks, block_size)), None
