"""Small builders over CIRCT's hw/comb/seq Python bindings, shared by the generators.

Values are signless integers; the helpers name the few idioms the generators use (constants
from Python ints, sign and zero extension, comparisons, clock-enabled registers, feedback),
plus ``ifdef`` blocks, pipelined DSP48E2 multipliers (``dsp_mul``, and ``dsp_mul2`` for two
8-bit products per DSP) and a pipelined multiplier in LUTs (``fabric_product``).
"""

from __future__ import annotations

from collections.abc import Callable

from circt.dialects import comb, hw, seq, sv
from circt.ir import (
    ArrayAttr,
    Attribute,
    FlatSymbolRefAttr,
    InsertionPoint,
    IntegerAttr,
    IntegerType,
    NoneType,
    Operation,
    StringAttr,
    Type,
    Value,
)


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


def csd(c: int) -> list[tuple[int, int]]:
    """Canonical signed digits of c >= 0: (shift, +1 or -1) with no two adjacent nonzero."""
    digits, b = [], 0
    while c:
        if c & 1:
            d = 2 - (c & 3)  # +1 if c % 4 == 1, -1 if c % 4 == 3
            digits.append((b, d))
            c -= d
        c >>= 1
        b += 1
    return digits


def _tree_sum(terms: list[Value]) -> Value:
    """Sum of the terms as a balanced tree of two-input adds."""
    while len(terms) > 1:
        terms = [
            add(*terms[i : i + 2]) if i + 1 < len(terms) else terms[i]
            for i in range(0, len(terms), 2)
        ]
    return terms[0]


def _sum_depth(n: int) -> int:
    return (n - 1).bit_length()


def mul_const(v: Value, c: int, w: int) -> Value:
    """``v * c`` (unsigned, constant c >= 0) in ``w`` bits as shifts and a balanced tree of
    adds (no multiplier, so synthesis keeps it out of a DSP). The digits are c's binary ones
    or its canonical signed digits (positive terms minus negative terms), whichever gives the
    shallower tree."""
    x = zext(v, w) if width(v) < w else extract(v, 0, w)

    def shifted(b: int) -> Value:
        return x if b == 0 else comb.ShlOp(x, const(w, b)).result

    ones = [b for b in range(c.bit_length()) if (c >> b) & 1]
    if not ones:
        return const(w, 0)
    digits = csd(c)
    pos = [b for b, d in digits if d > 0]
    neg = [b for b, d in digits if d < 0]
    if neg and 1 + _sum_depth(max(len(pos), len(neg))) < _sum_depth(len(ones)):
        return comb.SubOp(
            _tree_sum([shifted(b) for b in pos]), _tree_sum([shifted(b) for b in neg])
        ).result
    return _tree_sum([shifted(b) for b in ones])


def resize(v: Value, w: int) -> Value:
    """Zero-extend or truncate ``v`` to ``w`` bits."""
    n = width(v)
    return v if n == w else zext(v, w) if n < w else extract(v, 0, w)


def _declare_once(kind: str, sym: str, make: Callable[[], object]) -> None:
    """Run ``make`` (which creates the top-level op ``kind`` named ``sym``) in the top-level
    module body, before the module being built, unless that body already holds it."""
    op = InsertionPoint.current.block.owner
    while op.parent is not None and op.parent.name != "builtin.module":
        op = op.parent
    for other in op.parent.regions[0].blocks[0].operations:
        a = other.operation.attributes
        if other.operation.name == kind and StringAttr(a["sym_name"]).value == sym:
            return
    with InsertionPoint(op):
        make()


