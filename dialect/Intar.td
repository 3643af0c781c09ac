//===- Intar.td - all intar operations ----------------------*- tablegen -*-===//
//
// Entry point for mlir-tblgen: the Python op bindings and the dialect docs are
// generated from this file.
//
//===----------------------------------------------------------------------===//

include "IntarOps.td"
include "IntarDesignOps.td"
