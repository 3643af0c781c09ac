"""Lower a core's hw/comb/seq module to clean SystemVerilog with CIRCT's pass pipeline."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import circt
from circt.ir import Context, InsertionPoint, Location, Module, StringAttr
from circt.passmanager import PassManager

LOWERING_OPTIONS = "locationInfoStyle=none,disallowLocalVariables"
PIPELINE = (
    "builtin.module(lower-seq-to-sv, canonicalize, cse, hw.module(hw-aggregate-to-comb),"
    " canonicalize, cse)"
)


def lower_to_sv(module: Module) -> str:
    """Run the seq->sv clean-up pipeline on ``module`` in place and return its SV text."""
    module.operation.attributes["circt.loweringOptions"] = StringAttr.get(LOWERING_OPTIONS)
    PassManager.parse(PIPELINE).run(module.operation)
    buf = io.StringIO()
    circt.export_verilog(module, buf)
    return buf.getvalue()


def emit_sv(build: Callable[[], object], path: Path | None = None) -> str:
    """Build IR with ``build()`` (called at a fresh module's insertion point) and lower it.

    The context and module live only inside this call. Writes ``path`` if given.
    """
    with Context() as ctx, Location.unknown():
        circt.register_dialects(ctx)
        ctx.load_all_available_dialects()
        module = Module.create()
        with InsertionPoint(module.body):
            build()
        if not module.operation.verify():
            raise RuntimeError("generated IR does not verify")
        text = lower_to_sv(module)
        del module
    if path is not None:
        Path(path).write_text(text)
    return text
