// RUN: intar-opt %s --split-input-file --verify-diagnostics
// Every scheduled-level verifier rule, one violation per chunk. The first chunk is valid.
"intar.graph"() ({
  %x = "intar.input"() {sym_name = "x"} : () -> tensor<8x16xi16>
  %w = "intar.weight"() {sym_name = "w", seed = 1 : i64} : () -> tensor<16x16xi16>
  %a = "intar.matmul"(%x, %w) {sym_name = "a", shift = 8 : i64} : (tensor<8x16xi16>, tensor<16x16xi16>) -> tensor<8x16xi16>
  %b = "intar.relu"(%a) {sym_name = "b"} : (tensor<8x16xi16>) -> tensor<8x16xi16>
  "intar.output"(%b) : (tensor<8x16xi16>) -> ()
}) {sym_name = "chain"} : () -> ()

"intar.design"() ({
  "intar.core"() {sym_name = "cc0", pe = array<i64: 2, 4, 4>, scratchpad_bytes = 4096 : i64, scratchpad_ports = 2 : i64} : () -> ()
  "intar.sfu"() {sym_name = "relu0", kind = "relu", lanes = 4 : i64, dsps = 0 : i64} : () -> ()
  "intar.port"() {sym_name = "hbm0", channel = 0 : i64, width = 256 : i64} : () -> ()
  "intar.link"() {sym_name = "l0", source = @cc0, dest = @relu0, width = 64 : i64, depth = 16 : i64} : () -> ()
  "intar.buffer"() {sym_name = "buf_x", tensor = @x, placement = "offchip", home = @hbm0, bytes = 256 : i64} : () -> ()
  "intar.buffer"() {sym_name = "buf_w", tensor = @w, placement = "onchip", home = @cc0, bytes = 512 : i64} : () -> ()
  "intar.buffer"() {sym_name = "buf_b", tensor = @b, placement = "offchip", home = @hbm0, bytes = 256 : i64} : () -> ()
  "intar.schedule"() ({
    "intar.phase"() ({
      "intar.assign"() {task = @a, unit = @cc0, stage = 0 : i64, slice = array<i64: 0, 0, 8>, bounds = array<i64: 4, 4, 4>, sources = [@buf_x, @buf_w], sinks = [@l0]} : () -> ()
    }) {sym_name = "p0", pattern = "sequential", cycles = 40 : i64} : () -> ()
    "intar.switch"() {from = @p0, to = @p1, cycles = 3 : i64} : () -> ()
    "intar.phase"() ({
      "intar.assign"() {task = @b, unit = @relu0, stage = 0 : i64, slice = array<i64: 0, 0, 8>, bounds = array<i64: 16, 2, 1>, loop_order = "jik", sources = [@l0], sinks = [@buf_b]} : () -> ()
    }) {sym_name = "p1", pattern = "task_parallel", cycles = 40 : i64} : () -> ()
  }) : () -> ()
}) {sym_name = "d", graph = @chain, device = "tiny", mode = "intar", dsp_budget = 32 : i64, port_budget = 2 : i64} : () -> ()

// -----

"intar.graph"() ({
  %x = "intar.input"() {sym_name = "x"} : () -> tensor<8x16xi16>
  %w = "intar.weight"() {sym_name = "w", seed = 1 : i64} : () -> tensor<16x16xi16>
  %a = "intar.matmul"(%x, %w) {sym_name = "a", shift = 8 : i64} : (tensor<8x16xi16>, tensor<16x16xi16>) -> tensor<8x16xi16>
  %b = "intar.relu"(%a) {sym_name = "b"} : (tensor<8x16xi16>) -> tensor<8x16xi16>
  "intar.output"(%b) : (tensor<8x16xi16>) -> ()
}) {sym_name = "chain"} : () -> ()

// expected-error@+1 {{'mode' must be one of intar, dataflow, sequential, got 'fast'}}
"intar.design"() ({
  "intar.core"() {sym_name = "cc0", pe = array<i64: 2, 4, 4>, scratchpad_bytes = 4096 : i64, scratchpad_ports = 2 : i64} : () -> ()
  "intar.sfu"() {sym_name = "relu0", kind = "relu", lanes = 4 : i64, dsps = 0 : i64} : () -> ()
  "intar.port"() {sym_name = "hbm0", channel = 0 : i64, width = 256 : i64} : () -> ()
  "intar.link"() {sym_name = "l0", source = @cc0, dest = @relu0, width = 64 : i64, depth = 16 : i64} : () -> ()
  "intar.buffer"() {sym_name = "buf_x", tensor = @x, placement = "offchip", home = @hbm0, bytes = 256 : i64} : () -> ()
  "intar.buffer"() {sym_name = "buf_w", tensor = @w, placement = "onchip", home = @cc0, bytes = 512 : i64} : () -> ()
  "intar.buffer"() {sym_name = "buf_b", tensor = @b, placement = "offchip", home = @hbm0, bytes = 256 : i64} : () -> ()
  "intar.schedule"() ({
    "intar.phase"() ({
      "intar.assign"() {task = @a, unit = @cc0, stage = 0 : i64, slice = array<i64: 0, 0, 8>, bounds = array<i64: 4, 4, 4>, sources = [@buf_x, @buf_w], sinks = [@l0]} : () -> ()
    }) {sym_name = "p0", pattern = "sequential", cycles = 40 : i64} : () -> ()
    "intar.switch"() {from = @p0, to = @p1, cycles = 3 : i64} : () -> ()
    "intar.phase"() ({
      "intar.assign"() {task = @b, unit = @relu0, stage = 0 : i64, slice = array<i64: 0, 0, 8>, bounds = array<i64: 8, 4, 1>, sources = [@l0], sinks = [@buf_b]} : () -> ()
    }) {sym_name = "p1", pattern = "task_parallel", cycles = 40 : i64} : () -> ()
  }) : () -> ()
}) {sym_name = "d", graph = @chain, device = "tiny", mode = "fast", dsp_budget = 32 : i64, port_budget = 2 : i64} : () -> ()

// -----

"intar.graph"() ({
  %x = "intar.input"() {sym_name = "x"} : () -> tensor<8x16xi16>
  %w = "intar.weight"() {sym_name = "w", seed = 1 : i64} : () -> tensor<16x16xi16>
  %a = "intar.matmul"(%x, %w) {sym_name = "a", shift = 8 : i64} : (tensor<8x16xi16>, tensor<16x16xi16>) -> tensor<8x16xi16>
  %b = "intar.relu"(%a) {sym_name = "b"} : (tensor<8x16xi16>) -> tensor<8x16xi16>
  "intar.output"(%b) : (tensor<8x16xi16>) -> ()
}) {sym_name = "chain"} : () -> ()

// expected-error@+1 {{names graph @nope, which does not exist}}
"intar.design"() ({
  "intar.core"() {sym_name = "cc0", pe = array<i64: 2, 4, 4>, scratchpad_bytes = 4096 : i64, scratchpad_ports = 2 : i64} : () -> ()
  "intar.sfu"() {sym_name = "relu0", kind = "relu", lanes = 4 : i64, dsps = 0 : i64} : () -> ()
  "intar.port"() {sym_name = "hbm0", channel = 0 : i64, width = 256 : i64} : () -> ()
  "intar.link"() {sym_name = "l0", source = @cc0, dest = @relu0, width = 64 : i64, depth = 16 : i64} : () -> ()
  "intar.buffer"() {sym_name = "buf_x", tensor = @x, placement = "offchip", home = @hbm0, bytes = 256 : i64} : () -> ()
  "intar.buffer"() {sym_name = "buf_w", tensor = @w, placement = "onchip", home = @cc0, bytes = 512 : i64} : () -> ()
  "intar.buffer"() {sym_name = "buf_b", tensor = @b, placement = "offchip", home = @hbm0, bytes = 256 : i64} : () -> ()
  "intar.schedule"() ({
    "intar.phase"() ({
      "intar.assign"() {task = @a, unit = @cc0, stage = 0 : i64, slice = array<i64: 0, 0, 8>, bounds = array<i64: 4, 4, 4>, sources = [@buf_x, @buf_w], sinks = [@l0]} : () -> ()
    }) {sym_name = "p0", pattern = "sequential", cycles = 40 : i64} : () -> ()
    "intar.switch"() {from = @p0, to = @p1, cycles = 3 : i64} : () -> ()
    "intar.phase"() ({
      "intar.assign"() {task = @b, unit = @relu0, stage = 0 : i64, slice = array<i64: 0, 0, 8>, bounds = array<i64: 8, 4, 1>, sources = [@l0], sinks = [@buf_b]} : () -> ()
    }) {sym_name = "p1", pattern = "task_parallel", cycles = 40 : i64} : () -> ()
  }) : () -> ()
}) {sym_name = "d", graph = @nope, device = "tiny", mode = "intar", dsp_budget = 32 : i64, port_budget = 2 : i64} : () -> ()

// -----

"intar.graph"() ({
  %x = "intar.input"() {sym_name = "x"} : () -> tensor<8x16xi16>
  %w = "intar.weight"() {sym_name = "w", seed = 1 : i64} : () -> tensor<16x16xi16>
  %a = "intar.matmul"(%x, %w) {sym_name = "a", shift = 8 : i64} : (tensor<8x16xi16>, tensor<16x16xi16>) -> tensor<8x16xi16>
  %b = "intar.relu"(%a) {sym_name = "b"} : (tensor<8x16xi16>) -> tensor<8x16xi16>
  "intar.output"(%b) : (tensor<8x16xi16>) -> ()
}) {sym_name = "chain"} : () -> ()

// SFU multipliers count against the budget too.
// expected-error@+1 {{cores use 32 and SFUs 2 DSPs, over the budget of 33}}
"intar.design"() ({
  "intar.core"() {sym_name = "cc0", pe = array<i64: 2, 4, 4>, scratchpad_bytes = 4096 : i64, scratchpad_ports = 2 : i64} : () -> ()
  "intar.sfu"() {sym_name = "relu0", kind = "relu", lanes = 4 : i64, dsps = 2 : i64} : () -> ()
  "intar.port"() {sym_name = "hbm0", channel = 0 : i64, width = 256 : i64} : () -> ()
  "intar.link"() {sym_name = "l0", source = @cc0, dest = @relu0, width = 64 : i64, depth = 16 : i64} : () -> ()
  "intar.buffer"() {sym_name = "buf_x", tensor = @x, placement = "offchip", home = @hbm0, bytes = 256 : i64} : () -> ()
  "intar.buffer"() {sym_name = "buf_w", tensor = @w, placement = "onchip", home = @cc0, bytes = 512 : i64} : () -> ()
  "intar.buffer"() {sym_name = "buf_b", tensor = @b, placement = "offchip", home = @hbm0, bytes = 256 : i64} : () -> ()
  "intar.schedule"() ({
    "intar.phase"() ({
      "intar.assign"() {task = @a, unit = @cc0, stage = 0 : i64, slice = array<i64: 0, 0, 8>, bounds = array<i64: 4, 4, 4>, sources = [@buf_x, @buf_w], sinks = [@l0]} : () -> ()
    }) {sym_name = "p0", pattern = "sequential", cycles = 40 : i64} : () -> ()
    "intar.switch"() {from = @p0, to = @p1, cycles = 3 : i64} : () -> ()
    "intar.phase"() ({
      "intar.assign"() {task = @b, unit = @relu0, stage = 0 : i64, slice = array<i64: 0, 0, 8>, bounds = array<i64: 8, 4, 1>, sources = [@l0], sinks = [@buf_b]} : () -> ()
    }) {sym_name = "p1", pattern = "task_parallel", cycles = 40 : i64} : () -> ()
  }) : () -> ()
}) {sym_name = "d", graph = @chain, device = "tiny", mode = "intar", dsp_budget = 33 : i64, port_budget = 2 : i64} : () -> ()

// -----

