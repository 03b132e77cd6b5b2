"""The closed-loop precision controller of dynamic mode: per-image state and decisions.

The reference engine (:func:`golden.reference.infer`) runs every image under an
:class:`ImageControl`: the precision of each layer, whether the image is still running, and
which hidden neurons are on.  In static mode (no controller) that state never changes.  In
dynamic mode the controller decides after every checkpoint step from the output spike counts
(docs/controller.md gives the rules and the state diagram):

1. early exit: if ``exit_margin > 0`` and the output margin (largest count minus the second
   largest) is ``>= exit_margin``, the image stops;
2. escalation: otherwise, if the margin is ``< escalate_margin``, each layer's precision rises
   by its ``step_bits`` (at most to 8 bits) and ``precision_changes`` counts the decision;
3. gating: otherwise, with ``gate_idle``, every hidden neuron that has not fired since the
   image started is switched off for the rest of the image; with ``gate_blocks = K > 0``,
   every metadata block of B hidden neurons in which fewer than K neurons have fired since
   the image started is switched off whole (block gating: the unit whose planes the
   hardware skips).

A hidden neuron gated by the controller behaves from the next step on exactly like one masked
by the ``MASK`` register: no leak, no integration, no spike, its synapses count as
``syn_gated`` and a metadata block whose neurons are all off reads no planes.
"""

from __future__ import annotations

import numpy as np

from golden.config import PRECISIONS, RunSettings


def output_margin(counts: np.ndarray) -> np.ndarray:
    """Largest output spike count minus the second largest, per image (ties give 0)."""
    top2 = np.sort(counts, axis=1)[:, -2:]
    return top2[:, 1] - top2[:, 0]


class ImageControl:
    """Controller state of ``n`` images run together.

    Attributes
    ----------
    bits : int64 ``[n, 2]``
        Hidden and output precision in force (bits).
    running : bool ``[n]``
        Images that have not stopped early.
    mask : bool ``[N]`` or ``[n, N]`` or None
        Hidden neurons on: None while every neuron of every image is on, one shared mask
        while the images agree, one mask per image once the controller has gated neurons.
    changes : int64 ``[n]``
        Decisions that changed a precision (the ``precision_changes`` counter).
    """

    def __init__(self, n: int, settings: RunSettings, mask: np.ndarray, timesteps: int,
                 block_size: int = 1):
        self._ctl = settings.controller
        self.bits = np.empty((n, 2), dtype=np.int64)
        if self._ctl is None:
            self.bits[:] = (settings.bits_hidden, settings.bits_out)
            self.checkpoints = frozenset()
        else:
            self.bits[:] = (self._ctl.start_bits_hidden, self._ctl.start_bits_out)
            self.checkpoints = frozenset(self._ctl.checkpoints(timesteps))
        self.running = np.ones(n, dtype=bool)
        self.mask = None if mask.all() else mask
        self.changes = np.zeros(n, dtype=np.int64)
        self._block_size = block_size
        gating = self._ctl is not None and self._ctl.gates
        self._fired_ever = np.zeros((n, len(mask)), dtype=bool) if gating else None

    def groups(self) -> list[tuple[int, int, slice | np.ndarray]]:
        """The running images grouped by precision: ``(bits_hidden, bits_out, rows)``.

        ``rows`` is ``slice(None)`` when every image runs at one precision (no copy), else the
        image indices of the group.
        """
        running = self.running.all()
        rows = np.arange(len(self.bits)) if running else np.flatnonzero(self.running)
        if not len(rows):
            return []
        key = self.bits[rows, 0] * 16 + self.bits[rows, 1]
        values = np.unique(key)
        if len(values) == 1:
            return [(int(values[0]) // 16, int(values[0]) % 16,
                     slice(None) if running else rows)]
        return [(int(v) // 16, int(v) % 16, rows[key == v]) for v in values]

    def hidden_on(self, rows: slice | np.ndarray) -> np.ndarray | None:
        """The hidden mask of the images ``rows`` (see :attr:`mask`)."""
        return self.mask[rows] if self._per_image_mask else self.mask

    @property
    def _per_image_mask(self) -> bool:
        return self.mask is not None and self.mask.ndim == 2

    def fired(self, rows: slice | np.ndarray, spikes: np.ndarray) -> None:
        """Record the hidden spikes of ``rows`` at this step (for gating)."""
        if self._fired_ever is not None:
            self._fired_ever[rows] |= spikes

    def after_step(self, step: int, counts: np.ndarray) -> None:
        """Decide for every running image if ``step`` (steps run so far) is a checkpoint."""
        if step not in self.checkpoints:
            return
        ctl = self._ctl
        rows = np.flatnonzero(self.running)
        margin = output_margin(counts[rows])
        leave = (ctl.exit_margin > 0) & (margin >= ctl.exit_margin)
        self.running[rows[leave]] = False
        stay = rows[~leave]
        escalate = margin[~leave] < ctl.escalate_margin
        steps_up = np.array([ctl.step_bits_hidden, ctl.step_bits_out])
        new_bits = np.where(escalate[:, None],
                            np.minimum(self.bits[stay] + steps_up, PRECISIONS[-1]),
                            self.bits[stay])
        self.changes[stay] += (new_bits != self.bits[stay]).any(axis=1)
        self.bits[stay] = new_bits
        if not ctl.gates:
            return
        if not self._per_image_mask:
            shared = True if self.mask is None else self.mask
            self.mask = np.broadcast_to(shared, self._fired_ever.shape).copy()
        if ctl.gate_idle:
            self.mask[stay] &= self._fired_ever[stay]
        if ctl.gate_blocks:
            self.mask[stay] &= busy_blocks(self._fired_ever[stay], self._block_size,
                                           ctl.gate_blocks)


def busy_blocks(fired_ever: np.ndarray, block_size: int, gate_blocks: int) -> np.ndarray:
    """Block gating: bool ``[n, N]``, False for every neuron of a metadata block (``block_size``
    consecutive neurons; the last may be narrower) in which fewer than ``gate_blocks`` neurons
    have fired (``fired_ever``, bool ``[n, N]``)."""
    n, neurons = fired_ever.shape
    starts = np.arange(0, neurons, block_size)
    fired = np.add.reduceat(fired_ever.astype(np.int64), starts, axis=1)
    widths = np.diff(np.append(starts, neurons))
    return np.repeat(fired >= gate_blocks, widths, axis=1)
