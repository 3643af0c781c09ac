"""Fixed-point primitives and the integer approximations of the special functions.

Everything here is exact integer arithmetic on int64 numpy arrays (Python ints only for the
per-row scalars of layernorm, which may exceed 64 bits). Each step maps onto adders, shifts,
comparators, small multipliers, small ROMs and, for softmax and layernorm, one divider per
row. docs/golden-model.md gives the formulas, constants and intermediate bit widths.

Fixed-point convention: a value `v` with `f` fractional bits means `v / 2**f`. The
approximations work internally in Q.16 (`WORK_FRAC`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
ArrayLike = npt.ArrayLike

#: Fractional bits of the internal working format of every approximation.
WORK_FRAC = 16
#: 1.0 in the working format.
ONE = 1 << WORK_FRAC
#: Largest `frac_bits` any approximation accepts.
MAX_FRAC_BITS = 32
#: Largest shift `round_shift` accepts.
MAX_SHIFT = 62

#: Fractional bits of the log2(e) constant.
LOG2E_FRAC = 23
#: round(log2(e) * 2**23); 24-bit unsigned constant (relative error 1.3e-8).
LOG2E_Q23 = 12102203
#: |x| is clamped to this many units before the exponential; exp(+-64) saturates or is 0.
EXP_INPUT_LIMIT = 64
#: Fractional bits of the 2**r polynomial coefficients.
POW2_COEFF_FRAC = 20
#: 2**r ~ 1 + c1 r + c2 r^2 + c3 r^3 + c4 r^4 on r in [0, 1); (c1, c2, c3, c4) in Q.20.
POW2_COEFFS: tuple[int, int, int, int] = (726696, 253105, 54560, 14214)

#: Fractional bits of the softmax numerators e_j = exp(x_j - max).
SOFTMAX_EXP_FRAC = 20
#: Reciprocal precision of softmax: recip = 2**SOFTMAX_RECIP_BITS // row_sum.
SOFTMAX_RECIP_BITS = 52

#: Layernorm: the variance is normalised by an even shift to RSQRT_NORM_BITS - 1 or
#: RSQRT_NORM_BITS bits, its 24-bit square root s is taken, then r = 2**RSQRT_RECIP_BITS // s.
RSQRT_NORM_BITS = 48
RSQRT_RECIP_BITS = 48
#: Fractional bits of the normalised value z = (x - mean) / std inside layernorm.
LN_Z_FRAC = 16
#: Epsilon added to the integer variance, in units of (input LSB)**2.
LN_EPS = 1

#: Piecewise-linear tables: GELU(x) = relu(x) - h(|x|), SiLU(x) = relu(x) - g(|x|), with
#: h(a) = a * Phi(-a) and g(a) = a * sigmoid(-a) tabulated in Q.16 at knots a = k / 16.
PWL_STEP_BITS = 4
GELU_RANGE = 4
SILU_RANGE = 16

# fmt: off
GELU_TABLE: tuple[int, ...] = (
    13, 1959, 3701, 5243, 6587, 7739, 8707, 9497, 10120, 10585, 10903, 11086,
    11146, 11095, 10946, 10711, 10402, 10030, 9609, 9147, 8656, 8144, 7621, 7093,
    6567, 6049, 5545, 5059, 4593, 4150, 3733, 3343, 2980, 2645, 2337, 2056,
    1801, 1571, 1364, 1180, 1016, 872, 744, 633, 536, 452, 380, 318,
    265, 220, 182, 150, 123, 100, 81, 66, 53, 43, 34, 27,
    22, 17, 13, 11, 0,
)
SILU_TABLE: tuple[int, ...] = (
    8, 1992, 3848, 5578, 7181, 8661, 10018, 11256, 12378, 13387, 14287, 15082,
    15775, 16372, 16877, 17295, 17630, 17888, 18074, 18192, 18247, 18245, 18189, 18084,
    17936, 17747, 17522, 17266, 16981, 16671, 16340, 15990, 15625, 15247, 14859, 14462,
    14060, 13654, 13246, 12837, 12428, 12023, 11620, 11222, 10829, 10442, 10062, 9689,
    9324, 8967, 8619, 8280, 7950, 7629, 7317, 7015, 6723, 6440, 6166, 5902,
    5646, 5400, 5163, 4934, 4714, 4503, 4300, 4104, 3917, 3737, 3564, 3398,
    3240, 3088, 2942, 2803, 2670, 2542, 2421, 2304, 2193, 2087, 1985, 1888,
    1796, 1708, 1624, 1543, 1467, 1394, 1325, 1258, 1195, 1135, 1078, 1024,
    972, 923, 876, 831, 789, 749, 710, 674, 639, 606, 575, 545,
    517, 490, 465, 441, 418, 396, 375, 356, 337, 319, 303, 287,
    272, 257, 244, 231, 219, 207, 196, 186, 176, 166, 158, 149,
    141, 134, 126, 120, 113, 107, 101, 96, 91, 86, 81, 77,
    73, 69, 65, 62, 58, 55, 52, 49, 47, 44, 42, 39,
    37, 35, 33, 31, 30, 28, 27, 25, 24, 22, 21, 20,
    19, 18, 17, 16, 15, 14, 13, 13, 12, 11, 11, 10,
    10, 9, 9, 8, 8, 7, 7, 6, 6, 6, 5, 5,
    5, 5, 4, 4, 4, 4, 3, 3, 3, 3, 3, 3,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0,
)
# fmt: on


# --------------------------------------------------------------------------------------
# Primitives
# --------------------------------------------------------------------------------------


def as_int_array(x: ArrayLike, name: str = "x") -> IntArray:
    """`x` as an int64 array; ValueError unless it holds integers."""
    arr = np.asarray(x)
    if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{name} must hold integers, got dtype {arr.dtype}")
    return arr.astype(np.int64, copy=False)


def check_bits(bits: int, name: str = "bits", *, low: int = 1, high: int = 63) -> None:
    """ValueError unless `bits` is an int in [low, high]."""
    if isinstance(bits, bool) or not isinstance(bits, int | np.integer) or not low <= bits <= high:
        raise ValueError(f"{name} must be an integer in [{low}, {high}], got {bits!r}")


def check_frac_bits(frac_bits: int, name: str = "frac_bits") -> None:
    """ValueError unless 0 <= frac_bits <= MAX_FRAC_BITS."""
    check_bits(frac_bits, name, low=0, high=MAX_FRAC_BITS)


def saturate(x: ArrayLike, bits: int) -> IntArray:
    """Clip to the signed range [-2**(bits-1), 2**(bits-1) - 1]."""
    check_bits(bits)
    lo = -(1 << (bits - 1))
    return np.clip(as_int_array(x), lo, -lo - 1)


def round_shift(x: ArrayLike, shift: ArrayLike) -> IntArray:
    """Arithmetic shift right by `shift`, rounding half up: (x + 2**(shift-1)) >> shift.

    `shift` may be an int or an int array broadcastable against `x`; each shift must be in
    [0, 62] (0 is the identity) and |x| < 2**62 so that nothing wraps.
    """
    xa = as_int_array(x)
    sa = as_int_array(shift, "shift")
    if sa.size and (int(sa.min()) < 0 or int(sa.max()) > MAX_SHIFT):
        raise ValueError(f"shift must be in [0, {MAX_SHIFT}], got {shift!r}")
    return (xa + ((np.int64(1) << sa) >> 1)) >> sa


def wrap32(x: ArrayLike) -> IntArray:
    """Two's-complement wrap to int32 (the low 32 bits, read as signed)."""
    xa = as_int_array(x)
    return ((xa + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


def to_work(x: ArrayLike, frac_bits: int) -> IntArray:
    """Q.frac_bits -> Q.16: exact left shift, or a rounded right shift when frac_bits > 16."""
    xa = as_int_array(x)
    if frac_bits <= WORK_FRAC:
        return xa << (WORK_FRAC - frac_bits)
    return round_shift(xa, frac_bits - WORK_FRAC)


def from_work(y: ArrayLike, frac_bits: int) -> IntArray:
    """Q.16 -> Q.frac_bits: rounded right shift, or an exact left shift when frac_bits > 16."""
    ya = as_int_array(y)
    if frac_bits <= WORK_FRAC:
        return round_shift(ya, WORK_FRAC - frac_bits)
    return ya << (frac_bits - WORK_FRAC)


# --------------------------------------------------------------------------------------
# Exponential
# --------------------------------------------------------------------------------------


def pow2_frac(r: ArrayLike) -> IntArray:
    """2**(r / 2**16) in Q.16 for r in [0, 2**16): a quartic in Horner form.

    q4 = c4; q_j = c_j + round_shift(r * q_{j+1}, 16) for j = 3, 2, 1 (all Q.20), then
    p = 2**16 + round_shift(r * q1, 20). p(0) = 2**16, p is non-decreasing, p < 2**17.
    """
    ra = as_int_array(r, "r")
    c1, c2, c3, c4 = POW2_COEFFS
    q = np.full_like(ra, c4)
    for c in (c3, c2, c1):
        q = c + round_shift(ra * q, WORK_FRAC)
    return ONE + round_shift(ra * q, POW2_COEFF_FRAC)


def exp2_parts(t: ArrayLike) -> tuple[IntArray, IntArray]:
    """Split exp(t / 2**16) = p / 2**16 * 2**n for t in Q.16 with |t| <= 64 * 2**16.

    z = round_shift(t * LOG2E_Q23, 23) is t * log2(e) in Q.16; n = z >> 16 (floor),
    r = z & 0xFFFF and p = pow2_frac(r). Returns (n, p).
    """
    ta = as_int_array(t, "t")
    z = round_shift(ta * LOG2E_Q23, LOG2E_FRAC)
    n = z >> WORK_FRAC
    return n, pow2_frac(z & (ONE - 1))


def _clamp_exp_input(x: IntArray, frac_bits: int) -> IntArray:
    limit = EXP_INPUT_LIMIT << frac_bits
    return np.clip(x, -limit, limit)


def exp_fixed(x: ArrayLike, frac_bits: int, out_bits: int) -> IntArray:
    """exp of Q.frac_bits input, as Q.frac_bits output saturated to `out_bits`.

    x is clamped to [-64, 64] (real units), converted to Q.16 (`to_work`), split by
    `exp2_parts` into (n, p); the result is p * 2**s with s = n + frac_bits - 16: a left
    shift when s >= 0, else round_shift(p, -s); then saturated. Shifts are clamped to
    [-62, 40], which does not change any result.
    """
    check_frac_bits(frac_bits)
    check_bits(out_bits, "out_bits")
    xa = as_int_array(x)
    n, p = exp2_parts(to_work(_clamp_exp_input(xa, frac_bits), frac_bits))
    s = n + (frac_bits - WORK_FRAC)
    left = p << np.clip(s, 0, 40)
    right = round_shift(p, np.clip(-s, 0, MAX_SHIFT))
    return saturate(np.where(s >= 0, left, right), out_bits)


def exp_nonpos(d: ArrayLike, frac_bits: int, out_frac: int = SOFTMAX_EXP_FRAC) -> IntArray:
    """exp(d) in Q.out_frac for d <= 0 in Q.frac_bits; exp(0) is exactly 2**out_frac.

    Same pipeline as `exp_fixed`: clamp to -64, `to_work`, `exp2_parts` (n <= 0), then
    p * 2**(n + out_frac - 16): round_shift(p, min(16 - out_frac - n, 62)), or an exact
    left shift when that amount is negative. Results lie in [0, 2**out_frac].
    """
    check_frac_bits(frac_bits)
    check_bits(out_frac, "out_frac", low=WORK_FRAC, high=MAX_FRAC_BITS)
    da = as_int_array(d, "d")
    if da.size and int(da.max()) > 0:
        raise ValueError("exp_nonpos needs non-positive inputs")
    n, p = exp2_parts(to_work(_clamp_exp_input(da, frac_bits), frac_bits))
    s = n + (out_frac - WORK_FRAC)
    left = p << np.clip(s, 0, out_frac - WORK_FRAC)
    right = round_shift(p, np.clip(-s, 0, MAX_SHIFT))
    return np.where(s >= 0, left, right)


# --------------------------------------------------------------------------------------
# GELU and SiLU
# --------------------------------------------------------------------------------------


def pwl_lookup(a: ArrayLike, table: Sequence[int], value_range: int) -> IntArray:
    """Linear interpolation of `table` (knots k / 16, Q.16) at a >= 0 in Q.16; 0 beyond range.

    k = a >> 12, u = a & 0xFFF, result = T[k] + round_shift((T[k+1] - T[k]) * u, 12)
    for a < value_range * 2**16, else 0.
    """
    aa = as_int_array(a, "a")
    tab = np.asarray(table, dtype=np.int64)
    if len(tab) != (value_range << PWL_STEP_BITS) + 1:
        raise ValueError("table length does not match its range")
    seg_shift = WORK_FRAC - PWL_STEP_BITS
    inside = aa < (value_range << WORK_FRAC)
    ac = np.where(inside, aa, 0)
    k = ac >> seg_shift
    u = ac & ((1 << seg_shift) - 1)
    lo = tab[k]
    return np.where(inside, lo + round_shift((tab[k + 1] - lo) * u, seg_shift), 0)


def _odd_correction_act(
    x: ArrayLike, frac_bits: int, out_bits: int, table: Sequence[int], value_range: int
) -> IntArray:
    check_frac_bits(frac_bits)
    check_bits(out_bits, "out_bits")
    xa = as_int_array(x)
    a = np.minimum(np.abs(xa), value_range << frac_bits)
    corr = pwl_lookup(to_work(a, frac_bits), table, value_range)
    return saturate(np.maximum(xa, 0) - from_work(corr, frac_bits), out_bits)


def gelu_fixed(x: ArrayLike, frac_bits: int, out_bits: int) -> IntArray:
    """GELU on Q.frac_bits: relu(x) - h(|x|) with h(a) = a * Phi(-a) from GELU_TABLE."""
    return _odd_correction_act(x, frac_bits, out_bits, GELU_TABLE, GELU_RANGE)


def silu_fixed(x: ArrayLike, frac_bits: int, out_bits: int) -> IntArray:
    """SiLU on Q.frac_bits: relu(x) - g(|x|) with g(a) = a * sigmoid(-a) from SILU_TABLE."""
    return _odd_correction_act(x, frac_bits, out_bits, SILU_TABLE, SILU_RANGE)


# --------------------------------------------------------------------------------------
# Softmax and layernorm pieces
# --------------------------------------------------------------------------------------


def softmax_reciprocal(row_sum: ArrayLike) -> IntArray:
    """floor(2**52 / row_sum): the one divide per softmax row (row_sum >= 1)."""
    s = as_int_array(row_sum, "row_sum")
    if s.size and int(s.min()) < 1:
        raise ValueError("softmax row sums must be positive")
    return (np.int64(1) << SOFTMAX_RECIP_BITS) // s


def inv_sqrt(v: int) -> tuple[int, int]:
    """Normalised reciprocal square root of an integer v >= 1: returns (r, k) such that

    1 / sqrt(v) ~ r / 2**(48 + k). With L = v.bit_length() and k = (L - 47) // 2 (floor),
    v_n = v >> 2k (k >= 0) or v << -2k (k < 0) has 47 or 48 bits, s = isqrt(v_n) (floor)
    lies in [2**23, 2**24) and r = 2**48 // s in (2**24, 2**25].
    """
    if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 1:
        raise ValueError(f"inv_sqrt needs an integer >= 1, got {v!r}")
    v = int(v)
    k = (v.bit_length() - (RSQRT_NORM_BITS - 1)) // 2
    v_n = v >> (2 * k) if k >= 0 else v << (-2 * k)
    s = math.isqrt(v_n)
    return (1 << RSQRT_RECIP_BITS) // s, k
