"""C++ headers in the checkout's lib/sim that generated testbenches include."""

from __future__ import annotations

from pathlib import Path

LIB = Path(__file__).resolve().parents[3] / "lib"
"""The checkout's lib/: building blocks kept as source (used from an editable install)."""

BUS_HEADER = LIB / "sim" / "bus.h"
MEMORY_MODEL_HEADER = LIB / "sim" / "memory_model.h"
