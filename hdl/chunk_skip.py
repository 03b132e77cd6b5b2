"""What the chunk skip leaves out of the counters: the synapses and metadata bits of skipped
chunks and rows (docs/cycle_model.md, "Chunk skip").

A chunk is skipped when every block that overlaps it reads no planes for a reason the
metadata alone proves: ``q_b(m) = 0`` for all of them (its unmasked synapses are *zero*) or
none of them has a neuron on (its synapses are *gated*).  Its counts are then known without
reading it: every real lane that is on counts *zero*, every other real lane *gated*, and each
block that starts in the chunk adds its 7 metadata bits to ``weight_bits_read`` (no plane
bits).  A row with no chunk on is all of that over the whole row, plus one input spike.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import data
from amaranth.lib.wiring import In, Out

from golden.config import MAGNITUDE_BITS, N_INPUTS
from golden.geometry import LayerGeometry
from golden.timing import PIXELS_PER_WORD
from hdl.logic import any_of, registered_popcount, tree_sum
from hdl.validated import ValidatedComponent


def skip_counts(geometry: LayerGeometry, pixels: int = PIXELS_PER_WORD) -> data.StructLayout:
    """Per-cycle increments of the counters from skipped chunks and rows (at most a row's
    chunks and the rows of one ``pixels``-pixel list word)."""
    most = pixels + 1
    return data.StructLayout({
        "zero": range(most * geometry.fan_out + 1),
        "gated": range(most * geometry.fan_out + 1),
        "bits_read": range(most * MAGNITUDE_BITS * geometry.n_blocks + 1),
        "input_spikes": range(pixels + 1)})


class ChunkSkip(ValidatedComponent):
    """The live chunks of the hidden layer and the counts of what the issuer skips.

    Parameters
    ----------
    geometry : LayerGeometry
        Chunks and blocks of the hidden layer.
    pixels : int
        Pixels per list word (4 per event the core issues per cycle).

    Attributes
    ----------
    neuron_on : In(N)
        Hidden neurons that are on (mask and gating).
    chunk_live : Out(chunks)
        Chunks with a block that has a neuron on (registered).
    skip_chunks : In(chunks)
        Chunks of an issued row that were skipped (a pulse per row).
    skipped_rows : In(range(pixels + 1))
        Spikes dropped because their rows have no chunk on (a count per cycle).
    counts : Out(skip_counts(geometry))
        Their ``syn_zero``, ``syn_gated``, ``weight_bits_read`` and ``input_spikes``, three
        cycles later (0 when nothing was skipped).
    """

    @classmethod
    def validate(cls, *, geometry: LayerGeometry, pixels: int = PIXELS_PER_WORD) -> None:
        """Raise ``ValueError`` for a geometry that is not a hidden layer's."""
        if geometry.rows != N_INPUTS:
            raise ValueError(f"geometry must have {N_INPUTS} rows, not {geometry.rows}")

    def __init__(self, *, geometry: LayerGeometry, pixels: int = PIXELS_PER_WORD):
        self._geometry = g = geometry
        self._pixels = pixels
        super().__init__({
            "neuron_on": In(g.fan_out), "chunk_live": Out(g.chunks),
            "skip_chunks": In(g.chunks), "skipped_rows": In(range(pixels + 1)),
            "counts": Out(skip_counts(g, pixels)),
        })

    def elaborate(self, platform):
        m = Module()
        g = self._geometry
        on = [self.neuron_on[j] for j in range(g.fan_out)]
        block_on = [any_of([on[j] for j in g.block_range(k)]) for k in range(g.n_blocks)]
        m.d.sync += self.chunk_live.eq(Cat(*[any_of([block_on[k] for k in g.chunk_blocks(c)])
                                             for c in range(g.chunks)]))
        # Neurons on and off per chunk and in all: the flags registered, then pipelined
        # popcounts, four cycles in all (the mask changes only between images or at a
        # checkpoint, many cycles before the next skip).  With one chunk the total is its
        # count, counted in three stages; with several, each chunk's in two and the total in
        # a third.  The off counts are popcounts of their own (no subtraction on the path).
        on_copy = Signal(g.fan_out)
        m.d.sync += on_copy.eq(self.neuron_on)

        def counted_lanes(flag, name):
            per_chunk = []
            for c in range(g.chunks):
                lo = c * g.lanes
                per_chunk.append(registered_popcount(
                    m, [flag(j) for j in range(lo, min(lo + g.lanes, g.fan_out))],
                    f"chunk{c}_{name}", stages=3 if g.chunks == 1 else 2))
            if g.chunks == 1:
                return per_chunk, per_chunk[0]
            total = Signal(range(g.fan_out + 1), name=f"total_{name}")
            m.d.sync += total.eq(tree_sum(per_chunk))
            return per_chunk, total

        lanes_on, total_on = counted_lanes(lambda j: on_copy[j], "on")
        lanes_off, total_off = counted_lanes(lambda j: ~on_copy[j], "off")
        counted = [MAGNITUDE_BITS * sum(slot.counted for slot in g.chunk_slots(c))
                   for c in range(g.chunks)]

        skip = Signal(g.chunks)
        rows = Signal(range(self._pixels + 1))
        m.d.sync += [skip.eq(self.skip_chunks), rows.eq(self.skipped_rows)]

        def skipped(per_chunk, per_row):
            # the skipped chunks' values and ``rows`` times a whole row's, in one adder tree
            return tree_sum([Mux(skip[c], per_chunk[c], 0) for c in range(g.chunks)]
                            + [Mux(rows[k], per_row << k, 0) for k in range(len(rows))])

        layout = skip_counts(g, self._pixels)
        zero = Signal(layout["zero"].shape)
        gated = Signal(layout["gated"].shape)
        bits = Signal(layout["bits_read"].shape)
        spikes = Signal(layout["input_spikes"].shape)
        m.d.sync += [
            zero.eq(skipped(lanes_on, total_on)),
            gated.eq(skipped(lanes_off, total_off)),
            bits.eq(skipped(counted, MAGNITUDE_BITS * g.n_blocks)),
            spikes.eq(rows),
        ]
        m.d.comb += [self.counts.zero.eq(zero), self.counts.gated.eq(gated),
                     self.counts.bits_read.eq(bits), self.counts.input_spikes.eq(spikes)]
        return m
