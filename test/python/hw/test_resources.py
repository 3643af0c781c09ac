"""Block RAM of a planned design before synthesis (`intar.hw.resources`)."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

from design_harness import simulate_graph

from intar.frontend import Graph
from intar.hw.resources import bram36, bram36_estimate, lutram_cells, plan_memories, uram
from intar.synth.yosys import synth_cells
from intar.tools.flow import CompileOptions, compile_file

ROOT = Path(__file__).resolve().parents[3]


def test_block_ram_per_memory_follows_the_aspect_ratios() -> None:
    assert bram36(64, 64) == 0  # LUTRAM
    assert bram36(1024, 16) == 0.5  # one RAMB18 (1K x 18)
    assert bram36(2048, 16) == 1  # one RAMB36 (2K x 18)
    assert bram36(3234, 16) == 2
    assert bram36(512, 72) == 1  # 512 x 72
    assert bram36(4096, 9) == 1 and bram36(4097, 9) == 1.5  # 4K x 9, then a RAMB18 more
    assert bram36(43776, 192) == 236.5  # 11 RAMB18 of 1K x 18 across, 43 deep


def test_shallow_memories_stay_in_lutram_however_wide() -> None:
    assert bram36(16, 2048) == 0 and lutram_cells(16, 2048) == 147  # an accumulator memory
    assert bram36(64, 2048) == 0 and bram36(65, 2048) == 28.5  # 57 RAMB18 past 64 words
    assert bram36(256, 8) == 0 and bram36(184, 16) == 0 and bram36(256, 16) == 0.5


MEMORY_SV = """module mem(input clk, input we, input [{a}:0] waddr, input [{w}:0] wdata,
                          input [{a}:0] raddr, output reg [{w}:0] rdata);
  {style}reg [{w}:0] words [0:{d}];
  always @(posedge clk) begin
    if (we) words[waddr] <= wdata;
    rdata <= words[raddr];
  end
