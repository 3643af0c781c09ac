"""Benchmarks: `intar bench schedule` writes bench/results/schedule.{md,json}, `intar bench sim`
bench/results/sim.{md,json}.

bench schedule: every number in the table is the cost model's own prediction; the paper's
cycles stand beside them for comparison, and nothing is tuned towards them.

bench sim: the small kernels (examples/small) and random graphs (intar.testing.random_graphs)
compiled for the tiny device in every mode and simulated in Verilator against the golden model.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path

from intar.kernels import KERNELS, PAPER_CYCLES, PAPER_DSP_BUDGETS, PAPER_PORTS, task_graph
from intar.scheduling.device import load_device
from intar.scheduling.search import schedule

MODES = ("intar", "dataflow", "sequential")


def _geomean(values: list[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values))


def bench_schedule(out_dir: Path, device_name: str = "u280") -> dict:
    device = load_device(device_name)
    rows = []
    for name in KERNELS:
        graph = task_graph(name, cleanup=True)  # the graph `intar compile` schedules
        row: dict = {
            "kernel": name,
            "dsp_budget": PAPER_DSP_BUDGETS[name],
            "port_budget": PAPER_PORTS[name],
        }
        for mode in MODES:
            print(f"bench schedule: {name} [{mode}] ...", end=" ", file=sys.stderr, flush=True)
            start = time.perf_counter()
            result = schedule(
                graph,
                device,
                dsp_budget=row["dsp_budget"],
                port_budget=row["port_budget"],
                mode=mode,
            )
            seconds = time.perf_counter() - start
            print(f"{result.predicted_cycles:,} cycles in {seconds:.2f} s", file=sys.stderr)
            row[mode] = {
                "predicted_cycles": result.predicted_cycles,
                "dsps_used": result.dsps_used,
                "phases": len(result.phases),
                "schedule_seconds": round(seconds, 3),
            }
            row["roofline_cycles"] = result.roofline_cycles
        row["paper"] = PAPER_CYCLES[name]
        row["speedup_vs_dataflow"] = (
            row["dataflow"]["predicted_cycles"] / row["intar"]["predicted_cycles"]
        )
        row["speedup_vs_sequential"] = (
            row["sequential"]["predicted_cycles"] / row["intar"]["predicted_cycles"]
        )
        row["paper_over_ours"] = PAPER_CYCLES[name]["intar"] / row["intar"]["predicted_cycles"]
        rows.append(row)
    summary = {
        "geomean_speedup_vs_dataflow": _geomean([r["speedup_vs_dataflow"] for r in rows]),
        "geomean_speedup_vs_sequential": _geomean([r["speedup_vs_sequential"] for r in rows]),
        "paper_geomean_speedup_vs_dataflow": _geomean(
            [r["paper"]["dataflow"] / r["paper"]["intar"] for r in rows]
        ),
        "paper_geomean_speedup_vs_sequential": _geomean(
            [r["paper"]["sequential"] / r["paper"]["intar"] for r in rows]
        ),
        "geomean_paper_over_ours": _geomean([r["paper_over_ours"] for r in rows]),
        "max_schedule_seconds": max(r[m]["schedule_seconds"] for r in rows for m in MODES),
    }
    result = {"device": device_name, "rows": rows, "summary": summary}
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "schedule.json").write_text(json.dumps(result, indent=2) + "\n")
    (out_dir / "schedule.md").write_text(_markdown(result))
    return result


def _markdown(result: dict) -> str:
    lines = [
        f"# Predicted cycles of the paper's kernels ({result['device']}, paper budgets)",
        "",
        "Cost-model predictions (not simulated). Paper figures are the hand-written designs.",
        "",
        "| kernel | DSP / ports | InTAR | dataflow | sequential | roofline | InTAR vs DF | "
        "InTAR vs SEQ | paper InTAR / DF / SEQ | paper ÷ ours | schedule s |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        p = r["paper"]
        seconds = max(r[m]["schedule_seconds"] for m in MODES)
        lines.append(
            f"| {r['kernel']} | {r['dsp_budget']} / {r['port_budget']} "
            f"| {r['intar']['predicted_cycles']:,} | {r['dataflow']['predicted_cycles']:,} "
            f"| {r['sequential']['predicted_cycles']:,} | {r['roofline_cycles']:,} "
            f"| {r['speedup_vs_dataflow']:.2f}× | {r['speedup_vs_sequential']:.2f}× "
            f"| {p['intar']:,} / {p['dataflow']:,} / {p['sequential']:,} "
            f"| {r['paper_over_ours']:.2f}× | {seconds:.2f} |"
        )
    s = result["summary"]
    lines += [
        "",
        f"Geomean InTAR speedup: {s['geomean_speedup_vs_dataflow']:.2f}× over dataflow "
        f"(paper {s['paper_geomean_speedup_vs_dataflow']:.2f}×), "
        f"{s['geomean_speedup_vs_sequential']:.2f}× over sequential "
        f"(paper {s['paper_geomean_speedup_vs_sequential']:.2f}× by these cycles; its abstract "
        "claims 1.8× and 7.1× by latency).",
        "Geomean paper InTAR cycles ÷ predicted InTAR cycles: "
        f"{s['geomean_paper_over_ours']:.2f}×.",
        f"Slowest schedule search: {s['max_schedule_seconds']:.2f} s.",
        "",
    ]
    return "\n".join(lines)


# ------------------------------------------------------------------------------- bench sim

SIM_FIELDS = (
    "result",
    "cycles",
    "predicted_cycles",
    "model_error",
    "bit_exact",
    "mismatches",
    "elements_checked",
    "build_seconds",
    "wall_seconds",
)
"""The sim.json fields a bench record keeps."""


def _log(text: str) -> None:
    print(f"bench sim: {text}", file=sys.stderr, flush=True)


def _diagnostics(log: str) -> str:
    """The error lines (with their notes) of a compile's stderr, without progress lines."""
    lines = [ln for ln in log.splitlines() if ln.strip() and not ln.startswith("[")]
    return "\n".join(lines)


