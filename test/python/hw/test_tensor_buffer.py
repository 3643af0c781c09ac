"""Tensor buffer: geometry, deterministic SV, Verilator -Wall lint, and a cycle-exact simulation
of contending tile writers, II = 1 tile reads (incl. the out-of-range mask) and mixed
read / write traffic against a numpy model, plus BRAM mapping in yosys.

All SPECS are instantiated side by side in one test top (independent buffers sharing clk/rst),
so the whole file needs a single Verilator build.
"""

from __future__ import annotations

import itertools
import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from circt.dialects import hw, seq
from circt.ir import IntegerType, Value

from intar.hw.tensor_buffer import (
    READ_LATENCY,
    READ_STAGES,
    RING_RELEASE_STAGES,
    TensorBufferSpec,
    build_tensor_buffer,
    col_bits,
    emit_sv_with_memories,
    row_bits,
    tensor_buffer_sv,
    write_stages,
)
from intar.sim import build, lint
from intar.sim.headers import BUS_HEADER
from intar.synth.yosys import synth_cells

TOP = "tbuf_top"

SPECS = [
    TensorBufferSpec(16, 32, 16, ((1, 4),), (1, 5)),  # C = 20: reciprocal divide, col mask
    TensorBufferSpec(13, 10, 8, ((2, 3), (1, 2)), (5, 2)),  # mixed shapes, edge tiles
    TensorBufferSpec(7, 9, 16, ((1, 1),), (3, 3)),  # edge read tiles: row and col masking
    TensorBufferSpec(12, 12, 8, ((1, 2), (2, 1), (3, 4)), (2, 2)),  # 3 writers
    TensorBufferSpec(8, 8, 32, ((2, 2),), (4, 1)),  # power-of-two blocks, 128-bit read bus
    TensorBufferSpec(2, 3, 8, ((2, 3),), (1, 1)),  # depth 1 (firmem padded to 2 words)
    # C = 24 read 3 wide: the read select from col bits 0..2 times 3 (3's inverse mod 8)
    TensorBufferSpec(4, 50, 8, ((1, 8),), (1, 3)),
    # R = 11 over 10-bit rows (not foldable): the write selects from chunk residues and a sum
    TensorBufferSpec(600, 2, 8, ((1, 2),), (11, 2)),
]

# Verilator -Wall waivers, all in one place:
# - DECLFILENAME: the SV file holds the buffer plus CIRCT's memory module
#   (``<name>_bank_<depth>x<bits>``), which cannot both match the file name.
# - UNUSEDSIGNAL: (1) an aligned origin's low bits are known (row % h == 0), so for a tile as
#   high (wide) as the block, R (C) a power of two, the buffer never looks at them; (2) x // d
#   for a non-power-of-two block size d is a reciprocal multiply whose low (fraction) product
#   bits are unused by definition. Every other -Wall warning stays enabled.
LINT_WAIVERS: tuple[str, ...] = ("DECLFILENAME", "UNUSEDSIGNAL")


def _sid(s: TensorBufferSpec) -> str:
    ws = "_".join(f"{h}x{w}" for h, w in s.write_shapes)
    return f"{s.rows}x{s.cols}b{s.bits}_w{ws}_r{s.read_shape[0]}x{s.read_shape[1]}"


def _top_sv() -> str:
    """All SPECS as submodules ``tbuf_<k>`` of one top; buffer k's ports are prefixed ``s<k>_``."""

    def make() -> None:
        def ity(w: int) -> IntegerType:
            return IntegerType.get_signless(w)

        i1 = ity(1)
        mods = [build_tensor_buffer(s, f"tbuf_{k}") for k, s in enumerate(SPECS)]
        inputs = [("clk", seq.ClockType.get()), ("rst", i1)]
        outputs = []
        names: list[list[str]] = []
        for k, s in enumerate(SPECS):
            rb, cb = row_bits(s), col_bits(s)
            ins = []
            for p, (h, w) in enumerate(s.write_shapes):
                ins += [
                    (f"w{p}_valid", i1),
                    (f"w{p}_row", ity(rb)),
                    (f"w{p}_col", ity(cb)),
                    (f"w{p}_data", ity(h * w * s.bits)),
                ]
                outputs.append((f"s{k}_w{p}_ready", i1))
            ins += [("rd_en", i1), ("rd_row", ity(rb)), ("rd_col", ity(cb))]
            h, w = s.read_shape
            outputs.append((f"s{k}_rd_data", ity(h * w * s.bits)))
            inputs += [(f"s{k}_{n}", t) for n, t in ins]
            names.append([n for n, _ in ins])

        def body(top: hw.HWModuleOp) -> dict[str, Value]:
            p = dict(zip([n for n, _ in inputs], top.entry_block.arguments, strict=True))
            res: dict[str, Value] = {}
            for k, (s, m) in enumerate(zip(SPECS, mods, strict=True)):
                ports = {"clk": p["clk"], "rst": p["rst"]}
                ports |= {n: p[f"s{k}_{n}"] for n in names[k]}
                inst = m.instantiate(f"s{k}", **ports)
                for q in range(len(s.write_shapes)):
                    res[f"s{k}_w{q}_ready"] = getattr(inst, f"w{q}_ready")
                res[f"s{k}_rd_data"] = inst.rd_data
            return res

        hw.HWModuleOp(TOP, inputs, outputs, body_builder=body)

    return emit_sv_with_memories(make)


