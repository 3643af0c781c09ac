//===- IntarPasses.td - intar pass definitions --------------*- tablegen -*-===//
//
// The passes are implemented in Python (python/intar/transforms, one module per
// pass); this file documents them and is checked against the Python registry:
// argument, summary and options must agree.
//
//===----------------------------------------------------------------------===//

#ifndef INTAR_PASSES_TD
#define INTAR_PASSES_TD

include "mlir/Pass/PassBase.td"

def FuseRequantize : Pass<"intar-fuse-requantize", "mlir::ModuleOp"> {
  let summary = "Fold requantize tasks into the matmul, conv, add or mul that feeds them";
  let description = [{
    A compute core requantizes on the way out of its reduction tree, so a
    requantize whose input is an unshifted i32 product with no other user
    becomes the producer's `shift`. Adds and muls are folded only when their
    exact result fits in i32, where saturating to i32 first changed nothing.
  }];
}

def FuseRelu : Pass<"intar-fuse-relu", "mlir::ModuleOp"> {
  let summary = "Fold relu tasks into the convolution that feeds them";
  let description = [{
    A compute core saturates its requantized result on the way out, so a relu
    is one more bound: the lower one becomes 0. A relu whose input is the only
    use of a conv2d or conv_transpose2d result, and whose element type is no
    wider than that result's, becomes the producer's `relu` flag; the producer
    takes the relu's result type and keeps its own name. Matmuls accept the
    flag but are not folded yet: their split cores would write the next core's
    buffer through a write grant that is over the LUT-level bound at paper
    scale. Run it after intar-fuse-requantize.
  }];
}

def SimplifyLayout : Pass<"intar-simplify-layout", "mlir::ModuleOp"> {
  let summary = "Fold reshape and transpose chains and remove identity views";
  let description = [{
    reshape(reshape(x)) becomes one reshape, transpose(transpose(x)) one
    transpose with the composed permutation, and views whose result equals
    their input disappear. The outer op keeps its name.
  }];
}

def Schedule : Pass<"intar-schedule", "mlir::ModuleOp"> {
  let summary = "Choose a static InTAR schedule for each graph and emit it as an intar.design";
  let description = [{
    Picks compute cores and their PE arrays, special-function units, links,
    buffer placement and the ordered phases (sequential, task-parallel,
    task-pipeline) with mode switches between them, under the device's DSP and
    off-chip port budget, and writes an `intar.design` after each graph. A graph
    that cannot fit gets an error naming the short resource and by how much.
  }];
  let options = [
    Option<"device", "device", "std::string", "\"u280\"",
           "device name or JSON file (u280, vpk180, tiny)">,
    Option<"dsp", "dsp", "int64_t", "0", "DSP budget (0: the whole device)">,
    Option<"ports", "ports", "int64_t", "0",
           "off-chip port budget (0: every channel)">,
    Option<"mode", "mode", "std::string", "\"intar\"",
           "intar, dataflow or sequential">,
    Option<"graph", "graph", "std::string", "\"\"",
           "schedule only this graph">,
  ];
}

def LowerToHW : Pass<"intar-lower-to-hw", "mlir::ModuleOp"> {
  let summary = "Build each intar.design as hw/comb/seq modules (the top is named after the design)";
  let description = [{
    Plans the hardware of each scheduled design (a tensor buffer per operand a
    unit reads, load and store engines per off-chip port, an input and an
    output controller per unit, global phase barriers) and builds it with
    CIRCT's hw, comb and seq dialects, then erases the task graph and the
    design. Task kinds the template does not build yet get an error at the
    task. The `intar-lower-to-sv` group adds CIRCT's lowering to SV.
  }];
  let dependentDialects = ["circt::hw::HWDialect", "circt::comb::CombDialect",
                           "circt::seq::SeqDialect"];
  let options = [
    Option<"design", "design", "std::string", "\"\"", "lower only this design">,
  ];
}

def UltraRAM : Pass<"intar-ultra-ram", "mlir::ModuleOp"> {
  let summary = "Mark the memory arrays of UltraRAM tensor-buffer banks for URAM288 mapping";
  let description = [{
    Runs after `hw-memory-sim` in the `intar-lower-to-sv` group. The planner
    moves tensor buffers to UltraRAM when a design's block RAM would not fit
    the device; their banks become memory modules named `<buffer>_uram_...`,
    and this pass gives the array register of each such module the
    SystemVerilog attribute `(* ram_style = "ultra" *)`, so that synthesis
    maps it to URAM288 blocks.
  }];
  let dependentDialects = ["circt::sv::SVDialect"];
}

#endif // INTAR_PASSES_TD
