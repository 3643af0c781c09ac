"""Random task graphs (intar.testing.random_graphs), compiled for the `tiny` device in all three
modes and simulated in Verilator bit-exact against the golden model.

Each simulated design costs one Verilator build (~10-60 s on 2 cores), so the default run
simulates two derandomized graphs per mode (80 s on an idle 2-core machine, up to 5 minutes
under load); `intar bench sim --random N` and the `slow` test below (`pytest -m slow`,
INTAR_RANDOM_EXAMPLES graphs per mode) sweep more. Every graph must compile: the generator makes only what the
hardware template builds, so a diagnostic is a failure too. The generator itself is checked
on many graphs without simulating. A failure prints the graph's MLIR text, enough to reproduce
it with `intar run graph.mlir --device tiny --mode MODE`.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from circt import ir
from design_harness import assert_model_agrees
from hypothesis import HealthCheck, Phase, given, settings

from intar.golden import interpreter
from intar.hw.plan import SUPPORTED_KINDS
from intar.ir import make_context
from intar.parse import Chunk, parse_chunk
from intar.testing.random_graphs import (
    MAX_DIM,
    MAX_TASKS,
    MIN_DIM,
    MIN_TASKS,
    RandomGraph,
    graph_from_seed,
    graphs,
    supported_kinds,
)
from intar.tools.flow import CompileOptions, compile_file, simulate_dir
from intar.verifier import verify

MODES = ("intar", "dataflow", "sequential")

# Each example is a Verilator build: no shrinking (every step would be another build; the
# failure message holds the whole graph instead), no example database, the same examples in
# every run.
SIM_SETTINGS = settings(
    deadline=None,
    derandomize=True,
    database=None,
    phases=(Phase.explicit, Phase.generate),
    suppress_health_check=(HealthCheck.too_slow, HealthCheck.data_too_large),
)


def simulate_graph(rg: RandomGraph, work: Path, mode: str) -> dict:
    """Compile `rg` for `tiny` in `mode` under `work` and simulate it; asserts bit-exactness."""
    work.mkdir(parents=True, exist_ok=True)
    src = work / f"{rg.name}.mlir"
    src.write_text(rg.mlir)
    out = work / mode
    log = io.StringIO()
    with contextlib.redirect_stderr(log):
        man = compile_file(str(src), out, CompileOptions("tiny", mode=mode))
    assert man is not None, f"[{mode}] does not compile:\n{log.getvalue()}\n{rg!r}"
    rep = simulate_dir(out, seed=1)
    brief = {k: rep[k] for k in ("result", "cycles", "mismatches", "first_mismatches")}
    where = f"[{mode}] {json.dumps(brief)}\n{rep['stall_report']}\n{rg!r}"
    assert rep["result"] == "done", where
    assert rep["mismatches"] == 0, where
    assert rep["elements_checked"] > 0, where
    assert rep["bit_exact"] is True, where
    assert_model_agrees(rep, f"{rg.name} [{mode}]\n{rg!r}")
    return rep


@pytest.mark.parametrize("mode", MODES)
@settings(SIM_SETTINGS, max_examples=2)
@given(rg=graphs())
def test_random_graph_simulates_bit_exact(
    rg: RandomGraph, mode: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    rep = simulate_graph(rg, tmp_path_factory.mktemp(f"random_{mode}"), mode)
    print(f"{mode}: {rg.kinds} {rep['cycles']} cycles, {rep['predicted_cycles']} predicted")


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
@settings(
    SIM_SETTINGS,
    max_examples=int(os.environ.get("INTAR_RANDOM_EXAMPLES", "25")),
    derandomize=False,
)
@given(rg=graphs())
def test_random_graph_sweep(
    rg: RandomGraph, mode: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The long sweep (pytest -m slow): new random graphs on every run."""
    simulate_graph(rg, tmp_path_factory.mktemp(f"sweep_{mode}"), mode)


# ------------------------------------------------------------------ the generator, unsimulated

N_CHECKED = 300


def _check_valid(rg: RandomGraph) -> tuple[dict[str, int], dict[str, np.ndarray]]:
    """Parse and verify the graph and run it on the golden model; consumers per value."""
    with make_context(), ir.Location.unknown():
        module = parse_chunk(Chunk(rg.mlir, 1), f"{rg.name}.mlir")
        assert verify(module.operation), rg
        graph = interpreter.graph_named(module, rg.name)
        values = interpreter.run(graph, interpreter.random_inputs(graph, 0))
        outs = dict(interpreter.outputs(graph, values))
        users: Counter[str] = Counter()
        for op in graph.tasks():
            users.update({v.owner.attributes["sym_name"].value for v in op.operation.operands})
        del graph, module
    return dict(users), outs


def test_generated_graphs_are_valid_and_varied() -> None:
    """Over many seeds: every graph verifies and runs; the variety the brief asks for shows."""
    kinds: Counter[str] = Counter()
    seen: Counter[str] = Counter()
    for seed in range(N_CHECKED):
        rg = graph_from_seed(seed)
        users, outs = _check_valid(rg)
        assert MIN_TASKS <= len(rg.kinds) <= MAX_TASKS, rg
        assert set(rg.kinds) <= set(SUPPORTED_KINDS), rg
        assert set(outs) == set(rg.outputs), rg
        kinds.update(rg.kinds)
        shapes = [tuple(int(d) for d in s.split("x")[:-1]) for s in _tensor_types(rg.mlir)]
        assert all(MIN_DIM <= d <= MAX_DIM for s in shapes for d in s), rg
        seen["non-multiple-of-4 dim"] += any(d % 4 for s in shapes for d in s)
        seen["rank 3"] += any(len(s) == 3 for s in shapes)
        seen["fan-out"] += max(users.values()) >= 2
        seen["several outputs"] += len(rg.outputs) >= 2
        seen["output also read"] += any(users.get(o, 0) for o in rg.outputs)
        seen["transpose_rhs"] += "transpose_rhs" in rg.mlir
        seen["matmul of two activations"] += _activation_matmul(rg.mlir)
        seen["i32 matmul + requantize"] += "xi32>" in rg.mlir
        seen["causal softmax"] += "causal" in rg.mlir
        for out in outs.values():
            seen["output neither all zero nor all saturated"] += bool(
                np.any((out != 0) & (np.abs(out) < 32767))
            )
            seen["outputs"] += 1
    print(dict(kinds), dict(seen))
    assert set(kinds) == set(supported_kinds())
    for what, count in seen.items():
        assert count >= N_CHECKED // 50, f"only {count} graphs with {what}"
    assert seen["output neither all zero nor all saturated"] >= 0.95 * seen["outputs"]


def _tensor_types(mlir: str) -> list[str]:
    return re.findall(r"tensor<([0-9x]+i\d+)>", mlir)


def _activation_matmul(mlir: str) -> bool:
    """A matmul whose rhs is not a weight (as in Q·Kᵀ)."""
    weights = set(re.findall(r"(%\d+) = \"intar.weight\"", mlir))
    rhs = re.findall(r"\"intar.matmul\"\(%\d+, (%\d+)\)", mlir)
    return any(r not in weights for r in rhs)


def test_same_seed_same_graph() -> None:
    assert graph_from_seed(7) == graph_from_seed(7)
    assert graph_from_seed(7).mlir != graph_from_seed(8).mlir
