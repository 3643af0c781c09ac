"""Off-chip read and write engines built with CIRCT's hw/comb/seq Python builders.

Addresses and lengths count beats (one beat = ``width_bits`` = one memory-port word).

Read engine ``build_read_engine(cfg, name)``:

=============  ===  ==========  ======================================================
port           dir  width       meaning
=============  ===  ==========  ======================================================
clk            in   clock       clock
rst            in   1           synchronous reset
cmd_valid      in   1           a (cmd_addr, cmd_len) command is offered
cmd_addr       in   addr_bits   first beat address
cmd_len        in   len_bits    number of beats (0 is accepted and does nothing)
cmd_ready      out  1           the engine takes the command (no request is pending)
mem_req_valid  out  1           a read request for ``mem_req_addr`` is offered
mem_req_ready  in   1           memory accepts the request
mem_req_addr   out  addr_bits   beat address of the request
mem_rvalid     in   1           a read beat returns (in request order)
mem_rdata      in   width_bits  returned beat
out_valid      out  1           ``out_data`` holds the next beat of the stream
out_ready      in   1           the consumer takes ``out_data``
out_data       out  width_bits  stream data
idle           out  1           no request pending, in flight or buffered
=============  ===  ==========  ======================================================

Credits: a request is issued only while ``in_flight + buffered < credits``; the buffer is a
``credits``-entry register FIFO, so every returning beat has a slot and ``mem_rvalid`` needs no
ready. A credit returns when the consumer pops a beat and is usable the next cycle, so the
credit loop is ``latency + 2`` cycles (request, ``latency``, FIFO write, pop) and the engine
sustains min(1, credits / (latency + 2)) beats per cycle. ``mem_req_valid`` does not depend
on any ready input.

Write engine ``build_write_engine(cfg, name)``:

=============  ===  ==========  ======================================================
port           dir  width       meaning
=============  ===  ==========  ======================================================
clk, rst       in               clock, synchronous reset
cmd_valid      in   1           a (cmd_addr, cmd_len) command is offered
cmd_addr       in   addr_bits   first beat address
cmd_len        in   len_bits    number of beats
cmd_ready      out  1           the engine takes the command (all beats accepted)
in_valid       in   1           a data beat is offered
in_data        in   width_bits  data beat
in_ready       out  1           the engine takes the beat
mem_wvalid     out  1           a write of ``mem_wdata`` to ``mem_waddr`` is offered
mem_wready     in   1           memory accepts the write
mem_waddr      out  addr_bits   beat address
mem_wdata      out  width_bits  beat data
done           out  1           one-cycle pulse the cycle after the last beat's write is accepted
=============  ===  ==========  ======================================================

Beats go through one output register (``in_ready = cmd active & (!mem_wvalid | mem_wready)``),
so a stream of one beat per cycle is written at one beat per cycle.
"""

from __future__ import annotations

from dataclasses import dataclass

from circt.dialects import comb, hw, seq
from circt.ir import Value

from intar.hw.builders import Reg, and_, cmp, const, ity, mux, not_, or_, width


@dataclass(frozen=True)
class OffchipConfig:
    """Elaboration-time parameters of an off-chip engine."""

    width_bits: int
    credits: int = 4
    addr_bits: int = 32
    len_bits: int = 16

    def validate(self) -> None:
        """Raise ValueError on unsupported parameters."""
        if self.width_bits < 1:
            raise ValueError("width_bits must be >= 1")
        if self.credits < 2:
            raise ValueError("credits must be >= 2")
        if not 1 <= self.len_bits <= self.addr_bits:
            raise ValueError("len_bits must be in [1, addr_bits]")


def credits_for_full_bandwidth(latency_cycles: int) -> int:
    """Smallest read-engine credit count that sustains one beat per cycle."""
    return latency_cycles + 2


def _eq(a: Value, b: Value) -> Value:
    return cmp("eq", a, b)


def _ult(a: Value, b: Value) -> Value:
    return cmp("ult", a, b)


def _inc(v: Value) -> Value:
    return comb.AddOp([v, const(width(v), 1)]).result


