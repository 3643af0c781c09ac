"""Logic levels of a techmapped Xilinx netlist (yosys `write_json` after `synth_xilinx -flatten`).

What is counted: the largest number of LUT levels on any combinational path from a start point
to an end point of the flattened top module.

- Start points: outputs of FFs/latches (FD*, LD*), of block RAM, URAM and FIFO primitives
  (RAMB*, URAM*, FIFO*), of a DSP48's registered outputs, and the top module's input ports.
- End points: every input of those cells (D, CE, set/reset, addresses, write data), the inputs
  of a DSP48 that feed a register, and the top module's output ports.
- One level each: LUT1-LUT6, INV (a LUT1 once placed), and the asynchronous read of a LUTRAM
  (RAM32M/RAM64M/RAM*X1*: address to data out) or of an SRL (address to Q).
- Zero levels, but the path continues through them: MUXF7/8/9 (with the LUTs feeding them they
  form one wider LUT inside a slice, no routing between), carry chains (CARRY4/CARRY8, any input
  to any output, so LUT -> carry chain -> LUT counts two levels), clock/global buffers (BUF*)
  and a DSP48 whose registers are off on that path (e.g. A/B -> P with AREG/BREG = MREG = PREG
  = 0; an input tied to constants, such as an unused C, carries no path). Such DSPs are
  counted in `unregistered_dsp` so that the reader sees them: a combinational multiply costs
  far more time than a LUT level.
- Any other cell type (none is expected after synth_xilinx) is treated as combinational with
  zero levels, any input to any output, and listed in `unmodelled`.

`measure="cells"` instead counts every LUT, INV, MUXF, CARRY, LUTRAM/SRL read and unregistered
DSP on the path as one, as Vivado's "Logic Levels" does; it is reported beside the LUT levels,
not bounded. yosys maps carry chains to CARRY4 even for UltraScale+, so a long add counts about
twice the carry cells Vivado's CARRY8 would.

This is `ltp -noff` restricted to LUT-like cells and weighted, done here because `ltp` does not
see Xilinx FF primitives (FDRE, RAMB36E2, ...) as registers and counts every cell as one level.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

_LEVEL_CELLS = re.compile(r"^(LUT[1-6]|INV)$")
_MUXF = re.compile(r"^MUXF[789]$")
_CARRY = re.compile(r"^CARRY[48]$")
_PASS_CELLS = re.compile(r"^(BUF.*|GND|VCC)$")
_SEQ_CELLS = re.compile(
    r"^(FD[CPRS]E(_1)?|LD[CP]E|RAMB(18|36)E[12]|URAM288(_BASE)?|FIFO(18|36)E[12])$"
)
_LUTRAM = re.compile(r"^RAM(32|64|128|256|512)(M|M16|M8|X1[SD])(_1)?$")
_SRL = re.compile(r"^SRLC?(16|32)E$")
_DSP = re.compile(r"^DSP48E[12]$")

# DSP48 outputs after the P register, and which register each input passes on its way to P.
_DSP_P_OUTPUTS = (
    "P",
    "PCOUT",
    "CARRYOUT",
    "CARRYCASCOUT",
    "MULTSIGNOUT",
    "PATTERNDETECT",
    "PATTERNBDETECT",
    "OVERFLOW",
    "UNDERFLOW",
    "XOROUT",
)
_DSP_INPUT_REGS = {
    "A": ("AREG", True),  # (input register, passes the multiplier's MREG)
    "ACIN": ("AREG", True),
    "B": ("BREG", True),
    "BCIN": ("BREG", True),
    "D": ("DREG", True),
    "C": ("CREG", False),
    "PCIN": (None, False),
    "CARRYCASCIN": (None, False),
    "MULTSIGNIN": (None, False),
    "OPMODE": ("OPMODEREG", False),
    "ALUMODE": ("ALUMODEREG", False),
    "INMODE": ("INMODEREG", True),
    "CARRYIN": ("CARRYINREG", False),
    "CARRYINSEL": ("CARRYINSELREG", False),
}


@dataclass(frozen=True)
class Arc:
    """Combinational arcs of one cell: any bit of `inputs` reaches any bit of `outputs`."""

    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    levels: int  # LUT levels
    cells: int = 1  # cells on the path, as Vivado's "Logic Levels" counts them


@dataclass
class Levels:
    """The longest path: its LUT levels, its cells start to end ("TYPE name"), and its start
    and end points ("TYPE cell.PORT (net)", or a top port; a register's end names the net it
    drives), and the net each path cell drives."""

    max_logic_levels: int
    path: list[str]
    start: str
    end: str
    unregistered_dsp: int = 0
    unmodelled: list[str] = field(default_factory=list)
    nets: list[str] = field(default_factory=list)
    # the DEEPEST_ENDS deepest end points, deepest first: (levels, what they drive)
    deepest_ends: list[tuple[int, str]] = field(default_factory=list)


DEEPEST_ENDS = 12
"""How many of the deepest path ends `logic_levels` lists: a design over the bound rarely has
one long path only, and each synthesis of a large design takes minutes."""


class CombinationalLoop(ValueError):
    """The netlist has a combinational cycle; the message names cells on it."""


def _param(cell: dict, name: str, default: int = 0) -> int | str:
    v = cell.get("parameters", {}).get(name)
    if v is None:
        return default
    if isinstance(v, int):
        return v
    return int(v, 2) if v and set(v) <= {"0", "1"} else v


def _dsp_arcs(cell: dict, ports: Iterable[str]) -> tuple[list[Arc], bool]:
    """The DSP48's combinational arcs to P given its register parameters, and whether any
    input reaches P without a register."""
    if _param(cell, "PREG"):
        return [], False
    through_mult = _param(cell, "USE_MULT", "MULTIPLY") != "NONE"
    mreg = bool(_param(cell, "MREG")) and through_mult
    conns = cell.get("connections", {})
    comb = []
    for p in ports:
        if p not in _DSP_INPUT_REGS:
            continue
        if p in conns and all(isinstance(b, str) for b in conns[p]):
            continue  # tied to constants: no path starts here
        reg, mult = _DSP_INPUT_REGS[p]
        if (reg is None or not _param(cell, reg)) and not (mult and mreg):
            comb.append(p)
    outs = tuple(p for p in ports if p in _DSP_P_OUTPUTS)
    if not comb or not outs:
        return [], False
    data = {"A", "ACIN", "B", "BCIN", "C", "D", "PCIN"}
    return [Arc(tuple(comb), outs, 0, 1)], bool(data & set(comb))


def _lutram_arcs(ports: list[str]) -> list[Arc]:
    """Asynchronous reads: ADDRx -> DOx (RAM32M/64M/...); A* -> SPO/O, DPRA* -> DPO (X1S/X1D)."""
    if any(p.startswith("ADDR") for p in ports):
        return [
            Arc((p,), (f"DO{p[4:]}",), 1)
            for p in ports
            if p.startswith("ADDR") and f"DO{p[4:]}" in ports
        ]
    arcs = []
    a = tuple(p for p in ports if re.fullmatch(r"A\d*", p))
    spo = tuple(p for p in ports if p in ("SPO", "O"))
    if a and spo:
        arcs.append(Arc(a, spo, 1))
    dpra = tuple(p for p in ports if p.startswith("DPRA"))
    if dpra and "DPO" in ports:
        arcs.append(Arc(dpra, ("DPO",), 1))
    return arcs


def cell_arcs(cell: dict) -> tuple[list[Arc], str]:
    """The cell's combinational arcs and its kind: "level", "pass", "seq", "lutram", "dsp",
    "dsp-comb" (a DSP with an unregistered data path) or "unmodelled"."""
    t = cell["type"]
    dirs = cell.get("port_directions", {})
    ins = tuple(p for p, d in dirs.items() if d == "input")
    outs = tuple(p for p, d in dirs.items() if d == "output")
    if _LEVEL_CELLS.match(t):
        return [Arc(ins, outs, 1)], "level"
    if _MUXF.match(t) or _CARRY.match(t):
        return [Arc(ins, outs, 0)], "pass"
    if _PASS_CELLS.match(t):
        return ([Arc(ins, outs, 0, 0)] if ins and outs else []), "pass"
    if _SEQ_CELLS.match(t) or t == "$scopeinfo":
        return [], "seq"
    if _LUTRAM.match(t):
        return _lutram_arcs(list(dirs)), "lutram"
    if _SRL.match(t):
        a = tuple(p for p in ins if re.fullmatch(r"A\d*", p))
        return ([Arc(a, ("Q",), 1)] if a and "Q" in outs else []), "lutram"
    if _DSP.match(t):
        arcs, comb = _dsp_arcs(cell, list(dirs))
        return arcs, "dsp-comb" if comb else "dsp"
    return ([Arc(ins, outs, 0, 0)] if ins and outs else []), "unmodelled"


def logic_levels(netlist: dict, top: str, measure: str = "levels") -> Levels:
    """The longest start-to-end path of module `top` in a yosys JSON netlist, in LUT levels
    (see the module docstring for what counts), or with `measure="cells"` in cells on the path
    (every LUT, INV, MUXF, CARRY, LUTRAM/SRL read and unregistered DSP counts one, as in
    Vivado's "Logic Levels")."""
    mod = netlist["modules"][top]
    cells: dict[str, dict] = mod["cells"]
    # arc nodes: (cell name, arc); a net bit is driven by at most one arc output
    arcs: list[tuple[str, Arc]] = []
    driver: dict[int, int] = {}
    endpoints: list[tuple[int, str]] = []  # (bit, "TYPE cell.PORT")
    sources: dict[int, str] = {}  # path start points, labelled the same way
    unregistered = 0
    unmodelled: set[str] = set()
    for name, cell in cells.items():
        cell_a, kind = cell_arcs(cell)
        unregistered += kind == "dsp-comb"
        if kind == "unmodelled":
            unmodelled.add(cell["type"])
        conns = cell.get("connections", {})
        arc_inputs: set[str] = set()
        arc_outputs: set[str] = set()
        for arc in cell_a:
            if not any(isinstance(b, int) for q in arc.inputs for b in conns.get(q, ())):
                continue  # constant inputs (an SRL at a fixed tap): its outputs start paths
            idx = len(arcs)
            arcs.append((name, arc))
            arc_inputs.update(arc.inputs)
            arc_outputs.update(arc.outputs)
            for p in arc.outputs:
                for b in conns.get(p, ()):
                    if isinstance(b, int):
                        driver[b] = idx
        for p, d in cell.get("port_directions", {}).items():
            label = f"{cell['type']} {name}.{p}"
            bits = [b for b in conns.get(p, ()) if isinstance(b, int)]
            if d == "input" and p not in arc_inputs:
                endpoints.extend((b, label) for b in bits)
            elif d == "output" and p not in arc_outputs:
                sources.update(dict.fromkeys(bits, label))
    for pname, port in mod["ports"].items():
        bits = [b for b in port["bits"] if isinstance(b, int)]
        if port["direction"] in ("output", "inout"):
            endpoints.extend((b, f"output {pname}") for b in bits)
        if port["direction"] in ("input", "inout"):
            sources.update(dict.fromkeys(bits, f"input {pname}"))

    # longest arrival (levels) at each arc's output, by iterative DFS with cycle detection
    best: list[int] = [-1] * len(arcs)  # -1 unvisited, -2 on the stack
    pred: list[int | None] = [None] * len(arcs)  # best input bit

    def bits_of(name: str, ports: tuple[str, ...]) -> list[int]:
        conns = cells[name].get("connections", {})
        return [b for p in ports for b in conns.get(p, ()) if isinstance(b, int)]

    def visit(root: int) -> None:
        stack = [root]
        best[root] = -2
        while stack:
            a = stack[-1]
            name, arc = arcs[a]
            pending = False
            for b in bits_of(name, arc.inputs):
                d = driver.get(b)
                if d is None:
                    continue
                if best[d] == -1:
                    best[d] = -2
                    stack.append(d)
                    pending = True
                    break
                if best[d] == -2:
                    loop = [arcs[i][0] for i in stack[stack.index(d) :]]
                    raise CombinationalLoop(
                        f"combinational loop through {len(loop)} cells: {', '.join(loop[:8])}"
                    )
            if pending:
                continue
            top_in, top_bit = 0, None
            for b in bits_of(name, arc.inputs):
                d = driver.get(b)
                if d is not None and (top_bit is None or best[d] > top_in):
                    top_in, top_bit = best[d], b
            best[a] = top_in + (arc.levels if measure == "levels" else arc.cells)
            pred[a] = top_bit
            stack.pop()

    for i in range(len(arcs)):
        if best[i] == -1:
            visit(i)

    names = _bit_names(mod)
    worst, end_bit, end = 0, None, ""
    for b, label in endpoints:
        d = driver.get(b)
        if d is not None and best[d] > worst:
            worst, end_bit, end = best[d], b, label
    deepest: dict[str, int] = {}
    ranked = sorted(
        ((best[d], b, label) for b, label in endpoints if (d := driver.get(b)) is not None),
        key=lambda t: -t[0],
    )
    for lv, _b, label in ranked:
        if len(deepest) == DEEPEST_ENDS:
            break
        q = _register_output(cells, label)
        reg = re.sub(r"\[\d+\]$", "", str(names.get(q, q))) if q is not None else label
        deepest.setdefault(reg, lv)
    if end_bit is not None and (q := _register_output(cells, end)) is not None:
        end = f"{end} ({names.get(q, q)})"
    path: list[str] = []
    nets: list[str] = []
    start = ""
    if end_bit is not None:
        b: int | None = end_bit
        while b is not None and (d := driver.get(b)) is not None:
            name = arcs[d][0]
            path.append(f"{cells[name]['type']} {name}")
            nets.append(str(names.get(b, b)))
            first = next(iter(bits_of(name, arcs[d][1].inputs)), None)
            b = pred[d]
            if b is None and first is not None:
                start = f"{sources.get(first, 'constant')} ({names.get(first, first)})"
        path.reverse()
        nets.reverse()
    ends = [(lv, n) for n, lv in deepest.items()]
    return Levels(worst, path, start, end, unregistered, sorted(unmodelled), nets, ends)


def _register_output(cells: dict[str, dict], end: str) -> int | None:
    """The Q bit of the flip-flop whose input `end` ("TYPE cell.PORT") is, if it is one."""
    kind, _, rest = end.partition(" ")
    if not kind.startswith("FD"):
        return None
    q = [
        b for b in cells[rest.rpartition(".")[0]]["connections"].get("Q", ()) if isinstance(b, int)
    ]
    return q[0] if q else None


def _bit_names(mod: dict) -> dict[int, str]:
    """A readable name per net bit, preferring names from the source over yosys's own."""
    names: dict[int, tuple[int, str]] = {}
    for net, info in mod.get("netnames", {}).items():
        hidden = int(info.get("hide_name", 0))
        bits = info["bits"]
        for i, b in enumerate(bits):
            if isinstance(b, int) and (b not in names or names[b][0] > hidden):
                names[b] = (hidden, net if len(bits) == 1 else f"{net}[{i}]")
    return {b: n for b, (_, n) in names.items()}
