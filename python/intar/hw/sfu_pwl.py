"""Streaming piecewise-linear GELU / SiLU units, built in hw/comb/seq.

Each unit is a fixed, fully registered II = 1 pipeline written directly with the hw/comb/seq
builders. CIRCT's handshake (dataflow) flow is not used: it would not reach II = 1 without
buffers on every channel, whereas a fixed pipeline with one global enable does so by
construction.

Interface of ``build_pwl_sfu(kind, lanes, in_bits, out_bits, frac_bits, name)`` (flat data
buses, element 0 in the LSBs, the same convention as ``intar.hw.sfu``):

=========  ===  =====================  ========================================================
port       dir  width                  meaning
=========  ===  =====================  ========================================================
clk        in   !seq.clock (1)         clock
rst        in   1                      synchronous reset (valid bits only)
in_valid   in   1                      a beat is on ``a``
in_ready   out  1                      the unit accepts a beat this cycle
a          in   lanes*in_bits          operand x, Q.frac_bits (lane i at bits i*in_bits)
out_ready  in   1                      the sink takes ``out`` this cycle
out_valid  out  1                      ``out`` holds a result beat
out        out  lanes*out_bits         result, Q.frac_bits (lane i at bits i*out_bits)
=========  ===  =====================  ========================================================

Semantics per lane, bit-exact with ``intar.golden.kernels.gelu`` / ``silu``
(``approx._odd_correction_act``): y = saturate(max(x, 0) - from_work(corr), out_bits) with
corr = pwl_lookup(to_work(|x|)) from GELU_TABLE (range 4) or SILU_TABLE (range 16). The golden
model's clamp of |x| to the table range does not change any result (every |x| at or beyond the
range maps to w >= range * 2**16, i.e. outside, i.e. corr = 0), so the hardware omits it.

Rounding is folded so that every stage has at most one carry chain. With s2 = 16 - frac_bits
(frac_bits <= 16), ``lo + round_shift(d * u, 12)`` followed by ``round_shift(., s2)`` equals
``(L + d * u) >> (12 + s2)`` with ``L = ((T[k] + 2**(s2-1)) << 12) | 2**11``: the ROM holds
``T[k] + 2**(s2-1)`` so L is a concatenation, and the interpolation is ONE adder after the
multiplier (for frac_bits > 16 the ROM holds T[k] and the result is shifted left).

Stages (each ends in a register, all clock-enabled by the global enable):

1. ``x_r``:    operand register.
2. ``a_r``:    |x| (one negation + mux) and ``pos_r`` = max(x, 0).
3. ``w_r``:    frac_bits > 16 only: to_work's rounded right shift (one adder).
4. ROM:        segment k = w >> 12, u = w & 0xFFF, inside = w < range * 2**16; two small
   constant ROMs (mux trees, 65/257 entries) give T[k] (+ rounding) and d = T[k+1] - T[k],
   both forced to 0 outside the range; registered with u.
5. ``prod_r``: d * u, a signed 12 x unsigned 12-bit product (the DSP M register).
6. ``corr_r``: (L + prod) >> (12 + s2) (or shifted left): one adder.
7. ``diff_r``: max(x, 0) - corr: one subtractor.
8. ``out_r``:  saturate to out_bits.

Latency is ``pwl_latency(kind, frac_bits)`` = 7 + (frac_bits > 16) cycles; throughput one beat
per cycle; one multiplier per lane. Backpressure is a global stall as in ``intar.hw.sfu``:
``in_ready = en = !out_valid | out_ready`` and every register is clock-enabled by ``en``.
"""

from __future__ import annotations

from collections.abc import Sequence

from circt.dialects import comb, hw
from circt.ir import Value

from intar.golden import approx
from intar.hw.builders import (
    and_,
    cmp,
    const,
    dsp_product,
    dsp_products,
    extract,
    mux,
    sext,
    width,
    zext,
)
from intar.hw.sfu import _concat_lanes, _saturate, global_stall, stream_ports

