"""The scheduling problem: a task graph over integer tensors, and its analyses.

Pure Python, no MLIR. The `intar-schedule` pass builds a `TaskGraph` from the task-level IR;
everything the scheduler needs to know about a task is computed here from shapes and widths
(`gemm_dims`, `macs`, the byte counts and `volume_profile`), never stored by hand.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Literal

Shape = tuple[int, ...]
Role = Literal["input", "weight", "task"]

PE_KINDS = frozenset({"matmul", "conv2d", "conv_transpose2d"})
"""Kinds that run on a compute core's PE array."""
VIEW_KINDS = frozenset({"reshape", "transpose"})
"""Kinds that move no data: a re-indexing applied by the reader's address generator."""
SFU_KINDS = frozenset(
    {
        "add",
        "mul",
        "relu",
        "gelu",
        "silu",
        "exp",
        "softmax",
        "layernorm",
        "upsample",
        "maxpool",
        "requantize",
    }
)
"""Kinds that run on a streaming special-function unit."""
ROW_KINDS = frozenset({"softmax", "layernorm"})
"""SFU kinds that need a whole row (the last dimension) before emitting it."""
POINTWISE_KINDS = frozenset({"add", "mul", "relu", "gelu", "silu", "exp", "requantize"})
"""SFU kinds that map each element on its own, so they may walk a tensor in either order."""
KINDS = PE_KINDS | VIEW_KINDS | SFU_KINDS


class ScheduleError(Exception):
    """No schedule exists: `resource` is short, `needed` > `available` (same unit)."""

    def __init__(self, resource: str, needed: int, available: int, message: str) -> None:
        self.resource = resource
        self.needed = needed
        self.available = available
        self.message = message
        gap = (
            f"short by {needed - available}"
            if needed > available
            else "the estimate fits, but no allocation of buffers does"
        )
        super().__init__(f"{resource}: need {needed}, have {available} ({gap}): {message}")


@dataclass(frozen=True)
class Tensor:
    """A named tensor of the graph. `bits` is the stored element width."""

    name: str
    shape: Shape
    bits: int
    role: Role


@dataclass(frozen=True)
class Task:
    """One task: `kind` applied to `operands` (tensor names), producing `shape` at `bits`."""

    name: str
    kind: str
    operands: tuple[str, ...]
    shape: Shape
    bits: int
    attrs: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}), hash=False)

    def attr(self, key: str, default: Any = None) -> Any:
        return self.attrs.get(key, default)

    def __reduce__(self) -> tuple:
        # a read-only mapping does not pickle: rebuild it from a dict (search workers)
        fields = (self.name, self.kind, self.operands, self.shape, self.bits, dict(self.attrs))
        return (_unpickle_task, fields)


def _unpickle_task(
    name: str, kind: str, operands: tuple[str, ...], shape: Shape, bits: int, attrs: dict
) -> Task:
    return Task(name, kind, operands, shape, bits, MappingProxyType(attrs))


