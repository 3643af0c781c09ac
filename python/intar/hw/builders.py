"""Small builders over CIRCT's hw/comb/seq Python bindings, shared by the generators.

Values are signless integers; the helpers name the few idioms the generators use (constants
from Python ints, sign and zero extension, comparisons, clock-enabled registers, feedback).
"""

from __future__ import annotations

from circt.dialects import comb, hw, seq
from circt.ir import IntegerAttr, IntegerType, Type, Value


def ity(w: int) -> Type:
    return IntegerType.get_signless(w)


def const(w: int, v: int) -> Value:
    v &= (1 << w) - 1
    if v >= 1 << (w - 1):  # IntegerAttr takes the signed value for wide constants
        v -= 1 << w
    return hw.ConstantOp(IntegerAttr.get(ity(w), v)).result


def width(v: Value) -> int:
    return IntegerType(v.type).width


def extract(v: Value, lo: int, w: int) -> Value:
    return comb.ExtractOp(ity(w), v, lo).result


def sext(v: Value, w: int) -> Value:
    n = width(v)
    if w == n:
        return v
    if w < n:
        return extract(v, 0, w)
    msb = extract(v, n - 1, 1)
    return comb.ConcatOp([comb.ReplicateOp(ity(w - n), msb).result, v]).result


def zext(v: Value, w: int) -> Value:
    n = width(v)
    if w == n:
        return v
    return comb.ConcatOp([const(w - n, 0), v]).result


def add(a: Value, b: Value) -> Value:
    return comb.AddOp([a, b]).result


def mux(c: Value, t: Value, f: Value) -> Value:
    return comb.MuxOp(c, t, f).result


def and_(*xs: Value) -> Value:
    return comb.AndOp(list(xs)).result


def or_(*xs: Value) -> Value:
    return comb.OrOp(list(xs)).result


def not_(x: Value) -> Value:
    return comb.XorOp([x, const(1, 1)]).result


def cmp(pred: str, a: Value, b: Value) -> Value:
    preds = {"eq": 0, "ne": 1, "slt": 2, "sle": 3, "sgt": 4, "sge": 5, "ult": 6, "ugt": 8}
    return comb.ICmpOp(IntegerAttr.get(ity(64), preds[pred]), a, b).result


class Regs:
    """Register factory: clock-enabled registers, optionally with synchronous reset."""

    def __init__(self, clk: Value, en: Value, rst: Value) -> None:
        self.clk, self.en, self.rst = clk, en, rst

    def data(self, v: Value, name: str) -> Value:
        """Pipeline data register (no reset, so it can sit in a DSP48E2)."""
        return seq.CompRegClockEnabledOp(v.type, v, self.clk, self.en, name=name).result

    def ctrl(self, v: Value, name: str) -> Value:
        """Control register, reset to 0."""
        zero = const(width(v), 0)
        return seq.CompRegClockEnabledOp(
            v.type, v, self.clk, self.en, reset=self.rst, reset_value=zero, name=name
        ).result


class Feedback:
    """A value used before it is defined (register feedback): a placeholder constant whose
    uses are redirected to the real value by ``set``."""

    def __init__(self, ty: Type) -> None:
        self._ph = hw.ConstantOp(IntegerAttr.get(ty, 0))
        self.value: Value = self._ph.result

    def set(self, v: Value) -> None:
        self._ph.result.replace_all_uses_with(v)
        self._ph.operation.erase()


class Reg:
    """A clock-enabled register ``q`` whose next value and enable are set later (``next``)."""

    def __init__(self, clk: Value, rst: Value | None, w: int, name: str, init: int = 0) -> None:
        self._d, self._en = Feedback(ity(w)), Feedback(ity(1))
        kw = {} if rst is None else {"reset": rst, "reset_value": const(w, init)}
        self.q: Value = seq.CompRegClockEnabledOp(
            ity(w), self._d.value, clk, self._en.value, name=name, **kw
        ).result

    def next(self, d: Value, en: Value | None = None) -> None:
        self._d.set(d)
        self._en.set(const(1, 1) if en is None else en)


def rom(sel: Value, values: list[int], w: int) -> Value:
    """``values[sel]`` as a mux chain over constants (``sel`` past the end reads the last)."""
    sw = width(sel)
    out = const(w, values[-1])
    for idx in range(len(values) - 2, -1, -1):
        out = mux(cmp("eq", sel, const(sw, idx)), const(w, values[idx]), out)
    return out


def bits_for(v: int) -> int:
    """Bits to hold the unsigned value ``v`` (at least 1)."""
    return max(1, v.bit_length())


def mul_const(v: Value, c: int, w: int) -> Value:
    """``v * c`` (unsigned, constant c >= 0) in ``w`` bits as shifts and adds, no multiplier."""
    x = zext(v, w) if width(v) < w else extract(v, 0, w)
    acc: Value | None = None
    for b in range(c.bit_length()):
        if (c >> b) & 1:
            term = x if b == 0 else comb.ShlOp(x, const(w, b)).result
            acc = term if acc is None else add(acc, term)
    return const(w, 0) if acc is None else acc


def resize(v: Value, w: int) -> Value:
    """Zero-extend or truncate ``v`` to ``w`` bits."""
    n = width(v)
    return v if n == w else zext(v, w) if n < w else extract(v, 0, w)
