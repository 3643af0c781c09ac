"""The read-first memory bank: its SV, and yosys maps it to block RAM, UltraRAM or LUTRAM
with no logic beside it (the tensor buffers' simulations check its read-first timing)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from circt.dialects import hw, seq
from circt.ir import Value

from intar.hw.bank import bank, bank_module
from intar.hw.builders import ity
from intar.hw.tensor_buffer import emit_sv_with_memories
from intar.synth.yosys import synth_cells


def _one_bank(depth: int, bits: int, prefix: str) -> str:
    a = max(1, (depth - 1).bit_length())

    def build() -> None:
        ins = [
            ("clk", seq.ClockType.get()),
            ("ra", ity(a)),
            ("re", ity(1)),
            ("wa", ity(a)),
            ("we", ity(1)),
            ("wd", ity(bits)),
        ]

        def body(mod: hw.HWModuleOp) -> dict[str, Value]:
            args = mod.entry_block.arguments
            module = bank_module(depth, bits, prefix)
            return {"q": bank(module, *args, bits=bits, tag="bank_0_0")}

        hw.HWModuleOp("top", ins, [("q", ity(bits))], body_builder=body)

    return emit_sv_with_memories(build)


def test_sv_reads_the_old_word_and_declares_the_module_once() -> None:
    sv = _one_bank(3587, 16, "buf_")
    assert sv.count("module buf_bank_3587x16(") == 1
    assert re.search(r"reg \[15:0\] Memory\[0:3586\];", sv)
    # nonblocking write and read in one always_ff: the read sees the array before the edge
    body = sv[sv.index("always_ff") : sv.index("end // always_ff")]
    assert re.search(r"if \(W0_en\)\s+Memory\[W0_addr\] <= W0_data;", body)
    assert re.search(r"if \(R0_en\)\s+R0_data_q <= Memory\[R0_addr\];", body)


@pytest.mark.parametrize(
    ("depth", "bits", "style", "want"),
    [
        (3587, 16, "", {"RAMB36E2": 2}),
        (4096, 72, "ultra", {"URAM288": 1}),
        (56, 16, "", {"RAM64M8": 3, "FDRE": 16}),  # LUTRAM reads through the output register
    ],
)
def test_yosys_adds_no_logic_to_a_bank(
    tmp_path: Path, depth: int, bits: int, style: str, want: dict[str, int]
) -> None:
    """A write-first model would add an address compare and a bypass (17 FDRE and 27 LUTs
    for 3,587 x 16); the read-first bank is the memory primitives alone."""
    sv = _one_bank(depth, bits, "buf_uram_" if style else "buf_")
    if style:
        # as the intar-ultra-ram pass marks it (test/Transforms/ultra-ram.mlir)
        sv = sv.replace("reg [71:0] Memory", '(* ram_style = "ultra" *) reg [71:0] Memory')
    cells = synth_cells(sv, "top", tmp_path)
    for bookkeeping in ("BUFG", "$scopeinfo"):
        cells.pop(bookkeeping, None)
    assert cells == want
