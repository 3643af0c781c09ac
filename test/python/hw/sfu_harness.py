"""The streaming-unit test bench shared by test_sfu, test_sfu_pwl and test_sfu_exp.

A file's units (each a module with ``in_valid``/``a``[/``b``]/``out_ready`` in and
``in_ready``/``out_valid``/``out`` out, ``lanes`` values per beat) are instantiated side by
side in one top (independent streams sharing clk/rst), so the whole file needs a single
Verilator build. A C++ harness drives them from a stimulus file and records every result.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from circt.dialects import hw, seq
from circt.ir import IntegerType, Value

from intar.hw.emit import emit_sv
from intar.sim import build
from intar.sim.headers import BUS_HEADER


def lo_hi(bits: int) -> tuple[int, int]:
    """The signed range of `bits`."""
    return -(1 << (bits - 1)), (1 << (bits - 1)) - 1


@dataclass(frozen=True)
class Stream:
    """One unit as the bench sees it: its ports' widths and how many beats it takes."""

    id: str
    lanes: int
    in_bits: int
    out_bits: int
    beats: int
    build: Callable[[str], hw.HWModuleOp]  # builds the unit as a module of the given name
    rhs_bits: int | None = None  # binary units: the width of one lane of ``b``

    @property
    def binary(self) -> bool:
        return self.rhs_bits is not None