def simulate_one(src: Path, out: Path, mode: str, device: str, watchdog: int) -> dict:
    """Compile `src` in `mode` into `out` and simulate it: one record of the bench.

    status: "pass" (bit-exact), "fail" (simulated, not bit-exact), "not run" (does not compile;
    `diagnostic` says why) or "crash" (an exception in the flow; `diagnostic` holds it).
    """
    from intar.tools.flow import CompileOptions, compile_file, simulate_dir

    rec: dict = {"mode": mode, "status": "not run", "diagnostic": ""}
    log = io.StringIO()
    start = time.perf_counter()
    try:
        with contextlib.redirect_stderr(log):
            man = compile_file(str(src), out, CompileOptions(device, mode=mode))
    except Exception:
        rec["status"] = "crash"
        rec["diagnostic"] = f"compile: {traceback.format_exc(limit=4)}"
        _log(f"{src.stem} [{mode}] crashed while compiling:\n{rec['diagnostic']}")
        return rec
    rec["compile_seconds"] = round(time.perf_counter() - start, 2)
    if man is None:
        rec["diagnostic"] = _diagnostics(log.getvalue())
        first = rec["diagnostic"].splitlines()[0] if rec["diagnostic"] else "?"
        _log(f"{src.stem} [{mode}] not run: {first}")
        return rec
    _log(f"{src.stem} [{mode}] compiled in {rec['compile_seconds']:.1f} s; building")
    try:
        rep = simulate_dir(out, seed=0, watchdog=watchdog, reuse=True)
    except Exception:
        rec["status"] = "crash"
        rec["diagnostic"] = f"simulate: {traceback.format_exc(limit=4)}"
        _log(f"{src.stem} [{mode}] crashed while simulating:\n{rec['diagnostic']}")
        return rec
    rec.update({k: rep[k] for k in SIM_FIELDS})
    rec["status"] = "pass" if rep["bit_exact"] else "fail"
    if not rep["bit_exact"]:
        rec["first_mismatches"] = rep["first_mismatches"]
        rec["diagnostic"] = rep["stall_report"]
    err = rep["model_error"]
    _log(
        f"{src.stem} [{mode}] build {rep['build_seconds']:.1f} s, sim {rep['wall_seconds']:.2f} s:"
        f" {rep['cycles']:,} cycles, {rep['predicted_cycles']:,} predicted"
        + (f" ({err:+.1%})" if err is not None else "")
        + f", {rep['mismatches']} mismatches: {rec['status'].upper()}"
    )
    return rec