endmodule
"""


def test_lutram_or_block_ram_as_yosys_chooses(tmp_path: Path) -> None:
    # one shape either side of the LUTRAM/RAMB18 trade-off, each kind of LUTRAM cell
    for depth, width in ((256, 8), (184, 16), (128, 32), (32, 448), (64, 512), (96, 256)):
        sv = MEMORY_SV.format(a=(depth - 1).bit_length() - 1, w=width - 1, d=depth - 1, style="")
        cells = synth_cells(sv, "mem", tmp_path / f"m{depth}x{width}")
        ramb = cells.get("RAMB36E2", 0) + 0.5 * cells.get("RAMB18E2", 0)
        lutram = cells.get("RAM32M16", 0) + cells.get("RAM64M8", 0)
        assert ramb == bram36(depth, width), (depth, width, cells)
        assert lutram == (lutram_cells(depth, width) if ramb == 0 else 0), (depth, width, cells)


def test_ultra_ram_as_yosys_folds_it(tmp_path: Path) -> None:
    # 4K x 72 a block; narrower words fold in down to 18 bits (8K x 36, 16K x 18)
    assert [uram(7296, 16), uram(29184, 16), uram(8192, 36), uram(1024, 144)] == [1, 2, 1, 2]
    for depth, width in ((7296, 16), (29184, 16), (8192, 36), (1024, 144)):
        sv = MEMORY_SV.format(
            a=(depth - 1).bit_length() - 1,
            w=width - 1,
            d=depth - 1,
            style='(* ram_style = "ultra" *) ',
        )
        cells = synth_cells(sv, "mem", tmp_path / f"u{depth}x{width}")
        assert cells.get("URAM288", 0) == uram(depth, width), (depth, width, cells)
        assert not cells.get("RAMB36E2") and not cells.get("RAMB18E2"), (depth, width, cells)


def test_whole_buffers_move_to_ultra_ram_when_block_ram_would_not_fit(tmp_path: Path) -> None:
    """The paper-scale gating net's sequential design holds its SFU operands ([32, 11008]
    each, several of them per phase) whole. Past 95% of the U280's 2,016 BRAM36, buffers move
    to UltraRAM, the most BRAM36 freed per URAM288 first; their memory arrays are marked."""
    man = compile_file(
        str(ROOT / "examples/gating_net.mlir"),
        tmp_path,
        CompileOptions("u280", 109, 5, mode="sequential"),
    )
    assert man is not None
    mem = man["memory"]
    assert mem["ultra_ram"] and mem["bram36_estimate"] <= 0.95 * 2016
    assert 0 < mem["uram_estimate"] <= mem["device_uram"] == 960
    sv = (tmp_path / "design.sv").read_text()
    marked = sv.count('(* ram_style = "ultra" *)')
    modules = [line for line in sv.splitlines() if line.startswith("module ") and "_uram_" in line]
    assert marked == len(modules) > 0


def test_weights_stream_through_rings_when_whole_ones_would_not_fit(tmp_path: Path) -> None:
    """The paper-scale self-attention design (a 1 x 8 x 5 core) would hold its three
    1024 x 1024 weights whole, 80 banks of 13,120 words each (6.5 RAMB36 a bank, 520 a
    weight), 2,553 BRAM36 in all, over the U280's 2,016. So its k-outer projections stream
    their weights through rings, the largest buffers first, until the design fits."""
    man = compile_file(
        str(ROOT / "examples/self_attention.mlir"), tmp_path, CompileOptions("u280", 43, 7)
    )
    assert man is not None
    from circt import ir

    from intar.conversion.lower_to_hw import designs, plan_of
    from intar.ir import make_context
    from intar.parse import Chunk, parse_chunk

    with make_context(), ir.Location.unknown():
        module = parse_chunk(Chunk((tmp_path / "schedule.mlir").read_text(), 1), "s")
        plan = plan_of(module.operation, designs(module.operation)[0])
        del module
    total, _ = bram36_estimate(plan)
    assert man["memory"]["bram36_estimate"] == math.ceil(total) <= 2016
    loaded = {n for n, b in plan.buffers.items() if b.writers[0].source.startswith("load:")}
    rings = {n for n in loaded if plan.buffers[n].ring_blocks}
    assert rings and rings <= {"buf_cc0_b_w_q", "buf_cc0_b_w_k", "buf_cc0_b_w_v"}
    assert all(plan.buffers[n].window_rows < plan.buffers[n].tensor.rows for n in rings)
    whole = {
        n: dataclasses.replace(b, ring_blocks=0) if n in rings else b
        for n, b in plan.buffers.items()
    }
    mems = plan_memories(whole, plan.instrs, {c.name: c.pe for c in plan.cores})
    weights = [m for m in mems if m.name.startswith("buf_cc0_b_w_")]
    assert len(weights) == 3 and all(m.bram36 == 520 for m in weights)
    assert all((m.count, m.depth, m.width) == (80, 13120, 16) for m in weights)
    assert sum(m.bram36 for m in mems) > 2016


def test_a_streamed_weight_ring_simulates_bit_exact(tmp_path: Path) -> None:
    """A 512 x 256 weight is 57 BRAM36 whole, over the tiny device's 32: the k-outer matmul
    reads it through a ring of a few rows from its port, bit-exact and at the model's cycles."""
    g = Graph("streamed_weight")
    x = g.input((4, 512), "i16")
    g.output(g.relu(g.matmul(x, g.weight((512, 256), "i16"), shift=14, out="i16")))
    rep = simulate_graph(g, tmp_path)
    man = json.loads((tmp_path / "hw.json").read_text())
    assert man["memory"]["bram36_estimate"] <= man["memory"]["device_bram36"] == 32
    assert [w for w in man["windows"] if w.endswith("_b_weight0")]
    assert rep["cycles"] > 512 * 256 * 2 // 8  # the weight's beats on one port
