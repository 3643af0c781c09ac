"""Streaming special-function units (SFUs) for the element-wise kinds, built in hw/comb/seq.

Each SFU is a fixed, fully registered II = 1 pipeline written directly with the hw/comb/seq
builders. CIRCT's handshake (dataflow) flow would not reach II = 1 on these without inserting
buffers on every channel; a fixed pipeline with one global enable does so by construction.

Interface of ``build_sfu(kind, lanes, in_bits, out_bits, shift, name, rhs_bits)`` (flat data
buses, element 0 in the LSBs, the same convention as the compute core):

=========  ===  =====================  ========================================================
port       dir  width                  meaning
=========  ===  =====================  ========================================================
clk        in   !seq.clock (1)         clock
rst        in   1                      synchronous reset (valid bits only)
in_valid   in   1                      a beat is on ``a`` (and ``b``)
in_ready   out  1                      the SFU accepts a beat this cycle
a          in   lanes*in_bits          operand (lane i at bits i*in_bits)
b          in   lanes*rhs_bits         add/mul only: second operand, same beat as ``a``
out_ready  in   1                      the sink takes ``out`` this cycle
out_valid  out  1                      ``out`` holds a result beat
out        out  lanes*out_bits         result (lane i at bits i*out_bits)
=========  ===  =====================  ========================================================

add/mul take ONE stream that carries both operands (``a`` and ``b`` share in_valid/in_ready):
the producer (or a join in front of the SFU) pairs them, so the pipeline needs no per-operand
buffering. ``shift`` is an elaboration-time constant.

Semantics per lane, bit-exact with ``intar.golden.kernels``:

* relu:       saturate(max(a, 0), out_bits)                      (shift must be 0)
* requantize: saturate(round_shift(a, shift), out_bits)
* add / mul:  saturate(round_shift(a + b or a * b, shift), out_bits), sum/product exact

Stages (each ends in a register): operand register; for add/mul the exact sum/product (the
product register is the DSP M register); for shift > 0 the round-half-up shift (one adder with
a constant, then a constant bit slice); finally saturate into the output register. Latency is
``sfu_latency(kind, shift)`` cycles: relu 2, requantize 2 + (shift > 0), add/mul 3 + (shift >
0). Throughput is one beat per cycle.

Backpressure is a global stall, as in the core: ``in_ready = en = !out_valid | out_ready`` and
every register is clock-enabled by ``en`` (no skid buffer, so ``in_ready`` depends
combinationally on ``out_ready`` through one gate).
"""

from __future__ import annotations

from circt.dialects import comb, hw, seq
from circt.ir import Type, Value

from intar.hw.builders import (
    Feedback,
    Regs,
    and_,
    cmp,
    const,
    extract,
    ity,
    mux,
    not_,
    or_,
    partial_products,
    sext,
    width,
)

KINDS = ("relu", "requantize", "add", "mul")
MAX_SHIFT = 62  # the golden model's round_shift limit


def sfu_latency(kind: str, shift: int) -> int:
    """Cycles from accepting a beat to its result on ``out_valid`` (unstalled)."""
    if kind == "relu":
        return 2
    base = 2 if kind == "requantize" else 3
    return base + (1 if shift > 0 else 0)


def _validate(kind: str, lanes: int, in_bits: int, out_bits: int, shift: int, rhs: int) -> None:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if lanes < 1:
        raise ValueError("lanes must be >= 1")
    for label, w in (("in_bits", in_bits), ("out_bits", out_bits), ("rhs_bits", rhs)):
        if not 2 <= w <= 32:
            raise ValueError(f"{label} must be in [2, 32], got {w}")
    if not 0 <= shift <= MAX_SHIFT:
        raise ValueError(f"shift must be in [0, {MAX_SHIFT}], got {shift}")
    if kind == "relu" and shift != 0:
        raise ValueError("relu takes no shift")


def _round_shift(x: Value, s: int) -> Value:
    """Signed (x + 2^(s-1)) >> s for a constant s > 0, exact (wide enough not to wrap)."""
    w = max(width(x), s) + 2
    y = comb.AddOp([sext(x, w), const(w, 1 << (s - 1))]).result
    return extract(y, s, w - s)


