"""Precision-select, skip-aware reader of one layer's weight rows (a 2-cycle pipeline).

Cycle 0 presents ``row``/``chunk``; the block-metadata memory is read.  Cycle 1 decides, from
the metadata, the precision and ``tau``, which bit-plane memories to enable and how many
weight bits the contract counts.  Cycle 2 presents the effective weight of every lane (0
unless the synapse is *active*) with the per-class synapse counts of the chunk.
"""

from __future__ import annotations

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from golden.config import MAGNITUDE_BITS, WEIGHT_BITS, WEIGHT_MAX
from hdl.geometry import LayerGeometry
from hdl.logic import any_of, popcount
from hdl.weight_planes import SIGN_PLANE, check_weights, metadata_image, plane_images

PRECISION_WIDTH = 4
"""Bits of a precision register (values 2..8)."""
TAU_WIDTH = MAGNITUDE_BITS
"""Bits of a magnitude-threshold register (values 0..127)."""


def magnitude_mask(bits: int) -> int:
    """Magnitude bits that precision ``bits`` keeps: the top ``bits - 1`` of 7."""
    bits = min(max(bits, 2), WEIGHT_BITS)
    return (WEIGHT_MAX << (WEIGHT_BITS - bits)) & WEIGHT_MAX


class SynapseRowReader(wiring.Component):
    """Reads lane chunk ``chunk`` of weight row ``row`` at run-time precision ``bits``.

    Parameters
    ----------
    geometry : LayerGeometry
        Rows, fan-out, lanes and metadata block size of the layer.
    weights : int array ``[rows, fan_out]``
        Sign-magnitude weights in -127..127, baked into the memories.

    Attributes
    ----------
    row, chunk, valid : In
        The read request (one chunk per cycle).
    bits, tau : In
        Precision 2..8 and magnitude threshold 0..127, sampled with the request.
    post_mask : In(fan_out)
        Which postsynaptic neurons are on; a block with none on reads no planes.
    out_valid, out_chunk : Out
        The request, two cycles later.
    weight : Out(ArrayLayout(signed(8), lanes))
        ``q_b(w)`` of active synapses, 0 for zero, below, gated and padding lanes.
    n_active, n_zero, n_below, n_gated : Out
        Synapses of each class in this chunk.
    bits_read : Out
        Weight-memory bits this chunk adds to ``weight_bits_read`` (DESIGN.md section 2).
    busy : Out(1)
        A request is in flight.
    """

    def __init__(self, *, geometry: LayerGeometry, weights):
        self._geometry = geometry
        self._weights = check_weights("weights", weights, geometry.rows, geometry.fan_out)
        lanes = geometry.lanes
        max_bits = geometry.slots * (MAGNITUDE_BITS + WEIGHT_BITS * geometry.block_size)
        super().__init__({
            "row": In(range(geometry.rows)),
            "chunk": In(range(geometry.chunks)),
            "valid": In(1),
            "bits": In(PRECISION_WIDTH),
            "tau": In(TAU_WIDTH),
            "post_mask": In(geometry.fan_out),
            "out_valid": Out(1),
            "out_chunk": Out(range(geometry.chunks)),
            "weight": Out(data.ArrayLayout(signed(WEIGHT_BITS), lanes)),
            "n_active": Out(range(lanes + 1)),
            "n_zero": Out(range(lanes + 1)),
            "n_below": Out(range(lanes + 1)),
            "n_gated": Out(range(lanes + 1)),
            "bits_read": Out(range(max_bits + 1)),
            "busy": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        g = self._geometry
        planes = [Memory(shape=unsigned(g.lanes), depth=g.words, init=image)
                  for image in plane_images(self._weights, g)]
        metadata = Memory(shape=unsigned(MAGNITUDE_BITS * g.slots), depth=g.words,
                          init=metadata_image(self._weights, g))
        for p, plane in enumerate(planes):
            m.submodules[f"plane{p}"] = plane
        m.submodules.metadata = metadata

        # Cycle 0: request -> metadata read.
        address = Signal(range(g.words))
        m.d.comb += address.eq(self.row * g.chunks + self.chunk)
        meta_port = metadata.read_port()
        m.d.comb += [meta_port.addr.eq(address), meta_port.en.eq(self.valid)]
        s1_valid, s1_address = Signal(), Signal(range(g.words))
        s1_chunk, s1_bits = Signal(range(g.chunks)), Signal(PRECISION_WIDTH)
        s1_tau = Signal(TAU_WIDTH)
        m.d.sync += [s1_valid.eq(self.valid), s1_address.eq(address), s1_chunk.eq(self.chunk),
                     s1_bits.eq(self.bits), s1_tau.eq(self.tau)]

        # Cycle 1: metadata -> plane enables and counted bits.
        keep = Signal(MAGNITUDE_BITS)
        m.d.comb += keep.eq(Array(Const(magnitude_mask(b), MAGNITUDE_BITS)
                                  for b in range(2**PRECISION_WIDTH))[s1_bits])
        tau_or_one = Mux(s1_tau == 0, 1, s1_tau)
        block_on = [any_of([self.post_mask[j] for j in g.block_range(k)])
                    for k in range(g.n_blocks)]
        slot_tables = [g.chunk_slots(c) for c in range(g.chunks)]

        def chunk_lookup(name, per_chunk, shape):
            """A signal holding ``per_chunk[s1_chunk]`` (ints or values, one per chunk)."""
            value = Signal(shape, name=name)
            m.d.comb += value.eq(Array(per_chunk)[s1_chunk])
            return value

        nonzero_slots, passing_slots, counted_width = [], [], []
        for s in range(g.slots):
            entries = [table[s] if s < len(table) else None for table in slot_tables]
            on = chunk_lookup(f"slot{s}_on",
                              [block_on[e.block] if e else 0 for e in entries], 1)
            width = chunk_lookup(f"slot{s}_counted_width",
                                 [e.width if e and e.counted else 0 for e in entries],
                                 range(g.block_size + 1))
            maximum = meta_port.data[MAGNITUDE_BITS * s:MAGNITUDE_BITS * (s + 1)] & keep
            nonzero_slots.append(on & (maximum != 0))
            passing_slots.append(on & (maximum != 0) & (maximum >= tau_or_one))
            counted_width.append(Mux(passing_slots[s], width, 0))
        counted_blocks = chunk_lookup(
            "counted_blocks", [sum(e.counted for e in table) for table in slot_tables],
            range(g.slots + 1))
        read_magnitude = Signal()
        read_sign = Signal()
        m.d.comb += [read_magnitude.eq(s1_valid & any_of(nonzero_slots)),
                     read_sign.eq(s1_valid & any_of(passing_slots))]
        plane_ports = []
        for p, plane in enumerate(planes):
            port = plane.read_port()
            enable = read_sign if p == SIGN_PLANE else read_magnitude & (p < s1_bits)
            m.d.comb += [port.addr.eq(s1_address), port.en.eq(enable)]
            plane_ports.append(port)

        padded_mask = Cat(self.post_mask, Const(0, g.chunks * g.lanes - g.fan_out))
        s2_valid, s2_chunk = Signal(), Signal(range(g.chunks))
        s2_keep, s2_tau = Signal(MAGNITUDE_BITS), Signal(TAU_WIDTH)
        s2_lane_on, s2_lane_real = Signal(g.lanes), Signal(g.lanes)
        s2_bits_read = Signal.like(self.bits_read)
        m.d.sync += [
            s2_valid.eq(s1_valid), s2_chunk.eq(s1_chunk), s2_tau.eq(s1_tau),
            s2_keep.eq(Mux(read_magnitude, keep, 0)),
            s2_lane_on.eq(padded_mask.word_select(s1_chunk, g.lanes)),
            s2_lane_real.eq(chunk_lookup("lane_real", [g.lane_valid(c) for c in range(g.chunks)],
                                         g.lanes)),
            s2_bits_read.eq(MAGNITUDE_BITS * counted_blocks + s1_bits * sum(counted_width)),
        ]

        # Cycle 2: planes -> effective weights and synapse classes.
        active, zero, below, gated = [], [], [], []
        for lane in range(g.lanes):
            magnitude = Signal(MAGNITUDE_BITS, name=f"magnitude{lane}")
            m.d.comb += magnitude.eq(
                Cat(*[plane_ports[WEIGHT_BITS - 1 - k].data[lane]
                      for k in range(MAGNITUDE_BITS)]) & s2_keep)
            on = s2_lane_on[lane]
            is_active = on & (magnitude != 0) & (magnitude >= s2_tau)
            active.append(is_active)
            zero.append(on & (magnitude == 0))
            below.append(on & (magnitude != 0) & (magnitude < s2_tau))
            gated.append(s2_lane_real[lane] & ~on)
            negative = plane_ports[SIGN_PLANE].data[lane]
            m.d.comb += self.weight[lane].eq(
                Mux(is_active, Mux(negative, -magnitude, magnitude), 0))
        m.d.comb += [
            self.out_valid.eq(s2_valid),
            self.out_chunk.eq(s2_chunk),
            self.n_active.eq(popcount(active)),
            self.n_zero.eq(popcount(zero)),
            self.n_below.eq(popcount(below)),
            self.n_gated.eq(popcount(gated)),
            self.bits_read.eq(s2_bits_read),
            self.busy.eq(s1_valid | s2_valid),
        ]
        return m
