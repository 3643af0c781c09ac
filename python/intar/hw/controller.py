"""Per-core instruction controller: a ROM of phase instructions stepped through i/j/k loops.

``build_controller(name, program, switch_cycles)`` creates one ``hw.module`` (plain seq
registers and comb logic; no ``fsm`` dialect, because the control is a handful of counters and
a counter-based state is easier to keep cycle-exact and free of the FSM-guard trap).

=========  ===  ===============  ===========================================================
port       dir  width            meaning
=========  ===  ===============  ===========================================================
clk        in   !seq.clock (1)   clock
rst        in   1                synchronous reset (idle, pc = 0, done = 0)
start      in   1                begin the program (sampled while idle; restarts after done)
step_ready in   1                the datapath takes the current step (back-pressure)
step_valid out  1                (stage, i, j, k, selects) describe one loop iteration
stage      out  stage_bits       stage of the current instruction
src_sel    out  sel_bits         operand-source mux select of the current instruction
sink_sel   out  sel_bits         result-sink mux select of the current instruction
i, j, k    out  idx_bits         loop indices, k innermost
first_k    out  1                k == 0
last_k     out  1                k == k_bound - 1
last_step  out  1                the current step is its instruction's last (i, j, k)
done       out  1                the last instruction's last step has been taken (held)
=========  ===  ===============  ===========================================================

With more than one instruction, stage, selects and bounds are registers loaded from a ROM of
the next instruction as the program counter advances; they change in the same cycle as before
(no extra latency), but the logic behind them starts at a register.

Widths come from the program: ``stage_bits``/``sel_bits`` fit the largest code, ``idx_bits``
fits the largest ``bound - 1`` (each at least 1 bit).

Timing (no stalls): ``start`` high in cycle 0 gives the first step in cycle 1; each instruction
issues i*j*k steps on consecutive cycles; between instructions ``step_valid`` is low for exactly
``switch_cycles`` cycles (stage/selects/bounds already show the next instruction); ``done``
rises in the cycle after the last step. Hence ``done`` is first high at cycle
``sum(i*j*k) + (n - 1) * switch_cycles + START_LATENCY`` with ``START_LATENCY = 1``. A step
with ``step_ready`` low is held (same outputs) until it is taken; stalls only add cycles.
"""

from __future__ import annotations

from dataclasses import dataclass

from circt.dialects import hw, seq
from circt.ir import Value

from intar.hw.builders import Feedback, add, and_, cmp, const, ity, mux, not_, or_, rom

START_LATENCY = 1


@dataclass(frozen=True)
class Instruction:
    """One phase: its stage code, loop bounds (i, j, k) and source/sink mux-select codes."""

    stage: int
    bounds: tuple[int, int, int]
    sources: int
    sinks: int


def _bits(v: int) -> int:
    return max(1, v.bit_length())


def _validate(program: list[Instruction], switch_cycles: int) -> None:
    if not program:
        raise ValueError("program must hold at least one instruction")
    if switch_cycles < 0:
        raise ValueError("switch_cycles must be >= 0")
    for ins in program:
        if len(ins.bounds) != 3 or min(ins.bounds) < 1:
            raise ValueError(f"bounds must be three ints >= 1: {ins}")
        if min(ins.stage, ins.sources, ins.sinks) < 0:
            raise ValueError(f"stage and select codes must be >= 0: {ins}")


