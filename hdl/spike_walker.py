"""The output layer's walk over one step's hidden spikes: the lowest spiking neurons per cycle.

A step's spike vector (``width`` bits) is loaded at once; every cycle with ``advance`` the
lowest set bit (with ``events = 2``, the two lowest) is handed out (``index``, ``valid``) and
cleared.  The vector is kept in groups
of :data:`hdl.logic.PRIORITY_GROUP` bits with a registered non-empty flag per group, so the
loop from the registers back to themselves stays inside a group, except for the choice of the
lowest non-empty group, which reads only the flags (a priority encoder over all 128 bits of
N = 128 was a critical path).
"""

from __future__ import annotations

from amaranth.hdl import Array, Cat, Module, Mux, Signal
from amaranth.lib import data
from amaranth.lib.wiring import In, Out

from hdl.logic import PRIORITY_GROUP, one_hot_index
from hdl.validated import ValidatedComponent


class SpikeWalker(ValidatedComponent):
    """Hands out the set bits of a loaded vector in ascending order, ``events`` per cycle.

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
        Per output, a set bit is handed out (the lowest remaining set bits, in order).
    index : Out(ArrayLayout(range(width), events))
        The lowest remaining set bits (0 when none).
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
                          "index": Out(data.ArrayLayout(range(max(width, 2)), events))})

    def elaborate(self, platform):
        m = Module()
        width = self._width
        starts = list(range(0, width, PRIORITY_GROUP))
        sizes = [min(PRIORITY_GROUP, width - start) for start in starts]
        groups = [Signal(size, name=f"group{g}") for g, size in enumerate(sizes)]
        nonempty = Signal(len(groups))

        # The lowest non-empty group (and the next one), from the registered flags only.
        first, later, second = Signal(len(groups)), Signal(len(groups)), Signal(len(groups))
        m.d.comb += [first.eq((nonempty & -nonempty)[:len(groups)]),
                     later.eq(nonempty & ~first),
                     second.eq((later & -later)[:len(groups)])]
        first_index = one_hot_index(m, first, "first_index")
        second_index = one_hot_index(m, second, "second_index")
        local_index, next_index, several = [], [], Signal(len(groups))
        cleared = []  # per group: (rest after its lowest bit, rest after its two lowest)
        for g, group in enumerate(groups):
            lowest = Signal(len(group), name=f"lowest{g}")
            m.d.comb += lowest.eq((group & -group)[:len(group)])
            local_index.append(one_hot_index(m, lowest, f"local_index{g}"))
            rest = Signal(len(group), name=f"rest{g}")
            m.d.comb += rest.eq(group & ~lowest)
            following = Signal(len(group), name=f"following{g}")
            m.d.comb += following.eq((rest & -rest)[:len(group)])
            next_index.append(one_hot_index(m, following, f"next_index{g}"))
            rest2 = Signal(len(group), name=f"rest_after_two{g}")
            m.d.comb += [rest2.eq(rest & ~following), several[g].eq(rest.any())]
            cleared.append((rest, rest2))

        # group * PRIORITY_GROUP + position, as a concatenation (no adder on the path)
        assert PRIORITY_GROUP & (PRIORITY_GROUP - 1) == 0
        selected = Signal(range(max(PRIORITY_GROUP, 2)))
        m.d.comb += selected.eq(Array(local_index)[first_index])
        m.d.comb += [self.valid[0].eq(nonempty.any()),
                     self.index[0].eq(Cat(selected, first_index))]
        pair_in_first = Signal()
        if self._events == 2:
            # The second bit: the next of the first group when it has several, else the
            # lowest of the next non-empty group.
            m.d.comb += pair_in_first.eq((several & first).any())
            following_selected = Signal.like(selected)
            second_selected = Signal.like(selected)
            m.d.comb += [
                following_selected.eq(Array(next_index)[first_index]),
                second_selected.eq(Array(local_index)[second_index]),
                self.valid[1].eq(pair_in_first | later.any()),
                self.index[1].eq(Mux(pair_in_first,
                                     Cat(following_selected, first_index),
                                     Cat(second_selected, second_index))),
            ]
        for g, group in enumerate(groups):
            rest, rest2 = cleared[g]
            chunk = self.spikes[starts[g]:starts[g] + sizes[g]]
            with m.If(self.load):
                m.d.sync += [group.eq(chunk), nonempty[g].eq(chunk.any())]
            with m.Elif(self.advance & first[g]):
                after = rest2 if self._events == 2 else rest
                m.d.sync += [group.eq(after), nonempty[g].eq(after.any())]
            if self._events == 2:
                with m.Elif(self.advance & second[g] & ~pair_in_first):
                    m.d.sync += [group.eq(rest), nonempty[g].eq(rest.any())]
        return m
