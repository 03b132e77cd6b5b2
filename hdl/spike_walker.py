"""The output layer's walk over one step's hidden spikes: ``events`` spiking neurons per cycle.

A step's spike vector (``width`` bits) is loaded at once; every cycle with ``advance`` the
lowest remaining set bit (with ``events = 2``, also the highest remaining one) is handed out
(``index``, ``valid``) and cleared.  The output layer adds every handed-out row's weights, so
the order does not matter, only the number of cycles (``ceil(spikes / events)``); taking the
two ends of the vector makes the two picks independent of each other (the two lowest bits
needed the second search to follow the first).

The vector is kept in groups of :data:`hdl.logic.PRIORITY_GROUP` bits, each with registered
"non-empty", "several" (at least two set bits) and "three" flags: which groups give up a bit
(the lowest and the highest non-empty group) is registered one-hot, decided a cycle ahead
from the groups' next "non-empty" flags (registered flags after a take, the loaded bits after
a load); a group's other next flags come from its flags and logic thresholds of its bits (at
least four, five set bits), and its lowest and highest bits from a logic tree within the
group (no carry chain: ``bits & -bits`` across 16 bits, then the decision, was a critical
path; so was the decision from the flags in the cycle of the take).
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value
from amaranth.lib import data
from amaranth.lib.wiring import In, Out

from hdl.logic import PRIORITY_GROUP, any_of, one_hot_index
from hdl.validated import ValidatedComponent


def _at_least(bits: list, k: int) -> list:
    """``[count >= 1, ..., count >= k]`` of the 1-bit values ``bits``, in logic (halves
    combined: no adder, no carry chain)."""
    if len(bits) == 1:
        return [bits[0]] + [Const(0, 1)] * (k - 1)
    low, high = _at_least(bits[:len(bits) // 2], k), _at_least(bits[len(bits) // 2:], k)
    one = Const(1, 1)
    low, high = [one, *low], [one, *high]
    return [any_of([low[x] & high[a - x] for x in range(a + 1)]) for a in range(1, k + 1)]


def _lowest_index(bits: list) -> Value:
    """The index of the lowest set bit of ``bits`` (0 if none): per 4 bits the local index
    and a non-empty flag, then a priority choice among the quads (log depth)."""
    bits = bits + [Const(0, 1)] * (-len(bits) % 4)
    quads = [bits[i:i + 4] for i in range(0, len(bits), 4)]
    if len(quads) == 1:
        a, b, c, _ = bits
        return Mux(a, 0, Mux(b, 1, Mux(c, 2, 3)))[:2]
    width = (len(quads) - 1).bit_length()
    index = Const(len(quads) - 1, width)
    local = _lowest_index(quads[-1])
    for q in reversed(range(len(quads) - 1)):
        local = Mux(any_of(quads[q]), _lowest_index(quads[q]), local)
        index = Mux(any_of(quads[q]), q, index)
    return Cat(local, index)


class SpikeWalker(ValidatedComponent):
    """Hands out the set bits of a loaded vector, ``events`` per cycle.

    Parameters
    ----------
    width : int
        Bits of the spike vector (hidden neurons, padded to whole lane chunks), >= 1.
    events : int
        Bits handed out per cycle, 1 or 2.

    Attributes
    ----------
    load : In(1)
        Load ``spikes`` (takes precedence over ``advance``).
    spikes : In(width)
        The vector to walk.
    advance : In(1)
        Clear the bits handed out in this cycle (if any).
    valid : Out(events)
        Per output, a set bit is handed out (``valid[1]`` only with ``valid[0]``: at least
        two bits remain).
    index : Out(ArrayLayout(range(width), events))
        ``index[0]``: the lowest remaining set bit; ``index[1]``: the highest remaining set bit
        (the same bit when only one remains; both 0 when none remains).
    handed_valid, handed_index : Out
        What ``advance`` handed out in the previous cycle (``valid`` and ``index`` then; 0
        where nothing was): the group choice and every group's position are registered and
        selected after the register, which suits a requester a stage away from its consumer.
    """

    @classmethod
    def validate(cls, *, width: int, events: int = 1) -> None:
        """Raise ``ValueError`` unless ``width`` is a positive integer and ``events`` 1 or 2."""
        if not isinstance(width, int) or width < 1:
            raise ValueError(f"width must be a positive integer, not {width!r}")
        if isinstance(events, bool) or events not in (1, 2):
            raise ValueError(f"events must be 1 or 2, not {events!r}")

    def __init__(self, *, width: int, events: int = 1):
        self._width = width
        self._events = events
        super().__init__({"load": In(1), "spikes": In(width), "advance": In(1),
                          "valid": Out(events),
                          "index": Out(data.ArrayLayout(range(max(width, 2)), events)),
                          "handed_valid": Out(events),
                          "handed_index": Out(data.ArrayLayout(range(max(width, 2)), events))})

    def elaborate(self, platform):
        m = Module()
        width, two = self._width, self._events == 2
        starts = list(range(0, width, PRIORITY_GROUP))
        sizes = [min(PRIORITY_GROUP, width - start) for start in starts]
        n = len(starts)
        groups = [Signal(size, name=f"group{g}") for g, size in enumerate(sizes)]
        # Per group, registered: it has a set bit, at least two, at least three.
        nonempty, several, three = Signal(n), Signal(n), Signal(n)
        nonempty_next = Signal(n)
        m.d.sync += nonempty.eq(nonempty_next)

        # The lowest and the highest non-empty group, registered one-hot: computed from the
        # groups' next flags, which come from registers in every cycle but a load (so the
        # decision which groups give up a bit starts the cycle in a register).
        flags = [nonempty_next[g] for g in range(n)]
        first, last = Signal(n, name="first"), Signal(n, name="last")
        m.d.sync += [first.eq(Cat(*[flags[g] & ~any_of(flags[:g]) for g in range(n)])),
                     last.eq(Cat(*[flags[g] & ~any_of(flags[g + 1:]) for g in range(n)]))]
        first_index = one_hot_index(m, first, "first_index")
        last_index = one_hot_index(m, last, "last_index")

        # Per group: whether a bit has no set bit below it (above it), and the index of its
        # lowest (highest) set bit, in logic.
        none_below, none_above, lowest_index, highest_index = [], [], [], []
        for g, group in enumerate(groups):
            bits = [group[i] for i in range(len(group))]
            below = Signal(len(group), name=f"none_below{g}")
            above = Signal(len(group), name=f"none_above{g}")
            m.d.comb += [below.eq(Cat(*[~any_of(bits[:i]) for i in range(len(bits))])),
                         above.eq(Cat(*[~any_of(bits[i + 1:]) for i in range(len(bits))]))]
            none_below.append(below)
            none_above.append(above)
            padded = bits + [Const(0, 1)] * (PRIORITY_GROUP - len(bits))
            low = Signal(range(PRIORITY_GROUP), name=f"lowest_index{g}")
            high = Signal(range(PRIORITY_GROUP), name=f"highest_index{g}")
            m.d.comb += [low.eq(_lowest_index(padded)),
                         high.eq(~_lowest_index(padded[::-1]))]
            lowest_index.append(low)
            highest_index.append(high)

        def select(one_hot, values, name):
            # The value of the group that ``one_hot`` selects, as an AND-OR (0 if none).
            value = Signal(range(PRIORITY_GROUP), name=name)
            m.d.comb += value.eq(Cat(*[any_of([one_hot[g] & values[g][b] for g in range(n)
                                               if b < len(values[g])])
                                       for b in range(len(value))]))
            return value

        # group * PRIORITY_GROUP + position, as a concatenation (no adder on the path)
        assert PRIORITY_GROUP & (PRIORITY_GROUP - 1) == 0
        ends = [(first, first_index, lowest_index, "first")]
        m.d.comb += self.valid[0].eq(nonempty.any())
        if two:
            # Two bits remain iff a group has several or two groups are non-empty.
            m.d.comb += self.valid[1].eq(several.any() | (nonempty & ~first).any())
            ends.append((last, last_index, highest_index, "last"))
        for e, (chosen, chosen_index, positions, name) in enumerate(ends):
            m.d.comb += self.index[e].eq(Cat(select(chosen, positions, f"{name}_position"),
                                             chosen_index))
            # The same pick registered in pieces: the group (one-hot, 0 unless handed out)
            # and every group's position; selected after the register.
            handed = Signal(n, name=f"handed_{name}_group")
            handed_positions = [Signal.like(p, name=f"handed_{name}_position{g}")
                                for g, p in enumerate(positions)]
            m.d.sync += [handed.eq(Mux(self.advance & self.valid[e], chosen, 0)),
                         *[h.eq(p) for h, p in zip(handed_positions, positions, strict=True)]]
            m.d.comb += [
                self.handed_valid[e].eq(handed.any()),
                self.handed_index[e].eq(Cat(
                    select(handed, handed_positions, f"handed_{name}_position"),
                    one_hot_index(m, handed, f"handed_{name}_index")))]

        for g, group in enumerate(groups):
            chunk = self.spikes[starts[g]:starts[g] + sizes[g]]
            chunk_bits = [chunk[i] for i in range(len(chunk))]
            bits = [group[i] for i in range(len(group))]
            take_low = self.advance & first[g]
            take_high = (self.advance & last[g]) if two else Const(0, 1)
            # Both ends from one group (the only non-empty one): two bits go if it has several.
            both = Signal(name=f"both{g}")
            m.d.comb += both.eq(first[g] & last[g] if two else 0)
            at_least = _at_least(bits, 5)
            loaded = _at_least(chunk_bits, 3)
            with m.If(self.load):
                m.d.sync += [group.eq(chunk), several[g].eq(loaded[1]), three[g].eq(loaded[2])]
                m.d.comb += nonempty_next[g].eq(loaded[0])
            with m.Elif(take_low | take_high):
                # One bit goes, or two when both ends are in this group.
                m.d.sync += [
                    group.eq(Cat(*[bits[i] & ~(take_low & none_below[g][i])
                                   & ~(take_high & none_above[g][i])
                                   for i in range(len(bits))])),
                    several[g].eq(Mux(both, at_least[3], three[g])),
                    three[g].eq(Mux(both, at_least[4], at_least[3])),
                ]
                m.d.comb += nonempty_next[g].eq(Mux(both, three[g], several[g]))
            with m.Else():
                m.d.comb += nonempty_next[g].eq(nonempty[g])
        return m
