"""A Python model of the board top: same frames in, same frames out (docs/protocol.md).

:class:`DeviceModel` parses requests exactly like the gateware receiver (hunt for SOF, header
check, CRC, abandon on a framing error or a time-out) and executes them on a register model
of the core, computing results with :func:`golden.reference.infer` and cycles with
:mod:`hdl.cycle_model`.  The cocotb test compares the RTL's byte stream with it, and the host
demo uses it for ``--loopback`` (no board needed).
"""

from __future__ import annotations

import struct

import numpy as np

from boards import protocol as p
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
                                                     self.timesteps, self.config.t_max)
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
        out = bytearray()
        for byte in data:
            out += self._receive(byte)
        return bytes(out)

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
