"""Runs an `intar.graph` on the golden kernels: the reference every design is checked against."""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping

import numpy as np
from circt import ir

from intar.dialects import intar
from intar.golden import kernels
from intar.golden.weights import materialize

Array = np.ndarray


def weight_values(op: intar.WeightOp) -> Array:
    """A weight's values: its explicit elements, or the ones its seed draws."""
    bits, shape = op.result_bits, op.result_shape
    if intar.has_attr(op, "value"):
        raw = _dense_elements(op.operation.attributes["value"], bits)
        raw = np.broadcast_to(raw.reshape(-1), (int(np.prod(shape)),))
        half = 1 << (bits - 1)
        return (((raw + half) % (1 << bits)) - half).reshape(shape)  # sign-extend
    return materialize(shape, bits, intar.int_attr(op, "seed"))


def _dense_elements(attr: ir.Attribute, bits: int) -> Array:
    """The integers of a dense attribute, read from its text (the bindings cannot index i4)."""
    body = str(attr).removeprefix("dense<").rsplit("> :", 1)[0]
    if body.startswith('"0x'):
        storage = {4: "<i1", 8: "<i1", 16: "<i2", 32: "<i4"}[bits]
        return np.frombuffer(bytes.fromhex(body[3:-1]), dtype=storage).astype(np.int64)
    return np.array(ast.literal_eval(body), dtype=np.int64)


def random_inputs(graph: intar.GraphOp, seed: int = 0) -> dict[str, Array]:
    """Deterministic inputs over each input's full range (seeded per input index)."""
    inputs = [t for t in graph.tasks() if isinstance(t, intar.InputOp)]
    return {
        t.task_name: materialize(t.result_shape, t.result_bits, 1_000_003 * (seed + 1) + i)
        for i, t in enumerate(inputs)
    }


def _shift(op: intar.TaskLevelOp) -> int:
    return intar.int_attr(op, "shift", 0)


_KERNELS: dict[str, Callable[[intar.TaskLevelOp, list[Array]], Array]] = {
    "matmul": lambda op, a: kernels.matmul(
        *a,
        transpose_rhs=intar.has_attr(op, "transpose_rhs"),
        shift=_shift(op),
        relu=intar.has_attr(op, "relu"),
        out_bits=op.result_bits,
    ),
    "conv2d": lambda op, a: kernels.conv2d(
        *a,
        stride=intar.int_attr(op, "stride", 1),
        padding=intar.int_attr(op, "padding", 0),
        shift=_shift(op),
        relu=intar.has_attr(op, "relu"),
        out_bits=op.result_bits,
    ),
    "conv_transpose2d": lambda op, a: kernels.conv_transpose2d(
        *a,
        stride=intar.int_attr(op, "stride", 1),
        padding=intar.int_attr(op, "padding", 0),
        shift=_shift(op),
        relu=intar.has_attr(op, "relu"),
        out_bits=op.result_bits,
    ),
    "add": lambda op, a: kernels.add(*a, shift=_shift(op), out_bits=op.result_bits),
    "mul": lambda op, a: kernels.mul(*a, shift=_shift(op), out_bits=op.result_bits),
    "relu": lambda op, a: kernels.relu(*a, out_bits=op.result_bits),
    "gelu": lambda op, a: kernels.gelu(
        *a, frac_bits=intar.int_attr(op, "frac_bits"), out_bits=op.result_bits
    ),
    "silu": lambda op, a: kernels.silu(
        *a, frac_bits=intar.int_attr(op, "frac_bits"), out_bits=op.result_bits
    ),
    "exp": lambda op, a: kernels.exp(
        *a, frac_bits=intar.int_attr(op, "frac_bits"), out_bits=op.result_bits
    ),
    "softmax": lambda op, a: kernels.softmax(
        *a,
        frac_bits=intar.int_attr(op, "frac_bits"),
        out_frac_bits=intar.int_attr(op, "out_frac_bits"),
        causal=intar.has_attr(op, "causal"),
        out_bits=op.result_bits,
    ),
    "layernorm": lambda op, a: kernels.layernorm(
        *a, frac_bits=intar.int_attr(op, "frac_bits"), out_bits=op.result_bits
    ),
    "upsample": lambda op, a: kernels.upsample(*a, out_bits=op.result_bits),
    "maxpool": lambda op, a: kernels.maxpool(*a, out_bits=op.result_bits),
    "requantize": lambda op, a: kernels.requantize(*a, shift=_shift(op), out_bits=op.result_bits),
    "reshape": lambda op, a: kernels.reshape(*a, op.result_shape),
    "transpose": lambda op, a: kernels.transpose(*a, op.permutation),
}


def run(graph: intar.GraphOp, inputs: Mapping[str, Array] | None = None) -> dict[str, Array]:
    """Evaluates every op of the graph; returns each tensor by name (inputs and weights too).

    Missing inputs are drawn by `random_inputs`. The graph must have verified.
    """
    provided = dict(inputs) if inputs is not None else random_inputs(graph)
    values: dict[str, Array] = {}
    by_result: dict[ir.Value, str] = {}
    for op in graph.tasks():
        name = op.task_name
        kind = intar.task_kind(op)
        if kind == "input":
            if name not in provided:
                raise KeyError(f"no value for input '{name}'")
            value = np.asarray(provided[name], dtype=np.int64)
            if value.shape != op.result_shape:
                raise ValueError(
                    f"input '{name}' has shape {value.shape}, expected {op.result_shape}"
                )
        elif kind == "weight":
            value = weight_values(op)
        else:
            args = [values[by_result[v]] for v in op.operation.operands]
            value = _KERNELS[kind](op, args)
        values[name] = value
        by_result[op.operation.results[0]] = name
    return values


def outputs(graph: intar.GraphOp, values: Mapping[str, Array]) -> list[tuple[str, Array]]:
    """The graph's results, named by the ops that produce them."""
    names = []
    for v in graph.output.operation.operands:
        producer = intar.defining_op(v)
        names.append(producer.task_name)
    return [(n, values[n]) for n in names]


def graph_named(module: ir.Module, name: str | None = None) -> intar.GraphOp:
    graphs = [o for o in module.body.operations if isinstance(o, intar.GraphOp)]
    for g in graphs:
        if name is None or g.graph_name == name:
            return g
    raise KeyError(f"no intar.graph named '{name}'" if name else "the module holds no intar.graph")