"intar.graph"() ({
  %x = "intar.input"() {sym_name = "x"} : () -> tensor<8x16xi16>
  %w = "intar.weight"() {sym_name = "w", seed = 1 : i64} : () -> tensor<16x16xi16>
  %a = "intar.matmul"(%x, %w) {sym_name = "a", shift = 8 : i64} : (tensor<8x16xi16>, tensor<16x16xi16>) -> tensor<8x16xi16>
  %b = "intar.relu"(%a) {sym_name = "b"} : (tensor<8x16xi16>) -> tensor<8x16xi16>
  "intar.output"(%b) : (tensor<8x16xi16>) -> ()
}) {sym_name = "chain"} : () -> ()

// expected-error@+1 {{uses 2 off-chip ports, over the budget of 1}}
"intar.design"() ({
  "intar.core"() {sym_name = "cc0", pe = array<i64: 2, 4, 4>, scratchpad_bytes = 4096 : i64, scratchpad_ports = 2 : i64} : () -> ()
  "intar.sfu"() {sym_name = "relu0", kind = "relu", lanes = 4 : i64, dsps = 0 : i64} : () -> ()
  "intar.port"() {sym_name = "hbm1", channel = 1 : i64, width = 256 : i64} : () -> ()
  "intar.port"() {sym_name = "hbm0", channel = 0 : i64, width = 256 : i64} : () -> ()
  "intar.link"() {sym_name = "l0", source = @cc0, dest = @relu0, width = 64 : i64, depth = 16 : i64} : () -> ()
  "intar.buffer"() {sym_name = "buf_x", tensor = @x, placement = "offchip", home = @hbm0, bytes = 256 : i64} : () -> ()
  "intar.buffer"() {sym_name = "buf_w", tensor = @w, placement = "onchip", home = @cc0, bytes = 512 : i64} : () -> ()
  "intar.buffer"() {sym_name = "buf_b", tensor = @b, placement = "offchip", home = @hbm0, bytes = 256 : i64} : () -> ()
  "intar.schedule"() ({
    "intar.phase"() ({
      "intar.assign"() {task = @a, unit = @cc0, stage = 0 : i64, slice = array<i64: 0, 0, 8>, bounds = array<i64: 4, 4, 4>, sources = [@buf_x, @buf_w], sinks = [@l0]} : () -> ()
    }) {sym_name = "p0", pattern = "sequential", cycles = 40 : i64} : () -> ()
    "intar.switch"() {from = @p0, to = @p1, cycles = 3 : i64} : () -> ()
    "intar.phase"() ({
      "intar.assign"() {task = @b, unit = @relu0, stage = 0 : i64, slice = array<i64: 0, 0, 8>, bounds = array<i64: 8, 4, 1>, sources = [@l0], sinks = [@buf_b]} : () -> ()
    }) {sym_name = "p1", pattern = "task_parallel", cycles = 40 : i64} : () -> ()
  }) : () -> ()
}) {sym_name = "d", graph = @chain, device = "tiny", mode = "intar", dsp_budget = 32 : i64, port_budget = 1 : i64} : () -> ()

// -----

"intar.graph"() ({
  %x = "intar.input"() {sym_name = "x"} : () -> tensor<8x16xi16>
  %w = "intar.weight"() {sym_name = "w", seed = 1 : i64} : () -> tensor<16x16xi16>
  %a = "intar.matmul"(%x, %w) {sym_name = "a", shift = 8 : i64} : (tensor<8x16xi16>, tensor<16x16xi16>) -> tensor<8x16xi16>
  %b = "intar.relu"(%a) {sym_name = "b"} : (tensor<8x16xi16>) -> tensor<8x16xi16>
  "intar.output"(%b) : (tensor<8x16xi16>) -> ()
}) {sym_name = "chain"} : () -> ()

"intar.design"() ({
  // expected-error@+1 {{'pe' must be three positive dimensions [d1, d2, d3], got [2, 4]}}
  "intar.core"() {sym_name = "cc0", pe = array<i64: 2, 4>, scratchpad_bytes = 4096 : i64, scratchpad_ports = 2 : i64} : () -> ()
  "intar.sfu"() {sym_name = "relu0", kind = "relu", lanes = 4 : i64, dsps = 0 : i64} : () -> ()
  "intar.port"() {sym_name = "hbm0", channel = 0 : i64, width = 256 : i64} : () -> ()
  "intar.link"() {sym_name = "l0", source = @cc0, dest = @relu0, width = 64 : i64, depth = 16 : i64} : () -> ()
  "intar.buffer"() {sym_name = "buf_x", tensor = @x, placement = "offchip", home = @hbm0, bytes = 256 : i64} : () -> ()
  "intar.buffer"() {sym_name = "buf_w", tensor = @w, placement = "onchip", home = @cc0, bytes = 512 : i64} : () -> ()
  "intar.buffer"() {sym_name = "buf_b", tensor = @b, placement = "offchip", home = @hbm0, bytes = 256 : i64} : () -> ()
  "intar.schedule"() ({
    "intar.phase"() ({
      "intar.assign"() {task = @a, unit = @cc0, stage = 0 : i64, slice = array<i64: 0, 0, 8>, bounds = array<i64: 4, 4, 4>, sources = [@buf_x, @buf_w], sinks = [@l0]} : () -> ()
    }) {sym_name = "p0", pattern = "sequential", cycles = 40 : i64} : () -> ()
    "intar.switch"() {from = @p0, to = @p1, cycles = 3 : i64} : () -> ()
    "intar.phase"() ({
      "intar.assign"() {task = @b, unit = @relu0, stage = 0 : i64, slice = array<i64: 0, 0, 8>, bounds = array<i64: 8, 4, 1>, sources = [@l0], sinks = [@buf_b]} : () -> ()
    }) {sym_name = "p1", pattern = "task_parallel", cycles = 40 : i64} : () -> ()
  }) : () -> ()
}) {sym_name = "d", graph = @chain, device = "tiny", mode = "intar", dsp_budget = 32 : i64, port_budget = 2 : i64} : () -> ()

// -----

"intar.graph"() ({
  %x = "intar.input"() {sym_name = "x"} : () -> tensor<8x16xi16>
  %w = "intar.weight"() {sym_name = "w", seed = 1 : i64} : () -> tensor<16x16xi16>
  %a = "intar.matmul"(%x, %w) {sym_name = "a", shift = 8 : i64} : (tensor<8x16xi16>, tensor<16x16xi16>) -> tensor<8x16xi16>
  %b = "intar.relu"(%a) {sym_name = "b"} : (tensor<8x16xi16>) -> tensor<8x16xi16>
  "intar.output"(%b) : (tensor<8x16xi16>) -> ()
}) {sym_name = "chain"} : () -> ()

"intar.design"() ({
  "intar.core"() {sym_name = "cc0", pe = array<i64: 2, 4, 4>, scratchpad_bytes = 4096 : i64, scratchpad_ports = 2 : i64} : () -> ()
  // expected-error@+1 {{unknown special-function kind 'sqrt'}}
  "intar.sfu"() {sym_name = "relu0", kind = "sqrt", lanes = 4 : i64, dsps = 0 : i64} : () -> ()
  "intar.port"() {sym_name = "hbm0", channel = 0 : i64, width = 256 : i64} : () -> ()
  "intar.link"() {sym_name = "l0", source = @cc0, dest = @relu0, width = 64 : i64, depth = 16 : i64} : () -> ()
  "intar.buffer"() {sym_name = "buf_x", tensor = @x, placement = "offchip", home = @hbm0, bytes = 256 : i64} : () -> ()
  "intar.buffer"() {sym_name = "buf_w", tensor = @w, placement = "onchip", home = @cc0, bytes = 512 : i64} : () -> ()
  "intar.buffer"() {sym_name = "buf_b", tensor = @b, placement = "offchip", home = @hbm0, bytes = 256 : i64} : () -> ()
  "intar.schedule"() ({
    "intar.phase"() ({
      "intar.assign"() {task = @a, unit = @cc0, stage = 0 : i64, slice = array<i64: 0, 0, 8>, bounds = array<i64: 4, 4, 4>, sources = [@buf_x, @buf_w], sinks = [@l0]} : () -> ()
    }) {sym_name = "p0", pattern = "sequential", cycles = 40 : i64} : () -> ()
    "intar.switch"() {from = @p0, to = @p1, cycles = 3 : i64} : () -> ()
    "intar.phase"() ({
      "intar.assign"() {task = @b, unit = @relu0, stage = 0 : i64, slice = array<i64: 0, 0, 8>, bounds = array<i64: 8, 4, 1>, sources = [@l0], sinks = [@buf_b]} : () -> ()
    }) {sym_name = "p1", pattern = "task_parallel", cycles = 40 : i64} : () -> ()
  }) : () -> ()
}) {sym_name = "d", graph = @chain, device = "tiny", mode = "intar", dsp_budget = 32 : i64, port_budget = 2 : i64} : () -> ()

// -----

"intar.graph"() ({
  %x = "intar.input"() {sym_name = "x"} : () -> tensor<8x16xi16>
  %w = "intar.weight"() {sym_name = "w", seed = 1 : i64} : () -> tensor<16x16xi16>
  %a = "intar.matmul"(%x, %w) {sym_name = "a", shift = 8 : i64} : (tensor<8x16xi16>, tensor<16x16xi16>) -> tensor<8x16xi16>
  %b = "intar.relu"(%a) {sym_name = "b"} : (tensor<8x16xi16>) -> tensor<8x16xi16>
  "intar.output"(%b) : (tensor<8x16xi16>) -> ()
}) {sym_name = "chain"} : () -> ()

"intar.design"() ({
  "intar.core"() {sym_name = "cc0", pe = array<i64: 2, 4, 4>, scratchpad_bytes = 4096 : i64, scratchpad_ports = 2 : i64} : () -> ()
  // expected-error@+1 {{'dsps' must be non-negative}}
  "intar.sfu"() {sym_name = "relu0", kind = "relu", lanes = 4 : i64, dsps = -1 : i64} : () -> ()
  "intar.port"() {sym_name = "hbm0", channel = 0 : i64, width = 256 : i64} : () -> ()
  "intar.link"() {sym_name = "l0", source = @cc0, dest = @relu0, width = 64 : i64, depth = 16 : i64} : () -> ()
  "intar.buffer"() {sym_name = "buf_x", tensor = @x, placement = "offchip", home = @hbm0, bytes = 256 : i64} : () -> ()
  "intar.buffer"() {sym_name = "buf_w", tensor = @w, placement = "onchip", home = @cc0, bytes = 512 : i64} : () -> ()
  "intar.buffer"() {sym_name = "buf_b", tensor = @b, placement = "offchip", home = @hbm0, bytes = 256 : i64} : () -> ()
  "intar.schedule"() ({
    "intar.phase"() ({
      "intar.assign"() {task = @a, unit = @cc0, stage = 0 : i64, slice = array<i64: 0, 0, 8>, bounds = array<i64: 4, 4, 4>, sources = [@buf_x, @buf_w], sinks = [@l0]} : () -> ()
    }) {sym_name = "p0", pattern = "sequential", cycles = 40 : i64} : () -> ()
    "intar.switch"() {from = @p0, to = @p1, cycles = 3 : i64} : () -> ()
    "intar.phase"() ({
      "intar.assign"() {task = @b, unit = @relu0, stage = 0 : i64, slice = array<i64: 0, 0, 8>, bounds = array<i64: 8, 4, 1>, sources = [@l0], sinks = [@buf_b]} : () -> ()
    }) {sym_name = "p1", pattern = "task_parallel", cycles = 40 : i64} : () -> ()
  }) : () -> ()
}) {sym_name = "d", graph = @chain, device = "tiny", mode = "intar", dsp_budget = 32 : i64, port_budget = 2 : i64} : () -> ()

// -----

"intar.graph"() ({
  %x = "intar.input"() {sym_name = "x"} : () -> tensor<8x16xi16>
  %w = "intar.weight"() {sym_name = "w", seed = 1 : i64} : () -> tensor<16x16xi16>
  %a = "intar.matmul"(%x, %w) {sym_name = "a", shift = 8 : i64} : (tensor<8x16xi16>, tensor<16x16xi16>) -> tensor<8x16xi16>
  %b = "intar.relu"(%a) {sym_name = "b"} : (tensor<8x16xi16>) -> tensor<8x16xi16>
  "intar.output"(%b) : (tensor<8x16xi16>) -> ()
}) {sym_name = "chain"} : () -> ()

