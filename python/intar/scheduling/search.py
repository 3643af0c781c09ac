"""Solver-free search for a schedule: cores, phases, patterns, placement, links.

`schedule(graph, device, mode=...)`:
- sequential: every task alone in its phase, on all cores (the cores split its result);
- dataflow: every task in one phase on its own core or SFU, DSPs water-filled to balance rates;
- intar: a dynamic program over contiguous groups of the topological order, one phase per group,
  each group costed as a pipeline by `cost.pipeline_cycles`, for several core configurations;
  the result is never worse than either baseline (they are candidates too).

All costs come from `cost.py`; the formulas are in docs/scheduling.md.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from .cost import (
    DEFAULT_PARAMS,
    PE,
    CostParams,
    Timing,
    ceil_div,
    core_beat_elements,
    core_cycles,
    fifo_depth,
    offchip_beats,
    pe_bounds,
    pe_dsps,
    pe_fill,
    pipeline_cycles,
    port_cycles,
    ring_rows,
    ring_target_rows,
    roofline_cycles,
    sfu_beats,
    sfu_cycles,
    sfu_lag,
)
from .device import Device
from .problem import (
    PE_KINDS,
    POINTWISE_KINDS,
    ROW_KINDS,
    VIEW_KINDS,
    Gemm,
    ScheduleError,
    Task,
    TaskGraph,
    conv_row_windows,
    elements,
    gemm_dims,
    slice_gemm,
    total_macs,
    transposable_weights,
    with_transposed_weights,
)
from .result import Assign, Buffer, Core, Link, Phase, Port, Schedule, Sfu, Switch

MODES = ("intar", "dataflow", "sequential")
MAX_CORES = 8
EXHAUSTIVE_ALLOCATIONS = 40
INF = math.inf


#: Conv output widths below this are not tried as PE widths (narrow rows lose little to the
#: 2^a 3^b widths, and the model of their odd tiles is less exact).
CONV_WIDTH_MIN = 16
#: Stripe a weight only if its one-port transfer takes at least 1/STRIPE_MIN_SHARE of its task.
STRIPE_MIN_SHARE = 8
#: Store weights transposed only if that is this much faster than as given (0.1%): the
#: self-attention sequential design at paper shapes gained 0.0006% and changed its banks.
TRANSPOSE_MIN_GAIN = 0.001


@dataclass(frozen=True)
class Config:
    """A hardware configuration the phases run on: core PE dims and SFU lanes."""

    cores: tuple[PE, ...]
    dedicated_sfus: bool
    lanes: tuple[tuple[str, int], ...]
    label: str

    def lane(self, key: str) -> int:
        return dict(self.lanes)[key]


@dataclass(frozen=True)
class Edge:
    """Tensor `tensor` from compute task `prod` to compute task `cons` (operand indices)."""

    prod: str
    cons: str
    tensor: str
    operands: tuple[int, ...]
    through_view: bool


@dataclass
class TaskPlan:
    """Where and how one compute task runs inside a group."""

    task: str
    cores: tuple[int, ...] = ()
    sfu: str = ""
    dim: int = 0
    slices: tuple[tuple[int, int, int], ...] = ()  # (core index, lo, hi)
    gemms: tuple[Gemm, ...] = ()
    cycles: int = 0
    lag: int = 0  # input read to its result written (`cost.pipeline_cycles`)
    order: str = "ijk"
    work_bytes: dict[int, int] = field(default_factory=dict)  # core index -> bytes
    line_bytes: int = 0
    port_bytes: dict[int, int] = field(default_factory=dict)
    beat: int = 1
    streamed_in: bool = False
    # operand index -> the port of each slice's stripe (`_Evaluator._stripes`), in slice order
    stripes: dict[int, tuple[int, ...]] = field(default_factory=dict)


@dataclass
class GroupPlan:
    first: int
    last: int
    cycles: int
    pattern: str
    tasks: dict[str, TaskPlan]
    streamed: dict[tuple[str, str], float]  # (prod, cons) -> window fraction
    full: set[tuple[str, str]]
    full_buffers: set[str]
    port_bytes: dict[int, int]
    onchip_bytes: int
    windows: dict[tuple[str, str], int] = field(default_factory=dict)  # streamed link depths
    args: tuple = ()  # the `_Evaluator._evaluate` arguments it was costed from


class _Search:
    """Everything derived once from (graph, device, budgets)."""

    def __init__(
        self,
        graph: TaskGraph,
        device: Device,
        dsp_budget: int,
        port_budget: int,
        params: CostParams,
        capacity: int,
        shared_groups: dict[tuple, GroupPlan | None] | None = None,
        give_up_early: bool = False,
    ) -> None:
        self.g = graph
        self.give_up_early = give_up_early  # see `_solve`
        self._port_bytes: dict[str, int] = {}
        self._sfu_time: dict[tuple[str, int], int] = {}
        self.dev = device
        self.dsp_budget = dsp_budget
        self.port_budget = port_budget
        self.p = params
        self.capacity = capacity
        self.order: list[Task] = [t for t in graph.tasks if t.kind not in VIEW_KINDS]
        self.pos = {t.name: i for i, t in enumerate(self.order)}
        self.views = [t for t in graph.tasks if t.kind in VIEW_KINDS]
        # group plans shared by every evaluator of this graph, and by the searches of it under
        # other weight storages (a group's plan depends on the storage only through its own
        # tasks' transpose_rhs): lane upgrades and storage toggles cost most groups again
        self.shared_groups = {} if shared_groups is None else shared_groups
        self.base: dict[str, str] = {}
        for name in graph.tensors:
            self.base[name] = name
        for v in self.views:
            self.base[v.name] = self.base[v.operands[0]]
        pe_bits = [
            graph.tensors[op].bits for t in self.order if t.kind in PE_KINDS for op in t.operands
        ]
        self.pe_bits = max(pe_bits, default=16)
        self.pack = device.macs_per_dsp(self.pe_bits)
        self.pe_tasks = [t for t in self.order if t.kind in PE_KINDS]
        self.gemm = {t.name: gemm_dims(graph, t) for t in self.pe_tasks}
        # edges between compute tasks (through views resolved to their base)
        self.in_edges: dict[str, list[Edge]] = {t.name: [] for t in self.order}
        self.out_edges: dict[str, list[Edge]] = {t.name: [] for t in self.order}
        for t in self.order:
            by_tensor: dict[str, list[int]] = {}
            view_of: dict[str, bool] = {}
            for k, op in enumerate(t.operands):
                b = self.base[op]
                if b in self.pos:
                    by_tensor.setdefault(b, []).append(k)
                    view_of[b] = view_of.get(b, False) or op != b
            for b, ks in by_tensor.items():
                e = Edge(b, t.name, b, tuple(ks), view_of[b])
                self.in_edges[t.name].append(e)
                self.out_edges[b].append(e)
        # uses: positions of compute tasks reading each compute result
        self.last_use = {
            t.name: max((self.pos[e.cons] for e in self.out_edges[t.name]), default=-1)
            for t in self.order
        }
        self.outputs = set(graph.outputs)
        self.view_bases = {self.base[v.name] for v in self.views}
        self.leaves = sorted(
            {
                self.base[op]
                for t in graph.tasks
                for op in t.operands
                if graph.tensors[self.base[op]].role != "task"
            }
        )
        self.output_views = [v for v in self.views if v.name in self.outputs]
        self.bpc = device.offchip.bytes_per_cycle
        self.lat = device.offchip.latency_cycles
        self.conv_weights = {
            t.operands[1] for t in self.order if t.kind in ("conv2d", "conv_transpose2d")
        }
        self.kinds = sorted({t.kind for t in self.order if t.kind not in PE_KINDS})
        self.by_name = {t.name: t for t in self.order}
        self._unit_dsps: dict[tuple[str, int, bool], int] = {}
        self._split_cache: dict[tuple, tuple[int, int, tuple, tuple]] = {}

    # ---------------------------------------------------------------- configurations
    def unit_dsps(self, key: str, lanes: int, dedicated: bool) -> int:
        """DSP48E2s of the SFU `key` at `lanes` lanes, as the hardware builds it: a task's
        own unit when dedicated, else the shared unit of kind `key`, which holds one module
        per distinct parameter set of its tasks."""
        memo = (key, lanes, dedicated)
        if memo not in self._unit_dsps:
            from intar.hw import sfu_modules  # the builders' multiplier counts

            tasks = [self.by_name[key]] if dedicated else [t for t in self.order if t.kind == key]
            modules = {sfu_modules.key(t, self.g, lanes) for t in tasks}
            self._unit_dsps[memo] = sum(sfu_modules.dsps(m) for m in modules)
        return self._unit_dsps[memo]

    def sfu_keys(self, dedicated: bool) -> list[str]:
        if dedicated:
            return [t.name for t in self.order if t.kind not in PE_KINDS]
        return list(self.kinds)

    def sfu_reserve(self, dedicated: bool) -> int:
        return sum(self.unit_dsps(k, 1, dedicated) for k in self.sfu_keys(dedicated))

    def default_lanes(self, dedicated: bool) -> tuple[tuple[str, int], ...]:
        """One lane for a unit with multipliers, else the device's widest."""
        return tuple(
            (k, 1 if self.unit_dsps(k, 1, dedicated) else self.dev.sfu_max_lanes)
            for k in self.sfu_keys(dedicated)
        )

    def core_budget(self, dedicated: bool) -> int:
        return self.dsp_budget - self.sfu_reserve(dedicated)

    def pe_values(self, limit: int) -> list[int]:
        """PE dimensions to try, up to `limit`. Above `max_pe_reduction` only a conv's output
        row split into equal tiles: a matmul gets as many multipliers from d3, while a conv
        with one channel in and out can use only d2 (and wider values would multiply the
        search's work for nothing)."""
        base = min(limit, self.dev.max_pe_reduction)
        vals = {(2**a) * (3**b) for a in range(12) for b in range(7) if (2**a) * (3**b) <= base}
        for g in self.gemm.values():
            for d in (g.m, g.n, g.k):
                if d <= base:
                    vals.add(d)
        for t in self.pe_tasks:  # a conv's pixel tiles never cross an output row
            ow = t.shape[-1]
            if t.kind not in ("conv2d", "conv_transpose2d"):
                continue
            if CONV_WIDTH_MIN <= ow <= base:
                vals.add(ow)
            vals.update(w for w in {ceil_div(ow, n) for n in range(1, ow + 1)} if base < w <= limit)
        return sorted(vals)

    def homogeneous_configs(self) -> list[Config]:
        lanes = self.default_lanes(False)
        if not self.pe_tasks:
            return [Config((), False, lanes, "sfu-only")]
        budget = self.core_budget(False)
        configs = []
        for n in range(1, min(MAX_CORES, budget) + 1):
            cap = (budget // n) * self.pack
            pe = self.best_pe(cap, n)
            if pe is not None:
                configs.append(Config((pe,) * n, False, lanes, f"{n}x{pe}"))
        return configs

    def _score(self, pe: PE, n: int) -> int:
        total = 0
        for t in self.pe_tasks:
            if not self.fits(t, pe):
                return INF
            best = INF
            for dim in self.split_dims(t):
                length = ceil_div(t.shape[dim], n)
                best = min(best, core_cycles(slice_gemm(self.g, t, dim, length), pe, self.p))
            total += best
        return total

    def best_pe(self, cap: int, n: int) -> PE | None:
        vals = self.pe_values(min(cap, self.dev.max_pe_lanes))
        best: tuple[int, int, PE] | None = None
        for d1 in vals:
            for d2 in vals:
                if d1 * d2 > cap:
                    break
                d3 = min(self.dev.max_pe_reduction, cap // (d1 * d2))
                pe = (d1, d2, d3)
                key = (self._score(pe, n), d1 * d2 * d3, pe)
                if best is None or key < best:
                    best = key
        if best is None:
            return None
        score, _, pe = best
        dims = list(pe)
        for axis in (2, 1, 0):  # trim: smallest dims giving the same score
            lo = 1
            hi = dims[axis]
            while lo < hi:
                mid = (lo + hi) // 2
                trial = list(dims)
                trial[axis] = mid
                if self._score((trial[0], trial[1], trial[2]), n) == score:
                    hi = mid
                else:
                    lo = mid + 1
            trial = list(dims)
            trial[axis] = lo
            if self._score((trial[0], trial[1], trial[2]), n) <= score:
                dims = trial
        return (dims[0], dims[1], dims[2])

    def dataflow_config(self) -> Config | None:
        """A unit per task; None when one DSP per PE task and a lane per SFU do not fit."""
        found = self.dataflow_configs(1)
        return found[0] if found else None

    @functools.cached_property
    def dataflow_fronts(self) -> tuple[list[list[tuple[int, int, PE]]], dict]:
        """Per PE task, its Pareto front of (DSPs, cycles, PE) for a unit of its own (fewest
        DSPs first), and `columns`: (task, PE) -> a PE of the same DSPs and cycles holding a
        matmul's rows in one row block, where the front's PE does not."""
        budget = self.core_budget(True)
        q = len(self.pe_tasks)
        cap = (budget - (q - 1)) * self.pack
        vals = self.pe_values(min(cap, self.dev.max_pe_lanes))
        fronts = []
        columns: dict[tuple[str, PE], PE] = {}
        for t in self.pe_tasks:
            g = self.gemm[t.name]
            floor = max(
                (
                    ceil_div(self.g.bytes(self.base[op]), self.bpc)
                    for op in t.operands
                    if self.base[op] in self.leaves
                ),
                default=0,
            )
            cands = []
            for d1 in vals:
                for d2 in vals:
                    if d1 * d2 > cap:
                        break
                    top = min(self.dev.max_pe_reduction, cap // (d1 * d2))
                    for d3 in {*(v for v in vals if v <= top), top}:
                        pe = (d1, d2, d3)
                        if not self.fits(t, pe):
                            continue
                        cyc = max(floor, core_cycles(g, pe, self.p))
                        cands.append((pe_dsps(pe, self.pack), cyc, pe))
            cands.sort()
            front = []
            for dsps, cyc, pe in cands:
                if not front or cyc < front[-1][1]:
                    front.append((dsps, cyc, pe))
            fronts.append(front)
            if t.kind == "matmul" and g.batch == 1:  # its rows in one block: column order
                for dsps, cyc, pe in front:
                    if pe[0] < g.m:
                        one = [c[2] for c in cands if c[:2] == (dsps, cyc) and c[2][0] >= g.m]
                        if one:
                            columns[(t.name, pe)] = one[0]
        return fronts, columns

    @functools.cached_property
    def column_candidates(self) -> frozenset[str]:
        """Pointwise SFU tasks that could walk columns, by the graph alone (the rest of the
        rules in `_Evaluator._column_walks`): operands of the result's shape, none through a
        view, readers all compute tasks not through a view, neither an output nor a view's
        source."""
        out = set()
        for t in self.order:
            if t.kind not in POINTWISE_KINDS or t.name in self.outputs:
                continue
            if t.name in self.view_bases or not self.out_edges[t.name]:
                continue
            if any(tuple(self.g.shape(o)) != tuple(t.shape) for o in t.operands):
                continue
            if any(e.through_view for e in (*self.in_edges[t.name], *self.out_edges[t.name])):
                continue
            out.add(t.name)
        return frozenset(out)

    @functools.cached_property
    def column_chain(self) -> bool:
        """Some pointwise SFU task reads a matmul, and some pointwise SFU task (the same, or
        further down) is a matmul's lhs: the pattern column walks serve."""
        pointwise = [t for t in self.order if t.kind in POINTWISE_KINDS]
        fed = any(
            self.g.task(e.prod).kind == "matmul" for t in pointwise for e in self.in_edges[t.name]
        )
        feeds = any(
            self.g.task(e.cons).kind == "matmul" and 0 in e.operands
            for t in pointwise
            for e in self.out_edges[t.name]
        )
        return fed and feeds

    def dataflow_configs(self, count: int) -> list[Config]:
        """Up to `count` configurations of a unit per task: each the fewest DSPs per task that
        bring every task's own cycles within a limit, for the lowest limits within the budget
        (the lowest first). A pipeline is paced by more than its slowest task alone, so the
        dataflow mode solves each of them."""
        lanes = self.default_lanes(True)
        budget = self.core_budget(True)
        q = len(self.pe_tasks)
        if budget < q:
            return []
        if not self.pe_tasks:
            return [Config((), True, lanes, "dataflow")]
        fronts, columns = self.dataflow_fronts
        times = sorted({c for f in fronts for _, c, _ in f})

        def pick(limit: int) -> list[tuple[int, int, PE]] | None:
            chosen = []
            for f in fronts:
                ok = [e for e in f if e[1] <= limit]
                if not ok:
                    return None
                chosen.append(ok[0])
            return chosen if sum(e[0] for e in chosen) <= budget else None

        lo, hi = 0, len(times) - 1
        while lo < hi:
            mid = (lo + hi) // 2
            if pick(times[mid]) is not None:
                hi = mid
            else:
                lo = mid + 1
        out: list[Config] = []
        for limit in times[lo:]:
            chosen = pick(limit)
            cfg = (
                None
                if chosen is None
                else Config(tuple(e[2] for e in chosen), True, lanes, "dataflow")
            )
            if cfg is not None and cfg not in out:
                out.append(cfg)
            if len(out) == count:
                break
        # Each again with the matmuls whose rows fit one row block at the same cost on a PE
        # that holds them (d1 >= m): their results complete column by column, which pointwise
        # SFUs and a k-outer reader can follow (`_Evaluator._column_walks`). Solved after the
        # others, so a tie keeps the first; only for a graph with such a chain.
        for cfg in list(out) if self.column_chain else ():
            cores = tuple(
                columns.get((t.name, pe), pe)
                for t, pe in zip(self.pe_tasks, cfg.cores, strict=True)
            )
            variant = Config(cores, True, lanes, "dataflow-columns")
            if cores != cfg.cores and variant not in out:
                out.append(variant)
        return out

    def core_dsps(self, cfg: Config) -> int:
        return sum(pe_dsps(pe, self.pack) for pe in cfg.cores)

    def sfu_dsps(self, cfg: Config) -> int:
        return sum(self.unit_dsps(k, n, cfg.dedicated_sfus) for k, n in cfg.lanes)

    # ---------------------------------------------------------------- per-task costs
    def split_dims(self, t: Task) -> tuple[int, ...]:
        if t.kind == "matmul":
            return tuple(range(len(t.shape)))
        return (0, 1)

    def fits(self, t: Task, pe: PE) -> bool:
        """Whether a core with `pe` can run PE task `t` with aligned tiles: matmuls whose
        batches are separate matrices (a batched rhs, or an lhs view) start each batch's
        operand on a tile boundary."""
        if t.kind != "matmul":
            return True
        d1, d2, d3 = pe
        lhs, rhs = (self.g.shape(o) for o in t.operands)
        if len(lhs) != 3 or lhs[0] == 1:
            return True
        m, k, n = lhs[1], lhs[2], t.shape[-1]
        if len(rhs) == 3:
            return m % d1 == 0 and k % d3 == 0 and n % d2 == 0
        lhs_task = self.g.producer(t.operands[0])
        if lhs_task is not None and lhs_task.kind in VIEW_KINDS:
            return m % d1 == 0 and k % d3 == 0
        return True

    def granule(self, t: Task, dim: int, pe: PE) -> int:
        """Along result dim `dim`, the unit a slice boundary of `t` on a core with `pe` must be a
        multiple of, so that its tiles (and its operand reads) stay aligned."""
        d1, d2, _ = pe
        rank = len(t.shape)
        if t.kind != "matmul":  # conv: output channels are tile rows; output rows are free
            return d1 if dim == 0 else 1
        if dim == rank - 1:
            return d2
        if dim == rank - 2:
            return d1
        return d1 // math.gcd(t.shape[1], d1)  # a batch boundary lands on row b*m

    def split(self, t: Task, pes: tuple[PE, ...]) -> tuple[int, int, tuple, tuple]:
        """Best split of PE task `t` over cores with `pes`: (cycles, dim, lengths, gemms).
        A split takes at least one cycle per result tile of all slices together: they share
        the destination buffers' write port."""
        key = (t.name, pes)
        hit = self._split_cache.get(key)
        if hit is not None:
            return hit
        if len(pes) == 1:
            g = self.gemm[t.name]
            dim = len(t.shape) - 1 if t.kind == "matmul" else 0
            res = (core_cycles(g, pes[0], self.p), dim, (t.shape[dim],), (g,))
            self._split_cache[key] = res
            return res
        best = None
        r = len(pes)
        for dim in self.split_dims(t):
            length = t.shape[dim]
            if length < r:
                continue
            # A slice starts where its core's tiles align, and ends where the next one's do
            # (or at the end): interior boundaries are multiples of every granule.
            gran = math.lcm(*(self.granule(t, dim, pe) for pe in pes))
            if ceil_div(length, gran) < r:
                continue
            units = ceil_div(length, gran)
            thr = [a * b * c for a, b, c in pes]
            shares = [units * w // sum(thr) for w in thr]
            rema = sorted(range(r), key=lambda c: (-(units * thr[c] % sum(thr)), c))
            for c in rema[: units - sum(shares)]:
                shares[c] += 1
            for c in range(r):  # every core at least one unit
                if shares[c] == 0:
                    donor = max(range(r), key=lambda x: (shares[x], -x))
                    shares[donor] -= 1
                    shares[c] = 1

            def lengths_of(sh: list[int], length: int = length, gran: int = gran) -> list[int]:
                out, left = [], length
                for s in sh:
                    v = min(left, s * gran)
                    out.append(v)
                    left -= v
                out[-1] += left
                return out

            def cost(sh: list[int], dim: int = dim) -> tuple[int, list[int], list[Gemm]]:
                lens = lengths_of(sh)
                los = list(itertools.accumulate([0, *lens[:-1]]))
                gs = [slice_gemm(self.g, t, dim, n, lo) for n, lo in zip(lens, los, strict=True)]
                cyc = max(core_cycles(gm, pe, self.p) for gm, pe in zip(gs, pes, strict=True))
                # every slice's result tiles go into the same destination buffers, which take
                # one tile per cycle
                tiles = sum(
                    math.prod(pe_bounds(gm, pe)[:2]) for gm, pe in zip(gs, pes, strict=True)
                )
                return max(cyc, tiles + max(pe_fill(pe[2], self.p) for pe in pes)), lens, gs

            cur = cost(shares)
            for _ in range(4 * r):  # move one unit from the slowest core to the fastest
                times = [core_cycles(gm, pe, self.p) for gm, pe in zip(cur[2], pes, strict=True)]
                slow = max(range(r), key=lambda c: (times[c], -c))
                fast = min(range(r), key=lambda c: (times[c], c))
                if slow == fast or shares[slow] <= 1:
                    break
                trial = list(shares)
                trial[slow] -= 1
                trial[fast] += 1
                nxt = cost(trial)
                if nxt[0] >= cur[0]:
                    break
                shares, cur = trial, nxt
            if dim == 1 and t.kind != "matmul" and self.gemm[t.name].skip:
                rows = self._row_shares(t, pes, length, cur[0])
                if rows is not None and cost(rows)[0] < cur[0]:
                    cur = cost(rows)
            if any(n <= 0 for n in cur[1]):
                continue
            cand = (cur[0], dim, tuple(cur[1]), tuple(cur[2]))
            if best is None or cand[0] < best[0]:
                best = cand
        if best is None:
            best = (INF, 0, (), ())
        self._split_cache[key] = best
        return best

    def _row_shares(self, t: Task, pes: tuple[PE, ...], rows: int, limit: int) -> list | None:
        """Output rows per core, in order, that keep the slowest core fastest, for a conv whose
        rows cost unequally (edge rows skip kernel rows): the lowest cycle limit under which
        giving each core in turn the most rows it finishes within it covers every row."""

        def within(cap: int) -> list[int] | None:
            out, lo = [], 0
            for c, pe in enumerate(pes):
                n, last = 0, rows - (len(pes) - 1 - c)  # leave a row for each later core
                while lo + n < last and (
                    core_cycles(slice_gemm(self.g, t, 1, n + 1, lo), pe, self.p) <= cap
                ):
                    n += 1
                if n == 0:
                    return None
                out.append(n)
                lo += n
            return out if lo == rows else None

        lo, hi = 1, limit
        if within(hi) is None:
            return None
        while lo < hi:
            mid = (lo + hi) // 2
            if within(mid) is None:
                lo = mid + 1
            else:
                hi = mid
        return within(lo)

    def port_bytes(self, name: str) -> int:
        """Bytes a tensor moves over its port: whole beats per row as the hardware lays it out
        off chip (a conv weight as the [O, KH*KW*C] matrix its core reads)."""
        nbytes = self._port_bytes.get(name)
        if nbytes is None:  # asked millions of times in a large graph's search
            shape, bits = self.g.shape(name), self.g.tensors[self.base[name]].bits
            if self.base[name] in self.conv_weights:
                shape = (shape[0], math.prod(shape[1:]))
            nbytes = self._port_bytes[name] = offchip_beats(shape, bits, 8 * self.bpc) * self.bpc
        return nbytes

    def sfu_time(self, t: Task, lanes: int, columns: bool = False) -> int:
        """An SFU task's cycles; `columns`: walking its [rows, cols] result column by column
        in (lanes, 1) tiles, as the transposed [cols, rows] walk."""
        key = (t.name, lanes, columns)
        cycles = self._sfu_time.get(key)
        if cycles is None:
            x = self.g.shape(t.operands[0])
            shape = (t.shape[-1], rows_of(t.shape)) if columns else t.shape
            cycles = self._sfu_time[key] = sfu_cycles(t.kind, shape, x[-1], lanes, self.p)
        return cycles

    def line_bytes(self, t: Task) -> int:
        x = self.g.shape(t.operands[0])
        b = self.g.tensors[t.operands[0]].bits
        if t.kind in ROW_KINDS:
            return 2 * ceil_div(x[-1] * b, 8)
        if t.kind == "upsample":
            return ceil_div(x[0] * x[2] * b, 8)
        if t.kind == "maxpool":
            return ceil_div(2 * x[0] * x[2] * b, 8)
        return 0


def rows_of(shape: tuple[int, ...]) -> int:
    """Rows of the [rows, cols] matrix a tensor is stored as (1 for a vector)."""
    return math.prod(shape[:-1]) if len(shape) > 1 else 1


def _ports_by_width(bits: dict[str, int], nbytes: dict[str, int], s: _Search) -> dict:
    """Ports of each element width: one per width, the rest to the width with the most bytes
    per port so far (D'Hondt); empty (any port) when there are more widths than ports."""
    total: dict[int, int] = {}
    for n, b in bits.items():
        total[b] = total.get(b, 0) + nbytes[n]
    if len(total) <= 1 or len(total) > s.port_budget:
        return {}
    count = dict.fromkeys(total, 1)
    for _ in range(s.port_budget - len(total)):
        w = max(sorted(total), key=lambda w: total[w] / count[w])
        count[w] += 1
    groups, first = {}, 0
    for w in sorted(total):
        groups[w] = range(first, first + count[w])
        first += count[w]
    return groups


class _Evaluator:
    """Group costs for one configuration and one set of off-chip (spilled) tensors."""

    def __init__(self, s: _Search, cfg: Config, offchip: frozenset[str]) -> None:
        self.s = s
        self.cfg = cfg
        self.off = offchip
        self.cache: dict[tuple[int, int], GroupPlan | None] = {}
        # (unit, operand index, tensor) buffers an earlier phase loaded: the hardware keeps a
        # unit's operand buffer, so a later reader on the same unit and slot loads nothing
        self.preloaded: frozenset[tuple[tuple[str, object], int, str]] = frozenset()
        # port assignment: greedy, largest first, least-loaded port; a port's engines move one
        # element width, so each width gets its own ports (the plan rejects a mix)
        items = [(s.g.bytes(n), n) for n in s.leaves]
        items += [(s.g.bytes(n), n) for n in sorted(offchip)]
        items += [(s.g.bytes(v.name), v.name) for v in s.output_views]
        groups = _ports_by_width(
            {n: s.g.tensors[n].bits for _, n in items}, {n: b for b, n in items}, s
        )
        self.width_ports = groups
        # per evaluation: striped tensor -> (port, bytes, share of a head as (num, den), bytes
        # its port has delivered when its last byte is in) per stripe, in slice order
        self.striped: dict[str, list[tuple[int, int, tuple[int, int], int]]] = {}
        load = [0] * s.port_budget
        self.port: dict[str, int] = {}
        for b, n in sorted(items, key=lambda x: (-x[0], x[1])):
            chans = groups.get(s.g.tensors[n].bits, range(s.port_budget))
            ch = min(chans, key=lambda c: (load[c], c))
            self.port[n] = ch
            load[ch] += b

    def lower_bound(self, i: int, j: int) -> int:
        """No group (i..j) runs faster than its slowest task given every core."""
        s = self.s
        lb = 0
        for t in s.order[i : j + 1]:
            if t.kind in PE_KINDS:
                if self.cfg.cores:
                    lb = max(lb, s.split(t, self.cfg.cores)[0])
            else:
                lb = max(lb, s.sfu_time(t, s.dev.sfu_max_lanes))
        return lb

    def offchip(self, tensor: str) -> bool:
        return tensor in self.port

    def cross_live(self, i: int, j: int) -> int:
        total = 0
        for t in self.s.order:
            if t.name in self.off:
                continue
            p = self.s.pos[t.name]
            lc = self.s.last_use[t.name]
            if (p < i <= lc) or (i <= p <= j < lc):
                total += self.s.g.bytes(t.name)
        return total

    def group(self, i: int, j: int, dedicated_only: bool = False) -> GroupPlan | None:
        key = (i, j)
        if key in self.cache:
            return self.cache[key]
        s = self.s
        flips = tuple(t.name for t in s.order[i : j + 1] if t.attrs.get("transpose_rhs"))
        shared_key = (self.cfg, self.off, i, j, dedicated_only, flips)
        if shared_key in s.shared_groups:
            plan = s.shared_groups[shared_key]
        else:
            plan = self._group(i, j, dedicated_only)
            s.shared_groups[shared_key] = plan
        self.cache[key] = plan
        return plan

    def allocations(
        self, pe: list[Task], dedicated_only: bool
    ) -> list[tuple[tuple[int, ...], ...]]:
        s, cfg = self.s, self.cfg
        n, q = len(cfg.cores), len(pe)
        if q == 0:
            return [()]
        out: list[tuple[tuple[int, ...], ...]] = []
        if cfg.dedicated_sfus:  # dataflow cores: core k is sized for PE task k
            out.append(tuple((s.pe_tasks.index(t),) for t in pe))
            if dedicated_only:
                return out
        if math.comb(n, q) <= EXHAUSTIVE_ALLOCATIONS:
            for m in range(q, n + 1):
                for cuts in itertools.combinations(range(1, m), q - 1):
                    bounds = (0, *cuts, m)
                    out.append(tuple(tuple(range(bounds[k], bounds[k + 1])) for k in range(q)))
        else:
            work = [max(1, s.gemm[t.name].macs) for t in pe]
            for m in sorted({q, n}):
                shares = [max(1, m * w // sum(work)) for w in work]
                while sum(shares) > m:
                    shares[max(range(q), key=lambda k: (shares[k], -k))] -= 1
                while sum(shares) < m:
                    shares[max(range(q), key=lambda k: (work[k] / shares[k], -k))] += 1
                start = 0
                alloc = []
                for sh in shares:
                    alloc.append(tuple(range(start, start + sh)))
                    start += sh
                out.append(tuple(alloc))
        return list(dict.fromkeys(out))

    def _group(self, i: int, j: int, dedicated_only: bool) -> GroupPlan | None:
        s, cfg = self.s, self.cfg
        tasks = s.order[i : j + 1]
        names = {t.name for t in tasks}
        pe = [t for t in tasks if t.kind in PE_KINDS]
        if len(pe) > len(cfg.cores):
            return None
        sfu_of: dict[str, str] = {}
        count: dict[str, int] = {}
        for t in tasks:
            if t.kind in PE_KINDS:
                continue
            if cfg.dedicated_sfus:
                sfu_of[t.name] = t.name
            else:
                k = count.get(t.kind, 0)
                if k and s.unit_dsps(t.kind, 1, False):
                    return None  # one shared instance of a DSP-using SFU kind
                count[t.kind] = k + 1
                sfu_of[t.name] = f"{t.kind}#{k}"
        internal = [e for t in tasks for e in s.in_edges[t.name] if e.prod in names]
        both = [
            t.name
            for t in pe
            if t.kind == "matmul"
            and len([e for e in internal if e.cons == t.name and len(e.operands) == 1]) == 2
        ]
        choices = list(itertools.product((0, 1), repeat=min(2, len(both))))
        best: GroupPlan | None = None
        live = self.cross_live(i, j)
        for alloc in self.allocations(pe, dedicated_only):
            for choice in choices:
                prefer = dict(zip(both[:2], choice, strict=False))
                plan = self._evaluate(i, j, tasks, pe, alloc, sfu_of, internal, prefer, live)
                if plan is not None and (best is None or plan.cycles < best.cycles):
                    best = plan
        return best

    def _window(
        self, e: Edge, tp: dict[str, TaskPlan], streamed_ops: dict[str, int]
    ) -> tuple[int, int, str] | None:
        """(window elements, accumulator bytes, loop order) if edge e can stream, else None."""
        s, cfg = self.s, self.cfg
        prod, cons = s.g.task(e.prod), s.g.task(e.cons)
        if e.through_view or len(e.operands) != 1:
            return None
        pp, cp = tp[e.prod], tp[e.cons]
        if len(pp.cores) > 1 or len(cp.cores) > 1:
            return None
        if self._emits_at_end(prod, tp):
            return None  # k-outer: results appear only in the last k step
        grain, pe_p = self._granule(e, tp, pointwise=False), None
        if prod.kind in PE_KINDS:
            pe_p = cfg.cores[pp.cores[0]]
        else:
            up = self._pointwise_source(prod, tp)
            if up is not None:  # a pointwise SFU keeps its producer's column order
                pe_p = cfg.cores[tp[up].cores[0]]
        shape = s.g.shape(e.tensor)
        op = e.operands[0]
        if cons.kind not in PE_KINDS:
            need = 0
            if cons.kind in ROW_KINDS:
                need = shape[-1]
            elif cons.kind == "upsample":
                need = shape[0] * shape[2]
            elif cons.kind == "maxpool":
                need = 2 * shape[0] * shape[2]
            elif prod.kind == "matmul":
                grain = self._granule(e, tp)  # pointwise: any order, one tile at a time
            # (a conv's rows of several channels complete together at its block's end)
            return max(grain, need), 0, ""
        if streamed_ops.get(cons.name, op) != op:
            return None
        big_other = any(
            s.base[o] != e.tensor and s.base[o] in self.port and s.g.bytes(o) > s.capacity // 4
            for o in cons.operands
        )  # a resident operand that cannot be staged whole: only k-order streaming works
        d1, d2, d3 = cfg.cores[cp.cores[0]]
        gc = s.gemm[cons.name]
        if cons.kind != "matmul":
            if op != 0 or big_other:
                return None
            # the first pixel tile reads every channel's image rows under the kernel's first
            # output row (those above it are padding), and rows of the [C*H, W] input
            # complete in order: all but the last channel's rows come first
            c, h, w = shape
            kh = s.g.shape(cons.operands[1])[2]
            p = int(cons.attr("padding", 0))
            ph = p if cons.kind == "conv2d" else kh - 1 - p
            return max(grain, ((c - 1) * h + min(h, max(1, kh - ph))) * w), 0, "ijk"
        acc = gc.batch * gc.m * gc.n * 4
        if op == 0:
            opts = [] if big_other else [(max(grain, d1 * gc.k), 0, "ijk")]
            col = self._pointwise_source(prod, tp) if gc.batch == 1 else None
            if prod.kind not in PE_KINDS and gc.m > 1 and tp[prod.name].order != "jik":
                col = None  # an SFU walks rows in order: a column block of every row comes last
            if col is not None:
                opts.append((max(pe_p[0] * pe_p[1], gc.m * max(d3, pe_p[1])), acc, "kij"))
            return min(opts, key=lambda o: (o[0], o[1])) if opts else None
        if cons.attr("transpose_rhs", False):
            return None if big_other else (max(grain, d2 * gc.k), 0, "jik")
        return max(grain, d3 * gc.n), acc, "kij"

    def _rows_behind(self, e: Edge, tp: dict[str, TaskPlan]) -> float | None:
        """The share of its work an SFU reading a single-core matmul still has after the
        matmul's last tile, or None to use the start's window. The SFU walks rows in order;
        the matmul completes d1 rows at a time, and the columns of a row block tile by tile:
        the SFU follows the first row of a block, the others complete with the block's last
        tile. So it is left with the last block but its first row (i-outer), or with every row
        but the first when the matmul runs j-outer over several column blocks."""
        prod, cons, pp = self.s.g.task(e.prod), self.s.g.task(e.cons), tp[e.prod]
        if prod.kind != "matmul" or cons.kind in PE_KINDS or len(pp.cores) != 1:
            return None
        if tp[e.cons].order == "jik":  # it walks columns: it follows the matmul's tiles
            return None
        pe = self.cfg.cores[pp.cores[0]]
        rows = rows_of(prod.shape)
        _, bj, _ = pe_bounds(pp.gemms[0], pe)
        block = rows if pp.order == "jik" and bj > 1 else min(pe[0], rows)
        return (block - 1) / rows if block > 1 else None

    def _conv_tail(self, e: Edge, tp: dict[str, TaskPlan]) -> float | None:
        """The share of its work a convolution streaming its input still has after the input's
        last row, or None for any other consumer. It runs i-outer ("ijk"): one sweep over the
        output rows per block of output channels, and only the first follows the stream. The
        last input row is read by the output rows from ``first`` on, so the first sweep has
        those left, and every later sweep is still to come."""
        cons = self.s.g.task(e.cons)
        if cons.kind not in ("conv2d", "conv_transpose2d") or len(tp[e.cons].cores) != 1:
            return None
        h = self.s.g.shape(cons.operands[0])[1]
        kh = self.s.g.shape(cons.operands[1])[2]
        s, p = int(cons.attr("stride", 1)), int(cons.attr("padding", 0))
        oh = cons.shape[1]
        # a transposed one runs at stride 1 over the zero-inserted input, padded by kh - 1 - p
        conv = cons.kind == "conv2d"
        first = min(max(0, -(-(h + p - kh) // s) if conv else (h - 1) * s - p), oh)
        sweeps = pe_bounds(tp[e.cons].gemms[0], self.cfg.cores[tp[e.cons].cores[0]])[0]
        # rows that skip padding kernel rows (`conv_row_windows`) weigh their kernel rows
        win = conv_row_windows(cons.kind, h, kh, p, oh) or ((0, kh),) * oh
        rows = [b - a for a, b in win]
        return (sweeps - 1 + sum(rows[first:]) / sum(rows)) / sweeps

    def _granule(self, e: Edge, tp: dict[str, TaskPlan], pointwise: bool = True) -> int:
        """Elements of edge e's tensor that its producer completes at once: a core's row block
        (a d1 x d2 tile for a `pointwise` reader of a matmul; one output row of a one-channel
        conv), an SFU's beat."""
        prod, pp = self.s.g.task(e.prod), tp[e.prod]
        if prod.kind not in PE_KINDS:
            return pp.beat
        pe_p = self.cfg.cores[pp.cores[0]]
        gp = self.s.gemm[prod.name]
        if prod.kind == "matmul":
            return pe_p[0] * pe_p[1] if pointwise else pe_p[0] * gp.n
        if min(gp.m, pe_p[0]) == 1:
            return gp.n // gp.n_rows  # one channel: its rows complete one by one
        return pe_p[0] * gp.n

    def _emits_at_end(self, t: Task, tp: dict[str, TaskPlan], depth: int = 0) -> bool:
        """`t` is k-outer, or a convolution whose tile rows hold several output channels (its
        rows complete at the end of each channel block, the last at its end), or a pointwise
        SFU fed (in this group) by such a task."""
        if t.kind in PE_KINDS:
            plan = tp[t.name]
            if t.kind != "matmul" and plan.cores:
                return min(self.s.gemm[t.name].m, self.cfg.cores[plan.cores[0]][0]) > 1
            if plan.order == "jik" and plan.cores:  # rows complete in the last column block
                bi, bj, _ = pe_bounds(plan.gemms[0], self.cfg.cores[plan.cores[0]])
                return bi > 1 and bj > 1
            return plan.order == "kij"
        if t.kind in ROW_KINDS or depth > len(tp):
            return False
        ins = [e for e in self.s.in_edges[t.name] if e.prod in tp and not e.through_view]
        return any(self._emits_at_end(self.s.g.task(e.prod), tp, depth + 1) for e in ins)

    def _pointwise_source(self, t: Task, tp: dict[str, TaskPlan], depth: int = 0) -> str | None:
        """The single-core PE task whose tile order pointwise SFU `t` keeps (all its in-group
        streamed inputs must come, through pointwise SFUs, from such single-row-block tasks)."""
        s = self.s
        if t.kind in PE_KINDS:
            plan = tp[t.name]
            if len(plan.cores) != 1:
                return None
            pe = self.cfg.cores[plan.cores[0]]
            if s.gemm[t.name].m * s.gemm[t.name].batch <= pe[0]:
                return t.name  # one row block: tiles come out in column order
            if plan.order != "ijk" or plan.streamed_in:
                return None
            lhs = s.base[t.operands[0]]
            if lhs in self.port and s.g.bytes(lhs) > s.capacity // 4:
                return None
            return t.name  # can run j-outer (jik) with its lhs resident
        if t.kind in ROW_KINDS or t.kind in ("upsample", "maxpool") or depth > len(tp):
            return None
        ins = [e for e in s.in_edges[t.name] if e.prod in tp and not e.through_view]
        found = [self._pointwise_source(s.g.task(e.prod), tp, depth + 1) for e in ins]
        if not found or any(f is None for f in found):
            return None
        return found[0]

    @staticmethod
    def _walks_columns(t: Task, tp: dict[str, TaskPlan]) -> bool:
        """`t` is an SFU task that walks its tensors column by column (`_column_walks`)."""
        return t.kind not in PE_KINDS and t.name in tp and tp[t.name].order == "jik"

    def _column_source(self, name: str, tp: dict[str, TaskPlan]) -> bool:
        """Task `name` completes its result column by column in this group: a matmul on one
        core whose rows fit one row block and that is not k-outer, or a column-walking SFU."""
        t = self.s.g.task(name)
        if t.kind != "matmul":
            return self._walks_columns(t, tp)
        plan, g = tp[name], self.s.gemm[name]
        if len(plan.cores) != 1 or plan.order == "kij" or g.batch != 1:
            return False
        return g.m <= self.cfg.cores[plan.cores[0]][0]

    def _column_walks(
        self, tasks: list[Task], tp: dict[str, TaskPlan], internal: list[Edge]
    ) -> set[str]:
        """Let the pointwise SFUs between column producers and a matmul's lhs walk columns.

        A matmul whose rows fit one row block completes its result column by column. An SFU
        walking rows behind it waits for its last column, and a k-outer matmul reading the
        SFU's result as its lhs waits for the SFU's end. Walking columns ((lanes, 1) tiles,
        columns outer: loop order "jik"), the SFU follows the matmul tile by tile and the
        k-outer reader follows the SFU. An SFU walks columns when every operand comes, in
        this group and not through a view, from a column producer (`_column_source`), with
        the result's shape; when every reader is in this group and is such an SFU or reads it
        as a one-core matmul's lhs; when the result is neither stored nor an output; and
        when its unit serves no other task (an SFU walks its operands one way). Not for one
        row (a row walker follows it too), nor where (lanes, 1) tiles would take more beats
        than (1, lanes) tiles."""
        s, cfg = self.s, self.cfg
        cands = [t for t in tasks if t.name in s.column_candidates]
        if not cands:
            return set()
        ins = {t.name: [e for e in internal if e.cons == t.name] for t in cands}
        names = {t.name for t in tasks}
        chosen: set[str] = set()
        for t in cands:
            if t.name in self.off:
                continue
            if not cfg.dedicated_sfus and sum(x.kind == t.kind for x in s.order) > 1:
                continue
            edges = ins[t.name]
            if {k for e in edges for k in e.operands} != set(range(len(t.operands))):
                continue
            if any(e.cons not in names for e in s.out_edges[t.name]):
                continue
            lanes, rows = tp[t.name].beat, rows_of(t.shape)
            if rows < 2 or s.sfu_time(t, lanes, True) > s.sfu_time(t, lanes):
                continue  # one row follows its producer anyway; no lanes left idle
            chosen.add(t.name)
        while True:  # drop those without a column source or a reader that follows them
            keep = set()
            for name in chosen:
                tp[name].order = "jik"
            for t in cands:
                if t.name not in chosen:
                    continue
                if not all(self._column_source(e.prod, tp) for e in ins[t.name]):
                    continue
                if all(e.cons in chosen or self._lhs_reader(e, tp) for e in s.out_edges[t.name]):
                    keep.add(t.name)
            for name in chosen - keep:
                tp[name].order = "ijk"
            if keep == chosen:
                break
            chosen = keep
        for name in chosen:
            plan = tp[name]
            plan.cycles = s.sfu_time(s.g.task(name), plan.beat, columns=True)
        return chosen

    def _lhs_reader(self, e: Edge, tp: dict[str, TaskPlan]) -> bool:
        """Edge `e` is the lhs of a matmul on one core (one that can run k-outer on it)."""
        cons = self.s.g.task(e.cons)
        if cons.kind != "matmul" or e.operands != (0,) or len(tp[e.cons].cores) != 1:
            return False
        return self.s.gemm[e.cons].batch == 1

    def _evaluate(
        self,
        i: int,
        j: int,
        tasks: list[Task],
        pe: list[Task],
        alloc: tuple[tuple[int, ...], ...],
        sfu_of: dict[str, str],
        internal: list[Edge],
        prefer: dict[str, int],
        live: int,
        transposed_jik: bool = True,
        columns: bool = True,
    ) -> GroupPlan | None:
        """The group's plan. A matmul with a transposed weight may run j-outer by its local
        formulas (`_transposed_order`); the group is then costed without that too, and the
        faster kept, since j-outer results complete late for their readers and stores.
        `columns`: pointwise SFUs may walk columns (`_column_walks`); if a streamed input
        then changes a column producer's loop order, the group is costed without them."""
        s, cfg, g = self.s, self.cfg, self.s.g
        tp: dict[str, TaskPlan] = {}
        for t, cores in zip(pe, alloc, strict=True):
            pes = tuple(cfg.cores[c] for c in cores)
            if not all(s.fits(t, p) for p in pes):
                return None
            cyc, dim, lens, gemms = s.split(t, pes)
            if cyc == INF:
                return None
            slices, lo = [], 0
            for c, n in zip(cores, lens, strict=True):
                slices.append((c, lo, lo + n))
                lo += n
            tp[t.name] = TaskPlan(t.name, cores, "", dim, tuple(slices), gemms, cyc)
            tp[t.name].lag = min(pe_fill(p[2], s.p) for p in pes)
        for t in tasks:
            if t.kind not in PE_KINDS:
                key = sfu_of[t.name]
                lanes = cfg.lane(t.name if cfg.dedicated_sfus else t.kind)
                tp[t.name] = TaskPlan(t.name, (), key, 0, ((-1, 0, t.shape[0]),), (), 0)
                tp[t.name].cycles = s.sfu_time(t, lanes)
                tp[t.name].lag = sfu_lag(t.kind, s.g.shape(t.operands[0])[-1], lanes, s.p)
                tp[t.name].line_bytes = s.line_bytes(t)
                tp[t.name].beat = lanes
        produced = {t.name for t in tasks}
        self.striped = self._stripes(pe, tp, produced)
        load_end = self._load_queue(tasks, produced, tp)
        # A weight read from off-chip arrives row by row: k-outer order consumes it as it
        # comes (partial tiles in the accumulator memory), i/j-outer waits for all of it but
        # follows its lhs row block by row block. Take the order that finishes first.
        acc_bytes: dict[str, int] = {}
        for t in pe:
            rhs = s.base[t.operands[1]]
            if t.kind != "matmul" or t.attr("transpose_rhs", False) or rhs in produced:
                continue
            # one core, or one stripe per core: each core streams its own part of the weight
            if not self.offchip(rhs) or (len(tp[t.name].cores) != 1 and rhs not in self.striped):
                continue
            if rhs not in load_end:  # an earlier phase left it in this core's buffer
                continue
            bi, bj, bk = pe_bounds(tp[t.name].gemms[0], cfg.cores[tp[t.name].cores[0]])
            gm = s.gemm[t.name]
            acc = gm.batch * gm.m * gm.n * 4
            if bi * bj < 2 or bk < 2 or acc > s.capacity // 4:
                continue
            lhs_at, rhs_at, lhs_head, rhs_head = self._operand_arrivals(t, tp[t.name], load_end)
            work = bi * bj * bk
            ijk = max(lhs_head + work, rhs_at + work - bk, lhs_at + bj * bk)
            kij = max(lhs_head + work, rhs_head + work, rhs_at + bi * bj)
            kij = max(kij, lhs_at + bi * bj * (bk - 1))
            if kij < ijk:
                tp[t.name].order = "kij"
                acc_bytes[t.name] = acc
        flipped = False
        for t in pe:
            if transposed_jik and self._transposed_order(t, tp[t.name], produced, load_end):
                flipped = True
        walkers = self._column_walks(tasks, tp, internal) if columns else set()
        # which operand of a two-internal-operand matmul streams
        streamed_ops: dict[str, int] = {}
        for name, choice in prefer.items():
            streamed_ops[name] = choice
        streamed: dict[tuple[str, str], float] = {}
        finish_frac: dict[tuple[str, str], float] = {}  # where it is not the start's
        full: set[tuple[str, str]] = set()
        window_bytes: dict[str, int] = {}
        stream_wins: list[tuple[Edge, int]] = []
        for e in internal:
            w = self._window(e, tp, streamed_ops)
            if w is None:
                full.add((e.prod, e.cons))
                continue
            win, acc, order = w
            size = elements(g.shape(e.tensor))
            # An SFU reads beats as they are written (a row unit's latency holds its first
            # row), so it starts after one producer granule; a core after its window.
            lead = win if g.task(e.cons).kind in PE_KINDS else self._granule(e, tp)
            streamed[(e.prod, e.cons)] = min(1.0, lead / size)
            rest = self._rows_behind(e, tp)
            if rest is None:
                rest = self._conv_tail(e, tp)
            if rest is not None:
                finish_frac[(e.prod, e.cons)] = rest
            streamed_ops.setdefault(e.cons, e.operands[0])
            if order:
                tp[e.cons].order = order
            tp[e.cons].streamed_in = True
            if order and order != "kij" and e.cons in acc_bytes:
                del acc_bytes[e.cons]  # the streamed operand decides the order
            if order == "kij" and e.operands[0] == 0:
                src = self._pointwise_source(g.task(e.prod), tp)
                if src is not None and tp[src].order == "ijk":
                    pe_s = cfg.cores[tp[src].cores[0]]
                    if s.gemm[src].m * s.gemm[src].batch > pe_s[0]:
                        tp[src].order = "jik"
            if acc:
                acc_bytes[e.cons] = acc
            stream_wins.append((e, win))
        if walkers and not all(
            self._column_source(e.prod, tp) for e in internal if e.cons in walkers
        ):
            args = (i, j, tasks, pe, alloc, sfu_of, internal, prefer, live, transposed_jik)
            return self._evaluate(*args, columns=False)
        # Each streamed edge is a window buffer local to its consumer, or the whole tensor
        # where the hardware cannot ring it (decided once every loop order is known).
        names = {t.name for t in tasks}
        windows: dict[tuple[str, str], int] = {}
        held: dict[tuple[str, str], float] = {}  # the share of the tensor a window holds
        for e, win in stream_wins:
            depth, elems = self._window_buffer(e, win, tp, streamed, names)
            windows[(e.prod, e.cons)] = depth
            held[(e.prod, e.cons)] = min(1.0, elems / max(1, elements(g.shape(e.tensor))))
            window_bytes[e.cons] = window_bytes.get(e.cons, 0) + ceil_div(
                elems * g.tensors[e.tensor].bits, 8
            )
        full_buffers = {p for p, _ in full if p not in self.off}
        streamed_into = {c: {p for p, cc in streamed if cc == c} for c in tp}
        # off-chip traffic per task, and on-chip working sets
        # a port's traffic: each tensor loaded once for all its readers, and every store
        group_ports: dict[int, int] = {}
        for b in load_end:
            for ch, nb in self.port_shares(b):
                group_ports[ch] = group_ports.get(ch, 0) + nb
        onchip = live + sum(g.bytes(b) for b in full_buffers)
        floors: dict[str, int] = {}  # a task's finish measured from the phase start
        stored: dict[str, list[str]] = {}  # task -> the tensors its results are stored as
        first_in: dict[str, int] = {}  # a task's first loaded input readable, from the start
        for t in tasks:
            plan = tp[t.name]
            ports: dict[int, int] = {}
            resident: list[tuple[int, int, bool]] = []  # (operand index, bytes, offchip)
            seen: set[str] = set()
            for k, op in enumerate(t.operands):
                b = s.base[op]
                if b in seen:
                    continue
                seen.add(b)
                if b in streamed_into[t.name]:
                    continue
                nb = g.bytes(op)
                off = self.loads_operand(t, k, plan, produced)  # made here: written on chip
                if off:
                    for ch, share in self.port_shares(b):
                        ports[ch] = ports.get(ch, 0) + share
                resident.append((k, nb, off))
            stores = [t.name] if t.name in self.off else []
            stores += [v.name for v in s.output_views if s.base[v.name] == t.name]
            for name in stores:
                ports[self.port[name]] = ports.get(self.port[name], 0) + s.port_bytes(name)
            plan.port_bytes = ports
            # Each loaded operand's last byte arrives behind what its port loads before it;
            # then comes the work that can only follow it. The result streams out meanwhile.
            # Nor can it start before the first part it needs is in.
            loaded = [k for k, _, off in resident if off]
            tails = [self._tail(t, plan, k) for k in loaded]
            ready = [
                ceil_div(load_end[s.base[t.operands[k]]], s.bpc) + tail
                for k, tail in zip(loaded, tails, strict=True)
            ]
            pe_t = cfg.cores[plan.cores[0]] if plan.cores else None
            heads = [
                self._arrived(
                    load_end, s.base[t.operands[k]], self._head(t, k, pe_t, plan.beat, plan)
                )
                for k in loaded
            ]
            ready += [h + plan.cycles for h in heads]
            if heads:
                first_in[t.name] = max(heads) + s.lat + s.p.load_path
            if ready:
                # loads start with the phase, not with the task
                floors[t.name] = max([plan.cycles, *ready]) + s.lat + s.p.load_path
            if stores:
                stored[t.name] = stores
                for name in stores:
                    ch = self.port[name]
                    group_ports[ch] = group_ports.get(ch, 0) + s.port_bytes(name)
            win_bytes = window_bytes.get(t.name, 0)
            work = win_bytes + acc_bytes.get(t.name, 0)
            if t.kind in PE_KINDS:
                work += self._staging(t, plan, resident, bool(streamed_into[t.name]))
                # the window buffer is counted with the links (`Schedule.onchip_bytes`)
                share = ceil_div(work - win_bytes, len(plan.cores))
                plan.work_bytes = dict.fromkeys(plan.cores, share)
                if plan.cores:
                    plan.beat = core_beat_elements(cfg.cores[plan.cores[0]], s.gemm[t.name].k)
            else:
                work += plan.line_bytes
            onchip += work
        if onchip > s.capacity:
            return None
        edges: list[tuple] = [
            (p, c, f, finish_frac[(p, c)]) if (p, c) in finish_frac else (p, c, f)
            for (p, c), f in streamed.items()
        ]
        edges += [self._drain_edge(p, c, tp) for p, c in sorted(full)]
        lags = {t.name: tp[t.name].lag for t in tasks}
        stages = [(t.name, tp[t.name].cycles) for t in tasks]
        timing = pipeline_cycles(stages, edges, floors, lags, first_in)
        # Backpressure upstream: a producer gets no further ahead of a slower reader than the
        # window holds, which also holds back its other readers.
        for _ in tasks:
            held_back = False
            for (p, c), frac in held.items():
                work_c = tp[c].cycles - lags[c]
                bound = timing.finish[c] - lags[c] - math.ceil(frac * work_c)
                if bound > timing.finish[p]:
                    floors[p] = bound
                    held_back = True
            if not held_back:
                break
            timing = pipeline_cycles(stages, edges, floors, lags, first_in)
        done = max(timing.finish.values())
        done = max(done, self._store_queues(stored, timing, lags, first_in, load_end, tp))
        ports_done = port_cycles(group_ports.values(), s.bpc, s.lat)
        cycles = max(done, ports_done) + s.p.phase_end
        if len(tasks) == 1:
            pattern = "sequential"
        elif internal:
            pattern = "task_pipeline"
        else:
            pattern = "task_parallel"
        if flipped:
            args = (i, j, tasks, pe, alloc, sfu_of, internal, prefer, live, False, columns)
            other = self._evaluate(*args)
            if other is not None and other.cycles < cycles:
                return other
        args = (i, j, tasks, pe, alloc, sfu_of, internal, prefer, live, transposed_jik, columns)
        return GroupPlan(
            i,
            j,
            cycles,
            pattern,
            tp,
            streamed,
            full,
            full_buffers,
            group_ports,
            onchip,
            windows,
            args,
        )

    def _transposed_order(
        self, t: Task, plan: TaskPlan, produced: set[str], load_end: dict[str, int]
    ) -> bool:
        """A weight stored transposed ([N, K]) arrives column block by column block: j-outer
        order (jik) consumes it as it comes but needs all of its lhs first, i-outer (ijk)
        follows its lhs row block by row block but waits for the whole weight after the
        first row block. Take the order that finishes first (True: j-outer)."""
        s, cfg = self.s, self.cfg
        rhs = s.base[t.operands[1]]
        if t.kind != "matmul" or not t.attr("transpose_rhs", False) or rhs in produced:
            return False
        if s.g.tensors[rhs].role != "weight" or rhs not in load_end:
            return False
        if len(plan.cores) != 1 and rhs not in self.striped:
            return False
        bi, bj, bk = pe_bounds(plan.gemms[0], cfg.cores[plan.cores[0]])
        if bi < 2 or bj < 2:
            return False
        lhs_at, rhs_at, lhs_head, rhs_head = self._operand_arrivals(t, plan, load_end)
        work = bi * bj * bk
        ijk = max(lhs_head + work, rhs_head + work, rhs_at + (bi - 1) * bj * bk + bk)
        ijk = max(ijk, lhs_at + bj * bk)
        jik = max(rhs_head + work, rhs_at + bi * bk, lhs_at + work)
        if jik < ijk:
            plan.order = "jik"
        return jik < ijk

    def _operand_arrivals(
        self, t: Task, plan: TaskPlan, load_end: dict[str, int]
    ) -> tuple[int, int, int, int]:
        """Cycles (from the phase start) when matmul `t`'s lhs and rhs are in, and when their
        first parts (`_head`) are: (lhs_at, rhs_at, lhs_head, rhs_head)."""
        s = self.s
        pe_t = self.cfg.cores[plan.cores[0]]
        lhs, rhs = s.base[t.operands[0]], s.base[t.operands[1]]
        return (
            ceil_div(load_end.get(lhs, 0), s.bpc),
            ceil_div(load_end[rhs], s.bpc),
            self._arrived(load_end, lhs, self._head(t, 0, pe_t)),
            self._arrived(load_end, rhs, self._head(t, 1, pe_t)),
        )

    @staticmethod
    def unit_keys(plan: TaskPlan) -> list[tuple[str, object]]:
        """The units a task runs on: its cores, or its SFU."""
        return [("cc", c) for c in plan.cores] or [("sfu", plan.sfu)]

    def loads_operand(self, t: Task, k: int, plan: TaskPlan, produced: set[str]) -> bool:
        """Operand k of `t` comes from off chip in this phase: it lives there, no task of the
        phase makes it, and an earlier phase has not loaded it into the same units' buffer."""
        b = self.s.base[t.operands[k]]
        if not self.offchip(b) or b in produced:
            return False
        return not all((u, k, b) in self.preloaded for u in self.unit_keys(plan))

    def _store_queues(
        self,
        stored: dict[str, list[str]],
        timing: Timing,
        lags: dict[str, int],
        first_in: dict[str, int],
        load_end: dict[str, int],
        tp: dict[str, TaskPlan],
    ) -> int:
        """When each port's store engine writes its last beat of the phase. It drains the
        phase's stores one after another in name order, a row once it is complete: a store
        starts with its producer's first row and ends with the row after its last result.
        Reads go first on a port, so no store beat is written before its loads are out."""
        s = self.s
        queues: dict[int, list[tuple[str, str]]] = {}
        for task, names in stored.items():
            for name in names:
                queues.setdefault(self.port[name], []).append((name, task))
        loads_out: dict[int, int] = {}
        for b, nbytes in load_end.items():
            ends = [
                (ch, end) for ch, _, _, end in self.striped.get(b, [(self.port[b], 0, 0, nbytes)])
            ]
            for ch, end in ends:
                loads_out[ch] = max(loads_out.get(ch, 0), ceil_div(end, s.bpc))
        done = 0
        for ch, items in queues.items():
            end = loads_out.get(ch, 0)
            for name, task in sorted(items):
                beats = ceil_div(s.port_bytes(name), s.bpc)
                row = ceil_div(beats, rows_of(s.g.shape(name)))
                first = max(timing.start[task], first_in.get(task, 0)) + lags[task] + row
                last = timing.finish[task]
                path = s.p.store_path
                # rows left to store after the last result: a matmul's last row block (d1
                # rows; all of them when k-outer or j-outer over several column blocks); a
                # task split by rows over n cores completes its slices side by side, and the
                # engine, draining rows in order, is held by the first until the end
                plan = tp[task]
                after = row
                if s.g.task(task).kind == "matmul" and plan.cores:
                    pe = self.cfg.cores[plan.cores[0]]
                    rows = rows_of(s.g.shape(name))
                    lead = plan.slices[0][2] - plan.slices[0][1] if plan.dim == 0 else rows
                    late = plan.order == "kij" or (
                        plan.order == "jik" and pe_bounds(plan.gemms[0], pe)[1] > 1
                    )
                    if late:  # every row completes in the last k step (or column block)
                        lead = pe[0]
                    after = beats - max(0, min(lead, rows) - pe[0]) * row
                end = max(end + beats, first + path + beats, last + path + after)
            done = max(done, end)
        return done

    def _window_buffer(
        self,
        e: Edge,
        win: int,
        tp: dict[str, TaskPlan],
        streamed: dict[tuple[str, str], float],
        names: set[str],
    ) -> tuple[int, int]:
        """(link depth in producer beats, elements charged) of streamed edge `e` whose window
        is `win` elements: a window (ring) buffer of `ring_rows` when the hardware can ring
        the edge (`_ring_geometry`), else the whole tensor (a full buffer)."""
        s = self.s
        shape = s.g.shape(e.tensor)
        size = elements(shape)
        cols = shape[-1] if shape else 1
        rows = size // cols
        prod = s.g.task(e.prod)
        pp = tp[e.prod]
        if prod.kind in PE_KINDS:
            beat = core_beat_elements(self.cfg.cores[pp.cores[0]], s.gemm[prod.name].k)
        else:
            beat = pp.beat
        geo = self._ring_geometry(e, tp, streamed, names)
        if geo is not None:
            span, wh, rh, steps = geo
            mult = 2 if s.g.task(e.cons).kind in PE_KINDS else 1  # cores: double-buffered
            target = ring_target_rows(mult * min(win, size), cols, span, wh, rh, steps)
            depth = ceil_div(target * cols, beat)
            hw_rows = ring_rows(depth, beat, cols, wh, rh, span)
            if hw_rows < rows:
                whole = ceil_div(hw_rows * cols, beat)  # the link holds the built window
                if ring_rows(whole, beat, cols, wh, rh, span) == hw_rows:
                    depth = whole
                return depth, hw_rows * cols
        return ceil_div(size, beat), size

    def _ring_geometry(
        self,
        e: Edge,
        tp: dict[str, TaskPlan],
        streamed: dict[tuple[str, str], float],
        names: set[str],
    ) -> tuple[int, int, int, int] | None:
        """(reader's rows per outer step, writer's tile height, reader's tile height, reader's
        cycles per outer step) when the hardware builds streamed edge `e` as a window buffer,
        else None. `intar.hw.plan` checks the same conditions on the instructions:

        - the tensor lives nowhere else: not off chip, not a graph output, not a view's
          source, and every consumer streams it in this phase;
        - the producer writes rows in order: an SFU, or a matmul that is i-outer or has one
          row block (not a convolution: its buffers are flat);
        - the consumer reads rows in order: an SFU (not a broadcast row vector), a matmul lhs
          in ijk order, or a matmul rhs (not transposed) in kij order or read once;
        - no other operand of the consumer is made in this phase from the tensor (its
          producer waits for the consumer's credit, so that operand could never arrive); for
          a matmul, which needs its other operand long before it drains the window, nor from
          any task that feeds the producer in this phase (a fork-join: the full window stalls
          the shared ancestor, and with it the other operand)."""
        s, cfg = self.s, self.cfg
        name = e.tensor
        if name in self.off or name in s.outputs or name in s.view_bases:
            return None
        if any(x.cons not in names or (name, x.cons) not in streamed for x in s.out_edges[name]):
            return None
        prod, cons = s.g.task(e.prod), s.g.task(e.cons)
        if self._walks_columns(prod, tp) or self._walks_columns(cons, tp):
            return None  # its rows complete only in its last column
        if prod.kind in PE_KINDS:
            pe_p = cfg.cores[tp[prod.name].cores[0]]
            order = tp[prod.name].order
            if prod.kind != "matmul" or order == "kij":
                return None
            if order == "jik" and ceil_div(s.gemm[prod.name].m, pe_p[0]) > 1:
                return None
            wh = pe_p[0]
        else:
            wh = 1
        upstream = self._feeders(e.prod, names) if cons.kind in PE_KINDS else {e.prod}
        for o in cons.operands:
            b = s.base[o]
            if b != name and b in names and any(self._reaches(a, b, names) for a in upstream):
                return None
        shape = s.g.shape(name)
        rows = elements(shape[:-1]) if len(shape) > 1 else 1
        if cons.kind not in PE_KINDS:
            res_rows = elements(cons.shape[:-1]) if len(cons.shape) > 1 else 1
            if rows == 1 and res_rows > 1:
                return None  # a broadcast row vector
            kb = 2 if cons.kind == "maxpool" else 1
            out_w = max(1, tp[cons.name].beat // (2 if cons.kind == "maxpool" else 1))
            return kb, wh, 1, ceil_div(cons.shape[-1], out_w) * kb
        if cons.kind != "matmul":
            return None
        pe_c = cfg.cores[tp[cons.name].cores[0]]
        d1, _, d3 = pe_c
        bi, bj, bk = pe_bounds(tp[cons.name].gemms[0], pe_c)
        order = tp[cons.name].order
        if e.operands[0] == 0:
            return (d1, wh, d1, bj * bk) if order == "ijk" else None
        if cons.attr("transpose_rhs", False):
            return None
        if order == "kij":
            return d3, wh, d3, max(1, bi * bj)
        if bi == 1 and bj == 1:
            return d3, wh, d3, 1
        return None

    def _feeders(self, task: str, names: set[str]) -> set[str]:
        """`task` and every task of the group `names` it is computed from in the group."""
        seen, stack = {task}, [task]
        while stack:
            for o in self.s.g.task(stack.pop()).operands:
                b = self.s.base[o]
                if b in names and b not in seen:
                    seen.add(b)
                    stack.append(b)
        return seen

    def _reaches(self, src: str, dst: str, names: set[str]) -> bool:
        """`dst` is computed from `src` through edges inside the group `names`."""
        stack, seen = [src], {src}
        while stack:
            for x in self.s.out_edges[stack.pop()]:
                if x.cons in names and x.cons not in seen:
                    if x.cons == dst:
                        return True
                    seen.add(x.cons)
                    stack.append(x.cons)
        return False

    def _load_queue(
        self, tasks: list[Task], produced: set[str], tp: dict[str, TaskPlan]
    ) -> dict[str, int]:
        """Bytes each port has delivered when the last byte of each off-chip operand of the
        group arrives. As the hardware issues them: one load per tensor, per port the vectors
        an SFU broadcasts over its rows first, then row operands (lhs), then by name."""
        s = self.s
        lhs: dict[str, bool] = {}
        broadcast: set[str] = set()
        for t in tasks:
            first = 1 if t.kind in ("conv2d", "conv_transpose2d") else 0  # the weight is lhs
            for k, op in enumerate(t.operands):
                b = s.base[op]
                if self.loads_operand(t, k, tp[t.name], produced):
                    lhs[b] = lhs.get(b, False) or k == first
                    if t.kind not in PE_KINDS and rows_of(s.g.shape(op)) == 1 < rows_of(t.shape):
                        broadcast.add(b)  # read with every beat: loaded first
        queued: dict[int, int] = {}
        end: dict[str, int] = {}
        for b in sorted(lhs, key=lambda b: (b not in broadcast, not lhs[b], b)):
            if b in self.striped:  # each stripe on its own port, side by side
                parts = self.striped[b]
                for k, (ch, nb, share, _) in enumerate(parts):
                    gap = s.bpc if ch in queued else 0
                    queued[ch] = queued.get(ch, 0) + gap + nb
                    parts[k] = (ch, nb, share, queued[ch])
                end[b] = max(p[3] for p in parts)
                continue
            ch = self.port[b]
            gap = s.bpc if ch in queued else 0  # the engine takes its next command a cycle late
            queued[ch] = queued.get(ch, 0) + gap + s.port_bytes(b)
            end[b] = queued[ch]
        return end

    def _stripes(
        self, pe: list[Task], tp: dict[str, TaskPlan], produced: set[str]
    ) -> dict[str, list[tuple[int, int, tuple[int, int], int]]]:
        """Weights striped over ports: a matmul split by columns over several cores whose
        off-chip weight only it reads is stored as one stripe per core slice (its columns,
        or its rows when the weight is [N, K]), each on its own port, so the cores load their
        parts side by side. Stripes go to the ports this phase loads least, biggest first."""
        s = self.s
        found = []
        for t in pe:
            plan = tp[t.name]
            rhs = t.operands[1]
            if t.kind != "matmul" or len(plan.slices) < 2 or plan.dim != len(t.shape) - 1:
                continue
            if s.base[rhs] != rhs or rhs not in s.leaves or len(s.g.consumers(rhs)) != 1:
                continue
            shape = s.g.shape(rhs)
            if len(shape) != 2 or not self.loads_operand(t, 1, plan, produced):
                continue
            # only where the weight's transfer is a sizable part of the task's time: stripes
            # gain little on a compute-bound task, and its cores' other buffers still cost
            if ceil_div(s.port_bytes(rhs), s.bpc) * STRIPE_MIN_SHARE < plan.cycles:
                continue
            chans = self.width_ports.get(s.g.tensors[rhs].bits, range(s.port_budget))
            if len(chans) < len(plan.slices):
                continue
            tr = bool(t.attr("transpose_rhs", False))
            parts = []
            for _, lo, hi in plan.slices:
                part = (hi - lo, shape[1]) if tr else (shape[0], hi - lo)
                nb = offchip_beats(part, s.g.tensors[rhs].bits, 8 * s.bpc) * s.bpc
                parts.append((nb, (1, 1) if tr else (hi - lo, shape[1])))
            found.append((rhs, t, parts, chans))
        if not found:
            return {}
        busy: dict[int, int] = {}
        striped = {b for b, *_ in found}
        for t in s.order:
            if t.name not in tp:
                continue
            for k, op in enumerate(t.operands):
                b = s.base[op]
                if b not in striped and self.loads_operand(t, k, tp[t.name], produced):
                    busy[self.port[b]] = busy.get(self.port[b], 0) + s.port_bytes(b)
        out: dict[str, list[tuple[int, int, tuple[int, int], int]]] = {}
        for rhs, t, parts, chans in sorted(found, key=lambda f: (-sum(p[0] for p in f[2]), f[0])):
            free = sorted(chans, key=lambda c: (busy.get(c, 0), c))[: len(parts)]
            order = sorted(range(len(parts)), key=lambda k: (-parts[k][0], k))
            chosen = [0] * len(parts)
            for k, ch in zip(order, free, strict=True):
                chosen[k] = ch
                busy[ch] = busy.get(ch, 0) + parts[k][0]
            out[rhs] = [(ch, nb, share, 0) for ch, (nb, share) in zip(chosen, parts, strict=True)]
            tp[t.name].stripes = {1: tuple(chosen)}
        return out

    def port_shares(self, tensor: str) -> list[tuple[int, int]]:
        """(port, bytes) a loaded tensor moves over each of its ports in this phase."""
        if tensor in self.striped:
            return [(ch, nb) for ch, nb, _, _ in self.striped[tensor]]
        return [(self.port[tensor], self.s.port_bytes(tensor))]

    def _arrived(self, load_end: dict[str, int], tensor: str, head: int) -> int:
        """Cycle (from the phase start) when the first `head` bytes of a loaded tensor are in
        (0 when it is not loaded in this phase)."""
        if tensor not in load_end:
            return 0
        if tensor in self.striped:  # every core's first part, each from its own stripe
            return max(
                ceil_div(end - nb + min(ceil_div(head * share[0], share[1]), nb), self.s.bpc)
                for _, nb, share, end in self.striped[tensor]
            )
        nb = self.s.port_bytes(tensor)
        return ceil_div(load_end[tensor] - nb + min(head, nb), self.s.bpc)

    def _transposed(self, name: str) -> bool:
        """`name` is a view whose chain down to its base tensor holds a transpose."""
        while name != self.s.base[name]:
            view = self.s.g.task(name)
            if view.kind == "transpose":
                return True
            name = view.operands[0]
        return False

    def _head(
        self, t: Task, op: int, pe: PE | None, lanes: int = 1, plan: TaskPlan | None = None
    ) -> int:
        """Bytes of operand `op` that must be loaded before `t` can issue its first tiles: a
        matmul's first lhs row block or first weight k block (of a transposed [N, K] weight,
        read j by j, its first d2 rows; split by columns over the cores of `plan`, and not
        striped, the last core's first d2 rows are that far into it); a
        convolution's first weight row block, or its input up to the first kernel rows of
        the last channel; an SFU's first beat. Through a transpose, the whole tensor."""
        g = self.s.g
        shape = g.shape(t.operands[op])
        bits = g.tensors[t.operands[op]].bits
        row = shape[-1] if shape else 1
        if self._transposed(t.operands[op]):  # its first row is a column of the source
            return self.s.port_bytes(self.s.base[t.operands[op]])
        if pe is None or t.kind not in PE_KINDS:  # its first beat (a row unit's latency
            return ceil_div(min(row, lanes) * bits, 8)  # holds the rest of its first row)
        d1, d2, d3 = pe
        if t.kind == "matmul":
            if op == 0:
                return ceil_div(d1 * row * bits, 8)
            if not t.attr("transpose_rhs", False):
                return ceil_div(d3 * row * bits, 8)
            rows = d2
            split = plan is not None and len(plan.cores) > 1 and plan.dim == len(t.shape) - 1
            if split and self.s.base[t.operands[1]] not in self.striped:
                rows = min(shape[-2], plan.slices[-1][1] + d2)
            return ceil_div(rows * row * bits, 8)
        if op == 1:  # conv weight [OC, ...]: its first d1 output channels
            return ceil_div(d1 * math.prod(shape[1:]) * bits, 8)
        c, h, w = shape
        kh = g.shape(t.operands[1])[2]
        return ceil_div(((c - 1) * h * w + min(h, kh) * w) * bits, 8)

    def _drain_edge(self, p: str, c: str, tp: dict[str, TaskPlan]) -> tuple:
        """A full-buffer edge as (p, c, start fraction, finish fraction), or with a fourth
        element True for a producer that drains at its end.

        Readiness lets a reader follow a producer that writes its result in row-major order,
        through a full buffer too (and through a reshape, which keeps that order): it starts
        once the first block it needs is written (an SFU: one tile or beat; a matmul: where
        its first k block, or first row panel, ends) and after the producer's last element
        still has its own last block (its last k step when k-outer, else its last row block;
        an SFU one beat). Such producers are an SFU (beat by beat) and a matmul on one core
        running i-outer (row block by row block). A k-outer matmul writes all its results in
        its last k step, I*J tiles, and a pointwise SFU behind it passes them on as they come:
        those drain at their end; so does a j-outer one over several row and column blocks,
        whose last column block completes a row block every K steps. A j-outer reader needs
        every row of its operand for its first column block, so it follows the whole tensor.
        Anything else, or a transposed view between: the whole tensor first (fractions 1)."""
        s, pp, cp = self.s, tp[p], tp[c]
        prod, cons = s.g.task(p), s.g.task(c)
        full = (p, c, 1.0, 1.0)
        edge = next(e for e in s.in_edges[c] if e.prod == p)
        if any(self._transposed(cons.operands[k]) for k in edge.operands):
            return full
        size = max(1, elements(prod.shape))
        drain = 0  # work units at the producer's end in which all of its output appears
        step = 1  # work units per grain while it drains
        left = 0  # elements an SFU reader still has after the producer's last tile
        if prod.kind == "matmul":
            if len(pp.cores) != 1:
                return full
            d1, d2, _ = self.cfg.cores[pp.cores[0]]
            bi, bj, bk = pe_bounds(pp.gemms[0], self.cfg.cores[pp.cores[0]])
            if pp.order == "kij":
                grain, drain = d1 * d2, bi * bj  # elements per tile, tiles of the last k step
            elif pp.order == "jik" and bj > 1:
                if bi == 1:
                    return full
                # the last column block completes a row block every K steps
                grain, drain, step = d1 * s.gemm[p].n, bi * bk, bk
            else:
                grain = d1 * s.gemm[p].n  # a row block
        elif prod.kind not in PE_KINDS:
            grain = pp.beat
            if self._emits_at_end(prod, tp):
                drain = sfu_beats(prod.kind, prod.shape, pp.beat)
        elif len(pp.cores) == 1 and cons.kind not in PE_KINDS:
            # a convolution on one core sweeps its output rows once per block of d1 channels
            # (i-outer): each sweep completes a block, the rows of its channels side by side
            gm = s.gemm[p]
            grain = min(self.cfg.cores[pp.cores[0]][0], gm.m) * gm.n
            left = grain - gm.n  # row-major, the reader follows the block's first channel
        else:
            return full
        work_p = max(1, pp.cycles - pp.lag)
        work_c = max(1, cp.cycles - cp.lag)
        if cons.kind not in PE_KINDS:
            need, rest = grain, max(1, math.ceil(left / size * work_c))
        elif cons.kind == "matmul" and len(cp.cores) == 1:
            d1, d2, d3 = self.cfg.cores[cp.cores[0]]
            gm = s.gemm[c]
            ci, cj, ck = pe_bounds(cp.gemms[0], self.cfg.cores[cp.cores[0]])
            rows = gm.m * gm.batch
            # the producer writes row-major: how far in is the reader's first block complete
            if cp.order == "kij" and self._walks_columns(prod, tp):  # column by column
                needs, rest = (rows * d3, gm.k * gm.n), ci * cj
            elif self._walks_columns(prod, tp):
                return full  # every row completes in its last column
            elif cp.order == "kij":  # lhs: a d3-column block of every row; rhs: d3 rows
                # (of an [N, K] rhs read transposed: a d3-column block of every row)
                rhs = (gm.n - 1) * gm.k + d3 if cons.attr("transpose_rhs", False) else d3 * gm.n
                needs, rest = ((rows - 1) * gm.k + d3, rhs), ci * cj
            elif cp.order == "jik" and cj > 1:  # the first column block reads every row
                needs, rest = (rows * gm.k, gm.k * gm.n), ci * cj * ck
            else:  # lhs: the first d1 rows; rhs: all of it
                needs, rest = (min(d1, rows) * gm.k, gm.k * gm.n), cj * ck
            need = max(needs[min(k, 1)] for k in edge.operands)
        else:
            return full
        finish = min(1.0, rest / work_c)
        if drain:
            lead = min(drain, ceil_div(need, grain) * step)
            return (p, c, min(1.0, (work_p - drain + lead) / work_p), finish, True)
        return (p, c, min(1.0, ceil_div(need, grain) * grain / size), finish)

    def _tail(self, t: Task, plan: TaskPlan, op: int) -> int:
        """Cycles a task still runs after the last byte of its off-chip operand `op` arrived.

        A weight (rhs) loaded row by row is complete only at the end: k-outer still runs the
        last k step's I*J tiles; i/j-outer every tile but the first's k steps. A transposed
        [N, K] weight arrives column block by column block instead: i-outer leaves the last
        row block's J tiles but the first (each of K/d3 steps) and the last column's, j-outer
        the last column's I tiles. An lhs arrives
        row block by row block, leaving the last row block's tiles (all of them when j-outer,
        all but the first k step's when k-outer). A convolution's weight is its lhs, its input
        the im2col rhs that the first output-channel block reads whole.
        """
        if t.kind not in PE_KINDS:
            return plan.lag
        if not plan.cores:
            return 0
        weight = 1 if t.kind == "matmul" else 0  # operand read as the rhs
        tail = 0
        for g, c in zip(plan.gemms, plan.cores, strict=False):
            pe = self.cfg.cores[c]
            bi, bj, bk = pe_bounds(g, pe)
            if op == weight and t.kind == "matmul" and t.attr("transpose_rhs", False):
                rest = bi * bk if plan.order == "jik" else (bi - 1) * bj * bk + bk
            elif op == weight and t.kind == "conv2d" and plan.order != "kij":
                # the pixel tiles walk output rows in order: once the input's last row is
                # in, a channel block has left only the tiles of the output rows that read it
                x_h, kh = self.s.g.shape(t.operands[0])[1], self.s.g.shape(t.operands[1])[2]
                last = bj - _tiles_before_last_rows(t, x_h, kh, g, pe)
                rest = (bi - 1) * bj * bk + last * bk if plan.order == "ijk" else last * bi * bk
            elif op == weight:
                rest = bi * bj if plan.order == "kij" else bi * bj * bk - bk
            elif plan.order == "kij":
                rest = bi * bj * (bk - 1)
            else:
                rest = (bi if plan.order == "jik" else 1) * bj * bk
            tail = max(tail, rest + pe_fill(pe[2], self.s.p))
        return tail

    def _staging(
        self, t: Task, plan: TaskPlan, resident: list[tuple[int, int, bool]], streaming: bool
    ) -> int:
        """Scratchpad bytes to stage off-chip operands of a PE task (see docs)."""
        s, cfg = self.s, self.cfg
        off = [(k, nb) for k, nb, o in resident if o]
        if not off:
            return 0
        d1, d2, d3 = cfg.cores[plan.cores[0]]
        gm = s.gemm[t.name]
        bits = s.g.tensors[t.operands[0]].bits

        bi, bj, _ = pe_bounds(plan.gemms[0], cfg.cores[plan.cores[0]])
        transposed = bool(t.attr("transpose_rhs", False))

        def panel(k: int) -> int:
            """Two panels where the operand is read rows in order (the hardware can ring
            it, `intar.hw.plan.read_rows`), else the whole operand."""
            if t.kind != "matmul":
                x = s.g.shape(t.operands[0])
                w = s.g.shape(t.operands[1])
                elems = w[2] * x[0] * x[2] if k == 0 else d2 * gm.k
            elif k == 0 and (plan.order == "ijk" or (plan.order == "jik" and bj == 1)):
                elems = d1 * gm.k  # lhs row blocks, i-outer
            elif (
                k == 1 and transposed and (plan.order == "jik" or (bi == 1 and plan.order == "ijk"))
            ):
                elems = d2 * gm.k  # [N, K] rhs column blocks, j-outer
            elif k == 1 and not transposed and (plan.order == "kij" or bi == bj == 1):
                elems = d3 * gm.n  # [K, N] rhs k blocks, k-outer
            else:
                return s.g.bytes(t.operands[k])
            return 2 * ceil_div(elems * bits, 8) * len(plan.cores)

        if streaming and plan.order == "kij":  # the other operand also arrives along k
            return sum(
                2 * ceil_div((gm.m * gm.batch if k == 0 else gm.n) * d3 * bits, 8) for k, _ in off
            )
        if streaming:
            return sum(nb for _, nb in off)
        if len(off) == 1 and len(resident) > 1:
            return panel(off[0][0])
        off.sort(key=lambda x: (x[1], x[0]))
        staged = off[0][1]
        rest = sum(panel(k) for k, _ in off[1:])
        return staged + rest


@dataclass
class _Plan:
    cfg: Config
    ev: _Evaluator
    groups: list[GroupPlan]
    cycles: int


def _dp(ev: _Evaluator, n: int, singletons: bool, whole: bool, max_group: int) -> _Plan | None:
    s = ev.s
    sw = s.p.switch_cycles
    if whole:
        plan = ev.group(0, n - 1, dedicated_only=True) if n else None
        if plan is None:
            return None
        return _Plan(ev.cfg, ev, [plan], plan.cycles)
    best: list[float] = [0.0] + [INF] * n
    arg = [-1] * (n + 1)
    for j in range(n):
        lo = j if singletons else max(0, j - max_group + 1)
        for i in range(j, lo - 1, -1):
            if best[i] == INF or best[i] + ev.lower_bound(i, j) >= best[j + 1]:
                continue
            gp = ev.group(i, j)
            if gp is None:
                continue
            c = best[i] + gp.cycles + (sw if i > 0 else 0)
            if c < best[j + 1]:
                best[j + 1] = c
                arg[j + 1] = i
    if best[n] == INF:
        return None
    groups = []
    j = n
    while j > 0:
        i = arg[j]
        gp = ev.group(i, j - 1)
        assert gp is not None
        groups.append(gp)
        j = i
    groups.reverse()
    return _Plan(ev.cfg, ev, groups, int(best[n]))


def _solve(
    s: _Search, cfg: Config, singletons: bool, whole: bool
) -> tuple[_Plan | None, frozenset[str]]:
    """DP for one configuration, spilling the largest on-chip intermediates until it fits."""
    n = len(s.order)
    forced = {t for t in s.outputs if t in s.pos}
    max_group = n if n <= 12 else 8
    spillable = sorted(
        (t for t in s.pos if t not in forced), key=lambda t: (-s.g.bytes(t), s.pos[t])
    )

    def fitting(off: frozenset[str]) -> _Plan | None:
        plan = _dp(_Evaluator(s, cfg, off), n, singletons, whole, max_group)
        if plan is not None and _materialize(s, plan, "probe").onchip_bytes <= s.capacity:
            return plan
        return None

    def spilled(k: int) -> frozenset[str]:
        return frozenset(forced.union(spillable[:k]))

    # One more spill at a time. In the block-RAM fit's retries (`_Search.give_up_early`), a
    # configuration that does not fit with every intermediate spilled is given up at once:
    # on a tight budget most do, and each count tried costs a DP. That is a shortcut, not a
    # proof (spilling adds load staging, so a few spills may fit where all do not), so the
    # first search does not take it.
    everything = len(spillable)
    for k in range(everything + 1):
        if k == 1 < everything and s.give_up_early and fitting(spilled(everything)) is None:
            break  # hopeless: not even with every intermediate spilled
        plan = fitting(spilled(k))
        if plan is not None:
            return plan, spilled(k)
    return None, spilled(everything)


def _recost(s: _Search, plan: _Plan) -> _Plan:
    """The plan's phases costed in order, each knowing which operand buffers earlier phases
    loaded (the search costs every phase on its own and so charges those loads again)."""
    ev = plan.ev
    loaded: set[tuple[tuple[str, object], int, str]] = set()
    groups = []
    for gp in plan.groups:
        ev.preloaded = frozenset(loaded)
        new = ev._evaluate(*gp.args) or gp
        ev.preloaded = frozenset()
        groups.append(new)
        produced = set(new.tasks)
        for name, tplan in new.tasks.items():
            t = s.g.task(name)
            for k, op in enumerate(t.operands):
                b = s.base[op]
                if ev.offchip(b) and b not in produced:
                    loaded.update((u, k, b) for u in ev.unit_keys(tplan))
    cycles = sum(gp.cycles for gp in groups) + s.p.switch_cycles * (len(groups) - 1)
    return _Plan(plan.cfg, ev, groups, cycles)


def _reevaluate(s: _Search, plan: _Plan, cfg: Config) -> _Plan | None:
    """The same phases and spills, costed on configuration `cfg`."""
    whole = len(plan.groups) == 1 and plan.cfg.dedicated_sfus
    ev = _Evaluator(s, cfg, plan.ev.off)
    groups = []
    for gp in plan.groups:
        new = ev.group(gp.first, gp.last, dedicated_only=whole)
        if new is None:
            return None
        groups.append(new)
    cycles = sum(gp.cycles for gp in groups) + s.p.switch_cycles * (len(groups) - 1)
    new_plan = _Plan(cfg, ev, groups, cycles)
    if _materialize(s, new_plan, "probe").onchip_bytes > s.capacity:
        return None
    return new_plan


def _upgrade_lanes(s: _Search, plan: _Plan) -> _Plan:
    """Spend leftover DSPs on lanes of DSP-using SFUs while that lowers the cycles: double one
    kind's lanes (the busiest first), or, where no single one helps (a chain of such SFUs
    runs at its slowest), every kind's at once."""
    cfg = plan.cfg
    kind_of = {t.name: t.kind for t in s.order}
    improved = True
    while improved:
        improved = False
        left = s.dsp_budget - s.core_dsps(cfg) - s.sfu_dsps(cfg)
        busy: dict[str, int] = {}
        for gp in plan.groups:
            for tplan in gp.tasks.values():
                if tplan.sfu:
                    key = tplan.task if cfg.dedicated_sfus else kind_of[tplan.task]
                    busy[key] = busy.get(key, 0) + tplan.cycles

        cost: dict[str, int] = {}  # DSPs that doubling a key's lanes takes
        for key in sorted(busy, key=lambda k: (-busy[k], k)):
            lanes = cfg.lane(key)
            if s.unit_dsps(key, 1, cfg.dedicated_sfus) and lanes * 2 <= s.dev.sfu_max_lanes:
                now = s.unit_dsps(key, lanes, cfg.dedicated_sfus)
                cost[key] = s.unit_dsps(key, 2 * lanes, cfg.dedicated_sfus) - now
        moves = [{k} for k, c in cost.items() if c <= left]
        if len(cost) > 1 and sum(cost.values()) <= left:
            moves.append(set(cost))
        for move in moves:
            new_cfg = Config(
                cfg.cores,
                cfg.dedicated_sfus,
                tuple((k, v * 2 if k in move else v) for k, v in cfg.lanes),
                cfg.label,
            )
            new_plan = _reevaluate(s, plan, new_cfg)
            if new_plan is not None and new_plan.cycles < plan.cycles:
                plan, cfg = new_plan, new_cfg
                improved = True
                break
    return plan


def _check_budgets(s: _Search, mode: str) -> None:
    dev = s.dev
    if s.dsp_budget > dev.dsp:
        raise ScheduleError("dsp", s.dsp_budget, dev.dsp, f"budget exceeds {dev.name}'s DSPs")
    if s.port_budget > dev.offchip.channels:
        raise ScheduleError(
            "ports", s.port_budget, dev.offchip.channels, f"budget exceeds {dev.name}'s channels"
        )
    if s.port_budget < 1:
        raise ScheduleError("ports", 1, s.port_budget, "inputs and outputs need an off-chip port")
    if s.capacity > dev.onchip_bytes:
        raise ScheduleError(
            "onchip_bytes", s.capacity, dev.onchip_bytes, "on-chip budget exceeds the device"
        )
    if not s.order:
        raise ScheduleError("tasks", 1, 0, "the graph has no computing task")
    dedicated = mode == "dataflow"
    cores = len(s.pe_tasks) if dedicated else min(1, len(s.pe_tasks))
    needed = cores + s.sfu_reserve(dedicated)
    if needed > s.dsp_budget:
        what = "one DSP per PE task" if dedicated else "one 1x1x1 core"
        raise ScheduleError("dsp", needed, s.dsp_budget, f"{what} plus one lane per DSP-using SFU")


def _min_working_set(s: _Search, whole: bool = False) -> int:
    """On-chip bytes of the smallest single-task phase, everything else off chip; with
    `whole`, of the dataflow design's one phase (graph inputs and outputs off chip)."""
    if whole:
        cfg = s.dataflow_config()
        assert cfg is not None
        ev = _Evaluator(s, cfg, frozenset(t for t in s.outputs if t in s.pos))
        first, last = 0, len(s.order) - 1
    else:
        cfg = Config(((1, 1, 1),) if s.pe_tasks else (), False, s.default_lanes(False), "min")
        ev = _Evaluator(s, cfg, frozenset(s.pos))
        first, last = 0, -1
    need = 0
    saved, s.capacity = s.capacity, 1 << 62
    try:
        spans = [(first, last)] if whole else [(i, i) for i in range(len(s.order))]
        for i, j in spans:
            gp = ev.group(i, j)
            if gp is not None:
                need = max(need, gp.onchip_bytes)
    finally:
        s.capacity = saved
    return need


def schedule(
    graph: TaskGraph,
    device: Device,
    *,
    dsp_budget: int | None = None,
    port_budget: int | None = None,
    mode: str = "intar",
    params: CostParams = DEFAULT_PARAMS,
    onchip_budget: int | None = None,
) -> Schedule:
    """Schedule `graph` on `device` within the budgets (defaults: the whole device).

    Weights that one matmul reads as its [K, N] rhs may be stored transposed ([N, K], the
    buffer says `transposed`): then a matmul streams them column block by column block
    (j-outer, or i-outer over one row block). The search schedules the weights as given and
    all transposed, then toggles each weight once from the better, keeping a toggle when it
    is faster, or as fast with fewer weights transposed: `len(weights) + 2` searches. Any
    transposition must gain `TRANSPOSE_MIN_GAIN` over the weights as given.

    The search budgets on-chip bytes; `_fit_block_ram` then checks the planned banks.

    Raises ScheduleError naming the short resource when no schedule exists.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    budgets = (device, dsp_budget, port_budget, mode, params)
    return _fit_block_ram(graph, budgets, _schedule(graph, *budgets, onchip_budget))


FIT_ATTEMPTS = 3
"""Smaller byte budgets `_fit_block_ram` tries, each `FIT_SHRINK` of the one before."""
FIT_SHRINK = 0.75
FIT_HOPELESS = 2.0
"""Memories beyond this multiple of the device's BRAM36 are not retried."""


def _fit_block_ram(graph: TaskGraph, budgets: tuple, result: Schedule) -> Schedule:
    """The search counts on-chip bytes, but the hardware holds each buffer in element-wide
    banks (`intar.hw.tensor_buffer`), which can take more BRAM36, and URAM288 blocks, than the
    bytes suggest. While the planned memories (`intar.hw.resources`, after load windows and
    UltraRAM) exceed the device's BRAM36, search again with `FIT_SHRINK` of the byte budget,
    at most `FIT_ATTEMPTS` times, and keep the first schedule that fits; if none does (or
    the memories are over `FIT_HOPELESS` times the device), the first (`intar compile` warns).
    The retries give up early on configurations that do not fit (see `_solve`)."""
    from intar.hw.plan import LoweringError, build_plan
    from intar.hw.resources import bram36_estimate

    device = budgets[0]

    def blocks(s: Schedule) -> float:
        try:
            return bram36_estimate(build_plan(graph, s, device))[0]
        except (LoweringError, ValueError):  # the template cannot build it: nothing to fit
            return 0.0

    need, have = blocks(result), device.bram36.count
    if need <= have or need > FIT_HOPELESS * have:
        return result
    budget = result.onchip_bytes
    for _ in range(FIT_ATTEMPTS):
        budget = int(budget * FIT_SHRINK)
        try:
            alt = _schedule(graph, *budgets, budget, give_up_early=True)
        except ScheduleError:
            break
        if blocks(alt) <= have:
            return alt
    return result


def _schedule(
    graph: TaskGraph,
    device: Device,
    dsp_budget: int | None,
    port_budget: int | None,
    mode: str,
    params: CostParams,
    onchip_budget: int | None,
    give_up_early: bool = False,
) -> Schedule:
    """`schedule` within a byte budget: the search over the weights' storage (for
    `give_up_early`, see `_solve`)."""
    args = (device, dsp_budget, port_budget, mode, params, onchip_budget)
    first_error: list[ScheduleError] = []
    shared_groups: dict[tuple, GroupPlan | None] = {}

    def attempt(transposed: frozenset[str]) -> Schedule | None:
        try:
            return _schedule_as_stored(graph, transposed, *args, shared_groups, give_up_early)
        except ScheduleError as e:
            first_error.append(e)
            return None

    best, current = attempt(frozenset()), frozenset()
    names = transposable_weights(graph)
    for k in range(len(names) + 1 if names else 0):
        trial = frozenset(names) if k == 0 else current ^ {names[k - 1]}
        alt = attempt(trial)
        if alt is None:
            continue
        if best is None or _storage_cost(alt, trial) < _storage_cost(best, current):
            best, current = alt, trial
    if best is None:
        raise first_error[0]
    return best


def _storage_cost(result: Schedule, transposed: frozenset[str]) -> tuple[float, int]:
    """Predicted cycles, `TRANSPOSE_MIN_GAIN` more when some weight is transposed (a layout
    the host must apply is taken only for a real gain), then fewer weights transposed."""
    penalty = 1 + TRANSPOSE_MIN_GAIN if transposed else 1
    return result.predicted_cycles * penalty, len(transposed)


def _schedule_as_stored(
    graph: TaskGraph,
    transposed: frozenset[str],
    device: Device,
    dsp_budget: int | None,
    port_budget: int | None,
    mode: str,
    params: CostParams,
    onchip_budget: int | None,
    shared_groups: dict[tuple, GroupPlan | None] | None = None,
    give_up_early: bool = False,
) -> Schedule:
    """The best schedule of `graph` with the weights in `transposed` stored [N, K]."""
    from .workers import solve_in_workers

    job = (graph, transposed, device, dsp_budget, port_budget, mode, params, onchip_budget)
    s, candidates = prepare_job(job, give_up_early, shared_groups, check=True)
    recipes = solve_in_workers(job, give_up_early, candidates, len(s.order))
    best: tuple[int, int, _Plan] | None = None
    flow: tuple[int, int, _Plan] | None = None  # the best whole (dataflow) candidate
    if recipes is None:  # here, one configuration after another
        for rank, (cfg, singletons, whole) in enumerate(candidates):
            plan = _solve_candidate(s, cfg, singletons, whole)
            # ties: baselines first, so intar equals dataflow when dataflow is best
            if plan is not None and (best is None or (plan.cycles, rank) < best[:2]):
                best = (plan.cycles, rank, plan)
            if plan is not None and whole and (flow is None or (plan.cycles, rank) < flow[:2]):
                flow = (plan.cycles, rank, plan)
    else:  # the workers' best, rebuilt here
        found = [(r[-1], rank, r) for rank, r in enumerate(recipes) if r is not None]
        if found:
            cycles, rank, recipe = min(found, key=lambda f: f[:2])
            best = (cycles, rank, _rebuild(s, recipe))
        whole = [f for f in found if candidates[f[1]][2]]
        if whole:
            cycles, rank, recipe = min(whole, key=lambda f: f[:2])
            flow = (
                best
                if best is not None and best[1] == rank
                else (cycles, rank, _rebuild(s, recipe))
            )
    if flow is not None:  # the same refinement in the dataflow and InTAR modes
        refined = _refine_dataflow(s, flow[2])
        gain = refined.cycles < (1 - REFINE_MIN_GAIN) * flow[0]
        if gain and (best is None or refined.cycles < best[0]):
            best = (refined.cycles, len(candidates), refined)
    if best is None:
        if mode == "dataflow" and s.dataflow_config() is None:
            raise ScheduleError(
                "dsp", len(s.pe_tasks) + s.sfu_reserve(True), s.dsp_budget, "one core per PE task"
            )
        need = _min_working_set(s, whole=mode == "dataflow")
        what = "every task at once" if mode == "dataflow" else "the minimum working set"
        raise ScheduleError(
            "onchip_bytes",
            need,
            s.capacity,
            f"on-chip memory cannot hold {what}",
        )
    result = _materialize(s, best[2], mode)
    if not transposed:
        return result
    buffers = tuple(
        dataclasses.replace(b, transposed=True) if b.tensor in transposed else b
        for b in result.buffers
    )
    return dataclasses.replace(result, buffers=buffers)


# The dataflow mode solves this many unit-per-task configurations (`dataflow_configs`).
DATAFLOW_CANDIDATES = 3
# `_refine_dataflow`: how far one move goes along a task's front, and at most how many moves.
REFINE_STEPS = (1, 2, 4, 8)
REFINE_MOVES = 16
# A refined dataflow plan is taken only if that is this much faster (2%): less is within the
# model's error, and the CNN-4L's refinement (0.4% predicted, 0.5% simulated) changed a conv
# buffer's column select into 9 LUT levels, over the device's 8.
REFINE_MIN_GAIN = 0.02


def _shape(plan: _Plan) -> tuple:
    """A plan's phases as its tasks' loop orders and its streamed and full-buffer edges."""
    return tuple(
        (
            tuple(sorted((name, tp.order) for name, tp in gp.tasks.items())),
            tuple(sorted(gp.streamed)),
            tuple(sorted(gp.full)),
        )
        for gp in plan.groups
    )


def _refinable(plan: _Plan) -> bool:
    """No task reads one edge through a window and another as a full buffer. Held back by
    the full buffer's producer, such a reader stalls its window's producer, whose work then
    follows the stall; the model bounds only that producer's finish, so it is optimistic
    there, and a refinement of the rates would seek out exactly that error (it took the
    self-attention baseline from 52.4 M cycles simulated to 58.5 M, predicted at 41.1 M)."""
    for gp in plan.groups:
        windowed = {c for p, c in gp.streamed}
        if any(c in windowed for _, c in gp.full):
            return False
    return True


def _refine_dataflow(s: _Search, start: _Plan) -> _Plan:
    """The dataflow plan `start`, with its DSPs moved between tasks while that is faster.

    `dataflow_configs` balances the tasks' own cycles, but a pipeline is not paced by its
    slowest task alone: a task whose results come at its end (k-outer) runs before its
    readers rather than beside them, and should have more of the DSPs. Each move takes one
    task 1, 2, 4 or 8 entries up its front (`dataflow_fronts`) and, if the budget then
    overflows, the fewest entries down another's that make it fit; the fastest move whole
    is taken (the first on a tie) until none is faster. A move must keep the plan's shape:
    every task's loop order and the edges that stream (`_shape`). Only the rates change, so
    the model stays on the kind of plan it predicted at the start; a new shape could land in
    a case it predicts worse (it found such cases in the self-attention baseline)."""
    fronts, columns = s.dataflow_fronts
    budget = s.core_budget(True)
    names = [t.name for t in s.pe_tasks]
    idx, alt = [], []
    for k, pe in enumerate(start.cfg.cores):
        found = [
            n for n, (_, _, p) in enumerate(fronts[k]) if pe in (p, columns.get((names[k], p)))
        ]
        if not found:
            return start
        idx.append(found[0])
        alt.append(pe != fronts[k][found[0]][2])  # it took the one-row-block PE

    def config(ix: list[int]) -> Config:
        cores = []
        for k, n in enumerate(ix):
            pe = fronts[k][n][2]
            cores.append(columns.get((names[k], pe), pe) if alt[k] else pe)
        return Config(tuple(cores), True, s.default_lanes(True), "dataflow-refined")

    def dsps(ix: list[int]) -> int:
        return sum(fronts[k][n][0] for k, n in enumerate(ix))

    if not _refinable(start):
        return start
    best, shape = start, _shape(start)
    for _ in range(REFINE_MOVES):
        moves: list[list[int]] = []
        for a in range(len(idx)):
            for step in REFINE_STEPS:
                if idx[a] + step >= len(fronts[a]):
                    break
                up = [*idx[:a], idx[a] + step, *idx[a + 1 :]]
                if dsps(up) <= budget:
                    moves.append(up)
                    continue
                for b in range(len(idx)):
                    over = dsps(up) - budget
                    down = [
                        n for n in range(idx[b]) if fronts[b][idx[b]][0] - fronts[b][n][0] >= over
                    ]
                    if b != a and down:
                        moves.append([*up[:b], down[-1], *up[b + 1 :]])
        found = None
        for ix in moves:
            plan = _solve_candidate(s, config(ix), False, True)
            if plan is None or _shape(plan) != shape:
                continue
            if plan.cycles < (found or best).cycles:
                found, found_ix = plan, ix
        if found is None:
            break
        best, idx = found, found_ix
    return best


def _candidates(s: _Search, mode: str) -> list[tuple[Config, bool, bool]]:
    """(configuration, singletons, whole) to solve, in tie-break order: the sequential
    configurations, the dataflow ones, then the sequential ones and the first dataflow one
    again as free InTAR phases. So an InTAR design is never slower than either baseline."""
    out: list[tuple[Config, bool, bool]] = []
    if mode in ("sequential", "intar"):
        out += [(cfg, True, False) for cfg in s.homogeneous_configs()]
    if mode in ("dataflow", "intar"):
        out += [(cfg, False, True) for cfg in s.dataflow_configs(DATAFLOW_CANDIDATES)]
    if mode == "intar":
        free = [cfg for cfg, _, whole in out if not whole]
        free += [cfg for cfg, _, whole in out if whole][:1]
        out += [(cfg, False, False) for cfg in free]
    return out


def _solve_candidate(s: _Search, cfg: Config, singletons: bool, whole: bool) -> _Plan | None:
    """The best plan on one candidate: phases and spills, then lanes, then loads costed."""
    plan, _ = _solve(s, cfg, singletons, whole)
    return None if plan is None else _recost(s, _upgrade_lanes(s, plan))


Recipe = tuple[Config, frozenset[str], tuple[tuple[int, int, bool], ...], int]
"""A solved candidate as a worker returns it: configuration, spilled tensors, phases as
(first task, last task, dedicated units only) and the costed cycles."""


def _recipe(plan: _Plan, cfg: Config, whole: bool) -> Recipe:
    """`plan`, solved on `cfg`, as a `Recipe`. Its phases were costed by `_dp` (dedicated units
    only for `whole`) or, once `_upgrade_lanes` changed the lanes, by `_reevaluate`."""
    one = len(plan.groups) == 1 and plan.cfg.dedicated_sfus
    dedicated = whole if plan.cfg == cfg else one
    spans = tuple((gp.first, gp.last, dedicated) for gp in plan.groups)
    return (plan.cfg, plan.ev.off, spans, plan.cycles)


def _rebuild(s: _Search, recipe: Recipe) -> _Plan:
    """The plan a worker solved, costed again here: the same phases give the same cycles."""
    cfg, off, spans, cycles = recipe
    ev = _Evaluator(s, cfg, off)
    groups = []
    for first, last, dedicated in spans:
        gp = ev.group(first, last, dedicated_only=dedicated)
        assert gp is not None, "a worker's phase does not cost here"
        groups.append(gp)
    total = sum(gp.cycles for gp in groups) + s.p.switch_cycles * (len(groups) - 1)
    plan = _recost(s, _Plan(cfg, ev, groups, total))
    assert plan.cycles == cycles, f"rebuilt plan: {plan.cycles} cycles, the worker's {cycles}"
    return plan


def prepare_job(
    job: tuple,
    give_up_early: bool,
    shared_groups: dict | None,
    check: bool = False,
    candidates: list[tuple[Config, bool, bool]] | None = None,
) -> tuple[_Search, list[tuple[Config, bool, bool]]]:
    """The search `job` (the arguments of `_schedule_as_stored`) and its candidates (found
    here unless given); `check` raises ScheduleError for budgets the device cannot meet."""
    graph, transposed, device, dsp_budget, port_budget, mode, params, onchip_budget = job
    s = _Search(
        with_transposed_weights(graph, transposed),
        device,
        device.dsp if dsp_budget is None else int(dsp_budget),
        device.offchip.channels if port_budget is None else int(port_budget),
        params,
        device.onchip_bytes if onchip_budget is None else int(onchip_budget),
        shared_groups,
        give_up_early,
    )
    if check:
        _check_budgets(s, mode)
    return s, _candidates(s, mode) if candidates is None else candidates


def solve_rank(s: _Search, candidates: list, rank: int) -> Recipe | None:
    """In a worker: the recipe of candidate `rank` (None if nothing fits)."""
    cfg, singletons, whole = candidates[rank]
    plan = _solve_candidate(s, cfg, singletons, whole)
    return None if plan is None else _recipe(plan, cfg, whole)


# -------------------------------------------------------------------- building the result
def _materialize(s: _Search, plan: _Plan, mode: str) -> Schedule:
    g, cfg, ev, dev = s.g, plan.cfg, plan.ev, s.dev
    core_names = [f"cc{k}" for k in range(len(cfg.cores))]
    phase_of: dict[str, int] = {}
    for k, gp in enumerate(plan.groups):
        for name in gp.tasks:
            phase_of[name] = k
    plan_of = {name: gp.tasks[name] for gp in plan.groups for name in gp.tasks}
    sfu_names: dict[str, str] = {}
    sfu_kind: dict[str, str] = {}
    for gp in plan.groups:
        for tplan in gp.tasks.values():
            if tplan.sfu and tplan.sfu not in sfu_names:
                kind = g.task(tplan.task).kind
                sfu_names[tplan.sfu] = f"sfu_{tplan.sfu.replace('#', '')}"
                sfu_kind[tplan.sfu] = kind

    def unit_of(name: str) -> str:
        tplan = plan_of[name]
        return sfu_names[tplan.sfu] if tplan.sfu else core_names[tplan.cores[0]]

    def lanes_of(name: str) -> int:
        kind = g.task(name).kind
        return cfg.lane(name if cfg.dedicated_sfus else kind)

    # buffers -----------------------------------------------------------------
    streamed_pairs = {pair for gp in plan.groups for pair in gp.streamed}
    buffers: dict[str, Buffer] = {}
    ports_used: set[int] = set()

    def port_name(ch: int) -> str:
        ports_used.add(ch)
        return f"port{ch}"

    # a striped weight: one buffer per slice of its reader, behind that stripe's port
    stripe_of: dict[tuple[str, str], Buffer] = {}
    for gp in plan.groups:
        for tplan in gp.tasks.values():
            t = g.task(tplan.task)
            for op, chans in tplan.stripes.items():
                b = t.operands[op]
                dim = 0 if t.attr("transpose_rhs", False) else 1
                for i, ((c, lo, hi), ch) in enumerate(zip(tplan.slices, chans, strict=True)):
                    shape = [rows_of(g.shape(b)), g.shape(b)[-1]]
                    shape[dim] = hi - lo
                    nbytes = ceil_div(shape[0] * shape[1] * g.tensors[b].bits, 8)
                    stripe_of[(b, core_names[c])] = Buffer(
                        f"buf_{b}_stripe{i}", b, "offchip", port_name(ch), nbytes, (dim, lo, hi)
                    )
    striped = {b for b, _ in stripe_of}
    for leaf in s.leaves:
        if leaf in striped:  # keyed apart: `read` finds a stripe by (tensor, unit)
            parts = sorted((b for b in stripe_of.values() if b.tensor == leaf), key=_slice_of)
            for b in parts:
                buffers[b.name] = b
            continue
        buffers[leaf] = Buffer(
            f"buf_{leaf}", leaf, "offchip", port_name(ev.port[leaf]), g.bytes(leaf)
        )
    for t in s.order:
        needs = t.name in ev.off or t.name in s.view_bases
        for e in s.out_edges[t.name]:
            if phase_of[e.cons] != phase_of[t.name] or (t.name, e.cons) not in streamed_pairs:
                needs = True
        if not needs:
            continue
        if t.name in ev.off:
            buffers[t.name] = Buffer(
                f"buf_{t.name}", t.name, "offchip", port_name(ev.port[t.name]), g.bytes(t.name)
            )
            continue
        home = None
        if plan_of[t.name].cores:
            home = core_names[plan_of[t.name].cores[0]]
        else:
            for e in s.out_edges[t.name]:
                if plan_of[e.cons].cores:
                    home = core_names[plan_of[e.cons].cores[0]]
                    break
        if home is None:  # no core makes or reads it: the producing SFU holds it
            home = unit_of(t.name)
        buffers[t.name] = Buffer(f"buf_{t.name}", t.name, "onchip", home, g.bytes(t.name))
    view_unit: dict[str, tuple[int, str, str, bool]] = {}  # phase, unit, anchor, before

    def first_consumer(name: str) -> str | None:
        for c in g.tasks:
            if name in c.operands:
                if c.name in plan_of:
                    return c.name
                deeper = first_consumer(c.name)
                if deeper is not None:
                    return deeper
        return None

    for v in s.views:
        prod = s.base[v.name]
        anchor, before = None, False
        if v.name not in s.outputs:
            anchor, before = first_consumer(v.name), True
        if anchor is None and prod in plan_of:
            anchor, before = prod, False
        if anchor is None:
            anchor, before = s.order[0].name, True
        view_unit[v.name] = (phase_of[anchor], unit_of(anchor), anchor, before)
        base_buf = buffers.get(prod)
        if v.name in s.outputs and v.name in ev.port:
            buffers[v.name] = Buffer(
                f"buf_{v.name}", v.name, "offchip", port_name(ev.port[v.name]), g.bytes(v.name)
            )
        elif base_buf is not None:
            buffers[v.name] = Buffer(f"buf_{v.name}", v.name, base_buf.placement, base_buf.home, 0)
    # links ---------------------------------------------------------------------
    links: dict[tuple[str, str, int], Link] = {}
    link_use: dict[tuple[str, str, int], set[tuple[int, str]]] = {}

    def link(
        src: str, dst: str, width: int, depth: int, phase: int, tensor: str, window: bool = False
    ) -> str:
        k = 0
        while True:
            key = (src, dst, k)
            uses = link_use.setdefault(key, set())
            if not any(p == phase and t != tensor for p, t in uses):
                break
            k += 1
        uses.add((phase, tensor))
        if not window:  # a window buffer is on-chip RAM charged to capacity: not capped
            depth = max(2, min(dev.max_fifo_depth, depth))
        old = links.get(key)
        name = f"ln_{src}_{dst}" + (f"_{k}" if k else "")
        if old is not None:
            width, depth = max(width, old.width_bits), max(depth, old.depth)
        links[key] = Link(name, src, dst, width, depth)
        return name

    port_w = dev.offchip.width_bits
    port_depth = fifo_depth(ceil_div(dev.offchip.latency_cycles + 2, 2), dev.max_fifo_depth)

    def read(tensor: str, unit: str, phase: int, demand_bits: int) -> str:
        b = stripe_of.get((tensor, unit)) or buffers[tensor]
        if b.placement == "offchip":
            return link(b.home, unit, port_w, port_depth, phase, tensor)
        if b.home == unit:
            return b.name
        return link(b.home, unit, demand_bits, 2, phase, tensor)

    def write(tensor: str, unit: str, phase: int, beat_bits: int) -> str:
        b = buffers[tensor]
        if b.placement == "offchip":
            return link(unit, b.home, port_w, 2, phase, tensor)
        if b.home == unit:
            return b.name
        return link(unit, b.home, beat_bits, 2, phase, tensor)

    # assigns -------------------------------------------------------------------
    stage: dict[str, int] = {}
    phases: list[Phase] = []
    loop_orders: list[tuple[str, str]] = []
    work: dict[tuple[int, int], int] = {}  # (phase, core) -> working bytes
    sfu_buf: dict[str, int] = {}
    traffic = 0
    for k, gp in enumerate(plan.groups):
        assigns: list[Assign] = []
        traffic += sum(gp.port_bytes.values())
        for t in s.order[gp.first : gp.last + 1]:
            tplan = gp.tasks[t.name]
            for v in s.views:
                if view_unit[v.name][2] == t.name and view_unit[v.name][3]:
                    vu = view_unit[v.name][1]
                    assigns.append(_view_assign(v, vu, stage, buffers, read, write, k, s))
            beat_bits = tplan.beat * t.bits
            for c, bytes_ in tplan.work_bytes.items():
                work[(k, c)] = work.get((k, c), 0) + bytes_
            if tplan.sfu:
                name = sfu_names[tplan.sfu]
                sfu_buf[name] = max(sfu_buf.get(name, 0), tplan.line_bytes)
                units = [(name, (0, 0, t.shape[0]), None)]
                if tplan.order == "jik":  # it walks columns (`_column_walks`)
                    loop_orders.append((t.name, tplan.order))
            else:
                loop_orders.append((t.name, tplan.order))
                units = [
                    (core_names[c], (tplan.dim, lo, hi), gm)
                    for (c, lo, hi), gm in zip(tplan.slices, tplan.gemms, strict=True)
                ]
            for unit, slc, gm in units:
                srcs = []
                for idx, op in enumerate(t.operands):
                    b = s.base[op]
                    if (b, t.name) in gp.streamed and op == b:
                        bits = g.tensors[b].bits * gp.tasks[b].beat
                        depth = gp.windows[(b, t.name)]
                        srcs.append(link(unit_of(b), unit, bits, depth, k, b, window=True))
                    else:
                        demand = _demand_bits(
                            s, cfg, tplan, idx, g.tensors[op].bits, lanes_of if tplan.sfu else None
                        )
                        srcs.append(read(op, unit, k, demand))
                sinks = []
                for e in s.out_edges[t.name]:
                    if (t.name, e.cons) in gp.streamed:
                        depth = gp.windows[(t.name, e.cons)]
                        sinks.append(
                            link(unit, unit_of(e.cons), beat_bits, depth, k, t.name, window=True)
                        )
                if t.name in buffers:
                    sinks.append(write(t.name, unit, k, beat_bits))
                if gm is not None:
                    bounds = pe_bounds(gm, cfg.cores[core_names.index(unit)])
                else:
                    x = g.shape(t.operands[0])
                    lanes = lanes_of(t.name)
                    rows = elements(t.shape[:-1]) if len(t.shape) > 1 else 1
                    passes = 2 if t.kind in ROW_KINDS else 1
                    bounds = (rows, ceil_div(max(t.shape[-1], x[-1]), lanes), passes)
                    if tplan.order == "jik":  # columns outer, (lanes, 1) tiles
                        bounds = (t.shape[-1], ceil_div(rows, lanes), 1)
                st = stage.get(unit, 0)
                stage[unit] = st + 1
                assigns.append(
                    Assign(t.name, unit, st, slc, bounds, tuple(srcs), tuple(dict.fromkeys(sinks)))
                )
            for v in s.views:
                if view_unit[v.name][2] == t.name and not view_unit[v.name][3]:
                    vu = view_unit[v.name][1]
                    assigns.append(_view_assign(v, vu, stage, buffers, read, write, k, s))
        phases.append(Phase(f"p{k}", gp.pattern, gp.cycles, tuple(assigns)))
    switches = tuple(
        Switch(phases[k].name, phases[k + 1].name, s.p.switch_cycles)
        for k in range(len(phases) - 1)
    )
    # scratchpads: live buffers homed at the core plus the phase's working set ----------
    last_phase: dict[str, int] = {}
    for t in s.order:
        uses = [phase_of[e.cons] for e in s.out_edges[t.name]]
        last_phase[t.name] = max([phase_of[t.name], *uses])
    cores = []
    for c, pe in enumerate(cfg.cores):
        peak = 0
        for k in range(len(phases)):
            held = work.get((k, c), 0)
            for b in buffers.values():
                if (
                    b.placement == "onchip"
                    and b.home == core_names[c]
                    and b.tensor in phase_of
                    and phase_of[b.tensor] <= k <= last_phase[b.tensor]
                ):
                    held += b.bytes
            peak = max(peak, held)
        d1, d2, d3 = pe
        bits = s.pe_bits
        ports = ceil_div(d1 * d3 * bits, 64) + ceil_div(d3 * d2 * bits, 64)
        ports += ceil_div(max(1, d1 * d2) * bits, 64)
        cores.append(Core(core_names[c], pe, peak, ports))

    def sfu(key: str) -> Sfu:
        unit = key if cfg.dedicated_sfus else key.split("#")[0]
        lanes = cfg.lane(unit)
        return Sfu(
            sfu_names[key], sfu_kind[key], lanes, s.unit_dsps(unit, lanes, cfg.dedicated_sfus)
        )

    sfus = tuple(sfu(key) for key in sfu_names)
    total_cycles = sum(p.cycles for p in phases) + sum(sw.cycles for sw in switches)
    compulsory = sum(g.bytes(x) for x in s.leaves)
    compulsory += sum(g.bytes(o) for o in s.outputs if s.base[o] in s.pos)
    roof = roofline_cycles(total_macs(g), s.dsp_budget * s.pack, compulsory, s.port_budget * s.bpc)
    return Schedule(
        graph=g.name,
        device=dev.name,
        mode=mode,
        dsp_budget=s.dsp_budget,
        port_budget=s.port_budget,
        predicted_cycles=total_cycles,
        roofline_cycles=roof,
        cores=tuple(cores),
        sfus=sfus,
        ports=tuple(Port(f"port{ch}", ch, port_w) for ch in sorted(ports_used)),
        links=tuple(links.values()),
        buffers=tuple(buffers.values()),
        phases=tuple(phases),
        switches=switches,
        clock_mhz=dev.clock_mhz,
        macs_per_dsp=s.pack,
        offchip_traffic_bytes=traffic,
        sfu_buffer_bytes=sum(sfu_buf.values()),
        onchip_capacity_bytes=s.capacity,
        loop_orders=tuple(loop_orders),
    )


def _slice_of(b: Buffer) -> tuple[int, int, int]:
    return b.slice or (0, 0, 0)


def _demand_bits(
    s: _Search, cfg: Config, tplan: TaskPlan, operand: int, bits: int, lanes_of
) -> int:
    """Width of an on-chip read link: the operand tile a core reads per cycle, or SFU lanes."""
    if lanes_of is not None:
        return bits * lanes_of(tplan.task)
    d1, d2, d3 = cfg.cores[tplan.cores[0]]
    return bits * (d1 * d3 if operand == 0 else d3 * d2)


def _view_assign(v: Task, unit: str, stage: dict[str, int], buffers, read, write, k, s) -> Assign:
    """A reshape/transpose: a zero-length instruction re-indexing its input's buffer."""
    op = v.operands[0]
    src = read(op, unit, k, s.g.tensors[op].bits) if op in buffers else f"buf_{op}"
    sinks: tuple[str, ...] = ()
    if v.name in buffers:
        b = buffers[v.name]
        sinks = (write(v.name, unit, k, s.g.tensors[v.name].bits),) if b.bytes else (b.name,)
    st = stage.get(unit, 0)
    stage[unit] = st + 1
    return Assign(v.name, unit, st, (0, 0, v.shape[0]), (0, 0, 0), (src,), sinks)


def graph_summary(items: Iterable[Task]) -> str:
    return ", ".join(f"{t.name}:{t.kind}" for t in items)


def _tiles_before_last_rows(t: Task, x_h: int, kh: int, g: Gemm, pe: PE) -> int:
    """Pixel tiles (d2 output pixels of a row each, in row order) of conv2d slice `g` that
    finish before any output row reads the input's last row (of `x_h`): output row r reads
    input rows r*stride - pad .. r*stride - pad + kh - 1. A slice of fewer rows is taken as
    the last."""
    stride, pad = int(t.attr("stride", 1)), int(t.attr("padding", 0))
    rows, width_ = g.n_rows, g.n // max(g.n_rows, 1)
    reads_last = min(max(-(-(x_h - kh + pad) // stride), 0), t.shape[1])
    first = min(max(reads_last - (t.shape[1] - rows), 0), rows)
    return first * -(-width_ // pe[1])  # a pixel tile never crosses an output row
