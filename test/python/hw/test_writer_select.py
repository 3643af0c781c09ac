"""A writer's destination selects: one bit of its controller's sink mask per buffer."""

from __future__ import annotations

from intar.hw.plan import Write
from intar.hw.top import destinations, sink_masks


def test_masks_set_one_bit_per_written_buffer() -> None:
    writes = [
        [Write("b", 0, 0, 4), Write("a", 0, 0, 4)],
        [],
        [Write("c", 0, 0, 4), Write("c", 4, 0, 8)],
        [Write("a", 0, 0, 4)],
    ]
    assert destinations(writes) == ["a", "b", "c"]
    assert sink_masks(writes) == [0b011, 0b000, 0b100, 0b001]
