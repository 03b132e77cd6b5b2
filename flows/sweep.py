"""Sweep the core's design space on Dask: one task per point, resumable, with a summary.

Examples::

    python flows/sweep.py --neurons 48 128 --lanes 128 26 --block-size 16 26 \\
        --bits 8 dynamic --seeds 1 2 3 --board ulx3s-85f ulx3s-25f --out build/sweep
    python flows/sweep.py --neurons 8 12 --weights random --stage synth --out build/tiny
    python flows/sweep.py ... --scheduler tcp://127.0.0.1:8786    # an existing cluster

Every combination of the given values is one point.  A point whose block RAM cannot fit
its board (or that is otherwise impossible) is listed as skipped with the reason; every
other point runs as one task, in a LocalCluster of single-threaded worker processes (one
per core, or --workers K) or on the cluster at --scheduler.  Each point writes into
OUT/points/NAME/; a point finished earlier with identical inputs is reused, so an
interrupted sweep resumes where it stopped; a failed point is recorded with its error and
the sweep goes on.  Writes OUT/sweep.json, OUT/sweep.md and PNG plots.  Exit code 0 when
the sweep ran (also with failed points), 2 on bad input or an unreachable scheduler.
"""

from __future__ import annotations

import argparse
import importlib
import itertools
import os
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flows.build import _check_writable
from flows.devices import BOARDS, DEFAULT_BOARD, board_device
from flows.sweep_point import STAGES, check_point, point_name, run_point
from flows.sweep_report import write_summary
from flows.toolchain import find_tool
from golden import cli
from golden.errors import UserError, run_cli
from golden.modes import BITS_CHOICES


