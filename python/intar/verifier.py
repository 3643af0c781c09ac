"""Verification of the intar dialect, run after parsing and after every pass.

MLIR's own verifier runs first (region structure, CIRCT's registered ops; it treats the
regions of unregistered ops as graph regions, so acyclicity is ours to check). Then every
`intar.*` op is checked by its `verify()`, in post-order; the walk does not enter the ops of
the hardware dialects, which the lowering makes and which hold no intar ops. One mistake gives
one error: like MLIR's region verifiers, an op whose nested ops failed is not checked, and
neither is an op whose operands come from an op that failed.
"""

from __future__ import annotations

from circt import ir

from intar.dialects.intar import OP_CLASSES, VerifyError

HARDWARE = ("hw.", "comb.", "seq.", "sv.", "emit.")
"""Dialects whose ops (and what they nest) the intar checks do not look into."""


def verify(root: ir.Operation) -> bool:
    """Verifies `root` and everything nested in it; emits diagnostics; True on success.

    Pre-order, each op's own invariants (`verify`); the nested ops of an op that failed are
    skipped. Post-order, the rules that need the nested ops (`verify_regions`), for ops whose
    nested ops all passed.
    """
    if not root.verify():
        return False
    failed: set[ir.Operation] = set()
    visited: list[ir.Operation] = []

    def report(op: ir.Operation, error: VerifyError) -> None:
        at = error.at.operation if error.at is not None else op
        at.location.emit_error(f"'{at.name}' op {error}")
        failed.add(op)

    def own(op: ir.Operation) -> ir.WalkResult:
        if not op.name.startswith("intar."):
            # the hardware lowering's ops hold no intar ops: a lowered design has millions
            return ir.WalkResult.SKIP if op.name.startswith(HARDWARE) else ir.WalkResult.ADVANCE
        if op.name not in OP_CLASSES:
            report(op, VerifyError("is not an operation of the intar dialect"))
            return ir.WalkResult.SKIP
        if any(_defining(v) in failed for v in op.operands):
            return ir.WalkResult.SKIP
        try:
            op.opview.verify()
        except VerifyError as e:
            report(op, e)
            return ir.WalkResult.SKIP
        visited.append(op)
        return ir.WalkResult.ADVANCE

    root.walk(own, ir.WalkOrder.PRE_ORDER)
    for op in reversed(visited):
        if _has_failed_descendant(op, failed):
            failed.add(op)
            continue
        try:
            op.opview.verify_regions()
        except VerifyError as e:
            report(op, e)
    return not failed


def _defining(value: ir.Value) -> ir.Operation | None:
    owner = value.owner
    if isinstance(owner, ir.OpView):
        return owner.operation
    return owner if isinstance(owner, ir.Operation) else None


def _has_failed_descendant(op: ir.Operation, failed: set[ir.Operation]) -> bool:
    for region in op.regions:
        for block in region.blocks:
            for child in block.operations:
                if child.operation in failed:
                    return True
    return False
