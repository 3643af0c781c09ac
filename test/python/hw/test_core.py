"""Compute core: deterministic SV, Verilator lint, bit-exact simulation against the golden
matmul with cycle counts against the cost model, and the DSP48E2 count from yosys."""

from __future__ import annotations

import json
import math
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from intar.golden.kernels import matmul
from intar.hw import CoreConfig, core_sv
from intar.hw.core import build_core
from intar.hw.tensor_buffer import emit_sv_with_memories
from intar.sim import build, lint
from intar.sim.headers import BUS_HEADER
from intar.synth.yosys import synth_cells

TOP = "intar_core"
READ_LATENCY = 2  # cost model's scratchpad read, in front of the core (docs/scheduling.md)

# Verilator -Wall waivers for the generated core: none are needed today. Add a warning name
# here, with a justification comment, if a CIRCT upgrade starts emitting a benign one.
LINT_WAIVERS: tuple[str, ...] = ("DECLFILENAME",)  # the PE multiplier modules share the file

# C++ harness. Stimulus file: header "in_bits out_bits n_a n_b n_out n_beats k_bound shift seed",
# then one line per beat with n_a A elements and n_b B elements. seed 0 drives every cycle with
# out_ready high; otherwise in_valid gaps and out_ready stalls come from an LCG with that seed.
# Result file: "first_in last_out" cycles, then one line of n_out elements per output tile.
# A core with a relu input (CoreConfig.relu) gets relu = 1 on the beats of odd output tiles.
HARNESS = r"""
#include "Vintar_core.h"
#include "verilated.h"
#include <cstdint>
#include <cstdio>
#include <vector>

#include "@BUS_H@"
using intar::field;
using intar::get;
using intar::pack;
using intar::put;

int main(int argc, char** argv) {
  if (argc < 3) return 2;
  FILE* in = std::fopen(argv[1], "r");
  if (!in) return 3;
  int ib, ob, na, nb, nout, nbeats, kb, sh;
  unsigned seed;
  if (std::fscanf(in, "%d %d %d %d %d %d %d %d %u", &ib, &ob, &na, &nb, &nout, &nbeats, &kb, &sh,
                  &seed) != 9) return 4;
  std::vector<int64_t> data(size_t(nbeats) * (na + nb));
  for (auto& x : data) if (std::fscanf(in, "%ld", &x) != 1) return 5;
  std::fclose(in);
  std::vector<uint32_t> wa((na * ib + 31) / 32 + 1), wb((nb * ib + 31) / 32 + 1);
  std::vector<uint32_t> wo((nout * ob + 31) / 32 + 1);
  unsigned lcg = seed;
  auto rnd = [&]() { lcg = lcg * 1103515245u + 12345u; return (lcg >> 16) & 0x7fffu; };

  auto* top = new Vintar_core;
  top->k_bound = kb;
  top->shift = sh;
  top->in_valid = 0;
  top->out_ready = 1;
  top->rst = 1;
  for (int i = 0; i < 4; ++i) { top->clk = 0; top->eval(); top->clk = 1; top->eval(); }
  top->rst = 0;
  const int want = nbeats / kb;
  std::vector<int64_t> outs;
  long cycle = 0, first_in = -1, last_out = -1;
  int beat = 0, got = 0;
  while (got < want && cycle < 100000L + 100L * nbeats) {
    bool drive = beat < nbeats && (seed == 0 || rnd() % 4 != 0);
    top->in_valid = drive;
    if (drive) {
      const int64_t* row = &data[size_t(beat) * (na + nb)];
      pack(wa, row, na, ib);
      pack(wb, row + na, nb, ib);
      put(top->a, wa);
      put(top->b, wb);
      @SET_RELU@
    }
    top->out_ready = seed == 0 || rnd() % 3 != 0;
    top->clk = 0;
    top->eval();
    if (top->in_valid && top->in_ready) { if (first_in < 0) first_in = cycle; ++beat; }
    if (top->out_valid && top->out_ready) {
      get(top->out, wo);
      for (int i = 0; i < nout; ++i) outs.push_back(field(wo, i, ob));
      last_out = cycle;
      ++got;
    }
    top->clk = 1;
    top->eval();
    ++cycle;
  }
  top->final();
  delete top;
  FILE* out = std::fopen(argv[2], "w");
  std::fprintf(out, "%ld %ld\n", first_in, last_out);
  for (int t = 0; t < got; ++t) {
    for (int i = 0; i < nout; ++i) std::fprintf(out, "%ld ", outs[size_t(t) * nout + i]);
    std::fprintf(out, "\n");
  }
  std::fclose(out);
  return got == want ? 0 : 1;
}
"""


