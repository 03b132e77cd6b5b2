"""Image memory, non-zero word list and the per-step sigma-delta input spike walker.

The host writes the 784 pixels as 196 words of 4 pixels (pixel ``4w + i`` in bits
``8i .. 8i+7`` of word ``w``).  ``scan`` reads one word (4 pixels) per cycle and appends every
word with a non-zero pixel to the list (``196 + 2`` cycles).  ``walk`` then streams, for step
``step``, the index of every spiking pixel of the listed words, lowest index first, one per
accepted cycle; a listed word with no spike at this step costs one cycle.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal, unsigned
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from golden.config import N_INPUTS
from hdl.logic import lowest_set_bit

PIXEL_BITS = 8
PIXELS_PER_WORD = 4
"""Pixels per image word, scanned per cycle and held per list entry."""
IMAGE_WORDS = N_INPUTS // PIXELS_PER_WORD
"""Words of one image (196)."""
WORD_BITS = PIXEL_BITS * PIXELS_PER_WORD


def spikes_at(pixel: int | Signal, step: Signal):
    """Sigma-delta spike of ``pixel`` at ``step``: ``((t+1)x+128)>>8 != (tx+128)>>8``."""
    before = step * pixel + 128
    return (before + pixel)[PIXEL_BITS:] != before[PIXEL_BITS:]


class EventList(wiring.Component):
    """Builds the non-zero word list of an image, then walks it once per time step.

    Parameters
    ----------
    t_max : int
        Largest time step count (sets the width of ``step``).

    Attributes
    ----------
    image_addr, image_data, image_we : In
        Host write port of the image memory (word address 0..195, 4 pixels per word).
    scan : In(1)
        Strobe: rebuild the list from the image memory.
    step : In
        Time step t (0-based) whose spikes ``walk`` produces.
    walk : In(1)
        Strobe: restart the walk at the first list entry.
    pixel, valid : Out
        The next spiking pixel (0..783) of this step; consumed when ``ready``.
    ready : In(1)
        The consumer takes ``pixel`` this cycle.
    idle : Out(1)
        Neither scanning nor walking (the walk of this step is exhausted).
    """

    def __init__(self, *, t_max: int):
        self._t_max = t_max
        super().__init__({
            "image_addr": In(range(IMAGE_WORDS)),
            "image_data": In(WORD_BITS),
            "image_we": In(1),
            "scan": In(1),
            "step": In(range(t_max + 1)),
            "walk": In(1),
            "pixel": Out(range(N_INPUTS)),
            "valid": Out(1),
            "ready": In(1),
            "idle": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        image = Memory(shape=unsigned(WORD_BITS), depth=IMAGE_WORDS, init=[])
        entries = Memory(shape=unsigned(WORD_BITS + 8), depth=IMAGE_WORDS, init=[])
        m.submodules.image = image
        m.submodules.entries = entries
        host_port = image.write_port()
        m.d.comb += [host_port.addr.eq(self.image_addr), host_port.data.eq(self.image_data),
                     host_port.en.eq(self.image_we)]

        # Scan: read word `scan_addr`; one cycle later append it if any pixel is non-zero.
        scanning, scan_addr = Signal(), Signal(range(IMAGE_WORDS + 1))
        appending, append_word = Signal(), Signal(range(IMAGE_WORDS))
        length = Signal(range(IMAGE_WORDS + 1))
        scan_port = image.read_port()
        append_port = entries.write_port()
        m.d.comb += [scan_port.addr.eq(scan_addr), scan_port.en.eq(1),
                     append_port.addr.eq(length), append_port.data.eq(Cat(scan_port.data,
                                                                          append_word)),
                     append_port.en.eq(appending & scan_port.data.any())]
        m.d.sync += [appending.eq(scanning), append_word.eq(scan_addr)]
        with m.If(append_port.en):
            m.d.sync += length.eq(length + 1)
        with m.If(self.scan):
            m.d.sync += [scanning.eq(1), scan_addr.eq(0), length.eq(0)]
        with m.Elif(scanning):
            m.d.sync += scan_addr.eq(scan_addr + 1)
            with m.If(scan_addr == IMAGE_WORDS - 1):
                m.d.sync += scanning.eq(0)

        # Walk: `fetched` is the entry at the read port's output; `pending` the spiking
        # pixels of the latched entry not yet consumed.
        walking, fetched = Signal(), Signal(range(IMAGE_WORDS + 1))
        pending, word = Signal(PIXELS_PER_WORD), Signal(range(IMAGE_WORDS))
        walk_port = entries.read_port()
        lane, one_hot = lowest_set_bit(m, pending, "spiking_pixel")
        issue = Signal()
        m.d.comb += [
            self.valid.eq(pending.any()),
            self.pixel.eq(word * PIXELS_PER_WORD + lane),
            issue.eq(self.valid & self.ready),
        ]
        remaining = Signal(PIXELS_PER_WORD)
        m.d.comb += remaining.eq(Mux(issue, pending & ~one_hot, pending))
        take = Signal()
        m.d.comb += take.eq(walking & (remaining == 0) & (fetched < length))
        m.d.comb += [walk_port.addr.eq(fetched + take), walk_port.en.eq(1)]
        new_pending = Cat(*[spikes_at(walk_port.data[PIXEL_BITS * i:PIXEL_BITS * (i + 1)],
                                      self.step) for i in range(PIXELS_PER_WORD)])
        with m.If(self.walk):
            m.d.comb += walk_port.addr.eq(0)
            m.d.sync += [walking.eq(1), fetched.eq(0), pending.eq(0)]
        with m.Elif(take):
            m.d.sync += [fetched.eq(fetched + 1), pending.eq(new_pending),
                         word.eq(walk_port.data[WORD_BITS:])]
        with m.Else():
            m.d.sync += pending.eq(remaining)
            with m.If(walking & (remaining == 0) & (fetched == length)):
                m.d.sync += walking.eq(0)
        m.d.comb += self.idle.eq(~scanning & ~appending & ~walking & ~pending.any())
        return m

