"""The closed-loop precision controller of dynamic mode (docs/controller.md), in hardware.

At a checkpoint the core pulses ``check`` once the output layer is idle (the ten output
spike counts are final for the step).  The controller walks the counts, one per cycle, keeping
the largest and second largest, compares the margin, and ``MARGIN_CYCLES`` cycles after
``check`` pulses ``decided`` (a register) with its decision: ``leave`` (early exit),
``changed`` (a precision rose) and ``gate`` (switch off idle hidden neurons or blocks).
``bits_hidden``/``bits_out`` are the precisions in force: the controller's in dynamic mode,
the static ``PRECISION`` register's otherwise.  All parameter inputs are register values,
clamped here as documented.
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import data
from amaranth.lib.wiring import In, Out

from golden.config import MAX_ESCALATION, N_OUTPUTS, PRECISIONS
from hdl.logic import clamp
from hdl.validated import ValidatedComponent


class PrecisionController(ValidatedComponent):
    """Checkpoint decisions and the precisions in force.

    Parameters
    ----------
    count_width : int
        Bits of one output spike count (enough for ``t_max``).

    Attributes
    ----------
    enable : In(1)
        Dynamic mode (``CONTROLLER`` bit 0); 0 = the static precisions pass through.
    static_hidden, static_out : In(4)
        The ``PRECISION`` register (already clamped to 2..8).
    start_hidden, start_out : In(4)
        Start precisions (clamped into 2..8 here).
    step_hidden, step_out : In(3)
        Escalation steps in bits (7 is clamped to 6).
    escalate_margin, exit_margin : In(8)
        Margins in output spikes (exit 0 = never).
    gate_idle : In(1)
        Gating is on (idle neurons, ``CONTROLLER`` bit 20, or idle blocks, bits 31:24): a
        checkpoint that does not exit gates (what it gates is the hidden neurons' job).
    counts : In(ArrayLayout(count_width, 10))
        Output spike counts of the image so far.
    begin : In(1)
        An image starts: the precisions return to the start values.
    check : In(1)
        A checkpoint: start a decision (counts stable until ``decided``).
    bits_hidden, bits_out : Out(4)
        Precisions in force.
    decided, leave, changed, gate : Out(1)
        ``decided`` pulses one cycle; the other three are valid with it.
    """

    @classmethod
    def validate(cls, *, count_width: int) -> None:
        """Raise ``ValueError`` unless ``count_width`` is a positive integer."""
        if not isinstance(count_width, int) or count_width < 1:
            raise ValueError(f"count_width must be a positive integer, not {count_width!r}")

    def __init__(self, *, count_width: int):
        self._count_width = count_width
        super().__init__({
            "enable": In(1), "static_hidden": In(4), "static_out": In(4),
            "start_hidden": In(4), "start_out": In(4), "step_hidden": In(3), "step_out": In(3),
            "escalate_margin": In(8), "exit_margin": In(8), "gate_idle": In(1),
            "counts": In(data.ArrayLayout(count_width, N_OUTPUTS)),
            "begin": In(1), "check": In(1),
            "bits_hidden": Out(4), "bits_out": Out(4),
            "decided": Out(1), "leave": Out(1), "changed": Out(1), "gate": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        lo, hi = PRECISIONS[0], PRECISIONS[-1]
        dyn_hidden, dyn_out = Signal(4, init=lo), Signal(4, init=lo)
        m.d.comb += [self.bits_hidden.eq(Mux(self.enable, dyn_hidden, self.static_hidden)),
                     self.bits_out.eq(Mux(self.enable, dyn_out, self.static_out))]
        with m.If(self.begin):
            m.d.sync += [dyn_hidden.eq(clamp(self.start_hidden, lo, hi)),
                         dyn_out.eq(clamp(self.start_out, lo, hi))]

        # Walk the counts: largest and second largest (a tie leaves a margin of 0).  The
        # counts are taken into a shift register at ``check`` (they are stable until
        # ``decided``): the compares read a register, not a 10-way multiplexer.
        index = Signal(range(N_OUTPUTS + 1))
        walking = Signal()
        top, second = Signal(self._count_width), Signal(self._count_width)
        pending = Signal(data.ArrayLayout(self._count_width, N_OUTPUTS))
        count = pending[0]
        with m.If(self.check):
            m.d.sync += [walking.eq(1), index.eq(0), top.eq(0), second.eq(0),
                         pending.eq(self.counts)]
        with m.Elif(walking):
            m.d.sync += pending.eq(pending.as_value() >> self._count_width)
            with m.If(count > top):
                m.d.sync += [top.eq(count), second.eq(top)]
            with m.Elif(count > second):
                m.d.sync += second.eq(count)
            m.d.sync += index.eq(index + 1)
            with m.If(index == N_OUTPUTS - 1):
                m.d.sync += walking.eq(0)

        # The decision: margin and comparisons one cycle after the walk, registered; the
        # outputs come straight from registers (short paths into the core's sequencer).
        # (The margin itself is registered first: subtract and compare in one cycle was a
        # critical path.)
        margin_ready, deciding = Signal(), Signal()
        m.d.sync += [margin_ready.eq(walking & (index == N_OUTPUTS - 1)),
                     deciding.eq(margin_ready)]
        margin = Signal(self._count_width)
        m.d.sync += margin.eq(top - second)
        leave = (self.exit_margin != 0) & (margin >= self.exit_margin)
        escalate = ~leave & (margin < self.escalate_margin)
        new_hidden, new_out = Signal(4), Signal(4)
        escalate_q = Signal()
        m.d.sync += self.decided.eq(deciding)
        with m.If(deciding):
            m.d.sync += [
                self.leave.eq(leave),
                escalate_q.eq(escalate),
                self.changed.eq(escalate & (_escalation_changes(dyn_hidden, self.step_hidden)
                                            | _escalation_changes(dyn_out, self.step_out))),
                self.gate.eq(~leave & self.gate_idle),
                new_hidden.eq(_escalated(dyn_hidden, self.step_hidden)),
                new_out.eq(_escalated(dyn_out, self.step_out)),
            ]
        with m.If(self.decided & escalate_q):
            m.d.sync += [dyn_hidden.eq(new_hidden), dyn_out.eq(new_out)]
        return m


def _escalated(bits, step):
    """``min(8, bits + min(step, 6))`` in 5-bit arithmetic."""
    raised = bits + Mux(step > MAX_ESCALATION, MAX_ESCALATION, step)
    return Mux(raised > PRECISIONS[-1], PRECISIONS[-1], raised)


def _escalation_changes(bits, step):
    """``_escalated(bits, step) != bits`` without the adder: a step raises a precision below
    8 (above 8, which the controller never holds, the cap lowers it)."""
    top = PRECISIONS[-1]
    return ((step != 0) & (bits != top)) | (bits > top)
