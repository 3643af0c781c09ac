"""Streaming SFUs: deterministic SV, Verilator lint, and bit-exact simulation against the golden
element-wise kernels with random input gaps / output stalls, plus unstalled throughput.

All configurations are instantiated side by side in one test top (sfu_harness), so the whole
file needs a single Verilator build.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from circt.dialects import comb, hw
from circt.ir import Value
from sfu_harness import Stream, StreamBench, lo_hi

from intar.golden import kernels
from intar.hw.builders import and_, extract, fabric_product, fabric_product_stages
from intar.hw.emit import emit_sv
from intar.hw.sfu import build_sfu, global_stall, sfu_latency, stream_ports
from intar.sim import lint

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
        return self.kind in ("add", "mul", "fabric")

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
        if self.kind == "fabric":
            return _fabric_unit(self, name)
        return build_sfu(
            self.kind, self.lanes, self.in_bits, self.out_bits, self.shift, name, self.rhs_bits
        )

    @property
    def latency(self) -> int:
        if self.kind == "fabric":
            return fabric_product_stages(self.in_bits, self.rb, addend=bool(self.shift))
        return sfu_latency(self.kind, self.shift)


def _fabric_unit(u: Unit, name: str) -> hw.HWModuleOp:
    """`builders.fabric_product` as a stream unit: per lane, the operands' bits as unsigned
    numbers, times each other, plus ``shift`` as the addend (0: none)."""
    inputs, outputs = stream_ports(u.lanes, u.in_bits, u.out_bits, u.rb)

    def body(mod: hw.HWModuleOp) -> dict[str, Value]:
        p = {n: mod.entry_block.arguments[i] for i, (n, _) in enumerate(inputs)}
        regs, en, out_valid_fb = global_stall(p)
        outs = [
            fabric_product(
                regs,
                extract(p["a"], i * u.in_bits, u.in_bits),
                extract(p["b"], i * u.rb, u.rb),
                f"fp{i}",
                addend=u.shift,
            )
            for i in range(u.lanes)
        ]
        v = and_(p["in_valid"], en)
        for k in range(u.latency):
            v = regs.ctrl(v, f"v{k}")
        out_valid_fb.set(v)
        out = comb.ConcatOp(list(reversed(outs))).result if u.lanes > 1 else outs[0]
        return {"in_ready": en, "out_valid": v, "out": out}

    return hw.HWModuleOp(name, inputs, outputs, body_builder=body)


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
    Unit("mul", 2, 32, 16, shift=16, rhs_bits=16),  # two partial products, summed after
    # builders.fabric_product (softmax's e * R): unsigned, "shift" is the addend
    Unit("fabric", 2, 7, 7 + 12 + 1, shift=37, rhs_bits=12),
    Unit("fabric", 1, 13, 13 + 5 + 1, rhs_bits=5),  # the rows come from b, no addend
    Unit("fabric", 1, 21, 21 + 33 + 1, shift=1 << 30, rhs_bits=33),  # softmax's widths
]


def _stimulus(u: Unit, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray | None]:
    """[N_BEATS, lanes] operands: random full range plus extremes, -3/-1/3 and rounding ties."""
    lo, hi = lo_hi(u.in_bits)
    a = rng.integers(lo, hi + 1, size=(N_BEATS, u.lanes), dtype=np.int64)
    special = [lo, hi, -3, -1, 3, 0, 1, lo + 1]
    a.ravel()[: len(special)] = special
    b = None
    if u.binary:
        rlo, rhi = lo_hi(u.rb)
        b = rng.integers(rlo, rhi + 1, size=(N_BEATS, u.lanes), dtype=np.int64)
        b.ravel()[: len(special)] = [rlo, rhi, 0, 1, -1, rlo, rhi, rlo]
    if u.shift and u.kind != "fabric":
        # Every 4th beat is an exact tie: operand (or sum/product) = k * 2^s + 2^(s-1).
        s = u.shift
        k = rng.integers(lo >> s, (hi >> s) - 1, size=a[::4].shape, dtype=np.int64)
        a[::4] = np.clip(k * (1 << s) + (1 << (s - 1)), lo, hi)
        if b is not None:
            b[::4] = 0 if u.kind == "add" else 1
    return a, b


def _golden(u: Unit, a: np.ndarray, b: np.ndarray | None) -> np.ndarray:
    if u.kind == "fabric":
        assert b is not None
        ua, ub = a & ((1 << u.in_bits) - 1), b & ((1 << u.rb) - 1)
        full = [int(x) * int(y) + u.shift for x, y in zip(ua.ravel(), ub.ravel(), strict=True)]
        signed = [v - (1 << u.out_bits) if v >> (u.out_bits - 1) else v for v in full]
        return np.array(signed, dtype=np.int64).reshape(a.shape)
    if u.kind == "relu":
        return kernels.relu(a, out_bits=u.out_bits)
    if u.kind == "requantize":
        return kernels.requantize(a, shift=u.shift, out_bits=u.out_bits)
    fn = kernels.add if u.kind == "add" else kernels.mul
    return fn(a, b, shift=u.shift, out_bits=u.out_bits)


BENCH = StreamBench(
    TOP,
    "sfu_",
    tuple(
        Stream(u.id, u.lanes, u.in_bits, u.out_bits, N_BEATS, u.build, u.rb if u.binary else None)
        for u in UNITS
    ),
)


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The one simulator build (all UNITS) and its work directory."""
    work = tmp_path_factory.mktemp("sfu")
    return BENCH.build(work), work


@pytest.fixture(scope="module")
def stimulus() -> list[tuple[np.ndarray, np.ndarray | None]]:
    rng = np.random.default_rng(2024)
    return [_stimulus(u, rng) for u in UNITS]


def _run(exe: Path, work: Path, stim: list, seed: int) -> list[tuple[np.ndarray, int]]:
    """Per unit: outputs [N_BEATS, lanes] and cycles from first accepted beat to last result."""
    return BENCH.run(exe, work, [(a,) if b is None else (a, b) for a, b in stim], seed)


def test_sv_is_deterministic() -> None:
    assert BENCH.top_sv() == BENCH.top_sv()


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
        lat = u.latency
        print(f"{u.id}: {N_BEATS} beats, latency {lat}, measured {cycles} cycles")
        assert cycles == N_BEATS + lat, u.id
        _, hi = lo_hi(u.out_bits)
        if u.kind != "fabric" and u.exact_bits - u.shift > u.out_bits:
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
