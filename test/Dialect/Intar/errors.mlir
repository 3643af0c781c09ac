// RUN: intar-opt %s --split-input-file --verify-diagnostics
// Every task-level verifier rule, one violation per chunk.

"intar.graph"() ({
  %x = "intar.input"() {sym_name = "x"} : () -> tensor<4x8xi16>
  %w = "intar.weight"() {sym_name = "w", seed = 1 : i64} : () -> tensor<8x16xi16>
  // expected-error@+1 {{'intar.matmul' op expects 2 operands (lhs, rhs), but got 1}}
  %m = "intar.matmul"(%x) {sym_name = "m"} : (tensor<4x8xi16>) -> tensor<4x16xi32>
  "intar.output"(%m) : (tensor<4x16xi32>) -> ()
}) {sym_name = "g"} : () -> ()

// -----

"intar.graph"() ({
  %x = "intar.input"() {sym_name = "x"} : () -> tensor<4x8xi16>
  %w = "intar.weight"() {sym_name = "w", seed = 1 : i64} : () -> tensor<9x16xi16>
  // expected-error@+1 {{contraction mismatch: lhs [4, 8] has K = 8, but the first matrix dimension of rhs [9, 16] is 9}}
  %m = "intar.matmul"(%x, %w) {sym_name = "m"} : (tensor<4x8xi16>, tensor<9x16xi16>) -> tensor<4x16xi32>
  "intar.output"(%m) : (tensor<4x16xi32>) -> ()
}) {sym_name = "g"} : () -> ()

// -----

"intar.graph"() ({
  %x = "intar.input"() {sym_name = "x"} : () -> tensor<4x8xi16>
  %w = "intar.weight"() {sym_name = "w", seed = 1 : i64} : () -> tensor<8x16xi16>
  // expected-error@+1 {{result shape [4, 8] does not match the expected [4, 16]}}
  %m = "intar.matmul"(%x, %w) {sym_name = "m"} : (tensor<4x8xi16>, tensor<8x16xi16>) -> tensor<4x8xi32>
  "intar.output"(%m) : (tensor<4x8xi32>) -> ()
}) {sym_name = "g"} : () -> ()

// -----

"intar.graph"() ({
  %x = "intar.input"() {sym_name = "x"} : () -> tensor<4x8xi16>
  // expected-error@+1 {{'intar.frobnicate' op is not an operation of the intar dialect}}
  %y = "intar.frobnicate"(%x) {sym_name = "y"} : (tensor<4x8xi16>) -> tensor<4x8xi16>
  "intar.output"(%y) : (tensor<4x8xi16>) -> ()
}) {sym_name = "g"} : () -> ()

// -----

"intar.graph"() ({
  %x = "intar.input"() {sym_name = "x"} : () -> tensor<4x8xi16>
  // expected-error@+1 {{attribute 'shift' must be a 64-bit integer attribute, got "four"}}
  %y = "intar.requantize"(%x) {sym_name = "y", shift = "four"} : (tensor<4x8xi16>) -> tensor<4x8xi8>
  "intar.output"(%y) : (tensor<4x8xi8>) -> ()
}) {sym_name = "g"} : () -> ()

// -----

"intar.graph"() ({
  %x = "intar.input"() {sym_name = "x"} : () -> tensor<4x8xi16>
  // expected-error@+1 {{requires attribute 'shift'}}
  %y = "intar.requantize"(%x) {sym_name = "y"} : (tensor<4x8xi16>) -> tensor<4x8xi8>
  "intar.output"(%y) : (tensor<4x8xi8>) -> ()
}) {sym_name = "g"} : () -> ()

// -----

"intar.graph"() ({
  // expected-error@+1 {{element type must be i4, i8, i16 or i32, got i64}}
  %x = "intar.input"() {sym_name = "x"} : () -> tensor<4x8xi64>
  "intar.output"(%x) : (tensor<4x8xi64>) -> ()
}) {sym_name = "g"} : () -> ()

// -----

"intar.graph"() ({
  // expected-error@+1 {{operands and results must be ranked tensors, got tensor<*xi16>}}
  %x = "intar.input"() {sym_name = "x"} : () -> tensor<*xi16>
  "intar.output"(%x) : (tensor<*xi16>) -> ()
}) {sym_name = "g"} : () -> ()

// -----

// A cycle: %b is used by the task that %b depends on.
"intar.graph"() ({
  %x = "intar.input"() {sym_name = "x"} : () -> tensor<4x8xi16>
  // expected-error@+1 {{'intar.add' op operand #1 comes from 'b', which depends on this op: the graph has a cycle}}
  %a = "intar.add"(%x, %b) {sym_name = "a"} : (tensor<4x8xi16>, tensor<4x8xi16>) -> tensor<4x8xi16>
  %b = "intar.relu"(%a) {sym_name = "b"} : (tensor<4x8xi16>) -> tensor<4x8xi16>
  "intar.output"(%b) : (tensor<4x8xi16>) -> ()
}) {sym_name = "g"} : () -> ()