def build_controller(name: str, program: list[Instruction], switch_cycles: int) -> hw.HWModuleOp:
    """Create the controller's ``hw.module`` at the current insertion point (inside a Context)."""
    _validate(program, switch_cycles)
    n = len(program)
    i1 = ity(1)
    stage_bits = _bits(max(p.stage for p in program))
    sel_bits = _bits(max(max(p.sources, p.sinks) for p in program))
    idx_bits = _bits(max(b - 1 for p in program for b in p.bounds))
    pc_bits = _bits(n - 1)
    inputs = [("clk", seq.ClockType.get()), ("rst", i1), ("start", i1), ("step_ready", i1)]
    outputs = [
        ("step_valid", i1),
        ("stage", ity(stage_bits)),
        ("src_sel", ity(sel_bits)),
        ("sink_sel", ity(sel_bits)),
        ("i", ity(idx_bits)),
        ("j", ity(idx_bits)),
        ("k", ity(idx_bits)),
        ("first_k", i1),
        ("last_k", i1),
        ("last_step", i1),
        ("done", i1),
    ]

    def body(mod: hw.HWModuleOp) -> dict[str, Value]:
        p = dict(zip([nm for nm, _ in inputs], mod.entry_block.arguments, strict=True))
        clk, rst = p["clk"], p["rst"]

        def reg(
            nxt: Value, fb: Feedback, w: int, reg_name: str, init: int = 0, en: Value | None = None
        ) -> Value:
            """A register; with `en`, clock-enabled, so that the late enable reaches the
            flip-flop's CE pin rather than a mux before its D input."""
            kw = {"reset": rst, "reset_value": const(w, init), "name": reg_name}
            if en is None:
                r = seq.CompRegOp(ity(w), nxt, clk, **kw).result
            else:
                r = seq.CompRegClockEnabledOp(ity(w), nxt, clk, en, **kw).result
            fb.set(r)
            return r

        pc_fb, act_fb, done_fb = Feedback(ity(pc_bits)), Feedback(i1), Feedback(i1)
        ctr_fb = {c: Feedback(ity(idx_bits)) for c in "ijk"}
        pc, active, done = pc_fb.value, act_fb.value, done_fb.value
        ctr = {c: fb.value for c, fb in ctr_fb.items()}

        # The current instruction's fields (bounds stored as bound - 1). With more than one
        # instruction they sit in registers loaded from a ROM of the *next* instruction when the
        # program counter advances, so no path runs from pc_r through a ROM into the datapath.
        widths = {"stage": stage_bits, "src": sel_bits, "sink": sel_bits}
        widths.update({f"bound_{c}": idx_bits for c in "ijk"})

        def values(q: Instruction) -> dict[str, int]:
            v = {"stage": q.stage, "src": q.sources, "sink": q.sinks}
            v.update({f"bound_{c}": q.bounds[ax] - 1 for ax, c in enumerate("ijk")})
            return v

        rows = [values(q) for q in program]
        if n == 1:
            fields = {f: const(w, rows[0][f]) for f, w in widths.items()}
            field_fb = {}
        else:
            field_fb = {f: Feedback(ity(w)) for f, w in widths.items()}
            fields = {f: fb.value for f, fb in field_fb.items()}
        last = {c: cmp("eq", ctr[c], fields[f"bound_{c}"]) for c in "ijk"}
        last_pc = cmp("eq", pc, const(pc_bits, n - 1))

        # Switch counter: counts switch_cycles .. 1 while the next instruction is loaded.
        sw_bits = _bits(switch_cycles)
        sw_fb = Feedback(ity(sw_bits))
        sw = sw_fb.value
        switching = cmp("ne", sw, const(sw_bits, 0))
        idle = not_(or_(active, switching))
        go = and_(idle, p["start"])

        fire = and_(active, p["step_ready"])
        end_instr = and_(fire, last["i"], last["j"], last["k"])
        end_prog = and_(end_instr, last_pc)
        next_instr = and_(end_instr, not_(last_pc))

        # Loop counters, k innermost; all wrap to 0 at the end of an instruction.
        zero_idx, one_idx = const(idx_bits, 0), const(idx_bits, 1)
        wrap_k = and_(fire, last["k"])
        wrap_j = and_(wrap_k, last["j"])
        steps = {"k": fire, "j": wrap_k, "i": wrap_j}
        # Each counter takes a new value when it steps (or on `go`): 0 after its last value or
        # on `go`, else one more. The step is late (it waits for step_ready), so it is the
        # register's enable, and the value is decided from registers only.
        for c in "ijk":
            nxt = mux(or_(last[c], go), zero_idx, add(ctr[c], one_idx))
            ctr[c] = reg(nxt, ctr_fb[c], idx_bits, f"{c}_r", en=or_(steps[c], go))

        # The fields and pc load on `go` (the first instruction) or `next_instr` (the next).
        load = or_(go, next_instr)
        for f, fb in field_fb.items():
            w = widths[f]
            upcoming = rom(pc, [r[f] for r in rows[1:]], w)
            nxt = mux(go, const(w, rows[0][f]), upcoming)
            fields[f] = reg(nxt, fb, w, f"{f}_r", rows[0][f], en=load)
        pc_next = mux(go, const(pc_bits, 0), add(pc, const(pc_bits, 1)))
        pc = reg(pc_next, pc_fb, pc_bits, "pc_r", en=load)

        if switch_cycles > 0:
            sw_dec = mux(switching, add(sw, const(sw_bits, (1 << sw_bits) - 1)), sw)
            sw_next = mux(next_instr, const(sw_bits, switch_cycles), sw_dec)
            sw_last = cmp("eq", sw, const(sw_bits, 1))
            act_next = or_(go, sw_last, and_(active, not_(end_instr)))
        else:
            sw_next = const(sw_bits, 0)
            act_next = or_(go, and_(active, not_(end_prog)))
        reg(sw_next, sw_fb, sw_bits, "sw_r")
        active = reg(act_next, act_fb, 1, "active_r")
        done = reg(or_(end_prog, and_(done, not_(go))), done_fb, 1, "done_r")

        return {
            "step_valid": active,
            "stage": fields["stage"],
            "src_sel": fields["src"],
            "sink_sel": fields["sink"],
            "i": ctr["i"],
            "j": ctr["j"],
            "k": ctr["k"],
            "first_k": cmp("eq", ctr["k"], zero_idx),
            "last_k": last["k"],
            "last_step": and_(last["i"], last["j"], last["k"]),
            "done": done,
        }

    return hw.HWModuleOp(name, inputs, outputs, body_builder=body)


def controller_sv(
    program: list[Instruction], switch_cycles: int, name: str = "intar_controller"
) -> str:
    """SystemVerilog text of one controller."""
    from intar.hw.emit import emit_sv

    return emit_sv(lambda: build_controller(name, program, switch_cycles))
