"""Banked on-chip scratchpad: ``banks`` independent ``seq.firmem`` memories (BRAM on UltraScale+).

Interface of ``build_scratchpad(name, depth, width_bits, banks, read_latency)`` (flat buses,
bank 0 in the LSBs, as in the core; ``A = addr_bits(depth)``, ``W = width_bits``, ``B = banks``):

=====  ===  ===============  ===============================================================
port   dir  width            meaning
=====  ===  ===============  ===============================================================
clk    in   !seq.clock (1)   clock (all banks)
raddr  in   B*A              read word address, bank b at bits (b*A)
ren    in   B                read enable, bank b at bit b
waddr  in   B*A              write word address, bank b at bits (b*A)
wen    in   B                write enable, bank b at bit b
wdata  in   B*W              write data, bank b at bits (b*W)
rdata  out  B*W              read data, bank b at bits (b*W)
=====  ===  ===============  ===============================================================

Timing: a read with ``ren[b]`` high at cycle c returns its word on ``rdata[b]`` in cycle
c + L (L = read_latency, 1 or 2), reflecting every write of cycles <= c + L - 1. ``rdata[b]``
is undefined in cycles not preceded (by L) by a read. No reset: contents start undefined.

Read-during-write (same bank, same address, same cycle): the read returns the **new** data
(write-first); for L = 2 a write in cycle c + 1 is visible too. This is CIRCT's
``hw-memory-sim`` model (address registered, array read combinationally after the write has
committed; the seq ``ruw`` attribute does not change it), and yosys keeps it on the BRAM as a
transparent read port. The SDP BRAM cannot do that itself, so yosys adds a bypass per bank
(``width_bits + 1`` FFs for the written word and a collision flag, a ``width_bits``-bit
output mux): 66 FDRE + 78 LUTs for 2 x 1024 x 32.
"""

from __future__ import annotations

import io

import circt
from circt.dialects import comb, hw, seq
from circt.ir import (
    Context,
    InsertionPoint,
    IntegerAttr,
    Location,
    Module,
    StringAttr,
    Value,
)
from circt.passmanager import PassManager

from intar.hw.builders import ity
from intar.hw.emit import LOWERING_OPTIONS

SCRATCHPAD_PIPELINE = (
    "builtin.module(lower-seq-firmem, lower-seq-to-sv,"
    " hw-memory-sim{disable-mem-randomization disable-reg-randomization},"
    " canonicalize, cse, hw.module(hw-aggregate-to-comb), canonicalize, cse)"
)


def addr_bits(depth: int) -> int:
    """Word-address width of one bank of ``depth`` words."""
    return max(1, (depth - 1).bit_length())


def _slice(v: Value, idx: int, w: int) -> Value:
    return comb.ExtractOp(ity(w), v, idx * w).result


def _validate(depth: int, width_bits: int, banks: int, read_latency: int) -> None:
    if depth < 2:
        raise ValueError("depth must be >= 2")
    if width_bits < 1:
        raise ValueError("width_bits must be >= 1")
    if banks < 1:
        raise ValueError("banks must be >= 1")
    if read_latency not in (1, 2):
        raise ValueError("read_latency must be 1 or 2")


def build_scratchpad(
    name: str, depth: int, width_bits: int, banks: int, read_latency: int = 1
) -> hw.HWModuleOp:
    """Create the scratchpad's ``hw.module`` at the current insertion point (inside a Context).

    Each bank is one ``seq.firmem`` (read latency ``read_latency``, write latency 1) with one
    read port and one write port; ``hw-memory-sim`` later turns the firmems into
    ``<name>_bank_<depth>x<width_bits>`` behavioural memory modules (shared by all banks).
    """
    _validate(depth, width_bits, banks, read_latency)
    a, w, i1 = addr_bits(depth), width_bits, ity(1)
    inputs = [
        ("clk", seq.ClockType.get()),
        ("raddr", ity(banks * a)),
        ("ren", ity(banks)),
        ("waddr", ity(banks * a)),
        ("wen", ity(banks)),
        ("wdata", ity(banks * w)),
    ]
    outputs = [("rdata", ity(banks * w))]
    mem_ty = seq.FirMemType.get(depth, w)
    undef = IntegerAttr.get(ity(32), 0)  # seq RUW/WUW enums: 0 = Undefined

    def body(mod: hw.HWModuleOp) -> dict[str, Value]:
        p = dict(zip([n for n, _ in inputs], mod.entry_block.arguments, strict=True))
        clk = p["clk"]
        reads: list[Value] = []
        for b in range(banks):
            # hw-memory-sim ignores ruw (undefined/old/new emit identical SV): reads are
            # write-first either way (see module docstring).
            mem = seq.FirMemOp(
                mem_ty, read_latency, 1, undef, undef, name=f"bank{b}", prefix=f"{name}_"
            ).result
            wen = comb.ExtractOp(i1, p["wen"], b).result
            ren = comb.ExtractOp(i1, p["ren"], b).result
            seq.FirMemWriteOp(
                mem, _slice(p["waddr"], b, a), clk, _slice(p["wdata"], b, w), enable=wen
            )
            reads.append(seq.FirMemReadOp(mem, _slice(p["raddr"], b, a), clk, enable=ren).result)
        rdata = comb.ConcatOp(list(reversed(reads))).result if banks > 1 else reads[0]
        return {"rdata": rdata}

    return hw.HWModuleOp(name, inputs, outputs, body_builder=body)


def scratchpad_sv(name: str, depth: int, width_bits: int, banks: int, read_latency: int = 1) -> str:
    """SystemVerilog text of one scratchpad (top module ``name`` plus its memory modules)."""
    with Context() as ctx, Location.unknown():
        circt.register_dialects(ctx)
        ctx.load_all_available_dialects()
        module = Module.create()
        with InsertionPoint(module.body):
            build_scratchpad(name, depth, width_bits, banks, read_latency)
        if not module.operation.verify():
            raise RuntimeError("generated IR does not verify")
        module.operation.attributes["circt.loweringOptions"] = StringAttr.get(LOWERING_OPTIONS)
        PassManager.parse(SCRATCHPAD_PIPELINE).run(module.operation)
        buf = io.StringIO()
        circt.export_verilog(module, buf)
        text = buf.getvalue()
        del module
    return text
