"""The cost model: cycle formulas simple enough for generated hardware to meet cycle for cycle.

Every formula here is written out in docs/scheduling.md. The search only combines them; it
never estimates cycles any other way.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from .problem import Gemm

PE = tuple[int, int, int]


@dataclass(frozen=True)
class CostParams:
    """Pipeline constants of the hardware template (cycles)."""

    read_latency: int = 5
    """A step's readiness register, then the tensor-buffer read: the origin and address
    registers, BRAM/URAM, the output register."""
    mult_stages: int = 3
    """DSP48E2/DSP58 input (A/B), multiplier (M) and output (P) registers."""
    accumulate_stages: int = 1
    """The int32 accumulator after the adder tree."""
    writeback_stages: int = 2
    """The requantize: the rounding shift, then saturation into the result register."""
    core_path: int = 2
    """Around a core's datapath: the skid FIFO in front of it and the output controller's
    write into the destination buffer behind it."""
    switch_cycles: int = 4
    """Mode switch: instruction read (1) + mux selects (1) + loop-counter restart (2)."""
    sfu_path: int = 7
    """An SFU's beat outside the unit: the step's readiness register (1), tensor-buffer read
    (READ_LATENCY 4), the skid FIFO (1) and the output controller's write into the
    destination buffer (1)."""
    load_path: int = 2
    """A returned beat to its tile being readable in the destination buffer (the engine's
    register, the buffer write, the readiness register); before it, the request (one per
    cycle from the phase start) and the port's latency."""
    store_path: int = 7
    """A stored row complete to its first beat written, less one (readiness register, buffer
    read: READ_LATENCY 4, the write engine's register), and the engine's done pulse and the
    phase's done counter after the last beat (2). The engine drains whole rows, so a stored
    task's store is done store_path + (beats per row) after its last result."""
    phase_end: int = 1
    """A unit's last result written to its phase's end: its done flag is a register set in
    the cycle after its done counter reaches the phase's count, and the sequencer reads it."""


DEFAULT_PARAMS = CostParams()


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def clog2(n: int) -> int:
    """ceil(log2(n)) for n >= 1 (0 for n == 1)."""
    return (n - 1).bit_length()


def pe_fill(d3: int, params: CostParams = DEFAULT_PARAMS) -> int:
    """Pipeline fill of a core, a tile's read to its result in the destination buffer: read +
    multiplier + adder tree ceil(log2 d3) + acc + writeback + the path around the core."""
    return (
        params.read_latency
        + params.mult_stages
        + clog2(d3)
        + params.accumulate_stages
        + params.writeback_stages
        + params.core_path
    )


def pe_tiles(g: Gemm, pe: PE) -> int:
    """Issue slots at II=1: batch * ceil(m/d1) * ceil(n/d2) * ceil(k/d3) (per output row and
    kernel tap for a convolution, less the taps it skips, see `Gemm`)."""
    return g.tiles(*pe)


def pe_bounds(g: Gemm, pe: PE) -> tuple[int, int, int]:
    """Loop bounds (i, j, k) of the stage instruction; the batch folds into i."""
    return g.bounds(*pe)


def core_cycles(g: Gemm, pe: PE, params: CostParams = DEFAULT_PARAMS) -> int:
    """Compute cycles of a GEMM on one core: tiles at II=1 plus the fill (0 if empty)."""
    if g.batch * g.m * g.n * g.k == 0:
        return 0
    return pe_tiles(g, pe) + pe_fill(pe[2], params)


def pe_dsps(pe: PE, macs_per_dsp: int) -> int:
    """DSPs of a d1 x d2 x d3 PE array: with packing, neighbouring columns (j, j + 1) share one
    DSP, so an odd d2 leaves one column unpaired (`intar.hw.core.CoreConfig.dsps`)."""
    d1, d2, d3 = pe
    return d1 * ceil_div(d2, macs_per_dsp) * d3


