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
done       out  1                the last instruction's last step has been taken (held)
=========  ===  ===============  ===========================================================

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

from intar.hw.core import _add, _and, _cmp, _const, _Feedback, _ity, _mux, _not, _or

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


def _rom(pc: Value, pc_bits: int, values: list[int], w: int) -> Value:
    """``values[pc]`` as a mux chain over constants (pc past the end reads the last entry)."""
    out = _const(w, values[-1])
    for idx in range(len(values) - 2, -1, -1):
        out = _mux(_cmp("eq", pc, _const(pc_bits, idx)), _const(w, values[idx]), out)
    return out


def build_controller(name: str, program: list[Instruction], switch_cycles: int) -> hw.HWModuleOp:
    """Create the controller's ``hw.module`` at the current insertion point (inside a Context)."""
    _validate(program, switch_cycles)
    n = len(program)
    i1 = _ity(1)
    stage_bits = _bits(max(p.stage for p in program))
    sel_bits = _bits(max(max(p.sources, p.sinks) for p in program))
    idx_bits = _bits(max(b - 1 for p in program for b in p.bounds))
    pc_bits = _bits(n - 1)
    inputs = [("clk", seq.ClockType.get()), ("rst", i1), ("start", i1), ("step_ready", i1)]
    outputs = [
        ("step_valid", i1),
        ("stage", _ity(stage_bits)),
        ("src_sel", _ity(sel_bits)),
        ("sink_sel", _ity(sel_bits)),
        ("i", _ity(idx_bits)),
        ("j", _ity(idx_bits)),
        ("k", _ity(idx_bits)),
        ("first_k", i1),
        ("last_k", i1),
        ("done", i1),
    ]

    def body(mod: hw.HWModuleOp) -> dict[str, Value]:
        p = dict(zip([nm for nm, _ in inputs], mod.entry_block.arguments, strict=True))
        clk, rst = p["clk"], p["rst"]

        def reg(nxt: Value, fb: _Feedback, w: int, reg_name: str) -> Value:
            r = seq.CompRegOp(
                _ity(w), nxt, clk, reset=rst, reset_value=_const(w, 0), name=reg_name
            ).result
            fb.set(r)
            return r

        pc_fb, act_fb, done_fb = _Feedback(_ity(pc_bits)), _Feedback(i1), _Feedback(i1)
        ctr_fb = {c: _Feedback(_ity(idx_bits)) for c in "ijk"}
        pc, active, done = pc_fb.value, act_fb.value, done_fb.value
        ctr = {c: fb.value for c, fb in ctr_fb.items()}

        # ROM: the current instruction's fields (bounds stored as bound - 1).
        def field(vals: list[int], w: int) -> Value:
            return _rom(pc, pc_bits, vals, w)

        stage = field([q.stage for q in program], stage_bits)
        src = field([q.sources for q in program], sel_bits)
        sink = field([q.sinks for q in program], sel_bits)
        last = {
            c: _cmp("eq", ctr[c], field([q.bounds[ax] - 1 for q in program], idx_bits))
            for ax, c in enumerate("ijk")
        }
        last_pc = _cmp("eq", pc, _const(pc_bits, n - 1))

        # Switch counter: counts switch_cycles .. 1 while the next instruction is loaded.
        sw_bits = _bits(switch_cycles)
        sw_fb = _Feedback(_ity(sw_bits))
        sw = sw_fb.value
        switching = _cmp("ne", sw, _const(sw_bits, 0))
        idle = _not(_or(active, switching))
        go = _and(idle, p["start"])

        fire = _and(active, p["step_ready"])
        end_instr = _and(fire, last["i"], last["j"], last["k"])
        end_prog = _and(end_instr, last_pc)
        next_instr = _and(end_instr, _not(last_pc))

        # Loop counters, k innermost; all wrap to 0 at the end of an instruction.
        zero_idx, one_idx = _const(idx_bits, 0), _const(idx_bits, 1)
        wrap_k = _and(fire, last["k"])
        wrap_j = _and(wrap_k, last["j"])
        steps = {"k": fire, "j": wrap_k, "i": wrap_j}
        wraps = {"k": wrap_k, "j": wrap_j, "i": end_instr}
        for c in "ijk":
            inc = _mux(steps[c], _add(ctr[c], one_idx), ctr[c])
            nxt = _mux(_or(wraps[c], go), zero_idx, inc)
            ctr[c] = reg(nxt, ctr_fb[c], idx_bits, f"{c}_r")

        pc_next = _mux(next_instr, _add(pc, _const(pc_bits, 1)), pc)
        pc = reg(_mux(go, _const(pc_bits, 0), pc_next), pc_fb, pc_bits, "pc_r")

        if switch_cycles > 0:
            sw_dec = _mux(switching, _add(sw, _const(sw_bits, (1 << sw_bits) - 1)), sw)
            sw_next = _mux(next_instr, _const(sw_bits, switch_cycles), sw_dec)
            sw_last = _cmp("eq", sw, _const(sw_bits, 1))
            act_next = _or(go, sw_last, _and(active, _not(end_instr)))
        else:
            sw_next = _const(sw_bits, 0)
            act_next = _or(go, _and(active, _not(end_prog)))
        reg(sw_next, sw_fb, sw_bits, "sw_r")
        active = reg(act_next, act_fb, 1, "active_r")
        done = reg(_or(end_prog, _and(done, _not(go))), done_fb, 1, "done_r")

        return {
            "step_valid": active,
            "stage": stage,
            "src_sel": src,
            "sink_sel": sink,
            "i": ctr["i"],
            "j": ctr["j"],
            "k": ctr["k"],
            "first_k": _cmp("eq", ctr["k"], zero_idx),
            "last_k": last["k"],
            "done": done,
        }

    return hw.HWModuleOp(name, inputs, outputs, body_builder=body)


def controller_sv(
    program: list[Instruction], switch_cycles: int, name: str = "intar_controller"
) -> str:
    """SystemVerilog text of one controller."""
    from intar.hw.emit import emit_sv

    return emit_sv(lambda: build_controller(name, program, switch_cycles))
