"""The hidden neurons: membranes (clear, integrate, fire pass) and which neurons are on."""

from __future__ import annotations

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from golden.config import WEIGHT_BITS, SNNConfig
from golden.geometry import LayerGeometry
from hdl.logic import register_tree, registered_copies, registered_popcount

COPY_LANES = 8
"""Lanes per registered copy of the clear and start flags (each copy drives the write
multiplexers of its lanes' membranes, not one flag all of them)."""
FIRE_COPY_LANES = 4
"""Lanes per registered copy of the fire pass flag."""
FIRE_LEADS = 4
"""Copies of the fire pass flag, a cycle earlier, that feed the per-lane-group copies."""


def leak(value, shift: int):
    """``v -= v >> k`` (arithmetic shift); ``k = 0`` is no leak."""
    return value - (value >> shift) if shift else value


class HiddenNeurons(wiring.Component):
    """The hidden membranes, one memory word of ``lanes`` membranes per chunk.

    A clear pass (from ``clear``, one chunk per cycle) zeroes them; every chunk the hidden
    reader delivers is added in; the fire pass (``fire_valid``/``fire_chunk``, one chunk per
    cycle) fires, resets and leaks them and collects the spikes.  The data paths sit outside
    the sequencer's state decode, which reaches no membrane write multiplexer.

    Parameters
    ----------
    config : SNNConfig
        N, theta, leak and the membrane width of the hidden layer.
    geometry : LayerGeometry
        Chunks and lanes of the hidden layer.
    ports : int
        Weight chunks added per cycle (the hidden reader's ports; 2 only with one chunk).

    Attributes
    ----------
    clear : In(1)
        An image starts: clear the membranes, turn every neuron on, forget who fired (the
        last two a cycle later).
    mask : In(N)
        The hidden neuron mask register.
    gate : In(1)
        A controller gating decision: with ``gate_idle``, turn off the neurons that have not
        fired this image; with ``gate_blocks = K > 0``, turn off every metadata block (B
        neurons) in which fewer than K neurons have fired this image (K clamped to B).  What
        it keeps is registered: ``gate_idle`` of the cycle before, ``gate_blocks`` and the
        firing record of two cycles before (the record changes only in the fire pass).
    gate_idle : In(1)
        The ``CONTROLLER`` register's idle-neuron gating bit.
    gate_blocks : In(8)
        The ``CONTROLLER`` register's block gating K.
    neuron_on : Out(N)
        Neurons that are on: masked on and not gated.
    read_chunk : In(range(chunks))
        Membrane read address (the result is there the next cycle).
    weight_valid, weight_chunk, weight : In
        The hidden reader's weights of chunk ``weight_chunk``, one lane vector per port,
        all added into its membranes.
    fire_valid, fire_chunk : In
        The fire pass: fire, reset and leak chunk ``fire_chunk`` (read the cycle before).
    fire_ahead : In(1)
        ``fire_valid`` two cycles later (registered here in a tree: :data:`FIRE_LEADS`
        copies, then one copy per group of :data:`FIRE_COPY_LANES` lanes).
    spikes : Out(chunks * lanes)
        This step's hidden spikes, shifted in chunk by chunk by the fire pass.
    fired_ever : Out(chunks * lanes)
        Neurons that have fired this image (rotated through the fire pass).
    fired, updated : Out(lanes)
        Neurons of the chunk the fire pass wrote in the previous cycle that fired / were on
        (0 in other cycles).
    """

    def __init__(self, *, config: SNNConfig, geometry: LayerGeometry, ports: int = 1):
        if ports not in (1, 2) or (ports > 1 and geometry.chunks > 1):
            raise ValueError(f"ports must be 1, or 2 with one chunk, not {ports!r}")
        self._ports = ports
        self._config = config
        self._geometry = geometry
        n, chunks, lanes = config.n_hidden, geometry.chunks, geometry.lanes
        super().__init__({
            "clear": In(1), "mask": In(n), "gate": In(1), "gate_idle": In(1),
            "gate_blocks": In(8), "neuron_on": Out(n),
            "read_chunk": In(range(chunks)),
            "weight_valid": In(1), "weight_chunk": In(range(chunks)),
            "weight": In(data.ArrayLayout(data.ArrayLayout(signed(WEIGHT_BITS), lanes), ports)),
            "fire_valid": In(1), "fire_chunk": In(range(chunks)), "fire_ahead": In(1),
            "spikes": Out(chunks * lanes), "fired_ever": Out(chunks * lanes),
            "fired": Out(lanes), "updated": Out(lanes),
        })

    def elaborate(self, platform):
        m = Module()
        cfg, n = self._config, self._config.n_hidden
        chunks, lanes = self._geometry.chunks, self._geometry.lanes
        membranes = Memory(shape=data.ArrayLayout(signed(cfg.hidden_membrane_width), lanes),
                           depth=chunks, init=[])
        m.submodules.membranes = membranes
        write = membranes.write_port()
        read = membranes.read_port(transparent_for=(write,))
        m.d.comb += read.addr.eq(self.read_chunk)

        # Dynamic mode (docs/controller.md): `alive` clears the neurons a checkpoint gates.
        alive = Signal(n, init=(1 << n) - 1)
        m.d.comb += self.neuron_on.eq(self.mask & alive)
        # What a gating decision keeps, registered (four cycles: the block counts in three
        # stages, then the compare): `fired_ever` changes only in the fire pass, many cycles
        # before a decision.
        keep = Signal(n)
        m.d.sync += keep.eq(Mux(self.gate_idle, self.fired_ever[:n], (1 << n) - 1)
                            & self._busy_blocks(m))
        with m.If(self.gate):
            m.d.sync += alive.eq(alive & keep)
        # The fire pass reads a registered copy of the neurons that are on (the mask register
        # sits by the bus; the mask and `alive` change only between images or at a gating
        # decision, many cycles before the next fire pass).
        on_copy = Signal(n)
        m.d.sync += on_copy.eq(self.neuron_on)
        lane_on_table = Array(
            Cat(on_copy, Const(0, chunks * lanes - n)).word_select(c, lanes)
            for c in range(chunks))

        # The clear pass (registered flags: a state decode reached every membrane bit's reset).
        clearing, clear_chunk = Signal(), Signal(range(chunks))
        clearing_next = Signal()
        m.d.comb += clearing_next.eq(clearing)
        with m.If(self.clear):
            m.d.comb += clearing_next.eq(1)
        with m.Elif(clearing & (clear_chunk == chunks - 1)):
            m.d.comb += clearing_next.eq(0)
        m.d.sync += clearing.eq(clearing_next)
        groups = [range(lo, min(lo + COPY_LANES, lanes)) for lo in range(0, lanes, COPY_LANES)]
        group_of = [lane // COPY_LANES for lane in range(lanes)]
        # The fire flag (each copy drives its lanes' membrane and spike bits: a copy for
        # eight lanes, fed from near the sequencer, was a die-wide net).
        fire_groups = -(-lanes // FIRE_COPY_LANES)
        leads = min(FIRE_LEADS, fire_groups)
        fire_copies = register_tree(m, self.fire_ahead, (leads, -(-fire_groups // leads)),
                                    "fire_valid")
        fire_of = [fire_copies[lane // FIRE_COPY_LANES] for lane in range(lanes)]
        clear_copies = registered_copies(m, clearing_next, len(groups), "clearing_copy")
        # An image start resets `alive` and `fired_ever` a cycle later, from a copy per lane
        # group (the start decode reached all 2N of them across the die); neither is read
        # before the image's first fire pass or gating decision.
        start_copies = registered_copies(m, self.clear, len(groups), "start_copy")

        # The fire pass.
        lane_on, fired = Signal(lanes), Signal(lanes)
        m.d.comb += lane_on.eq(lane_on_table[self.fire_chunk])
        for lane in range(lanes):
            m.d.comb += fired[lane].eq(lane_on[lane] & (read.data[lane] > cfg.theta_hidden))

        def fire_value(lane):
            # Both candidates are leaked in parallel; `fired` only selects.
            v = read.data[lane]
            return Mux(fired[lane], leak(v - cfg.theta_hidden, cfg.leak_hidden),
                       Mux(lane_on[lane], leak(v, cfg.leak_hidden), v))

        if chunks == 1:
            # One membrane word, rewritten in every cycle: the reader's weights are 0 when
            # none are valid (the sum is then the membrane itself), and the clear pass (an
            # image start) and the fire pass never meet a valid weight.  The fire and clear
            # selects are the copies of each lane's group.
            m.d.comb += write.en.eq(1)
            for lane in range(lanes):
                added = sum(self.weight[p][lane] for p in range(self._ports))
                m.d.comb += write.data[lane].eq(
                    Mux(fire_of[lane], fire_value(lane),
                        Mux(clear_copies[group_of[lane]], 0, read.data[lane] + added)))
        else:
            with m.If(clearing):
                m.d.comb += [write.addr.eq(clear_chunk), write.en.eq(1)]
            with m.If(self.weight_valid):
                m.d.comb += [write.addr.eq(self.weight_chunk), write.en.eq(1)]
                for lane in range(lanes):
                    m.d.comb += write.data[lane].eq(read.data[lane] + self.weight[0][lane])
            with m.If(self.fire_valid):
                m.d.comb += [write.addr.eq(self.fire_chunk), write.en.eq(1)]
                for lane in range(lanes):
                    m.d.comb += write.data[lane].eq(fire_value(lane))
        with m.If(clearing):
            m.d.sync += clear_chunk.eq(clear_chunk + 1)

        # The spikes and who fired, shifted in chunk by chunk (each bit under its lane's copy
        # of the fire pass flag).
        m.d.sync += [self.fired.eq(0), self.updated.eq(0)]
        n_bits = chunks * lanes
        shifted_spikes = Cat(self.spikes[lanes:], fired)
        shifted_ever = Cat(self.fired_ever[lanes:], self.fired_ever[:lanes] | fired)
        for j in range(n_bits):
            with m.If(fire_of[j % lanes]):
                m.d.sync += [self.spikes[j].eq(shifted_spikes[j]),
                             self.fired_ever[j].eq(shifted_ever[j])]
        for lane in range(lanes):
            with m.If(fire_of[lane]):
                m.d.sync += [self.fired[lane].eq(fired[lane]),
                             self.updated[lane].eq(lane_on[lane])]

        with m.If(self.clear):
            m.d.sync += clear_chunk.eq(0)
        for j in range(n_bits):
            with m.If(start_copies[group_of[j % lanes]]):
                m.d.sync += self.fired_ever[j].eq(0)
                if j < n:
                    m.d.sync += alive[j].eq(1)
        return m

    def _busy_blocks(self, m: Module) -> Signal:
        """Block gating: 1 for every neuron of a metadata block in which at least
        ``min(gate_blocks, B)`` neurons have fired this image (all ones when K = 0)."""
        n, size = self._config.n_hidden, self._config.block_size
        threshold = Signal(range(size + 1))
        m.d.sync += threshold.eq(Mux(self.gate_blocks > size, size, self.gate_blocks))
        busy = Signal(n)
        for start in range(0, n, size):
            width = min(size, n - start)
            fired = registered_popcount(m, [self.fired_ever[start + j] for j in range(width)],
                                        f"block{start // size}_fired", stages=3)
            m.d.comb += busy[start:start + width].eq(
                Mux(fired >= threshold, (1 << width) - 1, 0))
        return busy
