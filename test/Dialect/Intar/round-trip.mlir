// RUN: intar-opt %s | FileCheck %s
// RUN: intar-opt %s | intar-opt | FileCheck %s
// Every task kind and every scheduled-level op parses, verifies and prints back.

// CHECK-LABEL: "intar.graph"
// CHECK: "intar.input"() {sym_name = "x"} : () -> tensor<4x8xi16>
// CHECK: "intar.weight"() {seed = 7 : i64, sym_name = "w"} : () -> tensor<8x8xi8>
// CHECK: "intar.weight"() {sym_name = "g"
// CHECK-SAME: value = dense<[1, -2, 3, -4, 5, -6, 7, -8]> : tensor<8xi4>
// CHECK: "intar.matmul"(%{{.*}}, %{{.*}}) {shift = 6 : i64, sym_name = "mm", transpose_rhs}
// CHECK: "intar.add"
// CHECK: "intar.mul"
// CHECK: "intar.relu"
// CHECK: "intar.gelu"
// CHECK: "intar.silu"
// CHECK: "intar.exp"
// CHECK: "intar.softmax"(%{{.*}}) {causal, frac_bits = 8 : i64, out_frac_bits = 14 : i64
// CHECK: "intar.layernorm"
// CHECK: "intar.requantize"
// CHECK: "intar.reshape"
// CHECK: "intar.transpose"(%{{.*}}) {perm = array<i64: 1, 0, 2>
// CHECK: "intar.conv2d"
// CHECK: "intar.conv_transpose2d"
// CHECK: "intar.upsample"
// CHECK: "intar.maxpool"
// CHECK: "intar.output"
"intar.graph"() ({
  %x = "intar.input"() {sym_name = "x"} : () -> tensor<4x8xi16>
  %w = "intar.weight"() {sym_name = "w", seed = 7 : i64} : () -> tensor<8x8xi8>
  %g = "intar.weight"() {sym_name = "g", value = dense<[1, -2, 3, -4, 5, -6, 7, -8]> : tensor<8xi4>} : () -> tensor<8xi4>
  %mm = "intar.matmul"(%x, %w) {sym_name = "mm", transpose_rhs, shift = 6 : i64} : (tensor<4x8xi16>, tensor<8x8xi8>) -> tensor<4x8xi16>
  %add = "intar.add"(%mm, %x) {sym_name = "add"} : (tensor<4x8xi16>, tensor<4x8xi16>) -> tensor<4x8xi16>
  %mul = "intar.mul"(%add, %g) {sym_name = "mul", shift = 2 : i64} : (tensor<4x8xi16>, tensor<8xi4>) -> tensor<4x8xi16>
  %relu = "intar.relu"(%mul) {sym_name = "relu"} : (tensor<4x8xi16>) -> tensor<4x8xi16>
  %gelu = "intar.gelu"(%relu) {sym_name = "gelu", frac_bits = 8 : i64} : (tensor<4x8xi16>) -> tensor<4x8xi16>
  %silu = "intar.silu"(%gelu) {sym_name = "silu", frac_bits = 8 : i64} : (tensor<4x8xi16>) -> tensor<4x8xi16>
  %exp = "intar.exp"(%silu) {sym_name = "exp", frac_bits = 8 : i64} : (tensor<4x8xi16>) -> tensor<4x8xi16>
  %sm = "intar.softmax"(%exp) {sym_name = "sm", frac_bits = 8 : i64, out_frac_bits = 14 : i64, causal} : (tensor<4x8xi16>) -> tensor<4x8xi16>
  %gamma = "intar.weight"() {sym_name = "gamma", seed = 1 : i64} : () -> tensor<8xi16>
  %beta = "intar.weight"() {sym_name = "beta", seed = 2 : i64} : () -> tensor<8xi16>
  %ln = "intar.layernorm"(%sm, %gamma, %beta) {sym_name = "ln", frac_bits = 10 : i64} : (tensor<4x8xi16>, tensor<8xi16>, tensor<8xi16>) -> tensor<4x8xi16>
  %rq = "intar.requantize"(%ln) {sym_name = "rq", shift = 8 : i64} : (tensor<4x8xi16>) -> tensor<4x8xi8>
  %rs = "intar.reshape"(%rq) {sym_name = "rs"} : (tensor<4x8xi8>) -> tensor<2x4x4xi8>
  %tr = "intar.transpose"(%rs) {sym_name = "tr", perm = array<i64: 1, 0, 2>} : (tensor<2x4x4xi8>) -> tensor<4x2x4xi8>
  %f = "intar.weight"() {sym_name = "f", seed = 3 : i64} : () -> tensor<2x4x3x3xi8>
  %conv = "intar.conv2d"(%tr, %f) {sym_name = "conv", padding = 1 : i64, shift = 4 : i64} : (tensor<4x2x4xi8>, tensor<2x4x3x3xi8>) -> tensor<2x2x4xi16>
  %ft = "intar.weight"() {sym_name = "ft", seed = 4 : i64} : () -> tensor<2x3x2x2xi8>
  %convt = "intar.conv_transpose2d"(%conv, %ft) {sym_name = "convt", stride = 2 : i64} : (tensor<2x2x4xi16>, tensor<2x3x2x2xi8>) -> tensor<3x4x8xi32>
  %up = "intar.upsample"(%convt) {sym_name = "up"} : (tensor<3x4x8xi32>) -> tensor<3x8x16xi32>
  %pool = "intar.maxpool"(%up) {sym_name = "pool"} : (tensor<3x8x16xi32>) -> tensor<3x4x8xi32>
  "intar.output"(%pool, %mm) : (tensor<3x4x8xi32>, tensor<4x8xi16>) -> ()
}) {sym_name = "everything"} : () -> ()

