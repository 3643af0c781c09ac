"""intar's scheduling library: the problem, device models, cost model and search (no MLIR)."""

from .cost import DEFAULT_PARAMS, CostParams
from .device import Device, available_devices, load_device
from .problem import (
    Gemm,
    ScheduleError,
    Task,
    TaskGraph,
    Tensor,
    gemm_dims,
    input_bytes,
    macs,
    make_graph,
    output_bytes,
    task,
    volume_profile,
    weight_bytes,
)
from .result import Assign, Buffer, Core, Link, Phase, Port, Schedule, Sfu, Switch, validate
from .search import schedule

__all__ = [
    "DEFAULT_PARAMS",
    "Assign",
    "Buffer",
    "Core",
    "CostParams",
    "Device",
    "Gemm",
    "Link",
    "Phase",
    "Port",
    "Schedule",
    "ScheduleError",
    "Sfu",
    "Switch",
    "Task",
    "TaskGraph",
    "Tensor",
    "available_devices",
    "gemm_dims",
    "input_bytes",
    "load_device",
    "macs",
    "make_graph",
    "output_bytes",
    "schedule",
    "task",
    "validate",
    "volume_profile",
    "weight_bytes",
]