def bench_sim(
    out_dir: Path,
    *,
    random_graphs: int = 20,
    first_seed: int = 0,
    examples: Path = Path("examples/small"),
    work: Path = Path("out/bench-sim"),
    device_name: str = "tiny",
    watchdog: int = 20_000,
    kernels: Sequence[str] | None = None,
) -> dict:
    """Simulate every small kernel and `random_graphs` random graphs in every mode."""
    from intar.testing.random_graphs import GENERATORS, graph_from_seed, supported_kinds

    start = time.perf_counter()
    sources = sorted(examples.glob("*.mlir"))
    if kernels is not None:
        sources = [p for p in sources if p.stem in kernels]
    kernel_rows = []
    for src in sources:
        for mode in MODES:
            rec = simulate_one(src, work / "kernels" / src.stem / mode, mode, device_name, watchdog)
            kernel_rows.append({"kernel": src.stem, **rec})

    graphs = []
    for seed in range(first_seed, first_seed + random_graphs):
        rg = graph_from_seed(seed)
        gdir = work / "random" / rg.name
        gdir.mkdir(parents=True, exist_ok=True)
        src = gdir / f"{rg.name}.mlir"
        src.write_text(rg.mlir)
        _log(f"{rg.name}: {len(rg.kinds)} tasks ({', '.join(rg.kinds)})")
        modes = {
            mode: simulate_one(src, gdir / mode, mode, device_name, watchdog) for mode in MODES
        }
        graphs.append(
            {
                "name": rg.name,
                "seed": seed,
                "kinds": list(rg.kinds),
                "mlir": rg.mlir,
                "modes": modes,
            }
        )

    def passed(recs: list[dict]) -> int:
        return sum(r["status"] == "pass" for r in recs)

    run = [r for r in kernel_rows if r["status"] != "not run"]
    errors = [abs(r["model_error"]) for r in run if r.get("model_error") is not None]
    random_errors = [
        abs(r["model_error"])
        for g in graphs
        for r in g["modes"].values()
        if r.get("model_error") is not None
    ]
    every = errors + random_errors
    result = {
        "device": device_name,
        "modes": list(MODES),
        "kernels": kernel_rows,
        "random": {
            "first_seed": first_seed,
            "count": random_graphs,
            "kinds": list(supported_kinds()),
            "kinds_without_generator": _kinds_without_generator(GENERATORS),
            "graphs": graphs,
        },
        "summary": {
            "kernel_designs": len(kernel_rows),
            "kernel_designs_run": len(run),
            "kernel_designs_bit_exact": passed(run),
            "kernel_designs_not_run": len(kernel_rows) - len(run),
            "mean_abs_model_error": round(sum(errors) / len(errors), 4) if errors else None,
            "max_abs_model_error": max(errors, default=None),
            "random_mean_abs_model_error": (
                round(sum(random_errors) / len(random_errors), 4) if random_errors else None
            ),
            "random_max_abs_model_error": max(random_errors, default=None),
            "designs_simulated": len(every),
            "designs_within_5_percent": sum(e <= 0.05 for e in every),
            "designs_within_10_percent": sum(e <= 0.10 for e in every),
            "random_graphs": len(graphs),
            "random_graphs_bit_exact": sum(
                all(r["status"] == "pass" for r in g["modes"].values()) for g in graphs
            ),
            "random_bit_exact_per_mode": {
                m: passed([g["modes"][m] for g in graphs]) for m in MODES
            },
            "random_not_compiled": sum(
                r["status"] == "not run" for g in graphs for r in g["modes"].values()
            ),
            "total_seconds": round(time.perf_counter() - start, 1),
        },
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "sim.json").write_text(json.dumps(result, indent=2) + "\n")
    (out_dir / "sim.md").write_text(_sim_markdown(result))
    return result


