"""The cost model against hand-computed cases (the arithmetic is written next to each)."""

import pytest

from intar.scheduling import ScheduleError, load_device, make_graph, schedule, task, validate
from intar.scheduling.cost import (
    DEFAULT_PARAMS,
    core_beat_elements,
    core_cycles,
    fifo_depth,
    offchip_beats,
    pe_bounds,
    pe_fill,
    pe_tiles,
    pipeline_cycles,
    port_cycles,
    rate_mismatch,
    roofline_cycles,
    sfu_beats,
    sfu_cycles,
    sfu_lag,
)
from intar.scheduling.problem import (
    Gemm,
    Tensor,
    conv_row_windows,
    gemm_dims,
    macs,
    slice_gemm,
    volume_profile,
)
from intar.scheduling.search import TRANSPOSE_MIN_GAIN, _schedule_as_stored


def test_fill_constant() -> None:
    # ready register 1 + read 4 + multiplier 3 + adder tree ceil(log2 d3) + accumulate 1 +
    # requantize 2 + path 2
    assert pe_fill(1) == 5 + 3 + 0 + 1 + 2 + 2 == 13
    assert pe_fill(8) == 5 + 3 + 3 + 1 + 2 + 2 == 16
    assert pe_fill(9) == 5 + 3 + 4 + 1 + 2 + 2 == 17


def test_core_cycles_hand_computed() -> None:
    # 10x10x10 on 4x4x4: ceil(10/4)^3 = 27 tiles + fill (5+3+2+1+2+2 = 15) = 42
    assert core_cycles(Gemm(1, 10, 10, 10), (4, 4, 4)) == 27 + 15
    # batch 2 of [4,8]x[8,4] on 4x4x8: 2*1*1*1 = 2 tiles + fill 16 = 18
    assert core_cycles(Gemm(2, 4, 4, 8), (4, 4, 8)) == 18
    # bounds fold the batch into i: (2*1, 1, 1)
    assert pe_bounds(Gemm(2, 4, 4, 8), (4, 4, 8)) == (2, 1, 1)
    # a vector layer: 1x256 times 256x1024 on (1,32,1): 1*32*256 = 8192 + fill 13
    assert core_cycles(Gemm(1, 1, 1024, 256), (1, 32, 1)) == 8192 + 13


def test_conv_gemm_views() -> None:
    leaves = [
        Tensor("x", (3, 8, 8), 16, "input"),
        Tensor("w", (4, 3, 3, 3), 16, "weight"),
        Tensor("z", (2, 5, 5), 16, "input"),
        Tensor("wt", (2, 3, 4, 4), 16, "weight"),
    ]
    g = make_graph(
        "convs",
        leaves,
        [
            task("c", "conv2d", ("x", "w"), (4, 8, 8), padding=1),
            task("t", "conv_transpose2d", ("z", "wt"), (3, 8, 8)),
        ],
        ["c", "t"],
    )
    c, t = g.tasks
    # M = 4 output channels, N = 8*8 output pixels in 8 rows, K = 3*3 taps of 3 channels;
    # the first and last output rows skip one kernel row (3 taps) of padding each
    assert gemm_dims(g, c) == Gemm(1, 4, 64, 27, 8, 9, 6)
    assert macs(g, c) == 64 * 4 * 27
    # tiles never cross an output row, and each tap pads its channels to whole k tiles:
    # ceil(4/2) * 8*ceil(8/3) * 9*ceil(3/2), less ceil(4/2) * ceil(8/3) * 6*ceil(3/2)
    assert pe_tiles(gemm_dims(g, c), (2, 3, 2)) == 2 * 24 * 18 - 2 * 3 * 6 * 2
    assert pe_tiles(gemm_dims(g, c), (4, 8, 3)) == 1 * 8 * 9 - 6
    # transposed conv: (5-1)*1 + 4 = 8; the equivalent direct conv has K = 4*4 taps of 2,
    # padded by 3 rows: rows 0-2 and 5-7 skip 3, 2, 1 kernel rows of 4 taps
    assert gemm_dims(g, t) == Gemm(1, 3, 64, 32, 8, 16, 12 * 4)
    # a slice of output rows skips only its own rows' taps
    assert slice_gemm(g, t, 1, 3, 0) == Gemm(1, 3, 24, 32, 3, 16, 6 * 4)
    assert slice_gemm(g, t, 1, 2, 3) == Gemm(1, 3, 16, 32, 2, 16, 0)
    # useful MACs: every input pixel (2*5*5) scatters into 3*4*4 outputs
    assert macs(g, t) == 2 * 25 * 3 * 16
    prof = {v.task: v for v in volume_profile(g)}
    assert prof["c"].consumed_bytes == 3 * 64 * 2 and prof["c"].weight_bytes == 108 * 2
    assert prof["c"].produced_bytes == 4 * 64 * 2


