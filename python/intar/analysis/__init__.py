"""Analyses of intar IR: recomputed from the ops whenever a pass asks, never stored."""
