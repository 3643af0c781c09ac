"""Verilator `--lint-only -Wall` of generated designs, and the one list of waived warnings."""

from __future__ import annotations

from pathlib import Path

from intar.sim.verilator import lint

WAIVERS: dict[str, str] = {
    "DECLFILENAME": "one design.sv holds the top and every submodule, so file and module "
    "names differ by construction",
    "PINCONNECTEMPTY": "controller outputs a unit does not need (src_sel, sink_sel, first_k, "
    "last_k, done) are left open; the controller is shared by every unit kind",
    "UNUSEDSIGNAL": "constant-shift rounding reads only the high bits of a sum; single-stage "
    "units carry a stage tag nobody decodes; a port that is only read leaves its write-ready "
    "input unused",
}
"""Warning code -> why it is expected in every generated design. Nothing else is waived."""


def lint_design(sv: Path, top: str) -> list[str]:
    """Verilator -Wall warnings of a generated design that are not in WAIVERS."""
    return [w for w in lint(sv, top, tuple(WAIVERS)) if w.startswith("%")]
