"""Streaming SFUs: deterministic SV, Verilator lint, and bit-exact simulation against the golden
element-wise kernels with random input gaps / output stalls, plus unstalled throughput.

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

from intar.golden import kernels
from intar.hw.emit import emit_sv
from intar.hw.sfu import build_sfu, sfu_latency
from intar.sim import build, lint
from intar.sim.headers import BUS_HEADER

TOP = "sfu_top"
N_BEATS = 300

# Verilator -Wall waivers, the only ones, for SFUs with shift > 0: round_shift by a constant s
# reads only bits >= s-1 of the exact value, so the low s-1 bits of the operand register /
# sum / product are unused by definition (UNUSEDSIGNAL). Units with shift 0 lint with none.
SHIFT_WAIVERS: tuple[str, ...] = ("UNUSEDSIGNAL",)


@dataclass(frozen=True)
class Unit:
    kind: str
    lanes: int
    in_bits: int
    out_bits: int
    shift: int = 0
    rhs_bits: int | None = None

    @property
    def rb(self) -> int:
        return self.in_bits if self.rhs_bits is None else self.rhs_bits

    @property
    def binary(self) -> bool:
        return self.kind in ("add", "mul")

    @property
    def exact_bits(self) -> int:
        """Width of the exact pre-rounding value (relu/requantize: the operand)."""
        return {"add": max(self.in_bits, self.rb) + 1, "mul": self.in_bits + self.rb}.get(
            self.kind, self.in_bits
        )

    @property
    def id(self) -> str:
        r = f"x{self.rb}" if self.binary else ""
        return f"{self.kind}_l{self.lanes}_i{self.in_bits}{r}o{self.out_bits}_s{self.shift}"

    def build(self, name: str) -> hw.HWModuleOp:
        return build_sfu(
            self.kind, self.lanes, self.in_bits, self.out_bits, self.shift, name, self.rhs_bits
        )


UNITS = [
    Unit("relu", 1, 8, 8),
    Unit("relu", 4, 16, 8),  # saturates large positives
    Unit("requantize", 4, 32, 8, shift=5),
    Unit("requantize", 1, 16, 16, shift=1),  # ties: -3 >> 1 = -1
    Unit("requantize", 1, 16, 8, shift=0),  # pure saturation
    Unit("add", 4, 8, 8),  # saturating i8 add
    Unit("add", 1, 16, 16, shift=1),
    Unit("add", 1, 8, 8, shift=3, rhs_bits=16),
    Unit("mul", 4, 8, 8, shift=4),
    Unit("mul", 1, 16, 16),  # saturation of i32 products to i16
    Unit("mul", 1, 16, 16, shift=7, rhs_bits=8),
]


def _lo_hi(bits: int) -> tuple[int, int]:
    return -(1 << (bits - 1)), (1 << (bits - 1)) - 1


def _stimulus(u: Unit, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray | None]:
    """[N_BEATS, lanes] operands: random full range plus extremes, -3/-1/3 and rounding ties."""
    lo, hi = _lo_hi(u.in_bits)
    a = rng.integers(lo, hi + 1, size=(N_BEATS, u.lanes), dtype=np.int64)
    special = [lo, hi, -3, -1, 3, 0, 1, lo + 1]
    a.ravel()[: len(special)] = special
    b = None
    if u.binary:
        rlo, rhi = _lo_hi(u.rb)
        b = rng.integers(rlo, rhi + 1, size=(N_BEATS, u.lanes), dtype=np.int64)
        b.ravel()[: len(special)] = [rlo, rhi, 0, 1, -1, rlo, rhi, rlo]
    if u.shift:
        # Every 4th beat is an exact tie: operand (or sum/product) = k * 2^s + 2^(s-1).
        s = u.shift
        k = rng.integers(lo >> s, (hi >> s) - 1, size=a[::4].shape, dtype=np.int64)
        a[::4] = np.clip(k * (1 << s) + (1 << (s - 1)), lo, hi)
        if b is not None:
            b[::4] = 0 if u.kind == "add" else 1
    return a, b


def _golden(u: Unit, a: np.ndarray, b: np.ndarray | None) -> np.ndarray:
    if u.kind == "relu":
        return kernels.relu(a, out_bits=u.out_bits)
    if u.kind == "requantize":
        return kernels.requantize(a, shift=u.shift, out_bits=u.out_bits)
    fn = kernels.add if u.kind == "add" else kernels.mul
    return fn(a, b, shift=u.shift, out_bits=u.out_bits)


def _top_sv() -> str:
    """All UNITS as submodules ``sfu_<k>`` of one top; unit k's ports are prefixed ``u<k>_``."""

    def make() -> None:
        i1 = IntegerType.get_signless(1)

        def ity(w: int) -> IntegerType:
            return IntegerType.get_signless(w)

        mods = [u.build(f"sfu_{k}") for k, u in enumerate(UNITS)]
        inputs = [("clk", seq.ClockType.get()), ("rst", i1)]
        outputs = []
        for k, u in enumerate(UNITS):
            inputs += [(f"u{k}_in_valid", i1), (f"u{k}_a", ity(u.lanes * u.in_bits))]
            if u.binary:
                inputs.append((f"u{k}_b", ity(u.lanes * u.rb)))
            inputs.append((f"u{k}_out_ready", i1))
            outputs += [
                (f"u{k}_in_ready", i1),
                (f"u{k}_out_valid", i1),
                (f"u{k}_out", ity(u.lanes * u.out_bits)),
            ]

        def body(top: hw.HWModuleOp) -> dict[str, Value]:
            p = dict(zip([n for n, _ in inputs], top.entry_block.arguments, strict=True))
            res: dict[str, Value] = {}
            for k, (u, m) in enumerate(zip(UNITS, mods, strict=True)):
                ports = {"clk": p["clk"], "rst": p["rst"]}
                names = ["in_valid", "a", "out_ready"] + (["b"] if u.binary else [])
                ports |= {n: p[f"u{k}_{n}"] for n in names}
                inst = m.instantiate(f"u{k}", **ports)
                for n in ("in_ready", "out_valid", "out"):
                    res[f"u{k}_{n}"] = getattr(inst, n)
            return res

        hw.HWModuleOp(TOP, inputs, outputs, body_builder=body)

    return emit_sv(make)


