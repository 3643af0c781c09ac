//===- IntarDesignOps.td - intar scheduled-level operations -*- tablegen -*-===//
//
// A scheduled design: the hardware resources that a static schedule uses and
// the schedule itself. `intar-schedule` produces these from a task graph;
// hardware generation consumes them.
//
//===----------------------------------------------------------------------===//

#ifndef INTAR_DESIGN_OPS_TD
#define INTAR_DESIGN_OPS_TD

include "IntarDialect.td"
include "mlir/IR/SymbolInterfaces.td"
include "mlir/IR/CommonAttrConstraints.td"

def Intar_DesignOp : Intar_Op<"design",
    [Symbol, SymbolTable, IsolatedFromAbove, SingleBlock, NoTerminator]> {
  let summary = "A scheduled accelerator for one task graph";
  let description = [{
    `graph` names the `intar.graph` it implements. `mode` is the scheduling
    policy that produced it: `intar`, `dataflow` or `sequential`.
    `macs_per_dsp` is how many multiplies one DSP slice packs (2 for int8 and
    narrower operands on a DSP48E2, neighbouring PE columns sharing a slice), so a
    core uses d1 * ceil(d2 / macs_per_dsp) * d3 DSPs. The body
    declares cores, SFUs, off-chip ports, links and buffers, then holds one
    `intar.schedule`.
  }];
  let arguments = (ins SymbolNameAttr:$sym_name, FlatSymbolRefAttr:$graph,
                       StrAttr:$device, StrAttr:$mode, I64Attr:$dsp_budget,
                       I64Attr:$port_budget,
                       DefaultValuedAttr<I64Attr, "1">:$macs_per_dsp,
                       OptionalAttr<I64Attr>:$predicted_cycles,
                       OptionalAttr<I64Attr>:$roofline_cycles);
  let regions = (region SizedRegion<1>:$body);
}

def Intar_CoreOp : Intar_Op<"core", [Symbol, HasParent<"DesignOp">]> {
  let summary = "A compute core: PE array, scratchpad and reduction tree";
  let description = [{
    `pe` is [d1, d2, d3]: each cycle the core multiplies a d1 x d3 tile by a
    d3 x d2 tile and accumulates a d1 x d2 tile.
  }];
  let arguments = (ins SymbolNameAttr:$sym_name, DenseI64ArrayAttr:$pe,
                       I64Attr:$scratchpad_bytes, I64Attr:$scratchpad_ports);
}

def Intar_SfuOp : Intar_Op<"sfu", [Symbol, HasParent<"DesignOp">]> {
  let summary = "A streaming special-function unit";
  let description = [{
    `kind` is the task kind it computes (softmax, layernorm, gelu, ...);
    `lanes` is the number of elements it accepts per cycle; `dsps` is the
    number of DSP48E2s its multipliers take, as the hardware generator builds
    them (zero for a unit without multipliers), counted against the design's
    `dsp_budget`.
  }];
  let arguments = (ins SymbolNameAttr:$sym_name, StrAttr:$kind,
                       I64Attr:$lanes, I64Attr:$dsps);
}

def Intar_PortOp : Intar_Op<"port", [Symbol, HasParent<"DesignOp">]> {
  let summary = "An off-chip memory port (one HBM/DDR channel)";
  let arguments = (ins SymbolNameAttr:$sym_name, I64Attr:$channel,
                       I64Attr:$width);
}

def Intar_LinkOp : Intar_Op<"link", [Symbol, HasParent<"DesignOp">]> {
  let summary = "A valid/ready FIFO between two units";
  let description = [{
    `source` and `dest` name cores, SFUs or ports. `width` is in bits and
    `depth` in entries.
  }];
  let arguments = (ins SymbolNameAttr:$sym_name, FlatSymbolRefAttr:$source,
                       FlatSymbolRefAttr:$dest, I64Attr:$width,
                       I64Attr:$depth);
}

