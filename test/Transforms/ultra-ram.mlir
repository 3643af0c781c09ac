// RUN: intar-opt %s '--pass-pipeline=builtin.module(lower-seq-firmem, lower-seq-to-sv, hw-memory-sim{disable-mem-randomization disable-reg-randomization}, intar-ultra-ram)' | FileCheck %s

// hw-memory-sim names each memory module after its firmem's prefix. The array register of a
// module named *_uram_* gets ram_style "ultra"; its address registers and the other
// memories are left alone.
// CHECK-LABEL: hw.module private @buf_uram_m_16x16(
// CHECK-NEXT: %Memory = sv.reg {sv.attributes = [#sv.attribute<"ram_style" = "\22ultra\22">]} : !hw.inout<uarray<16xi16>>
// CHECK-NOT: sv.attributes
// CHECK-LABEL: hw.module private @buf_n_16x16(
// CHECK-NEXT: %Memory = sv.reg : !hw.inout<uarray<16xi16>>
// CHECK-NOT: sv.attributes
// CHECK-LABEL: hw.module @top(
hw.module @top(in %clk: !seq.clock, in %a: i4, in %d: i16, in %we: i1, out o: i16, out p: i16) {
  %m = seq.firmem 1, 1, undefined, undefined {prefix = "buf_uram_"} : <16 x 16>
  seq.firmem.write_port %m[%a] = %d, clock %clk enable %we : <16 x 16>
  %r = seq.firmem.read_port %m[%a], clock %clk : <16 x 16>
  %n = seq.firmem 1, 1, undefined, undefined {prefix = "buf_"} : <16 x 16>
  seq.firmem.write_port %n[%a] = %d, clock %clk enable %we : <16 x 16>
  %s = seq.firmem.read_port %n[%a], clock %clk : <16 x 16>
  hw.output %r, %s : i16, i16
}
