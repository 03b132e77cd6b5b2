"""Small combinational helpers shared by the core's components.

They take lists of 1-bit values (or a Signal) rather than slicing a ``Cat`` of expressions:
Amaranth emits a sliced expression once per slice, which would make the netlist quadratic
in the lane count.
"""

from __future__ import annotations

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, Value


def _bit_list(bits) -> list[Value]:
    return list(bits) if isinstance(bits, list) else [bits[i] for i in range(len(bits))]


def clamp(value, lo: int, hi: int) -> Value:
    """``value`` limited to ``lo..hi`` (register writes clamp rather than reject)."""
    return Mux(value < lo, lo, Mux(value > hi, hi, value))


def popcount(bits) -> Value:
    """Number of set bits of ``bits`` (a Signal or a list of 1-bit values), log depth."""
    return tree_sum(_bit_list(bits))


def tree_sum(terms: list[Value]) -> Value:
    """Sum of ``terms`` as a balanced adder tree (0 for an empty list)."""
    if not terms:
        return Const(0, 1)
    while len(terms) > 1:
        paired = [terms[i] + terms[i + 1] for i in range(0, len(terms) - 1, 2)]
        terms = paired + ([terms[-1]] if len(terms) % 2 else [])
    return terms[0]


POPCOUNT_GROUP = 16
"""Bits per first-stage group of :func:`registered_popcount` (8 with three stages)."""


def registered_popcount(m: Module, bits, name: str, *, stages: int = 2) -> Signal:
    """Number of set bits of ``bits``, ``stages`` (2 or 3) cycles later: registered
    popcounts of groups of :data:`POPCOUNT_GROUP` bits, then their registered sum (short
    paths at any width); with three stages, groups of 8 bits whose sums are registered four
    at a time before the total (shorter paths still)."""
    if stages not in (2, 3):
        raise ValueError(f"stages must be 2 or 3, not {stages!r}")
    terms = _bit_list(bits)
    size = POPCOUNT_GROUP if stages == 2 else POPCOUNT_GROUP // 2
    groups = [terms[i:i + size] for i in range(0, len(terms), size)]
    partial = []
    for i, group in enumerate(groups):
        partial.append(Signal(range(len(group) + 1), name=f"{name}_group{i}"))
        m.d.sync += partial[-1].eq(popcount(group))
    if stages == 3:
        quads = []
        for i in range(0, len(partial), 4):
            most = sum(len(group) for group in groups[i:i + 4])
            quads.append(Signal(range(most + 1), name=f"{name}_quad{i // 4}"))
            m.d.sync += quads[-1].eq(tree_sum(partial[i:i + 4]))
        partial = quads
    total = Signal(range(len(terms) + 1), name=f"{name}_total")
    m.d.sync += total.eq(tree_sum(partial))
    return total


def any_of(values: list[Value]) -> Value:
    """1 iff any of ``values`` is non-zero (0 for an empty list)."""
    return Cat(*values).any() if values else Const(0, 1)


PRIORITY_GROUP = 16
"""Bits per group of :class:`hdl.spike_walker.SpikeWalker` (a short carry chain per group
instead of one across the whole vector: 128 hidden spikes would be a 64-cell chain)."""


def one_hot_index(m: Module, one_hot, name: str) -> Signal:
    """The index of the set bit of ``one_hot`` (a Signal or list of 1-bit values; 0 if
    none): an OR tree per index bit."""
    bits = _bit_list(one_hot)
    index = Signal(max(1, (len(bits) - 1).bit_length()), name=name)
    m.d.comb += index.eq(Cat(*[any_of([bits[i] for i in range(len(bits)) if (i >> k) & 1])
                               for k in range(len(index))]))
    return index


def lowest_set_bit(m: Module, bits: Signal, name: str) -> tuple[Signal, Signal]:
    """``(index, one_hot)`` signals of the lowest set bit of ``bits`` (index 0 if none)."""
    one_hot = Signal(len(bits), name=f"{name}_one_hot")
    m.d.comb += one_hot.eq(bits & -bits)
    return one_hot_index(m, one_hot, f"{name}_index"), one_hot


