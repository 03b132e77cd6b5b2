"""Small combinational helpers shared by the core's components.

They take lists of 1-bit values (or a Signal) rather than slicing a ``Cat`` of expressions:
Amaranth emits a sliced expression once per slice, which would make the netlist quadratic
in the lane count.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Signal, Value


def _bit_list(bits) -> list[Value]:
    return list(bits) if isinstance(bits, list) else [bits[i] for i in range(len(bits))]


def popcount(bits) -> Value:
    """Number of set bits of ``bits`` (a Signal or a list of 1-bit values), log depth."""
    terms = _bit_list(bits)
    if not terms:
        return Const(0, 1)
    while len(terms) > 1:
        paired = [terms[i] + terms[i + 1] for i in range(0, len(terms) - 1, 2)]
        terms = paired + ([terms[-1]] if len(terms) % 2 else [])
    return terms[0]


def any_of(values: list[Value]) -> Value:
    """1 iff any of ``values`` is non-zero (0 for an empty list)."""
    return Cat(*values).any() if values else Const(0, 1)


def lowest_set_bit(m: Module, bits: Signal, name: str) -> tuple[Signal, Signal]:
    """``(index, one_hot)`` signals of the lowest set bit of ``bits`` (index 0 if none)."""
    one_hot = Signal(len(bits), name=f"{name}_one_hot")
    m.d.comb += one_hot.eq(bits & -bits)
    index = Signal(max(1, (len(bits) - 1).bit_length()), name=f"{name}_index")
    m.d.comb += index.eq(Cat(*[any_of([one_hot[i] for i in range(len(bits)) if (i >> k) & 1])
                               for k in range(len(index))]))
    return index, one_hot
