"""The output layer's walk over one step's hidden spikes: the lowest spiking neuron per cycle.

A step's spike vector (``width`` bits) is loaded at once; every cycle with ``advance`` the
lowest set bit is handed out (``index``, ``valid``) and cleared.  The vector is kept in groups
of :data:`hdl.logic.PRIORITY_GROUP` bits with a registered non-empty flag per group, so the
loop from the registers back to themselves stays inside a group, except for the choice of the
lowest non-empty group, which reads only the flags (a priority encoder over all 128 bits of
N = 128 was a critical path).
"""

from __future__ import annotations

from amaranth.hdl import Array, Module, Signal
from amaranth.lib.wiring import In, Out

from hdl.logic import PRIORITY_GROUP, one_hot_index
from hdl.validated import ValidatedComponent


class SpikeWalker(ValidatedComponent):
    """Hands out the set bits of a loaded vector in ascending order, one per cycle.

    Parameters
    ----------
    width : int
        Bits of the spike vector (hidden neurons, padded to whole lane chunks), >= 1.

    Attributes
    ----------
    load : In(1)
        Load ``spikes`` (takes precedence over ``advance``).
    spikes : In(width)
        The vector to walk.
    advance : In(1)
        Clear the bit handed out in this cycle (if any).
    valid : Out(1)
        A set bit remains.
    index : Out(range(width))
        The lowest remaining set bit (0 when none).
    """

    @classmethod
    def validate(cls, *, width: int) -> None:
        """Raise ``ValueError`` unless ``width`` is a positive integer."""
        if not isinstance(width, int) or width < 1:
            raise ValueError(f"width must be a positive integer, not {width!r}")

    def __init__(self, *, width: int):
        self._width = width
        super().__init__({"load": In(1), "spikes": In(width), "advance": In(1),
                          "valid": Out(1), "index": Out(range(max(width, 2)))})

    def elaborate(self, platform):
        m = Module()
        width = self._width
        starts = list(range(0, width, PRIORITY_GROUP))
        sizes = [min(PRIORITY_GROUP, width - start) for start in starts]
        groups = [Signal(size, name=f"group{g}") for g, size in enumerate(sizes)]
        nonempty = Signal(len(groups))

        # The lowest non-empty group, from the registered flags only.
        first = Signal(len(groups))
        m.d.comb += first.eq((nonempty & -nonempty)[:len(groups)])
        first_index = one_hot_index(m, first, "first_index")
        local_index = []
        for g, group in enumerate(groups):
            lowest = Signal(len(group), name=f"lowest{g}")
            m.d.comb += lowest.eq((group & -group)[:len(group)])
            local_index.append(one_hot_index(m, lowest, f"local_index{g}"))
            rest = Signal(len(group), name=f"rest{g}")
            m.d.comb += rest.eq(group & ~lowest)
            with m.If(self.load):
                m.d.sync += [group.eq(self.spikes[starts[g]:starts[g] + sizes[g]]),
                             nonempty[g].eq(self.spikes[starts[g]:starts[g] + sizes[g]].any())]
            with m.Elif(self.advance & first[g]):
                m.d.sync += [group.eq(rest), nonempty[g].eq(rest.any())]

        selected = Signal(range(max(PRIORITY_GROUP, 2)))
        m.d.comb += selected.eq(Array(local_index)[first_index])
        m.d.comb += [self.valid.eq(nonempty.any()),
                     self.index.eq(first_index * PRIORITY_GROUP + selected)]
        return m