"intar.design"() ({
  "intar.core"() {sym_name = "cc0", pe = array<i64: 2, 4, 4>, scratchpad_bytes = 4096 : i64, scratchpad_ports = 2 : i64} : () -> ()
  "intar.sfu"() {sym_name = "relu0", kind = "relu", lanes = 4 : i64, dsps = 0 : i64} : () -> ()
  // expected-error@+1 {{'width' must be a positive multiple of 8 bits, got 12}}
  "intar.port"() {sym_name = "hbm0", channel = 0 : i64, width = 12 : i64} : () -> ()
  "intar.link"() {sym_name = "l0", source = @cc0, dest = @relu0, width = 64 : i64, depth = 16 : i64} : () -> ()
  "intar.buffer"() {sym_name = "buf_x", tensor = @x, placement = "offchip", home = @hbm0, bytes = 256 : i64} : () -> ()
  "intar.buffer"() {sym_name = "buf_w", tensor = @w, placement = "onchip", home = @cc0, bytes = 512 : i64} : () -> ()
  "intar.buffer"() {sym_name = "buf_b", tensor = @b, placement = "offchip", home = @hbm0, bytes = 256 : i64} : () -> ()
  "intar.schedule"() ({
    "intar.phase"() ({
      "intar.assign"() {task = @a, unit = @cc0, stage = 0 : i64, slice = array<i64: 0, 0, 8>, bounds = array<i64: 4, 4, 4>, sources = [@buf_x, @buf_w], sinks = [@l0]} : () -> ()
    }) {sym_name = "p0", pattern = "sequential", cycles = 40 : i64} : () -> ()
    "intar.switch"() {from = @p0, to = @p1, cycles = 3 : i64} : () -> ()
    "intar.phase"() ({
      "intar.assign"() {task = @b, unit = @relu0, stage = 0 : i64, slice = array<i64: 0, 0, 8>, bounds = array<i64: 8, 4, 1>, sources = [@l0], sinks = [@buf_b]} : () -> ()
    }) {sym_name = "p1", pattern = "task_parallel", cycles = 40 : i64} : () -> ()
  }) : () -> ()
}) {sym_name = "d", graph = @chain, device = "tiny", mode = "intar", dsp_budget = 32 : i64, port_budget = 2 : i64} : () -> ()

// -----

"intar.graph"() ({
  %x = "intar.input"() {sym_name = "x"} : () -> tensor<8x16xi16>
  %w = "intar.weight"() {sym_name = "w", seed = 1 : i64} : () -> tensor<16x16xi16>
  %a = "intar.matmul"(%x, %w) {sym_name = "a", shift = 8 : i64} : (tensor<8x16xi16>, tensor<16x16xi16>) -> tensor<8x16xi16>
  %b = "intar.relu"(%a) {sym_name = "b"} : (tensor<8x16xi16>) -> tensor<8x16xi16>
  "intar.output"(%b) : (tensor<8x16xi16>) -> ()
}) {sym_name = "chain"} : () -> ()

"intar.design"() ({
  "intar.core"() {sym_name = "cc0", pe = array<i64: 2, 4, 4>, scratchpad_bytes = 4096 : i64, scratchpad_ports = 2 : i64} : () -> ()
  "intar.sfu"() {sym_name = "relu0", kind = "relu", lanes = 4 : i64, dsps = 0 : i64} : () -> ()
  "intar.port"() {sym_name = "hbm0", channel = 0 : i64, width = 256 : i64} : () -> ()
  // expected-error@+1 {{names @cc9, which is not defined in the design}}
  "intar.link"() {sym_name = "l0", source = @cc9, dest = @relu0, width = 64 : i64, depth = 16 : i64} : () -> ()
  "intar.buffer"() {sym_name = "buf_x", tensor = @x, placement = "offchip", home = @hbm0, bytes = 256 : i64} : () -> ()
  "intar.buffer"() {sym_name = "buf_w", tensor = @w, placement = "onchip", home = @cc0, bytes = 512 : i64} : () -> ()
  "intar.buffer"() {sym_name = "buf_b", tensor = @b, placement = "offchip", home = @hbm0, bytes = 256 : i64} : () -> ()
  "intar.schedule"() ({
    "intar.phase"() ({
      "intar.assign"() {task = @a, unit = @cc0, stage = 0 : i64, slice = array<i64: 0, 0, 8>, bounds = array<i64: 4, 4, 4>, sources = [@buf_x, @buf_w], sinks = [@l0]} : () -> ()
    }) {sym_name = "p0", pattern = "sequential", cycles = 40 : i64} : () -> ()
    "intar.switch"() {from = @p0, to = @p1, cycles = 3 : i64} : () -> ()
    "intar.phase"() ({
      "intar.assign"() {task = @b, unit = @relu0, stage = 0 : i64, slice = array<i64: 0, 0, 8>, bounds = array<i64: 8, 4, 1>, sources = [@l0], sinks = [@buf_b]} : () -> ()
    }) {sym_name = "p1", pattern = "task_parallel", cycles = 40 : i64} : () -> ()
  }) : () -> ()
}) {sym_name = "d", graph = @chain, device = "tiny", mode = "intar", dsp_budget = 32 : i64, port_budget = 2 : i64} : () -> ()

// -----

"intar.graph"() ({
  %x = "intar.input"() {sym_name = "x"} : () -> tensor<8x16xi16>
  %w = "intar.weight"() {sym_name = "w", seed = 1 : i64} : () -> tensor<16x16xi16>
  %a = "intar.matmul"(%x, %w) {sym_name = "a", shift = 8 : i64} : (tensor<8x16xi16>, tensor<16x16xi16>) -> tensor<8x16xi16>
  %b = "intar.relu"(%a) {sym_name = "b"} : (tensor<8x16xi16>) -> tensor<8x16xi16>
  "intar.output"(%b) : (tensor<8x16xi16>) -> ()
}) {sym_name = "chain"} : () -> ()

"intar.design"() ({
  "intar.core"() {sym_name = "cc0", pe = array<i64: 2, 4, 4>, scratchpad_bytes = 4096 : i64, scratchpad_ports = 2 : i64} : () -> ()
  "intar.sfu"() {sym_name = "relu0", kind = "relu", lanes = 4 : i64, dsps = 0 : i64} : () -> ()
  "intar.port"() {sym_name = "hbm0", channel = 0 : i64, width = 256 : i64} : () -> ()
  // expected-error@+1 {{@buf_x must be a core, SFU or port, but it is 'intar.buffer'}}
  "intar.link"() {sym_name = "l0", source = @cc0, dest = @buf_x, width = 64 : i64, depth = 16 : i64} : () -> ()
  "intar.buffer"() {sym_name = "buf_x", tensor = @x, placement = "offchip", home = @hbm0, bytes = 256 : i64} : () -> ()
  "intar.buffer"() {sym_name = "buf_w", tensor = @w, placement = "onchip", home = @cc0, bytes = 512 : i64} : () -> ()
  "intar.buffer"() {sym_name = "buf_b", tensor = @b, placement = "offchip", home = @hbm0, bytes = 256 : i64} : () -> ()
  "intar.schedule"() ({
    "intar.phase"() ({
      "intar.assign"() {task = @a, unit = @cc0, stage = 0 : i64, slice = array<i64: 0, 0, 8>, bounds = array<i64: 4, 4, 4>, sources = [@buf_x, @buf_w], sinks = [@l0]} : () -> ()
    }) {sym_name = "p0", pattern = "sequential", cycles = 40 : i64} : () -> ()
    "intar.switch"() {from = @p0, to = @p1, cycles = 3 : i64} : () -> ()
    "intar.phase"() ({
      "intar.assign"() {task = @b, unit = @relu0, stage = 0 : i64, slice = array<i64: 0, 0, 8>, bounds = array<i64: 8, 4, 1>, sources = [@l0], sinks = [@buf_b]} : () -> ()
    }) {sym_name = "p1", pattern = "task_parallel", cycles = 40 : i64} : () -> ()
  }) : () -> ()
}) {sym_name = "d", graph = @chain, device = "tiny", mode = "intar", dsp_budget = 32 : i64, port_budget = 2 : i64} : () -> ()

// -----

"intar.graph"() ({
  %x = "intar.input"() {sym_name = "x"} : () -> tensor<8x16xi16>
  %w = "intar.weight"() {sym_name = "w", seed = 1 : i64} : () -> tensor<16x16xi16>
  %a = "intar.matmul"(%x, %w) {sym_name = "a", shift = 8 : i64} : (tensor<8x16xi16>, tensor<16x16xi16>) -> tensor<8x16xi16>
  %b = "intar.relu"(%a) {sym_name = "b"} : (tensor<8x16xi16>) -> tensor<8x16xi16>
  "intar.output"(%b) : (tensor<8x16xi16>) -> ()
}) {sym_name = "chain"} : () -> ()

"intar.design"() ({
  "intar.core"() {sym_name = "cc0", pe = array<i64: 2, 4, 4>, scratchpad_bytes = 4096 : i64, scratchpad_ports = 2 : i64} : () -> ()
  "intar.sfu"() {sym_name = "relu0", kind = "relu", lanes = 4 : i64, dsps = 0 : i64} : () -> ()
  "intar.port"() {sym_name = "hbm0", channel = 0 : i64, width = 256 : i64} : () -> ()
  "intar.link"() {sym_name = "l0", source = @cc0, dest = @relu0, width = 64 : i64, depth = 16 : i64} : () -> ()
  // expected-error@+1 {{names tensor @q, which is not in graph @chain}}
  "intar.buffer"() {sym_name = "buf_x", tensor = @q, placement = "offchip", home = @hbm0, bytes = 256 : i64} : () -> ()
  "intar.buffer"() {sym_name = "buf_w", tensor = @w, placement = "onchip", home = @cc0, bytes = 512 : i64} : () -> ()
  "intar.buffer"() {sym_name = "buf_b", tensor = @b, placement = "offchip", home = @hbm0, bytes = 256 : i64} : () -> ()
  "intar.schedule"() ({
    "intar.phase"() ({
      "intar.assign"() {task = @a, unit = @cc0, stage = 0 : i64, slice = array<i64: 0, 0, 8>, bounds = array<i64: 4, 4, 4>, sources = [@buf_x, @buf_w], sinks = [@l0]} : () -> ()
    }) {sym_name = "p0", pattern = "sequential", cycles = 40 : i64} : () -> ()
    "intar.switch"() {from = @p0, to = @p1, cycles = 3 : i64} : () -> ()
    "intar.phase"() ({
      "intar.assign"() {task = @b, unit = @relu0, stage = 0 : i64, slice = array<i64: 0, 0, 8>, bounds = array<i64: 8, 4, 1>, sources = [@l0], sinks = [@buf_b]} : () -> ()
    }) {sym_name = "p1", pattern = "task_parallel", cycles = 40 : i64} : () -> ()
  }) : () -> ()
}) {sym_name = "d", graph = @chain, device = "tiny", mode = "intar", dsp_budget = 32 : i64, port_budget = 2 : i64} : () -> ()

// -----

"intar.graph"() ({
  %x = "intar.input"() {sym_name = "x"} : () -> tensor<8x16xi16>
  %w = "intar.weight"() {sym_name = "w", seed = 1 : i64} : () -> tensor<16x16xi16>
  %a = "intar.matmul"(%x, %w) {sym_name = "a", shift = 8 : i64} : (tensor<8x16xi16>, tensor<16x16xi16>) -> tensor<8x16xi16>
  %b = "intar.relu"(%a) {sym_name = "b"} : (tensor<8x16xi16>) -> tensor<8x16xi16>
  "intar.output"(%b) : (tensor<8x16xi16>) -> ()
}) {sym_name = "chain"} : () -> ()