# C++ harness. argv: stimulus, result. Stimulus: "n_cycles", then one line per cycle: rst, then
# per buffer, per writer "valid row col e0 .. e(h*w-1)", then "rd_en rd_row rd_col". Result: one
# line per cycle with, per buffer, each writer's ready and the rd_data elements (signed),
# sampled after the inputs are applied and before that cycle's rising edge.
HARNESS_HEAD = r"""
#include "Vtbuf_top.h"
#include "verilated.h"
#include <cstdint>
#include <cstdio>
#include <vector>

#include "@BUS_H@"
using intar::field;
using intar::get;
using intar::pack;
using intar::put;

static std::vector<uint32_t> buf(64);
static std::vector<int64_t> el(256);
static FILE* in;
static int64_t num() {
  long v;
  if (std::fscanf(in, "%ld", &v) != 1) std::exit(4);
  return v;
}

int main(int argc, char** argv) {
  if (argc < 3) return 2;
  in = std::fopen(argv[1], "r");
  FILE* out = std::fopen(argv[2], "w");
  if (!in || !out) return 3;
  long n = num();
  auto* top = new Vtbuf_top;
  for (long t = 0; t < n; ++t) {
    top->rst = num();
@drive@
    top->clk = 0;
    top->eval();
@sample@
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

DRIVE_W = r"""    top->s%(k)d_w%(p)d_valid = num();
    top->s%(k)d_w%(p)d_row = num();
    top->s%(k)d_w%(p)d_col = num();
    for (int i = 0; i < %(n)d; ++i) el[i] = num();
    pack(buf, el.data(), %(n)d, %(bits)d);
    put(top->s%(k)d_w%(p)d_data, buf);"""
DRIVE_R = r"""    top->s%(k)d_rd_en = num();
    top->s%(k)d_rd_row = num();
    top->s%(k)d_rd_col = num();"""
SAMPLE_W = r"""    std::fprintf(out, "%%d ", int(top->s%(k)d_w%(p)d_ready));"""
SAMPLE_R = r"""    get(top->s%(k)d_rd_data, buf);
    for (int i = 0; i < %(n)d; ++i) std::fprintf(out, "%%ld ", long(field(buf, i, %(bits)d)));"""


def _harness() -> str:
    drive, sample = [], []
    for k, s in enumerate(SPECS):
        for p, (h, w) in enumerate(s.write_shapes):
            drive.append(DRIVE_W % {"k": k, "p": p, "n": h * w, "bits": s.bits})
            sample.append(SAMPLE_W % {"k": k, "p": p})
        drive.append(DRIVE_R % {"k": k})
        h, w = s.read_shape
        sample.append(SAMPLE_R % {"k": k, "n": h * w, "bits": s.bits})
    text = HARNESS_HEAD.replace("@drive@", "\n".join(drive))
    return text.replace("@sample@", "\n".join(sample)).replace("@BUS_H@", str(BUS_HEADER))


def _origins(s: TensorBufferSpec, shape: tuple[int, int]) -> list[tuple[int, int]]:
    h, w = shape
    return [(r, c) for r in range(0, s.rows, h) for c in range(0, s.cols, w)]


class _Trace:
    """Cycle-by-cycle stimulus of one buffer plus the model's expected outputs.

    The memory model is the padded ``(row_blocks*R) x (col_blocks*C)`` array; ready follows
    the arbitration: ``!rst`` for one writer, else the registered grant (it passes to the
    lowest-numbered valid writer not granted now, else stays with a valid granted one; reset
    clears it); a read issued in cycle t
    sees the writes accepted in cycles < t + READ_STAGES - write_stages (the banks are read
    in t + READ_STAGES, read-first) and shows up on rd_data in t + READ_LATENCY, where it
    stays until the next read's tile arrives; elements outside rows x cols read 0.
    """

    def __init__(self, s: TensorBufferSpec, rng: np.random.Generator) -> None:
        self.s, self.rng = s, rng
        self.nw = len(s.write_shapes)
        self.mem = np.zeros((s.row_blocks * s.R, s.col_blocks * s.C), dtype=np.int64)
        self.lo, self.hi = -(1 << (s.bits - 1)), (1 << (s.bits - 1)) - 1
        self.queues: list[list[tuple[int, int, np.ndarray]]] = [[] for _ in range(self.nw)]
        self.offering = [False] * self.nw
        self.inputs: list[tuple[int, list, tuple[int, int, int]]] = []  # rst, writers, read
        self.ready: list[list[int]] = []
        self.want: list[np.ndarray | None] = []
        self.pending: dict[int, np.ndarray] = {}
        self.lag = READ_STAGES - write_stages(s)  # a read sees writes accepted before t + lag
        self.issued: list[tuple[int, int, int]] = []  # (cycle, row, col) of reads not resolved
        self.arrivals: set[int] = set()  # cycles in which a read's tile arrives
        self.contended = 0  # cycles with w0 and w1 both valid
        self.grant = [0] * self.nw  # the registered grant (several writers)

    def tile(self, shape: tuple[int, int]) -> np.ndarray:
        return self.rng.integers(self.lo, self.hi + 1, size=shape, dtype=np.int64)

    def enqueue_all(self, gap: float) -> None:
        """Every writer queues every aligned tile of its shape, random order and data."""
        self.gap = gap
        for p, shape in enumerate(self.s.write_shapes):
            org = _origins(self.s, shape)
            for i in self.rng.permutation(len(org)):
                self.queues[p].append((*org[i], self.tile(shape)))

    def read_tile(self, r: int, c: int) -> np.ndarray:
        h, w = self.s.read_shape
        t = self.mem[r : r + h, c : c + w].copy()
        t[max(0, self.s.rows - r) :, :] = 0
        t[:, max(0, self.s.cols - c) :] = 0
        return t

    def cycle(self, rst: int = 0, read: tuple[int, int] | None = None) -> None:
        t = len(self.inputs)
        writers, valids = [], []
        for p, q in enumerate(self.queues):
            if q and not self.offering[p]:
                self.offering[p] = self.rng.random() >= self.gap
            v = int(bool(q) and self.offering[p]) or rst  # during reset all writers offer
            if q:
                r, c, d = q[0]
            else:
                r, c, d = 0, 0, np.zeros(self.s.write_shapes[p], dtype=np.int64)
            writers.append((v, r, c, d))
            valids.append(v)
        if self.nw == 1:
            ready = [int(not rst)]
        else:
            ready = self.grant
            others = [int(v and not g) for v, g in zip(valids, self.grant, strict=True)]
            if any(others):
                nxt = [int(o and not any(others[:p])) for p, o in enumerate(others)]
            else:
                nxt = [int(v and g) for v, g in zip(valids, self.grant, strict=True)]
            self.grant = [0] * self.nw if rst else nxt
        if self.nw > 1 and valids[0] and valids[1]:
            self.contended += 1
        rd = (0, 0, 0) if read is None else (1, *read)
        if read is not None:
            self.issued.append((t, *read))
        while self.issued and self.issued[0][0] + self.lag == t:  # before this cycle's writes
            t0, r, c = self.issued.pop(0)
            self.pending[t0 + READ_LATENCY] = self.read_tile(r, c)
        for p, (v, r, c, d) in enumerate(writers):
            if v and ready[p]:
                h, w = d.shape
                self.mem[r : r + h, c : c + w] = d
                self.queues[p].pop(0)
                self.offering[p] = False
        self.inputs.append((rst, writers, rd))
        self.ready.append(ready)
        prev = self.want[-1] if self.want else None
        if t in self.pending:
            self.arrivals.add(t)
        self.want.append(self.pending.pop(t, prev))

    def writes_pending(self) -> bool:
        return any(self.queues)


def _traces(seed: int) -> list[_Trace]:
    """All buffers in lockstep (they share rst): reset with every writer valid (nothing may be
    written); fill with all writers contending (valid gaps 1/4); reset again with writers
    valid; read every aligned read tile back to back in random order; then mixed random writes
    (gaps 1/2) and reads (3/4)."""
    rng = np.random.default_rng(seed)
    trs = [_Trace(s, rng) for s in SPECS]

    def stop_writers() -> None:
        for tr in trs:
            tr.queues = [[] for _ in range(tr.nw)]
            tr.offering = [False] * tr.nw

    for tr in trs:
        tr.enqueue_all(0.25)
    for _ in range(2):
        for tr in trs:
            tr.cycle(rst=1)
    while any(tr.writes_pending() for tr in trs):
        for tr in trs:
            tr.cycle()
    snapshots = [tr.mem.copy() for tr in trs]
    for tr in trs:
        tr.enqueue_all(0.25)  # offered during the second reset only
    for _ in range(3):
        for tr in trs:
            tr.cycle(rst=1)
    for tr, snap in zip(trs, snapshots, strict=True):
        assert np.array_equal(tr.mem, snap)
    stop_writers()
    for tr in trs:
        org = _origins(tr.s, tr.s.read_shape)
        for i in rng.permutation(len(org)):
            tr.cycle(read=org[i])
    n = max(len(tr.inputs) for tr in trs)
    for tr in trs:
        while len(tr.inputs) < n:
            tr.cycle()
        tr.enqueue_all(0.5)
    for _ in range(300):
        for tr in trs:
            org = _origins(tr.s, tr.s.read_shape)
            tr.cycle(read=org[int(rng.integers(len(org)))] if rng.random() < 0.75 else None)
    stop_writers()
    return trs


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The one simulator build (all SPECS) and its work directory."""
    work = tmp_path_factory.mktemp("tbuf")
    sv, tb = work / f"{TOP}.sv", work / "tb.cpp"
    sv.write_text(_top_sv())
    tb.write_text(_harness())
    return build(sv, TOP, tb, work / "build", progress=True), work