SEQUENCE_BASE = 4
"""Widest bit vector :func:`spike_sequence` decodes by table (one LUT level per output)."""


def spike_sequence(m: Module, bits: Value, name: str) -> tuple[list[Value], list[Value]]:
    """``(lanes, present)``: ``lanes[k]`` the index of the ``k``-th lowest set bit of ``bits``
    (a power-of-two width; 0 if there is none) and ``present[k]`` whether there is one
    (``popcount(bits) > k``).  Halves of up to :data:`SEQUENCE_BASE` bits are decoded by
    table and merged by the lower half's count: a few LUT levels, no carry chain."""
    width = len(bits)
    lane_bits = max(1, (width - 1).bit_length())
    if width <= SEQUENCE_BASE:
        table = []
        for value in range(1 << width):
            set_bits = [i for i in range(width) if value >> i & 1]
            table.append(Cat(*[Const(set_bits[k] if k < len(set_bits) else 0, lane_bits)
                               for k in range(width)],
                             *[Const(k < len(set_bits), 1) for k in range(width)]))
        decoded = Signal(width * (lane_bits + 1), name=f"{name}_decoded")
        m.d.comb += decoded.eq(Array(table)[bits])
        lanes = [decoded[k * lane_bits:(k + 1) * lane_bits] for k in range(width)]
        return lanes, [decoded[width * lane_bits + k] for k in range(width)]
    half = width // 2
    low_lanes, low_present = spike_sequence(m, bits[:half], f"{name}_low")
    high_lanes, high_present = spike_sequence(m, bits[half:], f"{name}_high")
    low_count = Signal(range(half + 1), name=f"{name}_low_count")
    m.d.comb += low_count.eq(popcount(bits[:half]))
    lanes, present = [], []
    for k in range(width):
        # The k-th set bit is the low half's k-th, or the high half's (k - low_count)-th.
        lane = Signal(lane_bits, name=f"{name}_lane{k}")
        there = Signal(name=f"{name}_present{k}")
        with m.Switch(low_count):
            for count in range(half + 1):
                with m.Case(count):
                    if k < count:
                        m.d.comb += [lane.eq(low_lanes[k]), there.eq(1)]
                    elif k - count < half:
                        m.d.comb += [lane.eq(Cat(high_lanes[k - count], Const(1, 1))),
                                     there.eq(high_present[k - count])]
        lanes.append(lane)
        present.append(there)
    return lanes, present


FANOUT_COPY = "fanout_copy"
"""Attribute of the registered copies :func:`registered_copies` makes: the flow keeps their
flip-flops (Yosys would merge identical flip-flops back into one)."""


def registered_copies(m: Module, value_next, count: int, name: str) -> list[Signal]:
    """``count`` registers that each hold ``value_next`` of the previous cycle: copies of one
    register, each driving a part of a wide fan-out near its consumers."""
    copies = [Signal(len(value_next), name=f"{name}{i}", attrs={FANOUT_COPY: 1})
              for i in range(count)]
    m.d.sync += [copy.eq(value_next) for copy in copies]
    return copies


def register_tree(m: Module, value_next, fan_outs: tuple[int, ...], name: str) -> list[Signal]:
    """A tree of registered copies of ``value_next``, ``len(fan_outs)`` cycles late: level
    ``i`` has ``fan_outs[0] * ... * fan_outs[i]`` copies, each fed by one copy of the level
    above (a die-wide fan-out crosses the die in a cycle of its own, from few copies near
    the source to many near their consumers).  Returns the last level."""
    level = [value_next]
    for depth, fan_out in enumerate(fan_outs):
        level = [copy for k, parent in enumerate(level)
                 for copy in registered_copies(m, parent, fan_out, f"{name}_l{depth}_{k}_")]
    return level