def ifdef(macro: str) -> tuple[InsertionPoint, InsertionPoint]:
    """An ``` `ifdef macro ... `else ... `endif``` block at the current insertion point; returns
    the insertion points of its two branches. Values cannot leave a branch: assign them to an
    ``sv.wire`` declared before it. Declares ``sv.macro.decl @macro`` at the top level (once)."""
    _declare_once("sv.macro.decl", macro, lambda: sv.MacroDeclOp(macro))
    # sv.IfDefOp's Python wrapper passes an Operation where ODS wants the attribute: build it
    # generically.
    op = Operation.create(
        "sv.ifdef", attributes={"cond": Attribute.parse(f"#sv<macro.ident @{macro}>")}, regions=2
    )
    then_b, else_b = op.regions[0].blocks.append(), op.regions[1].blocks.append()
    return InsertionPoint(then_b), InsertionPoint(else_b)


# DSP48E2 (UltraScale/UltraScale+) as a signed multiplier with all three pipeline stages: the
# A2/B2 input registers (AREG = BREG = 1, so ACASCREG = BCASCREG = 1), MREG and PREG; every
# other register off (the primitive's defaults turn them on, so every one is set); OPMODE =
# X:M, Y:M, Z:0, W:0, ALUMODE = Z + W + X + Y, INMODE = 0 (A2, B2), so P = A[26:0] * B, signed,
# 48 bits. Checked cycle- and bit-exact against Xilinx's unisim DSP48E2 model on the core.
_DSP_INT_PARAMS = {
    "AREG": 1,
    "ACASCREG": 1,
    "BREG": 1,
    "BCASCREG": 1,
    "MREG": 1,
    "PREG": 1,
    "ADREG": 0,
    "DREG": 0,
    "CREG": 0,
    "ALUMODEREG": 0,
    "OPMODEREG": 0,
    "INMODEREG": 0,
    "CARRYINREG": 0,
    "CARRYINSELREG": 0,
}
_DSP_STR_PARAMS = {
    "A_INPUT": "DIRECT",
    "B_INPUT": "DIRECT",
    "AMULTSEL": "A",
    "BMULTSEL": "B",
    "PREADDINSEL": "A",
    "USE_MULT": "MULTIPLY",
    "USE_SIMD": "ONE48",
    "USE_PATTERN_DETECT": "NO_PATDET",
    "USE_WIDEXOR": "FALSE",
}
_DSP_DATA_INPUTS = {  # constant-driven data/control inputs and their widths
    "C": 48,
    "D": 27,
    "ACIN": 30,
    "BCIN": 18,
    "PCIN": 48,
    "INMODE": 5,
    "ALUMODE": 4,
    "CARRYINSEL": 3,
    "CARRYIN": 1,
    "CARRYCASCIN": 1,
    "MULTSIGNIN": 1,
}
_DSP_OPMODE = 0b000000101  # W = 0, Z = 0, Y = M, X = M
_DSP_CE_ON = ("CEA2", "CEB2", "CEM", "CEP")  # the stall enable
_DSP_CE_OFF = ("CEA1", "CEB1", "CEAD", "CEC", "CED", "CEALUMODE", "CECTRL", "CEINMODE", "CECARRYIN")
_DSP_RST = (
    "RSTA",
    "RSTB",
    "RSTC",
    "RSTD",
    "RSTM",
    "RSTP",
    "RSTALLCARRYIN",
    "RSTALUMODE",
    "RSTCTRL",
    "RSTINMODE",
)
DSP_A_BITS, DSP_B_BITS = 27, 18
"""Operand widths of the DSP48E2 multiplier (signed)."""

# A signed product wider than one DSP48E2 is written as partial products that each fit one:
# the 18-bit side in limbs of 17 bits, the 27-bit side in limbs of 26 (a low limb is unsigned,
# so one bit narrower than its port; the top limb is signed and may take the whole port).
LIMB_A, LIMB_B = DSP_B_BITS - 1, DSP_A_BITS - 1


