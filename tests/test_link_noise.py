"""The host link over a noisy line: decoder, client and the demo against a noisy device.

Generated noise (:mod:`boards.noise`, fixed seeds) before, between and inside answers: every
run either gives correct results or one-sentence exit 2 within its time-out; none hangs and
none accepts a wrong answer.  The gateware side gets the same noise in
``cocotb_tests/test_board_uart.py``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from boards import protocol as p
from boards.host import Client, LoopbackTransport
from boards.model import board_model, board_weights
from boards.noise import KINDS, LineNoise, burst
from golden.errors import UserError
from tests.conftest import ROOT, assert_one_line_error, save_tiny_weights

DECODER_SEEDS = range(120)
CLIENT_SEEDS = range(40)


def _answers(rng: np.random.Generator, count: int) -> list[bytes]:
    frames = []
    for tag in range(1, count + 1):
        cmd, length = [(p.CLASSIFY | p.RESPONSE, p.RESULT_BYTES),
                       (p.IDENTIFY | p.RESPONSE, p.IDENTIFY_BYTES),
                       (p.WRITE_REGS | p.RESPONSE, 0), (p.ERROR, p.ERROR_BYTES),
                       (p.READ_REGS | p.RESPONSE, 4 * p.MAX_REGS)][int(rng.integers(5))]
        frames.append(p.encode_frame(cmd, tag, rng.integers(0, 256, length,
                                                            dtype=np.uint8).tobytes()))
    return frames


@pytest.mark.parametrize("seed", DECODER_SEEDS)
def test_decoder_finds_every_intact_answer(seed):
    """Noise around a frame never hides it; a corrupted frame never comes out."""
    rng = np.random.default_rng(seed)
    noise = LineNoise(0.7, seed)
    frames = _answers(rng, 12)
    wire = [noise.apply(frame, stray_tag=200) for frame in frames]
    stream = b"".join(wire)
    decoder = p.FrameDecoder()
    got = []
    for start in range(0, len(stream), 7):  # arrival in pieces must not matter
        got += decoder.feed(stream[start:start + 7])
    got += decoder.feed(b"\0" * p.MAX_ANSWER_BYTES)  # the line goes on: a cut frame ends
    sent = {frame[2]: frame for frame in frames}
    real = [f for f in got if f.tag != 200]
    for frame in real:  # nothing that was not sent
        assert p.encode_frame(frame.cmd, frame.tag, frame.payload) == sent[frame.tag]
    intact = [frame[2] for frame, w in zip(frames, wire, strict=True) if frame in w]
    assert [f.tag for f in real] == intact


def test_decoder_is_linear_on_a_flood_of_start_bytes():
    frame = p.encode_frame(p.CLASSIFY | p.RESPONSE, 5, bytes(p.RESULT_BYTES))
    for flood in (bytes([p.SOF]) * 200_000, burst(np.random.default_rng(1), 200_000)):
        decoder = p.FrameDecoder()
        start = time.perf_counter()
        frames = decoder.feed(flood + frame)
        assert time.perf_counter() - start < 1.0
        assert [f.tag for f in frames] == [5]


def test_decoder_forgets_a_half_frame_on_reset():
    frame = p.encode_frame(p.IDENTIFY | p.RESPONSE, 9, bytes(p.IDENTIFY_BYTES))
    decoder = p.FrameDecoder()
    assert decoder.feed(bytes([p.SOF, p.CLASSIFY | p.RESPONSE, 1, p.RESULT_BYTES, 0])) == []
    decoder.reset()
    assert [f.tag for f in decoder.feed(frame)] == [9]


class NoisyLoopback(LoopbackTransport):
    """The device model behind a noisy line (answers corrupted by :class:`LineNoise`)."""

    def __init__(self, model, noise: LineNoise):
        super().__init__(model)
        self.noise = noise

    def write(self, data: bytes) -> None:
        for answer in self.model.answers(data):
            self.pending += self.noise.apply(answer, stray_tag=answer[2] ^ 0x80)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    path = save_tiny_weights(tmp_path_factory.mktemp("weights") / "tiny.npz", seed=1)
    weights = board_weights("ulx3s-85f", path)
    return path, board_model("ulx3s-85f", weights, clock_hz=15_000_000, baud=3_000_000)


@pytest.mark.parametrize("seed", CLIENT_SEEDS)
def test_client_gives_correct_results_or_one_sentence(tiny_model, test_split, seed):
    _, model = tiny_model
    rate = (0.1, 0.3, 0.6, 1.0)[seed % 4]
    client = Client(NoisyLoopback(model, LineNoise(rate, seed)), timeout_s=0.05)
    images = test_split.images[:8]
    try:
        results = list(client.classify(images, window=4))
    except UserError as err:
        assert rate > 0.1 and "failed image" in str(err)
        return
    assert [i for i, _ in results] == list(range(8))
    for i, result in results:
        assert result == model.classify(images[i])


def test_stray_frames_do_not_extend_a_deadline(tiny_model, test_split):
    """A device that answers everything with a frame of the wrong tag fails in time."""
    _, model = tiny_model

    class Chatty(LoopbackTransport):
        def read(self, timeout_s):
            return p.encode_frame(p.CLASSIFY | p.RESPONSE, 0, bytes(p.RESULT_BYTES))

    client = Client(Chatty(model), timeout_s=0.02)
    start = time.monotonic()
    with pytest.raises(UserError, match="does not answer"):
        client.identify()
    with pytest.raises(UserError, match="failed image 0 3 times"):
        list(client.classify(test_split.images[:3], window=2))
    assert time.monotonic() - start < 2


class PtyDevice:
    """``python -m boards.model --pty`` in the background; :attr:`port` is its terminal."""

    def __init__(self, *args):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "boards.model", "--pty", *map(str, args)], cwd=ROOT,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.port = self.proc.stdout.readline().strip()
        assert self.port.startswith("/dev/"), self.proc.stderr.read()

    def stop(self) -> str:
        self.proc.send_signal(signal.SIGINT)
        try:
            _, err = self.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.communicate()
            raise AssertionError("the device model did not stop on SIGINT") from None
        assert self.proc.returncode == 0, err
        return err


PTY_CASES = [
    ("burst-then-perfect", ["--noise-hex", "a5 00 00 00 10"], True),
    ("false-result-header", ["--noise-hex", "a5 84 07 3b 00 01 02"], True),
    ("random-burst", ["--noise-hex", burst(np.random.default_rng(5), 300).hex()], True),
    *((f"faults-{rate}-seed{seed}", ["--fault-rate", rate, "--seed", seed], False)
      for rate, seed in ((0.1, 1), (0.25, 2), (0.4, 3), (0.6, 4))),
    *((f"only-{kind}", ["--fault-rate", 0.3, "--fault-kinds", kind, "--seed", 9], False)
      for kind in KINDS),
    ("never-recovers", ["--fault-rate", 1, "--fault-kinds", "silence"], None),
]


@pytest.mark.parametrize("name, device_args, must_succeed", PTY_CASES,
                         ids=[case[0] for case in PTY_CASES])
def test_demo_over_a_noisy_pty(tiny_model, name, device_args, must_succeed):
    """``boards/demo.py --port`` against the device model on a pseudo-terminal."""
    pytest.importorskip("serial")
    weights, _ = tiny_model
    device = PtyDevice("--weights", weights, *device_args)
    try:
        start = time.monotonic()
        proc = subprocess.run(
            [sys.executable, str(ROOT / "boards/demo.py"), "--port", device.port, "--weights",
             str(weights), "--images", "10", "--timeout", "0.3", "--json"],
            cwd=ROOT, capture_output=True, text=True, timeout=60,
            env={**os.environ, "PYTHONWARNINGS": "error"})
        assert time.monotonic() - start < 30
    finally:
        device.stop()
    if must_succeed is None:
        assert_one_line_error(proc, "does not answer")
        return
    if proc.returncode == 2 and not must_succeed:
        assert_one_line_error(proc, "the board on")
        return
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["images"] == 10 and summary["mismatches"] == 0
    assert summary["accuracy"] == summary["reference_accuracy"]
