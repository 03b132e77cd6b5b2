"""The virtual board: a board's UART top in Verilator behind a pseudo-terminal.

:class:`VirtualBoard` generates the Verilog of the board's :class:`~boards.soc.UartSNN`
(the design its bitstream is built from, with the same configuration, weights, clock, bit
rate and frame buffers; only the frame time-out is shortened, see
:data:`SIM_FRAME_TIMEOUT_S`), builds it with Verilator once (cached under ``build/sim/``)
and serves it with :mod:`boards.virtual_bench` on a pseudo-terminal, so that the host's
serial transport talks to it exactly like to a board.  ``boards/demo.py --sim`` uses it.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from pathlib import Path

from boards.platforms import Board
from boards.soc import gateware_digest
from flows.rtl_sim import (
    BUILD_ROOT,
    PROJECT_ROOT,
    add_verilator_make_flags,
    ensure_simulator,
)
from golden.errors import UserError

TOPLEVEL = "uart_snn"
VISIBLE_PORTS = ("clk", "rst", "rx", "tx", "leds")
SIM_FRAME_TIMEOUT_S = 200e-6
"""Frame time-out of the simulated top: 60 byte times at 3 Mbaud (the boards use 20 ms,
which would cost a million simulated cycles per resynchronization)."""
START_TIMEOUT_S = 1800
"""Longest wait for the simulator to be built and to publish its port (s)."""


def _cached_verilator():
    """cocotb's Verilator runner that keeps a built binary and exposes only the ports."""
    from cocotb_tools.runner import Verilator

    class CachedVerilator(Verilator):
        def _build_command(self):
            binary = Path(self.build_dir) / self.hdl_toplevel
            if binary.exists() and all(binary.stat().st_mtime >= Path(s).stat().st_mtime
                                       for s in self.sources):
                return []
            verilate, make = super()._build_command()
            control = Path(self.build_dir) / "ports.vlt"
            control.write_text("`verilator_config\n" + "".join(
                f'public_flat_rw -module "{TOPLEVEL}" -var "{port}"\n'
                for port in VISIBLE_PORTS))
            verilate = [arg for arg in verilate if arg != "--public-flat-rw"]
            return [verilate + [str(control)], make + ["OPT_FAST=-O2"]]

    return CachedVerilator()


def build_simulator(make_top, name: str, sim: str = "verilator"):
    """Verilog of ``make_top()`` (only when not cached) and its simulator, in
    ``build/sim/<name>``; (runner, build directory)."""
    from amaranth.back import verilog
    from cocotb_tools.runner import get_runner

    ensure_simulator(sim)
    build_dir = BUILD_ROOT / name
    build_dir.mkdir(parents=True, exist_ok=True)
    source = build_dir / f"{TOPLEVEL}.v"
    if not source.exists():
        tmp = source.with_suffix(".tmp")
        tmp.write_text(verilog.convert(make_top(), name=TOPLEVEL, emit_src=False))
        tmp.replace(source)
    runner = _cached_verilator() if sim == "verilator" else get_runner(sim)
    add_verilator_make_flags()
    runner.build(sources=[source], hdl_toplevel=TOPLEVEL, build_dir=build_dir,
                 build_args=["-Wno-fatal", "-O2"] if sim == "verilator" else [],
                 timescale=("1ns", "1ps"), log_file=build_dir / "build.log")
    return runner, build_dir


