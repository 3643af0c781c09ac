"""Conversion passes: from the scheduled `intar` level to CIRCT's hardware dialects."""
