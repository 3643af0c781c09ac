"""Block RAM of a planned design before synthesis (`intar.hw.resources`)."""

from __future__ import annotations

import math
from pathlib import Path

from intar.hw.resources import bram36, bram36_estimate
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


def test_estimate_lists_every_tensor_buffer_bank(tmp_path: Path) -> None:
    """The paper-scale self-attention design holds its three 1024 x 1024 weights whole, 336
    banks of 3234 words each: 2 RAMB36 a bank, 672 a weight."""
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
        total, mems = bram36_estimate(plan)
        del module
    weights = [m for m in mems if m.name.startswith("buf_cc0_b_w_")]
    assert len(weights) == 3 and all(m.bram36 == 672 for m in weights)
    assert all((m.count, m.depth, m.width) == (336, 3234, 16) for m in weights)
    assert man["memory"]["bram36_estimate"] == math.ceil(total) > 2016
    assert man["memory"]["largest"][0][1] == 672
