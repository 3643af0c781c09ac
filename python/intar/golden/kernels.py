"""Exact-integer golden model: one pure numpy function per task kind.

Tensors are int64 arrays holding two's-complement values of their element width (4, 8, 16
or 32 bits). Every kernel returns an int64 array in the signed range of `out_bits`. The
arithmetic is specified bit-exactly in docs/golden-model.md; the hardware must match it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

from intar.golden import approx
from intar.golden.approx import (
    ArrayLike,
    IntArray,
    as_int_array,
    round_shift,
    saturate,
    wrap32,
)

__all__ = [
    "ELEMENT_BITS",
    "add",
    "conv2d",
    "conv_transpose2d",
    "exp",
    "gelu",
    "layernorm",
    "matmul",
    "maxpool",
    "mul",
    "relu",
    "requantize",
    "reshape",
    "round_shift",
    "saturate",
    "silu",
    "softmax",
    "transpose",
    "upsample",
    "wrap32",
]

#: The element widths a tensor may have.
ELEMENT_BITS = (4, 8, 16, 32)


def _check_out_bits(out_bits: int) -> None:
    if isinstance(out_bits, bool) or out_bits not in ELEMENT_BITS:
        raise ValueError(f"out_bits must be one of {ELEMENT_BITS}, got {out_bits!r}")


def _check_shift(shift: int) -> None:
    approx.check_bits(shift, "shift", low=0, high=approx.MAX_SHIFT)


def _check_rank(x: IntArray, ranks: Sequence[int], name: str) -> None:
    if x.ndim not in ranks:
        allowed = " or ".join(str(r) for r in ranks)
        raise ValueError(f"{name} must have rank {allowed}, got shape {x.shape}")


def requantize(x: ArrayLike, *, shift: int, out_bits: int) -> IntArray:
    """saturate(round_shift(x, shift), out_bits)."""
    _check_shift(shift)
    _check_out_bits(out_bits)
    return saturate(round_shift(x, shift), out_bits)


# --------------------------------------------------------------------------------------
# Compute tasks
# --------------------------------------------------------------------------------------


def _requantize_acc(acc: IntArray, shift: int, relu: bool, out_bits: int) -> IntArray:
    """The result of an accumulating task: saturate(round_shift(wrap32(acc), shift)), with 0
    as the lower bound when ``relu`` (equal to relu after the requantize, as both bounds and
    the shift are monotonic)."""
    y = round_shift(wrap32(acc), shift)
    return saturate(np.maximum(y, 0) if relu else y, out_bits)


def matmul(
    lhs: ArrayLike,
    rhs: ArrayLike,
    *,
    transpose_rhs: bool = False,
    shift: int = 0,
    relu: bool = False,
    out_bits: int,
) -> IntArray:
    """lhs [M,K] or [B,M,K] times rhs [K,N] ([N,K] if transpose_rhs), rhs optionally [B,..].

    acc = wrap32(sum_k lhs[.., m, k] * rhs[.., k, n]); result requantize(acc, shift, out_bits),
    with negative values set to 0 first when ``relu`` (a fused relu).
    """
    a = as_int_array(lhs, "lhs")
    b = as_int_array(rhs, "rhs")
    _check_shift(shift)
    _check_out_bits(out_bits)
    _check_rank(a, (2, 3), "lhs")
    _check_rank(b, (2, 3), "rhs")
    if b.ndim > a.ndim:
        raise ValueError(f"rhs {b.shape} is batched but lhs {a.shape} is not")
    if transpose_rhs:
        b = np.swapaxes(b, -1, -2)
    if a.shape[-1] != b.shape[-2]:
        kind = "[N, K]" if transpose_rhs else "[K, N]"
        raise ValueError(
            f"matmul contraction mismatch: lhs {a.shape} vs rhs {kind} {as_int_array(rhs).shape}"
        )
    if b.ndim == 3 and b.shape[0] != a.shape[0]:
        raise ValueError(f"matmul batch mismatch: lhs {a.shape} vs rhs {b.shape}")
    # int64 arithmetic wraps modulo 2**64, so the low 32 bits (all wrap32 keeps) are exact.
    spec = "bmk,bkn->bmn" if b.ndim == 3 else "...mk,kn->...mn"
    acc = np.einsum(spec, a, b)
    return _requantize_acc(acc, shift, relu, out_bits)


def _check_conv_args(x: IntArray, w: IntArray, stride: int, padding: int, shift: int) -> None:
    _check_rank(x, (3,), "input")
    _check_rank(w, (4,), "filter")
    approx.check_bits(stride, "stride", low=1, high=1 << 20)
    approx.check_bits(padding, "padding", low=0, high=1 << 20)
    _check_shift(shift)


def conv2d(
    x: ArrayLike,
    w: ArrayLike,
    *,
    stride: int = 1,
    padding: int = 0,
    shift: int = 0,
    relu: bool = False,
    out_bits: int,
) -> IntArray:
    """Cross-correlation of x [C,H,W] with w [O,C,KH,KW], zero padding, wrap32, requantize.

    out[o, i, j] = sum_{c,u,v} w[o,c,u,v] * xp[c, i*stride + u, j*stride + v], xp = x padded
    by `padding` zeros on each side; out has shape [O, (H+2p-KH)//s+1, (W+2p-KW)//s+1].
    """
    xa = as_int_array(x, "input")
    wa = as_int_array(w, "filter")
    _check_conv_args(xa, wa, stride, padding, shift)
    _check_out_bits(out_bits)
    c, h, wd = xa.shape
    o, wc, kh, kw = wa.shape
    if wc != c:
        raise ValueError(f"conv2d channel mismatch: input {xa.shape} vs filter {wa.shape}")
    if min(o, kh, kw) < 1:
        raise ValueError(f"conv2d filter {wa.shape} has an empty dimension")
    hp, wp = h + 2 * padding, wd + 2 * padding
    if hp < kh or wp < kw:
        raise ValueError(f"conv2d filter {wa.shape} larger than padded input {(c, hp, wp)}")
    xp = np.pad(xa, ((0, 0), (padding, padding), (padding, padding)))
    windows = sliding_window_view(xp, (kh, kw), axis=(1, 2))[:, ::stride, ::stride]
    acc = np.einsum("ocuv,cijuv->oij", wa, windows, optimize=True)
    return _requantize_acc(acc, shift, relu, out_bits)


def conv_transpose2d(
    x: ArrayLike,
    w: ArrayLike,
    *,
    stride: int = 1,
    padding: int = 0,
    shift: int = 0,
    relu: bool = False,
    out_bits: int,
) -> IntArray:
    """Transposed convolution of x [C,H,W] with w [C,O,KH,KW] (PyTorch layout), wrap32, requantize.

    full[o, i*s + u, j*s + v] += x[c, i, j] * w[c, o, u, v] over all c, i, j, u, v; the result
    is full cropped by `padding` on each side: [O, (H-1)s - 2p + KH, (W-1)s - 2p + KW].
    """
    xa = as_int_array(x, "input")
    wa = as_int_array(w, "filter")
    _check_conv_args(xa, wa, stride, padding, shift)
    _check_out_bits(out_bits)
    c, h, wd = xa.shape
    wc, o, kh, kw = wa.shape
    if wc != c:
        raise ValueError(
            f"conv_transpose2d channel mismatch: input {xa.shape} vs filter {wa.shape}"
        )
    if min(o, kh, kw, h, wd) < 1:
        raise ValueError(f"conv_transpose2d: empty input {xa.shape} or filter {wa.shape}")
    fh, fw = (h - 1) * stride + kh, (wd - 1) * stride + kw
    oh, ow = fh - 2 * padding, fw - 2 * padding
    if oh < 1 or ow < 1:
        raise ValueError(f"conv_transpose2d: padding {padding} leaves an empty output")
    full = np.zeros((o, fh, fw), dtype=np.int64)
    for u in range(kh):
        for v in range(kw):
            contrib = np.einsum("co,cij->oij", wa[:, :, u, v], xa)
            full[
                :, u : u + (h - 1) * stride + 1 : stride, v : v + (wd - 1) * stride + 1 : stride
            ] += contrib
    acc = full[:, padding : padding + oh, padding : padding + ow]
    return _requantize_acc(acc, shift, relu, out_bits)


# --------------------------------------------------------------------------------------
# Element-wise tasks
# --------------------------------------------------------------------------------------


def _binary_operands(a: ArrayLike, b: ArrayLike, name: str) -> tuple[IntArray, IntArray]:
    aa = as_int_array(a, "lhs")
    ba = as_int_array(b, "rhs")
    if ba.ndim > aa.ndim or aa.shape[aa.ndim - ba.ndim :] != ba.shape:
        raise ValueError(f"{name}: rhs shape {ba.shape} is not a suffix of lhs shape {aa.shape}")
    return aa, ba


def add(a: ArrayLike, b: ArrayLike, *, shift: int = 0, out_bits: int) -> IntArray:
    """requantize(a + b, shift, out_bits), exact; b has a's shape or a suffix of it."""
    aa, ba = _binary_operands(a, b, "add")
    return requantize(aa + ba, shift=shift, out_bits=out_bits)


def mul(a: ArrayLike, b: ArrayLike, *, shift: int = 0, out_bits: int) -> IntArray:
    """requantize(a * b, shift, out_bits), exact; b has a's shape or a suffix of it."""
    aa, ba = _binary_operands(a, b, "mul")
    return requantize(aa * ba, shift=shift, out_bits=out_bits)


def relu(x: ArrayLike, *, out_bits: int) -> IntArray:
    """saturate(max(x, 0), out_bits)."""
    _check_out_bits(out_bits)
    return saturate(np.maximum(as_int_array(x), 0), out_bits)


def gelu(x: ArrayLike, *, frac_bits: int, out_bits: int) -> IntArray:
    """Piecewise-linear GELU on Q.frac_bits (see approx.gelu_fixed)."""
    _check_out_bits(out_bits)
    return approx.gelu_fixed(x, frac_bits, out_bits)


def silu(x: ArrayLike, *, frac_bits: int, out_bits: int) -> IntArray:
    """Piecewise-linear SiLU on Q.frac_bits (see approx.silu_fixed)."""
    _check_out_bits(out_bits)
    return approx.silu_fixed(x, frac_bits, out_bits)


def exp(x: ArrayLike, *, frac_bits: int, out_bits: int) -> IntArray:
    """Shift-based exponential on Q.frac_bits (see approx.exp_fixed)."""
    _check_out_bits(out_bits)
    return approx.exp_fixed(x, frac_bits, out_bits)


# --------------------------------------------------------------------------------------
# Row-wise tasks
# --------------------------------------------------------------------------------------


def _causal_mask(shape: tuple[int, ...]) -> npt.NDArray[np.bool_]:
    rows, cols = shape[-2], shape[-1]
    return np.arange(cols)[None, :] > np.arange(rows)[:, None]


def softmax(
    x: ArrayLike,
    *,
    frac_bits: int,
    out_frac_bits: int,
    causal: bool = False,
    out_bits: int,
) -> IntArray:
    """Row-wise softmax over the last dimension; Q.frac_bits in, Q.out_frac_bits out.

    Per row: m = max of the unmasked x; e_j = exp_nonpos(x_j - m) in Q.20 (0 when masked);
    S = sum e_j; recip = 2**52 // S; out_j = saturate(round_shift(e_j * recip,
    52 - out_frac_bits), out_bits). With causal, (.., i, j) is masked when j > i.
    """
    xa = as_int_array(x)
    approx.check_frac_bits(frac_bits)
    approx.check_frac_bits(out_frac_bits, "out_frac_bits")
    _check_out_bits(out_bits)
    if xa.ndim < 1 or xa.shape[-1] < 1:
        raise ValueError(f"softmax needs rank >= 1 with non-empty rows, got {xa.shape}")
    if causal:
        if xa.ndim < 2:
            raise ValueError(f"causal softmax needs rank >= 2, got shape {xa.shape}")
        mask = np.broadcast_to(_causal_mask(xa.shape), xa.shape)
    else:
        mask = np.zeros(xa.shape, dtype=bool)
    lowest = np.iinfo(np.int64).min
    m = np.max(np.where(mask, lowest, xa), axis=-1, keepdims=True)
    d = np.where(mask, 0, xa - m)
    e = np.where(mask, 0, approx.exp_nonpos(d, frac_bits))
    recip = approx.softmax_reciprocal(np.sum(e, axis=-1, keepdims=True))
    shift = approx.SOFTMAX_RECIP_BITS - out_frac_bits
    return saturate(round_shift(e * recip, shift), out_bits)


def _row_sum_of_squares(c: IntArray) -> list[int]:
    """Exact sum over the last axis of c**2, one Python int per row (row-major order)."""
    rows = c.reshape(-1, c.shape[-1])
    n = rows.shape[1]
    hi = rows >> 16
    peak_hi = int(np.max(np.abs(hi))) if hi.size else 0
    if max(peak_hi, 1 << 16) ** 2 * n < (1 << 62):
        # c = hi * 2**16 + lo with 0 <= lo < 2**16; each partial sum fits in int64.
        lo = rows & 0xFFFF
        a, b, d = (np.sum(t, axis=1).tolist() for t in (hi * hi, hi * lo, lo * lo))
        return [(x << 32) + (y << 17) + z for x, y, z in zip(a, b, d, strict=True)]
    return [math.sumprod(row, row) for row in rows.tolist()]


def _scale_rows(c: IntArray, r: IntArray, shift: IntArray) -> IntArray:
    """round_shift(c * r, shift) with r, shift per row, exact even when c * r exceeds int64."""
    peak_c = int(np.max(np.abs(c))) if c.size else 0
    if peak_c * int(np.max(r)) < (1 << 62):
        return round_shift(c * r, shift)
    prod = c.astype(object) * r.astype(object) + (np.int64(1) << (shift - 1)).astype(object)
    return (prod >> shift.astype(object)).astype(np.int64)


def layernorm(
    x: ArrayLike, gamma: ArrayLike, beta: ArrayLike, *, frac_bits: int, out_bits: int
) -> IntArray:
    """Row-wise layer normalisation over the last dimension N, with exact centring.

    S = sum x; c = N * x - S (= N * (x - mean)); V = (sum c**2) // N + LN_EPS * N**2;
    (r, k) = inv_sqrt(V); z = round_shift(c * r, 48 + k - 16) (Q.16 z-score);
    y = saturate(round_shift(z * gamma, 16) + beta, out_bits). gamma, beta, y are Q.frac_bits.
    """
    xa = as_int_array(x)
    g = as_int_array(gamma, "gamma")
    b = as_int_array(beta, "beta")
    approx.check_frac_bits(frac_bits)
    _check_out_bits(out_bits)
    if xa.ndim < 1 or xa.shape[-1] < 1:
        raise ValueError(f"layernorm needs rank >= 1 with non-empty rows, got {xa.shape}")
    n = xa.shape[-1]
    if g.shape != (n,) or b.shape != (n,):
        raise ValueError(
            f"layernorm gamma {g.shape} and beta {b.shape} must both have shape ({n},)"
        )
    c = n * xa - np.sum(xa, axis=-1, keepdims=True)
    eps = approx.LN_EPS * n * n
    pairs = [approx.inv_sqrt(q // n + eps) for q in _row_sum_of_squares(c)]
    lead = (*xa.shape[:-1], 1)
    r = np.array([p[0] for p in pairs], dtype=np.int64).reshape(lead)
    k = np.array([p[1] for p in pairs], dtype=np.int64).reshape(lead)
    z = _scale_rows(c, r, approx.RSQRT_RECIP_BITS + k - approx.LN_Z_FRAC)
    return saturate(round_shift(z * g, approx.LN_Z_FRAC) + b, out_bits)


# --------------------------------------------------------------------------------------
# Data movement
# --------------------------------------------------------------------------------------


def upsample(x: ArrayLike, *, out_bits: int) -> IntArray:
    """Nearest-neighbour 2x upsampling: [C,H,W] -> [C,2H,2W], out[c,i,j] = x[c,i//2,j//2]."""
    xa = as_int_array(x)
    _check_out_bits(out_bits)
    _check_rank(xa, (3,), "upsample input")
    return saturate(np.repeat(np.repeat(xa, 2, axis=1), 2, axis=2), out_bits)


def maxpool(x: ArrayLike, *, out_bits: int) -> IntArray:
    """2x2 max pooling, stride 2: [C,H,W] -> [C,H//2,W//2] (an odd last row/column is dropped)."""
    xa = as_int_array(x)
    _check_out_bits(out_bits)
    _check_rank(xa, (3,), "maxpool input")
    c, h, w = xa.shape
    if h < 2 or w < 2:
        raise ValueError(f"maxpool needs H, W >= 2, got shape {xa.shape}")
    t = xa[:, : h // 2 * 2, : w // 2 * 2].reshape(c, h // 2, 2, w // 2, 2)
    return saturate(t.max(axis=(2, 4)), out_bits)


def reshape(x: ArrayLike, shape: Sequence[int]) -> IntArray:
    """Row-major reshape to `shape` (no -1; the element count must match)."""
    xa = as_int_array(x)
    dims = tuple(int(s) for s in shape)
    if any(s < 0 for s in dims) or int(np.prod(dims, dtype=np.int64)) != xa.size:
        raise ValueError(f"cannot reshape {xa.shape} to {dims}")
    return xa.reshape(dims).copy()


def transpose(x: ArrayLike, perm: Sequence[int]) -> IntArray:
    """Permute dimensions: result dim i is input dim perm[i]."""
    xa = as_int_array(x)
    p = tuple(int(i) for i in perm)
    if sorted(p) != list(range(xa.ndim)):
        raise ValueError(f"perm {p} is not a permutation of the {xa.ndim} dims of {xa.shape}")
    return np.ascontiguousarray(np.transpose(xa, p))