// -----

%outside = "test.source"() : () -> tensor<4x8xi16>
"intar.graph"() ({
  // expected-error@+1 {{'intar.relu' op operand #0 is defined outside the graph (graphs are isolated)}}
  %r = "intar.relu"(%outside) {sym_name = "r"} : (tensor<4x8xi16>) -> tensor<4x8xi16>
  "intar.output"(%r) : (tensor<4x8xi16>) -> ()
}) {sym_name = "g"} : () -> ()

// -----

// expected-error@+1 {{'intar.graph' op has two ops named 'x'}}
"intar.graph"() ({
  %x = "intar.input"() {sym_name = "x"} : () -> tensor<4x8xi16>
  %y = "intar.relu"(%x) {sym_name = "x"} : (tensor<4x8xi16>) -> tensor<4x8xi16>
  "intar.output"(%y) : (tensor<4x8xi16>) -> ()
}) {sym_name = "g"} : () -> ()

// -----

// expected-error@+1 {{'intar.graph' op body must end with an 'intar.output'}}
"intar.graph"() ({
  %x = "intar.input"() {sym_name = "x"} : () -> tensor<4x8xi16>
}) {sym_name = "g"} : () -> ()

// -----

// expected-error@+1 {{'intar.input' op expects parent op 'intar.graph'}}
%x = "intar.input"() {sym_name = "x"} : () -> tensor<4x8xi16>

// -----

"intar.graph"() ({
  // expected-error@+1 {{requires exactly one of 'value' and 'seed'}}
  %w = "intar.weight"() {sym_name = "w"} : () -> tensor<4xi8>
  "intar.output"(%w) : (tensor<4xi8>) -> ()
}) {sym_name = "g"} : () -> ()

// -----

"intar.graph"() ({
  // expected-error@+1 {{'value' has type tensor<4xi16>, but the result is tensor<4xi8>}}
  %w = "intar.weight"() {sym_name = "w", value = dense<1> : tensor<4xi16>} : () -> tensor<4xi8>
  "intar.output"(%w) : (tensor<4xi8>) -> ()
}) {sym_name = "g"} : () -> ()

// -----

"intar.graph"() ({
  %x = "intar.input"() {sym_name = "x"} : () -> tensor<3x8x8xi16>
  %f = "intar.weight"() {sym_name = "f", seed = 1 : i64} : () -> tensor<4x2x3x3xi16>
  // expected-error@+1 {{filter has 2 input channels, but the input has 3}}
  %c = "intar.conv2d"(%x, %f) {sym_name = "c"} : (tensor<3x8x8xi16>, tensor<4x2x3x3xi16>) -> tensor<4x6x6xi32>
  "intar.output"(%c) : (tensor<4x6x6xi32>) -> ()
}) {sym_name = "g"} : () -> ()

// -----

"intar.graph"() ({
  %x = "intar.input"() {sym_name = "x"} : () -> tensor<2x8x8xi16>
  %f = "intar.weight"() {sym_name = "f", seed = 1 : i64} : () -> tensor<4x2x3x3xi16>
  // expected-error@+1 {{'stride' must be at least 1, got 0}}
  %c = "intar.conv2d"(%x, %f) {sym_name = "c", stride = 0 : i64} : (tensor<2x8x8xi16>, tensor<4x2x3x3xi16>) -> tensor<4x6x6xi32>
  "intar.output"(%c) : (tensor<4x6x6xi32>) -> ()
}) {sym_name = "g"} : () -> ()

// -----

"intar.graph"() ({
  %x = "intar.input"() {sym_name = "x"} : () -> tensor<2x8x8xi16>
  %f = "intar.weight"() {sym_name = "f", seed = 1 : i64} : () -> tensor<2x4x3x3xi16>
  // expected-error@+1 {{result shape [4, 9, 9] does not match the expected [4, 10, 10]}}
  %c = "intar.conv_transpose2d"(%x, %f) {sym_name = "c"} : (tensor<2x8x8xi16>, tensor<2x4x3x3xi16>) -> tensor<4x9x9xi32>
  "intar.output"(%c) : (tensor<4x9x9xi32>) -> ()
}) {sym_name = "g"} : () -> ()

// -----

"intar.graph"() ({
  %x = "intar.input"() {sym_name = "x"} : () -> tensor<4x8xi16>
  %y = "intar.input"() {sym_name = "y"} : () -> tensor<4xi16>
  // expected-error@+1 {{rhs shape [4] is not a suffix of lhs shape [4, 8]}}
  %a = "intar.add"(%x, %y) {sym_name = "a"} : (tensor<4x8xi16>, tensor<4xi16>) -> tensor<4x8xi16>
  "intar.output"(%a) : (tensor<4x8xi16>) -> ()
}) {sym_name = "g"} : () -> ()

// -----

