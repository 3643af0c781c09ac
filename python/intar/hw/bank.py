"""Read-first memory bank: a simple-dual-port RAM whose read returns the word held before a
write to the same address in the same cycle.

``bank_module`` declares module ``<prefix>bank_<depth>x<bits>`` once per shape; ``bank``
instantiates it:

=======  ===  ============  ================================================================
port     dir  width         meaning
=======  ===  ============  ================================================================
R0_clk   in   !seq.clock    clock (both ports)
R0_addr  in   A             read word address (A = addr_bits(depth))
R0_en    in   1             read enable
W0_addr  in   A             write word address
W0_en    in   1             write enable
W0_data  in   bits          write data
R0_data  out  bits          the word read one cycle after ``R0_en``; held until the next read
=======  ===  ============  ================================================================

The body is one array register and one ``always_ff`` that writes it and loads the output
register from it with nonblocking assignments, so the read sees the array as it was before the
clock edge. That is what an UltraScale+ RAMB36 or URAM288 in simple-dual-port mode does across
its ports, so yosys maps the bank to block RAM with no extra logic. CIRCT's ``seq.firmem``
lowering (``hw-memory-sim``) models write-first instead, which the BRAM cannot do across ports:
yosys then adds a bypass per bank (``bits + 1`` FFs, an address compare and a ``bits``-wide
mux; 17 FDRE and 27 LUTs for 3,587 x 16), and the compare sits on the read-address path.
The array register of a module whose prefix holds ``_uram_`` is marked for UltraRAM by the
``intar-ultra-ram`` pass.
"""

from __future__ import annotations

import re

from circt.dialects import hw, seq, sv
from circt.ir import InsertionPoint, IntegerAttr, Type, Value

from intar.hw.builders import _declare_once, _instance, ity
from intar.hw.scratchpad import addr_bits


def _declare(name: str, depth: int, bits: int) -> None:
    a = addr_bits(depth)
    inputs = [
        ("R0_clk", seq.ClockType.get()),
        ("R0_addr", ity(a)),
        ("R0_en", ity(1)),
        ("W0_addr", ity(a)),
        ("W0_en", ity(1)),
        ("W0_data", ity(bits)),
    ]

    def body(mod: hw.HWModuleOp) -> dict[str, Value]:
        clk, raddr, ren, waddr, wen, wdata = mod.entry_block.arguments
        array = Type.parse(f"!hw.uarray<{depth}xi{bits}>")
        memory = sv.RegOp(hw.InOutType.get(array), "Memory")
        data = sv.RegOp(hw.InOutType.get(ity(bits)), "R0_data_q")
        posedge = IntegerAttr.get(ity(32), 0)  # sv EventControl: AtPosEdge
        ff = sv.AlwaysFFOp(posedge, seq.FromClockOp(clk).result)
        with InsertionPoint(ff.bodyBlk.blocks.append()):
            write = sv.IfOp(wen)
            with InsertionPoint(write.thenRegion.blocks.append()):
                sv.PAssignOp(sv.ArrayIndexInOutOp(memory.result, waddr).result, wdata)
            read = sv.IfOp(ren)
            with InsertionPoint(read.thenRegion.blocks.append()):
                word = sv.ReadInOutOp(sv.ArrayIndexInOutOp(memory.result, raddr).result).result
                sv.PAssignOp(data.result, word)
        return {"R0_data": sv.ReadInOutOp(data.result).result}

    hw.HWModuleOp(name, inputs, [("R0_data", ity(bits))], body_builder=body)


_BANK_MODULE_SV = re.compile(r"^module (\w*bank_\d+x\d+)\(", re.M)


def bank_modules_in(sv_text: str) -> list[str]:
    """The bank modules an emitted design declares, in order (for synthesis to map each once)."""
    return _BANK_MODULE_SV.findall(sv_text)


def bank_module(depth: int, bits: int, prefix: str) -> str:
    """The name of the read-first bank ``<prefix>bank_<depth>x<bits>``, declared if new."""
    name = f"{prefix}bank_{depth}x{bits}"
    _declare_once("hw.module", name, lambda: _declare(name, depth, bits))
    return name


def bank(
    module: str,
    clk: Value,
    raddr: Value,
    ren: Value,
    waddr: Value,
    wen: Value,
    wdata: Value,
    *,
    bits: int,
    tag: str,
) -> Value:
    """Instance ``tag`` of the bank `module` (from `bank_module`): its read data."""
    args = {
        "R0_clk": clk,
        "R0_addr": raddr,
        "R0_en": ren,
        "W0_addr": waddr,
        "W0_en": wen,
        "W0_data": wdata,
    }
    return _instance(module, tag, args, {"R0_data": bits})[0]
