"""Piecewise-linear GELU/SiLU SFUs: deterministic SV, Verilator lint, and bit-exact simulation
against ``kernels.gelu`` / ``kernels.silu`` with random input gaps / output stalls, plus an
unstalled run that checks the exact latency and II = 1.

All configurations are instantiated side by side in one test top (independent streams sharing
clk/rst), so the whole file needs a single Verilator build.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from circt.dialects import hw, seq
from circt.ir import IntegerType, Value

from intar.golden import approx, kernels
from intar.hw.emit import emit_sv
from intar.hw.sfu_pwl import build_pwl_sfu, pwl_latency
from intar.sim import build, lint
from intar.sim.headers import BUS_HEADER

TOP = "pwl_top"
N_BEATS = 400

# Verilator -Wall waivers, the only one (UNUSEDSIGNAL), same reason as test_sfu's: a rounded
# right shift by a constant reads only the high bits of its sum. Here that is the interpolation
# sum (L + d*u) >> (12 + 16 - frac_bits), low 12 + 16 - frac_bits bits unused (frac_bits <= 16),
# or >> 12 (frac_bits > 16), and, for frac_bits > 16, to_work's (|x| + 2^(s-1)) >> s with
# s = frac_bits - 16 (low s bits unused). Verified per unit: nothing else is reported.
WAIVERS: tuple[str, ...] = ("UNUSEDSIGNAL",)


@dataclass(frozen=True)
class Unit:
    kind: str
    lanes: int
    in_bits: int
    out_bits: int
    frac_bits: int

    @property
    def id(self) -> str:
        return f"{self.kind}_l{self.lanes}_i{self.in_bits}o{self.out_bits}_f{self.frac_bits}"

    @property
    def value_range(self) -> int:
        return approx.GELU_RANGE if self.kind == "gelu" else approx.SILU_RANGE

    def build(self, name: str) -> hw.HWModuleOp:
        return build_pwl_sfu(
            self.kind, self.lanes, self.in_bits, self.out_bits, self.frac_bits, name
        )


UNITS = [
    Unit("gelu", 1, 16, 16, 12),
    Unit("gelu", 4, 16, 8, 8),  # saturates large positives
    Unit("gelu", 1, 32, 32, 20),  # frac_bits > 16: to_work rounds, from_work shifts left
    Unit("gelu", 4, 8, 4, 2),
    Unit("silu", 1, 16, 16, 8),
    Unit("silu", 4, 32, 16, 12),
    Unit("silu", 1, 24, 32, 24),
    Unit("silu", 1, 12, 8, 1),  # frac_bits 1: from_work rounds by 15
]


def _lo_hi(bits: int) -> tuple[int, int]:
    return -(1 << (bits - 1)), (1 << (bits - 1)) - 1


def _stimulus(u: Unit, rng: np.random.Generator) -> np.ndarray:
    """[N_BEATS, lanes] operands: extremes, knots +-1, range edges, dense in-range and random."""
    lo, hi = _lo_hi(u.in_bits)
    n = N_BEATS * u.lanes
    limit = u.value_range << u.frac_bits
    special = [lo, hi, 0, 1, -1, lo + 1, limit, -limit, limit - 1, 1 - limit, limit + 1]
    # Knots k / 16 (and their +-1 neighbours) across and just beyond the table.
    for k in range(0, (u.value_range << approx.PWL_STEP_BITS) + 3, 3):
        t = (k << u.frac_bits) >> approx.PWL_STEP_BITS
        special += [t, -t, t + 1, -t - 1, t - 1]
    special = [int(np.clip(v, lo, hi)) for v in special]
    dense_hi = min(hi, 2 * limit)
    dense = rng.integers(max(lo, -dense_hi), dense_hi + 1, size=n, dtype=np.int64)
    full = rng.integers(lo, hi + 1, size=n, dtype=np.int64)
    a = np.where(rng.random(n) < 0.7, dense, full)
    a[: len(special)] = special[:n]
    return a.reshape(N_BEATS, u.lanes)


def _golden(u: Unit, a: np.ndarray) -> np.ndarray:
    fn = kernels.gelu if u.kind == "gelu" else kernels.silu
    return fn(a, frac_bits=u.frac_bits, out_bits=u.out_bits)


def _top_sv() -> str:
    """All UNITS as submodules ``pwl_<k>`` of one top; unit k's ports are prefixed ``u<k>_``."""

    def make() -> None:
        def ity(w: int) -> IntegerType:
            return IntegerType.get_signless(w)

        i1 = ity(1)
        mods = [u.build(f"pwl_{k}") for k, u in enumerate(UNITS)]
        inputs = [("clk", seq.ClockType.get()), ("rst", i1)]
        outputs = []
        for k, u in enumerate(UNITS):
            inputs += [
                (f"u{k}_in_valid", i1),
                (f"u{k}_a", ity(u.lanes * u.in_bits)),
                (f"u{k}_out_ready", i1),
            ]
            outputs += [
                (f"u{k}_in_ready", i1),
                (f"u{k}_out_valid", i1),
                (f"u{k}_out", ity(u.lanes * u.out_bits)),
            ]

        def body(top: hw.HWModuleOp) -> dict[str, Value]:
            p = dict(zip([n for n, _ in inputs], top.entry_block.arguments, strict=True))
            res: dict[str, Value] = {}
            for k, m in enumerate(mods):
                ports = {"clk": p["clk"], "rst": p["rst"]}
                ports |= {n: p[f"u{k}_{n}"] for n in ("in_valid", "a", "out_ready")}
                inst = m.instantiate(f"u{k}", **ports)
                for n in ("in_ready", "out_valid", "out"):
                    res[f"u{k}_{n}"] = getattr(inst, n)
            return res

        hw.HWModuleOp(TOP, inputs, outputs, body_builder=body)

    return emit_sv(make)


