"""Precision-select, skip-aware reader of one layer's weight rows (a 7-cycle pipeline).

Cycle 0 presents ``row``/``chunk``; the block-metadata memory is read.  Cycle 1 registers the
metadata (a DP16KD's unregistered clock-to-out is most of a 100 MHz cycle).  Cycle 2 decides,
from the metadata, the precision and ``tau``, which bit-plane memories to enable (registered)
and which blocks count weight bits.  Cycle 3 reads the enabled planes; cycle 4 registers their
outputs.  Cycle 5 keeps the magnitude bits of the precision and compares them with
``tau`` in every lane.  Cycle 6 composes the effective weight of every lane (0 unless the
synapse is *active*) and its synapse class.  Cycle 7 presents the weights; the per-chunk class
counts (pipelined popcounts) and counted bits follow on their own outputs, zero when no chunk
is counted, so that a consumer adds them unconditionally.  ``register_request`` adds a request
register in front (latency 8).
"""

from __future__ import annotations

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from golden.config import MAGNITUDE_BITS, WEIGHT_BITS, WEIGHT_MAX
from golden.geometry import LayerGeometry
from golden.timing import READER_LATENCY
from hdl.logic import any_of, registered_popcount, tree_sum
from hdl.weight_planes import SIGN_PLANE, check_weights, metadata_image, plane_images