def _run(exe: Path, work: Path, traces: list[_Trace]) -> list[list[list[int]]]:
    """Runs the traces (padded with idle cycles to a common length); per cycle, per buffer, the
    sampled outputs [ready_0 .. ready_n-1, rd elements ...]."""
    n = max(len(tr.inputs) for tr in traces) + READ_LATENCY
    for tr in traces:
        while len(tr.inputs) < n:
            tr.cycle()
    lines = [str(n)]
    for t in range(n):
        parts = [str(traces[0].inputs[t][0])]
        for tr in traces:
            rst, writers, rd = tr.inputs[t]
            assert rst == traces[0].inputs[t][0]
            for v, r, c, d in writers:
                parts.append(f"{v} {r} {c} " + " ".join(map(str, d.ravel().tolist())))
            parts.append(" ".join(map(str, rd)))
        lines.append(" ".join(parts))
    stim, res = work / "stim.txt", work / "res.txt"
    stim.write_text("\n".join(lines) + "\n")
    proc = subprocess.run([str(exe), str(stim), str(res)], capture_output=True, text=True)
    assert proc.returncode == 0, f"simulation failed rc={proc.returncode}: {proc.stderr[-2000:]}"
    out = []
    for ln in res.read_text().splitlines():
        vals = [int(x) for x in ln.split()]
        row, i = [], 0
        for s in SPECS:
            m = len(s.write_shapes) + s.read_shape[0] * s.read_shape[1]
            row.append(vals[i : i + m])
            i += m
        assert i == len(vals)
        out.append(row)
    assert len(out) == n
    return out


