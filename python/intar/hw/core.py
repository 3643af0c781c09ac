"""Matmul compute core (d1 x d2 x d3 PE array) built with CIRCT's hw/comb/seq Python builders.

Interface of ``build_core(..., name=N)`` (all data buses are flat, element 0 in the LSBs):

=========  ===  ===========================  ==================================================
port       dir  width                        meaning
=========  ===  ===========================  ==================================================
clk        in   !seq.clock (1)               clock
rst        in   1                            synchronous reset (control registers only)
in_valid   in   1                            an A/B tile pair is on ``a``/``b``
in_ready   out  1                            the core accepts a beat this cycle
a          in   d1*d3*in_bits                A tile, element (i, k) at bits ((i*d3 + k) * in_bits)
b          in   d3*d2*in_bits                B tile, element (k, j) at bits ((k*d2 + j) * in_bits)
k_bound    in   K_BOUND_BITS                 beats (k tiles) summed into one output tile, >= 1
shift      in   SHIFT_BITS                   requantize shift (values > 32 act as 32: result 0)
relu       in   1                            saturate to [0, max] (a fused relu; only with
                                             ``CoreConfig.relu``)
out_valid  out  1                            ``out`` holds a finished output tile
out_ready  in   1                            the sink takes ``out`` this cycle
out        out  d1*d2*out_bits               C tile, element (i, j) at bits ((i*d2 + j) * out_bits)
=========  ===  ===========================  ==================================================

Timing: one beat per cycle (II = 1). A beat accepted at cycle c reaches ``out_valid`` at
c + latency(d3) with ``latency = 3 (DSP A/B, M, P regs) + ceil(log2 d3) (adder tree, one
register per level) + 1 (int32 accumulator) + 2 (requantize: the rounding shift, then
saturation into the output register)``. The cost
model's 2-cycle scratchpad read sits in front of the core and is not part of it.

Each PE multiply is ``builders.dsp_mul``: under ``SYNTHESIS`` (yosys, Vivado) a DSP48E2
instance with its A/B, M and P registers on (yosys does not pack inferred registers into
DSP48E2s), otherwise the same three clock-enabled registers around a ``*`` for simulation.
With operands of at most 8 bits, the products of neighbouring columns j, j + 1 share one DSP
(``builders.dsp_mul2``: the pre-adder packs both B elements, the shared A element multiplies
them at once), so a d1 x d2 x d3 array takes d1 * ceil(d2 / 2) * d3 DSPs, as the scheduler
counts them (two int8 MACs per DSP48E2).

Backpressure: the output register has a spare behind it. A result that finds the output
register held (``out_valid & !out_ready``) waits in the spare, and the pipeline stalls while the
spare is full: ``in_ready = en = !spare_valid``, and every pipeline register is clock-enabled by
``en``. So the sink's ready reaches only the two output registers' enables, never the pipeline's
(the sink's ready comes from the buffers' write arbitration, a long path). Unstalled, the spare
is never used and adds no latency. ``k_bound`` is read as each beat is accepted and ``shift``
(and ``relu``) travel with the beat (the value on the tile's last-k beat is used), so they may
change from one tile to the next while earlier tiles are in flight. Per output tile, the beats with
k = 0 .. k_bound-1 must arrive consecutively.

**k-outer cores** (``acc_depth > 1``, for the ``kij`` loop order): the beats of one output tile
need not be consecutive. Instead of ``k_bound`` the core takes per beat ``first`` (k = 0),
``last`` (k = K-1), ``acc_idx`` (which of ``acc_depth`` partial tiles the beat adds to) and
``acc_mem`` (take the partial sum from the accumulator memory rather than the accumulator
register). The memory is one ``seq.firmem`` per tile row of ``acc_depth`` words of ``d2*32``
bits (BRAM or URAM; one word of the whole tile would exceed Verilator's 65,536-bit limit at
64 x 64): it is read two stages before the adder tree's result into a word register (read
latency 1, then the register; while the pipeline stalls, at the index of the beat waiting for
that register, so the beat still gets its own word) and written with the new partial sum, so
beats with the same ``acc_idx`` must be at least 2 beats apart (true for ``kij`` with
``I*J >= 2``). ``acc_mem = 0`` beats accumulate in the register as above (``ijk`` instructions
on the same core). Latency and throughput are unchanged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from circt.dialects import comb, hw, seq
from circt.ir import IntegerAttr, Value

from intar.hw.builders import (
    Feedback,
    Reg,
    Regs,
    add,
    and_,
    cmp,
    const,
    extract,
    ity,
    mux,
    not_,
    or_,
    pe_mul,
    pe_mul2,
    sext,
    width,
    zext,
)

K_BOUND_BITS = 16
SHIFT_BITS = 6


@dataclass(frozen=True)
class CoreConfig:
    """Elaboration-time parameters of a core."""

    d1: int
    d2: int
    d3: int
    in_bits: int
    out_bits: int
    acc_bits: int = 32
    acc_depth: int = 1
    """Partial tiles held for k-outer (``kij``) instructions; 1 = accumulator register only."""
    relu: bool = False
    """Some instruction fuses a relu: a ``relu`` input (per beat, like ``shift``) exists."""

    @property
    def acc_idx_bits(self) -> int:
        return max(1, (self.acc_depth - 1).bit_length())

    @property
    def packed(self) -> bool:
        """Operands of at most 8 bits: two products (j, j + 1) per DSP48E2 (``dsp_mul2``)."""
        return self.in_bits <= 8 and self.d2 > 1

    @property
    def dsps(self) -> int:
        """DSP48E2s of the PE array."""
        per_row = (self.d2 + 1) // 2 if self.packed else self.d2
        return self.d1 * per_row * self.d3

    @property
    def tree_levels(self) -> int:
        """Register levels of the d3-way adder tree."""
        return math.ceil(math.log2(self.d3)) if self.d3 > 1 else 0

    @property
    def latency(self) -> int:
        """Cycles from accepting a beat to its (last-k) tile appearing on ``out_valid``."""
        return 3 + self.tree_levels + 1 + 2

    def validate(self) -> None:
        """Raise ValueError on unsupported parameters."""
        if min(self.d1, self.d2, self.d3) < 1:
            raise ValueError("PE dims must be >= 1")
        if not 2 <= self.in_bits <= 16:
            raise ValueError("in_bits must be in [2, 16] (one DSP48E2 multiplier)")
        if not 2 <= self.out_bits <= self.acc_bits:
            raise ValueError("out_bits must be in [2, acc_bits]")
        if self.acc_bits != 32:
            raise ValueError("only acc_bits=32 (the golden model's int32 accumulation)")


REQ_BITS = 33  # the requantize datapath: a 32-bit accumulator plus the rounding carry


def _shift_terms(shift: Value) -> tuple[Value, Value]:
    """(s, 1 << (s - 1) or 0 for s = 0) for s = min(shift, 32), in REQ_BITS bits: computed a
    stage ahead of the accumulator's result, from the shift travelling with the beat."""
    w = REQ_BITS
    sh = zext(shift, w)
    lim = const(w, 32)
    sh = mux(cmp("ugt", sh, lim), lim, sh)
    zero = const(w, 0)
    half = comb.ShlOp(const(w, 1), comb.SubOp(sh, const(w, 1)).result).result
    return sh, mux(cmp("eq", sh, zero), zero, half)


