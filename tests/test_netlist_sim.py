"""Netlist simulation: the DP16KD model against Amaranth memory semantics, and the CLI.

The memory test synthesizes four Amaranth memories with ``synth_ecp5`` (true dual port x18
with byte enables, read-before-write and a transparent read, x9, and pseudo dual port x36), runs
the netlist with the models of ``flows/cells/`` in Verilator on random traffic on both ports
and compares every read, cycle by cycle, with the Amaranth simulation of the same design.
About 1-2 min (Yosys and a Verilator build); ``SNN_SYNTH_TESTS=0`` skips it.
"""

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from flows import netlist_sim
from flows.rtl_sim import add_verilator_make_flags, ensure_simulator
from flows.toolchain import find_tool

SLOW = pytest.mark.skipif(os.environ.get("SNN_SYNTH_TESTS") == "0",
                          reason="SNN_SYNTH_TESTS=0 skips Yosys and Verilator runs")
CYCLES = 3000
INPUTS = {"addr_a": 11, "addr_b": 11, "wdata": 36, "we": 1, "be": 4, "en_a": 1, "en_b": 1}
OUTPUTS = {"tdp_a": 18, "tdp_b": 18, "wt_a": 18, "wt_b": 18, "x9_a": 9, "x9_b": 9,
           "pdp_r": 36}


def _bench():
    """Four memories on shared stimulus; every read port is an output."""
    from amaranth import Module
    from amaranth.lib import memory, wiring
    from amaranth.lib.wiring import In, Out

    rng = np.random.default_rng(5)

    class MemoryBench(wiring.Component):
        def __init__(self):
            super().__init__({**{k: In(w) for k, w in INPUTS.items()},
                              **{k: Out(w) for k, w in OUTPUTS.items()}})

        def elaborate(self, platform):
            m = Module()

            def dual(name, width, depth, transparent):
                mem = memory.Memory(shape=width, depth=depth,
                                    init=[int(v) for v in rng.integers(0, 1 << width, depth)])
                m.submodules[name] = mem
                bits = depth.bit_length() - 1
                granularity = 9 if width == 18 else None
                w = mem.write_port(granularity=granularity)
                a = mem.read_port(transparent_for=(w,) if transparent else ())
                b = mem.read_port()
                m.d.comb += [w.addr.eq(self.addr_a[:bits]), a.addr.eq(self.addr_a[:bits]),
                             b.addr.eq(self.addr_b[:bits]), w.data.eq(self.wdata[:width]),
                             w.en.eq(self.be[:2] if granularity else self.we),
                             a.en.eq(self.en_a), b.en.eq(self.en_b),
                             getattr(self, f"{name}_a").eq(a.data),
                             getattr(self, f"{name}_b").eq(b.data)]
                if granularity:
                    m.d.comb += w.en.eq(self.be[:2].replicate(1) & self.we.replicate(2))

            dual("tdp", 18, 1024, transparent=False)
            dual("wt", 18, 1024, transparent=True)
            dual("x9", 9, 2048, transparent=False)
            pdp = memory.Memory(shape=36, depth=512,
                                init=[int(v) for v in rng.integers(0, 1 << 36, 512)])
            m.submodules.pdp = pdp
            w, r = pdp.write_port(granularity=9), pdp.read_port()
            m.d.comb += [w.addr.eq(self.addr_a[:9]), w.data.eq(self.wdata),
                         w.en.eq(self.be & self.we.replicate(4)), r.addr.eq(self.addr_b[:9]),
                         r.en.eq(self.en_b), self.pdp_r.eq(r.data)]
            return m

    return MemoryBench()


