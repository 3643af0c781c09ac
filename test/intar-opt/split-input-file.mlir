// RUN: intar-opt %s --split-input-file | FileCheck %s
// Each chunk is parsed on its own and the outputs are joined by the split marker.

// CHECK: sym_name = "first"
// CHECK-NEXT: }
// CHECK-NEXT: // -----
// CHECK-NEXT: module {
// CHECK: sym_name = "second"
"intar.graph"() ({
  %x = "intar.input"() {sym_name = "x"} : () -> tensor<4xi8>
  "intar.output"(%x) : (tensor<4xi8>) -> ()
}) {sym_name = "first"} : () -> ()

// -----

// The same names may appear again: chunks are independent.
"intar.graph"() ({
  %x = "intar.input"() {sym_name = "x"} : () -> tensor<4xi8>
  "intar.output"(%x) : (tensor<4xi8>) -> ()
}) {sym_name = "second"} : () -> ()
