"""Synthesis of generated designs for resource counts (yosys)."""
