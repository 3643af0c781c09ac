"""On-chip tensor buffer: one 2-D tensor in element-wide memory banks, tile-parallel.

The buffer holds ``rows x cols`` signed elements of ``bits`` bits. Every write port and the
read port moves one aligned rectangular tile per cycle; the tile shapes may differ. With
``R`` = lcm of all tile heights and ``C`` = lcm of all tile widths, the tensor is cut into
``R x C`` blocks and element (r, c) lives in bank (r % R, c % C) at word
``(r // R) * ceil(cols / C) + (c // C)``. An aligned tile (origin a multiple of its shape) lies
in one block, so its elements share one word address and hit distinct banks: one cycle per
tile, no conflicts. Each bank is one read-first simple-dual-port RAM (:mod:`intar.hw.bank`,
``bits`` x ``depth``), which yosys maps to BRAM / LUTRAM with no logic around it.

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

Writes: with one writer, ``w0_ready = !rst``. With several, ``w{p}_ready`` is a register, the
grant, so no writer's ready depends on any valid in the same cycle (another core's valid would
otherwise run through the arbitration into this core's ready, a path across three modules).
The next grant goes to the lowest-numbered valid writer that is not granted now; if there is
none, a granted writer that is still valid keeps it. So a writer alone writes every cycle,
contending writers take turns without a gap, and a writer that finds the grant elsewhere
waits at least one cycle.

Tile elements outside the tensor (edge tiles) are written into the padding of the last block
(``depth`` rounds up, so they are addressable) and never read back.

Reads: no stall, one tile per cycle. ``rd_data`` holds the tile of the read issued
``READ_LATENCY`` = 4 cycles earlier (the origin register, the address / select register, the
bank read, the output register) and keeps it until the next read's data arrives; elements
outside ``rows x cols`` read as 0.

Address pipeline: the banks are read ``READ_STAGES`` = 2 cycles after ``rd_en``, and a write
reaches them ``write_stages(spec)`` cycles after it is accepted: 2 when a tile origin needs
arithmetic (a block height or width, or the number of column blocks, not a power of two: the
origin, data and grant are registered, then the word address and bank selects computed from
them), else 0. So a read issued in cycle t sees every write accepted in cycles
< t + 2 - write_stages(spec), in particular every write accepted before it, and no divide or
multiply sits between a caller's logic and a register.

**Unaligned reads** (``unaligned_read``, for a convolution's im2col operand): ``rd_col`` may be
any column (``rd_row`` stays a multiple of h) and an extra input ``rd_mask`` (w bits) keeps
tile column y when bit y is set (masked elements read as 0; rows outside the tensor still read
as 0). The read tile then spans two column blocks: bank column j reads word ``base + qc + 1``
when ``j < col % C`` and ``base + qc`` otherwise (one per-bank-column address, two values), and
output column y takes bank column ``(col % C + y) % C``: an array of the C bank columns in
that rotation, indexed by ``col % C`` (a one-hot register beside the bank read, encoded to
binary into the next one). ``rotations``, when given, lists the only values ``col % C`` can
take (a conv reaches few: its pitch and lead are multiples of C); the array then holds just
those, so a wide read's rotation is a small mux, not a C-input one. The caller keeps the
read inside the buffer (an unmasked element at col + y < cols, and col + w + C <= C *
col_blocks so the next word exists) and col % C among ``rotations``. Writes stay aligned; a
buffer without the flag is built exactly as before.

**Window (ring) buffers** (``ring_blocks`` = W > 0, a power of two, for a stream whose one
writer writes rows in order and whose one reader reads them in order): the buffer holds only
W row blocks, ``W * R`` rows, and block ``r // R`` lives in ring slot ``(r // R) % W`` (the low
bits of the block index), so ``depth`` is ``W * col_blocks`` words. Rows on every port stay
logical (``w{p}_row``, ``rd_row`` < rows). An extra input ``rd_release`` (``release_bits``
wide, at most ``rows``) is the reader's credit: no row below it is read again. A writer is
ready only when its tile stays inside the window, ``w{p}_row + h_p <= rd_release + W*R``, with
``rd_release`` delayed by ``RING_RELEASE_STAGES - write_stages(spec)`` registers and the bound
``rd_release + W*R - h_p`` registered per writer. So the compare is one comparator against a
register, a writer's ready still never depends on its own valid, and a row released together
with a read reaches the banks only after they were read. An extra
output ``full`` is high while some writer is valid and held back by that credit (the stall
report's "window full"). The caller writes rows in order; then a write can only overwrite
rows below ``rd_release`` (released) or rows not written yet. A buffer without the option is
built exactly as before.

Read-during-write (same element, same cycle): the read returns the **old** data (read-first,
as the block RAM does across its ports, so synthesis adds no bypass); callers must not rely on
it either way.

Logic per bank: the write address is a priority mux of the writers' word addresses (shared by
all banks), the write data a priority mux over the writers of one fixed tile element each, the
write enable an AND of the winner's grant and two block-position compares. Per output element
the read side is an AND-OR mux of ``(R/h)*(C/w)`` bank outputs (selects and the out-of-range
mask registered along the address pipeline), or for an unaligned read, R/h indexed arrays of C
bank outputs, then one output register per element. Row /
column to block / offset uses bit slices for power-of-two ``R`` / ``C`` and otherwise a
constant reciprocal multiply built from shifts and adds (``mul_const``, so that synthesis
spends no DSP on it), between two registers of the address pipeline.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from dataclasses import dataclass

import circt
from circt.dialects import comb, hw, seq
from circt.ir import Context, InsertionPoint, Location, Module, StringAttr, Value
from circt.passmanager import PassManager

from intar.hw.bank import bank, bank_module
from intar.hw.builders import (
    Reg,
    Regs,
    _tree_sum,
    and_,
    cmp,
    const,
    extract,
    ity,
    mul_const,
    mux,
    not_,
    or_,
    rom,
    width,
    zext,
)
from intar.hw.emit import LOWERING_OPTIONS
from intar.hw.scratchpad import SCRATCHPAD_PIPELINE, addr_bits

READ_LATENCY = 4
"""Cycles from ``rd_en`` to its tile on ``rd_data``: the origin register, the address / select
register, the bank read and the output register."""

READ_STAGES = 2
"""Cycles from ``rd_en`` to the banks' read (the origin and the address registers)."""

