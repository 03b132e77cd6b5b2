"""Host side of the protocol: serial / loopback transports and a pipelined client.

:class:`Client` sends requests with fresh tags, matches answers by tag (ignoring stray
frames caused by line noise), retries a request whose answer is an error frame or never
comes, and keeps up to ``window`` CLASSIFY frames in flight so the line never idles.
Every failure a user can cause is one sentence (:class:`golden.errors.UserError`).
"""

from __future__ import annotations

import errno
import time
from collections.abc import Iterator

import numpy as np

from boards import protocol as p
from boards.model import DeviceModel
from boards.platforms import Board
from golden.errors import UserError

RESYNC_S = 0.05
"""Silence that makes the device abandon any half-received frame (its time-out is 20 ms)."""
RETRIES = 3


class SerialTransport:
    """A serial port (pyserial), opened with one-sentence errors."""

    def __init__(self, port: str, baud: int):
        try:
            import serial
        except ImportError:
            raise UserError("pyserial is missing: pip install pyserial") from None
        self.port = port
        try:
            self.serial = serial.Serial(port, baud, timeout=0)
        except (serial.SerialException, ValueError) as err:
            number = getattr(err, "errno", None)
            if number == errno.ENOENT or "could not open port" in str(err) and \
                    "No such file" in str(err):
                raise UserError(f"serial port {port} does not exist (is the board plugged "
                                "in? use --port)") from None
            if number == errno.EACCES or "Permission denied" in str(err):
                raise UserError(f"permission denied on {port} (add yourself to the dialout "
                                "group and log in again)") from None
            raise UserError(f"cannot open serial port {port} ({err})") from None
        try:  # the FTDI driver otherwise holds a short answer back for 16 ms
            self.serial.set_low_latency_mode(True)
        except (AttributeError, OSError, ValueError):
            pass

    def write(self, data: bytes) -> None:
        self.serial.write(data)

    def read(self, timeout_s: float) -> bytes:
        self.serial.timeout = timeout_s
        first = self.serial.read(1)
        return first + self.serial.read(self.serial.in_waiting) if first else b""

    def resync(self) -> None:
        """Let the device abandon a half frame, then drop whatever is in flight."""
        time.sleep(RESYNC_S)
        self.serial.reset_input_buffer()

    def close(self) -> None:
        self.serial.close()


class LoopbackTransport:
    """The device model in place of a board (``--loopback``): same bytes, no hardware."""

    def __init__(self, model: DeviceModel):
        self.model = model
        self.port = "loopback"
        self.pending = bytearray()

    def write(self, data: bytes) -> None:
        self.pending += self.model.feed(data)

    def read(self, timeout_s: float) -> bytes:
        data, self.pending = bytes(self.pending), bytearray()
        return data

    def resync(self) -> None:
        self.pending += self.model.timeout()
        self.pending.clear()

    def close(self) -> None:
        pass


def find_port(spec: Board) -> str:
    """The serial port of a connected ``spec`` board (USB VID:PID), or a one-sentence error."""
    try:
        from serial.tools import list_ports
    except ImportError:
        raise UserError("pyserial is missing: pip install pyserial") from None
    ports = sorted((port for port in list_ports.comports()
                    if (port.vid, port.pid) in spec.usb_ids), key=lambda port: port.device)
    if not ports:
        ids = ", ".join(f"{vid:04x}:{pid:04x}" for vid, pid in spec.usb_ids)
        raise UserError(f"no {spec.board_id} board found: no USB serial port {ids} is "
                        "connected (plug it in, or name the port with --port)")
    return ports[-1].device  # dual-channel FTDI: the UART is the second interface


