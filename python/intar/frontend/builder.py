"""Writing task graphs in Python, numpy style.

    g = Graph("mlp")
    x = g.input((1, 256), "i16")
    w1 = g.weight((256, 1024), "i16")
    h = g.relu(g.matmul(x, w1, shift=8, out="i16"))
    g.output(h)
    module = g.build(ctx)

The graph is recorded in Python and emitted as an `intar.graph` by `build` (into a caller's
context) or `to_mlir` (as text). Weights carry explicit values or a deterministic seed.
Argument errors raise `GraphError` at the call that made them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from circt import ir

from intar.dialects import shapes
from intar.ir import make_context

DTYPES = {"i4": 4, "i8": 8, "i16": 16, "i32": 32}


class GraphError(ValueError):
    """A builder call with arguments the dialect would reject."""


def _bits(dtype: str) -> int:
    if dtype not in DTYPES:
        raise GraphError(f"unknown element type '{dtype}' (use one of {', '.join(DTYPES)})")
    return DTYPES[dtype]


@dataclass(frozen=True)
class Tensor:
    """A value of the graph: the result of an input, a weight or a task."""

    graph: Graph = field(repr=False, compare=False)
    index: int
    name: str
    shape: tuple[int, ...]
    dtype: str

    @property
    def bits(self) -> int:
        return DTYPES[self.dtype]


@dataclass(frozen=True)
class Node:
    kind: str
    name: str
    operands: tuple[int, ...]
    shape: tuple[int, ...]
    dtype: str
    attrs: dict[str, Any]


class Graph:
    """A task graph under construction."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.nodes: list[Node] = []
        self.outputs: list[int] = []
        self._names: set[str] = set()
        self._counts: dict[str, int] = {}

    # -- leaves ------------------------------------------------------------------------------

    def input(self, shape: tuple[int, ...], dtype: str = "i16", name: str | None = None) -> Tensor:
        return self._add("input", name, (), shape, dtype, {})

    def weight(
        self,
        shape: tuple[int, ...],
        dtype: str = "i16",
        name: str | None = None,
        *,
        value: np.ndarray | None = None,
        seed: int | None = None,
    ) -> Tensor:
        """A constant: explicit `value`, or values drawn from `seed` (default: its index)."""
        if value is not None:
            value = np.asarray(value)
            if tuple(value.shape) != tuple(shape):
                raise GraphError(f"weight value has shape {value.shape}, expected {shape}")
            lo, hi = -(1 << (_bits(dtype) - 1)), (1 << (_bits(dtype) - 1)) - 1
            if value.size and (value.min() < lo or value.max() > hi):
                raise GraphError(f"weight values fall outside the range of {dtype}")
            return self._add("weight", name, (), shape, dtype, {"value": value.astype(np.int64)})
        return self._add(
            "weight", name, (), shape, dtype, {"seed": len(self.nodes) if seed is None else seed}
        )

    # -- compute tasks -----------------------------------------------------------------------

    def matmul(
        self,
        lhs: Tensor,
        rhs: Tensor,
        *,
        transpose_rhs: bool = False,
        shift: int = 0,
        out: str | None = None,
        name: str | None = None,
    ) -> Tensor:
        if len(lhs.shape) not in (2, 3) or len(rhs.shape) not in (2, 3):
            raise GraphError(
                f"matmul takes rank-2 or rank-3 operands, got {lhs.shape}, {rhs.shape}"
            )
        k = rhs.shape[-1] if transpose_rhs else rhs.shape[-2]
        if k != lhs.shape[-1]:
            raise GraphError(f"matmul contraction mismatch: {lhs.shape} x {rhs.shape}")
        shape = shapes.matmul(lhs.shape, rhs.shape, transpose_rhs)
        attrs = {"transpose_rhs": transpose_rhs, "shift": shift}
        return self._task("matmul", name, (lhs, rhs), shape, out or _acc(shift, lhs), attrs)

    def conv2d(
        self,
        x: Tensor,
        w: Tensor,
        *,
        stride: int = 1,
        padding: int = 0,
        shift: int = 0,
        out: str | None = None,
        name: str | None = None,
    ) -> Tensor:
        self._check_conv(x, w, w.shape[1])
        shape = shapes.conv2d(x.shape, w.shape, stride, padding)
        attrs = {"stride": stride, "padding": padding, "shift": shift}
        return self._task("conv2d", name, (x, w), shape, out or _acc(shift, x), attrs)

    def conv_transpose2d(
        self,
        x: Tensor,
        w: Tensor,
        *,
        stride: int = 1,
        padding: int = 0,
        shift: int = 0,
        out: str | None = None,
        name: str | None = None,
    ) -> Tensor:
        self._check_conv(x, w, w.shape[0])
        shape = shapes.conv_transpose2d(x.shape, w.shape, stride, padding)
        attrs = {"stride": stride, "padding": padding, "shift": shift}
        return self._task("conv_transpose2d", name, (x, w), shape, out or _acc(shift, x), attrs)

    # -- element-wise and special functions --------------------------------------------------

    def add(
        self,
        a: Tensor,
        b: Tensor,
        *,
        shift: int = 0,
        out: str | None = None,
        name: str | None = None,
    ) -> Tensor:
        return self._binary("add", a, b, shift, out, name)

    def mul(
        self,
        a: Tensor,
        b: Tensor,
        *,
        shift: int = 0,
        out: str | None = None,
        name: str | None = None,
    ) -> Tensor:
        return self._binary("mul", a, b, shift, out, name)

    def relu(self, x: Tensor, *, name: str | None = None) -> Tensor:
        return self._task("relu", name, (x,), x.shape, x.dtype, {})

    def gelu(self, x: Tensor, *, frac_bits: int, name: str | None = None) -> Tensor:
        return self._task("gelu", name, (x,), x.shape, x.dtype, {"frac_bits": frac_bits})

    def silu(self, x: Tensor, *, frac_bits: int, name: str | None = None) -> Tensor:
        return self._task("silu", name, (x,), x.shape, x.dtype, {"frac_bits": frac_bits})

    def exp(self, x: Tensor, *, frac_bits: int, name: str | None = None) -> Tensor:
        return self._task("exp", name, (x,), x.shape, x.dtype, {"frac_bits": frac_bits})

    def softmax(
        self,
        x: Tensor,
        *,
        frac_bits: int,
        out_frac_bits: int | None = None,
        causal: bool = False,
        out: str | None = None,
        name: str | None = None,
    ) -> Tensor:
        dtype = out or x.dtype
        attrs = {
            "frac_bits": frac_bits,
            "out_frac_bits": _bits(dtype) - 2 if out_frac_bits is None else out_frac_bits,
            "causal": causal,
        }
        return self._task("softmax", name, (x,), x.shape, dtype, attrs)

    def layernorm(
        self, x: Tensor, gamma: Tensor, beta: Tensor, *, frac_bits: int, name: str | None = None
    ) -> Tensor:
        for t, what in ((gamma, "gamma"), (beta, "beta")):
            if t.shape != x.shape[-1:]:
                raise GraphError(f"layernorm {what} must have shape {x.shape[-1:]}, got {t.shape}")
        return self._task(
            "layernorm", name, (x, gamma, beta), x.shape, x.dtype, {"frac_bits": frac_bits}
        )

    def upsample(self, x: Tensor, *, name: str | None = None) -> Tensor:
        self._check_chw(x, "upsample")
        return self._task("upsample", name, (x,), shapes.upsample(x.shape), x.dtype, {})

    def maxpool(self, x: Tensor, *, name: str | None = None) -> Tensor:
        self._check_chw(x, "maxpool")
        return self._task("maxpool", name, (x,), shapes.maxpool(x.shape), x.dtype, {})

    def requantize(self, x: Tensor, *, shift: int, out: str, name: str | None = None) -> Tensor:
        return self._task("requantize", name, (x,), x.shape, out, {"shift": shift})

    def reshape(self, x: Tensor, shape: tuple[int, ...], *, name: str | None = None) -> Tensor:
        if int(np.prod(shape)) != int(np.prod(x.shape)):
            raise GraphError(f"cannot reshape {x.shape} to {shape}")
        return self._task("reshape", name, (x,), tuple(shape), x.dtype, {})

    def transpose(self, x: Tensor, perm: tuple[int, ...], *, name: str | None = None) -> Tensor:
        if sorted(perm) != list(range(len(x.shape))):
            raise GraphError(f"{perm} is not a permutation of {len(x.shape)} dimensions")
        shape = shapes.transpose(x.shape, list(perm))
        return self._task("transpose", name, (x,), shape, x.dtype, {"perm": list(perm)})

    def output(self, *tensors: Tensor) -> None:
        for t in tensors:
            self._own(t)
        self.outputs.extend(t.index for t in tensors)

    # -- emission ----------------------------------------------------------------------------

    def build(self, ctx: ir.Context | None = None) -> ir.Module:
        """Emits the graph as a module holding one `intar.graph` (in `ctx` or the current one)."""
        if not self.outputs:
            raise GraphError(f"graph '{self.name}' has no outputs")
        ctx = ctx or ir.Context.current
        with ctx, ir.Location.unknown():
            module = ir.Module.create()
            with ir.InsertionPoint(module.body):
                graph = ir.Operation.create(
                    "intar.graph",
                    attributes={"sym_name": ir.StringAttr.get(self.name)},
                    regions=1,
                )
                block = graph.regions[0].blocks.append()
                with ir.InsertionPoint(block):
                    values: list[ir.Value] = []
                    for node in self.nodes:
                        values.append(_emit(node, [values[i] for i in node.operands]))
                    ir.Operation.create("intar.output", operands=[values[i] for i in self.outputs])
        return module

    def to_mlir(self) -> str:
        """The graph as MLIR text."""
        ctx = make_context()
        module = self.build(ctx)
        text = str(module)
        del module
        return text

    # -- internals ---------------------------------------------------------------------------

    def _own(self, t: Tensor) -> None:
        if not isinstance(t, Tensor) or t.graph is not self:
            raise GraphError(f"{t!r} is not a tensor of graph '{self.name}'")

    def _add(
        self,
        kind: str,
        name: str | None,
        operands: tuple[Tensor, ...],
        shape: tuple[int, ...],
        dtype: str,
        attrs: dict[str, Any],
    ) -> Tensor:
        _bits(dtype)
        for t in operands:
            self._own(t)
        shape = tuple(int(d) for d in shape)
        if not shape or min(shape) < 1:
            raise GraphError(f"{kind} would produce the invalid shape {shape}")
        if name is None:
            n = self._counts.get(kind, 0)
            while f"{kind}{n}" in self._names:
                n += 1
            self._counts[kind] = n + 1
            name = f"{kind}{n}"
        if name in self._names:
            raise GraphError(f"graph '{self.name}' already has a tensor named '{name}'")
        self._names.add(name)
        self.nodes.append(Node(kind, name, tuple(t.index for t in operands), shape, dtype, attrs))
        return Tensor(self, len(self.nodes) - 1, name, shape, dtype)

    _task = _add

    def _binary(
        self, kind: str, a: Tensor, b: Tensor, shift: int, out: str | None, name: str | None
    ) -> Tensor:
        if len(b.shape) > len(a.shape) or a.shape[len(a.shape) - len(b.shape) :] != b.shape:
            raise GraphError(f"{kind}: shape {b.shape} is not a suffix of {a.shape}")
        return self._task(kind, name, (a, b), a.shape, out or a.dtype, {"shift": shift})

    def _check_conv(self, x: Tensor, w: Tensor, in_channels: int) -> None:
        if len(x.shape) != 3 or len(w.shape) != 4:
            raise GraphError(
                f"convolutions take CHW inputs and 4-D filters, got {x.shape}, {w.shape}"
            )
        if in_channels != x.shape[0]:
            raise GraphError(f"filter {w.shape} does not match {x.shape[0]} input channels")

    def _check_chw(self, x: Tensor, kind: str) -> None:
        if len(x.shape) != 3:
            raise GraphError(f"{kind} takes a CHW tensor, got {x.shape}")