def _saturate(x: Value, out_bits: int) -> Value:
    """clip(x, -2^(ob-1), 2^(ob-1)-1) as an ``out_bits``-wide value."""
    w = width(x)
    if w <= out_bits:
        return sext(x, out_bits)
    hi, lo = (1 << (out_bits - 1)) - 1, -(1 << (out_bits - 1))
    hi_c, lo_c = const(w, hi), const(w, lo)
    low = extract(x, 0, out_bits)
    return mux(
        cmp("sgt", x, hi_c),
        const(out_bits, hi),
        mux(cmp("slt", x, lo_c), const(out_bits, lo), low),
    )


def _relu(x: Value, out_bits: int) -> Value:
    """saturate(max(x, 0), out_bits)."""
    w = width(x)
    neg = extract(x, w - 1, 1)
    zero = const(out_bits, 0)
    if w <= out_bits:
        return mux(neg, zero, sext(x, out_bits))
    hi = (1 << (out_bits - 1)) - 1
    big = cmp("sgt", x, const(w, hi))
    return mux(neg, zero, mux(big, const(out_bits, hi), extract(x, 0, out_bits)))


def _concat_lanes(vals: list[Value]) -> Value:
    return comb.ConcatOp(list(reversed(vals))).result if len(vals) > 1 else vals[0]


def stream_ports(
    lanes: int, in_bits: int, out_bits: int, rhs_bits: int | None = None
) -> tuple[list[tuple[str, Type]], list[tuple[str, Type]]]:
    """(inputs, outputs) of a streaming SFU, as in the table above (``b`` if rhs_bits)."""
    i1 = ity(1)
    inputs = [
        ("clk", seq.ClockType.get()),
        ("rst", i1),
        ("in_valid", i1),
        ("a", ity(lanes * in_bits)),
    ]
    if rhs_bits is not None:
        inputs.append(("b", ity(lanes * rhs_bits)))
    inputs.append(("out_ready", i1))
    outputs = [("in_ready", i1), ("out_valid", i1), ("out", ity(lanes * out_bits))]
    return inputs, outputs


def global_stall(p: dict[str, Value]) -> tuple[Regs, Value, Feedback]:
    """The SFU's global stall: ``en = !out_valid | out_ready`` enables every register.

    Returns (register factory, en, feedback to set to out_valid once it exists).
    """
    out_valid_fb = Feedback(ity(1))
    en = or_(not_(out_valid_fb.value), p["out_ready"])
    return Regs(p["clk"], en, p["rst"]), en, out_valid_fb


def build_sfu(
    kind: str,
    lanes: int,
    in_bits: int,
    out_bits: int,
    shift: int,
    name: str,
    rhs_bits: int | None = None,
) -> hw.HWModuleOp:
    """Create the SFU's ``hw.module`` at the current insertion point (inside a Context)."""
    rb = in_bits if rhs_bits is None else rhs_bits
    _validate(kind, lanes, in_bits, out_bits, shift, rb)
    binary = kind in ("add", "mul")
    inputs, outputs = stream_ports(lanes, in_bits, out_bits, rb if binary else None)
    n_stages = sfu_latency(kind, shift)

    def body(mod: hw.HWModuleOp) -> dict[str, Value]:
        p = dict(zip([n for n, _ in inputs], mod.entry_block.arguments, strict=True))
        regs, en, out_valid_fb = global_stall(p)

        v = and_(p["in_valid"], en)
        for s in range(n_stages):
            v = regs.ctrl(v, f"v_s{s + 1}")
        out_valid_fb.set(v)

        outs = []
        for i in range(lanes):
            x = regs.data(extract(p["a"], i * in_bits, in_bits), f"a_r{i}")
            if kind == "relu":
                outs.append(regs.data(_relu(x, out_bits), f"out_r{i}"))
                continue
            if binary:
                y = regs.data(extract(p["b"], i * rb, rb), f"b_r{i}")
                if kind == "add":
                    w = max(in_bits, rb) + 1
                    x = regs.data(comb.AddOp([sext(x, w), sext(y, w)]).result, f"sum_r{i}")
                else:
                    # registered partial products (one DSP48E2 each), summed in the next stage
                    pps = partial_products(regs, x, y, f"prod_r{i}")
                    x = pps[0]
                    for pp in pps[1:]:
                        x = comb.AddOp([x, pp]).result
            if shift > 0:
                x = regs.data(_round_shift(x, shift), f"rnd_r{i}")
            outs.append(regs.data(_saturate(x, out_bits), f"out_r{i}"))
        return {"in_ready": en, "out_valid": v, "out": _concat_lanes(outs)}

    return hw.HWModuleOp(name, inputs, outputs, body_builder=body)
