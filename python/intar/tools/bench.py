"""Benchmarks: `intar bench schedule` writes bench/results/schedule.{md,json}.

Every number in the table is the cost model's own prediction; the paper's cycles stand beside
them for comparison, and nothing is tuned towards them.
"""

from __future__ import annotations

import json
import math
import sys
import time
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
        graph = task_graph(name)
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
