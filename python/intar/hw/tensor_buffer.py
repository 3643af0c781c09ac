"""On-chip tensor buffer: one 2-D tensor in element-wide ``seq.firmem`` banks, tile-parallel.

The buffer holds ``rows x cols`` signed elements of ``bits`` bits. Every write port and the
read port moves one aligned rectangular tile per cycle; the tile shapes may differ. With
``R`` = lcm of all tile heights and ``C`` = lcm of all tile widths, the tensor is cut into
``R x C`` blocks and element (r, c) lives in bank (r % R, c % C) at word
``(r // R) * ceil(cols / C) + (c // C)``. An aligned tile (origin a multiple of its shape) lies
in one block, so its elements share one word address and hit distinct banks: one cycle per
tile, no conflicts. Each bank is one ``seq.firmem`` (1 write + 1 read port, ``bits`` x
``depth``) as in :mod:`intar.hw.scratchpad`, so yosys infers BRAM / LUTRAM for it.

Interface of ``build_tensor_buffer(spec, name)`` (flat buses, tile element (x, y) of an
(h, w) tile at bits ``(x*w + y) * bits``; ``RB = row_bits(spec)``, ``CB = col_bits(spec)``):

===========  ===  ================  ==========================================================
port         dir  width             meaning
===========  ===  ================  ==========================================================
clk          in   !seq.clock (1)    clock
rst          in   1                 synchronous reset: no write accepted (contents kept)
w{p}_valid   in   1                 writer p offers a tile (p = 0 .. len(write_shapes) - 1)
w{p}_ready   out  1                 writer p's tile is written this cycle if it is valid
w{p}_row     in   RB                tile origin row (a multiple of h_p, < rows)
w{p}_col     in   CB                tile origin column (a multiple of w_p, < cols)
w{p}_data    in   h_p*w_p*bits      the tile
rd_en        in   1                 read the tile at (rd_row, rd_col)
rd_row       in   RB                read origin row (a multiple of h, < rows)
rd_col       in   CB                read origin column (a multiple of w, < cols)
rd_data      out  h*w*bits          the tile, ``READ_LATENCY`` cycles after ``rd_en``
===========  ===  ================  ==========================================================

Writes: fixed priority, the lowest-numbered valid writer wins:
``w{p}_ready = !rst & !(w0_valid | ... | w{p-1}_valid)``, so a writer's ready never depends on
its own valid. Tile elements outside the tensor (edge tiles) are written into the padding of
the last block (``depth`` rounds up, so they are addressable) and never read back.

Reads: no stall, one tile per cycle. ``rd_data`` holds the tile of the read issued
``READ_LATENCY`` = 2 cycles earlier (firmem read latency 1, then an output register) and keeps
it until the next read's data arrives; elements outside ``rows x cols`` read as 0.

**Unaligned reads** (``unaligned_read``, for a convolution's im2col operand): ``rd_col`` may be
any column (``rd_row`` stays a multiple of h) and an extra input ``rd_mask`` (w bits) keeps
tile column y when bit y is set (masked elements read as 0; rows outside the tensor still read
as 0). The read tile then spans two column blocks: bank column j reads word ``base + qc + 1``
when ``j < col % C`` and ``base + qc`` otherwise (one per-bank-column address, two values), and
output column y takes bank column ``(col % C + y) % C`` through a C-way rotation mux whose
one-hot select is registered beside the firmem read. The caller keeps the read inside the
buffer (an unmasked element at col + y < cols, and col + w + C <= C * col_blocks so the next
word exists). Writes stay aligned; a buffer without the flag is built exactly as before.

**Window (ring) buffers** (``ring_blocks`` = W > 0, a power of two, for a stream whose one
writer writes rows in order and whose one reader reads them in order): the buffer holds only
W row blocks, ``W * R`` rows, and block ``r // R`` lives in ring slot ``(r // R) % W`` (the low
bits of the block index), so ``depth`` is ``W * col_blocks`` words. Rows on every port stay
logical (``w{p}_row``, ``rd_row`` < rows). An extra input ``rd_release`` (``release_bits``
wide, at most ``rows``) is the reader's credit: no row below it is read again. A writer is
ready only when its tile stays inside the window, ``w{p}_row + h_p <= rd_release + W*R``; the
bound ``rd_release + W*R - h_p`` is registered per writer, so the compare is one comparator
against a register and a writer's ready still never depends on its own valid. An extra
output ``full`` is high while some writer is valid and held back by that credit (the stall
report's "window full"). The caller writes rows in order; then a write can only overwrite
rows below ``rd_release`` (released) or rows not written yet. A buffer without the option is
built exactly as before.

Read-during-write (same element, same cycle): the read returns the **new** data (write-first,
CIRCT's ``hw-memory-sim`` firmem model, see :mod:`intar.hw.scratchpad`); a write one cycle
after the read is not seen. Callers must not rely on either. As for the scratchpad, yosys keeps
write-first on a BRAM with a bypass per bank (``bits + 1`` FFs and a ``bits``-wide mux).

Logic per bank: the write address is a priority mux of the writers' word addresses (shared by
all banks), the write data a priority mux over the writers of one fixed tile element each, the
write enable an AND of the winner's grant and two block-position compares. Per output element
the read side is an AND-OR mux of ``(R/h)*(C/w)`` bank outputs (selects and the out-of-range
mask registered beside the firmem read), then the output register. Row / column to
block / offset uses a shift for power-of-two ``R`` / ``C`` and a constant reciprocal multiply
otherwise.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from dataclasses import dataclass

import circt
from circt.dialects import comb, hw, seq
from circt.ir import Context, InsertionPoint, IntegerAttr, Location, Module, StringAttr, Value
from circt.passmanager import PassManager

from intar.hw.builders import Regs, and_, cmp, const, extract, ity, mux, not_, or_, width, zext
from intar.hw.emit import LOWERING_OPTIONS
from intar.hw.scratchpad import SCRATCHPAD_PIPELINE, addr_bits

READ_LATENCY = 2
"""Cycles from ``rd_en`` to its tile on ``rd_data`` (firmem read 1 + output register 1)."""


@dataclass(frozen=True)
class TensorBufferSpec:
    """A ``rows x cols`` tensor of signed ``bits``-bit elements with one write port per entry of
    ``write_shapes`` and one read port, each moving one aligned (h, w) tile per cycle."""

    rows: int
    cols: int
    bits: int
    write_shapes: tuple[tuple[int, int], ...]
    read_shape: tuple[int, int]
    unaligned_read: bool = False
    ring_blocks: int = 0  # > 0: a window of this many row blocks (a power of two), see above

    @property
    def R(self) -> int:
        """Block height: lcm of all tile heights."""
        return math.lcm(*(h for h, _ in (*self.write_shapes, self.read_shape)))

    @property
    def C(self) -> int:
        """Block width: lcm of all tile widths."""
        return math.lcm(*(w for _, w in (*self.write_shapes, self.read_shape)))

    @property
    def row_blocks(self) -> int:
        return -(-self.rows // self.R)

    @property
    def col_blocks(self) -> int:
        return -(-self.cols // self.C)

    @property
    def banks(self) -> int:
        return self.R * self.C

    @property
    def depth(self) -> int:
        """Words per bank."""
        if self.ring_blocks:
            return self.ring_blocks * self.col_blocks
        return self.row_blocks * self.col_blocks

    @property
    def window_rows(self) -> int:
        """Rows the buffer holds at once: every row, or ``ring_blocks * R`` for a ring."""
        return self.ring_blocks * self.R if self.ring_blocks else self.rows


def row_bits(spec: TensorBufferSpec) -> int:
    """Width of the ``*_row`` ports."""
    return max(1, (spec.rows - 1).bit_length())


def col_bits(spec: TensorBufferSpec) -> int:
    """Width of the ``*_col`` ports."""
    return max(1, (spec.cols - 1).bit_length())


def release_bits(spec: TensorBufferSpec) -> int:
    """Width of ``rd_release`` (a ring buffer's credit, 0 .. rows)."""
    return max(1, spec.rows.bit_length())


def _mem_depth(spec: TensorBufferSpec) -> int:
    return max(2, spec.depth)  # a firmem needs an address bit


def validate(spec: TensorBufferSpec) -> None:
    """Raise ``ValueError`` for a spec the generator does not support."""
    if spec.rows < 1 or spec.cols < 1:
        raise ValueError("rows and cols must be >= 1")
    if spec.bits < 1:
        raise ValueError("bits must be >= 1")
    if len(spec.write_shapes) < 1:
        raise ValueError("at least one write port is needed")
    for h, w in (*spec.write_shapes, spec.read_shape):
        if h < 1 or w < 1:
            raise ValueError(f"tile shape ({h}, {w}) must be positive")
    if spec.ring_blocks:
        if spec.ring_blocks < 0 or spec.ring_blocks & (spec.ring_blocks - 1):
            raise ValueError(f"ring_blocks = {spec.ring_blocks} must be a power of two")
        if spec.unaligned_read:
            raise ValueError("a ring buffer has no unaligned reads")
        if any(h > spec.window_rows for h, _ in spec.write_shapes):
            raise ValueError("a ring buffer must hold a whole write tile")


def _reciprocal(d: int, n: int) -> tuple[int, int]:
    """(M, k) with (x * M) >> k == x // d for every 0 <= x < n (d > 1, not a power of two),
    with the smallest such k.

    With M = ceil(2**k / d) = (2**k + e) / d, x = q*d + r gives x*M = q*2**k + q*e + r*M, so
    the shift is exact iff q*e + r*M < 2**k for every x < n. That sum grows with q and r, so
    two candidates decide it: the last full quotient with r = d - 1, and x = n - 1."""
    for k in range(1, 64):
        m = -(-(1 << k) // d)
        e = m * d - (1 << k)
        q_last, r_last = divmod(n - 1, d)
        worst = q_last * e + r_last * m
        if n >= d:
            worst = max(worst, (n // d - 1) * e + (d - 1) * m)
        if worst < 1 << k:
            return m, k
    raise ValueError(f"no reciprocal for x // {d}, x < {n}")


def _divmod(x: Value, d: int, n: int) -> tuple[Value, Value]:
    """(x // d, x % d) for an unsigned ``x`` known to be < n and a constant d >= 1; the quotient
    is ``bit_length((n-1)//d)`` bits wide (at least 1), the remainder ``bit_length(d-1)``."""
    wx = width(x)
    qw = max(1, ((n - 1) // d).bit_length())
    rw = max(1, (d - 1).bit_length())
    if d == 1:
        return (zext(x, qw) if qw >= wx else extract(x, 0, qw)), const(1, 0)
    if d & (d - 1) == 0:
        k = d.bit_length() - 1
        q = extract(x, k, min(qw, wx - k)) if wx > k else const(qw, 0)
        r = extract(x, 0, k) if wx >= k else zext(x, k)
        return zext(q, qw), r
    m, k = _reciprocal(d, n)
    pw = max(wx + m.bit_length(), k + qw)
    prod = comb.MulOp([zext(x, pw), const(pw, m)]).result
    q = extract(prod, k, qw)
    x_lo = extract(x, 0, rw) if wx >= rw else zext(x, rw)
    q_lo = extract(q, 0, rw) if qw >= rw else zext(q, rw)
    r = comb.SubOp(x_lo, comb.MulOp([q_lo, const(rw, d)]).result).result
    return q, r


class _Origin:
    """A tile origin decoded into the word address of its block and its offset in the block."""

    def __init__(self, spec: TensorBufferSpec, row: Value, col: Value) -> None:
        aw = addr_bits(_mem_depth(spec))
        qr, self.rem_r = _divmod(row, spec.R, spec.rows)
        qc, self.rem_c = _divmod(col, spec.C, spec.cols)
        word = zext(qc, aw)
        blocks = spec.row_blocks
        if spec.ring_blocks:  # the ring slot: the low bits of the row block index
            blocks = spec.ring_blocks
            lb = blocks.bit_length() - 1
            if lb:
                qr = extract(qr, 0, lb) if width(qr) >= lb else zext(qr, lb)
        if blocks > 1:
            base = comb.MulOp([zext(qr, aw), const(aw, spec.col_blocks)]).result
            word = comb.AddOp([base, word]).result if spec.col_blocks > 1 else base
        self.word = word

    @staticmethod
    def _sel(rem: Value, step: int, block: int) -> list[Value]:
        """One-hot: the tile of extent ``step`` starts at offset a*step of a ``block``."""
        if block == step:
            return [const(1, 1)]
        return [cmp("eq", rem, const(width(rem), a * step)) for a in range(block // step)]

    def row_sel(self, spec: TensorBufferSpec, h: int) -> list[Value]:
        return self._sel(self.rem_r, h, spec.R)

    def col_sel(self, spec: TensorBufferSpec, w: int) -> list[Value]:
        return self._sel(self.rem_c, w, spec.C)


def _in_range(origin: Value, offset: int, limit: int) -> Value:
    """origin + offset < limit, for an unsigned origin < limit."""
    if offset == 0 or limit - offset >= 1 << width(origin):
        return const(1, 1)
    if limit - offset <= 0:
        return const(1, 0)
    return cmp("ult", origin, const(width(origin), limit - offset))


def _concat(vals: list[Value]) -> Value:
    return comb.ConcatOp(list(reversed(vals))).result if len(vals) > 1 else vals[0]


def _prio_mux(sels: list[Value], vals: list[Value]) -> Value:
    """vals[first i with sels[i]], else vals[-1] (sels[-1] is not looked at)."""
    acc = vals[-1]
    for s, v in zip(reversed(sels[:-1]), reversed(vals[:-1]), strict=True):
        acc = mux(s, v, acc)
    return acc


def build_tensor_buffer(spec: TensorBufferSpec, name: str) -> hw.HWModuleOp:
    """Create the buffer's ``hw.module`` at the current insertion point (inside a Context).

    ``hw-memory-sim`` later turns the banks into ``<name>_bank_<depth>x<bits>`` memory modules;
    lower with :func:`emit_sv_with_memories` (or ``SCRATCHPAD_PIPELINE``).
    """
    validate(spec)
    rb, cb, bits, i1 = row_bits(spec), col_bits(spec), spec.bits, ity(1)
    R, C = spec.R, spec.C
    rh, rw = spec.read_shape
    inputs = [("clk", seq.ClockType.get()), ("rst", i1)]
    outputs = []
    for p, (h, w) in enumerate(spec.write_shapes):
        inputs += [
            (f"w{p}_valid", i1),
            (f"w{p}_row", ity(rb)),
            (f"w{p}_col", ity(cb)),
            (f"w{p}_data", ity(h * w * bits)),
        ]
        outputs.append((f"w{p}_ready", i1))
    inputs += [("rd_en", i1), ("rd_row", ity(rb)), ("rd_col", ity(cb))]
    if spec.unaligned_read:
        inputs.append(("rd_mask", ity(rw)))
    if spec.ring_blocks:
        inputs.append(("rd_release", ity(release_bits(spec))))
    outputs.append(("rd_data", ity(rh * rw * bits)))
    if spec.ring_blocks:
        outputs.append(("full", i1))
    mem_ty = seq.FirMemType.get(_mem_depth(spec), bits)
    undef = IntegerAttr.get(ity(32), 0)  # seq RUW/WUW enums: 0 = Undefined

    def body(mod: hw.HWModuleOp) -> dict[str, Value]:
        pt = dict(zip([n for n, _ in inputs], mod.entry_block.arguments, strict=True))
        clk, rst = pt["clk"], pt["rst"]
        res: dict[str, Value] = {}

        # Write arbitration: fixed priority, ready independent of the writer's own valid.
        fires, words, row_sels, col_sels = [], [], [], []
        blocked = rst
        held: list[Value] = []  # ring: valid writers held back by the reader's credit
        for p, (h, w) in enumerate(spec.write_shapes):
            valid = pt[f"w{p}_valid"]
            ready = not_(blocked)
            if spec.ring_blocks:
                # w_row + h <= rd_release + W*R, as w_row <= a registered bound
                lw = (spec.rows + spec.window_rows).bit_length()
                rel = zext(pt["rd_release"], lw)
                bound = comb.AddOp([rel, const(lw, spec.window_rows - h)]).result
                limit = Regs(clk, const(1, 1), rst).ctrl(bound, f"w{p}_limit")
                inside = not_(cmp("ugt", zext(pt[f"w{p}_row"], lw), limit))
                held.append(and_(valid, not_(inside)))
                ready = and_(ready, inside)
            res[f"w{p}_ready"] = ready
            fires.append(and_(valid, ready))
            blocked = or_(blocked, valid)
            o = _Origin(spec, pt[f"w{p}_row"], pt[f"w{p}_col"])
            words.append(o.word)
            row_sels.append(o.row_sel(spec, h))
            col_sels.append(o.col_sel(spec, w))
        waddr = _prio_mux(fires, words)

        # Read address and the selects / out-of-range mask of the output mux, registered
        # beside the firmem's own address register.
        rd_en = pt["rd_en"]
        ro = _Origin(spec, pt["rd_row"], pt["rd_col"])
        r_sel = ro.row_sel(spec, rh)
        c_sel = None if spec.unaligned_read else ro.col_sel(spec, rw)
        regs1 = Regs(clk, rd_en, rst)
        # rs1[a][x]: the tile's rows start at a*rh in the block and row x is inside the tensor.
        rs1 = [
            [
                regs1.data(and_(r_sel[a], _in_range(pt["rd_row"], x, spec.rows)), f"rs_{a}_{x}")
                for x in range(rh)
            ]
            for a in range(R // rh)
        ]
        if spec.unaligned_read:
            # rot1[q]: the tile starts at column q of its block (one-hot); mask1[y]: keep y.
            rc = ro.rem_c
            rot1 = [regs1.data(cmp("eq", rc, const(width(rc), q)), f"rot_{q}") for q in range(C)]
            mask1 = [regs1.data(extract(pt["rd_mask"], y, 1), f"mask_{y}") for y in range(rw)]
            word1 = comb.AddOp([ro.word, const(width(ro.word), 1)]).result
            raddr = [mux(cmp("ugt", rc, const(width(rc), j)), word1, ro.word) for j in range(C)]
        else:
            assert c_sel is not None
            cs1 = [
                [
                    regs1.data(and_(c_sel[b], _in_range(pt["rd_col"], y, spec.cols)), f"cs_{b}_{y}")
                    for y in range(rw)
                ]
                for b in range(C // rw)
            ]
            raddr = [ro.word] * C
        en1 = Regs(clk, const(1, 1), rst).ctrl(rd_en, "rd_en_q")

        banks: dict[tuple[int, int], Value] = {}
        for i in range(R):
            for j in range(C):
                mem = seq.FirMemOp(
                    mem_ty, 1, 1, undef, undef, name=f"bank_{i}_{j}", prefix=f"{name}_"
                ).result
                wens, wdatas = [], []
                for p, (h, w) in enumerate(spec.write_shapes):
                    wens.append(and_(fires[p], row_sels[p][i // h], col_sels[p][j // w]))
                    e = (i % h) * w + (j % w)
                    wdatas.append(extract(pt[f"w{p}_data"], e * bits, bits))
                wen = or_(*wens) if len(wens) > 1 else wens[0]
                seq.FirMemWriteOp(mem, waddr, clk, _prio_mux(fires, wdatas), enable=wen)
                banks[(i, j)] = seq.FirMemReadOp(mem, raddr[j], clk, enable=rd_en).result

        # Output mux: element (x, y) comes from bank (a*rh + x, b*rw + y) for the one (a, b)
        # selected (none if masked: 0), then the output register. Unaligned: from bank
        # (a*rh + x, (q + y) % C) for the one start column q, if mask bit y is set.
        def gate(sel: Value, v: Value) -> Value:
            rep = comb.ReplicateOp(ity(bits), sel).result if bits > 1 else sel
            return and_(rep, v)

        elems = []
        for x in range(rh):
            for y in range(rw):
                terms = []
                for a in range(R // rh):
                    if spec.unaligned_read:
                        for q in range(C):
                            sel = and_(rs1[a][x], rot1[q])
                            terms.append(gate(sel, banks[(a * rh + x, (q + y) % C)]))
                    else:
                        for b in range(C // rw):
                            sel = and_(rs1[a][x], cs1[b][y])
                            terms.append(gate(sel, banks[(a * rh + x, b * rw + y)]))
                e = or_(*terms) if len(terms) > 1 else terms[0]
                if spec.unaligned_read:
                    e = gate(mask1[y], e)
                elems.append(e)
        res["rd_data"] = Regs(clk, en1, rst).data(_concat(elems), "rd_data_q")
        if spec.ring_blocks:
            res["full"] = or_(*held) if len(held) > 1 else held[0]
        return res

    return hw.HWModuleOp(name, inputs, outputs, body_builder=body)


def emit_sv_with_memories(build: Callable[[], object]) -> str:
    """Like :func:`intar.hw.emit.emit_sv`, for designs holding ``seq.firmem`` banks: lowers
    them to behavioural memory modules with ``SCRATCHPAD_PIPELINE``."""
    with Context() as ctx, Location.unknown():
        circt.register_dialects(ctx)
        ctx.load_all_available_dialects()
        module = Module.create()
        with InsertionPoint(module.body):
            build()
        if not module.operation.verify():
            raise RuntimeError("generated IR does not verify")
        module.operation.attributes["circt.loweringOptions"] = StringAttr.get(LOWERING_OPTIONS)
        PassManager.parse(SCRATCHPAD_PIPELINE).run(module.operation)
        buf = io.StringIO()
        circt.export_verilog(module, buf)
        text = buf.getvalue()
        del module
    return text


def tensor_buffer_sv(spec: TensorBufferSpec, name: str) -> str:
    """SystemVerilog text of one tensor buffer (module ``name`` plus its memory module)."""
    return emit_sv_with_memories(lambda: build_tensor_buffer(spec, name))
