"""exp and softmax SFUs: deterministic SV, Verilator lint, bit-exact simulation against
``kernels.exp`` / ``kernels.softmax`` with random input gaps / output stalls, and the exact
unstalled cycle counts (exp: N + exp_latency; softmax: R * B + softmax_latency).

All configurations are instantiated side by side in one test top (sfu_harness), so the whole
file needs a single Verilator build.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from circt.dialects import hw
from sfu_harness import Stream, StreamBench, lo_hi

from intar.golden import approx, kernels
from intar.hw.emit import emit_sv
from intar.hw.sfu_exp import (
    MAX_ROW_LEN,
    build_exp_sfu,
    build_softmax_sfu,
    exp_latency,
    ram_depths,
    softmax_latency,
    softmax_stream_cycles,
    uses_ram,
)
from intar.hw.tensor_buffer import emit_sv_with_memories
from intar.sim import lint

TOP = "sfu_exp_top"
EXP_BEATS = 240
SOFTMAX_ROWS = 48

# Verilator -Wall waiver, the only one: every round_shift by a constant s (z from t * log2(e),
# the Horner steps, the final rounding increment, the softmax scaling) reads only bits >= s of
# the exact sum, and the exact 49-bit t * log2(e) product never uses its top bits, so those
# bits are unused by definition (UNUSEDSIGNAL).
WAIVERS: tuple[str, ...] = ("UNUSEDSIGNAL",)


@dataclass(frozen=True)
class Exp:
    lanes: int
    in_bits: int
    out_bits: int
    frac_bits: int

    @property
    def id(self) -> str:
        return f"exp_l{self.lanes}_i{self.in_bits}o{self.out_bits}_f{self.frac_bits}"

    @property
    def beats(self) -> int:
        return EXP_BEATS

    def build(self, name: str) -> hw.HWModuleOp:
        return build_exp_sfu(self.lanes, self.in_bits, self.out_bits, self.frac_bits, name)


@dataclass(frozen=True)
class Softmax:
    row_len: int
    lanes: int
    in_bits: int
    out_bits: int
    frac_bits: int
    out_frac_bits: int
    causal: bool = False
    rows_per_matrix: int = 1

    @property
    def id(self) -> str:
        c = f"_causal{self.rows_per_matrix}" if self.causal else ""
        return (
            f"softmax_n{self.row_len}_l{self.lanes}_i{self.in_bits}o{self.out_bits}"
            f"_f{self.frac_bits}F{self.out_frac_bits}{c}"
        )

    @property
    def nb(self) -> int:
        return -(-self.row_len // self.lanes)

    @property
    def beats(self) -> int:
        return SOFTMAX_ROWS * self.nb

    def build(self, name: str) -> hw.HWModuleOp:
        return build_softmax_sfu(
            self.row_len,
            self.lanes,
            self.in_bits,
            self.out_bits,
            self.frac_bits,
            self.out_frac_bits,
            self.causal,
            self.rows_per_matrix,
            name,
        )


Unit = Exp | Softmax

UNITS: list[Unit] = [
    Exp(1, 16, 16, 8),
    Exp(4, 8, 8, 4),
    Exp(4, 32, 32, 20),  # to_work rounds (frac_bits > 16), left shifts up to 14
    Exp(1, 16, 32, 12),
    Exp(4, 16, 8, 0),  # integer inputs: mostly 0 or saturated
    Exp(1, 32, 32, 24),  # the +-64 clamp is active; rounding ties in to_work
    Softmax(16, 4, 16, 16, 8, 14),
    Softmax(10, 4, 16, 8, 8, 7),  # partial last beat; out 2**7 saturates to 127
    Softmax(8, 1, 16, 16, 8, 15),  # out 2**15 saturates
    Softmax(6, 4, 16, 16, 8, 14, causal=True, rows_per_matrix=6),  # B = 2, 3 row slots
    Softmax(3, 4, 8, 32, 4, 30, causal=True, rows_per_matrix=5),  # B = 1, 5 row slots
    # long rows (B > 64): row and e buffers in seq.firmem rings
    Softmax(510, 4, 16, 16, 8, 14),  # B = 128, partial last beat; rings 256 words
    Softmax(131, 1, 8, 8, 4, 7, causal=True, rows_per_matrix=24),  # no max/sum tree
]


def _exp_stimulus(u: Exp, rng: np.random.Generator) -> np.ndarray:
    """[beats, lanes]: a third full range, the rest around the interesting range (|x| up to
    the saturation point), plus extremes, 0, +-1 LSB and to_work rounding ties."""
    lo, hi = lo_hi(u.in_bits)
    n = u.beats * u.lanes
    full = rng.integers(lo, hi + 1, size=n, dtype=np.int64)
    span = int(0.75 * u.out_bits * (1 << u.frac_bits))
    near = np.clip(rng.integers(-4 * span, span + 1, size=n, dtype=np.int64), lo, hi)
    x = np.where(rng.random(n) < 1 / 3, full, near)
    special = [lo, hi, 0, -1, 1, lo + 1, hi - 1, 64 << u.frac_bits, -(64 << u.frac_bits)]
    x[: len(special)] = np.clip(special, lo, hi)
    if u.frac_bits > 16:  # exact ties of the Q.16 conversion on every 8th element
        s = u.frac_bits - 16
        idx = np.arange(len(special), n, 8)
        k = rng.integers(-(1 << 20), 1 << 20, size=len(idx), dtype=np.int64)
        x[idx] = np.clip(k * (1 << s) + (1 << (s - 1)), lo, hi)
    ties = _rounding_tie_inputs(u, rng)
    x[len(special) : len(special) + len(ties)] = ties
    return x.reshape(u.beats, u.lanes)


def _rounding_tie_inputs(u: Exp, rng: np.random.Generator, per_step: int = 12) -> np.ndarray:
    """Inputs whose z = round_shift(t * LOG2E, 23) or one of the four Horner round_shifts is
    an exact tie (found by enumerating the input range, or 2**20 random inputs)."""
    lo, hi = lo_hi(u.in_bits)
    f = u.frac_bits
    cand = (
        np.arange(lo, hi + 1, dtype=np.int64)
        if u.in_bits <= 16
        else rng.integers(lo, hi + 1, size=1 << 20, dtype=np.int64)
    )
    lim = approx.EXP_INPUT_LIMIT << f
    prod = approx.to_work(np.clip(cand, -lim, lim), f) * approx.LOG2E_Q23
    steps = [(prod & ((1 << 23) - 1)) == 1 << 22]
    r = approx.round_shift(prod, 23) & 0xFFFF
    c1, c2, c3, c4 = approx.POW2_COEFFS
    q = np.full_like(r, c4)
    for c in (c3, c2, c1):
        steps.append((r * q & 0xFFFF) == 1 << 15)
        q = c + approx.round_shift(r * q, 16)
    steps.append((r * q & 0xFFFFF) == 1 << 19)
    picks = [rng.permutation(cand[m])[:per_step] for m in steps]
    return np.concatenate(picks)


def _softmax_rows(u: Softmax, rng: np.random.Generator) -> np.ndarray:
    """[rows, row_len]: full-range, narrow-range (real probabilities), all-equal, one large
    element among the lowest values, and all-lowest rows."""
    lo, hi = lo_hi(u.in_bits)
    rows = np.empty((SOFTMAX_ROWS, u.row_len), dtype=np.int64)
    narrow = 6 << u.frac_bits
    for i in range(SOFTMAX_ROWS):
        kind = i % 6
        if kind == 0:
            row = rng.integers(lo, hi + 1, size=u.row_len)
        elif kind in (1, 2):
            row = np.clip(rng.integers(-narrow, narrow + 1, size=u.row_len), lo, hi)
        elif kind == 3:
            row = np.full(u.row_len, int(rng.integers(lo, hi + 1)))
        elif kind == 4:
            row = np.full(u.row_len, lo)
            row[int(rng.integers(0, u.row_len))] = hi
        else:
            row = np.full(u.row_len, lo if i % 12 == 5 else hi)
        rows[i] = row
    return rows


def _softmax_beats(u: Softmax, rows: np.ndarray, fill: np.ndarray) -> np.ndarray:
    """Row-major beats [rows * nb, lanes]; unused lanes of partial beats take ``fill``."""
    pad = u.nb * u.lanes - u.row_len
    padded = np.concatenate([rows, fill[:, :pad]], axis=1) if pad else rows
    return padded.reshape(-1, u.lanes)


def _stimulus(u: Unit, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(input beats, expected output beats), both [beats, lanes]."""
    if isinstance(u, Exp):
        x = _exp_stimulus(u, rng)
        return x, kernels.exp(x, frac_bits=u.frac_bits, out_bits=u.out_bits)
    rows = _softmax_rows(u, rng)
    lo, hi = lo_hi(u.in_bits)
    garbage = rng.integers(lo, hi + 1, size=(SOFTMAX_ROWS, u.lanes), dtype=np.int64)
    want = np.concatenate(
        [
            kernels.softmax(
                rows[m : m + u.rows_per_matrix],
                frac_bits=u.frac_bits,
                out_frac_bits=u.out_frac_bits,
                causal=u.causal,
                out_bits=u.out_bits,
            )
            for m in range(0, SOFTMAX_ROWS, u.rows_per_matrix)
        ]
    )
    zeros = np.zeros((SOFTMAX_ROWS, u.lanes), dtype=np.int64)
    return _softmax_beats(u, rows, garbage), _softmax_beats(u, want, zeros)


