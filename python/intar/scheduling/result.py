"""The scheduler's result: one dataclass per `intar` design op, plus reports and `validate`.

Field names follow the ODS attributes of IntarDesignOps.td (`width_bits` is the `width`
attribute of `intar.port` and `intar.link`).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Literal

from .cost import ceil_div, pe_dsps
from .problem import (
    PE_KINDS,
    VIEW_KINDS,
    TaskGraph,
    matrix_dims,
    transposable_weights,
    with_transposed_weights,
)

Pattern = Literal["sequential", "task_parallel", "task_pipeline"]


@dataclass(frozen=True)
class Core:
    """A compute core: a d1 x d2 x d3 PE array with its scratchpad."""

    name: str
    pe: tuple[int, int, int]
    scratchpad_bytes: int
    scratchpad_ports: int


@dataclass(frozen=True)
class Sfu:
    """A special-function unit; `dsps` counts the DSP48E2s of its multipliers as the hardware
    generator builds them."""

    name: str
    kind: str
    lanes: int
    dsps: int


@dataclass(frozen=True)
class Port:
    name: str
    channel: int
    width_bits: int


@dataclass(frozen=True)
class Link:
    """A valid/ready FIFO from `source` to `dest` (names of cores, SFUs or ports)."""

    name: str
    source: str
    dest: str
    width_bits: int
    depth: int


@dataclass(frozen=True)
class Buffer:
    """Where a tensor lives: `onchip` in core `home`'s scratchpad, or `offchip` behind port
    `home`. A buffer of a reshape/transpose result is an alias (bytes 0) of its input's.
    A `slice` (dim, lo, hi) makes an off-chip buffer a stripe: rows [lo, hi) of dimension
    dim of the tensor's [rows, cols] matrix, behind a port of its own. A `transposed`
    buffer holds a [K, N] weight as its [N, K] transpose (`stored_graph`), which its matmul
    reads with transpose_rhs; a slice then cuts the transposed matrix."""

    name: str
    tensor: str
    placement: Literal["onchip", "offchip"]
    home: str
    bytes: int
    slice: tuple[int, int, int] | None = None
    transposed: bool = False


@dataclass(frozen=True)
class Assign:
    """Rows [slice[1], slice[2]) of result dimension slice[0] of `task` on `unit`."""

    task: str
    unit: str
    stage: int
    slice: tuple[int, int, int]
    bounds: tuple[int, int, int]
    sources: tuple[str, ...]
    sinks: tuple[str, ...]


@dataclass(frozen=True)
class Phase:
    name: str
    pattern: Pattern
    cycles: int
    assigns: tuple[Assign, ...]


@dataclass(frozen=True)
class Switch:
    from_phase: str
    to_phase: str
    cycles: int


@dataclass(frozen=True)
class Schedule:
    """A scheduled design (`intar.design`) and the cost model's report on it."""

    graph: str
    device: str
    mode: str
    dsp_budget: int
    port_budget: int
    predicted_cycles: int
    roofline_cycles: int
    cores: tuple[Core, ...]
    sfus: tuple[Sfu, ...]
    ports: tuple[Port, ...]
    links: tuple[Link, ...]
    buffers: tuple[Buffer, ...]
    phases: tuple[Phase, ...]
    switches: tuple[Switch, ...]
    clock_mhz: float = 250.0
    macs_per_dsp: int = 1
    offchip_traffic_bytes: int = 0
    sfu_buffer_bytes: int = 0
    onchip_capacity_bytes: int = 0
    loop_orders: tuple[tuple[str, str], ...] = field(default=())
    """Per PE task: `ijk` (lhs streamed by row panels / default), `jik` (rhs streamed by
    column panels), or `kij` (operand streamed along k, outputs accumulated in the
    scratchpad)."""

    def core_dsps(self, core: Core) -> int:
        return pe_dsps(core.pe, self.macs_per_dsp)

    def sfu_dsps(self, sfu: Sfu) -> int:
        return sfu.dsps

    @property
    def dsps_used(self) -> int:
        return sum(self.core_dsps(c) for c in self.cores) + sum(self.sfu_dsps(s) for s in self.sfus)

    @property
    def onchip_bytes(self) -> int:
        """Scratchpads + FIFOs + SFU row/line buffers."""
        fifo = sum(ceil_div(ln.width_bits * ln.depth, 8) for ln in self.links)
        return sum(c.scratchpad_bytes for c in self.cores) + fifo + self.sfu_buffer_bytes

    @property
    def offchip_bytes(self) -> int:
        """Bytes of the tensors placed off chip (inputs, weights, outputs and spills)."""
        return sum(b.bytes for b in self.buffers if b.placement == "offchip")

    def phase_cycles(self) -> dict[str, int]:
        return {p.name: p.cycles for p in self.phases}

    @property
    def schedule_seconds(self) -> float:
        return self.predicted_cycles / (self.clock_mhz * 1e6)

    @property
    def gap_to_roofline(self) -> float:
        """predicted / roofline (1.0 = at the bound)."""
        return self.predicted_cycles / max(1, self.roofline_cycles)

    def unit_names(self) -> set[str]:
        return {c.name for c in self.cores} | {s.name for s in self.sfus}


