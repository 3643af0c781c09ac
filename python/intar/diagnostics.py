"""MLIR diagnostics, collected and printed the way mlir-opt prints them."""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from typing import TextIO

from circt import ir

_SEVERITY = {
    ir.DiagnosticSeverity.ERROR: "error",
    ir.DiagnosticSeverity.WARNING: "warning",
    ir.DiagnosticSeverity.NOTE: "note",
    ir.DiagnosticSeverity.REMARK: "remark",
}


@dataclass(frozen=True)
class Diag:
    severity: str
    file: str | None
    line: int
    col: int
    message: str
    notes: tuple[Diag, ...] = field(default_factory=tuple)

    def format(self) -> str:
        where = f"{self.file}:{self.line}:{self.col}: " if self.file is not None else ""
        text = f"{where}{self.severity}: {self.message}"
        return "\n".join([text, *(n.format() for n in self.notes)])


def _file_location(loc: ir.Location) -> tuple[str | None, int, int]:
    """The innermost file:line:col of a location, if it has one."""
    # Fused, name and call-site locations: use the first file location in them.
    m = re.search(r'"([^"]*)":(\d+):(\d+)', str(loc))
    if m:
        return m.group(1), int(m.group(2)), int(m.group(3))
    return None, 0, 0


def from_mlir(d: ir.Diagnostic | ir.DiagnosticInfo) -> Diag:
    file, line, col = _file_location(d.location)
    notes = tuple(from_mlir(n) for n in d.notes)
    return Diag(_SEVERITY.get(d.severity, "error"), file, line, col, str(d.message), notes)


class DiagnosticCollector:
    """Captures every diagnostic emitted in a context, in order.

    Use as a context manager; `diags` lists what was captured. Diagnostics from parse errors
    arrive as `MLIRError` exceptions instead and are added with `add_error`.
    """

    def __init__(self, ctx: ir.Context) -> None:
        self.ctx = ctx
        self.diags: list[Diag] = []
        self._handler = None

    def __enter__(self) -> DiagnosticCollector:
        self._handler = self.ctx.attach_diagnostic_handler(self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        self._handler.detach()

    def _handle(self, d: ir.Diagnostic) -> bool:
        self.diags.append(from_mlir(d))
        return True

    def add_error(self, e: ir.MLIRError) -> None:
        """Adds an exception's diagnostics that the handler has not already seen."""
        infos = [from_mlir(d) for d in e.error_diagnostics]
        if not infos and not self.errors:
            infos = [Diag("error", None, 0, 0, str(e))]
        self.diags.extend(d for d in infos if d not in self.diags)

    def add(self, diag: Diag) -> None:
        self.diags.append(diag)

    @property
    def errors(self) -> list[Diag]:
        return [d for d in self.diags if d.severity == "error"]

    def print(self, stream: TextIO | None = None) -> None:
        stream = stream or sys.stderr
        for d in self.diags:
            print(d.format(), file=stream)


_EXPECTED = re.compile(
    r"//\s*expected-(error|warning|note|remark)\s*(@(?:[+-]\d+|above|below))?\s*\{\{(.*?)\}\}"
)


@dataclass
class Expected:
    severity: str
    line: int
    text: str
    matched: bool = False


def expected_diagnostics(text: str, first_line: int) -> list[Expected]:
    """The `// expected-error@+1 {{...}}` annotations of a chunk, with absolute lines."""
    found = []
    for i, source_line in enumerate(text.splitlines()):
        line = first_line + i
        for m in _EXPECTED.finditer(source_line):
            where = m.group(2)
            target = line
            if where in ("@above",):
                target = line - 1
            elif where in ("@below",):
                target = line + 1
            elif where:
                target = line + int(where[1:])
            found.append(Expected(m.group(1), target, m.group(3)))
    return found


def check_expected(expected: list[Expected], diags: list[Diag], file: str) -> list[str]:
    """Matches diagnostics against annotations; returns mlir-opt-style complaints."""
    problems = []
    flat = [n for d in diags for n in (d, *d.notes)]
    for d in flat:
        match = next(
            (
                e
                for e in expected
                if not e.matched
                and e.severity == d.severity
                and e.line == d.line
                and e.text in d.message
            ),
            None,
        )
        if match is None:
            problems.append(f"{file}:{d.line}:{d.col}: error: unexpected {d.severity}: {d.message}")
        else:
            match.matched = True
    for e in expected:
        if not e.matched:
            problems.append(
                f'{file}:{e.line}: error: expected {e.severity} "{e.text}" was not produced'
            )
    return problems
