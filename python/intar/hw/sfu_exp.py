"""Streaming exp and row-wise softmax SFUs, built directly in hw/comb/seq.

Both units are fixed, fully registered pipelines with one global enable, written with the
hw/comb/seq builders like ``intar.hw.sfu``. CIRCT's handshake (dataflow) flow is not used: it
would not reach II = 1 on these datapaths without a buffer on every channel, while a fixed
pipeline with a global stall does so by construction.

Ports (both builders; flat data buses, element 0 in the LSBs, as in the core):

=========  ===  =====================  ========================================================
port       dir  width                  meaning
=========  ===  =====================  ========================================================
clk        in   !seq.clock (1)         clock
rst        in   1                      synchronous reset (valid bits and control state only)
in_valid   in   1                      a beat is on ``a``
in_ready   out  1                      the unit accepts a beat this cycle
a          in   lanes*in_bits          operand (lane i at bits i*in_bits), signed Q.frac_bits
out_ready  in   1                      the sink takes ``out`` this cycle
out_valid  out  1                      ``out`` holds a result beat
out        out  lanes*out_bits         result (lane i at bits i*out_bits)
=========  ===  =====================  ========================================================

Backpressure is a global stall: ``in_ready = en = !out_valid | out_ready`` and every register
(pipeline, counters, row buffers) is clock-enabled by ``en``; all timing below is in enabled
cycles.

**exp** (``build_exp_sfu``): per lane bit-exact with ``kernels.exp(x, frac_bits, out_bits)``
(``approx.exp_fixed``). Stages, each ending in a register: operand; clamp to +-64; ``to_work``
(Q.16, a shift, or a rounding add when frac_bits > 16); t * LOG2E_Q23 as two registered sums
of shifted t (the constant's positive and negative canonical signed digits, no DSP); their
difference rounded to z, split into n and r; r * c4 (shifts and adds again) and the shift
decode from n; q3 = c3 + rnd(r*c4); r * q3; q2; r * q2; q1; r * q1 (16 x 20 bit multiplies,
one DSP48E2 each with its M register); p = 1 + rnd(r*q1); the barrel shift
(p << L << 1) >> j; the rounding increment; saturation. ``exp_latency()`` = 16 cycles,
II = 1. DSP48E2s per lane (``exp_dsps``): 3, the products with a variable operand.

The scaling p * 2**s (s = n + frac_bits - 16) is one right shift of w = p << L by
j = L - s (L = max(out_bits - 18, 0) is the largest left shift that does not saturate):
round_shift(w, j) = ((2w >> j) + 1) >> 1, exact also for j <= L where only zero bits are
shifted out. s > L saturates, j is clamped to L + 18 (the result is 0 from j = L + 18 on).

**softmax** (``build_softmax_sfu``): rows of ``row_len`` elements arrive row-major in
B = ceil(row_len / lanes) beats (element e in beat e // lanes, lane e % lanes; the unused lanes
of a partial last beat are ignored on input and 0 on output). Bit-exact with
``kernels.softmax(x, frac_bits, out_frac_bits, causal, out_bits)`` on [rows, row_len]; with
``causal`` the mask row is (row number mod rows_per_matrix). Three row passes, II = 1 beats:

1. *store + max*: each beat is written into a row buffer (see *Row buffers*) and, masked
   lanes replaced by the lowest value, goes through a registered max tree (one level per
   stage) into a running max.
2. *exp + sum*: a row token (max, row number) starts B reads of the row buffer, beat b of a
   row D1 + b cycles after its last beat (D1 = 3 + ceil(log2 lanes)); per beat d = x - m
   (register), then the exp pipeline above (clamp, to_work, ..., 12 stages) with out_frac 20
   (``exp_nonpos``), masked lanes forced to 0; e goes into a delay line and through a
   registered adder tree into the row sum S.
3. *divide + scale*: R = floor(2**52 / S) by a restoring divider pipelined one quotient bit per
   registered stage (33 stages, starting from the partial remainder 2**19 < S: each stage one
   (W_S + 2)-bit subtract and a mux, W_S = bit_length(row_len * 2**20); cost about
   33 * (2 W_S + 17) flip-flops, independent of the row rate, so it never limits throughput).
   e leaves the delay line (B + ceil(log2 lanes) + 34 beats of lanes * 21 bits) as R arrives;
   out = saturate(round_shift(e * R, 52 - F), out_bits) in six stages: e * R plus the
   rounding constant in the fabric (``fabric_product``: 21 AND rows and the constant summed
   by a binary tree, a register after each of its 5 levels; no DSP), then saturation.

*Row buffers.* Short rows (B <= ``REG_ROW_BEATS`` = 64) keep the row in a ring of K row slots
of registers (K*B beats, K = 1 + max(1, ceil((D1 - 1) / B)), so a slot is never overwritten
before pass 2 has read it, read through a mux tree into the ``p2_beat`` register) and the e
delay line in shift registers (SRL-friendly). Longer rows (``uses_ram``) keep both in
``seq.firmem`` rings (BRAM / LUTRAM; ``ram_depths``), with the same timing:

* the row ring (a power of two >= B + D1 words of lanes * in_bits) is written at the beat's
  wptr; its read port is given rptr's *next* value (``en & act ? rptr + 1 : rptr``), so in
  every cycle the read data is the word the register version's mux would select, and
  ``p2_beat`` registers it (the BRAM output register). Between a beat's write and its read
  at most B + D1 - 2 other beats are written, so no live word is overwritten, and a word
  is never needed in the cycle after its write (the read-during-write behaviour is moot);
* the e ring (a power of two >= the e delay n, words of lanes * 21 + 1 bits: e and its valid
  bit) is written every enabled cycle at ptr and read at ptr's next value - (n - 1), then
  registered: exactly n enabled cycles, through stalls. Its words are not reset, so the
  valid bit counts only from the n-th enabled cycle after reset (``edl_fill``, a saturating
  counter).

A design holding a long-row unit must be lowered with the memory passes (``lower-seq-firmem``,
``hw-memory-sim``: the top-level flow and ``intar.hw.tensor_buffer.emit_sv_with_memories``).
Rows longer than ``MAX_ROW_LEN`` = 65536 elements raise ValueError (``check_softmax``; the
plan reports it as a located LoweringError).

``softmax_latency(row_len, lanes)`` = 2B + 2 ceil(log2 lanes) + 58 cycles from the first input
beat of a row to its first output beat (unstalled, input at full rate), for both kinds of row
buffer. A stream of R rows fed without gaps and drained without stalls takes exactly
R * B + softmax_latency cycles from the first accepted beat to the last output beat
(inclusive). DSP48E2s per lane (``softmax_dsps``): 3, the exp pipeline's.
"""