def test_geometry_and_ports() -> None:
    s = SPECS[1]
    assert (s.R, s.C, s.banks, s.row_blocks, s.col_blocks, s.depth) == (10, 6, 60, 2, 2, 4)
    assert (row_bits(s), col_bits(s)) == (4, 4)
    s = SPECS[0]
    assert (s.R, s.C, s.depth, row_bits(s), col_bits(s)) == (1, 20, 32, 4, 5)
    assert (READ_LATENCY, READ_STAGES) == (4, 2)
    assert [write_stages(s) for s in SPECS] == [2, 2, 2, 2, 0, 2, 2, 2]
    sv = tensor_buffer_sv(SPECS[3], "tb")
    for port in ("w2_valid", "w2_ready", "w2_data", "rd_en", "rd_data"):
        assert re.search(rf"\b{port}\b", sv), port
    assert re.search(r"input\s+\[95:0\]\s+w2_data\b", sv)  # 3 x 4 x 8
    assert re.search(r"output\s+\[31:0\]\s+rd_data\b", sv)  # 2 x 2 x 8
    assert len(re.findall(r"^  tb_bank_6x8 bank_\d+_\d+ ", sv, re.M)) == 24


def test_bad_specs() -> None:
    bad = [
        TensorBufferSpec(0, 4, 8, ((1, 1),), (1, 1)),
        TensorBufferSpec(4, 4, 0, ((1, 1),), (1, 1)),
        TensorBufferSpec(4, 4, 8, (), (1, 1)),
        TensorBufferSpec(4, 4, 8, ((0, 1),), (1, 1)),
        TensorBufferSpec(4, 4, 8, ((1, 1),), (1, 0)),
        TensorBufferSpec(4, 8, 8, ((1, 4),), (1, 4), rotations=(0, 1)),  # aligned read
        TensorBufferSpec(4, 8, 8, ((1, 4),), (1, 4), True, rotations=(2, 1)),  # not ascending
        TensorBufferSpec(4, 8, 8, ((1, 4),), (1, 4), True, rotations=(0, 4)),  # 4 >= C
    ]
    for s in bad:
        with pytest.raises(ValueError):
            tensor_buffer_sv(s, "bad")


def test_sv_is_deterministic() -> None:
    assert _top_sv() == _top_sv()


@pytest.mark.parametrize("s", SPECS, ids=_sid)
def test_verilator_lint_clean(s: TensorBufferSpec, tmp_path: Path) -> None:
    name = "tbuf_lint"
    sv = tmp_path / f"{name}.sv"
    sv.write_text(tensor_buffer_sv(s, name))
    assert lint(sv, name, LINT_WAIVERS) == []


