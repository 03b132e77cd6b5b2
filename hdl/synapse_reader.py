"""Precision-select, skip-aware reader of one layer's weight rows (a 7-cycle pipeline).

The pipeline registers are named after what they hold:

========================  =====  ==========================================================
stage                     cycle  holds
========================  =====  ==========================================================
``request``               0      the request (``row``/``chunk``); the block-metadata
                                 memory is read
``lookup``                1      the request while the metadata arrives (a DP16KD's
                                 unregistered clock-to-out is most of a 100 MHz cycle)
``metadata_stage``        2      the registered metadata; it decides, with the precision and
                                 ``tau``, which bit-plane memories to enable and which blocks
                                 count weight bits
``plane_request``         3      the registered plane enables: the enabled planes are read
``plane_read``            4      the request while the plane bits arrive
``plane_bits``            5      the registered plane bits; the magnitude bits of the
                                 precision are kept and compared with ``tau`` in every lane
``magnitudes``            6      kept magnitudes, compares and signs; the effective weight
                                 of every lane (0 unless the synapse is *active*) and its
                                 synapse class are composed
``synapses``              7      effective weights and classes: the outputs
========================  =====  ==========================================================

The register that takes the plane bits straight from the memories (``plane_data``) has no
reset and nothing else in it: the flow moves it into the DP16KD output registers
(``flows/bram_registers.py``), whose clock-to-out is about 1 ns instead of the unregistered
read's 5.8 ns plus the routing to a fabric flip-flop.  The metadata register keeps its reset
and stays in the fabric, beside the plane-enable logic it feeds.

The per-chunk class counts (pipelined popcounts) and counted bits follow on their own
outputs, zero when no chunk is counted, so that a consumer adds them unconditionally.
``request_stages`` registers the request first, once or twice (latency 8 or 9).
"""

from __future__ import annotations

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from golden.config import MAGNITUDE_BITS, WEIGHT_BITS, WEIGHT_MAX
from golden.geometry import LayerGeometry
from golden.timing import READER_LATENCY
from hdl.logic import any_of, registered_copies, registered_popcount, tree_sum
from hdl.validated import ValidatedComponent
from hdl.weight_planes import (
    SIGN_PLANE,
    check_weights,
    memory_images,
    memory_names,
    memory_widths,
    placeholder_images,
)

PRECISION_WIDTH = 4
"""Bits of a precision register (values 2..8)."""
TAU_WIDTH = MAGNITUDE_BITS
"""Bits of a magnitude-threshold register (values 0..127)."""
LATENCY = READER_LATENCY
"""Cycles from a request to its ``out_valid`` (plus ``request_stages``); the
pipeline below is built to :data:`golden.timing.READER_LATENCY`."""
COUNT_DELAY = 2
"""Cycles from a chunk's ``out_valid`` to its class counts (the popcount pipeline)."""
SYNAPSE_CLASSES = ("active", "zero", "below", "gated")
"""The synapse classes of DESIGN.md section 2, as fields of :func:`synapse_counts`."""


def synapse_counts(lanes: int, max_bits: int) -> data.StructLayout:
    """The reader's per-chunk counts: synapses of each class, and weight bits read."""
    return data.StructLayout({**{name: range(lanes + 1) for name in SYNAPSE_CLASSES},
                              "bits_read": range(max_bits + 1)})


def _chunk_lookup(m: Module, name: str, per_chunk, shape, chunk) -> Signal:
    """A signal holding ``per_chunk[chunk]`` (ints or values, one per chunk)."""
    value = Signal(shape, name=name)
    m.d.comb += value.eq(Array(per_chunk)[chunk])
    return value


def magnitude_mask(bits: int) -> int:
    """Magnitude bits that precision ``bits`` keeps: the top ``bits - 1`` of 7."""
    bits = min(max(bits, 2), WEIGHT_BITS)
    return (WEIGHT_MAX << (WEIGHT_BITS - bits)) & WEIGHT_MAX


def _keep_mask(bits):
    """The :func:`magnitude_mask` of a precision register (a value)."""
    return Array(Const(magnitude_mask(b), MAGNITUDE_BITS)
                 for b in range(2**PRECISION_WIDTH))[bits]


