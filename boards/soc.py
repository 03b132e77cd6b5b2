"""The board-independent UART top: SNN core + UART + frame receiver + command executor.

Block diagram::

    rx -> UartRx -> FrameReceiver -> payload buffers (banks x 2 KiB) -> CommandExecutor
                         |  jobs (FIFO)  ------------------------------^     |  register bus
    tx <- UartTx <-------------------------- response bytes <-----------+    v
                                                                          SNNCore

:class:`UartSNN` is what cocotb simulates; :mod:`boards.top` adds the PLL and the pins.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from boards import protocol as p
from boards.executor import CommandExecutor
from boards.framing import FrameReceiver, Job
from boards.uart import UartRx, UartTx
from golden.config import SNNConfig
from hdl.core import SNNCore, weight_memories
from hdl.validated import ValidatedComponent

GATEWARE_SOURCES = ("boards/protocol.py", "boards/uart.py", "boards/framing.py",
                    "boards/executor.py", "boards/soc.py", "hdl/*.py", "golden/config.py",
                    "golden/reference.py")
"""Source files whose contents define the generated hardware (for build caches)."""
JOB_QUEUE_DEPTH = 8
"""Jobs the receiver can queue; error jobs leave room for one frame job per buffer."""
LED_CLASS_BITS = 4
"""``leds[0:4]``: last class (binary); ``leds[6]``: an error frame was sent recently;
``leds[7]``: an image was classified recently."""


def gateware_digest(config: SNNConfig, w_hidden, w_out, *parameters) -> str:
    """SHA-256 (hex) of everything a :class:`UartSNN` is generated from: configuration,
    weights, ``parameters`` (clock, baud, ...) and the gateware source files."""
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256(repr((config, parameters)).encode())
    for array in (w_hidden, w_out):
        digest.update(np.ascontiguousarray(array, dtype=np.int8).tobytes())
    for pattern in GATEWARE_SOURCES:
        for path in sorted(root.glob(pattern)):
            digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()


def placeholder_fingerprint(seed: int) -> bytes:
    """The IDENTIFY fingerprint of a placeholder build (8 bytes): seeded, and chosen so that
    each of its 8 bit columns differs from the others (a patch tool tells them apart)."""
    columns = np.random.default_rng([seed, 2]).choice(np.arange(1, 256), 8, replace=False)
    return bytes(sum(((int(c) >> k) & 1) << j for j, c in enumerate(columns))
                 for k in range(8))


def patch_images(config: SNNConfig, w_hidden, w_out, *,
                 placeholder_seed: int) -> list[tuple[int, list[int], list[int]]]:
    """``(width, placeholder image, image)`` of every block-RAM memory of a
    ``placeholder_seed`` build whose contents depend on the weights: the core's weight
    memories and the IDENTIFY fingerprint."""
    real = weight_memories(config, w_hidden, w_out)
    fake = weight_memories(config, placeholder_seed=placeholder_seed)
    rows = [(width, f, r) for (width, f), (_, r) in zip(fake, real, strict=True)]
    rows.append((8, list(placeholder_fingerprint(placeholder_seed)),
                 list(p.fingerprint(config, w_hidden, w_out))))
    return rows


class UartSNN(ValidatedComponent):
    """The SNN core behind the framed UART protocol of :mod:`boards.protocol`.

    Parameters
    ----------
    config : SNNConfig
        The core's configuration.
    w_hidden, w_out : int arrays
        Weights baked into the core (sign-magnitude, -127..127).
    clock_hz : int
        Core clock frequency (Hz); reported by IDENTIFY and sets the time-out.
    baud : int
        UART bit rate (bit/s); ``clock_hz / baud`` is rounded to the clock divisor.
    timeout_s : float
        Silence inside a frame after which it is abandoned (s).
    banks : int
        Payload buffers = frames a host may have outstanding (1, 2 or 4).
    led_hold_s : float
        How long the activity and error LEDs stay lit after an event (s).
    placeholder_seed : int, optional
        Build with seeded random placeholder contents in every weight memory and in the
        IDENTIFY weights fingerprint, all in block RAM (see :func:`patch_images`): one routed
        design for every weights file of this shape, the weights patched in afterwards.

    Attributes
    ----------
    rx : In(1)
        UART line from the host (idle high).
    tx : Out(1)
        UART line to the host.
    leds : Out(8)
        Last class in bits 0..3, error in bit 6, activity in bit 7.
    """

    @classmethod
    def validate(cls, *, config: SNNConfig, w_hidden, w_out, clock_hz: int, baud: int,
                 timeout_s: float = 0.02, banks: int = 4, led_hold_s: float = 0.1,
                 placeholder_seed: int | None = None) -> None:
        """Raise ``TypeError``/``ValueError`` for parameters :class:`UartSNN` (or its core)
        rejects."""
        if not isinstance(config, SNNConfig):
            raise TypeError(f"config must be an SNNConfig, not {config!r}")
        if baud <= 0 or clock_hz < 4 * baud:
            raise ValueError(f"clock_hz must be at least 4 x baud, not {clock_hz} for "
                             f"baud {baud}")
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be positive, not {timeout_s}")
        SNNCore.validate(config=config, w_hidden=w_hidden, w_out=w_out)

    def __init__(self, *, config: SNNConfig, w_hidden, w_out, clock_hz: int, baud: int,
                 timeout_s: float = 0.02, banks: int = 4, led_hold_s: float = 0.1,
                 placeholder_seed: int | None = None):
        self.config = config
        self._placeholder_seed = placeholder_seed
        self.divisor = round(clock_hz / baud)
        self.info = p.device_info(config, w_hidden, w_out, clock_hz=clock_hz,
                                  baud=round(clock_hz / self.divisor), banks=banks)
        self.timeout_cycles = max(16, round(timeout_s * clock_hz))
        self._banks = banks
        self._led_hold = max(1, round(led_hold_s * clock_hz))
        self._core = SNNCore(config=config, w_hidden=w_hidden, w_out=w_out,
                             placeholder_seed=placeholder_seed,
                             weights_in_block_ram=placeholder_seed is not None)
        super().__init__({"rx": In(1, init=1), "tx": Out(1, init=1), "leds": Out(8)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.core = core = self._core
        m.submodules.uart_rx = rx = UartRx(divisor=self.divisor)
        m.submodules.uart_tx = tx = UartTx(divisor=self.divisor)
        m.submodules.receiver = receiver = FrameReceiver(banks=self._banks,
                                                         timeout=self.timeout_cycles)
        identify = self.info.to_bytes()
        tail = 0
        if self._placeholder_seed is not None:
            tail = len(self.info.fingerprint)
            identify = identify[:-tail] + placeholder_fingerprint(self._placeholder_seed)
        m.submodules.executor = executor = CommandExecutor(banks=self._banks,
                                                           identify=identify,
                                                           block_ram_tail=tail)
        m.submodules.jobs = jobs = SyncFIFO(width=Job.size, depth=JOB_QUEUE_DEPTH)
        m.submodules.buffers = buffers = Memory(shape=8, depth=self._banks * p.BANK_BYTES,
                                                init=[])
        write, read = buffers.write_port(), buffers.read_port()

        m.d.comb += [
            rx.rx.eq(self.rx), self.tx.eq(tx.tx),
            receiver.byte.eq(rx.data), receiver.byte_valid.eq(rx.valid),
            receiver.byte_error.eq(rx.error),
            write.addr.eq(receiver.buf_addr), write.data.eq(receiver.buf_data),
            write.en.eq(receiver.buf_en),
            jobs.w_data.eq(receiver.job.as_value()), jobs.w_en.eq(receiver.post),
            receiver.errors_allowed.eq(jobs.level < JOB_QUEUE_DEPTH - self._banks),
            receiver.release.eq(executor.release),
            receiver.release_bank.eq(executor.release_bank),
            executor.job.eq(jobs.r_data), executor.job_valid.eq(jobs.r_rdy),
            jobs.r_en.eq(executor.job_ack),
            read.addr.eq(executor.buf_addr), executor.buf_data.eq(read.data),
            executor.core_done.eq(core.done),
            tx.data.eq(executor.tx_data), tx.valid.eq(executor.tx_valid),
            executor.tx_ready.eq(tx.ready),
        ]
        wiring.connect(m, executor.bus, core.bus)

        activity, error = Signal(range(self._led_hold + 1)), Signal(range(self._led_hold + 1))
        for hold, event in ((activity, executor.classified), (error, executor.error_sent)):
            with m.If(event):
                m.d.sync += hold.eq(self._led_hold)
            with m.Elif(hold != 0):
                m.d.sync += hold.eq(hold - 1)
        m.d.comb += [self.leds[:LED_CLASS_BITS].eq(executor.last_class),
                     self.leds[6].eq(error != 0), self.leds[7].eq(activity != 0)]
        return m
