"""Small combinational helpers shared by the core's components."""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Value


def popcount(bits: Value) -> Value:
    """Number of set bits of ``bits``, as a balanced adder tree (log depth)."""
    terms = [bits[i] for i in range(len(bits))]
    if not terms:
        return Const(0, 1)
    while len(terms) > 1:
        paired = [terms[i] + terms[i + 1] for i in range(0, len(terms) - 1, 2)]
        terms = paired + ([terms[-1]] if len(terms) % 2 else [])
    return terms[0]


def any_of(values: list[Value]) -> Value:
    """1 iff any of ``values`` is non-zero (0 for an empty list)."""
    return Cat(*values).any() if values else Const(0, 1)


def lowest_set_bit(bits: Value) -> tuple[Value, Value]:
    """``(index, one_hot)`` of the lowest set bit of ``bits`` (index 0 when none is set)."""
    one_hot = bits & -bits
    width = max(1, (len(bits) - 1).bit_length())
    index = Cat(*[any_of([one_hot[i] for i in range(len(bits)) if (i >> k) & 1])
                  for k in range(width)])
    return index, one_hot[: len(bits)]
