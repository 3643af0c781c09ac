// RUN: intar-opt %s --split-input-file '--intar-schedule=device=tiny' | FileCheck %s --check-prefix=INTAR
// RUN: intar-opt %s --split-input-file '--intar-schedule=device=tiny mode=sequential' | FileCheck %s --check-prefix=SEQ
// RUN: intar-opt %s --split-input-file '--intar-schedule=device=tiny mode=dataflow' | FileCheck %s --check-prefix=DF
// RUN: intar-opt %s --split-input-file '--intar-schedule=device=tiny' | intar-opt --split-input-file > /dev/null

// Two independent products: InTAR runs them side by side on two cores; sequential runs
// them one after the other on one core, with a mode switch between.
// INTAR: "intar.core"() {{.*}}sym_name = "cc0"
// INTAR: "intar.core"() {{.*}}sym_name = "cc1"
// INTAR: "intar.phase"
// INTAR-DAG: "intar.assign"() {{.*}}task = @a, unit = @cc{{[01]}}
// INTAR-DAG: "intar.assign"() {{.*}}task = @b, unit = @cc{{[01]}}
// INTAR: pattern = "task_parallel", sym_name = "p0"
// INTAR-NOT: "intar.switch"
// INTAR: graph = @twin, {{.*}}mode = "intar"
// SEQ: pattern = "sequential", sym_name = "p0"
// SEQ-NEXT: "intar.switch"() {cycles = {{[0-9]+}} : i64, from = @p0, to = @p1}
// SEQ: pattern = "sequential", sym_name = "p1"
// SEQ: graph = @twin, {{.*}}mode = "sequential"
// DF: pattern = "task_parallel", sym_name = "p0"
// DF: mode = "dataflow"
"intar.graph"() ({
  %x = "intar.input"() {sym_name = "x"} : () -> tensor<32x32xi16>
  %w1 = "intar.weight"() {sym_name = "w1", seed = 1 : i64} : () -> tensor<32x32xi16>
  %w2 = "intar.weight"() {sym_name = "w2", seed = 2 : i64} : () -> tensor<32x32xi16>
  %a = "intar.matmul"(%x, %w1) {sym_name = "a", shift = 12 : i64} : (tensor<32x32xi16>, tensor<32x32xi16>) -> tensor<32x32xi16>
  %b = "intar.matmul"(%x, %w2) {sym_name = "b", shift = 12 : i64} : (tensor<32x32xi16>, tensor<32x32xi16>) -> tensor<32x32xi16>
  "intar.output"(%a, %b) : (tensor<32x32xi16>, tensor<32x32xi16>) -> ()
}) {sym_name = "twin"} : () -> ()

// -----

// A chain whose intermediate is small. h1's weight arrives from off-chip row by row, so h1
// runs k-outer (kij) and emits its tiles only in its last k step; the ReLU unit shares its
// phase (task-pipeline) through a link that only this phase uses. h1 is split by columns
// over two cores, and its weight is striped to match: each core's columns behind a port of
// their own, so the two halves load side by side.
// INTAR: "intar.sfu"() {dsps = 0 : i64, kind = "relu"
// INTAR: "intar.link"() {{.*}}dest = @sfu_relu{{.*}}source = @cc
// INTAR: "intar.buffer"() {{.*}}home = @port0, placement = "offchip", slice = array<i64: 1, 0, 16>, sym_name = "buf_w1_stripe0", tensor = @w1}
// INTAR-NEXT: "intar.buffer"() {{.*}}home = @port1, placement = "offchip", slice = array<i64: 1, 16, 32>, sym_name = "buf_w1_stripe1", tensor = @w1}
// INTAR-NOT: sym_name = "buf_w1"
// INTAR: "intar.assign"() {{.*}}loop_order = "kij"{{.*}}slice = array<i64: 1, 0, 16>, sources = [@{{[a-z0-9_]+}}, @ln_port0_cc0]{{.*}}task = @h1, unit = @cc0
// INTAR-NEXT: "intar.assign"() {{.*}}loop_order = "kij"{{.*}}slice = array<i64: 1, 16, 32>, sources = [@{{[a-z0-9_]+}}, @ln_port1_cc1{{.*}}task = @h1, unit = @cc1
// INTAR-NEXT: "intar.assign"() {{.*}}task = @r, unit = @sfu_relu
// INTAR: pattern = "task_pipeline"
// INTAR: graph = @chain
// SEQ: pattern = "sequential", sym_name = "p0"
// SEQ: "intar.switch"
// SEQ: graph = @chain
// DF: pattern = "task_pipeline"
// DF: graph = @chain
"intar.graph"() ({
  %x = "intar.input"() {sym_name = "x"} : () -> tensor<1x16xi16>
  %w1 = "intar.weight"() {sym_name = "w1", seed = 1 : i64} : () -> tensor<16x32xi16>
  %w2 = "intar.weight"() {sym_name = "w2", seed = 2 : i64} : () -> tensor<32x16xi16>
  %h1 = "intar.matmul"(%x, %w1) {sym_name = "h1", shift = 17 : i64} : (tensor<1x16xi16>, tensor<16x32xi16>) -> tensor<1x32xi16>
  %r = "intar.relu"(%h1) {sym_name = "r"} : (tensor<1x32xi16>) -> tensor<1x32xi16>
  %h2 = "intar.matmul"(%r, %w2) {sym_name = "h2", shift = 17 : i64} : (tensor<1x32xi16>, tensor<32x16xi16>) -> tensor<1x16xi16>
  "intar.output"(%h2) : (tensor<1x16xi16>) -> ()
}) {sym_name = "chain"} : () -> ()

