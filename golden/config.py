"""The single source of truth for network shape, hardware parameters and run-time registers.

Every part of the project (golden model, training, HDL generator, cocotb tests, flows, board
tops) imports :class:`SNNConfig` and :class:`RunSettings` from here.  Nothing else hard-codes
N, T, widths, precisions or the block size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

N_INPUTS = 784
"""Input layer size: one input per MNIST pixel (28 x 28)."""
N_OUTPUTS = 10
"""Output layer size: one neuron per digit class."""
WEIGHT_BITS = 8
"""Stored weight width: sign + 7 magnitude bits (sign-magnitude, range -127..127)."""
WEIGHT_MAX = 127
"""Largest weight magnitude a sign-magnitude 8-bit word holds."""
MAGNITUDE_BITS = WEIGHT_BITS - 1
"""Bits of block metadata (the block's largest ``|w|``)."""
PRECISIONS = (2, 3, 4, 5, 6, 7, 8)
"""Every run-time weight precision in bits (2 = ternary ``{-64, 0, +64}``)."""
MAX_LEAK_SHIFT = 15
"""Largest leak shift ``k`` (``v -= v >> k``); 0 means no leak."""
MAX_NEURONS = 1024
"""Most hidden neurons N (and most lanes L, largest block size B) a core may have."""
MAX_STEPS = 255
"""Largest ``t_max`` and T (an 8-bit register)."""
MAX_EVENTS_PER_CYCLE = 2
"""Most input spikes the core integrates per cycle (one per block RAM read port)."""
MAX_GATE_BLOCKS = 255
"""Largest block gating K (an 8-bit register field; it must also not exceed B)."""
FORMAT = "snn-weights/1"
ENCODING = "sigma-delta"
QUANTIZER = "truncate"


def _require_int(name: str, value, lo: int, hi: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, not {value!r}")
    if value < lo or (hi is not None and value > hi):
        rng = f">= {lo}" if hi is None else f"in {lo}..{hi}"
        raise ValueError(f"{name} must be {rng}, not {value}")


def signed_width(max_magnitude: int) -> int:
    """Bits of a two's complement register that holds every value in ``[-m, m]``."""
    return max(1, int(max_magnitude).bit_length()) + 1


@dataclass(frozen=True, kw_only=True)
class SNNConfig:
    """Shape, neuron constants and hardware parameters of one ``[784, N, 10]`` core.

    Parameters
    ----------
    n_hidden : int
        Hidden neurons N (1..1024).
    timesteps : int
        Default number of time steps T per image (the weights file's value).
    t_max : int
        Largest T the hardware supports; sets membrane and counter widths.
    theta_hidden, theta_out : int
        Firing thresholds (membrane units, >= 1): a neuron spikes iff ``v > theta``.
    leak_hidden, leak_out : int
        Leak shifts k in 0..15 (``v -= v >> k`` each step; 0 = no leak).
    block_size : int
        B, postsynaptic neurons that share one 7-bit metadata word (largest ``|w|``).
    lanes : int
        L, hidden neurons updated per clock cycle by the HDL core.
    events_per_cycle : int or None
        Input spikes the HDL core integrates per clock cycle, 1 or 2 (None: 2 where it
        fits, that is with one lane chunk, ``L >= N``; else 1).  Two events read the hidden
        weights through both ports of every block RAM and need ``L >= N``.  It changes only
        the ``cycles`` counter, never a result or another counter.
    """

    n_hidden: int = 128
    timesteps: int = 16
    t_max: int = 32
    theta_hidden: int = 512
    theta_out: int = 512
    leak_hidden: int = 0
    leak_out: int = 0
    block_size: int = 16
    lanes: int = 128
    events_per_cycle: int | None = None
    n_inputs: int = field(default=N_INPUTS, init=False)
    n_outputs: int = field(default=N_OUTPUTS, init=False)
    precisions: tuple[int, ...] = field(default=PRECISIONS, init=False)

    def __post_init__(self):
        _require_int("n_hidden", self.n_hidden, 1, MAX_NEURONS)
        _require_int("t_max", self.t_max, 1, MAX_STEPS)
        _require_int("timesteps", self.timesteps, 1, self.t_max)
        _require_int("leak_hidden", self.leak_hidden, 0, MAX_LEAK_SHIFT)
        _require_int("leak_out", self.leak_out, 0, MAX_LEAK_SHIFT)
        _require_int("block_size", self.block_size, 1, MAX_NEURONS)
        _require_int("lanes", self.lanes, 1, MAX_NEURONS)
        _require_int("theta_hidden", self.theta_hidden, 1, self.hidden_membrane_bound)
        _require_int("theta_out", self.theta_out, 1, self.out_membrane_bound)
        if self.events_per_cycle is not None:
            _require_int("events_per_cycle", self.events_per_cycle, 1, MAX_EVENTS_PER_CYCLE)
            if self.events_per_cycle > 1 and self.lanes < self.n_hidden:
                raise ValueError(f"events_per_cycle {self.events_per_cycle} needs a whole "
                                 f"hidden row per cycle (lanes >= N = {self.n_hidden}), not "
                                 f"lanes {self.lanes}")

    def replace(self, **changes) -> SNNConfig:
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)

    @property
    def issue_width(self) -> int:
        """Input spikes the core integrates per clock cycle: ``events_per_cycle``, or when
        that is None, 2 with one lane chunk (``L >= N``) and 1 otherwise."""
        if self.events_per_cycle is not None:
            return self.events_per_cycle
        return MAX_EVENTS_PER_CYCLE if self.lanes >= self.n_hidden else 1

    @property
    def hidden_membrane_bound(self) -> int:
        """Largest ``|v|`` a hidden membrane can reach: ``t_max * 784 * 127`` (docs/bounds.md)."""
        return self.t_max * self.n_inputs * WEIGHT_MAX

    @property
    def out_membrane_bound(self) -> int:
        """Largest ``|v|`` an output membrane can reach: ``t_max * N * 127``."""
        return self.t_max * self.n_hidden * WEIGHT_MAX

    @property
    def hidden_membrane_width(self) -> int:
        """Two's complement bits of a hidden membrane register (no overflow possible)."""
        return signed_width(self.hidden_membrane_bound)

    @property
    def out_membrane_width(self) -> int:
        """Two's complement bits of an output membrane register (no overflow possible)."""
        return signed_width(self.out_membrane_bound)

    @property
    def n_blocks(self) -> int:
        """Metadata blocks per hidden weight row: ``ceil(N / B)`` (the last may be narrower)."""
        return math.ceil(self.n_hidden / self.block_size)

    @property
    def step_width(self) -> int:
        """Bits of a time-step counter that counts up to ``t_max``."""
        return max(1, self.t_max.bit_length())


MAX_ESCALATION = PRECISIONS[-1] - PRECISIONS[0]
"""Largest precision step of one controller escalation (bits): 2 -> 8 at once."""


@dataclass(frozen=True, kw_only=True)
class ControllerSettings:
    """Parameters of the closed-loop precision controller (``--bits dynamic``, docs/controller.md).

    An image starts at ``start_bits_*``.  After every ``interval`` steps (a checkpoint, never
    after the last step) the controller reads the output spike-count margin (largest count
    minus the second largest): if ``exit_margin > 0`` and the margin is ``>= exit_margin`` the
    image stops there (early exit); otherwise, if the margin is ``< escalate_margin``, each
    layer's precision rises by its ``step_bits_*`` (at most to 8 bits); with ``gate_idle``,
    every hidden neuron that has not fired since the image started is gated for the rest of
    the image, and with ``gate_blocks = K > 0`` every metadata block (B consecutive hidden
    neurons) in which fewer than K neurons have fired since the image started is gated whole.

    Parameters
    ----------
    start_bits_hidden, start_bits_out : int
        Precision (bits, 2..8) of each layer at the start of every image.
    step_bits_hidden, step_bits_out : int
        Bits added to each layer's precision per escalation (0..6; 0 = never escalate it).
    interval : int
        Steps between checkpoints (>= 1; checkpoints after steps ``interval``, ``2*interval``,
        ... below T; at least one must fall below T).
    escalate_margin : int
        Escalate while the output margin (spikes) is below this (0..t_max; 0 = never).
    exit_margin : int
        Stop the image when the margin (spikes) reaches this (0..t_max; 0 = never).
    gate_idle : bool
        Gate hidden neurons that have not fired by a checkpoint (activity-based pruning).
    gate_blocks : int
        Block gating (0 = off): at a checkpoint, gate every metadata block of B hidden neurons
        in which fewer than ``gate_blocks`` neurons have fired since the image started
        (0..B; a gated block reads no weight planes).
    """

    start_bits_hidden: int = 4
    start_bits_out: int = 4
    step_bits_hidden: int = 2
    step_bits_out: int = 2
    interval: int = 2
    escalate_margin: int = 1
    exit_margin: int = 2
    gate_idle: bool = False
    gate_blocks: int = 0

    def __post_init__(self):
        for name in ("start_bits_hidden", "start_bits_out"):
            _require_int(name, getattr(self, name), PRECISIONS[0], PRECISIONS[-1])
        for name in ("step_bits_hidden", "step_bits_out"):
            _require_int(name, getattr(self, name), 0, MAX_ESCALATION)
        _require_int("interval", self.interval, 1, MAX_STEPS)
        for name in ("escalate_margin", "exit_margin"):
            _require_int(name, getattr(self, name), 0, MAX_STEPS)
        if not isinstance(self.gate_idle, (bool, np.bool_)):
            raise TypeError(f"gate_idle must be a bool, not {self.gate_idle!r}")
        _require_int("gate_blocks", self.gate_blocks, 0, MAX_GATE_BLOCKS)

    @property
    def gates(self) -> bool:
        """True when checkpoints may gate hidden neurons (``gate_idle`` or ``gate_blocks``)."""
        return bool(self.gate_idle) or self.gate_blocks > 0

    @classmethod
    def gating_only(cls, bits: int = 8, interval: int = 4, *, gate_idle: bool = True,
                    gate_blocks: int = 0) -> ControllerSettings:
        """Static precision ``bits`` with activity-based gating alone (no escalation, no
        early exit): idle neurons (``gate_idle``) and/or idle blocks (``gate_blocks``)."""
        return cls(start_bits_hidden=bits, start_bits_out=bits, step_bits_hidden=0,
                   step_bits_out=0, interval=interval, escalate_margin=0, exit_margin=0,
                   gate_idle=gate_idle, gate_blocks=gate_blocks)

    def check(self, timesteps: int, t_max: int, block_size: int | None = None) -> None:
        """Reject parameters that cannot act for ``timesteps`` steps or blocks of
        ``block_size`` neurons (``ValueError``)."""
        if block_size is not None and self.gate_blocks > block_size:
            raise ValueError(f"gate_blocks must be in 0..{block_size} (neurons of a metadata "
                             f"block, B), not {self.gate_blocks}")
        if self.interval >= timesteps:
            raise ValueError(f"controller interval must be below T = {timesteps} so that a "
                             f"checkpoint falls inside the image, not {self.interval}")
        for name in ("escalate_margin", "exit_margin"):
            if getattr(self, name) > t_max:
                raise ValueError(f"{name} must be in 0..{t_max} (t_max spikes), "
                                 f"not {getattr(self, name)}")

    def checkpoints(self, timesteps: int) -> tuple[int, ...]:
        """Steps run before each checkpoint: ``interval, 2*interval, ...`` below T."""
        return tuple(range(self.interval, timesteps, self.interval))


@dataclass(frozen=True, kw_only=True)
class RunSettings:
    """Run-time registers: what the host may change between images without regenerating.

    Parameters
    ----------
    bits_hidden, bits_out : int
        Weight precision b in 2..8 per layer (default 8).
    tau_hidden, tau_out : int
        Magnitude threshold in 0..127 per layer (0 = off): synapses with ``|q_b(w)| < tau``
        are skipped ("below").
    hidden_mask : tuple of bool or None
        Which hidden neurons are on (None = all on). A masked neuron does nothing at all.
    timesteps : int or None
        T for this image, 1..t_max (None = the weights file's value).
    controller : ControllerSettings or None
        The closed-loop precision controller (dynamic mode); None = static precision
        ``bits_*``.  In dynamic mode the controller sets the precision and ``bits_*`` are
        ignored.
    """

    bits_hidden: int = 8
    bits_out: int = 8
    tau_hidden: int = 0
    tau_out: int = 0
    hidden_mask: tuple[bool, ...] | None = None
    timesteps: int | None = None
    controller: ControllerSettings | None = None

    def __post_init__(self):
        if self.controller is not None and not isinstance(self.controller, ControllerSettings):
            raise TypeError(f"controller must be a ControllerSettings, not {self.controller!r}")
        for name in ("bits_hidden", "bits_out"):
            _require_int(name, getattr(self, name), PRECISIONS[0], PRECISIONS[-1])
        for name in ("tau_hidden", "tau_out"):
            _require_int(name, getattr(self, name), 0, WEIGHT_MAX)
        if self.timesteps is not None:
            _require_int("timesteps", self.timesteps, 1, MAX_STEPS)
        if self.hidden_mask is not None:
            object.__setattr__(self, "hidden_mask", tuple(bool(m) for m in self.hidden_mask))

    @property
    def dynamic(self) -> bool:
        """True when the closed-loop controller chooses the precision."""
        return self.controller is not None

    @classmethod
    def uniform(cls, bits: int = 8, **kw) -> RunSettings:
        """Settings with the same precision ``bits`` in both layers (``--bits b``)."""
        return cls(bits_hidden=bits, bits_out=bits, **kw)

    def resolve(self, config: SNNConfig) -> tuple[int, np.ndarray]:
        """Check against ``config``; return (T, hidden mask as a bool array of length N)."""
        t = config.timesteps if self.timesteps is None else self.timesteps
        _require_int("timesteps", t, 1, config.t_max)
        if self.controller is not None:
            self.controller.check(t, config.t_max, config.block_size)
        if self.hidden_mask is None:
            mask = np.ones(config.n_hidden, dtype=bool)
        else:
            mask = np.asarray(self.hidden_mask, dtype=bool)
            if mask.shape != (config.n_hidden,):
                raise ValueError(
                    f"hidden_mask must have {config.n_hidden} entries, not {mask.size}"
                )
        return t, mask
