"""The hardware plan of a scheduled design: which buffers, writers, readers and programs exist.

This is the one place that decides how an `intar.design` becomes hardware; `intar.hw.top`
only builds what the plan lists. The template (docs/hardware.md):

* Every tensor is seen as a 2-D matrix ``[rows, cols]`` (rows = product of the leading dims).
* Each operand a unit reads lives in a **tensor buffer** local to that unit (one per unit and
  operand slot), so each buffer has exactly one reader. Its writers are the units that produce
  the tensor (on-chip placement) or the load engine of the tensor's port (off-chip placement).
* A graph output or a spilled intermediate is written by its producers into a **store buffer**
  that the port's store engine drains row-major into off-chip memory.
* Readiness is tracked per writer as "rows complete": a reader issues a tile only when every
  writer overlapping the tile's rows has finished them, so producer and consumer in one
  task-pipeline phase overlap row block by row block, and sequential phases need no extra logic.
* Phases are global barriers: phase p + 1 starts ``switch_cycles`` after every unit, load and
  store of phase p has finished.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from intar.scheduling.device import Device
from intar.scheduling.problem import PE_KINDS, Task, TaskGraph
from intar.scheduling.result import Schedule

POINTWISE = ("relu", "requantize", "add", "mul", "exp", "gelu", "silu")
ROW_WISE = ("softmax",)
SUPPORTED_KINDS = ("matmul", *POINTWISE, *ROW_WISE)


class LoweringError(Exception):
    """The design uses something the hardware template does not build; `task` names where."""

    def __init__(self, message: str, task: str | None = None) -> None:
        super().__init__(message)
        self.task = task


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


@dataclass(frozen=True)
class Matrix:
    """A tensor as stored: ``rows x cols`` elements of ``bits`` bits."""

    name: str
    rows: int
    cols: int
    bits: int


def matrix(graph: TaskGraph, name: str) -> Matrix:
    shape = graph.tensors[name].shape
    cols = shape[-1] if shape else 1
    rows = math.prod(shape[:-1]) if len(shape) > 1 else 1
    return Matrix(name, rows, cols, graph.tensors[name].bits)


@dataclass
class Writer:
    """One producer of a buffer: a unit instruction or a load; its rows and its tile shape."""

    source: str  # unit name or "load:<port>"
    row_lo: int
    row_hi: int
    shape: tuple[int, int]


@dataclass
class BufferPlan:
    """A tensor buffer: one reader (unit + slot, or a store engine), writers in port order."""

    name: str
    tensor: Matrix
    reader: str
    slot: str
    read_shape: tuple[int, int]
    writers: list[Writer] = field(default_factory=list)

    def writer_index(self, source: str) -> int:
        for k, w in enumerate(self.writers):
            if w.source == source:
                return k
        raise KeyError(source)


@dataclass
class Read:
    """An operand slot of an instruction: which buffer, and whether its tile is transposed."""

    slot: str
    buffer: str
    transposed: bool = False


@dataclass
class Instr:
    """One assign on one unit (a controller instruction)."""

    unit: str
    task: str
    kind: str
    phase: int
    bounds: tuple[int, int, int]  # as programmed: (outer, inner, k)
    swap: bool  # loop order jik: the outer counter walks columns
    row_lo: int
    col_lo: int
    row_hi: int
    col_hi: int
    out_shape: tuple[int, int]
    reads: list[Read]
    writes: list[str]  # buffers the results go to
    shift: int = 0
    params: tuple = ()  # SFU module parameters (key of the SFU module)


@dataclass
class Load:
    port: str
    phase: int
    tensor: Matrix
    base: int  # beat address
    beats_per_row: int
    writes: list[str]


@dataclass
class Store:
    port: str
    phase: int
    tensor: Matrix
    base: int
    beats_per_row: int
    buffer: str


@dataclass
class CorePlan:
    name: str
    pe: tuple[int, int, int]
    in_bits: int
    out_bits: int


@dataclass
class SfuPlan:
    name: str
    kind: str
    lanes: int


@dataclass
class PortPlan:
    name: str
    channel: int
    width: int
    beats: int = 0  # memory size in beats


@dataclass
class HwPlan:
    graph: TaskGraph
    schedule: Schedule
    device: Device
    n_phases: int
    switch_cycles: int
    cores: list[CorePlan]
    sfus: list[SfuPlan]
    ports: list[PortPlan]
    buffers: dict[str, BufferPlan]
    instrs: dict[str, list[Instr]]  # per unit, in execution order
    loads: dict[str, list[Load]]  # per port
    stores: dict[str, list[Store]]
    placement: dict[str, tuple[str, int]]  # off-chip tensor -> (port, base beat)
    starved: frozenset[str] = frozenset()  # units with an incoming link of depth 0

    def elems_per_beat(self, port: str, bits: int) -> int:
        return self.port(port).width // bits

    def port(self, name: str) -> PortPlan:
        return next(p for p in self.ports if p.name == name)


def _check_task(task: Task, graph: TaskGraph) -> None:
    if task.kind not in SUPPORTED_KINDS:
        raise LoweringError(
            f"task kind '{task.kind}' is not built by the hardware template yet "
            f"(supported: {', '.join(SUPPORTED_KINDS)})",
            task.name,
        )
    if task.kind == "matmul":
        for op in task.operands:
            if len(graph.tensors[op].shape) != 2:
                raise LoweringError("only rank-2 matmul operands are built yet", task.name)
    if task.kind in ("add", "mul"):
        a, b = (graph.tensors[o].shape for o in task.operands)
        if a != b:
            raise LoweringError("add/mul operands must have equal shapes (no broadcast)", task.name)


def build_plan(graph: TaskGraph, schedule: Schedule, device: Device) -> HwPlan:
    """Plan the hardware of `schedule` (a design of `graph` on `device`)."""
    tasks = {t.name: t for t in graph.tasks}
    for t in graph.tasks:
        _check_task(t, graph)
    cores = {c.name: c for c in schedule.cores}
    sfus = {s.name: s for s in schedule.sfus}
    ports = [PortPlan(p.name, p.channel, p.width_bits) for p in schedule.ports]
    port_names = {p.name for p in ports}
    placement_of = {b.tensor: b for b in schedule.buffers}

    # Off-chip tensors and their addresses: each port's tensors packed in name order.
    def offchip(t: str) -> bool:
        b = placement_of.get(t)
        return b is not None and b.placement == "offchip"

    placement: dict[str, tuple[str, int]] = {}
    for t in sorted(graph.tensors):
        if offchip(t):
            home = placement_of[t].home
            if home not in port_names:
                raise LoweringError(f"off-chip tensor '{t}' is homed on '{home}', not a port")
            p = next(q for q in ports if q.name == home)
            m = matrix(graph, t)
            per = p.width // m.bits
            if per < 1:
                raise LoweringError(f"'{t}': {m.bits}-bit elements exceed the {p.width}-bit port")
            placement[t] = (p.name, p.beats)
            p.beats += m.rows * ceil_div(m.cols, per)

    # Core datapath widths: one in/out width per core.
    core_bits: dict[str, tuple[int, int]] = {}
    for ph in schedule.phases:
        for a in ph.assigns:
            t = tasks[a.task]
            if a.unit in cores and a.bounds != (0, 0, 0):
                ib = max(graph.tensors[o].bits for o in t.operands)
                prev = core_bits.get(a.unit)
                if prev is not None and prev[1] != t.bits:
                    raise LoweringError(
                        f"core '{a.unit}' produces {prev[1]}- and {t.bits}-bit results; one "
                        "core saturates to one width",
                        t.name,
                    )
                core_bits[a.unit] = (max(ib, prev[0] if prev else 2), t.bits)

    buffers: dict[str, BufferPlan] = {}
    instrs: dict[str, list[Instr]] = {u: [] for u in [*cores, *sfus]}
    loads: dict[str, list[Load]] = {p.name: [] for p in ports}
    stores: dict[str, list[Store]] = {p.name: [] for p in ports}
    producers: dict[str, list[Instr]] = {}

    def buffer_for(unit: str, slot: str, tensor: str, shape: tuple[int, int]) -> str:
        name = f"buf_{unit}_{slot}_{tensor}"
        if name not in buffers:
            buffers[name] = BufferPlan(name, matrix(graph, tensor), unit, slot, shape)
        return name

    for p_idx, ph in enumerate(schedule.phases):
        for a in ph.assigns:
            t = tasks[a.task]
            if a.bounds == (0, 0, 0):
                raise LoweringError("views are not built by the hardware template yet", t.name)
            res = matrix(graph, t.name)
            if a.unit in cores:
                d1, d2, d3 = cores[a.unit].pe
                transposed = bool(t.attr("transpose_rhs", False))
                dim, lo, hi = a.slice
                r_lo, r_hi, c_lo, c_hi = 0, res.rows, 0, res.cols
                if dim == 0:
                    r_lo, r_hi = lo, hi
                elif dim == 1:
                    c_lo, c_hi = lo, hi
                if r_lo % d1 or c_lo % d2:
                    raise LoweringError(
                        f"slice {a.slice} on '{a.unit}' is not aligned to the {d1}x{d2} tile",
                        t.name,
                    )
                k = graph.tensors[t.operands[0]].shape[1]
                bounds = (ceil_div(r_hi - r_lo, d1), ceil_div(c_hi - c_lo, d2), ceil_div(k, d3))
                order = dict(schedule.loop_orders).get(t.name, "ijk")
                swap = order == "jik"
                if swap:
                    bounds = (bounds[1], bounds[0], bounds[2])
                reads = [
                    Read("a", buffer_for(a.unit, "a", t.operands[0], (d1, d3))),
                    Read(
                        "b",
                        buffer_for(
                            a.unit, "b", t.operands[1], (d2, d3) if transposed else (d3, d2)
                        ),
                        transposed,
                    ),
                ]
                ins = Instr(
                    a.unit,
                    t.name,
                    t.kind,
                    p_idx,
                    bounds,
                    swap,
                    r_lo,
                    c_lo,
                    r_hi,
                    c_hi,
                    (d1, d2),
                    reads,
                    [],
                    int(t.attr("shift", 0)),
                )
            elif a.unit in sfus:
                lanes = sfus[a.unit].lanes
                slots = ["a", "b"][: len(t.operands)]
                reads = [
                    Read(s, buffer_for(a.unit, s, o, (1, lanes)))
                    for s, o in zip(slots, t.operands, strict=True)
                ]
                params = _sfu_params(t, graph, lanes, res)
                ins = Instr(
                    a.unit,
                    t.name,
                    t.kind,
                    p_idx,
                    (res.rows, ceil_div(res.cols, lanes), 1),
                    False,
                    0,
                    0,
                    res.rows,
                    res.cols,
                    (1, lanes),
                    reads,
                    [],
                    int(t.attr("shift", 0)),
                    params,
                )
            else:
                raise LoweringError(f"task '{t.name}' is assigned to '{a.unit}', not a unit")
            instrs[a.unit].append(ins)
            producers.setdefault(t.name, []).append(ins)

    # Writers of each buffer, and the loads that fill off-chip operands.
    phase_of_reader: dict[str, int] = {}
    for lst in instrs.values():
        for ins in lst:
            for r in ins.reads:
                phase_of_reader.setdefault(r.buffer, ins.phase)
    for name in sorted(buffers):
        buf = buffers[name]
        tname = buf.tensor.name
        if tname in placement:
            port, base = placement[tname]
            per = next(p for p in ports if p.name == port).width // buf.tensor.bits
            bpr = ceil_div(buf.tensor.cols, per)
            load = next(
                (
                    ld
                    for ld in loads[port]
                    if ld.tensor.name == tname and ld.phase == phase_of_reader[name]
                ),
                None,
            )
            if load is None:
                load = Load(port, phase_of_reader[name], buf.tensor, base, bpr, [])
                loads[port].append(load)
            load.writes.append(name)
            buf.writers.append(Writer(f"load:{port}", 0, buf.tensor.rows, (1, per)))
        else:
            for ins in producers.get(tname, []):
                ins.writes.append(name)
                buf.writers.append(Writer(ins.unit, ins.row_lo, ins.row_hi, ins.out_shape))
    for port in loads:
        loads[port].sort(key=lambda ld: (ld.phase, ld.tensor.name))

    # Stores: graph outputs and spilled intermediates produced on chip.
    for tname, (port, base) in sorted(placement.items()):
        if tname not in producers:
            continue
        m = matrix(graph, tname)
        per = next(p for p in ports if p.name == port).width // m.bits
        name = f"store_{port}_{tname}"
        buf = BufferPlan(name, m, f"store:{port}", "s", (1, per))
        for ins in producers[tname]:
            ins.writes.append(name)
            buf.writers.append(Writer(ins.unit, ins.row_lo, ins.row_hi, ins.out_shape))
        buffers[name] = buf
        phase = max(ins.phase for ins in producers[tname])
        stores[port].append(Store(port, phase, m, base, ceil_div(m.cols, per), name))
    for port in stores:
        stores[port].sort(key=lambda s: (s.phase, s.tensor.name))

    for lst in instrs.values():
        for ins in lst:
            if not ins.writes:
                raise LoweringError(f"the result of '{ins.task}' is never read", ins.task)

    core_plans = [
        CorePlan(c.name, c.pe, *core_bits.get(c.name, (16, 16)))
        for c in schedule.cores
        if instrs[c.name]
    ]
    sfu_plans = [SfuPlan(s.name, s.kind, s.lanes) for s in schedule.sfus if instrs[s.name]]
    instrs = {u: lst for u, lst in instrs.items() if lst}
    switch = max((w.cycles for w in schedule.switches), default=0)
    starved = frozenset(k.dest for k in schedule.links if k.depth == 0)
    return HwPlan(
        graph,
        schedule,
        device,
        len(schedule.phases),
        switch,
        core_plans,
        sfu_plans,
        ports,
        buffers,
        instrs,
        loads,
        stores,
        placement,
        starved,
    )


def _sfu_params(t: Task, graph: TaskGraph, lanes: int, res: Matrix) -> tuple:
    """The elaboration parameters of the SFU module that runs task `t`."""
    in_bits = tuple(graph.tensors[o].bits for o in t.operands)
    if t.kind in ("relu", "requantize", "add", "mul"):
        return (t.kind, lanes, in_bits, t.bits, int(t.attr("shift", 0)))
    if t.kind in ("exp", "gelu", "silu"):
        return (t.kind, lanes, in_bits, t.bits, int(t.attr("frac_bits")))
    if t.kind == "softmax":
        shape = graph.tensors[t.operands[0]].shape
        per_matrix = shape[-2] if len(shape) > 1 else 1
        return (
            t.kind,
            lanes,
            in_bits,
            t.bits,
            res.cols,
            int(t.attr("frac_bits")),
            int(t.attr("out_frac_bits")),
            bool(t.attr("causal", False)),
            per_matrix,
        )
    raise LoweringError(f"no SFU for '{t.kind}'", t.name)


def is_pe(kind: str) -> bool:
    return kind in PE_KINDS
