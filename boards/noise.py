"""Reproducible line noise for the UART protocol: what a bad cable or a glitching board sends.

:class:`LineNoise` corrupts a stream frame by frame with a seeded generator.  The kinds
(:data:`KINDS`) cover the faults the protocol must survive (docs/protocol.md): bursts of
random bytes and false starts (an SOF with a plausible header) before a frame, a flipped bit,
a dropped and an inserted byte inside it, a stray frame with a tag nobody waits for beside it,
and silence instead of it.  The device model sends noisy answers with it
(``python -m boards.model --pty --fault-rate P``), and the tests feed the same noise to the
host decoder and to the gateware frame receiver.
"""

from __future__ import annotations

import numpy as np

from boards import protocol as p

KINDS = ("burst", "false_start", "flip", "drop", "insert", "stray", "silence")
"""Fault kinds, in the order :meth:`LineNoise.corrupt` knows them."""
ANSWER_COMMANDS = (p.ERROR, *(cmd | p.RESPONSE for cmd in p.COMMANDS))


def burst(rng: np.random.Generator, size: int) -> bytes:
    """``size`` random bytes, about one in eight a (false) SOF."""
    data = rng.integers(0, 256, size, dtype=np.uint8)
    data[rng.random(size) < 0.125] = p.SOF
    return data.tobytes()


def false_start(rng: np.random.Generator) -> bytes:
    """An SOF and a header that announces a legal-looking answer, then a few random bytes:
    a receiver that trusts it swallows the real frame behind it."""
    cmd = int(rng.choice(ANSWER_COMMANDS))
    length = {p.ERROR: p.ERROR_BYTES, p.IDENTIFY | p.RESPONSE: p.IDENTIFY_BYTES,
              p.WRITE_REGS | p.RESPONSE: 0,
              p.READ_REGS | p.RESPONSE: 4 * p.MAX_REGS}.get(cmd, p.RESULT_BYTES)
    return (bytes([p.SOF, cmd, int(rng.integers(256))]) + length.to_bytes(2, "little")
            + burst(rng, int(rng.integers(0, 8))))


def stray_frame(rng: np.random.Generator, tag: int) -> bytes:
    """A well-formed answer frame carrying ``tag`` (one nobody is waiting for)."""
    cmd = int(rng.choice(ANSWER_COMMANDS))
    length = p.ERROR_BYTES if cmd == p.ERROR else int(rng.integers(0, 60))
    return p.encode_frame(cmd, tag, burst(rng, length))


class LineNoise:
    """Corrupts frames at a rate, reproducibly.

    Parameters
    ----------
    rate : float
        Probability (0..1) that a frame is corrupted (by one fault of a random kind).
    seed : int
        Seed of the generator: the same seed and frames give the same noise.
    kinds : tuple of str
        The fault kinds to draw from (default: all of :data:`KINDS`).
    """

    def __init__(self, rate: float, seed: int = 0, kinds: tuple[str, ...] = KINDS):
        if not 0 <= rate <= 1:
            raise ValueError(f"rate must be in 0..1, not {rate!r}")
        unknown = set(kinds) - set(KINDS)
        if unknown or not kinds:
            raise ValueError(f"kinds must be some of {KINDS}, not {kinds!r}")
        self.rate = rate
        self.kinds = tuple(kinds)
        self.rng = np.random.default_rng(seed)

    def apply(self, frame: bytes, stray_tag: int = 0) -> bytes:
        """``frame`` as it arrives over the noisy line (a stray frame carries ``stray_tag``)."""
        if self.rng.random() >= self.rate:
            return frame
        return self.corrupt(frame, str(self.rng.choice(self.kinds)), stray_tag)

    def corrupt(self, frame: bytes, kind: str, stray_tag: int = 0) -> bytes:
        """``frame`` with one fault of ``kind`` (one of :data:`KINDS`)."""
        rng = self.rng
        at = int(rng.integers(len(frame))) if frame else 0
        if kind == "burst":
            return burst(rng, int(rng.integers(1, 48))) + frame
        if kind == "false_start":
            return false_start(rng) + frame
        if kind == "flip":
            return frame[:at] + bytes([frame[at] ^ 1 << int(rng.integers(8))]) + frame[at + 1:]
        if kind == "drop":
            return frame[:at] + frame[at + 1:]
        if kind == "insert":
            return frame[:at] + burst(rng, 1) + frame[at:]
        if kind == "stray":
            stray = stray_frame(rng, stray_tag)
            return stray + frame if rng.random() < 0.5 else frame + stray
        if kind == "silence":
            return b""
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
