"""The 2x nearest upsample and 2x2 max-pool SFUs, bit-exact with ``intar.golden.kernels``.

Both use the streaming shell of :mod:`intar.hw.sfu` (``stream_ports``, ``global_stall``: every
register is clock-enabled by ``en = !out_valid | out_ready``; data buses flat, lane i at bits
``i * bits``). The row re-indexing (a result row reads input row r // 2, or rows 2r and
2r + 1) is done by the reader's tile addresses (`intar.hw.plan`); the modules only see beats.

* ``build_upsample_sfu(lanes, in_bits, out_bits, name)``: ``a`` carries ``lanes`` elements,
  ``out`` ``2 * lanes``: out lane y = a lane y // 2, saturated to ``out_bits``. One beat in,
  one beat out; latency 2 (operand register, output register).
* ``build_maxpool_sfu(lanes, in_bits, out_bits, name)``: beats come in pairs (the same columns
  of input rows 2r and 2r + 1); ``out`` carries ``lanes / 2`` elements per pair: out lane p =
  max of lanes 2p, 2p + 1 of both beats. A toggle register tells the first beat of a pair from
  the second. Latency 3 from the second beat (operand register; pairwise max; max with the
  held first-row maxima into the output register).
"""

from __future__ import annotations

from circt.dialects import hw
from circt.ir import Value

from intar.hw.builders import Feedback, Regs, and_, cmp, extract, ity, mux, not_
from intar.hw.sfu import _concat_lanes, _saturate, global_stall, stream_ports


def _max(a: Value, b: Value) -> Value:
    return mux(cmp("sgt", a, b), a, b)


def _check(lanes: int, in_bits: int, out_bits: int) -> None:
    if lanes < 1:
        raise ValueError("lanes must be >= 1")
    for label, w in (("in_bits", in_bits), ("out_bits", out_bits)):
        if not 2 <= w <= 32:
            raise ValueError(f"{label} must be in [2, 32], got {w}")


def build_upsample_sfu(lanes: int, in_bits: int, out_bits: int, name: str) -> hw.HWModuleOp:
    """Create the upsample SFU's ``hw.module`` (``lanes`` in, ``2 * lanes`` out)."""
    _check(lanes, in_bits, out_bits)
    inputs, outputs = stream_ports(lanes, in_bits, out_bits)
    outputs = [(n, ity(2 * lanes * out_bits) if n == "out" else t) for n, t in outputs]

    def body(mod: hw.HWModuleOp) -> dict[str, Value]:
        p = dict(zip([n for n, _ in inputs], mod.entry_block.arguments, strict=True))
        regs, en, out_valid_fb = global_stall(p)
        v = regs.ctrl(regs.ctrl(and_(p["in_valid"], en), "v_s1"), "v_s2")
        out_valid_fb.set(v)
        xs = [regs.data(extract(p["a"], i * in_bits, in_bits), f"a_r{i}") for i in range(lanes)]
        sat = [_saturate(x, out_bits) for x in xs]
        outs = [regs.data(sat[y // 2], f"out_r{y}") for y in range(2 * lanes)]
        return {"in_ready": en, "out_valid": v, "out": _concat_lanes(outs)}

    return hw.HWModuleOp(name, inputs, outputs, body_builder=body)


def build_maxpool_sfu(lanes: int, in_bits: int, out_bits: int, name: str) -> hw.HWModuleOp:
    """Create the max-pool SFU's ``hw.module`` (``lanes`` in per beat, ``lanes / 2`` out per
    pair of beats; ``lanes`` even)."""
    _check(lanes, in_bits, out_bits)
    if lanes % 2:
        raise ValueError(f"lanes must be even, got {lanes}")
    half = lanes // 2
    inputs, outputs = stream_ports(half, in_bits, out_bits)
    inputs = [(n, ity(lanes * in_bits) if n == "a" else t) for n, t in inputs]

    def body(mod: hw.HWModuleOp) -> dict[str, Value]:
        p = dict(zip([n for n, _ in inputs], mod.entry_block.arguments, strict=True))
        regs, en, out_valid_fb = global_stall(p)
        take = and_(p["in_valid"], en)
        # second: the beat on `a` is the second of its pair (toggles per accepted beat)
        second_fb = Feedback(ity(1))
        second = Regs(p["clk"], take, p["rst"]).ctrl(not_(second_fb.value), "second")
        second_fb.set(second)
        v1 = regs.ctrl(take, "v_s1")
        s1 = regs.ctrl(second, "second_s1")
        v2 = regs.ctrl(v1, "v_s2")
        s2 = regs.ctrl(s1, "second_s2")
        v3 = regs.ctrl(and_(v2, s2), "v_s3")
        out_valid_fb.set(v3)
        hold = Regs(p["clk"], and_(en, v2, not_(s2)), p["rst"])
        outs = []
        for q in range(half):
            x0, x1 = (
                regs.data(extract(p["a"], (2 * q + e) * in_bits, in_bits), f"a_r{2 * q + e}")
                for e in (0, 1)
            )
            pm = regs.data(_max(x0, x1), f"pair_r{q}")
            first = hold.data(pm, f"first_r{q}")
            outs.append(regs.data(_saturate(_max(first, pm), out_bits), f"out_r{q}"))
        return {"in_ready": en, "out_valid": v3, "out": _concat_lanes(outs)}

    return hw.HWModuleOp(name, inputs, outputs, body_builder=body)
