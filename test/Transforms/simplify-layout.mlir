// RUN: intar-opt %s --intar-simplify-layout --split-input-file | FileCheck %s

// Two reshapes fold into one; the outer name survives.
// CHECK: %[[X:.*]] = "intar.input"
// CHECK-NEXT: %[[R:.*]] = "intar.reshape"(%[[X]]) {sym_name = "r2"} : (tensor<4x16xi16>) -> tensor<8x8xi16>
// CHECK-NEXT: "intar.output"(%[[R]])
// CHECK: }) {sym_name = "reshapes"}
"intar.graph"() ({
  %x = "intar.input"() {sym_name = "x"} : () -> tensor<4x16xi16>
  %r1 = "intar.reshape"(%x) {sym_name = "r1"} : (tensor<4x16xi16>) -> tensor<64xi16>
  %r2 = "intar.reshape"(%r1) {sym_name = "r2"} : (tensor<64xi16>) -> tensor<8x8xi16>
  "intar.output"(%r2) : (tensor<8x8xi16>) -> ()
}) {sym_name = "reshapes"} : () -> ()

// -----

// Transposes compose; inverse permutations vanish, identity reshapes too.
// CHECK: %[[X:.*]] = "intar.input"
// CHECK-NEXT: "intar.output"(%[[X]])
// CHECK: }) {sym_name = "cancel"}
"intar.graph"() ({
  %x = "intar.input"() {sym_name = "x"} : () -> tensor<2x3x4xi8>
  %t1 = "intar.transpose"(%x) {sym_name = "t1", perm = array<i64: 1, 2, 0>} : (tensor<2x3x4xi8>) -> tensor<3x4x2xi8>
  %t2 = "intar.transpose"(%t1) {sym_name = "t2", perm = array<i64: 2, 0, 1>} : (tensor<3x4x2xi8>) -> tensor<2x3x4xi8>
  %r = "intar.reshape"(%t2) {sym_name = "r"} : (tensor<2x3x4xi8>) -> tensor<2x3x4xi8>
  "intar.output"(%r) : (tensor<2x3x4xi8>) -> ()
}) {sym_name = "cancel"} : () -> ()

// -----

// CHECK: "intar.transpose"(%{{.*}}) {perm = array<i64: 2, 1, 0>, sym_name = "t2"} : (tensor<2x3x4xi8>) -> tensor<4x3x2xi8>
// CHECK-NOT: "intar.transpose"
// CHECK: }) {sym_name = "compose"}
"intar.graph"() ({
  %x = "intar.input"() {sym_name = "x"} : () -> tensor<2x3x4xi8>
  %t1 = "intar.transpose"(%x) {sym_name = "t1", perm = array<i64: 1, 0, 2>} : (tensor<2x3x4xi8>) -> tensor<3x2x4xi8>
  %t2 = "intar.transpose"(%t1) {sym_name = "t2", perm = array<i64: 2, 0, 1>} : (tensor<3x2x4xi8>) -> tensor<4x3x2xi8>
  "intar.output"(%t2) : (tensor<4x3x2xi8>) -> ()
}) {sym_name = "compose"} : () -> ()

// -----

// A view with another user stays; only the chain through it is shortened.
// CHECK: %[[R1:.*]] = "intar.reshape"(%{{.*}}) {sym_name = "r1"}
// CHECK: "intar.relu"(%[[R1]])
// CHECK: "intar.reshape"(%{{.*}}) {sym_name = "r2"} : (tensor<4x16xi16>) -> tensor<8x8xi16>
// CHECK: }) {sym_name = "shared"}
"intar.graph"() ({
  %x = "intar.input"() {sym_name = "x"} : () -> tensor<4x16xi16>
  %r1 = "intar.reshape"(%x) {sym_name = "r1"} : (tensor<4x16xi16>) -> tensor<64xi16>
  %y = "intar.relu"(%r1) {sym_name = "y"} : (tensor<64xi16>) -> tensor<64xi16>
  %r2 = "intar.reshape"(%r1) {sym_name = "r2"} : (tensor<64xi16>) -> tensor<8x8xi16>
  "intar.output"(%r2, %y) : (tensor<8x8xi16>, tensor<64xi16>) -> ()
}) {sym_name = "shared"} : () -> ()
