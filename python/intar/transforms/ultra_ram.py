"""intar-ultra-ram: mark the memory arrays of UltraRAM banks with ``ram_style = "ultra"``.

A tensor buffer held in UltraRAM (`intar.hw.plan.BufferPlan.ultra_ram`) instantiates its banks
(`intar.hw.bank`) from memory modules named ``<buffer module>_uram_bank_...``; this pass puts
the SystemVerilog attribute on the array register of every memory module whose name contains
``_uram_``, so synthesis (yosys ``synth_xilinx``, Vivado) maps it to URAM288 blocks.
Simulation ignores it.
"""

from __future__ import annotations

from typing import Any

from circt import ir

from intar.passes import PassInfo

MARKER = "_uram_"
ATTRIBUTE = '[#sv.attribute<"ram_style" = "\\"ultra\\"">]'


def _arrays(op: ir.Operation):
    """The `sv.reg` ops of unpacked-array type (memory arrays) under `op`."""
    for region in op.regions:
        for block in region.blocks:
            for child in block.operations:
                inner = child.operation
                if inner.name == "sv.reg" and "uarray" in str(inner.results[0].type):
                    yield inner
                yield from _arrays(inner)


def run(root: ir.Operation, options: dict[str, Any]) -> None:
    with root.context:
        attr = ir.Attribute.parse(ATTRIBUTE)
    for op in root.regions[0].blocks[0].operations:
        op = op.operation
        if op.name != "hw.module" or MARKER not in ir.StringAttr(op.attributes["sym_name"]).value:
            continue
        for reg in _arrays(op):
            reg.attributes["sv.attributes"] = attr


PASS = PassInfo(
    argument="intar-ultra-ram",
    summary="Mark the memory arrays of UltraRAM tensor-buffer banks for URAM288 mapping",
    run=run,
)
