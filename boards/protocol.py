"""The framed UART protocol between a host and the board top (docs/protocol.md).

This one module defines the protocol for the gateware (constants, identify payload, result
layout), the host client, the Python device model and the tests.

Frame (both directions)::

    SOF  CMD  TAG  LEN_L  LEN_H  PAYLOAD[LEN]  CRC_H  CRC_L

``SOF`` is 0xA5; ``CMD`` a command (a response sets bit 7, an error frame is 0xFF); ``TAG`` a
host-chosen byte echoed in the answer; ``LEN`` the payload length (little endian); ``CRC`` is
CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, big endian) over ``CMD .. PAYLOAD``, so the CRC
of ``CMD .. CRC_L`` is 0.  Images travel run-length encoded (:func:`encode_image`).
"""

from __future__ import annotations

import binascii
import hashlib
import struct
from dataclasses import dataclass

import numpy as np

from golden.config import N_INPUTS, N_OUTPUTS, PRECISIONS, RunSettings, SNNConfig
from golden.errors import UserError
from hdl import regmap

VERSION = 1
"""Protocol version reported by IDENTIFY."""
SOF = 0xA5
"""Start-of-frame byte."""
HEADER_BYTES = 5
"""SOF, CMD, TAG, LEN_L, LEN_H."""
OVERHEAD_BYTES = HEADER_BYTES + 2
"""Bytes of a frame besides its payload (header + CRC)."""
CRC_INIT = 0xFFFF
CRC_POLY = 0x1021

IDENTIFY = 0x01
WRITE_REGS = 0x02
READ_REGS = 0x03
CLASSIFY = 0x04
READ_RESULT = 0x05
COMMANDS = (IDENTIFY, WRITE_REGS, READ_REGS, CLASSIFY, READ_RESULT)
RESPONSE = 0x80
"""Bit set in the CMD of a successful response."""
ERROR = 0xFF
"""CMD of an error frame; payload: error code, offending CMD."""

ERR_CHECKSUM = 1
ERR_UNKNOWN_COMMAND = 2
ERR_LENGTH = 3
ERR_TIMEOUT = 4
ERR_PAYLOAD = 5
ERR_BUSY = 6
ERR_FRAMING = 7
ERROR_NAMES = {ERR_CHECKSUM: "bad checksum", ERR_UNKNOWN_COMMAND: "unknown command",
               ERR_LENGTH: "bad length", ERR_TIMEOUT: "frame timed out",
               ERR_PAYLOAD: "bad payload", ERR_BUSY: "no free frame buffer",
               ERR_FRAMING: "UART framing error"}

REG_ENTRY_BYTES = 6
"""WRITE_REGS entry: address u16 + value u32, little endian."""
MAX_REGS = 32
"""Most register entries in one WRITE_REGS or READ_REGS frame."""
MAX_IMAGE_BYTES = N_INPUTS + N_INPUTS // 2
"""Longest run-length encoded image (alternating single zeros and non-zero pixels)."""
BANK_BYTES = 2048
"""Payload buffer of one frame in the gateware (a power of two >= MAX_IMAGE_BYTES)."""
MAX_RUN = 256
"""Most zeros one run token ``00 n`` stands for (``n + 1``)."""

RESULT_FIELDS = (("class", regmap.RESULT, 1),
                 *((f"count{k}", regmap.COUNTS + k, 1) for k in range(N_OUTPUTS)),
                 *((name, regmap.COUNTERS + i, 4) for i, name in enumerate(regmap.COUNTER_ORDER)))
"""RESULT payload: (name, register address, bytes) in order; little-endian fields."""
RESULT_BYTES = sum(size for _, _, size in RESULT_FIELDS)
IDENTIFY_FORMAT = "<BHBBHHHIIBH8s"
"""IDENTIFY payload: version, N, t_max, T, precision mask (bit b = b bits), lanes, B,
clock Hz, baud, frame buffers, max payload bytes, weights fingerprint."""
IDENTIFY_BYTES = struct.calcsize(IDENTIFY_FORMAT)
ERROR_BYTES = 2
"""Error frame payload: error code, offending CMD."""
MAX_ANSWER_BYTES = OVERHEAD_BYTES + max(RESULT_BYTES, IDENTIFY_BYTES, MAX_REGS * 4, ERROR_BYTES)
"""Longest frame the device sends (a READ_REGS answer of 32 registers)."""


