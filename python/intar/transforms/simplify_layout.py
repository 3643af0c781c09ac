"""intar-simplify-layout: fold chains of reshapes and transposes, drop identity ones.

Views cost nothing in arithmetic but each one is a task the scheduler must place, so the
chain reshape(reshape(x)) becomes one reshape, transpose(transpose(x)) one transpose (or
none, if the permutations cancel), and a view whose result equals its input disappears.
"""

from __future__ import annotations

from typing import Any

from circt import ir

from intar.dialects.intar import ReshapeOp, TransposeOp, defining_op
from intar.passes import PassInfo
from intar.transforms._rewrite import erase_if_dead, graphs, recreate, replace


def _simplify(op: ir.OpView) -> bool:
    """Applies one rewrite at `op`; True if the IR changed."""
    source = op.operation.operands[0]
    producer = defining_op(source)
    if isinstance(op, ReshapeOp):
        if source.type == op.operation.results[0].type:
            replace(op, source)
            return True
        if isinstance(producer, ReshapeOp):
            new = recreate(op, operands=[producer.operation.operands[0]])
            replace(op, new.results[0])
            erase_if_dead(producer)
            return True
    if isinstance(op, TransposeOp):
        perm = op.permutation
        if perm == sorted(perm):
            replace(op, source)
            return True
        if isinstance(producer, TransposeOp):
            inner = producer.permutation
            composed = [inner[p] for p in perm]
            new = recreate(
                op,
                operands=[producer.operation.operands[0]],
                attributes={"perm": ir.DenseI64ArrayAttr.get(composed)},
            )
            replace(op, new.results[0])
            erase_if_dead(producer)
            return True
    return False


def run(root: ir.Operation, options: dict[str, Any]) -> None:
    for graph in graphs(root):
        changed = True
        while changed:
            changed = any(
                _simplify(op) for op in graph.ops() if isinstance(op, ReshapeOp | TransposeOp)
            )


PASS = PassInfo(
    argument="intar-simplify-layout",
    summary="Fold reshape and transpose chains and remove identity views",
    run=run,
)