def _ram(u: Unit) -> bool:
    return isinstance(u, Softmax) and uses_ram(u.row_len, u.lanes)


BENCH = StreamBench(
    TOP,
    "unit_",
    tuple(Stream(u.id, u.lanes, u.in_bits, u.out_bits, u.beats, u.build) for u in UNITS),
    memories=any(_ram(u) for u in UNITS),
)


# The C++ is compiled at -O0: it halves the build (the file's dominant cost on small
# machines) and the few thousand simulated cycles stay well under a second.
FAST_BUILD = ("-MAKEFLAGS", "OPT_FAST=-O0 OPT_SLOW=-O0 OPT_GLOBAL=-O0")


@pytest.fixture(scope="module")
def top_sv() -> str:
    return BENCH.top_sv()


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory, top_sv: str) -> tuple[Path, Path]:
    """The one simulator build (all UNITS) and its work directory."""
    work = tmp_path_factory.mktemp("sfu_exp")
    return BENCH.build(work, top_sv, extra_args=FAST_BUILD), work


@pytest.fixture(scope="module")
def stimulus() -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(2025)
    return [_stimulus(u, rng) for u in UNITS]


def _run(exe: Path, work: Path, stim: list, seed: int) -> list[tuple[np.ndarray, int]]:
    """Per unit: output beats [beats, lanes] and cycles from first accepted beat to last result."""
    return BENCH.run(exe, work, [(a,) for a, _ in stim], seed)


