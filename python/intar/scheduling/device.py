"""Device models, loaded from `python/intar/devices/<name>.json`.

A device file is data, not code: resource counts with the data sheets they come from, the
off-chip memory as seen from the kernel clock, and the realism bounds a generated design must
respect (LUT levels between registers, memory widths and ports, FIFO depth).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

DEVICES_DIR = Path(__file__).resolve().parent.parent / "devices"


@dataclass(frozen=True)
class Memory:
    """One kind of on-chip RAM block."""

    count: int
    width_bits: int
    data_bits: int
    ports: int
    depth_at_max_width: int

    @property
    def block_bytes(self) -> int:
        """Usable bytes per block: data bits (parity bits unused) times depth."""
        return self.data_bits * self.depth_at_max_width // 8


@dataclass(frozen=True)
class OffChip:
    """Off-chip memory channels (HBM pseudo-channels or DDR ports) at the kernel clock."""

    kind: str
    channels: int
    width_bits: int
    bytes_per_cycle: int
    latency_cycles: int
    channel_clock_mhz: float
    peak_gbytes_per_s: float


@dataclass(frozen=True)
class Device:
    """A target device: resources, off-chip memory and realism bounds."""

    name: str
    part: str
    clock_mhz: float
    slrs: int
    dsp: int
    dsp_kind: str
    int16_macs_per_dsp: int
    int8_macs_per_dsp: int
    bram36: Memory
    uram: Memory
    offchip: OffChip
    max_logic_levels: int
    max_fifo_depth: int
    sfu_max_lanes: int
    max_pe_lanes: int  # caps d1 and d2: independent lanes, each fed by a broadcast operand
    max_pe_reduction: int  # caps d3: the adder tree's inputs
    sources: tuple[str, ...]

    @property
    def onchip_bytes(self) -> int:
        """Usable on-chip RAM: BRAM36 plus URAM blocks."""
        return self.bram36.count * self.bram36.block_bytes + self.uram.count * self.uram.block_bytes

    @property
    def ram_ports(self) -> int:
        """Independent RAM ports (each up to 72 bits wide) over all BRAM36 and URAM blocks."""
        return self.bram36.count * self.bram36.ports + self.uram.count * self.uram.ports

    def macs_per_dsp(self, bits: int) -> int:
        """MACs one DSP performs per cycle for operands of `bits` (int8 packing below 9 bits)."""
        return self.int8_macs_per_dsp if bits <= 8 else self.int16_macs_per_dsp

    def seconds(self, cycles: int) -> float:
        return cycles / (self.clock_mhz * 1e6)


def _memory(d: dict) -> Memory:
    return Memory(
        int(d["count"]),
        int(d["width_bits"]),
        int(d["data_bits"]),
        int(d["ports"]),
        int(d["depth_at_max_width"]),
    )


def device_from_dict(d: dict) -> Device:
    """Build a Device from the JSON structure (raises KeyError/ValueError if malformed)."""
    off = d["offchip"]
    dev = Device(
        name=str(d["name"]),
        part=str(d.get("part", "")),
        clock_mhz=float(d["clock_mhz"]),
        slrs=int(d["slrs"]),
        dsp=int(d["dsp"]["count"]),
        dsp_kind=str(d["dsp"]["kind"]),
        int16_macs_per_dsp=int(d["dsp"]["int16_macs_per_dsp"]),
        int8_macs_per_dsp=int(d["dsp"]["int8_macs_per_dsp"]),
        bram36=_memory(d["bram36"]),
        uram=_memory(d["uram"]),
        offchip=OffChip(
            kind=str(off["kind"]),
            channels=int(off["channels"]),
            width_bits=int(off["width_bits"]),
            bytes_per_cycle=int(off["bytes_per_cycle"]),
            latency_cycles=int(off["latency_cycles"]),
            channel_clock_mhz=float(off["channel_clock_mhz"]),
            peak_gbytes_per_s=float(off["peak_gbytes_per_s"]),
        ),
        max_logic_levels=int(d["max_logic_levels"]),
        max_fifo_depth=int(d["max_fifo_depth"]),
        sfu_max_lanes=int(d["sfu_max_lanes"]),
        max_pe_lanes=int(d["max_pe_lanes"]),
        max_pe_reduction=int(d["max_pe_reduction"]),
        sources=tuple(str(s) for s in d["sources"]),
    )
    if min(dev.dsp, dev.offchip.channels, dev.offchip.bytes_per_cycle, dev.sfu_max_lanes) < 1:
        raise ValueError(f"device {dev.name}: counts must be positive")
    if dev.offchip.bytes_per_cycle * 8 > dev.offchip.width_bits:
        raise ValueError(f"device {dev.name}: bytes_per_cycle exceeds the port width")
    if not dev.sources:
        raise ValueError(f"device {dev.name}: no sources")
    return dev


def available_devices() -> tuple[str, ...]:
    return tuple(sorted(p.stem for p in DEVICES_DIR.glob("*.json")))


def load_device(name_or_path: str | Path) -> Device:
    """Load a device by name (`u280`, `vpk180`, `tiny`) or from a JSON file path."""
    path = Path(name_or_path)
    if path.suffix != ".json":
        path = DEVICES_DIR / f"{name_or_path}.json"
    if not path.is_file():
        raise ValueError(
            f"unknown device {name_or_path!r}; known: {', '.join(available_devices())}"
        )
    return device_from_dict(json.loads(path.read_text()))
