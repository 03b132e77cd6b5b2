"""The ``[784, N, 10]`` SNN core: control registers, sequencer, membranes and counters.

Per image: SCAN (build the input list, clear the hidden membranes), then per time step
INTEGRATE (every spiking input adds its hidden weight row, ``chunks`` cycles per spike) and
FIRE (fire, reset and leak every hidden chunk, collect the hidden spikes); after the last
step FINISH and CLASSIFY.  A second FSM runs the output layer of step ``t`` (LEAK, then every
hidden spike adds its output row, DRAIN, COMPARE, FIRE) while the hidden layer integrates step
``t+1``; FIRE of ``t+1`` waits for it.  The hidden membranes of step ``t+1`` are leaked in
the FIRE pass of step ``t`` (a leak of the all-zero membranes of step 0 is a no-op).
docs/hdl.md describes the blocks, docs/cycle_model.md the cycle count.
"""

from __future__ import annotations

import numpy as np
from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from golden.config import N_INPUTS, N_OUTPUTS, SNNConfig
from golden.cycle_model import scan_cycles
from golden.geometry import hidden_geometry, output_geometry
from golden.reference import block_maxima
from golden.timing import (
    CLASSIFY_CYCLES,
    IMAGE_WORDS,
    MARGIN_CYCLES,
    OUTPUT_CYCLES,
    OUTPUT_READER_LATENCY,
    PIXELS_PER_WORD,
    READER_LATENCY,
)
from hdl import regmap
from hdl.chunk_skip import ChunkSkip
from hdl.classifier import Classifier
from hdl.controller import PrecisionController
from hdl.counter_bank import COUNTER_WIDTH, CounterBank
from hdl.event_list import EventList
from hdl.hidden_neurons import HiddenNeurons
from hdl.output_layer import REQUEST_DELAY, OutputLayer
from hdl.register_file import RegisterFile
from hdl.sequencer import Sequencer
from hdl.synapse_reader import SynapseRowReader
from hdl.validated import ValidatedComponent
from hdl.weight_planes import (
    check_weights,
    memory_images,
    memory_names,
    memory_widths,
    placeholder_images,
)


def counter_bound(config: SNNConfig) -> int:
    """An upper bound of every counter (incl. cycles) for any image at ``T = t_max``."""
    hidden = hidden_geometry(config)
    per_step_bits = (N_INPUTS * (7 * hidden.n_blocks + 8 * config.n_hidden)
                     + config.n_hidden * (7 + 8 * N_OUTPUTS))
    per_step_cycles = (N_INPUTS * hidden.chunks + IMAGE_WORDS + hidden.chunks
                       + config.n_hidden + 64 + MARGIN_CYCLES + 2)
    return 4 * IMAGE_WORDS + hidden.chunks + config.t_max * max(per_step_bits, per_step_cycles)


