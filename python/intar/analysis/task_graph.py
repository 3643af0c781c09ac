"""The scheduler's view of an `intar.graph`: tensors, tasks and their attributes.

`intar.scheduling` works on plain Python data so that its algorithms stay apart from the IR,
as CIRCT keeps its scheduling problems apart from the passes that use them. This analysis is
the one bridge from the IR to that data.
"""

from __future__ import annotations

from circt import ir

from intar.dialects import intar
from intar.scheduling.problem import Task, TaskGraph, Tensor

_ATTRS = {
    "matmul": ("transpose_rhs", "shift", "relu"),
    "conv2d": ("stride", "padding", "shift", "relu"),
    "conv_transpose2d": ("stride", "padding", "shift", "relu"),
    "add": ("shift",),
    "mul": ("shift",),
    "gelu": ("frac_bits",),
    "silu": ("frac_bits",),
    "exp": ("frac_bits",),
    "softmax": ("frac_bits", "out_frac_bits", "causal"),
    "layernorm": ("frac_bits",),
    "requantize": ("shift",),
    "transpose": ("perm",),
}
_DEFAULTS = {"shift": 0, "stride": 1, "padding": 0}


def _attribute(op: ir.OpView, name: str) -> object:
    if name in ("transpose_rhs", "causal", "relu"):
        return intar.has_attr(op, name)
    if name == "perm":
        return tuple(intar.array_attr(op, name))
    return intar.int_attr(op, name, _DEFAULTS.get(name))


def task_graph(graph: intar.GraphOp) -> TaskGraph:
    """The scheduling problem of a verified graph."""
    tensors: dict[str, Tensor] = {}
    tasks: list[Task] = []
    names: dict[ir.Value, str] = {}
    for op in graph.tasks():
        kind = intar.task_kind(op)
        name = op.task_name
        role = kind if kind in intar.LEAF_KINDS else "task"
        tensors[name] = Tensor(name, op.result_shape, op.result_bits, role)
        names[op.operation.results[0]] = name
        if role == "task":
            attrs = {a: _attribute(op, a) for a in _ATTRS.get(kind, ())}
            operands = tuple(names[v] for v in op.operation.operands)
            tasks.append(Task(name, kind, operands, op.result_shape, op.result_bits, attrs))
    outputs = tuple(names[v] for v in graph.output.operation.operands)
    return TaskGraph(graph.graph_name, tensors, tuple(tasks), outputs)
