"""Image memory, non-zero word list and the per-step sigma-delta input spike walker.

The host writes the 784 pixels as 196 words of 4 pixels (pixel ``4w + i`` in bits
``8i .. 8i+7`` of word ``w``).  ``scan`` reads one word (4 pixels) per cycle and appends every
word with a non-zero pixel to the list (``196 + 3`` cycles).  ``walk`` then streams, for step
``step``, the index of every spiking pixel of the listed words, lowest index first, one per
accepted cycle, with the lane chunks of its weight row that are not skipped; a listed word
with no spike at this step (or none whose row has a chunk on) costs one cycle.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal, unsigned
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from golden.config import N_INPUTS
from golden.timing import (
    IMAGE_WORDS,
    PIXEL_BITS,
    PIXELS_PER_WORD,
)
from hdl.logic import any_of, lowest_set_bit, popcount

WORD_BITS = PIXEL_BITS * PIXELS_PER_WORD


FIFO_DEPTH = 7
"""Entries of the walk's prefetch FIFO (covers the 5-cycle prefetch pipeline)."""
LEVEL_BITS = 3
"""Bits of one chunk level (the bit length 0..7 of a chunk's largest block metadata)."""


def summary_image(levels, chunks: int) -> list[int]:
    """The chunk-summary memory image: per image word, per pixel ``i`` and chunk ``c``, the
    chunk level of row ``4w + i`` in bits ``3(iC + c) .. 3(iC + c) + 2`` (``levels`` uint8
    ``[784, chunks]``, :meth:`golden.geometry.LayerGeometry.chunk_levels`)."""
    image = []
    for w in range(IMAGE_WORDS):
        word = 0
        for i in range(PIXELS_PER_WORD):
            for c in range(chunks):
                word |= int(levels[PIXELS_PER_WORD * w + i][c]) << (
                    LEVEL_BITS * (i * chunks + c))
        image.append(word)
    return image


def spikes_at(pixel: int | Signal, step: Signal):
    """Sigma-delta spike of ``pixel`` at ``step``: ``((t+1)x+128)>>8 != (tx+128)>>8``."""
    return crossing(step * pixel, pixel)


def crossing(product, pixel):
    """The spike, given ``product = t * x``: ``(product + 128 + x) >> 8 != (product + 128)
    >> 8``."""
    before = product + 128
    return (before + pixel)[PIXEL_BITS:] != before[PIXEL_BITS:]


