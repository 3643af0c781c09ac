"""Piecewise-linear GELU/SiLU SFUs: deterministic SV, Verilator lint, and bit-exact simulation
against ``kernels.gelu`` / ``kernels.silu`` with random input gaps / output stalls, plus an
unstalled run that checks the exact latency and II = 1.

All configurations are instantiated side by side in one test top (sfu_harness), so the whole
file needs a single Verilator build.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from circt.dialects import hw
from sfu_harness import Stream, StreamBench, lo_hi

from intar.golden import approx, kernels
from intar.hw.emit import emit_sv
from intar.hw.sfu_pwl import build_pwl_sfu, pwl_latency
from intar.sim import lint

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


def _stimulus(u: Unit, rng: np.random.Generator) -> np.ndarray:
    """[N_BEATS, lanes] operands: extremes, knots +-1, range edges, dense in-range and random."""
    lo, hi = lo_hi(u.in_bits)
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


BENCH = StreamBench(
    TOP,
    "pwl_",
    tuple(Stream(u.id, u.lanes, u.in_bits, u.out_bits, N_BEATS, u.build) for u in UNITS),
)


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The one simulator build (all UNITS) and its work directory."""
    work = tmp_path_factory.mktemp("pwl")
    return BENCH.build(work), work


@pytest.fixture(scope="module")
def stimulus() -> list[np.ndarray]:
    rng = np.random.default_rng(2025)
    return [_stimulus(u, rng) for u in UNITS]


def _run(exe: Path, work: Path, stim: list[np.ndarray], seed: int) -> list[tuple[np.ndarray, int]]:
    """Per unit: outputs [N_BEATS, lanes] and cycles from first accepted beat to last result."""
    return BENCH.run(exe, work, [(a,) for a in stim], seed)


def test_sv_is_deterministic() -> None:
    assert BENCH.top_sv() == BENCH.top_sv()


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
        lo, hi = lo_hi(u.in_bits)
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
