"""The top module of a scheduled design, built from its `HwPlan` with CIRCT's hw/comb/seq.

``build_top(plan, name)`` creates every submodule (cores, SFUs, tensor buffers, controllers,
off-chip engines) and the top ``hw.module`` at the current insertion point.

Top ports (per off-chip port ``P`` of the plan, prefixed ``P_``):

==================  ===  =========  ===================================================
port                dir  width      meaning
==================  ===  =========  ===================================================
clk, rst            in   1          clock, synchronous reset
start               in   1          start the schedule (once after reset)
done                out  1          every phase finished and every store written
phase               out  PB         current phase
status              out  4 * units  per unit (plan order): waiting for a phase, waiting
                                    for operands, output blocked, input FIFO full (a
                                    cycle late)
active              out  1          some unit, buffer or port moved data a cycle ago
windows             out  max(1, W)  per window buffer (`HwPlan.windows` order): full, its
                                    writer waits for the reader's credit
P_mem_req_valid     out  1          read request (address in beats)
P_mem_req_addr      out  AB
P_mem_req_ready     in   1
P_mem_rvalid        in   1          read beat returns (request order, fixed latency)
P_mem_rdata         in   W
P_mem_wvalid        out  1          write request
P_mem_waddr         out  AB
P_mem_wdata         out  W
P_mem_wready        in   1
==================  ===  =========  ===================================================

Per unit the datapath is: input controller (stage, i, j, k) -> tile addresses -> tensor
buffer reads (READ_LATENCY) -> skid FIFO -> unit -> output controller -> writes into the
destination buffers (each write port arbitrated by fixed priority; a result is held until
every destination took it). See `intar.hw.plan` for the template.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace

from circt.dialects import comb, hw, seq
from circt.ir import InsertionPoint, Value

from intar.hw import tensor_buffer as tb
from intar.hw.builders import (
    Feedback,
    Reg,
    add,
    and_,
    bits_for,
    cmp,
    const,
    extract,
    ity,
    mul_const,
    mux,
    not_,
    or_,
    resize,
    rom,
    sext,
    width,
)
from intar.hw.controller import Instruction, build_controller
from intar.hw.core import K_BOUND_BITS, SHIFT_BITS, CoreConfig, build_core
from intar.hw.offchip import OffchipConfig, build_read_engine, build_write_engine
from intar.hw.plan import BufferPlan, CorePlan, HwPlan, Instr, Read, Write
from intar.hw.resources import buffer_spec

STATUS_BITS = 4
FIFO_DEPTH = tb.READ_LATENCY + 3
# A core with more stages than this looks its per-stage parameters (k bound, shift, relu)
# up before the operand FIFO and carries them in the entry. Behind the FIFO's head select,
# the VAE's 40-stage tables sat on its deepest paths, into the core's last-beat compare;
# the smaller tables of the other designs are not on theirs, and cost no entry bits.
CARRIED_PARAMS_STAGES = 16


def instance(mod: hw.HWModuleOp, name: str, **ports: Value) -> SimpleNamespace:
    """Instantiate `mod`; the result's attributes are its output Values by port name."""
    inst = mod.instantiate(name, **ports)
    res = inst.opview.results
    return SimpleNamespace(**{n: res[i] for n, i in inst.result_indices.items()})


def concat(vals: list[Value]) -> Value:
    return comb.ConcatOp(list(reversed(vals))).result if len(vals) > 1 else vals[0]


def fields(v: Value, n: int, w: int) -> list[Value]:
    return [extract(v, i * w, w) for i in range(n)]


def _or_all(xs: list[Value]) -> Value:
    return const(1, 0) if not xs else xs[0] if len(xs) == 1 else or_(*xs)


def _and_all(xs: list[Value]) -> Value:
    return const(1, 1) if not xs else xs[0] if len(xs) == 1 else and_(*xs)


def destinations(writes: list[list[Write]]) -> list[str]:
    """The buffers some stage writes, in the order of the bits of `sink_masks`."""
    return sorted({w.buffer for ws in writes for w in ws})


def sink_masks(writes: list[list[Write]]) -> list[int]:
    """Per stage, the controller's sink select: bit n set when it writes destination n."""
    dests = destinations(writes)
    return [sum(1 << dests.index(b) for b in {w.buffer for w in ws}) for ws in writes]


@dataclass
class _WritePort:
    """Wires of one write port of one buffer, driven by its writer."""

    valid: Feedback
    row: Feedback
    col: Feedback
    data: Feedback
    ready: Value | None = None


@dataclass
class _Buffer:
    plan: BufferPlan
    rb: int
    cb: int
    ports: list[_WritePort] = field(default_factory=list)
    rd_en: Feedback | None = None
    rd_row: Feedback | None = None
    rd_col: Feedback | None = None
    rd_data: Value | None = None
    rd_mask: Feedback | None = None  # unaligned (conv) reads: element mask
    progress: list[Reg] = field(default_factory=list)  # rows complete, per writer
    col_progress: list[Reg] = field(default_factory=list)  # columns done in the open row block
    spec: tb.TensorBufferSpec | None = None
    rd_release: Feedback | None = None  # a window buffer's credit (see `drive_release`)
    full: Value | None = None  # a window buffer holds its writer back


