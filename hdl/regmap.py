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
                                writes are clamped into 2..8); may change between steps
``TAU``                   R/W   bits 6:0 hidden tau, 14:8 output tau (0..127, 0 = off)
``TIMESTEPS``             R/W   bits 7:0 T (writes clamped into 1..t_max)
``RESULT``                R     bits 3:0 class of the last image
``INFO``                  R     bits 15:0 N, 23:16 t_max
``COUNTS`` + k (0..9)     R     output spike count of class k
``COUNTERS`` + i          R     event counter ``COUNTER_ORDER[i]`` (32 bits)
``MASK`` + k              R/W   hidden neuron mask bits ``32k+31 .. 32k`` (1 = on)
========================  ====  =========================================================

Write the mask, tau and T only while the core is idle, the image while idle or once
``SCANNING`` reads 0.
"""

from __future__ import annotations

from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

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
