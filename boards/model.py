"""A Python model of the board top: same frames in, same frames out (docs/protocol.md).

:class:`DeviceModel` parses requests exactly like the gateware receiver (hunt for SOF, header
check, CRC, abandon on a framing error or a time-out) and executes them on a register model
of the core, computing results with :func:`golden.reference.infer` and cycles with
:mod:`golden.cycle_model`.  The cocotb test compares the RTL's byte stream with it, and the host
demo uses it for ``--loopback`` (no board needed).
"""

from __future__ import annotations

import argparse
import os
import select
import struct
import sys
import time
import tty

import numpy as np

from boards import protocol as p
from boards.noise import KINDS, LineNoise
from boards.platforms import BOARDS, DEFAULT_BAUD, DEFAULT_BOARD, DEFAULT_CLOCK_HZ, board
from golden import cli
from golden.config import N_OUTPUTS, RunSettings, SNNConfig
from golden.cycle_model import cycles_per_image
from golden.reference import infer
from hdl import regmap


class CoreRegisters:
    """The core's run-time registers as the RTL holds them (writes clamped like the RTL)."""

    def __init__(self, config: SNNConfig):
        self.config = config
        self.bits_hidden = self.bits_out = 8
        self.tau_hidden = self.tau_out = 0
        self.timesteps = config.timesteps
        self.mask = np.ones(regmap.mask_words(config.n_hidden) * 32, dtype=bool)
        self.controller = self.checkpoints = 0
        self.dynamic_bits = (2, 2)  # the controller's precisions (RTL reset value 2/2)
        self.result = p.Result(0, (0,) * N_OUTPUTS,
                               dict.fromkeys(regmap.COUNTER_ORDER, 0))
        self.done = False

    def write(self, address: int, value: int) -> None:
        address &= (1 << regmap.ADDRESS_WIDTH) - 1
        if address == regmap.PRECISION:
            precision = regmap.unpack(regmap.PRECISION_FIELDS, value)
            self.bits_hidden = min(max(precision.hidden, 2), 8)
            self.bits_out = min(max(precision.out, 2), 8)
        elif address == regmap.TAU:
            tau = regmap.unpack(regmap.TAU_FIELDS, value)
            self.tau_hidden, self.tau_out = tau.hidden, tau.out
        elif address == regmap.TIMESTEPS:
            timesteps = regmap.unpack(regmap.TIMESTEPS_FIELDS, value).timesteps
            self.timesteps = min(max(timesteps, 1), self.config.t_max)
        elif address == regmap.CONTROLLER:
            self.controller = value & regmap.field_bits(regmap.CONTROLLER_FIELDS)
        elif address == regmap.CHECKPOINTS:
            self.checkpoints = value & regmap.field_bits(regmap.CHECKPOINTS_FIELDS)
        elif regmap.MASK <= address < regmap.MASK + regmap.mask_words(self.config.n_hidden):
            k = address - regmap.MASK
            self.mask[32 * k:32 * k + 32] = [(value >> i) & 1 for i in range(32)]

    def read(self, address: int) -> int:
        address &= (1 << regmap.ADDRESS_WIDTH) - 1
        n = self.config.n_hidden
        counters = [self.result.counters[name] for name in regmap.COUNTER_ORDER]
        mask_words = regmap.mask_words(n)
        if regmap.MASK <= address < regmap.MASK + mask_words:
            k = address - regmap.MASK
            bits = self.mask[32 * k:32 * k + 32].copy()
            bits[max(0, n - 32 * k):] = False
            return int(sum(int(b) << i for i, b in enumerate(bits)))
        if regmap.COUNTS <= address < regmap.COUNTS + N_OUTPUTS:
            return self.result.counts[address - regmap.COUNTS]
        if regmap.COUNTERS <= address < regmap.COUNTERS + len(counters):
            return counters[address - regmap.COUNTERS]
        bits_hidden, bits_out = self.bits_in_force()
        return {regmap.CONTROL: regmap.pack(regmap.STATUS_FIELDS, done=int(self.done)),
                regmap.PRECISION: regmap.pack(regmap.PRECISION_FIELDS, hidden=bits_hidden,
                                              out=bits_out),
                regmap.TAU: regmap.pack(regmap.TAU_FIELDS, hidden=self.tau_hidden,
                                        out=self.tau_out),
                regmap.TIMESTEPS: self.timesteps, regmap.RESULT: self.result.pred,
                regmap.CONTROLLER: self.controller, regmap.CHECKPOINTS: self.checkpoints,
                regmap.INFO: regmap.pack(regmap.INFO_FIELDS, n_hidden=n,
                                         t_max=self.config.t_max)}.get(address, 0)

    def bits_in_force(self) -> tuple[int, int]:
        """What ``PRECISION`` reads: the static register, or in dynamic mode the
        controller's precisions (where the last image left them)."""
        if regmap.unpack(regmap.CONTROLLER_FIELDS, self.controller).enable:
            return self.dynamic_bits
        return self.bits_hidden, self.bits_out

    def settings(self) -> RunSettings:
        controller, fixed = regmap.decode_controller(self.controller, self.checkpoints,
                                                     self.timesteps, self.config.t_max,
                                                     self.config.block_size)
        bits = fixed or (self.bits_hidden, self.bits_out)
        return RunSettings(bits_hidden=bits[0], bits_out=bits[1],
                           tau_hidden=self.tau_hidden, tau_out=self.tau_out,
                           hidden_mask=tuple(self.mask[:self.config.n_hidden]),
                           timesteps=self.timesteps, controller=controller)


