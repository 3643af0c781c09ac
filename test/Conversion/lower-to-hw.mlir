// RUN: intar-opt %s '--pass-pipeline=builtin.module(intar-schedule{device=tiny mode=sequential}, intar-lower-to-hw)' | FileCheck %s
// RUN: intar-opt %s '--pass-pipeline=builtin.module(intar-schedule{device=tiny mode=sequential}, intar-lower-to-sv)' | FileCheck %s --check-prefix=SV

// One product then a ReLU, in two sequential phases: the top module holds the core, the
// SFU, a tensor buffer per operand, a read engine and a write engine; the intar ops are gone.
"intar.graph"() ({
  %x = "intar.input"() {sym_name = "x"} : () -> tensor<4x8xi16>
  %w = "intar.weight"() {sym_name = "w", seed = 1 : i64} : () -> tensor<8x8xi16>
  %a = "intar.matmul"(%x, %w) {sym_name = "a", shift = 10 : i64} : (tensor<4x8xi16>, tensor<8x8xi16>) -> tensor<4x8xi16>
  %r = "intar.relu"(%a) {sym_name = "r"} : (tensor<4x8xi16>) -> tensor<4x8xi16>
  "intar.output"(%r) : (tensor<4x8xi16>) -> ()
}) {sym_name = "mm_relu"} : () -> ()

// CHECK-NOT: intar.
// CHECK-DAG: hw.module @mm_relu_sequential(in %clk : !seq.clock, in %rst : i1, in %start : i1
// CHECK-DAG: out done : i1
// CHECK-DAG: hw.instance "cc0_pe"
// CHECK-DAG: hw.instance "sfu_relu0_sfu0"
// CHECK-DAG: hw.instance "buf_cc0_a_x"
// CHECK-DAG: hw.instance "buf_cc0_b_w"
// CHECK-DAG: hw.instance "buf_sfu_relu0_a_a"
// The tensor buffers' banks are read-first RAM modules: one array register and one always_ff.
// CHECK-DAG: hw.instance "bank_0_0" @mm_relu_sequential_m{{[0-9]+}}_bank_{{[0-9]+}}x16(
// CHECK-DAG: hw.module @mm_relu_sequential_m{{[0-9]+}}_bank_{{[0-9]+}}x16(
// CHECK-DAG: %Memory = sv.reg : !hw.inout<uarray<{{[0-9]+}}xi16>>
// CHECK-DAG: sv.alwaysff(posedge
// SV-NOT: seq.firmem
// SV: hw.module @mm_relu_sequential