def n_limbs(w: int, limb: int) -> int:
    """Limbs of a signed w-bit value: low limbs of ``limb`` bits, the top one <= limb + 1."""
    return 1 if w <= limb + 1 else 1 + -(-(w - limb - 1) // limb)


def _a_on_short_side(wa: int, wb: int) -> bool:
    """True if a goes to the 18-bit side (fewer partial products; ties: a)."""
    here = n_limbs(wa, LIMB_A) * n_limbs(wb, LIMB_B)
    return here <= n_limbs(wb, LIMB_A) * n_limbs(wa, LIMB_B)


def dsp_products(wa: int, wb: int) -> int:
    """DSP48E2s of a signed ``wa`` x ``wb``-bit product written by ``partial_products``."""
    if not _a_on_short_side(wa, wb):
        wa, wb = wb, wa
    return n_limbs(wa, LIMB_A) * n_limbs(wb, LIMB_B)


def _limbs(v: Value, limb: int) -> list[tuple[Value, int]]:
    """(signed limb, bit offset): low limbs zero-extended to limb + 1 bits, the top one signed."""
    w = width(v)
    count = n_limbs(w, limb)
    out = []
    for i in range(count):
        lo = i * limb
        if i + 1 < count:
            out.append((zext(extract(v, lo, limb), limb + 1), lo))
        else:
            out.append((extract(v, lo, w - lo), lo))
    return out


def partial_products(regs: Regs, a: Value, b: Value, name: str) -> list[Value]:
    """The signed product ``a * b`` as ``dsp_products`` registered partial products (each one
    `dsp_product`), sign-extended and shifted into place at wa + wb bits: their
    sum is the exact product."""
    wa, wb = width(a), width(b)
    if not _a_on_short_side(wa, wb):
        a, b = b, a
    w = wa + wb
    terms = []
    for la, oa in _limbs(a, LIMB_A):
        for lb, ob in _limbs(b, LIMB_B):
            pp = dsp_product(regs, la, lb, f"{name}_pp{len(terms)}")
            placed = comb.ConcatOp([pp, const(oa + ob, 0)]).result if oa + ob else pp
            terms.append(sext(placed, w))  # oa + ob + pw <= w
    return terms


def fabric_product_stages(wa: int, wb: int, addend: bool = False) -> int:
    """Register stages of ``fabric_product``: one per level of its adder tree."""
    rows = min(wa, wb) + (1 if addend else 0)
    return max(1, (rows - 1).bit_length())


def fabric_product(regs: Regs, a: Value, b: Value, name: str, addend: int = 0) -> Value:
    """Unsigned ``a * b + addend`` (``width(a) + width(b) + 1`` bits) in LUTs and carry
    chains, no DSP: one row ``a[i] ? b << i : 0`` per bit of the narrower operand and the
    addend, summed pairwise with a register after every level (``fabric_product_stages``), so
    no stage holds more than one carry chain. Rows are kept at their own offset and width, so
    no adder spans known zero bits."""
    if width(a) > width(b):
        a, b = b, a
    wa, wb = width(a), width(b)
    w = wa + wb + 1
    terms: list[tuple[Value, int]] = [
        (mux(extract(a, i, 1), b, const(wb, 0)), i) for i in range(wa)
    ]
    if addend:
        if addend >= 1 << w - 1:
            raise ValueError(f"fabric_product: addend {addend} needs more than {w - 1} bits")
        terms.append((const(addend.bit_length(), addend), 0))

    def add_terms(x: tuple[Value, int], y: tuple[Value, int]) -> tuple[Value, int]:
        (xv, xo), (yv, yo) = sorted((x, y), key=lambda t: t[1])
        top = min(max(width(xv) + xo, width(yv) + yo) + 1, w)  # the sum's end, at most w
        low = yo - xo  # x's bits below y's offset pass through
        if low >= width(xv):
            hi: Value = yv
            lo = zext(xv, low) if width(xv) < low else xv
        else:
            hx = extract(xv, low, width(xv) - low)
            hw_ = top - yo
            hi = add(zext(hx, hw_), zext(yv, hw_))
            lo = extract(xv, 0, low) if low else None
        v = comb.ConcatOp([hi, lo]).result if lo is not None else hi
        return (extract(v, 0, top - xo) if width(v) > top - xo else v), xo

    level = 0
    while len(terms) > 1 or level == 0:
        nxt = []
        for i in range(0, len(terms), 2):
            t = add_terms(terms[i], terms[i + 1]) if i + 1 < len(terms) else terms[i]
            nxt.append((regs.data(t[0], f"{name}_l{level}_{i // 2}"), t[1]))
        terms, level = nxt, level + 1
    v, off = terms[0]
    v = comb.ConcatOp([v, const(off, 0)]).result if off else v
    return zext(v, w) if width(v) < w else extract(v, 0, w)


# The packed variant (``dsp_mul2``) differs in: D register on (DREG, CED = the stall enable),
# INMODE = 0b00100 (AD = D + A2), AMULTSEL = AD, C = 2**17 and OPMODE W = C, so
# P = (D + A) * B + 2**17. Checked the same way: i8 cores with packed (and, for odd d2, single)
# DSPs bit- and cycle-exact, with and without stalls, against the unisim model.
_DSP2_INT_PARAMS = _DSP_INT_PARAMS | {"DREG": 1}
_DSP2_STR_PARAMS = _DSP_STR_PARAMS | {"AMULTSEL": "AD"}
_DSP2_OPMODE = 0b110000101  # W = C, Z = 0, Y = M, X = M
_DSP2_INMODE = 0b00100  # B2, AD = D + A2
PACK_SHIFT = 18
"""The second packed operand sits this many bits up in the pre-adder's input."""


# The single-stage variant (``dsp_product``): the M register only. A and B come straight from
# fabric registers and P = M through the ALU, so the DSP is a product register in one cycle.
_DSPM_INT_PARAMS = _DSP_INT_PARAMS | {
    "AREG": 0,
    "ACASCREG": 0,
    "BREG": 0,
    "BCASCREG": 0,
    "PREG": 0,
}


def _dsp48e2_params(ints: dict[str, int], strs: dict[str, str]) -> list[Attribute]:
    i32 = ity(32)
    out = [hw.ParamDeclAttr.get(n, i32, IntegerAttr.get(i32, v)) for n, v in ints.items()]
    none = NoneType.get()
    out += [hw.ParamDeclAttr.get(n, none, StringAttr.get(v)) for n, v in strs.items()]
    return out


def _dsp48e2_inputs() -> list[tuple[str, Type]]:
    ins = [("CLK", seq.ClockType.get()), ("A", ity(30)), ("B", ity(18)), ("OPMODE", ity(9))]
    ins += [(n, ity(w)) for n, w in _DSP_DATA_INPUTS.items()]
    ins += [(n, ity(1)) for n in (*_DSP_CE_ON, *_DSP_CE_OFF, *_DSP_RST)]
    return ins


def _dsp48e2(
    clk: Value,
    a: Value,
    b: Value,
    en: Value,
    enables: tuple[str, ...],
    ints: dict[str, int],
    inst: str,
    p_name: str,
) -> Value:
    """A DSP48E2 instance `inst` with P = A * B (A = `a`, up to 27 bits, B = `b`, up to 18,
    both signed), parameters `ints` and `_DSP_STR_PARAMS`, the clock enables `enables` on `en`
    and every other one off; returns P (48 bits). Its wire `p_name` is declared here, in the
    `ifdef SYNTHESIS` branch (ExportVerilog would declare an instance's output at module
    level, undriven and unused in simulation)."""
    ext = _dsp48e2_extern()
    ins = _dsp48e2_inputs()
    vals = {"CLK": clk, "A": sext(a, 30), "B": sext(b, 18), "OPMODE": const(9, _DSP_OPMODE)}
    vals |= {n: const(w, 0) for n, w in _DSP_DATA_INPUTS.items()}
    vals |= {n: en for n in enables}
    vals |= {n: const(1, 0) for n, _ in ins if n not in vals}
    params = _dsp48e2_params(ints, _DSP_STR_PARAMS)
    (p,) = _instance(ext, inst, {n: vals[n] for n, _ in ins}, {"P": 48}, params)
    p48 = sv.WireOp(hw.InOutType.get(ity(48)), p_name).result
    sv.AssignOp(p48, p)
    return sv.ReadInOutOp(p48).result


def dsp_mul(clk: Value, en: Value, a: Value, b: Value, tag: str) -> Value:
    """Signed ``a * b`` (``width(a) + width(b)`` bits, ``a`` up to 27 and ``b`` up to 18 bits)
    through three clock-enabled pipeline stages: input registers, product register, output
    register; the result appears 3 enabled cycles after its operands. No reset.

    For synthesis (``SYNTHESIS`` defined, as yosys and Vivado do) this is one DSP48E2
    instance with AREG = BREG = MREG = PREG = 1 and CEA2/CEB2/CEM/CEP = ``en``: yosys's
    ``xilinx_dsp`` packs registers into DSP48E1 (xc7) only, so for xcu/xcup an inferred
    multiplier keeps every register in the fabric. For simulation it is the same pipeline as
    registers ``a_r<tag>``, ``b_r<tag>``, ``m_r<tag>``, ``p_r<tag>``.
    """
    wa, wb = width(a), width(b)
    if wa > DSP_A_BITS or wb > DSP_B_BITS:
        raise ValueError(f"dsp_mul: {wa} x {wb} bits does not fit one DSP48E2 (27 x 18)")
    pw = wa + wb
    wire = sv.WireOp(hw.InOutType.get(ity(pw)), f"prod_{tag}").result
    syn, sim = ifdef("SYNTHESIS")
    with syn:
        p = _dsp48e2(clk, a, b, en, _DSP_CE_ON, _DSP_INT_PARAMS, f"dsp_{tag}", f"dsp_p_{tag}")
        sv.AssignOp(wire, extract(p, 0, pw))
    with sim:

        def reg(v: Value, name: str) -> Value:
            return seq.CompRegClockEnabledOp(v.type, v, clk, en, name=name).result

        av, bv = reg(a, f"a_r{tag}"), reg(b, f"b_r{tag}")
        m = reg(comb.MulOp([sext(av, pw), sext(bv, pw)]).result, f"m_r{tag}")
        sv.AssignOp(wire, reg(m, f"p_r{tag}"))
    return sv.ReadInOutOp(wire).result


def dsp_mul2(
    clk: Value, en: Value, a: Value, b0: Value, b1: Value, tag: str
) -> tuple[Value, Value]:
    """Signed ``a * b0`` and ``a * b1`` from one DSP48E2 (operands up to 8 bits each), with the
    same three clock-enabled stages and latency as `dsp_mul`.

    The pre-adder forms ``b1 * 2**18 + b0`` (D = b0, A = b1 << 18), the multiplier takes ``a``
    on B, and the ALU adds the constant 2**17 (C, OPMODE W = C): ``P = a*b0 + a*b1*2**18 +
    2**17``. With ``|a*b0| < 2**16``, ``P[34:18]`` is exactly ``a*b1`` (the constant absorbs the
    borrow of a negative ``a*b0``) and ``P[16:0]`` is ``a*b0``, both returned as 17-bit signed
    values: no fabric adder corrects anything.
    Simulation computes the same packed product with one multiply, so every design simulated
    with 8-bit operands exercises this arithmetic.
    """
    wa, w0, w1 = width(a), width(b0), width(b1)
    if max(wa, w0, w1) > 8:
        raise ValueError(f"dsp_mul2: operands of {wa}, {w0}, {w1} bits (at most 8 each)")
    ow = PACK_SHIFT - 1  # both products as 17-bit values: P[16:0] and P[34:18]
    ext = _dsp48e2_extern()
    lo_w = sv.WireOp(hw.InOutType.get(ity(ow)), f"prod_lo_{tag}").result
    hi_w = sv.WireOp(hw.InOutType.get(ity(ow)), f"prod_hi_{tag}").result
    syn, sim = ifdef("SYNTHESIS")
    with syn:
        ins = _dsp48e2_inputs()
        high = comb.ConcatOp([sext(b1, DSP_A_BITS - PACK_SHIFT), const(PACK_SHIFT, 0)]).result
        vals = {"CLK": clk, "A": sext(high, 30), "B": sext(a, 18), "D": sext(b0, 27)}
        vals |= {"OPMODE": const(9, _DSP2_OPMODE), "INMODE": const(5, _DSP2_INMODE)}
        vals |= {"C": const(48, 1 << (PACK_SHIFT - 1))}
        vals |= {n: const(w, 0) for n, w in _DSP_DATA_INPUTS.items() if n not in vals}
        vals |= {n: en for n in (*_DSP_CE_ON, "CED")}
        vals |= {n: const(1, 0) for n in (*_DSP_CE_OFF, *_DSP_RST) if n not in vals}
        params = _dsp48e2_params(_DSP2_INT_PARAMS, _DSP2_STR_PARAMS)
        (p,) = _instance(ext, f"dsp2_{tag}", {n: vals[n] for n, _ in ins}, {"P": 48}, params)
        p48 = sv.WireOp(hw.InOutType.get(ity(48)), f"dsp_p_{tag}").result
        sv.AssignOp(p48, p)
        pv = sv.ReadInOutOp(p48).result
        sv.AssignOp(lo_w, extract(pv, 0, ow))
        sv.AssignOp(hi_w, extract(pv, PACK_SHIFT, ow))
    with sim:

        def reg(v: Value, name: str) -> Value:
            return seq.CompRegClockEnabledOp(v.type, v, clk, en, name=name).result

        av, lo, hi = reg(a, f"a_r{tag}"), reg(b0, f"d_r{tag}"), reg(b1, f"b1_r{tag}")
        packed = comb.ConcatOp([sext(hi, DSP_A_BITS - PACK_SHIFT), const(PACK_SHIFT, 0)]).result
        ad = add(packed, sext(lo, DSP_A_BITS))  # the pre-adder, 27 bits
        mw = PACK_SHIFT + ow  # the bits of P that are read, computed modulo 2**mw
        m = reg(comb.MulOp([sext(av, mw), sext(ad, mw)]).result, f"m_r{tag}")
        # P = M + 2**17: bits 16..0 are M's; bits 34..18 are M's plus M's bit 17 (the carry)
        carry = zext(extract(m, PACK_SHIFT - 1, 1), ow)
        sv.AssignOp(lo_w, reg(extract(m, 0, ow), f"p_lo_r{tag}"))
        sv.AssignOp(hi_w, reg(add(extract(m, PACK_SHIFT, ow), carry), f"p_hi_r{tag}"))
    return sv.ReadInOutOp(lo_w).result, sv.ReadInOutOp(hi_w).result


def dsp_product(regs: Regs, a: Value, b: Value, name: str) -> Value:
    """Signed ``a * b`` (``width(a) + width(b)`` bits, one operand up to 18 bits and the other
    up to 27) registered once: the product of operands that are fabric registers, one
    clock-enabled stage later, as a register after a multiply would give it. No reset.

    For synthesis this is one DSP48E2 with only its M register on (``_DSPM_INT_PARAMS``,
    CEM = the stage enable): yosys would infer a DSP48E2 with no register in it and leave the
    product register in the fabric, a multiply with no register between the operand and
    product flip-flops. For simulation it is the register ``name``.
    """
    wa, wb = width(a), width(b)
    if wa > DSP_B_BITS:
        a, b, wa, wb = b, a, wb, wa
    if wa > DSP_B_BITS or wb > DSP_A_BITS:
        raise ValueError(f"dsp_product: {wa} x {wb} bits does not fit one DSP48E2 (27 x 18)")
    pw = wa + wb
    wire = sv.WireOp(hw.InOutType.get(ity(pw)), f"{name}_p").result
    syn, sim = ifdef("SYNTHESIS")
    with syn:
        p = _dsp48e2(
            regs.clk, b, a, regs.en, ("CEM",), _DSPM_INT_PARAMS, f"dspm_{name}", f"{name}_p48"
        )
        sv.AssignOp(wire, extract(p, 0, pw))
    with sim:
        sv.AssignOp(wire, regs.data(comb.MulOp([sext(a, pw), sext(b, pw)]).result, name))
    return sv.ReadInOutOp(wire).result


def _mul_module(name: str, widths: dict[str, int], outs: dict[str, int], build: Callable) -> None:
    """Declare (once) a module holding one multiplier built by ``build(clk, en, *operands)``,
    which returns its outputs in the order of ``outs``."""

    def make() -> None:
        ins = [("clk", seq.ClockType.get()), ("en", ity(1))]
        ins += [(n, ity(w)) for n, w in widths.items()]

        def body(mod: hw.HWModuleOp) -> dict[str, Value]:
            return dict(zip(outs, build(*mod.entry_block.arguments), strict=True))

        hw.HWModuleOp(name, ins, [(n, ity(w)) for n, w in outs.items()], body_builder=body)

    _declare_once("hw.module", name, make)


def _instance(
    module: str,
    tag: str,
    args: dict[str, Value],
    outs: dict[str, int],
    params: list[Attribute] | None = None,
) -> list[Value]:
    """An instance `tag` of the module named `module` with parameters `params`: its outputs,
    in the order of `outs`."""
    inst = hw.InstanceOp(
        [ity(w) for w in outs.values()],
        tag,
        FlatSymbolRefAttr.get(module),
        list(args.values()),
        list(args),
        list(outs),
        ArrayAttr.get(params or []),
    )
    return list(inst.results)


def pe_mul(clk: Value, en: Value, a: Value, b: Value, tag: str) -> Value:
    """`dsp_mul` as an instance (``mul_<tag>``) of a module holding it, one module per operand
    widths: a PE array then emits one multiplier and an instance per PE, not the DSP48E2 and
    its simulation model inlined thousands of times."""
    wa, wb = width(a), width(b)
    name, outs = f"intar_mul_{wa}x{wb}", {"p": wa + wb}
    _mul_module(name, {"a": wa, "b": wb}, outs, lambda c, e, x, y: [dsp_mul(c, e, x, y, "")])
    return _instance(name, f"mul_{tag}", {"clk": clk, "en": en, "a": a, "b": b}, outs)[0]


def pe_mul2(clk: Value, en: Value, a: Value, b0: Value, b1: Value, tag: str) -> tuple[Value, Value]:
    """`dsp_mul2` as an instance (``mul2_<tag>``) of a module holding it (see `pe_mul`)."""
    wa, w0, w1 = width(a), width(b0), width(b1)
    name, outs = f"intar_mul2_{wa}x{w0}x{w1}", {"lo": PACK_SHIFT - 1, "hi": PACK_SHIFT - 1}
    _mul_module(
        name, {"a": wa, "b0": w0, "b1": w1}, outs, lambda c, e, x, y, z: dsp_mul2(c, e, x, y, z, "")
    )
    args = {"clk": clk, "en": en, "a": a, "b0": b0, "b1": b1}
    lo, hi = _instance(name, f"mul2_{tag}", args, outs)
    return lo, hi


def _dsp48e2_extern() -> str:
    """Declare ``hw.module.extern @DSP48E2`` at the top level (once); returns its name."""
    name = "DSP48E2"

    def make() -> None:
        i32, none = ity(32), NoneType.get()
        params = [hw.ParamDeclAttr.get_nodefault(n, i32) for n in _DSP_INT_PARAMS]
        params += [hw.ParamDeclAttr.get_nodefault(n, none) for n in _DSP_STR_PARAMS]
        # a fresh attributes dict: the binding's default ({}) is shared and it stores a
        # context-bound "comment" attribute in it
        hw.HWModuleExternOp(
            name, _dsp48e2_inputs(), [("P", ity(48))], parameters=params, attributes={}
        )

    _declare_once("hw.module.extern", name, make)
    return name