def operand_demand(pe: PE) -> int:
    """Elements a core reads per cycle: a d1 x d3 tile and a d3 x d2 tile."""
    d1, d2, d3 = pe
    return d1 * d3 + d3 * d2


def core_beat_elements(pe: PE, k: int) -> int:
    """Result elements per beat a core's output link carries so it never stalls the core.

    A d1 x d2 tile completes every ceil(k/d3) cycles, so ceil(d1*d2 / ceil(k/d3)) elements per
    cycle keep up.
    """
    d1, d2, d3 = pe
    return max(1, ceil_div(d1 * d2, max(1, ceil_div(k, d3))))


def sfu_latency(kind: str, row: int, lanes: int) -> int:
    """Cycles from an SFU's first input beat to its first output beat, as the hardware units
    build them (`intar.hw.sfu*`; a test holds the two together). With B = ceil(row/lanes)
    beats per row and L = ceil(log2 lanes):

    relu 2; requantize 3, add and mul 4 (with a rounding shift); upsample and maxpool 2;
    exp 16; gelu and silu (piecewise linear) 7; softmax 2B + 2L + 58 (a row's max and sum
    pass, then its divide); layernorm B + L + 43 (one pass, then the per-row inverse square
    root; 16-bit data, 8-bit data is 2 cycles shorter).
    """
    beats = ceil_div(max(row, 1), max(lanes, 1))
    levels = (max(lanes, 1) - 1).bit_length()
    fixed = {"relu": 2, "requantize": 3, "add": 4, "mul": 4, "upsample": 2, "maxpool": 2}
    fixed |= {"exp": 16, "gelu": 7, "silu": 7}
    if kind == "softmax":
        return 2 * beats + 2 * levels + 58
    if kind == "layernorm":
        return beats + levels + 43
    return fixed[kind]