def sim_ok(result: dict) -> bool:
    """Every kernel design that compiles, and every random graph in every mode, is bit-exact."""
    s = result["summary"]
    return (
        s["kernel_designs_bit_exact"] == s["kernel_designs_run"]
        and s["random_graphs_bit_exact"] == s["random_graphs"]
    )


def kernel_table(result: dict) -> str:
    """The small kernels in every mode as one table: simulated / predicted cycles and the
    model error per mode (the README's block)."""
    by = {(r["kernel"], r["mode"]): r for r in result["kernels"]}
    kernels = sorted({r["kernel"] for r in result["kernels"]})
    head = " | ".join(f"{m} sim / predicted" for m in result["modes"])
    lines = [f"| kernel | {head} |", "|---|" + "---|" * len(result["modes"])]
    for k in kernels:
        cells = []
        for m in result["modes"]:
            r = by.get((k, m))
            cells.append(_cell(r).replace("-", "−") if r else "—")
        lines.append(f"| {k} | {' | '.join(cells)} |")
    s = result["summary"]
    lines += [
        "",
        f"Model error (predicted / simulated − 1): mean |error| "
        f"{s['mean_abs_model_error']:.1%}, largest {s['max_abs_model_error']:.1%} over these "
        f"{s['kernel_designs_run']} designs; over {s['random_graphs']} random graphs in three "
        f"modes, mean {s['random_mean_abs_model_error']:.1%} and largest "
        f"{s['random_max_abs_model_error']:.1%}. {s['designs_within_5_percent']} of all "
        f"{s['designs_simulated']} simulated designs are within 5%, "
        f"{s['designs_within_10_percent']} within 10%.",
    ]
    return "\n".join(lines)


def _kinds_without_generator(generators: dict) -> list[str]:
    from intar.hw.plan import SUPPORTED_KINDS

    return [k for k in SUPPORTED_KINDS if k not in generators]


def _cell(rec: dict) -> str:
    if rec["status"] == "pass":
        err = rec["model_error"]
        return f"{rec['cycles']:,} / {rec['predicted_cycles']:,} ({err:+.1%})"
    if rec["status"] == "fail":
        return f"**FAIL** ({rec['result']}, {rec['mismatches']} mismatches)"
    return f"**{rec['status']}**"