"intar.design"() ({
  "intar.core"() {sym_name = "cc0", pe = array<i64: 2, 4, 4>, scratchpad_bytes = 4096 : i64, scratchpad_ports = 2 : i64} : () -> ()
  "intar.sfu"() {sym_name = "relu0", kind = "relu", lanes = 4 : i64, dsps = 0 : i64} : () -> ()
  "intar.port"() {sym_name = "hbm0", channel = 0 : i64, width = 256 : i64} : () -> ()
  "intar.link"() {sym_name = "l0", source = @cc0, dest = @relu0, width = 64 : i64, depth = 16 : i64} : () -> ()
  "intar.buffer"() {sym_name = "buf_x", tensor = @x, placement = "offchip", home = @hbm0, bytes = 256 : i64} : () -> ()
  // expected-error@+1 {{only an off-chip buffer can be a stripe ('slice')}}
  "intar.buffer"() {sym_name = "buf_w", tensor = @w, placement = "onchip", home = @cc0, bytes = 512 : i64, slice = array<i64: 1, 0, 8>} : () -> ()
  "intar.buffer"() {sym_name = "buf_b", tensor = @b, placement = "offchip", home = @hbm0, bytes = 256 : i64} : () -> ()
  "intar.schedule"() ({
    "intar.phase"() ({
      "intar.assign"() {task = @a, unit = @cc0, stage = 0 : i64, slice = array<i64: 0, 0, 8>, bounds = array<i64: 4, 4, 4>, sources = [@buf_x, @buf_w], sinks = [@l0]} : () -> ()
    }) {sym_name = "p0", pattern = "sequential", cycles = 40 : i64} : () -> ()
    "intar.switch"() {from = @p0, to = @p1, cycles = 3 : i64} : () -> ()
    "intar.phase"() ({
      "intar.assign"() {task = @b, unit = @relu0, stage = 0 : i64, slice = array<i64: 0, 0, 8>, bounds = array<i64: 8, 4, 1>, sources = [@l0], sinks = [@buf_b]} : () -> ()
    }) {sym_name = "p1", pattern = "task_parallel", cycles = 40 : i64} : () -> ()
  }) : () -> ()
}) {sym_name = "d", graph = @chain, device = "tiny", mode = "intar", dsp_budget = 32 : i64, port_budget = 2 : i64} : () -> ()

// -----

"intar.graph"() ({
  %x = "intar.input"() {sym_name = "x"} : () -> tensor<8x16xi16>
  %w = "intar.weight"() {sym_name = "w", seed = 1 : i64} : () -> tensor<16x16xi16>
  %a = "intar.matmul"(%x, %w) {sym_name = "a", shift = 8 : i64} : (tensor<8x16xi16>, tensor<16x16xi16>) -> tensor<8x16xi16>
  %b = "intar.relu"(%a) {sym_name = "b"} : (tensor<8x16xi16>) -> tensor<8x16xi16>
  "intar.output"(%b) : (tensor<8x16xi16>) -> ()
}) {sym_name = "chain"} : () -> ()

"intar.design"() ({
  "intar.core"() {sym_name = "cc0", pe = array<i64: 2, 4, 4>, scratchpad_bytes = 4096 : i64, scratchpad_ports = 2 : i64} : () -> ()
  "intar.sfu"() {sym_name = "relu0", kind = "relu", lanes = 4 : i64, dsps = 0 : i64} : () -> ()
  "intar.port"() {sym_name = "hbm0", channel = 0 : i64, width = 256 : i64} : () -> ()
  "intar.link"() {sym_name = "l0", source = @cc0, dest = @relu0, width = 64 : i64, depth = 16 : i64} : () -> ()
  "intar.buffer"() {sym_name = "buf_x", tensor = @x, placement = "offchip", home = @hbm0, bytes = 256 : i64} : () -> ()
  // expected-error@+1 {{'slice' [1, 8, 17] is outside the tensor's 16x16 matrix}}
  "intar.buffer"() {sym_name = "buf_w", tensor = @w, placement = "offchip", home = @hbm0, bytes = 512 : i64, slice = array<i64: 1, 8, 17>} : () -> ()
  "intar.buffer"() {sym_name = "buf_b", tensor = @b, placement = "offchip", home = @hbm0, bytes = 256 : i64} : () -> ()
  "intar.schedule"() ({
    "intar.phase"() ({
      "intar.assign"() {task = @a, unit = @cc0, stage = 0 : i64, slice = array<i64: 0, 0, 8>, bounds = array<i64: 4, 4, 4>, sources = [@buf_x, @buf_w], sinks = [@l0]} : () -> ()
    }) {sym_name = "p0", pattern = "sequential", cycles = 40 : i64} : () -> ()
    "intar.switch"() {from = @p0, to = @p1, cycles = 3 : i64} : () -> ()
    "intar.phase"() ({
      "intar.assign"() {task = @b, unit = @relu0, stage = 0 : i64, slice = array<i64: 0, 0, 8>, bounds = array<i64: 8, 4, 1>, sources = [@l0], sinks = [@buf_b]} : () -> ()
    }) {sym_name = "p1", pattern = "task_parallel", cycles = 40 : i64} : () -> ()
  }) : () -> ()
}) {sym_name = "d", graph = @chain, device = "tiny", mode = "intar", dsp_budget = 32 : i64, port_budget = 2 : i64} : () -> ()

// -----

"intar.graph"() ({
  %x = "intar.input"() {sym_name = "x"} : () -> tensor<8x16xi16>
  %w = "intar.weight"() {sym_name = "w", seed = 1 : i64} : () -> tensor<16x16xi16>
  %a = "intar.matmul"(%x, %w) {sym_name = "a", shift = 8 : i64} : (tensor<8x16xi16>, tensor<16x16xi16>) -> tensor<8x16xi16>
  %b = "intar.relu"(%a) {sym_name = "b"} : (tensor<8x16xi16>) -> tensor<8x16xi16>
  "intar.output"(%b) : (tensor<8x16xi16>) -> ()
}) {sym_name = "chain"} : () -> ()

"intar.design"() ({
  "intar.core"() {sym_name = "cc0", pe = array<i64: 2, 4, 4>, scratchpad_bytes = 4096 : i64, scratchpad_ports = 2 : i64} : () -> ()
  "intar.sfu"() {sym_name = "relu0", kind = "relu", lanes = 4 : i64, dsps = 0 : i64} : () -> ()
  "intar.port"() {sym_name = "hbm0", channel = 0 : i64, width = 256 : i64} : () -> ()
  "intar.link"() {sym_name = "l0", source = @cc0, dest = @relu0, width = 64 : i64, depth = 16 : i64} : () -> ()
  "intar.buffer"() {sym_name = "buf_x", tensor = @x, placement = "offchip", home = @hbm0, bytes = 256 : i64} : () -> ()
  // expected-error@+1 {{'slice' must be [dim (0 or 1), lo, hi] with lo < hi}}
  "intar.buffer"() {sym_name = "buf_w", tensor = @w, placement = "offchip", home = @hbm0, bytes = 512 : i64, slice = array<i64: 2, 0, 8>} : () -> ()
  "intar.buffer"() {sym_name = "buf_b", tensor = @b, placement = "offchip", home = @hbm0, bytes = 256 : i64} : () -> ()
  "intar.schedule"() ({
    "intar.phase"() ({
      "intar.assign"() {task = @a, unit = @cc0, stage = 0 : i64, slice = array<i64: 0, 0, 8>, bounds = array<i64: 4, 4, 4>, sources = [@buf_x, @buf_w], sinks = [@l0]} : () -> ()
    }) {sym_name = "p0", pattern = "sequential", cycles = 40 : i64} : () -> ()
    "intar.switch"() {from = @p0, to = @p1, cycles = 3 : i64} : () -> ()
    "intar.phase"() ({
      "intar.assign"() {task = @b, unit = @relu0, stage = 0 : i64, slice = array<i64: 0, 0, 8>, bounds = array<i64: 8, 4, 1>, sources = [@l0], sinks = [@buf_b]} : () -> ()
    }) {sym_name = "p1", pattern = "task_parallel", cycles = 40 : i64} : () -> ()
  }) : () -> ()
}) {sym_name = "d", graph = @chain, device = "tiny", mode = "intar", dsp_budget = 32 : i64, port_budget = 2 : i64} : () -> ()

// -----

"intar.graph"() ({
  %x = "intar.input"() {sym_name = "x"} : () -> tensor<8x16xi16>
  %w = "intar.weight"() {sym_name = "w", seed = 1 : i64} : () -> tensor<16x16xi16>
  %a = "intar.matmul"(%x, %w) {sym_name = "a", shift = 8 : i64} : (tensor<8x16xi16>, tensor<16x16xi16>) -> tensor<8x16xi16>
  %b = "intar.relu"(%a) {sym_name = "b"} : (tensor<8x16xi16>) -> tensor<8x16xi16>
  "intar.output"(%b) : (tensor<8x16xi16>) -> ()
}) {sym_name = "chain"} : () -> ()

"intar.design"() ({
  "intar.core"() {sym_name = "cc0", pe = array<i64: 2, 4, 4>, scratchpad_bytes = 4096 : i64, scratchpad_ports = 2 : i64} : () -> ()
  "intar.sfu"() {sym_name = "relu0", kind = "relu", lanes = 4 : i64, dsps = 0 : i64} : () -> ()
  "intar.port"() {sym_name = "hbm0", channel = 0 : i64, width = 256 : i64} : () -> ()
  "intar.link"() {sym_name = "l0", source = @cc0, dest = @relu0, width = 64 : i64, depth = 16 : i64} : () -> ()
  "intar.buffer"() {sym_name = "buf_x", tensor = @x, placement = "offchip", home = @hbm0, bytes = 256 : i64} : () -> ()
  // expected-error@+1 {{@hbm0 must be a core or SFU, but it is 'intar.port'}}
  "intar.buffer"() {sym_name = "buf_w", tensor = @w, placement = "onchip", home = @hbm0, bytes = 512 : i64} : () -> ()
  "intar.buffer"() {sym_name = "buf_b", tensor = @b, placement = "offchip", home = @hbm0, bytes = 256 : i64} : () -> ()
  "intar.schedule"() ({
    "intar.phase"() ({
      "intar.assign"() {task = @a, unit = @cc0, stage = 0 : i64, slice = array<i64: 0, 0, 8>, bounds = array<i64: 4, 4, 4>, sources = [@buf_x, @buf_w], sinks = [@l0]} : () -> ()
    }) {sym_name = "p0", pattern = "sequential", cycles = 40 : i64} : () -> ()
    "intar.switch"() {from = @p0, to = @p1, cycles = 3 : i64} : () -> ()
    "intar.phase"() ({
      "intar.assign"() {task = @b, unit = @relu0, stage = 0 : i64, slice = array<i64: 0, 0, 8>, bounds = array<i64: 8, 4, 1>, sources = [@l0], sinks = [@buf_b]} : () -> ()
    }) {sym_name = "p1", pattern = "task_parallel", cycles = 40 : i64} : () -> ()
  }) : () -> ()
}) {sym_name = "d", graph = @chain, device = "tiny", mode = "intar", dsp_budget = 32 : i64, port_budget = 2 : i64} : () -> ()

// -----

"intar.graph"() ({
  %x = "intar.input"() {sym_name = "x"} : () -> tensor<8x16xi16>
  %w = "intar.weight"() {sym_name = "w", seed = 1 : i64} : () -> tensor<16x16xi16>
  %a = "intar.matmul"(%x, %w) {sym_name = "a", shift = 8 : i64} : (tensor<8x16xi16>, tensor<16x16xi16>) -> tensor<8x16xi16>
  %b = "intar.relu"(%a) {sym_name = "b"} : (tensor<8x16xi16>) -> tensor<8x16xi16>
  "intar.output"(%b) : (tensor<8x16xi16>) -> ()
}) {sym_name = "chain"} : () -> ()