@dataclass(frozen=True)
class Case:
    cfg: CoreConfig
    m: int
    n: int
    k: int
    shift: int


CASES = [
    # i8 -> i16, shift 4; K = 64 so the all-extreme row/column saturates i16.
    Case(CoreConfig(2, 2, 2, in_bits=8, out_bits=16), m=4, n=4, k=64, shift=4),
    # i16 -> i16, shift 10; extreme rows make products of 2^30 that wrap int32.
    Case(CoreConfig(1, 4, 2, in_bits=16, out_bits=16), m=3, n=8, k=8, shift=10),
    # odd d3 (adder tree with a pass-through leg), shift 0, narrow output.
    Case(CoreConfig(2, 3, 3, in_bits=8, out_bits=8), m=4, n=6, k=9, shift=0),
    # a fused relu on every other output tile, switched per beat while tiles are in flight
    Case(CoreConfig(2, 2, 2, in_bits=8, out_bits=16, relu=True), m=4, n=4, k=64, shift=4),
]


def _operands(case: Case, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    lo, hi = -(1 << (case.cfg.in_bits - 1)), (1 << (case.cfg.in_bits - 1)) - 1
    a = rng.integers(lo, hi + 1, size=(case.m, case.k), dtype=np.int64)
    b = rng.integers(lo, hi + 1, size=(case.k, case.n), dtype=np.int64)
    a[0, :], b[:, 0] = lo, lo  # saturation (and for i16, int32 wrap) at C[0, 0]
    a[-1, :], b[:, -1] = hi, lo  # most negative corner: C[-1, -1]
    return a, b


def _beats(case: Case, a: np.ndarray, b: np.ndarray) -> list[list[int]]:
    """Tiles in (i, j, k) order, k innermost; each beat is A tile then B tile, row-major."""
    d1, d2, d3 = case.cfg.d1, case.cfg.d2, case.cfg.d3
    beats = []
    for ti in range(case.m // d1):
        for tj in range(case.n // d2):
            for tk in range(case.k // d3):
                at = a[ti * d1 : (ti + 1) * d1, tk * d3 : (tk + 1) * d3]
                bt = b[tk * d3 : (tk + 1) * d3, tj * d2 : (tj + 1) * d2]
                beats.append([int(x) for x in at.ravel()] + [int(x) for x in bt.ravel()])
    return beats


def _untile(case: Case, tiles: np.ndarray) -> np.ndarray:
    d1, d2 = case.cfg.d1, case.cfg.d2
    tiles = tiles.reshape(case.m // d1, case.n // d2, d1, d2)
    return tiles.transpose(0, 2, 1, 3).reshape(case.m, case.n)


def _simulate(
    exe: Path, c: CoreConfig, beats: list[list[int]], kb: int, shift: int, seed: int, work: Path
) -> list[str]:
    """Runs the harness on `beats` (header field k_bound = kb); the result file's lines."""
    stim, res = work / f"stim_{seed}.txt", work / f"res_{seed}.txt"
    head = [c.in_bits, c.out_bits, c.d1 * c.d3, c.d3 * c.d2, c.d1 * c.d2, len(beats)]
    lines = [" ".join(map(str, [*head, kb, shift, seed]))]
    lines += [" ".join(map(str, row)) for row in beats]
    stim.write_text("\n".join(lines) + "\n")
    proc = subprocess.run([str(exe), str(stim), str(res)], capture_output=True, text=True)
    assert proc.returncode == 0, f"seed {seed}: rc={proc.returncode} {proc.stderr[-2000:]}"
    return res.read_text().splitlines()


def _run(exe: Path, case: Case, beats: list[list[int]], seed: int, work: Path) -> tuple:
    k_bound = case.k // case.cfg.d3
    first, *rows = _simulate(exe, case.cfg, beats, k_bound, case.shift, seed, work)
    first_in, last_out = map(int, first.split())
    tiles = np.array([[int(x) for x in r.split()] for r in rows], dtype=np.int64)
    return _untile(case, tiles), last_out - first_in + 1


def _case_id(case: Case) -> str:
    c = case.cfg
    return f"{c.d1}x{c.d2}x{c.d3}_i{c.in_bits}o{c.out_bits}_s{case.shift}" + (
        "_relu" if c.relu else ""
    )


def _harness(cfg: CoreConfig) -> str:
    relu = "top->relu = (beat / kb) % 2;" if cfg.relu else ""
    return HARNESS.replace("@BUS_H@", str(BUS_HEADER)).replace("@SET_RELU@", relu)


def _relu_odd_tiles(case: Case, c: np.ndarray) -> np.ndarray:
    """c with max(x, 0) on the output tiles issued at odd positions (i-major, then j)."""
    d1, d2 = case.cfg.d1, case.cfg.d2
    out = c.copy()
    for t in range(1, (case.m // d1) * (case.n // d2), 2):
        ti, tj = divmod(t, case.n // d2)
        tile = out[ti * d1 : (ti + 1) * d1, tj * d2 : (tj + 1) * d2]
        np.maximum(tile, 0, out=tile)
    return out


def test_sv_is_deterministic() -> None:
    cfg = CASES[1].cfg
    assert core_sv(cfg) == core_sv(cfg)
    assert core_sv(CASES[0].cfg) != core_sv(cfg)


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_verilator_lint_clean(case: Case, tmp_path: Path) -> None:
    sv = tmp_path / f"{TOP}.sv"  # file named after the module: no DECLFILENAME
    sv.write_text(core_sv(case.cfg, TOP))
    assert lint(sv, TOP, LINT_WAIVERS) == []


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_bit_exact_and_cycles(case: Case, tmp_path: Path) -> None:
    sv, tb = tmp_path / f"{TOP}.sv", tmp_path / "tb.cpp"
    sv.write_text(core_sv(case.cfg, TOP))
    tb.write_text(_harness(case.cfg))
    exe = build(sv, TOP, tb, tmp_path / "build", optimize=False)
    rng = np.random.default_rng(1234)
    a, b = _operands(case, rng)
    want = matmul(a, b, shift=case.shift, out_bits=case.cfg.out_bits)
    if case.cfg.relu:
        plain = want
        want = _relu_odd_tiles(case, want)
        assert (want == 0).sum() > (plain == 0).sum(), "stimulus should exercise the relu"
        assert (want < 0).any(), "even tiles keep their negative values"
    beats = _beats(case, a, b)

    got, core_cycles = _run(exe, case, beats, seed=0, work=tmp_path)
    np.testing.assert_array_equal(got, want)
    sat = (1 << (case.cfg.out_bits - 1)) - 1
    if case.shift:
        assert np.any(np.abs(want) >= sat), "stimulus should exercise saturation"

    # Cost model: tiles + fill(d3), fill = read 2 + DSP 3 + ceil(log2 d3) + acc 1 + wb 1.
    d3 = case.cfg.d3
    fill = READ_LATENCY + 3 + math.ceil(math.log2(d3)) + 1 + 1
    model = len(beats) + fill
    measured = core_cycles + READ_LATENCY
    print(f"{_case_id(case)}: measured {measured} (core {core_cycles} + read 2), model {model}")
    assert core_cycles == len(beats) + case.cfg.latency
    assert abs(measured - model) <= 0.1 * model

    # Random in_valid gaps and out_ready stalls must not change the results.
    got_stall, stall_cycles = _run(exe, case, beats, seed=7, work=tmp_path)
    np.testing.assert_array_equal(got_stall, want)
    assert stall_cycles > core_cycles, "the stalled run should have stalled"


@pytest.mark.parametrize(
    ("cfg", "dsps"),
    [
        (CoreConfig(2, 2, 2, in_bits=16, out_bits=16), 8),  # one product per DSP
        (CoreConfig(2, 2, 2, in_bits=8, out_bits=16), 4),  # two 8-bit products per DSP
        (CoreConfig(2, 3, 2, in_bits=8, out_bits=8), 8),  # odd d2: a pair and a single per row
    ],
    ids=["i16", "i8-packed", "i8-odd"],
)
def test_yosys_dsp_count(cfg: CoreConfig, dsps: int, tmp_path: Path) -> None:
    cells = synth_cells(core_sv(cfg, TOP), TOP, tmp_path)
    found = {k: v for k, v in cells.items() if re.match(r"DSP", k)}
    print(f"yosys cells: {json.dumps(cells, sort_keys=True)}")
    assert cfg.dsps == dsps
    assert found == {"DSP48E2": dsps}


# k-outer cores (acc_depth > 1): the harness drives (first, last, acc_idx, acc_mem) per beat
# from the four numbers in front of each beat's operands, instead of k_bound.
K_OUTER_HARNESS = (
    HARNESS.replace("  top->k_bound = kb;\n", "")
    .replace("data(size_t(nbeats) * (na + nb))", "data(size_t(nbeats) * (na + nb + 4))")
    .replace(
        "const int64_t* row = &data[size_t(beat) * (na + nb)];",
        "const int64_t* row = &data[size_t(beat) * (na + nb + 4)] + 4;\n"
        "      top->first = row[-4]; top->last = row[-3];\n"
        "      top->acc_idx = row[-2]; top->acc_mem = row[-1];",
    )
    .replace("const int want = nbeats / kb;", "const int want = kb;  // output tiles")
)


def _k_outer_beats(
    cfg: CoreConfig, mats: list[tuple[np.ndarray, np.ndarray, str]]
) -> tuple[list[list[int]], list[tuple[int, int, int]]]:
    """Beats of matmuls run one after another, each in loop order "kij" (k outer; partial
    tiles in the memory, index i*J + j) or "ijk" (accumulator register); and the output
    tiles (matmul, ti, tj) in the order they leave the core."""
    d1, d2, d3 = cfg.d1, cfg.d2, cfg.d3
    beats, order = [], []
    for n, (a, b, loop) in enumerate(mats):
        ni, nj, nk = a.shape[0] // d1, b.shape[1] // d2, a.shape[1] // d3
        steps = (
            [(ti, tj, tk) for tk in range(nk) for ti in range(ni) for tj in range(nj)]
            if loop == "kij"
            else [(ti, tj, tk) for ti in range(ni) for tj in range(nj) for tk in range(nk)]
        )
        for ti, tj, tk in steps:
            at = a[ti * d1 : (ti + 1) * d1, tk * d3 : (tk + 1) * d3]
            bt = b[tk * d3 : (tk + 1) * d3, tj * d2 : (tj + 1) * d2]
            ctrl = [int(tk == 0), int(tk == nk - 1), ti * nj + tj, int(loop == "kij")]
            beats.append(ctrl + [int(x) for x in at.ravel()] + [int(x) for x in bt.ravel()])
            if tk == nk - 1:
                order.append((n, ti, tj))
    return beats, order


def test_k_outer_bit_exact_under_stalls(tmp_path: Path) -> None:
    """Partial tiles kept in the accumulator memory (two beats apart at the least: I*J = 2),
    then a k-inner matmul on the register, with and without input gaps and output stalls."""
    cfg = CoreConfig(1, 4, 2, in_bits=16, out_bits=16, acc_depth=6)
    shift = 18  # int32 partial sums (they wrap) to 14 bits: no saturation
    rng = np.random.default_rng(99)
    shapes = [(1, 8, 10, "kij"), (3, 8, 6, "kij"), (2, 4, 6, "ijk"), (2, 4, 4, "kij")]
    mats = [
        (
            rng.integers(-(1 << 15), 1 << 15, size=(m, k), dtype=np.int64),
            rng.integers(-(1 << 15), 1 << 15, size=(k, n), dtype=np.int64),
            loop,
        )
        for m, n, k, loop in shapes
    ]
    beats, order = _k_outer_beats(cfg, mats)
    want = [matmul(a, b, shift=shift, out_bits=cfg.out_bits) for a, b, _ in mats]
    sv, tb = tmp_path / f"{TOP}.sv", tmp_path / "tb.cpp"
    # the accumulator memory is a seq.firmem: lowered with the memory passes
    sv.write_text(emit_sv_with_memories(lambda: build_core(cfg, TOP)))
    tb.write_text(K_OUTER_HARNESS.replace("@BUS_H@", str(BUS_HEADER)).replace("@SET_RELU@", ""))
    exe = build(sv, TOP, tb, tmp_path / "build", optimize=False)
    for seed in (0, 7, 11):
        # the k-outer harness reads the header's k_bound field as the output tile count
        _, *rows = _simulate(exe, cfg, beats, len(order), shift, seed, tmp_path)
        assert len(rows) == len(order)
        for (n, ti, tj), row in zip(order, rows, strict=True):
            got = [int(x) for x in row.split()]
            ref = want[n][ti, tj * cfg.d2 : (tj + 1) * cfg.d2]
            assert got == [int(x) for x in ref], f"seed {seed}: matmul {n} tile ({ti}, {tj})"