def _sim_markdown(result: dict) -> str:
    s = result["summary"]
    lines = [
        f"# Simulated designs ({result['device']})",
        "",
        "Each design is compiled with `intar compile --device "
        f"{result['device']}` and simulated with `intar sim` (Verilator, seeded random inputs) "
        "against the golden model. Cycles are simulated; predictions are the cost model's.",
        "",
        "## Small kernels (examples/small)",
        "",
        "| kernel | mode | status | simulated | predicted | model error | mismatches "
        "| build s | sim s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    not_run: dict[str, list[dict]] = {}
    for r in result["kernels"]:
        if r["status"] in ("pass", "fail"):
            err = r["model_error"]
            lines.append(
                f"| {r['kernel']} | {r['mode']} | {r['status']} | {r['cycles']:,} "
                f"| {r['predicted_cycles']:,} | {'' if err is None else f'{err:+.1%}'} "
                f"| {r['mismatches']} | {r['build_seconds']:.1f} | {r['wall_seconds']:.2f} |"
            )
        else:
            lines.append(f"| {r['kernel']} | {r['mode']} | {r['status']} | | | | | | |")
            not_run.setdefault(r["kernel"], []).append(r)
    mean = s["mean_abs_model_error"]
    lines += [
        "",
        f"{s['kernel_designs_bit_exact']} of {s['kernel_designs_run']} simulated designs are "
        f"bit-exact; {s['kernel_designs_not_run']} do not compile yet."
        + (
            ""
            if mean is None
            else f" Model error (predicted / simulated - 1): mean |error| {mean:.1%}, "
            f"largest {s['max_abs_model_error']:.1%}."
        ),
        "",
    ]
    for kernel, recs in not_run.items():
        first = recs[0]["diagnostic"].splitlines()[0] if recs[0]["diagnostic"] else "?"
        modes = ", ".join(r["mode"] for r in recs)
        lines.append(f"- {kernel} ({modes}): {recs[0]['status']}: `{first}`")
    if not_run:
        lines.append("")
    rnd = result["random"]
    graphs = rnd["graphs"]
    per_mode = ", ".join(
        f"{m} {n}/{len(graphs)}" for m, n in s["random_bit_exact_per_mode"].items()
    )
    lines += [
        f"## Random graphs (seeds {rnd['first_seed']}..{rnd['first_seed'] + rnd['count'] - 1})",
        "",
        "From `intar.testing.random_graphs.graph_from_seed`: 2 to 6 tasks of the kinds "
        f"{', '.join(rnd['kinds'])}; int16, dimensions 2..32.",
    ]
    if rnd["kinds_without_generator"]:
        lines.append(
            f"Supported kinds without a generator (not covered): "
            f"{', '.join(rnd['kinds_without_generator'])}."
        )
    lines += [
        "",
        f"**{s['random_graphs_bit_exact']} of {len(graphs)} graphs bit-exact in all three "
        f"modes** ({per_mode}).",
        "",
        *(
            [
                f"Model error over the random designs: mean |error| "
                f"{s['random_mean_abs_model_error']:.1%}, largest "
                f"{s['random_max_abs_model_error']:.1%}. Over all {s['designs_simulated']} "
                f"simulated designs, {s['designs_within_5_percent']} are within 5% of the "
                f"prediction and {s['designs_within_10_percent']} within 10%.",
                "",
            ]
            if s["random_mean_abs_model_error"] is not None
            else []
        ),
        "| graph | tasks | "
        + " | ".join(f"{m} (simulated / predicted)" for m in result["modes"])
        + " |",
        "|---|---|" + "---|" * len(result["modes"]),
    ]
    for g in graphs:
        cells = " | ".join(_cell(g["modes"][m]) for m in result["modes"])
        lines.append(f"| {g['name']} | {', '.join(g['kinds'])} | {cells} |")
    bad = [(g, m, r) for g in graphs for m, r in g["modes"].items() if r["status"] != "pass"]
    bad_kernels = [r for r in result["kernels"] if r["status"] in ("fail", "crash")]
    if bad or bad_kernels:
        lines += ["", "## Failures", ""]
        for r in bad_kernels:
            lines += [f"### {r['kernel']} [{r['mode']}]: {r['status']}", "", "```"]
            lines += [r["diagnostic"] or json.dumps(r.get("first_mismatches", [])), "```", ""]
        for g, m, r in bad:
            lines += [
                f"### {g['name']} [{m}]: {r['status']}",
                "",
                f"Reproduce: save the graph as `{g['name']}.mlir`, then "
                f"`intar run {g['name']}.mlir --device {result['device']} --mode {m}`.",
                "",
                "```",
                r["diagnostic"] or json.dumps(r.get("first_mismatches", [])),
                "```",
                "",
                "```mlir",
                g["mlir"].rstrip(),
                "```",
                "",
            ]
    lines += ["", f"Total time: {s['total_seconds']:,.0f} s.", ""]
    return "\n".join(lines)