class _TopBuilder:
    def __init__(
        self, plan: HwPlan, top: hw.HWModuleOp, name: str, clk: Value, rst: Value, start: Value
    ) -> None:
        self.plan, self.top, self.name = plan, top, name
        self.clk, self.rst, self.start = clk, rst, start
        self.rows_bits = bits_for(
            max(b.tensor.rows + b.read_shape[0] + 64 for b in plan.buffers.values())
        )
        self.cols_bits = bits_for(
            max(b.tensor.cols + b.read_shape[1] + 64 for b in plan.buffers.values())
        )
        self.phase_bits = bits_for(plan.n_phases)
        self.phase_fb = Feedback(ity(self.phase_bits))
        self.phase = self.phase_fb.value
        self.advance_fb = Feedback(ity(1))  # the phase register advances this cycle
        self.buffers: dict[str, _Buffer] = {}
        self.modules: dict[object, hw.HWModuleOp] = {}
        self.done_by_phase: list[Value] = []  # per agent: finished the current phase
        self.status: list[Value] = []
        self.activity: list[Value] = []  # any step, write or beat anywhere (the watchdog's pulse)

    # -- shared pieces ---------------------------------------------------------------------

    def module(self, key: object, make: Callable[[str], hw.HWModuleOp]) -> hw.HWModuleOp:
        """One submodule per distinct configuration, created before the top module."""
        if key not in self.modules:
            with InsertionPoint(self.top):
                self.modules[key] = make(f"{self.name}_m{len(self.modules)}")
        return self.modules[key]

    def reg(self, w: int, name: str, init: int = 0) -> Reg:
        return Reg(self.clk, self.rst, w, name, init)

    def count_done(self, name: str, event: Value, cum: list[int]) -> Value:
        """A counter of finished items, and a register that is high from the cycle after it
        reached cum[current phase] (so the sequencer's wide AND starts at registers). The
        register is cleared as the phase advances: it never shows the last phase's count."""
        w = bits_for(max(cum) + 1)
        c = self.reg(w, f"{name}_finished")
        c.next(add(c.q, const(w, 1)), event)
        need = rom(self.phase, cum, w)
        done = self.reg(1, f"{name}_done")
        done.next(and_(not_(cmp("ult", c.q, need)), not_(self.advance_fb.value)))
        return done.q

    def read_credit(self, name: str, fire: Value, pop: Value, depth: int) -> tuple[Value, Value]:
        """Valid of the buffer reads issued READ_LATENCY cycles ago, and whether one more read
        fits: reads in flight plus FIFO entries < depth (so read data never needs a stall).
        That sum is kept in a register (+1 per read, -1 per pop), so the credit is one compare
        against a register rather than an adder over the read pipeline."""
        v = fire
        for s in range(tb.READ_LATENCY):
            v = seq.CompRegOp(
                ity(1), v, self.clk, reset=self.rst, reset_value=const(1, 0), name=f"{name}{s + 1}"
            ).result
        w = bits_for(depth + tb.READ_LATENCY)
        used = self.reg(w, f"{name}_used")
        up = mux(fire, const(w, 1), const(w, 0))
        down = mux(pop, const(w, (1 << w) - 1), const(w, 0))  # -1 modulo 2**w
        used.next(add(add(used.q, up), down))
        return v, cmp("ult", used.q, const(w, depth))

    def delay_data(self, v: Value, n: int, name: str) -> Value:
        for s in range(n):
            v = seq.CompRegOp(v.type, v, self.clk, name=f"{name}_d{s + 1}").result
        return v

    def fifo(
        self, name: str, push: Value, data: Value, pop: Value, depth: int
    ) -> tuple[Value, Value, Value]:
        """Register FIFO: returns (not_empty, head, count). Depth 0 holds nothing."""
        w = width(data)
        if depth == 0:
            return const(1, 0), const(w, 0), const(1, 0)
        pw = bits_for(depth - 1)
        cw = bits_for(depth)
        wp, rp, cnt = (
            self.reg(pw, f"{name}_wp"),
            self.reg(pw, f"{name}_rp"),
            self.reg(cw, f"{name}_n"),
        )
        entries = []
        for e in range(depth):
            r = Reg(self.clk, None, w, f"{name}_e{e}")
            r.next(data, and_(push, cmp("eq", wp.q, const(pw, e))))
            entries.append(r.q)

        def inc(p: Value) -> Value:
            return mux(cmp("eq", p, const(pw, depth - 1)), const(pw, 0), add(p, const(pw, 1)))

        wp.next(inc(wp.q), push)
        rp.next(inc(rp.q), pop)
        up = and_(push, not_(pop))
        down = and_(pop, not_(push))
        cnt.next(
            mux(up, add(cnt.q, const(cw, 1)), comb.SubOp(cnt.q, const(cw, 1)).result),
            or_(up, down),
        )
        head = entries[-1]
        for e in range(depth - 2, -1, -1):
            head = mux(cmp("eq", rp.q, const(pw, e)), entries[e], head)
        return cmp("ne", cnt.q, const(cw, 0)), head, cnt.q

    def step_queue(
        self, name: str, valid: Value, data: Value, pop: Value
    ) -> tuple[Value, Value, Value, Value, Value]:
        """Three-entry queue: returns (head valid, second valid, head, second, room). Both
        the head and the second entry are registers, so a reader can judge each one a cycle
        ahead; a push and a pop in every cycle keep two entries in it. ``room`` comes from
        the entry count alone. Entries past the count may load anything."""
        w = width(data)
        n = self.reg(2, f"{name}_n")
        has0 = cmp("ne", n.q, const(2, 0))
        has1 = extract(n.q, 1, 1)
        has2 = cmp("eq", n.q, const(2, 3))
        room = not_(has2)
        push = and_(valid, room)
        e0 = Reg(self.clk, None, w, f"{name}_e0")
        e1 = Reg(self.clk, None, w, f"{name}_e1")
        e2 = Reg(self.clk, None, w, f"{name}_e2")
        e0.next(mux(has1, e1.q, data), or_(pop, not_(has0)))
        e1.next(mux(has2, e2.q, data), or_(pop, not_(has1)))
        e2.next(data, cmp("eq", n.q, const(2, 2)))
        up, down = and_(push, not_(pop)), and_(pop, not_(push))
        n.next(mux(up, add(n.q, const(2, 1)), comb.SubOp(n.q, const(2, 1)).result), or_(up, down))
        return has0, has1, e0.q, e1.q, room

    # -- buffers ---------------------------------------------------------------------------

    def make_buffers(self) -> None:
        for name in sorted(self.plan.buffers):
            bp = self.plan.buffers[name]
            spec = buffer_spec(bp)
            b = _Buffer(bp, tb.row_bits(spec), tb.col_bits(spec), spec=spec)
            for k, w in enumerate(bp.writers):
                h, wd = w.shape
                b.ports.append(
                    _WritePort(
                        Feedback(ity(1)),
                        Feedback(ity(b.rb)),
                        Feedback(ity(b.cb)),
                        Feedback(ity(h * wd * bp.tensor.bits)),
                    )
                )
                b.progress.append(self.reg(self.rows_bits, f"{name}_w{k}_rows", w.row_lo))
                b.col_progress.append(self.reg(self.cols_bits, f"{name}_w{k}_cols", w.col_lo))
            b.rd_en = Feedback(ity(1))
            b.rd_row = Feedback(ity(b.rb))
            b.rd_col = Feedback(ity(b.cb))
            mod = self.module(("buffer", spec), lambda n, s=spec: tb.build_tensor_buffer(s, n))
            ins: dict[str, Value] = {"clk": self.clk, "rst": self.rst}
            for k, port in enumerate(b.ports):
                ins[f"w{k}_valid"] = port.valid.value
                ins[f"w{k}_row"] = port.row.value
                ins[f"w{k}_col"] = port.col.value
                ins[f"w{k}_data"] = port.data.value
            ins |= {"rd_en": b.rd_en.value, "rd_row": b.rd_row.value, "rd_col": b.rd_col.value}
            if bp.conv_read:
                b.rd_mask = Feedback(ity(bp.read_shape[1]))
                ins["rd_mask"] = b.rd_mask.value
            if bp.ring_blocks:
                b.rd_release = Feedback(ity(tb.release_bits(spec)))
                ins["rd_release"] = b.rd_release.value
            inst = instance(mod, name, **ins)
            if bp.ring_blocks:
                b.full = inst.full
            for k, port in enumerate(b.ports):
                port.ready = getattr(inst, f"w{k}_ready")
            b.rd_data = inst.rd_data
            self.buffers[name] = b

    def rows_ready(
        self,
        buf: str,
        row0: Value,
        h: int,
        col0: Value | None = None,
        w: int = 0,
        pre: dict[str, Value] | None = None,
    ) -> Value:
        """Every writer overlapping the tile [row0, row0 + h) x [col0, col0 + w) has written it.

        A writer is past the tile when it completed the rows, or (``col0`` given, and the writer
        works left to right) the tile lies in its open row block and its columns are done.
        ``pre`` holds sums already computed (registers), so that the compares start at
        registers: ``row_end`` row0 + h, ``col_end`` col0 + w, and ``blk<H>`` row0 + h - H in
        one more bit (its top bit set when negative), the lowest progress of a writer of
        H-row blocks whose open block holds the tile.
        """
        pre = pre or {}
        b = self.buffers[buf]
        rw, cw = self.rows_bits, self.cols_bits
        r0 = resize(row0, rw)
        end = resize(pre["row_end"], rw) if "row_end" in pre else add(r0, const(rw, h))

        def at_least(a: Value, c: Value) -> Value:
            return not_(cmp("ult", a, c))

        # With need = min(end, row_hi), `prog >= need` is `prog >= end or prog >= row_hi`, and
        # the tile misses the writer's rows when r0 >= row_hi or r0 <= row_lo - h: compares
        # side by side against constants (one of prog with r0 + h; with h = 1, prog > r0),
        # rather than a chain of adder, min and compare.
        terms = []
        for wr, prog, cprog in zip(b.plan.writers, b.progress, b.col_progress, strict=True):
            hi = const(rw, wr.row_hi)
            apart = [at_least(r0, hi)]
            if wr.row_lo >= h:
                apart.append(not_(cmp("ugt", r0, const(rw, wr.row_lo - h))))
            covered = cmp("ugt", prog.q, r0) if h == 1 else at_least(prog.q, end)
            ok = or_(*apart, covered, at_least(prog.q, hi))
            if col0 is not None and wr.col_order:
                c_hi = const(cw, b.plan.tensor.cols if wr.col_hi is None else wr.col_hi)
                c0 = resize(col0, cw)
                c_end = resize(pre["col_end"], cw) if "col_end" in pre else add(c0, const(cw, w))
                # in the writer's open row block: need <= prog + H
                big_h = wr.block_rows
                if f"blk{big_h}" in pre:  # prog >= end - H, or prog >= row_hi - H
                    lo = pre[f"blk{big_h}"]
                    neg = extract(lo, width(lo) - 1, 1)
                    in_block = or_(neg, at_least(prog.q, resize(lo, rw)))
                    if wr.row_hi > big_h:
                        in_block = or_(in_block, at_least(prog.q, const(rw, wr.row_hi - big_h)))
                    else:
                        in_block = const(1, 1)
                else:
                    block_end = add(prog.q, const(rw, big_h))
                    in_block = or_(at_least(block_end, end), at_least(block_end, hi))
                cols_apart = or_(at_least(c0, c_hi), at_least(const(cw, wr.col_lo), c_end))
                cols_done = or_(cols_apart, at_least(cprog.q, c_end), at_least(cprog.q, c_hi))
                ok = or_(ok, and_(in_block, cols_done))
            terms.append(ok)
        return _and_all(terms)

    def phys(self, buf: str, row: Value, col: Value) -> tuple[Value, Value]:
        """Element (row, col) of a buffer's [rows, cols] matrix as its physical address: the
        same for a plain buffer; (row // H, lead + (row % H)*pitch + col) for a flat one (a
        constant reciprocal multiply, see `tensor_buffer.Split`, unless it holds one channel)."""
        b = self.buffers[buf]
        f = b.plan.flat
        if f is None:
            return row, col
        n = b.plan.tensor.rows
        x = resize(row, bits_for(max(n - 1, 1)))
        if n <= f.h:  # one channel: the quotient is 0, no reciprocal multiply
            q, r = const(1, 0), x
        else:
            split = tb.Split(x, f.h, n)
            q, r = split.q, split.rem
        w = max(b.cb, width(col)) + 1
        c = add(add(const(w, f.lead), mul_const(r, f.pitch, w)), resize(col, w))
        return q, c

    def drive_reads(self, reads: dict[str, tuple[Value, ...]]) -> None:
        """Connect each listed buffer's read port: (enable, row, col) of its [rows, cols]
        matrix, or (enable, row, col, mask) already physical for a conv's im2col read."""
        for name, rd in reads.items():
            b = self.buffers[name]
            if len(rd) == 4:
                en, row, col, mask = rd
                assert b.rd_mask is not None
                b.rd_mask.set(mask)
            else:
                en, row, col = rd
                row, col = self.phys(name, row, col)
            b.rd_en.set(en)
            b.rd_row.set(resize(row, b.rb))
            b.rd_col.set(resize(col, b.cb))

    def drive_release(
        self,
        bname: str,
        instrs: list[Instr],
        by_stage: dict[int, Read],
        core: CorePlan | None,
        stage: Value,
        ti: Value,
        tj: Value,
        tk: Value,
        done: Value,
    ) -> None:
        """A window buffer's credit ``rd_release``: the first row of the reader's current
        outer step (`plan.read_rows`: i*d1 for a core's lhs, k*d3 for its rhs, j*d2 for its
        transposed rhs, i*num//den for an SFU) plus the instruction's row base. Rows below
        it were read by steps already issued, and the reads run in row order, so they are
        never read again. Before the reading instructions it is the first one's row base;
        after them (or once the program is done) every row. It goes through READ_LATENCY + 1
        registers, so every read issued for a released row has returned its data (and left
        the memory) before the writer sees the credit; the buffer registers the bound once
        more. Rows stay logical: the buffer wraps them into its ring."""
        b = self.buffers[bname]
        assert b.spec is not None and b.rd_release is not None
        rw, sb = self.rows_bits, width(stage)
        first = next(iter(by_stage.values()))
        if len({r.transposed for r in by_stage.values()}) != 1:
            raise ValueError(f"a window buffer read both ways: {bname}")
        if core is not None:
            d1, d2, d3 = core.pe
            if first.slot == "a":
                off = mul_const(ti, d1, rw)
            elif first.transposed:
                off = mul_const(tj, d2, rw)
            else:
                off = mul_const(tk, d3, rw)
        else:
            num, den = instrs[0].in_rows
            off = mul_const(ti, num, rw)
            if den > 1:  # a power of two
                sh = den.bit_length() - 1
                off = resize(extract(off, sh, rw - sh), rw)
        bases = [by_stage[s].row_base if s in by_stage else 0 for s in range(len(instrs))]
        s0, s1 = min(by_stage), max(by_stage)
        cur = add(rom(stage, bases, rw), off)
        if s0 > 0:
            cur = mux(cmp("ult", stage, const(sb, s0)), const(rw, bases[s0]), cur)
        after = or_(cmp("ugt", stage, const(sb, s1)), done) if s1 + 1 < len(instrs) else done
        v = mux(after, const(rw, b.spec.rows), cur)
        for s in range(tb.READ_LATENCY + 1):
            v = seq.CompRegOp(
                v.type,
                v,
                self.clk,
                reset=self.rst,
                reset_value=const(rw, 0),
                name=f"{bname}_rel{s}",
            ).result
        b.rd_release.set(resize(v, tb.release_bits(b.spec)))

    def writer_side(
        self,
        name: str,
        source: str,
        valid: Value,
        stage: Value,
        writes: list[list[Write]],
        i_off: Value,
        j_off: Value,
        data: Value,
        row_done: Value,
        last: Value,
        tile_h: int,
        sinks: Value,
        conv: SimpleNamespace | None = None,
        col_done: Value | None = None,
    ) -> Value:
        """Broadcast the result tile to the stage's destination buffers; returns ``taken``.

        `sinks` is the controller's sink select: bit n is set when the stage writes the n-th
        destination of `destinations(writes)`, so a destination's select is a register bit.

        `writes[s]` lists where stage s writes: the tile goes to (row, col) + (i_off, j_off)
        of each buffer, and is held until every destination accepted it. Progress (rows
        complete) of an advancing write moves on ``row_done`` (last column block) to
        min(row + i_off + tile_h, row_hi), and on the stage's ``last`` tile to rows_after.
        A flat destination gets the tile at its physical address (`phys`). `conv` (a core
        with conv stages): in a conv stage the tile lands at (phys_row + i_off, phys_col +
        ooh*pitch + ojw*d2) of the flat destination and progress moves to ``conv.end``.
        `col_done` (a column writer, `plan.Writer.block`): the tile is its column's last, so
        the column is complete; its column progress moves then, and only then.
        """
        rw, cw = self.rows_bits, self.cols_bits
        conds: list[Value] = []
        accepted_fbs: list[Reg] = []
        tooks: list[Value] = []
        for n, d in enumerate(destinations(writes)):
            b = self.buffers[d]
            k = b.plan.writer_index(source)
            port = b.ports[k]
            at = [next((w for w in ws if w.buffer == d), None) for ws in writes]

            def field(f: Callable[[Write], int], w: int, at: list[Write | None] = at) -> Value:
                return rom(stage, [f(x) if x is not None else 0 for x in at], w)

            sel = extract(sinks, n, 1)
            row0 = add(field(lambda x: x.row, rw), resize(i_off, rw))
            col0 = add(field(lambda x: x.col, cw), resize(j_off, cw))
            acc = self.reg(1, f"{name}_acc_{d}")
            want = and_(valid, sel, not_(acc.q))
            port.valid.set(want)
            f = b.plan.flat
            if conv is not None and f is not None:
                pw_ = b.cb + 1
                crow = add(resize(field(lambda x: x.phys_row, b.rb), rw), resize(i_off, rw))
                ccol = add(
                    add(field(lambda x: x.phys_col, pw_), mul_const(conv.ooh, f.pitch, pw_)),
                    mul_const(conv.ojw, conv.d2, pw_),
                )
                if all(cs for cs, x in zip(conv.stages, at, strict=True) if x is not None):
                    prow, pcol = crow, ccol
                else:
                    prow, pcol = self.phys(d, row0, col0)
                    prow = mux(conv.is_conv, resize(crow, b.rb), resize(prow, b.rb))
                    pcol = mux(conv.is_conv, resize(ccol, b.cb), resize(pcol, b.cb))
            else:
                prow, pcol = self.phys(d, row0, col0)
            port.row.set(resize(prow, b.rb))
            port.col.set(resize(pcol, b.cb))
            port.data.set(data)
            took = and_(want, port.ready)
            conds.append(or_(not_(sel), acc.q, port.ready))
            accepted_fbs.append(acc)
            tooks.append(took)
            hi = field(lambda x: x.row_hi, rw)
            if conv is None:
                # end = row + i_off + H, and end < row_hi as i_off < row_hi - H - row: a
                # per-stage constant, so the select does not wait on the adders
                end = add(field(lambda x: x.row + tile_h, rw), resize(i_off, rw))
                room = field(lambda x: max(x.row_hi - tile_h - x.row, 0), rw)
                below = cmp("ult", resize(i_off, rw), room)
            else:
                # registered: the adders behind it are the core's counters' (see conv_out)
                end_now = mux(conv.is_conv, conv.end, add(row0, const(rw, tile_h)))
                end_r = self.reg(rw, f"{name}_end_{d}")
                end_r.next(end_now)
                end = end_r.q
                below = cmp("ult", end, hi)
            prog = mux(last, field(lambda x: x.rows_after, rw), mux(below, end, hi))
            advance = field(lambda x: int(x.advance), 1)
            b.progress[k].next(prog, and_(took, row_done, advance))
            wr = b.plan.writers[k]
            c_end = add(col0, const(cw, wr.shape[1]))
            if wr.block:  # a column walker: its rows are one block, never left
                assert col_done is not None
                b.col_progress[k].next(c_end, and_(took, col_done))
            else:
                b.col_progress[k].next(mux(row_done, const(cw, wr.col_lo), c_end), took)
        taken = and_(valid, _and_all(conds))
        for acc, took in zip(accepted_fbs, tooks, strict=True):
            acc.next(mux(taken, const(1, 0), or_(acc.q, took)))
        return taken

    # -- units -----------------------------------------------------------------------------

    def mixed_counter(
        self, name: str, stage: Value, radices: list[tuple[int, ...]], step: Value
    ) -> list[Value]:
        """Digits (most significant first) of a mixed-radix counter with per-stage radices,
        advanced by ``step``; it mirrors a controller loop counter whose bound is the product
        of the radices, so it wraps to 0 with it at the end of each instruction."""
        n = len(radices[0])
        digits = [
            self.reg(bits_for(max(r[d] for r in radices) - 1), f"{name}{d}") for d in range(n)
        ]
        carry = step
        for d in range(n - 1, -1, -1):
            q = digits[d].q
            w = width(q)
            last = cmp("eq", q, rom(stage, [r[d] - 1 for r in radices], w))
            digits[d].next(mux(last, const(w, 0), add(q, const(w, 1))), carry)
            carry = and_(carry, last)
        return [x.q for x in digits]

    def conv_geometry(self, bname: str, instrs: list[Instr], stages: set[int]) -> tuple:
        """The conv read buffer's flat layout, and each stage's conv geometry (None for the
        stages that do not read it)."""
        f = self.buffers[bname].plan.flat
        assert f is not None
        return f, [x.conv if s in stages else None for s, x in enumerate(instrs)]

    def conv_origin(
        self, bname: str, instrs: list[Instr], stages: set[int], stage: Value, kc, jc
    ) -> tuple[Value, Value, Value, Value, int]:
        """The im2col read of a conv's input buffer (flat) at step (kh, kw, cb) of pixel tile
        (oh, jw): physical (row, col, mask), and the rows it waits for, (r0, n).

        Row cb*d3; column lead + (oh + kh_lo + kh - ph)*pitch + jw*d2 + kw - pw (kh counts from
        the instruction's first kernel row kh_lo); element x kept when
        the image row is inside and 0 <= jw*d2 + x + kw - pw < W (zero padding); a tile in a
        padding row reads at column `lead`, all masked. Ready when the n rows of the [C*H, W]
        matrix from r0 = (cb*d3, hh) to (cb*d3 + d3 - 1, hh) are complete (hh clamped into the
        image; conservative: the rows between are waited for too).
        """
        f, geo = self.conv_geometry(bname, instrs, stages)
        d3, d2 = self.buffers[bname].plan.read_shape
        gs = [g for g in geo if g is not None]
        big = (f.h + max(g.ph + g.kh_lo + g.kh for g in gs) + 2) * f.pitch + f.lead
        big += max(g.jw * d2 + g.kw + g.pw for g in gs) + f.cols
        aw = bits_for(big)

        def cf(fn: Callable, w: int = aw) -> Value:
            return rom(stage, [fn(g) if g is not None else 0 for g in geo], w)

        kh, kw, cb = (resize(v, aw) for v in kc)
        ohr, jw = (resize(v, aw) for v in jc)
        hh = add(add(cf(lambda g: g.oh_lo + g.kh_lo), ohr), kh)  # image row + ph
        pos = add(mul_const(jw, d2, aw), kw)  # image column of element 0, + pw
        row_ok = and_(
            not_(cmp("ult", hh, cf(lambda g: g.ph))), cmp("ult", hh, cf(lambda g: g.ph + f.h))
        )
        t = add(add(mul_const(hh, f.pitch, aw), pos), const(aw, f.lead))
        col = mux(
            row_ok,
            comb.SubOp(t, cf(lambda g: g.ph * f.pitch + g.pw)).result,
            const(aw, f.lead),
        )
        row = mul_const(cb, d3, aw)
        # readiness in rows of the [C*H, W] matrix
        rw = self.rows_bits
        ph = cf(lambda g: g.ph)
        inside = mux(
            cmp("ult", hh, cf(lambda g: g.ph + f.h)),
            comb.SubOp(hh, ph).result,
            const(aw, f.h - 1),
        )
        hc = mux(cmp("ult", hh, ph), const(aw, 0), inside)
        r0 = add(mul_const(resize(cb, rw), d3 * f.h, rw), resize(hc, rw))
        return row, col, (pos, row_ok), r0, (d3 - 1) * f.h + 1

    def conv_mask(
        self, bname: str, instrs: list[Instr], stages: set[int], stage: Value, pos: Value, ok: Value
    ) -> Value:
        """The im2col read's element mask from its queue entry's image column `pos` and row
        test `ok` (see `conv_origin`): computed behind the queue register, so the compares do
        not add to the origin's adders in front of it."""
        f, geo = self.conv_geometry(bname, instrs, stages)
        aw = width(pos)

        def cf(fn: Callable) -> Value:
            return rom(stage, [fn(g) if g is not None else 0 for g in geo], aw)

        mask = []
        for x in range(self.buffers[bname].plan.read_shape[1]):
            lo = cf(lambda g, x=x: max(0, g.pw - x))
            hi = cf(lambda g, x=x: max(0, g.pw + f.w - x))
            mask.append(and_(ok, not_(cmp("ult", pos, lo)), cmp("ult", pos, hi)))
        return concat(mask)

    def controller(self, name: str, program: list[Instruction]) -> hw.HWModuleOp:
        key = ("ctrl", tuple(program))
        return self.module(key, lambda n: build_controller(n, program, 0))

    def read_origins(
        self, instrs: list[Instr], core: CorePlan | None, ti: Value, tj: Value, k: Value
    ) -> dict[str, tuple[Value, Value]]:
        """Per operand slot, the logical origin (x, y) of the tile read at step (ti, tj, k)."""
        aw = max(self.rows_bits, self.cols_bits)
        if core is not None:
            d1, d2, d3 = core.pe
            kk = mul_const(k, d3, aw)
            return {"a": (mul_const(ti, d1, aw), kk), "b": (kk, mul_const(tj, d2, aw))}
        if len({x.in_rows for x in instrs}) != 1:
            raise ValueError(f"one SFU walks its operand rows one way: {instrs[0].unit}")
        num, den = instrs[0].in_rows
        x = mul_const(ti, num, aw)
        if den > 1:  # den is a power of two
            sh = den.bit_length() - 1
            x = resize(extract(x, sh, aw - sh), aw)
        x = add(x, resize(k, aw))
        out = {}
        for r in (r for ins in instrs for r in ins.reads):
            h, w = self.plan.buffers[r.buffer].read_shape
            out.setdefault(r.slot, (x, mul_const(tj, h if r.transposed else w, aw)))
        return out

    def unit(self, unit: str, instrs: list[Instr]) -> None:
        plan = self.plan
        core = next((c for c in plan.cores if c.name == unit), None)
        n = len(instrs)
        stage_bits = bits_for(max(n - 1, 0))
        in_prog = [Instruction(s, ins.bounds, 0, 0) for s, ins in enumerate(instrs)]
        masks = sink_masks([x.writes for x in instrs])
        out_prog = [
            Instruction(s, (*ins.out_bounds, 1), 0, m)
            for s, (ins, m) in enumerate(zip(instrs, masks, strict=True))
        ]
        step_ready_fb = Feedback(ity(1))
        ic = instance(
            self.controller(f"{unit}_in", in_prog),
            f"{unit}_in_ctrl",
            clk=self.clk,
            rst=self.rst,
            start=self.start,
            step_ready=step_ready_fb.value,
        )
        rw, cw = self.rows_bits, self.cols_bits
        swaps = [int(x.swap) for x in instrs]
        kijs = [int(x.order == "kij") for x in instrs]  # (k, i, j): tile (c_j, c_k) at k step c_i

        def tile(st: Value, i: Value, j: Value, k: Value) -> tuple[Value, Value, Value]:
            """The logical tile (ti, tj, tk) of loop step (i, j, k) of stage st."""
            swap, kij = rom(st, swaps, 1), rom(st, kijs, 1)
            ti, tj = mux(swap, j, i), mux(swap, i, j)
            return mux(kij, j, ti), mux(kij, k, tj), mux(kij, i, k)

        users: dict[str, dict[int, Read]] = {}
        for s, x in enumerate(instrs):
            for r in x.reads:
                users.setdefault(r.buffer, {})[s] = r
        plain = [b for b in users if not plan.buffers[b].conv_read]

        # The controller's steps enter a three-entry queue with their tile origins computed; a
        # read is issued from the queue's head, a register. So the readiness compares start
        # at registers, and the controller's step_ready (room in the queue) does not wait for
        # them: the read path is cut in two, one cycle later, at one step a cycle.
        c_stage = resize(ic.stage, stage_bits)
        origins = self.read_origins(instrs, core, *tile(c_stage, ic.i, ic.j, ic.k))
        phases = [x.phase for x in instrs]
        # the stage one-hot, the stage's phase and which buffers the stage reads ride in the
        # entry, so that the readiness logic behind the queue starts at their registers
        # rather than at decoders
        c_on = [cmp("eq", c_stage, const(stage_bits, s)) for s in range(n)]
        step_fields: list[tuple[str, Value]] = [
            ("stage", c_stage),
            ("phase", rom(c_stage, phases, self.phase_bits)),
            *((f"on{s}", c_on[s]) for s in range(n)),
            *((f"reads_{b}", _or_all([c_on[s] for s in users[b]])) for b in users),
            ("i", ic.i),
            ("j", ic.j),
            ("k", ic.k),
            ("first_k", ic.first_k),
            ("last_k", ic.last_k),
        ]
        for bname in plain:
            by_stage = users[bname]
            rd = [by_stage.get(s) for s in range(n)]

            def field(f: Callable[[Read], int], w: int, rd: list[Read | None] = rd) -> Value:
                return rom(c_stage, [f(r) if r is not None else 0 for r in rd], w)

            ox, oy = origins[next(iter(by_stage.values())).slot]
            aw = width(ox)
            ox = mux(field(lambda r: int(r.broadcast), 1), const(aw, 0), ox)
            t = field(lambda r: int(r.transposed), 1)
            h, w = plan.buffers[bname].read_shape
            x_off, y_off = mux(t, oy, ox), mux(t, ox, oy)
            # the tile's origin, and its end for the readiness compares (the same adders,
            # constants h and w on), each a queue register
            heights = sorted({wr.block_rows for wr in plan.buffers[bname].writers if wr.col_order})
            for key, base in (("row", lambda r: r.row_base), ("col", lambda r: r.col_base)):
                off, ext, used = (x_off, h, h > 1) if key == "row" else (y_off, w, bool(heights))
                step_fields.append((f"{bname}_{key}", add(field(base, aw), off)))
                if used:
                    end = add(field(lambda r, b=base, e=ext: b(r) + e, aw), off)
                    step_fields.append((f"{bname}_pre_{key}_end", end))
            for big_h in heights:
                lo_base = field(lambda r, d=h - big_h: r.row_base + d, aw + 1)
                lo = add(lo_base, resize(x_off, aw + 1))
                step_fields.append((f"{bname}_pre_blk{big_h}", lo))
        # A conv's im2col digits (kh, kw, cb) and (oh, jw) count the steps the controller
        # hands to the queue; its read (row, col, mask) and the first row it waits for enter
        # the queue with the step, like a plain read's origin.
        conv: dict[str, int] = {}  # conv-read buffer: the rows of the [C*H, W] matrix it waits on
        geo = [x.conv for x in instrs]
        if any(plan.buffers[b].conv_read for b in users):
            assert core is not None
            k_rad = [
                (g.kh, g.kw, g.cb) if g else (1, 1, x.bounds[2])
                for x, g in zip(instrs, geo, strict=True)
            ]
            j_rad = [
                (g.oh_hi - g.oh_lo, g.jw) if g else (1, x.bounds[1])
                for x, g in zip(instrs, geo, strict=True)
            ]
            taken = and_(ic.step_valid, step_ready_fb.value)
            kc = self.mixed_counter(f"{unit}_kc", c_stage, k_rad, taken)
            jc = self.mixed_counter(f"{unit}_jc", c_stage, j_rad, and_(taken, ic.last_k))
            for bname in (b for b in users if plan.buffers[b].conv_read):
                row, col, (pos, ok), r0, conv[bname] = self.conv_origin(
                    bname, instrs, set(users[bname]), c_stage, kc, jc
                )
                end = add(r0, const(width(r0), conv[bname]))
                step_fields += [(f"{bname}_row", row), (f"{bname}_col", col)]
                step_fields += [(f"{bname}_pos", pos), (f"{bname}_row_ok", ok)]
                step_fields.append((f"{bname}_r0", r0))
                step_fields.append((f"{bname}_pre_row_end", end))

        def step_ready(qd: dict[str, Value], bname: str) -> Value:
            """The rows and columns the read of `bname` at queue entry `qd` needs are written."""
            h, w = plan.buffers[bname].read_shape
            tag = f"{bname}_pre_"
            pre = {k[len(tag) :]: v for k, v in qd.items() if k.startswith(tag)}
            if bname in conv:  # rows of the [C*H, W] matrix, not the physical read row
                return self.rows_ready(bname, qd[f"{bname}_r0"], conv[bname], pre=pre)
            return self.rows_ready(bname, qd[f"{bname}_row"], h, qd[f"{bname}_col"], w, pre)

        fire_fb = Feedback(ity(1))
        # A step's readiness is judged a cycle ahead, on the head and on the second entry,
        # into registers; the second's counts when the head issued. Progress only grows, so
        # a ready judged a cycle ago still holds; the compares never sit in front of the read.
        step_data = concat([v for _, v in step_fields])
        q_valid, has1, head, second, room = self.step_queue(
            f"{unit}_steps", ic.step_valid, step_data, fire_fb.value
        )
        step_ready_fb.set(room)

        def decode(entry: Value) -> dict[str, Value]:
            out, off = {}, 0
            for name_, v in step_fields:
                out[name_] = extract(entry, off, width(v))
                off += width(v)
            return out

        q = decode(head)
        stage = q["stage"]

        def plain_ready(qd: dict[str, Value]) -> Value:
            """The step `qd` may issue: its phase is on and its reads are written."""
            ok = cmp("eq", qd["phase"], self.phase)
            terms = [or_(not_(qd[f"reads_{b}"]), step_ready(qd, b)) for b in users]
            return and_(ok, _and_all(terms))

        def per_stage(vals: list[int], w: int) -> Value:
            return rom(stage, vals, w)

        kij = per_stage(kijs, 1)
        phase_ok = cmp("eq", q["phase"], self.phase)
        on = [q[f"on{s}"] for s in range(n)]
        reads: dict[str, tuple[Value, ...]] = {}
        buf_ready: dict[str, Value] = {}
        # a window's release follows the next step to issue: the queue's head, else the
        # controller's current step
        rel_stage = mux(q_valid, stage, c_stage)
        rel_tile = tile(
            rel_stage,
            *(mux(q_valid, q[c], getattr(ic, c)) for c in "ijk"),
        )
        rel_done = and_(ic.done, not_(q_valid))
        for bname, by_stage in users.items():
            if plan.buffers[bname].ring_blocks:
                self.drive_release(bname, instrs, by_stage, core, rel_stage, *rel_tile, rel_done)
            row, col = q[f"{bname}_row"], q[f"{bname}_col"]
            en = and_(fire_fb.value, _or_all([on[s] for s in by_stage]))
            if bname in conv:
                pos, ok = q[f"{bname}_pos"], q[f"{bname}_row_ok"]
                mask = self.conv_mask(bname, instrs, set(by_stage), stage, pos, ok)
                reads[bname] = (en, row, col, mask)
            else:
                reads[bname] = (en, row, col)
            buf_ready[bname] = step_ready(q, bname)
        operands_ok = _and_all([or_(not_(q[f"reads_{b}"]), buf_ready[b]) for b in users])
        # credit: reads in flight + FIFO entries < depth
        pop_fb = Feedback(ity(1))
        # A link of depth 0 into the unit builds no operand FIFO: it never takes an operand.
        depth = 0 if unit in plan.starved else FIFO_DEPTH
        valid_d, credit = self.read_credit(f"{unit}_rd_v", fire_fb.value, pop_fb.value, depth)
        # Both judgements are registers, and the head's readiness picks one by whether the
        # previous cycle issued (the second entry then became the head).
        now = and_(q_valid, phase_ok, operands_ok)  # the head, as plain_ready judges it
        judged_head = self.reg(1, f"{unit}_ready_head")
        judged_head.next(now)
        judged_second = self.reg(1, f"{unit}_ready_second")
        judged_second.next(and_(has1, plain_ready(decode(second))))
        issued = self.reg(1, f"{unit}_issued")
        issued.next(fire_fb.value)
        ready = mux(issued.q, judged_second.q, judged_head.q)
        fire = and_(q_valid, ready, credit)
        fire_fb.set(fire)
        self.drive_reads(reads)
        stage_d = self.delay_data(stage, tb.READ_LATENCY, f"{unit}_stage")

        def read_data(slot: str) -> Value | None:
            srcs = [(s, r) for s, x in enumerate(instrs) for r in x.reads if r.slot == slot]
            if not srcs:
                return None
            out = None
            for s, r in srcs:
                data = self.adapt(self.buffers[r.buffer].rd_data, r.buffer, core, r.transposed)
                sel = cmp("eq", stage_d, const(stage_bits, s))
                out = data if out is None else mux(sel, data, out)
            return out

        slots = [sl for sl in "abc" if any(r.slot == sl for x in instrs for r in x.reads)]
        entry_parts = [read_data(sl) for sl in slots]
        acc_depth = max([x.bounds[1] * x.bounds[2] for x in instrs if x.order == "kij"] or [1])
        if core is not None and acc_depth > 1:
            # k-outer beats carry (first, last, partial-tile index, from-memory) to the core
            qi, qj = q["i"], q["j"]
            first = mux(kij, cmp("eq", qi, const(width(qi), 0)), q["first_k"])
            last = mux(
                kij,
                cmp("eq", qi, per_stage([x.bounds[0] - 1 for x in instrs], width(qi))),
                q["last_k"],
            )
            ib = bits_for(acc_depth - 1)
            idx = self.reg(ib, f"{unit}_acc_idx")
            j_last = per_stage([x.bounds[1] - 1 for x in instrs], width(qj))
            step_end = and_(cmp("eq", qj, j_last), q["last_k"])
            idx.next(mux(step_end, const(ib, 0), add(idx.q, const(ib, 1))), and_(fire, kij))
            meta = concat([kij, idx.q, last, first])
            entry_parts.append(self.delay_data(meta, tb.READ_LATENCY, f"{unit}_acc"))
        # the core's per-stage parameters: (table, bits), a k bound only for i/j-outer cores
        tables: dict[str, tuple[list[int], int]] = {}
        if core is not None:
            if acc_depth == 1:
                tables["k_bound"] = ([x.bounds[2] for x in instrs], K_BOUND_BITS)
            if any(x.relu for x in instrs):
                tables["relu"] = ([int(x.relu) for x in instrs], 1)
            tables["shift"] = ([min(x.shift, 63) for x in instrs], SHIFT_BITS)
        carried = tables if n > CARRIED_PARAMS_STAGES else {}
        entry_parts += [rom(stage_d, *table) for table in carried.values()]
        entry_parts.append(stage_d)
        entry = concat(entry_parts)
        not_empty, head, cnt = self.fifo(f"{unit}_fifo", valid_d, entry, pop_fb.value, depth)
        off = 0
        parts = []
        for x in entry_parts:
            parts.append(extract(head, off, width(x)))
            off += width(x)
        h_stage = parts[-1]
        h_params = dict(zip(carried, parts[-1 - len(carried) : -1], strict=True))

        def stage_param(name: str) -> Value:
            return h_params[name] if name in h_params else rom(h_stage, *tables[name])

        oc_ready_fb = Feedback(ity(1))
        oc = instance(
            self.controller(f"{unit}_out", out_prog),
            f"{unit}_out_ctrl",
            clk=self.clk,
            rst=self.rst,
            start=self.start,
            step_ready=oc_ready_fb.value,
        )
        ostage = resize(oc.stage, stage_bits)
        oswap = rom(ostage, swaps, 1)
        oi, oj = mux(oswap, oc.j, oc.i), mux(oswap, oc.i, oc.j)
        tile_h, tile_w = instrs[0].out_shape
        if core is not None:
            d1, d2, d3 = core.pe
            relu = any(x.relu for x in instrs)
            cfg = CoreConfig(
                d1, d2, d3, core.in_bits, core.out_bits, acc_depth=acc_depth, relu=relu
            )
            mod = self.module(("core", cfg), lambda nm, c=cfg: build_core(c, nm))
            if acc_depth > 1:
                ib, m = cfg.acc_idx_bits, parts[2]
                acc_ports = {
                    "first": extract(m, ib + 2, 1),
                    "last": extract(m, ib + 1, 1),
                    "acc_idx": extract(m, 1, ib),
                    "acc_mem": extract(m, 0, 1),
                }
            else:
                acc_ports = {"k_bound": stage_param("k_bound")}
            if relu:
                acc_ports["relu"] = stage_param("relu")
            inst = instance(
                mod,
                f"{unit}_pe",
                clk=self.clk,
                rst=self.rst,
                in_valid=not_empty,
                a=parts[0],
                b=parts[1],
                **acc_ports,
                shift=stage_param("shift"),
                out_ready=oc_ready_fb.value,
            )
            pop_fb.set(and_(not_empty, inst.in_ready))
            out_valid, out_data = inst.out_valid, inst.out
        else:
            out_valid, out_data = self.sfu_modules(
                unit, instrs, not_empty, parts, h_stage, ostage, oc_ready_fb.value, pop_fb
            )
        last_col = cmp(
            "eq",
            oj,
            rom(
                ostage,
                [((x.out_bounds[0] if x.swap else x.out_bounds[1]) - 1) for x in instrs],
                width(oj),
            ),
        )
        conv = None
        if any(g is not None for g in geo):
            conv, last_col = self.conv_out(unit, instrs, ostage, oi, oc_ready_fb.value, last_col)
        col_done = None
        if any(w.block for b in plan.buffers.values() for w in b.writers if w.source == unit):
            # a column writer (`plan.Writer.block`): the tile is its column's last row tile
            col_done = cmp("eq", oi, rom(ostage, [x.out_bounds[1] - 1 for x in instrs], width(oi)))
        offer = and_(out_valid, oc.step_valid)
        if conv is not None:
            offer = and_(offer, conv.fresh)
        taken = self.writer_side(
            unit,
            unit,
            offer,
            ostage,
            [x.writes for x in instrs],
            mul_const(oi, tile_h, rw),
            mul_const(oj, tile_w, cw),
            out_data,
            last_col,
            oc.last_step,
            tile_h,
            oc.sink_sel,
            conv,
            col_done,
        )
        oc_ready_fb.set(and_(taken, oc.step_valid))
        self.activity += [fire, taken]
        cum = [sum(1 for x in instrs if x.phase <= p) for p in range(plan.n_phases)]
        finished = self.count_done(unit, and_(taken, oc.step_valid, oc.last_step), cum)
        self.done_by_phase.append(finished)
        full = cmp("eq", resize(cnt, 8), const(8, depth))
        self.status.append(
            concat(
                [
                    and_(q_valid, not_(phase_ok)),
                    and_(q_valid, phase_ok, not_(operands_ok)),
                    and_(out_valid, not_(taken)),
                    full,
                ]
            )
        )

    def conv_out(
        self, unit: str, instrs: list[Instr], ostage: Value, oi: Value, step: Value, last_col
    ) -> tuple[SimpleNamespace, Value]:
        """Output side of a core with conv stages: the (oh, jw) digits of the result tile, the
        row-done signal (last pixel tile of an output row) and the progress a conv tile's write
        makes, in rows of the [O*OH, OW] matrix: after output row oh of the block whose first
        channel is o, o*OH + oh + 1 (that channel's rows so far; every earlier block is done),
        and at the block's last row min(o + d1, o_hi)*OH."""
        geo = [x.conv for x in instrs]
        rad = [
            (g.oh_hi - g.oh_lo, g.jw) if g else (1, x.out_bounds[1])
            for x, g in zip(instrs, geo, strict=True)
        ]
        ooh, ojw = self.mixed_counter(f"{unit}_oc", ostage, rad, step)
        is_conv = rom(ostage, [int(g is not None) for g in geo], 1)
        d1 = instrs[0].out_shape[0]
        rw = self.rows_bits

        def cf(fn: Callable, w: int = rw) -> Value:
            return rom(ostage, [fn(g) if g is not None else 0 for g in geo], w)

        row_done = cmp("eq", ojw, rom(ostage, [r[1] - 1 for r in rad], width(ojw)))
        last_oh = cmp("eq", ooh, rom(ostage, [r[0] - 1 for r in rad], width(ooh)))
        ohs = sorted({g.oh for g in geo if g is not None})
        base = None  # oi * d1 * OH for the stage's OH
        for oh in ohs:
            v = mul_const(oi, d1 * oh, rw)
            on = _or_all(
                [
                    cmp("eq", ostage, const(width(ostage), s))
                    for s, g in enumerate(geo)
                    if g and g.oh == oh
                ]
            )
            base = v if base is None else mux(on, v, base)
        first = add(base, cf(lambda g: g.o_lo * g.oh))  # o * OH
        mid = add(add(first, cf(lambda g: g.oh_lo + 1)), resize(ooh, rw))
        blk = add(first, cf(lambda g: d1 * g.oh))
        o_hi = cf(lambda g: g.o_hi * g.oh)
        blk = mux(cmp("ult", blk, o_hi), blk, o_hi)
        # a windowed conv's block is complete only after its last run of rows
        end = mux(and_(last_oh, cf(lambda g: int(g.run_end), 1)), blk, mid)
        stages = [g is not None for g in geo]
        # A write's progress end (writer_side) is a register of what (oi, ooh, stage) give: a
        # tile is written only when it has caught up with them ("fresh"). They change only on
        # a step of the output side, or at start, when no result is near (the operands take
        # the buffer reads' cycles first); so fresh is a register: no step in the previous
        # cycle. That costs a cycle only if the next tile is ready at once.
        moved = self.reg(1, f"{unit}_end_moved")
        moved.next(step)
        fresh = not_(moved.q)
        ns = SimpleNamespace(
            is_conv=is_conv,
            ooh=ooh,
            ojw=ojw,
            d2=instrs[0].out_shape[1],
            end=end,
            stages=stages,
            fresh=fresh,
        )
        return ns, mux(is_conv, row_done, last_col)

    def adapt(self, data: Value, bname: str, core: CorePlan | None, transposed: bool) -> Value:
        """A buffer's read tile as the unit's operand bus (transposition, core widths)."""
        b = self.buffers[bname]
        bits = b.plan.tensor.bits
        h, w = b.plan.read_shape
        if not transposed and core is None:
            return data
        elems = fields(data, h * w, bits)
        if transposed:  # the stored (h x w) tile is the operand's (w x h) tile
            elems = [elems[x * w + y] for y in range(w) for x in range(h)]
        if core is not None:
            elems = [sext(e, core.in_bits) if bits < core.in_bits else e for e in elems]
        return concat(elems)

    def sfu_modules(self, unit, instrs, not_empty, parts, h_stage, ostage, out_ready, pop_fb):
        from intar.hw import sfu_modules as sm

        keys = sorted({x.params for x in instrs}, key=repr)
        sb = width(h_stage)
        outs_valid, outs_data, pops = [], [], []
        for mk, key in enumerate(keys):
            stages = [s for s, x in enumerate(instrs) if x.params == key]
            mine = _or_all([cmp("eq", h_stage, const(sb, s)) for s in stages])
            mine_out = _or_all([cmp("eq", ostage, const(sb, s)) for s in stages])
            mod = self.module(("sfu", key), lambda nm, k=key: sm.build(k, nm))
            widths = sm.operand_widths(key)
            ports = {
                "clk": self.clk,
                "rst": self.rst,
                "in_valid": and_(not_empty, mine),
                "out_ready": and_(out_ready, mine_out),
            }
            for name, w, part in zip("abc", widths, parts, strict=False):
                ports[name] = resize(part, w)
            inst = instance(mod, f"{unit}_sfu{mk}", **ports)
            pops.append(and_(not_empty, mine, inst.in_ready))
            outs_valid.append(and_(inst.out_valid, mine_out))
            outs_data.append(inst.out)
        pop_fb.set(_or_all(pops))
        data = outs_data[-1]
        for mk in range(len(keys) - 2, -1, -1):
            stages = [s for s, x in enumerate(instrs) if x.params == keys[mk]]
            sel = _or_all([cmp("eq", ostage, const(sb, s)) for s in stages])
            data = mux(sel, outs_data[mk], data)
        return _or_all(outs_valid), data

    # -- off-chip ports --------------------------------------------------------------------

    def engine_config(self, port) -> OffchipConfig:
        lat = self.plan.device.offchip.latency_cycles
        longest = max(
            [ld.tensor.rows * ld.beats_per_row for ld in self.plan.loads[port.name]]
            + [st.tensor.rows * st.beats_per_row for st in self.plan.stores[port.name]]
            + [1]
        )
        return OffchipConfig(
            port.width,
            credits=lat + 2,
            addr_bits=bits_for(max(port.beats, 1)),
            len_bits=bits_for(longest),
        )

    def loader(self, port, cfg: OffchipConfig, p: dict[str, Value], res: dict[str, Value]) -> None:
        loads = self.plan.loads[port.name]
        pn = port.name
        n = len(loads)
        if n == 0:
            res[f"{pn}_mem_req_valid"] = const(1, 0)
            res[f"{pn}_mem_req_addr"] = const(cfg.addr_bits, 0)
            return
        iw = bits_for(n)
        cmd_idx = self.reg(iw, f"{pn}_ld_cmd")
        cur = resize(cmd_idx.q, bits_for(max(n - 1, 0)))
        pending = cmp("ult", cmd_idx.q, const(iw, n))
        cmd_valid = and_(
            pending, cmp("eq", rom(cur, [ld.phase for ld in loads], self.phase_bits), self.phase)
        )
        out_ready_fb = Feedback(ity(1))
        eng = instance(
            self.module(("rd", cfg), lambda nm: build_read_engine(cfg, nm)),
            f"{pn}_rd",
            clk=self.clk,
            rst=self.rst,
            cmd_valid=cmd_valid,
            cmd_addr=rom(cur, [ld.base for ld in loads], cfg.addr_bits),
            cmd_len=rom(cur, [ld.tensor.rows * ld.beats_per_row for ld in loads], cfg.len_bits),
            mem_req_ready=p[f"{pn}_mem_req_ready"],
            mem_rvalid=p[f"{pn}_mem_rvalid"],
            mem_rdata=p[f"{pn}_mem_rdata"],
            out_ready=out_ready_fb.value,
        )
        cmd_idx.next(add(cmd_idx.q, const(iw, 1)), and_(cmd_valid, eng.cmd_ready))
        res[f"{pn}_mem_req_valid"] = eng.mem_req_valid
        res[f"{pn}_mem_req_addr"] = eng.mem_req_addr
        # Beat walker: (load, row, beat) of the next returning beat.
        writes = [
            [Write(b, 0, 0, ld.tensor.rows, ld.tensor.rows) for b in ld.writes] for ld in loads
        ]
        prog = [
            Instruction(s, (ld.tensor.rows, ld.beats_per_row, 1), 0, m)
            for s, (ld, m) in enumerate(zip(loads, sink_masks(writes), strict=True))
        ]
        step_fb = Feedback(ity(1))
        wk = instance(
            self.controller(f"{pn}_ld", prog),
            f"{pn}_ld_walk",
            clk=self.clk,
            rst=self.rst,
            start=self.start,
            step_ready=step_fb.value,
        )
        st = resize(wk.stage, bits_for(max(n - 1, 0)))
        rw, cw = self.rows_bits, self.cols_bits
        per = [port.width // ld.tensor.bits for ld in loads]
        if len(set(per)) > 1 or len({ld.tensor.bits for ld in loads}) > 1:
            raise NotImplementedError("one element width per port")
        data = extract(eng.out_data, 0, per[0] * loads[0].tensor.bits)
        col0 = mul_const(wk.j, per[0], cw)
        last_beat = cmp("eq", wk.j, rom(st, [ld.beats_per_row - 1 for ld in loads], width(wk.j)))
        taken = self.writer_side(
            f"{pn}_ld",
            f"load:{pn}",
            and_(eng.out_valid, wk.step_valid),
            st,
            writes,
            resize(wk.i, rw),
            col0,
            data,
            last_beat,
            wk.last_step,
            1,
            wk.sink_sel,
        )
        out_ready_fb.set(and_(taken, wk.step_valid))
        step_fb.set(and_(taken, wk.step_valid))
        self.activity += [taken, eng.mem_req_valid]
        cum = [sum(1 for ld in loads if ld.phase <= q) for q in range(self.plan.n_phases)]
        self.done_by_phase.append(
            self.count_done(f"{pn}_ld", and_(taken, wk.step_valid, wk.last_step), cum)
        )

    def storer(self, port, cfg: OffchipConfig, p: dict[str, Value], res: dict[str, Value]) -> None:
        stores = self.plan.stores[port.name]
        pn = port.name
        n = len(stores)
        if n == 0:
            res[f"{pn}_mem_wvalid"] = const(1, 0)
            res[f"{pn}_mem_waddr"] = const(cfg.addr_bits, 0)
            res[f"{pn}_mem_wdata"] = const(cfg.width_bits, 0)
            return
        sb = bits_for(max(n - 1, 0))
        iw = bits_for(n)
        cmd_idx = self.reg(iw, f"{pn}_st_cmd")
        cur = resize(cmd_idx.q, sb)
        cmd_valid = and_(
            cmp("ult", cmd_idx.q, const(iw, n)),
            cmp("eq", rom(cur, [s.phase for s in stores], self.phase_bits), self.phase),
        )
        in_valid_fb, in_data_fb = Feedback(ity(1)), Feedback(ity(cfg.width_bits))
        # Reads go first: a write is offered only while the port's read engine requests
        # nothing. Loads feed this phase's units; stores only drain, so holding them back
        # never delays a unit, and the port still moves one beat per cycle.
        reading = res[f"{pn}_mem_req_valid"]
        eng = instance(
            self.module(("wr", cfg), lambda nm: build_write_engine(cfg, nm)),
            f"{pn}_wr",
            clk=self.clk,
            rst=self.rst,
            cmd_valid=cmd_valid,
            cmd_addr=rom(cur, [s.base for s in stores], cfg.addr_bits),
            cmd_len=rom(cur, [s.tensor.rows * s.beats_per_row for s in stores], cfg.len_bits),
            in_valid=in_valid_fb.value,
            in_data=in_data_fb.value,
            mem_wready=and_(p[f"{pn}_mem_wready"], not_(reading)),
        )
        cmd_idx.next(add(cmd_idx.q, const(iw, 1)), and_(cmd_valid, eng.cmd_ready))
        res[f"{pn}_mem_wvalid"] = and_(eng.mem_wvalid, not_(reading))
        res[f"{pn}_mem_waddr"] = eng.mem_waddr
        res[f"{pn}_mem_wdata"] = eng.mem_wdata
        # Read walker over the store buffers, row-major beats.
        prog = [
            Instruction(s, (x.tensor.rows, x.beats_per_row, 1), 0, 0) for s, x in enumerate(stores)
        ]
        step_fb = Feedback(ity(1))
        wk = instance(
            self.controller(f"{pn}_st", prog),
            f"{pn}_st_walk",
            clk=self.clk,
            rst=self.rst,
            start=self.start,
            step_ready=step_fb.value,
        )
        st = resize(wk.stage, sb)
        rw, cw = self.rows_bits, self.cols_bits
        per = port.width // stores[0].tensor.bits
        row = resize(wk.i, rw)
        col = mul_const(wk.j, per, cw)
        fire_fb = Feedback(ity(1))
        reads, ready_terms = {}, []
        for s, x in enumerate(stores):
            on = cmp("eq", st, const(sb, s))
            reads[x.buffer] = (and_(fire_fb.value, on), row, col)
            ready_terms.append(or_(not_(on), self.rows_ready(x.buffer, row, 1)))
        pop_fb = Feedback(ity(1))
        valid_d, credit = self.read_credit(f"{pn}_st_v", fire_fb.value, pop_fb.value, FIFO_DEPTH)
        phase_ok = cmp("eq", rom(st, [x.phase for x in stores], self.phase_bits), self.phase)
        step = and_(phase_ok, _and_all(ready_terms), credit)
        step_fb.set(step)
        fire_fb.set(and_(wk.step_valid, step))
        self.drive_reads(reads)
        st_d = self.delay_data(st, tb.READ_LATENCY, f"{pn}_st_stage")
        data = None
        for s, x in enumerate(stores):
            d = resize(self.buffers[x.buffer].rd_data, cfg.width_bits)
            data = d if data is None else mux(cmp("eq", st_d, const(sb, s)), d, data)
        not_empty, head, _ = self.fifo(f"{pn}_st_fifo", valid_d, data, pop_fb.value, FIFO_DEPTH)
        in_valid_fb.set(not_empty)
        in_data_fb.set(head)
        pop_fb.set(and_(not_empty, eng.in_ready))
        self.activity += [valid_d, eng.mem_wvalid]
        cum = [sum(1 for x in stores if x.phase <= q) for q in range(self.plan.n_phases)]
        self.done_by_phase.append(self.count_done(f"{pn}_st", eng.done, cum))

    # -- phases ----------------------------------------------------------------------------

    def sequencer(self) -> Value:
        """Global phase barrier: returns ``done``."""
        n, sw = self.plan.n_phases, self.plan.switch_cycles
        pb = self.phase_bits
        running = self.reg(1, "running")
        finished = self.reg(1, "finished")
        swb = bits_for(sw)
        gap = self.reg(swb, "switch_gap")
        all_done = _and_all(self.done_by_phase)
        last = cmp("eq", self.phase, const(pb, n - 1))
        switching = cmp("ne", gap.q, const(swb, 0))
        phase_end = and_(running.q, all_done, not_(switching))
        advance_now = and_(phase_end, not_(last))
        end = and_(phase_end, last)
        running.next(mux(end, const(1, 0), or_(running.q, self.start)))
        finished.next(or_(finished.q, end))
        ph = self.reg(pb, "phase_r")
        if sw > 0:
            # a phase ends -> `sw` idle cycles -> the next phase starts
            gap_done = cmp("eq", gap.q, const(swb, 1))
            gap.next(
                mux(
                    advance_now,
                    const(swb, sw),
                    mux(switching, comb.SubOp(gap.q, const(swb, 1)).result, gap.q),
                )
            )
            advance = gap_done
        else:
            gap.next(gap.q)
            advance = advance_now
        ph.next(add(ph.q, const(pb, 1)), advance)
        self.advance_fb.set(advance)
        self.phase_fb.set(ph.q)
        self.phase = ph.q
        return finished.q


def top_ports(plan: HwPlan) -> tuple[list[tuple[str, object]], list[tuple[str, object]]]:
    i1 = ity(1)
    ins: list[tuple[str, object]] = [("clk", seq.ClockType.get()), ("rst", i1), ("start", i1)]
    units = len(plan.instrs)
    outs: list[tuple[str, object]] = [
        ("done", i1),
        ("phase", ity(bits_for(plan.n_phases))),
        ("status", ity(STATUS_BITS * units)),
        ("active", i1),
        ("windows", ity(max(1, len(plan.windows())))),
    ]
    for port in plan.ports:
        aw = bits_for(max(port.beats, 1))
        pn = port.name
        ins += [
            (f"{pn}_mem_req_ready", i1),
            (f"{pn}_mem_rvalid", i1),
            (f"{pn}_mem_rdata", ity(port.width)),
            (f"{pn}_mem_wready", i1),
        ]
        outs += [
            (f"{pn}_mem_req_valid", i1),
            (f"{pn}_mem_req_addr", ity(aw)),
            (f"{pn}_mem_wvalid", i1),
            (f"{pn}_mem_waddr", ity(aw)),
            (f"{pn}_mem_wdata", ity(port.width)),
        ]
    return ins, outs


def build_top(plan: HwPlan, name: str) -> hw.HWModuleOp:
    """Create the design's modules and its top ``hw.module`` named ``name``."""
    ins, outs = top_ports(plan)

    def body(mod: hw.HWModuleOp) -> dict[str, Value]:
        p = dict(zip([n for n, _ in ins], mod.entry_block.arguments, strict=True))
        b = _TopBuilder(plan, mod, name, p["clk"], p["rst"], p["start"])
        b.make_buffers()
        for unit in plan.instrs:
            b.unit(unit, plan.instrs[unit])
        res: dict[str, Value] = {}
        for port in plan.ports:
            cfg = b.engine_config(port)
            b.loader(port, cfg, p, res)
            b.storer(port, cfg, p, res)
        res["done"] = b.sequencer()
        res["phase"] = b.phase
        # Both feed only the testbench (stall report, watchdog): taken from registers, a
        # cycle late, so that no path of the design ends at an output.
        status = b.reg(STATUS_BITS * len(plan.instrs), "status_r")
        status.next(concat(b.status))
        res["status"] = status.q
        pulses = []
        for n, pulse in enumerate(b.activity):
            r = b.reg(1, f"active_r{n}")
            r.next(pulse)
            pulses.append(r.q)
        res["active"] = _or_all(pulses)
        full = [b.buffers[n].full for n in plan.windows()]
        res["windows"] = concat(full) if full else const(1, 0)  # type: ignore[arg-type]
        return res

    return hw.HWModuleOp(name, ins, outs, body_builder=body)