RING_RELEASE_STAGES = READ_STAGES
"""A ring's release plus a write's stages to the banks, in registers: a row released with a read
in cycle t is overwritten no earlier than t + 1 + RING_RELEASE_STAGES, after the banks read
it in t + READ_STAGES."""


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
    ultra_ram: bool = False  # banks in UltraRAM: memory modules named <name>_uram_bank_...
    # an unaligned read's possible start columns (col % C), ascending; (): any of the C
    rotations: tuple[int, ...] = ()

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


def _pow2(n: int) -> bool:
    return n & (n - 1) == 0


def write_stages(spec: TensorBufferSpec) -> int:
    """Cycles from a write's acceptance to the banks: 2 when a tile origin needs address
    arithmetic (a block height or width, or the number of column blocks, that is not a power
    of two), else 0 (bit slices and a concatenation)."""
    blocks = spec.ring_blocks or spec.row_blocks
    plain = _pow2(spec.R) and _pow2(spec.C) and (blocks == 1 or _pow2(spec.col_blocks))
    return 0 if plain else READ_STAGES


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
    return max(2, spec.depth)  # a bank needs an address bit


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
    if spec.rotations:
        if not spec.unaligned_read:
            raise ValueError("rotations are for an unaligned read")
        r = spec.rotations
        if list(r) != sorted(set(r)) or r[0] < 0 or r[-1] >= spec.C:
            raise ValueError(f"rotations {r} must be ascending, distinct and in [0, {spec.C})")
    if spec.ring_blocks:
        if spec.ring_blocks < 0 or spec.ring_blocks & (spec.ring_blocks - 1):
            raise ValueError(f"ring_blocks = {spec.ring_blocks} must be a power of two")
        if spec.unaligned_read:
            raise ValueError("a ring buffer has no unaligned reads")
        if any(h > spec.window_rows for h, _ in spec.write_shapes):
            raise ValueError("a ring buffer must hold a whole write tile")


def _residue_bits(d: int) -> int:
    """Top fraction bits that tell the residues of x // d apart: t with 2**t >= 2 * d."""
    return (2 * d - 1).bit_length()