from __future__ import annotations

from circt.dialects import comb, hw, seq
from circt.ir import IntegerAttr, Value

from intar.golden import approx
from intar.hw.builders import (
    Feedback,
    Regs,
    and_,
    cmp,
    const,
    csd,
    dsp_product,
    dsp_products,
    extract,
    fabric_product,
    fabric_product_stages,
    ity,
    mul_const,
    mux,
    not_,
    or_,
    sext,
    width,
    zext,
)
from intar.hw.sfu import global_stall, stream_ports

ELEMENT_BITS = (
    4,
    8,
    16,
    32,
)  # the golden kernels' out_bits

REG_ROW_BEATS = 64  # B <= REG_ROW_BEATS: register row slots; longer rows: seq.firmem rings
MAX_ROW_LEN = 1 << 16  # the longest row built (rings of up to 2**17 words at one lane)
T_BITS = 24  # t = to_work(clamped x), |t| <= 2**22
Z_BITS = 24  # z = t * log2(e) in Q.16, |z| < 2**22.6
FRONT_STAGES = 2  # clamp, to_work
CORE_STAGES = 12  # t -> e (before saturation)
DIV_STAGES = 33  # quotient bits: floor(2**52 / S) < 2**33 for S >= 2**20
E_BITS = 21  # softmax numerators, Q.20 in [0, 2**20]
R_BITS = 33
P3_STAGES = fabric_product_stages(E_BITS, R_BITS, addend=True) + 1  # e * R + rnd; saturation


HORNER_PRODUCTS = 3  # r * q3, r * q2, r * q1: unsigned WORK_FRAC x 20 bits


def exp_dsps(lanes: int) -> int:
    """DSP48E2s of the exp unit: the Horner products with a variable operand (t * log2(e) and
    r * c4 are constant products built from shifts and adds)."""
    return lanes * HORNER_PRODUCTS * dsp_products(approx.WORK_FRAC + 1, 20 + 1)


