"""Run the UART top (:class:`boards.soc.UartSNN`) under cocotb and collect its answers.

:func:`run_board` generates the Verilog once per configuration (under ``build/sim/``),
builds the simulator once per build directory, writes the session (steps of request bytes)
to a case file, runs :mod:`cocotb_tests.tb_board_uart` on it and returns the response
frames of every step.  The simulator set-up is :mod:`flows.rtl_sim`'s.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from boards.protocol import Frame, FrameDecoder
from boards.soc import UartSNN, gateware_digest
from flows.rtl_sim import (
    BUILD_ROOT,
    PROJECT_ROOT,
    add_verilator_make_flags,
    ensure_simulator,
    simulator_name,
)
from golden.config import SNNConfig

TOPLEVEL = "uart_snn"
VISIBLE_PORTS = ("clk", "rst", "rx", "tx", "leds")


@dataclass
class Step:
    """One step of a UART session.

    ``frames`` are sent with at most ``window`` awaiting an answer; then ``raw`` bytes are
    sent (and a break, a byte with a low stop bit, if ``line_break``); the step ends when
    ``expect`` response frames have arrived in it and ``gap_bits`` bit times have passed.
    """

    frames: list[bytes] = field(default_factory=list)
    window: int = 1
    raw: bytes = b""
    line_break: bool = False
    expect: int = 0
    gap_bits: int = 0

    def to_json(self) -> dict:
        return {"frames": [f.hex() for f in self.frames], "window": self.window,
                "raw": self.raw.hex(), "line_break": self.line_break, "expect": self.expect,
                "gap_bits": self.gap_bits}


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


def _runner(make_top, sim: str, name: str):
    from amaranth.back import verilog
    from cocotb_tools.runner import get_runner

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


def run_board(config: SNNConfig, w_hidden, w_out, steps: list[Step], *, clock_hz: int,
              baud: int, timeout_s: float, banks: int = 4,
              sim: str | None = None) -> list[list[Frame]]:
    """Simulate a UART session with the top; the response frames of every step."""
    from cocotb_tools.runner import get_results

    sim = sim or simulator_name()
    ensure_simulator(sim)
    def make_top() -> UartSNN:  # only when the Verilog is not cached (an unused one warns)
        top = UartSNN(config=config, w_hidden=w_hidden, w_out=w_out, clock_hz=clock_hz,
                      baud=baud, timeout_s=timeout_s, banks=banks)
        assert top.divisor == divisor
        return top

    divisor = round(clock_hz / baud)  # UartSNN's clock cycles per bit
    digest = gateware_digest(config, w_hidden, w_out, clock_hz, baud, timeout_s, banks)
    runner, build_dir = _runner(make_top, sim, f"board-{sim}-n{config.n_hidden}-{digest[:12]}")
    with tempfile.TemporaryDirectory(dir=build_dir, prefix="run-") as run_dir:
        case, result = Path(run_dir) / "case.json", Path(run_dir) / "result.json"
        case.write_text(json.dumps({"clock_hz": clock_hz, "divisor": divisor,
                                    "steps": [s.to_json() for s in steps]}))
        try:
            xml = runner.test(
                test_module="cocotb_tests.tb_board_uart", hdl_toplevel=TOPLEVEL,
                build_dir=build_dir, test_dir=run_dir,
                results_xml=str(Path(run_dir) / "results.xml"),
                extra_env={"BOARD_CASE": str(case), "BOARD_RESULT": str(result),
                           "PYTHONPATH": os.pathsep.join([str(PROJECT_ROOT),
                                                          os.environ.get("PYTHONPATH", "")])},
                log_file=Path(run_dir) / "sim.log")
            _, failed = get_results(xml)
        except SystemExit:  # cocotb's runner exits when a test fails under pytest
            failed = True
        if failed or not result.exists():
            log = (Path(run_dir) / "sim.log").read_text()[-3000:]
            raise RuntimeError(f"the cocotb testbench failed ({build_dir}):\n{log}")
        received = json.loads(result.read_text())
    answers = []
    for data in received:
        decoder = FrameDecoder()
        frames = decoder.feed(bytes.fromhex(data))
        assert decoder.dropped == 0 and not decoder.buffer, \
            f"the top sent bytes that are not frames: {data}"
        answers.append(frames)
    return answers