# C++ harness. argv: stimulus, result, seed. Stimulus: per unit one line "n_a_values..." then
# (binary units) one line of b values, lanes values per beat, beats in order. seed 0 drives
# every cycle with out_ready high; otherwise each unit's in_valid gaps (1/4) and out_ready
# stalls (1/3) come from its own LCG. Result: per unit "first_in last_out got" and a line of
# outputs.
HARNESS_HEAD = r"""
#include "Vsfu_top.h"
#include "verilated.h"
#include <algorithm>
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
  int lanes, ib, rb, ob;
  bool bin;
  std::vector<int64_t> a, b, outs;
  std::vector<uint32_t> wa, wb, wo;
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
    if (u.bin) {
      u.b.resize(size_t(NB) * u.lanes);
      for (auto& x : u.b) if (std::fscanf(in, "%ld", &x) != 1) return 4;
    }
    u.wa.assign((u.lanes * u.ib + 31) / 32 + 2, 0);
    u.wb.assign((u.lanes * u.rb + 31) / 32 + 2, 0);
    u.wo.assign((u.lanes * u.ob + 31) / 32 + 2, 0);
  }
  std::fclose(in);
  auto* top = new Vsfu_top;
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
        put(top->u%(k)d_a, u.wa);%(drive_b)s
      }
      top->u%(k)d_out_ready = seed == 0 || u.rnd() %% 3 != 0;
    }"""
