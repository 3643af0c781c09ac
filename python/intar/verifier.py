"""Verification of the intar dialect, run after parsing and after every pass.

MLIR's own verifier runs first (dominance, region structure, CIRCT's registered ops). Then
every `intar.*` op is checked by its `verify()`, in post-order: like MLIR's region verifiers,
an op whose nested ops failed is not checked itself, so one mistake gives one error.
"""

from __future__ import annotations

from circt import ir

from intar.dialects.intar import OP_CLASSES, VerifyError


def verify(root: ir.Operation) -> bool:
    """Verifies `root` and everything nested in it; emits diagnostics; True on success."""
    if not root.verify():
        return False
    failed: set = set()
    ops: list[ir.Operation] = []

    def collect(op: ir.Operation) -> ir.WalkResult:
        ops.append(op)
        return ir.WalkResult.ADVANCE

    root.walk(collect, ir.WalkOrder.POST_ORDER)
    ok = True
    for op in ops:
        if not op.name.startswith("intar."):
            continue
        if _has_failed_child(op, failed):
            failed.add(op)
            continue
        if op.name not in OP_CLASSES:
            op.location.emit_error(f"'{op.name}' op is not an operation of the intar dialect")
            failed.add(op)
            ok = False
            continue
        try:
            op.opview.verify()
        except VerifyError as e:
            op.location.emit_error(f"'{op.name}' op {e}")
            failed.add(op)
            ok = False
    return ok


def _has_failed_child(op: ir.Operation, failed: set) -> bool:
    for region in op.regions:
        for block in region.blocks:
            for child in block.operations:
                if child.operation in failed:
                    return True
    return False
