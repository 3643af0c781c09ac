"""The compile and simulate steps behind `intar compile`, `intar sim` and `intar run`.

compile: task graph -> intar-schedule -> intar-lower-to-sv (intar-lower-to-hw and CIRCT's
passes in one PassManager) -> export_verilog. Writes DIR/schedule.mlir, report.json,
schedule.png, graph.dot, design.sv and hw.json (the manifest the simulator reads).
"""

from __future__ import annotations

import io
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import circt
from circt import ir

from intar.diagnostics import DiagnosticCollector
from intar.files import atomic_write
from intar.hw.emit import LOWERING_OPTIONS
from intar.ir import make_context


@dataclass(frozen=True)
class CompileOptions:
    device: str = "tiny"
    dsp: int = 0
    ports: int = 0
    mode: str = "intar"
    graph: str | None = None


def compile_file(path: str, out: Path, opts: CompileOptions) -> dict | None:
    """Compile one file into `out`; None after printing diagnostics (nothing is written)."""
    from intar.analysis.task_graph import task_graph
    from intar.conversion.lower_to_hw import designs, plan_of
    from intar.golden import interpreter
    from intar.hw.plan import LoweringError
    from intar.passes import run_pipeline
    from intar.scheduling.gantt import render_gantt, to_dot
    from intar.sim.design import manifest
    from intar.tools.driver import load, schedule_reports

    ctx = make_context()
    with ctx, ir.Location.unknown(), DiagnosticCollector(ctx) as diags:
        module = load(path, ctx, diags)
        if module is None:
            diags.print()
            return None
        options = f"device={opts.device} dsp={opts.dsp} ports={opts.ports} mode={opts.mode}"
        if opts.graph:
            options += f" graph={opts.graph}"
        t0 = time.perf_counter()
        # A file that already holds a design (e.g. an edited schedule.mlir) is not rescheduled.
        scheduled = bool(designs(module.operation))
        pipeline = [] if scheduled else ["intar-task-cleanup", f"intar-schedule{{{options}}}"]
        try:
            ok = run_pipeline(module, pipeline) if pipeline else True
        except ir.MLIRError as e:
            diags.add_error(e)
            ok = False
        if not ok:
            diags.print()
            return None
        schedule_seconds = time.perf_counter() - t0
        report, sched, design = schedule_reports(module, schedule_seconds)
        graph = interpreter.graph_named(module, sched.graph)
        dot = to_dot(task_graph(graph))
        schedule_text = module.operation.get_asm()
        try:
            plan = plan_of(module.operation, designs(module.operation)[0])
        except LoweringError:
            plan = None  # the pass below reports it with a location
        top = design.design_name
        del design, graph
        t1 = time.perf_counter()
        try:
            ok = run_pipeline(module, ["intar-lower-to-sv"], verify_each=False)
        except ir.MLIRError as e:
            diags.add_error(e)
            ok = False
        if not ok or plan is None:
            diags.print()
            return None
        module.operation.attributes["circt.loweringOptions"] = ir.StringAttr.get(LOWERING_OPTIONS)
        buf = io.StringIO()
        circt.export_verilog(module, buf)
        sv = buf.getvalue()
        lower_seconds = time.perf_counter() - t1
        del module
    out.mkdir(parents=True, exist_ok=True)
    man = manifest(plan, top)
    man["compile_seconds"] = {
        "schedule": round(schedule_seconds, 3),
        "lower_to_sv": round(lower_seconds, 3),
    }
    atomic_write(out / "schedule.mlir", schedule_text)
    atomic_write(out / "report.json", json.dumps(report, indent=2) + "\n")
    atomic_write(out / "graph.dot", dot)
    render_gantt(sched, out / "schedule.png")
    atomic_write(out / "design.sv", sv)
    atomic_write(out / "hw.json", json.dumps(man, indent=2) + "\n")
    print(
        f"{report['kernel']} [{report['mode']}] on {report['device']}: "
        f"{report['predicted_cycles']:,} cycles predicted, {report['dsps_used']} DSPs, "
        f"~{man['memory']['bram36_estimate']:,} BRAM36, {len(report['phases'])} phases; "
        f"SV in {lower_seconds:.2f} s -> {out}/design.sv",
        file=sys.stderr,
    )
    mem = man["memory"]
    if mem["bram36_estimate"] > mem["device_bram36"]:
        big = ", ".join(f"{n} {b:g}" for n, b, *_ in mem["largest"][:3])
        print(
            f"{path}: warning: the design's memories need about {mem['bram36_estimate']:,} "
            f"BRAM36, more than {report['device']}'s {mem['device_bram36']:,} (largest: {big}); "
            "it will not synthesise within the device",
            file=sys.stderr,
        )
    return man


def golden_values(out: Path, seed: int) -> dict:
    """Every tensor of DIR's graph on the golden model, with seeded random inputs."""
    from intar.golden import interpreter
    from intar.parse import Chunk, parse_chunk

    man = json.loads((out / "hw.json").read_text())
    with make_context(), ir.Location.unknown():
        module = parse_chunk(Chunk((out / "schedule.mlir").read_text(), 1), "schedule.mlir")
        graph = interpreter.graph_named(module, man["graph"])
        values = interpreter.run(graph, interpreter.random_inputs(graph, seed))
        del graph, module
    return values


def simulate_dir(
    out: Path,
    seed: int = 0,
    watchdog: int = 20_000,
    reuse: bool = False,
    build_timeout: float | None = None,
) -> dict:
    """Simulate DIR's design on seeded inputs against the golden model (`reuse`,
    `build_timeout`: see `intar.sim.design.simulate`)."""
    from intar.sim.design import simulate

    values = golden_values(out, seed)
    return simulate(out, values, watchdog=watchdog, reuse=reuse, build_timeout=build_timeout)


def summary(rep: dict) -> str:
    verdict = "PASS (bit-exact)" if rep["bit_exact"] else f"FAIL ({rep['result']})"
    err = rep["model_error"]
    err_text = f", model error {err:+.1%}" if err is not None else ""
    return (
        f"{rep['graph']} [{rep['mode']}]: {rep['cycles']:,} cycles simulated, "
        f"{rep['predicted_cycles']:,} predicted{err_text}; "
        f"{rep['elements_checked']} elements checked, {rep['mismatches']} mismatches: {verdict}"
    )
