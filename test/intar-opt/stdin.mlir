// Reads stdin; diagnostics name it <stdin>.
// RUN: intar-opt < %s | FileCheck %s
// RUN: not intar-opt - < %S/parse-error.mlir 2>&1 | FileCheck %s --check-prefix=ERR
// CHECK: sym_name = "g"
// ERR: <stdin>:9:61: error: expected ')'
"intar.graph"() ({
  %x = "intar.input"() {sym_name = "x"} : () -> tensor<4xi8>
  "intar.output"(%x) : (tensor<4xi8>) -> ()
}) {sym_name = "g"} : () -> ()
