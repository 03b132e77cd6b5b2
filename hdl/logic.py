"""Small combinational helpers shared by the core's components.

They take lists of 1-bit values (or a Signal) rather than slicing a ``Cat`` of expressions:
Amaranth emits a sliced expression once per slice, which would make the netlist quadratic
in the lane count.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value


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
"""Bits per first-stage group of :func:`registered_popcount`."""


def registered_popcount(m: Module, bits, name: str) -> Signal:
    """Number of set bits of ``bits``, two cycles later: registered popcounts of groups of
    :data:`POPCOUNT_GROUP` bits, then their registered sum (short paths at any width)."""
    terms = _bit_list(bits)
    groups = [terms[i:i + POPCOUNT_GROUP] for i in range(0, len(terms), POPCOUNT_GROUP)]
    partial = [Signal(range(len(group) + 1), name=f"{name}_group{i}")
               for i, group in enumerate(groups)]
    m.d.sync += [p.eq(popcount(group)) for p, group in zip(partial, groups, strict=True)]
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
