"""Whole designs: compile small kernels to SV, simulate them in Verilator against the off-chip
memory model, and compare every output element with the golden model.

Each simulated design costs one Verilator build (10-25 s on 2 cores at -O0 with the runtime
cached); `intar bench sim` adds random graphs and prints the model-error table.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from design_harness import assert_model_agrees

from intar.hw.lint import lint_design
from intar.tools.flow import CompileOptions, compile_file, simulate_dir

ROOT = Path(__file__).resolve().parents[3]
SMALL = ROOT / "examples" / "small"

# (kernel, mode): the reduced paper kernels without convolutions in every mode (cnn_4l and vae:
# test_design_conv). Between them: sequential phases and mode switches, task-pipeline phases
# with SFUs between cores, the dataflow baseline, and the softmax, ReLU, SiLU and mul SFUs.
DEFAULT = [
    ("self_attention", "intar"),  # the README's example: matmuls (one transposed) and softmax
    ("self_attention", "dataflow"),
    ("self_attention", "sequential"),
    ("mlp", "sequential"),
    ("mlp", "intar"),
    ("mlp", "dataflow"),
    ("gating_net", "intar"),
    ("gating_net", "dataflow"),
    ("gating_net", "sequential"),
]


def _compile(kernel: str, mode: str, out: Path) -> dict:
    man = compile_file(str(SMALL / f"{kernel}.mlir"), out, CompileOptions("tiny", mode=mode))
    assert man is not None
    return man


@pytest.mark.parametrize(("kernel", "mode"), DEFAULT, ids=[f"{k}-{m}" for k, m in DEFAULT])
def test_small_kernel_simulates_bit_exact(kernel: str, mode: str, tmp_path: Path) -> None:
    _compile(kernel, mode, tmp_path)
    rep = simulate_dir(tmp_path, seed=1)
    assert rep == json.loads((tmp_path / "sim.json").read_text())
    assert rep["result"] == "done", rep["stall_report"]
    assert rep["mismatches"] == 0, rep["first_mismatches"]
    assert rep["elements_checked"] > 0
    assert rep["bit_exact"] is True
    assert rep["cycles"] > 0 and rep["wall_seconds"] >= 0
    # every off-chip port moved data through the memory model
    assert sum(r + w for r, w in rep["offchip_beats"].values()) > 0
    print(f"{kernel} {mode}: {rep['cycles']} simulated, {rep['predicted_cycles']} predicted")
    assert_model_agrees(rep, f"{kernel} [{mode}]")


def test_generated_design_lints_clean_with_the_listed_waivers(tmp_path: Path) -> None:
    man = _compile("gating_net", "intar", tmp_path)
    assert lint_design(tmp_path / "design.sv", man["top"]) == []


def test_same_input_gives_identical_sv(tmp_path: Path) -> None:
    _compile("mlp", "intar", tmp_path / "a")
    _compile("mlp", "intar", tmp_path / "b")
    a, b = ((tmp_path / d / "design.sv").read_bytes() for d in "ab")
    assert a == b and len(a) > 10_000


def test_depth_zero_link_ends_in_the_watchdog_stall_report(tmp_path: Path) -> None:
    """A broken design (a link of depth 0 into a core) stops with a stall report, not a hang."""
    _compile("mlp", "sequential", tmp_path / "ok")
    text = (tmp_path / "ok" / "schedule.mlir").read_text()
    link = re.search(r'"intar.link"\(\) \{depth = (\d+) : i64, dest = @(cc\d+)', text)
    assert link is not None
    broken = text.replace(
        link.group(0), link.group(0).replace(f"depth = {link.group(1)}", "depth = 0"), 1
    )
    src = tmp_path / "broken.mlir"
    src.write_text(broken)
    compile_file(str(src), tmp_path / "bad", CompileOptions("tiny"))
    rep = simulate_dir(tmp_path / "bad", watchdog=500)
    assert rep["result"] == "stall"
    assert rep["bit_exact"] is False
    assert f"{link.group(2)}" in rep["stall_report"]
    assert "FIFO full" in rep["stall_report"]
    assert "stall at cycle" in rep["stall_report"]


def test_identical_run_is_reused_and_checked_again(tmp_path: Path) -> None:
    """A recompile that gives the same design keeps design.sv (and so the Verilator build); a
    run with the same executable inputs is read back, a run on other inputs is not."""
    _compile("mlp", "sequential", tmp_path)
    first = simulate_dir(tmp_path, seed=1, reuse=True)
    assert first["cached"] is False and first["bit_exact"] is True
    sv_mtime = (tmp_path / "design.sv").stat().st_mtime_ns
    _compile("mlp", "sequential", tmp_path)
    assert (tmp_path / "design.sv").stat().st_mtime_ns == sv_mtime
    again = simulate_dir(tmp_path, seed=1, reuse=True)
    assert again["cached"] is True
    assert again["build_seconds"] < first["build_seconds"]
    keep = ("cycles", "bit_exact", "mismatches", "elements_checked", "phase_cycles")
    assert {k: again[k] for k in keep} == {k: first[k] for k in keep}
    other = simulate_dir(tmp_path, seed=2, reuse=True)
    assert other["cached"] is False and other["bit_exact"] is True
    assert simulate_dir(tmp_path, seed=2)["cached"] is False  # without reuse it always runs


def _assert_simulates_bit_exact(out: Path, elements: int, what: str) -> None:
    """The compiled design in `out` runs to its end, every one of its `elements` output
    elements matches the golden model, and its cycles agree with the model."""
    rep = simulate_dir(out, seed=1)
    assert rep["result"] == "done", rep["stall_report"]
    assert rep["mismatches"] == 0, rep["first_mismatches"]
    assert rep["elements_checked"] == elements
    assert_model_agrees(rep, what)


# Two matmuls, each split by columns over two cores with its weight striped: both halves of
# every weight behind ports of their own (the manifest's `part`), loaded side by side.
CHAIN = """
"intar.graph"() ({
  %x = "intar.input"() {sym_name = "x"} : () -> tensor<1x16xi16>
  %w1 = "intar.weight"() {seed = 1 : i64, sym_name = "w1"} : () -> tensor<16x32xi16>
  %h1 = "intar.matmul"(%x, %w1) {shift = 17 : i64, sym_name = "h1"} : (tensor<1x16xi16>, tensor<16x32xi16>) -> tensor<1x32xi16>
  %r = "intar.relu"(%h1) {sym_name = "r"} : (tensor<1x32xi16>) -> tensor<1x32xi16>
  %w2 = "intar.weight"() {seed = 4 : i64, sym_name = "w2"} : () -> tensor<32x64xi16>
  %h2 = "intar.matmul"(%r, %w2) {shift = 18 : i64, sym_name = "h2"} : (tensor<1x32xi16>, tensor<32x64xi16>) -> tensor<1x64xi16>
  %y = "intar.relu"(%h2) {sym_name = "y"} : (tensor<1x64xi16>) -> tensor<1x64xi16>
  "intar.output"(%y) : (tensor<1x64xi16>) -> ()
}) {sym_name = "chain"} : () -> ()
"""


@pytest.mark.parametrize("dsp", [16, 64])
def test_striped_weights_simulate_bit_exact(dsp: int, tmp_path: Path) -> None:
    """dsp=16: two cores run h1 and then h2, both k-outer, and the results leave each core
    one element per beat, so the core stalls in its last k step; a stalled beat must still
    add its own partial tile (it took another tile's before the accumulator read was held)."""
    src = tmp_path / "chain.mlir"
    src.write_text(CHAIN)
    man = compile_file(str(src), tmp_path / "out", CompileOptions("tiny", dsp=dsp))
    assert man is not None
    parts = {t["name"]: t["part"] for t in man["tensors"] if "part" in t}
    assert {p["tensor"] for p in parts.values()} == {"w1", "w2"}
    for w in ("w1", "w2"):
        ports = [t["port"] for t in man["tensors"] if t.get("part", {}).get("tensor") == w]
        assert len(ports) == 2 and len(set(ports)) == 2  # one port per stripe
    sched = (tmp_path / "out" / "schedule.mlir").read_text()
    assert sched.count('loop_order = "kij"') >= 4  # both tasks k-outer on both cores
    _assert_simulates_bit_exact(tmp_path / "out", 64, f"striped chain, {dsp} DSPs")


# A wide projection whose [K, N] weight is most of the work and of the memory: the search
# stores it transposed ([N, K]) and h runs j-outer behind it; whole, the weight's buffer would
# not fit the tiny device's block RAM beside r's (an SFU task: a requantize of a shifted
# matmul is not folded), so it streams through a ring of column blocks released by the core's
# j counter.
WIDE = """
"intar.graph"() ({
  %x = "intar.input"() {sym_name = "x"} : () -> tensor<24x64xi16>
  %w1 = "intar.weight"() {seed = 3 : i64, sym_name = "w1"} : () -> tensor<64x512xi16>
  %h = "intar.matmul"(%x, %w1) {shift = 14 : i64, sym_name = "h"} : (tensor<24x64xi16>, tensor<64x512xi16>) -> tensor<24x512xi16>
  %r = "intar.requantize"(%h) {shift = 1 : i64, sym_name = "r"} : (tensor<24x512xi16>) -> tensor<24x512xi16>
  %w2 = "intar.weight"() {seed = 5 : i64, sym_name = "w2"} : () -> tensor<512x8xi16>
  %y = "intar.matmul"(%r, %w2) {shift = 16 : i64, sym_name = "y"} : (tensor<24x512xi16>, tensor<512x8xi16>) -> tensor<24x8xi16>
  "intar.output"(%y) : (tensor<24x8xi16>) -> ()
}) {sym_name = "wide"} : () -> ()
"""


def test_transposed_weight_streams_through_a_ring_bit_exact(tmp_path: Path) -> None:
    src = tmp_path / "wide.mlir"
    src.write_text(WIDE)
    man = compile_file(str(src), tmp_path / "out", CompileOptions("tiny"))
    assert man is not None
    w1 = next(t for t in man["tensors"] if t["name"] == "w1")
    assert w1.get("transposed") is True and w1["shape"] == [512, 64]
    assert not any(t.get("transposed") for t in man["tensors"] if t["name"] != "w1")
    assert "buf_cc0_b_w1" in man["windows"]
    assert 'loop_order = "jik"' in (tmp_path / "out" / "schedule.mlir").read_text()
    _assert_simulates_bit_exact(tmp_path / "out", 24 * 8, "transposed weight through a ring")
