"""The search: patterns, switches, baselines, the paper kernels, random graphs."""

from __future__ import annotations

import dataclasses
import functools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from intar.kernels import KERNELS, PAPER_DSP_BUDGETS, PAPER_PORTS, task_graph
from intar.scheduling import (
    ScheduleError,
    Tensor,
    load_device,
    make_graph,
    schedule,
    task,
    validate,
)
from intar.scheduling.cost import DEFAULT_PARAMS
from intar.scheduling.gantt import render_gantt, to_dot
from intar.scheduling.problem import transposable_weights, with_transposed_weights
from intar.scheduling.search import _schedule, _schedule_as_stored

U280 = load_device("u280")
TINY = load_device("tiny")
# one HBM pseudo-channel per kernel argument, as in the paper's designs
PAPER_KERNELS = {name: functools.partial(task_graph, name) for name in KERNELS}


def patterns(s) -> list[str]:
    return [p.pattern for p in s.phases]


def test_sequential_pattern() -> None:
    leaves = [Tensor("x", (64, 64), 16, "input"), Tensor("w", (64, 64), 16, "weight")]
    g = make_graph("one", leaves, [task("y", "matmul", ("x", "w"), (64, 64))], ["y"])
    s = schedule(g, TINY, dsp_budget=32, port_budget=2)
    validate(s, g)
    assert patterns(s) == ["sequential"] and s.switches == ()
    # with several cores, every core computes a slice of the result
    s2 = schedule(g, TINY, dsp_budget=32, port_budget=2, mode="sequential")
    assert {a.unit for a in s2.phases[0].assigns} == {c.name for c in s2.cores}


def test_task_parallel_pattern() -> None:
    # two independent vector dot products: neither can be split over two cores
    leaves = [Tensor("x", (1, 256), 16, "input")]
    leaves += [Tensor(f"w{i}", (256, 1), 16, "weight") for i in range(2)]
    tasks = [task(f"y{i}", "matmul", ("x", f"w{i}"), (1, 1)) for i in range(2)]
    g = make_graph("par", leaves, tasks, ["y0", "y1"])
    s = schedule(g, TINY, dsp_budget=32, port_budget=2)
    validate(s, g)
    assert "task_parallel" in patterns(s)
    seq = schedule(g, TINY, dsp_budget=32, port_budget=2, mode="sequential")
    assert s.predicted_cycles < seq.predicted_cycles


def test_task_pipeline_pattern_with_switches() -> None:
    g = PAPER_KERNELS["self_attention"]()
    s = schedule(g, U280, dsp_budget=43, port_budget=7)
    validate(s, g)
    assert "task_pipeline" in patterns(s) and "sequential" in patterns(s)
    # QK^T streams into the softmax SFU through a link
    pipe = next(p for p in s.phases if p.pattern == "task_pipeline")
    links = {ln.name: ln for ln in s.links}
    sm = next(a for a in pipe.assigns if a.task == "softmax")
    assert sm.sources[0] in links and links[sm.sources[0]].source.startswith("cc")
    # one switch between each consecutive pair, a few cycles each
    assert len(s.switches) == len(s.phases) - 1
    for sw, (a, b) in zip(s.switches, zip(s.phases, s.phases[1:], strict=False), strict=True):
        assert (sw.from_phase, sw.to_phase) == (a.name, b.name) and 0 < sw.cycles <= 8


def test_mlp_pipelines_the_layers() -> None:
    g = PAPER_KERNELS["mlp"]()
    s = schedule(g, U280, dsp_budget=32, port_budget=5)
    validate(s, g)
    assert "task_pipeline" in patterns(s)
    assert ("fc2", "kij") in s.loop_orders or ("fc3", "kij") in s.loop_orders