@dataclass(frozen=True)
class Gemm:
    """The matrix-product view of a PE task: `batch` independent [m,k]x[k,n] products.

    A convolution's n (output pixels) is `n_rows` output rows whose tiles never cross a row,
    and its k is `k_groups` kernel taps of k // k_groups channels, each padded to whole k
    tiles; a matmul has one of each. `skip` kernel taps, summed over the output rows, meet
    only zero padding and are not walked (`conv_row_windows`).
    """

    batch: int
    m: int
    n: int
    k: int
    n_rows: int = 1
    k_groups: int = 1
    skip: int = 0

    @property
    def macs(self) -> int:
        return self.batch * self.m * self.n * self.k

    def bounds(self, d1: int, d2: int, d3: int) -> tuple[int, int, int]:
        """Tile counts (i, j, k) on a d1 x d2 x d3 PE array; the batch folds into i."""
        n_row = -(-self.n // self.n_rows) if self.n_rows else 0
        k_tap = -(-self.k // self.k_groups) if self.k_groups else 0
        return (
            self.batch * -(-self.m // d1),
            self.n_rows * -(-n_row // d2),
            self.k_groups * -(-k_tap // d3),
        )

    def tiles(self, d1: int, d2: int, d3: int) -> int:
        """Steps at one tile each: the bounds' product less the skipped taps' tiles."""
        bi, bj, bk = self.bounds(d1, d2, d3)
        if not self.skip:
            return bi * bj * bk
        per_row = bj // self.n_rows  # pixel tiles of one output row
        per_tap = bk // self.k_groups  # channel blocks of one tap
        return bi * per_row * per_tap * (self.n_rows * self.k_groups - self.skip)


def elements(shape: Shape) -> int:
    return math.prod(shape)


def nbytes(shape: Shape, bits: int) -> int:
    return (elements(shape) * bits + 7) // 8


@dataclass(frozen=True, eq=False)
class TaskGraph:
    """A DAG of tasks in topological order; `tensors` holds leaves and task results alike."""

    name: str
    tensors: dict[str, Tensor]
    tasks: tuple[Task, ...]
    outputs: tuple[str, ...]

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for t in self.tensors.values():
            if t.role != "task":
                seen.add(t.name)
        names = set()
        for task in self.tasks:
            if task.kind not in KINDS:
                raise ValueError(f"task {task.name}: unknown kind {task.kind!r}")
            if task.name in names or task.name in seen:
                raise ValueError(f"task {task.name}: duplicate name")
            for op in task.operands:
                if op not in seen:
                    raise ValueError(f"task {task.name}: operand {op} undefined or not earlier")
            tensor = self.tensors.get(task.name)
            if tensor is None or tensor.role != "task" or tensor.shape != task.shape:
                raise ValueError(f"task {task.name}: missing or mismatched result tensor")
            if any(d <= 0 for d in task.shape):
                raise ValueError(f"task {task.name}: empty shape {task.shape}")
            expected = infer_shape(self, task)
            if expected != task.shape:
                raise ValueError(f"task {task.name}: shape {task.shape}, expected {expected}")
            names.add(task.name)
            seen.add(task.name)
        for out in self.outputs:
            if out not in seen:
                raise ValueError(f"output {out} undefined")

    def task(self, name: str) -> Task:
        return self._task_index()[name]

    def _task_index(self) -> dict[str, Task]:
        cache = self.__dict__.get("_tasks_by_name")
        if cache is None:
            cache = {t.name: t for t in self.tasks}
            object.__setattr__(self, "_tasks_by_name", cache)
        return cache

    def shape(self, tensor: str) -> Shape:
        return self.tensors[tensor].shape

    def bytes(self, tensor: str) -> int:
        t = self.tensors[tensor]
        return nbytes(t.shape, t.bits)

    def producer(self, tensor: str) -> Task | None:
        """The task that computes `tensor`, or None for an input or weight."""
        return self._task_index().get(tensor)

    def producers(self, task: Task) -> tuple[Task, ...]:
        return tuple(p for op in task.operands if (p := self.producer(op)) is not None)

    def consumers(self, tensor: str) -> tuple[Task, ...]:
        """Tasks reading `tensor`, in topological order (each once)."""
        cache = self.__dict__.get("_consumers")
        if cache is None:
            cache = {}
            for t in self.tasks:
                for op in dict.fromkeys(t.operands):
                    cache.setdefault(op, []).append(t)
            cache = {k: tuple(v) for k, v in cache.items()}
            object.__setattr__(self, "_consumers", cache)
        return cache.get(tensor, ())


def infer_shape(graph: TaskGraph, task: Task) -> Shape:
    """The result shape `task` must have, given its operands (raises ValueError if ill-formed)."""
    shapes = [graph.shape(op) for op in task.operands]
    k = task.kind
    arity = {"conv2d": 2, "conv_transpose2d": 2, "matmul": 2, "add": 2, "mul": 2, "layernorm": 3}
    if len(shapes) != arity.get(k, 1):
        raise ValueError(f"task {task.name}: {k} takes {arity.get(k, 1)} operands")
    if k == "matmul":
        lhs, rhs = shapes
        if len(lhs) not in (2, 3) or len(rhs) not in (2, len(lhs)):
            raise ValueError(f"task {task.name}: matmul ranks {lhs} x {rhs}")
        tr = bool(task.attr("transpose_rhs", False))
        kk, n = (rhs[-1], rhs[-2]) if tr else (rhs[-2], rhs[-1])
        if kk != lhs[-1] or (len(rhs) == 3 and rhs[0] != lhs[0]):
            raise ValueError(f"task {task.name}: matmul shapes {lhs} x {rhs}")
        return (*lhs[:-1], n)
    if k in ("conv2d", "conv_transpose2d"):
        x, w = shapes
        if len(x) != 3 or len(w) != 4:
            raise ValueError(f"task {task.name}: {k} wants CHW input and 4-D filter")
        s, p = int(task.attr("stride", 1)), int(task.attr("padding", 0))
        c, h, wd = x
        if k == "conv2d":
            o, ci, kh, kw = w
            out = (o, (h + 2 * p - kh) // s + 1, (wd + 2 * p - kw) // s + 1)
        else:
            ci, o, kh, kw = w
            out = (o, (h - 1) * s - 2 * p + kh, (wd - 1) * s - 2 * p + kw)
        if ci != c or s < 1 or p < 0 or min(out) < 1:
            raise ValueError(f"task {task.name}: {k} shapes {x} * {w}")
        return out
    if k in ("add", "mul"):
        lhs, rhs = shapes
        if len(rhs) > len(lhs) or tuple(lhs[len(lhs) - len(rhs) :]) != tuple(rhs):
            raise ValueError(f"task {task.name}: rhs {rhs} is not a suffix of {lhs}")
        return lhs
    if k == "layernorm":
        x, g, b = shapes
        if g != (x[-1],) or b != (x[-1],):
            raise ValueError(f"task {task.name}: layernorm gamma/beta must be [{x[-1]}]")
        return x
    (x,) = shapes
    if k in ("upsample", "maxpool"):
        if len(x) != 3:
            raise ValueError(f"task {task.name}: {k} wants CHW")
        c, h, w = x
        out = (c, 2 * h, 2 * w) if k == "upsample" else (c, h // 2, w // 2)
        if min(out) < 1:
            raise ValueError(f"task {task.name}: {k} of {x}")
        return out
    if k == "reshape":
        if elements(task.shape) != elements(x):
            raise ValueError(f"task {task.name}: reshape {x} -> {task.shape}")
        return task.shape
    if k == "transpose":
        perm = tuple(task.attr("perm", ()))
        if sorted(perm) != list(range(len(x))):
            raise ValueError(f"task {task.name}: bad perm {perm}")
        return tuple(x[p] for p in perm)
    return x


def gemm_dims(graph: TaskGraph, task: Task) -> Gemm:
    """The PE-array view of a PE task.

    matmul: [B,]M,K x K,N (or N,K transposed); a weight shared across the batch folds B into M.
    conv2d: M = output channels, N = output pixels in OH rows, K = KH*KW taps of C channels
    (the weight times an im2col that the hardware reads in place).
    conv_transpose2d: the equivalent direct convolution (stride 1 over the zero-inserted,
    KH-1-padding padded input), so the same dims as a conv2d with C input channels.
    """
    if task.kind == "matmul":
        lhs, rhs = (graph.shape(op) for op in task.operands)
        tr = bool(task.attr("transpose_rhs", False))
        n = rhs[-2] if tr else rhs[-1]
        if len(lhs) == 3 and len(rhs) == 3:
            return Gemm(lhs[0], lhs[1], n, lhs[2])
        return Gemm(1, elements(lhs[:-1]), n, lhs[-1])
    if task.kind in ("conv2d", "conv_transpose2d"):
        x, w = (graph.shape(op) for op in task.operands)
        o, oh, ow = task.shape
        return Gemm(1, o, oh * ow, x[0] * w[2] * w[3], oh, w[2] * w[3], _skipped(task, x, w))
    raise ValueError(f"task {task.name}: {task.kind} is not PE-array work")


# A convolution skips the kernel rows that meet only padding when that saves at least this
# share of its steps; otherwise one instruction walks every row (fewer instructions).
WINDOW_MIN_SHARE = 1 / 16


@functools.cache  # called per slice while the search balances a conv's rows
def conv_row_windows(
    kind: str, h: int, kh: int, pad: int, oh: int
) -> tuple[tuple[int, int], ...] | None:
    """Per output row of a stride-1 conv2d or conv_transpose2d (as its direct convolution,
    padded by kh - 1 - pad), the kernel rows [lo, hi) whose input rows lie inside the `h`
    image rows; None when skipping the others would save less than `WINDOW_MIN_SHARE` of
    the kernel rows. A row that meets no image row keeps one kernel row (it reads zeros)."""
    ph = pad if kind == "conv2d" else kh - 1 - pad
    rows = []
    for r in range(oh):
        lo = min(max(0, ph - r), kh - 1)
        rows.append((lo, max(min(kh, h + ph - r), lo + 1)))
    skipped = sum(kh - (hi - lo) for lo, hi in rows)
    return tuple(rows) if skipped >= WINDOW_MIN_SHARE * oh * kh else None


def _skipped(task: Task, x: Shape, w: Shape, rows: tuple[int, int] | None = None) -> int:
    """Kernel taps of output rows [rows) (default: all) that `conv_row_windows` skips."""
    kh, kw = w[2], w[3]
    win = conv_row_windows(task.kind, x[1], kh, int(task.attr("padding", 0)), task.shape[1])
    if win is None:
        return 0
    lo, hi = rows or (0, task.shape[1])
    return sum(kh - (b - a) for a, b in win[lo:hi]) * kw


def slice_gemm(graph: TaskGraph, task: Task, dim: int, length: int, lo: int = 0) -> Gemm:
    """The GEMM a core runs for entries [lo, lo + length) of result dimension `dim` of a PE
    task (a convolution's output rows skip different kernel taps)."""
    g = gemm_dims(graph, task)
    shape = task.shape
    if task.kind == "matmul":
        if dim == len(shape) - 1:
            return Gemm(g.batch, g.m, length, g.k)
        if len(shape) == 2:
            return Gemm(1, length, g.n, g.k)
        if g.batch > 1:  # batched rhs: dim 0 batches, dim 1 rows
            return Gemm(length, g.m, g.n, g.k) if dim == 0 else Gemm(g.batch, length, g.n, g.k)
        rows = length * shape[1] if dim == 0 else shape[0] * length
        return Gemm(1, rows, g.n, g.k)
    if dim == 0:
        return Gemm(1, length, g.n, g.k, g.n_rows, g.k_groups, g.skip)
    if dim == 1:
        x, w = (graph.shape(op) for op in task.operands)
        skip = _skipped(task, x, w, (lo, lo + length))
        return Gemm(1, g.m, length * shape[2], g.k, length, g.k_groups, skip)
    return Gemm(1, g.m, shape[1] * length, g.k, shape[1], g.k_groups, g.skip)


def macs(graph: TaskGraph, task: Task) -> int:
    """Useful multiply-accumulates (0 for non-PE tasks).

    For conv_transpose2d this is C*H*W*O*KH*KW (each input pixel scatters into KH*KW
    outputs), fewer than the equivalent direct convolution the PE array executes.
    """
    if task.kind == "matmul":
        return gemm_dims(graph, task).macs
    if task.kind == "conv2d":
        return gemm_dims(graph, task).macs
    if task.kind == "conv_transpose2d":
        x, w = (graph.shape(op) for op in task.operands)
        return elements(x) * w[1] * w[2] * w[3]
    return 0


def total_macs(graph: TaskGraph) -> int:
    return sum(macs(graph, t) for t in graph.tasks)


def input_bytes(graph: TaskGraph, task: Task) -> int:
    """Bytes of activations (inputs and task results) the task reads, each operand once."""
    return sum(
        graph.bytes(op) for op in dict.fromkeys(task.operands) if graph.tensors[op].role != "weight"
    )


def weight_bytes(graph: TaskGraph, task: Task) -> int:
    """Bytes of weights the task reads."""
    return sum(
        graph.bytes(op) for op in dict.fromkeys(task.operands) if graph.tensors[op].role == "weight"
    )


def output_bytes(graph: TaskGraph, task: Task) -> int:
    return graph.bytes(task.name)


@dataclass(frozen=True)
class Volume:
    """One row of the data-volume profile."""

    task: str
    kind: str
    consumed_bytes: int
    weight_bytes: int
    produced_bytes: int
    macs: int

    @property
    def ratio(self) -> float:
        """Produced over consumed activation bytes: > 1 means the task expands data."""
        return self.produced_bytes / max(1, self.consumed_bytes)


def volume_profile(graph: TaskGraph) -> tuple[Volume, ...]:
    """The paper's high-data-volume-variation profile, one row per task in order."""
    return tuple(
        Volume(
            t.name,
            t.kind,
            input_bytes(graph, t),
            weight_bytes(graph, t),
            output_bytes(graph, t),
            macs(graph, t),
        )
        for t in graph.tasks
    )


def matrix_dims(shape: Shape) -> tuple[int, int]:
    """(rows, cols) of the row-major matrix a tensor is stored as: rows is the product of the
    leading dimensions."""
    return (math.prod(shape[:-1]) if len(shape) > 1 else 1, shape[-1] if shape else 1)


def make_graph(
    name: str,
    leaves: list[Tensor],
    tasks: list[Task],
    outputs: list[str] | tuple[str, ...],
) -> TaskGraph:
    """Build a TaskGraph, deriving the result tensors from the tasks."""
    tensors = {t.name: t for t in leaves}
    for task in tasks:
        tensors[task.name] = Tensor(task.name, task.shape, task.bits, "task")
    return TaskGraph(name, tensors, tuple(tasks), tuple(outputs))


def task(
    name: str,
    kind: str,
    operands: tuple[str, ...] | list[str],
    shape: Shape,
    bits: int = 16,
    **attrs: Any,
) -> Task:
    """Convenience constructor with keyword attributes (frozen into a read-only mapping)."""
    return Task(name, kind, tuple(operands), tuple(shape), bits, MappingProxyType(dict(attrs)))


def transposable_weights(graph: TaskGraph) -> tuple[str, ...]:
    """2-D weights read by exactly one task, a matmul that reads them as a [K, N] rhs: the host
    may store such a weight as its [N, K] transpose and the matmul read it transposed."""
    out = []
    for name, t in graph.tensors.items():
        if t.role != "weight" or len(t.shape) != 2:
            continue
        readers = graph.consumers(name)
        if len(readers) != 1:
            continue
        (r,) = readers
        if (
            r.kind == "matmul"
            and r.operands[1] == name
            and r.operands[0] != name
            and not r.attr("transpose_rhs", False)
        ):
            out.append(name)
    return tuple(out)


def with_transposed_weights(graph: TaskGraph, names: frozenset[str] | set[str]) -> TaskGraph:
    """`graph` with each weight in `names` (from `transposable_weights`) stored [N, K] and its
    matmul reading it with transpose_rhs; the results are unchanged."""
    if not names:
        return graph
    bad = set(names) - set(transposable_weights(graph))
    if bad:
        raise ValueError(f"weights {sorted(bad)} cannot be stored transposed")
    tensors = dict(graph.tensors)
    for name in names:
        t = tensors[name]
        tensors[name] = Tensor(name, (t.shape[1], t.shape[0]), t.bits, t.role)
    tasks = tuple(
        replace(t, attrs=MappingProxyType({**t.attrs, "transpose_rhs": True}))
        if t.kind == "matmul" and t.operands[1] in names
        else t
        for t in graph.tasks
    )
    return TaskGraph(graph.name, tensors, tasks, graph.outputs)
