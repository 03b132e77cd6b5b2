"""The core's components: rejected parameters leave no unused component behind, and the
register field layouts agree with the register map's documented bit positions."""

from __future__ import annotations

import gc
import warnings

import numpy as np
import pytest
from amaranth.hdl import Fragment, UnusedElaboratable

from boards.executor import CommandExecutor
from boards.framing import FrameReceiver
from boards.soc import UartSNN
from boards.uart import UartRx, UartTx
from golden.config import SNNConfig
from hdl import regmap
from hdl.controller import PrecisionController
from hdl.core import SNNCore
from hdl.register_file import RegisterFile
from hdl.spike_walker import SpikeWalker

CONFIG = SNNConfig(n_hidden=8, lanes=8, block_size=4)
W_HIDDEN, W_OUT = np.zeros((784, 8), int), np.zeros((8, 10), int)
REJECTED = [
    (SNNCore, {"config": CONFIG, "w_hidden": W_HIDDEN[:, :7], "w_out": W_OUT}),
    (SNNCore, {"config": CONFIG, "w_hidden": W_HIDDEN, "w_out": W_OUT, "reset_bits": 9}),
    (RegisterFile, {"config": "N=8"}),
    (SpikeWalker, {"width": 0}),
    (PrecisionController, {"count_width": 0}),
    (FrameReceiver, {"banks": 3, "timeout": 100}),
    (CommandExecutor, {"banks": 1, "identify": b""}),
    (UartRx, {"divisor": 3}),
    (UartTx, {"divisor": True}),
    (UartSNN, {"config": CONFIG, "w_hidden": W_HIDDEN, "w_out": W_OUT, "clock_hz": 100,
               "baud": 115200}),
]


@pytest.mark.parametrize(("component", "params"), REJECTED,
                         ids=[f"{c.__name__}-{i}" for i, (c, _) in enumerate(REJECTED)])
def test_rejected_parameters_leave_no_unused_component(component, params):
    Fragment.get(SpikeWalker(width=4), None)  # Amaranth warns only once something elaborated
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises((TypeError, ValueError)):
            component(**params)
        gc.collect()
    assert not [w for w in caught if issubclass(w.category, UnusedElaboratable)]


def test_an_unused_component_is_still_reported_at_the_callers_line():
    Fragment.get(SpikeWalker(width=4), None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        SpikeWalker(width=4)
        gc.collect()
    unused = [w for w in caught if issubclass(w.category, UnusedElaboratable)]
    assert len(unused) == 1 and unused[0].filename == __file__


def test_field_layouts_match_the_register_map():
    assert regmap.field_bits(regmap.CONTROLLER_FIELDS) == 0xFF177FF1
    assert regmap.field_bits(regmap.CHECKPOINTS_FIELDS) == 0xFFFFFF
    assert regmap.field_bits(regmap.TAU_FIELDS) == 0x7F7F
    assert regmap.pack(regmap.PRECISION_FIELDS, hidden=3, out=8) == 0x83
    assert regmap.pack(regmap.INFO_FIELDS, n_hidden=128, t_max=32) == 128 | 32 << 16
    assert (regmap.START, regmap.BUSY, regmap.DONE, regmap.SCANNING) == (1, 1, 2, 4)
    tau = regmap.unpack(regmap.TAU_FIELDS, 0xFFFF_1234)
    assert (tau.hidden, tau.out) == (0x34, 0x12)
