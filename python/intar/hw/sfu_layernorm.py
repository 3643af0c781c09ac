"""Row-wise layernorm SFU, built directly in hw/comb/seq, bit-exact with ``kernels.layernorm``.

A fixed, fully registered pipeline with one global enable, like the softmax SFU in
``intar.hw.sfu_exp`` (same streaming shell: ``intar.hw.sfu.stream_ports`` / ``global_stall``).

Ports (flat data buses, element 0 in the LSBs, as in the core):

=========  ===  =====================  ========================================================
port       dir  width                  meaning
=========  ===  =====================  ========================================================
clk        in   !seq.clock (1)         clock
rst        in   1                      synchronous reset (valid bits and control state only)
in_valid   in   1                      a beat is on ``a``, ``b`` and ``c``
in_ready   out  1                      the unit accepts a beat this cycle
a          in   lanes*in_bits          x (lane i at bits i*in_bits), signed integers
b          in   lanes*gamma_bits       gamma of the same columns as ``a``, signed Q.frac_bits
c          in   lanes*beta_bits        beta of the same columns as ``a``, signed Q.frac_bits
out_ready  in   1                      the sink takes ``out`` this cycle
out_valid  out  1                      ``out`` holds a result beat
out        out  lanes*out_bits         y (lane i at bits i*out_bits), signed Q.frac_bits
=========  ===  =====================  ========================================================

x, gamma and beta form ONE stream (shared in_valid / in_ready): the caller sends, with every x
beat, the gamma / beta elements of the same columns. Rows of ``row_len`` elements arrive
row-major in B = ceil(row_len / lanes) beats (element e in beat e // lanes, lane e % lanes);
the unused lanes of a partial last beat are ignored on input and 0 on output. Backpressure is
a global stall: ``in_ready = en = !out_valid | out_ready``, every register is clock-enabled by
``en`` and all timing below is in enabled cycles.

Arithmetic (N = row_len). Since sum(c) = 0 for c = N x - S, sum(c**2) = N**2 sum(x**2) - N S**2,
so the golden ``sum(c**2) // N`` is exactly ``N * sum(x**2) - S**2``: one pass over the row
(S = sum x, Q = sum x**2) gives V = N Q - S**2 + LN_EPS N**2 with no division.

1. *store + reduce* (per beat): the beat {beta, gamma, x} is written into a ring buffer
   (``seq.firmem``, ``ring_depth`` words of lanes * (in_bits + gamma_bits + beta_bits) bits:
   BRAM / LUTRAM) and, unused lanes zeroed, x is registered, squared (DSP), and x, x**2 go
   through registered adder trees (one level per stage) into the row accumulators S, Q. The
   row's last beat raises a row token.
2. *per row* (fully pipelined: a new row may enter every cycle, so any B runs at II = 1):
   S**2 (DSP) beside N Q + N**2 (constant shift-add), then V; the normalisation of
   ``approx.inv_sqrt`` in two stages (thermometer of V >= 2**(46 + 2j), then a one-hot select
   of Vn = V * 4**-k and of the shift 31 + k); s = isqrt(Vn) digit by digit (24 steps, each a
   <= 27-bit subtract and a mux) and r = 2**48 // s by restoring division (26 steps, 26-bit
   subtract), ``STEPS`` = 2 steps per register stage (12 + 13 stages). S and the shift ride
   along in delay lines (no reset: SRLs).
3. *normalise* (per beat): the row token starts B consecutive reads of the ring; per beat
   c = N x - S (constant shift-add); c * r (DSP); z = round_shift(c * r, 32 + k) as an
   arithmetic barrel shift by 31 + k, then (+1) >> 1; z * gamma (DSP); round_shift(., 16) +
   beta; saturation and the lane mask into the output register.

Multiplies are split into 18 x 27 signed partial products (one DSP48E2 each; low limbs are
zero-extended), each registered, then summed in a registered adder tree. For in_bits =
gamma_bits = 16 and 4 < N <= 2048: x**2 1 DSP per lane, c * r 2 per lane, z * gamma 1 per
lane, S**2 2 per unit. yosys ``synth_xilinx`` of N = 64, lanes = 4 (16-bit x, gamma, beta):
18 DSP48E2, about 2.9k FFs (half of them the per-row isqrt / divide stages), 3.4k LUTs,
220 SRLs, ring 64 x 192 bits in 28 RAM64M8. The longest register-to-register path is one
reciprocal stage (two chained 26-bit subtract-and-select steps).

Timing (unstalled, input at full rate): ``layernorm_latency(row_len, lanes, in_bits,
gamma_bits)`` cycles from the first input beat of a row to its first output beat:

    (B - 1)
    + 2 + M_xx + ceil(log2 lanes)      last beat -> row token (input reg, x*x, tree, acc)
    + M_SS + 3 + 12 + 13               S*S, V, normalise (2), isqrt, divide
    + 1 + 7 + M_cr + M_zg              read issue, read data, c, c*r, shift, (+1) >> 1,
                                       z*gamma, +beta, saturate

where M_xx, M_SS, M_cr, M_zg are the register stages of the x*x, S*S, c*r and z*gamma
multiplies (``_mul_stages``: 1 for one partial product, +1 per adder-tree level). For
in_bits = gamma_bits = 16 and 4 < N <= 2048 that is B + ceil(log2 lanes) + 43 cycles
(N = 64, lanes = 4: 61). Throughput is one beat per cycle in steady state for any row_len:
a stream of R rows fed without gaps and drained without stalls takes exactly
R * B + layernorm_latency cycles from the first accepted beat to the last output beat
(inclusive). Row i + 1's first pass overlaps row i's per-row and second passes. A row's beat
j is read ``issue`` + j cycles after its last beat was accepted, and at most B - 1 + issue
other beats are written in between, so a ring of ``ring_depth`` >= B + issue words (a power
of two) never overwrites a beat before it is read; the unit needs no backpressure of its own.

The ring is a ``seq.firmem``: a design holding this unit must be lowered with the memory
passes (``lower-seq-firmem``, ``hw-memory-sim``, as the top-level flow and
``intar.hw.tensor_buffer.emit_sv_with_memories`` do). Its read address register is fed
``en ? rptr : held rptr`` so the read data stays put through a stall.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

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
    dsp_products,
    extract,
    ity,
    mux,
    not_,
    or_,
    partial_products,
    sext,
    width,
    zext,
)
from intar.hw.sfu import global_stall, stream_ports

ELEMENT_BITS = (4, 8, 16, 32)  # the golden kernels' out_bits
MAX_ROW_LEN = 1 << 16
ROOT_BITS = 24  # s = isqrt(Vn) in [2**23, 2**24)
QUOT_BITS = 26  # r = 2**48 // s in (2**24, 2**25]
STEPS = 2  # digit steps (root or quotient bits) per register stage
ISQRT_STAGES = -(-ROOT_BITS // STEPS)
DIV_STAGES = -(-QUOT_BITS // STEPS)
R_BITS = 26
NORM_BITS = approx.RSQRT_NORM_BITS  # Vn has 47 or 48 bits
K_MIN = -((NORM_BITS - 2) // 2)  # k for V in [1, 4): -23
Z_FRAC = approx.LN_Z_FRAC


# --------------------------------------------------------------------------------------
# Widths and stage counts
# --------------------------------------------------------------------------------------


def _sbits(lo: int, hi: int) -> int:
    """Signed width holding [lo, hi]."""
    return max((-lo - 1).bit_length() if lo < 0 else 0, hi.bit_length()) + 1


def _mul_stages(wa: int, wb: int) -> int:
    """Register stages of ``_mul`` for signed wa x wb: products, then one per tree level."""
    return 1 + (dsp_products(wa, wb) - 1).bit_length()


@dataclass(frozen=True)
class _Dims:
    """Widths of one configuration (N = row_len, all values signed unless noted)."""

    n: int
    lanes: int
    xb: int
    gb: int
    bb: int

    @property
    def nb(self) -> int:
        return -(-self.n // self.lanes)

    @property
    def lv(self) -> int:
        return (self.lanes - 1).bit_length()

    @property
    def sw(self) -> int:  # S = sum x
        return _sbits(self.n * -(1 << (self.xb - 1)), self.n * ((1 << (self.xb - 1)) - 1))

    @property
    def qmax(self) -> int:  # Q = sum x**2 (unsigned)
        return self.n << (2 * self.xb - 2)

    @property
    def qw(self) -> int:
        return self.qmax.bit_length()

    @property
    def vw(self) -> int:  # V = N Q - S**2 + N**2 (unsigned, >= N**2 >= 1)
        return (self.n * self.qmax + approx.LN_EPS * self.n * self.n).bit_length()

    @property
    def k_max(self) -> int:
        return (self.vw - (NORM_BITS - 1)) // 2

    @property
    def cw(self) -> int:  # c = N x - S
        span = self.n * ((1 << self.xb) - 1)
        return _sbits(-span, span)

    @property
    def zw(self) -> int:  # |z| <= |c| / sqrt(V) * 2**16 * (1 + 2**-21) < sqrt(N) * 2**16 + 1
        zmax = (math.isqrt(self.n << (2 * Z_FRAC)) + 2) * ((1 << 20) + 1) // (1 << 20) + 2
        return _sbits(-zmax, zmax)

    @property
    def m_xx(self) -> int:
        return _mul_stages(self.xb, self.xb)

    @property
    def m_ss(self) -> int:
        return _mul_stages(self.sw, self.sw)

    @property
    def m_cr(self) -> int:
        return _mul_stages(self.cw, R_BITS + 1)

    @property
    def m_zg(self) -> int:
        return _mul_stages(self.zw, self.gb)

    @property
    def to_tok(self) -> int:
        """Last beat accepted -> row token (the accumulators hold S, Q)."""
        return 2 + self.m_xx + self.lv

    @property
    def per_row(self) -> int:
        """Row token -> r, shift and S at the end of the per-row pipeline."""
        return self.m_ss + 1 + 2 + ISQRT_STAGES + DIV_STAGES

    @property
    def out_stages(self) -> int:
        """Read issue -> output register: read data, c, c*r, shift, z, z*g, +beta, saturate."""
        return 7 + self.m_cr + self.m_zg

    @property
    def issue(self) -> int:
        """Last beat accepted -> first read of its row."""
        return self.to_tok + self.per_row + 1

    @property
    def ring_depth(self) -> int:
        """Power of two >= B + issue: writes between a beat's write and its read."""
        return max(2, 1 << (self.nb + self.issue - 1).bit_length())

    @property
    def latency(self) -> int:
        return self.nb - 1 + self.issue + self.out_stages


