"""Image memory, non-zero word list and the per-step sigma-delta input spike walker.

The host writes the 784 pixels as 196 words of 4 pixels (pixel ``4w + i`` in bits
``8i .. 8i+7`` of word ``w``).  The list holds *list words* of ``4 E`` pixels (``E`` the
events per cycle, 1 or 2: one or two image words).  ``scan`` reads one list word per cycle
and appends every one with a non-zero pixel to the list (``784 / 4E + 3`` cycles).  ``walk``
then streams, for step ``step``, the index of every spiking pixel of the listed words, lowest
index first, up to ``E`` per accepted cycle.  With ``E = 1`` each comes with the lane chunks of
its weight row that are not skipped, and a listed word with no spike at this step (or none
whose row has a chunk on) costs one cycle; with ``E = 2`` (one chunk per row) such a word is
dropped before the walker and costs no cycle of its own.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from golden.config import N_INPUTS
from golden.timing import (
    IMAGE_WORDS,
    PIXEL_BITS,
    PIXELS_PER_WORD,
)
from hdl.logic import FANOUT_COPY, any_of, lowest_set_bit, popcount, spike_sequence

WORD_BITS = PIXEL_BITS * PIXELS_PER_WORD


FIFO_DEPTH = 7
"""Entries of the walk's prefetch FIFO with one event per cycle (covers the 5-cycle prefetch
pipeline)."""
FIFO_SLICE_BITS = 8
"""Bits of the E = 2 walk FIFO per column slice (each slice has its own copy of the read
pointer, so a pointer drives a few LUT RAM cells and read multiplexers, not all of them)."""
LEVEL_BITS = 3
"""Bits of one chunk level (the bit length 0..7 of a chunk's largest block metadata)."""


def summary_image(levels, chunks: int, pixels: int = PIXELS_PER_WORD) -> list[int]:
    """The chunk-summary memory image: per list word ``w`` of ``pixels`` pixels, per pixel
    ``i`` and chunk ``c``, the chunk level of row ``pixels * w + i`` in bits ``3(iC + c) ..
    3(iC + c) + 2`` (``levels`` uint8 ``[784, chunks]``,
    :meth:`golden.geometry.LayerGeometry.chunk_levels`)."""
    image = []
    for w in range(N_INPUTS // pixels):
        word = 0
        for i in range(pixels):
            for c in range(chunks):
                word |= int(levels[pixels * w + i][c]) << (LEVEL_BITS * (i * chunks + c))
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
    events_per_cycle : int
        E, spiking pixels handed out per accepted cycle (1, or 2 with one chunk per row).

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
    pixel, valid : Out(ArrayLayout(range(784), E)), Out(E)
        The next up to E spiking pixels (0..783) of this step, valid ones first; consumed
        when ``ready``.
    ready : In(1)
        The consumer takes the valid ``pixel`` entries this cycle.
    idle : Out(1)
        Neither scanning nor walking (the walk of this step is exhausted).
    scanned : Out(1)
        Not scanning: the list is complete (a register).
    bits : In(4)
        Hidden precision of this step (2..8).
    chunk_live : In(chunks)
        Chunks with a block that has a neuron on.
    chunks_on : Out(chunks)
        The chunks of ``pixel[0]``'s weight row that are not skipped: some block of the
        chunk has ``q_b(m) != 0`` and the chunk is live.  A spike whose row has none is never
        handed out (it costs no cycle); ``skipped`` counts it instead.
    skipped : Out(range(4E + 1))
        Spikes of one prefetched list word whose rows have no chunk on (at most one word per
        cycle, each word once per walk).
    """

    def __init__(self, *, t_max: int, levels, events_per_cycle: int = 1):
        self._t_max = t_max
        self._levels = levels
        self._chunks = chunks = len(levels[0])
        if events_per_cycle not in (1, 2) or (events_per_cycle > 1 and chunks > 1):
            raise ValueError(f"events_per_cycle must be 1, or 2 with one chunk per row, not "
                             f"{events_per_cycle!r} with {chunks} chunks")
        self._events = events_per_cycle
        self._pixels = pixels = PIXELS_PER_WORD * events_per_cycle
        self._fifo_depth = FIFO_DEPTH if events_per_cycle == 1 else N_INPUTS // pixels
        super().__init__({
            "bits": In(4),
            "chunk_live": In(chunks),
            "chunks_on": Out(chunks),
            "skipped": Out(range(pixels + 1)),
            "image_addr": In(range(IMAGE_WORDS)),
            "image_data": In(WORD_BITS),
            "image_we": In(1),
            "scan": In(1),
            "step": In(range(t_max + 1)),
            "walk": In(1),
            "pixel": Out(data.ArrayLayout(range(N_INPUTS), events_per_cycle)),
            "valid": Out(events_per_cycle),
            "ready": In(1),
            "idle": Out(1),
            "scanned": Out(1, init=1),
        })

    def elaborate(self, platform):
        m = Module()
        events, pixels = self._events, self._pixels
        words = N_INPUTS // pixels
        list_bits = PIXEL_BITS * pixels
        image = Memory(shape=unsigned(list_bits), depth=words, init=[])
        entries = Memory(shape=unsigned(list_bits + 8), depth=words, init=[])
        m.submodules.image = image
        m.submodules.entries = entries
        if events == 1:
            host_port = image.write_port()
            m.d.comb += [host_port.addr.eq(self.image_addr), host_port.data.eq(self.image_data),
                         host_port.en.eq(self.image_we)]
        else:
            # Image word `a` is half `a & 1` of list word `a >> 1`.
            host_port = image.write_port(granularity=WORD_BITS)
            m.d.comb += [host_port.addr.eq(self.image_addr >> 1),
                         host_port.data.eq(Cat(self.image_data, self.image_data)),
                         host_port.en.eq(Cat(self.image_we & ~self.image_addr[0],
                                             self.image_we & self.image_addr[0]))]

        # Scan: read word `scan_addr`; the word is registered one cycle later and appended
        # in the next if any pixel is non-zero.
        scanning, scan_addr = Signal(), Signal(range(words + 1))
        reading, read_word = Signal(), Signal(range(words))
        appending, append_word = Signal(), Signal(range(words))
        append_data = Signal(list_bits)
        length = Signal(range(words + 1))
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
            with m.If(scan_addr == words - 1):
                m.d.comb += scanning_next.eq(0)
        # `scanned` is computed from the next scan flags: a register, not a decode.
        m.d.sync += [scanning.eq(scanning_next),
                     self.scanned.eq(~scanning_next & ~scanning & ~reading)]

        # Walk.  A prefetch pipeline reads the list in order (entry read, registered, the
        # products t * x registered, the spike bits registered) into a small FIFO, at most
        # one entry per cycle and only as far as the FIFO has room; the walker takes its next
        # entry from the FIFO head.  With E = 1 every entry enters the FIFO and the FIFO never
        # runs dry once filled (the walker takes at most one entry per cycle), so the walk is
        # the unpipelined walk delayed by WALK_LATENCY cycles; with E = 2 an entry with no
        # spike left does not enter it (golden.cycle_model simulates this walk cycle by
        # cycle).
        walking, walk = Signal(), Signal()
        m.d.sync += walk.eq(self.walk)
        issued = Signal(range(words + 1))
        walk_port = entries.read_port()
        stage_valid = [Signal(name=f"prefetch{i}_valid") for i in range(1, 6)]
        data2 = Signal(list_bits + 8)
        products = [Signal(PIXEL_BITS + len(self.step), name=f"product{i}")
                    for i in range(pixels)]
        pixels3, word3 = Signal(list_bits), Signal(range(words))
        spikes4, word4 = Signal(pixels), Signal(range(words))
        chunks = self._chunks
        flag_bits = pixels * chunks
        summary = Memory(shape=unsigned(LEVEL_BITS * flag_bits), depth=words,
                         init=summary_image(self._levels, chunks, pixels))
        m.submodules.chunk_summary = summary
        summary_port = summary.read_port()
        spikes5, word5 = Signal(pixels), Signal(range(words))
        flags5 = Signal(flag_bits)
        fifo_count = Signal(range(self._fifo_depth + 1))
        in_flight = Signal(range(len(stage_valid) + 1))
        m.d.comb += in_flight.eq(sum(stage_valid))

        issue_read = Signal()
        room = in_flight + fifo_count < FIFO_DEPTH if events == 1 else 1
        m.d.comb += [
            issue_read.eq(Mux(walk, length != 0, walking & (issued < length) & room)),
            # Entry 0 is at the port whenever no walk runs: the walk strobe (a long path
            # from the sequencer) never reaches the address.
            walk_port.addr.eq(Mux(walking, issued, 0)), walk_port.en.eq(1),
        ]
        pixel_of = [slice(PIXEL_BITS * i, PIXEL_BITS * (i + 1)) for i in range(pixels)]
        spikes3 = Signal(pixels)
        m.d.comb += spikes3.eq(Cat(*[crossing(p, pixels3[pixel_of[i]])
                                     for i, p in enumerate(products)]))
        m.d.sync += [
            stage_valid[0].eq(issue_read), data2.eq(walk_port.data),
            stage_valid[1].eq(stage_valid[0]),
            stage_valid[2].eq(stage_valid[1]), pixels3.eq(data2[:list_bits]),
            word3.eq(data2[list_bits:]),
            *[p.eq(self.step * data2[pixel_of[i]]) for i, p in enumerate(products)],
            stage_valid[3].eq(stage_valid[2]), word4.eq(word3),
            spikes4.eq(spikes3),
            stage_valid[4].eq(stage_valid[3]), word5.eq(word4),
        ]
        # The chunk summary of the word's rows is read with the registered entry (E = 1) or
        # the entry (E = 2); the chunks that are on at this precision and live are kept, and
        # the spikes whose rows have none are dropped (counted in `skipped`).
        if events == 1:
            m.d.comb += [summary_port.addr.eq(data2[list_bits:]),
                         summary_port.en.eq(stage_valid[1])]
        else:
            m.d.comb += [summary_port.addr.eq(walk_port.data[list_bits:]),
                         summary_port.en.eq(stage_valid[0])]

        def chunk_flags(summary):
            flags, row_on = [], []
            for i in range(pixels):
                pixel_flags = []
                for c in range(chunks):
                    k = i * chunks + c
                    level = summary[LEVEL_BITS * k:LEVEL_BITS * (k + 1)]
                    pixel_flags.append((level + self.bits > 8) & self.chunk_live[c])
                flags.extend(pixel_flags)
                row_on.append(any_of(pixel_flags))
            return flags, Cat(*row_on)

        with m.If(issue_read):
            m.d.sync += issued.eq(issued + 1)
        with m.If(walk):
            m.d.sync += [walking.eq(1), issued.eq(length != 0)]
        if events == 1:
            summary4 = Signal(LEVEL_BITS * flag_bits)
            m.d.sync += summary4.eq(summary_port.data)
            flags, row_on = chunk_flags(summary4)
            m.d.sync += [flags5.eq(Cat(*flags)), spikes5.eq(spikes4 & row_on)]
        else:
            # One chunk per row: the rows' flags are registered a stage ahead of the spikes,
            # the spikes kept are registered beside them, then as the sequence of their lanes
            # (lowest first), so that the walker needs no priority logic of its own.
            row_on3, row_on, kept4 = Signal(pixels), Signal(pixels), Signal(pixels)
            m.d.sync += [row_on3.eq(chunk_flags(summary_port.data)[1]), row_on.eq(row_on3),
                         kept4.eq(spikes3 & row_on3)]
            lanes, present = spike_sequence(m, kept4, "kept")
            kept = SpikeSequence(pixels, words, "kept5")
            # (`arriving`: an entry with a spike arrives, registered beside it.)
            arriving = Signal(name="arriving5")
            m.d.sync += [*[a.eq(b) for a, b in zip(kept.lanes, lanes, strict=True)],
                         *[a.eq(b) for a, b in zip(kept.present, present, strict=True)],
                         kept.word.eq(word4), arriving.eq(stage_valid[3] & present[0])]
        m.d.sync += self.skipped.eq(Mux(stage_valid[3], popcount(spikes4 & ~row_on), 0))

        if events == 1:
            pending_any = self._walk_singles(
                m, walk=walk, walking=walking, length=length, arriving=stage_valid[4],
                entry=(spikes5, word5, flags5), fifo_count=fifo_count)
        else:
            pending_any = self._walk_pairs(
                m, walk=walk, walking=walking, arriving=arriving,
                kept=kept, prefetched=(issued == length) & ~any_of(stage_valid))
        m.d.comb += self.idle.eq(~scanning & ~reading & ~appending & ~walk & ~walking
                                 & ~pending_any)
        return m

    def _walk_singles(self, m: Module, *, walk, walking, length, arriving, entry, fifo_count):
        """E = 1: a ring of FIFO_DEPTH entries (every prefetched entry enters it) and a
        walker that hands out the lowest pending pixel and latches the head entry once
        nothing is pending after this cycle.  Returns whether a pixel is pending."""
        pixels, chunks = self._pixels, self._chunks
        words = N_INPUTS // pixels
        spikes5, word5, flags5 = entry
        flag_bits = len(flags5)
        # Every prefetch output is written at the write pointer (always a free entry: the
        # reads are issued only as far as the FIFO has room), so no entry's write depends on
        # `take`.  The head is the entry at the read pointer.
        fifo_spikes = [Signal(pixels, name=f"fifo{i}_spikes") for i in range(FIFO_DEPTH)]
        fifo_flags = [Signal(flag_bits, name=f"fifo{i}_flags") for i in range(FIFO_DEPTH)]
        fifo_word = [Signal(range(words), name=f"fifo{i}_word") for i in range(FIFO_DEPTH)]
        stored_spikes, stored_word = Signal(pixels), Signal(range(words))
        stored_flags = Signal(flag_bits)
        read_ptr, write_ptr = Signal(range(FIFO_DEPTH)), Signal(range(FIFO_DEPTH))
        with m.If(arriving):
            for i in range(FIFO_DEPTH):
                with m.If(write_ptr == i):
                    m.d.sync += [fifo_spikes[i].eq(spikes5), fifo_word[i].eq(word5),
                                 fifo_flags[i].eq(flags5)]
        with m.Switch(read_ptr):
            for i in range(FIFO_DEPTH):
                with m.Case(i):
                    m.d.comb += [stored_spikes.eq(fifo_spikes[i]), stored_word.eq(fifo_word[i]),
                                 stored_flags.eq(fifo_flags[i])]
        head_valid = (fifo_count != 0) | arriving
        head_spikes = Mux(fifo_count != 0, stored_spikes, spikes5)
        head_word = Mux(fifo_count != 0, stored_word, word5)
        head_flags = Mux(fifo_count != 0, stored_flags, flags5)

        pending, word = Signal(pixels), Signal(range(words))
        word_flags, remaining = Signal(flag_bits), Signal(pixels)
        consumed = Signal(range(words + 1))
        lane, one_hot = lowest_set_bit(m, pending, "spiking_pixel")
        take = Signal()
        m.d.comb += [self.valid[0].eq(pending.any()),
                     self.pixel[0].eq(Cat(lane, word)),
                     self.chunks_on.eq(word_flags.word_select(lane, chunks)),
                     remaining.eq(Mux(self.ready, pending & ~one_hot, pending)),
                     take.eq(walking & (remaining == 0) & head_valid)]
        # The head is popped when taken from a non-empty FIFO; an arriving entry is pushed
        # unless the walker takes it directly (FIFO empty).
        pop = take & (fifo_count != 0)
        push = arriving & ~(take & (fifo_count == 0))
        with m.If(pop):
            m.d.sync += read_ptr.eq(Mux(read_ptr == FIFO_DEPTH - 1, 0, read_ptr + 1))
        with m.If(push):
            m.d.sync += write_ptr.eq(Mux(write_ptr == FIFO_DEPTH - 1, 0, write_ptr + 1))
        m.d.sync += fifo_count.eq(fifo_count - pop + push)
        # The walk is over when every entry has been taken.
        with m.If(walk):
            m.d.sync += [consumed.eq(0), pending.eq(0)]
        with m.Elif(take):
            m.d.sync += [consumed.eq(consumed + 1), pending.eq(head_spikes),
                         word.eq(head_word), word_flags.eq(head_flags)]
        with m.Else():
            m.d.sync += pending.eq(remaining)
            with m.If(walking & (remaining == 0) & (consumed == length)):
                m.d.sync += walking.eq(0)
        return pending.any()

    def _walk_pairs(self, m: Module, *, walk, walking, arriving, kept, prefetched):
        """E = 2: a FIFO with a place for every list word (LUT RAM, read asynchronously), so
        the reads are never held back (a walker held up by long words would otherwise delay
        every later read, and a run of silent words after it would then cost cycles that
        depend on that history).  The walker hands out the two lowest spikes of the pending
        word followed by the head entry (a word's odd spike pairs with the next word's
        first) and takes the head (one entry per cycle) in every cycle that leaves nothing
        pending.  The walk is over once every entry is read, prefetched (``prefetched``) and
        taken or dropped.  Returns whether a spike is pending."""
        pixels = self._pixels
        words = N_INPUTS // pixels
        # Entry: the lane sequence, present[1:] (present[0] holds for every entry) and word.
        # The pointers start at 0 with every walk (a walk writes each place at most once).
        # The FIFO's first entry is a register (`stored`), loaded with the entry after it
        # when it is popped (or with the arriving entry): the LUT RAM read ends in a
        # register, not in the walker's logic.  The FIFO is kept in column slices, each read
        # at its own copy of the pointer past the first entry: one pointer driving every LUT
        # RAM cell and read multiplexer was a critical path.
        write_ptr = Signal(range(self._fifo_depth))
        # `read_after` = the first entry's place + 1, a register of its own: the last entry
        # is popped when it equals the write pointer (a compare of two registers, not of a
        # sum).
        read_after = Signal.like(write_ptr, init=1)
        stored = SpikeSequence(pixels, words, "stored")
        following = Signal(len(stored.fields(skip_first=True)))  # the entry after the first
        entry_bits = len(kept.fields(skip_first=True))
        slices = [(lo, min(lo + FIFO_SLICE_BITS, entry_bits))
                  for lo in range(0, entry_bits, FIFO_SLICE_BITS)]
        read_ptrs = [Signal.like(read_after, name=f"read_after{i}", attrs={FANOUT_COPY: 1})
                     for i in range(len(slices))]
        for i, ((lo, hi), read_ptr) in enumerate(zip(slices, read_ptrs, strict=True)):
            fifo = Memory(shape=unsigned(hi - lo), depth=self._fifo_depth, init=[])
            m.submodules[f"walk_fifo{i}"] = fifo
            fifo_write = fifo.write_port()
            fifo_read = fifo.read_port(domain="comb")
            m.d.comb += [fifo_write.addr.eq(write_ptr), fifo_write.en.eq(arriving),
                         fifo_write.data.eq(kept.fields(skip_first=True)[lo:hi]),
                         fifo_read.addr.eq(read_ptr),
                         following[lo:hi].eq(fifo_read.data)]
        m.d.comb += stored.present[0].eq(1)
        head = SpikeSequence(pixels, words, "head")
        nonempty = Signal()  # the first entry's place != write_ptr, as a register
        m.d.comb += head.fields().eq(Mux(nonempty, stored.fields(), kept.fields()))
        head_ready = walking & (nonempty | arriving) & self.ready

        pending = SpikeSequence(pixels, words, "pending")
        one, two = pending.present[0], pending.present[1]
        take = Signal()
        m.d.comb += [
            self.valid[0].eq(one | head_ready),
            self.pixel[0].eq(Mux(one, pending.pixel(0), head.pixel(0))),
            self.valid[1].eq(two | (head_ready & (one | head.present[1]))),
            self.pixel[1].eq(Mux(two, pending.pixel(1), Mux(one, head.pixel(0), head.pixel(1)))),
            take.eq(head_ready & ~pending.present[2]),
            self.chunks_on.eq(1),
        ]
        pop, push = take & nonempty, arriving & ~(take & ~nonempty)
        more = read_after != write_ptr  # an entry after the first is stored
        with m.If(pop):
            m.d.sync += [*[read_ptr.eq(read_after + 1) for read_ptr in read_ptrs],
                         read_after.eq(read_after + 1)]
        # The first entry: the stored one after it when popped, else the arriving one (into
        # an empty FIFO, or as the only entry left once the first is popped).
        with m.If(pop | ~nonempty):
            m.d.sync += stored.fields(skip_first=True).eq(
                Mux(pop & more, following, kept.fields(skip_first=True)))
        with m.If(push):
            m.d.sync += write_ptr.eq(write_ptr + 1)
        with m.If(push & ~pop):
            m.d.sync += nonempty.eq(1)
        with m.Elif(pop & ~push):
            m.d.sync += nonempty.eq(more)
        with m.If(walk):
            m.d.sync += [*[p.eq(0) for p in pending.present],
                         *[read_ptr.eq(1) for read_ptr in read_ptrs], read_after.eq(1),
                         write_ptr.eq(0), nonempty.eq(0)]
        with m.Elif(take):
            # What is left of the head after the spikes paired with the pending ones.
            with m.If(two):
                m.d.sync += pending.fields().eq(head.fields())
            with m.Elif(one):
                m.d.sync += pending.fields().eq(head.shifted(1))
            with m.Else():
                m.d.sync += pending.fields().eq(head.shifted(2))
        with m.Else():
            with m.If(self.ready):
                m.d.sync += pending.fields().eq(pending.shifted(2))
            left = Mux(self.ready, ~pending.present[2], ~one)
            with m.If(walking & left & prefetched & ~nonempty):
                m.d.sync += walking.eq(0)
        return one


class SpikeSequence:
    """The spikes of one list word as registers or wires: ``lanes[k]`` the lane (0..pixels-1)
    of its ``k``-th lowest spike, ``present[k]`` whether it has one, and the list ``word``."""

    def __init__(self, pixels: int, words: int, name: str):
        lane_bits = (pixels - 1).bit_length()
        self.lanes = [Signal(lane_bits, name=f"{name}_lane{k}") for k in range(pixels)]
        self.present = [Signal(name=f"{name}_present{k}") for k in range(pixels)]
        self.word = Signal(range(words), name=f"{name}_word")

    def fields(self, *, skip_first: bool = False):
        """All of it as one value (without ``present[0]`` with ``skip_first``)."""
        present = self.present[1:] if skip_first else self.present
        return Cat(*self.lanes, *present, self.word)

    def pixel(self, k: int):
        """Pixel index of spike ``k``: word * pixels + lane (pixels a power of two: no
        adder)."""
        return Cat(self.lanes[k], self.word)

    def shifted(self, count: int):
        """:meth:`fields` after its ``count`` lowest spikes are handed out."""
        lane_bits = len(self.lanes[0])
        return Cat(*self.lanes[count:], *[Const(0, lane_bits)] * count,
                   *self.present[count:], *[Const(0, 1)] * count, self.word)
