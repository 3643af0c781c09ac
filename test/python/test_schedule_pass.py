"""intar-schedule on random graphs: a verified design or a diagnostic, never a crash."""

from __future__ import annotations

import dataclasses

import pytest
from circt import ir
from hypothesis import given
from hypothesis import strategies as st

from intar.analysis.design import schedule_of
from intar.diagnostics import DiagnosticCollector
from intar.dialects import intar
from intar.frontend import Graph
from intar.ir import make_context
from intar.kernels import KERNELS, task_graph
from intar.passes import run_pipeline
from intar.scheduling.device import load_device
from intar.scheduling.search import schedule

UNARY = ("relu", "gelu", "silu", "exp", "softmax", "requantize")


@st.composite
def graphs(draw) -> Graph:
    """Chains and small DAGs of products and element-wise tasks, int8 or int16."""
    dtype = draw(st.sampled_from(["i8", "i16"]))
    rows, width = draw(st.sampled_from([1, 4, 8, 16])), draw(st.sampled_from([8, 16, 32]))
    g = Graph("random")
    values = [g.input((rows, width), dtype, name="x")]
    for _ in range(draw(st.integers(1, 5))):
        x = draw(st.sampled_from(values))
        kind = draw(st.sampled_from(["matmul", "matmul", "add", "mul", *UNARY]))
        if kind == "matmul":
            n = draw(st.sampled_from([8, 16, 32]))
            y = g.matmul(x, g.weight((x.shape[-1], n), dtype), shift=12, out=dtype)
        elif kind in ("add", "mul"):
            same = [v for v in values if v.shape == x.shape and v.dtype == x.dtype]
            y = getattr(g, kind)(x, draw(st.sampled_from(same)), shift=1)
        elif kind == "relu":
            y = g.relu(x)
        elif kind == "softmax":
            y = g.softmax(x, frac_bits=4, causal=draw(st.booleans()) and rows > 1)
        elif kind == "requantize":
            y = g.requantize(x, shift=1, out=dtype)
        else:
            y = getattr(g, kind)(x, frac_bits=4)
        values.append(y)
    g.output(values[-1])
    return g


@given(
    graph=graphs(),
    mode=st.sampled_from(["intar", "dataflow", "sequential"]),
    dsp=st.sampled_from([0, 1, 4, 16, 64]),
)
def test_schedule_pass_verifies_or_diagnoses(graph, mode, dsp):
    ctx = make_context()
    module = graph.build(ctx)
    with ctx, DiagnosticCollector(ctx) as diags:
        try:
            ok = run_pipeline(module, [f"intar-schedule{{device=tiny dsp={dsp} mode={mode}}}"])
        except ir.MLIRError as e:
            diags.add_error(e)
            ok = False
        designs = [o for o in module.body.operations if isinstance(o, intar.DesignOp)]
        messages = [d.message for d in diags.diags]
        if ok:
            assert len(designs) == 1 and designs[0].mode == mode
        else:
            assert messages, f"a failed schedule must say why:\n{graph.to_mlir()}"
            assert all("cannot schedule 'random'" in m for m in messages), messages
        assert not any("internal error" in m for m in messages), messages
        del designs
    del module


@pytest.mark.parametrize("name", sorted(KERNELS))
def test_design_reads_back_as_the_schedule(name):
    """What the pass writes into the IR is exactly what the scheduler chose."""
    ctx = make_context()
    module = KERNELS[name](True).build(ctx)
    with ctx:
        assert run_pipeline(module, ["intar-schedule{device=tiny}"])
        design = next(o for o in module.body.operations if isinstance(o, intar.DesignOp))
        from_ir = schedule_of(design)
        del design
    del module
    direct = schedule(task_graph(name, small=True), load_device("tiny"), mode="intar")
    assert (
        dataclasses.replace(
            direct,
            loop_orders=tuple(sorted(direct.loop_orders)),
            clock_mhz=from_ir.clock_mhz,
            offchip_traffic_bytes=0,
            sfu_buffer_bytes=0,
            onchip_capacity_bytes=0,
        )
        == from_ir
    )


def test_bench_schedule_sees_the_graph_that_intar_compile_schedules():
    """`intar bench schedule` schedules a kernel after the task cleanup, as `intar compile`
    does: the VAE's relu after enc1 is fused into the conv, and the predictions agree."""
    ctx = make_context()
    module = KERNELS["vae"](True).build(ctx)
    with ctx:
        assert run_pipeline(module, ["intar-task-cleanup", "intar-schedule{device=tiny}"])
        design = next(o for o in module.body.operations if isinstance(o, intar.DesignOp))
        from_ir = schedule_of(design)
        del design
    del module
    raw = task_graph("vae", small=True)
    cleaned = task_graph("vae", small=True, cleanup=True)
    assert "enc1_relu" in {t.name for t in raw.tasks}
    assert "enc1_relu" not in {t.name for t in cleaned.tasks}
    direct = schedule(cleaned, load_device("tiny"), mode="intar")
    assert direct.predicted_cycles == from_ir.predicted_cycles