def _expected_cycles(u: Unit) -> int:
    if isinstance(u, Exp):
        return u.beats + exp_latency()
    return softmax_stream_cycles(SOFTMAX_ROWS, u.row_len, u.lanes)


def test_sv_is_deterministic(top_sv: str) -> None:
    assert BENCH.top_sv() == top_sv


@pytest.mark.parametrize("u", UNITS, ids=lambda u: u.id)
def test_verilator_lint_clean(u: Unit, tmp_path: Path) -> None:
    name = "sfu_exp_lint"
    sv = tmp_path / f"{name}.sv"  # file named after the module: no DECLFILENAME
    if _ram(u):  # the rings' memory modules share the file
        sv.write_text(emit_sv_with_memories(lambda: u.build(name)))
        assert lint(sv, name, (*WAIVERS, "DECLFILENAME")) == []
    else:
        sv.write_text(emit_sv(lambda: u.build(name)))
        assert lint(sv, name, WAIVERS) == []


def test_bad_parameters() -> None:
    bad = [
        lambda: build_exp_sfu(0, 16, 16, 8, "bad"),
        lambda: build_exp_sfu(1, 16, 12, 8, "bad"),
        lambda: build_exp_sfu(1, 16, 16, 33, "bad"),
        lambda: build_softmax_sfu(MAX_ROW_LEN + 1, 4, 16, 16, 8, 14, False, 1, "bad"),
        lambda: build_softmax_sfu(0, 4, 16, 16, 8, 14, False, 1, "bad"),
        lambda: build_softmax_sfu(8, 4, 16, 16, 8, 33, False, 1, "bad"),
    ]
    for fn in bad:
        with pytest.raises(ValueError):
            emit_sv(fn)


def test_latency_formulas() -> None:
    assert exp_latency() == 16
    assert softmax_latency(16, 4) == 2 * 4 + 2 * 2 + 58
    assert softmax_latency(8, 1) == 2 * 8 + 58
    assert softmax_stream_cycles(10, 10, 4) == 10 * 3 + softmax_latency(10, 4)
    assert softmax_latency(1024, 4) == 2 * 256 + 2 * 2 + 58  # ram rings: the same formula


def test_ram_rows() -> None:
    """Rows of more than 64 beats use the rings; paper-scale rows stay far inside the limit."""
    assert not uses_ram(256, 4) and uses_ram(260, 4) and uses_ram(256, 1)
    assert ram_depths(510, 4) == (256, 256)  # B + 5 = 133, e delay B + 2 + 34 = 164
    assert ram_depths(256, 1) == (512, 512)
    assert ram_depths(1024, 16) == (128, 128)
    assert MAX_ROW_LEN >= 64 * 1024
    sv = emit_sv_with_memories(lambda: build_softmax_sfu(4096, 1, 16, 16, 8, 14, False, 1, "big"))
    assert "big_rows_8192x16" in sv and "big_edl_8192x22" in sv


