"""intar-lower-to-hw: build the hardware of each `intar.design` in hw/comb/seq.

Each design becomes a top `hw.module` named after the design (plus its submodules), built by
`intar.hw.top` from the plan of `intar.hw.plan`. The task-level graph and the design are then
erased, so CIRCT's own passes (`lower-seq-firmem`, `lower-seq-to-sv`, `hw-memory-sim`, ...) see
only hardware dialects; the `intar-lower-to-sv` pipeline group runs them all.
"""

from __future__ import annotations

from typing import Any

from circt import ir

from intar.analysis.design import schedule_of
from intar.analysis.task_graph import task_graph
from intar.dialects import intar
from intar.hw.plan import HwPlan, LoweringError, build_plan
from intar.hw.top import build_top
from intar.passes import Option, PassFailure, PassInfo
from intar.scheduling.device import load_device


def designs(root: ir.Operation) -> list[intar.DesignOp]:
    return [o for o in root.regions[0].blocks[0].operations if isinstance(o, intar.DesignOp)]


def plan_of(root: ir.Operation, design: intar.DesignOp) -> HwPlan:
    """The hardware plan of `design` (raises LoweringError, or ValueError for the device)."""
    sched = schedule_of(design)
    graph = next(
        o
        for o in root.regions[0].blocks[0].operations
        if isinstance(o, intar.GraphOp) and o.graph_name == sched.graph
    )
    return build_plan(task_graph(graph), sched, load_device(sched.device))


def _task_location(root: ir.Operation, task: str | None) -> ir.Location | None:
    if task is None:
        return None
    for g in root.regions[0].blocks[0].operations:
        if isinstance(g, intar.GraphOp):
            for op in g.tasks():
                if op.task_name == task:
                    return op.location
    return None


def run(root: ir.Operation, options: dict[str, Any]) -> None:
    targets = [d for d in designs(root) if options["design"] in ("", d.design_name)]
    if not targets:
        root.location.emit_error("intar-lower-to-hw: no intar.design to lower")
        raise PassFailure
    plans = []
    for d in targets:
        try:
            plans.append((d.design_name, plan_of(root, d)))
        except LoweringError as e:
            loc = _task_location(root, e.task) or d.location
            loc.emit_error(f"intar-lower-to-hw: cannot build '{d.design_name}': {e}")
            raise PassFailure from None
    body = root.regions[0].blocks[0]
    for name, plan in plans:
        with ir.InsertionPoint(body), ir.Location.name(name):
            build_top(plan, name)
    for op in list(body.operations):
        if isinstance(op, (intar.GraphOp, intar.DesignOp)):
            op.operation.erase()


PASS = PassInfo(
    argument="intar-lower-to-hw",
    summary="Build each intar.design as hw/comb/seq modules (the top is named after the design)",
    run=run,
    options={"design": Option(str, "", "lower only this design")},
)
