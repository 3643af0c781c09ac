"""Whole designs for the task kinds beyond matmul and the pointwise SFUs: upsample, maxpool,
layernorm, batched matmul and views (reshape / transpose), each compiled for the tiny device,
simulated in Verilator and compared bit for bit with the golden model; plus the plan's checks
(no Verilator) for what the template does not build.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest
from design_harness import simulate_graph, task_graph_of

from intar.frontend.builder import Graph
from intar.hw.plan import LoweringError, Operand, _reshape_strides, build_plan, operand
from intar.scheduling import cost, load_device, make_graph, schedule, task
from intar.scheduling.problem import Tensor, slice_gemm


def resample_graph() -> Graph:
    """Odd H and W: maxpool drops a row per channel (one instruction per channel) and a column;
    upsample's 6 result columns end in a partial 4-lane beat."""
    g = Graph("resample")
    x = g.input((3, 5, 7), "i16", name="x")
    p = g.maxpool(x, name="pool0")
    u = g.upsample(p, name="up")
    r = g.relu(u, name="r")
    g.output(g.maxpool(r, name="pool1"))
    return g


def attention_graph(L: int = 8, H: int = 2, dh: int = 8) -> Graph:
    """Multi-head attention with views: q, k, v [L, H*dh] split into heads [H, L, dh] by
    reshape + transpose; K^T as a view (transpose of the last two dims); batched matmuls; the
    heads merged back into [L, H*dh] (a view the producer writes re-indexed) for the output
    projection."""
    g = Graph("heads")
    x = g.input((L, H * dh), "i16", name="x")
    proj = {}
    for n in "qkvo":
        w = g.weight((H * dh, H * dh), "i16", name=f"w{n}")
        if n != "o":
            proj[n] = g.matmul(x, w, shift=14, out="i16", name=n)
    qh = g.transpose(g.reshape(proj["q"], (L, H, dh), name="qr"), (1, 0, 2), name="qh")
    kt = g.transpose(g.reshape(proj["k"], (L, H, dh), name="kr"), (1, 2, 0), name="kt")
    vh = g.transpose(g.reshape(proj["v"], (L, H, dh), name="vr"), (1, 0, 2), name="vh")
    s = g.matmul(qh, kt, shift=16, out="i16", name="s")  # [H, L, L]
    p = g.softmax(s, frac_bits=8, name="p")
    o = g.matmul(p, vh, shift=14, out="i16", name="o")  # [H, L, dh]
    merged = g.reshape(g.transpose(o, (1, 0, 2), name="ot"), (L, H * dh), name="om")
    g.output(o, g.matmul(merged, w, shift=14, out="i16", name="y"))
    return g


def batched_graph(B: int = 2, M: int = 8, K: int = 8, N: int = 8) -> Graph:
    """[B,M,K]x[B,K,N], then x [B,N,K] transposed, then a shared weight [K,N] (folded)."""
    g = Graph("batched")
    a = g.input((B, M, K), "i16", name="a")
    b = g.input((B, K, N), "i16", name="b")
    c = g.input((B, N, K), "i16", name="c")
    w = g.weight((N, N), "i16", name="w")
    x = g.matmul(a, b, shift=12, out="i16", name="x")
    y = g.matmul(x, c, transpose_rhs=True, shift=12, out="i16", name="y")
    g.output(g.matmul(y, w, shift=12, out="i16", name="z"))
    return g


def layernorm_graph() -> Graph:
    """layernorm (gamma, beta broadcast over rows), a row-vector add, then a matmul."""
    g = Graph("norm")
    x = g.input((6, 12), "i16", name="x")
    gamma = g.weight((12,), "i16", name="gamma")
    beta = g.weight((12,), "i16", name="beta")
    bias = g.weight((12,), "i16", name="bias")
    w = g.weight((12, 8), "i16", name="w")
    y = g.add(g.layernorm(x, gamma, beta, frac_bits=8, name="ln"), bias, name="biased")
    g.output(g.matmul(y, w, shift=12, out="i16", name="z"))
    return g


# -- whole designs (one Verilator build each) ---------------------------------------------


def test_upsample_and_maxpool_simulate_bit_exact(tmp_path: Path) -> None:
    simulate_graph(resample_graph(), tmp_path)


