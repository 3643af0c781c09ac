"""`intar bench gpt2`: the layer's MAC count, a row's latency and efficiency arithmetic, and the
table (the benchmark itself, with its minute-long compiles, runs outside the default tests)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from intar.tools import bench_gpt2 as B


def _write_memory(run: Path, bram36: int) -> None:
    memory = {"bram36_estimate": bram36, "device_bram36": 2016}
    (run / "hw.json").write_text(json.dumps({"memory": memory}))


def test_layer_macs_match_gpt2_medium_arithmetic(tmp_path: Path) -> None:
    L, D, F = 64, B.D_MODEL, B.FFN
    (tmp_path / "gpt2_layer.mlir").write_text(B.layer_source(L))
    # q, k, v, output projections, two FFN matmuls, and scores + probabilities x values
    assert B._layer_macs(tmp_path) == L * (4 * D * D + 2 * D * F) + 2 * L * L * D


def test_row_latency_efficiency_and_speedups(tmp_path: Path, monkeypatch) -> None:
    cycles, dsps = 500_000, 8000

    def fake_compile(src: Path, run: Path) -> dict:
        report = {"predicted_cycles": cycles, "dsps_used": dsps}
        (run / "report.json").write_text(json.dumps(report))
        _write_memory(run, 1_234)
        return {"ok": True, "seconds": 1.0, "cached": False}

    monkeypatch.setattr(B, "_compile", fake_compile)
    opts = B.Gpt2Options(work=tmp_path, lengths=(256,), sim_lengths=(), log=lambda _: None)
    row = B.run_length(256, opts)
    macs = 256 * (4 * B.D_MODEL**2 + 2 * B.D_MODEL * B.FFN) + 2 * 256 * 256 * B.D_MODEL
    assert row["macs"] == macs
    assert (row["cycles"], row["cycles_source"], row["status"]) == (
        cycles,
        "predicted",
        "predicted",
    )
    assert row["model_ms"] == pytest.approx(24 * cycles / 250e3, abs=1e-3)  # 250 MHz U280
    assert row["speedup_vs_allo"] == pytest.approx(740.76 / row["model_ms"], abs=0.01)
    assert row["dsp_efficiency"] == pytest.approx(macs / (cycles * dsps), abs=1e-3)
    assert row["roofline_cycles"] == -(-macs // (2 * dsps))  # two int8 MACs per DSP48E2
    assert row["sim"]["status"] == "not run"
    table = B.gpt2_markdown({"rows": [row]})
    assert "| 256 | 500,000 | — |" in table and "740.76" in table
    assert "| 8,000 (scheduled) | 1,234 / 2,016 |" in table and "over the device" not in table
    assert "L=256 1.0 s. Target 60 s: met at 256." in table
    row["compile_seconds"] = 61.5
    assert "L=256 61.5 s. Target 60 s: met at no length." in B.gpt2_markdown({"rows": [row]})
    row["bram36_estimate"] = 2_017
    assert "| predicted; memories over the device |" in B.gpt2_markdown({"rows": [row]})


def test_a_layer_that_does_not_compile_is_reported_not_run(tmp_path: Path, monkeypatch) -> None:
    def failing(src: Path, run: Path) -> dict:
        return {"ok": False, "seconds": 0.1, "diagnostic": "x.mlir:1:1: error: no fit"}

    monkeypatch.setattr(B, "_compile", failing)
    opts = B.Gpt2Options(work=tmp_path, lengths=(64,), log=lambda _: None)
    result = B.bench_gpt2(tmp_path / "out", opts)
    row = result["rows"][0]
    assert (row["status"], row["reason"]) == ("not run", "x.mlir:1:1: error: no fit")
    assert "not run: x.mlir:1:1: error: no fit" in (tmp_path / "out" / "gpt2.md").read_text()


def test_a_synthesised_layer_uses_yosys_dsps_mapped_by_module(tmp_path: Path, monkeypatch) -> None:
    calls = []

    def fake_compile(src: Path, run: Path) -> dict:
        (run / "report.json").write_text(
            json.dumps({"predicted_cycles": 400_000, "dsps_used": 8000})
        )
        _write_memory(run, 1_900)
        return {"ok": True, "seconds": 1.0, "cached": False}

    def fake_synth(run: Path, opts, hierarchical: bool = False) -> dict:
        calls.append(hierarchical)
        counts = {"dsp": 7_990, "lut": 900_000, "ff": 1_200_000, "bram36": 1_900, "uram": 0}
        return {"status": "done", "seconds": 12.0, "max_logic_levels": None, **counts}

    monkeypatch.setattr(B, "_compile", fake_compile)
    monkeypatch.setattr(B, "synthesize_run", fake_synth)
    opts = B.Gpt2Options(
        work=tmp_path, lengths=(64,), sim_lengths=(), synth_lengths=(64,), log=lambda _: None
    )
    row = B.run_length(64, opts)
    assert calls == [True]  # not flattened
    assert (row["dsps"], row["dsps_source"]) == (7_990, "yosys")
    assert row["dsp_efficiency"] == pytest.approx(row["macs"] / (400_000 * 7_990), abs=1e-3)
    table = B.gpt2_markdown({"rows": [row]})
    assert "7,990 (yosys)" in table
    assert "| 64 | 7,990 | 900,000 | 1,200,000 | 1,900 | 0 | 12 | done |" in table


def test_gpt2_options_carry_what_the_shared_simulation_step_reads() -> None:
    """`bench_qor._simulate` runs the layer's simulation with these options."""
    from intar.tools.bench_gpt2 import Gpt2Options
    from intar.tools.bench_qor import QorOptions

    shared = {"max_sim_cycles", "watchdog", "max_build_seconds"}
    assert shared <= set(QorOptions.__dataclass_fields__)
    assert shared <= set(Gpt2Options.__dataclass_fields__)