"intar.graph"() ({
  %x = "intar.input"() {sym_name = "x"} : () -> tensor<4x8xi16>
  // expected-error@+1 {{'shift' must be non-negative, got -1}}
  %a = "intar.mul"(%x, %x) {sym_name = "a", shift = -1 : i64} : (tensor<4x8xi16>, tensor<4x8xi16>) -> tensor<4x8xi16>
  "intar.output"(%a) : (tensor<4x8xi16>) -> ()
}) {sym_name = "g"} : () -> ()

// -----

"intar.graph"() ({
  %x = "intar.input"() {sym_name = "x"} : () -> tensor<4x8xi8>
  // expected-error@+1 {{'frac_bits' must be in [0, 7] for i8, got 9}}
  %a = "intar.gelu"(%x) {sym_name = "a", frac_bits = 9 : i64} : (tensor<4x8xi8>) -> tensor<4x8xi8>
  "intar.output"(%a) : (tensor<4x8xi8>) -> ()
}) {sym_name = "g"} : () -> ()

// -----

"intar.graph"() ({
  %x = "intar.input"() {sym_name = "x"} : () -> tensor<8xi16>
  // expected-error@+1 {{a causal softmax needs rank at least 2}}
  %a = "intar.softmax"(%x) {sym_name = "a", frac_bits = 8 : i64, out_frac_bits = 8 : i64, causal} : (tensor<8xi16>) -> tensor<8xi16>
  "intar.output"(%a) : (tensor<8xi16>) -> ()
}) {sym_name = "g"} : () -> ()

// -----

"intar.graph"() ({
  %x = "intar.input"() {sym_name = "x"} : () -> tensor<4x8xi16>
  %g = "intar.weight"() {sym_name = "gm", seed = 1 : i64} : () -> tensor<4xi16>
  // expected-error@+1 {{gamma must have shape [8], got [4]}}
  %a = "intar.layernorm"(%x, %g, %g) {sym_name = "a", frac_bits = 8 : i64} : (tensor<4x8xi16>, tensor<4xi16>, tensor<4xi16>) -> tensor<4x8xi16>
  "intar.output"(%a) : (tensor<4x8xi16>) -> ()
}) {sym_name = "g"} : () -> ()

// -----

"intar.graph"() ({
  %x = "intar.input"() {sym_name = "x"} : () -> tensor<4x8xi16>
  // expected-error@+1 {{input must have rank 3, got [4, 8]}}
  %a = "intar.upsample"(%x) {sym_name = "a"} : (tensor<4x8xi16>) -> tensor<4x8xi16>
  "intar.output"(%a) : (tensor<4x8xi16>) -> ()
}) {sym_name = "g"} : () -> ()

// -----

"intar.graph"() ({
  %x = "intar.input"() {sym_name = "x"} : () -> tensor<1x8x8xi16>
  // expected-error@+1 {{result shape [1, 8, 8] does not match the expected [1, 4, 4]}}
  %a = "intar.maxpool"(%x) {sym_name = "a"} : (tensor<1x8x8xi16>) -> tensor<1x8x8xi16>
  "intar.output"(%a) : (tensor<1x8x8xi16>) -> ()
}) {sym_name = "g"} : () -> ()

// -----

"intar.graph"() ({
  %x = "intar.input"() {sym_name = "x"} : () -> tensor<4x8xi16>
  // expected-error@+1 {{cannot reshape [4, 8] (32 elements) to [5, 8] (40 elements)}}
  %a = "intar.reshape"(%x) {sym_name = "a"} : (tensor<4x8xi16>) -> tensor<5x8xi16>
  "intar.output"(%a) : (tensor<5x8xi16>) -> ()
}) {sym_name = "g"} : () -> ()

// -----

"intar.graph"() ({
  %x = "intar.input"() {sym_name = "x"} : () -> tensor<4x8xi16>
  // expected-error@+1 {{must keep the element type: i16 became i8}}
  %a = "intar.reshape"(%x) {sym_name = "a"} : (tensor<4x8xi16>) -> tensor<32xi8>
  "intar.output"(%a) : (tensor<32xi8>) -> ()
}) {sym_name = "g"} : () -> ()

// -----

"intar.graph"() ({
  %x = "intar.input"() {sym_name = "x"} : () -> tensor<4x8xi16>
  // expected-error@+1 {{'perm' [0, 0] is not a permutation of the 2 dimensions}}
  %a = "intar.transpose"(%x) {sym_name = "a", perm = array<i64: 0, 0>} : (tensor<4x8xi16>) -> tensor<4x4xi16>
  "intar.output"(%a) : (tensor<4x4xi16>) -> ()
}) {sym_name = "g"} : () -> ()

// -----

"intar.graph"() ({
  %x = "intar.input"() {sym_name = "x"} : () -> tensor<4x8xi16>
  // expected-error@+1 {{requires a non-empty 'sym_name'}}
  %a = "intar.relu"(%x) {sym_name = ""} : (tensor<4x8xi16>) -> tensor<4x8xi16>
  "intar.output"(%a) : (tensor<4x8xi16>) -> ()
}) {sym_name = "g"} : () -> ()
