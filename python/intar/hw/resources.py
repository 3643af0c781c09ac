"""On-chip memory of a planned design, counted before synthesis.

Every tensor buffer is ``R x C`` element-wide banks (`intar.hw.tensor_buffer`), every k-outer
core one accumulator memory per tile row (`intar.hw.core`). `memories(plan)` lists them and
`bram36(depth, width)` counts the block RAM one takes the way yosys `synth_xilinx` maps it. yosys
weighs LUTRAM cells against RAMB18s: a memory goes to LUTRAM (RAM32M16 up to 32 words, else
RAM64M8 per 64 words, `lutram_cells`) when that takes at most `LUTRAM_CELLS_PER_RAMB18` cells
per RAMB18 it would need, otherwise to RAMB18/RAMB36 in the aspect ratio that needs the
fewest (a RAMB18 counts half). So a shallow memory stays in LUTs however wide it is (an
accumulator memory of 16 words x 2048 bits is 147 RAM32M16, not 57 RAMB18). The estimate leaves
out the SFUs' row rings and counts each bank on its own, so yosys can only need more.

A tensor buffer the planner moves to UltraRAM (`BufferPlan.ultra_ram`, when the block RAM
would not fit) has its banks marked ``ram_style = "ultra"`` and counts `uram(depth, width)`
URAM288 blocks a bank instead.

`intar compile` reports the estimate and warns when it exceeds the device; `intar bench qor`
does not synthesise a design whose estimate is far over the device (yosys would take hours to
say the same).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from intar.hw import tensor_buffer as tb

if TYPE_CHECKING:
    from intar.hw.plan import BufferPlan, HwPlan, Instr

PE = tuple[int, int, int]

LUTRAM_CELLS_PER_RAMB18 = 9
"""yosys (0.70, synth_xilinx -family xcup) keeps a 1-write 1-read memory in LUTRAM when it
needs at most this many LUTRAM cells per RAMB18 of the block-RAM mapping: 184 x 16 (9 RAM64M8)
stays in LUTRAM, 128 x 32 (10 RAM64M8) goes to one RAMB18; `test_resources` checks shapes
either side against yosys. Known miss: 130 x 21 (9 RAM64M8, every bit used) goes to a RAMB18,
so yosys can need half a block more per such memory than counted."""

# RAMB36 aspect ratios, data width -> depth (UG573: 1 x 32K .. 72 x 512, parity bits used);
# a RAMB18 has half the depth at each width up to 36
RAMB36_ASPECTS = ((1, 32768), (2, 16384), (4, 8192), (9, 4096), (18, 2048), (36, 1024), (72, 512))


# URAM288 aspect ratios as yosys maps a memory marked ram_style "ultra" (4K x 72, narrower
# words folded into it down to 18 bits), data width -> depth
URAM_ASPECTS = ((72, 4096), (36, 8192), (18, 16384))


def uram(depth: int, width: int) -> int:
    """URAM288 blocks one ``depth x width`` memory marked ``ram_style = "ultra"`` takes."""
    return min(math.ceil(width / w) * math.ceil(depth / d) for w, d in URAM_ASPECTS)


def lutram_cells(depth: int, width: int) -> int:
    """LUTRAM cells of one ``depth x width`` memory: RAM32M16 (32 words x 14 bits) up to 32
    words, else RAM64M8 (64 words x 7 bits) per 64 words."""
    if depth <= 32:
        return math.ceil(width / 14)
    return math.ceil(depth / 64) * math.ceil(width / 7)


def bram36(depth: int, width: int) -> float:
    """RAMB36 blocks one ``depth x width`` memory takes (a RAMB18, half a block, is 0.5; 0 in
    LUTRAM)."""
    blocks = _block_ram(depth, width)
    if lutram_cells(depth, width) <= LUTRAM_CELLS_PER_RAMB18 * 2 * blocks:
        return 0.0
    return blocks


def _block_ram(depth: int, width: int) -> float:
    full = min(math.ceil(width / w) * math.ceil(depth / d) for w, d in RAMB36_ASPECTS)
    half = min(
        0.5 * math.ceil(width / w) * math.ceil(depth / (d // 2))
        for w, d in RAMB36_ASPECTS
        if w <= 36
    )
    return min(full, half)


@dataclass(frozen=True)
class Memory:
    name: str
    depth: int
    width: int
    count: int
    ultra: bool = False  # in UltraRAM (ram_style "ultra")

    @property
    def bram36(self) -> float:
        return 0.0 if self.ultra else self.count * bram36(self.depth, self.width)

    @property
    def uram(self) -> int:
        return self.count * uram(self.depth, self.width) if self.ultra else 0


def memories(plan: HwPlan) -> list[Memory]:
    """Every memory the design holds: the banks of each tensor buffer and the accumulator
    memories of k-outer cores."""
    return plan_memories(plan.buffers, plan.instrs, {c.name: c.pe for c in plan.cores})


def buffer_spec(bp: BufferPlan) -> tb.TensorBufferSpec:
    """The tensor-buffer module a planned buffer is built as (its physical matrix: the flat
    layout's if it has one)."""
    rows, cols = (bp.flat.rows, bp.flat.cols) if bp.flat else (bp.tensor.rows, bp.tensor.cols)
    return tb.TensorBufferSpec(
        rows,
        cols,
        bp.tensor.bits,
        tuple(w.shape for w in bp.writers),
        bp.read_shape,
        bp.conv_read,
        bp.ring_blocks,
        bp.ultra_ram,
        bp.rotations,
    )


def buffer_memory(name: str, bp: BufferPlan) -> Memory:
    """The banks of one tensor buffer."""
    spec = buffer_spec(bp)
    return Memory(name, spec.depth, bp.tensor.bits, spec.banks, bp.ultra_ram)


def plan_memories(
    buffers: dict[str, BufferPlan], instrs: dict[str, list[Instr]], pes: dict[str, PE]
) -> list[Memory]:
    out = [buffer_memory(name, buffers[name]) for name in sorted(buffers)]
    for unit, lst in sorted(instrs.items()):
        depth = max([x.bounds[1] * x.bounds[2] for x in lst if x.order == "kij"] or [1])
        if unit in pes and depth > 1:
            d1, d2, _ = pes[unit]
            out.append(Memory(f"{unit}_acc", depth, d2 * 32, d1))
    return out


def bram36_estimate(plan: HwPlan) -> tuple[float, list[Memory]]:
    """(RAMB36 blocks of all memories, the memories by blocks, largest first)."""
    mems = sorted(memories(plan), key=lambda m: (-m.bram36, m.name))
    return sum(m.bram36 for m in mems), mems


def uram_estimate(plan: HwPlan) -> int:
    """URAM288 blocks of the buffers held in UltraRAM."""
    return sum(m.uram for m in memories(plan))