KINDS = ("gelu", "silu")
#: Fractional bits of the interpolation parameter u (a segment is 2**SEG_BITS Q.16 units).
SEG_BITS = approx.WORK_FRAC - approx.PWL_STEP_BITS


def _table(kind: str) -> tuple[Sequence[int], int]:
    if kind == "gelu":
        return approx.GELU_TABLE, approx.GELU_RANGE
    return approx.SILU_TABLE, approx.SILU_RANGE


def _validate(kind: str, lanes: int, in_bits: int, out_bits: int, frac_bits: int) -> None:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if lanes < 1:
        raise ValueError("lanes must be >= 1")
    for label, w in (("in_bits", in_bits), ("out_bits", out_bits)):
        if not 2 <= w <= 32:
            raise ValueError(f"{label} must be in [2, 32], got {w}")
    if not 0 <= frac_bits <= approx.MAX_FRAC_BITS:
        raise ValueError(f"frac_bits must be in [0, {approx.MAX_FRAC_BITS}], got {frac_bits}")


def pwl_latency(kind: str, frac_bits: int) -> int:
    """Cycles from accepting a beat to its result on ``out_valid`` (unstalled)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    return 7 + (1 if frac_bits > approx.WORK_FRAC else 0)


def pwl_dsps(kind: str, lanes: int) -> int:
    """DSP48E2s of the unit: one d * u product per lane (signed d, unsigned SEG_BITS-bit u)."""
    table, value_range = _table(kind)
    n_seg = value_range << approx.PWL_STEP_BITS
    dw = _signed_bits([table[k + 1] - table[k] for k in range(n_seg)])
    return lanes * dsp_products(dw, SEG_BITS + 1)


def _signed_bits(values: Sequence[int]) -> int:
    """Smallest two's-complement width holding every value."""
    return max(max(v.bit_length() if v >= 0 else (-v - 1).bit_length() for v in values) + 1, 2)


def _rom(idx: Value, values: Sequence[int], w: int) -> Value:
    """Constant lookup ``values[idx]`` (missing entries 0) as a balanced mux tree."""

    def sub(bit: int, base: int) -> Value:
        if bit < 0:
            return const(w, values[base] if base < len(values) else 0)
        lo, hi = sub(bit - 1, base), sub(bit - 1, base + (1 << bit))
        return mux(extract(idx, bit, 1), hi, lo)

    return sub(width(idx) - 1, 0)


def _fit(v: Value, w: int) -> Value:
    """Low ``w`` bits of an unsigned value, zero-extended if it is narrower."""
    return zext(v, w) if width(v) < w else extract(v, 0, w)