def sfu_beats(kind: str, out_shape: Sequence[int], lanes: int) -> int:
    """Beats an SFU task issues, one per cycle: each result row of the [rows, cols] matrix
    (rows = the product of the leading dims) in ceil(cols / lanes) beats, the last one partial.
    maxpool is input-bound: two input beats (rows 2r and 2r + 1) per result beat of lanes/2."""
    cols = out_shape[-1] if out_shape else 1
    rows = math.prod(out_shape[:-1]) if len(out_shape) > 1 else 1
    if kind == "maxpool":
        return 2 * rows * ceil_div(cols, max(1, lanes // 2))
    return rows * ceil_div(cols, max(1, lanes))


def sfu_lag(kind: str, row: int, lanes: int, params: CostParams = DEFAULT_PARAMS) -> int:
    """Cycles from an SFU beat's read to its result in the destination buffer: the unit's
    `sfu_latency` plus the read and write path around it (`CostParams.sfu_path`)."""
    return sfu_latency(kind, row, lanes) + params.sfu_path


def sfu_cycles(
    kind: str, out_shape: Sequence[int], row: int, lanes: int, params: CostParams = DEFAULT_PARAMS
) -> int:
    """Cycles of a streaming SFU task, first read to last result written: `sfu_beats` at one
    per cycle plus `sfu_lag` (whose latency holds a row-wise unit's first row)."""
    return sfu_beats(kind, out_shape, lanes) + sfu_lag(kind, row, lanes, params)


def offchip_beats(shape: Sequence[int], bits: int, width_bits: int) -> int:
    """Port beats of a tensor off chip: the [rows, cols] matrix row by row, each row padded to
    whole beats of width_bits // bits elements (the layout `intar.hw.plan` places)."""
    cols = shape[-1] if shape else 1
    rows = math.prod(shape[:-1]) if len(shape) > 1 else 1
    return rows * ceil_div(cols, max(1, width_bits // bits))


def port_cycles(bytes_per_port: Iterable[int], bytes_per_cycle: int, latency: int) -> int:
    """Off-chip transfer time: the busiest port at bytes_per_cycle, plus one latency."""
    busiest = max((b for b in bytes_per_port if b > 0), default=0)
    if busiest == 0:
        return 0
    return ceil_div(busiest, bytes_per_cycle) + latency


@dataclass(frozen=True)
class Timing:
    """Start and finish cycle of each stage of a pipeline phase."""

    cycles: int
    start: Mapping[str, int]
    finish: Mapping[str, int]


# How many streams up `pipeline_cycles` follows a producer's own inputs to time its output.
_PACE_DEPTH = 3


def pipeline_cycles(
    stages: Sequence[tuple[str, int]],
    edges: Sequence[tuple],
    floors: Mapping[str, int] | None = None,
    lags: Mapping[str, int] | None = None,
    earliest: Mapping[str, int] | None = None,
) -> Timing:
    """Cycles of stages connected by streams, each stage running alone in `cycles`.

    `stages` is in topological order; an edge (p, c, f) says c needs a window that is the
    fraction f of p's output before it can start, and needs f of its own work after p's
    last element; (p, c, f_start, f_finish) gives the two fractions apart, and
    (p, c, f_start, f_finish, True) marks a producer that drains its window at its end. A
    stage's lag D (`lags`, part of its T) is the delay from reading an input to writing the
    result it makes: its first result comes D after its start, its last D after its last
    input.
    Backpressure makes the slower side set the pace:
        start(c)  = max over edges (W_p(f))
        finish(c) = max(start(c) + T_c,
                        max over edges (finish(p) + ceil(f * (T_c - D_c)) + D_c))
    where W_p(f), when the share f of p's output is written, is start(p) + ceil(f * (T_p -
    D_p)) + D_p at p's own pace, and no sooner than p's inputs' ends allow: once an input q is
    done (f > 1 - f_finish) p makes the rest at its own pace; before that, p follows q (the
    window, then the rest of q spread over f; element-wise for an edge of one share), and
    W_q applies to what p needs of q. A streamed window (f < 1) is readable in the cycle its
    last element is written, one cycle before the producer's count says. With f = 1 (a full
    buffer) this is sequential execution; with f -> 0 the phase takes the slowest stage's
    time plus every lag along the chain. `floors[c]` is a finish that does not move
    with the start: the time c's off-chip loads need, counted from the phase start;
    `earliest[c]` a start it cannot precede (its first loaded operand readable). A draining
    producer writes its window last (a k-outer matmul's last k step), so c also starts no
    earlier than (1 - f_start) of p's work before p's finish.
    """
    time = dict(stages)
    lag = lags or {}
    start: dict[str, int] = {}
    finish: dict[str, int] = {}
    incoming: dict[str, list[tuple]] = {}
    for p, c, *f in edges:
        incoming.setdefault(c, []).append((p, f[0], f[min(1, len(f) - 1)], len(f) > 2, len(f) == 1))

    def paced(name: str, f: float, depth: int = 0) -> int:
        """The earliest a started stage's share f of output is out because of its inputs'
        ends, `_PACE_DEPTH` streams up (0 when none holds it back): once an input is done,
        the rest of the stage runs at its own pace."""
        t = time[name]
        d = min(lag.get(name, 0), t)
        out = 0
        for q, fs, ff, _, one in incoming.get(name, ()):
            if fs >= 1:  # a full buffer: its reader keeps start(q) + T_q (see below)
                continue
            if f > 1 - ff:
                rest = math.ceil(round((f - 1 + ff) * (t - d), 9)) - (1 if ff < 1 else 0)
                out = max(out, finish[q] + max(0, rest) + d)
            elif depth + 1 < _PACE_DEPTH:  # following q: its window, the rest spread over f
                # (an edge of one share is element-wise: as much as it makes, past the window)
                need = max(fs, f) if one else min(1.0, fs + (1 - fs) * f / (1 - ff))
                at = paced(q, need, depth + 1)
                if at:  # a streamed element is readable as it is written
                    out = max(out, at + d - 1)
        return out

    for name, t in stages:
        s = (earliest or {}).get(name, 0)
        fin = 0
        d = min(lag.get(name, 0), t)
        for p, fs, ff, drains, _ in incoming.get(name, ()):
            dp = min(lag.get(p, 0), time[p])
            early = 1 if fs < 1 else 0  # a streamed element is readable as it is written
            s = max(s, start[p] + max(0, math.ceil(fs * (time[p] - dp)) - early) + dp)
            if fs < 1:  # (a full buffer's reader: rows complete as p writes them)
                s = max(s, paced(p, fs) - early)
            if drains:
                s = max(s, finish[p] - math.ceil((1 - fs) * (time[p] - dp)) - early)
            early = 1 if ff < 1 else 0
            fin = max(fin, finish[p] + max(0, math.ceil(ff * (t - d)) - early) + d)
        start[name] = s
        finish[name] = max(s + t, fin, (floors or {}).get(name, 0))
    return Timing(max(finish.values(), default=0), start, finish)


def rate_mismatch(
    producer_cycles: int, consumer_cycles: int, window_fraction: float
) -> tuple[int, int]:
    """A two-stage pipeline: (phase cycles, fill cycles before the consumer starts)."""
    t = pipeline_cycles(
        [("p", producer_cycles), ("c", consumer_cycles)], [("p", "c", window_fraction)]
    )
    return t.cycles, t.start["c"]


def fifo_depth(burst_beats: int, max_depth: int) -> int:
    """Entries a link needs to absorb one producer burst while the previous one drains: 2x."""
    return max(2, min(max_depth, 2 * burst_beats))


RING_CREDIT_CYCLES = 11
"""Cycles of a window buffer's credit loop, rounded up: the reader's controller step, the
release's READ_LATENCY + 1 delay registers, the buffer's release and bound registers, the
writer's tile and the readiness register. A window holds this many reader steps beyond its
deadlock-free minimum so that the credit does not throttle the stream (`ring_target_rows`)."""


def ring_min_rows(span: int, writer_h: int, read_h: int) -> int:
    """Deadlock-free rows of a window buffer: the reader waits at an outer step whose rows
    [r, r + span) start at its released row r; the writer must then be allowed to finish the
    tile holding row r + span - 1, which ends below r + span - 1 + writer_h. Counted with a
    whole block R = lcm(writer_h, read_h) on top, which is conservative."""
    return span + writer_h + math.lcm(writer_h, read_h)


def ring_rows(depth: int, beat: int, cols: int, writer_h: int, read_h: int, span: int) -> int:
    """Rows of the window (ring) buffer that the hardware builds for a streamed link of `depth`
    entries of `beat` elements into a tensor of `cols` columns: at least the link's rows
    ceil(depth * beat / cols) and `ring_min_rows`, in a power of two of R-row blocks. The
    scheduler charges this; `intar.hw.plan` builds it from the IR's depth (a result of at
    least the tensor's rows means a full buffer)."""
    r = math.lcm(writer_h, read_h)
    need = max(ceil_div(depth * beat, cols), ring_min_rows(span, writer_h, read_h))
    blocks = 1 << (ceil_div(need, r) - 1).bit_length()
    return blocks * r


def ring_target_rows(
    window: int, cols: int, span: int, writer_h: int, read_h: int, steps: int
) -> int:
    """Rows the scheduler asks of a window buffer: its charged window (`window` elements), and
    at least the deadlock-free minimum plus `RING_CREDIT_CYCLES` of the reader's outer steps
    (`steps` cycles and `span` rows each)."""
    slack = span * ceil_div(RING_CREDIT_CYCLES, max(1, steps))
    return max(ceil_div(window, cols), ring_min_rows(span, writer_h, read_h) + slack)


def roofline_cycles(
    total_macs: int, macs_per_cycle: int, compulsory_bytes: int, bytes_per_cycle: int
) -> int:
    """Lower bound: max(MACs / MAC units, compulsory off-chip bytes / total port bandwidth)."""
    compute = ceil_div(total_macs, max(1, macs_per_cycle))
    memory = ceil_div(compulsory_bytes, max(1, bytes_per_cycle))
    return max(compute, memory)
