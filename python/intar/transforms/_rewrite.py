"""Small IR-mutation helpers shared by the task-level passes."""

from __future__ import annotations

from circt import ir

from intar.dialects.intar import GraphOp


def graphs(root: ir.Operation) -> list[GraphOp]:
    """The `intar.graph` ops directly in a module."""
    return [o for o in root.regions[0].blocks[0].operations if isinstance(o, GraphOp)]


def use_count(value: ir.Value) -> int:
    return sum(1 for _ in value.uses)


def recreate(
    op: ir.OpView,
    *,
    operands: list[ir.Value] | None = None,
    result_type: ir.Type | None = None,
    attributes: dict[str, ir.Attribute] | None = None,
    before: ir.OpView | None = None,
) -> ir.Operation:
    """A copy of `op` with some parts replaced, inserted before `before` (default: `op`)."""
    current = op.operation.attributes
    attrs = {name: current[name] for name in current}
    attrs.update(attributes or {})
    with ir.InsertionPoint(before or op), op.location:
        return ir.Operation.create(
            op.operation.name,
            results=[result_type or op.operation.results[0].type],
            operands=list(operands if operands is not None else op.operation.operands),
            attributes=attrs,
        )


def replace(op: ir.OpView, value: ir.Value) -> None:
    """Replaces every use of `op`'s result with `value` and erases `op`."""
    op.operation.results[0].replace_all_uses_with(value)
    op.operation.erase()


def fold_into_producer(
    op: ir.OpView, producer: ir.OpView, attributes: dict[str, ir.Attribute]
) -> None:
    """Replaces a single-operand `op` and its `producer` with one copy of the producer that
    has `op`'s result type and the extra `attributes` (the producer's name is kept)."""
    fused = recreate(
        producer, result_type=op.operation.results[0].type, attributes=attributes, before=op
    )
    replace(op, fused.results[0])
    producer.operation.erase()


def erase_if_dead(op: ir.OpView) -> None:
    if all(use_count(r) == 0 for r in op.operation.results):
        op.operation.erase()
