"""Verilator builds: a moved build directory is rebuilt, and a linked one keeps no precompiled headers."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from intar.sim import build

COUNTER_SV = """module counter(input logic clk, input logic rst, output logic [7:0] q);
  always_ff @(posedge clk) q <= rst ? 8'd0 : q + 8'd1;
endmodule
"""

HARNESS_CPP = """#include "Vcounter.h"
#include <cstdio>
int main() {
  Vcounter top;
  top.rst = 1; top.clk = 0; top.eval(); top.clk = 1; top.eval();
  top.rst = 0;
  for (int i = 0; i < 5; ++i) { top.clk = 0; top.eval(); top.clk = 1; top.eval(); }
  std::printf("%d\\n", int(top.q));
  return 0;
}
"""


def _sources(work: Path) -> tuple[Path, Path]:
    work.mkdir(parents=True, exist_ok=True)
    sv, cpp = work / "counter.sv", work / "tb.cpp"
    sv.write_text(COUNTER_SV)
    cpp.write_text(HARNESS_CPP)
    return sv, cpp


def test_a_moved_build_directory_builds_again(tmp_path: Path) -> None:
    first = tmp_path / "first"
    sv, cpp = _sources(first)
    exe = build(sv, "counter", cpp, first / "build", progress=False, optimize=False)
    assert subprocess.run([exe], capture_output=True, text=True).stdout.strip() == "5"
    # make's dependency files name the old directory: moved, the objects are not reused
    moved = tmp_path / "moved"
    shutil.move(first, moved)
    sv, cpp = _sources(moved)
    exe = build(sv, "counter", cpp, moved / "build", progress=False, optimize=False)
    assert exe.parent.parent == (moved / "build").resolve()
    assert subprocess.run([exe], capture_output=True, text=True).stdout.strip() == "5"


def test_a_linked_build_keeps_no_precompiled_headers_and_builds_again(tmp_path: Path) -> None:
    sv, cpp = _sources(tmp_path)
    # split into one C++ file per function, as a large design is: make precompiles the header
    split = ("--output-split", "1")
    kw = {"progress": False, "optimize": False, "extra_args": split}
    exe = build(sv, "counter", cpp, tmp_path / "build", **kw)
    assert (exe.parent / "Vcounter__pch.h").exists()
    assert not list(exe.parent.glob("*.gch"))
    # the same directory again, with a changed design: make precompiles the header again
    sv.write_text(COUNTER_SV.replace("q + 8'd1", "q + 8'd2"))
    exe = build(sv, "counter", cpp, tmp_path / "build", **kw)
    assert subprocess.run([exe], capture_output=True, text=True).stdout.strip() == "10"
    assert not list(exe.parent.glob("*.gch"))


def test_a_header_of_a_removed_checkout_builds_again(tmp_path: Path) -> None:
    """The harness includes a header by absolute path (a checkout's lib/sim); when that
    checkout is gone and the harness names another, make would stop at the stale dependency
    ("No rule to make target"): the build starts over instead."""
    old, new = tmp_path / "old", tmp_path / "new"
    for d in (old, new):
        d.mkdir()
        (d / "five.h").write_text("#define STEPS 5\n")
    sv, cpp = _sources(tmp_path / "src")
    cpp.write_text(f'#include "{old / "five.h"}"\n' + HARNESS_CPP.replace("i < 5", "i < STEPS"))
    build(sv, "counter", cpp, tmp_path / "build", progress=False, optimize=False)
    shutil.rmtree(old)
    cpp.write_text(f'#include "{new / "five.h"}"\n' + HARNESS_CPP.replace("i < 5", "i < STEPS"))
    exe = build(sv, "counter", cpp, tmp_path / "build", progress=False, optimize=False)
    assert subprocess.run([exe], capture_output=True, text=True).stdout.strip() == "5"