class Client:
    """Requests and pipelined classification over a transport.

    Parameters
    ----------
    transport : SerialTransport or LoopbackTransport
        Where frames go.
    timeout_s : float
        How long an answer may take before the request is retried (s).
    """

    def __init__(self, transport, timeout_s: float = 0.5):
        self.transport = transport
        self.timeout_s = timeout_s
        self.decoder = p.FrameDecoder()
        self.frames: list[p.Frame] = []
        self._tag = 0
        self.retries = 0
        """Frames sent again (after an error frame, a missed deadline or a resync)."""

    def _next_tag(self, busy=()) -> int:
        while True:
            self._tag = (self._tag + 1) & 0xFF
            if self._tag not in busy:
                return self._tag

    def _receive(self, deadline: float) -> p.Frame | None:
        """The next decoded frame, or None once ``deadline`` (``time.monotonic``) passes."""
        while not self.frames:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.frames.extend(self.decoder.feed(self.transport.read(min(left, 0.05))))
        return self.frames.pop(0)

    def _resync(self) -> None:
        """Make the device abandon a half frame and drop everything received so far."""
        self.transport.resync()
        self.decoder.reset()
        self.frames.clear()

    def request(self, cmd: int, payload: bytes = b"") -> p.Frame:
        """Send one request; its answer (retried on an error frame or no answer).

        Each attempt has a fixed deadline: frames with other tags (line noise, late answers
        to an earlier attempt) are skipped without extending it.
        """
        problem = "no answer"
        for attempt in range(RETRIES):
            self.retries += attempt > 0
            tag = self._next_tag()
            self.transport.write(p.encode_frame(cmd, tag, payload))
            deadline = time.monotonic() + self.timeout_s
            while (frame := self._receive(deadline)) is not None:
                if frame.tag != tag or not (frame.is_error or frame.cmd == cmd | p.RESPONSE):
                    continue
                if frame.is_error:
                    problem = frame.error_text()
                    break
                return frame
            self._resync()
        if problem == "no answer":
            raise UserError(f"the board on {self.transport.port} does not answer (is it "
                            "programmed with the demo bitstream? try --program)")
        raise UserError(f"the board on {self.transport.port} rejected command {cmd:#04x}: "
                        f"{problem}")

    def identify(self) -> p.DeviceInfo:
        return p.DeviceInfo.from_bytes(self.request(p.IDENTIFY).payload)

    def write_registers(self, writes: list[tuple[int, int]]) -> None:
        for start in range(0, len(writes), p.MAX_REGS):
            self.request(p.WRITE_REGS, p.write_regs_payload(writes[start:start + p.MAX_REGS]))

    def classify(self, images: np.ndarray, window: int, *, skip_lost: bool = False
                 ) -> Iterator[tuple[int, p.Result | None]]:
        """Classify ``images`` in order with up to ``window`` frames in flight.

        Yields (image index, result) in order.  Every frame in flight has a fixed deadline
        (sent + ``timeout_s``); stray frames never extend it.  An image whose answer is an
        error frame or misses its deadline is sent again, up to :data:`RETRIES` times; the
        other frames in flight when the line is resynchronized are resent without counting.
        An image that fails :data:`RETRIES` times stops the stream with a one-sentence
        error, or with ``skip_lost`` is yielded lost (result None) and the stream goes on.
        """
        payloads = [p.encode_image(image) for image in images]
        sent_before: set[int] = set()
        in_flight: dict[int, tuple[int, float]] = {}  # tag -> (image index, deadline)
        attempts = [0] * len(payloads)
        done: dict[int, p.Result | None] = {}
        queue = list(range(len(payloads)))
        next_yield = 0
        while next_yield < len(payloads):
            while queue and len(in_flight) < window:
                index = queue.pop(0)
                tag = self._next_tag(in_flight)
                attempts[index] += 1
                self.retries += index in sent_before
                sent_before.add(index)
                self.transport.write(p.encode_frame(p.CLASSIFY, tag, payloads[index]))
                in_flight[tag] = index, time.monotonic() + self.timeout_s
            frame = self._receive(min(deadline for _, deadline in in_flight.values()))
            if frame is None:
                now = time.monotonic()
                late = sorted(i for i, deadline in in_flight.values() if deadline <= now)
                lost = self._spent(late, attempts, "no answer", skip_lost)
                for index, deadline in in_flight.values():
                    attempts[index] -= deadline > now  # resent through no fault of its own
                done.update(dict.fromkeys(lost))
                queue = sorted(set(queue) | {i for i, _ in in_flight.values()} - set(lost))
                in_flight.clear()
                self._resync()
            elif frame.tag not in in_flight:
                continue
            elif frame.is_error:
                index, _ = in_flight.pop(frame.tag)
                if self._spent([index], attempts, frame.error_text(), skip_lost):
                    done[index] = None
                else:
                    queue = sorted(set(queue) | {index})
            elif frame.cmd == p.CLASSIFY | p.RESPONSE:
                index, _ = in_flight.pop(frame.tag)
                done[index] = p.Result.from_bytes(frame.payload)
            while next_yield in done:
                yield next_yield, done.pop(next_yield)
                next_yield += 1

    def _spent(self, images: list[int], attempts: list[int], reason: str,
               skip_lost: bool) -> list[int]:
        """The ``images`` that have had all their attempts (lost); an error unless
        ``skip_lost``."""
        spent = [i for i in images if attempts[i] >= RETRIES]
        if spent and not skip_lost:
            raise UserError(f"the board on {self.transport.port} failed image {spent[0]} "
                            f"{RETRIES} times ({reason})")
        return spent