class ProtocolError(UserError):
    """A malformed frame or an error frame from the device (one sentence)."""


def crc16(data: bytes, crc: int = CRC_INIT) -> int:
    """CRC-16/CCITT-FALSE of ``data`` (poly 0x1021, MSB first, no final xor)."""
    return binascii.crc_hqx(bytes(data), crc)


def encode_frame(cmd: int, tag: int, payload: bytes = b"") -> bytes:
    """One complete frame (SOF .. CRC)."""
    if not 0 <= cmd <= 0xFF or not 0 <= tag <= 0xFF:
        raise ValueError(f"cmd and tag must be bytes, not {cmd}, {tag}")
    if len(payload) > 0xFFFF:
        raise ValueError(f"payload of {len(payload)} bytes is longer than 65535")
    body = bytes([cmd, tag]) + struct.pack("<H", len(payload)) + bytes(payload)
    return bytes([SOF]) + body + struct.pack(">H", crc16(body))


@dataclass(frozen=True)
class Frame:
    """A decoded frame: command, tag and payload."""

    cmd: int
    tag: int
    payload: bytes

    @property
    def is_error(self) -> bool:
        return self.cmd == ERROR

    def describe(self) -> str:
        """The frame in words (for messages)."""
        if self.is_error:
            return self.error_text()
        return f"command {self.cmd:#04x}, tag {self.tag}, payload {self.payload.hex()}"

    def error_text(self) -> str:
        """An error frame's meaning in words."""
        code, cmd = (self.payload + b"\0\0")[:2]
        return f"{ERROR_NAMES.get(code, f'error {code}')} (command {cmd:#04x}, tag {self.tag})"


class FrameDecoder:
    """Incremental frame parser: feed bytes, collect frames; garbage is skipped.

    A byte stream is hunted for SOF.  A candidate whose header cannot start a legal frame
    (by default: a legal answer, :func:`valid_answer`; with ``max_payload``: any command with
    at most that many payload bytes) is rejected as soon as its header is in, and one whose
    CRC fails as soon as its last byte is in; the hunt then resumes one byte after its SOF.
    A false SOF therefore costs at most its own candidate's bytes (a legal answer is at most
    :data:`MAX_ANSWER_BYTES` long), never hides a real frame, and decoding takes time linear
    in the bytes received.  ``dropped`` counts skipped bytes.
    """

    def __init__(self, max_payload: int | None = None):
        self.max_payload = max_payload
        self.buffer = bytearray()
        self.dropped = 0

    def _legal(self, cmd: int, length: int) -> bool:
        if self.max_payload is None:
            return valid_answer(cmd, length)
        return length <= self.max_payload

    def reset(self) -> None:
        """Forget a half-received frame (the line was resynchronized)."""
        self.dropped += len(self.buffer)
        self.buffer.clear()

    def feed(self, data: bytes) -> list[Frame]:
        """Add received bytes; return every complete, valid frame in order."""
        self.buffer.extend(data)
        frames = []
        while True:
            start = self.buffer.find(SOF)
            if start < 0:
                self.reset()
                return frames
            self.dropped += start
            del self.buffer[:start]  # deleting from the front is O(1) for a bytearray
            if len(self.buffer) < HEADER_BYTES:
                return frames
            length = int.from_bytes(self.buffer[3:5], "little")
            if not self._legal(self.buffer[1], length):
                self._skip_sof()
                continue
            end = HEADER_BYTES + length + 2
            if len(self.buffer) < end:
                return frames
            if crc16(self.buffer[1:end]) != 0:
                self._skip_sof()
                continue
            frames.append(Frame(self.buffer[1], self.buffer[2],
                                bytes(self.buffer[HEADER_BYTES:end - 2])))
            del self.buffer[:end]

    def _skip_sof(self) -> None:
        self.dropped += 1
        del self.buffer[:1]