def early_launch(config: SNNConfig) -> bool:
    """Whether a queued image may launch its SCAN as soon as the running image is in FINISH:
    iff the longest FINISH (the last step's output layer with all N hidden neurons
    spiking), CLASSIFY and the handover, with a margin, end before a SCAN can (else it
    launches in CLASSIFY).  Either way an image's cycles do not depend on whether it was
    queued (docs/cycle_model.md, "Back to back")."""
    finish = (-(-config.n_hidden // config.issue_width) + OUTPUT_CYCLES + OUTPUT_READER_LATENCY
              + CLASSIFY_CYCLES + 1)
    return finish + HANDOVER_MARGIN <= scan_cycles(hidden_geometry(config).chunks,
                                                   config.issue_width)


HANDOVER_MARGIN = 4
"""Cycles an early launch keeps in hand between the running image's end and the end of the
queued image's SCAN."""


def chunk_levels(config: SNNConfig, w_hidden) -> np.ndarray:
    """The chunk levels baked into the core's chunk-summary memory (chunk skip): uint8
    ``[784, chunks]``.  Not a patched or file-loaded memory: a placeholder build or a loaded
    simulation is valid only for weights with these levels (their keys include them)."""
    geometry = hidden_geometry(config)
    return geometry.chunk_levels(block_maxima(np.asarray(w_hidden), geometry.block_size))


def weight_memories(config: SNNConfig, w_hidden=None, w_out=None, *,
                    placeholder_seed: int | None = None) -> list[tuple[str, int, list[int]]]:
    """``(name, width in bits, image)`` of every weight memory of an :class:`SNNCore`: the
    hidden layer's bit-plane segments and metadata, then the output layer's; the images of
    ``w_hidden`` and ``w_out``, or the placeholders of ``placeholder_seed`` (in the same order)."""
    memories = []
    for layer, (geometry, weights) in enumerate(((hidden_geometry(config), w_hidden),
                                                 (output_geometry(config), w_out))):
        images = (memory_images(check_weights("weights", weights, geometry.rows,
                                              geometry.fan_out), geometry)
                  if placeholder_seed is None
                  else placeholder_images(geometry, [placeholder_seed, layer]))
        memories += list(zip(memory_names(geometry), memory_widths(geometry), images,
                             strict=True))
    return memories


class SNNCore(ValidatedComponent):
    """A ``[784, N, 10]`` sigma-delta SNN with run-time precision, skip logic and counters.

    Parameters
    ----------
    config : SNNConfig
        N, T (reset value of ``TIMESTEPS``), t_max, thresholds, leaks, lanes L, block size B.
    w_hidden : int array ``[784, N]``
        Hidden weights, sign-magnitude in -127..127 (baked into bit-plane memories).
    w_out : int array ``[N, 10]``
        Output weights, sign-magnitude in -127..127.
    reset_bits : int
        Precision of both layers after reset, 2..8 bits.
    placeholder_seed : int, optional
        Build the weight memories with seeded random placeholder contents instead of the
        weights (see :func:`weight_memories`): the netlist, area and timing are then the same
        for every weights file of this shape, and the weights go into the block RAM of the
        routed design afterwards.  Such a core computes nothing useful until patched.
    weights_in_block_ram : bool
        Put every weight memory into block RAM (Yosys puts the output layer's small ones into
        logic otherwise), so that all weights of a routed design can be patched.

    Attributes
    ----------
    bus : In(ControlBus)
        The register bus (:mod:`hdl.regmap`).
    busy : Out(1)
        An image is being processed.
    done : Out(1)
        The last image finished; cleared by the next start (or queued start).
    finish : Out(1)
        A strobe: an image finished (its results are readable from the next cycle on, until
        the next image finishes).
    """

    @classmethod
    def validate(cls, *, config: SNNConfig, w_hidden, w_out, reset_bits: int = 8,
                 placeholder_seed: int | None = None,
                 weights_in_block_ram: bool = False) -> None:
        """Raise ``TypeError``/``ValueError`` for parameters :class:`SNNCore` rejects."""
        RegisterFile.validate(config=config, reset_bits=reset_bits)
        if counter_bound(config).bit_length() > COUNTER_WIDTH:
            raise ValueError(f"t_max {config.t_max} is too large for the "
                             f"{COUNTER_WIDTH}-bit counters")
        check_weights("w_hidden", w_hidden, N_INPUTS, config.n_hidden)
        check_weights("w_out", w_out, config.n_hidden, N_OUTPUTS)
        if placeholder_seed is not None and (not isinstance(placeholder_seed, int)
                                             or placeholder_seed < 0):
            raise TypeError(f"placeholder_seed must be None or an int >= 0, not "
                            f"{placeholder_seed!r}")

    def __init__(self, *, config: SNNConfig, w_hidden, w_out, reset_bits: int = 8,
                 placeholder_seed: int | None = None, weights_in_block_ram: bool = False):
        self._placeholder_seed = placeholder_seed
        self._block_ram = bool(weights_in_block_ram)
        self._w_hidden = check_weights("w_hidden", w_hidden, N_INPUTS, config.n_hidden)
        self._w_out = check_weights("w_out", w_out, config.n_hidden, N_OUTPUTS)
        self._config = config
        self._reset_bits = reset_bits
        self._hidden = hidden_geometry(config)
        self._output = output_geometry(config)
        super().__init__({"bus": In(regmap.ControlBus()), "busy": Out(1), "done": Out(1),
                          "finish": Out(1)})

    @property
    def config(self) -> SNNConfig:
        """The configuration this core was generated for."""
        return self._config

    def _layer_seed(self, layer: int):
        return None if self._placeholder_seed is None else [self._placeholder_seed, layer]

    def elaborate(self, platform):
        m = Module()
        cfg, hg = self._config, self._hidden
        m.submodules.registers = regs = RegisterFile(config=cfg, reset_bits=self._reset_bits)
        events = cfg.issue_width
        m.submodules.sequencer = seq = Sequencer(config=cfg, geometry=hg,
                                                 events_per_cycle=events,
                                                 early_launch=early_launch(cfg))
        m.submodules.inputs = inputs = EventList(
            t_max=cfg.t_max, levels=chunk_levels(cfg, self._w_hidden), events_per_cycle=events)
        m.submodules.skip = skip = ChunkSkip(geometry=hg, pixels=PIXELS_PER_WORD * events)
        m.submodules.hidden = hidden_reader = SynapseRowReader(
            geometry=hg, weights=self._w_hidden, placeholder_seed=self._layer_seed(0),
            block_ram=self._block_ram, ports=events)
        m.submodules.hidden_neurons = hidden = HiddenNeurons(config=cfg, geometry=hg,
                                                             ports=events)
        m.submodules.output = output_reader = SynapseRowReader(
            geometry=self._output, weights=self._w_out,
            request_stages=OUTPUT_READER_LATENCY - READER_LATENCY - REQUEST_DELAY,
            placeholder_seed=self._layer_seed(1), block_ram=self._block_ram, ports=events)
        m.submodules.output_layer = output = OutputLayer(
            config=cfg, spike_width=len(hidden.spikes), events=events)
        m.submodules.classifier = classifier = Classifier(config=cfg)
        m.submodules.controller = ctl = PrecisionController(count_width=len(output.counts[0]))
        m.submodules.counters = counters = CounterBank(
            lanes=hg.lanes, hidden=hidden_reader.counts.shape(),
            output=output_reader.counts.shape(), skipped=skip.counts.shape(), events=events)

        # The output layer, the counters and the controller's precisions are reset a cycle
        # after an image begins, from registers (the begin decode reached them across the
        # die): nothing is counted, read or decided in that cycle, and the cycle counter is
        # preset with one cycle more.
        begun, cycles_before = Signal(), Signal.like(seq.cycles_before)
        m.d.sync += [begun.eq(seq.begin), cycles_before.eq(seq.cycles_before + 1)]

        # The register file and the status.
        wiring.connect(m, wiring.flipped(self.bus), regs.bus)
        m.d.comb += [
            self.busy.eq(seq.busy), self.done.eq(seq.done), self.finish.eq(seq.finish),
            regs.busy.eq(seq.busy), regs.done.eq(seq.done),
            regs.scanning.eq(seq.scanning | ~inputs.scanned),
            regs.finish.eq(seq.finish), regs.take_queued.eq(seq.take_queued),
            seq.queued.eq(regs.queued), seq.acknowledge.eq(regs.acknowledge),
            regs.bits_in_force.hidden.eq(ctl.bits_hidden),
            regs.bits_in_force.out.eq(ctl.bits_out),
            regs.result.eq(classifier.result), regs.counts.eq(output.counts),
            regs.counters.eq(counters.counters),
            inputs.image_addr.eq(regs.image_addr), inputs.image_data.eq(regs.image_data),
            inputs.image_we.eq(regs.image_we),
        ]

        # The sequencer and what it steps: the event list, the hidden reader and neurons,
        # the output layer, the controller and the classifier.
        m.d.comb += [
            seq.start.eq(regs.start), seq.timesteps.eq(regs.timesteps),
            seq.dynamic.eq(regs.controller.enable), seq.interval.eq(regs.checkpoints.interval),
            inputs.scan.eq(seq.scan), inputs.walk.eq(seq.walk),
            # With one chunk per row the sequencer takes an entry in every INTEGRATE cycle, and
            # the list hands entries out only in INTEGRATE (its walk starts with the state
            # and INTEGRATE ends only once the list is idle): `ready` is then always 1 where it
            # matters, and the list need not wait for the sequencer's register across the die.
            inputs.ready.eq(seq.ready if hg.chunks > 1 else 1),
            inputs.step.eq(seq.step),
            seq.list_scanned.eq(inputs.scanned), seq.list_idle.eq(inputs.idle),
            seq.list_valid.eq(inputs.valid),
            seq.list_pixel.eq(inputs.pixel), seq.list_chunks.eq(inputs.chunks_on),
            inputs.bits.eq(ctl.bits_hidden), inputs.chunk_live.eq(skip.chunk_live),
            skip.neuron_on.eq(hidden.neuron_on), skip.skip_chunks.eq(seq.skip_chunks),
            skip.skipped_rows.eq(inputs.skipped),
            hidden_reader.row.eq(seq.row), hidden_reader.chunk.eq(seq.chunk),
            hidden_reader.valid.eq(seq.row_valid),
            seq.reader_busy.eq(hidden_reader.busy),
            seq.reader_next_chunk.eq(hidden_reader.next_chunk),
            hidden.clear.eq(seq.scan), hidden.read_chunk.eq(seq.read_chunk),
            hidden.fire_valid.eq(seq.fire_valid), hidden.fire_chunk.eq(seq.fire_chunk),
            hidden.fire_ahead.eq(seq.fire_ahead),
            hidden.gate.eq(seq.gate),
            hidden.gate_idle.eq(regs.controller.gate_idle),
            hidden.gate_blocks.eq(regs.controller.gate_blocks),
            output.clear.eq(begun), output.start.eq(seq.output_start),
            seq.output_idle.eq(output.idle),
            ctl.begin.eq(begun), ctl.check.eq(seq.check),
            seq.decided.eq(ctl.decided), seq.leave.eq(ctl.leave), seq.gate_decision.eq(ctl.gate),
            classifier.start.eq(seq.classify), seq.classified.eq(classifier.done),
            classifier.counts.eq(output.counts), classifier.membranes.eq(output.membranes),
        ]

        # The data path: hidden reader -> hidden membranes -> spikes -> output layer.
        m.d.comb += [
            hidden.mask.eq(regs.mask),
            hidden_reader.bits.eq(ctl.bits_hidden), hidden_reader.tau.eq(regs.tau.hidden),
            hidden_reader.post_mask.eq(hidden.neuron_on),
            hidden.weight_valid.eq(hidden_reader.out_valid),
            hidden.weight_chunk.eq(hidden_reader.out_chunk),
            hidden.weight.eq(hidden_reader.weight),
            output.spikes.eq(hidden.spikes),
            output_reader.row.eq(output.row), output_reader.valid.eq(output.row_valid),
            output_reader.chunk.eq(0),
            output_reader.bits.eq(ctl.bits_out), output_reader.tau.eq(regs.tau.out),
            output_reader.post_mask.eq((1 << N_OUTPUTS) - 1),
            output.weight.eq(output_reader.weight),
            output.reader_busy.eq(output_reader.busy),
        ]

        # Dynamic mode (docs/controller.md): the controller sets the precisions in force.
        settings, checkpoints = regs.controller, regs.checkpoints
        m.d.comb += [
            ctl.enable.eq(settings.enable),
            ctl.static_hidden.eq(regs.precision.hidden), ctl.static_out.eq(regs.precision.out),
            ctl.start_hidden.eq(settings.start_hidden), ctl.start_out.eq(settings.start_out),
            ctl.step_hidden.eq(settings.step_hidden), ctl.step_out.eq(settings.step_out),
            ctl.gate_idle.eq(settings.gate_idle | settings.gate_blocks.any()),
            ctl.escalate_margin.eq(checkpoints.escalate_margin),
            ctl.exit_margin.eq(checkpoints.exit_margin),
            ctl.counts.eq(output.counts),
        ]

        m.d.comb += [
            counters.clear.eq(begun), counters.cycles_before.eq(cycles_before),
            counters.busy.eq(seq.busy),
            counters.input_spike.eq(seq.input_spike),
            counters.hidden_counts.eq(hidden_reader.counts),
            counters.output_counts.eq(output_reader.counts),
            counters.skipped_counts.eq(skip.counts),
            counters.hidden_fired.eq(hidden.fired), counters.hidden_updated.eq(hidden.updated),
            counters.output_fire.eq(output.fire), counters.output_fired.eq(output.fired),
            counters.precision_changed.eq(ctl.decided & ctl.changed),
        ]
        return m
