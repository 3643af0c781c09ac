"""The Python side of the dialect: generated bindings, signatures and the verifier API."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path

import pytest
from circt import ir

from intar.diagnostics import DiagnosticCollector
from intar.dialects import _intar_ops_gen as generated
from intar.dialects import intar
from intar.verifier import verify

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
import regen  # noqa: E402


def test_every_generated_op_has_a_verifier():
    gen_ops = {
        cls.OPERATION_NAME
        for cls in vars(generated).values()
        if inspect.isclass(cls) and hasattr(cls, "OPERATION_NAME")
    }
    assert gen_ops == set(intar.OP_CLASSES)


@pytest.mark.parametrize("name", sorted(intar.OP_CLASSES))
def test_signature_matches_ods(name):
    """The verifier's operand and attribute lists are the ODS definition's, name for name."""
    cls = intar.OP_CLASSES[name]
    params = inspect.signature(cls.__init__).parameters
    keyword = {p for p, v in params.items() if v.kind is inspect.Parameter.KEYWORD_ONLY}
    positional = [p for p, v in params.items() if v.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD]
    # Python keywords get a trailing underscore in generated code (`from` -> `from_`).
    positional = [p.removesuffix("_") for p in positional if p not in ("self", "result")]
    sig = cls.SIGNATURE
    attrs_required = {a for a, spec in sig.attrs.items() if spec.required}
    attrs_optional = {a for a, spec in sig.attrs.items() if not spec.required}
    operands = set(sig.operands) if sig.operands is not None else {"results"}
    assert set(positional) == attrs_required | operands
    # ODS keyword-only parameters are the optional and default-valued attributes.
    assert keyword - {"loc", "ip"} == attrs_optional


@pytest.mark.skipif(regen.find_tblgen() is None, reason="mlir-tblgen is not installed")
def test_generated_files_are_current():
    """The committed bindings and docs are what mlir-tblgen makes from dialect/*.td now."""
    stale = [
        path.relative_to(ROOT)
        for path, text in regen.generate(regen.find_tblgen()).items()
        if path.read_text() != text
    ]
    assert not stale, f"run tools/regen.py: stale {stale}"


def test_examples_are_current():
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples/generate.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


def _verify_text(text: str) -> tuple[bool, list[str]]:
    ctx = ir.Context.current
    with DiagnosticCollector(ctx) as diags:
        module = ir.Module.parse(text)
        ok = verify(module.operation)
    return ok, [d.format() for d in diags.diags]


def test_verifier_reports_once_per_mistake(ctx):
    # The matmul is wrong; its users are not blamed for it.
    ok, messages = _verify_text(
        """
        "intar.graph"() ({
          %x = "intar.input"() {sym_name = "x"} : () -> tensor<4x8xi16>
          %m = "intar.matmul"(%x, %x) {sym_name = "m"} : (tensor<4x8xi16>, tensor<4x8xi16>) -> tensor<4x8xi32>
          %r = "intar.relu"(%m) {sym_name = "r"} : (tensor<4x8xi32>) -> tensor<4x8xi32>
          "intar.output"(%r) : (tensor<4x8xi32>) -> ()
        }) {sym_name = "g"} : () -> ()
        """
    )
    assert not ok
    assert len(messages) == 1
    assert "contraction mismatch" in messages[0]
    assert messages[0].startswith("-:4:")


def test_typed_accessors(ctx):
    module = ir.Module.parse(
        """
        "intar.graph"() ({
          %x = "intar.input"() {sym_name = "x"} : () -> tensor<2x4x8xi8>
          %w = "intar.weight"() {sym_name = "w", seed = 3 : i64} : () -> tensor<16x8xi4>
          %m = "intar.matmul"(%x, %w) {sym_name = "m", transpose_rhs} : (tensor<2x4x8xi8>, tensor<16x8xi4>) -> tensor<2x4x16xi32>
          "intar.output"(%m) : (tensor<2x4x16xi32>) -> ()
        }) {sym_name = "g"} : () -> ()
        """
    )
    graph = next(iter(module.body.operations))
    assert isinstance(graph, intar.GraphOp)
    assert graph.graph_name == "g"
    matmul = graph.lookup("m")
    assert isinstance(matmul, intar.MatmulOp)
    assert isinstance(matmul, intar.TaskLevelOp)
    assert matmul.dims() == (2, 4, 8, 16)
    assert matmul.result_bits == 32 and matmul.operand_bits(1) == 4
    assert [t.task_name for t in graph.tasks()] == ["x", "w", "m"]
    assert graph.lookup("nothing") is None


def _documented_passes() -> dict[str, tuple[str, dict[str, str]]]:
    """Pass argument -> (summary, {option: help}) from docs/Passes.md (made from the .td)."""
    import re

    text = (ROOT / "docs/Passes.md").read_text()
    passes = {}
    for block in text.split("### `-")[1:]:
        name = block.split("`", 1)[0]
        summary = re.search(r"^_(.*)_$", block, re.M).group(1)
        options = dict(re.findall(r"^-(\w+)\s*: (.*)$", block, re.M))
        passes[name] = (summary, options)
    return passes


def test_pass_registry_matches_tablegen():
    from intar.passes import registered_passes

    documented = _documented_passes()
    registry = {
        name: (info.summary, {k: o.help for k, o in info.options.items()})
        for name, info in registered_passes().items()
    }
    assert registry == documented
