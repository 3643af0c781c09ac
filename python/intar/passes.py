"""intar's pass registry, and pipelines that mix intar's Python passes with CIRCT's.

Every pass is one module under `intar.transforms` or `intar.conversion` that defines `PASS`,
a `PassInfo`. The registry imports a pass only when it is used or listed. A pipeline string
(`builtin.module(intar-simplify-layout, canonicalize)`) is split into its elements; intar's
passes become Python-defined passes in the same CIRCT `PassManager` as CIRCT's own, so no
stage reads another's text.
"""

from __future__ import annotations

import importlib
import os
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from circt import ir
from circt.passmanager import PassManager

from intar.verifier import verify

_PASS_MODULES = {
    "intar-simplify-layout": "intar.transforms.simplify_layout",
    "intar-fuse-requantize": "intar.transforms.fuse_requantize",
    "intar-fuse-relu": "intar.transforms.fuse_relu",
    "intar-schedule": "intar.transforms.schedule",
    "intar-lower-to-hw": "intar.conversion.lower_to_hw",
    "intar-ultra-ram": "intar.transforms.ultra_ram",
}


PIPELINES: dict[str, tuple[str, ...]] = {
    "intar-task-cleanup": ("intar-fuse-requantize", "intar-fuse-relu", "intar-simplify-layout"),
    "intar-lower-to-sv": (
        "intar-lower-to-hw",
        "lower-seq-firmem",
        "lower-seq-to-sv",
        "hw-memory-sim{disable-mem-randomization disable-reg-randomization}",
        "intar-ultra-ram",
        "canonicalize",
        "cse",
        "hw.module(hw-aggregate-to-comb)",
        "canonicalize",
        "cse",
    ),
}
"""Named groups of passes. A group's name may stand in a pipeline for its passes."""


class PassFailure(Exception):
    """Raised by a pass after it emitted its diagnostics."""


@dataclass(frozen=True)
class Option:
    parse: Callable[[str], Any]
    default: Any
    help: str


@dataclass(frozen=True)
class PassInfo:
    argument: str
    summary: str
    run: Callable[[ir.Operation, dict[str, Any]], None]
    options: dict[str, Option] = field(default_factory=dict)

    def parse_options(self, text: str) -> dict[str, Any]:
        """Parses MLIR's `key=value key2=value2` option syntax."""
        values = {k: o.default for k, o in self.options.items()}
        for item in text.split():
            key, eq, value = item.partition("=")
            if key not in self.options or not eq:
                known = ", ".join(self.options) or "none"
                raise ValueError(
                    f"invalid option '{item}' for pass '{self.argument}' (options: {known})"
                )
            try:
                values[key] = self.options[key].parse(value)
            except ValueError as e:
                raise ValueError(f"invalid value '{value}' for option '{key}': {e}") from None
        return values


def registered_passes() -> dict[str, PassInfo]:
    return {name: lookup(name) for name in sorted(_PASS_MODULES)}


def lookup(argument: str) -> PassInfo | None:
    module = _PASS_MODULES.get(argument)
    return importlib.import_module(module).PASS if module else None


def split_pipeline(text: str) -> list[str]:
    """Top-level elements of `builtin.module(a, b{x=1}, hw.module(c))`."""
    text = text.strip()
    if text.startswith("builtin.module(") and text.endswith(")"):
        text = text[len("builtin.module(") : -1]
    elements, depth, current = [], 0, []
    for ch in text:
        if ch in "({":
            depth += 1
        elif ch in ")}":
            depth -= 1
            if depth < 0:
                raise ValueError(f"unbalanced pipeline: '{text}'")
        if ch == "," and depth == 0:
            elements.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
    if depth != 0:
        raise ValueError(f"unbalanced pipeline: '{text}'")
    tail = "".join(current).strip()
    if tail:
        elements.append(tail)
    return expand(e for e in elements if e)


def expand(elements) -> list[str]:
    """Replaces the names of pass groups with their passes."""
    return [p for e in elements for p in PIPELINES.get(e, (e,))]


@dataclass(frozen=True)
class PipelineElement:
    text: str
    info: PassInfo | None = None
    options: dict[str, Any] = field(default_factory=dict)


def parse_element(text: str) -> PipelineElement:
    name, _, rest = text.partition("{")
    info = lookup(name.strip())
    if info is None:
        return PipelineElement(text)
    if rest and not rest.rstrip().endswith("}"):
        raise ValueError(f"malformed options in '{text}'")
    return PipelineElement(text, info, info.parse_options(rest.rstrip()[:-1] if rest else ""))


def _as_external(element: PipelineElement) -> Callable[[ir.Operation, Any], None]:
    """Wraps an intar pass: run, then verify, turning failures into a failed pass."""
    info, options = element.info, element.options

    def run(op: ir.Operation, pass_: Any) -> None:
        try:
            info.run(op, options)
        except PassFailure:
            pass_.signal_pass_failure()
            return
        except Exception as e:  # a bug in intar, reported as a diagnostic, never a traceback
            message = f"internal error in pass '{info.argument}': {type(e).__name__}: {e}"
            if os.environ.get("INTAR_DEBUG"):
                message += "\n" + traceback.format_exc().rstrip()
            op.location.emit_error(message)
            pass_.signal_pass_failure()
            return
        if not verify(op):
            pass_.signal_pass_failure()

    run.__name__ = info.argument
    return run


def build_pass_manager(elements: list[PipelineElement]) -> PassManager:
    pm = PassManager("builtin.module")
    for e in elements:
        if e.info is None:
            try:
                pm.add(e.text)
            except ValueError as error:
                detail = str(error).splitlines()[0].split("error: ")[-1]
                raise ValueError(f"in pipeline element '{e.text}': {detail}") from None
        else:
            pm.add(
                _as_external(e),
                name=e.info.argument,
                argument=e.info.argument,
                description=e.info.summary,
            )
    return pm


def run_pipeline(
    module: ir.Module, pipeline: str | list[str], verify_each: bool = True, **printing: bool
) -> bool:
    """Runs a pipeline on `module`, then verifies it.

    Diagnostics go to the context's handlers; a failed pipeline also raises `ir.MLIRError`
    carrying them (CIRCT's PassManager does so). Without `verify_each`, MLIR's verifier does
    not run after each CIRCT pass (intar passes still verify what they made, and the whole
    module is verified at the end): on a lowered GPT-2 layer of a million ops, the ten
    passes' verifications cost a quarter of the lowering.
    """
    texts = split_pipeline(pipeline) if isinstance(pipeline, str) else expand(pipeline)
    pm = build_pass_manager([parse_element(t) for t in texts])
    pm.enable_verifier(verify_each)
    if printing.get("print_before_all") or printing.get("print_after_all"):
        pm.enable_ir_printing(
            print_before_all=printing.get("print_before_all", False),
            print_after_all=printing.get("print_after_all", False),
        )
    if printing.get("timing"):
        pm.enable_timing()
    pm.run(module.operation)
    return verify(module.operation)
