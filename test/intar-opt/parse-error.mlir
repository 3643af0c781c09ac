// A parse error: exit code 1, the parser's located diagnostic, no traceback, no output file.
// RUN: rm -f %t.out
// RUN: not intar-opt %s -o %t.out 2>&1 | FileCheck %s
// RUN: not test -e %t.out
// CHECK: parse-error.mlir:9:61: error: expected ')'
// CHECK-NOT: Traceback
"intar.graph"() ({
  %x = "intar.input"() {sym_name = "x"} : () -> tensor<4x8xi16>
  "intar.output"(%x) : (tensor<4x8xi16>) -> (tensor<4x8xi16>
}) {sym_name = "g"} : () -> ()