def _acc(shift: int, operand: Tensor) -> str:
    """Default result type: the raw int32 accumulation, or the operand's type if shifted."""
    return "i32" if shift == 0 else operand.dtype


def _tensor_type(shape: tuple[int, ...], dtype: str) -> ir.RankedTensorType:
    return ir.RankedTensorType.get(list(shape), ir.IntegerType.get_signless(DTYPES[dtype]))


def _i64(v: int) -> ir.IntegerAttr:
    return ir.IntegerAttr.get(ir.IntegerType.get_signless(64), int(v))


def _attribute(name: str, value: Any, node: Node) -> ir.Attribute | None:
    if isinstance(value, bool):
        return ir.UnitAttr.get() if value else None
    if isinstance(value, int):
        return _i64(value)
    if name == "perm":
        return ir.DenseI64ArrayAttr.get(value)
    if name == "value":
        text = np.array2string(
            value, separator=",", threshold=value.size + 1, max_line_width=1 << 30
        ).replace("\n", "")
        return ir.Attribute.parse(f"dense<{text}> : {_tensor_type(node.shape, node.dtype)}")
    raise TypeError(f"unexpected attribute {name}={value!r}")


_DEFAULTS = {"shift": 0, "stride": 1, "padding": 0}
"""Attributes with ODS default values, left out when they hold the default."""


def _emit(node: Node, operands: list[ir.Value]) -> ir.Value:
    attrs = {"sym_name": ir.StringAttr.get(node.name)}
    for key, value in node.attrs.items():
        if node.kind != "requantize" and isinstance(value, int) and _DEFAULTS.get(key) == value:
            continue
        attr = _attribute(key, value, node)
        if attr is not None:
            attrs[key] = attr
    op = ir.Operation.create(
        f"intar.{node.kind}",
        results=[_tensor_type(node.shape, node.dtype)],
        operands=operands,
        attributes=attrs,
    )
    return op.results[0]