def test_split_layers_stripe_their_weights_over_ports() -> None:
    """At int16 one core of d2 lanes eats a d2*2-byte weight row slice per cycle: the MLP's
    4 MB w2 behind one 32 B/cycle port takes 131k cycles whatever the cores do. Split over
    the cores, each core's columns sit behind a port of their own and load side by side."""
    g = PAPER_KERNELS["mlp"]()
    s = schedule(g, U280, dsp_budget=32, port_budget=5)
    validate(s, g)
    stripes: dict[str, list] = {}
    for b in s.buffers:
        if b.slice is not None:
            stripes.setdefault(b.tensor, []).append(b)
    assert set(stripes) == {"w1", "w2", "w3"}
    for name, parts in stripes.items():
        assert len({b.home for b in parts}) == len(parts) >= 2  # one port per stripe
        assert sum(b.bytes for b in parts) == g.bytes(name)
        assert all(b.slice[0] == 1 for b in parts)  # [K, N] weights: column stripes
        readers = [a for ph in s.phases for a in ph.assigns if a.task in g.consumers(name)[0].name]
        assert sorted(a.slice[1:] for a in readers) == sorted(b.slice[1:] for b in parts)
    # w2 alone needs 131,072 port cycles on one port; striped, the whole MLP is faster
    assert s.predicted_cycles < 4 * 1024 * 1024 // 32
    assert s.predicted_cycles < 1.05 * s.roofline_cycles


def test_no_stripes_for_a_weight_with_several_readers() -> None:
    leaves = [Tensor("x", (1, 64), 16, "input"), Tensor("w", (64, 256), 16, "weight")]
    tasks = [task("a", "matmul", ("x", "w"), (1, 256)), task("b", "matmul", ("x", "w"), (1, 256))]
    g = make_graph("shared", leaves, tasks, ["a", "b"])
    s = schedule(g, TINY, dsp_budget=32, port_budget=2)
    validate(s, g)
    assert all(b.slice is None for b in s.buffers)


def test_spill_when_onchip_is_short() -> None:
    leaves = [Tensor("x", (32, 64), 16, "input"), Tensor("w1", (64, 256), 16, "weight")]
    leaves.append(Tensor("w2", (256, 8), 16, "weight"))
    tasks = [
        task("h", "matmul", ("x", "w1"), (32, 256)),
        task("r", "gelu", ("h",), (32, 256), frac_bits=8),
        task("y", "matmul", ("r", "w2"), (32, 8)),
    ]
    g = make_graph("spill", leaves, tasks, ["y"])
    roomy = schedule(g, TINY, dsp_budget=32, port_budget=2, mode="sequential")
    tight = schedule(
        g, TINY, dsp_budget=32, port_budget=2, mode="sequential", onchip_budget=12 * 1024
    )
    validate(roomy, g)
    validate(tight, g)
    assert {b.tensor for b in tight.buffers if b.placement == "offchip"} > {
        b.tensor for b in roomy.buffers if b.placement == "offchip"
    }
    assert tight.offchip_traffic_bytes > roomy.offchip_traffic_bytes
    assert tight.predicted_cycles >= roomy.predicted_cycles


@pytest.mark.parametrize("name", sorted(PAPER_KERNELS))
def test_paper_kernels(name: str) -> None:
    g = PAPER_KERNELS[name]()
    budget, ports = PAPER_DSP_BUDGETS[name], PAPER_PORTS[name]
    out = {}
    for mode in ("intar", "dataflow", "sequential"):
        # (search time is a benchmark figure: intar bench schedule reports it)
        s = schedule(g, U280, dsp_budget=budget, port_budget=ports, mode=mode)
        validate(s, g)
        assert s.mode == mode and s.dsps_used <= budget and len(s.ports) <= ports
        assert s.predicted_cycles >= s.roofline_cycles
        out[mode] = s
    assert out["intar"].predicted_cycles <= min(
        out["dataflow"].predicted_cycles, out["sequential"].predicted_cycles
    )
    assert out["intar"].gap_to_roofline >= 1.0


def test_intar_equals_dataflow_when_dataflow_is_best() -> None:
    """A long stream through two small matmuls: the plain pipeline is best, and the intar
    search returns it rather than something slower."""
    m, k = 1024, 16
    leaves = [
        Tensor("x", (m, k), 16, "input"),
        Tensor("w0", (k, k), 16, "weight"),
        Tensor("w1", (k, k), 16, "weight"),
    ]
    tasks = [
        task("h", "matmul", ["x", "w0"], (m, k), shift=8),
        task("r", "relu", ["h"], (m, k)),
        task("y", "matmul", ["r", "w1"], (m, k), shift=8),
    ]
    g = make_graph("stream", leaves, tasks, ["y"])
    tiny = load_device("tiny")
    df = schedule(g, tiny, mode="dataflow")
    seq = schedule(g, tiny, mode="sequential")
    it = schedule(g, tiny)
    assert df.predicted_cycles < seq.predicted_cycles
    assert it.predicted_cycles == df.predicted_cycles