def build_pwl_sfu(
    kind: str, lanes: int, in_bits: int, out_bits: int, frac_bits: int, name: str
) -> hw.HWModuleOp:
    """Create the GELU/SiLU unit's ``hw.module`` at the current insertion point."""
    _validate(kind, lanes, in_bits, out_bits, frac_bits)
    table, value_range = _table(kind)
    work = approx.WORK_FRAC
    kb = (value_range << approx.PWL_STEP_BITS).bit_length() - 1  # segment index bits
    n_seg = value_range << approx.PWL_STEP_BITS
    s2 = work - frac_bits  # from_work right shift (<= 0: exact left shift by -s2)
    rnd = (1 << (s2 - 1)) if s2 > 0 else 0
    lo_vals = [t + rnd for t in table[:n_seg]]
    d_vals = [table[k + 1] - table[k] for k in range(n_seg)]
    lw = max(max(lo_vals).bit_length(), 1)
    dw = _signed_bits(d_vals)
    pw = dw + SEG_BITS + 1  # signed d x unsigned u
    xw = max(lw + SEG_BITS + 1, pw) + 1
    drop = SEG_BITS + max(s2, 0)

    inputs, outputs = stream_ports(lanes, in_bits, out_bits)
    n_stages = pwl_latency(kind, frac_bits)

    def body(mod: hw.HWModuleOp) -> dict[str, Value]:
        p = dict(zip([n for n, _ in inputs], mod.entry_block.arguments, strict=True))
        regs, en, out_valid_fb = global_stall(p)

        v = and_(p["in_valid"], en)
        for s in range(n_stages):
            v = regs.ctrl(v, f"v_s{s + 1}")
        out_valid_fb.set(v)

        outs = []
        for i in range(lanes):
            # 1: operand register.
            x = regs.data(extract(p["a"], i * in_bits, in_bits), f"x_r{i}")
            # 2: |x| (in_bits unsigned: |min| = 2^(in_bits-1) fits) and max(x, 0).
            neg = extract(x, in_bits - 1, 1)
            minus = comb.SubOp(const(in_bits, 0), x).result
            a = regs.data(mux(neg, minus, x), f"a_r{i}")
            pos = regs.data(mux(neg, const(in_bits, 0), x), f"pos_r{i}")
            # 3 / to_work: w = |x| in Q.16 (only the low 16 + kb bits and `inside` matter).
            if s2 >= 0:
                w = comb.ConcatOp([a, const(s2, 0)]).result if s2 else a
                limit = value_range << frac_bits  # inside <=> |x| < range * 2^frac_bits
                cw = max(in_bits, limit.bit_length()) + 1
                inside = cmp("ult", zext(a, cw), const(cw, limit))
            else:
                s = -s2
                aw = max(in_bits, s) + 2
                y = comb.AddOp([zext(a, aw), const(aw, 1 << (s - 1))]).result
                w = regs.data(extract(y, s, aw - s), f"w_r{i}")
                limit = value_range << work
                cw = max(width(w), limit.bit_length()) + 1
                inside = cmp("ult", zext(w, cw), const(cw, limit))
            pos = regs.data(pos, f"pos_w{i}") if s2 < 0 else pos
            # 4: segment ROMs, forced to 0 outside the table range.
            k = extract(_fit(w, SEG_BITS + kb), SEG_BITS, kb)
            u = regs.data(extract(_fit(w, SEG_BITS + kb), 0, SEG_BITS), f"u_r{i}")
            lo = regs.data(mux(inside, _rom(k, lo_vals, lw), const(lw, 0)), f"lo_r{i}")
            d = regs.data(mux(inside, _rom(k, d_vals, dw), const(dw, 0)), f"d_r{i}")
            pos = regs.data(pos, f"pos_k{i}")
            # 5: the interpolation product (DSP M register).
            prod = dsp_product(regs, d, zext(u, SEG_BITS + 1), f"prod_r{i}")
            lo = regs.data(lo, f"lo_m{i}")
            pos = regs.data(pos, f"pos_m{i}")
            # 6: corr = (T[k]+rnd, 0x800) + prod, shifted: one adder.
            ell = comb.ConcatOp([lo, const(SEG_BITS, 1 << (SEG_BITS - 1))]).result
            xsum = comb.AddOp([zext(ell, xw), sext(prod, xw)]).result
            corr = extract(xsum, drop, xw - drop)
            if s2 < 0:
                corr = comb.ConcatOp([corr, const(-s2, 0)]).result
            corr = regs.data(corr, f"corr_r{i}")
            pos = regs.data(pos, f"pos_c{i}")
            # 7: max(x, 0) - corr (corr >= 0, its top bit is 0).
            sw = max(in_bits, width(corr)) + 1
            diff = comb.SubOp(sext(pos, sw), sext(corr, sw)).result
            diff = regs.data(diff, f"diff_r{i}")
            # 8: saturate.
            outs.append(regs.data(_saturate(diff, out_bits), f"out_r{i}"))
        return {"in_ready": en, "out_valid": v, "out": _concat_lanes(outs)}

    return hw.HWModuleOp(name, inputs, outputs, body_builder=body)
