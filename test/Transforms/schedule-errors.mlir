// RUN: intar-opt %s --split-input-file --verify-diagnostics '--intar-schedule=device=tiny mode=dataflow dsp=1'
// RUN: not intar-opt %s --split-input-file --verify-diagnostics '--intar-schedule=device=tiny dsp=100' 2>&1 | FileCheck %s --check-prefix=OVER
// RUN: not intar-opt %s '--intar-schedule=device=nowhere' 2>&1 | FileCheck %s --check-prefix=DEVICE
// RUN: not intar-opt %s '--intar-schedule=mode=fast' 2>&1 | FileCheck %s --check-prefix=MODE
// RUN: not intar-opt %s '--intar-schedule=colour=red' 2>&1 | FileCheck %s --check-prefix=OPTION

// A dataflow design needs a core per product: one DSP cannot hold two.
// expected-error@+1 {{cannot schedule 'twin' on tiny in dataflow mode: dsp: need 2, have 1 (short by 1)}}
"intar.graph"() ({
  %x = "intar.input"() {sym_name = "x"} : () -> tensor<8x8xi16>
  %w = "intar.weight"() {sym_name = "w", seed = 1 : i64} : () -> tensor<8x8xi16>
  %a = "intar.matmul"(%x, %w) {sym_name = "a", shift = 12 : i64} : (tensor<8x8xi16>, tensor<8x8xi16>) -> tensor<8x8xi16>
  %b = "intar.matmul"(%x, %w) {sym_name = "b", shift = 12 : i64} : (tensor<8x8xi16>, tensor<8x8xi16>) -> tensor<8x8xi16>
  "intar.output"(%a, %b) : (tensor<8x8xi16>, tensor<8x8xi16>) -> ()
}) {sym_name = "twin"} : () -> ()

// OVER: unexpected error: cannot schedule 'twin' on tiny in intar mode: dsp: need 100, have 64 (short by 36): budget exceeds tiny's DSPs
// DEVICE: error: intar-schedule: unknown device 'nowhere'; known: tiny, u280, vpk180
// MODE: intar-opt: error: invalid value 'fast' for option 'mode': must be one of intar, dataflow, sequential
// OPTION: intar-opt: error: invalid option 'colour=red' for pass 'intar-schedule'
