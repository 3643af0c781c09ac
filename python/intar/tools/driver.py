"""intar: the driver. Each subcommand is one step of the flow, reading what earlier steps wrote.

intar golden FILE -o DIR     verify a task graph and run it on the golden model
intar schedule FILE -o DIR   choose a static schedule and write its reports
intar compile FILE -o DIR    schedule, lower to hardware and write DIR/design.sv
intar sim DIR                simulate DIR's design bit-exact against the golden model
intar run FILE -o DIR        compile, then sim
intar synth DIR              synthesise DIR's design with yosys, check the device, synth.json
intar import-torch ... -o F  import a PyTorch module (or a random GPT-2), quantise it to W4A8
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from circt import ir

from intar.diagnostics import DiagnosticCollector
from intar.files import atomic_write
from intar.golden import interpreter
from intar.ir import make_context
from intar.parse import Chunk, parse_chunk
from intar.verifier import verify


def load(path: str, ctx: ir.Context, diags: DiagnosticCollector) -> ir.Module | None:
    """Parses and verifies a file; None (with diagnostics) if it is not valid intar IR."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        print(f"intar: error: cannot open input file '{path}': {e.strerror}", file=sys.stderr)
        return None
    try:
        module = parse_chunk(Chunk(text, 1), path)
    except ir.MLIRError as e:
        diags.add_error(e)
        return None
    return module if verify(module.operation) else None


def _digest(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a, dtype=np.int64).tobytes()).hexdigest()[:16]


def cmd_golden(args: argparse.Namespace) -> int:
    ctx = make_context()
    with ctx, ir.Location.unknown(), DiagnosticCollector(ctx) as diags:
        module = load(args.file, ctx, diags)
        if module is None:
            diags.print()
            return 1
        try:
            graph = interpreter.graph_named(module, args.graph)
        except KeyError as e:
            print(f"intar: error: {e.args[0]}", file=sys.stderr)
            return 1
        start = time.perf_counter()
        inputs = interpreter.random_inputs(graph, args.seed)
        values = interpreter.run(graph, inputs)
        seconds = time.perf_counter() - start
        results = interpreter.outputs(graph, values)
        report = {
            "graph": graph.graph_name,
            "seed": args.seed,
            "inputs": {n: list(a.shape) for n, a in inputs.items()},
            "outputs": {
                n: {
                    "shape": list(a.shape),
                    "min": int(a.min()),
                    "max": int(a.max()),
                    "sha256_16": _digest(a),
                }
                for n, a in results
            },
            "golden_seconds": round(seconds, 3),
        }
        del module
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    np.savez(out / "golden.npz", **inputs, **dict(results))
    (out / "golden.json").write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    for name, info in report["outputs"].items():
        print(
            f"{report['graph']}: {name} {info['shape']} range [{info['min']}, {info['max']}] "
            f"sha256 {info['sha256_16']}"
        )
    print(f"golden model: {seconds:.3f} s; wrote {out / 'golden.json'} and golden.npz")
    return 0


def schedule_reports(module: ir.Module, seconds: float) -> tuple[dict, object, object]:
    """report.json's content, the schedule and the design, for a module's first design."""
    from intar.analysis.design import schedule_of
    from intar.dialects import intar

    design = next(o for o in module.body.operations if isinstance(o, intar.DesignOp))
    sched = schedule_of(design)
    return (
        {
            "kernel": sched.graph,
            "mode": sched.mode,
            "device": sched.device,
            "dsp_budget": sched.dsp_budget,
            "port_budget": sched.port_budget,
            "dsps_used": sched.dsps_used,
            "predicted_cycles": sched.predicted_cycles,
            "roofline_cycles": sched.roofline_cycles,
            "gap_to_roofline": round(sched.gap_to_roofline, 4),
            "onchip_bytes": sched.onchip_bytes,
            "offchip_bytes": sched.offchip_bytes,
            "cores": [{"name": c.name, "pe": list(c.pe)} for c in sched.cores],
            "phases": [
                {
                    "name": p.name,
                    "pattern": p.pattern,
                    "tasks": sorted({a.task for a in p.assigns}),
                    "cores": sorted({a.unit for a in p.assigns if a.unit.startswith("cc")}),
                    "units": sorted({a.unit for a in p.assigns}),
                    "cycles": p.cycles,
                }
                for p in sched.phases
            ],
            "switches": len(sched.switches),
            "schedule_seconds": round(seconds, 4),
        },
        sched,
        design,
    )


