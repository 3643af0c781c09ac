"""Layernorm SFU: deterministic SV, Verilator lint, bit-exact simulation against
``kernels.layernorm`` (per row, with its own gamma / beta) under random input gaps / output
stalls, the exact unstalled cycle count R * B + layernorm_latency, and in yosys the DSP and
RAM mapping and the longest register-to-register path.

All configurations are instantiated side by side in one test top, so the file needs a single
Verilator build. The top is built here (three operand buses and a ``seq.firmem`` ring, lowered
with the memory pipeline); the shared ``sfu_harness`` bench drives it: its ``b`` operand
carries {beta, gamma} per lane, split into the unit's ``b`` (gamma) and ``c`` (beta) ports.
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from circt.dialects import comb, hw, seq
from circt.ir import IntegerType, Value
from sfu_harness import Stream, StreamBench, lo_hi

from intar.golden import approx, kernels
from intar.hw.sfu_layernorm import (
    build_layernorm_sfu,
    layernorm_dsps,
    layernorm_latency,
    layernorm_stream_cycles,
    ring_depth,
)
from intar.hw.tensor_buffer import emit_sv_with_memories
from intar.sim import lint
from intar.synth.yosys import yosys_executable

TOP = "sfu_ln_top"

# Verilator -Wall waivers:
# - UNUSEDSIGNAL: every round_shift by a constant or by 31 + k reads only the bits >= the
#   shift of an exact sum / product, and exact products keep bits that the bounds never use.
# - DECLFILENAME: the SV file holds the unit plus CIRCT's memory module for the ring.
WAIVERS: tuple[str, ...] = ("UNUSEDSIGNAL", "DECLFILENAME")


@dataclass(frozen=True)
class LN:
    row_len: int
    lanes: int
    in_bits: int
    gamma_bits: int
    beta_bits: int
    out_bits: int
    frac_bits: int
    rows: int = 40

    @property
    def id(self) -> str:
        return (
            f"ln_n{self.row_len}_l{self.lanes}_x{self.in_bits}g{self.gamma_bits}"
            f"b{self.beta_bits}o{self.out_bits}_f{self.frac_bits}"
        )

    @property
    def nb(self) -> int:
        return -(-self.row_len // self.lanes)

    def build(self, name: str) -> hw.HWModuleOp:
        return build_layernorm_sfu(
            self.row_len,
            self.lanes,
            self.in_bits,
            self.out_bits,
            self.frac_bits,
            name,
            self.gamma_bits,
            self.beta_bits,
        )

    def stream(self) -> Stream:
        return Stream(
            self.id,
            self.lanes,
            self.in_bits,
            self.out_bits,
            self.rows * self.nb,
            self.build,
            rhs_bits=self.gamma_bits + self.beta_bits,
        )


UNITS: list[LN] = [
    LN(64, 4, 16, 16, 16, 16, 8),  # the reference configuration
    LN(10, 4, 8, 8, 8, 8, 4),  # partial last beat (2 of 4 lanes), B = 3, out 8 saturates
    LN(1, 2, 16, 16, 16, 16, 8, rows=160),  # row_len 1: c = 0, V = eps; the ring wraps 2.5x
    LN(5, 1, 32, 16, 32, 32, 12),  # 32-bit x: wide products, k up to +10
    LN(7, 2, 4, 4, 4, 4, 2),  # tiny widths, partial last beat (1 of 2 lanes)
]
BENCH = StreamBench(TOP, "unit_", tuple(u.stream() for u in UNITS))


def _top_sv() -> str:
    """UNITS as ``unit_<k>`` in one top; the top's ``u<k>_b`` lane i is {beta_i, gamma_i}."""

    def make() -> None:
        def ity(w: int) -> IntegerType:
            return IntegerType.get_signless(w)

        def part(v: Value, lo: int, w: int) -> Value:
            return comb.ExtractOp(ity(w), v, lo).result

        def cat(vals: list[Value]) -> Value:  # element 0 in the LSBs
            return comb.ConcatOp(list(reversed(vals))).result if len(vals) > 1 else vals[0]

        i1 = ity(1)
        mods = [u.build(f"unit_{k}") for k, u in enumerate(UNITS)]
        inputs = [("clk", seq.ClockType.get()), ("rst", i1)]
        outputs = []
        for k, u in enumerate(UNITS):
            inputs += [
                (f"u{k}_in_valid", i1),
                (f"u{k}_a", ity(u.lanes * u.in_bits)),
                (f"u{k}_b", ity(u.lanes * (u.gamma_bits + u.beta_bits))),
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
            for k, (u, m) in enumerate(zip(UNITS, mods, strict=True)):
                gb, bb = u.gamma_bits, u.beta_bits
                gbb = p[f"u{k}_b"]
                gamma = cat([part(gbb, i * (gb + bb), gb) for i in range(u.lanes)])
                beta = cat([part(gbb, i * (gb + bb) + gb, bb) for i in range(u.lanes)])
                inst = m.instantiate(
                    f"u{k}",
                    clk=p["clk"],
                    rst=p["rst"],
                    in_valid=p[f"u{k}_in_valid"],
                    a=p[f"u{k}_a"],
                    b=gamma,
                    c=beta,
                    out_ready=p[f"u{k}_out_ready"],
                )
                for n in ("in_ready", "out_valid", "out"):
                    res[f"u{k}_{n}"] = getattr(inst, n)
            return res

        hw.HWModuleOp(TOP, inputs, outputs, body_builder=body)

    return emit_sv_with_memories(make)


def _rows(u: LN, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, gamma, beta), each [rows, row_len]: random, narrow, constant (V = eps), one
    extreme element (largest |z|), alternating extremes (largest V), two adjacent values
    (V ~ eps), all lowest / highest; gamma / beta random, near 1.0 / 0, or at the extremes."""
    n = u.row_len
    xlo, xhi = lo_hi(u.in_bits)
    glo, ghi = lo_hi(u.gamma_bits)
    blo, bhi = lo_hi(u.beta_bits)
    x = np.empty((u.rows, n), dtype=np.int64)
    g = np.empty_like(x)
    b = np.empty_like(x)
    one = min(1 << u.frac_bits, ghi)
    for r in range(u.rows):
        kind = r % 8
        if kind == 0:
            row = rng.integers(xlo, xhi + 1, size=n)
        elif kind == 1:
            span = max(1, (xhi + 1) >> 6)
            row = rng.integers(-span, span + 1, size=n)
        elif kind == 2:
            row = np.full(n, int(rng.integers(xlo, xhi + 1)))
        elif kind == 3:
            row = np.full(n, xlo if r % 16 == 3 else xhi)
            row[int(rng.integers(0, n))] = xhi if r % 16 == 3 else xlo
        elif kind == 4:
            row = np.where(np.arange(n) % 2 == 0, xlo, xhi)
        elif kind == 5:
            v = int(rng.integers(xlo, xhi))
            row = v + rng.integers(0, 2, size=n)
        else:
            row = np.full(n, xlo if kind == 6 else xhi)
        x[r] = row
        gk = (r // 8) % 4
        if gk == 0:
            g[r] = rng.integers(glo, ghi + 1, size=n)
            b[r] = rng.integers(blo, bhi + 1, size=n)
        elif gk == 1:
            g[r] = np.clip(one + rng.integers(-one // 4, one // 4 + 1, size=n), glo, ghi)
            b[r] = np.clip(rng.integers(-one, one + 1, size=n), blo, bhi)
        else:
            g[r] = rng.choice([glo, ghi], size=n)
            b[r] = rng.choice([blo, bhi, 0], size=n)
    return x, g, b


def _beats(u: LN, rows: np.ndarray, fill: np.ndarray) -> np.ndarray:
    """Row-major beats [rows * nb, lanes]; unused lanes of partial beats take ``fill``."""
    pad = u.nb * u.lanes - u.row_len
    padded = np.concatenate([rows, fill[:, :pad]], axis=1) if pad else rows
    return padded.reshape(-1, u.lanes)


@dataclass(frozen=True)
class Stim:
    ops: tuple[np.ndarray, np.ndarray]  # x beats, {beta, gamma} beats
    want: np.ndarray  # expected output beats
    rows: tuple[np.ndarray, np.ndarray, np.ndarray]  # x, gamma, beta [rows, row_len]


def _stimulus(u: LN, rng: np.random.Generator) -> Stim:
    x, g, b = _rows(u, rng)
    want = np.concatenate(
        [
            kernels.layernorm(x[r : r + 1], g[r], b[r], frac_bits=u.frac_bits, out_bits=u.out_bits)
            for r in range(u.rows)
        ]
    )
    gmask, bmask = (1 << u.gamma_bits) - 1, (1 << u.beta_bits) - 1
    gb = ((b & bmask) << u.gamma_bits) | (g & gmask)
    xlo, xhi = lo_hi(u.in_bits)
    x_fill = rng.integers(xlo, xhi + 1, size=(u.rows, u.lanes), dtype=np.int64)
    gb_fill = rng.integers(0, 1 << (u.gamma_bits + u.beta_bits), size=(u.rows, u.lanes))
    zeros = np.zeros((u.rows, u.lanes), dtype=np.int64)
    ops = (_beats(u, x, x_fill), _beats(u, gb, gb_fill))
    return Stim(ops, _beats(u, want, zeros), (x, g, b))


@pytest.fixture(scope="module")
def top_sv() -> str:
    return _top_sv()


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory, top_sv: str) -> tuple[Path, Path]:
    """The one simulator build (all UNITS) and its work directory. The C++ is compiled at
    -O0: it halves the build, and the few thousand simulated cycles stay well under 1 s."""
    work = tmp_path_factory.mktemp("sfu_ln")
    fast = ("-MAKEFLAGS", "OPT_FAST=-O0 OPT_SLOW=-O0 OPT_GLOBAL=-O0")
    return BENCH.build(work, top_sv, fast), work


@pytest.fixture(scope="module")
def stimulus() -> list[Stim]:
    rng = np.random.default_rng(2026)
    return [_stimulus(u, rng) for u in UNITS]


def _run(sim: tuple[Path, Path], stimulus: list[Stim], seed: int) -> list[tuple[np.ndarray, int]]:
    exe, work = sim
    return BENCH.run(exe, work, [st.ops for st in stimulus], seed)


def test_sv_is_deterministic() -> None:
    u = UNITS[1]
    assert emit_sv_with_memories(lambda: u.build("d")) == emit_sv_with_memories(
        lambda: u.build("d")
    )


@pytest.mark.parametrize("u", UNITS[1:4], ids=lambda u: u.id)
def test_verilator_lint_clean(u: LN, tmp_path: Path) -> None:
    name = "sfu_ln_lint"
    sv = tmp_path / f"{name}.sv"
    sv.write_text(emit_sv_with_memories(lambda: u.build(name)))
    assert lint(sv, name, WAIVERS) == []


def test_bad_parameters() -> None:
    ok = (8, 4, 16, 16, 8, "bad")
    bad = [
        ((0, 4, 16, 16, 8, "bad"), {}),  # row_len 0
        ((8, 0, 16, 16, 8, "bad"), {}),  # lanes 0
        ((8, 4, 1, 16, 8, "bad"), {}),  # in_bits 1
        ((8, 4, 16, 12, 8, "bad"), {}),  # out_bits not an element width
        ((8, 4, 16, 16, 33, "bad"), {}),  # frac_bits
        (ok, {"gamma_bits": 33}),
        (ok, {"beta_bits": 1}),
    ]
    emit_sv_with_memories(lambda: build_layernorm_sfu(*ok))
    for args, kw in bad:
        with pytest.raises(ValueError):
            emit_sv_with_memories(lambda a=args, k=kw: build_layernorm_sfu(*a, **k))


def test_sfu_modules_key() -> None:
    """The plan's key builds this unit; operand_widths gives the a (x), b (gamma), c (beta)
    buses."""
    from intar.hw import sfu_modules

    key = ("layernorm", 4, (8, 16, 32), 16, 10, 6)
    assert sfu_modules.operand_widths(key) == [32, 64, 128]
    ref = emit_sv_with_memories(lambda: build_layernorm_sfu(10, 4, 8, 16, 6, "ln_k", 16, 32))
    assert emit_sv_with_memories(lambda: sfu_modules.build(key, "ln_k")) == ref
    for port, w in (("a", 32), ("b", 64), ("c", 128)):
        assert re.search(rf"input\s+\[{w - 1}:0\]\s+{port},", ref), port


def test_latency_formulas() -> None:
    # in_bits = gamma_bits = 16, 4 < N <= 2048: B + ceil(log2 lanes) + 43 (module docstring)
    assert layernorm_latency(64, 4, 16, 16) == 16 + 2 + 43 == 61
    assert layernorm_latency(768, 16, 16, 16) == 48 + 4 + 43
    assert layernorm_latency(10, 4, 16, 16) == 3 + 2 + 43
    assert layernorm_stream_cycles(10, 10, 4, 16, 16) == 10 * 3 + layernorm_latency(10, 4, 16, 16)
    # B + issue = 16 + (5 + 30 + 1) = 52 -> 64 words
    assert ring_depth(64, 4, 16, 16) == 64


def test_stimulus_covers_edges(stimulus: list[Stim]) -> None:
    """Outputs saturate at both ends and lie strictly inside; constant rows (c = 0) give
    y = saturate(beta); k of inv_sqrt spans -23 (V = 1: row_len 1) to > 0 (32-bit x)."""
    ks: dict[str, set[int]] = {}
    for u, st in zip(UNITS, stimulus, strict=True):
        lo, hi = lo_hi(u.out_bits)
        want = st.want
        assert np.any(want == lo) and np.any(want == hi), u.id
        assert np.any((want > lo) & (want < hi) & (want != 0)), u.id
        x, _, b = st.rows
        y = want.reshape(u.rows, -1)[:, : u.row_len]
        const_rows = np.all(x == x[:, :1], axis=1)
        assert np.sum(const_rows) >= u.rows // 4, u.id
        np.testing.assert_array_equal(y[const_rows], np.clip(b[const_rows], lo, hi), u.id)
        n = u.row_len
        ks[u.id] = {
            approx.inv_sqrt(n * sum(v * v for v in row) - sum(row) ** 2 + n * n)[1]
            for row in x.tolist()
        }
    assert min(ks[UNITS[2].id]) == -23
    assert max(ks[UNITS[3].id]) > 0 and max(ks[UNITS[0].id]) < 0


def test_bit_exact_unstalled_cycle_count(sim: tuple[Path, Path], stimulus: list[Stim]) -> None:
    for u, st, (got, cycles) in zip(UNITS, stimulus, _run(sim, stimulus, 0), strict=True):
        np.testing.assert_array_equal(got, st.want, err_msg=u.id)
        expect = layernorm_stream_cycles(u.rows, u.row_len, u.lanes, u.in_bits, u.gamma_bits)
        print(f"{u.id}: {u.rows * u.nb} beats, measured {cycles} cycles, expected {expect}")
        assert cycles == expect, u.id


def test_bit_exact_random_gaps_and_stalls(sim: tuple[Path, Path], stimulus: list[Stim]) -> None:
    base = _run(sim, stimulus, 0)
    for seed in (7, 99):
        runs = _run(sim, stimulus, seed)
        for u, st, (got, cycles), (_, c0) in zip(UNITS, stimulus, runs, base, strict=True):
            np.testing.assert_array_equal(got, st.want, err_msg=f"{u.id} seed {seed}")
            assert cycles > c0, f"{u.id}: the stalled run should have stalled"


def _yosys(sv: str, top: str, work: Path) -> tuple[dict[str, int], str]:
    """synth_xilinx up to (not including) FF mapping, then a plain 6-LUT mapping, so that
    ``ltp -noff`` sees register-to-register paths of LUTs, CARRY4s and DSPs. Returns the
    cells by type and the ltp report."""
    (work / f"{top}.sv").write_text(sv)
    script = (
        f"read_verilog -sv {top}.sv; synth_xilinx -family xcup -top {top} -flatten -noiopad "
        "-run :map_ffs; abc -lut 6; opt_clean; tee -q -o ltp.txt ltp -noff; "
        "tee -q -o stat.json stat -json"
    )
    proc = subprocess.run(
        [yosys_executable(), "-q", "-p", script], cwd=work, capture_output=True, text=True
    )
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-2000:]
    text = (work / "stat.json").read_text()
    stat = json.loads(text[text.index("{") :])
    module = stat["design"] if "design" in stat else stat["modules"][f"\\{top}"]
    return dict(module["num_cells_by_type"]), (work / "ltp.txt").read_text()


def test_yosys_dsps_ring_and_logic_depth(tmp_path: Path) -> None:
    """N = 16, 2 lanes, 16-bit: x*x 1 DSP per lane, c*r 2, z*gamma 1, S*S 2 -> 10 DSP48E2 and
    no multiplier left in logic; the ring (64 x 96 bits) is a RAM; the longest
    register-to-register path is two chained 26-bit subtract-and-select steps of the
    reciprocal (5 LUTs + 14 CARRY4 = 19 cells)."""
    name = "sfu_ln_syn"
    sv = emit_sv_with_memories(lambda: build_layernorm_sfu(16, 2, 16, 16, 8, name))
    cells, ltp = _yosys(sv, name, tmp_path)
    print(f"yosys cells: {json.dumps(cells, sort_keys=True)}")
    print(ltp)
    assert cells.get("DSP48E2") == layernorm_dsps(16, 2, 16, 16) == 10
    assert not [k for k in cells if "mul" in k.lower() or "macc" in k.lower()]
    assert sum(v for k, v in cells.items() if k.startswith(("RAMB", "RAM32", "RAM64"))) > 0
    m = re.search(r"length=(\d+)", ltp)
    assert m is not None
    path = ltp[m.end() :]
    luts = path.count("$abc$")
    print(f"longest path: {m.group(1)} cells, {luts} LUTs")
    assert int(m.group(1)) <= 20 and luts <= 6
