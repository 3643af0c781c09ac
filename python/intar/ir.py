"""The MLIR context intar works in: CIRCT's dialects plus the unregistered `intar` ops."""

from __future__ import annotations

import circt
from circt import ir


def make_context() -> ir.Context:
    """Returns a context with every CIRCT dialect loaded and `intar.*` ops allowed."""
    ctx = ir.Context()
    circt.register_dialects(ctx)
    ctx.load_all_available_dialects()
    ctx.allow_unregistered_dialects = True
    # Importing the dialect module registers the generated op classes.
    from intar.dialects import intar as _  # noqa: F401

    return ctx
