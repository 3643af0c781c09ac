"""Parameters of the C++ off-chip memory model (``memory_model.h``) from a device file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from intar.scheduling.device import Device, load_device
from intar.sim.headers import MEMORY_MODEL_HEADER  # noqa: F401 (re-exported)


@dataclass(frozen=True)
class MemoryModelParams:
    """Constructor arguments of ``intar::OffchipMemory`` (besides its size in beats)."""

    bytes_per_cycle: int
    latency_cycles: int
    width_bits: int

    def cpp_args(self, beats: int | str) -> str:
        """``OffchipMemory`` constructor arguments, e.g. ``"32, 32, 256"``; ``beats`` may be a
        C++ expression."""
        return f"{self.bytes_per_cycle}, {self.latency_cycles}, {beats}"


def memory_params(device: str | Path | Device) -> MemoryModelParams:
    """Memory-model parameters of a device (name, JSON path or loaded ``Device``).

    The model's beat is ``bytes_per_cycle`` bytes, which must equal the port width.
    """
    dev = device if isinstance(device, Device) else load_device(device)
    off = dev.offchip
    if off.bytes_per_cycle * 8 != off.width_bits:
        raise ValueError(
            f"device {dev.name}: bytes_per_cycle*8 ({off.bytes_per_cycle * 8}) != width_bits "
            f"({off.width_bits}); the memory model needs one beat per port word"
        )
    return MemoryModelParams(off.bytes_per_cycle, off.latency_cycles, off.width_bits)
