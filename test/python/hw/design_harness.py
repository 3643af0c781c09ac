"""Helpers shared by the design tests: build a graph's design, simulate it bit-exact, and read a
builder graph as the scheduler's task graph."""

from __future__ import annotations

from pathlib import Path

from intar.frontend.builder import Graph
from intar.hw.lint import lint_design
from intar.scheduling.problem import TaskGraph
from intar.tools.flow import CompileOptions, compile_file, simulate_dir


def simulate_graph(g: Graph, work: Path, mode: str = "intar", *, seed: int = 3) -> dict:
    """Compile `g` for the tiny device in `mode`, lint it, simulate it and check that every
    result element matched the golden model; returns the simulation report."""
    src = work / f"{g.name}.mlir"
    src.write_text(g.to_mlir())
    man = compile_file(str(src), work, CompileOptions("tiny", mode=mode))
    assert man is not None
    assert lint_design(work / "design.sv", man["top"]) == []
    rep = simulate_dir(work, seed=seed)
    assert rep["result"] == "done", rep["stall_report"]
    assert rep["mismatches"] == 0, rep["first_mismatches"]
    assert rep["elements_checked"] > 0 and rep["bit_exact"] is True
    print(f"{g.name} {mode}: {rep['cycles']} simulated, {rep['predicted_cycles']} predicted")
    return rep


def task_graph_of(g: Graph) -> TaskGraph:
    """The scheduler's view of a builder graph (parsed and verified as `intar` IR)."""
    from circt import ir

    from intar.analysis.task_graph import task_graph
    from intar.golden import interpreter
    from intar.ir import make_context
    from intar.parse import Chunk, parse_chunk

    with make_context(), ir.Location.unknown():
        module = parse_chunk(Chunk(g.to_mlir(), 1), "graph.mlir")
        graph = task_graph(interpreter.graph_named(module, g.name))
        del module
    return graph
