"""Task-level transformations of the intar dialect, one pass per module."""
