"""Run one configuration through the RTL (cocotb) and the integer reference; compare.

Example::

    python flows/verify.py --neurons 128 --bits 8 --weights weights/mnist-784-128-10.npz \\
        --images 1000 --json
    python flows/verify.py --neurons 37 --bits 4 --random-seed 7 --sparsity 0.6 --lanes 8
    python flows/verify.py --neurons 128 --bits 8 --lanes 32 --block-size 16 \
        --weights weights/mnist-784-128-10-s80.npz --images 1000
    python flows/verify.py --neurons 128 --bits dynamic --weights weights/mnist-784-128-10.npz \
        --images 1000

Prints a JSON summary (images, mismatches, first_divergence, rtl_accuracy,
reference_accuracy, cycles_per_image, images_per_second, ...).  Exit code 0 when every
image, output count and counter agrees (and the cycle model holds), 1 on any mismatch, 2 on
bad input.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flows.rtl_sim import Batch, prepare, run_rtl
from flows.scoreboard import locate_step, score_batches
from golden import cli
from golden.config import RunSettings
from golden.errors import UserError, run_cli
from golden.mnist import load_split
from golden.modes import add_mode_arguments, check_settings, mode_json, settings_from_args
from golden.networks import Network, committed_network, random_network
from golden.weights import load_weights

DEFAULT_LANES = 128
"""Lanes when --lanes is not given: min(128, N), a whole row per cycle up to N = 128."""


def _parser() -> argparse.ArgumentParser:
    p = cli.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_network_arguments(p)
    add_mode_arguments(p)
    p.add_argument("--images", type=cli.count, default=100,
                   help="the first K MNIST test images")
    p.add_argument("--back-to-back", action="store_true",
                   help="queue each next image while the previous one runs (its SCAN overlaps "
                        "the previous image's end) and report the cycles between image ends")
    p.add_argument("--json", action="store_true", help="print only the JSON summary")
    return p


def add_network_arguments(p: argparse.ArgumentParser) -> None:
    """--neurons, --weights | --random-seed, --sparsity, --lanes, --block-size (read by
    :func:`network_from_args`)."""
    p.add_argument("--neurons", type=cli.neurons, required=True,
                   help="hidden neurons N (must match --weights when given)")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--weights", type=Path, help="a weights file (weights/*.npz)")
    source.add_argument("--random-seed", type=cli.seed,
                        help="use a random network (thresholds, leaks, B) from this seed")
    p.add_argument("--sparsity", type=cli.fraction, default=None,
                   help="fraction of zero weights of the random network, 0..1 "
                        "(default: drawn from the seed)")
    p.add_argument("--lanes", type=cli.neurons, default=None,
                   help=f"lanes L (default min({DEFAULT_LANES}, N))")
    p.add_argument("--block-size", type=cli.neurons, default=None, metavar="B",
                   help="neurons per weight-metadata block B, min(B, N) is used (default: 16 "
                        "for --weights, drawn from the seed for --random-seed)")
    cli.add_events_argument(p)


def network_from_args(args) -> Network:
    """The network that :func:`add_network_arguments`' options describe."""
    network = _network(args)
    config = cli.events_config(network.config, args.events_per_cycle)
    return Network(config, network.w_hidden, network.w_out, network.seed)


def _network(args) -> Network:
    if not 1 <= args.neurons <= 1024:
        raise UserError(f"--neurons must be in 1..1024, not {args.neurons}")
    if args.lanes is not None and not 1 <= args.lanes <= 1024:
        raise UserError(f"--lanes must be in 1..1024, not {args.lanes}")
    if args.block_size is not None and not 1 <= args.block_size <= 1024:
        raise UserError(f"--block-size must be in 1..1024, not {args.block_size}")
    if args.sparsity is not None and not 0 <= args.sparsity <= 1:
        raise UserError(f"--sparsity is a fraction in 0..1, not {args.sparsity}")
    if args.images < 1:
        raise UserError(f"--images must be >= 1, not {args.images}")
    lanes = min(args.lanes or DEFAULT_LANES, args.neurons)
    if args.weights is not None:
        if args.sparsity is not None:
            raise UserError("--sparsity only applies to --random-seed networks")
        n = load_weights(args.weights).n_hidden
        if n != args.neurons:
            raise UserError(f"{args.weights} has N={n} hidden neurons, not --neurons "
                            f"{args.neurons}")
        return committed_network(args.weights, lanes=lanes, block_size=args.block_size)
    network = random_network(args.random_seed, n_hidden=args.neurons, lanes=lanes,
                             sparsity=args.sparsity)
    if args.block_size is None:
        return network
    config = network.config.replace(block_size=min(args.block_size, args.neurons))
    return Network(config, network.w_hidden, network.w_out, network.seed)


def verify(network: Network, settings: RunSettings, images, labels, *,
           back_to_back: bool = False) -> dict[str, object]:
    """Run ``images`` with the registers ``settings`` through RTL and reference; the JSON
    summary.  ``back_to_back``: each next image is queued while the previous one runs
    (``back_to_back_cycles_per_image`` is then the mean cycles from one image's end to the
    next one's)."""
    batches = [Batch(settings, images, queued=back_to_back)]
    prepare(network.config, network.w_hidden, network.w_out)  # build time is not sim time
    started = time.monotonic()
    results = run_rtl(network.config, network.w_hidden, network.w_out, batches)
    seconds = time.monotonic() - started
    score = score_batches(network.config, network.w_hidden, network.w_out, batches, results,
                          labels=[labels], seed=network.seed)
    first = score.first_divergence
    if first is not None:
        first.location = locate_step(network.config, network.w_hidden, network.w_out,
                                     batches[0].settings, images[first.image_in_batch],
                                     run=run_rtl)
    config = network.config
    period = results[0].period if back_to_back else None
    return {
        **score.summary(),
        "back_to_back": back_to_back, "back_to_back_cycles_per_image": period,
        "neurons": config.n_hidden, "lanes": min(config.lanes, config.n_hidden),
        "events_per_cycle": config.issue_width,
        "block_size": config.block_size, "bits": settings.bits_hidden
        if settings.controller is None else "dynamic", "registers": mode_json(settings),
        "timesteps": config.timesteps,
        "seed": network.seed, "simulation_seconds": round(seconds, 2),
        "images_per_second": round(len(images) / seconds, 2),
    }


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    network = network_from_args(args)
    settings = settings_from_args(args)
    check_settings(settings, network.config)
    split = load_split("test").first(args.images)
    summary = verify(network, settings, split.images, split.labels,
                     back_to_back=args.back_to_back)
    if not args.json:
        period = summary["back_to_back_cycles_per_image"]
        print(f"{summary['images']} images, {summary['mismatches']} mismatches, "
              f"RTL accuracy {summary['rtl_accuracy']:.4f}, "
              f"{summary['cycles_per_image']:.0f} cycles/image"
              + (f" ({period:.0f} back to back)" if period else "") + ", "
              f"{summary['images_per_second']} images/s simulated", file=sys.stderr)
    print(cli.strict_json(summary, indent=2))
    return 1 if summary["mismatches"] else 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
