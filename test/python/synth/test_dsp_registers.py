"""Multipliers come out of yosys `synth_xilinx -family xcup` as DSP48E2s with their pipeline
registers inside, not as combinational DSPs between fabric flip-flops: yosys's `xilinx_dsp` packs
registers into DSP48E1 only, so the generator instantiates the DSP48E2 itself for synthesis. The
compute core's have AREG/BREG, MREG and PREG (`intar.hw.builders.dsp_mul`); the special-function
units' have MREG (`intar.hw.builders.dsp_product`)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from intar.hw import CoreConfig, core_sv
from intar.synth.levels import logic_levels
from intar.synth.report import FAMILY
from intar.synth.yosys import yosys_executable

TOP = "intar_core"


def _param(cell: dict, name: str) -> int:
    v = cell["parameters"].get(name, "0")
    return v if isinstance(v, int) else int(v, 2)


def _synthesise(sv_text: str, top: str, work: Path) -> dict:
    """yosys `synth_xilinx` of `sv_text` (flattened at `top`): the JSON netlist."""
    (work / f"{top}.sv").write_text(sv_text)
    script = (
        f"read_verilog -sv {top}.sv; synth_xilinx -family {FAMILY} -top {top} -flatten "
        "-noiopad; delete t:$scopeinfo; write_json netlist.json"
    )
    proc = subprocess.run(
        [yosys_executable(), "-q", "-p", script], cwd=work, capture_output=True, text=True
    )
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-2000:]
    return json.loads((work / "netlist.json").read_text())


def test_core_dsps_keep_their_registers(tmp_path: Path) -> None:
    cfg = CoreConfig(2, 2, 2, in_bits=16, out_bits=16)
    netlist = _synthesise(core_sv(cfg, TOP), TOP, tmp_path)
    cells = netlist["modules"][TOP]["cells"]
    dsps = {n: c for n, c in cells.items() if c["type"].startswith("DSP")}
    assert {c["type"] for c in dsps.values()} == {"DSP48E2"}
    assert len(dsps) == cfg.d1 * cfg.d2 * cfg.d3
    regs = {n: {r: _param(c, r) for r in ("AREG", "BREG", "MREG", "PREG")} for n, c in dsps.items()}
    assert all(r == {"AREG": 1, "BREG": 1, "MREG": 1, "PREG": 1} for r in regs.values()), regs
    assert logic_levels(netlist, TOP).unregistered_dsp == 0
    # the operand, product and output registers are not left in the fabric as well: what
    # remains is the adder tree, accumulators, the requantize's two stages (4 x 33 bits of
    # rounded results), output and control (514 FFs here; the fabric-register pipeline had
    # 980 before the requantize took a second stage)
    ffs = sum(1 for c in cells.values() if c["type"].startswith("FD"))
    assert ffs < 600, ffs


SFU_KEYS = {
    "exp": ("exp", 1, (16,), 16, 8),
    "softmax": ("softmax", 1, (16,), 16, 64, 8, 14, False, 64),
    "gelu": ("gelu", 1, (16,), 16, 8),
    "mul": ("mul", 1, (24, 20), 24, 8),  # two partial products
    "layernorm": ("layernorm", 1, (16, 16, 16), 16, 16, 8),
}


@pytest.mark.parametrize("kind", list(SFU_KEYS))
def test_sfu_products_are_registered_inside_their_dsps(kind: str, tmp_path: Path) -> None:
    """Each variable product of a special-function unit is one DSP48E2 holding the product
    register (MREG), not an inferred DSP48E2 with no register between the operand and product
    flip-flops in the fabric (`intar.hw.builders.dsp_product`)."""
    from intar.hw import sfu_modules
    from intar.hw.tensor_buffer import emit_sv_with_memories

    key, name = SFU_KEYS[kind], f"sfu_{kind}_syn"
    sv_text = emit_sv_with_memories(lambda: sfu_modules.build(key, name))
    netlist = _synthesise(sv_text, name, tmp_path)
    dsps = [c for c in netlist["modules"][name]["cells"].values() if c["type"] == "DSP48E2"]
    assert len(dsps) == sfu_modules.dsps(key) > 0
    assert all(_param(c, "MREG") == 1 for c in dsps)
    assert logic_levels(netlist, name).unregistered_dsp == 0