def test_stimulus_covers_edges(stimulus: list) -> None:
    for u, (_, want) in zip(UNITS, stimulus, strict=True):
        _, hi = lo_hi(u.out_bits)
        if isinstance(u, Exp):
            ends = kernels.exp(
                np.array(lo_hi(u.in_bits)), frac_bits=u.frac_bits, out_bits=u.out_bits
            )
            assert np.any(want == ends[0]) and np.any(want == ends[1]), u.id
            assert np.any((want > ends[0]) & (want < ends[1])), u.id
        elif u.out_frac_bits >= u.out_bits - 1:
            assert np.any(want == hi), f"{u.id}: a dominant element should saturate"


def test_bit_exact_unstalled_cycle_count(sim: tuple[Path, Path], stimulus: list) -> None:
    exe, work = sim
    for u, (_, want), (got, cycles) in zip(
        UNITS, stimulus, _run(exe, work, stimulus, 0), strict=True
    ):
        np.testing.assert_array_equal(got, want, err_msg=u.id)
        print(f"{u.id}: {u.beats} beats, measured {cycles} cycles")
        assert cycles == _expected_cycles(u), u.id


def test_bit_exact_random_gaps_and_stalls(sim: tuple[Path, Path], stimulus: list) -> None:
    exe, work = sim
    base = _run(exe, work, stimulus, 0)
    for seed in (7, 99):
        runs = _run(exe, work, stimulus, seed)
        for u, (_, want), (got, cycles), (_, c0) in zip(UNITS, stimulus, runs, base, strict=True):
            np.testing.assert_array_equal(got, want, err_msg=f"{u.id} seed {seed}")
            assert cycles > c0, f"{u.id}: the stalled run should have stalled"


def test_too_long_rows_are_a_located_lowering_error() -> None:
    """The plan reports the unit's limit against the task, before any module is built."""
    from intar.hw.plan import LoweringError, build_plan
    from intar.scheduling import load_device, make_graph, schedule, task
    from intar.scheduling.problem import Tensor

    n = MAX_ROW_LEN + 8
    x = Tensor("x", (2, n), 16, "input")
    sm = task("sm", "softmax", ["x"], (2, n), frac_bits=8, out_frac_bits=14)
    graph = make_graph("long", [x], [sm], ["sm"])
    dev = load_device("u280")  # the on-chip buffers of such rows do not fit on tiny
    with pytest.raises(LoweringError, match=f"rows of {n} elements exceed") as e:
        build_plan(graph, schedule(graph, dev, mode="sequential"), dev)
    assert e.value.task == "sm"


@pytest.mark.parametrize("kind", ["exp", "softmax"])
def test_yosys_maps_the_dsps_the_scheduler_budgets(kind: str, tmp_path: Path) -> None:
    """One lane of each unit in yosys `synth_xilinx`: exactly the DSP48E2s of
    `sfu_modules.dsps` (exp 3: the variable Horner products; softmax 3: those, with e * R
    in the fabric), no multiplier left in logic, and the constant products and e * R's adder
    tree, built from shifts and adds, stay within the tiny device's 6 LUT levels."""
    from intar.hw import sfu_modules
    from intar.synth.levels import logic_levels
    from intar.synth.report import yosys_script
    from intar.synth.yosys import yosys_executable

    key = {
        "exp": ("exp", 1, (16,), 16, 8),
        "softmax": ("softmax", 1, (16,), 16, 64, 8, 14, False, 64),
    }[kind]
    name = f"sfu_{kind}_syn"
    (tmp_path / "design.sv").write_text(emit_sv_with_memories(lambda: sfu_modules.build(key, name)))
    (tmp_path / "synth.ys").write_text(yosys_script(Path("design.sv"), name))
    proc = subprocess.run(
        [yosys_executable(), "-q", "-s", "synth.ys"], cwd=tmp_path, capture_output=True, text=True
    )
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-2000:]
    netlist = json.loads((tmp_path / "netlist.json").read_text())
    cells = [c["type"] for c in netlist["modules"][name]["cells"].values()]
    assert cells.count("DSP48E2") == sfu_modules.dsps(key) == {"exp": 3, "softmax": 3}[kind]
    assert not [c for c in cells if "mul" in c.lower() or "macc" in c.lower()]
    assert logic_levels(netlist, name).max_logic_levels <= 6