def softmax_dsps(lanes: int) -> int:
    """DSP48E2s of the softmax unit: its exp pipeline's (e * R is in the fabric)."""
    return exp_dsps(lanes)


def exp_latency() -> int:
    """Cycles from accepting a beat to its result on ``out_valid`` (unstalled)."""
    return 1 + FRONT_STAGES + CORE_STAGES + 1


def _levels(lanes: int) -> int:
    return (lanes - 1).bit_length()  # ceil(log2 lanes)


def _beats(row_len: int, lanes: int) -> int:
    return -(-row_len // lanes)


def _slots(row_len: int, lanes: int) -> int:
    """Row slots K: pass 2 reads beat b of a row D1 + b cycles after its last beat."""
    b = _beats(row_len, lanes)
    d1 = 3 + _levels(lanes)
    return 1 + max(1, -(-(d1 - 1) // b))


def uses_ram(row_len: int, lanes: int) -> bool:
    """Rows of more than ``REG_ROW_BEATS`` beats keep their row and e buffers in seq.firmem."""
    return _beats(row_len, lanes) > REG_ROW_BEATS


def _pow2_at_least(n: int) -> int:
    return max(2, 1 << (n - 1).bit_length())


def _e_delay(row_len: int, lanes: int) -> int:
    """Beats between a beat's e leaving the exp pipeline and its scaling by R."""
    return _beats(row_len, lanes) + _levels(lanes) + DIV_STAGES + 1


def ram_depths(row_len: int, lanes: int) -> tuple[int, int]:
    """Words of the (row ring, e ring) of a long-row unit (``uses_ram``): powers of two
    >= B + D1 (D1 = 3 + ceil(log2 lanes)) and >= the e delay B + ceil(log2 lanes) + 34."""
    d1 = 3 + _levels(lanes)
    nb = _beats(row_len, lanes)
    return _pow2_at_least(nb + d1), _pow2_at_least(_e_delay(row_len, lanes))


def softmax_latency(row_len: int, lanes: int) -> int:
    """Cycles from the first input beat of a row to its first output beat (unstalled)."""
    return 2 * _beats(row_len, lanes) + 2 * _levels(lanes) + 52 + P3_STAGES


def softmax_stream_cycles(rows: int, row_len: int, lanes: int) -> int:
    """First accepted beat to last output beat (inclusive) for ``rows`` rows, no gaps/stalls."""
    return rows * _beats(row_len, lanes) + softmax_latency(row_len, lanes)


# --------------------------------------------------------------------------------------
# Shared datapath pieces
# --------------------------------------------------------------------------------------


def _concat_lanes(vals: list[Value]) -> Value:
    return comb.ConcatOp(list(reversed(vals))).result if len(vals) > 1 else vals[0]


def _add(a: Value, b: Value) -> Value:
    return comb.AddOp([a, b]).result


def _sub(a: Value, b: Value) -> Value:
    return comb.SubOp(a, b).result


def _delay(regs: Regs, v: Value, n: int, name: str, ctrl: bool = False) -> Value:
    for k in range(n):
        v = regs.ctrl(v, f"{name}_d{k}") if ctrl else regs.data(v, f"{name}_d{k}")
    return v


def _front(regs: Regs, x: Value, frac_bits: int, name: str) -> Value:
    """Clamp x (Q.frac_bits) to +-64 and convert to Q.16: two register stages, T_BITS out."""
    f = frac_bits
    w = width(x)
    lim = approx.EXP_INPUT_LIMIT << f
    cw = f + 8  # +-2**(f+6) as signed
    if lim < 1 << (w - 1):  # else every w-bit value is already within +-lim
        ww = max(w, cw) + 1
        xs = sext(x, ww)
        hi, lo = const(ww, lim), const(ww, -lim)
        c = mux(cmp("sgt", xs, hi), hi, mux(cmp("slt", xs, lo), lo, xs))
        x = extract(c, 0, cw)
    x = regs.data(x, f"{name}_clamp")
    w = width(x)
    if f <= approx.WORK_FRAC:
        sh = approx.WORK_FRAC - f
        t = comb.ConcatOp([x, const(sh, 0)]).result if sh else x
    else:
        s = f - approx.WORK_FRAC
        ww = max(w, s) + 2
        y = _add(sext(x, ww), const(ww, 1 << (s - 1)))
        t = extract(y, s, ww - s)
    return regs.data(sext(t, T_BITS), f"{name}_t")


def _core(regs: Regs, t: Value, s_off: int, left: int, name: str) -> tuple[Value, Value]:
    """t (Q.16) -> (res, sat) after CORE_STAGES registers: res = round(p * 2**s) for s <= left
    with s = n + s_off (width 18 + left, unsigned), sat = s > left."""
    # 1: t * LOG2E (exact, modulo 2**pw) as shifts and adds, no DSP: the sums of LOG2E's
    # positive and of its negative canonical signed digits, each a balanced tree
    pw = 2 * T_BITS + 1
    ts = sext(t, pw)
    pos = sum(1 << b for b, d in csd(approx.LOG2E_Q23) if d > 0)
    neg = sum(1 << b for b, d in csd(approx.LOG2E_Q23) if d < 0)
    tp = regs.data(mul_const(ts, pos, pw), f"{name}_tlp")
    tn = regs.data(mul_const(ts, neg, pw), f"{name}_tln")
    # 2: z = round_shift(t * LOG2E, 23)
    sh = approx.LOG2E_FRAC
    z = extract(_add(_sub(tp, tn), const(pw, 1 << (sh - 1))), sh, Z_BITS)
    z = regs.data(z, f"{name}_z")
    r = extract(z, 0, approx.WORK_FRAC)
    n = extract(z, approx.WORK_FRAC, Z_BITS - approx.WORK_FRAC)  # 8-bit signed
    # 3: r * c4, and the shift decode: j = clamp(left - s, 0, left + 18), sat = s > left
    jw = 10
    ls = _sub(const(jw, left - s_off), sext(n, jw))  # left - s
    jmax = left + 18
    j = mux(
        cmp("slt", ls, const(jw, 0)),
        const(jw, 0),
        mux(cmp("sgt", ls, const(jw, jmax)), const(jw, jmax), ls),
    )
    sat = regs.data(cmp("slt", ls, const(jw, 0)), f"{name}_sat")
    j = regs.data(extract(j, 0, 6), f"{name}_j")
    mw, aw = 36, 38
    c1, c2, c3, c4 = approx.POW2_COEFFS
    # 3..10: Horner, one multiply stage and one add stage per step; r is delayed alongside
    q: Value | None = None  # q4 = c4, a constant: its product is shifts and adds
    for k, c in enumerate((c3, c2, c1, None)):
        if q is None:
            m = regs.data(mul_const(r, c4, mw), f"{name}_m{k}")
        else:  # unsigned operands as signed ones a bit wider; the product is below 2**mw
            ru, qu = zext(r, width(r) + 1), zext(q, width(q) + 1)
            m = extract(dsp_product(regs, ru, qu, f"{name}_m{k}"), 0, mw)
        if c is None:  # p = 2**16 + round_shift(r * q1, 20)
            acc = _add(zext(m, aw), const(aw, (1 << 36) + (1 << 19)))
            q = regs.data(extract(acc, 20, 17), f"{name}_p")
        else:  # q = c + round_shift(r * q, 16) = (r * q + c * 2**16 + 2**15) >> 16
            acc = _add(zext(m, aw), const(aw, (c << 16) + (1 << 15)))
            q = regs.data(extract(acc, 16, 20), f"{name}_q{k}")
            r = _delay(regs, r, 2, f"{name}_r{k}")
    j = _delay(regs, j, 7, f"{name}_jd")
    sat = _delay(regs, sat, 9, f"{name}_satd")
    p = q
    assert p is not None
    # 11: v = (p << left << 1) >> j; 12: res = (v + 1) >> 1
    vw = 19 + left
    wv = comb.ConcatOp([p, const(left + 1, 0)]).result
    v = regs.data(comb.ShrUOp(zext(wv, vw), zext(j, vw)).result, f"{name}_v")
    res = extract(_add(v, const(vw, 1)), 1, vw - 1)
    res = regs.data(res, f"{name}_res")
    return res, sat


def _exp_saturate(res: Value, sat: Value, out_bits: int) -> Value:
    hi = (1 << (out_bits - 1)) - 1
    w = width(res)
    big = or_(sat, cmp("ugt", res, const(w, hi)))
    return mux(big, const(out_bits, hi), extract(res, 0, out_bits))


def check_softmax(
    row_len: int,
    lanes: int,
    in_bits: int,
    out_bits: int,
    frac_bits: int,
    out_frac_bits: int,
    rows_per_matrix: int,
) -> None:
    """Raise ValueError for a softmax unit that is not built (the plan reports it located)."""
    _check_common(lanes, in_bits, out_bits, frac_bits)
    if not 0 <= out_frac_bits <= approx.MAX_FRAC_BITS:
        raise ValueError(f"out_frac_bits must be in [0, {approx.MAX_FRAC_BITS}]")
    if row_len < 1 or rows_per_matrix < 1:
        raise ValueError("row_len and rows_per_matrix must be >= 1")
    if row_len > MAX_ROW_LEN:
        raise ValueError(f"rows of {row_len} elements exceed the softmax unit's {MAX_ROW_LEN}")


def _check_common(lanes: int, in_bits: int, out_bits: int, frac_bits: int) -> None:
    if lanes < 1:
        raise ValueError("lanes must be >= 1")
    if not 2 <= in_bits <= 32:
        raise ValueError(f"in_bits must be in [2, 32], got {in_bits}")
    if out_bits not in ELEMENT_BITS:
        raise ValueError(f"out_bits must be one of {ELEMENT_BITS}, got {out_bits}")
    if not 0 <= frac_bits <= approx.MAX_FRAC_BITS:
        raise ValueError(f"frac_bits must be in [0, {approx.MAX_FRAC_BITS}], got {frac_bits}")


# --------------------------------------------------------------------------------------
# exp
# --------------------------------------------------------------------------------------


def build_exp_sfu(
    lanes: int, in_bits: int, out_bits: int, frac_bits: int, name: str
) -> hw.HWModuleOp:
    """Create the pointwise exp SFU's ``hw.module`` at the current insertion point."""
    _check_common(lanes, in_bits, out_bits, frac_bits)
    inputs, outputs = stream_ports(lanes, in_bits, out_bits)
    left = max(out_bits - 18, 0)
    s_off = frac_bits - approx.WORK_FRAC

    def body(mod: hw.HWModuleOp) -> dict[str, Value]:
        p = dict(zip([n for n, _ in inputs], mod.entry_block.arguments, strict=True))
        regs, en, out_valid_fb = global_stall(p)
        v = _delay(regs, and_(p["in_valid"], en), exp_latency(), "v", ctrl=True)
        out_valid_fb.set(v)
        outs = []
        for i in range(lanes):
            x = regs.data(extract(p["a"], i * in_bits, in_bits), f"a_r{i}")
            t = _front(regs, x, frac_bits, f"l{i}")
            res, sat = _core(regs, t, s_off, left, f"l{i}")
            outs.append(regs.data(_exp_saturate(res, sat, out_bits), f"out_r{i}"))
        return {"in_ready": en, "out_valid": v, "out": _concat_lanes(outs)}

    return hw.HWModuleOp(name, inputs, outputs, body_builder=body)


# --------------------------------------------------------------------------------------
# softmax
# --------------------------------------------------------------------------------------


def _select(vals: list[Value], idx: Value) -> Value:
    """vals[idx] as a balanced mux tree on the bits of idx (out-of-range: the last value)."""
    level = list(vals)
    bit = 0
    while len(level) > 1:
        sel = extract(idx, bit, 1)
        nxt = []
        for k in range(0, len(level), 2):
            nxt.append(mux(sel, level[k + 1], level[k]) if k + 1 < len(level) else level[k])
        level = nxt
        bit += 1
    return level[0]


def _counter(
    regs: Regs, fb: Feedback, step: Value, modulus: int, w: int, name: str
) -> tuple[Value, Value]:
    """Wrapping counter 0..modulus-1 advancing when ``step``; returns (value, wraps)."""
    cur = fb.value
    wraps = cmp("eq", cur, const(w, modulus - 1))
    nxt = mux(wraps, const(w, 0), _add(cur, const(w, 1)))
    reg = regs.ctrl(mux(step, nxt, cur), name)
    fb.set(reg)
    return reg, wraps


def _bits_for(n: int) -> int:
    return max(1, (n - 1).bit_length())


def _undef() -> IntegerAttr:
    return IntegerAttr.get(ity(32), 0)  # seq RUW / WUW: undefined


def _ram_delay(regs: Regs, clk: Value, v: Value, n: int, prefix: str, name: str) -> Value:
    """v delayed by n >= 3 enabled cycles through a seq.firmem ring and an output register.

    The ring (a power of two >= n words) is written at ``ptr`` every enabled cycle; the read
    address is ptr's next value - (n - 1), so the read data in (enabled) cycle k is the word
    written in cycle k - n + 1 and holds through a stall; the register makes it k - n."""
    assert n >= 3
    depth = _pow2_at_least(n)
    aw = _bits_for(depth)
    ptr_fb = Feedback(ity(aw))
    ptr = regs.ctrl(_add(ptr_fb.value, const(aw, 1)), f"{name}_ptr")
    ptr_fb.set(ptr)
    mem_ty = seq.FirMemType.get(depth, width(v))
    mem = seq.FirMemOp(mem_ty, 1, 1, _undef(), _undef(), name=name, prefix=f"{prefix}_").result
    seq.FirMemWriteOp(mem, ptr, clk, v, enable=regs.en)
    back = mux(regs.en, const(aw, (2 - n) % depth), const(aw, (1 - n) % depth))
    rdata = seq.FirMemReadOp(mem, _add(ptr, back), clk).result
    return regs.data(rdata, f"{name}_q")


def _primed(regs: Regs, n: int) -> Value:
    """High from the n-th enabled cycle after reset on: a ring read before then returns a word
    not written since reset."""
    fw = n.bit_length()
    fb = Feedback(ity(fw))
    full = cmp("eq", fb.value, const(fw, n))
    fb.set(regs.ctrl(mux(full, fb.value, _add(fb.value, const(fw, 1))), "edl_fill"))
    return full


def build_softmax_sfu(
    row_len: int,
    lanes: int,
    in_bits: int,
    out_bits: int,
    frac_bits: int,
    out_frac_bits: int,
    causal: bool,
    rows_per_matrix: int,
    name: str,
) -> hw.HWModuleOp:
    """Create the row-wise softmax SFU's ``hw.module`` at the current insertion point."""
    check_softmax(row_len, lanes, in_bits, out_bits, frac_bits, out_frac_bits, rows_per_matrix)
    nb = _beats(row_len, lanes)
    ram = uses_ram(row_len, lanes)
    inputs, outputs = stream_ports(lanes, in_bits, out_bits)
    lv = _levels(lanes)
    n_entries = ram_depths(row_len, lanes)[0] if ram else _slots(row_len, lanes) * nb
    pw = _bits_for(n_entries)
    bw = _bits_for(nb)
    rw = _bits_for(rows_per_matrix)
    cw = max(rows_per_matrix, row_len + lanes).bit_length() + 1
    sw = (row_len << approx.SOFTMAX_EXP_FRAC).bit_length()
    lowest = -(1 << (in_bits - 1))
    i1 = ity(1)

    def lane_mask(colbase: Value, row: Value | None) -> list[Value]:
        """Per lane: element exists (col < row_len) and is not causally masked."""
        ms = []
        for lane in range(lanes):
            col = _add(colbase, const(cw, lane))
            m = cmp("ult", col, const(cw, row_len))
            if row is not None:
                m = and_(m, not_(cmp("ugt", col, zext(row, cw))))
            ms.append(m)
        return ms

    def body(mod: hw.HWModuleOp) -> dict[str, Value]:
        p = dict(zip([n for n, _ in inputs], mod.entry_block.arguments, strict=True))
        regs, en, out_valid_fb = global_stall(p)
        clk = p["clk"]

        # ---- pass 1: store + max -------------------------------------------------------
        acc = and_(p["in_valid"], en)
        wptr, _ = _counter(regs, Feedback(ity(pw)), acc, n_entries, pw, "wptr")
        bi, row_end = _counter(regs, Feedback(ity(bw)), acc, nb, bw, "bi")
        cb_fb = Feedback(ity(cw))
        cb_next = mux(row_end, const(cw, 0), _add(cb_fb.value, const(cw, lanes)))
        colbase = regs.ctrl(mux(acc, cb_next, cb_fb.value), "colbase")
        cb_fb.set(colbase)
        row: Value | None = None
        if causal:
            row, _ = _counter(
                regs, Feedback(ity(rw)), and_(acc, row_end), rows_per_matrix, rw, "row"
            )
        entries = []
        if ram:
            mem_ty = seq.FirMemType.get(n_entries, lanes * in_bits)
            ring = seq.FirMemOp(mem_ty, 1, 1, _undef(), _undef(), name="rows", prefix=f"{name}_")
            seq.FirMemWriteOp(ring.result, wptr, clk, p["a"], enable=acc)
        else:
            for e in range(n_entries):
                we = and_(en, acc, cmp("eq", wptr, const(pw, e)))
                entries.append(
                    seq.CompRegClockEnabledOp(
                        ity(lanes * in_bits), p["a"], clk, we, name=f"buf{e}"
                    ).result
                )
        masks = lane_mask(colbase, row)
        xs = [
            mux(masks[i], extract(p["a"], i * in_bits, in_bits), const(in_bits, lowest))
            for i in range(lanes)
        ]
        v1 = regs.ctrl(acc, "p1_v")
        first1 = regs.data(cmp("eq", bi, const(bw, 0)), "p1_first")
        last1 = regs.data(row_end, "p1_last")
        row1 = regs.data(row, "p1_row") if row is not None else None
        level = [regs.data(x, f"p1_x{i}") for i, x in enumerate(xs)]
        for k in range(lv):
            nxt = []
            for i in range(0, len(level), 2):
                if i + 1 < len(level):
                    a, b = level[i], level[i + 1]
                    nxt.append(mux(cmp("sgt", b, a), b, a))
                else:
                    nxt.append(level[i])
            level = [regs.data(x, f"p1_t{k}_{i}") for i, x in enumerate(nxt)]
            v1 = regs.ctrl(v1, f"p1_v{k}")
            first1 = regs.data(first1, f"p1_first{k}")
            last1 = regs.data(last1, f"p1_last{k}")
            row1 = regs.data(row1, f"p1_row{k}") if row1 is not None else None
        bmax = level[0]
        rm_fb = Feedback(ity(in_bits))
        rm_new = mux(first1, bmax, mux(cmp("sgt", bmax, rm_fb.value), bmax, rm_fb.value))
        rm = regs.data(mux(v1, rm_new, rm_fb.value), "rowmax")
        rm_fb.set(rm)
        tok = regs.ctrl(and_(v1, last1), "tok")
        tok_row = regs.data(row1, "tok_row") if row1 is not None else None

        # ---- pass 2: exp + sum ---------------------------------------------------------
        act_fb = Feedback(i1)
        act = act_fb.value
        cnt, cnt_end = _counter(regs, Feedback(ity(bw)), act, nb, bw, "p2_cnt")
        act = regs.ctrl(or_(tok, and_(act, not_(cnt_end))), "p2_act")
        act_fb.set(act)  # the placeholder is erased: use the register from here on
        rptr, _ = _counter(regs, Feedback(ity(pw)), act, n_entries, pw, "rptr")
        m_fb = Feedback(ity(in_bits))
        m2 = regs.data(mux(tok, rm, m_fb.value), "p2_m")
        m_fb.set(m2)
        row2: Value | None = None
        if tok_row is not None:
            r_fb = Feedback(ity(rw))
            row2 = regs.data(mux(tok, tok_row, r_fb.value), "p2_row")
            r_fb.set(row2)
        cb2_fb = Feedback(ity(cw))
        cb2_next = mux(cnt_end, const(cw, 0), _add(cb2_fb.value, const(cw, lanes)))
        cb2 = regs.ctrl(mux(act, cb2_next, cb2_fb.value), "p2_colbase")
        cb2_fb.set(cb2)
        # read stage (register): beat, m, masks, flags
        if ram:  # present rptr's next value: the read data is the word a register would hold
            nxt = mux(and_(en, act), _add(rptr, const(pw, 1)), rptr)
            beat = regs.data(seq.FirMemReadOp(ring.result, nxt, clk).result, "p2_beat")
        else:
            beat = regs.data(_select(entries, rptr), "p2_beat")
        mr = regs.data(m2, "p2_mr")
        masks2 = [regs.data(m, f"p2_mask{i}") for i, m in enumerate(lane_mask(cb2, row2))]
        v2 = regs.ctrl(act, "p2_v")
        first2 = regs.data(cmp("eq", cnt, const(bw, 0)), "p2_first")
        last2 = regs.data(cnt_end, "p2_last")
        dw = in_bits + 1
        es = []
        for i in range(lanes):
            xi = extract(beat, i * in_bits, in_bits)
            d = regs.data(_sub(sext(xi, dw), sext(mr, dw)), f"p2_d{i}")
            t = _front(regs, d, frac_bits, f"e{i}")
            res, _sat = _core(regs, t, approx.SOFTMAX_EXP_FRAC - approx.WORK_FRAC, 4, f"e{i}")
            mk = _delay(regs, masks2[i], 1 + FRONT_STAGES + CORE_STAGES, f"mask{i}")
            e = mux(mk, extract(res, 0, E_BITS), const(E_BITS, 0))
            es.append(e)
        d2 = 1 + FRONT_STAGES + CORE_STAGES  # read reg -> e
        v2 = _delay(regs, v2, d2, "p2_vd", ctrl=True)
        v2e = v2  # valid alongside es
        first2 = _delay(regs, first2, d2, "p2_fd")
        last2 = _delay(regs, last2, d2, "p2_ld")
        # sum tree, one level per stage
        level = [zext(e, sw) for e in es]
        for k in range(lv):
            nxt = []
            for i in range(0, len(level), 2):
                nxt.append(_add(level[i], level[i + 1]) if i + 1 < len(level) else level[i])
            level = [regs.data(x, f"p2_s{k}_{i}") for i, x in enumerate(nxt)]
        v2 = _delay(regs, v2, lv, "p2_vs", ctrl=True)
        first2 = _delay(regs, first2, lv, "p2_fs")
        last2 = _delay(regs, last2, lv, "p2_ls")
        bsum = level[0]
        s_fb = Feedback(ity(sw))
        s_new = mux(first2, bsum, _add(s_fb.value, bsum))
        s_acc = regs.data(mux(v2, s_new, s_fb.value), "rowsum")
        s_fb.set(s_acc)
        dv = regs.ctrl(and_(v2, last2), "div_v0")

        # ---- pass 3: divide + scale ----------------------------------------------------
        rem = const(sw, 1 << (approx.SOFTMAX_RECIP_BITS - DIV_STAGES))
        den = s_acc
        q: Value | None = None
        for k in range(DIV_STAGES):
            r2 = comb.ConcatOp([rem, const(1, 0)]).result  # sw + 1 bits
            diff = _sub(zext(r2, sw + 2), zext(den, sw + 2))
            ge = not_(extract(diff, sw + 1, 1))
            rem = regs.data(extract(mux(ge, diff, zext(r2, sw + 2)), 0, sw), f"div_rem{k}")
            q = ge if q is None else comb.ConcatOp([q, ge]).result
            q = regs.data(q, f"div_q{k}")
            if k + 1 < DIV_STAGES:
                den = regs.data(den, f"div_s{k}")
            dv = regs.ctrl(dv, f"div_v{k + 1}")
        assert q is not None
        rh_fb = Feedback(ity(R_BITS))
        r_hold = regs.data(mux(dv, q, rh_fb.value), "recip")
        rh_fb.set(r_hold)
        e_delay = _e_delay(row_len, lanes)
        if ram:
            word = _ram_delay(regs, clk, _concat_lanes([*es, v2e]), e_delay, name, "edl")
            ed = extract(word, 0, lanes * E_BITS)
            vd = and_(extract(word, lanes * E_BITS, 1), _primed(regs, e_delay))
        else:
            ed = _delay(regs, _concat_lanes(es), e_delay, "edl")
            vd = _delay(regs, v2, e_delay - lv, "edl_v", ctrl=True)
        shift = approx.SOFTMAX_RECIP_BITS - out_frac_bits
        mw = E_BITS + R_BITS
        hi = (1 << (out_bits - 1)) - 1
        outs = []
        for i in range(lanes):
            ei = extract(ed, i * E_BITS, E_BITS)
            # e * R + the rounding constant in the fabric (no DSP), registered per tree level
            prod = fabric_product(regs, ei, r_hold, f"p3_{i}", addend=1 << (shift - 1))
            y = extract(prod, shift, mw + 1 - shift)
            yw = width(y)
            if yw >= out_bits:
                big = cmp("ugt", y, const(yw, hi))
                o = mux(big, const(out_bits, hi), extract(y, 0, out_bits))
            else:
                o = zext(y, out_bits)
            outs.append(regs.data(o, f"out_r{i}"))
        v3 = _delay(regs, vd, P3_STAGES, "p3_v", ctrl=True)
        out_valid_fb.set(v3)
        return {"in_ready": en, "out_valid": v3, "out": _concat_lanes(outs)}

    return hw.HWModuleOp(name, inputs, outputs, body_builder=body)