"intar.design"() ({
  "intar.core"() {sym_name = "cc0", pe = array<i64: 2, 4, 4>, scratchpad_bytes = 4096 : i64, scratchpad_ports = 2 : i64} : () -> ()
  "intar.sfu"() {sym_name = "relu0", kind = "relu", lanes = 4 : i64, dsps = 0 : i64} : () -> ()
  "intar.port"() {sym_name = "hbm0", channel = 0 : i64, width = 256 : i64} : () -> ()
  "intar.link"() {sym_name = "l0", source = @cc0, dest = @relu0, width = 64 : i64, depth = 16 : i64} : () -> ()
  "intar.buffer"() {sym_name = "buf_x", tensor = @x, placement = "offchip", home = @hbm0, bytes = 256 : i64} : () -> ()
  "intar.buffer"() {sym_name = "buf_w", tensor = @w, placement = "onchip", home = @cc0, bytes = 512 : i64} : () -> ()
  // expected-error@+1 {{'placement' must be onchip or offchip, got 'cloud'}}
  "intar.buffer"() {sym_name = "buf_b", tensor = @b, placement = "cloud", home = @hbm0, bytes = 256 : i64} : () -> ()
  "intar.schedule"() ({
    "intar.phase"() ({
      "intar.assign"() {task = @a, unit = @cc0, stage = 0 : i64, slice = array<i64: 0, 0, 8>, bounds = array<i64: 4, 4, 4>, sources = [@buf_x, @buf_w], sinks = [@l0]} : () -> ()
    }) {sym_name = "p0", pattern = "sequential", cycles = 40 : i64} : () -> ()
    "intar.switch"() {from = @p0, to = @p1, cycles = 3 : i64} : () -> ()
    "intar.phase"() ({
      "intar.assign"() {task = @b, unit = @relu0, stage = 0 : i64, slice = array<i64: 0, 0, 8>, bounds = array<i64: 8, 4, 1>, sources = [@l0], sinks = [@buf_b]} : () -> ()
    }) {sym_name = "p1", pattern = "task_parallel", cycles = 40 : i64} : () -> ()
  }) : () -> ()
}) {sym_name = "d", graph = @chain, device = "tiny", mode = "intar", dsp_budget = 32 : i64, port_budget = 2 : i64} : () -> ()

// -----

"intar.graph"() ({
  %x = "intar.input"() {sym_name = "x"} : () -> tensor<8x16xi16>
  %w = "intar.weight"() {sym_name = "w", seed = 1 : i64} : () -> tensor<16x16xi16>
  %a = "intar.matmul"(%x, %w) {sym_name = "a", shift = 8 : i64} : (tensor<8x16xi16>, tensor<16x16xi16>) -> tensor<8x16xi16>
  %b = "intar.relu"(%a) {sym_name = "b"} : (tensor<8x16xi16>) -> tensor<8x16xi16>
  "intar.output"(%b) : (tensor<8x16xi16>) -> ()
}) {sym_name = "chain"} : () -> ()

// expected-error@+1 {{has two units named 'cc0'}}
"intar.design"() ({
  "intar.core"() {sym_name = "cc0", pe = array<i64: 2, 4, 4>, scratchpad_bytes = 4096 : i64, scratchpad_ports = 2 : i64} : () -> ()
  "intar.sfu"() {sym_name = "relu0", kind = "relu", lanes = 4 : i64, dsps = 0 : i64} : () -> ()
  "intar.port"() {sym_name = "hbm0", channel = 0 : i64, width = 256 : i64} : () -> ()
  "intar.link"() {sym_name = "l0", source = @cc0, dest = @relu0, width = 64 : i64, depth = 16 : i64} : () -> ()
  "intar.buffer"() {sym_name = "buf_x", tensor = @x, placement = "offchip", home = @hbm0, bytes = 256 : i64} : () -> ()
  "intar.buffer"() {sym_name = "buf_w", tensor = @w, placement = "onchip", home = @cc0, bytes = 512 : i64} : () -> ()
  "intar.buffer"() {sym_name = "buf_b", tensor = @b, placement = "offchip", home = @hbm0, bytes = 256 : i64} : () -> ()
  "intar.core"() {sym_name = "cc0", pe = array<i64: 2, 4, 4>, scratchpad_bytes = 4096 : i64, scratchpad_ports = 2 : i64} : () -> ()
  "intar.schedule"() ({
    "intar.phase"() ({
      "intar.assign"() {task = @a, unit = @cc0, stage = 0 : i64, slice = array<i64: 0, 0, 8>, bounds = array<i64: 4, 4, 4>, sources = [@buf_x, @buf_w], sinks = [@l0]} : () -> ()
    }) {sym_name = "p0", pattern = "sequential", cycles = 40 : i64} : () -> ()
    "intar.switch"() {from = @p0, to = @p1, cycles = 3 : i64} : () -> ()
    "intar.phase"() ({
      "intar.assign"() {task = @b, unit = @relu0, stage = 0 : i64, slice = array<i64: 0, 0, 8>, bounds = array<i64: 8, 4, 1>, sources = [@l0], sinks = [@buf_b]} : () -> ()
    }) {sym_name = "p1", pattern = "task_parallel", cycles = 40 : i64} : () -> ()
  }) : () -> ()
}) {sym_name = "d", graph = @chain, device = "tiny", mode = "intar", dsp_budget = 32 : i64, port_budget = 2 : i64} : () -> ()

// -----

"intar.graph"() ({
  %x = "intar.input"() {sym_name = "x"} : () -> tensor<8x16xi16>
  %w = "intar.weight"() {sym_name = "w", seed = 1 : i64} : () -> tensor<16x16xi16>
  %a = "intar.matmul"(%x, %w) {sym_name = "a", shift = 8 : i64} : (tensor<8x16xi16>, tensor<16x16xi16>) -> tensor<8x16xi16>
  %b = "intar.relu"(%a) {sym_name = "b"} : (tensor<8x16xi16>) -> tensor<8x16xi16>
  "intar.output"(%b) : (tensor<8x16xi16>) -> ()
}) {sym_name = "chain"} : () -> ()

"intar.design"() ({
  "intar.core"() {sym_name = "cc0", pe = array<i64: 2, 4, 4>, scratchpad_bytes = 4096 : i64, scratchpad_ports = 2 : i64} : () -> ()
  "intar.sfu"() {sym_name = "relu0", kind = "relu", lanes = 4 : i64, dsps = 0 : i64} : () -> ()
  "intar.port"() {sym_name = "hbm0", channel = 0 : i64, width = 256 : i64} : () -> ()
  "intar.link"() {sym_name = "l0", source = @cc0, dest = @relu0, width = 64 : i64, depth = 16 : i64} : () -> ()
  "intar.buffer"() {sym_name = "buf_x", tensor = @x, placement = "offchip", home = @hbm0, bytes = 256 : i64} : () -> ()
  "intar.buffer"() {sym_name = "buf_w", tensor = @w, placement = "onchip", home = @cc0, bytes = 512 : i64} : () -> ()
  "intar.buffer"() {sym_name = "buf_b", tensor = @b, placement = "offchip", home = @hbm0, bytes = 256 : i64} : () -> ()
  // expected-error@+1 {{must alternate phases and switches, but op #1 is 'intar.phase', not 'intar.switch'}}
  "intar.schedule"() ({
    "intar.phase"() ({
      "intar.assign"() {task = @a, unit = @cc0, stage = 0 : i64, slice = array<i64: 0, 0, 8>, bounds = array<i64: 4, 4, 4>, sources = [@buf_x, @buf_w], sinks = [@l0]} : () -> ()
    }) {sym_name = "p0", pattern = "sequential", cycles = 40 : i64} : () -> ()
    "intar.phase"() ({
      "intar.assign"() {task = @b, unit = @relu0, stage = 0 : i64, slice = array<i64: 0, 0, 8>, bounds = array<i64: 8, 4, 1>, sources = [@l0], sinks = [@buf_b]} : () -> ()
    }) {sym_name = "p1", pattern = "task_parallel", cycles = 40 : i64} : () -> ()
  }) : () -> ()
}) {sym_name = "d", graph = @chain, device = "tiny", mode = "intar", dsp_budget = 32 : i64, port_budget = 2 : i64} : () -> ()

// -----

"intar.graph"() ({
  %x = "intar.input"() {sym_name = "x"} : () -> tensor<8x16xi16>
  %w = "intar.weight"() {sym_name = "w", seed = 1 : i64} : () -> tensor<16x16xi16>
  %a = "intar.matmul"(%x, %w) {sym_name = "a", shift = 8 : i64} : (tensor<8x16xi16>, tensor<16x16xi16>) -> tensor<8x16xi16>
  %b = "intar.relu"(%a) {sym_name = "b"} : (tensor<8x16xi16>) -> tensor<8x16xi16>
  "intar.output"(%b) : (tensor<8x16xi16>) -> ()
}) {sym_name = "chain"} : () -> ()

"intar.design"() ({
  "intar.core"() {sym_name = "cc0", pe = array<i64: 2, 4, 4>, scratchpad_bytes = 4096 : i64, scratchpad_ports = 2 : i64} : () -> ()
  "intar.sfu"() {sym_name = "relu0", kind = "relu", lanes = 4 : i64, dsps = 0 : i64} : () -> ()
  "intar.port"() {sym_name = "hbm0", channel = 0 : i64, width = 256 : i64} : () -> ()
  "intar.link"() {sym_name = "l0", source = @cc0, dest = @relu0, width = 64 : i64, depth = 16 : i64} : () -> ()
  "intar.buffer"() {sym_name = "buf_x", tensor = @x, placement = "offchip", home = @hbm0, bytes = 256 : i64} : () -> ()
  "intar.buffer"() {sym_name = "buf_w", tensor = @w, placement = "onchip", home = @cc0, bytes = 512 : i64} : () -> ()
  "intar.buffer"() {sym_name = "buf_b", tensor = @b, placement = "offchip", home = @hbm0, bytes = 256 : i64} : () -> ()
  // expected-error@+1 {{switch #0 goes from @p1 to @p0, but it sits between @p0 and @p1}}
  "intar.schedule"() ({
    "intar.phase"() ({
      "intar.assign"() {task = @a, unit = @cc0, stage = 0 : i64, slice = array<i64: 0, 0, 8>, bounds = array<i64: 4, 4, 4>, sources = [@buf_x, @buf_w], sinks = [@l0]} : () -> ()
    }) {sym_name = "p0", pattern = "sequential", cycles = 40 : i64} : () -> ()
    "intar.switch"() {from = @p1, to = @p0, cycles = 3 : i64} : () -> ()
    "intar.phase"() ({
      "intar.assign"() {task = @b, unit = @relu0, stage = 0 : i64, slice = array<i64: 0, 0, 8>, bounds = array<i64: 8, 4, 1>, sources = [@l0], sinks = [@buf_b]} : () -> ()
    }) {sym_name = "p1", pattern = "task_parallel", cycles = 40 : i64} : () -> ()
  }) : () -> ()
}) {sym_name = "d", graph = @chain, device = "tiny", mode = "intar", dsp_budget = 32 : i64, port_budget = 2 : i64} : () -> ()

// -----

"intar.graph"() ({
  %x = "intar.input"() {sym_name = "x"} : () -> tensor<8x16xi16>
  %w = "intar.weight"() {sym_name = "w", seed = 1 : i64} : () -> tensor<16x16xi16>
  %a = "intar.matmul"(%x, %w) {sym_name = "a", shift = 8 : i64} : (tensor<8x16xi16>, tensor<16x16xi16>) -> tensor<8x16xi16>
  %b = "intar.relu"(%a) {sym_name = "b"} : (tensor<8x16xi16>) -> tensor<8x16xi16>
  "intar.output"(%b) : (tensor<8x16xi16>) -> ()
}) {sym_name = "chain"} : () -> ()

