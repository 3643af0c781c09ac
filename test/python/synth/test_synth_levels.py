"""The logic-level count and the resource counts on hand-built netlists (no yosys)."""

from __future__ import annotations

import pytest

from intar.synth.levels import CombinationalLoop, logic_levels
from intar.synth.report import resource_counts


class Net:
    """A yosys-JSON-shaped module: cells by name, one bit per net, ports clk/in/out."""

    def __init__(self) -> None:
        self.cells: dict[str, dict] = {}
        self.next_bit = 10
        self.ports = {"in": {"direction": "input", "bits": [2]}}

    def bit(self) -> int:
        self.next_bit += 1
        return self.next_bit

    def cell(self, name: str, type_: str, ins: dict, outs: dict, **params: str) -> None:
        dirs = {p: "input" for p in ins} | {p: "output" for p in outs}
        conns = {p: b if isinstance(b, list) else [b] for p, b in (ins | outs).items()}
        self.cells[name] = {
            "type": type_,
            "parameters": params,
            "port_directions": dirs,
            "connections": conns,
        }

    def ff(self, name: str, d: int) -> int:
        q = self.bit()
        self.cell(name, "FDRE", {"C": 1, "CE": "1", "R": "0", "D": d}, {"Q": q})
        return q

    def lut(self, name: str, *ins: int) -> int:
        o = self.bit()
        self.cell(name, f"LUT{len(ins)}", {f"I{i}": b for i, b in enumerate(ins)}, {"O": o})
        return o

    def netlist(self) -> dict:
        return {"modules": {"top": {"ports": self.ports, "cells": self.cells, "netnames": {}}}}


def levels(n: Net, measure: str = "levels") -> int:
    return logic_levels(n.netlist(), "top", measure).max_logic_levels


def test_luts_count_carries_and_muxf_do_not() -> None:
    n = Net()
    a = n.ff("a", 2)
    x = n.lut("l1", a, a)
    co = n.bit()
    n.cell("c", "CARRY4", {"S": [x, x, x, x], "DI": [a, a, a, a], "CI": "0"}, {"CO": [n.bit(), co]})
    y = n.lut("l2", co)
    m = n.bit()
    n.cell("m", "MUXF7", {"I0": y, "I1": a, "S": a}, {"O": m})
    n.ff("b", m)
    got = logic_levels(n.netlist(), "top")
    assert got.max_logic_levels == 2  # l1, l2; the carry and the MUXF7 are free
    assert [c.split()[0] for c in got.path] == ["LUT2", "CARRY4", "LUT1", "MUXF7"]
    assert got.start.startswith("FDRE a.Q") and got.end.startswith("FDRE b.D (")
    assert len(got.nets) == len(got.path) and got.nets[-1] == str(m)
    assert levels(n, "cells") == 4


def test_ffs_and_block_rams_break_paths() -> None:
    n = Net()
    a = n.lut("l1", n.ff("a", 2))
    do = n.bit()
    n.cell("bram", "RAMB36E2", {"ADDRARDADDR": a, "CLKARDCLK": 1}, {"DOUTADOUT": do})
    n.ff("b", n.lut("l2", n.lut("l3", do)))
    assert levels(n) == 2  # bram -> l3 -> l2 -> b; the path into the BRAM has one level


def test_top_ports_are_start_and_end_points() -> None:
    n = Net()
    o = n.lut("l1", n.lut("l2", 2))
    n.ports["out"] = {"direction": "output", "bits": [o]}
    got = logic_levels(n.netlist(), "top")
    assert got.max_logic_levels == 2 and got.end == "output out" and "input in" in got.start


