"""The UART protocol module: frames, CRC, resync, image encoding, payload layouts."""

import numpy as np
import pytest

from boards import protocol as p
from golden.config import SNNConfig


def test_crc_is_ccitt_false_and_frames_check_to_zero():
    assert p.crc16(b"123456789") == 0x29B1  # the CRC-16/CCITT-FALSE check value
    frame = p.encode_frame(p.CLASSIFY, 7, b"\x01\x02\x03")
    assert frame[:5] == bytes([p.SOF, p.CLASSIFY, 7, 3, 0])
    assert p.crc16(frame[1:]) == 0
    assert len(frame) == 3 + p.OVERHEAD_BYTES


def test_decoder_resyncs_on_garbage_false_sof_and_bad_crc():
    good = [p.encode_frame(p.IDENTIFY, t, bytes([t] * t)) for t in range(1, 6)]
    corrupt = bytearray(p.encode_frame(p.READ_RESULT, 9, b"abc"))
    corrupt[6] ^= 1
    stream = (b"\x00\xff" + good[0] + bytes([p.SOF, 1, 2, 0xFF, 0xFF]) + good[1]
              + bytes(corrupt) + good[2] + bytes([p.SOF]) + good[3] + good[4])
    decoder = p.FrameDecoder(max_payload=100)
    frames = []
    for i in range(0, len(stream), 3):  # byte-at-a-time arrival must not matter
        frames += decoder.feed(stream[i:i + 3])
    assert [f.tag for f in frames] == [1, 2, 3, 4, 5]
    assert all(f.payload == bytes([f.tag] * f.tag) for f in frames)
    assert decoder.dropped > 0


def test_image_encoding_round_trips_on_mnist(test_split):
    sizes = []
    for image in test_split.images[:300]:
        data = p.encode_image(image)
        assert np.array_equal(p.decode_image(data), image)
        sizes.append(len(data))
    assert 100 < np.mean(sizes) < 260, np.mean(sizes)


@pytest.mark.parametrize("image, size", [
    (np.zeros(784, np.uint8), 0),
    (np.full(784, 255, np.uint8), 784),
    (np.tile(np.array([0, 9], np.uint8), 392), p.MAX_IMAGE_BYTES),
])
def test_image_encoding_edges(image, size):
    data = p.encode_image(image)
    assert len(data) == size
    assert np.array_equal(p.decode_image(data), image)


def test_long_zero_runs_split_into_tokens():
    image = np.zeros(784, np.uint8)
    image[700] = 3
    assert p.encode_image(image) == bytes([0, 255, 0, 255, 0, 187, 3])


@pytest.mark.parametrize("data", [b"\x05\x00", b"\x07" * 785, b"\x00\xff" * 3 + b"\x00\x10"])
def test_bad_images_are_rejected(data):
    with pytest.raises(p.ProtocolError):
        p.decode_image(data)


def test_lengths_per_command():
    assert p.valid_length(p.IDENTIFY, 0) and not p.valid_length(p.IDENTIFY, 1)
    assert p.valid_length(p.WRITE_REGS, 12) and not p.valid_length(p.WRITE_REGS, 13)
    assert not p.valid_length(p.WRITE_REGS, 6 * (p.MAX_REGS + 1))
    assert p.valid_length(p.READ_REGS, 4) and not p.valid_length(p.READ_REGS, 3)
    assert p.valid_length(p.CLASSIFY, p.MAX_IMAGE_BYTES)
    assert not p.valid_length(p.CLASSIFY, p.MAX_IMAGE_BYTES + 1)
    assert not p.valid_length(0x42, 0)


def test_result_and_identify_round_trip():
    counters = {name: 1000 + i for i, name in enumerate(p.regmap.COUNTER_ORDER)}
    result = p.Result(7, tuple(range(10)), counters)
    assert len(result.to_bytes()) == p.RESULT_BYTES == 59
    assert p.Result.from_bytes(result.to_bytes()) == result
    config = SNNConfig(n_hidden=128, lanes=128)
    info = p.device_info(config, np.zeros((784, 128)), np.zeros((128, 10)),
                         clock_hz=45_000_000, baud=3_000_000, banks=4)
    assert p.DeviceInfo.from_bytes(info.to_bytes()) == info
    assert info.precisions == (2, 3, 4, 5, 6, 7, 8)
    with pytest.raises(p.ProtocolError):
        p.Result.from_bytes(b"\0" * 58)


def test_settings_become_register_writes():
    from golden.config import RunSettings
    from hdl import regmap

    config = SNNConfig(n_hidden=40, lanes=40)
    mask = tuple(i % 3 != 0 for i in range(40))
    writes = dict(p.settings_writes(config, RunSettings(bits_hidden=3, bits_out=5,
                                                        tau_hidden=9, tau_out=2,
                                                        hidden_mask=mask, timesteps=7)))
    assert writes[regmap.PRECISION] == 3 | 5 << 4
    assert writes[regmap.TAU] == 9 | 2 << 8
    assert writes[regmap.TIMESTEPS] == 7
    word = writes[regmap.MASK] | writes[regmap.MASK + 1] << 32
    assert [bool(word >> i & 1) for i in range(40)] == list(mask)


def test_line_rate_bounds():
    assert p.line_rate_bound(784, 3_000_000) == pytest.approx(379.0, abs=0.5)
    assert p.line_rate_bound(192, 3_000_000) > 4 * p.line_rate_bound(784, 3_000_000) - 100