def Intar_BufferOp : Intar_Op<"buffer", [Symbol, HasParent<"DesignOp">]> {
  let summary = "Where a tensor of the graph lives between phases";
  let description = [{
    `tensor` names an input, weight or task of the graph. `placement` is
    `onchip` (in the scratchpad of core `home`, or in SFU `home`'s buffers
    when no core makes or reads it) or `offchip` (behind port `home`).
    An off-chip buffer with `slice` holds only rows [slice[1], slice[2]) of
    dimension slice[0] of the tensor's stored [rows, cols] matrix: a stripe.
    The stripes of a tensor partition it, each behind its own port, so one
    core's part of a split task loads at that port's rate beside the others.
    `transposed` stores a [K, N] weight, read by one matmul as its rhs, as its
    [N, K] transpose (the host lays it out so): the matmul reads it with
    transpose_rhs, and a j-outer loop streams it column block by column block.
    A `slice` of a transposed buffer cuts the [N, K] matrix.
  }];
  let arguments = (ins SymbolNameAttr:$sym_name, FlatSymbolRefAttr:$tensor,
                       StrAttr:$placement, FlatSymbolRefAttr:$home,
                       I64Attr:$bytes, OptionalAttr<DenseI64ArrayAttr>:$slice,
                       UnitAttr:$transposed);
}

def Intar_ScheduleOp : Intar_Op<"schedule",
    [HasParent<"DesignOp">, SingleBlock, NoTerminator]> {
  let summary = "The static schedule: phases in order, with mode switches";
  let description = [{
    Holds `intar.phase` ops and, between each consecutive pair, exactly one
    `intar.switch`.
  }];
  let regions = (region SizedRegion<1>:$body);
}

def Intar_PhaseOp : Intar_Op<"phase",
    [Symbol, HasParent<"ScheduleOp">, SingleBlock, NoTerminator]> {
  let summary = "One execution phase with its pattern";
  let description = [{
    `pattern` is `sequential` (all cores on one task), `task_parallel`
    (independent tasks or slices on disjoint cores) or `task_pipeline` (a
    producer streams into a consumer). The body holds the `intar.assign`s.
    `cycles` is the cost model's prediction.
  }];
  let arguments = (ins SymbolNameAttr:$sym_name, StrAttr:$pattern,
                       I64Attr:$cycles);
  let regions = (region SizedRegion<1>:$body);
}

def Intar_AssignOp : Intar_Op<"assign", [HasParent<"PhaseOp">]> {
  let summary = "A task slice on a unit, as one stage instruction";
  let description = [{
    Runs rows [slice[1], slice[2]) of dimension slice[0] of `task`'s result on
    `unit` (a core or SFU). `bounds` are the (i, j, k) loop bounds of the
    stage instruction. `sources` names one buffer or link per task operand;
    `sinks` names the buffers or links the result goes to (none for a result
    that nothing reads). `loop_order`, on PE tasks, says which operand streams:
    `ijk` (lhs row panels), `jik` (rhs column panels) or `kij` (an operand
    streamed along k, partial sums kept in the scratchpad). On a pointwise SFU
    task, `jik` walks the tensors column by column in (lanes, 1) tiles, behind
    a producer that completes columns and ahead of a k-outer reader.
  }];
  let arguments = (ins FlatSymbolRefAttr:$task, FlatSymbolRefAttr:$unit,
                       I64Attr:$stage, DenseI64ArrayAttr:$slice,
                       DenseI64ArrayAttr:$bounds, SymbolRefArrayAttr:$sources,
                       SymbolRefArrayAttr:$sinks, OptionalAttr<StrAttr>:$loop_order);
}

def Intar_SwitchOp : Intar_Op<"switch", [HasParent<"ScheduleOp">]> {
  let summary = "An execution-mode switch between two phases";
  let description = [{
    Every core steps to its next stage instruction: new mux selects for operand
    sources and result sinks and new loop bounds. `cycles` is its cost.
  }];
  let arguments = (ins FlatSymbolRefAttr:$from, FlatSymbolRefAttr:$to,
                       I64Attr:$cycles);
}

#endif // INTAR_DESIGN_OPS_TD