def test_deterministic(tmp_path) -> None:
    g = PAPER_KERNELS["vae"]()
    a = schedule(g, U280, dsp_budget=239, port_budget=9)
    b = schedule(g, U280, dsp_budget=239, port_budget=9)
    assert a == b
    p1, p2 = tmp_path / "a.png", tmp_path / "b.png"
    render_gantt(a, p1)
    render_gantt(b, p2)
    assert p1.read_bytes() == p2.read_bytes() and p1.read_bytes()[:4] == b"\x89PNG"
    dot = to_dot(g)
    assert dot == to_dot(PAPER_KERNELS["vae"]()) and '"enc1" -> "enc1_relu"' in dot
    assert '[label="14112 B"]' in dot  # enc1: 16 * 21 * 21 * 2 bytes


def test_gantt_bars_name_a_few_tasks_and_count_the_rest() -> None:
    from intar.scheduling.gantt import BAR_LABEL_CHARS, _bar_label

    assert _bar_label(["qk", "softmax"]) == "qk,softmax"
    many = [f"head{h}_qk" for h in range(64)]
    label = _bar_label(many)
    assert len(label) <= BAR_LABEL_CHARS and label.startswith("head0_qk,")
    shown = label.split(" +")[0].split(",")
    assert shown == many[: len(shown)] and label.endswith(f" +{64 - len(shown)}")


# ---------------------------------------------------------------- random graphs
POINTWISE = ["relu", "gelu", "silu", "exp", "requantize"]


