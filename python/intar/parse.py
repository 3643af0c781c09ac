"""Reading MLIR source into a module of intar's context."""

from __future__ import annotations

import re
from dataclasses import dataclass

from circt import ir

SPLIT_MARKER = re.compile(r"^// -----\s*$", re.M)


@dataclass(frozen=True)
class Chunk:
    """A piece of a source file; `first_line` is where it starts (1-based) in the file."""

    text: str
    first_line: int


def split_source(text: str, split: bool) -> list[Chunk]:
    """Splits at `// -----` lines, as mlir-opt's --split-input-file does."""
    if not split:
        return [Chunk(text, 1)]
    chunks, start, line = [], 0, 1
    for m in SPLIT_MARKER.finditer(text):
        chunks.append(Chunk(text[start : m.start()], line))
        line += text.count("\n", start, m.end())
        start = m.end()
        if start < len(text) and text[start] == "\n":
            start += 1
            line += 1
    chunks.append(Chunk(text[start:], line))
    return chunks


def parse_chunk(chunk: Chunk, source_name: str) -> ir.Module:
    """Parses a chunk; locations carry the file's name and the file's own line numbers.

    Raises `ir.MLIRError` with the parser's diagnostics. Like mlir-opt, a source that is not a
    single `builtin.module` is wrapped in an implicit one.
    """
    pad = "\n" * (chunk.first_line - 1)
    try:
        op = ir.Operation.parse(pad + chunk.text, source_name=source_name)
    except ir.MLIRError as e:
        if "single top-level operation" not in str(e):
            raise
        # Several top-level ops: wrap them. The wrapper shares the first padding line, so only
        # the columns of an op on line 1 of the file shift.
        head = "module {" + pad if pad else "module { "
        op = ir.Operation.parse(head + chunk.text + "\n}", source_name=source_name)
    if op.operation.name == "builtin.module":
        return _module_of(op)
    module = ir.Module.create(op.location)
    ir.InsertionPoint(module.body).insert(op.operation)
    return module


def _module_of(op: ir.OpView) -> ir.Module:
    """The `ir.Module` view of a parsed `builtin.module` op."""
    module = ir.Module.create(op.location)
    # Move the parsed module's body into a fresh Module object, keeping attributes.
    for name in [a.name for a in op.operation.attributes]:
        module.operation.attributes[name] = op.operation.attributes[name]
    ip = ir.InsertionPoint(module.body)
    for child in list(op.operation.regions[0].blocks[0].operations):
        child.operation.detach_from_parent()
        ip.insert(child.operation)
    op.operation.erase()
    return module