def _dec(v: Value) -> Value:
    return comb.SubOp(v, const(width(v), 1)).result


def _nonzero(v: Value) -> Value:
    return not_(_eq(v, const(width(v), 0)))


def _clog2(n: int) -> int:
    return max(1, (n - 1).bit_length())


def _wrap_inc(ptr: Value, depth: int) -> Value:
    return mux(_eq(ptr, const(width(ptr), depth - 1)), const(width(ptr), 0), _inc(ptr))


def _select(entries: list[Value], idx: Value) -> Value:
    """Binary mux tree ``entries[idx]`` (out-of-range indices give entry 0)."""
    k = width(idx)
    level = entries + [entries[0]] * ((1 << k) - len(entries))
    for b in range(k):
        sel = comb.ExtractOp(ity(1), idx, b).result
        level = [mux(sel, level[i + 1], level[i]) for i in range(0, len(level), 2)]
    return level[0]


def build_read_engine(cfg: OffchipConfig, name: str) -> hw.HWModuleOp:
    """Create the read engine's ``hw.module`` at the current insertion point."""
    cfg.validate()
    i1, aw, lw, dw, d = ity(1), cfg.addr_bits, cfg.len_bits, cfg.width_bits, cfg.credits
    inputs = [
        ("clk", seq.ClockType.get()),
        ("rst", i1),
        ("cmd_valid", i1),
        ("cmd_addr", ity(aw)),
        ("cmd_len", ity(lw)),
        ("mem_req_ready", i1),
        ("mem_rvalid", i1),
        ("mem_rdata", ity(dw)),
        ("out_ready", i1),
    ]
    outputs = [
        ("cmd_ready", i1),
        ("mem_req_valid", i1),
        ("mem_req_addr", ity(aw)),
        ("out_valid", i1),
        ("out_data", ity(dw)),
        ("idle", i1),
    ]

    def body(mod: hw.HWModuleOp) -> dict[str, Value]:
        p = dict(zip([n for n, _ in inputs], mod.entry_block.arguments, strict=True))
        clk, rst = p["clk"], p["rst"]
        pw, cw = _clog2(d), (d).bit_length()
        req_addr = Reg(clk, None, aw, "req_addr")
        req_rem = Reg(clk, rst, lw, "req_rem")
        used = Reg(clk, rst, cw, "credits_used")  # in flight + buffered
        wptr = Reg(clk, rst, pw, "fifo_wptr")
        rptr = Reg(clk, rst, pw, "fifo_rptr")
        count = Reg(clk, rst, cw, "fifo_count")

        # req_rem != 0 kept in a register of its own: the wide OR stays off the request path
        busy = Reg(clk, rst, 1, "req_busy")
        cmd_ready = not_(busy.q)
        cmd_fire = and_(p["cmd_valid"], cmd_ready)
        req_valid = and_(busy.q, _ult(used.q, const(cw, d)))
        req_fire = and_(req_valid, p["mem_req_ready"])
        out_valid = _nonzero(count.q)
        pop = and_(out_valid, p["out_ready"])
        push = p["mem_rvalid"]

        req_addr.next(mux(cmd_fire, p["cmd_addr"], _inc(req_addr.q)), or_(cmd_fire, req_fire))
        req_rem.next(mux(cmd_fire, p["cmd_len"], _dec(req_rem.q)), or_(cmd_fire, req_fire))
        not_last = not_(_eq(req_rem.q, const(lw, 1)))
        busy.next(mux(cmd_fire, _nonzero(p["cmd_len"]), not_last), or_(cmd_fire, req_fire))
        inc_only, dec_only = and_(req_fire, not_(pop)), and_(pop, not_(req_fire))
        used.next(mux(inc_only, _inc(used.q), _dec(used.q)), or_(inc_only, dec_only))
        push_only, pop_only = and_(push, not_(pop)), and_(pop, not_(push))
        count.next(mux(push_only, _inc(count.q), _dec(count.q)), or_(push_only, pop_only))
        wptr.next(_wrap_inc(wptr.q, d), push)
        rptr.next(_wrap_inc(rptr.q, d), pop)

        entries = []
        for i in range(d):
            we = and_(push, _eq(wptr.q, const(pw, i)))
            entries.append(
                seq.CompRegClockEnabledOp(ity(dw), p["mem_rdata"], clk, we, name=f"fifo_{i}")
            )
        out_data = _select([e.result for e in entries], rptr.q)
        idle = and_(cmd_ready, _eq(used.q, const(cw, 0)))
        return {
            "cmd_ready": cmd_ready,
            "mem_req_valid": req_valid,
            "mem_req_addr": req_addr.q,
            "out_valid": out_valid,
            "out_data": out_data,
            "idle": idle,
        }

    return hw.HWModuleOp(name, inputs, outputs, body_builder=body)