def test_conv_row_windows() -> None:
    """Each output row walks the kernel rows whose input rows are in the image; a conv
    whose padding rows are too few to be worth more instructions walks them all."""
    # conv_transpose2d 5 -> 8 rows, 4x4 kernel: the direct conv pads 3 rows on each side
    assert conv_row_windows("conv_transpose2d", 5, 4, 0, 8) == (
        (3, 4), (2, 4), (1, 4), (0, 4), (0, 4), (0, 3), (0, 2), (0, 1),
    )  # fmt: skip
    # padding 1: 2 of 24 kernel rows skipped (8%), worth it; of 3 * 64 (1%), not
    assert conv_row_windows("conv2d", 8, 3, 1, 8)[0] == (1, 3)
    assert conv_row_windows("conv2d", 64, 3, 1, 64) is None
    assert conv_row_windows("conv2d", 8, 3, 0, 6) is None  # no padding
    # a row that meets only padding keeps one kernel row (it reads zeros)
    assert conv_row_windows("conv2d", 2, 2, 3, 7)[0] == (1, 2)


def test_sfu_cycles() -> None:
    path = DEFAULT_PARAMS.sfu_path  # read, skid FIFO and write around the unit
    # softmax 256x256, 4 lanes: 65536/4 beats + its first row's two passes (2*64 + 2*2 + 58)
    assert sfu_cycles("softmax", (256, 256), 256, 4) == 16384 + 128 + 4 + 58 + path
    # maxpool is input-bound: rows 2r and 2r + 1 per result beat of 2: 2 * 4 * 2 + 2
    assert sfu_cycles("maxpool", (1, 4, 4), 8, 4) == 16 + 2 + path
    # upsample is output-bound: 64 outputs / 4 + 2
    assert sfu_cycles("upsample", (1, 8, 8), 4, 4) == 16 + 2 + path
    assert sfu_cycles("relu", (10,), 10, 3) == 4 + 2 + path
    # layernorm rows of 12 on 4 lanes: 3 beats + 2 tree levels + 43
    assert sfu_cycles("layernorm", (6, 12), 12, 4) == 18 + 48 + path
    # every row ends in a partial beat: 17 columns on 4 lanes are 5 beats a row
    assert sfu_beats("relu", (24, 17), 4) == 24 * 5
    assert sfu_lag("relu", 17, 4) == 2 + path


def test_offchip_beats_pad_rows() -> None:
    assert offchip_beats((24, 17), 16, 64) == 24 * 5  # 4 elements a beat, 5 beats a row
    assert offchip_beats((17,), 16, 64) == 5
    assert offchip_beats((2, 8, 32), 16, 256) == 16 * 2


def test_port_cycles() -> None:
    assert port_cycles([0], 32, 10) == 0
    assert port_cycles([33, 64], 32, 10) == 2 + 10


def test_rate_mismatch() -> None:
    # slow producer: consumer starts after 1% of 1000 = 10 cycles (its last element readable
    # as it is written, one cycle earlier), ends 1% of 400 = 4 after (again one earlier)
    assert rate_mismatch(1000, 400, 0.01) == (1003, 9)
    # slow consumer: starts at 3, runs 1000 -> 1003
    assert rate_mismatch(400, 1000, 0.01) == (1003, 3)
    # a full buffer is sequential
    assert rate_mismatch(400, 1000, 1.0) == (1400, 400)
    t = pipeline_cycles([("a", 100), ("b", 50), ("c", 80)], [("a", "b", 0.1), ("b", "c", 0.5)])
    # b: start 9, finish max(59, 100 + 4) = 104; c: start 9 + 24 = 33,
    # finish max(33 + 80, 104 + 39) = 143
    assert (t.start["b"], t.finish["b"], t.start["c"], t.cycles) == (9, 104, 33, 143)
    # b follows the first 20% of its work to a's end, then runs at its own pace: half of
    # b's output is out no sooner than a's end + 30, not at b's start + 50 (each streamed
    # hop 1 cycle sooner: an element is readable as it is written)
    t = pipeline_cycles(
        [("a", 100), ("b", 100), ("c", 50)], [("a", "b", 0.5, 0.8), ("b", "c", 0.5)]
    )
    assert (t.start["b"], t.finish["b"]) == (49, 100 + 80 - 1)
    assert (t.start["c"], t.cycles) == (100 + 30 - 1 - 1, 179 + 25 - 1)
    # a full buffer's reader keeps start(p) + T_p (its rows complete as they are written)
    t = pipeline_cycles([("a", 100), ("b", 100), ("c", 50)], [("a", "b", 1.0), ("b", "c", 1.0)])
    assert (t.start["b"], t.start["c"]) == (100, 200)


