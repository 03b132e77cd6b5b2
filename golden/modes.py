"""Command-line run modes shared by every tool: ``--bits 2..8|dynamic`` and its options.

``golden/evaluate.py``, ``flows/verify.py``, ``flows/build.py``, ``flows/pareto.py`` and
``boards/demo.py`` declare the same flags with :func:`add_mode_arguments` and turn them into
:class:`golden.config.RunSettings` with :func:`settings_from_args`, so ``--bits dynamic`` means
the same controller (docs/controller.md, defaults of :class:`ControllerSettings`) everywhere.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict

from golden import cli
from golden.config import (
    MAX_ESCALATION,
    MAX_GATE_BLOCKS,
    MAX_STEPS,
    PRECISIONS,
    WEIGHT_MAX,
    ControllerSettings,
    RunSettings,
)
from golden.errors import UserError

DYNAMIC = "dynamic"
BITS_CHOICES = tuple(str(b) for b in PRECISIONS) + (DYNAMIC,)
_DEFAULT = ControllerSettings()


def add_mode_arguments(parser: argparse.ArgumentParser, *, extra_bits: tuple[str, ...] = (),
                       default_bits: str = "8") -> None:
    """Declare ``--bits``, ``--tau``, ``--gate``, ``--gate-blocks`` and the controller
    parameters."""
    parser.add_argument(
        "--bits", default=default_bits, choices=BITS_CHOICES + extra_bits,
        help="weight precision of both layers (2 = ternary), or 'dynamic' for the closed-loop "
             "precision controller (docs/controller.md)")
    parser.add_argument("--tau", type=cli.integer(0, WEIGHT_MAX), default=0,
                        help=f"magnitude pruning threshold 0..{WEIGHT_MAX} for both layers "
                             "(synapses with |q_b(w)| < tau are skipped; 0 = off)")
    parser.add_argument("--gate", action="store_true",
                        help="activity-based neuron gating: at every checkpoint, hidden neurons "
                             "that have not fired yet are switched off for the rest of the image "
                             "(with a fixed --bits: gating alone)")
    parser.add_argument("--gate-blocks", type=cli.integer(0, MAX_GATE_BLOCKS), default=0,
                        metavar="K",
                        help="block gating: at every checkpoint, switch off each metadata block "
                             "of B hidden neurons in which fewer than K neurons have fired since "
                             "the image started, for the rest of the image (0..B; 0 = off; a "
                             "gated block reads no weight planes; with a fixed --bits: gating "
                             "alone)")
    group = parser.add_argument_group(
        "controller (with --bits dynamic; defaults are the documented default policy)")
    group.add_argument("--start-bits", default=f"{_DEFAULT.start_bits_hidden},"
                       f"{_DEFAULT.start_bits_out}", metavar="H[,O]",
                       type=_pair(PRECISIONS[0], PRECISIONS[-1]),
                       help="precision of the hidden[,output] layer at the start of an image")
    group.add_argument("--step-bits", default=f"{_DEFAULT.step_bits_hidden},"
                       f"{_DEFAULT.step_bits_out}", metavar="H[,O]",
                       type=_pair(0, MAX_ESCALATION),
                       help="bits added per escalation to the hidden[,output] layer (0..6)")
    group.add_argument("--interval", type=cli.integer(1, MAX_STEPS), default=_DEFAULT.interval,
                       help="time steps between checkpoints (below T)")
    group.add_argument("--escalate-margin", type=cli.integer(0, MAX_STEPS),
                       default=_DEFAULT.escalate_margin,
                       help="escalate while the output spike-count margin (top minus second) is "
                            "below this (0 = never)")
    group.add_argument("--exit-margin", type=cli.integer(0, MAX_STEPS),
                       default=_DEFAULT.exit_margin,
                       help="stop the image early once the margin reaches this (0 = never)")


def _pair(lo: int, hi: int):
    """An option type: ``H[,O]``, one integer in ``lo..hi`` for both layers or one each."""
    one = cli.integer(lo, hi)

    def parse(text: str) -> tuple[int, int]:
        values = str(text).split(",")
        if len(values) not in (1, 2):
            raise argparse.ArgumentTypeError(f"expected one integer or two separated by a "
                                             f"comma, not {text!r}")
        return one(values[0]), one(values[-1])

    return parse


def controller_from_args(args: argparse.Namespace) -> ControllerSettings:
    """The controller the flags describe (``ValueError`` text becomes a ``UserError``)."""
    start_h, start_o = args.start_bits
    step_h, step_o = args.step_bits
    try:
        return ControllerSettings(
            start_bits_hidden=start_h, start_bits_out=start_o, step_bits_hidden=step_h,
            step_bits_out=step_o, interval=args.interval,
            escalate_margin=args.escalate_margin, exit_margin=args.exit_margin,
            gate_idle=bool(args.gate), gate_blocks=getattr(args, "gate_blocks", 0))
    except ValueError as err:
        raise UserError(f"controller: {err}") from None


def settings_from_args(args: argparse.Namespace, bits: str | int | None = None, *,
                       hidden_mask: tuple[bool, ...] | None = None,
                       timesteps: int | None = None) -> RunSettings:
    """RunSettings for ``bits`` (default ``args.bits``): static, gating alone, or dynamic."""
    bits = str(args.bits if bits is None else bits)
    tau = getattr(args, "tau", 0)
    try:
        if bits == DYNAMIC:
            controller = controller_from_args(args)
        elif getattr(args, "gate", False) or getattr(args, "gate_blocks", 0):
            controller = ControllerSettings.gating_only(
                int(bits), interval=args.interval, gate_idle=bool(getattr(args, "gate", False)),
                gate_blocks=getattr(args, "gate_blocks", 0))
        else:
            controller = None
        if controller is None:
            return RunSettings.uniform(int(bits), tau_hidden=tau, tau_out=tau,
                                       hidden_mask=hidden_mask, timesteps=timesteps)
        return RunSettings(tau_hidden=tau, tau_out=tau, hidden_mask=hidden_mask,
                           timesteps=timesteps, controller=controller)
    except ValueError as err:
        raise UserError(str(err)) from None


def check_settings(settings: RunSettings, config) -> None:
    """Validate ``settings`` against a network (T, checkpoints, mask); one-sentence errors."""
    try:
        settings.resolve(config)
    except ValueError as err:
        raise UserError(str(err)) from None


def mode_label(settings: RunSettings) -> str:
    """Short human label: ``8``, ``4+gate``, ``dynamic`` (default policy) or ``dynamic*``."""
    ctl = settings.controller
    tau = f" tau {settings.tau_hidden}" if settings.tau_hidden or settings.tau_out else ""
    if ctl is None:
        return f"{settings.bits_hidden}{tau}"
    blocks = f" gate-blocks {ctl.gate_blocks}" if ctl.gate_blocks else ""
    if ctl.step_bits_hidden == ctl.step_bits_out == 0 and ctl.exit_margin == 0:
        idle = "+gate" if ctl.gate_idle else ""
        return f"{ctl.start_bits_hidden}{idle}{blocks}{tau}"
    return ("dynamic" if ctl == _DEFAULT else "dynamic*") + blocks + tau


def mode_json(settings: RunSettings) -> dict:
    """The run-time registers of ``settings`` as JSON-ready values."""
    out = {"bits_hidden": settings.bits_hidden, "bits_out": settings.bits_out,
           "tau_hidden": settings.tau_hidden, "tau_out": settings.tau_out,
           "controller": None}
    if settings.controller is not None:
        out["controller"] = asdict(settings.controller)
        out["bits_hidden"] = out["bits_out"] = None
    return out