// CHECK-LABEL: "intar.graph"
// CHECK: sym_name = "chain"
"intar.graph"() ({
  %x = "intar.input"() {sym_name = "x"} : () -> tensor<8x16xi16>
  %w = "intar.weight"() {sym_name = "w", seed = 1 : i64} : () -> tensor<16x16xi16>
  %a = "intar.matmul"(%x, %w) {sym_name = "a", shift = 8 : i64} : (tensor<8x16xi16>, tensor<16x16xi16>) -> tensor<8x16xi16>
  %b = "intar.relu"(%a) {sym_name = "b"} : (tensor<8x16xi16>) -> tensor<8x16xi16>
  "intar.output"(%b) : (tensor<8x16xi16>) -> ()
}) {sym_name = "chain"} : () -> ()

// CHECK: "intar.design"() ({
// CHECK: "intar.core"() {pe = array<i64: 2, 4, 4>, scratchpad_bytes = 4096 : i64, scratchpad_ports = 2 : i64, sym_name = "cc0"}
// CHECK: "intar.sfu"() {dsps = 0 : i64, kind = "relu", lanes = 4 : i64, sym_name = "relu0"}
// CHECK: "intar.port"() {channel = 0 : i64, sym_name = "hbm0", width = 256 : i64}
// CHECK: "intar.link"() {depth = 16 : i64, dest = @relu0, source = @cc0, sym_name = "cc0_relu0"
// CHECK: "intar.buffer"() {bytes = 256 : i64, home = @hbm0, placement = "offchip", sym_name = "buf_x", tensor = @x}
// CHECK: "intar.schedule"() ({
// CHECK: "intar.phase"() ({
// CHECK: "intar.assign"() {bounds = array<i64: 2, 4, 4>, sinks = [@cc0_relu0], slice = array<i64: 0, 0, 4>, sources = [@buf_x, @buf_w], stage = 0 : i64, task = @a, unit = @cc0}
// CHECK: {cycles = 40 : i64, pattern = "task_pipeline", sym_name = "p0"}
// CHECK: "intar.switch"() {cycles = 3 : i64, from = @p0, to = @p1}
// CHECK: pattern = "sequential", sym_name = "p1"
// CHECK: dsp_budget = 32 : i64, graph = @chain, mode = "intar"
"intar.design"() ({
  "intar.core"() {sym_name = "cc0", pe = array<i64: 2, 4, 4>, scratchpad_bytes = 4096 : i64, scratchpad_ports = 2 : i64} : () -> ()
  "intar.sfu"() {sym_name = "relu0", kind = "relu", lanes = 4 : i64, dsps = 0 : i64} : () -> ()
  "intar.port"() {sym_name = "hbm0", channel = 0 : i64, width = 256 : i64} : () -> ()
  "intar.link"() {sym_name = "cc0_relu0", source = @cc0, dest = @relu0, width = 64 : i64, depth = 16 : i64} : () -> ()
  "intar.buffer"() {sym_name = "buf_x", tensor = @x, placement = "offchip", home = @hbm0, bytes = 256 : i64} : () -> ()
  "intar.buffer"() {sym_name = "buf_w", tensor = @w, placement = "onchip", home = @cc0, bytes = 512 : i64} : () -> ()
  "intar.buffer"() {sym_name = "buf_b", tensor = @b, placement = "offchip", home = @hbm0, bytes = 256 : i64} : () -> ()
  "intar.schedule"() ({
    "intar.phase"() ({
      "intar.assign"() {task = @a, unit = @cc0, stage = 0 : i64, slice = array<i64: 0, 0, 4>, bounds = array<i64: 2, 4, 4>, sources = [@buf_x, @buf_w], sinks = [@cc0_relu0]} : () -> ()
      "intar.assign"() {task = @b, unit = @relu0, stage = 0 : i64, slice = array<i64: 0, 0, 4>, bounds = array<i64: 4, 4, 1>, sources = [@cc0_relu0], sinks = [@buf_b]} : () -> ()
    }) {sym_name = "p0", pattern = "task_pipeline", cycles = 40 : i64} : () -> ()
    "intar.switch"() {from = @p0, to = @p1, cycles = 3 : i64} : () -> ()
    "intar.phase"() ({
      "intar.assign"() {task = @a, unit = @cc0, stage = 1 : i64, slice = array<i64: 0, 4, 8>, bounds = array<i64: 2, 4, 4>, sources = [@buf_x, @buf_w], sinks = [@cc0_relu0]} : () -> ()
      "intar.assign"() {task = @b, unit = @relu0, stage = 1 : i64, slice = array<i64: 0, 4, 8>, bounds = array<i64: 4, 4, 1>, sources = [@cc0_relu0], sinks = [@buf_b]} : () -> ()
    }) {sym_name = "p1", pattern = "sequential", cycles = 40 : i64} : () -> ()
  }) : () -> ()
}) {sym_name = "chain_intar", graph = @chain, device = "tiny", mode = "intar", dsp_budget = 32 : i64, port_budget = 2 : i64} : () -> ()
