// RUN: intar-opt %s --intar-fuse-requantize --split-input-file | FileCheck %s

// CHECK: %[[M:.*]] = "intar.matmul"(%{{.*}}, %{{.*}}) {shift = 6 : i64, sym_name = "mm"} : (tensor<4x8xi16>, tensor<8x16xi16>) -> tensor<4x16xi8>
// CHECK-NOT: "intar.requantize"
// CHECK: "intar.output"(%[[M]])
// CHECK: }) {sym_name = "matmul"}
"intar.graph"() ({
  %x = "intar.input"() {sym_name = "x"} : () -> tensor<4x8xi16>
  %w = "intar.weight"() {sym_name = "w", seed = 1 : i64} : () -> tensor<8x16xi16>
  %m = "intar.matmul"(%x, %w) {sym_name = "mm"} : (tensor<4x8xi16>, tensor<8x16xi16>) -> tensor<4x16xi32>
  %q = "intar.requantize"(%m) {sym_name = "q", shift = 6 : i64} : (tensor<4x16xi32>) -> tensor<4x16xi8>
  "intar.output"(%q) : (tensor<4x16xi8>) -> ()
}) {sym_name = "matmul"} : () -> ()

// -----

// The convolution keeps its window attributes.
// CHECK: "intar.conv2d"(%{{.*}}, %{{.*}}) {padding = 1 : i64, shift = 9 : i64, sym_name = "c"} : {{.*}} -> tensor<1x8x8xi16>
// CHECK: }) {sym_name = "conv"}
"intar.graph"() ({
  %x = "intar.input"() {sym_name = "x"} : () -> tensor<1x8x8xi16>
  %f = "intar.weight"() {sym_name = "f", seed = 1 : i64} : () -> tensor<1x1x3x3xi16>
  %c = "intar.conv2d"(%x, %f) {sym_name = "c", padding = 1 : i64} : (tensor<1x8x8xi16>, tensor<1x1x3x3xi16>) -> tensor<1x8x8xi32>
  %q = "intar.requantize"(%c) {sym_name = "q", shift = 9 : i64} : (tensor<1x8x8xi32>) -> tensor<1x8x8xi16>
  "intar.output"(%q) : (tensor<1x8x8xi16>) -> ()
}) {sym_name = "conv"} : () -> ()

// -----

// Not fused: the producer has a second user, or already shifts.
// CHECK-COUNT-2: "intar.requantize"
// CHECK: }) {sym_name = "kept"}
"intar.graph"() ({
  %x = "intar.input"() {sym_name = "x"} : () -> tensor<4x8xi16>
  %w = "intar.weight"() {sym_name = "w", seed = 1 : i64} : () -> tensor<8x8xi16>
  %m = "intar.matmul"(%x, %w) {sym_name = "mm"} : (tensor<4x8xi16>, tensor<8x8xi16>) -> tensor<4x8xi32>
  %q = "intar.requantize"(%m) {sym_name = "q", shift = 6 : i64} : (tensor<4x8xi32>) -> tensor<4x8xi8>
  %m2 = "intar.matmul"(%x, %w) {sym_name = "mm2", shift = 2 : i64} : (tensor<4x8xi16>, tensor<8x8xi16>) -> tensor<4x8xi32>
  %q2 = "intar.requantize"(%m2) {sym_name = "q2", shift = 6 : i64} : (tensor<4x8xi32>) -> tensor<4x8xi8>
  "intar.output"(%q, %m, %q2) : (tensor<4x8xi8>, tensor<4x8xi32>, tensor<4x8xi8>) -> ()
}) {sym_name = "kept"} : () -> ()

// -----

// An add of two i32 values may overflow i32, so saturating first matters: not fused.
// An add of two i16 values cannot: fused.
// CHECK: "intar.add"(%{{.*}}, %{{.*}}) {sym_name = "wide"} : (tensor<4xi32>, tensor<4xi32>) -> tensor<4xi32>
// CHECK: "intar.requantize"
// CHECK: "intar.add"(%{{.*}}, %{{.*}}) {shift = 1 : i64, sym_name = "narrow"} : (tensor<4xi16>, tensor<4xi16>) -> tensor<4xi16>
// CHECK: }) {sym_name = "adds"}
"intar.graph"() ({
  %a = "intar.input"() {sym_name = "a"} : () -> tensor<4xi32>
  %b = "intar.input"() {sym_name = "b"} : () -> tensor<4xi16>
  %s = "intar.add"(%a, %a) {sym_name = "wide"} : (tensor<4xi32>, tensor<4xi32>) -> tensor<4xi32>
  %q = "intar.requantize"(%s) {sym_name = "q", shift = 1 : i64} : (tensor<4xi32>) -> tensor<4xi16>
  %t = "intar.add"(%b, %b) {sym_name = "narrow"} : (tensor<4xi16>, tensor<4xi16>) -> tensor<4xi32>
  %r = "intar.requantize"(%t) {sym_name = "r", shift = 1 : i64} : (tensor<4xi32>) -> tensor<4xi16>
  "intar.output"(%q, %r) : (tensor<4xi16>, tensor<4xi16>) -> ()
}) {sym_name = "adds"} : () -> ()