def test_attention_heads_through_views_simulate_bit_exact(tmp_path: Path) -> None:
    simulate_graph(attention_graph(), tmp_path)


def test_batched_matmuls_simulate_bit_exact(tmp_path: Path) -> None:
    simulate_graph(batched_graph(), tmp_path, mode="sequential")


def test_layernorm_simulates_bit_exact(tmp_path: Path) -> None:
    simulate_graph(layernorm_graph(), tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["sequential", "dataflow"])
def test_resample_other_modes(tmp_path: Path, mode: str) -> None:
    simulate_graph(resample_graph(), tmp_path, mode)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["intar", "dataflow"])
def test_batched_other_modes(tmp_path: Path, mode: str) -> None:
    simulate_graph(batched_graph(), tmp_path, mode)


@pytest.mark.slow
def test_transposed_views_simulate_bit_exact(tmp_path: Path) -> None:
    """A 2-D transpose read by an SFU ((lanes, 1) tiles) and as a matmul lhs ((d3, d1) tiles)."""
    g = Graph("tview")
    x = g.input((8, 12), "i16", name="x")
    xt = g.transpose(x, (1, 0), name="xt")
    w = g.weight((8, 4), "i16", name="w")
    g.output(g.relu(xt, name="r"), g.matmul(xt, w, shift=10, out="i16", name="m"))
    simulate_graph(g, tmp_path)


# -- the plan, no Verilator -----------------------------------------------------------------


