"""Matmul compute core (d1 x d2 x d3 PE array) built with CIRCT's hw/comb/seq Python builders.

Interface of ``build_core(..., name=N)`` (all data buses are flat, element 0 in the LSBs):

=========  ===  ===========================  ==================================================
port       dir  width                        meaning
=========  ===  ===========================  ==================================================
clk        in   !seq.clock (1)               clock
rst        in   1                            synchronous reset (control registers only)
in_valid   in   1                            an A/B tile pair is on ``a``/``b``
in_ready   out  1                            the core accepts a beat this cycle
a          in   d1*d3*in_bits                A tile, element (i, k) at bits ((i*d3 + k) * in_bits)
b          in   d3*d2*in_bits                B tile, element (k, j) at bits ((k*d2 + j) * in_bits)
k_bound    in   K_BOUND_BITS                 beats (k tiles) summed into one output tile, >= 1
shift      in   SHIFT_BITS                   requantize shift (values > 32 act as 32: result 0)
out_valid  out  1                            ``out`` holds a finished output tile
out_ready  in   1                            the sink takes ``out`` this cycle
out        out  d1*d2*out_bits               C tile, element (i, j) at bits ((i*d2 + j) * out_bits)
=========  ===  ===========================  ==================================================

Timing: one beat per cycle (II = 1). A beat accepted at cycle c reaches ``out_valid`` at
c + latency(d3) with ``latency = 3 (DSP A/B, M, P regs) + ceil(log2 d3) (adder tree, one
register per level) + 1 (int32 accumulator) + 1 (requantize + output register)``. The cost
model's 2-cycle scratchpad read sits in front of the core and is not part of it.

Backpressure is a global stall: ``in_ready = en = !out_valid | out_ready``, and every pipeline
register is clock-enabled by ``en``. k_bound and shift must stay stable while a tile is in
flight. Per output tile, the beats with k = 0 .. k_bound-1 must arrive consecutively.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from circt.dialects import comb, hw, seq
from circt.ir import IntegerAttr, IntegerType, Type, Value

K_BOUND_BITS = 16
SHIFT_BITS = 6


@dataclass(frozen=True)
class CoreConfig:
    """Elaboration-time parameters of a core."""

    d1: int
    d2: int
    d3: int
    in_bits: int
    out_bits: int
    acc_bits: int = 32

    @property
    def tree_levels(self) -> int:
        """Register levels of the d3-way adder tree."""
        return math.ceil(math.log2(self.d3)) if self.d3 > 1 else 0

    @property
    def latency(self) -> int:
        """Cycles from accepting a beat to its (last-k) tile appearing on ``out_valid``."""
        return 3 + self.tree_levels + 1 + 1

    def validate(self) -> None:
        """Raise ValueError on unsupported parameters."""
        if min(self.d1, self.d2, self.d3) < 1:
            raise ValueError("PE dims must be >= 1")
        if not 2 <= self.in_bits <= 16:
            raise ValueError("in_bits must be in [2, 16] (one DSP48E2 multiplier)")
        if not 2 <= self.out_bits <= self.acc_bits:
            raise ValueError("out_bits must be in [2, acc_bits]")
        if self.acc_bits != 32:
            raise ValueError("only acc_bits=32 (the golden model's int32 accumulation)")


def _ity(w: int) -> Type:
    return IntegerType.get_signless(w)


def _const(w: int, v: int) -> Value:
    v &= (1 << w) - 1
    if v >= 1 << (w - 1):  # IntegerAttr takes the signed value for wide constants
        v -= 1 << w
    return hw.ConstantOp(IntegerAttr.get(_ity(w), v)).result


def _width(v: Value) -> int:
    return IntegerType(v.type).width


def _extract(v: Value, lo: int, w: int) -> Value:
    return comb.ExtractOp(_ity(w), v, lo).result


def _sext(v: Value, w: int) -> Value:
    n = _width(v)
    if w == n:
        return v
    if w < n:
        return _extract(v, 0, w)
    msb = _extract(v, n - 1, 1)
    return comb.ConcatOp([comb.ReplicateOp(_ity(w - n), msb).result, v]).result


def _zext(v: Value, w: int) -> Value:
    n = _width(v)
    if w == n:
        return v
    return comb.ConcatOp([_const(w - n, 0), v]).result


def _add(a: Value, b: Value) -> Value:
    return comb.AddOp([a, b]).result


def _mux(c: Value, t: Value, f: Value) -> Value:
    return comb.MuxOp(c, t, f).result


def _and(*xs: Value) -> Value:
    return comb.AndOp(list(xs)).result


def _or(*xs: Value) -> Value:
    return comb.OrOp(list(xs)).result


def _not(x: Value) -> Value:
    return comb.XorOp([x, _const(1, 1)]).result


def _cmp(pred: str, a: Value, b: Value) -> Value:
    preds = {"eq": 0, "ne": 1, "slt": 2, "sle": 3, "sgt": 4, "sge": 5, "ult": 6, "ugt": 8}
    return comb.ICmpOp(IntegerAttr.get(_ity(64), preds[pred]), a, b).result


class _Regs:
    """Register factory: clock-enabled registers, optionally with synchronous reset."""

    def __init__(self, clk: Value, en: Value, rst: Value) -> None:
        self.clk, self.en, self.rst = clk, en, rst

    def data(self, v: Value, name: str) -> Value:
        """Pipeline data register (no reset, so it can sit in a DSP48E2)."""
        return seq.CompRegClockEnabledOp(v.type, v, self.clk, self.en, name=name).result

    def ctrl(self, v: Value, name: str) -> Value:
        """Control register, reset to 0."""
        zero = _const(_width(v), 0)
        return seq.CompRegClockEnabledOp(
            v.type, v, self.clk, self.en, reset=self.rst, reset_value=zero, name=name
        ).result


def _requantize(acc: Value, shift: Value, out_bits: int) -> Value:
    """saturate(round_shift(acc, min(shift, 32)), out_bits) on a 32-bit signed ``acc``."""
    w = 33
    sh = _zext(shift, w)
    lim = _const(w, 32)
    sh = _mux(_cmp("ugt", sh, lim), lim, sh)
    x = _sext(acc, w)
    zero = _const(w, 0)
    half = comb.ShlOp(_const(w, 1), comb.SubOp(sh, _const(w, 1)).result).result
    rnd = _mux(_cmp("eq", sh, zero), zero, half)  # 1 << (s-1), or 0 for s = 0
    y = comb.ShrSOp(_add(x, rnd), sh).result
    hi, lo = (1 << (out_bits - 1)) - 1, -(1 << (out_bits - 1))
    hi_c, lo_c = _const(w, hi), _const(w, lo)
    y = _mux(_cmp("sgt", y, hi_c), hi_c, _mux(_cmp("slt", y, lo_c), lo_c, y))
    return _extract(y, 0, out_bits)


def build_core(cfg: CoreConfig, name: str) -> hw.HWModuleOp:
    """Create the core's ``hw.module`` at the current insertion point (inside a Context)."""
    cfg.validate()
    d1, d2, d3, ib, ob = cfg.d1, cfg.d2, cfg.d3, cfg.in_bits, cfg.out_bits
    i1 = _ity(1)
    inputs = [
        ("clk", seq.ClockType.get()),
        ("rst", i1),
        ("in_valid", i1),
        ("a", _ity(d1 * d3 * ib)),
        ("b", _ity(d3 * d2 * ib)),
        ("k_bound", _ity(K_BOUND_BITS)),
        ("shift", _ity(SHIFT_BITS)),
        ("out_ready", i1),
    ]
    outputs = [("in_ready", i1), ("out_valid", i1), ("out", _ity(d1 * d2 * ob))]

    def body(mod: hw.HWModuleOp) -> dict[str, Value]:
        p = dict(zip([n for n, _ in inputs], mod.entry_block.arguments, strict=True))
        clk, rst = p["clk"], p["rst"]
        # out_valid feeds the stall before its register exists: use a feedback placeholder.
        out_valid_fb = _Feedback(i1)
        en = _or(_not(out_valid_fb.value), p["out_ready"])
        regs = _Regs(clk, en, rst)
        fire = _and(p["in_valid"], en)

        # Input-side k counter: marks the first and last beat of each output tile.
        kc_fb = _Feedback(_ity(K_BOUND_BITS))
        kc = kc_fb.value
        last_in = _cmp("eq", _add(kc, _const(K_BOUND_BITS, 1)), p["k_bound"])
        first_in = _cmp("eq", kc, _const(K_BOUND_BITS, 0))
        kc_next = _mux(last_in, _const(K_BOUND_BITS, 0), _add(kc, _const(K_BOUND_BITS, 1)))
        kc_fb.set(regs.ctrl(_mux(fire, kc_next, kc), "k_count"))

        # Control pipeline: (valid, first, last) travel alongside the data.
        n_stages = 3 + cfg.tree_levels
        v, f, la = fire, first_in, last_in
        for s in range(n_stages):
            v = regs.ctrl(v, f"v_s{s + 1}")
            f = regs.data(f, f"first_s{s + 1}")
            la = regs.data(la, f"last_s{s + 1}")

        # PE array: A/B registers, M register, P register (one DSP48E2 each).
        pw = 2 * ib
        sums: list[Value] = []
        for i in range(d1):
            for j in range(d2):
                prods = []
                for k in range(d3):
                    tag = f"{i}_{j}_{k}"
                    av = regs.data(_extract(p["a"], (i * d3 + k) * ib, ib), f"a_r{tag}")
                    bv = regs.data(_extract(p["b"], (k * d2 + j) * ib, ib), f"b_r{tag}")
                    m = comb.MulOp([_sext(av, pw), _sext(bv, pw)]).result
                    m = regs.data(m, f"m_r{tag}")
                    prods.append(regs.data(m, f"p_r{tag}"))
                # Pipelined adder tree, one register per level; widths grow by one bit per
                # level (capped at acc_bits, where wrap-around matches int32 accumulation).
                level, lvl = prods, 0
                while len(level) > 1:
                    lvl += 1
                    w = min(cfg.acc_bits, pw + lvl)
                    nxt = []
                    for t in range(0, len(level), 2):
                        if t + 1 < len(level):
                            s_ = _add(_sext(level[t], w), _sext(level[t + 1], w))
                        else:
                            s_ = _sext(level[t], w)
                        nxt.append(regs.data(s_, f"t{lvl}_r{i}_{j}_{t // 2}"))
                    level = nxt
                sums.append(_sext(level[0], cfg.acc_bits))

        # Accumulators: acc = (first ? 0 : acc) + sum, int32 wrap.
        zero_acc = _const(cfg.acc_bits, 0)
        accs = []
        for idx, s_ in enumerate(sums):
            fb = _Feedback(_ity(cfg.acc_bits))
            nxt = _add(_mux(f, zero_acc, fb.value), s_)
            acc = regs.data(_mux(v, nxt, fb.value), f"acc_r{idx // d2}_{idx % d2}")
            fb.set(acc)
            accs.append(acc)
        done = regs.ctrl(_and(v, la), "acc_done")

        # Requantize + output register (writeback stage).
        outs = [_requantize(acc, p["shift"], ob) for acc in accs]
        bus = comb.ConcatOp(list(reversed(outs))).result if len(outs) > 1 else outs[0]
        out_fb = _Feedback(bus.type)
        out_r = regs.data(_mux(done, bus, out_fb.value), "out_r")
        out_fb.set(out_r)
        out_valid = regs.ctrl(done, "out_valid_r")
        out_valid_fb.set(out_valid)
        return {"in_ready": en, "out_valid": out_valid, "out": out_r}

    return hw.HWModuleOp(name, inputs, outputs, body_builder=body)


class _Feedback:
    """A value used before it is defined (register feedback): a placeholder constant whose
    uses are redirected to the real value by ``set``."""

    def __init__(self, ty: Type) -> None:
        self._ph = hw.ConstantOp(IntegerAttr.get(ty, 0))
        self.value: Value = self._ph.result

    def set(self, v: Value) -> None:
        self._ph.result.replace_all_uses_with(v)
        self._ph.operation.erase()