"intar.design"() ({
  "intar.core"() {sym_name = "cc0", pe = array<i64: 2, 4, 4>, scratchpad_bytes = 4096 : i64, scratchpad_ports = 2 : i64} : () -> ()
  "intar.sfu"() {sym_name = "relu0", kind = "relu", lanes = 4 : i64, dsps = 0 : i64} : () -> ()
  "intar.port"() {sym_name = "hbm0", channel = 0 : i64, width = 256 : i64} : () -> ()
  "intar.link"() {sym_name = "l0", source = @cc0, dest = @relu0, width = 64 : i64, depth = 16 : i64} : () -> ()
  "intar.buffer"() {sym_name = "buf_x", tensor = @x, placement = "offchip", home = @hbm0, bytes = 256 : i64} : () -> ()
  "intar.buffer"() {sym_name = "buf_w", tensor = @w, placement = "onchip", home = @cc0, bytes = 512 : i64} : () -> ()
  "intar.buffer"() {sym_name = "buf_b", tensor = @b, placement = "offchip", home = @hbm0, bytes = 256 : i64} : () -> ()
  // expected-error@+1 {{must end with a phase, not a switch}}
  "intar.schedule"() ({
    "intar.phase"() ({
      "intar.assign"() {task = @a, unit = @cc0, stage = 0 : i64, slice = array<i64: 0, 0, 8>, bounds = array<i64: 4, 4, 4>, sources = [@buf_x, @buf_w], sinks = [@l0]} : () -> ()
    }) {sym_name = "p0", pattern = "sequential", cycles = 40 : i64} : () -> ()
    "intar.switch"() {from = @p0, to = @p1, cycles = 3 : i64} : () -> ()
  }) : () -> ()
}) {sym_name = "d", graph = @chain, device = "tiny", mode = "intar", dsp_budget = 32 : i64, port_budget = 2 : i64} : () -> ()

// -----

"intar.graph"() ({
  %x = "intar.input"() {sym_name = "x"} : () -> tensor<8x16xi16>
  %w = "intar.weight"() {sym_name = "w", seed = 1 : i64} : () -> tensor<16x16xi16>
  %a = "intar.matmul"(%x, %w) {sym_name = "a", shift = 8 : i64} : (tensor<8x16xi16>, tensor<16x16xi16>) -> tensor<8x16xi16>
  %b = "intar.relu"(%a) {sym_name = "b"} : (tensor<8x16xi16>) -> tensor<8x16xi16>
  "intar.output"(%b) : (tensor<8x16xi16>) -> ()
}) {sym_name = "chain"} : () -> ()

"intar.design"() ({
  "intar.core"() {sym_name = "cc0", pe = array<i64: 2, 4, 4>, scratchpad_bytes = 4096 : i64, scratchpad_ports = 2 : i64} : () -> ()
  "intar.sfu"() {sym_name = "relu0", kind = "relu", lanes = 4 : i64, dsps = 0 : i64} : () -> ()
  "intar.port"() {sym_name = "hbm0", channel = 0 : i64, width = 256 : i64} : () -> ()
  "intar.link"() {sym_name = "l0", source = @cc0, dest = @relu0, width = 64 : i64, depth = 16 : i64} : () -> ()
  "intar.buffer"() {sym_name = "buf_x", tensor = @x, placement = "offchip", home = @hbm0, bytes = 256 : i64} : () -> ()
  "intar.buffer"() {sym_name = "buf_w", tensor = @w, placement = "onchip", home = @cc0, bytes = 512 : i64} : () -> ()
  "intar.buffer"() {sym_name = "buf_b", tensor = @b, placement = "offchip", home = @hbm0, bytes = 256 : i64} : () -> ()
  "intar.schedule"() ({
    // expected-error@+1 {{'pattern' must be one of sequential, task_parallel, task_pipeline, got 'chaos'}}
    "intar.phase"() ({
      "intar.assign"() {task = @a, unit = @cc0, stage = 0 : i64, slice = array<i64: 0, 0, 8>, bounds = array<i64: 4, 4, 4>, sources = [@buf_x, @buf_w], sinks = [@l0]} : () -> ()
    }) {sym_name = "p0", pattern = "chaos", cycles = 40 : i64} : () -> ()
    "intar.switch"() {from = @p0, to = @p1, cycles = 3 : i64} : () -> ()
    "intar.phase"() ({
      "intar.assign"() {task = @b, unit = @relu0, stage = 0 : i64, slice = array<i64: 0, 0, 8>, bounds = array<i64: 8, 4, 1>, sources = [@l0], sinks = [@buf_b]} : () -> ()
    }) {sym_name = "p1", pattern = "task_parallel", cycles = 40 : i64} : () -> ()
  }) : () -> ()
}) {sym_name = "d", graph = @chain, device = "tiny", mode = "intar", dsp_budget = 32 : i64, port_budget = 2 : i64} : () -> ()

// -----

"intar.graph"() ({
  %x = "intar.input"() {sym_name = "x"} : () -> tensor<8x16xi16>
  %w = "intar.weight"() {sym_name = "w", seed = 1 : i64} : () -> tensor<16x16xi16>
  %a = "intar.matmul"(%x, %w) {sym_name = "a", shift = 8 : i64} : (tensor<8x16xi16>, tensor<16x16xi16>) -> tensor<8x16xi16>
  %b = "intar.relu"(%a) {sym_name = "b"} : (tensor<8x16xi16>) -> tensor<8x16xi16>
  "intar.output"(%b) : (tensor<8x16xi16>) -> ()
}) {sym_name = "chain"} : () -> ()

"intar.design"() ({
  "intar.core"() {sym_name = "cc0", pe = array<i64: 2, 4, 4>, scratchpad_bytes = 4096 : i64, scratchpad_ports = 2 : i64} : () -> ()
  "intar.sfu"() {sym_name = "relu0", kind = "relu", lanes = 4 : i64, dsps = 0 : i64} : () -> ()
  "intar.port"() {sym_name = "hbm0", channel = 0 : i64, width = 256 : i64} : () -> ()
  "intar.link"() {sym_name = "l0", source = @cc0, dest = @relu0, width = 64 : i64, depth = 16 : i64} : () -> ()
  "intar.buffer"() {sym_name = "buf_x", tensor = @x, placement = "offchip", home = @hbm0, bytes = 256 : i64} : () -> ()
  "intar.buffer"() {sym_name = "buf_w", tensor = @w, placement = "onchip", home = @cc0, bytes = 512 : i64} : () -> ()
  "intar.buffer"() {sym_name = "buf_b", tensor = @b, placement = "offchip", home = @hbm0, bytes = 256 : i64} : () -> ()
  "intar.schedule"() ({
    "intar.phase"() ({
      // expected-error@+1 {{names task @zz, which is not a task of the graph}}
      "intar.assign"() {task = @zz, unit = @cc0, stage = 0 : i64, slice = array<i64: 0, 0, 8>, bounds = array<i64: 4, 4, 4>, sources = [@buf_x, @buf_w], sinks = [@l0]} : () -> ()
    }) {sym_name = "p0", pattern = "sequential", cycles = 40 : i64} : () -> ()
    "intar.switch"() {from = @p0, to = @p1, cycles = 3 : i64} : () -> ()
    "intar.phase"() ({
      "intar.assign"() {task = @b, unit = @relu0, stage = 0 : i64, slice = array<i64: 0, 0, 8>, bounds = array<i64: 8, 4, 1>, sources = [@l0], sinks = [@buf_b]} : () -> ()
    }) {sym_name = "p1", pattern = "task_parallel", cycles = 40 : i64} : () -> ()
  }) : () -> ()
}) {sym_name = "d", graph = @chain, device = "tiny", mode = "intar", dsp_budget = 32 : i64, port_budget = 2 : i64} : () -> ()

// -----

"intar.graph"() ({
  %x = "intar.input"() {sym_name = "x"} : () -> tensor<8x16xi16>
  %w = "intar.weight"() {sym_name = "w", seed = 1 : i64} : () -> tensor<16x16xi16>
  %a = "intar.matmul"(%x, %w) {sym_name = "a", shift = 8 : i64} : (tensor<8x16xi16>, tensor<16x16xi16>) -> tensor<8x16xi16>
  %b = "intar.relu"(%a) {sym_name = "b"} : (tensor<8x16xi16>) -> tensor<8x16xi16>
  "intar.output"(%b) : (tensor<8x16xi16>) -> ()
}) {sym_name = "chain"} : () -> ()

"intar.design"() ({
  "intar.core"() {sym_name = "cc0", pe = array<i64: 2, 4, 4>, scratchpad_bytes = 4096 : i64, scratchpad_ports = 2 : i64} : () -> ()
  "intar.sfu"() {sym_name = "relu0", kind = "relu", lanes = 4 : i64, dsps = 0 : i64} : () -> ()
  "intar.port"() {sym_name = "hbm0", channel = 0 : i64, width = 256 : i64} : () -> ()
  "intar.link"() {sym_name = "l0", source = @cc0, dest = @relu0, width = 64 : i64, depth = 16 : i64} : () -> ()
  "intar.buffer"() {sym_name = "buf_x", tensor = @x, placement = "offchip", home = @hbm0, bytes = 256 : i64} : () -> ()
  "intar.buffer"() {sym_name = "buf_w", tensor = @w, placement = "onchip", home = @cc0, bytes = 512 : i64} : () -> ()
  "intar.buffer"() {sym_name = "buf_b", tensor = @b, placement = "offchip", home = @hbm0, bytes = 256 : i64} : () -> ()
  "intar.schedule"() ({
    "intar.phase"() ({
      // expected-error@+1 {{names task @w, which is not a task of the graph}}
      "intar.assign"() {task = @w, unit = @cc0, stage = 0 : i64, slice = array<i64: 0, 0, 8>, bounds = array<i64: 4, 4, 4>, sources = [@buf_x, @buf_w], sinks = [@l0]} : () -> ()
    }) {sym_name = "p0", pattern = "sequential", cycles = 40 : i64} : () -> ()
    "intar.switch"() {from = @p0, to = @p1, cycles = 3 : i64} : () -> ()
    "intar.phase"() ({
      "intar.assign"() {task = @b, unit = @relu0, stage = 0 : i64, slice = array<i64: 0, 0, 8>, bounds = array<i64: 8, 4, 1>, sources = [@l0], sinks = [@buf_b]} : () -> ()
    }) {sym_name = "p1", pattern = "task_parallel", cycles = 40 : i64} : () -> ()
  }) : () -> ()
}) {sym_name = "d", graph = @chain, device = "tiny", mode = "intar", dsp_budget = 32 : i64, port_budget = 2 : i64} : () -> ()

// -----

"intar.graph"() ({
  %x = "intar.input"() {sym_name = "x"} : () -> tensor<8x16xi16>
  %w = "intar.weight"() {sym_name = "w", seed = 1 : i64} : () -> tensor<16x16xi16>
  %a = "intar.matmul"(%x, %w) {sym_name = "a", shift = 8 : i64} : (tensor<8x16xi16>, tensor<16x16xi16>) -> tensor<8x16xi16>
  %b = "intar.relu"(%a) {sym_name = "b"} : (tensor<8x16xi16>) -> tensor<8x16xi16>
  "intar.output"(%b) : (tensor<8x16xi16>) -> ()
}) {sym_name = "chain"} : () -> ()

"intar.design"() ({
  "intar.core"() {sym_name = "cc0", pe = array<i64: 2, 4, 4>, scratchpad_bytes = 4096 : i64, scratchpad_ports = 2 : i64} : () -> ()
  "intar.sfu"() {sym_name = "relu0", kind = "relu", lanes = 4 : i64, dsps = 0 : i64} : () -> ()
  "intar.port"() {sym_name = "hbm0", channel = 0 : i64, width = 256 : i64} : () -> ()
  "intar.link"() {sym_name = "l0", source = @cc0, dest = @relu0, width = 64 : i64, depth = 16 : i64} : () -> ()
  "intar.buffer"() {sym_name = "buf_x", tensor = @x, placement = "offchip", home = @hbm0, bytes = 256 : i64} : () -> ()
  "intar.buffer"() {sym_name = "buf_w", tensor = @w, placement = "onchip", home = @cc0, bytes = 512 : i64} : () -> ()
  "intar.buffer"() {sym_name = "buf_b", tensor = @b, placement = "offchip", home = @hbm0, bytes = 256 : i64} : () -> ()
  "intar.schedule"() ({
    "intar.phase"() ({
      // expected-error@+1 {{task @a has 2 operands, but 'sources' names 1}}
      "intar.assign"() {task = @a, unit = @cc0, stage = 0 : i64, slice = array<i64: 0, 0, 8>, bounds = array<i64: 4, 4, 4>, sources = [@buf_x], sinks = [@l0]} : () -> ()
    }) {sym_name = "p0", pattern = "sequential", cycles = 40 : i64} : () -> ()
    "intar.switch"() {from = @p0, to = @p1, cycles = 3 : i64} : () -> ()
    "intar.phase"() ({
      "intar.assign"() {task = @b, unit = @relu0, stage = 0 : i64, slice = array<i64: 0, 0, 8>, bounds = array<i64: 8, 4, 1>, sources = [@l0], sinks = [@buf_b]} : () -> ()
    }) {sym_name = "p1", pattern = "task_parallel", cycles = 40 : i64} : () -> ()
  }) : () -> ()
}) {sym_name = "d", graph = @chain, device = "tiny", mode = "intar", dsp_budget = 32 : i64, port_budget = 2 : i64} : () -> ()