def test_pipeline_lags_add_along_a_chain() -> None:
    # three 1-beat-window stages of 64 beats, each with a lag of 6 (read to result written):
    # each starts when its producer's first result is written, each ends a lag after it
    stages = [(n, 64 + 6) for n in "abc"]
    edges = [("a", "b", 1 / 64), ("b", "c", 1 / 64)]
    t = pipeline_cycles(stages, edges, lags=dict.fromkeys("abc", 6))
    assert (t.start["b"], t.start["c"]) == (6, 12)
    assert t.cycles == 12 + 70
    # without lags the chain overlaps as if results came out with their inputs: each stage
    # trails its producer by its one-beat window only
    assert pipeline_cycles(stages, edges).cycles == 72


def test_fifo_and_beats() -> None:
    assert fifo_depth(5, 1024) == 10
    assert fifo_depth(0, 1024) == 2
    assert fifo_depth(1000, 64) == 64
    # a 4x4 tile every ceil(64/4) = 16 cycles needs 1 element/cycle
    assert core_beat_elements((4, 4, 4), 64) == 1
    # an 8x8 tile every 2 cycles needs 32 elements/cycle
    assert core_beat_elements((8, 8, 1), 2) == 32


def test_roofline() -> None:
    assert roofline_cycles(1000, 10, 6400, 32) == 200  # memory-bound: 6400/32
    assert roofline_cycles(100000, 10, 64, 32) == 10000  # compute-bound


def _one_matmul():
    leaves = [Tensor("x", (4, 16), 16, "input"), Tensor("w", (16, 8), 16, "weight")]
    return make_graph("mm", leaves, [task("y", "matmul", ("x", "w"), (4, 8))], ["y"])