class DeviceModel:
    """The board top in Python: :meth:`feed` request bytes, get response bytes back.

    Parameters
    ----------
    config : SNNConfig
        The core's configuration.
    w_hidden, w_out : int arrays
        The weights the "bitstream" carries.
    info : DeviceInfo
        What IDENTIFY answers (:func:`boards.protocol.device_info`).
    """

    def __init__(self, config: SNNConfig, w_hidden, w_out, info: p.DeviceInfo):
        self.config, self.w_hidden, self.w_out, self.info = config, w_hidden, w_out, info
        self.registers = CoreRegisters(config)
        self._partial: bytearray | None = None

    def feed(self, data: bytes) -> bytes:
        """Receive ``data``; return every response frame it causes, in order."""
        return b"".join(self.answers(data))

    def answers(self, data: bytes) -> list[bytes]:
        """Receive ``data``; the response frames it causes, one ``bytes`` per frame."""
        return [answer for byte in data if (answer := self._receive(byte))]

    @property
    def receiving(self) -> bool:
        """Whether a frame is half received (a time-out would abandon it)."""
        return self._partial is not None

    def timeout(self) -> bytes:
        """The line was silent for the frame time-out: abandon a half-received frame."""
        return self._abandon(p.ERR_TIMEOUT)

    def framing_error(self) -> bytes:
        """A byte arrived with a low stop bit: abandon a half-received frame."""
        return self._abandon(p.ERR_FRAMING)

    def _abandon(self, code: int) -> bytes:
        if self._partial is None:
            return b""
        cmd, tag = (bytes(self._partial) + b"\0\0")[:2]
        self._partial = None
        return self._error(code, cmd, tag)

    def _error(self, code: int, cmd: int, tag: int) -> bytes:
        return p.encode_frame(p.ERROR, tag, bytes([code, cmd]))

    def _receive(self, byte: int) -> bytes:
        if self._partial is None:
            if byte == p.SOF:
                self._partial = bytearray()
            return b""
        frame = self._partial
        frame.append(byte)
        cmd, tag = (bytes(frame) + b"\0\0")[:2]
        if len(frame) == 4:
            length = int.from_bytes(frame[2:4], "little")
            if cmd not in p.COMMANDS:
                self._partial = None
                return self._error(p.ERR_UNKNOWN_COMMAND, cmd, tag)
            if not p.valid_length(cmd, length):
                self._partial = None
                return self._error(p.ERR_LENGTH, cmd, tag)
        if len(frame) < 6 or len(frame) < 6 + int.from_bytes(frame[2:4], "little"):
            return b""
        self._partial = None
        if p.crc16(frame) != 0:
            return self._error(p.ERR_CHECKSUM, cmd, tag)
        return self._execute(cmd, tag, bytes(frame[4:-2]))

    def _execute(self, cmd: int, tag: int, payload: bytes) -> bytes:
        registers = self.registers
        if cmd == p.IDENTIFY:
            body = self.info.to_bytes()
        elif cmd == p.WRITE_REGS:
            for address, value in struct.iter_unpack("<HI", payload):
                if address & 0x3FF != regmap.CONTROL:
                    registers.write(address, value)
            body = b""
        elif cmd == p.READ_REGS:
            body = b"".join(struct.pack("<I", registers.read(address))
                            for (address,) in struct.iter_unpack("<H", payload))
        elif cmd == p.CLASSIFY:
            try:
                image = p.decode_image(payload)
            except p.ProtocolError:
                return self._error(p.ERR_PAYLOAD, cmd, tag)
            registers.result = self.classify(image)
            registers.done = True
            body = registers.result.to_bytes()
        else:
            body = registers.result.to_bytes()
        return p.encode_frame(cmd | p.RESPONSE, tag, body)

    def classify(self, image: np.ndarray) -> p.Result:
        """The core's answer for one image at the current register settings."""
        settings = self.registers.settings()
        ref = infer(self.w_hidden, self.w_out, image[None], self.config, settings)
        counters = {name: int(ref.counters[name][0]) for name in ref.counters}
        counters["cycles"] = int(cycles_per_image(self.config, image[None], settings, ref)[0])
        if self.registers.controller & 1:
            final = ref.final_bits[0] if ref.final_bits is not None else (
                settings.bits_hidden, settings.bits_out)
            self.registers.dynamic_bits = (int(final[0]), int(final[1]))
        return p.Result(int(ref.pred[0]), tuple(int(c) for c in ref.counts[0]), counters)