def _parser() -> argparse.ArgumentParser:
    p = cli.ArgumentParser(
        description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--neurons", type=cli.neurons, nargs="+", default=[128], metavar="N",
                   help="hidden neurons N (default: 128)")
    p.add_argument("--lanes", type=cli.neurons, nargs="+", default=[128], metavar="L",
                   help="hidden neurons updated per cycle; min(L, N) is used (default: 128)")
    p.add_argument("--block-size", type=cli.neurons, nargs="+", default=[16], metavar="B",
                   help="neurons per weight-metadata block; min(B, N) is used (default: 16)")
    p.add_argument("--bits", nargs="+", choices=BITS_CHOICES, default=["8"],
                   help="weight precision(s) or 'dynamic' (default: 8)")
    p.add_argument("--seeds", type=cli.seed, nargs="+", default=[1], metavar="S",
                   help="nextpnr placement seeds (default: 1)")
    p.add_argument("--board", nargs="+", default=[DEFAULT_BOARD],
                   help=f"board ids, of {', '.join(sorted(BOARDS))} (default: {DEFAULT_BOARD})")
    p.add_argument("--weights", metavar="SPEC",
                   help="'random' (random network, seed 1, for every point) or a weights file "
                        "(only with a single --neurons value) (default: "
                        "weights/mnist-784-N-10.npz)")
    p.add_argument("--stage", choices=STAGES, default="pnr",
                   help="synth: Yosys only (area from the netlist); pnr: + nextpnr (Fmax, "
                        "placed area); full: + the simulations and the power/energy report "
                        "of flows/build.py (default: pnr)")
    p.add_argument("--out", type=cli.output_folder, default=Path("build/sweep"),
                   help="output directory (default: build/sweep)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="address of a running Dask scheduler, e.g. tcp://127.0.0.1:8786 "
                        "(default: a LocalCluster on this machine)")
    p.add_argument("--connect-timeout", type=cli.timeout_s, default=10.0, metavar="SECONDS",
                   help="how long to wait for the --scheduler to answer (default: 10)")
    p.add_argument("--workers", type=cli.count, metavar="K",
                   help="worker processes of the LocalCluster, one thread each (default: one "
                        "per core); not used with --scheduler")
    p.add_argument("--freq", type=cli.clock_mhz, default=100.0,
                   help="target clock in MHz given to nextpnr (default: 100)")
    p.add_argument("--images", type=cli.count, default=1000,
                   help="test images for cycles per image with --stage full (default: 1000)")
    p.add_argument("--cycles", choices=("auto", "rtl", "model"), default="auto",
                   help="cycles source with --stage full, as in flows/build.py (default: auto)")
    p.add_argument("--no-abc9", action="store_true",
                   help="run synth_ecp5 without -abc9 (default: with -abc9)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def plan_points(args) -> list[dict]:
    """Every combination of the options, each with ``inputs`` (as given), ``used`` (the lanes
    and block size built: at most N) and, when it cannot be built, ``status`` "skipped" and
    the ``reason``."""
    for board in args.board:
        board_device(board)
    if args.weights not in (None, "random"):
        if len(args.neurons) != 1:
            raise UserError("--weights FILE takes a single --neurons value; use --weights "
                            "random to sweep N")
        # absolute: the workers' working directory may be another one
        args.weights = str(cli.readable_file(args.weights, "weights file").resolve())
    points = []
    for n, lanes, block, bits, seed, board in itertools.product(
            args.neurons, args.lanes, args.block_size, args.bits, args.seeds, args.board):
        inputs = {"neurons": n, "lanes": lanes, "block_size": block,
                  "bits": bits, "seed": seed, "board": board, "stage": args.stage,
                  "weights": args.weights, "freq": args.freq, "abc9": not args.no_abc9,
                  "images": args.images, "cycles": args.cycles}
        point = {"name": point_name(inputs), "inputs": inputs,
                 "used": {"lanes": min(lanes, n), "block_size": min(block, n)}}
        try:
            check_point(inputs)
        except UserError as err:
            point.update(status="skipped", reason=str(err))
        points.append(point)
    return points


def connect(scheduler: str | None, workers: int | None, timeout_s: float = 10.0):
    """A ``distributed.Client``: on the scheduler at ``scheduler``, else on a new LocalCluster
    of single-threaded worker processes listening on 127.0.0.1 only."""
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            client = Client(scheduler, timeout=timeout_s)
        except (OSError, TimeoutError, ValueError) as err:
            reason = str(err).splitlines()[0] if str(err) else "no answer"
            raise UserError(f"cannot reach the Dask scheduler at {scheduler} "
                            f"({type(err).__name__}: {reason})") from None
        try:
            client.wait_for_workers(1, timeout=timeout_s)
        except TimeoutError:
            client.close()
            raise UserError(f"the Dask scheduler at {scheduler} has no workers (none joined "
                            f"within {timeout_s:g} s)") from None
        return client
    cluster = LocalCluster(n_workers=workers or os.cpu_count() or 1, threads_per_worker=1,
                           processes=True, host="127.0.0.1", dashboard_address=None)
    return Client(cluster)


def run_sweep(points: list[dict], out: Path, client, *, quiet: bool) -> list[dict]:
    """Run every point that is not skipped, collecting records as they finish (the summary is
    rewritten after each, so an interruption keeps what finished).

    Only as many points are in flight as the cluster has worker threads: a new point is
    submitted when one finishes, so it goes to the worker that just became free instead of
    queueing behind a long point on a busy one."""
    from distributed import as_completed
    from tqdm import tqdm

    waiting = [p for p in points if p.get("status") != "skipped"]
    todo: dict = {}
    running = as_completed()

    def fill() -> None:
        slots = max(1, sum(client.nthreads().values())) - running.count()
        for point in waiting[:slots]:
            directory = str((out / "points" / point["name"]).resolve())
            future = client.submit(run_point, point["inputs"], directory,
                                   key=f"sweep-{point['name']}", pure=False)
            todo[future] = point
            running.add(future)
        del waiting[:slots]

    with tqdm(total=len(waiting), unit="point", desc="sweep", disable=quiet) as bar:
        fill()
        for future in running:
            point = todo.pop(future)
            try:
                record = future.result()
            except Exception as err:  # the worker died or the task could not run
                record = {"status": "failed", "error": f"{type(err).__name__}: {err}"}
            point.update({k: v for k, v in record.items() if k not in ("name", "inputs")})
            fill()
            bar.set_postfix_str(f"{point['name']}: {point['status']}")
            bar.update()
            write_summary(out, points)
    return points


def place_seeds(args, n: int, weights_spec: str | None, out: Path) -> list[dict]:
    """Place and route N = ``n`` once per seed of ``args.seeds`` (``flows/build.py``'s
    options), in parallel on a LocalCluster; a small sweep in ``out``.  Returns its points,
    each with ``inputs["seed"]`` and, when done, ``result["fmax_mhz"]``."""
    if weights_spec not in (None, "random"):
        weights_spec = str(Path(weights_spec).resolve())  # the workers may run elsewhere
    points = []
    for seed in args.seeds:
        inputs = {"neurons": n, "lanes": args.lanes, "block_size": args.block_size,
                  "bits": args.bits, "seed": seed, "board": args.board, "stage": "pnr",
                  "weights": weights_spec, "weights_seed": args.seed, "freq": args.freq,
                  "abc9": not args.no_abc9, "images": args.images, "cycles": args.cycles,
                  "router": args.router, "timing_weight": args.timing_weight}
        points.append({"name": point_name(inputs), "inputs": inputs,
                       "used": {"lanes": min(args.lanes, n),
                                "block_size": min(args.block_size, n)}})
    client = connect(None, min(len(points), os.cpu_count() or 1))
    try:
        run_sweep(points, out, client, quiet=args.quiet)
    finally:
        cluster = client.cluster
        client.close()
        cluster.close()
    return points


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    find_tool("yosys")
    if args.stage != "synth":
        find_tool("nextpnr-ecp5")
    points = plan_points(args)
    started = time.monotonic()
    client = connect(args.scheduler, args.workers, args.connect_timeout)
    try:
        _check_writable(args.out)  # only now: a rejected run leaves no empty folder
        client.run(importlib.import_module, "flows.sweep_point")  # workers load the flow once
        workers = len(client.nthreads())
        startup = time.monotonic() - started
        run_sweep(points, args.out, client, quiet=args.quiet)
        workers = max(workers, len(client.nthreads()))  # workers may join a running cluster
        finished = time.monotonic()
    finally:
        cluster = client.cluster
        client.close()
        if cluster is not None:
            cluster.close()
    timing = {"workers": workers, "startup_seconds": round(startup, 2),
              "run_seconds": round(finished - started - startup, 2),
              "shutdown_seconds": round(time.monotonic() - finished, 2),
              "wall_seconds": round(time.monotonic() - started, 2),
              "scheduler": "given (--scheduler)" if args.scheduler else "LocalCluster"}
    written = write_summary(args.out, points, timing=timing,
                            command=["python", "flows/sweep.py", *(argv or sys.argv[1:])])
    if not args.quiet:
        count = {s: sum(p.get("status") == s for p in points)
                 for s in ("done", "failed", "skipped")}
        print(f"{len(points)} points: {count['done']} done, {count['failed']} failed, "
              f"{count['skipped']} skipped; wrote {', '.join(p.name for p in written)} in "
              f"{args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
