"""intar-schedule: choose a static InTAR schedule for each graph and emit it as a design.

For every `intar.graph` (or the one named by `graph=`), the scheduler in `intar.scheduling`
picks cores, SFUs, links, buffer placement and the ordered phases under the device's budget,
and this pass writes the result as an `intar.design` right after the graph. `mode=dataflow`
and `mode=sequential` give the two fixed-pattern baselines from the same input.
"""

from __future__ import annotations

from typing import Any

from circt import ir

from intar.analysis.task_graph import task_graph
from intar.passes import Option, PassFailure, PassInfo
from intar.scheduling.device import load_device
from intar.scheduling.problem import ScheduleError
from intar.scheduling.result import Schedule
from intar.scheduling.search import schedule
from intar.transforms._rewrite import graphs

MODES = ("intar", "dataflow", "sequential")


def _mode(text: str) -> str:
    if text not in MODES:
        raise ValueError(f"must be one of {', '.join(MODES)}")
    return text


def _i64(v: int) -> ir.IntegerAttr:
    return ir.IntegerAttr.get(ir.IntegerType.get_signless(64), int(v))


def _ref(name: str) -> ir.FlatSymbolRefAttr:
    return ir.FlatSymbolRefAttr.get(name)


def _refs(names: tuple[str, ...]) -> ir.ArrayAttr:
    return ir.ArrayAttr.get([_ref(n) for n in names])


def _op(name: str, attrs: dict[str, ir.Attribute], regions: int = 0) -> ir.Operation:
    return ir.Operation.create(f"intar.{name}", attributes=attrs, regions=regions)


def _body(op: ir.Operation) -> ir.InsertionPoint:
    return ir.InsertionPoint(op.regions[0].blocks.append())


def emit_design(result: Schedule, name: str) -> ir.Operation:
    """Builds the `intar.design` of a schedule at the current insertion point."""
    s = ir.StringAttr.get
    attrs = {
        "sym_name": s(name),
        "graph": _ref(result.graph),
        "device": s(result.device),
        "mode": s(result.mode),
        "dsp_budget": _i64(result.dsp_budget),
        "port_budget": _i64(result.port_budget),
        "macs_per_dsp": _i64(result.macs_per_dsp),
        "predicted_cycles": _i64(result.predicted_cycles),
        "roofline_cycles": _i64(result.roofline_cycles),
    }
    design = _op("design", attrs, regions=1)
    with _body(design):
        for c in result.cores:
            _op(
                "core",
                {
                    "sym_name": s(c.name),
                    "pe": ir.DenseI64ArrayAttr.get(list(c.pe)),
                    "scratchpad_bytes": _i64(c.scratchpad_bytes),
                    "scratchpad_ports": _i64(c.scratchpad_ports),
                },
            )
        for u in result.sfus:
            _op(
                "sfu",
                {
                    "sym_name": s(u.name),
                    "kind": s(u.kind),
                    "lanes": _i64(u.lanes),
                    "dsps": _i64(u.dsps),
                },
            )
        for p in result.ports:
            _op(
                "port",
                {"sym_name": s(p.name), "channel": _i64(p.channel), "width": _i64(p.width_bits)},
            )
        for k in result.links:
            _op(
                "link",
                {
                    "sym_name": s(k.name),
                    "source": _ref(k.source),
                    "dest": _ref(k.dest),
                    "width": _i64(k.width_bits),
                    "depth": _i64(k.depth),
                },
            )
        for b in result.buffers:
            _op(
                "buffer",
                {
                    "sym_name": s(b.name),
                    "tensor": _ref(b.tensor),
                    "placement": s(b.placement),
                    "home": _ref(b.home),
                    "bytes": _i64(b.bytes),
                }
                | ({"slice": ir.DenseI64ArrayAttr.get(list(b.slice))} if b.slice else {})
                | ({"transposed": ir.UnitAttr.get()} if b.transposed else {}),
            )
        sched = _op("schedule", {}, regions=1)
        switches = {sw.from_phase: sw for sw in result.switches}
        orders = dict(result.loop_orders)
        with _body(sched):
            for phase in result.phases:
                p = _op(
                    "phase",
                    {
                        "sym_name": s(phase.name),
                        "pattern": s(phase.pattern),
                        "cycles": _i64(phase.cycles),
                    },
                    regions=1,
                )
                with _body(p):
                    for a in phase.assigns:
                        attrs = {
                            "task": _ref(a.task),
                            "unit": _ref(a.unit),
                            "stage": _i64(a.stage),
                            "slice": ir.DenseI64ArrayAttr.get(list(a.slice)),
                            "bounds": ir.DenseI64ArrayAttr.get(list(a.bounds)),
                            "sources": _refs(a.sources),
                            "sinks": _refs(a.sinks),
                        }
                        if a.task in orders:
                            attrs["loop_order"] = s(orders[a.task])
                        _op("assign", attrs)
                sw = switches.get(phase.name)
                if sw is not None:
                    _op(
                        "switch",
                        {
                            "from": _ref(sw.from_phase),
                            "to": _ref(sw.to_phase),
                            "cycles": _i64(sw.cycles),
                        },
                    )
    return design


def run(root: ir.Operation, options: dict[str, Any]) -> None:
    try:
        device = load_device(options["device"])
    except ValueError as e:
        root.location.emit_error(f"intar-schedule: {e}")
        raise PassFailure from None
    targets = [g for g in graphs(root) if options["graph"] in ("", g.graph_name)]
    if not targets:
        root.location.emit_error(f"intar-schedule: no intar.graph named '{options['graph']}'")
        raise PassFailure
    failed = False
    for graph in targets:
        try:
            result = schedule(
                task_graph(graph),
                device,
                dsp_budget=options["dsp"] or None,
                port_budget=options["ports"] or None,
                mode=options["mode"],
            )
        except ScheduleError as e:
            graph.location.emit_error(
                f"cannot schedule '{graph.graph_name}' on {device.name} in {options['mode']} "
                f"mode: {e}"
            )
            failed = True
            continue
        name = f"{graph.graph_name}_{options['mode']}"
        with ir.InsertionPoint.after(graph), graph.location:
            emit_design(result, name)
    if failed:
        raise PassFailure


PASS = PassInfo(
    argument="intar-schedule",
    summary="Choose a static InTAR schedule for each graph and emit it as an intar.design",
    run=run,
    options={
        "device": Option(str, "u280", "device name or JSON file (u280, vpk180, tiny)"),
        "dsp": Option(int, 0, "DSP budget (0: the whole device)"),
        "ports": Option(int, 0, "off-chip port budget (0: every channel)"),
        "mode": Option(_mode, "intar", "intar, dataflow or sequential"),
        "graph": Option(str, "", "schedule only this graph"),
    },
)