def _stimulus(cycles: int) -> dict[str, np.ndarray]:
    """Random traffic over a few rows; port B never touches the row port A writes in the
    same cycle (the device's result is undefined there, see dp16kd.v)."""
    rng = np.random.default_rng(11)
    s = {k: rng.integers(0, 1 << w, cycles, dtype=np.uint64) for k, w in INPUTS.items()}
    # A write on port A goes to rows 0..31, port B then reads rows 32..63 (every memory maps
    # address k to row k or k // 2, so the rows differ).
    s["addr_a"] %= 32
    s["addr_b"] = np.where(s["we"] == 1, 32 + s["addr_b"] % 32, s["addr_b"] % 64)
    return s


def _amaranth_reads(bench, stimulus, inputs=INPUTS, outputs=OUTPUTS) -> dict[str, list[int]]:
    from amaranth.sim import Simulator

    reads = {k: [] for k in outputs}

    async def testbench(ctx):
        for i in range(CYCLES):
            for k in inputs:
                ctx.set(getattr(bench, k), int(stimulus[k][i]))
            await ctx.tick()
            for k in outputs:
                reads[k].append(ctx.get(getattr(bench, k)))

    sim = Simulator(bench)
    sim.add_clock(1e-6)
    sim.add_testbench(testbench)
    sim.run()
    return reads


HARNESS = """
module harness;
  reg clk = 0;
  reg [{iw}:0] stim [0:{last}];
  {decl_in}
  {decl_out}
  top dut(.clk(clk), .rst(1'b0), {conn});
  integer i, f;
  initial begin
    $readmemh("stimulus.hex", stim);
    f = $fopen("reads.txt", "w");
    for (i = 0; i <= {last}; i = i + 1) begin
      {{{names_in}}} = stim[i];
      #5 clk = 1;
      #1 $fwrite(f, "{fmt}\\n", {names_out});
      #4 clk = 0;
    end
    $fclose(f);
    $finish;
  end
endmodule
"""


def _netlist_reads(bench, stimulus, workdir: Path, inputs=INPUTS,
                   outputs=OUTPUTS) -> tuple[dict[str, list[int]], dict]:
    """The bench's reads in its ECP5 netlist: synth_ecp5, then the flow's pass that moves
    read registers into the block RAM (:func:`flows.synth.absorb_block_ram_registers`)."""
    from amaranth.back import rtlil

    from flows.synth import absorb_block_ram_registers

    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "bench.il").write_text(rtlil.convert(bench, name="top", emit_src=False))
    subprocess.run([find_tool("yosys"), "-q", "-p",
                    "read_rtlil bench.il; synth_ecp5 -top top -json bench.json"],
                   cwd=workdir, check=True)
    absorbed = absorb_block_ram_registers(workdir / "bench.json", "top")
    subprocess.run([find_tool("yosys"), "-q", "-p",
                    "read_json bench.json; write_verilog -noattr bench.v"],
                   cwd=workdir, check=True)
    cells = json.loads((workdir / "bench.json").read_text())["modules"]["top"]["cells"]
    names_in, names_out = list(inputs), list(outputs)
    width = sum(inputs.values())
    (workdir / "harness.v").write_text(HARNESS.format(
        iw=width - 1, last=CYCLES - 1,
        decl_in=" ".join(f"reg [{w - 1}:0] {k};" for k, w in inputs.items()),
        decl_out=" ".join(f"wire [{w - 1}:0] {k};" for k, w in outputs.items()),
        conn=", ".join(f".{k}({k})" for k in [*names_in, *names_out]),
        names_in=", ".join(names_in), names_out=", ".join(names_out),
        fmt=" ".join("%h" for _ in names_out)))
    packed = np.zeros(CYCLES, dtype=object)
    for k in names_in:
        packed = packed * (1 << inputs[k]) + stimulus[k].astype(object)
    (workdir / "stimulus.hex").write_text("".join(f"{int(v):x}\n" for v in packed))
    ensure_simulator("verilator")
    add_verilator_make_flags()
    build = subprocess.run(["verilator", "--binary", "-Wno-fatal", "-Wno-lint", "-Wno-style",
                            "-Wno-MULTIDRIVEN", "-CFLAGS", "-std=c++20 -fcoroutines",
                            "--top-module", "harness", "harness.v",
                            "bench.v", *map(str, netlist_sim.CELL_MODELS), "-o", "bench"],
                           cwd=workdir, capture_output=True, text=True)
    assert build.returncode == 0, build.stderr[-3000:]
    log = subprocess.run([str(workdir / "obj_dir" / "bench")], cwd=workdir, check=True,
                         capture_output=True, text=True).stdout
    rows = [line.split() for line in (workdir / "reads.txt").read_text().splitlines()]
    reads = {k: [int(row[j], 16) for row in rows] for j, k in enumerate(names_out)}
    return reads, {"cells": cells, "log": log, "absorbed": absorbed}


