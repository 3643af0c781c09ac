// A verifier error in one chunk of a split file: exit 1 and no partial output file, even
// though the other chunk is valid.
// RUN: rm -f %t.out
// RUN: not intar-opt %s --split-input-file -o %t.out 2>&1 | FileCheck %s
// RUN: not test -e %t.out
// CHECK: verify-error-no-output.mlir:17:8: error: 'intar.relu' op result shape [4, 4] does not match the expected [4, 8]
// CHECK-NOT: Traceback
"intar.graph"() ({
  %x = "intar.input"() {sym_name = "x"} : () -> tensor<4x8xi16>
  "intar.output"(%x) : (tensor<4x8xi16>) -> ()
}) {sym_name = "ok"} : () -> ()

// -----

"intar.graph"() ({
  %x = "intar.input"() {sym_name = "x"} : () -> tensor<4x8xi16>
  %y = "intar.relu"(%x) {sym_name = "y"} : (tensor<4x8xi16>) -> tensor<4x4xi16>
  "intar.output"(%y) : (tensor<4x4xi16>) -> ()
}) {sym_name = "bad"} : () -> ()