class EventList(wiring.Component):
    """Builds the non-zero word list of an image, then walks it once per time step.

    Parameters
    ----------
    t_max : int
        Largest time step count (sets the width of ``step``).
    levels : uint8 array ``[784, chunks]``
        Chunk levels of the hidden weights (:meth:`golden.geometry.LayerGeometry.
        chunk_levels`), baked into the chunk-summary memory.

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
    scanned : Out(1)
        Not scanning: the list is complete (a register).
    bits : In(4)
        Hidden precision of this step (2..8).
    chunk_live : In(chunks)
        Chunks with a block that has a neuron on.
    chunks_on : Out(chunks)
        The chunks of ``pixel``'s weight row that are not skipped: some block of the chunk
        has ``q_b(m) != 0`` and the chunk is live.  A spike whose row has none is never
        handed out (it costs no cycle); ``skipped`` counts it instead.
    skipped : Out(range(5))
        Spikes of one prefetched word whose rows have no chunk on (at most one word per
        cycle, each word once per walk).
    """

    def __init__(self, *, t_max: int, levels):
        self._t_max = t_max
        self._levels = levels
        self._chunks = chunks = len(levels[0])
        super().__init__({
            "bits": In(4),
            "chunk_live": In(chunks),
            "chunks_on": Out(chunks),
            "skipped": Out(range(PIXELS_PER_WORD + 1)),
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
            "scanned": Out(1, init=1),
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

        # Scan: read word `scan_addr`; the word is registered one cycle later and appended
        # in the next if any pixel is non-zero.
        scanning, scan_addr = Signal(), Signal(range(IMAGE_WORDS + 1))
        reading, read_word = Signal(), Signal(range(IMAGE_WORDS))
        appending, append_word = Signal(), Signal(range(IMAGE_WORDS))
        append_data = Signal(WORD_BITS)
        length = Signal(range(IMAGE_WORDS + 1))
        scan_port = image.read_port()
        append_port = entries.write_port()
        m.d.comb += [scan_port.addr.eq(scan_addr), scan_port.en.eq(1),
                     append_port.addr.eq(length),
                     append_port.data.eq(Cat(append_data, append_word)),
                     append_port.en.eq(appending & append_data.any())]
        m.d.sync += [reading.eq(scanning), read_word.eq(scan_addr),
                     appending.eq(reading), append_word.eq(read_word),
                     append_data.eq(scan_port.data)]
        with m.If(append_port.en):
            m.d.sync += length.eq(length + 1)
        scanning_next = Signal()
        m.d.comb += scanning_next.eq(scanning)
        with m.If(self.scan):
            m.d.comb += scanning_next.eq(1)
            m.d.sync += [scan_addr.eq(0), length.eq(0)]
        with m.Elif(scanning):
            m.d.sync += scan_addr.eq(scan_addr + 1)
            with m.If(scan_addr == IMAGE_WORDS - 1):
                m.d.comb += scanning_next.eq(0)
        # `scanned` is computed from the next scan flags: a register, not a decode.
        m.d.sync += [scanning.eq(scanning_next),
                     self.scanned.eq(~scanning_next & ~scanning & ~reading)]

        # Walk.  A prefetch pipeline reads the list in order (entry read, registered, the
        # products t * x registered, the spike bits registered) into a small FIFO, at most
        # one entry per cycle and only as far as the FIFO has room; the walker takes its next
        # entry from the FIFO head.  The FIFO never runs dry once filled (the walker takes at
        # most one entry per cycle), so the walk is the unpipelined walk delayed by
        # WALK_LATENCY cycles.  `pending` holds the spiking pixels of the latched entry not
        # yet consumed.
        walking, walk = Signal(), Signal()
        m.d.sync += walk.eq(self.walk)
        issued, consumed = Signal(range(IMAGE_WORDS + 1)), Signal(range(IMAGE_WORDS + 1))
        pending, word = Signal(PIXELS_PER_WORD), Signal(range(IMAGE_WORDS))
        walk_port = entries.read_port()
        stage_valid = [Signal(name=f"prefetch{i}_valid") for i in range(1, 6)]
        data2 = Signal(WORD_BITS + 8)
        products = [Signal(PIXEL_BITS + len(self.step), name=f"product{i}")
                    for i in range(PIXELS_PER_WORD)]
        pixels3, word3 = Signal(WORD_BITS), Signal(range(IMAGE_WORDS))
        spikes4, word4 = Signal(PIXELS_PER_WORD), Signal(range(IMAGE_WORDS))
        chunks = self._chunks
        flag_bits = PIXELS_PER_WORD * chunks
        summary = Memory(shape=unsigned(LEVEL_BITS * flag_bits), depth=IMAGE_WORDS,
                         init=summary_image(self._levels, chunks))
        m.submodules.chunk_summary = summary
        summary_port = summary.read_port()
        summary4 = Signal(LEVEL_BITS * flag_bits)
        spikes5, word5 = Signal(PIXELS_PER_WORD), Signal(range(IMAGE_WORDS))
        flags5 = Signal(flag_bits)
        fifo_spikes = [Signal(PIXELS_PER_WORD, name=f"fifo{i}_spikes")
                       for i in range(FIFO_DEPTH)]
        fifo_flags = [Signal(flag_bits, name=f"fifo{i}_flags") for i in range(FIFO_DEPTH)]
        fifo_word = [Signal(range(IMAGE_WORDS), name=f"fifo{i}_word") for i in range(FIFO_DEPTH)]
        fifo_count = Signal(range(FIFO_DEPTH + 1))
        in_flight = Signal(range(len(stage_valid) + 1))
        m.d.comb += in_flight.eq(sum(stage_valid))

        issue_read = Signal()
        m.d.comb += [
            issue_read.eq(Mux(walk, length != 0,
                              walking & (issued < length)
                              & (in_flight + fifo_count < FIFO_DEPTH))),
            # Entry 0 is at the port whenever no walk runs: the walk strobe (a long path
            # from the sequencer) never reaches the address.
            walk_port.addr.eq(Mux(walking, issued, 0)), walk_port.en.eq(1),
        ]
        pixel_of = [slice(PIXEL_BITS * i, PIXEL_BITS * (i + 1)) for i in range(PIXELS_PER_WORD)]
        m.d.sync += [
            stage_valid[0].eq(issue_read), data2.eq(walk_port.data),
            stage_valid[1].eq(stage_valid[0]),
            stage_valid[2].eq(stage_valid[1]), pixels3.eq(data2[:WORD_BITS]),
            word3.eq(data2[WORD_BITS:]),
            *[p.eq(self.step * data2[pixel_of[i]]) for i, p in enumerate(products)],
            stage_valid[3].eq(stage_valid[2]), word4.eq(word3),
            spikes4.eq(Cat(*[crossing(p, pixels3[pixel_of[i]])
                             for i, p in enumerate(products)])),
            summary4.eq(summary_port.data),
        ]
        # The chunk summary of the word's four rows is read with the registered entry; the
        # next stage keeps the chunks that are on at this precision and live, and drops the
        # spikes whose rows have none (counted in `skipped`).
        m.d.comb += [summary_port.addr.eq(data2[WORD_BITS:]), summary_port.en.eq(stage_valid[1])]
        flags, row_on = [], []
        for i in range(PIXELS_PER_WORD):
            pixel_flags = []
            for c in range(chunks):
                k = i * chunks + c
                level = summary4[LEVEL_BITS * k:LEVEL_BITS * (k + 1)]
                pixel_flags.append((level + self.bits > 8) & self.chunk_live[c])
            flags.extend(pixel_flags)
            row_on.append(any_of(pixel_flags))
        dropped = Cat(*[spikes4[i] & ~row_on[i] for i in range(PIXELS_PER_WORD)])
        m.d.sync += [
            stage_valid[4].eq(stage_valid[3]), word5.eq(word4), flags5.eq(Cat(*flags)),
            spikes5.eq(spikes4 & Cat(*row_on)),
            self.skipped.eq(Mux(stage_valid[3], popcount(dropped), 0)),
        ]
        with m.If(issue_read):
            m.d.sync += issued.eq(issued + 1)

        # FIFO: a ring of FIFO_DEPTH entries.  Every prefetch output is written at the write
        # pointer (always a free entry: the reads are issued only as far as the FIFO has
        # room), so no entry's write depends on `take`; it counts as pushed unless the walker
        # takes it directly (FIFO empty).  The head is the entry at the read pointer.
        read_ptr, write_ptr = Signal(range(FIFO_DEPTH)), Signal(range(FIFO_DEPTH))
        with m.If(stage_valid[4]):
            for i in range(FIFO_DEPTH):
                with m.If(write_ptr == i):
                    m.d.sync += [fifo_spikes[i].eq(spikes5), fifo_word[i].eq(word5),
                                 fifo_flags[i].eq(flags5)]
        head_valid = Signal()
        head_spikes, head_word = Signal(PIXELS_PER_WORD), Signal(range(IMAGE_WORDS))
        head_flags = Signal(flag_bits)
        stored_spikes, stored_word = Signal.like(head_spikes), Signal.like(head_word)
        stored_flags = Signal.like(head_flags)
        with m.Switch(read_ptr):
            for i in range(FIFO_DEPTH):
                with m.Case(i):
                    m.d.comb += [stored_spikes.eq(fifo_spikes[i]), stored_word.eq(fifo_word[i]),
                                 stored_flags.eq(fifo_flags[i])]
        m.d.comb += [
            head_valid.eq((fifo_count != 0) | stage_valid[4]),
            head_spikes.eq(Mux(fifo_count != 0, stored_spikes, spikes5)),
            head_word.eq(Mux(fifo_count != 0, stored_word, word5)),
            head_flags.eq(Mux(fifo_count != 0, stored_flags, flags5)),
        ]

        lane, one_hot = lowest_set_bit(m, pending, "spiking_pixel")
        issue = Signal()
        word_flags = Signal(flag_bits)
        m.d.comb += [
            self.valid.eq(pending.any()),
            self.pixel.eq(word * PIXELS_PER_WORD + lane),
            self.chunks_on.eq(word_flags.word_select(lane, chunks)),
            issue.eq(self.valid & self.ready),
        ]
        remaining = Signal(PIXELS_PER_WORD)
        m.d.comb += remaining.eq(Mux(issue, pending & ~one_hot, pending))
        take = Signal()
        m.d.comb += take.eq(walking & (remaining == 0) & head_valid)

        pop = take & (fifo_count != 0)
        push = stage_valid[4] & ~(take & (fifo_count == 0))
        with m.If(pop):
            m.d.sync += read_ptr.eq(Mux(read_ptr == FIFO_DEPTH - 1, 0, read_ptr + 1))
        with m.If(push):
            m.d.sync += write_ptr.eq(Mux(write_ptr == FIFO_DEPTH - 1, 0, write_ptr + 1))
        m.d.sync += fifo_count.eq(fifo_count - pop + push)

        with m.If(walk):
            m.d.sync += [walking.eq(1), issued.eq(length != 0), consumed.eq(0),
                         pending.eq(0)]
        with m.Elif(take):
            m.d.sync += [consumed.eq(consumed + 1), pending.eq(head_spikes),
                         word.eq(head_word), word_flags.eq(head_flags)]
        with m.Else():
            m.d.sync += pending.eq(remaining)
            with m.If(walking & (remaining == 0) & (consumed == length)):
                m.d.sync += walking.eq(0)
        m.d.comb += self.idle.eq(~scanning & ~reading & ~appending & ~walk & ~walking
                                 & ~pending.any())
        return m