PRECISION_WIDTH = 4
"""Bits of a precision register (values 2..8)."""
TAU_WIDTH = MAGNITUDE_BITS
"""Bits of a magnitude-threshold register (values 0..127)."""
LATENCY = READER_LATENCY
"""Cycles from a request to its ``out_valid`` (one more with ``register_request``); the
pipeline below is built to :data:`golden.timing.READER_LATENCY`."""
COUNT_DELAY = 2
"""Cycles from a chunk's ``out_valid`` to its class counts (the popcount pipeline)."""


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
    register_request : bool
        Register the request first (one more cycle of latency).

    Attributes
    ----------
    row, chunk, valid : In
        The read request (one chunk per cycle).
    bits, tau : In
        Precision 2..8 and magnitude threshold 0..127, sampled with the request.
    post_mask : In(fan_out)
        Which postsynaptic neurons are on; a block with none on reads no planes (its
        per-block OR is registered: a change applies to requests made a cycle later).
    out_valid, out_chunk : Out
        The request, :attr:`latency` cycles later.
    next_chunk : Out
        The chunk that ``out_chunk`` will carry in the next cycle (for a synchronous
        read-modify-write of the consumer's memory).
    weight : Out(ArrayLayout(signed(8), lanes))
        ``q_b(w)`` of active synapses, 0 for zero, below, gated and padding lanes.
    n_active, n_zero, n_below, n_gated : Out
        Synapses of each class of a chunk, :data:`COUNT_DELAY` cycles after its
        ``out_valid``; 0 when no chunk is counted.
    bits_read : Out
        Weight-memory bits a chunk adds to ``weight_bits_read`` (DESIGN.md section 2), with
        its ``out_valid``; 0 otherwise.
    busy : Out(1)
        A request has yet to reach ``out_valid`` (so when ``busy`` is low, every request's
        weights are out by the end of this cycle).
    """

    def __init__(self, *, geometry: LayerGeometry, weights, register_request: bool = False):
        self._geometry = geometry
        self._register_request = bool(register_request)
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
            "next_chunk": Out(range(geometry.chunks)),
            "weight": Out(data.ArrayLayout(signed(WEIGHT_BITS), lanes)),
            "n_active": Out(range(lanes + 1)),
            "n_zero": Out(range(lanes + 1)),
            "n_below": Out(range(lanes + 1)),
            "n_gated": Out(range(lanes + 1)),
            "bits_read": Out(range(max_bits + 1)),
            "busy": Out(1),
        })

    @property
    def latency(self) -> int:
        """Cycles from a request to its ``out_valid``."""
        return LATENCY + self._register_request

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

        # Optional request register (cuts the requester's logic from the address path).
        if self._register_request:
            r_valid, r_row, r_chunk = Signal(), Signal.like(self.row), Signal.like(self.chunk)
            r_bits, r_tau = Signal.like(self.bits), Signal.like(self.tau)
            m.d.sync += [r_valid.eq(self.valid), r_row.eq(self.row), r_chunk.eq(self.chunk),
                         r_bits.eq(self.bits), r_tau.eq(self.tau)]
            in_flight = [r_valid]
        else:
            r_valid, r_row, r_chunk = self.valid, self.row, self.chunk
            r_bits, r_tau = self.bits, self.tau
            in_flight = []

        # Cycle 0: request -> metadata read.
        address = Signal(range(g.words))
        m.d.comb += address.eq(r_row * g.chunks + r_chunk)
        meta_port = metadata.read_port()
        m.d.comb += [meta_port.addr.eq(address), meta_port.en.eq(r_valid)]
        s1_valid, s1_address = Signal(), Signal(range(g.words))
        s1_chunk, s1_bits = Signal(range(g.chunks)), Signal(PRECISION_WIDTH)
        s1_tau = Signal(TAU_WIDTH)
        m.d.sync += [s1_valid.eq(r_valid), s1_address.eq(address), s1_chunk.eq(r_chunk),
                     s1_bits.eq(r_bits), s1_tau.eq(r_tau)]

        # Cycle 1: the block RAM's output is registered (its clock-to-out is most of a cycle).
        s2_valid, s2_address = Signal(), Signal.like(s1_address)
        s2_chunk, s2_bits, s2_tau = Signal.like(s1_chunk), Signal.like(s1_bits), Signal.like(s1_tau)
        s2_meta = Signal.like(meta_port.data)
        m.d.sync += [s2_valid.eq(s1_valid), s2_address.eq(s1_address), s2_chunk.eq(s1_chunk),
                     s2_bits.eq(s1_bits), s2_tau.eq(s1_tau), s2_meta.eq(meta_port.data)]

        # Cycle 2: metadata -> plane enables and counted bits.
        keep = Signal(MAGNITUDE_BITS)
        m.d.comb += keep.eq(Array(Const(magnitude_mask(b), MAGNITUDE_BITS)
                                  for b in range(2**PRECISION_WIDTH))[s2_bits])
        tau_or_one = Mux(s2_tau == 0, 1, s2_tau)
        # Which blocks have a neuron on, registered (the OR over a block's mask bits and the
        # chunk select were a critical path). The mask changes only between images or at a
        # checkpoint decision, cycles before the next request reaches this stage.
        block_on_q = Signal(g.n_blocks)
        m.d.sync += block_on_q.eq(Cat(*[any_of([self.post_mask[j] for j in g.block_range(k)])
                                        for k in range(g.n_blocks)]))
        block_on = [block_on_q[k] for k in range(g.n_blocks)]
        slot_tables = [g.chunk_slots(c) for c in range(g.chunks)]

        def chunk_lookup(name, per_chunk, shape, chunk):
            """A signal holding ``per_chunk[chunk]`` (ints or values, one per chunk)."""
            value = Signal(shape, name=name)
            m.d.comb += value.eq(Array(per_chunk)[chunk])
            return value

        nonzero_slots, passing_slots, slot_widths = [], [], []
        for s in range(g.slots):
            entries = [table[s] if s < len(table) else None for table in slot_tables]
            on = chunk_lookup(f"slot{s}_on",
                              [block_on[e.block] if e else 0 for e in entries], 1, s2_chunk)
            slot_widths.append([e.width if e and e.counted else 0 for e in entries])
            maximum = s2_meta[MAGNITUDE_BITS * s:MAGNITUDE_BITS * (s + 1)] & keep
            nonzero_slots.append(on & (maximum != 0))
            passing_slots.append(on & (maximum != 0) & (maximum >= tau_or_one))
        read_magnitude = Signal()
        read_sign = Signal()
        m.d.comb += [read_magnitude.eq(s2_valid & any_of(nonzero_slots)),
                     read_sign.eq(s2_valid & any_of(passing_slots))]
        plane_enables = [read_sign if p == SIGN_PLANE else read_magnitude & (p < s2_bits)
                         for p in range(len(planes))]

        padded_mask = Cat(self.post_mask, Const(0, g.chunks * g.lanes - g.fan_out))
        s3_valid, s3_chunk = Signal(), Signal(range(g.chunks))
        s3_keep, s3_tau = Signal(MAGNITUDE_BITS), Signal(TAU_WIDTH)
        s3_bits = Signal(PRECISION_WIDTH)
        s3_lane_on, s3_lane_real = Signal(g.lanes), Signal(g.lanes)
        s3_passing = Signal(g.slots)
        s3_address, s3_enables = Signal.like(s2_address), Signal(len(planes))
        m.d.sync += [
            s3_valid.eq(s2_valid), s3_chunk.eq(s2_chunk), s3_tau.eq(s2_tau),
            s3_bits.eq(s2_bits), s3_keep.eq(Mux(read_magnitude, keep, 0)),
            s3_lane_on.eq(padded_mask.word_select(s2_chunk, g.lanes)),
            s3_lane_real.eq(chunk_lookup("lane_real",
                                         [g.lane_valid(c) for c in range(g.chunks)],
                                         g.lanes, s2_chunk)),
            s3_passing.eq(Mux(s2_valid, Cat(*passing_slots), 0)),
            s3_address.eq(s2_address), s3_enables.eq(Cat(*plane_enables)),
        ]

        # Cycle 3: the plane reads, enabled by registered enables (the memories are spread
        # over the die: the enable nets are long).
        plane_ports = []
        for p, plane in enumerate(planes):
            port = plane.read_port()
            m.d.comb += [port.addr.eq(s3_address), port.en.eq(s3_enables[p])]
            plane_ports.append(port)
        s3d_valid, s3d_chunk = Signal(), Signal.like(s3_chunk)
        s3d_keep, s3d_tau, s3d_bits = (Signal.like(s3_keep), Signal.like(s3_tau),
                                       Signal.like(s3_bits))
        s3d_lane_on, s3d_lane_real = Signal.like(s3_lane_on), Signal.like(s3_lane_real)
        s3d_passing = Signal.like(s3_passing)
        m.d.sync += [
            s3d_valid.eq(s3_valid), s3d_chunk.eq(s3_chunk), s3d_keep.eq(s3_keep),
            s3d_tau.eq(s3_tau), s3d_bits.eq(s3_bits), s3d_lane_on.eq(s3_lane_on),
            s3d_lane_real.eq(s3_lane_real), s3d_passing.eq(s3_passing),
        ]

        # Cycle 4: the plane memories' outputs are registered; the counted bits are summed.
        s4_valid, s4_chunk = Signal(), Signal.like(s3d_chunk)
        s4_keep, s4_tau = Signal.like(s3d_keep), Signal.like(s3d_tau)
        s4_bits = Signal.like(s3d_bits)
        s4_lane_on, s4_lane_real = Signal.like(s3d_lane_on), Signal.like(s3d_lane_real)
        s4_planes = [Signal(g.lanes, name=f"s4_plane{p}") for p in range(len(planes))]
        counted_width = [Mux(s3d_passing[s],
                             chunk_lookup(f"slot{s}_counted_width", slot_widths[s],
                                          range(g.block_size + 1), s3d_chunk), 0)
                         for s in range(g.slots)]
        counted_blocks = chunk_lookup(
            "counted_blocks", [sum(e.counted for e in table) for table in slot_tables],
            range(g.slots + 1), s3d_chunk)
        s4_width = Signal(range(g.slots * g.block_size + 1))
        s4_blocks = Signal.like(counted_blocks)
        m.d.sync += [
            s4_valid.eq(s3d_valid), s4_chunk.eq(s3d_chunk), s4_keep.eq(s3d_keep),
            s4_tau.eq(s3d_tau), s4_bits.eq(s3d_bits), s4_lane_on.eq(s3d_lane_on),
            s4_lane_real.eq(s3d_lane_real),
            *[s4_planes[p].eq(port.data) for p, port in enumerate(plane_ports)],
            s4_width.eq(tree_sum(counted_width)),
            s4_blocks.eq(Mux(s3d_valid, counted_blocks, 0)),
        ]

        # Cycle 5: every lane's kept magnitude and its compare with tau (registered: the
        # keep and tau registers fan out to every lane, a critical path when followed by the
        # classification in the same cycle).
        s5a_valid, s5a_chunk = Signal(), Signal.like(s4_chunk)
        s5a_lane_on, s5a_lane_real = Signal.like(s4_lane_on), Signal.like(s4_lane_real)
        # Counted bits = 7 x counted blocks + precision x counted width: the product as
        # shifted adds (no DSP: a MULT18X18D's 3.9 ns plus its routing was a critical path),
        # registered here, the sum in the next cycle.
        s5a_block_bits = Signal(range(MAGNITUDE_BITS * g.slots + 1))
        s5a_plane_bits = Signal.like(self.bits_read)
        s5a_magnitude = Signal(data.ArrayLayout(MAGNITUDE_BITS, g.lanes))
        s5a_at_least_tau, s5a_negative = Signal(g.lanes), Signal(g.lanes)
        for lane in range(g.lanes):
            magnitude = Signal(MAGNITUDE_BITS, name=f"magnitude{lane}")
            m.d.comb += magnitude.eq(
                Cat(*[s4_planes[WEIGHT_BITS - 1 - k][lane]
                      for k in range(MAGNITUDE_BITS)]) & s4_keep)
            m.d.sync += [s5a_magnitude[lane].eq(magnitude),
                         s5a_at_least_tau[lane].eq(magnitude >= s4_tau),
                         s5a_negative[lane].eq(s4_planes[SIGN_PLANE][lane])]
        m.d.sync += [
            s5a_valid.eq(s4_valid), s5a_chunk.eq(s4_chunk), s5a_lane_on.eq(s4_lane_on),
            s5a_lane_real.eq(s4_lane_real),
            s5a_block_bits.eq(MAGNITUDE_BITS * s4_blocks),
            s5a_plane_bits.eq(tree_sum([Mux(s4_bits[k], s4_width << k, 0)
                                        for k in range(PRECISION_WIDTH)])),
        ]

        # Cycle 6: effective weights and synapse classes (registered).
        s5_valid, s5_chunk = Signal(), Signal.like(s5a_chunk)
        s5_bits_read = Signal.like(self.bits_read)
        classes = {name: Signal(g.lanes, name=f"s5_{name}")
                   for name in ("active", "zero", "below", "gated")}
        s5_weight = Signal.like(self.weight)
        for lane in range(g.lanes):
            magnitude = s5a_magnitude[lane]
            on = s5a_lane_on[lane] & s5a_valid
            nonzero = magnitude != 0
            is_active = on & nonzero & s5a_at_least_tau[lane]
            m.d.sync += [
                classes["active"][lane].eq(is_active),
                classes["zero"][lane].eq(on & ~nonzero),
                classes["below"][lane].eq(on & nonzero & ~s5a_at_least_tau[lane]),
                classes["gated"][lane].eq(s5a_valid & s5a_lane_real[lane] & ~s5a_lane_on[lane]),
            ]
            m.d.sync += s5_weight[lane].eq(
                Mux(is_active, Mux(s5a_negative[lane], -magnitude, magnitude), 0))
        m.d.sync += [s5_valid.eq(s5a_valid), s5_chunk.eq(s5a_chunk),
                     s5_bits_read.eq(s5a_block_bits + s5a_plane_bits)]

        # Cycle 7: weights out; the class counts follow (pipelined popcounts, zero when idle).
        m.d.comb += [
            self.out_valid.eq(s5_valid),
            self.out_chunk.eq(s5_chunk),
            self.next_chunk.eq(s5a_chunk),
            self.weight.eq(s5_weight),
            self.n_active.eq(registered_popcount(m, classes["active"], "n_active")),
            self.n_zero.eq(registered_popcount(m, classes["zero"], "n_zero")),
            self.n_below.eq(registered_popcount(m, classes["below"], "n_below")),
            self.n_gated.eq(registered_popcount(m, classes["gated"], "n_gated")),
            self.bits_read.eq(s5_bits_read),
            self.busy.eq(any_of([*in_flight, s1_valid, s2_valid, s3_valid, s3d_valid,
                                 s4_valid, s5a_valid])),
        ]
        return m
