"""The intar driver: schedule reports, golden runs, and what bad input gets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from intar.tools.driver import main

ROOT = Path(__file__).resolve().parents[2]
REPORT_KEYS = {
    "kernel",
    "mode",
    "device",
    "dsp_budget",
    "predicted_cycles",
    "roofline_cycles",
    "onchip_bytes",
    "offchip_bytes",
    "phases",
    "schedule_seconds",
}


@pytest.mark.parametrize("mode", ["intar", "dataflow", "sequential"])
def test_schedule_writes_reports(tmp_path, mode, capsys):
    out = tmp_path / mode
    args = [
        "schedule",
        str(ROOT / "examples/small/vae.mlir"),
        "--device",
        "tiny",
        "--mode",
        mode,
        "-o",
        str(out),
    ]
    assert main(args) == 0
    report = json.loads((out / "report.json").read_text())
    assert set(report) >= REPORT_KEYS
    assert report["kernel"] == "vae" and report["mode"] == mode and report["device"] == "tiny"
    assert report["predicted_cycles"] >= report["roofline_cycles"] > 0
    assert sum(p["cycles"] for p in report["phases"]) <= report["predicted_cycles"]
    assert all({"pattern", "tasks", "cores", "cycles"} <= set(p) for p in report["phases"])
    assert (out / "schedule.png").read_bytes()[:4] == b"\x89PNG"
    assert "digraph" in (out / "graph.dot").read_text()
    assert '"intar.design"' in (out / "schedule.mlir").read_text()
    # The same input gives the same design, chart and graph.
    again = tmp_path / f"{mode}-again"
    assert main([*args[:-1], str(again)]) == 0
    for name in ("schedule.mlir", "schedule.png", "graph.dot"):
        assert (out / name).read_bytes() == (again / name).read_bytes(), name


def test_schedule_designs_reparse(tmp_path):
    assert (
        main(
            [
                "schedule",
                str(ROOT / "examples/small/self_attention.mlir"),
                "--device",
                "tiny",
                "-o",
                str(tmp_path),
            ]
        )
        == 0
    )
    from intar.tools.opt import main as opt

    assert opt([str(tmp_path / "schedule.mlir"), "-o", str(tmp_path / "again.mlir")]) == 0


def test_over_budget_is_a_diagnostic(tmp_path, capsys):
    code = main(
        [
            "schedule",
            str(ROOT / "examples/small/mlp.mlir"),
            "--device",
            "tiny",
            "--dsp",
            "500",
            "-o",
            str(tmp_path / "x"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 1
    assert "mlp.mlir:4:3: error: cannot schedule 'mlp' on tiny" in err
    assert "dsp: need 500, have 64 (short by 436)" in err
    assert "Traceback" not in err
    assert not (tmp_path / "x").exists()


def test_bad_input_is_a_diagnostic(tmp_path, capsys):
    bad = tmp_path / "bad.mlir"
    bad.write_text(
        '"intar.graph"() ({\n  %x = "intar.input"() : () -> tensor<4xi8>\n'
        '  "intar.output"(%x) : (tensor<4xi8>) -> ()\n}) {sym_name = "g"} : () -> ()\n'
    )
    for command in (["golden"], ["schedule", "--device", "tiny"]):
        code = main([command[0], str(bad), *command[1:], "-o", str(tmp_path / "out")])
        err = capsys.readouterr().err
        assert code == 1
        assert f"{bad}:2:8: error: 'intar.input' op requires attribute 'sym_name'" in err
    assert not (tmp_path / "out").exists()


def test_golden_run(tmp_path, capsys):
    assert main(["golden", str(ROOT / "examples/small/gating_net.mlir"), "-o", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "golden.json").read_text())
    assert report["outputs"]["down"]["shape"] == [4, 32]
    assert "gating_net: down [4, 32]" in capsys.readouterr().out


def test_a_design_verilator_rejects_is_a_diagnostic(tmp_path, capsys):
    out = tmp_path / "mlp"
    src = ROOT / "examples/small/mlp.mlir"
    assert main(["compile", str(src), "--device", "tiny", "-o", str(out)]) == 0
    sv = out / "design.sv"
    sv.write_text(sv.read_text() + "\nmodule broken(input x); assign y = ; endmodule\n")
    capsys.readouterr()
    assert main(["sim", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"{sv}: error: verilator build of" in err
    assert "Traceback" not in err
    assert not (out / "sim.json").exists()


def test_bench_schedule_rewrites_the_readme_block(tmp_path, capsys):
    from intar.tools.readme import markers

    begin, end = markers("schedule", "intar bench schedule")
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\n{begin}\nstale\n{end}\nafter\n")
    assert main(["bench", "schedule", "-o", str(tmp_path / "res"), "--readme", str(readme)]) == 0
    text = readme.read_text()
    table = (tmp_path / "res" / "schedule.md").read_text()
    assert "stale" not in text and text.endswith(f"{end}\nafter\n")
    assert table.split("\n", 1)[1].strip() in text
    assert "| self_attention |" in text and "Geomean InTAR speedup" in text


def test_a_model_too_large_to_compile_fails_fast(tmp_path, monkeypatch):
    """Verilator's compilers run under a cap on their memory (a share of what is free): a
    model over it is an error that says so, not a machine swapping to a halt."""
    import intar.sim.verilator as V

    (tmp_path / "t.sv").write_text(
        "module t(input logic clk, input logic [7:0] a, output logic [7:0] q);\n"
        "  always_ff @(posedge clk) q <= a + 8'd1;\nendmodule\n"
    )
    (tmp_path / "tb.cpp").write_text('#include "Vt.h"\nint main() { Vt m; m.eval(); }\n')
    monkeypatch.setattr(V, "_available_memory", lambda: 64 * 2**20)
    with pytest.raises(V.BuildLimitError, match=r"needs more than the 0\.1 GiB"):
        V.build(tmp_path / "t.sv", "t", tmp_path / "tb.cpp", tmp_path / "w", progress=False)
    monkeypatch.undo()
    assert V.build(tmp_path / "t.sv", "t", tmp_path / "tb.cpp", tmp_path / "w2", progress=False)


def test_a_build_over_its_time_limit_is_stopped_and_continued_later(tmp_path):
    import intar.sim.verilator as V

    (tmp_path / "t.sv").write_text(
        "module t(input logic clk, input logic [7:0] a, output logic [7:0] q);\n"
        "  always_ff @(posedge clk) q <= a - 8'd1;\nendmodule\n"
    )
    (tmp_path / "tb.cpp").write_text('#include "Vt.h"\nint main() { Vt m; m.eval(); }\n')
    work = tmp_path / "w"
    with pytest.raises(V.BuildLimitError, match=r"stopped after 0 s \(the build time limit\)"):
        V.build(tmp_path / "t.sv", "t", tmp_path / "tb.cpp", work, progress=False, timeout=0.01)
    assert V.build(tmp_path / "t.sv", "t", tmp_path / "tb.cpp", work, progress=False).exists()