def _round_shift(acc: Value, sh: Value, rnd: Value) -> Value:
    """round_shift(acc, s) of a 32-bit signed ``acc`` (REQ_BITS bits, not saturated)."""
    return comb.ShrSOp(add(sext(acc, REQ_BITS), rnd), sh).result


def _saturate(y: Value, out_bits: int, relu: Value | None = None) -> Value:
    """y clamped to the signed range of out_bits; a negative y is 0 while ``relu`` is set (a
    sign-bit test beside the constant compares)."""
    hi, lo = (1 << (out_bits - 1)) - 1, -(1 << (out_bits - 1))
    hi_c, lo_c = const(REQ_BITS, hi), const(REQ_BITS, lo)
    sat = mux(cmp("sgt", y, hi_c), hi_c, mux(cmp("slt", y, lo_c), lo_c, y))
    if relu is not None:
        negative = and_(relu, extract(y, REQ_BITS - 1, 1))
        sat = mux(negative, const(REQ_BITS, 0), sat)
    return extract(sat, 0, out_bits)


def build_core(cfg: CoreConfig, name: str) -> hw.HWModuleOp:
    """Create the core's ``hw.module`` at the current insertion point (inside a Context)."""
    cfg.validate()
    d1, d2, d3, ib, ob = cfg.d1, cfg.d2, cfg.d3, cfg.in_bits, cfg.out_bits
    i1 = ity(1)
    inputs = [
        ("clk", seq.ClockType.get()),
        ("rst", i1),
        ("in_valid", i1),
        ("a", ity(d1 * d3 * ib)),
        ("b", ity(d3 * d2 * ib)),
        ("k_bound", ity(K_BOUND_BITS)),
        ("shift", ity(SHIFT_BITS)),
        ("out_ready", i1),
    ]
    if cfg.relu:
        inputs.insert(-1, ("relu", i1))
    k_outer = cfg.acc_depth > 1
    if k_outer:
        inputs[5:6] = [
            ("first", i1),
            ("last", i1),
            ("acc_idx", ity(cfg.acc_idx_bits)),
            ("acc_mem", i1),
        ]
    outputs = [("in_ready", i1), ("out_valid", i1), ("out", ity(d1 * d2 * ob))]

    def body(mod: hw.HWModuleOp) -> dict[str, Value]:
        p = dict(zip([n for n, _ in inputs], mod.entry_block.arguments, strict=True))
        clk, rst = p["clk"], p["rst"]
        # The pipeline stalls only while the spare output register is full, so its enable is
        # a register and not the sink's ready (see the output stage at the end).
        spare_valid = Reg(clk, rst, 1, "spare_valid_r")
        en = not_(spare_valid.q)
        regs = Regs(clk, en, rst)
        fire = and_(p["in_valid"], en)

        if k_outer:  # first/last/partial-tile index come with each beat
            first_in, last_in = p["first"], p["last"]
            idx, from_mem = p["acc_idx"], p["acc_mem"]
        else:  # input-side k counter: marks the first and last beat of each output tile
            kc_fb = Feedback(ity(K_BOUND_BITS))
            kc = kc_fb.value
            last_in = cmp("eq", add(kc, const(K_BOUND_BITS, 1)), p["k_bound"])
            first_in = cmp("eq", kc, const(K_BOUND_BITS, 0))
            kc_next = mux(last_in, const(K_BOUND_BITS, 0), add(kc, const(K_BOUND_BITS, 1)))
            kc_fb.set(regs.ctrl(mux(fire, kc_next, kc), "k_count"))

        # Control pipeline: (valid, first, last) travel alongside the data.
        n_stages = 3 + cfg.tree_levels
        v, f, la, sh = fire, first_in, last_in, p["shift"]
        relu = p["relu"] if cfg.relu else None
        for s in range(n_stages):
            if k_outer and s == n_stages - 2:
                idx_rd = idx  # the partial-tile read is issued two stages before the sums
            if k_outer and s == n_stages - 1:
                idx_held = idx
            v = regs.ctrl(v, f"v_s{s + 1}")
            f = regs.data(f, f"first_s{s + 1}")
            la = regs.data(la, f"last_s{s + 1}")
            sh = regs.data(sh, f"shift_s{s + 1}")
            if relu is not None:
                relu = regs.data(relu, f"relu_s{s + 1}")
            if k_outer:
                idx = regs.data(idx, f"acc_idx_s{s + 1}")
                from_mem = regs.data(from_mem, f"acc_mem_s{s + 1}")
        # the shift's clamped value and rounding constant, aligned with acc_done
        sh_c, rnd_c = _shift_terms(sh)
        sh, rnd = regs.data(sh_c, "shift_acc"), regs.data(rnd_c, "round_acc")
        if relu is not None:  # aligned with the rounding shift's result
            relu = regs.data(regs.data(relu, "relu_acc"), "relu_rq")

        # PE array: one DSP48E2 per (i, j, k) with its A/B, M and P registers (see dsp_mul),
        # or with 8-bit operands one per (i, j pair, k) computing both products (dsp_mul2).
        products: dict[tuple[int, int], list[Value]] = {}
        for i in range(d1):
            for k in range(d3):
                av = extract(p["a"], (i * d3 + k) * ib, ib)
                j = 0
                while j < d2:
                    bv = extract(p["b"], (k * d2 + j) * ib, ib)
                    if cfg.packed and j + 1 < d2:
                        bv1 = extract(p["b"], (k * d2 + j + 1) * ib, ib)
                        lo, hi = pe_mul2(clk, en, av, bv, bv1, f"{i}_{j}_{k}")
                        products.setdefault((i, j), []).append(lo)
                        products.setdefault((i, j + 1), []).append(hi)
                        j += 2
                    else:
                        prod = pe_mul(clk, en, av, bv, f"{i}_{j}_{k}")
                        products.setdefault((i, j), []).append(prod)
                        j += 1
        sums: list[Value] = []
        for i in range(d1):
            for j in range(d2):
                prods = products[(i, j)]
                pw = width(prods[0])  # 2 * in_bits, or 17 bits out of a packed DSP
                # Pipelined adder tree, one register per level; widths grow by one bit per
                # level (capped at acc_bits, where wrap-around matches int32 accumulation).
                level, lvl = prods, 0
                while len(level) > 1:
                    lvl += 1
                    w = min(cfg.acc_bits, pw + lvl)
                    nxt = []
                    for t in range(0, len(level), 2):
                        if t + 1 < len(level):
                            s_ = add(sext(level[t], w), sext(level[t + 1], w))
                        else:
                            s_ = sext(level[t], w)
                        nxt.append(regs.data(s_, f"t{lvl}_r{i}_{j}_{t // 2}"))
                    level = nxt
                sums.append(sext(level[0], cfg.acc_bits))

        # Accumulators: acc = (first ? 0 : partial) + sum, int32 wrap; the partial sum is the
        # accumulator register, or for k-outer beats the memory word of their partial tile.
        zero_acc = const(cfg.acc_bits, 0)
        ab = cfg.acc_bits
        if k_outer:  # one memory per tile row: words of d2 * 32 bits
            # The word is read at the stage before the adder and registered there (so no LUT
            # RAM read sits in front of the adder); a stalled pipeline re-reads the word of
            # the beat held at that stage, so the register takes its own tile's word when the
            # stall ends, after every write of the beats ahead of it.
            rd_addr = mux(en, idx_rd, idx_held)
            mems, rds = [], []
            for i in range(d1):
                mem = seq.FirMemOp(
                    seq.FirMemType.get(cfg.acc_depth, d2 * ab),
                    1,
                    1,
                    IntegerAttr.get(ity(32), 0),
                    IntegerAttr.get(ity(32), 0),
                    name=f"acc_mem{i}" if d1 > 1 else "acc_mem",
                ).result
                mems.append(mem)
                word = seq.FirMemReadOp(mem, rd_addr, clk, enable=const(1, 1)).result
                rds.append(regs.data(word, f"acc_word{i}"))
        accs, nxts = [], []
        for e, s_ in enumerate(sums):
            fb = Feedback(ity(ab))
            partial = fb.value
            if k_outer:
                partial = mux(from_mem, extract(rds[e // d2], (e % d2) * ab, ab), partial)
            nxt = add(mux(f, zero_acc, partial), s_)
            acc = regs.data(mux(v, nxt, fb.value), f"acc_r{e // d2}_{e % d2}")
            fb.set(acc)
            accs.append(acc)
            nxts.append(nxt)
        if k_outer:
            for i, mem in enumerate(mems):
                row = nxts[i * d2 : (i + 1) * d2]
                wdata = comb.ConcatOp(list(reversed(row))).result if len(row) > 1 else row[0]
                seq.FirMemWriteOp(mem, idx, clk, wdata, enable=and_(v, en, from_mem))
        done = regs.ctrl(and_(v, la), "acc_done")

        # Requantize in two stages: the rounding shift, then saturation into the output
        # register (writeback).
        shifted = [regs.data(_round_shift(acc, sh, rnd), f"rq_r{e}") for e, acc in enumerate(accs)]
        rq_valid = regs.ctrl(done, "rq_valid")
        outs = [_saturate(y, ob, relu) for y in shifted]
        bus = comb.ConcatOp(list(reversed(outs))).result if len(outs) > 1 else outs[0]

        # Output stage: the output register and a spare. A result leaving the pipeline goes to
        # the output register when it frees this cycle, else to the spare; the spare drains
        # first. The sink's ready only reaches these two registers' enables.
        leaving = and_(rq_valid, en)
        out_valid, out_r = Reg(clk, rst, 1, "out_valid_r"), Reg(clk, None, width(bus), "out_r")
        spare = Reg(clk, None, width(bus), "spare_r")
        free = or_(not_(out_valid.q), p["out_ready"])
        fill = and_(free, or_(spare_valid.q, leaving))
        out_valid.next(or_(spare_valid.q, leaving), free)
        out_r.next(mux(spare_valid.q, spare.q, bus), fill)
        park = and_(not_(free), leaving)
        spare_valid.next(park, or_(free, leaving))
        spare.next(bus, park)
        return {"in_ready": en, "out_valid": out_valid.q, "out": out_r.q}

    return hw.HWModuleOp(name, inputs, outputs, body_builder=body)
