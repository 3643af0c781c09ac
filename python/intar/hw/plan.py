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
* Views (reshape, transpose) move no data: a reader of a view reads the source tensor's buffer
  through re-indexed tile addresses (`Read`). A batched operand whose batches are not one
  contiguous matrix gets one instruction per batch, each with its own base addresses. A view
  that needs a copy (merging heads) is stored: the source's producers write each batch into
  the reader's buffer at the batch's window (`Write`).
* conv2d / conv_transpose2d (stride 1) are implicit GEMMs on a core (`_conv_instrs`): result
  tile = d1 output channels x d2 output pixels of one output row, k over (kh, kw, channel
  block). The weight is a host-laid-out constant [O, KH*KW*Cp] (`conv_weight_image`); the
  input is read as im2col straight from a **flat** buffer (`Flat`: [C, lead + H*pitch]),
  and every buffer a conv writes is flat too. Other units address a flat buffer through
  their [C*H, W] tile origins (converted in `intar.hw.top`); readiness stays in [C*H, W]
  rows. Tiles per instruction: ceil(O/d1) * OH * ceil(OW/d2) * KH*KW*Cp/d3 (docs/hardware.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from intar.scheduling.device import Device
from intar.scheduling.problem import PE_KINDS, VIEW_KINDS, Task, TaskGraph, conv_row_windows
from intar.scheduling.result import Assign, Schedule, stored_graph

POINTWISE = ("relu", "requantize", "add", "mul", "exp", "gelu", "silu")
ROW_WISE = ("softmax", "layernorm")
RESAMPLE = ("upsample", "maxpool")
VIEWS = ("reshape", "transpose")
CONVS = ("conv2d", "conv_transpose2d")
SUPPORTED_KINDS = ("matmul", *CONVS, *POINTWISE, *ROW_WISE, *RESAMPLE, *VIEWS)
FLAT_READERS = (*POINTWISE, *RESAMPLE)
"""SFU kinds that may read a flat (conv-adjacent) buffer: element-wise or row-resampling, so
the padding columns of a flat row only ever reach padding columns of their result."""


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


@dataclass(frozen=True)
class Part:
    """A stripe of an off-chip tensor: rows [lo, hi) of dimension `dim` of its [rows, cols]
    matrix, stored as a matrix of its own (`matrix`) behind `port`."""

    tensor: str
    dim: int
    lo: int
    hi: int
    port: str
    matrix: Matrix


def matrix(graph: TaskGraph, name: str) -> Matrix:
    shape = graph.tensors[name].shape
    cols = shape[-1] if shape else 1
    rows = math.prod(shape[:-1]) if len(shape) > 1 else 1
    return Matrix(name, rows, cols, graph.tensors[name].bits)


@dataclass(frozen=True)
class Flat:
    """A 3-D tensor [C, H, W] held as the flat matrix [C, lead + H*pitch + ...] (conv-adjacent
    buffers): element (c, h, w) at row c, column ``lead + h*pitch + w``. ``pitch`` (>= W) and
    ``lead`` are multiples of every tile width of the buffer, so the 1-row tiles of SFUs, loads
    and stores and the (d1, d2) result tiles of a conv stay aligned; only the conv's im2col read
    is unaligned. Columns W..pitch-1 of an image row are padding: writes of partial tiles land
    there and conv reads mask them. Readiness still counts rows of the [C*H, W] matrix."""

    h: int
    w: int
    pitch: int
    lead: int
    rows: int  # C
    cols: int  # physical columns, with a margin for the unaligned read


@dataclass(frozen=True)
class ConvGeom:
    """A conv instruction as the stride-1 direct convolution it runs: input x [c, h, w], kernel
    kh x kw, zero padding ph (rows) / pw (columns) on the top / left, result [.., oh, ow]; this
    instruction computes output channels [o_lo, o_hi) and output rows [oh_lo, oh_hi), k runs
    over (kh, kw, channel block of d3) with ``cb`` channel blocks, and each output row is ``jw``
    pixel tiles of d2. conv_transpose2d (stride 1) is the convolution with padding K - 1 - p of
    the kernel flipped in kh, kw with in/out channels swapped (done in the weight image).

    An instruction of a windowed conv (`conv_row_windows`) walks kernel rows [kh_lo, kh_lo +
    kh) of one block of output channels over a run of output rows that share them; `run_end`
    is False when a later instruction still writes this block's other rows."""

    c: int
    h: int
    w: int
    kh: int
    kw: int
    ph: int
    pw: int
    oh: int
    ow: int
    o_lo: int
    o_hi: int
    oh_lo: int
    oh_hi: int
    cb: int
    jw: int
    kh_lo: int = 0
    run_end: bool = True


@dataclass
class Writer:
    """One producer of a buffer: a unit instruction or a load; its rows and its tile shape."""

    source: str  # unit name or "load:<port>"
    row_lo: int
    row_hi: int
    shape: tuple[int, int]
    col_lo: int = 0
    col_hi: int | None = None  # None: every column
    col_order: bool = True  # finishes each row block's tiles left to right before the next
    # a column writer (see `_writer`): its rows as one block, whose columns complete left to
    # right, each with its last row tile; 0: the tile height
    block: int = 0

    @property
    def block_rows(self) -> int:
        """The rows of the block whose columns complete left to right (`col_order`)."""
        return self.block or self.shape[0]


@dataclass
class BufferPlan:
    """A tensor buffer: one reader (unit + slot, or a store engine), writers in port order."""

    name: str
    tensor: Matrix
    reader: str
    slot: str
    read_shape: tuple[int, int]
    writers: list[Writer] = field(default_factory=list)
    flat: Flat | None = None  # held flat (see `Flat`); None: the [rows, cols] matrix
    conv_read: bool = False  # read by a conv's im2col slot: unaligned reads with a mask
    rotations: tuple[int, ...] = ()  # conv_read: the start columns (mod the block) it reaches
    ring_blocks: int = 0  # > 0: a window (ring) buffer of this many R-row blocks
    window_rows: int = 0  # a window buffer's rows (ring_blocks * R); 0: every row
    link_rows: int = 0  # a window buffer: the rows its IR link's depth holds
    ultra_ram: bool = False  # banks in UltraRAM (see `_ultra_ram`)

    def writer_index(self, source: str) -> int:
        for k, w in enumerate(self.writers):
            if w.source == source:
                return k
        raise KeyError(source)


@dataclass
class Read:
    """An operand slot of an instruction: the buffer it reads and where its tiles lie there.

    The instruction walks logical operand tiles (see `Instr`). Logical element (x, y) is element
    (row_base + x, col_base + y) of the buffer's tensor, or (row_base + y, col_base + x) when
    `transposed` (the buffer's read tile is the transposed one). A `broadcast` operand (a
    vector shared by every row) reads logical row 0 on every beat.
    """

    slot: str
    buffer: str
    transposed: bool = False
    row_base: int = 0
    col_base: int = 0
    broadcast: bool = False


@dataclass
class Write:
    """A destination of an instruction: result tile (0, 0) lands at element (row, col) of the
    buffer's tensor, and the instruction writes its rows [row, row_hi). `advance`: no later
    instruction of the unit writes these rows again, so they complete as tiles go out; once
    the last tile is out, the unit's rows below `rows_after` are complete."""

    buffer: str
    row: int
    col: int
    row_hi: int
    rows_after: int = 0
    advance: bool = True
    phys_row: int = 0  # a conv's write: where its tile (0, 0) lands in the flat buffer
    phys_col: int = 0


@dataclass
class Instr:
    """One controller instruction: an assign on one unit, or one batch of it.

    Step (i, j, k) of the loop ``bounds`` (after `swap`) reads, for a core, lhs tile
    (i*d1, k*d3) and rhs tile (k*d3, j*d2); for an SFU, tile (i*num//den + k, j*w) of each
    operand (``in_rows = (num, den)``, w its read width). The unit's result tile (i, j) is
    written at (row_lo + i*h, col_lo + j*w) of the result for ``out_shape = (h, w)``, and
    to every buffer of `writes` at that buffer's own origin.
    """

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
    writes: list[Write]
    shift: int = 0
    params: tuple = ()  # SFU module parameters (key of the SFU module)
    in_rows: tuple[int, int] = (1, 1)
    order: str = "ijk"  # ijk, jik (swap) or kij (bounds programmed as (k, i, j))
    conv: ConvGeom | None = None  # a conv2d / conv_transpose2d (see `_conv_instrs`)
    relu: bool = False  # a core's fused relu: the result saturates to [0, max]

    @property
    def out_bounds(self) -> tuple[int, int]:
        """(outer, inner) tile counts of the output side; k-outer emits tiles i-major."""
        if self.order == "kij":
            return self.bounds[1], self.bounds[2]
        return self.bounds[0], self.bounds[1]


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
    conv_weights: dict[str, tuple[str, int]] = field(default_factory=dict)  # name -> (kind, Cp)
    parts: dict[str, Part] = field(default_factory=dict)  # stripe name -> its part
    window_fallbacks: tuple[str, ...] = ()  # streamed buffers the scheduler sized as windows
    # that the hardware cannot ring (built full; a test keeps this empty)

    def windows(self) -> list[str]:
        """The window (ring) buffers, in name order."""
        return [n for n in sorted(self.buffers) if self.buffers[n].ring_blocks]

    def stored_matrix(self, name: str) -> Matrix:
        """The matrix a tensor is stored as off chip: a conv weight as [O, KH*KW*Cp]; a
        stripe as its part of its tensor's matrix."""
        if name in self.parts:
            return self.parts[name].matrix
        if name in self.conv_weights:
            return conv_weight_matrix(self.graph, name, self.conv_weights[name][1])
        return matrix(self.graph, name)

    def elems_per_beat(self, port: str, bits: int) -> int:
        return self.port(port).width // bits

    def port(self, name: str) -> PortPlan:
        return next(p for p in self.ports if p.name == name)


def conv_weight_matrix(graph: TaskGraph, name: str, cp: int) -> Matrix:
    """A conv weight as the host stores it: [O, KH*KW*Cp] (see `conv_weight_image`)."""
    t = graph.tensors[name]
    consumer = graph.consumers(name)[0]
    a, b, kh, kw = t.shape
    o = a if consumer.kind == "conv2d" else b
    return Matrix(name, o, kh * kw * cp, t.bits)


def conv_weight_image(w, kind: str, cp: int):
    """The host's layout of a conv weight (a numpy array in PyTorch layout) as the matrix
    [O, KH*KW*Cp]: column (kh*KW + kw)*Cp + c holds w[o, c, kh, kw], zero for c >= C. A
    conv_transpose2d weight w[C, O, KH, KW] is first made the equivalent conv2d weight
    w'[o, c, kh, kw] = w[c, o, KH-1-kh, KW-1-kw]. The weight is a constant, so the host writes
    it this way into off-chip memory (`intar.sim.design.pack_image` does)."""
    import numpy as np

    w = np.asarray(w, dtype=np.int64)
    if kind == "conv_transpose2d":
        w = w.transpose(1, 0, 2, 3)[:, :, ::-1, ::-1]
    o, c, kh, kw = w.shape
    out = np.zeros((o, kh, kw, cp), dtype=np.int64)
    out[:, :, :, :c] = w.transpose(0, 2, 3, 1)
    return out.reshape(o, kh * kw * cp)


def _check_task(task: Task, graph: TaskGraph) -> None:
    if task.kind not in SUPPORTED_KINDS:
        raise LoweringError(
            f"task kind '{task.kind}' is not built by the hardware template yet "
            f"(supported: {', '.join(SUPPORTED_KINDS)})",
            task.name,
        )
    if task.kind in CONVS:
        stride = int(task.attr("stride", 1))
        if stride != 1:
            raise LoweringError(
                f"{task.kind} with stride {stride} is not built (the template builds stride 1)",
                task.name,
            )
        kh, kw = graph.tensors[task.operands[1]].shape[2:]
        p = int(task.attr("padding", 0))
        if task.kind == "conv_transpose2d" and p > min(kh, kw) - 1:
            raise LoweringError(
                f"conv_transpose2d with padding {p} > kernel - 1 (a cropping direct "
                "convolution) is not built",
                task.name,
            )
    if task.kind in ("add", "mul"):
        a, b = (graph.tensors[o].shape for o in task.operands)
        if a != b and b != a[-1:]:
            raise LoweringError(
                "add/mul operands must have equal shapes or a row-vector rhs", task.name
            )


# -- views -------------------------------------------------------------------------------


def _row_major(shape: tuple[int, ...]) -> list[int]:
    strides, acc = [], 1
    for d in reversed(shape):
        strides.append(acc)
        acc *= d
    return strides[::-1]


def _reshape_strides(
    sizes: list[int], strides: list[int], new: tuple[int, ...]
) -> list[int] | None:
    """Strides of `new` over the same elements as the strided view (sizes, strides), or None
    when the view would need a copy (numpy's no-copy reshape rule)."""
    old = [(n, s) for n, s in zip(sizes, strides, strict=True) if n != 1]
    keep = [k for k, n in enumerate(new) if n != 1]
    dims = [new[k] for k in keep]
    out = [0] * len(dims)
    oi = ni = 0
    while ni < len(dims) and oi < len(old):
        oj, nj = oi + 1, ni + 1
        np_, op = dims[ni], old[oi][0]
        while np_ != op:
            if np_ < op:
                np_ *= dims[nj]
                nj += 1
            else:
                op *= old[oj][0]
                oj += 1
        for ok in range(oi, oj - 1):
            if old[ok][1] != old[ok + 1][0] * old[ok + 1][1]:
                return None
        out[nj - 1] = old[oj - 1][1]
        for nk in range(nj - 1, ni, -1):
            out[nk - 1] = out[nk] * dims[nk]
        oi, ni = oj, nj
    full = [0] * len(new)
    for k, st in zip(keep, out, strict=True):
        full[k] = st
    return full


def _layout(
    graph: TaskGraph, name: str, stored: frozenset[str] = frozenset()
) -> tuple[str, list[int], list[int]]:
    """(stored source tensor, sizes, strides over the source's row-major elements) of `name`."""
    task = graph.producer(name)
    if task is None or task.kind not in VIEW_KINDS or name in stored:
        shape = graph.tensors[name].shape
        return name, list(shape), _row_major(shape)
    src, sizes, strides = _layout(graph, task.operands[0], stored)
    if task.kind == "transpose":
        perm = [int(p) for p in task.attr("perm", ())]
        return src, [sizes[p] for p in perm], [strides[p] for p in perm]
    new = _reshape_strides(sizes, strides, task.shape)
    if new is None:
        raise LoweringError("a reshape of a non-contiguous view is not built", task.name)
    return src, list(task.shape), new


@dataclass(frozen=True)
class Operand:
    """How an instruction sees a task operand: batch b of it is the [rows, cols] block of the
    stored `source` matrix at element bases[b], read as is or transposed."""

    source: str
    bases: tuple[tuple[int, int], ...]
    rows: int
    cols: int
    transposed: bool


def _blocks(
    src: str, cols_s: int, sizes: list[int], strides: list[int], batched: bool
) -> Operand | str | None:
    """A strided view over the row-major `src` (cols_s columns) as one source window per
    batch; None when unbatched leading dims do not fold into rows, a reason when a batch is
    no window of the source matrix."""
    if batched:
        n_b, sb, sizes, strides = sizes[0], strides[0], sizes[1:], strides[1:]
    else:
        n_b, sb = 1, 0
        if len(sizes) > 2:
            folded = (math.prod(sizes[:-1]), sizes[-1])
            new = _reshape_strides(sizes, strides, folded)
            if new is None:
                return None
            sizes, strides = list(folded), new
    if len(sizes) == 1:
        sizes, strides = [1, sizes[0]], [0, strides[0]]
    (r, c), (sr, sc) = sizes, strides
    if (c == 1 or sc == 1) and (r == 1 or sr == cols_s):
        transposed, width = False, c
    elif (r == 1 or sr == 1) and (c == 1 or sc == cols_s):
        transposed, width = True, r
    else:
        return "is not built"
    bases = tuple(divmod(b * sb, cols_s) for b in range(n_b))
    if any(col + width > cols_s for _, col in bases):
        return "wraps rows"
    return Operand(src, bases, r, c, transposed)


def operand(
    graph: TaskGraph, name: str, batched: bool, where: str, stored: frozenset[str] = frozenset()
) -> Operand | None:
    """`name` as one matrix per batch (its leading dim when `batched`), or None when the
    leading dims of an unbatched view do not fold into rows. Raises for other layouts.
    A view in `stored` is held as a tensor of its own (written by its source's producers)."""
    src, sizes, strides = _layout(graph, name, stored)
    op = _blocks(src, matrix(graph, src).cols, sizes, strides, batched)
    if isinstance(op, str):
        raise LoweringError(f"the view of '{name}' read by '{where}' {op}", where)
    return op


def _root(graph: TaskGraph, name: str) -> str:
    """The stored tensor under a chain of views."""
    while (t := graph.producer(name)) is not None and t.kind in VIEW_KINDS:
        name = t.operands[0]
    return name


def _stored_view(graph: TaskGraph, view: str) -> Operand:
    """Where each batch of the view's source lands in the view, for a view that is stored as a
    tensor of its own: its source's producers write their result tiles there re-indexed."""
    name, chain = view, []
    while (t := graph.producer(name)) is not None and t.kind in VIEW_KINDS:
        chain.append(t)
        name = t.operands[0]
    shape = graph.tensors[view].shape
    sizes, strides = list(shape), _row_major(shape)
    for t in chain:  # undo the views, last first: the source as a view of `view`
        if t.kind == "transpose":
            perm = [int(p) for p in t.attr("perm", ())]
            inv = sorted(range(len(perm)), key=perm.__getitem__)
            sizes, strides = [sizes[i] for i in inv], [strides[i] for i in inv]
        else:
            new = _reshape_strides(sizes, strides, graph.tensors[t.operands[0]].shape)
            if new is None:
                raise LoweringError(f"the view '{view}' needs a copy that is not built", view)
            sizes, strides = list(graph.tensors[t.operands[0]].shape), new
    if graph.producer(name) is None:
        raise LoweringError(f"the view '{view}' of '{name}' needs a copy that is not built", view)
    op = _blocks(view, matrix(graph, view).cols, sizes, strides, len(sizes) == 3)
    if not isinstance(op, Operand) or op.transposed:
        raise LoweringError(f"the view '{view}' needs a copy that is not built", view)
    return op


def _at(op: Operand, b: int, x: int, y: int) -> tuple[int, int]:
    """Source element of logical element (x, y) of batch b."""
    r0, c0 = op.bases[b]
    return (r0 + y, c0 + x) if op.transposed else (r0 + x, c0 + y)


# -- instructions ------------------------------------------------------------------------


def _matmul_instrs(
    t: Task,
    a: Assign,
    pe: tuple[int, int, int],
    graph: TaskGraph,
    order: str,
    phase: int,
    buf,
    stored: frozenset[str],
    stripe=None,
) -> list[Instr]:
    """A matmul assign: one instruction over the folded rows, or one per batch when the
    batches are not one contiguous lhs matrix (a batched rhs, a view, or a result written
    into a stored view). `stripe(tensor, lo, hi)` is the `Part` of a striped weight that
    holds result columns [lo, hi), or None."""
    d1, d2, d3 = pe
    lhs, rhs = t.operands
    ls, rs = graph.tensors[lhs].shape, graph.tensors[rhs].shape
    if len(ls) not in (2, 3) or len(rs) not in (2, len(ls)):
        raise LoweringError(f"matmul of ranks {len(ls)} x {len(rs)} is not built", t.name)
    tr = bool(t.attr("transpose_rhs", False))
    m, k, n = ls[-2], ls[-1], t.shape[-1]
    n_b = ls[0] if len(ls) == 3 else 1
    dim, lo, hi = a.slice
    c_lo, c_hi = (lo, hi) if dim == len(t.shape) - 1 else (0, n)
    batched_rhs = len(rs) == 3
    lop = None
    split = any(_root(graph, v) == t.name for v in stored)
    if not batched_rhs and not (len(ls) == 3 and (dim == 1 or split)):
        lop = operand(graph, lhs, False, t.name, stored)
    if lop is not None:
        r_lo, r_hi = (lo, hi) if dim == 0 else (0, n_b * m)
        if dim == 0 and len(ls) == 3:
            r_lo, r_hi = lo * m, hi * m
        windows = [(0, 0, r_lo, r_hi, r_lo)]  # (lhs batch, rhs batch, m_lo, m_hi, result row)
    else:
        lop = operand(graph, lhs, True, t.name, stored)
        assert lop is not None
        batches = range(lo, hi) if dim == 0 else range(n_b)
        m_lo, m_hi = (lo, hi) if dim == 1 else (0, m)
        windows = [(b, b if batched_rhs else 0, m_lo, m_hi, b * m + m_lo) for b in batches]
    rop = operand(graph, rhs, batched_rhs, t.name, stored)
    assert rop is not None
    part = stripe(rop.source, c_lo, c_hi) if stripe is not None else None
    if part is not None:  # this core's stripe of the weight: its own matrix
        dr, dc = (part.lo, 0) if part.dim == 0 else (0, part.lo)
        bases = tuple((r - dr, c - dc) for r, c in rop.bases)
        rop = Operand(part.matrix.name, bases, rop.rows, rop.cols, rop.transposed)
    a_t, b_t = lop.transposed, rop.transposed != tr  # b_t: the source holds B as [n, k]
    a_src = matrix(graph, lop.source)
    b_src = part.matrix if part is not None else matrix(graph, rop.source)
    a_buf = buf(a.unit, "a", lop.source, (d3, d1) if a_t else (d1, d3))
    b_buf = buf(a.unit, "b", rop.source, (d2, d3) if b_t else (d3, d2))
    swap = order == "jik"
    out = []
    for lb, rb, m_lo, m_hi, row0 in windows:
        ar, ac = _at(lop, lb, m_lo, 0)
        br, bc = _at(rop, rb, *((c_lo, 0) if tr else (0, c_lo)))
        # A k tile past k must read zeros on one side: a side whose k ends at its source's edge
        a_edge = ar + k == a_src.rows if a_t else ac + k == a_src.cols
        b_edge = bc + k == b_src.cols if b_t else br + k == b_src.rows
        if k % d3 and not (a_edge or b_edge):
            raise LoweringError(f"k = {k} is not a multiple of d3 = {d3} in a batch", t.name)
        bounds = (ceil_div(m_hi - m_lo, d1), ceil_div(c_hi - c_lo, d2), ceil_div(k, d3))
        run = order if order in ("jik", "kij") else "ijk"
        if run == "kij" and (bounds[0] * bounds[1] < 2 or bounds[2] < 2):
            run = "ijk"  # one partial tile or one k step: the same as ijk
        if swap:
            bounds = (bounds[1], bounds[0], bounds[2])
        elif run == "kij":
            bounds = (bounds[2], bounds[0], bounds[1])
        out.append(
            Instr(
                a.unit,
                t.name,
                t.kind,
                phase,
                bounds,
                swap,
                row0,
                c_lo,
                row0 + m_hi - m_lo,
                c_hi,
                (d1, d2),
                [Read("a", a_buf, a_t, ar, ac), Read("b", b_buf, b_t, br, bc)],
                [],
                int(t.attr("shift", 0)),
                order=run,
                relu=bool(t.attr("relu", False)),
            )
        )
    return out


def _conv_instrs(
    t: Task,
    a: Assign,
    pe: tuple[int, int, int],
    graph: TaskGraph,
    phase: int,
    buf,
    stored: frozenset[str],
    cp: int,
) -> list[Instr]:
    """A conv2d / conv_transpose2d assign as one GEMM-style instruction on a core.

    The result tile is d1 output channels x d2 output pixels of one output row: i walks
    ceil(O/d1) channel blocks, j walks the pixel tiles (output row oh, tile jw; OH rows of
    ceil(OW/d2) tiles, the last one of a row partial), k walks (kh, kw, channel block cb) with
    cb innermost: KH*KW*Cp/d3 steps. lhs ("a") is the weight as the matrix [O, KH*KW*Cp],
    read in aligned (d1, d3) tiles like a matmul lhs. rhs ("b") is im2col, never stored: tile
    (y, x) of step (kh, kw, cb) for pixel tile (oh, jw) is x[cb*d3 + y, oh + kh - ph,
    jw*d2 + x + kw - pw], zero outside the image; it is one unaligned row segment per channel
    of the flat input buffer (`Flat`). Slices: dim 0 (output channels, aligned to d1) and
    dim 1 (output rows). Tiles: ceil(O/d1) * OH * ceil(OW/d2) * KH*KW*Cp/d3.

    A conv whose edge rows meet much zero padding (`conv_row_windows`) is one instruction
    per block of d1 output channels and run of output rows with the same kernel rows, in the
    order of the single instruction: it walks only the kernel rows that meet the image.
    """
    d1, d2, d3 = pe
    x, wname = t.operands
    if graph.producer(x) is not None and graph.producer(x).kind in VIEW_KINDS:
        raise LoweringError(f"a view ('{x}') as the input of {t.kind} is not built", t.name)
    if graph.producer(wname) is not None:
        raise LoweringError(
            f"the {t.kind} weight '{wname}' is produced on chip; the template needs a constant "
            "weight that the host lays out",
            t.name,
        )
    if any(_root(graph, v) == t.name for v in stored):
        raise LoweringError(f"a view of the {t.kind} result that needs a copy is not built", t.name)
    c, h, w = graph.tensors[x].shape
    kh, kw = graph.tensors[wname].shape[2:]
    o, oh, ow = t.shape
    p = int(t.attr("padding", 0))
    ph, pw = (p, p) if t.kind == "conv2d" else (kh - 1 - p, kw - 1 - p)
    dim, lo, hi = a.slice
    if dim == 0:
        (o_lo, o_hi), (oh_lo, oh_hi) = (lo, hi), (0, oh)
    elif dim == 1:
        (o_lo, o_hi), (oh_lo, oh_hi) = (0, o), (lo, hi)
    else:
        raise LoweringError(
            f"a slice of {t.kind} along dim {dim} (output columns) is not built; slice output "
            "channels (dim 0) or output rows (dim 1)",
            t.name,
        )
    if o_lo % d1:
        raise LoweringError(
            f"output channels from {o_lo} are not aligned to the core's d1 = {d1}", t.name
        )
    cb, jw = cp // d3, ceil_div(ow, d2)
    a_buf = buf(a.unit, "a", wname, (d1, d3))
    b_buf = buf(a.unit, "b", x, (d3, d2))
    windows = conv_row_windows(t.kind, h, kh, p, oh)
    if windows is None:  # one instruction: every kernel row for every output row
        blocks, runs = [(o_lo, o_hi)], [(oh_lo, oh_hi, 0, kh)]
    else:
        blocks = [(b, min(b + d1, o_hi)) for b in range(o_lo, o_hi, d1)]
        runs = []
        for r in range(oh_lo, oh_hi):
            lo, hi = windows[r]
            if runs and runs[-1][2:] == (lo, hi - lo):
                runs[-1] = (runs[-1][0], r + 1, lo, hi - lo)
            else:
                runs.append((r, r + 1, lo, hi - lo))
    out = []
    for b_lo, b_hi in blocks:
        for r_lo, r_hi, kh_lo, kh_n in runs:
            geom = ConvGeom(
                c, h, w, kh_n, kw, ph, pw, oh, ow, b_lo, b_hi, r_lo, r_hi, cb, jw, kh_lo,
                r_hi == oh_hi,
            )  # fmt: skip
            out.append(
                Instr(
                    a.unit,
                    t.name,
                    t.kind,
                    phase,
                    (ceil_div(b_hi - b_lo, d1), (r_hi - r_lo) * jw, kh_n * kw * cb),
                    False,
                    b_lo * oh + r_lo,  # rows of the [O*OH, OW] matrix: the hull of the slice
                    0,
                    (b_hi - 1) * oh + r_hi,
                    ow,
                    (d1, d2),
                    [Read("a", a_buf, False, b_lo, kh_lo * kw * cp), Read("b", b_buf)],
                    [],
                    int(t.attr("shift", 0)),
                    conv=geom,
                    relu=bool(t.attr("relu", False)),
                )
            )
    return out


def _sfu_instrs(
    t: Task,
    a: Assign,
    lanes: int,
    graph: TaskGraph,
    phase: int,
    buf,
    stored: frozenset[str],
    order: str = "ijk",
) -> list[Instr]:
    """An SFU assign: beats of `lanes` result elements, (1, lanes) tiles in and out, except
    upsample (reads (1, lanes/2) tiles; result row r reads row r // 2) and maxpool (reads the
    two (1, lanes) tiles of rows 2r and 2r + 1 as k = 0, 1, writes (1, lanes/2)). In loop
    order jik (`_column_walk`) a pointwise kind walks columns in (lanes, 1) tiles."""
    res = matrix(graph, t.name)
    if order == "jik":
        return [_column_walk(t, a, lanes, graph, phase, buf, stored)]
    out_w, in_w, in_rows, k_bound = lanes, lanes, (1, 1), 1
    windows = [(0, res.rows, 0)]  # (result row_lo, row_hi, first operand row)
    if t.kind in RESAMPLE and lanes % 2:
        raise LoweringError(f"{t.kind} needs an even number of SFU lanes, not {lanes}", t.name)
    if t.kind == "upsample":
        in_w, in_rows = lanes // 2, (1, 2)
    elif t.kind == "maxpool":
        out_w, in_rows, k_bound = lanes // 2, (2, 1), 2
        c, h, _ = graph.tensors[t.operands[0]].shape
        if h % 2:  # the dropped last row of each channel: one instruction per channel
            hp = h // 2
            windows = [(ch * hp, (ch + 1) * hp, ch * h) for ch in range(c)]
    if len(t.shape) == 3 and len(windows) == 1 and any(_root(graph, v) == t.name for v in stored):
        m = t.shape[1]  # one instruction per batch: each lands elsewhere in the stored view
        x0 = {"upsample": m // 2, "maxpool": 2 * m}.get(t.kind, m)
        windows = [(b * m, (b + 1) * m, b * x0) for b in range(t.shape[0])]
    params = _sfu_params(t, graph, lanes, res)
    out = []
    for row_lo, row_hi, x0 in windows:
        reads = []
        for slot, o in zip("abc", t.operands, strict=False):
            op = operand(graph, o, False, t.name, stored)
            if op is None:
                raise LoweringError(f"the view of '{o}' read by '{t.name}' is not built", t.name)
            bcast = op.rows == 1 and res.rows > 1
            r, c = _at(op, 0, 0 if bcast else x0, 0)
            shape = (in_w, 1) if op.transposed else (1, in_w)
            reads.append(
                Read(slot, buf(a.unit, slot, op.source, shape), op.transposed, r, c, bcast)
            )
        out.append(
            Instr(
                a.unit,
                t.name,
                t.kind,
                phase,
                (row_hi - row_lo, ceil_div(res.cols, out_w), k_bound),
                False,
                row_lo,
                0,
                row_hi,
                res.cols,
                (1, out_w),
                reads,
                [],
                int(t.attr("shift", 0)),
                params,
                in_rows,
            )
        )
    return out


def _column_walk(
    t: Task, a: Assign, lanes: int, graph: TaskGraph, phase: int, buf, stored: frozenset[str]
) -> Instr:
    """A pointwise SFU assign in loop order jik: columns outer (the controller's outer
    counter), and in each column the rows in (lanes, 1) tiles, read and written so. Its
    result's columns complete one after another, for a reader that walks them too (a
    k-outer matmul's lhs, another column walker)."""
    res = matrix(graph, t.name)
    if t.kind not in POINTWISE:
        raise LoweringError(f"a '{t.kind}' unit walks rows; loop order jik is not built", t.name)
    reads = []
    for slot, o in zip("abc", t.operands, strict=False):
        op = operand(graph, o, False, t.name, stored)
        whole = op is not None and len(op.bases) == 1 and (op.rows, op.cols) == (res.rows, res.cols)
        if op is None or op.transposed or not whole:
            raise LoweringError(
                f"a column walk reads whole untransposed operands of the result's shape, not '{o}'",
                t.name,
            )
        r, c = _at(op, 0, 0, 0)
        reads.append(Read(slot, buf(a.unit, slot, op.source, (lanes, 1)), False, r, c))
    return Instr(
        a.unit,
        t.name,
        t.kind,
        phase,
        (res.cols, ceil_div(res.rows, lanes), 1),
        True,
        0,
        0,
        res.rows,
        res.cols,
        (lanes, 1),
        reads,
        [],
        int(t.attr("shift", 0)),
        _sfu_params(t, graph, lanes, res),
        (lanes, 1),
    )


def _check_tiles(unit: list[Instr], buffers: dict[str, BufferPlan]) -> None:
    """Every tile origin is aligned to its tile, and a result tile that sticks out of its
    instruction's rows only covers rows the same unit writes next (or none). An SFU walks
    its operands one way: all its instructions are column walks, or none."""
    if len({walks_columns(x) for x in unit}) > 1:
        raise LoweringError(
            f"'{unit[0].unit}' would walk both rows and columns; an SFU walks one way",
            unit[0].task,
        )
    for s, ins in enumerate(unit):
        h, w = ins.out_shape
        nxt = unit[s + 1] if s + 1 < len(unit) else None
        for wr in ins.writes if ins.conv is None else ():
            m = buffers[wr.buffer].tensor
            if wr.row % h or wr.col % w:
                raise LoweringError(
                    f"result tiles of '{ins.unit}' at ({wr.row}, {wr.col}) of '{m.name}' are "
                    f"not aligned to the {h}x{w} tile",
                    ins.task,
                )
            follows = nxt is not None and any(
                v.buffer == wr.buffer and v.row == wr.row_hi and v.col == wr.col for v in nxt.writes
            )
            if (wr.row_hi - wr.row) % h and wr.row_hi != m.rows and not follows:
                raise LoweringError(
                    f"rows {wr.row_hi - wr.row} of a batch or slice are not a multiple of the "
                    f"{h}-row tile",
                    ins.task,
                )
            n = ins.col_hi - ins.col_lo
            if n % w and wr.col + n != m.cols:
                raise LoweringError(
                    f"{n} columns of a slice or view are not a multiple of the {w}-column tile",
                    ins.task,
                )
        for r in ins.reads:
            rh, rw = buffers[r.buffer].read_shape
            if r.row_base % rh or r.col_base % rw:
                raise LoweringError(
                    f"operand '{buffers[r.buffer].tensor.name}' of '{ins.task}' starts at "
                    f"({r.row_base}, {r.col_base}), not aligned to its {rh}x{rw} read tile",
                    ins.task,
                )


def _write(ins: Instr, buffer: str, graph: TaskGraph, via: Operand | None) -> Write:
    """Where `ins` writes into `buffer`: its own rows, or re-indexed into a stored view."""
    if via is None:
        return Write(buffer, ins.row_lo, ins.col_lo, ins.row_hi)
    shape = graph.tensors[ins.task].shape
    m = shape[-2] if len(shape) == 3 else matrix(graph, ins.task).rows
    b = ins.row_lo // m
    if ins.row_hi > (b + 1) * m:
        raise LoweringError(f"an instruction of '{ins.task}' spans batches of a view", ins.task)
    row, col = _at(via, b, ins.row_lo - b * m, ins.col_lo)
    return Write(buffer, row, col, row + ins.row_hi - ins.row_lo)


def _reads_columns(name: str, instrs: dict[str, list[Instr]]) -> bool:
    """Buffer `name` is read column block by column block over all its rows: by k-outer
    matmuls' lhs, or by column walkers."""
    reads = [
        (ins, r) for lst in instrs.values() for ins in lst for r in ins.reads if r.buffer == name
    ]
    return bool(reads) and all(
        walks_columns(ins) or (ins.order == "kij" and r.slot == "a" and not r.transposed)
        for ins, r in reads
    )


def _writers(writes: list[tuple[Instr, Write]], by_columns: bool = False) -> list[Writer]:
    """One writer per producing unit, spanning the rows of all its instructions; sets each
    write's `advance` and `rows_after` (instructions in execution order). `by_columns`: the
    buffer's reader takes column blocks of every row (`_writer`)."""
    by_unit: dict[str, list[tuple[Instr, Write]]] = {}
    for ins, w in writes:
        by_unit.setdefault(ins.unit, []).append((ins, w))
    out = []
    for unit, lst in by_unit.items():
        lo, hi = min(w.row for _, w in lst), max(w.row_hi for _, w in lst)
        for k, (_, w) in enumerate(lst):
            later = [v for _, v in lst[k + 1 :]]
            w.advance = not any(v.row < w.row_hi and w.row < v.row_hi for v in later)
            w.rows_after = min([v.row for v in later] + [hi])
        ins0, w0 = lst[0]
        if len(lst) == 1:
            wr = _writer(ins0, by_columns)
            wr.col_lo, wr.col_hi = w0.col, w0.col + ins0.col_hi - ins0.col_lo
        else:  # several instructions: only whole rows count
            wr = Writer(unit, lo, hi, ins0.out_shape, col_order=False)
        if ins0.conv is not None:
            # rows complete jump per output row of the block's first channel (see top.py)
            wr.col_order = False
        wr.row_lo, wr.row_hi = lo, hi
        if wr.block:
            wr.block = hi - lo
        out.append(wr)
    return out


def build_plan(graph: TaskGraph, schedule: Schedule, device: Device) -> HwPlan:
    """Plan the hardware of `schedule` (a design of `graph` on `device`). The plan's graph is
    the one the schedule stores (`stored_graph`: its transposed weights [N, K])."""
    try:
        graph = stored_graph(graph, schedule)
    except ValueError as e:
        raise LoweringError(str(e)) from None
    tasks = {t.name: t for t in graph.tasks}
    for t in graph.tasks:
        _check_task(t, graph)

    def is_view(name: str) -> bool:
        p = graph.producer(name)
        return p is not None and p.kind in VIEW_KINDS

    for out in graph.outputs:
        if is_view(out):
            raise LoweringError(f"the graph output '{out}' is a view; it is not built", out)
    # A view whose strides do not exist (merging heads: a reshape that needs a copy) is stored
    # as a tensor of its own, written by its source's producers at re-indexed origins.
    stored_at: dict[str, Operand] = {}
    for t in graph.tasks:
        for o in t.operands if t.kind not in VIEW_KINDS else ():
            if is_view(o) and o not in stored_at:
                try:
                    _layout(graph, o)
                except LoweringError:
                    stored_at[o] = _stored_view(graph, o)
    stored = frozenset(stored_at)
    cores = {c.name: c for c in schedule.cores}
    sfus = {s.name: s for s in schedule.sfus}
    ports = [PortPlan(p.name, p.channel, p.width_bits) for p in schedule.ports]
    port_names = {p.name for p in ports}
    placement_of = {b.tensor: b for b in schedule.buffers if b.slice is None}
    # Stripes: each part of a striped weight is a matrix of its own behind its own port.
    parts: dict[str, Part] = {}
    stripe_names: dict[str, list[str]] = {}
    for b in sorted(schedule.buffers, key=lambda b: (b.tensor, b.slice or ())):
        if b.slice is None:
            continue
        whole = matrix(graph, b.tensor)
        dim, lo, hi = b.slice
        name = f"{b.tensor}_stripe{len(stripe_names.get(b.tensor, []))}"
        if name in graph.tensors:
            raise LoweringError(f"the stripe name '{name}' is taken by a tensor", b.tensor)
        rows, cols = (hi - lo, whole.cols) if dim == 0 else (whole.rows, hi - lo)
        parts[name] = Part(b.tensor, dim, lo, hi, b.home, Matrix(name, rows, cols, whole.bits))
        stripe_names.setdefault(b.tensor, []).append(name)

    # Conv weights: stored by the host as [O, KH*KW*Cp], Cp = C rounded up to the lcm of the
    # d3 of the cores that run the conv (so every core's k tiles stay in one (kh, kw) group).
    conv_cp: dict[str, int] = {}
    conv_weights: dict[str, tuple[str, int]] = {}
    for t in graph.tasks:
        if t.kind not in CONVS:
            continue
        d3s = [
            cores[a.unit].pe[2]
            for ph in schedule.phases
            for a in ph.assigns
            if a.task == t.name and a.unit in cores
        ]
        lcm = math.lcm(*d3s) if d3s else 1
        conv_cp[t.name] = ceil_div(graph.tensors[t.operands[0]].shape[0], lcm) * lcm
        wname = t.operands[1]
        if graph.producer(wname) is not None:
            raise LoweringError(
                f"the {t.kind} weight '{wname}' is produced on chip; the template needs a "
                "constant weight that the host lays out",
                t.name,
            )
        if len(graph.consumers(wname)) != 1:
            raise LoweringError(
                f"the {t.kind} weight '{wname}' must be read by this conv only", t.name
            )
        conv_weights[wname] = (t.kind, conv_cp[t.name])

    def stripe_for(tensor: str, lo: int, hi: int) -> Part | None:
        for n in stripe_names.get(tensor, []):
            if parts[n].lo <= lo and hi <= parts[n].hi:
                return parts[n]
        if tensor in stripe_names:
            raise LoweringError(f"no stripe of '{tensor}' holds result columns [{lo}, {hi})")
        return None

    def mat(name: str) -> Matrix:
        if name in parts:
            return parts[name].matrix
        if name in conv_weights:
            return conv_weight_matrix(graph, name, conv_weights[name][1])
        return matrix(graph, name)

    # Off-chip tensors and their addresses: each port's tensors packed in name order. A view
    # is an alias of its source and takes no space.
    def offchip(t: str) -> bool:
        b = placement_of.get(t)
        return b is not None and b.placement == "offchip" and not is_view(t)

    placement: dict[str, tuple[str, int]] = {}
    homes = [(t, placement_of[t].home) for t in sorted(graph.tensors) if offchip(t)]
    homes += [(n, parts[n].port) for t in sorted(stripe_names) for n in stripe_names[t]]
    for t, home in sorted(homes):
        if home not in port_names:
            raise LoweringError(f"off-chip tensor '{t}' is homed on '{home}', not a port")
        p = next(q for q in ports if q.name == home)
        m = mat(t)
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
            if a.unit in cores and t.kind not in VIEW_KINDS:
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
        if name in buffers and buffers[name].read_shape != shape:
            name += f"_{shape[0]}x{shape[1]}"
        if name not in buffers:
            buffers[name] = BufferPlan(name, mat(tensor), unit, slot, shape)
        return name

    orders = dict(schedule.loop_orders)
    for p_idx, ph in enumerate(schedule.phases):
        for a in ph.assigns:
            t = tasks[a.task]
            if t.kind in VIEW_KINDS:
                continue  # no data moves: its readers re-index the source's buffer
            if a.unit in cores and t.kind in CONVS:
                pe = cores[a.unit].pe
                cp = conv_cp[t.name]
                new = _conv_instrs(t, a, pe, graph, p_idx, buffer_for, stored, cp)
            elif a.unit in cores:
                order = orders.get(t.name, "ijk")
                pe = cores[a.unit].pe
                new = _matmul_instrs(t, a, pe, graph, order, p_idx, buffer_for, stored, stripe_for)
            elif a.unit in sfus:
                lanes, order = sfus[a.unit].lanes, orders.get(t.name, "ijk")
                new = _sfu_instrs(t, a, lanes, graph, p_idx, buffer_for, stored, order)
            else:
                raise LoweringError(f"task '{t.name}' is assigned to '{a.unit}', not a unit")
            instrs[a.unit].extend(new)
            producers.setdefault(t.name, []).extend(new)

    # Writers of each buffer, and the loads that fill off-chip operands.
    phase_of_reader: dict[str, int] = {}
    for lst in instrs.values():
        for ins in lst:
            for r in ins.reads:
                phase_of_reader.setdefault(r.buffer, ins.phase)
    for name in sorted(buffers):
        buf = buffers[name]
        tname = buf.tensor.name
        made = producers.get(_root(graph, tname), [])
        # An off-chip tensor is loaded when it is a leaf or spilled by an earlier phase; one
        # made in the reader's own phase is written by its producers (it is still stored).
        if tname in placement and all(ins.phase < phase_of_reader[name] for ins in made):
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
            via = stored_at.get(tname)
            ws = [(ins, _write(ins, name, graph, via)) for ins in made]
            for ins, w in ws:
                ins.writes.append(w)
            buf.writers.extend(_writers(ws, _reads_columns(name, instrs)))
    for port in ports:
        widths = sorted({ld.tensor.bits for ld in loads[port.name]})
        if len(widths) > 1:
            mixed = sorted({ld.tensor.name for ld in loads[port.name]})
            reader = next((t.name for t in graph.tasks if set(t.operands) & set(mixed)), None)
            raise LoweringError(
                f"port '{port.name}' would load tensors of {' and '.join(map(str, widths))}-bit "
                f"elements ({', '.join(mixed)}); a port's engines move one element width (give "
                "the design more ports)",
                reader,
            )
    broadcast = {
        r.buffer for lst in instrs.values() for ins in lst for r in ins.reads if r.broadcast
    }
    for port in loads:
        # Per phase, vectors an SFU broadcasts first (it reads them with every beat), then
        # row operands (slot a): a k-outer matmul needs its lhs column blocks from every row
        # before the weight rows after the first can be used.
        loads[port].sort(
            key=lambda ld: (
                ld.phase,
                not any(b in broadcast for b in ld.writes),
                all(buffers[b].slot != "a" for b in ld.writes),
                ld.tensor.name,
            )
        )

    # Stores: graph outputs and spilled intermediates produced on chip.
    for tname, (port, base) in sorted(placement.items()):
        if tname not in producers:
            continue
        m = matrix(graph, tname)
        per = next(p for p in ports if p.name == port).width // m.bits
        name = f"store_{port}_{tname}"
        buf = BufferPlan(name, m, f"store:{port}", "s", (1, per))
        ws = [(ins, _write(ins, name, graph, None)) for ins in producers[tname]]
        for ins, w in ws:
            ins.writes.append(w)
        buf.writers.extend(_writers(ws))
        buffers[name] = buf
        phase = max(ins.phase for ins in producers[tname])
        stores[port].append(Store(port, phase, m, base, ceil_div(m.cols, per), name))
    for port in stores:
        stores[port].sort(key=lambda s: (s.phase, s.tensor.name))

    _flat_layouts(graph, buffers, instrs, producers)
    pes = {c.name: c.pe for c in schedule.cores}
    fallbacks = _window_buffers(schedule, buffers, instrs, pes, stored, frozenset(parts))
    _load_windows(buffers, instrs, pes, loads, device.bram36.count)
    _ultra_ram(buffers, instrs, pes, device.bram36.count, device.uram.count)
    for lst in instrs.values():
        _check_tiles(lst, buffers)
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
        conv_weights,
        parts,
        tuple(fallbacks),
    )


def _flat_layouts(
    graph: TaskGraph,
    buffers: dict[str, BufferPlan],
    instrs: dict[str, list[Instr]],
    producers: dict[str, list[Instr]],
) -> None:
    """Hold conv-adjacent buffers flat (`Flat`): the input buffer of a conv's im2col slot and
    every buffer a conv writes (its readers, stores included, see rows as the flat matrix);
    place each conv write in them."""
    readers: dict[str, list[Instr]] = {}
    for lst in instrs.values():
        for ins in lst:
            for r in ins.reads:
                readers.setdefault(r.buffer, []).append(ins)
    for name in sorted(buffers):
        buf = buffers[name]
        tname = buf.tensor.name
        convs_in = [
            i
            for i in readers.get(name, [])
            if i.conv is not None and any(r.buffer == name and r.slot == "b" for r in i.reads)
        ]
        conv_made = any(
            i.conv is not None
            for i in producers.get(tname, [])
            if any(w.buffer == name for w in i.writes)
        )
        if not convs_in and not conv_made:
            continue
        for i in readers.get(name, []):
            if i.conv is not None and i not in convs_in:
                raise LoweringError(
                    f"'{tname}' as a {i.kind} weight and input is not built", i.task
                )
            if i.conv is None and (
                i.unit not in _sfu_units(instrs, graph) or i.kind not in FLAT_READERS
            ):
                raise LoweringError(
                    f"'{tname}' (conv-adjacent, held flat) read by {i.kind} '{i.task}' is not "
                    f"built; its readers may be convs, stores and {', '.join(FLAT_READERS)}",
                    i.task,
                )
            if i.conv is None and any(
                r.buffer == name and (r.transposed or r.broadcast) for r in i.reads
            ):
                raise LoweringError(
                    f"a transposed or broadcast read of '{tname}' is not built", i.task
                )
        for w in buf.writers:
            if w.shape[0] != 1 and not any(
                i.conv is not None for i in producers.get(tname, []) if i.unit == w.source
            ):
                raise LoweringError(
                    f"'{tname}' is written by '{w.source}' in {w.shape} tiles into a flat "
                    "conv buffer; only 1-row tiles and convs write one",
                    tname,
                )
        shape = graph.tensors[tname].shape
        if len(shape) != 3:
            raise LoweringError(f"a conv operand '{tname}' of rank {len(shape)}", tname)
        c, h, w = shape
        cq = math.lcm(*(wr.shape[1] for wr in buf.writers), buf.read_shape[1])
        pitch = ceil_div(w, cq) * cq
        pw = max([i.conv.pw for i in convs_in] + [0])
        lead = ceil_div(pw, cq) * cq
        end = lead + h * pitch
        for i in convs_in:  # the last im2col read's origin, plus the tile and one more block
            g = i.conv
            d2 = buf.read_shape[1]
            last = lead + (h - 1) * pitch + (g.jw - 1) * d2 + g.kw - 1 - g.pw
            end = max(end, last + d2)
        cols = ceil_div(end, cq) * cq + (cq if convs_in else 0)
        buf.flat = Flat(h, w, pitch, lead, c, cols)
        buf.conv_read = bool(convs_in)
        if convs_in:  # lead and pitch are multiples of cq: col % cq = (jw*d2 + kw - pw) % cq
            d2 = buf.read_shape[1]
            starts = {0}  # a padding row's tile reads at `lead`
            for i in convs_in:
                g = i.conv
                starts |= {(j * d2 + k - g.pw) % cq for j in range(g.jw) for k in range(g.kw)}
            buf.rotations = tuple(sorted(starts))
        for i in producers.get(tname, []):
            for wr in i.writes:
                if wr.buffer == name and i.conv is not None:
                    wr.phys_row = i.conv.o_lo
                    wr.phys_col = lead + i.conv.oh_lo * pitch


def read_rows(
    ins: Instr, slot: str, pe: tuple[int, int, int] | None, transposed: bool = False
) -> tuple[int, int] | None:
    """(rows per outer step, first row of the last outer step) of operand `slot` of `ins`,
    relative to its row base, when the instruction reads the slot's rows in order; else
    None. The outer step is the loop counter that sets the tile's row: i (rows i*d1) for a
    core's lhs, k (rows k*d3) for its rhs, j (rows j*d2) for its `transposed` rhs (a stored
    [N, K] weight), i (rows i*num//den + k, k < bounds[2]) for an SFU. It reads rows in
    order when every counter outside it has one value."""
    b = ins.bounds
    if pe is None:
        if ins.swap:  # a column walker reads every row in each outer step
            return None
        num, den = ins.in_rows
        return b[2], ((b[0] - 1) * num) // den
    d1, d2, d3 = pe
    if slot == "b" and transposed:  # tj: the outer counter (jik), or the middle one (ijk)
        if ins.order == "kij" or (not ins.swap and b[0] != 1):
            return None
        return d2, ((b[0] if ins.swap else b[1]) - 1) * d2
    if slot == "a":  # ti: the outer counter (ijk), or the middle one (jik, kij)
        middle = ins.swap or ins.order == "kij"
        if middle and b[0] != 1:
            return None
        return d1, ((b[1] if middle else b[0]) - 1) * d1
    if ins.order == "kij":  # tk: the outer counter
        return d3, (b[0] - 1) * d3
    if b[0] == 1 and b[1] == 1:  # tk innermost: one i and one j
        return d3, (b[2] - 1) * d3
    return None


def _window_buffers(
    schedule: Schedule,
    buffers: dict[str, BufferPlan],
    instrs: dict[str, list[Instr]],
    pes: dict[str, tuple[int, int, int]],
    stored: frozenset[str],
    stripes: frozenset[str] = frozenset(),
) -> list[str]:
    """Make each streamed buffer that the hardware can ring a window buffer of the rows its IR
    link depth asks for (`intar.scheduling.cost.ring_rows`, the function the scheduler
    charges); returns the buffers whose link is a window the hardware cannot ring.

    A buffer is streamed when its tensor has no `intar.buffer` (it lives nowhere else) and its
    reader's operand comes over a link. It rings when (`intar.scheduling.search`'s
    `_ring_geometry` decides the same on tasks):

    - it is held plainly (not flat, no conv read, not a stored view) and one unit writes it,
      in its reader's phase, rows in order: no conv, no j-outer instruction over several row
      blocks, instructions in row order;
    - one unit reads it in consecutive instructions of that phase, rows in order
      (`read_rows`), neither transposed nor broadcast, each instruction starting at or after
      the last outer step of the one before;
    - no other operand of those instructions is written in that phase by the writer or by a
      unit downstream of it (the writer waits for the reader's credit, so such an operand
      could never arrive); when a core reads it, nor downstream of any unit that feeds the
      writer in that phase (a fork-join: the full window stalls the shared feeder).
    """
    from intar.scheduling.cost import ring_rows

    links = {k.name: k for k in schedule.links}
    held = {b.tensor for b in schedule.buffers} | stripes  # a stripe lives off chip
    assigns = {(a.task, a.unit, p): a for p, ph in enumerate(schedule.phases) for a in ph.assigns}
    readers: dict[str, list[tuple[int, Instr]]] = {}
    for lst in instrs.values():
        for s, ins in enumerate(lst):
            for r in ins.reads:
                readers.setdefault(r.buffer, []).append((s, ins))

    def writers_in(name: str, phase: int) -> set[str]:
        return {
            w.source
            for w in buffers[name].writers
            if w.source in instrs
            and any(
                x.phase == phase and any(v.buffer == name for v in x.writes)
                for x in instrs[w.source]
            )
        }

    def downstream(unit: str, phase: int) -> set[str]:
        """Units fed, in `phase`, by `unit` directly or through other units."""
        seen, stack = {unit}, [unit]
        while stack:
            u = stack.pop()
            for name, rd in readers.items():
                if buffers[name].reader in seen or u not in writers_in(name, phase):
                    continue
                if any(ins.phase == phase for _, ins in rd):
                    seen.add(buffers[name].reader)
                    stack.append(buffers[name].reader)
        return seen

    def upstream(unit: str, phase: int) -> set[str]:
        """`unit` and the units that feed it, in `phase`, directly or through other units."""
        seen, stack = {unit}, [unit]
        while stack:
            for ins in instrs.get(stack.pop(), []):
                if ins.phase != phase:
                    continue
                for r in ins.reads:
                    for w in writers_in(r.buffer, phase) - seen:
                        seen.add(w)
                        stack.append(w)
        return seen

    def span_of(name: str, buf: BufferPlan, rd: list[tuple[int, Instr]]) -> int | None:
        if buf.flat is not None or buf.conv_read or buf.tensor.name in stored:
            return None
        if len(buf.writers) != 1 or buf.writers[0].source not in instrs:
            return None
        wunit, phase = buf.writers[0].source, rd[0][1].phase
        stages = [s for s, _ in rd]
        if stages != list(range(stages[0], stages[-1] + 1)):
            return None
        if any(ins.phase != phase for _, ins in rd):
            return None
        row = 0
        for ins in instrs[wunit]:
            for w in ins.writes:
                if w.buffer != name:
                    continue
                if ins.phase != phase or ins.conv is not None or w.row < row:
                    return None
                if ins.swap and (ins.bounds[1] > 1 or walks_columns(ins)):
                    return None  # j-outer over several row blocks, or a column walker
                row = w.row_hi
        spans, last = [], 0
        # a core reader: the fork-join rule (see above), as the scheduler's `_ring_geometry`
        core_reader = pes.get(rd[0][1].unit) is not None
        feeders = upstream(wunit, phase) if core_reader else {wunit}
        fed = set().union(*(downstream(u, phase) for u in feeders))
        for _, ins in rd:
            for r in ins.reads:
                if r.buffer != name:
                    if writers_in(r.buffer, phase) & fed:
                        return None
                    continue
                g = read_rows(ins, r.slot, pes.get(ins.unit))
                if g is None or r.transposed or r.broadcast or r.row_base < last:
                    return None
                spans.append(g[0])
                last = r.row_base + g[1]
        return max(spans)

    fallbacks = []
    for name in sorted(buffers):
        buf = buffers[name]
        rd = readers.get(name)
        if not rd or buf.tensor.name in held:
            continue
        ins0 = rd[0][1]
        slot = next(r.slot for r in ins0.reads if r.buffer == name)
        a = assigns.get((ins0.task, ins0.unit, ins0.phase))
        idx = "ba".index(slot) if ins0.conv is not None else "abc".index(slot)  # conv: (x, w)
        if a is None or idx >= len(a.sources) or a.sources[idx] not in links:
            continue
        link = links[a.sources[idx]]
        m = buf.tensor
        beat = max(1, link.width_bits // m.bits)
        link_rows = ceil_div(link.depth * beat, m.cols)
        span = span_of(name, buf, rd)
        if span is None:
            if link_rows < m.rows:
                fallbacks.append(name)
            continue
        wh, rh = buf.writers[0].shape[0], buf.read_shape[0]
        rows = ring_rows(link.depth, beat, m.cols, wh, rh, span)
        if rows >= m.rows:
            continue
        buf.ring_blocks = rows // math.lcm(wh, rh)
        buf.window_rows = rows
        buf.link_rows = link_rows
    return fallbacks


def _load_windows(
    buffers: dict[str, BufferPlan],
    instrs: dict[str, list[Instr]],
    pes: dict[str, tuple[int, int, int]],
    loads: dict[str, list[Load]],
    bram36: int,
) -> None:
    """When the design's memories would not fit the device's `bram36` blocks, make loaded
    operands that their reader takes once, rows in order, window (ring) buffers, the largest
    first, until they fit (or none is left). A ring holds two of the reader's outer steps (and
    at least the deadlock-free minimum plus `RING_CREDIT_CYCLES` of steps), not the tensor. A
    k-outer matmul's weight is the case that matters: it streams k-block by k-block from the
    port through a few blocks of block RAM instead of sitting whole on chip. A design that
    fits keeps whole buffers: a ring's load waits for the reader's credit, so it cannot run
    ahead while the reader waits for another operand (the cost model does not see that).
    The load must be the last of its port in its phase (nothing the reader needs can queue
    behind it) and write this one buffer, and:

    - the buffer is held plainly (not flat, no conv read) and the load is its only writer;
    - one unit reads it in consecutive instructions of the load's phase and no other,
      rows in order (`read_rows`; a core's transposed rhs by its j counter), not broadcast,
      each instruction starting at or after the last outer step of the one before.
    """
    from intar.hw.resources import buffer_memory, plan_memories
    from intar.scheduling.cost import ring_target_rows

    readers: dict[str, list[tuple[int, Instr]]] = {}
    for lst in instrs.values():
        for s, ins in enumerate(lst):
            for r in ins.reads:
                readers.setdefault(r.buffer, []).append((s, ins))
    rings: list[tuple[str, int]] = []  # buffers that can ring, with their blocks
    for port_loads in loads.values():
        for idx, ld in enumerate(port_loads):
            if len(ld.writes) != 1 or any(o.phase == ld.phase for o in port_loads[idx + 1 :]):
                continue
            name = ld.writes[0]
            buf, rd = buffers[name], readers.get(name, [])
            if not rd or buf.ring_blocks or buf.flat is not None or buf.conv_read:
                continue
            if len(buf.writers) != 1 or any(ins.phase != ld.phase for _, ins in rd):
                continue
            stages = [s for s, _ in rd]
            if stages != list(range(stages[0], stages[-1] + 1)):
                continue
            spans, steps, last = [], 1 << 30, 0
            for _, ins in rd:
                for r in ins.reads:
                    if r.buffer != name:
                        continue
                    g = read_rows(ins, r.slot, pes.get(ins.unit), r.transposed)
                    if g is None or r.broadcast or r.row_base < last:
                        spans = []
                        break
                    spans.append(g[0])
                    if r.transposed and not ins.swap:  # its outer step is j: k steps each
                        steps = min(steps, ins.bounds[2])
                    else:
                        steps = min(steps, math.prod(ins.bounds[1:]))
                    last = r.row_base + g[1]
                if not spans:
                    break
            if not spans:
                continue
            m, span, read_h = buf.tensor, max(spans), buf.read_shape[0]
            target = ring_target_rows(2 * span * m.cols, m.cols, span, 1, read_h, steps)
            blocks = 1 << (ceil_div(target, read_h) - 1).bit_length()
            if blocks * read_h < m.rows:
                rings.append((name, blocks))
    mems = plan_memories(buffers, instrs, pes)
    total = sum(m.bram36 for m in mems)
    size = {m.name: m.bram36 for m in mems}
    for name, blocks in sorted(rings, key=lambda r: (-size[r[0]], r[0])):
        if total <= bram36:
            break
        buf = buffers[name]
        before = size[name]
        buf.ring_blocks = blocks
        buf.window_rows = blocks * buf.read_shape[0]
        buf.link_rows = buf.window_rows
        total += buffer_memory(name, buf).bram36 - before


BRAM_HEADROOM = 0.95
"""`_ultra_ram` moves buffers until the estimated block RAM is at most this share of the
device's."""


def _ultra_ram(
    buffers: dict[str, BufferPlan],
    instrs: dict[str, list[Instr]],
    pes: dict[str, tuple[int, int, int]],
    bram36: int,
    uram: int,
) -> None:
    """When the memories still exceed the device's `bram36` blocks (after `_load_windows`),
    move tensor buffers to UltraRAM, those that free the most BRAM36 per URAM288 first, until
    the block RAM fits with `BRAM_HEADROOM` to spare (the estimate leaves out the SFUs' row
    rings) or the device's `uram` blocks run out. A URAM288 (4K x 72) holds eight
    RAMB36s' bits, so a deep bank fits it well (a 7296 x 16 bank: 4 RAMB36 or 1 URAM288); the
    read timing is the same (an address register, then the output register)."""
    from intar.hw.resources import buffer_memory, plan_memories
    from intar.hw.resources import uram as uram_blocks

    total = sum(m.bram36 for m in plan_memories(buffers, instrs, pes))
    if total <= bram36:
        return
    target = BRAM_HEADROOM * bram36
    candidates = []
    for name in sorted(buffers):
        m = buffer_memory(name, buffers[name])
        if m.bram36:
            blocks = m.count * uram_blocks(m.depth, m.width)
            candidates.append((-m.bram36 / blocks, name, m.bram36, blocks))
    used = 0
    for _, name, freed, blocks in sorted(candidates):
        if total <= target:
            break
        if used + blocks <= uram:
            buffers[name].ultra_ram = True
            total, used = total - freed, used + blocks


def _sfu_units(instrs: dict[str, list[Instr]], graph: TaskGraph) -> set[str]:
    return {u for u, lst in instrs.items() if lst and not is_pe(lst[0].kind)}


def walks_columns(ins: Instr) -> bool:
    """An SFU instruction in loop order jik: (lanes, 1) tiles, columns outer."""
    return ins.swap and not is_pe(ins.kind)


def _writer(ins: Instr, by_columns: bool = False) -> Writer:
    """The instruction as a writer of its result; j-outer order with several row blocks
    leaves row blocks open, so only whole rows count as progress. Except for a column walker,
    and for a j-outer matmul written `by_columns` (for a reader that takes its columns, see
    `_reads_columns`): their columns complete one block after another over all their rows."""
    if walks_columns(ins) or (by_columns and ins.swap and ins.conv is None):
        block = ins.row_hi - ins.row_lo
        return Writer(
            ins.unit, ins.row_lo, ins.row_hi, ins.out_shape, ins.col_lo, ins.col_hi, True, block
        )
    col_order = (not ins.swap or ins.bounds[1] == 1) and ins.conv is None
    return Writer(
        ins.unit, ins.row_lo, ins.row_hi, ins.out_shape, ins.col_lo, ins.col_hi, col_order
    )


def _sfu_params(t: Task, graph: TaskGraph, lanes: int, res: Matrix) -> tuple:
    """The elaboration parameters of the SFU module that runs task `t`."""
    from intar.hw import sfu_modules

    if t.kind == "softmax":
        from intar.hw.sfu_exp import check_softmax

        shape = graph.tensors[t.operands[0]].shape
        per_matrix = shape[-2] if len(shape) > 1 else 1
        frac, out_frac = int(t.attr("frac_bits")), int(t.attr("out_frac_bits"))
        in_bits = graph.tensors[t.operands[0]].bits
        try:
            check_softmax(res.cols, lanes, in_bits, t.bits, frac, out_frac, per_matrix)
        except ValueError as e:
            raise LoweringError(f"softmax unit not built: {e}", t.name) from None
    try:
        return sfu_modules.key(t, graph, lanes)
    except ValueError as e:
        raise LoweringError(str(e), t.name) from None


def is_pe(kind: str) -> bool:
    return kind in PE_KINDS
