// RUN: intar-opt %s --split-input-file --verify-diagnostics '--pass-pipeline=builtin.module(intar-schedule{device=tiny mode=sequential}, intar-lower-to-hw)'
// RUN: not intar-opt %s --intar-lower-to-hw 2>&1 | FileCheck %s --check-prefix=NODESIGN

// The hardware template builds convolutions of stride 1 only: the error points at the task.
"intar.graph"() ({
  %x = "intar.input"() {sym_name = "x"} : () -> tensor<2x6x6xi16>
  %w = "intar.weight"() {sym_name = "w", seed = 1 : i64} : () -> tensor<2x2x3x3xi16>
  // expected-error@+1 {{intar-lower-to-hw: cannot build 'conv_sequential': conv2d with stride 2 is not built (the template builds stride 1)}}
  %c = "intar.conv2d"(%x, %w) {sym_name = "c", shift = 8 : i64, stride = 2 : i64} : (tensor<2x6x6xi16>, tensor<2x2x3x3xi16>) -> tensor<2x2x2xi16>
  "intar.output"(%c) : (tensor<2x2x2xi16>) -> ()
}) {sym_name = "conv"} : () -> ()

// NODESIGN: error: intar-lower-to-hw: no intar.design to lower