# C++ harness. argv: stimulus, result, seed. Stimulus: per unit one line of lanes values per
# beat, beats in order. seed 0 drives every cycle with out_ready high; otherwise each unit's
# in_valid gaps (1/4) and out_ready stalls (1/3) come from its own LCG. Result: per unit
# "first_in last_out got" and a line of outputs.
HARNESS_HEAD = r"""
#include "Vpwl_top.h"
#include "verilated.h"
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "@BUS_H@"
using intar::field;
using intar::get;
using intar::pack;
using intar::put;
struct Unit {
  int lanes, ib, ob;
  std::vector<int64_t> a, outs;
  std::vector<uint32_t> wa, wo;
  unsigned lcg;
  long beat = 0, got = 0, first_in = -1, last_out = -1;
  unsigned rnd() { lcg = lcg * 1103515245u + 12345u; return (lcg >> 16) & 0x7fffu; }
};
static const int NB = @n_beats@;

int main(int argc, char** argv) {
  if (argc < 4) return 2;
  FILE* in = std::fopen(argv[1], "r");
  if (!in) return 3;
  unsigned seed = unsigned(std::atoi(argv[3]));
  std::vector<Unit> U = {@units@};
  for (size_t k = 0; k < U.size(); ++k) {
    Unit& u = U[k];
    u.lcg = seed * 7919u + unsigned(k) * 104729u + 1u;
    u.a.resize(size_t(NB) * u.lanes);
    for (auto& x : u.a) if (std::fscanf(in, "%ld", &x) != 1) return 4;
    u.wa.assign((u.lanes * u.ib + 31) / 32 + 2, 0);
    u.wo.assign((u.lanes * u.ob + 31) / 32 + 2, 0);
  }
  std::fclose(in);
  auto* top = new Vpwl_top;
  top->rst = 1;
  for (int i = 0; i < 4; ++i) { top->clk = 0; top->eval(); top->clk = 1; top->eval(); }
  top->rst = 0;
  long cycle = 0;
  auto done = [&]() {
    for (auto& u : U) if (u.got < NB) return false;
    return true;
  };
  while (!done() && cycle < 100000L) {
@drive@
    top->clk = 0;
    top->eval();
@sample@
    top->clk = 1;
    top->eval();
    ++cycle;
  }
  top->final();
  delete top;
  FILE* out = std::fopen(argv[2], "w");
  for (auto& u : U) {
    std::fprintf(out, "%ld %ld %ld\n", u.first_in, u.last_out, u.got);
    for (auto x : u.outs) std::fprintf(out, "%ld ", x);
    std::fprintf(out, "\n");
  }
  std::fclose(out);
  return done() ? 0 : 1;
}
"""

DRIVE = r"""    {
      Unit& u = U[%(k)d];
      bool drive = u.beat < NB && (seed == 0 || u.rnd() %% 4 != 0);
      top->u%(k)d_in_valid = drive;
      if (drive) {
        pack(u.wa, &u.a[size_t(u.beat) * u.lanes], u.lanes, u.ib);
        put(top->u%(k)d_a, u.wa);
      }
      top->u%(k)d_out_ready = seed == 0 || u.rnd() %% 3 != 0;
    }"""
SAMPLE = r"""    {
      Unit& u = U[%(k)d];
      if (top->u%(k)d_in_valid && top->u%(k)d_in_ready) {
        if (u.first_in < 0) u.first_in = cycle;
        ++u.beat;
      }
      if (top->u%(k)d_out_valid && top->u%(k)d_out_ready) {
        get(top->u%(k)d_out, u.wo);
        for (int i = 0; i < u.lanes; ++i) u.outs.push_back(field(u.wo, i, u.ob));
        u.last_out = cycle;
        ++u.got;
      }
    }"""