class SynapseRowReader(ValidatedComponent):
    """Reads lane chunk ``chunk`` of weight row ``row`` at run-time precision ``bits``.

    Parameters
    ----------
    geometry : LayerGeometry
        Rows, fan-out, lanes and metadata block size of the layer.
    weights : int array ``[rows, fan_out]``
        Sign-magnitude weights in -127..127, baked into the memories.
    request_stages : int
        Registers the request passes first, 0..2 (each one more cycle of latency; two let
        the requester sit far from the memories).
    placeholder_seed : int or sequence of int, optional
        Fill the memories with seeded random placeholder contents instead of ``weights``
        (:func:`hdl.weight_planes.placeholder_images`): for a netlist whose area and timing
        do not depend on the weights, which are patched into its block RAM afterwards.
    block_ram : bool
        Ask Yosys to put every weight memory into block RAM (it puts small ones into logic
        otherwise), so that a routed design's weights can all be patched.
    ports : int
        P, rows read per cycle (1, or 2 with one chunk per row): P pipelines, each with a
        read port on every memory (a block RAM's two ports with P = 2).

    Attributes
    ----------
    row, chunk, valid : In(ArrayLayout(range(rows), P)), In(range(chunks)), In(P)
        The read requests (one chunk per cycle and port; all ports read chunk ``chunk``).
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
    weight : Out(ArrayLayout(ArrayLayout(signed(8), lanes), P))
        Per port, ``q_b(w)`` of active synapses, 0 for zero, below, gated and padding lanes
        (all 0 while that port's request is not out).
    counts : Out(synapse_counts(P * lanes, ...))
        ``active``, ``zero``, ``below``, ``gated``: synapses of each class of a chunk
        (summed over the ports),
        :data:`COUNT_DELAY` cycles after its ``out_valid``; 0 when no chunk is counted.
        ``bits_read``: weight-memory bits a chunk adds to ``weight_bits_read`` (DESIGN.md
        section 2), with its ``out_valid``; 0 otherwise.
    busy : Out(1)
        A request has yet to reach ``out_valid`` (so when ``busy`` is low, every request's
        weights are out by the end of this cycle).
    """

    @classmethod
    def validate(cls, *, geometry: LayerGeometry, weights, request_stages: int = 0,
                 placeholder_seed=None, block_ram: bool = False, ports: int = 1):
        """Raise ``ValueError`` for weights that do not fit ``geometry`` or an impossible
        port count."""
        check_weights("weights", weights, geometry.rows, geometry.fan_out)
        if isinstance(ports, bool) or ports not in (1, 2):
            raise ValueError(f"ports must be 1 or 2, not {ports!r}")
        if isinstance(request_stages, bool) or request_stages not in (0, 1, 2):
            raise ValueError(f"request_stages must be 0, 1 or 2, not {request_stages!r}")
        if ports > 1 and geometry.chunks > 1:
            raise ValueError(f"two read ports need one chunk per row, not {geometry.chunks}")

    def __init__(self, *, geometry: LayerGeometry, weights, request_stages: int = 0,
                 placeholder_seed=None, block_ram: bool = False, ports: int = 1):
        self._block_ram = bool(block_ram)
        self._ports = ports
        self._geometry = geometry
        self._request_stages = request_stages
        self._placeholder_seed = placeholder_seed
        self._weights = check_weights("weights", weights, geometry.rows, geometry.fan_out)
        lanes = geometry.lanes
        max_bits = ports * geometry.slots * (MAGNITUDE_BITS + WEIGHT_BITS * geometry.block_size)
        super().__init__({
            "row": In(data.ArrayLayout(range(geometry.rows), ports)),
            "chunk": In(range(geometry.chunks)),
            "valid": In(ports),
            "bits": In(PRECISION_WIDTH),
            "tau": In(TAU_WIDTH),
            "post_mask": In(geometry.fan_out),
            "out_valid": Out(1),
            "out_chunk": Out(range(geometry.chunks)),
            "next_chunk": Out(range(geometry.chunks)),
            "weight": Out(data.ArrayLayout(data.ArrayLayout(signed(WEIGHT_BITS), lanes), ports)),
            "counts": Out(synapse_counts(ports * lanes, max_bits)),
            "busy": Out(1),
        })

    @property
    def latency(self) -> int:
        """Cycles from a request to its ``out_valid``."""
        return LATENCY + self._request_stages

    def elaborate(self, platform):
        m = Module()
        g = self._geometry
        images = (memory_images(self._weights, g) if self._placeholder_seed is None
                  else placeholder_images(g, self._placeholder_seed))
        attrs = {"ram_style": "block"} if self._block_ram else None
        # One memory per plane and lane segment, each with its own read enable.
        memories = [Memory(shape=unsigned(width), depth=g.words, init=image, attrs=attrs)
                    for width, image in zip(memory_widths(g), images, strict=True)]
        for name, memory in zip(memory_names(g), memories, strict=True):
            m.submodules[name] = memory
        segments = len(g.segments)
        planes = [memories[p * segments:(p + 1) * segments] for p in range(WEIGHT_BITS)]
        metadata = memories[-1]

        # Per read port, one pipeline: every memory has a read port per pipeline (both ports
        # of a block RAM read with two).
        in_flight, stages = [], []
        for port in range(self._ports):
            # The request, registered ``request_stages`` times on request (cuts the
            # requester's logic from the address path).
            layout = data.StructLayout({
                "valid": 1, "row": range(g.rows), "chunk": range(g.chunks),
                "bits": PRECISION_WIDTH, "tau": TAU_WIDTH})
            request = Signal(layout, name=f"request{port}_in")
            m.d.comb += [request.valid.eq(self.valid[port]), request.row.eq(self.row[port]),
                         request.chunk.eq(self.chunk), request.bits.eq(self.bits),
                         request.tau.eq(self.tau)]
            for stage in range(self._request_stages):
                registered = Signal(layout, name=f"request{port}" + "_r" * stage)
                m.d.sync += registered.eq(request)
                in_flight.append(registered.valid)
                request = registered

            lookup, metadata_stage = self._read_metadata(m, metadata, request)
            plane_request, addresses = self._enable_planes(m, metadata_stage, len(planes))
            plane_read, plane_bits, segment_valid = self._read_planes(
                m, planes, plane_request, addresses)
            magnitudes = self._keep_magnitudes(m, plane_bits, segment_valid)
            synapses = self._classify(m, magnitudes)
            stages.append((magnitudes, synapses))
            in_flight += [lookup.valid, metadata_stage.valid, plane_request.valid,
                          plane_read.valid, plane_bits.valid, magnitudes.valid]

        # The weights out; the class counts follow (pipelined popcounts, zero when idle),
        # summed over the ports.
        magnitudes, synapses = stages[0]
        m.d.comb += [
            self.out_valid.eq(any_of([synapses.valid for _, synapses in stages])),
            self.out_chunk.eq(synapses.chunk),
            self.next_chunk.eq(magnitudes.chunk),
            *[self.weight[port].eq(synapses.weight)
              for port, (_, synapses) in enumerate(stages)],
            *[self.counts[name].eq(tree_sum([
                registered_popcount(m, synapses[name], f"n{port}_{name}", stages=3)
                for port, (_, synapses) in enumerate(stages)]))
              for name in SYNAPSE_CLASSES],
            self.counts.bits_read.eq(tree_sum([synapses.bits_read for _, synapses in stages])),
            self.busy.eq(any_of(in_flight)),
        ]
        return m

    def _read_metadata(self, m: Module, metadata: Memory, request):
        """``lookup`` (the metadata is read) and ``metadata_stage`` (it is registered)."""
        g = self._geometry
        address = Signal(range(g.words))
        m.d.comb += address.eq(request.row * g.chunks + request.chunk)
        port = metadata.read_port()
        m.d.comb += [port.addr.eq(address), port.en.eq(request.valid)]
        fields = {"valid": 1, "address": range(g.words), "chunk": range(g.chunks),
                  "bits": PRECISION_WIDTH, "tau": TAU_WIDTH}
        lookup = Signal(data.StructLayout(fields), name="lookup")
        m.d.sync += [lookup.valid.eq(request.valid), lookup.address.eq(address),
                     lookup.chunk.eq(request.chunk), lookup.bits.eq(request.bits),
                     lookup.tau.eq(request.tau)]
        # The metadata register keeps its reset, so it stays a fabric flip-flop beside the
        # enable logic that follows (flows/bram_registers.py takes reset-less ones into the
        # block RAM: from there, the metadata's route into that logic was a critical path).
        registered = Signal(data.StructLayout({**fields, "meta": len(port.data)}),
                            name="metadata_stage")
        m.d.sync += [*[registered[name].eq(lookup[name]) for name in fields],
                     registered.meta.eq(port.data)]
        # What the plane enables take from the request besides the metadata, registered with
        # it once per lane segment: each copy drives only its segment's enable logic (the
        # shared registers reached the enable registers of every plane memory on the die).
        controls = data.StructLayout({"valid": 1, "keep": MAGNITUDE_BITS, "tau": TAU_WIDTH,
                                      "plane_on": WEIGHT_BITS})
        # One more copy serves the block-wide flags (``passing``, ``keep``).
        copies = registered_copies(m, Cat(
            lookup.valid, _keep_mask(lookup.bits), Mux(lookup.tau == 0, 1, lookup.tau),
            Cat(*[p < lookup.bits for p in range(WEIGHT_BITS)])), len(g.segments) + 1,
            "segment_controls")
        views = [data.View(controls, copy) for copy in copies]
        registered._segment_controls, registered._block_controls = views[:-1], views[-1]
        return lookup, registered

    def _slot_tables(self):
        g = self._geometry
        return [g.chunk_slots(c) for c in range(g.chunks)]

    def _enable_planes(self, m: Module, stage, n_planes: int):
        """``plane_request``: from the metadata, the precision and ``tau``, the plane enables
        (registered: the memories are spread over the die, the enable nets are long), and the
        plane address, one copy per lane segment."""
        g = self._geometry
        # (the keep mask and tau, decoded from the request a stage earlier)
        keep, tau_or_one = stage._block_controls.keep, stage._block_controls.tau
        # Which blocks have a neuron on, registered (the OR over a block's mask bits and the
        # chunk select were a critical path). The mask changes only between images or at a
        # checkpoint decision, cycles before the next request reaches this stage.
        block_on = Signal(g.n_blocks)
        m.d.sync += block_on.eq(Cat(*[any_of([self.post_mask[j] for j in g.block_range(k)])
                                      for k in range(g.n_blocks)]))
        slot_tables = self._slot_tables()
        slot_on = []
        for s in range(g.slots):
            entries = [table[s] if s < len(table) else None for table in slot_tables]
            slot_on.append(_chunk_lookup(m, f"slot{s}_on",
                                         [block_on[e.block] if e else 0 for e in entries], 1,
                                         stage.chunk))

        def slot_flags(s, keep, tau):
            maximum = stage.meta[MAGNITUDE_BITS * s:MAGNITUDE_BITS * (s + 1)] & keep
            nonzero = slot_on[s] & (maximum != 0)
            return nonzero, nonzero & (maximum >= tau)

        passing_slots = [slot_flags(s, keep, tau_or_one)[1] for s in range(g.slots)]
        # Per lane segment, from its copy of the controls: its block's magnitude planes are
        # read iff the block is on and q_b(m) != 0, its sign plane iff the block also passes
        # tau (a below-tau block needs its magnitudes only: zero and below are told apart by
        # them).
        segment_magnitude, segment_sign = [], []
        for k, (segment, control) in enumerate(zip(g.segments, stage._segment_controls,
                                                   strict=True)):
            slots = [g.segment_slot(c, segment) for c in range(g.chunks)]
            flags = {s: slot_flags(s, control.keep, control.tau) for s in set(slots) - {None}}
            for i, (name, out) in enumerate((("magnitude", segment_magnitude),
                                              ("sign", segment_sign))):
                flag = _chunk_lookup(m, f"segment{k}_{name}",
                                     [0 if s is None else flags[s][i] for s in slots], 1,
                                     stage.chunk)
                out.append(control.valid & flag)
        plane_enables = [Cat(*(segment_sign if p == SIGN_PLANE
                               else [flag & control.plane_on[p] for flag, control
                                     in zip(segment_magnitude, stage._segment_controls,
                                            strict=True)]))
                         for p in range(n_planes)]

        padded_mask = Cat(self.post_mask, Const(0, g.chunks * g.lanes - g.fan_out))
        registered = Signal(data.StructLayout({
            "valid": 1, "chunk": range(g.chunks), "keep": MAGNITUDE_BITS, "tau": TAU_WIDTH,
            "bits": PRECISION_WIDTH, "lane_on": g.lanes, "lane_real": g.lanes,
            "passing": g.slots,
            "lane_read": g.lanes,
            "enables": data.ArrayLayout(len(g.segments), n_planes)}),
            name="plane_request")
        m.d.sync += [
            registered.valid.eq(stage.valid), registered.chunk.eq(stage.chunk),
            registered.tau.eq(stage.tau), registered.bits.eq(stage.bits),
            registered.keep.eq(keep),
            registered.lane_read.eq(Cat(*[flag for segment, flag
                                          in zip(g.segments, segment_magnitude, strict=True)
                                          for _ in segment])),
            registered.lane_on.eq(padded_mask.word_select(stage.chunk, g.lanes)),
            registered.lane_real.eq(_chunk_lookup(
                m, "lane_real", [g.lane_valid(c) for c in range(g.chunks)], g.lanes,
                stage.chunk)),
            registered.passing.eq(Mux(stage.valid, Cat(*passing_slots), 0)),
            *[registered.enables[p].eq(enables) for p, enables in enumerate(plane_enables)],
        ]
        # The plane address in one register per lane segment (each drives the address pins
        # of its segment's planes, not of every plane memory on the die); with one segment,
        # one per plane (small memories, which Yosys builds from logic: an address bit
        # reaches every multiplexer of the plane).
        segments = len(g.segments)
        copies = registered_copies(m, stage.address, n_planes if segments == 1 else segments,
                                   "plane_address")
        addresses = [[copies[p if segments == 1 else k] for k in range(segments)]
                     for p in range(n_planes)]
        return registered, addresses

    def _read_planes(self, m: Module, planes: list[Memory], stage, addresses):
        """``plane_read`` (the enabled planes are read), ``plane_bits`` (their outputs
        registered, with the counted bits' block count and width) and its ``valid`` in one
        register per lane segment."""
        g = self._geometry
        ports = []
        for p, segments in enumerate(planes):
            plane_ports = []
            for k, plane in enumerate(segments):
                port = plane.read_port()
                m.d.comb += [port.addr.eq(addresses[p][k]),
                             port.en.eq(stage.enables[p][k])]
                plane_ports.append(port)
            ports.append(plane_ports)
        carried = ("valid", "chunk", "keep", "tau", "bits", "lane_on", "lane_real", "lane_read")
        layout = stage.shape()
        read = Signal(data.StructLayout({name: layout[name].shape
                                         for name in (*carried, "passing")}),
                      name="plane_read")
        m.d.sync += [read[name].eq(stage[name]) for name in (*carried, "passing")]

        slot_tables = self._slot_tables()
        counted_width = []
        for s in range(g.slots):
            widths = [table[s].width if s < len(table) and table[s].counted else 0
                      for table in slot_tables]
            counted_width.append(Mux(read.passing[s], _chunk_lookup(
                m, f"slot{s}_counted_width", widths, range(g.block_size + 1), read.chunk), 0))
        counted_blocks = _chunk_lookup(
            m, "counted_blocks", [sum(e.counted for e in table) for table in slot_tables],
            range(g.slots + 1), read.chunk)
        # `keep` and `tau` are registered once per lane segment, zero in a segment that was
        # not read (its magnitudes are then 0): each copy drives only its segment's lanes
        # (one register for every lane was a die-wide net).
        kept = ("valid", "chunk", "bits", "lane_on", "lane_real")
        segments = len(g.segments)
        registered = Signal(data.StructLayout({
            **{name: layout[name].shape for name in kept},
            "segment_keep": data.ArrayLayout(MAGNITUDE_BITS, segments),
            "segment_tau": data.ArrayLayout(TAU_WIDTH, segments),
            "width": range(g.slots * g.block_size + 1), "blocks": range(g.slots + 1)}),
            name="plane_bits")
        m.d.sync += [
            *[registered[name].eq(read[name]) for name in kept],
            *[registered.segment_keep[k].eq(Mux(read.lane_read[segment.start], read.keep, 0))
              for k, segment in enumerate(g.segments)],
            *[registered.segment_tau[k].eq(Mux(read.lane_read[segment.start], read.tau, 0))
              for k, segment in enumerate(g.segments)],
            registered.width.eq(tree_sum(counted_width)),
            registered.blocks.eq(Mux(read.valid, counted_blocks, 0)),
        ]
        # The plane bits have no reset (they count only with ``valid``): the flow moves
        # them into the block RAMs' output registers (flows/bram_registers.py).
        registered._planes = Signal(data.ArrayLayout(g.lanes, len(planes)), name="plane_data",
                                    reset_less=True)
        m.d.sync += [registered._planes[p].eq(Cat(*[port.data for port in plane_ports]))
                     for p, plane_ports in enumerate(ports)]
        # `valid` once per lane segment, for the lanes' flags of the next stage (one flag
        # reaching every lane's flags was a die-wide net into their flip-flops' resets).
        return read, registered, registered_copies(m, read.valid, segments, "segment_valid")

    def _keep_magnitudes(self, m: Module, stage, segment_valid: list[Signal]):
        """``magnitudes``: every lane's kept magnitude and its compare with ``tau``
        (registered: the keep and tau registers fan out to every lane, a critical path when
        followed by the classification in the same cycle), and the counted bits."""
        g = self._geometry
        registered = Signal(data.StructLayout({
            "valid": 1, "chunk": range(g.chunks), "lane_on": g.lanes, "lane_real": g.lanes,
            "block_bits": range(MAGNITUDE_BITS * g.slots + 1),
            "plane_bits": len(self.counts.bits_read),
            "magnitude": data.ArrayLayout(MAGNITUDE_BITS, g.lanes),
            "at_least_tau": g.lanes, "negative": g.lanes}), name="magnitudes")
        for k, segment in enumerate(g.segments):
            for lane in segment:
                # A lane whose segment was not read holds stale plane bits: its segment's
                # keep is 0, so its magnitude is 0 (and its compare with tau is never used).
                magnitude = Signal(MAGNITUDE_BITS, name=f"magnitude{lane}")
                m.d.comb += magnitude.eq(
                    Cat(*[stage._planes[WEIGHT_BITS - 1 - b][lane]
                          for b in range(MAGNITUDE_BITS)]) & stage.segment_keep[k])
                m.d.sync += [registered.magnitude[lane].eq(magnitude),
                             registered.lane_on[lane].eq(segment_valid[k] & stage.lane_on[lane]),
                             registered.lane_real[lane].eq(
                                 segment_valid[k] & stage.lane_real[lane]),
                             registered.at_least_tau[lane].eq(magnitude >= stage.segment_tau[k]),
                             registered.negative[lane].eq(stage._planes[SIGN_PLANE][lane])]
        # Counted bits = 7 x counted blocks + precision x counted width: the product as
        # shifted adds (no DSP: a MULT18X18D's 3.9 ns plus its routing was a critical path),
        # registered here, the sum in the next cycle.
        # `lane_on` and `lane_real` (above) are 0 unless valid: the classification needs no
        # valid (one flag for every lane's class and weight logic was a die-wide net).
        m.d.sync += [
            registered.valid.eq(stage.valid), registered.chunk.eq(stage.chunk),
            registered.block_bits.eq(MAGNITUDE_BITS * stage.blocks),
            registered.plane_bits.eq(tree_sum([Mux(stage.bits[k], stage.width << k, 0)
                                               for k in range(PRECISION_WIDTH)])),
        ]
        return registered

    def _classify(self, m: Module, stage):
        """``synapses``: the effective weights and synapse classes (registered)."""
        g = self._geometry
        registered = Signal(data.StructLayout({
            "valid": 1, "chunk": range(g.chunks), "bits_read": len(self.counts.bits_read),
            **{name: g.lanes for name in SYNAPSE_CLASSES},
            "weight": data.ArrayLayout(signed(WEIGHT_BITS), g.lanes)}), name="synapses")
        for lane in range(g.lanes):
            magnitude = stage.magnitude[lane]
            on = stage.lane_on[lane]
            nonzero = magnitude != 0
            at_least_tau = stage.at_least_tau[lane]
            is_active = on & nonzero & at_least_tau
            m.d.sync += [
                registered.active[lane].eq(is_active),
                registered.zero[lane].eq(on & ~nonzero),
                registered.below[lane].eq(on & nonzero & ~at_least_tau),
                registered.gated[lane].eq(stage.lane_real[lane] & ~stage.lane_on[lane]),
                registered.weight[lane].eq(
                    Mux(is_active, Mux(stage.negative[lane], -magnitude, magnitude), 0)),
            ]
        m.d.sync += [registered.valid.eq(stage.valid), registered.chunk.eq(stage.chunk),
                     registered.bits_read.eq(stage.block_bits + stage.plane_bits)]
        return registered
