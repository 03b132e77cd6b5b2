"""Host demo and client against the device model: results, retries, and one-sentence errors."""

import errno
import json
import os

import numpy as np
import pytest

from boards import demo
from boards import protocol as p
from boards.bitstream import Bitstream, hardware_config
from boards.host import Client, LoopbackTransport
from boards.model import DeviceModel
from boards.platforms import DEFAULT_CLOCK_HZ
from golden.weights import load_weights
from tests.conftest import assert_one_line_error, run_cli


def _model(path) -> DeviceModel:
    weights = load_weights(path)
    config = hardware_config(weights)
    info = p.device_info(config, weights.w_hidden, weights.w_out, clock_hz=DEFAULT_CLOCK_HZ,
                         baud=3_000_000, banks=4)
    return DeviceModel(config, weights.w_hidden, weights.w_out, info)


def test_loopback_demo_checks_every_image(tiny_weights):
    proc = run_cli("boards/demo.py", "--loopback", "--weights", tiny_weights, "--images", 12,
                   "--bits", 4, "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["images"] == 12 and summary["mismatches"] == 0
    assert summary["accuracy"] == summary["reference_accuracy"]
    assert summary["line_rate_bound_images_per_second"] > 3 * \
        summary["raw_line_rate_bound_images_per_second"]
    assert summary["cycles_per_image"] > 198


def test_demo_shows_digits(tiny_weights):
    proc = run_cli("boards/demo.py", "--loopback", "--weights", tiny_weights, "--images", 2,
                   "--show", 1)
    assert proc.returncode == 0, proc.stderr
    assert "image 0: label 7, board says" in proc.stdout
    assert "@@" in proc.stdout and "image 1: label" not in proc.stdout


def test_demo_reports_a_wrong_board_answer(tiny_weights, monkeypatch, capsys):
    honest = DeviceModel.classify

    def off_by_one(self, image):
        result = honest(self, image)
        counters = dict(result.counters, syn_zero=result.counters["syn_zero"] + 1)
        return p.Result(result.pred, result.counts, counters)

    monkeypatch.setattr(DeviceModel, "classify", off_by_one)
    code = demo.main(["--loopback", "--weights", str(tiny_weights), "--images", "3"])
    assert code == 1
    assert "mismatch: image 0: syn_zero" in capsys.readouterr().err


def test_client_retries_a_corrupted_frame(tiny_weights, test_split):
    class Noisy(LoopbackTransport):
        writes = 0

        def write(self, data):
            self.writes += 1
            if self.writes == 2:  # corrupt the second frame on the wire
                data = data[:8] + bytes([data[8] ^ 0x40]) + data[9:]
            super().write(b"\x13\x37" + data)  # and garbage before every frame

    model = _model(tiny_weights)
    transport = Noisy(model)
    client = Client(transport, timeout_s=0.2)
    results = list(client.classify(test_split.images[:6], window=4))
    assert transport.writes == 7  # the corrupted image was answered "bad checksum", resent
    assert [i for i, _ in results] == list(range(6))
    for i, result in results:
        assert result == model.classify(test_split.images[i])


def test_dry_run_prints_the_programming_command(tiny_weights, monkeypatch, capsys, tmp_path):
    bit = tmp_path / "top.bit"
    bit.write_bytes(b"\0" * 100)
    monkeypatch.setattr(demo, "build_bitstream", lambda *a, **k: Bitstream(
        bit, True, 1.0, 100, 52.0, {}, "ulx3s-85f", DEFAULT_CLOCK_HZ, 3_000_000))
    monkeypatch.setenv("OPENFPGALOADER", "true")
    assert demo.main(["--dry-run", "--weights", str(tiny_weights)]) == 0
    out = capsys.readouterr()
    assert out.out.strip().endswith(f"-b ulx3s {bit}")
    assert "cached" in out.err


def test_missing_port(tiny_weights):
    proc = run_cli("boards/demo.py", "--weights", tiny_weights, "--port", "/dev/ttyNOPE9")
    assert_one_line_error(proc, "/dev/ttyNOPE9 does not exist")


def test_no_board_connected(tiny_weights):
    proc = run_cli("boards/demo.py", "--weights", tiny_weights, "--board", "ecpix5-85f")
    assert_one_line_error(proc, "no ecpix5-85f board found")


def test_board_not_answering(tiny_weights):
    controller, device = os.openpty()  # a port that exists but where nobody answers
    try:
        proc = run_cli("boards/demo.py", "--weights", tiny_weights, "--port",
                       os.ttyname(device), "--timeout", "0.05")
    finally:
        os.close(controller)
        os.close(device)
    assert_one_line_error(proc, "does not answer", "--program")


def test_permission_denied(monkeypatch, tiny_weights, capsys):
    import serial

    def refuse(*args, **kwargs):
        raise serial.SerialException(errno.EACCES, "could not open port: Permission denied")

    monkeypatch.setattr(serial, "Serial", refuse)
    from golden.errors import run_cli as run_main

    assert run_main(demo.main, ["--weights", str(tiny_weights), "--port", "/dev/ttyUSB0"]) == 2
    assert "permission denied on /dev/ttyUSB0" in capsys.readouterr().err


def test_missing_weights_is_one_sentence(tmp_path):
    proc = run_cli("boards/demo.py", "--loopback", "--weights", tmp_path / "none.npz")
    assert_one_line_error(proc, "does not exist")


def test_help_explains_every_option():
    proc = run_cli("boards/demo.py", "--help")
    assert proc.returncode == 0
    for option in ("--board", "--port", "--program", "--dry-run", "--images", "--bits",
                   "--loopback", "--show", "--flash", "(default: ulx3s-85f)"):
        assert option in proc.stdout


def test_ascii_digit_shape(test_split):
    art = demo.ascii_digit(test_split.images[0])
    assert len(art.splitlines()) == 28 and all(len(r) == 56 for r in art.splitlines())
    assert demo.ascii_digit(np.zeros(784, np.uint8)).strip() == ""


@pytest.mark.parametrize("garbage", [b"", b"\x00" * 7])
def test_model_answers_identify(tiny_weights, garbage):
    model = _model(tiny_weights)
    frames = p.FrameDecoder().feed(model.feed(garbage + p.encode_frame(p.IDENTIFY, 3)))
    assert len(frames) == 1 and frames[0].tag == 3
    assert p.DeviceInfo.from_bytes(frames[0].payload) == model.info
