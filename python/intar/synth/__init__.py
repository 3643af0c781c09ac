"""Synthesis of generated designs for resource counts and logic levels (yosys)."""

from intar.synth.report import BoundsError, SynthError, SynthReport, synthesize

__all__ = ["BoundsError", "SynthError", "SynthReport", "synthesize"]