def layernorm_latency(row_len: int, lanes: int, in_bits: int, gamma_bits: int) -> int:
    """Cycles from the first input beat of a row to its first output beat (unstalled)."""
    return _Dims(row_len, lanes, in_bits, gamma_bits, 2).latency


def layernorm_stream_cycles(
    rows: int, row_len: int, lanes: int, in_bits: int, gamma_bits: int
) -> int:
    """First accepted beat to last output beat (inclusive) for ``rows`` rows, no gaps/stalls."""
    nb = -(-row_len // lanes)
    return rows * nb + layernorm_latency(row_len, lanes, in_bits, gamma_bits)


def ring_depth(row_len: int, lanes: int, in_bits: int, gamma_bits: int) -> int:
    """Words of the ring buffer (each lanes * (in_bits + gamma_bits + beta_bits) bits)."""
    return _Dims(row_len, lanes, in_bits, gamma_bits, 2).ring_depth


def layernorm_dsps(row_len: int, lanes: int, in_bits: int, gamma_bits: int) -> int:
    """DSP48E2s of the unit: per lane x**2, c * r and z * gamma, and one S**2 per unit, each
    ``dsp_products`` of its operand widths."""
    d = _Dims(row_len, lanes, in_bits, gamma_bits, 2)
    per_lane = dsp_products(d.xb, d.xb) + dsp_products(d.cw, R_BITS + 1) + dsp_products(d.zw, d.gb)
    return lanes * per_lane + dsp_products(d.sw, d.sw)


# --------------------------------------------------------------------------------------
# Datapath pieces
# --------------------------------------------------------------------------------------


def _add(a: Value, b: Value) -> Value:
    return comb.AddOp([a, b]).result


def _sub(a: Value, b: Value) -> Value:
    return comb.SubOp(a, b).result


def _cat(*hi_to_lo: Value) -> Value:
    return comb.ConcatOp(list(hi_to_lo)).result


def _concat_lanes(vals: list[Value]) -> Value:
    return _cat(*reversed(vals)) if len(vals) > 1 else vals[0]


def _shl(v: Value, s: int) -> Value:
    return _cat(v, const(s, 0)) if s else v


def _delay(regs: Regs, v: Value, n: int, name: str, ctrl: bool = False) -> Value:
    """n registers (data registers have no reset: shift-register / SRL friendly)."""
    for k in range(n):
        v = regs.ctrl(v, f"{name}_d{k}") if ctrl else regs.data(v, f"{name}_d{k}")
    return v


def _hold(regs: Regs, load: Value, v: Value, name: str) -> Value:
    """Register that takes ``v`` when ``load`` and keeps its value otherwise."""
    fb = Feedback(v.type)
    q = regs.data(mux(load, v, fb.value), name)
    fb.set(q)
    return q


def _tree_sum(regs: Regs, terms: list[Value], name: str) -> Value:
    """Sum of equal-width terms, one registered adder level per stage (no register if 1)."""
    level = terms
    k = 0
    while len(level) > 1:
        nxt = [
            _add(level[i], level[i + 1]) if i + 1 < len(level) else level[i]
            for i in range(0, len(level), 2)
        ]
        level = [regs.data(x, f"{name}_t{k}_{i}") for i, x in enumerate(nxt)]
        k += 1
    return level[0]


def _mul(regs: Regs, a: Value, b: Value, name: str) -> Value:
    """Exact signed a * b (width wa + wb) after ``_mul_stages(wa, wb)`` registers: 18 x 27
    partial products (one DSP48E2 each, output registered), then a registered adder tree."""
    return _tree_sum(regs, partial_products(regs, a, b, name), name)


def _cmul(v: Value, c: int, w: int) -> Value:
    """Signed v * c (constant c >= 1) in w bits (modulo 2**w): a balanced shift-add tree."""
    terms = [(extract(_shl(sext(v, w), b), 0, w), d) for b, d in csd(c) if b < w]
    pos = [t for t, d in terms if d > 0]
    neg = [t for t, d in terms if d < 0]

    def total(ts: list[Value]) -> Value:
        while len(ts) > 1:
            ts = [
                _add(ts[i], ts[i + 1]) if i + 1 < len(ts) else ts[i] for i in range(0, len(ts), 2)
            ]
        return ts[0]

    return _sub(total(pos), total(neg)) if neg else total(pos)


def _saturate(x: Value, out_bits: int) -> Value:
    w = width(x)
    if w <= out_bits:
        return sext(x, out_bits)
    hi, lo = (1 << (out_bits - 1)) - 1, -(1 << (out_bits - 1))
    return mux(
        cmp("sgt", x, const(w, hi)),
        const(out_bits, hi),
        mux(cmp("slt", x, const(w, lo)), const(out_bits, lo), extract(x, 0, out_bits)),
    )


def _counter(regs: Regs, step: Value, modulus: int, name: str) -> Value:
    """Wrapping counter 0..modulus-1 advancing when ``step``."""
    w = max(1, (modulus - 1).bit_length())
    fb = Feedback(ity(w))
    at_last = cmp("eq", fb.value, const(w, modulus - 1))
    nxt = mux(at_last, const(w, 0), _add(fb.value, const(w, 1)))
    q = regs.ctrl(mux(step, nxt, fb.value), name)
    fb.set(q)
    return q


def _accumulate(regs: Regs, valid: Value, first: Value, x: Value, name: str) -> Value:
    """Row accumulator: x on a row's first beat, += x on the others, kept when not valid."""
    fb = Feedback(x.type)
    q = regs.data(mux(valid, mux(first, x, _add(fb.value, x)), fb.value), name)
    fb.set(q)
    return q


def _or_all(vals: list[Value]) -> Value:
    """OR of vals as a balanced tree of 2-input ORs."""
    while len(vals) > 1:
        vals = [
            or_(*vals[i : i + 2]) if i + 1 < len(vals) else vals[i] for i in range(0, len(vals), 2)
        ]
    return vals[0]


# --------------------------------------------------------------------------------------
# inv_sqrt pieces
# --------------------------------------------------------------------------------------


def _normalise(regs: Regs, v: Value, k_max: int, shw: int) -> tuple[Value, Value]:
    """Two stages: (Vn, 31 + k) with k = (L - 47) >> 1, Vn = V * 4**-k (47 or 48 bits)."""
    vw = width(v)
    ks = list(range(K_MIN, k_max + 1))
    # ge[j]: V >= 2**(46 + 2k_j); true for k_j = K_MIN (V >= 1)
    ge = [const(1, 1)]
    for kk in ks[1:]:
        pos = NORM_BITS - 2 + 2 * kk
        ge.append(cmp("ne", extract(v, pos, vw - pos), const(vw - pos, 0)))
    assert len(ks) > 1  # V has >= 3 bits (V >= N**2 + ... with in_bits >= 2)
    flags = regs.data(_cat(*reversed(ge)), "ln_ge")
    v = regs.data(v, "ln_norm_v")
    sel_vn, sel_sh = [], []
    for j, kk in enumerate(ks):  # one-hot: ge[j] and not ge[j + 1]
        hit = extract(flags, j, 1)
        if j + 1 < len(ks):
            hit = and_(hit, not_(extract(flags, j + 1, 1)))
        if kk >= 0:
            shifted = extract(zext(v, max(vw, 2 * kk + NORM_BITS)), 2 * kk, NORM_BITS)
        else:
            shifted = extract(_shl(zext(v, max(vw, NORM_BITS)), -2 * kk), 0, NORM_BITS)
        sel_vn.append(and_(comb.ReplicateOp(ity(NORM_BITS), hit).result, shifted))
        sel_sh.append(and_(comb.ReplicateOp(ity(shw), hit).result, const(shw, 31 + kk)))
    vn = regs.data(_or_all(sel_vn), "ln_vn")
    sh = regs.data(_or_all(sel_sh), "ln_sh")
    return vn, sh


def _isqrt(regs: Regs, vn: Value, side: list[Value], name: str) -> tuple[Value, list[Value]]:
    """floor(sqrt(vn)) for vn in [2**46, 2**48), digit by digit, STEPS root bits per stage
    (ISQRT_STAGES registers); ``side`` values are delayed alongside."""
    rem: Value | None = None
    root: Value | None = None
    rest = vn
    for i in range(ROOT_BITS - 1, -1, -1):
        # rem = 4 rem + next digit pair; take root bit 1 if rem >= 4 root + 1
        d = extract(rest, 2 * i, 2)
        cur = d if rem is None else _cat(rem, d)
        trial = const(2, 1) if root is None else _cat(root, const(2, 1))
        w = max(width(cur), width(trial)) + 1
        diff = _sub(zext(cur, w), zext(trial, w))
        ge = not_(extract(diff, w - 1, 1))
        root = ge if root is None else _cat(root, ge)
        if i:  # rem <= 2 root < 2**(ROOT_BITS + 1 - i); the last remainder is not needed
            rem = extract(mux(ge, diff, zext(cur, w)), 0, ROOT_BITS + 1 - i)
        if i % STEPS == 0:
            root = regs.data(root, f"{name}_root{i}")
            if i:
                rem = regs.data(rem, f"{name}_rem{i}")
                rest = regs.data(extract(rest, 0, 2 * i), f"{name}_rest{i}")
            side = [regs.data(s, f"{name}_side{j}_{i}") for j, s in enumerate(side)]
    assert root is not None
    return root, side


def _recip(regs: Regs, s: Value, side: list[Value], name: str) -> tuple[Value, list[Value]]:
    """floor(2**48 / s) for s in [2**23, 2**24), restoring division, STEPS quotient bits per
    stage (DIV_STAGES registers)."""
    sw = width(s)
    rem = const(sw, 1 << (approx.RSQRT_RECIP_BITS - QUOT_BITS))  # 2**22 < s: q < 2**26
    q: Value | None = None
    for k in range(QUOT_BITS):
        r2 = _cat(rem, const(1, 0))
        diff = _sub(zext(r2, sw + 2), zext(s, sw + 2))
        ge = not_(extract(diff, sw + 1, 1))
        q = ge if q is None else _cat(q, ge)
        rem = extract(mux(ge, diff, zext(r2, sw + 2)), 0, sw)  # < s
        left = QUOT_BITS - 1 - k
        if left % STEPS == 0:
            q = regs.data(q, f"{name}_q{k}")
            if left:  # the last remainder is not needed
                rem = regs.data(rem, f"{name}_rem{k}")
                s = regs.data(s, f"{name}_s{k}")
            side = [regs.data(x, f"{name}_side{j}_{k}") for j, x in enumerate(side)]
    assert q is not None
    return q, side


# --------------------------------------------------------------------------------------
# The unit
# --------------------------------------------------------------------------------------


def _check(
    row_len: int, lanes: int, bits: tuple[int, int, int], out_bits: int, frac_bits: int
) -> None:
    if lanes < 1:
        raise ValueError("lanes must be >= 1")
    if not 1 <= row_len <= MAX_ROW_LEN:
        raise ValueError(f"row_len must be in [1, {MAX_ROW_LEN}], got {row_len}")
    for label, w in zip(("in_bits", "gamma_bits", "beta_bits"), bits, strict=True):
        if not 2 <= w <= 32:
            raise ValueError(f"{label} must be in [2, 32], got {w}")
    if out_bits not in ELEMENT_BITS:
        raise ValueError(f"out_bits must be one of {ELEMENT_BITS}, got {out_bits}")
    if not 0 <= frac_bits <= approx.MAX_FRAC_BITS:
        raise ValueError(f"frac_bits must be in [0, {approx.MAX_FRAC_BITS}], got {frac_bits}")
    dims = _Dims(row_len, lanes, *bits)
    if 32 + dims.k_max > approx.MAX_SHIFT:
        raise ValueError("row_len and in_bits too large for the golden round_shift")


def build_layernorm_sfu(
    row_len: int,
    lanes: int,
    in_bits: int,
    out_bits: int,
    frac_bits: int,
    name: str,
    gamma_bits: int = 16,
    beta_bits: int = 16,
) -> hw.HWModuleOp:
    """Create the layernorm SFU's ``hw.module`` at the current insertion point.

    ``frac_bits`` (of gamma, beta and y) does not enter the arithmetic; it is validated only.
    """
    _check(row_len, lanes, (in_bits, gamma_bits, beta_bits), out_bits, frac_bits)
    dm = _Dims(row_len, lanes, in_bits, gamma_bits, beta_bits)
    n, nb, xb, gb, bb = row_len, dm.nb, in_bits, gamma_bits, beta_bits
    inputs, outputs = stream_ports(lanes, in_bits, out_bits, gamma_bits)
    inputs.insert(5, ("c", ity(lanes * beta_bits)))  # after a, b; before out_ready
    depth = dm.ring_depth
    bw = max(1, (nb - 1).bit_length())
    tail = row_len - (nb - 1) * lanes  # valid lanes of a row's last beat
    undef = IntegerAttr.get(ity(32), 0)  # seq RUW/WUW: undefined

    def body(mod: hw.HWModuleOp) -> dict[str, Value]:
        p = dict(zip([nm for nm, _ in inputs], mod.entry_block.arguments, strict=True))
        regs, en, out_valid_fb = global_stall(p)
        clk = p["clk"]

        # ---- pass 1: store + reduce ----------------------------------------------------
        acc = and_(p["in_valid"], en)
        wptr = _counter(regs, acc, depth, "wptr")
        bi = _counter(regs, acc, nb, "bi")
        row_end = cmp("eq", bi, const(bw, nb - 1))
        mem_ty = seq.FirMemType.get(depth, lanes * (xb + gb + bb))
        mem = seq.FirMemOp(mem_ty, 1, 1, undef, undef, name="ring", prefix=f"{name}_").result
        seq.FirMemWriteOp(mem, wptr, clk, _cat(p["c"], p["b"], p["a"]), enable=acc)

        xs = []
        for i in range(lanes):
            x = extract(p["a"], i * xb, xb)
            if i >= tail:  # absent on a row's last beat
                x = mux(row_end, const(xb, 0), x)
            xs.append(regs.data(x, f"p1_x{i}"))
        v1 = regs.ctrl(acc, "p1_v")
        first1 = regs.data(cmp("eq", bi, const(bw, 0)), "p1_first")
        last1 = regs.data(row_end, "p1_last")
        sq = [_mul(regs, x, x, f"p1_xx{i}") for i, x in enumerate(xs)]
        xs = [_delay(regs, x, dm.m_xx, f"p1_xd{i}") for i, x in enumerate(xs)]
        # modulo 2**width sums: every partial sum of <= N elements fits
        bsum = _tree_sum(regs, [sext(x, dm.sw) for x in xs], "p1_s")
        bsq = _tree_sum(regs, [sext(s, dm.qw) for s in sq], "p1_q")
        d = dm.m_xx + dm.lv
        v1 = _delay(regs, v1, d, "p1_vd", ctrl=True)
        first1 = _delay(regs, first1, d, "p1_fd")
        last1 = _delay(regs, last1, d, "p1_ld")
        s_acc = _accumulate(regs, v1, first1, bsum, "row_s")
        q_acc = _accumulate(regs, v1, first1, bsq, "row_q")
        tok = regs.ctrl(and_(v1, last1), "tok")  # s_acc, q_acc hold the row this cycle

        # ---- per row: V = N Q + N**2 - S**2, inv_sqrt -----------------------------------
        vw = dm.vw
        ss = _mul(regs, s_acc, s_acc, "pr_ss")
        nq = _add(_cmul(zext(q_acc, dm.qw + 1), n, vw), const(vw, approx.LN_EPS * n * n))
        nq = _delay(regs, regs.data(nq, "pr_nq"), dm.m_ss - 1, "pr_nqd")
        vv = regs.data(_sub(nq, sext(ss, vw)), "pr_v")
        shw = (31 + dm.k_max).bit_length()
        vn, sh = _normalise(regs, vv, dm.k_max, shw)
        t_pre = dm.m_ss + 3  # token -> vn, sh (S*S, V, normalise)
        tok_r = _delay(regs, tok, dm.per_row, "pr_tok", ctrl=True)
        side = [_delay(regs, s_acc, t_pre, "pr_sd"), sh]
        root, side = _isqrt(regs, vn, side, "sq")
        r, (s_row, sh_row) = _recip(regs, root, side, "dv")

        # ---- pass 2: read + normalise --------------------------------------------------
        # stage 0 issues the read of beat `cnt`; a row scalar used at stage s is switched
        # when the row token, delayed by s, passes
        act_fb = Feedback(ity(1))
        cnt = _counter(regs, act_fb.value, nb, "p2_cnt")
        last = cmp("eq", cnt, const(bw, nb - 1))
        act = regs.ctrl(or_(tok_r, and_(act_fb.value, not_(last))), "p2_act")
        act_fb.set(act)
        rptr = _counter(regs, act, depth, "rptr")
        # the firmem registers its read address every cycle: hold it while stalled
        a_hold = regs.data(rptr, "p2_addr")
        rdata = seq.FirMemReadOp(mem, mux(en, rptr, a_hold), clk).result

        toks = [tok_r]
        for s in range(1, 4 + dm.m_cr):
            toks.append(regs.ctrl(toks[-1], f"p2_tok{s}"))
        s_h = _hold(regs, toks[2], _delay(regs, s_row, 2, "p2_sd"), "p2_s")
        r_h = _hold(regs, toks[3], _delay(regs, r, 3, "p2_rd"), "p2_r")
        m_sh = 3 + dm.m_cr
        sh_h = _hold(regs, toks[m_sh], _delay(regs, sh_row, m_sh, "p2_shd"), "p2_sh")

        word = regs.data(rdata, "p2_word")  # stage 1 -> 2
        ys = []
        for i in range(lanes):
            x = extract(word, i * xb, xb)
            g = extract(word, lanes * xb + i * gb, gb)
            bt = extract(word, lanes * (xb + gb) + i * bb, bb)
            c = regs.data(_sub(_cmul(x, n, dm.cw), sext(s_h, dm.cw)), f"p2_c{i}")  # 2 -> 3
            prod = _mul(regs, c, zext(r_h, R_BITS + 1), f"p2_cr{i}")  # 3 -> 3 + m_cr
            # z = round_shift(c * r, 32 + k) = ((c * r >> (31 + k)) + 1) >> 1
            pw = width(prod)
            t = extract(comb.ShrSOp(prod, zext(sh_h, pw)).result, 0, dm.zw + 1)
            t = regs.data(t, f"p2_t{i}")
            z = regs.data(extract(_add(t, const(dm.zw + 1, 1)), 1, dm.zw), f"p2_z{i}")
            zg = _mul(regs, z, _delay(regs, g, 3 + dm.m_cr, f"p2_gd{i}"), f"p2_zg{i}")
            zw_ = width(zg)
            zr = extract(_add(zg, const(zw_, 1 << (Z_FRAC - 1))), Z_FRAC, zw_ - Z_FRAC)
            bd = _delay(regs, bt, 3 + dm.m_cr + dm.m_zg, f"p2_bd{i}")
            yw = max(zw_ - Z_FRAC, bb) + 1
            ys.append(regs.data(_add(sext(zr, yw), sext(bd, yw)), f"p2_y{i}"))
        last_d = _delay(regs, last, dm.out_stages - 1, "p2_ld")
        outs = []
        for i, y in enumerate(ys):
            o = _saturate(y, out_bits)
            if i >= tail:
                o = mux(last_d, const(out_bits, 0), o)
            outs.append(regs.data(o, f"out_r{i}"))
        v_out = _delay(regs, act, dm.out_stages, "p2_v", ctrl=True)
        out_valid_fb.set(v_out)
        return {"in_ready": en, "out_valid": v_out, "out": _concat_lanes(outs)}

    return hw.HWModuleOp(name, inputs, outputs, body_builder=body)