def transposed_weights(schedule: Schedule) -> frozenset[str]:
    """The weights the schedule stores transposed."""
    return frozenset(b.tensor for b in schedule.buffers if b.transposed)


def stored_graph(graph: TaskGraph, schedule: Schedule) -> TaskGraph:
    """`graph` as the schedule stores it: its transposed weights [N, K], read transposed."""
    return with_transposed_weights(graph, transposed_weights(schedule))


def validate(schedule: Schedule, graph: TaskGraph) -> None:
    """Check the schedule's structure against the graph; raise ValueError listing problems.

    Every task is assigned in exactly one phase and its slices cover its result exactly once;
    sources/sinks name existing buffers or links, one source per operand; link endpoints and
    buffer homes exist; the DSP and port budgets hold; phases are in an order that respects
    dependencies, with one switch between each consecutive pair; cycles add up.
    """
    errs: list[str] = []
    units = schedule.unit_names()
    ports = {p.name for p in schedule.ports}
    links = {ln.name: ln for ln in schedule.links}
    buffers = {b.name: b for b in schedule.buffers}
    names = [c.name for c in schedule.cores] + [s.name for s in schedule.sfus]
    names += [p.name for p in schedule.ports] + list(links) + list(buffers)
    names += [p.name for p in schedule.phases]
    if len(set(names)) != len(names):
        errs.append("duplicate symbol names")
    for ln in schedule.links.__iter__():
        if ln.source not in units | ports or ln.dest not in units | ports:
            errs.append(f"link {ln.name}: unknown endpoint")
        if ln.depth < 1 or ln.width_bits < 1:
            errs.append(f"link {ln.name}: empty")
    for b in schedule.buffers:
        if b.tensor not in graph.tensors:
            errs.append(f"buffer {b.name}: unknown tensor {b.tensor}")
        homes = ports if b.placement == "offchip" else units
        if b.home not in homes:
            errs.append(f"buffer {b.name}: bad home {b.home}")
    bad = transposed_weights(schedule) - set(transposable_weights(graph))
    if bad:
        errs.append(
            f"tensors {sorted(bad)} stored transposed: only a 2-D weight read by one matmul "
            "as its [K, N] rhs can be"
        )
        raise ValueError("invalid schedule: " + "; ".join(errs))
    graph = stored_graph(graph, schedule)
    errs += _stripe_errors(schedule, graph)
    if schedule.dsps_used > schedule.dsp_budget:
        errs.append(f"DSPs {schedule.dsps_used} over budget {schedule.dsp_budget}")
    if len(schedule.ports) > schedule.port_budget:
        errs.append(f"ports {len(schedule.ports)} over budget {schedule.port_budget}")
    for c in schedule.cores:
        if min(c.pe) < 1:
            errs.append(f"core {c.name}: bad PE {c.pe}")
    for s in schedule.sfus:
        if s.lanes < 1:
            errs.append(f"sfu {s.name}: no lanes")

    phase_of: dict[str, int] = {}
    covered: dict[str, list[tuple[int, int, int]]] = {}
    unit_kind = {c.name: "core" for c in schedule.cores} | {s.name: s.kind for s in schedule.sfus}
    for i, ph in enumerate(schedule.phases):
        if ph.cycles < 0:
            errs.append(f"phase {ph.name}: negative cycles")
        for a in ph.assigns:
            if a.task not in graph.tensors or graph.tensors[a.task].role != "task":
                errs.append(f"assign of unknown task {a.task}")
                continue
            task = graph.task(a.task)
            if phase_of.setdefault(a.task, i) != i:
                errs.append(f"task {a.task} assigned in two phases")
            if a.unit not in units:
                errs.append(f"task {a.task}: unknown unit {a.unit}")
            elif task.kind in PE_KINDS and unit_kind[a.unit] != "core":
                errs.append(f"task {a.task}: PE work on SFU {a.unit}")
            elif (
                task.kind not in PE_KINDS
                and task.kind not in VIEW_KINDS
                and unit_kind[a.unit] != task.kind
            ):
                errs.append(f"task {a.task}: on unit {a.unit} of another kind")
            if len(a.sources) != len(task.operands):
                errs.append(f"task {a.task}: {len(a.sources)} sources for {len(task.operands)}")
            for s in (*a.sources, *a.sinks):
                if s not in links and s not in buffers:
                    errs.append(f"task {a.task}: unknown source/sink {s}")
            for s in a.sources:
                if s in links and links[s].dest != a.unit:
                    errs.append(f"task {a.task}: source link {s} does not end at {a.unit}")
                if s in buffers and buffers[s].home != a.unit:
                    errs.append(f"task {a.task}: reads buffer {s} not homed at {a.unit}")
            for s in a.sinks:
                if s in links and links[s].source != a.unit:
                    errs.append(f"task {a.task}: sink link {s} does not start at {a.unit}")
            covered.setdefault(a.task, []).append(a.slice)
    for task in graph.tasks:
        slices = covered.get(task.name)
        if not slices:
            errs.append(f"task {task.name} not assigned")
            continue
        dims = {s[0] for s in slices}
        if len(dims) != 1:
            errs.append(f"task {task.name}: slices on several dimensions")
            continue
        dim = dims.pop()
        if not 0 <= dim < len(task.shape):
            errs.append(f"task {task.name}: slice dimension {dim} out of range")
            continue
        pos = 0
        for _, lo, hi in sorted(slices, key=lambda s: s[1]):
            if lo != pos or hi <= lo:
                break
            pos = hi
        else:
            if pos == task.shape[dim]:
                pos = -1
        if pos != -1:
            errs.append(f"task {task.name}: slices do not cover dimension {dim} exactly once")
        for op in task.operands:
            p = graph.producer(op)
            if (
                p is not None
                and p.name in phase_of
                and task.name in phase_of
                and phase_of[p.name] > phase_of[task.name]
            ):
                errs.append(f"task {task.name} runs before its producer {p.name}")

    phases = schedule.phases
    if len(schedule.switches) != max(0, len(phases) - 1):
        errs.append("need exactly one switch between consecutive phases")
    for i, sw in enumerate(schedule.switches):
        if i + 1 < len(phases) and (sw.from_phase, sw.to_phase) != (
            phases[i].name,
            phases[i + 1].name,
        ):
            errs.append(f"switch {i} does not join phases {i} and {i + 1}")
    total = sum(p.cycles for p in phases) + sum(s.cycles for s in schedule.switches)
    if total != schedule.predicted_cycles:
        errs.append(f"predicted_cycles {schedule.predicted_cycles} != sum {total}")
    if schedule.predicted_cycles < schedule.roofline_cycles:
        errs.append("prediction below the roofline")
    if schedule.onchip_capacity_bytes and schedule.onchip_bytes > schedule.onchip_capacity_bytes:
        errs.append(
            f"on-chip bytes {schedule.onchip_bytes} over capacity {schedule.onchip_capacity_bytes}"
        )
    if errs:
        raise ValueError("invalid schedule: " + "; ".join(errs))


