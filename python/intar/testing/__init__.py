"""Helpers shared by the tests and the benchmarks (random task graphs)."""