@st.composite
def random_graphs(draw):
    """Chains and DAGs mixing every kind, with consistent shapes."""
    leaves: list[Tensor] = []
    tasks = []
    shapes: dict[str, tuple[int, ...]] = {}
    n_in = 0

    def leaf(shape, role):
        nonlocal n_in
        name = f"{role[0]}{n_in}"
        n_in += 1
        leaves.append(Tensor(name, shape, draw(st.sampled_from([8, 16])), role))
        shapes[name] = shape
        return name

    if draw(st.booleans()):
        cur = leaf((draw(st.integers(1, 12)), draw(st.integers(1, 12))), "input")
    else:
        cur = leaf(
            (draw(st.integers(1, 3)), draw(st.integers(4, 12)), draw(st.integers(4, 12))), "input"
        )
    for i in range(draw(st.integers(1, 7))):
        name = f"t{i}"
        pick = [n for n in shapes if len(shapes[n]) == len(shapes[cur])]
        src = draw(st.sampled_from(sorted(pick))) if draw(st.booleans()) else cur
        sh = shapes[src]
        if len(sh) == 2:
            kind = draw(
                st.sampled_from(
                    [
                        "matmul",
                        "matmul_t",
                        "self_t",
                        "softmax",
                        "layernorm",
                        "add",
                        "mul",
                        "reshape",
                        "transpose",
                        *POINTWISE,
                    ]
                )
            )
            r, c = sh
            if kind == "matmul":
                w = leaf((c, draw(st.integers(1, 12))), "weight")
                t = task(name, "matmul", (src, w), (r, shapes[w][1]))
            elif kind == "matmul_t":
                w = leaf((draw(st.integers(1, 12)), c), "weight")
                t = task(name, "matmul", (src, w), (r, shapes[w][0]), transpose_rhs=True)
            elif kind == "self_t":
                other = draw(st.sampled_from(sorted(n for n in shapes if shapes[n] == sh)))
                t = task(name, "matmul", (src, other), (r, r), transpose_rhs=True)
            elif kind == "softmax":
                t = task(name, "softmax", (src,), sh, frac_bits=8, out_frac_bits=8)
            elif kind == "layernorm":
                gm, bt = leaf((c,), "weight"), leaf((c,), "weight")
                t = task(name, "layernorm", (src, gm, bt), sh, frac_bits=8)
            elif kind in ("add", "mul"):
                same = sorted(n for n in shapes if shapes[n] == sh and n != src)
                other = draw(st.sampled_from(same)) if same else leaf((c,), "weight")
                t = task(name, kind, (src, other), sh)
            elif kind == "reshape":
                t = task(name, "reshape", (src,), (c, r))
            elif kind == "transpose":
                t = task(name, "transpose", (src,), (c, r), perm=(1, 0))
            else:
                t = task(name, kind, (src,), sh, shift=1, frac_bits=8)
        else:
            ch, h, w_ = sh
            kind = draw(
                st.sampled_from(["conv2d", "conv_transpose2d", "upsample", "maxpool", "relu"])
            )
            if kind == "conv2d":
                k = draw(st.integers(1, min(3, h, w_)))
                o, s_, p = draw(st.integers(1, 4)), draw(st.integers(1, 2)), draw(st.integers(0, 1))
                wt = leaf((o, ch, k, k), "weight")
                out = (o, (h + 2 * p - k) // s_ + 1, (w_ + 2 * p - k) // s_ + 1)
                t = task(name, "conv2d", (src, wt), out, stride=s_, padding=p)
            elif kind == "conv_transpose2d":
                k, o = draw(st.integers(1, 3)), draw(st.integers(1, 4))
                wt = leaf((ch, o, k, k), "weight")
                t = task(name, kind, (src, wt), (o, h + k - 1, w_ + k - 1))
            elif kind == "upsample" and h * w_ <= 64:
                t = task(name, "upsample", (src,), (ch, 2 * h, 2 * w_))
            elif kind == "maxpool" and h >= 2 and w_ >= 2:
                t = task(name, "maxpool", (src,), (ch, h // 2, w_ // 2))
            else:
                t = task(name, "relu", (src,), sh)
        tasks.append(t)
        shapes[name] = t.shape
        cur = name
    extra = draw(st.lists(st.sampled_from([t.name for t in tasks]), max_size=2))
    return make_graph("random", leaves, tasks, sorted({cur, *extra}))


@settings(
    max_examples=60,
    deadline=5000,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    random_graphs(),
    st.integers(0, 64),
    st.integers(1, 2),
    st.sampled_from(["intar", "dataflow", "sequential"]),
    st.sampled_from([None, 4096, 65536]),
)
def test_random_graphs_schedule_or_raise(g, dsp, ports, mode, onchip) -> None:
    try:
        s = schedule(g, TINY, dsp_budget=dsp, port_budget=ports, mode=mode, onchip_budget=onchip)
    except ScheduleError as e:
        assert e.needed > e.available
        return
    validate(s, g)
    assert s.dsps_used <= dsp
    assert (
        schedule(g, TINY, dsp_budget=dsp, port_budget=ports, mode=mode, onchip_budget=onchip) == s
    )


def test_each_element_width_gets_ports_of_its_own() -> None:
    # i8 activations and outputs, i4 weights: a port's engines move one element width
    leaves = [Tensor("x", (64, 64), 8, "input")]
    leaves += [Tensor(f"w{i}", (64, 64), 4, "weight") for i in range(3)]
    tasks = [task("h0", "matmul", ("x", "w0"), (64, 64), bits=8)]
    tasks += [task(f"h{i}", "matmul", (f"h{i - 1}", f"w{i}"), (64, 64), bits=8) for i in (1, 2)]
    g = make_graph("w4a8", leaves, tasks, ["h2"])
    for ports in (2, 4):
        s = schedule(g, U280, dsp_budget=64, port_budget=ports)
        widths: dict[str, set[int]] = {}
        for b in s.buffers:
            if b.placement == "offchip":
                widths.setdefault(b.home, set()).add(g.tensors[b.tensor].bits)
        assert all(len(w) == 1 for w in widths.values()), widths
        assert {next(iter(w)) for w in widths.values()} == {4, 8}


def test_pe_candidates_include_conv_output_widths() -> None:
    """A conv's pixel tiles never cross an output row, so a PE width of the row (VAE: 21,
    18, 25, 28) wastes no lanes; those widths are not of the 2^a 3^b form the search tries."""
    from intar.scheduling.search import DEFAULT_PARAMS, _Search

    g = PAPER_KERNELS["vae"]()
    s = _Search(g, U280, 239, 9, DEFAULT_PARAMS, U280.onchip_bytes)
    widths = {t.shape[-1] for t in g.tasks if t.kind in ("conv2d", "conv_transpose2d")}
    assert widths == {21, 18, 25, 28}
    assert widths <= set(s.pe_values(128))
    sched = schedule(g, U280, dsp_budget=239, port_budget=9)
    assert sched.predicted_cycles < 14_000  # 7 x (1, 28, 1) without them: 14,836


def test_pe_lanes_and_reduction_have_separate_caps() -> None:
    """d1 and d2 (independent lanes) go up to `max_pe_lanes`, d3 (the adder tree) up to
    `max_pe_reduction`. CNN-4L's 896-wide conv3 takes 224 lanes on the U280; with lanes
    capped at 128 its pipeline balances on 128 and is about 1.7x slower."""
    g = PAPER_KERNELS["cnn_4l"]()
    wide = schedule(g, U280, dsp_budget=439, port_budget=6)
    narrow_dev = dataclasses.replace(U280, max_pe_lanes=128)
    narrow = schedule(g, narrow_dev, dsp_budget=439, port_budget=6)
    for s, dev in ((wide, U280), (narrow, narrow_dev)):
        for c in s.cores:
            d1, d2, d3 = c.pe
            assert max(d1, d2) <= dev.max_pe_lanes and d3 <= dev.max_pe_reduction
    assert max(c.pe[1] for c in wide.cores) == 224
    assert max(c.pe[1] for c in narrow.cores) == 128
    assert narrow.predicted_cycles > 1.6 * wide.predicted_cycles


def _wide_ffn():
    """h = x . w1 (a 32 KB weight, most of the work), r = relu(h), y = r . w2 (narrow)."""
    leaves = [
        Tensor("x", (48, 64), 16, "input"),
        Tensor("w1", (64, 256), 16, "weight"),
        Tensor("w2", (256, 8), 16, "weight"),
    ]
    tasks = [
        task("h", "matmul", ("x", "w1"), (48, 256), shift=14),
        task("r", "relu", ("h",), (48, 256)),
        task("y", "matmul", ("r", "w2"), (48, 8), shift=16),
    ]
    return make_graph("ffn", leaves, tasks, ["y"])


def test_transposable_weights_and_the_stored_graph() -> None:
    g = _wide_ffn()
    assert transposable_weights(g) == ("w1", "w2")
    t = with_transposed_weights(g, {"w1"})
    assert t.shape("w1") == (256, 64) and t.shape("w2") == (256, 8)
    assert t.task("h").attr("transpose_rhs") is True and t.task("h").shape == (48, 256)
    assert with_transposed_weights(g, set()) is g
    with pytest.raises(ValueError, match="cannot be stored transposed"):
        with_transposed_weights(g, {"x"})
    # conv weights are not candidates, nor a weight that two tasks read or one reads as lhs
    assert transposable_weights(PAPER_KERNELS["cnn_4l"]()) == ()
    leaves = [Tensor("x", (8, 8), 16, "input"), Tensor("w", (8, 8), 16, "weight")]
    two = [task("a", "matmul", ("x", "w"), (8, 8)), task("b", "matmul", ("w", "x"), (8, 8))]
    assert transposable_weights(make_graph("two", leaves, two, ["a", "b"])) == ()
    one = [task("a", "matmul", ("w", "x"), (8, 8))]
    assert transposable_weights(make_graph("lhs", leaves, one, ["a"])) == ()


@pytest.mark.parametrize("mode", ["intar", "sequential"])
def test_search_stores_a_weight_transposed_when_j_outer_streams_it(mode: str) -> None:
    g = _wide_ffn()
    s = schedule(g, TINY, mode=mode)
    validate(s, g)
    assert {b.tensor for b in s.buffers if b.transposed} == {"w1"}
    assert dict(s.loop_orders)["h"] == "jik"
    as_given = _schedule_as_stored(g, frozenset(), TINY, None, None, mode, DEFAULT_PARAMS, None)
    assert not any(b.transposed for b in as_given.buffers)
    assert s.predicted_cycles < as_given.predicted_cycles
    # a weight whose matmul would not run j-outer stays as given
    both = _schedule_as_stored(
        g, frozenset({"w1", "w2"}), TINY, None, None, mode, DEFAULT_PARAMS, None
    )
    assert dict(both.loop_orders).get("y", "ijk") != "jik"


@pytest.mark.parametrize("mode", ["intar", "dataflow", "sequential"])
def test_storage_searches_sharing_group_plans_find_what_each_finds_alone(mode: str) -> None:
    g = PAPER_KERNELS["gating_net"]()
    budget = (PAPER_DSP_BUDGETS["gating_net"], PAPER_PORTS["gating_net"])
    names = transposable_weights(g)
    shared: dict = {}
    for trial in (frozenset(), frozenset(names), *(frozenset({n}) for n in names)):
        args = (U280, *budget, mode, DEFAULT_PARAMS, None)
        alone = _schedule_as_stored(g, trial, *args)
        assert _schedule_as_stored(g, trial, *args, shared) == alone, sorted(trial)
    assert shared  # the later searches found plans to share


def test_gating_net_streams_its_transposed_weights() -> None:
    """At the paper's shapes the [K, N] weights (21 MB each) do not fit on chip beside k-outer
    accumulators; stored transposed, w_up and w_gate stream under j-outer order (w_down
    streams k-outer as given: with it transposed too the banks would not fit the device)."""
    g = PAPER_KERNELS["gating_net"]()
    budget = (PAPER_DSP_BUDGETS["gating_net"], PAPER_PORTS["gating_net"])
    s = schedule(g, U280, dsp_budget=budget[0], port_budget=budget[1])
    validate(s, g)
    assert {b.tensor for b in s.buffers if b.transposed} >= {"w_up", "w_gate"}
    orders = dict(s.loop_orders)
    assert orders["up"] == orders["gate"] == "jik"


def test_validate_rejects_a_transposed_buffer_of_an_input() -> None:
    g = _wide_ffn()
    s = schedule(g, TINY)
    bad = tuple(dataclasses.replace(b, transposed=b.tensor == "x") for b in s.buffers)
    with pytest.raises(ValueError, match=r"\['x'\] stored transposed"):
        validate(dataclasses.replace(s, buffers=bad), g)


@pytest.mark.parametrize("mode", ["intar", "dataflow", "sequential"])
def test_sfu_multipliers_count_against_the_dsp_budget(mode: str) -> None:
    """Self-attention's softmax unit takes the DSPs its hardware takes (3 a lane: its exp's
    three Horner products; e * (1/S) is in the fabric), and cores plus SFUs stay within the
    budget."""
    from intar.hw.sfu_exp import softmax_dsps

    g = PAPER_KERNELS["self_attention"]()
    s = schedule(g, U280, dsp_budget=43, port_budget=7, mode=mode)
    (sm,) = [u for u in s.sfus if u.kind == "softmax"]
    assert sm.dsps == softmax_dsps(sm.lanes) == 3 * sm.lanes
    cores = sum(s.core_dsps(c) for c in s.cores)
    assert s.dsps_used == cores + sum(u.dsps for u in s.sfus) <= 43
    with pytest.raises(ScheduleError, match="dsp"):  # a core and the softmax lane: 1 + 3
        schedule(g, U280, dsp_budget=3, port_budget=7, mode=mode)


def test_a_j_outer_reader_of_a_full_buffer_waits_for_all_of_it() -> None:
    """Self-attention dataflow at the paper's shapes: qk could run j-outer to follow K as
    k_proj makes it, but its first column block then reads every row of Q, complete only
    when q_proj ends, and softmax sees whole rows only when qk ends, so av would run after qk
    instead of beside it. The model once missed that (52.3M cycles predicted, 74.5M
    simulated); now qk runs i-outer and av follows softmax row by row."""
    g = PAPER_KERNELS["self_attention"]()
    budget = (PAPER_DSP_BUDGETS["self_attention"], PAPER_PORTS["self_attention"])
    s = schedule(g, U280, dsp_budget=budget[0], port_budget=budget[1], mode="dataflow")
    assert dict(s.loop_orders)["qk"] == "ijk"
    assert s.predicted_cycles < 60_000_000


def test_the_planned_memories_fit_the_device_block_ram() -> None:
    """The search counts bytes; the hardware's banks can need more BRAM36. The gating net's
    InTAR schedule at the paper's shapes would hold w_gate in 1,712 banks (2,912 BRAM36 in
    all): `_fit_block_ram` searches again with a smaller byte budget until the plan fits."""
    from intar.hw.plan import build_plan
    from intar.hw.resources import bram36_estimate

    g = PAPER_KERNELS["gating_net"]()
    budget = (PAPER_DSP_BUDGETS["gating_net"], PAPER_PORTS["gating_net"])
    s = schedule(g, U280, dsp_budget=budget[0], port_budget=budget[1], mode="intar")
    assert bram36_estimate(build_plan(g, s, U280))[0] <= U280.bram36.count
    first = _schedule(g, U280, *budget, "intar", DEFAULT_PARAMS, None)  # bytes alone
    assert bram36_estimate(build_plan(g, first, U280))[0] > U280.bram36.count
    assert s.predicted_cycles >= first.predicted_cycles


def _solve_one_spill_at_a_time(s, cfg, singletons: bool, whole: bool):
    """Reference for `_solve`: spill the largest intermediates one at a time until it fits."""
    from intar.scheduling import search

    n = len(s.order)
    forced = {t for t in s.outputs if t in s.pos}
    spillable = sorted(
        (t for t in s.pos if t not in forced), key=lambda t: (-s.g.bytes(t), s.pos[t])
    )
    while True:
        off = frozenset(forced)
        max_group = n if n <= 12 else 8
        plan = search._dp(search._Evaluator(s, cfg, off), n, singletons, whole, max_group)
        if plan is not None and search._materialize(s, plan, "probe").onchip_bytes <= s.capacity:
            return plan, off
        if not spillable:
            return None, off
        forced.add(spillable.pop(0))


def _spill_chain():
    leaves = [Tensor("x", (64, 64), 16, "input")]
    leaves += [Tensor("w0", (64, 64), 16, "weight"), Tensor("w1", (64, 128), 16, "weight")]
    leaves.append(Tensor("w2", (128, 192), 16, "weight"))
    tasks = [
        task("h0", "matmul", ("x", "w0"), (64, 64)),
        task("g0", "gelu", ("h0",), (64, 64), frac_bits=8),
        task("h1", "matmul", ("g0", "w1"), (64, 128)),
        task("g1", "relu", ("h1",), (64, 128)),
        task("h2", "matmul", ("g1", "w2"), (64, 192)),
    ]
    return make_graph("chain", leaves, tasks, ["h2"])


def test_the_search_spills_one_at_a_time() -> None:
    """On budgets where only some intermediates go off chip, `schedule` spills as the
    one-at-a-time reference does (no shortcut in the first search)."""
    from intar.scheduling import search

    g = _spill_chain()
    for budget in (32 * 1024, 28 * 1024):
        s = schedule(g, TINY, dsp_budget=32, port_budget=2, onchip_budget=budget)
        spilled = {b.tensor for b in s.buffers if b.placement == "offchip"}
        assert 0 < len(spilled & {"h0", "g0", "h1", "g1"}) < 4
        original = search._solve
        search._solve = _solve_one_spill_at_a_time
        try:
            assert schedule(g, TINY, dsp_budget=32, port_budget=2, onchip_budget=budget) == s
        finally:
            search._solve = original


def test_fit_retries_give_up_early_on_configurations_that_do_not_fit() -> None:
    """The block-RAM fit's retries skip a configuration at once when it does not fit with
    every intermediate spilled: fewer DPs, a schedule that still fits, and never a faster
    one than the full spill search (here a slower one: a few spills fit where all do not)."""
    from intar.scheduling import search

    g, budget = _spill_chain(), 32 * 1024
    args = (TINY, 32, 2, "intar", DEFAULT_PARAMS, budget)
    calls = {"n": 0}
    original = search._dp

    def counted(*a, **k):
        calls["n"] += 1
        return original(*a, **k)

    search._dp = counted
    try:
        full = _schedule(g, *args)
        full_dps, calls["n"] = calls["n"], 0
        quick = _schedule(g, *args, give_up_early=True)
    finally:
        search._dp = original
    validate(quick, g)
    assert quick.onchip_bytes <= budget
    assert calls["n"] < full_dps
    assert quick.predicted_cycles > full.predicted_cycles


def test_a_conv_reading_a_loaded_input_runs_as_its_rows_arrive() -> None:
    """Once a conv's input has fully arrived, it has only the pixel tiles of the output rows
    that read the input's last row left (CNN-4L's conv1: simulated 57,535 cycles)."""
    leaves = [Tensor("x", (1, 224, 224), 16, "input"), Tensor("w", (1, 1, 3, 3), 16, "weight")]
    g = make_graph(
        "conv", leaves, [task("y", "conv2d", ("x", "w"), (1, 224, 224), padding=1)], ["y"]
    )
    s = schedule(g, U280, dsp_budget=8, port_budget=2, mode="sequential")
    (core,) = s.cores
    tiles = 224 * (224 // core.pe[1]) * 9
    load = 224 * 224 * 2 // U280.offchip.bytes_per_cycle
    # the last two output rows read the input's last row; their tiles follow the load
    assert s.predicted_cycles < tiles + load // 2


def test_tiles_before_the_rows_that_read_the_last_input_row() -> None:
    from intar.scheduling.problem import Gemm
    from intar.scheduling.search import _tiles_before_last_rows

    def conv(h: int, w: int, stride: int, pad: int):
        oh = (h + 2 * pad - 3) // stride + 1
        ow = (w + 2 * pad - 3) // stride + 1
        t = task("y", "conv2d", ("x", "w"), (1, oh, ow), stride=stride, padding=pad)
        return t, Gemm(1, 1, oh * ow, 9, oh, 9)

    t, gm = conv(9, 10, 2, 1)  # 5 output rows; row 4 reads input rows 7..9, row 3 rows 5..7
    assert _tiles_before_last_rows(t, 9, 3, gm, (1, 4, 1)) == 4 * 2  # 5 pixels: 2 tiles a row
    t, gm = conv(8, 8, 1, 0)  # valid conv: only the last of 6 output rows reads row 7
    assert _tiles_before_last_rows(t, 8, 3, gm, (1, 6, 1)) == 5
    # a slice taken as the last 2 rows: its first row (4) does not read row 7
    assert _tiles_before_last_rows(t, 8, 3, Gemm(1, 1, 12, 9, 2, 9), (1, 6, 1)) == 1


def test_a_conv_streaming_its_input_follows_it_then_runs_at_its_own_pace() -> None:
    """VAE's dataflow design streams z into dec1, a transposed conv whose first output row
    reads only z's first row (the kernel rows above it meet padding and are skipped). dec1
    follows z to z's last row, then runs the rest of its work at its own pace, and dec2
    reads dec1 whole. `intar bench qor` simulated this design at 26,960 cycles, bit-exact
    (30,184 before its DSPs were refined, predicted within 2.2%). With a start window of KH
    rows of z it was predicted at 32,109 (+6.4%)."""
    g = task_graph("vae", cleanup=True)  # as `intar compile` schedules it
    s = schedule(g, U280, dsp_budget=239, port_budget=9, mode="dataflow")
    assert abs(s.predicted_cycles / 26_960 - 1) < 0.05


def test_intar_is_never_slower_than_a_dataflow_candidate(tmp_path) -> None:
    """The dataflow mode solves several unit-per-task configurations; the InTAR search
    solves them too, so it never predicts more cycles than the dataflow design. `bench sim`'s
    random34 once had a dataflow design predicted at 436 cycles and an InTAR one at 579."""
    import json

    from intar.testing.random_graphs import graph_from_seed
    from intar.tools.flow import CompileOptions, compile_file

    rg = graph_from_seed(34)
    src = tmp_path / f"{rg.name}.mlir"
    src.write_text(rg.mlir)
    cycles = {}
    for mode in ("intar", "dataflow", "sequential"):
        assert compile_file(str(src), tmp_path / mode, CompileOptions("tiny", mode=mode))
        cycles[mode] = json.loads((tmp_path / mode / "report.json").read_text())["predicted_cycles"]
    assert cycles["intar"] <= min(cycles["dataflow"], cycles["sequential"]), cycles


def test_the_dataflow_refinement_moves_dsps_and_keeps_the_plan_shape() -> None:
    """The small MLP's dataflow design: equal task times leave fc1 (k-outer, so ahead of fc2
    and fc3 rather than beside them) short of DSPs. The refinement gives it more, within the
    budget, with every loop order and streamed edge as before, and the dataflow mode returns
    the refined plan."""
    from intar.scheduling.search import (
        _candidates,
        _refine_dataflow,
        _shape,
        _solve_candidate,
        prepare_job,
    )

    graph, dev = task_graph("mlp", small=True), load_device("tiny")
    job = (graph, frozenset(), dev, None, None, "dataflow", DEFAULT_PARAMS, None)
    s, _ = prepare_job(job, False, None)
    plans = [_solve_candidate(s, cfg, one, whole) for cfg, one, whole in _candidates(s, "dataflow")]
    start = min((p for p in plans if p is not None), key=lambda p: p.cycles)
    refined = _refine_dataflow(s, start)
    assert refined.cycles < 0.9 * start.cycles
    assert _shape(refined) == _shape(start)
    fc1 = [t.name for t in s.pe_tasks].index("fc1")
    assert refined.cfg.cores[fc1] != start.cfg.cores[fc1]
    assert s.core_dsps(refined.cfg) + s.sfu_dsps(refined.cfg) <= s.dsp_budget
    assert schedule(graph, dev, mode="dataflow").predicted_cycles <= refined.cycles
    assert schedule(graph, dev, mode="intar").predicted_cycles <= refined.cycles