@SLOW
def test_dp16kd_model_matches_amaranth_memory_on_both_ports(tmp_path):
    bench = _bench()
    stimulus = _stimulus(CYCLES)
    expected = _amaranth_reads(bench, stimulus)
    got, info = _netlist_reads(_bench(), stimulus, tmp_path)  # info["log"]: collisions
    blocks = [c["parameters"] for c in info["cells"].values() if c["type"] == "DP16KD"]
    widths = {int(p["DATA_WIDTH_A"], 2) for p in blocks}
    modes = {p.get("WRITEMODE_A") for p in blocks}
    assert {9, 18, 36} <= widths, f"the bench did not map to x9, x18 and x36 blocks: {widths}"
    assert "READBEFOREWRITE" in modes, modes  # Yosys builds write-through from soft logic
    for name in OUTPUTS:
        diff = [i for i, (a, b) in enumerate(zip(expected[name], got[name], strict=True))
                if a != b]
        assert not diff, (f"{name}: first difference at cycle {diff[0]}: Amaranth "
                          f"{expected[name][diff[0]]:#x}, netlist {got[name][diff[0]]:#x} "
                          f"({len(diff)} cycles differ)")


ROM_INPUTS = {"addr_a": 11, "addr_b": 11, "en_a": 1, "en_b": 1}
ROM_OUTPUTS = {"rom_a": 18, "rom_b": 18, "x9": 9, "reset": 18, "fanout": 18}


def _rom_bench():
    """Read-only memories as the core's weight planes are: registered reads, reset-less
    (which the flow moves into the DP16KD output register: ``rom`` on both ports, ``x9``),
    with a reset (``reset``: stays in the fabric), and one whose read also feeds logic
    (``fanout``: stays)."""
    from amaranth import Module, Signal
    from amaranth.lib import memory, wiring
    from amaranth.lib.wiring import In, Out

    rng = np.random.default_rng(6)

    class RomBench(wiring.Component):
        def __init__(self):
            super().__init__({**{k: In(w) for k, w in ROM_INPUTS.items()},
                              **{k: Out(w) for k, w in ROM_OUTPUTS.items()}})

        def elaborate(self, platform):
            m = Module()

            def rom(name, width, depth, ports):
                mem = memory.Memory(shape=width, depth=depth,
                                    init=[int(v) for v in rng.integers(0, 1 << width, depth)])
                m.submodules[name] = mem
                bits = depth.bit_length() - 1
                reads = [mem.read_port() for _ in range(ports)]
                for read, addr, en in zip(reads, (self.addr_a, self.addr_b),
                                          (self.en_a, self.en_b), strict=False):
                    m.d.comb += [read.addr.eq(addr[:bits]), read.en.eq(en)]
                return [read.data for read in reads]

            def register(value, reset_less=True):
                held = Signal(len(value), reset_less=reset_less)
                m.d.sync += held.eq(value)
                return held

            a, b = rom("rom", 18, 1024, 2)
            (x9,) = rom("x9", 9, 2048, 1)
            (reset,) = rom("reset", 18, 1024, 1)
            (fanout,) = rom("fanout", 18, 1024, 1)
            m.d.comb += [self.rom_a.eq(register(a)), self.rom_b.eq(register(b)),
                         self.x9.eq(register(x9)), self.reset.eq(register(reset, False)),
                         self.fanout.eq(register(fanout) ^ fanout)]
            return m

    return RomBench()