DRIVE_B = r"""
        pack(u.wb, &u.b[size_t(u.beat) * u.lanes], u.lanes, u.rb);
        put(top->u%(k)d_b, u.wb);"""
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
    units = ", ".join(
        f"Unit{{{u.lanes}, {u.in_bits}, {u.rb}, {u.out_bits}, {str(u.binary).lower()}}}"
        for u in UNITS
    )
    drive = "\n".join(
        DRIVE % {"k": k, "drive_b": DRIVE_B % {"k": k} if u.binary else ""}
        for k, u in enumerate(UNITS)
    )
    sample = "\n".join(SAMPLE % {"k": k} for k in range(len(UNITS)))
    subst = {"n_beats": str(N_BEATS), "units": units, "drive": drive, "sample": sample}
    text = HARNESS_HEAD
    for key, val in subst.items():
        text = text.replace(f"@{key}@", val)
    return text


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The one simulator build (all UNITS) and its work directory."""
    work = tmp_path_factory.mktemp("sfu")
    sv, tb = work / f"{TOP}.sv", work / "tb.cpp"
    sv.write_text(_top_sv())
    tb.write_text(_harness().replace("@BUS_H@", str(BUS_HEADER)))
    return build(sv, TOP, tb, work / "build", progress=True), work


@pytest.fixture(scope="module")
def stimulus() -> list[tuple[np.ndarray, np.ndarray | None]]:
    rng = np.random.default_rng(2024)
    return [_stimulus(u, rng) for u in UNITS]


def _run(exe: Path, work: Path, stim: list, seed: int) -> list[tuple[np.ndarray, int]]:
    """Per unit: outputs [N_BEATS, lanes] and cycles from first accepted beat to last result."""
    lines = []
    for a, b in stim:
        lines.append(" ".join(map(str, a.ravel().tolist())))
        if b is not None:
            lines.append(" ".join(map(str, b.ravel().tolist())))
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
    name = "sfu_lint"
    sv = tmp_path / f"{name}.sv"  # file named after the module: no DECLFILENAME
    text = emit_sv(lambda: u.build(name))
    assert text == emit_sv(lambda: u.build(name))
    sv.write_text(text)
    assert lint(sv, name, SHIFT_WAIVERS if u.shift else ()) == []


def test_bad_parameters() -> None:
    for args in [("tanh", 1, 8, 8, 0), ("relu", 1, 8, 8, 2), ("add", 0, 8, 8, 0)]:
        with pytest.raises(ValueError):
            emit_sv(lambda a=args: build_sfu(*a, name="bad"))


def test_bit_exact_unstalled_throughput(sim: tuple[Path, Path], stimulus: list) -> None:
    exe, work = sim
    for u, (a, b), (got, cycles) in zip(UNITS, stimulus, _run(exe, work, stimulus, 0), strict=True):
        want = _golden(u, a, b)
        np.testing.assert_array_equal(got, want, err_msg=u.id)
        lat = sfu_latency(u.kind, u.shift)
        print(f"{u.id}: {N_BEATS} beats, latency {lat}, measured {cycles} cycles")
        assert cycles == N_BEATS + lat, u.id
        _, hi = _lo_hi(u.out_bits)
        if u.exact_bits - u.shift > u.out_bits:
            assert np.any(np.abs(want) >= hi), f"{u.id}: stimulus should saturate"


def test_ties_and_negatives_covered(stimulus: list) -> None:
    u, (a, _) = UNITS[3], stimulus[3]
    assert u.shift == 1 and -3 in a
    assert int(kernels.requantize(np.array([-3]), shift=1, out_bits=16)[0]) == -1


def test_bit_exact_random_gaps_and_stalls(sim: tuple[Path, Path], stimulus: list) -> None:
    exe, work = sim
    base = _run(exe, work, stimulus, 0)
    for seed in (7, 99):
        runs = _run(exe, work, stimulus, seed)
        for u, (a, b), (got, cycles), (_, c0) in zip(UNITS, stimulus, runs, base, strict=True):
            np.testing.assert_array_equal(got, _golden(u, a, b), err_msg=f"{u.id} seed {seed}")
            assert cycles > c0, f"{u.id}: the stalled run should have stalled"