def encode_image(pixels) -> bytes:
    """Run-length encode 784 pixels: a byte 1..255 is one pixel, ``00 n`` is ``n + 1`` zeros.

    Trailing zeros are left out (the device pads the image with zeros).
    """
    image = np.asarray(pixels, dtype=np.uint8).reshape(-1)
    if image.size != N_INPUTS:
        raise ValueError(f"an image has {N_INPUTS} pixels, not {image.size}")
    nonzero = np.flatnonzero(image)
    out = bytearray()
    position = 0
    for index in nonzero:
        run = int(index) - position
        while run > 0:
            take = min(run, MAX_RUN)
            out += bytes([0, take - 1])
            run -= take
        out.append(int(image[index]))
        position = int(index) + 1
    return bytes(out)


def decode_image(data: bytes) -> np.ndarray:
    """Inverse of :func:`encode_image`; :class:`ProtocolError` if it is not a valid image."""
    pixels = []
    i = 0
    while i < len(data):
        if data[i]:
            pixels.append(data[i])
            i += 1
        elif i + 1 < len(data):
            pixels.extend([0] * (data[i + 1] + 1))
            i += 2
        else:
            raise ProtocolError("the image ends inside a zero-run token")
        if len(pixels) > N_INPUTS:
            raise ProtocolError(f"the image decodes to more than {N_INPUTS} pixels")
    return np.array(pixels + [0] * (N_INPUTS - len(pixels)), dtype=np.uint8)


def write_regs_payload(writes: list[tuple[int, int]]) -> bytes:
    """WRITE_REGS payload from (address, value) pairs."""
    return b"".join(struct.pack("<HI", address, value & 0xFFFFFFFF)
                    for address, value in writes)


def read_regs_payload(addresses: list[int]) -> bytes:
    """READ_REGS payload from register addresses."""
    return b"".join(struct.pack("<H", address) for address in addresses)


def settings_writes(config: SNNConfig, settings: RunSettings) -> list[tuple[int, int]]:
    """Register writes that put ``settings`` into the core (precision, tau, T, controller,
    mask)."""
    timesteps, mask = settings.resolve(config)
    bits = np.zeros(regmap.mask_words(config.n_hidden) * regmap.DATA_WIDTH, dtype=np.uint8)
    bits[:config.n_hidden] = mask
    words = np.packbits(bits, bitorder="little").view("<u4")
    return [(regmap.PRECISION, regmap.pack(regmap.PRECISION_FIELDS, hidden=settings.bits_hidden,
                                           out=settings.bits_out)),
            (regmap.TAU, regmap.pack(regmap.TAU_FIELDS, hidden=settings.tau_hidden,
                                     out=settings.tau_out)),
            (regmap.TIMESTEPS, timesteps),
            *zip((regmap.CONTROLLER, regmap.CHECKPOINTS), regmap.controller_words(settings),
                 strict=True),
            *((regmap.MASK + k, int(word)) for k, word in enumerate(words))]


def valid_length(cmd: int, length: int) -> bool:
    """Whether a request with command ``cmd`` may carry ``length`` payload bytes."""
    if cmd in (IDENTIFY, READ_RESULT):
        return length == 0
    if cmd == WRITE_REGS:
        return 0 < length <= MAX_REGS * REG_ENTRY_BYTES and length % REG_ENTRY_BYTES == 0
    if cmd == READ_REGS:
        return 0 < length <= MAX_REGS * 2 and length % 2 == 0
    return cmd == CLASSIFY and length <= MAX_IMAGE_BYTES