// -----

"intar.graph"() ({
  %x = "intar.input"() {sym_name = "x"} : () -> tensor<8x16xi16>
  %w = "intar.weight"() {sym_name = "w", seed = 1 : i64} : () -> tensor<16x16xi16>
  %a = "intar.matmul"(%x, %w) {sym_name = "a", shift = 8 : i64} : (tensor<8x16xi16>, tensor<16x16xi16>) -> tensor<8x16xi16>
  %b = "intar.relu"(%a) {sym_name = "b"} : (tensor<8x16xi16>) -> tensor<8x16xi16>
  "intar.output"(%b) : (tensor<8x16xi16>) -> ()
}) {sym_name = "chain"} : () -> ()

"intar.design"() ({
  "intar.core"() {sym_name = "cc0", pe = array<i64: 2, 4, 4>, scratchpad_bytes = 4096 : i64, scratchpad_ports = 2 : i64} : () -> ()
  "intar.sfu"() {sym_name = "relu0", kind = "relu", lanes = 4 : i64, dsps = 0 : i64} : () -> ()
  "intar.port"() {sym_name = "hbm0", channel = 0 : i64, width = 256 : i64} : () -> ()
  "intar.link"() {sym_name = "l0", source = @cc0, dest = @relu0, width = 64 : i64, depth = 16 : i64} : () -> ()
  "intar.buffer"() {sym_name = "buf_x", tensor = @x, placement = "offchip", home = @hbm0, bytes = 256 : i64} : () -> ()
  "intar.buffer"() {sym_name = "buf_w", tensor = @w, placement = "onchip", home = @cc0, bytes = 512 : i64} : () -> ()
  "intar.buffer"() {sym_name = "buf_b", tensor = @b, placement = "offchip", home = @hbm0, bytes = 256 : i64} : () -> ()
  "intar.schedule"() ({
    "intar.phase"() ({
      // expected-error@+1 {{'slice' [0, 0, 9] is outside the result shape [8, 16]}}
      "intar.assign"() {task = @a, unit = @cc0, stage = 0 : i64, slice = array<i64: 0, 0, 9>, bounds = array<i64: 4, 4, 4>, sources = [@buf_x, @buf_w], sinks = [@l0]} : () -> ()
    }) {sym_name = "p0", pattern = "sequential", cycles = 40 : i64} : () -> ()
    "intar.switch"() {from = @p0, to = @p1, cycles = 3 : i64} : () -> ()
    "intar.phase"() ({
      "intar.assign"() {task = @b, unit = @relu0, stage = 0 : i64, slice = array<i64: 0, 0, 8>, bounds = array<i64: 8, 4, 1>, sources = [@l0], sinks = [@buf_b]} : () -> ()
    }) {sym_name = "p1", pattern = "task_parallel", cycles = 40 : i64} : () -> ()
  }) : () -> ()
}) {sym_name = "d", graph = @chain, device = "tiny", mode = "intar", dsp_budget = 32 : i64, port_budget = 2 : i64} : () -> ()

// -----

"intar.graph"() ({
  %x = "intar.input"() {sym_name = "x"} : () -> tensor<8x16xi16>
  %w = "intar.weight"() {sym_name = "w", seed = 1 : i64} : () -> tensor<16x16xi16>
  %a = "intar.matmul"(%x, %w) {sym_name = "a", shift = 8 : i64} : (tensor<8x16xi16>, tensor<16x16xi16>) -> tensor<8x16xi16>
  %b = "intar.relu"(%a) {sym_name = "b"} : (tensor<8x16xi16>) -> tensor<8x16xi16>
  "intar.output"(%b) : (tensor<8x16xi16>) -> ()
}) {sym_name = "chain"} : () -> ()

"intar.design"() ({
  "intar.core"() {sym_name = "cc0", pe = array<i64: 2, 4, 4>, scratchpad_bytes = 4096 : i64, scratchpad_ports = 2 : i64} : () -> ()
  "intar.sfu"() {sym_name = "relu0", kind = "relu", lanes = 4 : i64, dsps = 0 : i64} : () -> ()
  "intar.port"() {sym_name = "hbm0", channel = 0 : i64, width = 256 : i64} : () -> ()
  "intar.link"() {sym_name = "l0", source = @cc0, dest = @relu0, width = 64 : i64, depth = 16 : i64} : () -> ()
  "intar.buffer"() {sym_name = "buf_x", tensor = @x, placement = "offchip", home = @hbm0, bytes = 256 : i64} : () -> ()
  "intar.buffer"() {sym_name = "buf_w", tensor = @w, placement = "onchip", home = @cc0, bytes = 512 : i64} : () -> ()
  "intar.buffer"() {sym_name = "buf_b", tensor = @b, placement = "offchip", home = @hbm0, bytes = 256 : i64} : () -> ()
  "intar.schedule"() ({
    "intar.phase"() ({
      // expected-error@+1 {{'bounds' must be three positive loop bounds, got [4, 0, 4]}}
      "intar.assign"() {task = @a, unit = @cc0, stage = 0 : i64, slice = array<i64: 0, 0, 8>, bounds = array<i64: 4, 0, 4>, sources = [@buf_x, @buf_w], sinks = [@l0]} : () -> ()
    }) {sym_name = "p0", pattern = "sequential", cycles = 40 : i64} : () -> ()
    "intar.switch"() {from = @p0, to = @p1, cycles = 3 : i64} : () -> ()
    "intar.phase"() ({
      "intar.assign"() {task = @b, unit = @relu0, stage = 0 : i64, slice = array<i64: 0, 0, 8>, bounds = array<i64: 8, 4, 1>, sources = [@l0], sinks = [@buf_b]} : () -> ()
    }) {sym_name = "p1", pattern = "task_parallel", cycles = 40 : i64} : () -> ()
  }) : () -> ()
}) {sym_name = "d", graph = @chain, device = "tiny", mode = "intar", dsp_budget = 32 : i64, port_budget = 2 : i64} : () -> ()

// -----

"intar.graph"() ({
  %x = "intar.input"() {sym_name = "x"} : () -> tensor<8x16xi16>
  %w = "intar.weight"() {sym_name = "w", seed = 1 : i64} : () -> tensor<16x16xi16>
  %a = "intar.matmul"(%x, %w) {sym_name = "a", shift = 8 : i64} : (tensor<8x16xi16>, tensor<16x16xi16>) -> tensor<8x16xi16>
  %b = "intar.relu"(%a) {sym_name = "b"} : (tensor<8x16xi16>) -> tensor<8x16xi16>
  "intar.output"(%b) : (tensor<8x16xi16>) -> ()
}) {sym_name = "chain"} : () -> ()

"intar.design"() ({
  "intar.core"() {sym_name = "cc0", pe = array<i64: 2, 4, 4>, scratchpad_bytes = 4096 : i64, scratchpad_ports = 2 : i64} : () -> ()
  "intar.sfu"() {sym_name = "relu0", kind = "relu", lanes = 4 : i64, dsps = 0 : i64} : () -> ()
  "intar.port"() {sym_name = "hbm0", channel = 0 : i64, width = 256 : i64} : () -> ()
  "intar.link"() {sym_name = "l0", source = @cc0, dest = @relu0, width = 64 : i64, depth = 16 : i64} : () -> ()
  "intar.buffer"() {sym_name = "buf_x", tensor = @x, placement = "offchip", home = @hbm0, bytes = 256 : i64} : () -> ()
  "intar.buffer"() {sym_name = "buf_w", tensor = @w, placement = "onchip", home = @cc0, bytes = 512 : i64} : () -> ()
  "intar.buffer"() {sym_name = "buf_b", tensor = @b, placement = "offchip", home = @hbm0, bytes = 256 : i64} : () -> ()
  "intar.schedule"() ({
    "intar.phase"() ({
      // expected-error@+1 {{@hbm0 must be a core or SFU, but it is 'intar.port'}}
      "intar.assign"() {task = @a, unit = @hbm0, stage = 0 : i64, slice = array<i64: 0, 0, 8>, bounds = array<i64: 4, 4, 4>, sources = [@buf_x, @buf_w], sinks = [@l0]} : () -> ()
    }) {sym_name = "p0", pattern = "sequential", cycles = 40 : i64} : () -> ()
    "intar.switch"() {from = @p0, to = @p1, cycles = 3 : i64} : () -> ()
    "intar.phase"() ({
      "intar.assign"() {task = @b, unit = @relu0, stage = 0 : i64, slice = array<i64: 0, 0, 8>, bounds = array<i64: 8, 4, 1>, sources = [@l0], sinks = [@buf_b]} : () -> ()
    }) {sym_name = "p1", pattern = "task_parallel", cycles = 40 : i64} : () -> ()
  }) : () -> ()
}) {sym_name = "d", graph = @chain, device = "tiny", mode = "intar", dsp_budget = 32 : i64, port_budget = 2 : i64} : () -> ()

// -----

"intar.graph"() ({
  %x = "intar.input"() {sym_name = "x"} : () -> tensor<8x16xi16>
  %w = "intar.weight"() {sym_name = "w", seed = 1 : i64} : () -> tensor<16x16xi16>
  %a = "intar.matmul"(%x, %w) {sym_name = "a", shift = 8 : i64} : (tensor<8x16xi16>, tensor<16x16xi16>) -> tensor<8x16xi16>
  %b = "intar.relu"(%a) {sym_name = "b"} : (tensor<8x16xi16>) -> tensor<8x16xi16>
  "intar.output"(%b) : (tensor<8x16xi16>) -> ()
}) {sym_name = "chain"} : () -> ()

// expected-error@+1 {{task 'a' slices cover [0, 4) of its 8 rows}}
"intar.design"() ({
  "intar.core"() {sym_name = "cc0", pe = array<i64: 2, 4, 4>, scratchpad_bytes = 4096 : i64, scratchpad_ports = 2 : i64} : () -> ()
  "intar.sfu"() {sym_name = "relu0", kind = "relu", lanes = 4 : i64, dsps = 0 : i64} : () -> ()
  "intar.port"() {sym_name = "hbm0", channel = 0 : i64, width = 256 : i64} : () -> ()
  "intar.link"() {sym_name = "l0", source = @cc0, dest = @relu0, width = 64 : i64, depth = 16 : i64} : () -> ()
  "intar.buffer"() {sym_name = "buf_x", tensor = @x, placement = "offchip", home = @hbm0, bytes = 256 : i64} : () -> ()
  "intar.buffer"() {sym_name = "buf_w", tensor = @w, placement = "onchip", home = @cc0, bytes = 512 : i64} : () -> ()
  "intar.buffer"() {sym_name = "buf_b", tensor = @b, placement = "offchip", home = @hbm0, bytes = 256 : i64} : () -> ()
  "intar.schedule"() ({
    "intar.phase"() ({
      "intar.assign"() {task = @a, unit = @cc0, stage = 0 : i64, slice = array<i64: 0, 0, 4>, bounds = array<i64: 4, 4, 4>, sources = [@buf_x, @buf_w], sinks = [@l0]} : () -> ()
    }) {sym_name = "p0", pattern = "sequential", cycles = 40 : i64} : () -> ()
    "intar.switch"() {from = @p0, to = @p1, cycles = 3 : i64} : () -> ()
    "intar.phase"() ({
      "intar.assign"() {task = @b, unit = @relu0, stage = 0 : i64, slice = array<i64: 0, 0, 8>, bounds = array<i64: 8, 4, 1>, sources = [@l0], sinks = [@buf_b]} : () -> ()
    }) {sym_name = "p1", pattern = "task_parallel", cycles = 40 : i64} : () -> ()
  }) : () -> ()
}) {sym_name = "d", graph = @chain, device = "tiny", mode = "intar", dsp_budget = 32 : i64, port_budget = 2 : i64} : () -> ()

