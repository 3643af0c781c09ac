"""Deterministic seeded tensors for `intar.weight` ops with a `seed` attribute."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from intar.golden.approx import IntArray

__all__ = ["materialize", "random_tensor"]

_ELEMENT_BITS = (4, 8, 16, 32)


def materialize(shape: Sequence[int], bits: int, seed: int) -> IntArray:
    """Uniform integers over the signed range of `bits`, drawn by PCG64(seed).

    Equivalent to `np.random.Generator(np.random.PCG64(seed)).integers(-2**(bits-1),
    2**(bits-1), size=shape, dtype=np.int64)`; the same (shape, bits, seed) always gives the
    same tensor.
    """
    if isinstance(bits, bool) or bits not in _ELEMENT_BITS:
        raise ValueError(f"bits must be one of {_ELEMENT_BITS}, got {bits!r}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    dims = tuple(int(s) for s in shape)
    if any(s < 0 for s in dims):
        raise ValueError(f"shape must have non-negative dimensions, got {dims}")
    rng = np.random.Generator(np.random.PCG64(int(seed)))
    half = 1 << (bits - 1)
    return rng.integers(-half, half, size=dims, dtype=np.int64)


def random_tensor(shape: Sequence[int], bits: int, seed: int) -> IntArray:
    """Alias of `materialize`."""
    return materialize(shape, bits, seed)