def _stripe_errors(schedule: Schedule, graph: TaskGraph) -> list[str]:
    """A tensor's stripes are off chip, on distinct ports, and partition one dimension of
    its [rows, cols] matrix; a striped tensor has no unstriped buffer."""
    errs: list[str] = []
    by_tensor: dict[str, list[Buffer]] = {}
    for b in schedule.buffers:
        by_tensor.setdefault(b.tensor, []).append(b)
    for tensor, bufs in sorted(by_tensor.items()):
        stripes = [b for b in bufs if b.slice is not None]
        if not stripes:
            continue
        if len(stripes) != len(bufs) or any(b.placement != "offchip" for b in stripes):
            errs.append(f"tensor {tensor}: stripes must be its only buffers, all off chip")
            continue
        if len({b.home for b in stripes}) != len(stripes):
            errs.append(f"tensor {tensor}: two stripes on one port")
        dims = {b.slice[0] for b in stripes}
        shape = graph.tensors[tensor].shape if tensor in graph.tensors else ()
        matrix = matrix_dims(shape)
        spans = sorted(b.slice[1:] for b in stripes)
        if len(dims) != 1 or dims - {0, 1}:
            errs.append(f"tensor {tensor}: stripes must split one dimension of its matrix")
        elif (
            spans[0][0] != 0
            or spans[-1][1] != matrix[dims.pop()]
            or any(lo >= hi for lo, hi in spans)
            or any(a[1] != b[0] for a, b in itertools.pairwise(spans))
        ):
            errs.append(f"tensor {tensor}: stripes {spans} do not partition it")
    return errs