def _harness() -> str:
    units = ", ".join(f"Unit{{{u.lanes}, {u.in_bits}, {u.out_bits}}}" for u in UNITS)
    drive = "\n".join(DRIVE % {"k": k} for k in range(len(UNITS)))
    sample = "\n".join(SAMPLE % {"k": k} for k in range(len(UNITS)))
    subst = {"n_beats": str(N_BEATS), "units": units, "drive": drive, "sample": sample}
    text = HARNESS_HEAD
    for key, val in subst.items():
        text = text.replace(f"@{key}@", val)
    return text


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The one simulator build (all UNITS) and its work directory."""
    work = tmp_path_factory.mktemp("pwl")
    sv, tb = work / f"{TOP}.sv", work / "tb.cpp"
    sv.write_text(_top_sv())
    tb.write_text(_harness().replace("@BUS_H@", str(BUS_HEADER)))
    return build(sv, TOP, tb, work / "build", progress=True), work


@pytest.fixture(scope="module")
def stimulus() -> list[np.ndarray]:
    rng = np.random.default_rng(2025)
    return [_stimulus(u, rng) for u in UNITS]


def _run(exe: Path, work: Path, stim: list[np.ndarray], seed: int) -> list[tuple[np.ndarray, int]]:
    """Per unit: outputs [N_BEATS, lanes] and cycles from first accepted beat to last result."""
    lines = [" ".join(map(str, a.ravel().tolist())) for a in stim]
    sfile, rfile = work / f"stim_{seed}.txt", work / f"res_{seed}.txt"
    sfile.write_text("\n".join(lines) + "\n")
    proc = subprocess.run([str(exe), str(sfile), str(rfile), str(seed)], capture_output=True)
    assert proc.returncode == 0, f"simulation failed rc={proc.returncode}"
    rows = rfile.read_text().splitlines()
    res = []
    for k, u in enumerate(UNITS):
        first_in, last_out, got = map(int, rows[2 * k].split())
        assert got == N_BEATS, u.id
        outs = np.array([int(x) for x in rows[2 * k + 1].split()], dtype=np.int64)
        res.append((outs.reshape(N_BEATS, u.lanes), last_out - first_in + 1))
    return res


def test_sv_is_deterministic() -> None:
    assert _top_sv() == _top_sv()


@pytest.mark.parametrize("u", UNITS, ids=lambda u: u.id)
def test_verilator_lint_clean(u: Unit, tmp_path: Path) -> None:
    name = "pwl_lint"
    sv = tmp_path / f"{name}.sv"  # file named after the module: no DECLFILENAME
    sv.write_text(emit_sv(lambda: u.build(name)))
    assert lint(sv, name, WAIVERS) == []


def test_bad_parameters() -> None:
    for args in [
        ("tanh", 1, 8, 8, 4),
        ("gelu", 0, 8, 8, 4),
        ("silu", 1, 1, 8, 4),
        ("gelu", 1, 8, 33, 4),
        ("silu", 1, 8, 8, 33),
    ]:
        with pytest.raises(ValueError):
            emit_sv(lambda a=args: build_pwl_sfu(*a, name="bad"))
    with pytest.raises(ValueError):
        pwl_latency("exp", 8)


def test_latency_formula() -> None:
    assert [pwl_latency("gelu", f) for f in (0, 8, 16, 17, 32)] == [7, 7, 7, 8, 8]


def test_stimulus_covers_interesting_cases(stimulus: list[np.ndarray]) -> None:
    for u, a in zip(UNITS, stimulus, strict=True):
        lo, hi = _lo_hi(u.in_bits)
        want = _golden(u, a)
        assert lo in a and hi in a and 0 in a, u.id
        limit = u.value_range << u.frac_bits
        inside = np.abs(a) < limit
        assert np.any(inside & (a < 0)) and np.any(inside & (a > 0)), u.id
        if limit <= hi:  # beyond the table range both ways
            assert np.any(a >= limit) and np.any(a <= -limit), u.id
        if u.out_bits < u.in_bits:
            assert np.any(want == (1 << (u.out_bits - 1)) - 1), f"{u.id}: should saturate"
        # The correction is non-trivial (the PWL part matters) for some inputs.
        assert np.any((want != np.maximum(a, 0)) & inside), u.id


def test_bit_exact_unstalled_latency(sim: tuple[Path, Path], stimulus: list) -> None:
    exe, work = sim
    for u, a, (got, cycles) in zip(UNITS, stimulus, _run(exe, work, stimulus, 0), strict=True):
        np.testing.assert_array_equal(got, _golden(u, a), err_msg=u.id)
        lat = pwl_latency(u.kind, u.frac_bits)
        print(f"{u.id}: {N_BEATS} beats, latency {lat}, measured {cycles} cycles")
        assert cycles == N_BEATS + lat, u.id


def test_bit_exact_random_gaps_and_stalls(sim: tuple[Path, Path], stimulus: list) -> None:
    exe, work = sim
    base = _run(exe, work, stimulus, 0)
    for seed in (7, 99):
        runs = _run(exe, work, stimulus, seed)
        for u, a, (got, cycles), (_, c0) in zip(UNITS, stimulus, runs, base, strict=True):
            np.testing.assert_array_equal(got, _golden(u, a), err_msg=f"{u.id} seed {seed}")
            assert cycles > c0, f"{u.id}: the stalled run should have stalled"
