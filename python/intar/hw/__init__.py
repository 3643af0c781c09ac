"""Hardware generators: CIRCT hw/comb/seq builders and their lowering to SystemVerilog."""

from intar.hw.core import CoreConfig, build_core
from intar.hw.emit import emit_sv, lower_to_sv

__all__ = ["CoreConfig", "build_core", "core_sv", "emit_sv", "lower_to_sv"]


def core_sv(cfg: CoreConfig, name: str = "intar_core") -> str:
    """SystemVerilog text of one compute core."""
    return emit_sv(lambda: build_core(cfg, name))