class VirtualBoard:
    """A board's UART top simulated behind a pseudo-terminal (a context manager).

    Parameters
    ----------
    spec : Board
        The board whose design is simulated.
    weights : Weights
        The weights baked into it.
    clock_hz, baud : int
        Clock of the top and the UART bit rate.
    fault_rate : float
        Probability per byte, in both directions, of a line fault.
    seed : int
        Seed of the line faults.

    Attributes
    ----------
    port : str
        The pseudo-terminal to open (after :meth:`start`).
    speed : float
        Simulated seconds per wall-clock second, measured as it starts.
    """

    def __init__(self, spec: Board, weights, *, clock_hz: int, baud: int,
                 fault_rate: float = 0.0, seed: int = 0):
        from boards.bitstream import hardware_config, make_soc

        self.spec, self.clock_hz, self.baud = spec, clock_hz, baud
        self.fault_rate, self.seed = fault_rate, seed
        config = hardware_config(weights, spec)
        self._make_top = lambda: make_soc(weights, clock_hz, baud, spec.banks, spec=spec,
                                          timeout_s=SIM_FRAME_TIMEOUT_S)
        digest = gateware_digest(config, weights.w_hidden, weights.w_out, clock_hz, baud,
                                 SIM_FRAME_TIMEOUT_S, spec.banks)
        self._name = f"virtual-{spec.board_id}-n{config.n_hidden}-{digest[:12]}"
        self.divisor = round(clock_hz / baud)
        self.port = ""
        self.speed = 0.0
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._run_dir: Path | None = None

    def start(self, progress=None) -> VirtualBoard:
        """Build (cached) and start the simulation; return once its port is open."""
        runner, build_dir = build_simulator(self._make_top, self._name)
        self._run_dir = Path(tempfile.mkdtemp(dir=build_dir, prefix="run-"))
        files = {key: str(self._run_dir / f"{key}.json")
                 for key in ("port_file", "stop_file", "result_file")}
        settings = self._run_dir / "settings.json"
        settings.write_text(json.dumps({
            "clock_hz": self.clock_hz, "divisor": self.divisor, "timeout_s":
            SIM_FRAME_TIMEOUT_S, "fault_rate": self.fault_rate, "seed": self.seed, **files}))
        self._files = {key: Path(value) for key, value in files.items()}

        def run():
            try:
                runner.test(test_module="boards.virtual_bench", hdl_toplevel=TOPLEVEL,
                            build_dir=build_dir, test_dir=self._run_dir,
                            results_xml=str(self._run_dir / "results.xml"),
                            extra_env={"VIRTUAL_BOARD": str(settings), "PYTHONPATH":
                                       os.pathsep.join([str(PROJECT_ROOT),
                                                        os.environ.get("PYTHONPATH", "")])},
                            log_file=self._run_dir / "sim.log")
            except BaseException as err:  # noqa: BLE001 (reported by stop())
                self._error = err

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._files["port_file"].exists():
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise UserError(f"the virtual board did not start; see "
                                f"{self._run_dir / 'sim.log'}")
            time.sleep(0.05)
        published = json.loads(self._files["port_file"].read_text())
        self.port, self.speed = published["port"], published["speed"]
        return self

    def stop(self) -> dict:
        """End the simulation; its summary (simulated times of the CLASSIFY frames and
        answers, line faults)."""
        if self._thread is None:
            return {}
        self._files["stop_file"].write_text("stop")
        self._thread.join(timeout=120)
        self._thread = None
        result = self._files["result_file"]
        if not result.exists():
            raise UserError(f"the virtual board ended without a summary; see "
                            f"{self._run_dir / 'sim.log'}")
        return json.loads(result.read_text())

    def __enter__(self) -> VirtualBoard:
        return self

    def __exit__(self, *exc) -> None:
        if self._thread is not None:
            self._files["stop_file"].write_text("stop")
            self._thread.join(timeout=120)


def simulated_throughput(summary: dict, images: int) -> tuple[float, float]:
    """(simulated seconds from the first CLASSIFY frame's first bit to the last CLASSIFY
    answer's last bit, images per simulated second)."""
    starts, answers = summary["classify_starts_ps"], summary["classify_answers_ps"]
    if not starts or not answers:
        return 0.0, 0.0
    seconds = (answers[-1] - starts[0]) * 1e-12
    return seconds, images / seconds if seconds > 0 else 0.0