def board_model(board_id: str, weights, *, clock_hz: int, baud: int) -> DeviceModel:
    """The model of ``board_id``'s demo bitstream carrying ``weights`` (a
    :class:`golden.weights.Weights`)."""
    from boards.bitstream import hardware_config

    spec = board(board_id)
    config = hardware_config(weights, spec)
    info = p.device_info(config, weights.w_hidden, weights.w_out, clock_hz=clock_hz,
                         baud=baud, banks=spec.banks)
    return DeviceModel(config, weights.w_hidden, weights.w_out, info)


def board_weights(board_id: str, path=None):
    """The weights file ``path``, or ``board_id``'s default one, loaded and checked."""
    from boards.bitstream import PROJECT_ROOT
    from golden.weights import load_weights

    return load_weights(path or PROJECT_ROOT / board(board_id).weights)


FRAME_TIMEOUT_S = 0.02
"""Silence inside a frame after which the model abandons it (the boards' 20 ms)."""


def serve_pty(model: DeviceModel, *, first: bytes = b"", noise: LineNoise | None = None,
              out=sys.stdout) -> None:
    """Serve ``model`` on a new pseudo-terminal until interrupted.

    Prints the port (the terminal's name) as the first line of ``out``; sends ``first``
    before the first answer; passes every answer through ``noise``.
    """
    master, slave = os.openpty()  # the slave stays open here: a host may come and go
    tty.setraw(slave)
    print(os.ttyname(slave), file=out, flush=True)
    last_byte = time.monotonic()
    tag = 0
    while True:
        ready, _, _ = select.select([master], [], [], FRAME_TIMEOUT_S / 4)
        if ready:
            data = os.read(master, 4096)
            last_byte = time.monotonic()
            answers = model.answers(data)
        elif model.receiving and time.monotonic() - last_byte > FRAME_TIMEOUT_S:
            answers = [model.timeout()]
        else:
            continue
        for answer in answers:
            tag = answer[2]
            wire = answer if noise is None else noise.apply(answer, stray_tag=tag ^ 0x80)
            os.write(master, first + wire)
            first = b""


def fault_kinds(text: str) -> tuple[str, ...]:
    """``--fault-kinds``: a comma list of :data:`boards.noise.KINDS`."""
    kinds = tuple(text.split(","))
    if not set(kinds) <= set(KINDS):
        raise argparse.ArgumentTypeError(f"expected a comma list of {', '.join(KINDS)}, "
                                         f"not {text!r}")
    return kinds


def main(argv: list[str] | None = None) -> int:
    parser = cli.ArgumentParser(
        description="Serve the Python model of a board's demo bitstream on a pseudo-terminal "
                    "(first line of output: the port), optionally over a noisy line, until "
                    "interrupted; boards/demo.py --port PORT talks to it like to a board.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--pty", action="store_true", required=True,
                        help="serve on a new pseudo-terminal")
    parser.add_argument("--board", default=DEFAULT_BOARD, choices=sorted(BOARDS),
                        help="board id whose bitstream the model stands for")
    parser.add_argument("--weights", type=cli.input_file, default=None,
                        help="weights file (default: the board's)")
    parser.add_argument("--clock-mhz", type=cli.clock_mhz, default=DEFAULT_CLOCK_HZ / 1e6,
                        help="core clock the model reports (MHz)")
    parser.add_argument("--baud", type=cli.baud, default=DEFAULT_BAUD,
                        help="bit rate the model reports (bit/s)")
    parser.add_argument("--noise-hex", type=cli.hex_bytes, default=b"", metavar="HEX",
                        help="bytes (hexadecimal, e.g. a5000000 10) sent before the first answer")
    parser.add_argument("--fault-rate", type=cli.fraction, default=0.0, metavar="P",
                        help="probability that an answer is corrupted (a burst, a false start, "
                             "a flipped, dropped or inserted byte, a stray frame or silence)")
    parser.add_argument("--fault-kinds", type=fault_kinds, default=",".join(KINDS),
                        metavar="KIND[,KIND...]", help="the faults --fault-rate draws from")
    parser.add_argument("--seed", type=cli.seed, default=0,
                        help="seed of the line noise (the same seed gives the same noise)")
    args = parser.parse_args(argv)
    model = board_model(args.board, board_weights(args.board, args.weights),
                        clock_hz=round(args.clock_mhz * 1e6), baud=args.baud)
    noise = LineNoise(args.fault_rate, args.seed, kinds=args.fault_kinds) \
        if args.fault_rate else None
    try:
        serve_pty(model, first=args.noise_hex, noise=noise)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    import signal

    from golden.errors import run_cli

    # Interrupted by SIGINT or SIGTERM, even when started with SIGINT ignored (a shell's
    # background job): Python then leaves SIGINT ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    sys.exit(run_cli(main))
