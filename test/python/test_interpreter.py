"""The golden model run on IR: every task kind, against the kernels composed by hand."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from circt import ir

from intar.golden import interpreter, kernels
from intar.golden.weights import materialize
from intar.kernels import KERNELS
from intar.parse import Chunk, parse_chunk

ROOT = Path(__file__).resolve().parents[2]


def _graph(module: ir.Module, name: str | None = None):
    return interpreter.graph_named(module, name)


def test_every_task_kind_runs(ctx):
    text = (ROOT / "test/Dialect/Intar/round-trip.mlir").read_text()
    module = parse_chunk(Chunk(text, 1), "round-trip.mlir")
    graph = _graph(module, "everything")
    values = interpreter.run(graph)
    for op in graph.tasks():
        value = values[op.task_name]
        assert value.shape == op.result_shape, op.task_name
        lo, hi = -(1 << (op.result_bits - 1)), (1 << (op.result_bits - 1)) - 1
        assert value.min() >= lo and value.max() <= hi, op.task_name
    assert list(values["g"]) == [1, -2, 3, -4, 5, -6, 7, -8]  # i4 values sign-extend


def test_matches_kernels_composed_by_hand(ctx):
    module = KERNELS["mlp"](True).build(ctx)
    graph = _graph(module)
    x = materialize((1, 16), 16, 42)
    values = interpreter.run(graph, {"x": x})
    h = x
    for i, (n_in, n_out) in enumerate([(16, 32), (32, 64), (64, 16)]):
        w = materialize(
            (n_in, n_out), 16, graph.lookup(f"w{i + 1}").operation.attributes["seed"].value
        )
        h = kernels.matmul(h, w, shift=n_in.bit_length() // 2 + 15, out_bits=16)
        if i < 2:
            h = kernels.relu(h, out_bits=16)
    ((name, out),) = interpreter.outputs(graph, values)
    assert name == "fc3"
    np.testing.assert_array_equal(out, h)


@pytest.mark.parametrize("name", sorted(KERNELS))
def test_small_kernels_are_deterministic_and_not_degenerate(ctx, name):
    module = KERNELS[name](True).build(ctx)
    graph = _graph(module)
    first = interpreter.outputs(graph, interpreter.run(graph))
    second = interpreter.outputs(graph, interpreter.run(graph))
    for (_, a), (_, b) in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)
        # Shifts keep results inside int16 without saturating everything.
        assert np.mean(np.abs(a) == 32767) < 0.05
        assert np.count_nonzero(a) > a.size // 2


def test_missing_input_is_reported(ctx):
    module = KERNELS["mlp"](True).build(ctx)
    graph = _graph(module)
    with pytest.raises(KeyError, match="no value for input 'x'"):
        interpreter.run(graph, {})