def _strides(shape: tuple[int, ...], perm: tuple[int, ...]) -> tuple[list[int], list[int]]:
    a = np.zeros(shape, dtype=np.int64).transpose(perm)
    return list(a.shape), [s // 8 for s in a.strides]


@pytest.mark.parametrize(
    ("shape", "perm", "new", "ok"),
    [
        ((8, 16), (0, 1), (8, 2, 8), True),  # split the columns into heads
        ((2, 8, 8), (1, 0, 2), (8, 16), False),  # merge heads: needs a copy
        ((2, 8, 8), (0, 1, 2), (16, 8), True),
        ((2, 1, 8), (1, 0, 2), (2, 8), True),  # size-1 dims move freely
        ((4, 6), (1, 0), (2, 3, 4), True),  # split a transposed dim
        ((4, 6), (1, 0), (24,), False),
    ],
)
def test_reshape_strides_follow_numpy(
    shape: tuple[int, ...], perm: tuple[int, ...], new: tuple[int, ...], ok: bool
) -> None:
    sizes, strides = _strides(shape, perm)
    got = _reshape_strides(sizes, strides, new)
    assert (got is not None) == ok
    if ok:
        base = np.arange(np.prod(shape)).reshape(shape).transpose(perm)
        flat = np.arange(np.prod(shape))
        idx = np.indices(new).reshape(len(new), -1)
        offsets = sum(i * s for i, s in zip(idx, got, strict=True))
        assert (flat[offsets] == base.reshape(new).ravel()).all()


def test_split_heads_read_column_blocks_of_the_source() -> None:
    L, H, dh = 8, 2, 8
    tasks = [
        task("qr", "reshape", ["q"], (L, H, dh)),
        task("qh", "transpose", ["qr"], (H, L, dh), perm=(1, 0, 2)),
        task("kt", "transpose", ["qr"], (H, dh, L), perm=(1, 2, 0)),
    ]
    graph = make_graph("heads", [Tensor("q", (L, H * dh), 16, "input")], tasks, ["qh"])
    qh = operand(graph, "qh", True, "s")
    assert qh == Operand("q", ((0, 0), (0, 8)), L, dh, False)
    kt = operand(graph, "kt", True, "s")  # [dh, L] per head: the head's block, transposed
    assert kt == Operand("q", ((0, 0), (0, 8)), dh, L, True)
    with pytest.raises(LoweringError, match="view of 'qr' read by 's' is not built"):
        operand(graph, "qr", False, "s")  # [L*H, dh]: rows of dh elements, H per source row


def test_merged_heads_are_written_by_the_producer() -> None:
    g = attention_graph()
    graph = task_graph_of(g)
    dev = load_device("tiny")
    plan = build_plan(graph, schedule(graph, dev, mode="intar"), dev)
    bufs = [b.name for b in plan.buffers.values() if b.tensor.name == "om"]
    assert bufs
    for name in bufs:
        writes = [(i, w) for lst in plan.instrs.values() for i in lst for w in i.writes]
        mine = [(i, w) for i, w in writes if w.buffer == name]
        # head h = batch h of o lands in column block h * dh of [L, H * dh], rows from 0
        heads = {i.row_lo // 8 for i, _ in mine}
        assert heads == {0, 1}
        for i, w in mine:
            assert (w.row, w.col) == (i.row_lo % 8, 8 * (i.row_lo // 8) + i.col_lo)
        # rows complete only with a unit's last head
        for i, w in mine:
            last = max(j.row_lo for j, _ in mine if j.unit == i.unit)
            assert w.advance == (i.row_lo == last)


def test_merging_heads_of_an_input_is_a_located_error() -> None:
    L, H, dh = 8, 2, 8
    leaves = [Tensor("o", (H, L, dh), 16, "input"), Tensor("w", (H * dh, 8), 16, "weight")]
    tasks = [
        task("ot", "transpose", ["o"], (L, H, dh), perm=(1, 0, 2)),
        task("om", "reshape", ["ot"], (L, H * dh)),
        task("y", "matmul", ["om", "w"], (L, 8), shift=12),
    ]
    graph = make_graph("merge", leaves, tasks, ["y"])
    dev = load_device("tiny")
    with pytest.raises(LoweringError, match="view 'om' of 'o' needs a copy") as e:
        build_plan(graph, schedule(graph, dev, mode="sequential"), dev)
    assert e.value.task == "om"


def test_batch_rows_not_a_multiple_of_the_tile_are_rejected() -> None:
    leaves = [Tensor("a", (2, 6, 4), 16, "input"), Tensor("b", (2, 4, 4), 16, "input")]
    graph = make_graph("bmm", leaves, [task("x", "matmul", ["a", "b"], (2, 6, 4), shift=8)], ["x"])
    dev = load_device("tiny")
    sched = schedule(graph, dev, mode="sequential")
    cores = tuple(dataclasses.replace(c, pe=(4, 4, 4)) for c in sched.cores)
    bad = dataclasses.replace(sched, cores=cores)  # batch 1 starts at row 6
    with pytest.raises(LoweringError, match=r"4-row tile|aligned to the 4x4 tile") as e:
        build_plan(graph, bad, dev)
    assert e.value.task == "x"


def _beats(plan, task: str) -> int:
    return sum(math.prod(i.bounds) for lst in plan.instrs.values() for i in lst if i.task == task)


def test_instruction_beats_meet_the_cost_model() -> None:
    """Issue slots of the built instructions = the cost model's `sfu_beats`: upsample one beat
    per lanes results of each row, maxpool two input beats per result beat; a batched matmul's
    PE tiles."""
    g = Graph("even")
    x = g.input((2, 4, 8), "i16", name="x")
    g.output(g.maxpool(g.upsample(x, name="up"), name="pool"))
    w = g.input((2, 8, 8), "i16", name="w")
    g.output(g.matmul(x, w, shift=8, out="i16", name="bmm"))
    graph = task_graph_of(g)
    dev = load_device("tiny")
    sched = schedule(graph, dev, mode="sequential")
    plan = build_plan(graph, sched, dev)
    lanes = {s.kind: s.lanes for s in sched.sfus}
    for t, kind in (("up", "upsample"), ("pool", "maxpool")):
        want = cost.sfu_beats(kind, graph.tensors[t].shape, lanes[kind])
        assert _beats(plan, t) == want
        assert want == 256 // lanes[kind]  # upsample: 256 results; maxpool: 256 inputs
    bmm = graph.task("bmm")
    for a in (a for ph in sched.phases for a in ph.assigns if a.task == "bmm"):
        pe = next(c.pe for c in plan.cores if c.name == a.unit)
        gemm = slice_gemm(graph, bmm, a.slice[0], a.slice[2] - a.slice[1])
        mine = sum(math.prod(i.bounds) for i in plan.instrs[a.unit] if i.task == "bmm")
        assert mine == cost.pe_tiles(gemm, pe)
