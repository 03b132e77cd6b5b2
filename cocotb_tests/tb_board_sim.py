"""Run the UART top (:class:`boards.soc.UartSNN`) under cocotb and collect its answers.

:func:`run_board` generates the Verilog once per configuration (under ``build/sim/``),
builds the simulator once per build directory (:func:`boards.virtual.build_simulator`, the
virtual board's), writes the session (steps of request bytes) to a case file, runs
:mod:`cocotb_tests.tb_board_uart` on it and returns the response frames of every step.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from boards.protocol import Frame, FrameDecoder
from boards.soc import UartSNN, gateware_digest
from boards.virtual import TOPLEVEL, build_simulator
from flows.rtl_sim import PROJECT_ROOT, simulator_name
from golden.config import SNNConfig


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


def run_board(config: SNNConfig, w_hidden, w_out, steps: list[Step], *, clock_hz: int,
              baud: int, timeout_s: float, banks: int = 4,
              sim: str | None = None) -> list[list[Frame]]:
    """Simulate a UART session with the top; the response frames of every step."""
    from cocotb_tools.runner import get_results

    sim = sim or simulator_name()

    def make_top() -> UartSNN:  # only when the Verilog is not cached (an unused one warns)
        top = UartSNN(config=config, w_hidden=w_hidden, w_out=w_out, clock_hz=clock_hz,
                      baud=baud, timeout_s=timeout_s, banks=banks)
        assert top.divisor == divisor
        return top

    divisor = round(clock_hz / baud)  # UartSNN's clock cycles per bit
    digest = gateware_digest(config, w_hidden, w_out, clock_hz, baud, timeout_s, banks)
    runner, build_dir = build_simulator(make_top, f"board-{sim}-n{config.n_hidden}-{digest[:12]}",
                                        sim)
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
