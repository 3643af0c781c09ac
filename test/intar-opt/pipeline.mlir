// intar's Python passes and CIRCT's own passes share one PassManager.
// RUN: intar-opt %s --pass-pipeline='builtin.module(intar-fuse-requantize,canonicalize,intar-simplify-layout)' | FileCheck %s
// RUN: intar-opt %s --intar-fuse-requantize --intar-simplify-layout --mlir-print-ir-after-all -o /dev/null 2>&1 | FileCheck %s --check-prefix=DUMP
// RUN: intar-opt %s --intar-fuse-requantize --mlir-print-ir-before-all -o /dev/null 2>&1 | FileCheck %s --check-prefix=BEFORE
// RUN: intar-opt %s --intar-fuse-requantize --mlir-timing -o /dev/null 2>&1 | FileCheck %s --check-prefix=TIMING
// RUN: not intar-opt %s --pass-pipeline='builtin.module(no-such-pass)' 2>&1 | FileCheck %s --check-prefix=BADPASS
// RUN: not intar-opt %s --intar-fuse-requantize --pass-pipeline='builtin.module(cse)' 2>&1 | FileCheck %s --check-prefix=BOTH

// CHECK: "intar.matmul"{{.*}}shift = 4 : i64{{.*}}-> tensor<4x8xi16>
// CHECK-NEXT: "intar.reshape"{{.*}}{sym_name = "r2"} : (tensor<4x8xi16>) -> tensor<32xi16>
// CHECK-NEXT: "intar.output"

// DUMP: IR Dump After intar-fuse-requantize
// DUMP: "intar.reshape"{{.*}}sym_name = "r1"
// DUMP: IR Dump After intar-simplify-layout
// DUMP-NOT: sym_name = "r1"

// BEFORE: IR Dump Before intar-fuse-requantize
// BEFORE: "intar.requantize"

// TIMING: Execution time report
// TIMING: intar-fuse-requantize

// BADPASS: intar-opt: error: in pipeline element 'no-such-pass': 'no-such-pass' does not refer to a registered pass or pass pipeline
// BADPASS-NOT: Traceback
// BOTH: error: --pass-pipeline cannot be combined with pass flags
"intar.graph"() ({
  %x = "intar.input"() {sym_name = "x"} : () -> tensor<4x8xi16>
  %w = "intar.weight"() {sym_name = "w", seed = 1 : i64} : () -> tensor<8x8xi16>
  %m = "intar.matmul"(%x, %w) {sym_name = "mm"} : (tensor<4x8xi16>, tensor<8x8xi16>) -> tensor<4x8xi32>
  %q = "intar.requantize"(%m) {sym_name = "q", shift = 4 : i64} : (tensor<4x8xi32>) -> tensor<4x8xi16>
  %r1 = "intar.reshape"(%q) {sym_name = "r1"} : (tensor<4x8xi16>) -> tensor<2x16xi16>
  %r2 = "intar.reshape"(%r1) {sym_name = "r2"} : (tensor<2x16xi16>) -> tensor<32xi16>
  "intar.output"(%r2) : (tensor<32xi16>) -> ()
}) {sym_name = "g"} : () -> ()

// A named group expands to its passes, as a flag or inside a pipeline.
// RUN: intar-opt %s --intar-task-cleanup | FileCheck %s
// RUN: intar-opt %s --pass-pipeline='builtin.module(intar-task-cleanup,cse)' | FileCheck %s
// RUN: intar-opt --help | FileCheck %s --check-prefix=GROUPS
// GROUPS: pass groups (usable in --pass-pipeline):
// GROUPS-NEXT: --intar-task-cleanup{{ +}}intar-fuse-requantize then intar-fuse-relu then intar-
