"""UART top end to end (``make sim``): real MNIST test images over the framed protocol.

One simulated session of :class:`boards.soc.UartSNN` at the board's real clock and bit rate
(45 MHz, 3 Mbaud): IDENTIFY, three register settings with pipelined CLASSIFY frames (up to
``banks`` outstanding), register reads, and garbage, a false SOF, a bad length, a bad CRC,
a frame cut off by the time-out, a UART break inside a frame and undecodable images in
between, then every kind of the host tests' line noise (:mod:`boards.noise`) on requests.
Checked: every answer byte equals the Python device model (:mod:`boards.model`),
every class, count, counter and cycle count equals the golden reference and cycle model
(:mod:`flows.scoreboard`), and classification works again after every fault.
"""

from __future__ import annotations

import numpy as np
import pytest

from boards import protocol as p
from boards.model import DeviceModel
from boards.noise import KINDS, LineNoise
from boards.platforms import DEFAULT_CLOCK_HZ
from cocotb_tests.cases import COMMITTED_WEIGHTS, mnist_images
from cocotb_tests.tb_board_sim import Step, run_board
from flows.rtl_sim import Batch, RtlResults
from flows.scoreboard import score_batches
from golden.config import ControllerSettings, RunSettings
from golden.networks import Network
from golden.weights import load_weights
from hdl import regmap

CLOCK_HZ = DEFAULT_CLOCK_HZ
"""The boards' clock, 45 MHz: 15 cycles a bit."""
BAUD = 3_000_000
TIMEOUT_S = 100e-6
"""Frame time-out of the simulated top (30 byte times; the boards use 20 ms)."""
BANKS = 4
GAP_BITS = 600
"""Silence after a cut frame: longer than the time-out (300 bit times)."""


