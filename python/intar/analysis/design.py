"""An `intar.design` read back as the scheduler's `Schedule`: what reports and hardware
generation consume, taken from the IR rather than from the scheduler's memory."""

from __future__ import annotations

from intar.dialects import intar
from intar.scheduling.result import (
    Assign,
    Buffer,
    Core,
    Link,
    Phase,
    Port,
    Schedule,
    Sfu,
    Switch,
)


def schedule_of(design: intar.DesignOp) -> Schedule:
    i, s, r = intar.int_attr, intar.str_attr, intar.ref_attr
    of = design.of_type
    phases = tuple(
        Phase(
            p.phase_name,
            p.pattern,
            p.cycles,
            tuple(
                Assign(
                    a.task,
                    a.unit,
                    i(a, "stage"),
                    a.slice,
                    a.bounds,
                    tuple(a.sources),
                    tuple(a.sinks),
                )
                for a in p.assigns()
            ),
        )
        for p in design.schedule.phases()
    )
    return Schedule(
        graph=r(design, "graph"),
        device=s(design, "device"),
        mode=design.mode,
        dsp_budget=i(design, "dsp_budget"),
        port_budget=i(design, "port_budget"),
        predicted_cycles=i(design, "predicted_cycles", sum(p.cycles for p in phases)),
        roofline_cycles=i(design, "roofline_cycles", 0),
        cores=tuple(
            Core(c.unit_name, c.pe, i(c, "scratchpad_bytes"), i(c, "scratchpad_ports"))
            for c in design.cores()
        ),
        sfus=tuple(
            Sfu(u.unit_name, s(u, "kind"), i(u, "lanes"), i(u, "dsps")) for u in of(intar.SfuOp)
        ),
        ports=tuple(Port(p.unit_name, i(p, "channel"), i(p, "width")) for p in of(intar.PortOp)),
        links=tuple(
            Link(k.unit_name, r(k, "source"), r(k, "dest"), i(k, "width"), i(k, "depth"))
            for k in of(intar.LinkOp)
        ),
        buffers=tuple(
            Buffer(
                b.unit_name,
                r(b, "tensor"),
                b.placement,
                r(b, "home"),
                i(b, "bytes"),
                b.slice,
                b.transposed,
            )
            for b in of(intar.BufferOp)
        ),
        phases=phases,
        switches=tuple(
            Switch(w.source, w.target, i(w, "cycles")) for w in design.schedule.switches()
        ),
        macs_per_dsp=i(design, "macs_per_dsp", 1),
        loop_orders=tuple(
            sorted(
                {
                    (a.task, a.loop_order)
                    for p in design.schedule.phases()
                    for a in p.assigns()
                    if a.loop_order is not None
                }
            )
        ),
    )