def valid_answer(cmd: int, length: int) -> bool:
    """Whether a frame from the device with command ``cmd`` may carry ``length`` payload bytes
    (an answer to one of :data:`COMMANDS`, or an error frame)."""
    if cmd == ERROR:
        return length == ERROR_BYTES
    request = cmd & ~RESPONSE
    if cmd & RESPONSE == 0 or request not in COMMANDS:
        return False
    if request == IDENTIFY:
        return length == IDENTIFY_BYTES
    if request == WRITE_REGS:
        return length == 0
    if request == READ_REGS:
        return 0 < length <= MAX_REGS * 4 and length % 4 == 0
    return length == RESULT_BYTES


@dataclass(frozen=True)
class Result:
    """One image's answer: class, output spike counts and counters (``regmap.COUNTER_ORDER``)."""

    pred: int
    counts: tuple[int, ...]
    counters: dict[str, int]

    def to_bytes(self) -> bytes:
        values = {"class": self.pred, **{f"count{k}": c for k, c in enumerate(self.counts)},
                  **self.counters}
        return b"".join(int(values[name]).to_bytes(size, "little")
                        for name, _, size in RESULT_FIELDS)

    @classmethod
    def from_bytes(cls, payload: bytes) -> Result:
        if len(payload) != RESULT_BYTES:
            raise ProtocolError(f"a result has {RESULT_BYTES} bytes, not {len(payload)}")
        values, offset = {}, 0
        for name, _, size in RESULT_FIELDS:
            values[name] = int.from_bytes(payload[offset:offset + size], "little")
            offset += size
        return cls(values.pop("class"), tuple(values.pop(f"count{k}") for k in range(10)),
                   values)


@dataclass(frozen=True)
class DeviceInfo:
    """What IDENTIFY reports: the core's shape, clocking and the weights it carries."""

    n_hidden: int
    t_max: int
    timesteps: int
    lanes: int
    block_size: int
    clock_hz: int
    baud: int
    banks: int
    fingerprint: bytes
    precisions: tuple[int, ...] = PRECISIONS
    version: int = VERSION
    max_payload: int = MAX_IMAGE_BYTES

    def to_bytes(self) -> bytes:
        mask = sum(1 << b for b in self.precisions)
        return struct.pack(IDENTIFY_FORMAT, self.version, self.n_hidden, self.t_max,
                           self.timesteps, mask, self.lanes, self.block_size, self.clock_hz,
                           self.baud, self.banks, self.max_payload, self.fingerprint)

    @classmethod
    def from_bytes(cls, payload: bytes) -> DeviceInfo:
        if len(payload) != struct.calcsize(IDENTIFY_FORMAT):
            raise ProtocolError(f"an IDENTIFY answer has {struct.calcsize(IDENTIFY_FORMAT)} "
                                f"bytes, not {len(payload)}")
        (version, n, t_max, timesteps, mask, lanes, block, clock, baud, banks, max_payload,
         fingerprint) = struct.unpack(IDENTIFY_FORMAT, payload)
        return cls(n, t_max, timesteps, lanes, block, clock, baud, banks, fingerprint,
                   tuple(b for b in range(8 + 1) if mask >> b & 1), version, max_payload)


def fingerprint(config: SNNConfig, w_hidden, w_out) -> bytes:
    """8 bytes identifying a core's configuration and weights (SHA-256 prefix)."""
    digest = hashlib.sha256(repr(config).encode())
    for array in (w_hidden, w_out):
        digest.update(np.ascontiguousarray(array, dtype=np.int8).tobytes())
    return digest.digest()[:8]


def device_info(config: SNNConfig, w_hidden, w_out, *, clock_hz: int, baud: int,
                banks: int) -> DeviceInfo:
    """The :class:`DeviceInfo` a core built from these parameters reports."""
    return DeviceInfo(config.n_hidden, config.t_max, config.timesteps,
                      min(config.lanes, config.n_hidden), config.block_size, int(clock_hz),
                      int(baud), banks, fingerprint(config, w_hidden, w_out))


def line_rate_bound(image_bytes: float, baud: int) -> float:
    """Images/s the host->device line carries: 10 bits a byte (8N1), frame overhead added."""
    return baud / (10 * (image_bytes + OVERHEAD_BYTES))
