"""Accuracy of the fixed-point approximations against float references, with stated bounds.

Every bound asserted here is listed in docs/golden-model.md ("Error bounds").
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from intar.golden import approx
from intar.golden.kernels import exp, gelu, layernorm, silu, softmax

# Stated bounds (real units unless noted); measured maxima are in docs/golden-model.md.
POW2_MAX_ERR_LSB = 0.91  # of Q.16
POW2_MAX_REL_ERR = 1.1e-5
EXP_REL_ERR = {False: 1.7e-5, True: 2.5e-5}  # keyed by frac_bits > 16
GELU_ERR = 2.2e-4  # plus half an output LSB
SILU_ERR = 1.4e-4  # plus half an output LSB
SOFTMAX_ERR_SHORT = 8e-6  # rows of <= 64, plus half an output LSB
SOFTMAX_ERR_LONG = 1.2e-4  # random rows of <= 2048, plus half an output LSB
INV_SQRT_REL_ERR = 1.3e-7  # analytic: 2**-23 + 2**-24

FRAC_BITS = (0, 4, 8, 12, 16, 20, 24)


def phi(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def gelu_ref(x: np.ndarray) -> np.ndarray:
    return np.array([v * phi(v) for v in x.tolist()])


def silu_ref(x: np.ndarray) -> np.ndarray:
    return x / (1.0 + np.exp(-x))


def fixed_inputs(rng: np.random.Generator, frac_bits: int, lo: float, hi: float) -> np.ndarray:
    """Random Q.frac_bits values in [lo, hi] plus a dense sweep around 0."""
    x = np.round(rng.uniform(lo, hi, 40_000) * 2.0**frac_bits).astype(np.int64)
    dense = np.arange(-min(4096, 4 << frac_bits), min(4096, 4 << frac_bits) + 1)
    return np.unique(np.concatenate([x, dense]))


# --------------------------------------------------------------------------------------
# Tables and constants
# --------------------------------------------------------------------------------------


def pwl_table(h: object, value_range: int) -> list[int]:
    """Knots k/16 of h, each lowered by a quarter of the chord errors of its two segments."""
    n = value_range << approx.PWL_STEP_BITS
    step = 2.0**-approx.PWL_STEP_BITS
    hk = [h(k * step) for k in range(n + 1)]  # type: ignore[operator]
    chord = [(hk[k] + hk[k + 1]) / 2 - h((k + 0.5) * step) for k in range(n)]  # type: ignore[operator]
    knots = [hk[k] - (chord[max(k - 1, 0)] + chord[min(k, n - 1)]) / 4 for k in range(n + 1)]
    knots[-1] = 0.0
    return [round(v * approx.ONE) for v in knots]


def test_tables_follow_documented_construction() -> None:
    assert list(approx.GELU_TABLE) == pwl_table(lambda a: a * phi(-a), approx.GELU_RANGE)
    assert list(approx.SILU_TABLE) == pwl_table(lambda a: a / (1 + math.exp(a)), approx.SILU_RANGE)
    assert round(math.log2(math.e) * 2**approx.LOG2E_FRAC) == approx.LOG2E_Q23


def test_pow2_frac_exhaustive() -> None:
    r = np.arange(approx.ONE, dtype=np.int64)
    p = approx.pow2_frac(r)
    ref = approx.ONE * np.exp2(r / approx.ONE)
    assert p[0] == approx.ONE
    assert np.all(np.diff(p) >= 0) and p[-1] < 2 * approx.ONE  # monotone across n boundaries
    assert np.max(np.abs(p - ref)) <= POW2_MAX_ERR_LSB
    assert np.max(np.abs(p - ref) / ref) <= POW2_MAX_REL_ERR


# --------------------------------------------------------------------------------------
# exp
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("frac_bits", FRAC_BITS)
@pytest.mark.parametrize("out_bits", [8, 16, 32])
def test_exp_error_bound(frac_bits: int, out_bits: int) -> None:
    rng = np.random.default_rng(100 + frac_bits + out_bits)
    top = (1 << (out_bits - 1)) - 1
    hi = math.log(top / 2.0**frac_bits) + 1.0
    x = fixed_inputs(rng, frac_bits, -(frac_bits + 3) * math.log(2), max(hi, 1.0))
    y = exp(x, frac_bits=frac_bits, out_bits=out_bits)
    ref = np.exp(x / 2.0**frac_bits) * 2.0**frac_bits
    eps = EXP_REL_ERR[frac_bits > 16]
    inside = ref * (1 + eps) + 0.5 < top
    assert np.all(np.abs(y[inside] - ref[inside]) <= 0.5 + eps * ref[inside])
    beyond = ref * (1 - eps) - 0.5 > top
    assert np.all(y[beyond] == top)
    assert np.all(np.diff(y) >= 0)  # x is sorted
    assert exp(np.array([0]), frac_bits=frac_bits, out_bits=32)[0] == min(1 << frac_bits, 2**31 - 1)


def test_exp_extremes() -> None:
    x = np.array([-(1 << 31), -(64 << 8), 0, 64 << 8, (1 << 31) - 1])
    assert exp(x, frac_bits=8, out_bits=16).tolist() == [0, 0, 256, 32767, 32767]
    assert exp(x, frac_bits=0, out_bits=32).tolist() == [0, 0, 1, 2**31 - 1, 2**31 - 1]


def test_exp_nonpos_range() -> None:
    d = -np.arange(0, 30 << 10, 7, dtype=np.int64)
    e = approx.exp_nonpos(d, 10)
    assert e[0] == 1 << approx.SOFTMAX_EXP_FRAC
    assert np.all(np.diff(e) <= 0) and e.min() == 0
    ref = np.exp(d / 1024.0) * 2.0**approx.SOFTMAX_EXP_FRAC
    assert np.all(np.abs(e - ref) <= 0.5 + EXP_REL_ERR[False] * ref)
    with pytest.raises(ValueError, match="non-positive"):
        approx.exp_nonpos(np.array([1]), 10)


# --------------------------------------------------------------------------------------
# GELU and SiLU
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("frac_bits", FRAC_BITS)
@pytest.mark.parametrize(
    ("fn", "ref", "bound"), [(gelu, gelu_ref, GELU_ERR), (silu, silu_ref, SILU_ERR)]
)
def test_activation_error_bound(frac_bits: int, fn: object, ref: object, bound: float) -> None:
    rng = np.random.default_rng(200 + frac_bits)
    x = fixed_inputs(rng, frac_bits, -20.0, 20.0)
    y = fn(x, frac_bits=frac_bits, out_bits=32)  # type: ignore[operator]
    want = ref(x / 2.0**frac_bits)  # type: ignore[operator]
    err = np.abs(y / 2.0**frac_bits - want)
    assert err.max() <= bound + 2.0 ** -(frac_bits + 1)


@pytest.mark.parametrize("fn", [gelu, silu])
def test_activation_odd_part_is_exact(fn: object) -> None:
    # f(x) - f(-x) = relu(x) - relu(-x) = x exactly, since the correction depends on |x| only.
    x = np.arange(-5000, 5001, dtype=np.int64)
    y = fn(x, frac_bits=8, out_bits=32)  # type: ignore[operator]
    assert np.array_equal(y - y[::-1], x)
    sat = fn(np.array([30_000, -30_000]), frac_bits=8, out_bits=8)  # type: ignore[operator]
    assert sat.tolist() == [127, 0]


# --------------------------------------------------------------------------------------
# softmax
# --------------------------------------------------------------------------------------


def softmax_ref(x: np.ndarray, frac_bits: int) -> np.ndarray:
    xf = x / 2.0**frac_bits
    e = np.exp(xf - xf.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


@pytest.mark.parametrize("frac_bits", [0, 4, 8, 12, 16, 24])
def test_softmax_error_bound(frac_bits: int) -> None:
    rng = np.random.default_rng(300 + frac_bits)
    for trial in range(30):
        n = int(rng.integers(1, 65)) if trial % 2 else int(rng.integers(65, 2049))
        scale = 2.0 ** rng.uniform(-3, 5)
        x = np.round(rng.normal(0, scale, (4, n)) * 2.0**frac_bits).astype(np.int64)
        ref = softmax_ref(x, frac_bits)
        for ofb in (7, 15, 30):
            out = softmax(x, frac_bits=frac_bits, out_frac_bits=ofb, out_bits=32)
            err = np.abs(out / 2.0**ofb - ref).max() - 2.0 ** -(ofb + 1)
            assert err <= (SOFTMAX_ERR_SHORT if n <= 64 else SOFTMAX_ERR_LONG)
            # Worst-case analytic bound (docs): 2 eps_exp + (n + 1) 2**-21.
            assert err <= 2 * EXP_REL_ERR[frac_bits > 16] + (n + 1) * 2.0**-21


def test_softmax_causal_error_bound() -> None:
    rng = np.random.default_rng(301)
    x = np.round(rng.normal(0, 3, (2, 50, 50)) * 2.0**10).astype(np.int64)
    out = softmax(x, frac_bits=10, out_frac_bits=14, causal=True, out_bits=16)
    masked = np.triu(np.ones((50, 50), dtype=bool), 1)
    ref = softmax_ref(np.where(masked, -(1 << 40), x), 10)
    err = np.abs(out / 2.0**14 - ref).max()
    assert err <= SOFTMAX_ERR_SHORT + 2.0**-15


# --------------------------------------------------------------------------------------
# layernorm
# --------------------------------------------------------------------------------------


def test_inv_sqrt_relative_error() -> None:
    rng = np.random.default_rng(400)
    values = [1, 2, 3, 4, (1 << 46) - 1, 1 << 47, (1 << 48) + 1, (1 << 90) + 12345]
    values += [int(v) for v in rng.integers(1, 1 << 62, 3000)]
    values += [int(rng.integers(1, 1 << 30)) << int(rng.integers(0, 60)) for _ in range(2000)]
    for v in values:
        r, k = approx.inv_sqrt(v)
        assert (1 << 24) < r <= (1 << 25)
        assert abs(r * math.sqrt(v) / 2.0 ** (48 + k) - 1) <= INV_SQRT_REL_ERR
    with pytest.raises(ValueError):
        approx.inv_sqrt(0)


@pytest.mark.parametrize("frac_bits", [4, 8, 12, 16])
@pytest.mark.parametrize("in_bits", [4, 8, 16, 32])
def test_layernorm_error_bound(frac_bits: int, in_bits: int) -> None:
    # |y - y_ref| <= 1/2 + |gamma| * (2**-17 + |z| * 2**-22) in output LSBs, where y_ref is the
    # float layernorm with the exact mean and variance + LN_EPS (input LSB**2).
    rng = np.random.default_rng(500 + frac_bits + in_bits)
    for _ in range(12):
        n = int(rng.integers(1, 800))
        scale = 2.0 ** rng.uniform(-1, in_bits - 2)
        offset = rng.uniform(-1, 1) * 2.0 ** (in_bits - 2)
        half = 1 << (in_bits - 1)
        x = np.clip(np.round(rng.normal(offset, scale, (6, n))), -half, half - 1).astype(np.int64)
        g = rng.integers(-2 << frac_bits, 2 << frac_bits, n)
        b = rng.integers(-2 << frac_bits, 2 << frac_bits, n)
        y = layernorm(x, g, b, frac_bits=frac_bits, out_bits=32)
        xf = x.astype(np.float64)
        mean = xf.mean(axis=-1, keepdims=True)
        z = (xf - mean) / np.sqrt(((xf - mean) ** 2).mean(axis=-1, keepdims=True) + approx.LN_EPS)
        err = np.abs(y - (z * g + b))
        assert np.all(err <= 0.5 + np.abs(g) * (2.0**-17 + np.abs(z) * 2.0**-22) + 1e-9)
