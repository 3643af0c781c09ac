//===- IntarDialect.td - the intar dialect ------------------*- tablegen -*-===//
//
// The intar dialect describes multi-task DNN kernels at two levels: a task
// graph over ranked integer tensors, and a scheduled design (compute cores,
// special-function units, links, buffers and an ordered list of execution
// phases separated by explicit mode switches). See Rationale.md.
//
//===----------------------------------------------------------------------===//

#ifndef INTAR_DIALECT_TD
#define INTAR_DIALECT_TD

include "mlir/IR/OpBase.td"

def Intar_Dialect : Dialect {
  let name = "intar";
  let cppNamespace = "::intar";
  let summary = "Inter-task auto-reconfigurable accelerators for DNN kernels";
  let description = [{
    Task-level ops form a dataflow graph of integer tensor computations with
    exactly specified arithmetic. Scheduled-level ops describe the hardware
    that runs the graph and the static schedule that drives it.
  }];
}

class Intar_Op<string mnemonic, list<Trait> traits = []>
    : Op<Intar_Dialect, mnemonic, traits>;

#endif // INTAR_DIALECT_TD