# C++ harness. argv: stimulus, result, seed. Stimulus: per unit one line of its ``a`` beats
# (lanes values per beat, beats in order) and, for binary units, one line of its ``b`` beats.
# seed 0 drives every cycle with out_ready high; otherwise each unit's in_valid gaps (1/4) and
# out_ready stalls (1/3) come from its own LCG. Result: per unit "first_in last_out got" and a
# line of outputs.
HARNESS = r"""
#include "V@top@.h"
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
  int lanes, ib, rb, ob;
  bool bin;
  long nb;
  std::vector<int64_t> a, b, outs;
  std::vector<uint32_t> wa, wb, wo;
  unsigned lcg;
  long beat = 0, got = 0, first_in = -1, last_out = -1;
  unsigned rnd() { lcg = lcg * 1103515245u + 12345u; return (lcg >> 16) & 0x7fffu; }
};

int main(int argc, char** argv) {
  if (argc < 4) return 2;
  FILE* in = std::fopen(argv[1], "r");
  if (!in) return 3;
  unsigned seed = unsigned(std::atoi(argv[3]));
  std::vector<Unit> U = {@units@};
  for (size_t k = 0; k < U.size(); ++k) {
    Unit& u = U[k];
    u.lcg = seed * 7919u + unsigned(k) * 104729u + 1u;
    u.a.resize(size_t(u.nb) * u.lanes);
    for (auto& x : u.a) if (std::fscanf(in, "%ld", &x) != 1) return 4;
    if (u.bin) {
      u.b.resize(size_t(u.nb) * u.lanes);
      for (auto& x : u.b) if (std::fscanf(in, "%ld", &x) != 1) return 4;
    }
    u.wa.assign((u.lanes * u.ib + 31) / 32 + 2, 0);
    u.wb.assign((u.lanes * u.rb + 31) / 32 + 2, 0);
    u.wo.assign((u.lanes * u.ob + 31) / 32 + 2, 0);
  }
  std::fclose(in);
  auto* top = new V@top@;
  top->rst = 1;
  for (int i = 0; i < 4; ++i) { top->clk = 0; top->eval(); top->clk = 1; top->eval(); }
  top->rst = 0;
  long cycle = 0;
  auto done = [&]() {
    for (auto& u : U) if (u.got < u.nb) return false;
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
      bool drive = u.beat < u.nb && (seed == 0 || u.rnd() %% 4 != 0);
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


@dataclass(frozen=True)
class StreamBench:
    """A top module `top` holding every stream as submodule ``<prefix><k>``; unit k's ports
    are prefixed ``u<k>_``."""

    top: str
    prefix: str
    streams: tuple[Stream, ...]
    memories: bool = False  # some unit holds seq.firmem: lower with the memory passes

    def top_sv(self) -> str:
        def make() -> None:
            def ity(w: int) -> IntegerType:
                return IntegerType.get_signless(w)

            i1 = ity(1)
            mods = [s.build(f"{self.prefix}{k}") for k, s in enumerate(self.streams)]
            inputs = [("clk", seq.ClockType.get()), ("rst", i1)]
            outputs = []
            for k, s in enumerate(self.streams):
                inputs += [(f"u{k}_in_valid", i1), (f"u{k}_a", ity(s.lanes * s.in_bits))]
                if s.rhs_bits is not None:
                    inputs.append((f"u{k}_b", ity(s.lanes * s.rhs_bits)))
                inputs.append((f"u{k}_out_ready", i1))
                outputs += [
                    (f"u{k}_in_ready", i1),
                    (f"u{k}_out_valid", i1),
                    (f"u{k}_out", ity(s.lanes * s.out_bits)),
                ]

            def body(top: hw.HWModuleOp) -> dict[str, Value]:
                p = dict(zip([n for n, _ in inputs], top.entry_block.arguments, strict=True))
                res: dict[str, Value] = {}
                for k, (s, m) in enumerate(zip(self.streams, mods, strict=True)):
                    ports = {"clk": p["clk"], "rst": p["rst"]}
                    names = ["in_valid", "a", "out_ready"] + (["b"] if s.binary else [])
                    ports |= {n: p[f"u{k}_{n}"] for n in names}
                    inst = m.instantiate(f"u{k}", **ports)
                    for n in ("in_ready", "out_valid", "out"):
                        res[f"u{k}_{n}"] = getattr(inst, n)
                return res

            hw.HWModuleOp(self.top, inputs, outputs, body_builder=body)

        if self.memories:
            from intar.hw.tensor_buffer import emit_sv_with_memories

            return emit_sv_with_memories(make)
        return emit_sv(make)

    def harness_cpp(self) -> str:
        units = ", ".join(
            f"Unit{{{s.lanes}, {s.in_bits}, {s.rhs_bits or s.in_bits}, {s.out_bits}, "
            f"{str(s.binary).lower()}, {s.beats}}}"
            for s in self.streams
        )
        drive = "\n".join(
            DRIVE % {"k": k, "drive_b": DRIVE_B % {"k": k} if s.binary else ""}
            for k, s in enumerate(self.streams)
        )
        sample = "\n".join(SAMPLE % {"k": k} for k in range(len(self.streams)))
        subst = {
            "top": self.top,
            "units": units,
            "drive": drive,
            "sample": sample,
            "BUS_H": str(BUS_HEADER),
        }
        text = HARNESS
        for key, val in subst.items():
            text = text.replace(f"@{key}@", val)
        return text

    def build(self, work: Path, sv: str | None = None, extra_args: tuple[str, ...] = ()) -> Path:
        """The one simulator build of every stream (in `work`); returns the executable."""
        sv_file, tb = work / f"{self.top}.sv", work / "tb.cpp"
        sv_file.write_text(self.top_sv() if sv is None else sv)
        tb.write_text(self.harness_cpp())
        return build(sv_file, self.top, tb, work / "build", optimize=False, extra_args=extra_args)

    def run(
        self, exe: Path, work: Path, operands: Sequence[Sequence[np.ndarray]], seed: int
    ) -> list[tuple[np.ndarray, int]]:
        """Runs every stream on its operands (``(a,)`` or ``(a, b)``, each [beats, lanes]).

        Per stream: outputs [beats, lanes] and cycles from first accepted beat to last result.
        """
        lines = []
        for s, ops in zip(self.streams, operands, strict=True):
            assert len(ops) == (2 if s.binary else 1), s.id
            for x in ops:
                assert x.shape == (s.beats, s.lanes), s.id
                lines.append(" ".join(map(str, x.ravel().tolist())))
        sfile, rfile = work / f"stim_{seed}.txt", work / f"res_{seed}.txt"
        sfile.write_text("\n".join(lines) + "\n")
        proc = subprocess.run([str(exe), str(sfile), str(rfile), str(seed)], capture_output=True)
        assert proc.returncode == 0, f"simulation failed rc={proc.returncode}"
        rows = rfile.read_text().splitlines()
        res = []
        for k, s in enumerate(self.streams):
            first_in, last_out, got = map(int, rows[2 * k].split())
            assert got == s.beats, s.id
            outs = np.array([int(x) for x in rows[2 * k + 1].split()], dtype=np.int64)
            res.append((outs.reshape(s.beats, s.lanes), last_out - first_in + 1))
        return res