def test_lint_without_unused_waiver(tmp_path: Path) -> None:
    """Element tiles (R = C = 1, no decode at all): clean with the file-name waiver alone."""
    name = "tbuf_lint1"
    sv = tmp_path / f"{name}.sv"
    sv.write_text(tensor_buffer_sv(TensorBufferSpec(8, 6, 8, ((1, 1),), (1, 1)), name))
    assert lint(sv, name, ("DECLFILENAME",)) == []


def test_tiles_priority_and_masking(sim: tuple[Path, Path]) -> None:
    exe, work = sim
    traces = _traces(11)
    got = _run(exe, work, traces)
    for k, (s, tr) in enumerate(zip(SPECS, traces, strict=True)):
        nw = len(s.write_shapes)
        h, w = s.read_shape
        bad_ready = [t for t in range(len(got)) if got[t][k][:nw] != tr.ready[t]]
        assert not bad_ready, f"{_sid(s)}: ready differs in cycles {bad_ready[:5]}"
        checked = 0
        for t, want in enumerate(tr.want):
            if want is None:
                continue
            tile = np.array(got[t][k][nw:], dtype=np.int64).reshape(h, w)
            assert np.array_equal(tile, want), f"{_sid(s)} cycle {t}: {tile} != {want}"
            checked += 1
        # Every read issued arrived inside the run (incl. all aligned tiles, back to back).
        n_reads = sum(rd[0] for _r, _w, rd in tr.inputs)
        assert len(tr.arrivals) == n_reads > len(_origins(s, s.read_shape)) + 150
        assert not tr.pending
        if nw > 1:
            # Contending writers take turns: whenever w0 and w1 are both valid and neither is
            # granted, w0 is granted next; when one of them is granted, the other is next.
            both = [t for t, (_r, wr, _d) in enumerate(tr.inputs) if wr[0][0] and wr[1][0]]
            assert tr.contended > 10
            turns = 0
            for t in both:
                if t + 1 >= len(got) or tr.inputs[t][0]:
                    continue
                was = got[t][k][:2]
                if was == [0, 0] and not any(got[t][k][2:nw]):
                    assert got[t + 1][k][:2] == [1, 0]
                elif was in ([1, 0], [0, 1]):
                    assert got[t + 1][k][:2] == was[::-1]
                    turns += 1
            assert turns > 5
        print(
            f"{_sid(s)}: {len(got)} cycles, {n_reads} reads, {checked} rd_data cycles checked, "
            f"{tr.contended} contended cycles"
        )
    # Edge tiles exist and were masked: some expected read tiles hold zeros outside the tensor.
    assert any(s.rows % s.read_shape[0] or s.cols % s.read_shape[1] for s in SPECS)


def test_yosys_maps_banks_to_bram(tmp_path: Path) -> None:
    """1024 x 4 x i16, tiles (1, 4): 4 banks of 1024 x 16, one RAMB18E2 each, no LUTRAM."""
    s = TensorBufferSpec(1024, 4, 16, ((1, 4),), (1, 4))
    cells = synth_cells(tensor_buffer_sv(s, "tbuf_syn"), "tbuf_syn", tmp_path)
    print(f"yosys cells: {json.dumps(cells, sort_keys=True)}")
    r36, r18 = cells.get("RAMB36E2", 0), cells.get("RAMB18E2", 0)
    assert r36 + r18 >= s.banks
    assert r36 + (r18 + 1) // 2 <= s.banks
    lutram = {k: v for k, v in cells.items() if re.match(r"RAM\d|RAM[SD]", k)}
    assert lutram == {}, f"LUTRAM: {lutram}"


# -- window (ring) buffers ------------------------------------------------------------------

# Buffers without the ring option: none of its ports or registers may appear in them.
PLAIN_SPECS = (
    SPECS[0],
    SPECS[1],
    TensorBufferSpec(64, 16, 16, ((2, 4),), (1, 4)),
    TensorBufferSpec(12, 40, 8, ((1, 4),), (2, 4), True),
)

# R = 3 (not a power of two), C = 4 over 10 columns, 20 rows (the last write tile sticks out),
# a ring of 4 blocks = 12 rows.
RING = TensorBufferSpec(20, 10, 8, ((3, 4),), (1, 2), ring_blocks=4)
RING_TOP = "tbuf_ring"
# Power-of-two blocks (R = 2, C = 4, 2 column blocks): no write stages, so the release is
# delayed in the buffer instead.
RING_POW2 = TensorBufferSpec(24, 8, 8, ((2, 4),), (1, 2), ring_blocks=4)