// -----

"intar.graph"() ({
  %x = "intar.input"() {sym_name = "x"} : () -> tensor<8x16xi16>
  %w = "intar.weight"() {sym_name = "w", seed = 1 : i64} : () -> tensor<16x16xi16>
  %a = "intar.matmul"(%x, %w) {sym_name = "a", shift = 8 : i64} : (tensor<8x16xi16>, tensor<16x16xi16>) -> tensor<8x16xi16>
  %b = "intar.relu"(%a) {sym_name = "b"} : (tensor<8x16xi16>) -> tensor<8x16xi16>
  "intar.output"(%b) : (tensor<8x16xi16>) -> ()
}) {sym_name = "chain"} : () -> ()

// expected-error@+1 {{task 'b' is not assigned in any phase}}
"intar.design"() ({
  "intar.core"() {sym_name = "cc0", pe = array<i64: 2, 4, 4>, scratchpad_bytes = 4096 : i64, scratchpad_ports = 2 : i64} : () -> ()
  "intar.sfu"() {sym_name = "relu0", kind = "relu", lanes = 4 : i64, dsps = 0 : i64} : () -> ()
  "intar.port"() {sym_name = "hbm0", channel = 0 : i64, width = 256 : i64} : () -> ()
  "intar.link"() {sym_name = "l0", source = @cc0, dest = @relu0, width = 64 : i64, depth = 16 : i64} : () -> ()
  "intar.buffer"() {sym_name = "buf_x", tensor = @x, placement = "offchip", home = @hbm0, bytes = 256 : i64} : () -> ()
  "intar.buffer"() {sym_name = "buf_w", tensor = @w, placement = "onchip", home = @cc0, bytes = 512 : i64} : () -> ()
  "intar.buffer"() {sym_name = "buf_b", tensor = @b, placement = "offchip", home = @hbm0, bytes = 256 : i64} : () -> ()
  "intar.schedule"() ({
    "intar.phase"() ({
      "intar.assign"() {task = @a, unit = @cc0, stage = 0 : i64, slice = array<i64: 0, 0, 8>, bounds = array<i64: 4, 4, 4>, sources = [@buf_x, @buf_w], sinks = [@l0]} : () -> ()
    }) {sym_name = "p0", pattern = "sequential", cycles = 40 : i64} : () -> ()
  }) : () -> ()
}) {sym_name = "d", graph = @chain, device = "tiny", mode = "intar", dsp_budget = 32 : i64, port_budget = 2 : i64} : () -> ()

// -----

"intar.graph"() ({
  %x = "intar.input"() {sym_name = "x"} : () -> tensor<8x16xi16>
  %w = "intar.weight"() {sym_name = "w", seed = 1 : i64} : () -> tensor<16x16xi16>
  %a = "intar.matmul"(%x, %w) {sym_name = "a", shift = 8 : i64} : (tensor<8x16xi16>, tensor<16x16xi16>) -> tensor<8x16xi16>
  %b = "intar.relu"(%a) {sym_name = "b"} : (tensor<8x16xi16>) -> tensor<8x16xi16>
  "intar.output"(%b) : (tensor<8x16xi16>) -> ()
}) {sym_name = "chain"} : () -> ()

"intar.design"() ({
  "intar.core"() {sym_name = "cc0", pe = array<i64: 2, 4, 4>, scratchpad_bytes = 4096 : i64, scratchpad_ports = 2 : i64} : () -> ()
  "intar.sfu"() {sym_name = "relu0", kind = "relu", lanes = 4 : i64, dsps = 0 : i64} : () -> ()
  "intar.port"() {sym_name = "hbm0", channel = 0 : i64, width = 256 : i64} : () -> ()
  "intar.link"() {sym_name = "l0", source = @cc0, dest = @relu0, width = 64 : i64, depth = 16 : i64} : () -> ()
  // expected-error@+1 {{only a 2-D weight can be stored 'transposed'}}
  "intar.buffer"() {sym_name = "buf_x", tensor = @x, placement = "offchip", home = @hbm0, bytes = 256 : i64, transposed} : () -> ()
  "intar.buffer"() {sym_name = "buf_w", tensor = @w, placement = "onchip", home = @cc0, bytes = 512 : i64} : () -> ()
  "intar.buffer"() {sym_name = "buf_b", tensor = @b, placement = "offchip", home = @hbm0, bytes = 256 : i64} : () -> ()
  "intar.schedule"() ({
    "intar.phase"() ({
      "intar.assign"() {task = @a, unit = @cc0, stage = 0 : i64, slice = array<i64: 0, 0, 8>, bounds = array<i64: 4, 4, 4>, sources = [@buf_x, @buf_w], sinks = [@l0]} : () -> ()
    }) {sym_name = "p0", pattern = "sequential", cycles = 40 : i64} : () -> ()
    "intar.switch"() {from = @p0, to = @p1, cycles = 3 : i64} : () -> ()
    "intar.phase"() ({
      "intar.assign"() {task = @b, unit = @relu0, stage = 0 : i64, slice = array<i64: 0, 0, 8>, bounds = array<i64: 8, 4, 1>, sources = [@l0], sinks = [@buf_b]} : () -> ()
    }) {sym_name = "p1", pattern = "task_parallel", cycles = 40 : i64} : () -> ()
  }) : () -> ()
}) {sym_name = "d", graph = @chain, device = "tiny", mode = "intar", dsp_budget = 32 : i64, port_budget = 2 : i64} : () -> ()

// -----

"intar.graph"() ({
  %x = "intar.input"() {sym_name = "x"} : () -> tensor<8x16xi16>
  %w = "intar.weight"() {sym_name = "w", seed = 1 : i64} : () -> tensor<16x16xi16>
  %a = "intar.matmul"(%x, %w) {sym_name = "a", shift = 8 : i64, transpose_rhs} : (tensor<8x16xi16>, tensor<16x16xi16>) -> tensor<8x16xi16>
  %b = "intar.relu"(%a) {sym_name = "b"} : (tensor<8x16xi16>) -> tensor<8x16xi16>
  "intar.output"(%b) : (tensor<8x16xi16>) -> ()
}) {sym_name = "chain"} : () -> ()

"intar.design"() ({
  "intar.core"() {sym_name = "cc0", pe = array<i64: 2, 4, 4>, scratchpad_bytes = 4096 : i64, scratchpad_ports = 2 : i64} : () -> ()
  "intar.sfu"() {sym_name = "relu0", kind = "relu", lanes = 4 : i64, dsps = 0 : i64} : () -> ()
  "intar.port"() {sym_name = "hbm0", channel = 0 : i64, width = 256 : i64} : () -> ()
  "intar.link"() {sym_name = "l0", source = @cc0, dest = @relu0, width = 64 : i64, depth = 16 : i64} : () -> ()
  "intar.buffer"() {sym_name = "buf_x", tensor = @x, placement = "offchip", home = @hbm0, bytes = 256 : i64} : () -> ()
  // expected-error@+1 {{a 'transposed' weight must be read by one matmul only, as its [K, N] rhs}}
  "intar.buffer"() {sym_name = "buf_w", tensor = @w, placement = "onchip", home = @cc0, bytes = 512 : i64, transposed} : () -> ()
  "intar.buffer"() {sym_name = "buf_b", tensor = @b, placement = "offchip", home = @hbm0, bytes = 256 : i64} : () -> ()
  "intar.schedule"() ({
    "intar.phase"() ({
      "intar.assign"() {task = @a, unit = @cc0, stage = 0 : i64, slice = array<i64: 0, 0, 8>, bounds = array<i64: 4, 4, 4>, sources = [@buf_x, @buf_w], sinks = [@l0]} : () -> ()
    }) {sym_name = "p0", pattern = "sequential", cycles = 40 : i64} : () -> ()
    "intar.switch"() {from = @p0, to = @p1, cycles = 3 : i64} : () -> ()
    "intar.phase"() ({
      "intar.assign"() {task = @b, unit = @relu0, stage = 0 : i64, slice = array<i64: 0, 0, 8>, bounds = array<i64: 8, 4, 1>, sources = [@l0], sinks = [@buf_b]} : () -> ()
    }) {sym_name = "p1", pattern = "task_parallel", cycles = 40 : i64} : () -> ()
  }) : () -> ()
}) {sym_name = "d", graph = @chain, device = "tiny", mode = "intar", dsp_budget = 32 : i64, port_budget = 2 : i64} : () -> ()

// -----

"intar.graph"() ({
  %x = "intar.input"() {sym_name = "x"} : () -> tensor<8x16xi16>
  %w = "intar.weight"() {sym_name = "w", seed = 1 : i64} : () -> tensor<16x16xi16>
  %a = "intar.matmul"(%x, %w) {sym_name = "a", shift = 8 : i64} : (tensor<8x16xi16>, tensor<16x16xi16>) -> tensor<8x16xi16>
  %b = "intar.relu"(%a) {sym_name = "b"} : (tensor<8x16xi16>) -> tensor<8x16xi16>
  "intar.output"(%b) : (tensor<8x16xi16>) -> ()
}) {sym_name = "chain"} : () -> ()

"intar.design"() ({
  "intar.core"() {sym_name = "cc0", pe = array<i64: 2, 4, 4>, scratchpad_bytes = 4096 : i64, scratchpad_ports = 2 : i64} : () -> ()
  "intar.sfu"() {sym_name = "relu0", kind = "relu", lanes = 4 : i64, dsps = 0 : i64} : () -> ()
  "intar.port"() {sym_name = "hbm0", channel = 0 : i64, width = 256 : i64} : () -> ()
  "intar.link"() {sym_name = "l0", source = @cc0, dest = @relu0, width = 64 : i64, depth = 16 : i64} : () -> ()
  "intar.buffer"() {sym_name = "buf_x", tensor = @x, placement = "offchip", home = @hbm0, bytes = 256 : i64} : () -> ()
  "intar.buffer"() {sym_name = "buf_w", tensor = @w, placement = "onchip", home = @cc0, bytes = 512 : i64} : () -> ()
  "intar.buffer"() {sym_name = "buf_b", tensor = @b, placement = "offchip", home = @hbm0, bytes = 256 : i64} : () -> ()
  "intar.schedule"() ({
    "intar.phase"() ({
      "intar.assign"() {task = @a, unit = @cc0, stage = 0 : i64, slice = array<i64: 0, 0, 8>, bounds = array<i64: 4, 4, 4>, sources = [@buf_x, @buf_w], sinks = [@l0]} : () -> ()
    }) {sym_name = "p0", pattern = "sequential", cycles = 40 : i64} : () -> ()
    "intar.switch"() {from = @p0, to = @p1, cycles = 3 : i64} : () -> ()
    "intar.phase"() ({
      // expected-error@+1 {{'loop_order' applies to PE tasks and, as 'jik', to pointwise SFU tasks, not 'kij' on 'relu'}}
      "intar.assign"() {task = @b, unit = @relu0, stage = 0 : i64, slice = array<i64: 0, 0, 8>, bounds = array<i64: 8, 4, 1>, loop_order = "kij", sources = [@l0], sinks = [@buf_b]} : () -> ()
    }) {sym_name = "p1", pattern = "task_parallel", cycles = 40 : i64} : () -> ()
  }) : () -> ()
}) {sym_name = "d", graph = @chain, device = "tiny", mode = "intar", dsp_budget = 32 : i64, port_budget = 2 : i64} : () -> ()