def cmd_schedule(args: argparse.Namespace) -> int:
    from intar.analysis.task_graph import task_graph
    from intar.passes import run_pipeline
    from intar.scheduling.gantt import render_gantt, to_dot

    ctx = make_context()
    with ctx, ir.Location.unknown(), DiagnosticCollector(ctx) as diags:
        module = load(args.file, ctx, diags)
        if module is None:
            diags.print()
            return 1
        options = f"device={args.device} dsp={args.dsp} ports={args.ports} mode={args.mode}"
        if args.graph:
            options += f" graph={args.graph}"
        start = time.perf_counter()
        try:
            ok = run_pipeline(module, ["intar-task-cleanup", f"intar-schedule{{{options}}}"])
        except ir.MLIRError as e:
            diags.add_error(e)
            ok = False
        seconds = time.perf_counter() - start
        if not ok:
            diags.print()
            return 1
        report, sched, design = schedule_reports(module, seconds)
        graph = interpreter.graph_named(module, sched.graph)
        dot = to_dot(task_graph(graph))
        text = module.operation.get_asm()
        out = Path(args.output)
        out.mkdir(parents=True, exist_ok=True)
        (out / "schedule.mlir").write_text(text)
        (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
        (out / "graph.dot").write_text(dot)
        render_gantt(sched, out / "schedule.png")
        del design, graph, module
    print(
        f"{report['kernel']} [{report['mode']}] on {report['device']}: "
        f"{report['predicted_cycles']:,} cycles predicted, roofline {report['roofline_cycles']:,}, "
        f"{report['dsps_used']}/{report['dsp_budget']} DSPs, {len(report['phases'])} phases, "
        f"scheduled in {seconds:.3f} s"
    )
    print(f"wrote {out}/schedule.mlir, report.json, schedule.png, graph.dot")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from intar.tools.bench import bench_schedule, bench_sim, sim_ok

    out = Path(args.output)
    if args.which == "qor":
        from intar.kernels import KERNELS
        from intar.tools.bench_qor import MODES, QorOptions, bench_qor

        kernels = args.kernels.split(",") if args.kernels else list(KERNELS)
        modes = args.modes.split(",") if args.modes else list(MODES)
        bad = [k for k in kernels if k not in KERNELS] + [m for m in modes if m not in MODES]
        if bad:
            print(
                f"intar bench qor: error: unknown kernel or mode: {', '.join(bad)}", file=sys.stderr
            )
            return 1
        opts = QorOptions(
            examples=Path(args.examples or "examples"),
            work=Path(args.work or "out/bench-qor"),
            kernels=kernels,
            modes=modes,
            max_sim_cycles=args.max_sim_cycles,
            simulate=not args.no_sim,
            synthesize=not args.no_synth,
            watchdog=args.watchdog or 200_000,
            max_build_seconds=args.max_build_seconds,
        )
        readme = Path(args.readme) if args.readme else None
        result = bench_qor(out, opts, readme)
        print((out / "qor.md").read_text())
        return 0 if result["summary"]["all_bit_exact"] else 1
    if args.which == "gpt2":
        from intar.tools.bench_gpt2 import LENGTHS, Gpt2Options, bench_gpt2

        def lengths(text: str | None, default: tuple[int, ...]) -> tuple[int, ...]:
            return tuple(int(x) for x in text.split(",") if x) if text is not None else default

        try:
            opts = Gpt2Options(
                work=Path(args.work or "out/bench-gpt2"),
                lengths=lengths(args.lengths, LENGTHS),
                sim_lengths=lengths(args.sim_lengths, (64,)),
                synth_lengths=lengths(args.synth_lengths, ()),
                max_sim_cycles=args.max_sim_cycles,
                watchdog=args.watchdog or 200_000,
                max_build_seconds=args.max_build_seconds,
            )
        except ValueError as e:
            print(f"intar bench gpt2: error: bad length list: {e}", file=sys.stderr)
            return 1
        result = bench_gpt2(out, opts)
        table = (out / "gpt2.md").read_text()
        if args.readme:
            from intar.tools.readme import replace_block

            replace_block(Path(args.readme), "gpt2", "intar bench gpt2", table.split("\n", 1)[1])
        print(table)
        return 0 if all(r["status"] in ("pass", "predicted") for r in result["rows"]) else 1
    if args.which == "sim":
        result = bench_sim(
            out,
            random_graphs=args.random,
            first_seed=args.first_seed,
            examples=Path(args.examples or "examples/small"),
            work=Path(args.work or "out/bench-sim"),
            device_name=args.device or "tiny",
            watchdog=args.watchdog or 20_000,
        )
        if args.readme:
            from intar.tools.bench import kernel_table
            from intar.tools.readme import replace_block

            replace_block(Path(args.readme), "sim", "intar bench sim", kernel_table(result))
        print((out / "sim.md").read_text())
        return 0 if sim_ok(result) else 1
    result = bench_schedule(out, args.device or "u280")
    table = (out / "schedule.md").read_text()
    if args.readme:
        from intar.tools.readme import replace_block

        body = table.split("\n", 1)[1]  # without the page title
        replace_block(Path(args.readme), "schedule", "intar bench schedule", body)
    print(table)
    return 0 if result["rows"] else 1


def _compile(args: argparse.Namespace) -> bool:
    from intar.tools.flow import CompileOptions, compile_file

    opts = CompileOptions(args.device, args.dsp, args.ports, args.mode, args.graph)
    return compile_file(args.file, Path(args.output), opts) is not None


def cmd_compile(args: argparse.Namespace) -> int:
    return 0 if _compile(args) else 1


def cmd_sim(args: argparse.Namespace) -> int:
    from intar.tools.flow import simulate_dir, summary

    out = Path(args.dir if hasattr(args, "dir") else args.output)
    if not (out / "hw.json").exists():
        print(f"intar: error: {out} holds no compiled design (run intar compile)", file=sys.stderr)
        return 1
    from intar.sim.verilator import VerilatorError

    try:
        rep = simulate_dir(out, args.seed, args.watchdog)
    except VerilatorError as e:
        print(f"{out / 'design.sv'}: error: {e}", file=sys.stderr)
        return 1
    if rep["stall_report"]:
        print(rep["stall_report"], file=sys.stderr)
    print(summary(rep))
    print(f"wrote {out}/sim.json")
    return 0 if rep["bit_exact"] else 1


def cmd_run(args: argparse.Namespace) -> int:
    return cmd_sim(args) if _compile(args) else 1


def cmd_synth(args: argparse.Namespace) -> int:
    from intar.synth.report import BoundsError, SynthError, levels_unproven, synthesize

    def progress(msg: str) -> None:
        print(f"intar synth: {msg}", file=sys.stderr, flush=True)

    out = Path(args.dir)
    try:
        rep = synthesize(
            out, args.device, force=args.force, hierarchical=args.hierarchical, progress=progress
        )
    except BoundsError as e:
        print(f"intar: error: {out}/design.sv is over the device's bounds:", file=sys.stderr)
        for v in e.violations:
            print(f"  {v}", file=sys.stderr)
        print(f"  ({e.report.summary()}); no synth.json written", file=sys.stderr)
        return 1
    except (SynthError, ValueError) as e:
        print(f"intar: error: {e}", file=sys.stderr)
        return 1
    if rep.unregistered_dsp:
        print(
            f"intar synth: warning: {rep.unregistered_dsp} DSPs have no register between input "
            "and P (a combinational multiply; not counted in LUT levels)",
            file=sys.stderr,
        )
    if levels_unproven(rep):
        print(
            f"intar synth: warning: mapped module by module, the longest path is at most "
            f"{rep.max_logic_levels} LUT levels, over the bound of "
            f"{rep.bounds['max_logic_levels']}; the flat netlist's depth is not known",
            file=sys.stderr,
        )
    print(rep.summary())
    if rep.cached:
        print(f"{out}/synth.json matches design.sv: cached, yosys not rerun (--force reruns)")
    else:
        print(f"wrote {out}/synth.json")
    return 0


def cmd_import_torch(args: argparse.Namespace) -> int:
    """torch.export -> float graph -> W4A8 intar graph; diagnostics and exit 1 on errors, and
    then no output file."""
    prog = "intar import-torch"
    if bool(args.gpt2) == bool(args.factory):
        print(f"{prog}: error: give either --gpt2 or path/to/file.py:factory", file=sys.stderr)
        return 2
    try:
        import torch  # noqa: F401

        from intar.frontend.quantize import QuantConfig, QuantError
        from intar.frontend.torch_flow import run_gpt2, run_module, stderr_progress
        from intar.frontend.torch_import import TorchImportError, load_factory
    except ImportError as e:
        print(f"{prog}: error: {e} (pip install 'intar[torch]')", file=sys.stderr)
        return 1
    try:
        config = QuantConfig(args.weight_bits, 8, args.weight_storage_bits)
    except ValueError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 1
    progress = stderr_progress
    try:
        if args.gpt2:
            if args.d_model % args.heads:
                print(f"{prog}: error: --d-model is not a multiple of --heads", file=sys.stderr)
                return 1
            res = run_gpt2(
                args.layers,
                args.d_model,
                args.heads,
                args.ffn,
                args.seq,
                args.vocab,
                args.seed,
                config,
                args.calib,
                args.eval,
                progress,
            )
        else:
            where = args.factory.rpartition(":")[0] or args.factory
            try:
                factory = load_factory(args.factory)
                module, example = factory()
                example = tuple(example) if isinstance(example, (list, tuple)) else (example,)
            except ValueError as e:
                print(f"{where}:1:1: error: {e}", file=sys.stderr)
                return 1
            name = args.factory.rpartition(":")[2]
            res = run_module(module, example, name, config, progress=progress)
    except TorchImportError as e:
        for d in e.diags:
            print(d.format(), file=sys.stderr)
        return 1
    except QuantError as e:
        print(e.diag().format(), file=sys.stderr)
        return 1
    # verify what is about to be written
    ctx = make_context()
    with ctx, ir.Location.unknown(), DiagnosticCollector(ctx) as diags:
        try:
            module_ir = parse_chunk(Chunk(res.mlir, 1), args.output)
            ok = verify(module_ir.operation)
            del module_ir
        except ir.MLIRError as e:
            diags.add_error(e)
            ok = False
        if not ok:
            diags.print()
            return 1
    atomic_write(Path(args.output), res.mlir)
    if args.report:
        atomic_write(Path(args.report), json.dumps(res.report, indent=2, sort_keys=True) + "\n")
    rep = res.report
    for name, info in rep["outputs"].items():
        top1 = info.get("top1_agreement")
        top1_text = f", top-1 agreement {top1:.1%}" if top1 is not None else ""
        print(
            f"{rep['graph']}: output {name} rel-L2 {info['rel_l2']:.4f} vs torch{top1_text} "
            f"over {rep['samples']} inputs (W{rep['weight_bits']}A{rep['act_bits']})"
        )
    for layer in rep["layers"]:
        print(f"  {layer['layer']}: {layer['tensor']} rel-L2 {layer['rel_l2']:.4f}")
    print(f"wrote {args.output}" + (f" and {args.report}" if args.report else ""))
    return 0


def _compile_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", help="an .mlir file holding an intar.graph")
    p.add_argument("--device", default="tiny", help="u280, vpk180, tiny or a JSON file")
    p.add_argument("--dsp", type=int, default=0, help="DSP budget (0: the whole device)")
    p.add_argument("--ports", type=int, default=0, help="off-chip ports (0: all channels)")
    p.add_argument("--mode", default="intar", choices=("intar", "dataflow", "sequential"))
    p.add_argument("--graph", default=None, help="which graph (default: the first)")
    p.add_argument("-o", dest="output", default="out", help="output directory")


def _sim_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seed", type=int, default=0, help="seed of the random inputs")
    p.add_argument(
        "--watchdog", type=int, default=20_000, help="cycles without activity that count as a stall"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="intar", description="The intar compiler driver.")
    sub = parser.add_subparsers(dest="command", required=True)
    golden = sub.add_parser("golden", help="verify a task graph and run it on the golden model")
    golden.add_argument("file", help="an .mlir file holding an intar.graph")
    golden.add_argument("-o", dest="output", default="out", help="output directory")
    golden.add_argument("--graph", default=None, help="which graph (default: the first)")
    golden.add_argument("--seed", type=int, default=0, help="seed of the random inputs")
    golden.set_defaults(run=cmd_golden)

    sched = sub.add_parser("schedule", help="choose a static schedule and write its reports")
    sched.add_argument("file", help="an .mlir file holding an intar.graph")
    sched.add_argument("--device", default="u280", help="u280, vpk180, tiny or a JSON file")
    sched.add_argument("--dsp", type=int, default=0, help="DSP budget (0: the whole device)")
    sched.add_argument("--ports", type=int, default=0, help="off-chip ports (0: all channels)")
    sched.add_argument("--mode", default="intar", choices=("intar", "dataflow", "sequential"))
    sched.add_argument("--graph", default=None, help="which graph (default: all)")
    sched.add_argument("-o", dest="output", default="out", help="output directory")
    sched.set_defaults(run=cmd_schedule)

    comp = sub.add_parser("compile", help="schedule, lower to hardware and write design.sv")
    _compile_args(comp)
    comp.set_defaults(run=cmd_compile)

    sim = sub.add_parser("sim", help="simulate a compiled design against the golden model")
    sim.add_argument("dir", help="a directory written by intar compile")
    _sim_args(sim)
    sim.set_defaults(run=cmd_sim)

    run = sub.add_parser("run", help="compile, then simulate")
    _compile_args(run)
    _sim_args(run)
    run.set_defaults(run=cmd_run)

    synth = sub.add_parser(
        "synth", help="synthesise a compiled design with yosys and check it fits the device"
    )
    synth.add_argument("dir", help="a directory written by intar compile")
    synth.add_argument(
        "--device", default=None, help="u280, vpk180, tiny or a JSON file (default: hw.json's)"
    )
    synth.add_argument("--force", action="store_true", help="rerun yosys even if cached")
    synth.add_argument(
        "--hierarchical",
        action="store_true",
        help="map each module once, then flatten the mapped netlist: for a design too large "
        "to flatten first; its LUT levels are an upper bound (over the bound: a warning)",
    )
    synth.set_defaults(run=cmd_synth)

    imp = sub.add_parser(
        "import-torch",
        help="import a PyTorch module with torch.export and quantise it to an intar graph",
    )
    imp.add_argument(
        "factory", nargs="?", help="path/to/file.py:factory; factory() returns (module, inputs)"
    )
    imp.add_argument("--gpt2", action="store_true", help="a random transformers GPT-2 instead")
    imp.add_argument("--layers", type=int, default=2, help="GPT-2: decoder blocks")
    imp.add_argument("--d-model", type=int, default=64, help="GPT-2: model width")
    imp.add_argument("--heads", type=int, default=4, help="GPT-2: attention heads")
    imp.add_argument("--ffn", type=int, default=None, help="GPT-2: FFN width (4 d_model)")
    imp.add_argument("--seq", type=int, default=16, help="GPT-2: sequence length")
    imp.add_argument("--vocab", type=int, default=128, help="GPT-2: vocabulary size")
    imp.add_argument("--calib", type=int, default=8, help="GPT-2: calibration sequences")
    imp.add_argument("--eval", type=int, default=16, help="GPT-2: measured sequences")
    imp.add_argument("--seed", type=int, default=0, help="GPT-2: weights and token seed")
    imp.add_argument("--weight-bits", type=int, default=4, choices=(4, 8))
    imp.add_argument(
        "--weight-storage-bits",
        type=int,
        default=None,
        choices=(4, 8, 16),
        help="element type of the weights (default: --weight-bits); 8 for the hardware flow, "
        "which loads one element width per off-chip port",
    )
    imp.add_argument("-o", dest="output", required=True, help="the .mlir file to write")
    imp.add_argument("--report", default=None, help="write the quantisation errors (JSON) here")
    imp.set_defaults(run=cmd_import_torch)

    bench = sub.add_parser("bench", help="run a benchmark and write its table")
    bench.add_argument(
        "which",
        choices=("schedule", "sim", "qor", "gpt2"),
        help="schedule: the five paper kernels' predicted cycles; sim: the small kernels and "
        "random graphs simulated in every mode; qor: the five kernels at the paper's shapes "
        "compiled, simulated and synthesised in every mode; gpt2: a GPT-2 medium layer at "
        "lengths 64-1024 on the U280, against Allo and DFX",
    )
    bench.add_argument("--device", default=None, help="default: u280 (schedule), tiny (sim)")
    bench.add_argument("-o", dest="output", default="bench/results", help="output directory")
    bench.add_argument("--random", type=int, default=20, help="sim: how many random graphs")
    bench.add_argument(
        "--first-seed", type=int, default=0, help="sim: seed of the first random graph"
    )
    bench.add_argument(
        "--examples",
        default=None,
        help="directory of the kernels (*.mlir; default examples/small for sim, examples for qor)",
    )
    bench.add_argument(
        "--work",
        default=None,
        help="where the designs are compiled and built (default out/bench-sim, out/bench-qor)",
    )
    bench.add_argument(
        "--watchdog",
        type=int,
        default=None,
        help="cycles without activity that count as a stall (default 20000 sim, 200000 qor)",
    )
    bench.add_argument("--kernels", default=None, help="qor: comma-separated kernels (all)")
    bench.add_argument("--modes", default=None, help="qor: comma-separated modes (all)")
    bench.add_argument(
        "--max-sim-cycles",
        type=int,
        default=100_000_000,
        help="qor: designs predicted to run longer are reported as not simulated",
    )
    bench.add_argument("--lengths", default=None, help="gpt2: sequence lengths (64,...,1024)")
    bench.add_argument(
        "--sim-lengths", default=None, help="gpt2: lengths simulated in Verilator (64)"
    )
    bench.add_argument(
        "--synth-lengths", default=None, help="gpt2: lengths synthesised by yosys (none)"
    )
    bench.add_argument("--no-sim", action="store_true", help="qor: skip simulation")
    bench.add_argument("--no-synth", action="store_true", help="qor: skip yosys")
    bench.add_argument(
        "--max-build-seconds",
        type=float,
        default=None,
        help="qor, gpt2: a Verilator build still running after this long is stopped and its row "
        "reported as not run (what it compiled is kept for the next run)",
    )
    bench.add_argument(
        "--readme",
        default=None,
        help="schedule, qor, sim, gpt2: rewrite this README's generated block from the table",
    )
    bench.set_defaults(run=cmd_bench)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except OSError as e:
        print(f"intar: error: {e.strerror}: {e.filename}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