def _reciprocal(d: int, n: int) -> tuple[int, int]:
    """(M, k) with the smallest k such that for every 0 <= x < n (d > 1, not a power of two)
    the product x * M splits into the quotient and a fraction that gives the remainder:
    ``(x * M) >> k == x // d``, and frac = (x * M) % 2**k lies in the first half of residue
    r's slot, r * 2**k / d <= frac < (r + 1/2) * 2**k / d.

    With M = ceil(2**k / d) = (2**k + e) / d and x = q*d + r, d * frac = r * 2**k + e * x, so
    this holds iff 2 * e * x < 2**k for every x < n, that is 2 * e * (n - 1) < 2**k. Then the
    top t = `_residue_bits` bits of frac already tell the residues apart (slots of 2**t / d
    >= 2 values, half a slot of spread), so a residue test is one small LUT (`Split`)."""
    for k in range(1, 64):
        m = -(-(1 << k) // d)
        if 2 * (m * d - (1 << k)) * (n - 1) < 1 << k:
            return m, k
    raise ValueError(f"no reciprocal for x // {d}, x < {n}")


def _order_of_two(m: int) -> int:
    """The smallest p >= 1 with 2**p % m == 1 (m odd, > 1)."""
    p, r = 1, 2 % m
    while r != 1:
        p, r = p + 1, r * 2 % m
    return p


FOLD_BITS = 6
"""`Split._starts_by_folding` folds while the value is wider than this (one LUT6)."""

FOLDED_BITS = 8
"""The widest folded value a select may read: a LUT6 pair and a MUXF7/8, still one level."""


def fold_widths(w: int, m: int) -> list[tuple[int, int]]:
    """The folds of a w-bit value for residues modulo an odd m > 1: (input width, sum width)
    per round. A round sums the value's p-bit digits (p = `_order_of_two(m)`), which keeps the
    residue as 2**p % m == 1; rounds go on while the value is wider than `FOLD_BITS` and a
    round still narrows it."""
    p, out = _order_of_two(m), []
    while w > FOLD_BITS:
        n = -(-w // p)
        top = (w - (n - 1) * p) if n > 1 else w
        most = (n - 1) * ((1 << p) - 1) + (1 << top) - 1
        nw = most.bit_length()
        if nw >= w:
            break
        out.append((w, nw))
        w = nw
    return out


def _foldable(w: int, step: int, m: int) -> bool:
    """Whether the t = x / step of a w-bit x folds to at most `FOLDED_BITS` modulo m."""
    e = step.bit_length() - 1
    folds = fold_widths(max(w - e, 1), m)
    return (folds[-1][1] if folds else max(w - e, 1)) <= FOLDED_BITS


LUT_INPUTS = 6


def residue_fan_in(m: int) -> int:
    """How many residues modulo m one LUT6 adds up (their bits side by side): 3 for m = 3,
    2 for m = 5 or 7, 1 (none) beyond."""
    return LUT_INPUTS // max(1, (m - 1).bit_length())


def residue_tree(w: int, m: int) -> list[list[int]]:
    """How `_starts_by_residue_tables` reduces a w-bit t modulo an odd m (fan-in f =
    `residue_fan_in(m)` >= 2): level 0 is t's 6-bit chunks, each a table of its residue (chunk
    k weighs 2**(6k) % m); each next level sums groups of f residues modulo m, a table of their
    bits, until f or fewer are left, which the selects read. Returns the group sizes per
    level."""
    f = residue_fan_in(m)
    n = -(-w // LUT_INPUTS)
    levels = [[min(LUT_INPUTS, w - b) for b in range(0, w, LUT_INPUTS)]]
    while n > f:
        levels.append([min(f, n - i) for i in range(0, n, f)])
        n = len(levels[-1])
    return levels


def residue_of(t: int, w: int, m: int) -> int:
    """t % m the way the tables of `residue_tree` compute it (what their tests check)."""
    levels = residue_tree(w, m)
    res = [((t >> b) & ((1 << cw) - 1)) * pow(2, b, m) % m for b, cw in _chunks(levels[0])]
    for groups in levels[1:]:
        it = iter(res)
        res = [sum(next(it) for _ in range(g)) % m for g in groups]
    return sum(res) % m


def _chunks(widths: list[int]) -> list[tuple[int, int]]:
    """(lowest bit, width) of consecutive chunks."""
    out, b = [], 0
    for cw in widths:
        out.append((b, cw))
        b += cw
    return out


def _starts_by_residue_tables(v: Value, m: int) -> list[Value]:
    """One-hot over a in range(m): v % m == a, through `residue_tree`: a table (one LUT6 per
    residue bit) per 6-bit chunk, then per group of residues, then one per select, so the
    depth is 2 + log_f(chunks) LUTs with no adder on the path."""
    rb = (m - 1).bit_length()
    levels = residue_tree(width(v), m)
    res = []
    for b, cw in _chunks(levels[0]):
        weight = pow(2, b, m)
        res.append(rom(extract(v, b, cw), [c * weight % m for c in range(1 << cw)], rb))

    def sums(group: list[Value]) -> list[int]:
        """The sum modulo m of every value of the group's concatenated residue bits."""
        n = len(group)
        return [
            sum((u >> (rb * i)) & ((1 << rb) - 1) for i in range(n)) % m
            for u in range(1 << (rb * n))
        ]

    for groups in levels[1:]:
        it = iter(res)
        nxt = []
        for g in groups:
            group = [next(it) for _ in range(g)]
            nxt.append(group[0] if g == 1 else rom(_concat(group), sums(group), rb))
        res = nxt
    table = sums(res)
    sel = _concat(res)
    return [rom(sel, [int(r == a) for r in table], 1) for a in range(m)]


RESIDUE_SUM_CHUNKS = 3
"""The most 6-bit chunks `_starts_by_residue_sum` adds: its sum stays below 3m, so each
select compares it with at most three constants."""


def residue_sum_bound(w: int, m: int) -> int:
    """The largest sum `_starts_by_residue_sum` forms for a w-bit t: each chunk's table holds
    residues below m, and a chunk of c bits has at most 2**c of them."""
    return sum(
        max(c * pow(2, b, m) % m for c in range(1 << cw))
        for b, cw in _chunks([min(LUT_INPUTS, w - b) for b in range(0, w, LUT_INPUTS)])
    )


def _starts_by_residue_sum(v: Value, m: int) -> list[Value]:
    """One-hot over a in range(m): v % m == a, for an odd m > 7 whose residues are too wide
    to add in a table: a table per 6-bit chunk of v gives its weighted residue (one LUT6 per
    bit), an adder sums them to s < RESIDUE_SUM_CHUNKS * m, and select a is s in {a, a + m,
    a + 2m}. About six LUT levels for a 14-bit v, against nine through the reciprocal
    multiply's fraction (a 107-row block's write selects in the gating net)."""
    rb = (m - 1).bit_length()
    chunks = _chunks([min(LUT_INPUTS, width(v) - b) for b in range(0, width(v), LUT_INPUTS)])
    top = residue_sum_bound(width(v), m)
    sw = top.bit_length()
    terms = [
        zext(rom(extract(v, b, cw), [c * pow(2, b, m) % m for c in range(1 << cw)], rb), sw)
        for b, cw in chunks
    ]
    total = _tree_sum(terms) if len(terms) > 1 else terms[0]
    return [
        or_(*[cmp("eq", total, const(sw, u)) for u in range(a, top + 1, m)])
        if len(range(a, top + 1, m)) > 1
        else cmp("eq", total, const(sw, a))
        for a in range(m)
    ]


def _by_low_bits(m: int) -> bool:
    """Whether `Split.starts` tells m residue slots apart from a few low bits of x."""
    return m & (m - 1) == 0 and m <= 64


def _quotient_reciprocal(d: int, n: int, step: int) -> tuple[int, int]:
    """(M, k) with ``(x * M) >> k == x // d`` for every multiple x of ``step`` below n (d > 1,
    not a power of two; step divides d), k the smallest that the condition below proves.

    With M = ceil(2**k / d) = (2**k + e) / d and x = q*d + r: x * M / 2**k = q + (r + e*x /
    2**k) / d, so the quotient is exact when e*x < (d - r) * 2**k. For multiples of step, r <=
    d - step, so e * (n - 1) < step * 2**k suffices: fewer fraction bits than `_reciprocal`
    (no residue to keep), and a constant with fewer digits."""
    for k in range(1, 64):
        m = -(-(1 << k) // d)
        if (m * d - (1 << k)) * (n - 1) < step << k:
            return m, k
    raise ValueError(f"no reciprocal for x // {d}, x < {n}")


class Split:
    """``x // d`` and residue tests of ``x % d`` for an unsigned ``x`` known to be < n and a
    constant d >= 1.

    ``q`` is ``bit_length((n-1)//d)`` bits wide (at least 1). For a power-of-two d both come
    from bit slices. Otherwise q comes from a constant reciprocal multiply built from shifts
    and adds (`mul_const`, so synthesis spends no DSP on it), and a residue test compares the
    top bits of the product's fraction against a constant (`_reciprocal`) instead of
    computing the remainder: no multiply-back and subtract on the path to the bank selects.

    q itself comes from `_quotient_reciprocal`, exact only on multiples of ``step`` (a tile
    origin's), which has fewer digits. When d // step is a power of two up to 64, `starts`
    reads low bits of x and there is no fraction: `rem` and `at_least` are not available."""

    def __init__(self, x: Value, d: int, n: int, step: int = 1) -> None:
        self.x, self.d = x, d
        wx = width(x)
        qw = max(1, ((n - 1) // d).bit_length())
        self.frac: Value | None = None
        self._high: list[Value] | None = None  # `exceeds`: t % m one-hots, built once
        if d == 1:
            self.q = zext(x, qw) if qw >= wx else extract(x, 0, qw)
        elif d & (d - 1) == 0:
            k = d.bit_length() - 1
            q = extract(x, k, min(qw, wx - k)) if wx > k else const(qw, 0)
            self.q = zext(q, qw)
        else:
            # The quotient need only be exact on multiples of step: a shorter reciprocal than
            # the one whose fraction also tells the residues apart. With few residue slots,
            # `starts` reads x's low bits and no fraction is needed at all.
            step = step if d % step == 0 else 1
            m, k = _quotient_reciprocal(d, n, step)
            self.q = extract(mul_const(x, m, max(wx + m.bit_length(), k + qw)), k, qw)
            if not _by_low_bits(d // step):
                m, self.k = _reciprocal(d, n)
                self.frac = extract(mul_const(x, m, max(wx + m.bit_length(), self.k)), 0, self.k)

    @property
    def rem(self) -> Value:
        """x % d, ``bit_length(d - 1)`` bits wide (at least 1)."""
        d, x = self.d, self.x
        rw = max(1, (d - 1).bit_length())
        if d == 1:
            return const(1, 0)
        if self.frac is None:
            self._need_residues()
            return extract(x, 0, rw) if width(x) >= rw else zext(x, rw)
        return extract(mul_const(self.frac, d, self.k + rw), self.k, rw)

    def _need_residues(self) -> None:
        if self.d & (self.d - 1):
            raise ValueError(f"a Split by {self.d} built for multiples has no general residue")

    def residues(self, qs: tuple[int, ...]) -> list[Value]:
        """x % d == q for each q of qs. For d = 2**e * m with m odd and t = x >> e foldable
        (`_foldable`): the low e bits of x equal q's, and t % m (see `_starts_by_folding`)
        is q >> e; otherwise `starts(1)`."""
        d, x = self.d, self.x
        e = (d & -d).bit_length() - 1
        m = d >> e
        if m == 1 or not _foldable(width(x), 1 << e, m):
            starts = self.starts(1)
            return [starts[q] for q in qs]
        high = self._starts_by_folding(1 << e, m)
        if e == 0:
            return [high[q] for q in qs]
        low = extract(x, 0, e) if width(x) >= e else zext(x, e)
        return [and_(high[q >> e], cmp("eq", low, const(e, q & ((1 << e) - 1)))) for q in qs]

    def folds(self) -> bool:
        """Whether d = 2**e * m has an odd m > 1 and t = x >> e folds (`exceeds` applies)."""
        e = (self.d & -self.d).bit_length() - 1
        m = self.d >> e
        return m > 1 and _foldable(width(self.x), 1 << e, m)

    def exceeds(self, j: int) -> Value:
        """x % d > j (0 <= j < d - 1) where `folds`: t % m above j >> e, or equal to it with
        the low e bits above j's. An OR of a few residue one-hots and one compare of e bits."""
        d, x = self.d, self.x
        e = (d & -d).bit_length() - 1
        m = d >> e
        assert self.folds(), f"x % {d} does not fold"
        if self._high is None:
            self._high = self._starts_by_folding(1 << e, m)
        hj, lj = j >> e, j & ((1 << e) - 1)
        terms = list(self._high[hj + 1 :])
        if e and lj < (1 << e) - 1:
            low = extract(x, 0, e) if width(x) >= e else zext(x, e)
            terms.append(and_(self._high[hj], cmp("ugt", low, const(e, lj))))
        return or_(*terms) if len(terms) > 1 else terms[0] if terms else const(1, 0)

    def at_least(self, r: int) -> Value:
        """x % d >= r (0 < r < d); with a fraction, its top t bits >= floor(r * 2**t / d)."""
        if self.frac is None:
            rem = self.rem
            return not_(cmp("ult", rem, const(width(rem), r)))
        t, k = _residue_bits(self.d), self.k
        if k >= t:
            top = extract(self.frac, k - t, t)
        else:
            top = comb.ConcatOp([self.frac, const(t - k, 0)]).result
        return not_(cmp("ult", top, const(t, (r << t) // self.d)))

    def starts(self, step: int) -> list[Value]:
        """One-hot over a in range(d // step): x % d == a * step, for an x whose residue is a
        multiple of ``step`` (which divides d)."""
        d = self.d
        if d == step:
            return [const(1, 1)]
        m = d // step
        if d & (d - 1) and _by_low_bits(m):
            return self._starts_by_low_bits(step, m)
        if m % 2 and step & (step - 1) == 0:
            e = step.bit_length() - 1
            if _foldable(width(self.x), step, m):
                return self._starts_by_folding(step, m)
            if width(self.x) - e <= RESIDUE_SUM_CHUNKS * LUT_INPUTS:
                return _starts_by_residue_sum(extract(self.x, e, width(self.x) - e), m)
        if self.frac is None:
            rem = self.rem
            return [cmp("eq", rem, const(width(rem), a * step)) for a in range(d // step)]
        ge = [self.at_least(a * step) for a in range(1, d // step)]
        out = [not_(ge[0])]
        out += [and_(ge[a - 1], not_(ge[a])) for a in range(1, len(ge))]
        return [*out, ge[-1]]

    def _starts_by_folding(self, step: int, m: int) -> list[Value]:
        """`starts` for an odd m = d // step and a power-of-two step: x = step * t (t from bit
        slices), and x % d == a * step iff t % m == a. For m = 3, 5, 7 t % m comes from
        tables of at most six bits (`_starts_by_residue_tables`). Otherwise, as 2**p % m == 1
        for p the order of 2 modulo m, the sum of t's p-bit digits has t's residue
        (`fold_widths`), so t folds into a few bits through a small adder tree, and each select
        is one LUT of them. Both are far shallower than the reciprocal multiply's fraction."""
        e, x = step.bit_length() - 1, self.x
        if width(x) <= e:
            return [const(1, int(a == 0)) for a in range(m)]
        v = extract(x, e, width(x) - e)
        if residue_fan_in(m) > 1:
            return _starts_by_residue_tables(v, m)
        p = _order_of_two(m)
        for w_in, w_out in fold_widths(width(v), m):
            digits = [extract(v, b, min(p, w_in - b)) for b in range(0, w_in, p)]
            v = _tree_sum([zext(dg, w_out) for dg in digits])
        top = 1 << width(v)
        return [
            or_(*[cmp("eq", v, const(width(v), u)) for u in range(a, top, m)])
            if len(range(a, top, m)) > 1
            else cmp("eq", v, const(width(v), a))
            for a in range(m)
        ]

    def _starts_by_low_bits(self, step: int, m: int) -> list[Value]:
        """`starts` for a power-of-two m = d // step and an odd factor in step: x = step * t,
        and x % d == a * step iff t % m == a. With step = 2**e * r (r odd), t % m is the b =
        log2(m) bits of x above bit e times r's inverse modulo m, so each select is a function
        of b <= 6 bits of x (one LUT), not of the reciprocal multiply."""
        e = (step & -step).bit_length() - 1
        r, b, x = step >> e, m.bit_length() - 1, self.x
        if width(x) <= e:
            u = const(b, 0)
        else:
            u = extract(x, e, min(b, width(x) - e))
            u = zext(u, b) if width(u) < b else u
        t = mul_const(u, pow(r, -1, m), b)
        return [cmp("eq", t, const(b, a)) for a in range(m)]


class _Origin:
    """A tile origin decoded into the word address of its block and its offset in the block."""

    def __init__(
        self, spec: TensorBufferSpec, row: Value, col: Value, shape: tuple[int, int]
    ) -> None:
        """(row, col) is a multiple of ``shape`` (1 for an unaligned column)."""
        aw = addr_bits(_mem_depth(spec))
        self.split_r = Split(row, spec.R, spec.rows, shape[0])
        self.split_c = Split(col, spec.C, spec.cols, shape[1])
        qr = self.split_r.q
        word = zext(self.split_c.q, aw)
        blocks = spec.row_blocks
        if spec.ring_blocks:  # the ring slot: the low bits of the row block index
            blocks = spec.ring_blocks
            lb = blocks.bit_length() - 1
            if lb:
                qr = extract(qr, 0, lb) if width(qr) >= lb else zext(qr, lb)
        if blocks > 1:
            base = mul_const(qr, spec.col_blocks, aw)
            word = comb.AddOp([base, word]).result if spec.col_blocks > 1 else base
        self.word = word

    def row_sel(self, h: int) -> list[Value]:
        """One-hot: the tile of height h starts at row a*h of its block."""
        return self.split_r.starts(h)

    def col_sel(self, w: int) -> list[Value]:
        """One-hot: the tile of width w starts at column b*w of its block."""
        return self.split_c.starts(w)


def _in_range(origin: Value, offset: int, limit: int) -> Value:
    """origin + offset < limit, for an unsigned origin < limit."""
    if offset == 0 or limit - offset >= 1 << width(origin):
        return const(1, 1)
    if limit - offset <= 0:
        return const(1, 0)
    return cmp("ult", origin, const(width(origin), limit - offset))


def _concat(vals: list[Value]) -> Value:
    return comb.ConcatOp(list(reversed(vals))).result if len(vals) > 1 else vals[0]


def _encode(one_hot: list[Value]) -> Value:
    """The index of the set bit of a one-hot vector of n >= 2 bits, ``bit_length(n - 1)`` bits."""
    bits = []
    for k in range((len(one_hot) - 1).bit_length()):
        ones = [v for q, v in enumerate(one_hot) if q >> k & 1]
        bits.append(or_(*ones) if len(ones) > 1 else ones[0] if ones else const(1, 0))
    return _concat(bits)


def _prio_mux(sels: list[Value], vals: list[Value]) -> Value:
    """vals[first i with sels[i]], else vals[-1] (sels[-1] is not looked at)."""
    acc = vals[-1]
    for s, v in zip(reversed(sels[:-1]), reversed(vals[:-1]), strict=True):
        acc = mux(s, v, acc)
    return acc


def build_tensor_buffer(spec: TensorBufferSpec, name: str) -> hw.HWModuleOp:
    """Create the buffer's ``hw.module`` at the current insertion point (inside a Context).

    The banks are instances of ``<name>_bank_<depth>x<bits>`` (``<name>_uram_bank_...`` in
    UltraRAM, marked by the ``intar-ultra-ram`` pass); lower with
    :func:`emit_sv_with_memories` (or ``SCRATCHPAD_PIPELINE``).
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
    depth = _mem_depth(spec)
    mem_prefix = f"{name}_uram_" if spec.ultra_ram else f"{name}_"  # see intar-ultra-ram

    def body(mod: hw.HWModuleOp) -> dict[str, Value]:
        pt = dict(zip([n for n, _ in inputs], mod.entry_block.arguments, strict=True))
        clk, rst = pt["clk"], pt["rst"]
        res: dict[str, Value] = {}

        staged = write_stages(spec)
        # Write arbitration (see the module docstring): ready never depends on a valid of
        # the same cycle.
        fires, held = [], []  # held (ring): valid writers held back by the reader's credit
        n_writers = len(spec.write_shapes)
        granted = [not_(rst)]
        if n_writers > 1:
            valids = [pt[f"w{p}_valid"] for p in range(n_writers)]
            grants = [Reg(clk, rst, 1, f"w{p}_grant") for p in range(n_writers)]
            # the grant passes to the lowest-numbered valid writer not granted now; with
            # none, it stays with a granted writer that is still valid
            others = [and_(v, not_(g.q)) for v, g in zip(valids, grants, strict=True)]
            first = [others[0]] + [
                and_(others[p], not_(or_(*others[:p]))) for p in range(1, n_writers)
            ]
            stay = not_(or_(*others))
            for p, g in enumerate(grants):
                g.next(or_(first[p], and_(stay, valids[p])))
            granted = [g.q for g in grants]
        if spec.ring_blocks:
            release = pt["rd_release"]
            for s in range(RING_RELEASE_STAGES - staged):
                release = Regs(clk, const(1, 1), rst).ctrl(release, f"rd_release_q{s}")
        for p, (h, _) in enumerate(spec.write_shapes):
            valid = pt[f"w{p}_valid"]
            ready = granted[p]
            if spec.ring_blocks:
                # w_row + h <= rd_release + W*R, as w_row <= a registered bound
                lw = (spec.rows + spec.window_rows).bit_length()
                rel = zext(release, lw)
                bound = comb.AddOp([rel, const(lw, spec.window_rows - h)]).result
                limit = Regs(clk, const(1, 1), rst).ctrl(bound, f"w{p}_limit")
                inside = not_(cmp("ugt", zext(pt[f"w{p}_row"], lw), limit))
                held.append(and_(valid, not_(inside)))
                ready = and_(ready, inside)
            res[f"w{p}_ready"] = ready
            fires.append(and_(valid, ready))

        # An accepted write reaches the banks write_stages(spec) cycles later: with address
        # arithmetic, its origin, data and grant are registered, then the word address and
        # the bank selects computed from them are registered with the data.
        wdata_in = [pt[f"w{p}_data"] for p in range(len(spec.write_shapes))]
        words, row_sels, col_sels = [], [], []
        for p, (h, w) in enumerate(spec.write_shapes):
            row, col = pt[f"w{p}_row"], pt[f"w{p}_col"]
            if staged:
                ra = Regs(clk, fires[p], rst)
                row, col = ra.data(row, f"w{p}_row_q"), ra.data(col, f"w{p}_col_q")
                wdata_in[p] = ra.data(wdata_in[p], f"w{p}_data_q")
                # no reset: a write accepted before a reset still lands
                fire_a = Regs(clk, const(1, 1), rst).data(fires[p], f"w{p}_fire_q")
            o = _Origin(spec, row, col, (h, w))
            word, rsel, csel = o.word, o.row_sel(h), o.col_sel(w)
            if staged:
                rb_ = Regs(clk, fire_a, rst)
                word = rb_.data(word, f"w{p}_word_q")
                rsel = [rb_.data(v, f"w{p}_rs_q{a}") for a, v in enumerate(rsel)]
                csel = [rb_.data(v, f"w{p}_cs_q{b}") for b, v in enumerate(csel)]
                wdata_in[p] = rb_.data(wdata_in[p], f"w{p}_data_qq")
                fires[p] = Regs(clk, const(1, 1), rst).data(fire_a, f"w{p}_fire_qq")
            words.append(word)
            row_sels.append(rsel)
            col_sels.append(csel)
        waddr = _prio_mux(fires, words)

        # Reads: the origin is registered (A); the word address and the output mux's selects /
        # out-of-range mask computed from it are registered (B), so no divide or multiply sits
        # between the caller's logic and the banks, nor between it and the bank address; the
        # banks read at B and the selects follow one cycle later (C) to meet its data.
        ctl = Regs(clk, const(1, 1), rst)
        ra = Regs(clk, pt["rd_en"], rst)
        rd_row, rd_col = ra.data(pt["rd_row"], "rd_row_q"), ra.data(pt["rd_col"], "rd_col_q")
        en_a = ctl.ctrl(pt["rd_en"], "rd_en_a")
        rb_ = Regs(clk, en_a, rst)
        en_b = ctl.ctrl(en_a, "rd_en_b")
        rc_ = Regs(clk, en_b, rst)

        def late(v: Value, name: str) -> Value:  # B then C
            return rc_.data(rb_.data(v, f"{name}_b"), f"{name}_c")

        ro = _Origin(spec, rd_row, rd_col, (rh, 1 if spec.unaligned_read else rw))
        rots = spec.rotations or tuple(range(C))
        r_sel = ro.row_sel(rh)
        # rs1[a][x]: the tile's rows start at a*rh in the block and row x is inside the tensor.
        rs1 = [
            [
                late(and_(r_sel[a], _in_range(rd_row, x, spec.rows)), f"rs_{a}_{x}")
                for x in range(rh)
            ]
            for a in range(R // rh)
        ]
        word_b = rb_.data(ro.word, "rd_word_b")
        if spec.unaligned_read:
            # rot1: the column of its block the tile starts at, binary (a one-hot register at
            # B, encoded into C); mask1[y]: keep output column y.
            rd_mask = ra.data(pt["rd_mask"], "rd_mask_q")
            rot1 = None
            # listed rotations: col % C is one of them, so "col % C > j" is an OR of their
            # one-hot residue tests (folded where C is an odd multiple of a power of two)
            at = ro.split_c.residues(rots) if spec.rotations else None
            if len(rots) > 1:
                if at is None:
                    one_hot = ro.split_c.starts(1)
                starts = at if at is not None else [one_hot[q] for q in rots]
                regs_b = [rb_.data(v, f"rot_{q}_b") for q, v in zip(rots, starts, strict=True)]
                rot1 = _encode(regs_b)
                rot1 = rc_.data(rot1, "rot_c")
            mask1 = [late(extract(rd_mask, y, 1), f"mask_{y}") for y in range(rw)]
            word1_b = comb.AddOp([word_b, const(width(word_b), 1)]).result

            # with few rotations, an OR of their residue tests fits one LUT; with many, the
            # t % m one-hots and a compare of the low bits are shallower (`Split.exceeds`)
            folds = len(rots) > LUT_INPUTS and ro.split_c.folds()
            index = _encode(at) if at is not None and len(rots) > 2 and not folds else None

            def beyond(j: int) -> Value:
                """col % C > j."""
                if folds:
                    return ro.split_c.exceeds(j)
                if at is None:
                    return ro.split_c.at_least(j + 1)
                above = [v for q, v in zip(rots, at, strict=True) if q > j]
                if index is not None and 1 < len(above) < len(rots):
                    # the index of the rotation among rots, compared: no OR chain to share
                    below = len(rots) - len(above)
                    return not_(cmp("ult", index, const(width(index), below)))
                return or_(*above) if len(above) > 1 else above[0] if above else const(1, 0)

            # bank column j < col % C reads the next word
            later = [
                mux(rb_.data(beyond(j), f"rd_next_{j}_b"), word1_b, word_b) for j in range(C - 1)
            ]
            raddr = [*later, word_b]
        else:
            rot1 = None
            c_sel = ro.col_sel(rw)
            cs1 = [
                [
                    late(and_(c_sel[b], _in_range(rd_col, y, spec.cols)), f"cs_{b}_{y}")
                    for y in range(rw)
                ]
                for b in range(C // rw)
            ]
            raddr = [word_b] * C
        rd_en = en_b
        en1 = ctl.ctrl(en_b, "rd_en_c")

        banks: dict[tuple[int, int], Value] = {}
        bank_name = bank_module(depth, bits, mem_prefix)
        for i in range(R):
            for j in range(C):
                wens, wdatas = [], []
                for p, (h, w) in enumerate(spec.write_shapes):
                    wens.append(and_(fires[p], row_sels[p][i // h], col_sels[p][j // w]))
                    e = (i % h) * w + (j % w)
                    wdatas.append(extract(wdata_in[p], e * bits, bits))
                wen = or_(*wens) if len(wens) > 1 else wens[0]
                data = _prio_mux(fires, wdatas)
                banks[(i, j)] = bank(
                    bank_name,
                    clk,
                    raddr[j],
                    rd_en,
                    waddr,
                    wen,
                    data,
                    bits=bits,
                    tag=f"bank_{i}_{j}",
                )

        # Output mux: element (x, y) comes from bank (a*rh + x, b*rw + y) for the one (a, b)
        # selected (none if masked: 0), then the output register. Unaligned: from bank
        # (a*rh + x, (q + y) % C) for the one start column q, if mask bit y is set.
        def gate(sel: Value, v: Value) -> Value:
            rep = comb.ReplicateOp(ity(bits), sel).result if bits > 1 else sel
            return and_(rep, v)

        def rotated(a: int, x: int, y: int) -> Value:
            """Bank row a*rh + x at the start column rot1: the column (q + y) % C at q."""
            row = [banks[(a * rh + x, (q + y) % C)] for q in rots]
            if rot1 is None:
                return row[0]
            return hw.ArrayGetOp(hw.ArrayCreateOp.create(row[::-1]), rot1).result

        elems = []
        for x in range(rh):
            for y in range(rw):
                terms = []
                for a in range(R // rh):
                    if spec.unaligned_read:
                        terms.append(gate(rs1[a][x], rotated(a, x, y)))
                    else:
                        for b in range(C // rw):
                            sel = and_(rs1[a][x], cs1[b][y])
                            terms.append(gate(sel, banks[(a * rh + x, b * rw + y)]))
                e = or_(*terms) if len(terms) > 1 else terms[0]
                if spec.unaligned_read:
                    e = gate(mask1[y], e)
                elems.append(e)
        # one register per element: in Verilator's C++ each is its own statement, so a wide
        # tile does not become one expression too large to compile
        regs2 = Regs(clk, en1, rst)
        res["rd_data"] = _concat([regs2.data(e, f"rd_data_q{i}") for i, e in enumerate(elems)])
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
