"""The read-first memory bank: its SV, and yosys maps it to block RAM, UltraRAM or LUTRAM
with no logic beside it (the tensor buffers' simulations check its read-first timing)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from circt.dialects import hw, seq
from circt.ir import Value

from intar.hw.bank import bank, bank_module, bank_modules_in
from intar.hw.builders import ity
from intar.hw.tensor_buffer import emit_sv_with_memories
from intar.synth.report import MAP_MEMORY, yosys_script
from intar.synth.yosys import synth_cells, yosys_executable


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
    assert bank_modules_in(sv) == ["buf_bank_3587x16"]
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
    cells = synth_cells(sv, "top", tmp_path / "whole")
    for bookkeeping in ("BUFG", "$scopeinfo"):
        cells.pop(bookkeeping, None)
    assert cells == want
    # `intar synth` maps each bank module before flattening: the same cells
    assert _premapped_cells(sv, tmp_path / "premapped") == want


def _premapped_cells(sv: str, work: Path) -> dict[str, int]:
    work.mkdir()
    (work / "design.sv").write_text(sv)
    script = yosys_script(Path("design.sv"), "top", banks=bank_modules_in(sv))
    assert f"{MAP_MEMORY[0]} {bank_modules_in(sv)[0]}\n" in script
    (work / "synth.ys").write_text(script)
    proc = subprocess.run(
        [yosys_executable(), "-q", "-s", "synth.ys"], cwd=work, capture_output=True, text=True
    )
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-2000:]
    netlist = json.loads((work / "netlist.json").read_text())
    cells: dict[str, int] = {}
    for cell in netlist["modules"]["top"]["cells"].values():
        if cell["type"] not in ("BUFG", "$scopeinfo"):
            cells[cell["type"]] = cells.get(cell["type"], 0) + 1
    return cells


def test_premapping_runs_what_synth_xilinx_runs(tmp_path: Path) -> None:
    """MAP_MEMORY is synth_xilinx's own map_memory step for the family, as yosys echoes it; a
    new yosys that maps memories differently fails here."""
    sv = _one_bank(3587, 16, "buf_")
    (tmp_path / "design.sv").write_text(sv)
    proc = subprocess.run(
        [
            yosys_executable(),
            "-p",
            "echo on; read_verilog -sv design.sv; synth_xilinx -family xcup -noiopad -top top "
            "-run begin:map_ffram",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout[-2000:]
    echoed = re.findall(r"^yosys> (.*)$", proc.stdout, re.M)
    start = next(i for i, c in enumerate(echoed) if c.startswith("memory_libmap"))
    assert tuple(echoed[start : start + len(MAP_MEMORY)]) == MAP_MEMORY
