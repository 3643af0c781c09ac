"""intar-fuse-requantize: fold a requantize into the task that produces its input.

A compute core requantizes on its way out of the reduction tree, so `requantize(matmul(..))`
is one task in hardware. The fold applies when the producer's result is i32 with shift 0 and
the requantize is its only user. For add and mul it applies only when the exact result fits
in i32 (then saturating to i32 first was the identity); matmul and convolutions wrap to i32
before shifting in both forms, so their fold is always exact.
"""

from __future__ import annotations

from typing import Any

from circt import ir

from intar.dialects.intar import (
    AddOp,
    Conv2dOp,
    ConvTranspose2dOp,
    MatmulOp,
    MulOp,
    RequantizeOp,
    defining_op,
    int_attr,
)
from intar.passes import PassInfo
from intar.transforms._rewrite import fold_into_producer, graphs, use_count

_ACCUMULATING = (MatmulOp, Conv2dOp, ConvTranspose2dOp)


def _exact_bits(op: ir.OpView) -> int:
    """Bits that the exact (unsaturated) result of an add or mul needs."""
    a, b = op.operand_bits(0), op.operand_bits(1)
    return max(a, b) + 1 if isinstance(op, AddOp) else a + b


def _fusible(producer: ir.OpView | None) -> bool:
    if not isinstance(producer, (*_ACCUMULATING, AddOp, MulOp)):
        return False
    if producer.result_bits != 32 or int_attr(producer, "shift", 0) != 0:
        return False
    if use_count(producer.operation.results[0]) != 1:
        return False
    return isinstance(producer, _ACCUMULATING) or _exact_bits(producer) <= 32


def run(root: ir.Operation, options: dict[str, Any]) -> None:
    for graph in graphs(root):
        for op in [o for o in graph.ops() if isinstance(o, RequantizeOp)]:
            source = op.operation.operands[0]
            producer = defining_op(source)
            if not _fusible(producer):
                continue
            fold_into_producer(op, producer, {"shift": op.operation.attributes["shift"]})


PASS = PassInfo(
    argument="intar-fuse-requantize",
    summary="Fold requantize tasks into the matmul, conv, add or mul that feeds them",
    run=run,
)
