"""IDENTIFY with its fingerprint in block RAM (a patchable build) answers the same bytes."""

import pytest
from amaranth.sim import Simulator

from boards import protocol as p
from boards.executor import CommandExecutor


def _identify_response(identify: bytes, tail: int) -> bytes:
    dut = CommandExecutor(banks=1, identify=identify, block_ram_tail=tail)
    sent = []

    async def bench(ctx):
        ctx.set(dut.tx_ready, 1)
        ctx.set(dut.job.cmd, p.IDENTIFY)
        ctx.set(dut.job_valid, 1)
        await ctx.tick()
        ctx.set(dut.job_valid, 0)
        for _ in range(len(identify) + 16):
            if ctx.get(dut.tx_valid):
                sent.append(ctx.get(dut.tx_data))
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return bytes(sent)


@pytest.mark.parametrize("tail", [1, 8])
def test_fingerprint_from_block_ram_answers_like_constants(tail):
    identify = bytes(range(40, 70))
    expected = _identify_response(identify, 0)
    assert identify in expected  # header, the payload, CRC
    assert _identify_response(identify, tail) == expected


def test_tail_longer_than_the_payload_is_refused():
    with pytest.raises(ValueError, match="block_ram_tail"):
        CommandExecutor(banks=1, identify=b"abc", block_ram_tail=4)