class Session:
    """Builds the steps of a session and, with the device model, what each must answer."""

    def __init__(self, model: DeviceModel):
        self.model = model
        self.steps: list[Step] = []
        self.expected: list[list[p.Frame]] = []
        self.batches: list[tuple[int, Batch]] = []
        self.tag = 0
        self.noise_from = 0

    def _frame(self, cmd: int, payload: bytes = b"") -> bytes:
        self.tag = (self.tag + 1) & 0xFF
        return p.encode_frame(cmd, self.tag, payload)

    def _add(self, step: Step, answer: bytes) -> None:
        frames = p.FrameDecoder().feed(answer)
        step.expect = len(frames)
        self.steps.append(step)
        self.expected.append(frames)

    def requests(self, *frames: bytes, window: int = 1) -> None:
        self._add(Step(frames=list(frames), window=window),
                  b"".join(self.model.feed(f) for f in frames))

    def raw(self, data: bytes, *, line_break: bool = False, timeout: bool = False) -> None:
        answer = self.model.feed(data)
        if line_break:
            answer += self.model.framing_error()
        if timeout:
            answer += self.model.timeout()
        self._add(Step(raw=data, line_break=line_break, gap_bits=GAP_BITS if timeout else 0),
                  answer)

    def identify(self) -> None:
        self.requests(self._frame(p.IDENTIFY))

    def settings(self, settings: RunSettings) -> None:
        writes = p.settings_writes(self.model.config, settings)
        self.requests(self._frame(p.WRITE_REGS, p.write_regs_payload(writes)))

    def classify(self, settings: RunSettings, images: np.ndarray) -> None:
        self.settings(settings)
        self.batches.append((len(self.steps), Batch(settings, images)))
        self.requests(*(self._frame(p.CLASSIFY, p.encode_image(x)) for x in images),
                      window=BANKS)

    def faults(self, image: np.ndarray) -> None:
        """Garbage, false SOFs, bad lengths/CRCs/payloads, a cut frame and a line break."""
        rng = np.random.default_rng(7)
        garbage = bytes(b for b in rng.integers(0, 256, 60, dtype=np.uint8) if b != p.SOF)
        good = self._frame(p.CLASSIFY, p.encode_image(image))
        self.raw(garbage)
        self.raw(bytes([p.SOF, 0x42, 9, 0, 0]))  # unknown command
        self.raw(bytes([p.SOF, p.IDENTIFY, 10, 3, 0, 1, 2, 3]))  # bad length + its tail
        corrupt = bytearray(good)
        corrupt[20] ^= 0x10
        self.raw(bytes(corrupt))  # bad CRC
        self.raw(good[: len(good) // 2], timeout=True)  # cut frame
        self.raw(good[:12], line_break=True)  # UART break inside a frame
        self.requests(self._frame(p.CLASSIFY, b"\x05\x00"),  # ends inside a zero run
                      self._frame(p.CLASSIFY, b"\x07" * 785),  # 785 pixels
                      self._frame(p.READ_RESULT))
        self.raw(garbage[:10] + good)  # a good frame right after garbage
        self.identify()

    def line_noise(self, image: np.ndarray, seed: int = 11) -> None:
        """The host tests' line noise (:mod:`boards.noise`) on CLASSIFY frames, each followed
        by a clean request: the receiver must be back in the hunt.  Every kind but stray
        frames: a frame full of false SOFs makes errors faster than the line can answer
        them, and the top drops error answers then (by design), which the model does not."""
        noise = LineNoise(1.0, seed)
        for kind in (kind for kind in KINDS if kind != "stray"):
            good = self._frame(p.CLASSIFY, p.encode_image(image))
            self.raw(noise.corrupt(good, kind, stray_tag=self.tag ^ 0x80), timeout=True)
            self.requests(self._frame(p.READ_RESULT))

    def results(self, answers: list[list[p.Frame]]) -> list[RtlResults]:
        """The RTL's CLASSIFY answers of every batch as scoreboard input."""
        out = []
        for step, batch in self.batches:
            results = [p.Result.from_bytes(f.payload) for f in answers[step]]
            assert len(results) == len(batch.images)
            out.append(RtlResults(
                pred=np.array([r.pred for r in results]),
                counts=np.array([r.counts for r in results]),
                counters={name: np.array([r.counters[name] for r in results])
                          for name in regmap.COUNTER_ORDER}))
        return out


def _network(weights_path) -> Network:
    weights = load_weights(weights_path)
    config = weights.config(lanes=weights.n_hidden, block_size=16)
    return Network(config, weights.w_hidden, weights.w_out)


def _session(network: Network, images: np.ndarray) -> Session:
    info = p.device_info(network.config, network.w_hidden, network.w_out, clock_hz=CLOCK_HZ,
                         baud=BAUD, banks=BANKS)
    session = Session(DeviceModel(network.config, network.w_hidden, network.w_out, info))
    n = network.config.n_hidden
    mask = tuple(bool(b) for b in np.random.default_rng(3).random(n) < 0.7)
    session.identify()
    session.classify(RunSettings(), images[:6])
    session.faults(images[6])
    session.classify(RunSettings(bits_hidden=4, bits_out=6, tau_hidden=8, tau_out=4,
                                 hidden_mask=mask, timesteps=12), images[7:13])
    session.requests(session._frame(p.READ_REGS, p.read_regs_payload(
        [regmap.PRECISION, regmap.TAU, regmap.TIMESTEPS, regmap.INFO, regmap.CONTROL,
         regmap.MASK, regmap.MASK + 1, regmap.RESULT, regmap.COUNTERS + 11])))
    session.requests(session._frame(p.WRITE_REGS, p.write_regs_payload(
        [(regmap.CONTROL, 1), (regmap.PRECISION, 0xF1)])))  # CONTROL ignored, clamped
    session.classify(RunSettings.uniform(2), images[13:17])
    session.classify(RunSettings(controller=ControllerSettings(gate_idle=True)), images[17:21])
    session.requests(session._frame(p.READ_REGS, p.read_regs_payload(
        [regmap.PRECISION, regmap.CONTROLLER, regmap.CHECKPOINTS])))
    session.noise_from = len(session.steps)
    session.line_noise(images[0])
    session.classify(RunSettings(), images[:2])
    return session


def _difference(got: list[p.Frame], want: list[p.Frame]) -> str:
    """The first differing answer of a step, field by field for results."""
    for i, (a, b) in enumerate(zip(got, want, strict=False)):
        if a == b:
            continue
        if a.cmd == b.cmd == p.CLASSIFY | p.RESPONSE and a.tag == b.tag:
            ra, rb = p.Result.from_bytes(a.payload), p.Result.from_bytes(b.payload)
            fields = {"class": (ra.pred, rb.pred),
                      **{f"count{k}": (ra.counts[k], rb.counts[k]) for k in range(10)},
                      **{n: (ra.counters[n], rb.counters[n]) for n in ra.counters}}
            return f"answer {i} (tag {a.tag}): " + ", ".join(
                f"{n} top {x} model {y}" for n, (x, y) in fields.items() if x != y)
        return f"answer {i}: top {a.describe()}; model {b.describe()}"
    return f"the top sent {len(got)} frames, the model {len(want)}"


def _check(network: Network, session: Session, answers: list[list[p.Frame]]):
    batches = [batch for _, batch in session.batches]
    score = score_batches(network.config, network.w_hidden, network.w_out, batches,
                          session.results(answers), seed=network.seed)
    assert score.mismatches == 0, score.first_divergence.describe()
    for number, (got, want) in enumerate(zip(answers, session.expected, strict=True)):
        assert got == want, f"step {number}: {_difference(got, want)}"


def _run_and_check(network: Network, images: np.ndarray) -> None:
    session = _session(network, images)
    answers = run_board(network.config, network.w_hidden, network.w_out, session.steps,
                        clock_hz=CLOCK_HZ, baud=BAUD, timeout_s=TIMEOUT_S, banks=BANKS)
    _check(network, session, answers)
    errors = [p.ERROR_NAMES[f.payload[0]] for step in answers[:session.noise_from]
              for f in step if f.is_error]
    assert errors == ["unknown command", "bad length", "bad checksum", "frame timed out",
                      "UART framing error", "bad payload", "bad payload"]


@pytest.mark.parametrize("path", COMMITTED_WEIGHTS[1:], ids=lambda path: path.stem)
def test_uart_top_committed_weights(path):
    _run_and_check(_network(path), mnist_images(21)[0])
