"""On-board MNIST demo: build, program, stream test images, check every answer on the host.

    python boards/demo.py --board ulx3s-85f --program --images 1000 --bits 4
    python boards/demo.py --board ulx3s-85f --loopback --images 300 --bits dynamic
    python boards/demo.py --sim --images 200 --json

Builds the board's bitstream (cached under ``build/boards/``), loads it with openFPGALoader,
streams MNIST test images over the framed UART protocol (docs/protocol.md) with a progress
bar (accuracy, images/s, on-chip cycles per image), and checks each on-chip class, output
spike count and event counter against the integer reference (and the cycle count against
the cycle model).  ``--dry-run`` builds and prints the programming command; ``--loopback``
talks to the Python device model instead of a board; ``--sim`` to the board's gateware in
Verilator behind a pseudo-terminal (:mod:`boards.virtual`), through the same serial path as
a board, and reports images/s in simulated time.  Exit codes: 0 all answers equal the
reference, 1 a mismatch, 2 a usage or hardware problem (one sentence).
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time

import numpy as np

from boards import protocol as p
from boards.bitstream import (
    build_bitstream,
    program,
    program_command,
)
from boards.host import RETRIES, Client, LoopbackTransport, SerialTransport, find_port
from boards.model import DeviceModel, board_model, board_weights
from boards.platforms import BOARDS, DEFAULT_BAUD, DEFAULT_BOARD, DEFAULT_CLOCK_HZ, board
from golden import cli
from golden.config import RunSettings
from golden.cycle_model import cycles_per_image
from golden.errors import UserError, run_cli
from golden.mnist import load_split
from golden.modes import add_mode_arguments, check_settings, mode_label, settings_from_args
from golden.reference import COUNTER_NAMES, infer

SHADES = " .:-=+*#%@"


def ascii_digit(image: np.ndarray) -> str:
    """A 28 x 28 image as 28 lines of text (two characters per pixel)."""
    levels = (np.asarray(image, dtype=np.int32).reshape(28, 28) * len(SHADES)) // 256
    return "\n".join("".join(SHADES[v] * 2 for v in row) for row in levels)


def parse_args(argv):
    parser = cli.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Exit codes: 0 every answer equals the reference, 1 a mismatch, 2 a usage or "
               "hardware problem.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--board", default=DEFAULT_BOARD, choices=sorted(BOARDS),
                        help="board id")
    parser.add_argument("--port", default=None,
                        help="serial port (default: the board's USB serial port, found by "
                             "its USB id)")
    parser.add_argument("--program", action="store_true",
                        help="build the bitstream (cached) and load it into the FPGA "
                             "with openFPGALoader before streaming")
    parser.add_argument("--flash", action="store_true",
                        help="with --program: write the SPI flash (survives power-off) "
                             "instead of SRAM")
    parser.add_argument("--dry-run", action="store_true",
                        help="build the bitstream and print the programming command; no "
                             "hardware is touched")
    parser.add_argument("--loopback", action="store_true",
                        help="talk to the Python device model instead of a board (tests the "
                             "host side without hardware)")
    parser.add_argument("--sim", action="store_true",
                        help="talk to the board's gateware simulated in Verilator (a virtual "
                             "board on a pseudo-terminal, at the real bit timing) instead of a "
                             "board; throughput is reported in simulated time")
    parser.add_argument("--fault-rate", type=cli.fraction, default=0.0, metavar="P",
                        help="with --sim: flip a bit of, drop or insert a byte on the simulated "
                             "line with probability P per byte, both directions (implies "
                             "--skip-lost)")
    parser.add_argument("--seed", type=cli.seed, default=0,
                        help="with --sim: seed of the line faults")
    parser.add_argument("--skip-lost", action="store_true",
                        help="an image that fails 3 times is reported lost and the stream "
                             "goes on (default: stop with an error)")
    parser.add_argument("--images", type=cli.count, default=1000,
                        help="stream the first K MNIST test images")
    add_mode_arguments(parser)
    parser.add_argument("--weights", default=None,
                        help="weights file (default: the board's, weights/mnist-784-128-10.npz "
                             "or -48- on a 12F/25F)")
    parser.add_argument("--show", type=cli.integer(0), default=0, metavar="N",
                        help="print the first N digits as ASCII art with their answers")
    parser.add_argument("--baud", type=cli.baud, default=DEFAULT_BAUD, help="UART bit rate (bit/s)")
    parser.add_argument("--clock-mhz", type=cli.clock_mhz, default=DEFAULT_CLOCK_HZ / 1e6,
                        help="core clock of the bitstream (MHz)")
    parser.add_argument("--timeout", type=cli.timeout_s, default=None,
                        help="seconds to wait for an answer before retrying (default: 0.5; "
                             "with --sim, scaled to the simulation's speed)")
    parser.add_argument("--json", action="store_true",
                        help="print the summary as JSON instead of text")
    args = parser.parse_args(argv)
    if args.images < 1:
        parser.error(f"--images must be >= 1, not {args.images}")
    if args.fault_rate and not args.sim:
        parser.error("--fault-rate needs --sim (it corrupts the simulated line)")
    if args.sim and (args.loopback or args.program or args.dry_run or args.port):
        parser.error("--sim runs without a board: it excludes --loopback, --program, "
                     "--dry-run and --port")
    args.skip_lost = args.skip_lost or args.fault_rate > 0
    return args


def sim_timeout(board_speed: float, window: int, baud: int, clock_hz: int,
                payload_bytes: int) -> float:
    """Answer deadline (wall s) for a virtual board that simulates ``board_speed`` seconds a
    second: three times the wall time of ``window + 1`` frames of ``payload_bytes``, their
    answers and a generous 20,000 core cycles each."""
    frame_s = (2 * p.OVERHEAD_BYTES + payload_bytes + p.RESULT_BYTES) * 10 / baud  # 8N1
    return max(0.5, 3 * (window + 1) * (frame_s + 20_000 / clock_hz) / board_speed)


def expected_results(model: DeviceModel, images: np.ndarray, settings: RunSettings):
    """Reference answers (class, counts, counters) for all images at once."""
    return infer(model.w_hidden, model.w_out, images, model.config, settings)


def compare(result: p.Result, ref, i: int, cycles: int) -> list[str]:
    """Fields where the on-chip ``result`` differs from reference image ``i`` (``cycles``:
    the cycle model's prediction for it)."""
    wrong = []
    if result.pred != int(ref.pred[i]):
        wrong.append(f"class {result.pred} != {int(ref.pred[i])}")
    counts = [int(c) for c in ref.counts[i]]
    if list(result.counts) != counts:
        wrong.append(f"counts {list(result.counts)} != {counts}")
    for name in COUNTER_NAMES:
        if result.counters[name] != int(ref.counters[name][i]):
            wrong.append(f"{name} {result.counters[name]} != {int(ref.counters[name][i])}")
    if result.counters["cycles"] != cycles:
        wrong.append(f"cycles {result.counters['cycles']} != {cycles} (cycle model)")
    return wrong


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    spec = board(args.board)
    weights = board_weights(args.board, args.weights)
    clock_hz = round(args.clock_mhz * 1e6)
    model = board_model(args.board, weights, clock_hz=clock_hz, baud=args.baud)
    info = model.info

    if args.program or args.dry_run:
        print(f"building the {args.board} bitstream (minutes the first time, then cached)...",
              file=sys.stderr)
        bit = build_bitstream(args.board, weights, clock_hz=clock_hz, baud=args.baud)
        fmax = f"{bit.fmax_mhz:.1f} MHz" if bit.fmax_mhz else "unknown"
        print(f"bitstream {bit.path} ({bit.size_bytes:,} bytes, "
              f"{'cached' if bit.cached else f'built in {bit.seconds:.0f} s'}, "
              f"Fmax {fmax} for {clock_hz / 1e6:g} MHz)", file=sys.stderr)
        if args.dry_run:
            print(shlex.join(program_command(args.board, bit.path, flash=args.flash)))
            return 0
        program(args.board, bit.path, flash=args.flash)

    if args.sim:
        return run_virtual(args, spec, weights, model, info, clock_hz)
    if args.loopback:
        transport = LoopbackTransport(model)
    else:
        transport = SerialTransport(args.port or find_port(spec), args.baud)
    try:
        summary, problems = stream(args, Client(transport, args.timeout or 0.5), model, info)
    finally:
        transport.close()
    return report(args, summary, problems)


def run_virtual(args, spec, weights, model: DeviceModel, info: p.DeviceInfo,
                clock_hz: int) -> int:
    """The demo against the virtual board: its gateware in Verilator on a pseudo-terminal."""
    from boards.virtual import VirtualBoard, simulated_throughput

    print(f"starting the virtual {args.board} (Verilator; minutes the first time, then "
          "cached)...", file=sys.stderr)
    board_sim = VirtualBoard(spec, weights, clock_hz=clock_hz, baud=args.baud,
                             fault_rate=args.fault_rate, seed=args.seed)
    with board_sim:
        board_sim.start()
        longest = max(len(p.encode_image(x)) for x in load_split("test").first(args.images).images)
        timeout = args.timeout or sim_timeout(board_sim.speed, spec.banks, args.baud, clock_hz,
                                              longest)
        transport = SerialTransport(board_sim.port, args.baud)
        try:
            summary, problems = stream(args, Client(transport, timeout), model, info)
        finally:
            transport.close()
        line = board_sim.stop()
    seconds, rate = simulated_throughput(line, summary["images"])
    summary.update(
        port=f"virtual {args.board}", simulated_seconds=seconds,
        simulated_images_per_second=rate,
        simulated_fraction_of_bound=rate / summary["line_rate_bound_images_per_second"],
        simulation_speed=board_sim.speed, answer_timeout_s=timeout,
        line_faults={"to_device": line["faults_to_device"],
                     "to_host": line["faults_to_host"]})
    return report(args, summary, problems)


def stream(args, client: Client, model: DeviceModel, info: p.DeviceInfo):
    """Identify the board, set the precision, classify and check; (summary, problems)."""
    found = client.identify()
    if found.fingerprint != info.fingerprint or found.n_hidden != info.n_hidden:
        raise UserError(f"the board on {client.transport.port} runs another design "
                        f"(N = {found.n_hidden}, weights {found.fingerprint.hex()}, expected "
                        f"N = {info.n_hidden}, {info.fingerprint.hex()}); use --program")
    settings = settings_from_args(args)
    check_settings(settings, model.config)
    client.write_registers(p.settings_writes(model.config, settings))
    split = load_split("test").first(args.images)
    ref = expected_results(model, split.images, settings)
    expected_cycles = cycles_per_image(model.config, split.images, settings, ref)
    from tqdm import tqdm

    correct = mismatches = cycles = answered = reference_correct = 0
    lost: list[int] = []
    problems: list[str] = []
    start = time.monotonic()
    bar = tqdm(total=len(split.images), unit="img", disable=args.json)
    for i, result in client.classify(split.images, window=found.banks,
                                     skip_lost=args.skip_lost):
        bar.update()
        if result is None:
            lost.append(i)
            continue
        answered += 1
        reference_correct += int(ref.pred[i]) == split.labels[i]
        wrong = compare(result, ref, i, int(expected_cycles[i]))
        mismatches += bool(wrong)
        if wrong and len(problems) < 5:
            problems.append(f"image {i}: " + "; ".join(wrong))
        correct += result.pred == split.labels[i]
        cycles += result.counters["cycles"]
        if i < args.show:
            tqdm.write(f"{ascii_digit(split.images[i])}\nimage {i}: label {split.labels[i]}, "
                       f"board says {result.pred} (reference {int(ref.pred[i])})\n")
        bar.set_postfix(acc=f"{correct / answered:.4f}", cycles=f"{cycles / answered:.0f}",
                        mismatches=mismatches, retries=client.retries)
    bar.close()
    seconds = time.monotonic() - start
    n = len(split.images)
    encoded = float(np.mean([len(p.encode_image(x)) for x in split.images]))
    summary = {
        "board": args.board, "port": client.transport.port, "images": n, "bits": args.bits,
        "mode": mode_label(settings),
        "accuracy": correct / max(answered, 1),
        "reference_accuracy": reference_correct / max(answered, 1),
        "mismatches": mismatches, "retries": client.retries, "lost": len(lost),
        "lost_images": lost, "images_per_second": n / seconds,
        "line_rate_bound_images_per_second": p.line_rate_bound(encoded, found.baud),
        "raw_line_rate_bound_images_per_second": p.line_rate_bound(784, found.baud),
        "encoded_image_bytes": encoded, "cycles_per_image": cycles / max(answered, 1),
        "on_chip_us_per_image": cycles / max(answered, 1) / found.clock_hz * 1e6,
        "baud": found.baud, "data": split.source,
    }
    return summary, problems


def report(args, summary: dict, problems: list[str]) -> int:
    """Print the summary (text or ``--json``); the exit code (1 if an answer was wrong)."""
    if args.json:
        print(cli.strict_json(summary))
    else:
        n, encoded = summary["images"], summary["encoded_image_bytes"]
        bound = summary["line_rate_bound_images_per_second"]
        if "simulated_images_per_second" in summary:
            speed = (f"{summary['simulated_images_per_second']:.0f} images/s in simulated time "
                     f"({100 * summary['simulated_fraction_of_bound']:.1f} % of the line-rate "
                     f"bound {bound:.0f}")
        else:
            speed = f"{summary['images_per_second']:.0f} images/s (line-rate bound {bound:.0f}"
        print(f"{n} images on {summary['port']}: accuracy {summary['accuracy']:.4f} "
              f"(reference {summary['reference_accuracy']:.4f}), {summary['mismatches']} "
              f"mismatches, {summary['retries']} retries, {summary['lost']} lost; {speed} at "
              f"{summary['baud']:,} baud, {encoded:.0f} bytes/image); "
              f"{summary['cycles_per_image']:.0f} cycles = "
              f"{summary['on_chip_us_per_image']:.1f} us/image on chip")
    for problem in problems:
        print(f"mismatch: {problem}", file=sys.stderr)
    if summary["lost"]:
        print(f"lost after {RETRIES} attempts: images "
              f"{', '.join(map(str, summary['lost_images'][:20]))}", file=sys.stderr)
    return 1 if summary["mismatches"] else 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
