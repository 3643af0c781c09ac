"""Result shapes of the task kinds: one formula each, shared by the builder and the verifier."""

from __future__ import annotations

Shape = tuple[int, ...]


def matmul(lhs: Shape, rhs: Shape, transpose_rhs: bool) -> Shape:
    n = rhs[-2] if transpose_rhs else rhs[-1]
    return (*lhs[:-1], n)


def conv2d(x: Shape, w: Shape, stride: int, padding: int) -> Shape:
    _, h, wd = x
    o, _, kh, kw = w
    return (o, (h + 2 * padding - kh) // stride + 1, (wd + 2 * padding - kw) // stride + 1)


def conv_transpose2d(x: Shape, w: Shape, stride: int, padding: int) -> Shape:
    _, h, wd = x
    _, o, kh, kw = w
    return (o, (h - 1) * stride - 2 * padding + kh, (wd - 1) * stride - 2 * padding + kw)


def upsample(x: Shape) -> Shape:
    c, h, w = x
    return (c, 2 * h, 2 * w)


def maxpool(x: Shape) -> Shape:
    c, h, w = x
    return (c, h // 2, w // 2)


def transpose(x: Shape, perm: list[int]) -> Shape:
    return tuple(x[p] for p in perm)