def build_write_engine(cfg: OffchipConfig, name: str) -> hw.HWModuleOp:
    """Create the write engine's ``hw.module`` at the current insertion point."""
    cfg.validate()
    i1, aw, lw, dw = ity(1), cfg.addr_bits, cfg.len_bits, cfg.width_bits
    inputs = [
        ("clk", seq.ClockType.get()),
        ("rst", i1),
        ("cmd_valid", i1),
        ("cmd_addr", ity(aw)),
        ("cmd_len", ity(lw)),
        ("in_valid", i1),
        ("in_data", ity(dw)),
        ("mem_wready", i1),
    ]
    outputs = [
        ("cmd_ready", i1),
        ("in_ready", i1),
        ("mem_wvalid", i1),
        ("mem_waddr", ity(aw)),
        ("mem_wdata", ity(dw)),
        ("done", i1),
    ]

    def body(mod: hw.HWModuleOp) -> dict[str, Value]:
        p = dict(zip([n for n, _ in inputs], mod.entry_block.arguments, strict=True))
        clk, rst = p["clk"], p["rst"]
        addr = Reg(clk, None, aw, "next_addr")
        rem = Reg(clk, rst, lw, "beats_left")
        wvalid = Reg(clk, rst, 1, "wvalid_r")
        wlast = Reg(clk, rst, 1, "wlast_r")
        waddr = Reg(clk, None, aw, "waddr_r")
        wdata = Reg(clk, None, dw, "wdata_r")
        done = Reg(clk, rst, 1, "done_r")

        active = _nonzero(rem.q)
        cmd_ready = not_(active)
        cmd_fire = and_(p["cmd_valid"], cmd_ready)
        slot = or_(not_(wvalid.q), p["mem_wready"])  # output register free after this edge
        in_ready = and_(active, slot)
        fire = and_(p["in_valid"], in_ready)
        last = _eq(rem.q, const(lw, 1))

        addr.next(mux(cmd_fire, p["cmd_addr"], _inc(addr.q)), or_(cmd_fire, fire))
        rem.next(mux(cmd_fire, p["cmd_len"], _dec(rem.q)), or_(cmd_fire, fire))
        wvalid.next(fire, slot)
        wlast.next(and_(fire, last), slot)
        waddr.next(addr.q, fire)
        wdata.next(p["in_data"], fire)
        done.next(and_(wvalid.q, p["mem_wready"], wlast.q))
        return {
            "cmd_ready": cmd_ready,
            "in_ready": in_ready,
            "mem_wvalid": wvalid.q,
            "mem_waddr": waddr.q,
            "mem_wdata": wdata.q,
            "done": done.q,
        }

    return hw.HWModuleOp(name, inputs, outputs, body_builder=body)


def read_engine_sv(cfg: OffchipConfig, name: str = "intar_rd_engine") -> str:
    """SystemVerilog text of one read engine."""
    from intar.hw.emit import emit_sv

    return emit_sv(lambda: build_read_engine(cfg, name))


def write_engine_sv(cfg: OffchipConfig, name: str = "intar_wr_engine") -> str:
    """SystemVerilog text of one write engine."""
    from intar.hw.emit import emit_sv

    return emit_sv(lambda: build_write_engine(cfg, name))