def test_dsp_registers_decide_whether_a_path_passes() -> None:
    def build(**regs: str) -> Net:
        n = Net()
        a = n.lut("l1", n.ff("a", 2))
        p = n.bit()
        n.cell("dsp", "DSP48E2", {"A": a, "B": a, "CLK": 1}, {"P": p}, **regs)
        n.ff("b", n.lut("l2", p))
        return n

    comb = build(AREG="0", BREG="0", MREG="0", PREG="0", USE_MULT="MULTIPLY")
    got = logic_levels(comb.netlist(), "top")
    assert got.max_logic_levels == 2 and got.unregistered_dsp == 1
    assert levels(comb, "cells") == 3
    # a register on the way from A/B to P (the multiplier's MREG, or PREG) breaks the path
    for regs in ({"MREG": "1"}, {"PREG": "1"}, {"AREG": "1", "BREG": "1"}):
        n = build(**({"AREG": "0", "BREG": "0", "MREG": "0", "PREG": "0"} | regs))
        got = logic_levels(n.netlist(), "top")
        assert got.max_logic_levels == 1 and got.unregistered_dsp == 0, regs
    # the ALU's inputs past an off register (C with CREG = 0) start no path when tied off
    for c, unregistered in (([0, "1"] * 24, 1), (["0", "1"] * 24, 0)):
        n = Net()
        a = n.lut("l1", n.ff("a", 2))
        p = n.bit()
        if c[0] == 0:
            c[0::2] = [n.ff("c", 3)] * 24
        regs = {"AREG": "0", "BREG": "0", "MREG": "1", "PREG": "0", "CREG": "0"}
        n.cell("dsp", "DSP48E2", {"A": a, "B": a, "C": c, "CLK": 1}, {"P": p}, **regs)
        n.ff("b", n.lut("l2", p))
        assert logic_levels(n.netlist(), "top").unregistered_dsp == unregistered, c[:2]


def test_lutram_read_is_a_level_and_its_write_an_end_point() -> None:
    n = Net()
    addr = n.lut("la", n.ff("a", 2))
    data = n.lut("ld", n.lut("ld2", n.ff("c", 2)))
    do = n.bit()
    ins = {"ADDRA": addr, "ADDRH": addr, "DIA": data, "WE": addr, "WCLK": 1}
    n.cell("ram", "RAM64M8", ins, {"DOA": do})
    n.ff("b", n.lut("l2", do))
    got = logic_levels(n.netlist(), "top")
    assert got.max_logic_levels == 3  # la -> ram read -> l2
    assert [c.split()[0] for c in got.path] == ["LUT1", "RAM64M8", "LUT1"]


def test_srl_at_a_fixed_tap_starts_a_path() -> None:
    n = Net()
    q = n.bit()
    ins = {"A0": "1", "A1": "0", "A2": "0", "A3": "0", "D": n.ff("a", 2), "CE": "1", "CLK": 1}
    n.cell("srl", "SRL16E", ins, {"Q": q})
    n.ff("b", n.lut("l", q))
    assert levels(n) == 1


def test_combinational_loop_is_an_error() -> None:
    n = Net()
    n.cell("l1", "LUT1", {"I0": 51}, {"O": 50})
    n.cell("l2", "LUT2", {"I0": 50, "I1": n.ff("a", 2)}, {"O": 51})
    with pytest.raises(CombinationalLoop, match=r"loop through 2 cells: l[12], l[12]"):
        levels(n)


def test_resource_counts_round_ramb18_up_and_count_lut_memory() -> None:
    cells = {
        "RAMB36E2": 2,
        "RAMB18E2": 3,
        "URAM288": 1,
        "DSP48E2": 5,
        "LUT6": 10,
        "INV": 1,
        "RAM64M8": 2,
        "SRL16E": 3,
        "FDRE": 7,
        "FDSE": 1,
        "CARRY4": 2,
        "BUFG": 1,
    }
    got = resource_counts(cells)
    assert got["bram36"] == 2 + 2  # 3 RAMB18 -> 1.5 tiles -> 2
    assert got["uram"] == 1 and got["dsp"] == 5 and got["ff"] == 8 and got["carry"] == 2
    assert (got["lut_logic"], got["lut_memory"], got["lut"]) == (11, 16 + 3, 30)


def test_the_deepest_ends_are_listed_deepest_first() -> None:
    """Not only the longest path: the registers it and the next deepest paths end in, so one
    synthesis of a design over the bound shows every path to shorten."""
    n = Net()
    a = n.ff("a", 2)
    qb = n.ff("b", n.lut("l1", n.lut("l2", a)))
    qc = n.ff("c", n.lut("l3", a))
    got = logic_levels(n.netlist(), "top")
    assert got.deepest_ends[:2] == [(2, str(qb)), (1, str(qc))]