def test_search_uses_the_formulas() -> None:
    g = _one_matmul()
    dev = load_device("tiny")
    # six DSPs: one core (more, smaller ones would lose to their shared output write port);
    # the weight as given ([K, N], see the next test for it transposed)
    s = _schedule_as_stored(g, frozenset(), dev, 6, 2, "sequential", DEFAULT_PARAMS, None)
    validate(s, g)
    assert len(s.phases) == 1 and len(s.cores) == 1
    pe = s.cores[0].pe
    # ports (greedy, largest first): w 256 B -> port0; x 128 B and y 64 B -> port1.
    # x arrives after 128/8 = 16 cycles, w after 256/8 = 32 (row by row); latency 4 once.
    # k-outer follows the weight (its last k step, I*J tiles, after w's last row) but its
    # first k step needs a column block of every x row; i-outer needs all of w for its
    # first tile. The search takes the order that finishes first.
    compute = core_cycles(Gemm(1, 4, 8, 16), pe)
    bi, bj, bk = pe_bounds(Gemm(1, 4, 8, 16), pe)
    fill = pe_fill(pe[2])
    work = bi * bj * bk
    # neither order starts before its first x row block (d1 rows of 32 B) is in; k-outer
    # also waits for the first weight k block (d3 rows of 16 B)
    x_head, w_head = -(-pe[0] * 32 // 8), -(-pe[2] * 16 // 8)
    ijk = max(x_head + work, 32 + work - bk, 16 + bj * bk)
    kij = max(x_head + work, w_head + work, 32 + bi * bj, 16 + bi * bj * (bk - 1))
    order = "kij" if bi * bj >= 2 and bk >= 2 and kij < ijk else "ijk"
    assert dict(s.loop_orders)["y"] == order
    if order == "kij":
        ready = max(32 + bi * bj, 16 + bi * bj * (bk - 1)) + fill
        ready = max(ready, w_head + compute, x_head + compute)
    else:
        ready = max(32 + work - bk, 16 + bj * bk) + fill
        ready = max(ready, x_head + compute)
    # latency 4 and the load path; then y's store: the rows still to store after the last
    # result (8 elements, 2 beats of 4, each) follow the store path: its last row block of d1
    # rows, or every row when k-outer (all of them complete in the last k step); then the
    # phase's end (the registered done flags)
    p = DEFAULT_PARAMS
    after = 2 * (4 if order == "kij" else min(pe[0], 4))
    path = 4 + p.load_path + p.store_path + p.phase_end
    assert s.phases[0].cycles == max(compute, ready) + path + after
    assert s.predicted_cycles == s.phases[0].cycles
    # roofline: 512 MACs / 6 DSPs = 86; 448 compulsory bytes / (2 * 8) = 28 -> 86
    assert s.roofline_cycles == 86
    assert s.offchip_traffic_bytes == 128 + 256 + 64


def test_search_orders_a_transposed_weight_by_the_formulas() -> None:
    """Stored [N, K] = [8, 16] (32 B rows), w arrives column block by column block: j-outer
    follows it (after its last byte, the last column block's I tiles) but needs all of x
    first; i-outer needs its first d2 rows, then all of w after the first row block."""
    g = _one_matmul()
    dev = load_device("tiny")
    t = _schedule_as_stored(g, frozenset({"w"}), dev, 6, 2, "sequential", DEFAULT_PARAMS, None)
    validate(t, g)
    assert [b.tensor for b in t.buffers if b.transposed] == ["w"]
    pe = t.cores[0].pe
    bi, bj, bk = pe_bounds(Gemm(1, 4, 8, 16), pe)
    work = bi * bj * bk
    x_head, w_head = -(-pe[0] * 32 // 8), -(-pe[1] * 32 // 8)
    ijk = max(x_head + work, w_head + work, 32 + (bi - 1) * bj * bk + bk, 16 + bj * bk)
    jik = max(w_head + work, 32 + bi * bk, 16 + work)
    order = "jik" if bi >= 2 and bj >= 2 and jik < ijk else "ijk"
    assert dict(t.loop_orders).get("y", "ijk") == order
    # `schedule` keeps the transposition only if it gains TRANSPOSE_MIN_GAIN
    given = _schedule_as_stored(g, frozenset(), dev, 6, 2, "sequential", DEFAULT_PARAMS, None)
    best = schedule(g, dev, dsp_budget=6, port_budget=2, mode="sequential")
    gains = t.predicted_cycles * (1 + TRANSPOSE_MIN_GAIN) < given.predicted_cycles
    assert any(b.transposed for b in best.buffers) == gains
    assert best.predicted_cycles == (t if gains else given).predicted_cycles


def test_infeasible_budgets_name_the_shortfall() -> None:
    g = _one_matmul()
    dev = load_device("tiny")
    with pytest.raises(ScheduleError) as e:
        schedule(g, dev, dsp_budget=0)
    assert (e.value.resource, e.value.needed, e.value.available) == ("dsp", 1, 0)
    with pytest.raises(ScheduleError) as e:
        schedule(g, dev, dsp_budget=65)
    assert (e.value.resource, e.value.needed, e.value.available) == ("dsp", 65, 64)
    with pytest.raises(ScheduleError) as e:
        schedule(g, dev, port_budget=0)
    assert e.value.resource == "ports" and e.value.needed == 1
    with pytest.raises(ScheduleError) as e:
        schedule(g, dev, onchip_budget=64)
    assert e.value.resource == "onchip_bytes"
    assert e.value.needed > e.value.available == 64
    assert "short by" in str(e.value)


def test_dataflow_needs_a_dsp_per_pe_task() -> None:
    leaves = [Tensor("x", (4, 8), 16, "input")]
    leaves += [Tensor(f"w{i}", (8, 8), 16, "weight") for i in range(3)]
    tasks = [task("h0", "matmul", ("x", "w0"), (4, 8))]
    tasks += [task(f"h{i}", "matmul", (f"h{i - 1}", f"w{i}"), (4, 8)) for i in (1, 2)]
    g = make_graph("chain", leaves, tasks, ["h2"])
    with pytest.raises(ScheduleError) as e:
        schedule(g, load_device("tiny"), dsp_budget=2, mode="dataflow")
    assert (e.value.resource, e.value.needed, e.value.available) == ("dsp", 3, 2)
    # sequential needs only one core
    assert schedule(g, load_device("tiny"), dsp_budget=2, mode="sequential").dsps_used <= 2


def test_default_params_are_the_documented_ones() -> None:
    p = DEFAULT_PARAMS
    assert (p.read_latency, p.mult_stages, p.accumulate_stages, p.writeback_stages) == (5, 3, 1, 2)
    assert p.switch_cycles == 4