RING_HARNESS = r"""
#include "Vtbuf_ring.h"
#include "verilated.h"
#include <cstdint>
#include <cstdio>
#include <vector>

#include "@BUS_H@"

static FILE* in;
static long num() {
  long v;
  if (std::fscanf(in, "%ld", &v) != 1) std::exit(4);
  return v;
}

int main(int argc, char** argv) {
  if (argc < 3) return 2;
  in = std::fopen(argv[1], "r");
  FILE* out = std::fopen(argv[2], "w");
  if (!in || !out) return 3;
  std::vector<uint32_t> buf(8);
  std::vector<int64_t> el(16);
  long n = num();
  auto* top = new Vtbuf_ring;
  for (long t = 0; t < n; ++t) {
    top->rst = num();
    top->w0_valid = num();
    top->w0_row = num();
    top->w0_col = num();
    for (int i = 0; i < @N@; ++i) el[i] = num();
    intar::pack(buf, el.data(), @N@, @BITS@);
    intar::put(top->w0_data, buf);
    top->rd_en = num();
    top->rd_row = num();
    top->rd_col = num();
    top->rd_release = num();
    top->clk = 0;
    top->eval();
    std::fprintf(out, "%d %d", int(top->w0_ready), int(top->full));
    intar::get(top->rd_data, buf);
    for (int i = 0; i < @M@; ++i) std::fprintf(out, " %ld", long(intar::field(buf, i, @BITS@)));
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


def _ring_trace(s: TensorBufferSpec, seed: int) -> tuple[list[str], list[tuple[int, int]], dict]:
    """A writer that writes every tile in row order as fast as the ring lets it (valid 4/5 of
    the cycles), and a slower reader (a read in half the cycles) that reads every tile in row
    order once its rows are written, releasing each row with its last read (`rd_release` =
    rows read completely, this cycle's read included). The model: the physical ring; ready and
    full from the registered bound ``rd_release + W*R - h`` of the release delayed by
    ``RING_RELEASE_STAGES - write_stages`` registers. Returns the stimulus lines, the expected
    (ready, full) per cycle and the expected read tiles by cycle (logical data)."""
    rng = np.random.default_rng(seed)
    (h, w), (rh, rw) = s.write_shapes[0], s.read_shape
    wr = s.window_rows
    phys = np.zeros((wr, s.col_blocks * s.C), dtype=np.int64)
    logical = rng.integers(-128, 128, size=(s.row_blocks * s.R, s.col_blocks * s.C))
    writes = [(r, c) for r in range(0, s.rows, h) for c in range(0, s.cols, w)]
    reads = [(r, c) for r in range(0, s.rows, rh) for c in range(0, s.cols, rw)]
    done_rows = 0  # rows every tile of which is written
    tiles_done: dict[int, int] = {}
    limit, released, offering = 0, 0, False
    release_q = [0] * (RING_RELEASE_STAGES - write_stages(s))  # the release's delay registers
    lines, flags, want, pending = [], [], {}, {}
    t = 0
    while writes or reads or pending:
        rst = int(t < 2)
        if writes and not offering:
            offering = rng.random() < 0.8
        valid = int(bool(writes) and offering) or rst
        row, col = writes[0] if writes else (0, 0)
        inside = row <= limit  # row + h <= release + W*R, registered
        ready = int(not rst and inside)
        flags.append((ready, int(valid and not inside)))
        data = logical[row : row + h, col : col + w]
        if valid and ready:
            for x in range(h):
                phys[((row + x) // s.R) % s.ring_blocks * s.R + (row + x) % s.R, col : col + w] = (
                    data[x]
                )
            tiles_done[row] = tiles_done.get(row, 0) + 1
            if tiles_done[row] == -(-s.cols // w):
                done_rows = min(s.rows, row + h)
            writes.pop(0)
            offering = False
        rd = None
        if reads and not rst and reads[0][0] + rh <= done_rows and rng.random() < 0.5:
            rd = reads.pop(0)
            r, c = rd
            slot = (r // s.R) % s.ring_blocks * s.R + r % s.R
            got = phys[slot : slot + rh, c : c + rw].copy()
            assert np.array_equal(got, logical[r : r + rh, c : c + rw])  # the protocol holds
            pending[t + READ_LATENCY] = got
            released = reads[0][0] if reads else s.rows
        if t in pending:
            want[t] = pending.pop(t)
        stim = [rst, valid, row, col, *data.ravel().tolist()]
        stim += [1, *rd] if rd else [0, 0, 0]
        lines.append(" ".join(map(str, [*stim, released])))
        delayed = release_q[-1] if release_q else released
        limit = 0 if rst else delayed + wr - h
        release_q = [0 if rst else v for v in [released, *release_q]][: len(release_q)]
        t += 1
    return lines, flags, want


def test_ring_geometry_and_plain_buffers_have_no_ring_logic() -> None:
    for s in PLAIN_SPECS:
        sv = tensor_buffer_sv(s, "tb")
        assert sv == tensor_buffer_sv(s, "tb"), s  # deterministic
        assert not re.search(r"\b(rd_release|rd_release_q|full|w\d+_limit)\b", sv), s
    assert (RING.R, RING.C, RING.col_blocks, RING.depth, RING.window_rows) == (3, 4, 3, 12, 12)
    sv = tensor_buffer_sv(RING, "tb")
    assert re.search(r"input\s+\[4:0\]\s+rd_release\b", sv)  # 0 .. 20
    assert re.search(r"output\s+full\b", sv)
    assert len(re.findall(r"^  tb_bank_12x8 bank_\d+_\d+ ", sv, re.M)) == 12
    with pytest.raises(ValueError):
        tensor_buffer_sv(TensorBufferSpec(20, 10, 8, ((3, 4),), (1, 2), ring_blocks=3), "bad")
    with pytest.raises(ValueError):
        tensor_buffer_sv(TensorBufferSpec(20, 8, 8, ((1, 4),), (1, 4), True, 2), "bad")


def test_ring_lint_clean(tmp_path: Path) -> None:
    sv = tmp_path / f"{RING_TOP}.sv"
    sv.write_text(tensor_buffer_sv(RING, RING_TOP))
    assert lint(sv, RING_TOP, LINT_WAIVERS) == []


@pytest.mark.parametrize("s", [RING, RING_POW2], ids=["r3", "pow2"])
def test_ring_wraps_and_credit_blocks_the_writer(s: TensorBufferSpec, tmp_path: Path) -> None:
    """More rows than the ring holds (20 through 12, 24 through 8): every read returns the row
    written for it (logical data, not just the ring model's), ready and full match the credit
    cycle by cycle, and the writer is held back by the credit in many cycles."""
    assert [write_stages(x) for x in (RING, RING_POW2)] == [2, 0]
    (h, w), (rh, rw) = s.write_shapes[0], s.read_shape
    sv, tb = tmp_path / f"{RING_TOP}.sv", tmp_path / "tb.cpp"
    sv.write_text(tensor_buffer_sv(s, RING_TOP))
    text = RING_HARNESS.replace("@BUS_H@", str(BUS_HEADER)).replace("@BITS@", str(s.bits))
    tb.write_text(text.replace("@N@", str(h * w)).replace("@M@", str(rh * rw)))
    exe = build(sv, RING_TOP, tb, tmp_path / "build", progress=True, optimize=False)
    lines, flags, want = _ring_trace(s, 5)
    stim, res = tmp_path / "stim.txt", tmp_path / "res.txt"
    stim.write_text("\n".join([str(len(lines)), *lines]) + "\n")
    proc = subprocess.run([str(exe), str(stim), str(res)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = [[int(x) for x in ln.split()] for ln in res.read_text().splitlines()]
    assert len(got) == len(lines)
    bad = [t for t, g in enumerate(got) if tuple(g[:2]) != flags[t]]
    assert not bad, f"ready/full differ in cycles {bad[:5]}"
    for t, tile in want.items():
        assert got[t][2:] == tile.ravel().tolist(), f"cycle {t}"
    blocked = sum(f for _, f in flags)
    assert len(want) == len(range(0, s.rows, rh)) * len(range(0, s.cols, rw))
    assert blocked > 20, blocked
    print(f"ring: {len(lines)} cycles, {len(want)} reads checked, writer held {blocked} cycles")


def test_reciprocal_splits_every_row_exactly() -> None:
    """For every x < n: the quotient, the remainder from the fraction and the residue tests from
    the fraction's top bits are exact; and k is minimal for the closed-form condition."""
    from intar.hw.tensor_buffer import _reciprocal, _residue_bits

    for d in (3, 5, 6, 7, 12, 24, 25, 48, 96):
        t = _residue_bits(d)
        for n in (*range(1, 130), 1000, 4097):
            m, k = _reciprocal(d, n)
            assert 1 << t >= 2 * d
            for x in range(n):
                frac = (x * m) % (1 << k)
                assert (x * m) >> k == x // d, (d, n, x)
                assert (frac * d) >> k == x % d, (d, n, x)
                top = frac >> (k - t) if k >= t else frac << (t - k)
                for r in range(1, d):
                    assert (top >= (r << t) // d) == (x % d >= r), (d, n, x, r)
            if k > 1:  # one bit less breaks the condition
                m1 = -(-(1 << (k - 1)) // d)
                assert 2 * (m1 * d - (1 << (k - 1))) * (n - 1) >= 1 << (k - 1)


def test_quotient_reciprocal_divides_every_multiple_exactly() -> None:
    """On multiples of step below n the shorter reciprocal gives x // d exactly and never
    needs more fraction bits than the general one (usually fewer)."""
    from intar.hw.tensor_buffer import _quotient_reciprocal, _reciprocal

    shorter = 0
    for d, step in ((6, 3), (12, 3), (20, 5), (24, 3), (38, 19), (38, 2), (48, 3), (96, 12)):
        for n in (*range(1, 200, 7), 1000, 1024, 4097):
            m, k = _quotient_reciprocal(d, n, step)
            assert k <= _reciprocal(d, n)[1]
            shorter += k < _reciprocal(d, n)[1]
            assert all((x * m) >> k == x // d for x in range(0, n, step)), (d, n, step)
    assert shorter > 100, shorter
    # the self-attention k_proj buffer's 38-wide blocks: 27 / 2**10 instead of 1725 / 2**16
    assert _quotient_reciprocal(38, 1024, 19) == (27, 10)
    assert _reciprocal(38, 1024) == (1725, 16)


def test_csd_digits_and_tree_depth() -> None:
    """Canonical signed digits sum to the constant with no two adjacent nonzero digits, and
    never have more nonzero digits than the binary ones."""
    from intar.hw.builders import csd

    for c in range(1, 5000):
        digits = csd(c)
        assert sum(d << b for b, d in digits) == c, c
        shifts = [b for b, _ in digits]
        assert all(b2 - b1 >= 2 for b1, b2 in itertools.pairwise(shifts)), c
        assert len(digits) <= bin(c).count("1"), c
    assert csd(0b111) == [(0, -1), (3, 1)]


def test_folded_residues_fit_their_widths_and_keep_the_residue() -> None:
    """The digit sums `Split._starts_by_folding` builds: each round's sum of p-bit digits fits
    the width `fold_widths` gives it and keeps t % m, for every t of up to 13 bits; odd m whose
    folds stay wide keep the reciprocal multiply."""
    from intar.hw.tensor_buffer import FOLDED_BITS, _foldable, _order_of_two, fold_widths

    for m in (3, 5, 7, 9, 15, 21):
        p = _order_of_two(m)
        assert pow(2, p, m) == 1
        for w in range(1, 14):
            folds = fold_widths(w, m)
            for t in range(1 << w):
                v = t
                for w_in, w_out in folds:
                    v = sum((v >> b) & ((1 << p) - 1) for b in range(0, w_in, p))
                    assert v < 1 << w_out, (m, w, t)
                assert v % m == t % m, (m, w, t)
            assert _foldable(w, 1, m) == ((folds[-1][1] if folds else w) <= FOLDED_BITS)
    assert not _foldable(20, 32, 11) and _foldable(20, 32, 7)


def test_residue_tables_keep_the_residue_within_three_levels_for_a_conv_column() -> None:
    """For m = 3, 5, 7 (`residue_fan_in` >= 2) `Split._starts_by_folding` reads t % m from
    tables instead of digit sums: the tables' arithmetic (`residue_of`) gives t % m for every t
    of up to 14 bits; every table reads at most six bits; a 15-bit conv column index modulo 7
    (CNN-4L's 224-wide block, 7 x 32) takes three levels: chunks, one group, the select."""
    from intar.hw.tensor_buffer import residue_fan_in, residue_of, residue_tree

    assert [residue_fan_in(m) for m in (3, 5, 7, 9, 15)] == [3, 2, 2, 1, 1]
    for m in (3, 5, 7):
        f, rb = residue_fan_in(m), (m - 1).bit_length()
        for w in range(1, 15):
            assert all(residue_of(t, w, m) == t % m for t in range(1 << w)), (m, w)
            levels = residue_tree(w, m)
            assert sum(levels[0]) == w and max(levels[0]) <= 6
            assert all(max(g) <= f for g in levels[1:])
            assert len(levels[-1]) * rb <= 6  # the selects' tables
    assert residue_tree(15, 7) == [[6, 6, 3], [2, 1]]


def test_residue_sums_keep_the_residue_below_three_moduli() -> None:
    """For odd m > 7 whose digit sums stay wide, `Split.starts` adds the chunks' weighted
    residues (`_starts_by_residue_sum`): for every t of up to 14 bits the sum is at most
    `residue_sum_bound` < 3m and has t's residue; the gating net's 107-row block takes it."""
    from intar.hw.tensor_buffer import (
        LUT_INPUTS,
        RESIDUE_SUM_CHUNKS,
        _foldable,
        residue_sum_bound,
    )

    for m in (11, 13, 107):
        for w in range(1, 15):
            top = residue_sum_bound(w, m)
            assert top < RESIDUE_SUM_CHUNKS * m
            for t in range(1 << w):
                total = sum(
                    ((t >> b) & ((1 << LUT_INPUTS) - 1)) * pow(2, b, m) % m
                    for b in range(0, w, LUT_INPUTS)
                )
                assert total <= top and total % m == t % m, (m, w, t)
    assert not _foldable(14, 1, 107) and not _foldable(10, 1, 11)