@SLOW
def test_read_registers_moved_into_dp16kd_output_registers_keep_every_read(tmp_path):
    rng = np.random.default_rng(12)
    stimulus = {k: rng.integers(0, 1 << w, CYCLES, dtype=np.uint64)
                for k, w in ROM_INPUTS.items()}
    expected = _amaranth_reads(_rom_bench(), stimulus, ROM_INPUTS, ROM_OUTPUTS)
    got, info = _netlist_reads(_rom_bench(), stimulus, tmp_path, ROM_INPUTS, ROM_OUTPUTS)
    outreg = sorted((name.split(".")[0].split("$")[0], side) for name, c in info["cells"].items()
                    if c["type"] == "DP16KD"
                    for side in "AB" if c["parameters"][f"REGMODE_{side}"] == "OUTREG")
    assert outreg == [("rom", "A"), ("rom", "B"), ("x9", "A")], (outreg, info["absorbed"])
    assert info["absorbed"]["flip_flops"] == 18 + 18 + 9
    for name in ROM_OUTPUTS:
        diff = [i for i, (a, b) in enumerate(zip(expected[name], got[name], strict=True))
                if a != b]
        assert not diff, (f"{name}: first difference at cycle {diff[0]}: Amaranth "
                          f"{expected[name][diff[0]]:#x}, netlist {got[name][diff[0]]:#x} "
                          f"({len(diff)} cycles differ)")


def test_bad_stage_is_one_error_line(capsys):
    from golden.errors import run_cli

    assert run_cli(netlist_sim.main, ["--neurons", "37", "--random-seed", "1",
                                      "--stage", "placed"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "--stage" in err and len(err.splitlines()) == 1


def test_missing_netlist_is_a_user_error(tmp_path):
    from golden.errors import UserError

    with pytest.raises(UserError, match="does not exist"):
        netlist_sim.netlist_verilog(tmp_path, "routed")


def test_routed_netlists_hold_the_weights_not_placeholders(tmp_path, monkeypatch):
    """The flow synthesizes with placeholder block-RAM contents by default; a netlist that is
    simulated against the reference must have the weights synthesized in.  The stages come
    from the flow's stage cache (the runs of one network at several precisions route it
    once)."""
    import flows.synth
    from flows.cache import CACHE_ROOT, StageCache

    calls = []

    def fake_synthesize(*args, **kwargs):
        calls.append(kwargs)

    monkeypatch.setattr(flows.synth, "synthesize", fake_synthesize)
    for stage in ("routed", "synth"):
        netlist_sim.synthesize_netlist(None, None, None, tmp_path, stage=stage, device=None,
                                       freq_mhz=100, seed=1, progress=False, router="router2")
    for call, stage in zip(calls, ("routed", "synth"), strict=True):
        cache = call.pop("cache")
        assert isinstance(cache, StageCache) and cache.root == CACHE_ROOT
        assert call == dict(freq_mhz=100, seed=1, progress=False, placeholder_seed=None,
                            router="router2", timing_weight=None,
                            stop_after_yosys=stage == "synth")


def test_a_simulation_that_does_not_build_is_one_error_line(tmp_path):
    from flows.rtl_sim import TOPLEVEL, build_sources
    from golden.errors import UserError

    ensure_simulator("verilator")
    source = tmp_path / "broken.v"
    source.write_text(f"module {TOPLEVEL}(input clk);\n  MISSING_CELL u(.A(clk));\nendmodule\n")
    with pytest.raises(UserError) as caught:
        build_sources([source], tmp_path / "build", "verilator")
    message = str(caught.value)
    assert "build of the simulation failed" in message and "MISSING_CELL" in message
    assert "\n" not in message
