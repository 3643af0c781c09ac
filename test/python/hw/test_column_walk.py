"""Column-walking SFUs: a pointwise SFU between matmuls whose rows fit one row block walks its
tensors column by column ((lanes, 1) tiles, loop order jik), so that a k-outer matmul reading
its result follows it (`intar.scheduling.search._Evaluator._column_walks`)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from design_harness import simulate_graph, task_graph_of

from intar.frontend.builder import Graph
from intar.hw.plan import LoweringError, build_plan, walks_columns
from intar.kernels import task_graph
from intar.scheduling import cost, load_device, schedule


def gated(rows: int) -> Graph:
    """silu(x·w_up) ⊙ (x·w_gate), then ·w_down: the gating net with `rows` rows."""
    g = Graph("gated")
    x = g.input((rows, 32), "i16", name="x")
    up = g.matmul(x, g.weight((32, 64), name="w_up"), shift=18, out="i16", name="up")
    gate = g.matmul(x, g.weight((32, 64), name="w_gate"), shift=18, out="i16", name="gate")
    act = g.silu(up, frac_bits=10, name="silu")
    glu = g.mul(act, gate, shift=15, out="i16", name="glu")
    g.output(g.matmul(glu, g.weight((64, 32), name="w_down"), shift=18, out="i16", name="down"))
    return g


def test_column_walkers_follow_their_producers_bit_exact(tmp_path: Path) -> None:
    """16 rows on 4 lanes: four (4, 1) tiles per column, so a column completes with its last
    tile, not its first; the design is still bit-exact and the model agrees with it."""
    graph = task_graph_of(gated(16))
    dev = load_device("tiny")
    sched = schedule(graph, dev, mode="dataflow")
    assert dict(sched.loop_orders)["silu"] == "jik"
    assert dict(sched.loop_orders)["down"] == "kij"
    plan = build_plan(graph, sched, dev)
    walkers = [i for lst in plan.instrs.values() for i in lst if walks_columns(i)]
    assert sorted(i.task for i in walkers) == ["glu", "silu"]
    lanes = {s.name: s.lanes for s in sched.sfus}
    for ins in walkers:
        assert ins.out_shape == (lanes[ins.unit], 1) and ins.bounds == (64, 16 // 4, 1)
        # the instruction's beats are the cost model's (lanes, 1)-tile walk
        assert ins.bounds[0] * ins.bounds[1] == cost.sfu_beats(ins.kind, (64, 16), lanes[ins.unit])
        for buf in plan.buffers.values():
            for wr in buf.writers:
                if wr.source == ins.unit:
                    assert wr.col_order and wr.block_rows == 16
    rep = simulate_graph(gated(16), tmp_path, mode="dataflow")
    # down follows glu column by column: the phase ends before up and down could one after
    # the other (each alone: 64 x 32 tiles of a 16x1x1 core)
    assert rep["cycles"] < 2 * 64 * 32


def test_rows_walk_where_columns_do_not_help() -> None:
    """No column walk in the sequential design (each task alone), nor for one row (a row walker
    follows a one-row producer anyway)."""
    dev = load_device("tiny")
    seq = schedule(task_graph_of(gated(16)), dev, mode="sequential")
    assert "jik" not in {o for t, o in seq.loop_orders if t in ("silu", "glu")}
    one = schedule(task_graph_of(gated(1)), dev, mode="dataflow")
    assert "jik" not in {o for t, o in one.loop_orders if t in ("silu", "glu")}


def test_the_gating_dataflow_baseline_overlaps_its_three_matmuls() -> None:
    """At the paper's shapes up and gate run on 32x1x1 cores (their 32 rows in one block), the
    SFUs walk columns and down follows k-outer: about one matmul's time, not two (90.3 M
    cycles before the column walk)."""
    graph = task_graph("gating_net", cleanup=True)
    sched = schedule(graph, load_device("u280"), mode="dataflow", dsp_budget=109, port_budget=5)
    orders = dict(sched.loop_orders)
    assert (orders["silu"], orders["glu"], orders["down"]) == ("jik", "jik", "kij")
    one_matmul = 32 * 4096 * 11008 // 32  # MACs over a 32-DSP core
    assert one_matmul < sched.predicted_cycles < 1.01 * one_matmul


def test_a_column_walk_the_template_cannot_build_is_a_located_error() -> None:
    """A schedule may only ask a pointwise SFU to walk columns over whole operands of its
    result's shape; a broadcast bias row is refused, naming the task."""
    g = Graph("biased")
    x = g.input((8, 16), "i16", name="x")
    h = g.matmul(x, g.weight((16, 16), name="w"), shift=12, out="i16", name="h")
    g.output(g.add(h, g.weight((16,), name="bias"), name="y"))
    graph = task_graph_of(g)
    dev = load_device("tiny")
    sched = schedule(graph, dev, mode="dataflow")
    forced = dataclasses.replace(sched, loop_orders=(*sched.loop_orders, ("y", "jik")))
    with pytest.raises(LoweringError, match="column walk reads whole untransposed") as err:
        build_plan(graph, forced, dev)
    assert err.value.task == "y"
