// RUN: intar-opt %s --intar-fuse-relu --split-input-file | FileCheck %s
// RUN: intar-opt %s --intar-task-cleanup --split-input-file | FileCheck %s --check-prefix=CLEANUP

// A relu after a shifted matmul is not folded (a matmul's split cores would write the next
// core's buffer straight through the write grant; see the pass description).
// CHECK: "intar.matmul"(%{{.*}}, %{{.*}}) {shift = 6 : i64, sym_name = "mm"} : (tensor<4x8xi16>, tensor<8x16xi16>) -> tensor<4x16xi8>
// CHECK: "intar.relu"
// CHECK: }) {sym_name = "matmul"}
"intar.graph"() ({
  %x = "intar.input"() {sym_name = "x"} : () -> tensor<4x8xi16>
  %w = "intar.weight"() {sym_name = "w", seed = 1 : i64} : () -> tensor<8x16xi16>
  %m = "intar.matmul"(%x, %w) {sym_name = "mm", shift = 6 : i64} : (tensor<4x8xi16>, tensor<8x16xi16>) -> tensor<4x16xi8>
  %r = "intar.relu"(%m) {sym_name = "r"} : (tensor<4x16xi8>) -> tensor<4x16xi8>
  "intar.output"(%r) : (tensor<4x16xi8>) -> ()
}) {sym_name = "matmul"} : () -> ()

// -----

// Both convolution kinds, their window attributes kept; a relu to a narrower type too.
// CHECK: "intar.conv2d"(%{{.*}}, %{{.*}}) {padding = 1 : i64, relu, shift = 9 : i64, sym_name = "c"} : {{.*}} -> tensor<2x8x8xi16>
// CHECK: "intar.conv_transpose2d"(%{{.*}}, %{{.*}}) {relu, sym_name = "t"} : {{.*}} -> tensor<1x9x9xi8>
// CHECK-NOT: "intar.relu"
// CHECK: }) {sym_name = "conv"}
"intar.graph"() ({
  %x = "intar.input"() {sym_name = "x"} : () -> tensor<1x8x8xi16>
  %f = "intar.weight"() {sym_name = "f", seed = 1 : i64} : () -> tensor<2x1x3x3xi16>
  %g = "intar.weight"() {sym_name = "g", seed = 2 : i64} : () -> tensor<2x1x2x2xi16>
  %c = "intar.conv2d"(%x, %f) {sym_name = "c", padding = 1 : i64, shift = 9 : i64} : (tensor<1x8x8xi16>, tensor<2x1x3x3xi16>) -> tensor<2x8x8xi16>
  %r = "intar.relu"(%c) {sym_name = "r"} : (tensor<2x8x8xi16>) -> tensor<2x8x8xi16>
  %t = "intar.conv_transpose2d"(%r, %g) {sym_name = "t"} : (tensor<2x8x8xi16>, tensor<2x1x2x2xi16>) -> tensor<1x9x9xi32>
  %s = "intar.relu"(%t) {sym_name = "s"} : (tensor<1x9x9xi32>) -> tensor<1x9x9xi8>
  "intar.output"(%s) : (tensor<1x9x9xi8>) -> ()
}) {sym_name = "conv"} : () -> ()

// -----

// Not fused: the producer has a second user, the relu widens (the producer's saturation
// would show), or the producer is not a convolution.
// CHECK-COUNT-3: "intar.relu"
// CHECK: }) {sym_name = "kept"}
"intar.graph"() ({
  %x = "intar.input"() {sym_name = "x"} : () -> tensor<1x8x8xi16>
  %f = "intar.weight"() {sym_name = "f", seed = 1 : i64} : () -> tensor<2x1x3x3xi16>
  %c = "intar.conv2d"(%x, %f) {sym_name = "c", padding = 1 : i64, shift = 9 : i64} : (tensor<1x8x8xi16>, tensor<2x1x3x3xi16>) -> tensor<2x8x8xi16>
  %r = "intar.relu"(%c) {sym_name = "r"} : (tensor<2x8x8xi16>) -> tensor<2x8x8xi16>
  %d = "intar.conv2d"(%x, %f) {sym_name = "d", padding = 1 : i64, shift = 9 : i64} : (tensor<1x8x8xi16>, tensor<2x1x3x3xi16>) -> tensor<2x8x8xi8>
  %s = "intar.relu"(%d) {sym_name = "s"} : (tensor<2x8x8xi8>) -> tensor<2x8x8xi16>
  %a = "intar.add"(%x, %x) {sym_name = "a"} : (tensor<1x8x8xi16>, tensor<1x8x8xi16>) -> tensor<1x8x8xi16>
  %t = "intar.relu"(%a) {sym_name = "t"} : (tensor<1x8x8xi16>) -> tensor<1x8x8xi16>
  "intar.output"(%r, %c, %s, %t) : (tensor<2x8x8xi16>, tensor<2x8x8xi16>, tensor<2x8x8xi16>, tensor<1x8x8xi16>) -> ()
}) {sym_name = "kept"} : () -> ()

// -----

// In the cleanup group the requantize between them is folded first, then the relu.
// CLEANUP: }) {sym_name = "kept"}
// CLEANUP: "intar.conv2d"(%{{.*}}, %{{.*}}) {padding = 1 : i64, relu, shift = 6 : i64, sym_name = "c"} : {{.*}} -> tensor<2x8x8xi8>
// CLEANUP-NOT: "intar.requantize"
// CLEANUP-NOT: "intar.relu"
// CLEANUP: }) {sym_name = "chain"}
"intar.graph"() ({
  %x = "intar.input"() {sym_name = "x"} : () -> tensor<1x8x8xi16>
  %f = "intar.weight"() {sym_name = "f", seed = 1 : i64} : () -> tensor<2x1x3x3xi16>
  %c = "intar.conv2d"(%x, %f) {sym_name = "c", padding = 1 : i64} : (tensor<1x8x8xi16>, tensor<2x1x3x3xi16>) -> tensor<2x8x8xi32>
  %q = "intar.requantize"(%c) {sym_name = "q", shift = 6 : i64} : (tensor<2x8x8xi32>) -> tensor<2x8x8xi8>
  %r = "intar.relu"(%q) {sym_name = "r"} : (tensor<2x8x8xi8>) -> tensor<2x8x8xi8>
  "intar.output"(%r) : (tensor<2x8x8xi8>) -> ()
}) {sym_name = "chain"} : () -> ()
