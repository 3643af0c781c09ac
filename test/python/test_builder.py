"""The Python builder: what it emits, and the mistakes it refuses."""

from __future__ import annotations

import numpy as np
import pytest
from circt import ir

from intar.dialects import intar
from intar.frontend import Graph, GraphError
from intar.kernels import KERNELS
from intar.verifier import verify


def _mlp() -> Graph:
    g = Graph("mlp")
    x = g.input((1, 256), "i16", name="x")
    w1 = g.weight((256, 1024), "i16", name="w1")
    h = g.relu(g.matmul(x, w1, shift=8), name="h")
    g.output(h)
    return g


def test_builds_a_verified_graph(ctx):
    module = _mlp().build(ctx)
    assert verify(module.operation)
    graph = next(iter(module.body.operations))
    assert isinstance(graph, intar.GraphOp)
    names = [(t.task_name, intar.task_kind(t)) for t in graph.tasks()]
    assert names == [("x", "input"), ("w1", "weight"), ("matmul0", "matmul"), ("h", "relu")]
    matmul = graph.lookup("matmul0")
    assert matmul.result_shape == (1, 1024)
    assert matmul.result_bits == 16  # a shifted product keeps the operand's type
    assert intar.int_attr(matmul, "shift") == 8


def test_unshifted_products_accumulate_in_i32(ctx):
    g = Graph("acc")
    x = g.input((4, 8), "i8")
    y = g.matmul(x, g.weight((8, 2), "i8"))
    assert y.dtype == "i32"
    g.output(y)
    assert verify(g.build(ctx).operation)


def test_explicit_weights_round_trip(ctx):
    values = np.array([[-8, 7], [3, -1]])
    g = Graph("w")
    w = g.weight((2, 2), "i4", value=values, name="w")
    g.output(w)
    module = ir.Module.parse(str(g.build(ctx)))
    weight = next(iter(module.body.operations)).lookup("w")
    attr = weight.operation.attributes["value"]
    assert str(attr) == "dense<[[-8, 7], [3, -1]]> : tensor<2x2xi4>"


def test_same_graph_same_text():
    assert _mlp().to_mlir() == _mlp().to_mlir()


@pytest.mark.parametrize("name", sorted(KERNELS))
@pytest.mark.parametrize("small", [False, True])
def test_paper_kernels_verify(ctx, name, small):
    assert verify(KERNELS[name](small).build(ctx).operation)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda g, x: g.matmul(x, g.weight((9, 4))), "contraction mismatch"),
        (lambda g, x: g.input((4, 0)), "invalid shape"),
        (lambda g, x: g.input((4,), "f32"), "unknown element type 'f32'"),
        (lambda g, x: g.add(x, g.input((4,))), "is not a suffix"),
        (lambda g, x: g.upsample(x), "takes a CHW tensor"),
        (lambda g, x: g.reshape(x, (5, 5)), "cannot reshape"),
        (lambda g, x: g.transpose(x, (0, 0)), "is not a permutation"),
        (lambda g, x: g.input((2,), name="x"), "already has a tensor named 'x'"),
        (lambda g, x: g.weight((2,), "i4", value=np.array([9, 0])), "outside the range of i4"),
        (lambda g, x: g.relu(Graph("other").input((2,))), "is not a tensor of graph"),
    ],
)
def test_builder_rejects(make, message):
    g = Graph("bad")
    x = g.input((4, 8), "i16", name="x")
    with pytest.raises(GraphError, match=message):
        make(g, x)


def test_graph_without_outputs(ctx):
    with pytest.raises(GraphError, match="no outputs"):
        Graph("empty").build(ctx)