// -----

// A wide projection whose weight (32 KB) is most of the work, then a narrow one. With the
// weight stored as given ([K, N], row by row) h waits for all of it; its accumulators do not
// fit beside h for k-outer order. Stored transposed ([N, K]) it arrives column block by column
// block, and h runs j-outer (jik) behind it. The dataflow baseline, where h streams into
// the ReLU row block by row block, stores it transposed too and runs h i-outer: the first
// row block then follows the weight's column blocks as they arrive.
// INTAR: "intar.buffer"() {{.*}}sym_name = "buf_w1", tensor = @w1, transposed}
// INTAR-NOT: "intar.buffer"() {{.*}}tensor = @w2, transposed
// INTAR: "intar.assign"() {{.*}}loop_order = "jik"{{.*}}task = @h,
// INTAR: graph = @ffn
// SEQ: "intar.buffer"() {{.*}}sym_name = "buf_w1", tensor = @w1, transposed}
// SEQ: "intar.assign"() {{.*}}loop_order = "jik"{{.*}}task = @h,
// SEQ: graph = @ffn
// DF: "intar.buffer"() {{.*}}sym_name = "buf_w1", tensor = @w1, transposed}
// DF: "intar.assign"() {{.*}}loop_order = "ijk"{{.*}}task = @h,
// DF: graph = @ffn
"intar.graph"() ({
  %x = "intar.input"() {sym_name = "x"} : () -> tensor<48x64xi16>
  %w1 = "intar.weight"() {seed = 3 : i64, sym_name = "w1"} : () -> tensor<64x256xi16>
  %h = "intar.matmul"(%x, %w1) {shift = 14 : i64, sym_name = "h"} : (tensor<48x64xi16>, tensor<64x256xi16>) -> tensor<48x256xi16>
  %r = "intar.relu"(%h) {sym_name = "r"} : (tensor<48x256xi16>) -> tensor<48x256xi16>
  %w2 = "intar.weight"() {seed = 5 : i64, sym_name = "w2"} : () -> tensor<256x8xi16>
  %y = "intar.matmul"(%r, %w2) {shift = 16 : i64, sym_name = "y"} : (tensor<48x256xi16>, tensor<256x8xi16>) -> tensor<48x8xi16>
  "intar.output"(%y) : (tensor<48x8xi16>) -> ()
}) {sym_name = "ffn"} : () -> ()

// -----

// A gated FFN. In the dataflow design up and gate each fit their 16 rows in one row block
// (16x1x1 cores), so their results complete column by column. silu and glu walk columns too
// ((4, 1) tiles, columns outer: loop_order "jik" on the SFU), and down, k-outer, reads glu's
// columns as they complete. The sequential design runs each task alone: the SFUs walk rows.
// DF: "intar.core"() {pe = array<i64: 16, 1, 1>
// DF: "intar.assign"() {bounds = array<i64: 64, 4, 1>, loop_order = "jik"{{.*}}task = @silu,
// DF: "intar.assign"() {bounds = array<i64: 64, 4, 1>, loop_order = "jik"{{.*}}task = @glu,
// DF: "intar.assign"() {{.*}}loop_order = "kij"{{.*}}task = @down,
// DF: graph = @gated
// SEQ: "intar.assign"() {bounds = array<i64: 16, 32, 1>, sinks = {{.*}}task = @silu,
// SEQ: "intar.assign"() {bounds = array<i64: 16, 32, 1>, sinks = {{.*}}task = @glu,
// SEQ: graph = @gated
"intar.graph"() ({
  %x = "intar.input"() {sym_name = "x"} : () -> tensor<16x32xi16>
  %w_up = "intar.weight"() {seed = 1 : i64, sym_name = "w_up"} : () -> tensor<32x64xi16>
  %up = "intar.matmul"(%x, %w_up) {shift = 18 : i64, sym_name = "up"} : (tensor<16x32xi16>, tensor<32x64xi16>) -> tensor<16x64xi16>
  %silu = "intar.silu"(%up) {frac_bits = 10 : i64, sym_name = "silu"} : (tensor<16x64xi16>) -> tensor<16x64xi16>
  %w_gate = "intar.weight"() {seed = 4 : i64, sym_name = "w_gate"} : () -> tensor<32x64xi16>
  %gate = "intar.matmul"(%x, %w_gate) {shift = 18 : i64, sym_name = "gate"} : (tensor<16x32xi16>, tensor<32x64xi16>) -> tensor<16x64xi16>
  %glu = "intar.mul"(%silu, %gate) {shift = 15 : i64, sym_name = "glu"} : (tensor<16x64xi16>, tensor<16x64xi16>) -> tensor<16x64xi16>
  %w_down = "intar.weight"() {seed = 7 : i64, sym_name = "w_down"} : () -> tensor<64x32xi16>
  %down = "intar.matmul"(%glu, %w_down) {shift = 18 : i64, sym_name = "down"} : (tensor<16x64xi16>, tensor<64x32xi16>) -> tensor<16x32xi16>
  "intar.output"(%down) : (tensor<16x32xi16>) -> ()
}) {sym_name = "gated"} : () -> ()
