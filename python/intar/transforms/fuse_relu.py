"""intar-fuse-relu: fold a relu into the convolution that produces its input.

A compute core saturates its requantized result on the way out, so a relu there is one more
bound: the lower one becomes 0 (`relu` on the producer). The fold applies when the relu is the
producer's only user and its element type is no wider than the producer's: then saturating to
the producer's type first changes nothing that the relu keeps (both bounds, the rounding shift
and max(x, 0) are monotonic and keep 0). The fused task takes the relu's result type and keeps
the producer's name. Run after intar-fuse-requantize, which removes a requantize between them.

Only convolutions are folded for now. The core and the golden model take `relu` on a matmul
too, but a matmul split over several cores would then write the next core's buffer directly,
and that buffer's fixed-priority write grant (each core's ready waits on the valids of the
cores before it) measured 9 LUT levels on the paper-scale MLP (bound 8; 8 with the relu on
an SFU). Folding matmuls waits for a registered grant.
"""

from __future__ import annotations

from typing import Any

from circt import ir

from intar.dialects.intar import Conv2dOp, ConvTranspose2dOp, ReluOp, defining_op
from intar.passes import PassInfo
from intar.transforms._rewrite import fold_into_producer, graphs, use_count

_FOLDED = (Conv2dOp, ConvTranspose2dOp)


def _fusible(relu: ReluOp, producer: ir.OpView | None) -> bool:
    if not isinstance(producer, _FOLDED):
        return False
    if use_count(producer.operation.results[0]) != 1:
        return False
    return relu.result_bits <= producer.result_bits


def run(root: ir.Operation, options: dict[str, Any]) -> None:
    for graph in graphs(root):
        for op in [o for o in graph.ops() if isinstance(o, ReluOp)]:
            producer = defining_op(op.operation.operands[0])
            if not _fusible(op, producer):
                continue
            fold_into_producer(op, producer, {"relu": ir.UnitAttr.get()})


PASS = PassInfo(
    argument="intar-fuse-relu",
    summary="Fold relu tasks into the convolution that feeds them",
    run=run,
)
