"""The intar dialect: generated op classes extended with typed accessors and verifiers.

The ops are unregistered in CIRCT's context, so MLIR checks only what is generic (SSA
dominance, region structure). Everything ODS would have checked — operand and attribute
signatures, parents — and every semantic rule is checked here by `verify()`, which the
verifier driver (`intar.verifier`) runs after parsing and after every pass.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Iterator
from dataclasses import dataclass, field

from circt import ir

from intar.scheduling.problem import POINTWISE_KINDS, matrix_dims

from . import _intar_ops_gen as _gen
from . import shapes
from ._intar_ops_gen import _Dialect
from ._ods_common import _cext

# MLIR's bindings look up a Python module per dialect namespace whenever they hand back an op
# or attribute; without this prefix every lookup of `intar` retries (and fails) an import.
if "intar.dialects" not in _cext.globals.dialect_search_modules:
    _cext.globals.append_dialect_search_prefix("intar.dialects")

ELEMENT_WIDTHS = (4, 8, 16, 32)
MODES = ("intar", "dataflow", "sequential")
PATTERNS = ("sequential", "task_parallel", "task_pipeline")
PLACEMENTS = ("onchip", "offchip")
LOOP_ORDERS = ("ijk", "jik", "kij")


class VerifyError(Exception):
    """A rule an op breaks; reported at the op's location, or at `at` (a nested op) if given."""

    def __init__(self, message: str, at: ir.OpView | None = None) -> None:
        super().__init__(message)
        self.at = at


# ---------------------------------------------------------------------------------------------
# Attribute and type helpers
# ---------------------------------------------------------------------------------------------


def tensor_shape(value: ir.Value) -> tuple[int, ...]:
    return tuple(ir.RankedTensorType(value.type).shape)


def tensor_bits(value: ir.Value) -> int:
    return ir.IntegerType(ir.RankedTensorType(value.type).element_type).width


def numel(shape: tuple[int, ...]) -> int:
    return math.prod(shape)


def _attr(op: ir.OpView, name: str) -> ir.Attribute | None:
    attrs = op.operation.attributes
    return attrs[name] if name in attrs else None  # noqa: SIM401 (no .get on attribute maps)


def int_attr(op: ir.OpView, name: str, default: int | None = None) -> int:
    a = _attr(op, name)
    return default if a is None else ir.IntegerAttr(a).value


def str_attr(op: ir.OpView, name: str) -> str:
    return ir.StringAttr(op.operation.attributes[name]).value


def ref_attr(op: ir.OpView, name: str) -> str:
    return ir.FlatSymbolRefAttr(op.operation.attributes[name]).value


def array_attr(op: ir.OpView, name: str) -> list[int]:
    return list(ir.DenseI64ArrayAttr(op.operation.attributes[name]))


def refs_attr(op: ir.OpView, name: str) -> list[str]:
    return [ir.FlatSymbolRefAttr(a).value for a in ir.ArrayAttr(op.operation.attributes[name])]


def has_attr(op: ir.OpView, name: str) -> bool:
    return name in op.operation.attributes


def body_ops(op: ir.OpView, region: int = 0) -> list[ir.OpView]:
    """The ops of the single block of `op`'s region, as op views."""
    blocks = op.operation.regions[region].blocks
    return [o for o in blocks[0].operations] if len(blocks) else []


def defining_op(value: ir.Value) -> ir.OpView | None:
    """The op that defines `value`, or None for a block argument."""
    owner = value.owner
    if isinstance(owner, ir.OpView):
        return owner
    return owner.opview if isinstance(owner, ir.Operation) else None


def parent_op(op: ir.OpView) -> ir.OpView | None:
    parent = op.operation.parent
    return parent.opview if parent is not None else None


# ---------------------------------------------------------------------------------------------
# Signatures: what ODS would check for a registered op
# ---------------------------------------------------------------------------------------------

# Attribute kinds and how to recognise them.
_KIND_CHECKS = {
    "str": lambda a: isinstance(a, ir.StringAttr),
    "int": lambda a: isinstance(a, ir.IntegerAttr) and ir.IntegerType(a.type).width == 64,
    "unit": lambda a: isinstance(a, ir.UnitAttr),
    "symref": lambda a: isinstance(a, ir.FlatSymbolRefAttr),
    "i64array": lambda a: isinstance(a, ir.DenseI64ArrayAttr),
    "symrefs": lambda a: (
        isinstance(a, ir.ArrayAttr) and all(isinstance(e, ir.FlatSymbolRefAttr) for e in a)
    ),
    "elements": lambda a: isinstance(a, ir.DenseIntElementsAttr),
}
_KIND_NAMES = {
    "str": "a string attribute",
    "int": "a 64-bit integer attribute",
    "unit": "a unit attribute",
    "symref": "a flat symbol reference",
    "i64array": "a dense i64 array attribute",
    "symrefs": "an array of flat symbol references",
    "elements": "a dense integer elements attribute",
}


@dataclass(frozen=True)
class Attr:
    kind: str
    required: bool = True


@dataclass(frozen=True)
class Signature:
    """Operands (None = variadic), results, attributes, regions and parent of an op."""

    operands: tuple[str, ...] | None = ()
    results: int = 0
    attrs: dict[str, Attr] = field(default_factory=dict)
    regions: int = 0
    parent: str | None = None


def _check_signature(op: ir.OpView, sig: Signature) -> None:
    operation = op.operation
    if sig.operands is not None and len(operation.operands) != len(sig.operands):
        raise VerifyError(
            f"expects {len(sig.operands)} operands ({', '.join(sig.operands) or 'none'}), "
            f"but got {len(operation.operands)}"
        )
    if len(operation.results) != sig.results:
        raise VerifyError(f"expects {sig.results} results, but got {len(operation.results)}")
    if len(operation.regions) != sig.regions:
        raise VerifyError(f"expects {sig.regions} regions, but got {len(operation.regions)}")
    for name, spec in sig.attrs.items():
        a = _attr(op, name)
        if a is None:
            if spec.required:
                raise VerifyError(f"requires attribute '{name}'")
            continue
        if not _KIND_CHECKS[spec.kind](a):
            raise VerifyError(f"attribute '{name}' must be {_KIND_NAMES[spec.kind]}, got {a}")
    for r in operation.regions:
        if len(r.blocks) != 1:
            raise VerifyError(f"expects one block in its region, but got {len(r.blocks)}")
    if sig.parent is not None:
        parent = parent_op(op)
        if parent is None or parent.operation.name != sig.parent:
            raise VerifyError(f"expects parent op '{sig.parent}'")
    for v in [*operation.operands, *operation.results]:
        if not isinstance(v.type, ir.RankedTensorType):
            raise VerifyError(f"operands and results must be ranked tensors, got {v.type}")
        elem = v.type.element_type
        if not (isinstance(elem, ir.IntegerType) and elem.is_signless):
            raise VerifyError(f"element type must be a signless integer, got {elem}")
        if elem.width not in ELEMENT_WIDTHS:
            raise VerifyError(f"element type must be i4, i8, i16 or i32, got {elem}")


STR = Attr("str")
INT = Attr("int")
OPT_INT = Attr("int", required=False)
UNIT = Attr("unit", required=False)
SYMREF = Attr("symref")


class IntarOp(abc.ABC):
    """Mixin for every intar op: signature check plus the op's own rules."""

    SIGNATURE: Signature

    def verify(self) -> None:
        _check_signature(self, self.SIGNATURE)
        self.verify_semantics()

    def verify_semantics(self) -> None:  # noqa: B027 (optional hook)
        """Op-specific rules on the op itself; raises VerifyError."""

    def verify_regions(self) -> None:  # noqa: B027 (optional hook)
        """Rules that need the nested ops, run after they verified; raises VerifyError."""


_SKIP = {
    "__dict__",
    "__weakref__",
    "__module__",
    "__abstractmethods__",
    "_abc_impl",
    "__orig_bases__",
}


def _extends(generated: type):
    """Builds the op class from a generated class and plain mixins.

    nanobind types take a single base, so the mixins' members are merged into one subclass of
    the generated class, which is registered for the op and as a virtual subclass of each
    mixin (so `isinstance(op, TaskLevelOp)` works). Mixin methods therefore name their bases
    explicitly instead of calling `super()`.
    """

    def build(spec: type) -> type:
        ns: dict = {}
        for base in reversed(spec.__mro__[:-1]):
            ns.update({k: v for k, v in vars(base).items() if k not in _SKIP})
        ns["__module__"] = spec.__module__
        ns["__doc__"] = spec.__doc__ or generated.__doc__
        cls = type(spec.__name__, (generated,), ns)
        for base in spec.__mro__[:-1]:
            if isinstance(base, abc.ABCMeta):
                base.register(cls)
        return _cext.register_operation(_Dialect, replace=True)(cls)

    return build


# ---------------------------------------------------------------------------------------------
# Task level
# ---------------------------------------------------------------------------------------------


class TaskLevelOp(IntarOp):
    """A leaf or task of a graph: named, inside an `intar.graph`."""

    @property
    def task_name(self) -> str:
        return str_attr(self, "sym_name")

    @property
    def result_shape(self) -> tuple[int, ...]:
        return tensor_shape(self.operation.results[0])

    @property
    def result_bits(self) -> int:
        return tensor_bits(self.operation.results[0])

    def operand_shape(self, i: int) -> tuple[int, ...]:
        return tensor_shape(self.operation.operands[i])

    def operand_bits(self, i: int) -> int:
        return tensor_bits(self.operation.operands[i])

    def verify(self) -> None:
        IntarOp.verify(self)
        if not self.task_name:
            raise VerifyError("requires a non-empty 'sym_name'")

    def _expect_shape(self, expected: tuple[int, ...]) -> None:
        if self.result_shape != tuple(expected):
            actual = _fmt(self.result_shape)
            raise VerifyError(f"result shape {actual} does not match the expected {_fmt(expected)}")

    def _expect_rank(self, i: int, ranks: tuple[int, ...], what: str) -> tuple[int, ...]:
        shape = self.operand_shape(i)
        if len(shape) not in ranks:
            want = " or ".join(str(r) for r in ranks)
            raise VerifyError(f"{what} must have rank {want}, got {_fmt(shape)}")
        return shape

    def _nonneg(self, name: str) -> int:
        v = int_attr(self, name, 0)
        if v < 0:
            raise VerifyError(f"'{name}' must be non-negative, got {v}")
        return v


def _fmt(shape: tuple[int, ...]) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


TASK = dict(results=1, parent="intar.graph")


@_extends(_gen.GraphOp)
class GraphOp(IntarOp):
    SIGNATURE = Signature(attrs={"sym_name": STR}, regions=1)

    @property
    def graph_name(self) -> str:
        return str_attr(self, "sym_name")

    def ops(self) -> list[ir.OpView]:
        return body_ops(self)

    def tasks(self) -> Iterator[ir.OpView]:
        """Named ops (inputs, weights and tasks) in body order."""
        return (o for o in self.ops() if isinstance(o, TaskLevelOp))

    def lookup(self, name: str) -> ir.OpView | None:
        return next((o for o in self.tasks() if o.task_name == name), None)

    @property
    def output(self) -> OutputOp:
        return self.ops()[-1]

    def verify_regions(self) -> None:
        ops = self.ops()
        if not ops or ops[-1].operation.name != "intar.output":
            raise VerifyError("body must end with an 'intar.output'")
        seen: dict[str, ir.OpView] = {}
        for o in ops:
            if not isinstance(o, TaskLevelOp | OutputOp):
                raise VerifyError(f"body may hold only task-level intar ops, found '{o.name}'")
            if isinstance(o, TaskLevelOp):
                name = str_attr(o, "sym_name") if has_attr(o, "sym_name") else ""
                if name in seen:
                    raise VerifyError(f"has two ops named '{name}'")
                seen[name] = o
        # Operands must come from earlier ops of this graph: the graph is a DAG in
        # topological order and isolated from values defined outside it.
        defined: set[ir.Operation] = set()
        members = {o.operation for o in ops}
        for o in ops:
            for i, v in enumerate(o.operation.operands):
                owner = defining_op(v)
                if owner is not None and owner.operation in members - defined:
                    raise VerifyError(
                        f"operand #{i} comes from '{owner.task_name}', which depends on this "
                        "op: the graph has a cycle (or is not in topological order)",
                        at=o,
                    )
                if owner is None or owner.operation not in defined:
                    raise VerifyError(
                        f"operand #{i} is defined outside the graph (graphs are isolated)", at=o
                    )
            defined.add(o.operation)


@_extends(_gen.InputOp)
class InputOp(TaskLevelOp):
    SIGNATURE = Signature(attrs={"sym_name": STR}, **TASK)


@_extends(_gen.WeightOp)
class WeightOp(TaskLevelOp):
    SIGNATURE = Signature(
        attrs={"sym_name": STR, "value": Attr("elements", False), "seed": OPT_INT}, **TASK
    )

    def verify_semantics(self) -> None:
        value, seed = has_attr(self, "value"), has_attr(self, "seed")
        if value == seed:
            raise VerifyError("requires exactly one of 'value' and 'seed'")
        if value:
            vtype = ir.DenseIntElementsAttr(self.operation.attributes["value"]).type
            if vtype != self.operation.results[0].type:
                raise VerifyError(
                    f"'value' has type {vtype}, but the result is {self.operation.results[0].type}"
                )


@_extends(_gen.OutputOp)
class OutputOp(IntarOp):
    SIGNATURE = Signature(operands=None, parent="intar.graph")

    def verify_semantics(self) -> None:
        if len(self.operation.operands) == 0:
            raise VerifyError("requires at least one graph result")


class ShiftedOp(TaskLevelOp):
    """Tasks whose exact result is rounded-shifted right by `shift` and saturated."""

    def verify_semantics(self) -> None:
        shift = self._nonneg("shift")
        if shift >= 64:
            raise VerifyError(f"'shift' must be below 64, got {shift}")
        self.verify_shapes()

    def verify_shapes(self) -> None:
        pass


@_extends(_gen.MatmulOp)
class MatmulOp(ShiftedOp):
    SIGNATURE = Signature(
        operands=("lhs", "rhs"),
        attrs={"sym_name": STR, "transpose_rhs": UNIT, "shift": OPT_INT, "relu": UNIT},
        **TASK,
    )

    def dims(self) -> tuple[int, int, int, int]:
        """(B, M, K, N); B is 1 for an unbatched product."""
        lhs, rhs = self.operand_shape(0), self.operand_shape(1)
        b = lhs[0] if len(lhs) == 3 else 1
        m, k = lhs[-2], lhs[-1]
        n = rhs[-2] if has_attr(self, "transpose_rhs") else rhs[-1]
        return b, m, k, n

    def verify_shapes(self) -> None:
        lhs = self._expect_rank(0, (2, 3), "lhs")
        rhs = self._expect_rank(1, (2, 3), "rhs")
        if len(rhs) == 3 and (len(lhs) != 3 or rhs[0] != lhs[0]):
            raise VerifyError(
                f"a batched rhs {_fmt(rhs)} needs an lhs with the same batch, got {_fmt(lhs)}"
            )
        transposed = has_attr(self, "transpose_rhs")
        rk = rhs[-1] if transposed else rhs[-2]
        if rk != lhs[-1]:
            which = "last" if transposed else "first"
            raise VerifyError(
                f"contraction mismatch: lhs {_fmt(lhs)} has K = {lhs[-1]}, but the {which} "
                f"matrix dimension of rhs {_fmt(rhs)} is {rk}"
            )
        self._expect_shape(shapes.matmul(lhs, rhs, transposed))


class ConvLikeOp(ShiftedOp):
    def window(self) -> tuple[int, int]:
        stride = int_attr(self, "stride", 1)
        if stride < 1:
            raise VerifyError(f"'stride' must be at least 1, got {stride}")
        return stride, self._nonneg("padding")


@_extends(_gen.Conv2dOp)
class Conv2dOp(ConvLikeOp):
    SIGNATURE = Signature(
        operands=("input", "filter"),
        attrs={
            "sym_name": STR,
            "stride": OPT_INT,
            "padding": OPT_INT,
            "shift": OPT_INT,
            "relu": UNIT,
        },
        **TASK,
    )

    def verify_shapes(self) -> None:
        c, h, w = self._expect_rank(0, (3,), "input")
        o, fc, kh, kw = self._expect_rank(1, (4,), "filter")
        if fc != c:
            raise VerifyError(f"filter has {fc} input channels, but the input has {c}")
        stride, pad = self.window()
        if h + 2 * pad < kh or w + 2 * pad < kw:
            raise VerifyError(f"kernel {kh}x{kw} is larger than the padded input {h}x{w}")
        self._expect_shape(shapes.conv2d((c, h, w), (o, fc, kh, kw), stride, pad))


@_extends(_gen.ConvTranspose2dOp)
class ConvTranspose2dOp(ConvLikeOp):
    SIGNATURE = Conv2dOp.SIGNATURE

    def verify_shapes(self) -> None:
        c, h, w = self._expect_rank(0, (3,), "input")
        fc, o, kh, kw = self._expect_rank(1, (4,), "filter")
        if fc != c:
            raise VerifyError(f"filter has {fc} input channels, but the input has {c}")
        stride, pad = self.window()
        expected = shapes.conv_transpose2d((c, h, w), (fc, o, kh, kw), stride, pad)
        if min(expected[1:]) < 1:
            raise VerifyError(f"padding {pad} leaves an empty output")
        self._expect_shape(expected)


class BinaryOp(ShiftedOp):
    def verify_shapes(self) -> None:
        lhs, rhs = self.operand_shape(0), self.operand_shape(1)
        if len(rhs) > len(lhs) or lhs[len(lhs) - len(rhs) :] != rhs:
            raise VerifyError(f"rhs shape {_fmt(rhs)} is not a suffix of lhs shape {_fmt(lhs)}")
        self._expect_shape(lhs)


_BINARY = Signature(operands=("lhs", "rhs"), attrs={"sym_name": STR, "shift": OPT_INT}, **TASK)


@_extends(_gen.AddOp)
class AddOp(BinaryOp):
    SIGNATURE = _BINARY


@_extends(_gen.MulOp)
class MulOp(BinaryOp):
    SIGNATURE = _BINARY


class UnaryOp(TaskLevelOp):
    """Element-wise tasks: the result has the input's shape."""

    def verify_semantics(self) -> None:
        self._expect_shape(self.operand_shape(0))


@_extends(_gen.ReluOp)
class ReluOp(UnaryOp):
    SIGNATURE = Signature(operands=("input",), attrs={"sym_name": STR}, **TASK)


def _check_frac(op: TaskLevelOp, name: str, bits: int) -> None:
    frac = int_attr(op, name)
    if not 0 <= frac < bits:
        raise VerifyError(f"'{name}' must be in [0, {bits - 1}] for i{bits}, got {frac}")


class FixedPointOp(UnaryOp):
    def verify_semantics(self) -> None:
        UnaryOp.verify_semantics(self)
        _check_frac(self, "frac_bits", min(self.operand_bits(0), self.result_bits))


_FIXED = Signature(operands=("input",), attrs={"sym_name": STR, "frac_bits": INT}, **TASK)


@_extends(_gen.GeluOp)
class GeluOp(FixedPointOp):
    SIGNATURE = _FIXED


@_extends(_gen.SiluOp)
class SiluOp(FixedPointOp):
    SIGNATURE = _FIXED


@_extends(_gen.ExpOp)
class ExpOp(FixedPointOp):
    SIGNATURE = _FIXED


@_extends(_gen.SoftmaxOp)
class SoftmaxOp(UnaryOp):
    SIGNATURE = Signature(
        operands=("input",),
        attrs={"sym_name": STR, "frac_bits": INT, "out_frac_bits": INT, "causal": UNIT},
        **TASK,
    )

    def verify_semantics(self) -> None:
        UnaryOp.verify_semantics(self)
        _check_frac(self, "frac_bits", self.operand_bits(0))
        _check_frac(self, "out_frac_bits", self.result_bits)
        if has_attr(self, "causal") and len(self.operand_shape(0)) < 2:
            raise VerifyError("a causal softmax needs rank at least 2")


@_extends(_gen.LayernormOp)
class LayernormOp(TaskLevelOp):
    SIGNATURE = Signature(
        operands=("input", "gamma", "beta"),
        attrs={"sym_name": STR, "frac_bits": INT},
        **TASK,
    )

    def verify_semantics(self) -> None:
        shape = self.operand_shape(0)
        for i, what in ((1, "gamma"), (2, "beta")):
            if self.operand_shape(i) != shape[-1:]:
                raise VerifyError(
                    f"{what} must have shape {_fmt(shape[-1:])}, got {_fmt(self.operand_shape(i))}"
                )
        self._expect_shape(shape)
        _check_frac(self, "frac_bits", self.result_bits)


_SPATIAL = Signature(operands=("input",), attrs={"sym_name": STR}, **TASK)


@_extends(_gen.UpsampleOp)
class UpsampleOp(TaskLevelOp):
    SIGNATURE = _SPATIAL

    def verify_semantics(self) -> None:
        self._expect_shape(shapes.upsample(self._expect_rank(0, (3,), "input")))


@_extends(_gen.MaxpoolOp)
class MaxpoolOp(TaskLevelOp):
    SIGNATURE = _SPATIAL

    def verify_semantics(self) -> None:
        c, h, w = self._expect_rank(0, (3,), "input")
        if h < 2 or w < 2:
            raise VerifyError(f"input {_fmt((c, h, w))} is smaller than the 2x2 window")
        self._expect_shape(shapes.maxpool((c, h, w)))


@_extends(_gen.RequantizeOp)
class RequantizeOp(UnaryOp, ShiftedOp):
    SIGNATURE = Signature(operands=("input",), attrs={"sym_name": STR, "shift": INT}, **TASK)

    def verify_semantics(self) -> None:
        UnaryOp.verify_semantics(self)
        ShiftedOp.verify_semantics(self)


class ViewOp(TaskLevelOp):
    """Re-indexings: no arithmetic, same element type."""

    def verify_semantics(self) -> None:
        if self.operand_bits(0) != self.result_bits:
            raise VerifyError(
                f"must keep the element type: i{self.operand_bits(0)} became i{self.result_bits}"
            )
        self.verify_shapes()

    def verify_shapes(self) -> None:
        pass


@_extends(_gen.ReshapeOp)
class ReshapeOp(ViewOp):
    SIGNATURE = _SPATIAL

    def verify_shapes(self) -> None:
        src = self.operand_shape(0)
        if numel(src) != numel(self.result_shape):
            raise VerifyError(
                f"cannot reshape {_fmt(src)} ({numel(src)} elements) to "
                f"{_fmt(self.result_shape)} ({numel(self.result_shape)} elements)"
            )


@_extends(_gen.TransposeOp)
class TransposeOp(ViewOp):
    SIGNATURE = Signature(
        operands=("input",), attrs={"sym_name": STR, "perm": Attr("i64array")}, **TASK
    )

    @property
    def permutation(self) -> list[int]:
        return array_attr(self, "perm")

    def verify_shapes(self) -> None:
        src, perm = self.operand_shape(0), self.permutation
        if sorted(perm) != list(range(len(src))):
            raise VerifyError(f"'perm' {perm} is not a permutation of the {len(src)} dimensions")
        self._expect_shape(shapes.transpose(src, perm))


TASK_KINDS: dict[str, type] = {
    cls.OPERATION_NAME.removeprefix("intar."): cls
    for cls in (
        MatmulOp,
        Conv2dOp,
        ConvTranspose2dOp,
        AddOp,
        MulOp,
        ReluOp,
        GeluOp,
        SiluOp,
        ExpOp,
        SoftmaxOp,
        LayernormOp,
        UpsampleOp,
        MaxpoolOp,
        RequantizeOp,
        ReshapeOp,
        TransposeOp,
    )
}
"""Task kind (the op mnemonic) to op class."""

LEAF_KINDS = ("input", "weight")
PE_KINDS = ("matmul", "conv2d", "conv_transpose2d")
VIEW_KINDS = ("reshape", "transpose")


def task_kind(op: ir.OpView) -> str:
    return op.operation.name.removeprefix("intar.")


# ---------------------------------------------------------------------------------------------
# Scheduled level
# ---------------------------------------------------------------------------------------------


class DesignLevelOp(IntarOp):
    def design(self) -> DesignOp:
        op: ir.OpView | None = self
        while op is not None and not isinstance(op, DesignOp):
            op = parent_op(op)
        if op is None:
            raise VerifyError("must be nested in an 'intar.design'")
        return op


class UnitOp(DesignLevelOp):
    """Named resources of a design."""

    @property
    def unit_name(self) -> str:
        return str_attr(self, "sym_name")


@_extends(_gen.DesignOp)
class DesignOp(IntarOp):
    SIGNATURE = Signature(
        attrs={
            "sym_name": STR,
            "graph": SYMREF,
            "device": STR,
            "mode": STR,
            "dsp_budget": INT,
            "port_budget": INT,
            "macs_per_dsp": OPT_INT,
            "predicted_cycles": OPT_INT,
            "roofline_cycles": OPT_INT,
        },
        regions=1,
    )

    @property
    def design_name(self) -> str:
        return str_attr(self, "sym_name")

    @property
    def mode(self) -> str:
        return str_attr(self, "mode")

    def ops(self) -> list[ir.OpView]:
        return body_ops(self)

    def units(self) -> dict[str, UnitOp]:
        return {o.unit_name: o for o in self.ops() if isinstance(o, UnitOp)}

    def cores(self) -> list[CoreOp]:
        return [o for o in self.ops() if isinstance(o, CoreOp)]

    def of_type(self, cls: type) -> list:
        return [o for o in self.ops() if isinstance(o, cls)]

    @property
    def schedule(self) -> ScheduleOp:
        return next(o for o in self.ops() if isinstance(o, ScheduleOp))

    def graph(self) -> GraphOp | None:
        """The graph this design implements: a sibling `intar.graph` with that name."""
        name = ref_attr(self, "graph")
        parent = self.operation.parent
        if parent is None:
            return None
        for o in parent.regions[0].blocks[0].operations:
            if isinstance(o, GraphOp) and o.graph_name == name:
                return o
        return None

    def verify_semantics(self) -> None:
        if self.mode not in MODES:
            raise VerifyError(f"'mode' must be one of {', '.join(MODES)}, got '{self.mode}'")
        for name in ("dsp_budget", "port_budget", "macs_per_dsp"):
            if int_attr(self, name, 1) < 1:
                raise VerifyError(f"'{name}' must be positive, got {int_attr(self, name, 1)}")
        if self.graph() is None:
            raise VerifyError(f"names graph @{ref_attr(self, 'graph')}, which does not exist")

    def verify_regions(self) -> None:
        names: set[str] = set()
        schedules = 0
        for o in self.ops():
            if not isinstance(o, UnitOp | ScheduleOp):
                raise VerifyError(f"body may hold only scheduled-level ops, found '{o.name}'")
            if isinstance(o, UnitOp):
                if o.unit_name in names:
                    raise VerifyError(f"has two units named '{o.unit_name}'")
                names.add(o.unit_name)
            schedules += isinstance(o, ScheduleOp)
        if schedules != 1:
            raise VerifyError(f"requires exactly one 'intar.schedule', found {schedules}")
        self._verify_coverage()
        self._verify_budget()

    def _verify_budget(self) -> None:
        packing = int_attr(self, "macs_per_dsp", 1)
        cores = sum(-(-math.prod(c.pe) // packing) for c in self.cores())
        sfus = sum(int_attr(u, "dsps") for u in self.of_type(SfuOp))
        if cores + sfus > int_attr(self, "dsp_budget"):
            raise VerifyError(
                f"cores use {cores} and SFUs {sfus} DSPs, over the budget of "
                f"{int_attr(self, 'dsp_budget')}"
            )
        ports = len(self.of_type(PortOp))
        if ports > int_attr(self, "port_budget"):
            raise VerifyError(
                f"uses {ports} off-chip ports, over the budget of {int_attr(self, 'port_budget')}"
            )

    def _verify_coverage(self) -> None:
        """Every task's assigned slices tile its result exactly once."""
        graph = self.graph()
        slices: dict[str, list[tuple[int, int, int]]] = {}
        for phase in self.schedule.phases():
            for a in phase.assigns():
                dim, lo, hi = a.slice
                slices.setdefault(a.task, []).append((dim, lo, hi))
        for task in graph.tasks():
            kind = task_kind(task)
            if kind in LEAF_KINDS:
                continue
            parts = sorted(slices.get(task.task_name, []), key=lambda s: s[1])
            if not parts:
                if kind in VIEW_KINDS:
                    continue
                raise VerifyError(f"task '{task.task_name}' is not assigned in any phase")
            dims = {d for d, _, _ in parts}
            if len(dims) != 1:
                raise VerifyError(f"task '{task.task_name}' is sliced along several dimensions")
            size = task.result_shape[dims.pop()]
            cursor = 0
            for _, lo, hi in parts:
                if lo != cursor:
                    gap = "overlap" if lo < cursor else "gap"
                    raise VerifyError(
                        f"task '{task.task_name}' slices leave a {gap} at index {min(lo, cursor)}"
                    )
                cursor = hi
            if cursor != size:
                raise VerifyError(
                    f"task '{task.task_name}' slices cover [0, {cursor}) of its {size} rows"
                )


@_extends(_gen.CoreOp)
class CoreOp(UnitOp):
    SIGNATURE = Signature(
        attrs={
            "sym_name": STR,
            "pe": Attr("i64array"),
            "scratchpad_bytes": INT,
            "scratchpad_ports": INT,
        },
        parent="intar.design",
    )

    @property
    def pe(self) -> tuple[int, int, int]:
        return tuple(array_attr(self, "pe"))

    def verify_semantics(self) -> None:
        pe = array_attr(self, "pe")
        if len(pe) != 3 or min(pe) < 1:
            raise VerifyError(f"'pe' must be three positive dimensions [d1, d2, d3], got {pe}")
        if int_attr(self, "scratchpad_bytes") < 0:
            raise VerifyError("'scratchpad_bytes' must be non-negative")
        if int_attr(self, "scratchpad_ports") < 1:
            raise VerifyError("'scratchpad_ports' must be at least 1")


SFU_KINDS = tuple(k for k in TASK_KINDS if k not in PE_KINDS + VIEW_KINDS)


@_extends(_gen.SfuOp)
class SfuOp(UnitOp):
    SIGNATURE = Signature(
        attrs={"sym_name": STR, "kind": STR, "lanes": INT, "dsps": INT}, parent="intar.design"
    )

    def verify_semantics(self) -> None:
        kind = str_attr(self, "kind")
        if kind not in SFU_KINDS:
            raise VerifyError(f"unknown special-function kind '{kind}'")
        if int_attr(self, "lanes") < 1:
            raise VerifyError("'lanes' must be at least 1")
        if int_attr(self, "dsps") < 0:
            raise VerifyError("'dsps' must be non-negative")


@_extends(_gen.PortOp)
class PortOp(UnitOp):
    SIGNATURE = Signature(
        attrs={"sym_name": STR, "channel": INT, "width": INT}, parent="intar.design"
    )

    def verify_semantics(self) -> None:
        if int_attr(self, "channel") < 0:
            raise VerifyError("'channel' must be non-negative")
        width = int_attr(self, "width")
        if width < 8 or width % 8:
            raise VerifyError(f"'width' must be a positive multiple of 8 bits, got {width}")


def _resolve(op: DesignLevelOp, name: str, kinds: tuple[type, ...], what: str) -> UnitOp:
    unit = op.design().units().get(name)
    if unit is None:
        raise VerifyError(f"names @{name}, which is not defined in the design")
    if not isinstance(unit, kinds):
        raise VerifyError(f"@{name} must be {what}, but it is '{unit.name}'")
    return unit


@_extends(_gen.LinkOp)
class LinkOp(UnitOp):
    SIGNATURE = Signature(
        attrs={"sym_name": STR, "source": SYMREF, "dest": SYMREF, "width": INT, "depth": INT},
        parent="intar.design",
    )

    def verify_semantics(self) -> None:
        endpoint = (CoreOp, SfuOp, PortOp)
        _resolve(self, ref_attr(self, "source"), endpoint, "a core, SFU or port")
        _resolve(self, ref_attr(self, "dest"), endpoint, "a core, SFU or port")
        if int_attr(self, "width") < 1:
            raise VerifyError("'width' must be positive")
        if int_attr(self, "depth") < 0:
            raise VerifyError("'depth' must be non-negative")


@_extends(_gen.BufferOp)
class BufferOp(UnitOp):
    SIGNATURE = Signature(
        attrs={
            "sym_name": STR,
            "tensor": SYMREF,
            "placement": STR,
            "home": SYMREF,
            "bytes": INT,
            "slice": Attr("i64array", required=False),
            "transposed": UNIT,
        },
        parent="intar.design",
    )

    @property
    def transposed(self) -> bool:
        """The weight is stored as its [N, K] transpose."""
        return has_attr(self, "transposed")

    @property
    def placement(self) -> str:
        return str_attr(self, "placement")

    @property
    def slice(self) -> tuple[int, int, int] | None:
        """(dim, lo, hi) of a stripe, or None for the whole tensor."""
        if not has_attr(self, "slice"):
            return None
        dim, lo, hi = array_attr(self, "slice")
        return dim, lo, hi

    def verify_semantics(self) -> None:
        tensor = ref_attr(self, "tensor")
        graph = self.design().graph()
        if graph is not None and graph.lookup(tensor) is None:
            raise VerifyError(f"names tensor @{tensor}, which is not in graph @{graph.graph_name}")
        if self.placement not in PLACEMENTS:
            raise VerifyError(f"'placement' must be onchip or offchip, got '{self.placement}'")
        if self.placement == "onchip":
            _resolve(self, ref_attr(self, "home"), (CoreOp, SfuOp), "a core or SFU")
        else:
            _resolve(self, ref_attr(self, "home"), (PortOp,), "a port")
        op = graph.lookup(tensor) if graph is not None else None
        alias = op is not None and task_kind(op) in VIEW_KINDS  # a view aliases its source
        if int_attr(self, "bytes") < (0 if alias else 1):
            raise VerifyError("'bytes' must be positive")
        if self.transposed and op is not None:
            _check_transposable(op)
        if has_attr(self, "slice"):
            part = array_attr(self, "slice")
            if len(part) != 3 or part[0] not in (0, 1) or not 0 <= part[1] < part[2]:
                raise VerifyError("'slice' must be [dim (0 or 1), lo, hi] with lo < hi")
            if self.placement != "offchip":
                raise VerifyError("only an off-chip buffer can be a stripe ('slice')")
            if op is not None:
                shape = op.result_shape
                matrix = matrix_dims(shape)
                if self.transposed:
                    matrix = matrix[::-1]
                if part[2] > matrix[part[0]]:
                    raise VerifyError(
                        f"'slice' {_fmt(part)} is outside the tensor's {matrix[0]}x{matrix[1]} "
                        "matrix"
                    )


def _check_transposable(op: ir.OpView) -> None:
    """A buffer may store `op` transposed: a 2-D weight whose one use is a matmul's [K, N] rhs."""
    if not isinstance(op, WeightOp) or len(op.result_shape) != 2:
        raise VerifyError("only a 2-D weight can be stored 'transposed'")
    uses = list(op.operation.results[0].uses)
    owner = uses[0].owner if len(uses) == 1 else None
    if (
        owner is None
        or owner.name != "intar.matmul"
        or uses[0].operand_number != 1
        or "transpose_rhs" in owner.attributes
    ):
        raise VerifyError(
            "a 'transposed' weight must be read by one matmul only, as its [K, N] rhs"
        )


@_extends(_gen.ScheduleOp)
class ScheduleOp(DesignLevelOp):
    SIGNATURE = Signature(regions=1, parent="intar.design")

    def phases(self) -> list[PhaseOp]:
        return [o for o in body_ops(self) if isinstance(o, PhaseOp)]

    def switches(self) -> list[SwitchOp]:
        return [o for o in body_ops(self) if isinstance(o, SwitchOp)]

    def verify_regions(self) -> None:
        ops = body_ops(self)
        if not ops:
            raise VerifyError("requires at least one phase")
        names: set[str] = set()
        for i, o in enumerate(ops):
            want = PhaseOp if i % 2 == 0 else SwitchOp
            if not isinstance(o, want):
                raise VerifyError(
                    f"must alternate phases and switches, but op #{i} is '{o.name}', not "
                    f"'{want.OPERATION_NAME}'"
                )
            if isinstance(o, PhaseOp):
                if o.phase_name in names:
                    raise VerifyError(f"has two phases named '{o.phase_name}'")
                names.add(o.phase_name)
        if isinstance(ops[-1], SwitchOp):
            raise VerifyError("must end with a phase, not a switch")
        for i in range(1, len(ops), 2):
            sw, before, after = ops[i], ops[i - 1], ops[i + 1]
            if (sw.source, sw.target) != (before.phase_name, after.phase_name):
                raise VerifyError(
                    f"switch #{i // 2} goes from @{sw.source} to @{sw.target}, but it sits "
                    f"between @{before.phase_name} and @{after.phase_name}"
                )


@_extends(_gen.PhaseOp)
class PhaseOp(DesignLevelOp):
    SIGNATURE = Signature(
        attrs={"sym_name": STR, "pattern": STR, "cycles": INT},
        regions=1,
        parent="intar.schedule",
    )

    @property
    def phase_name(self) -> str:
        return str_attr(self, "sym_name")

    @property
    def pattern(self) -> str:
        return str_attr(self, "pattern")

    @property
    def cycles(self) -> int:
        return int_attr(self, "cycles")

    def assigns(self) -> list[AssignOp]:
        return [o for o in body_ops(self) if isinstance(o, AssignOp)]

    def verify_semantics(self) -> None:
        if self.pattern not in PATTERNS:
            raise VerifyError(
                f"'pattern' must be one of {', '.join(PATTERNS)}, got '{self.pattern}'"
            )
        if self.cycles < 0:
            raise VerifyError("'cycles' must be non-negative")

    def verify_regions(self) -> None:
        ops = body_ops(self)
        if not ops:
            raise VerifyError("requires at least one 'intar.assign'")
        for o in ops:
            if not isinstance(o, AssignOp):
                raise VerifyError(f"body may hold only 'intar.assign', found '{o.name}'")


@_extends(_gen.AssignOp)
class AssignOp(DesignLevelOp):
    SIGNATURE = Signature(
        attrs={
            "task": SYMREF,
            "unit": SYMREF,
            "stage": INT,
            "slice": Attr("i64array"),
            "bounds": Attr("i64array"),
            "sources": Attr("symrefs"),
            "sinks": Attr("symrefs"),
            "loop_order": Attr("str", required=False),
        },
        parent="intar.phase",
    )

    @property
    def task(self) -> str:
        return ref_attr(self, "task")

    @property
    def unit(self) -> str:
        return ref_attr(self, "unit")

    @property
    def slice(self) -> tuple[int, int, int]:
        return tuple(array_attr(self, "slice"))

    @property
    def bounds(self) -> tuple[int, int, int]:
        return tuple(array_attr(self, "bounds"))

    @property
    def sources(self) -> list[str]:
        return refs_attr(self, "sources")

    @property
    def sinks(self) -> list[str]:
        return refs_attr(self, "sinks")

    @property
    def loop_order(self) -> str | None:
        return str_attr(self, "loop_order") if has_attr(self, "loop_order") else None

    def verify_semantics(self) -> None:
        design = self.design()
        graph = design.graph()
        task = graph.lookup(self.task) if graph is not None else None
        if task is None or task_kind(task) in LEAF_KINDS:
            raise VerifyError(f"names task @{self.task}, which is not a task of the graph")
        _resolve(self, self.unit, (CoreOp, SfuOp), "a core or SFU")
        if int_attr(self, "stage") < 0:
            raise VerifyError("'stage' must be non-negative")
        sl, shape = array_attr(self, "slice"), task.result_shape
        if len(sl) != 3:
            raise VerifyError(f"'slice' must be [dim, lo, hi], got {sl}")
        dim, lo, hi = sl
        if not 0 <= dim < len(shape) or not 0 <= lo < hi <= shape[dim]:
            raise VerifyError(f"'slice' {sl} is outside the result shape {_fmt(shape)}")
        bounds = array_attr(self, "bounds")
        view = task_kind(task) in VIEW_KINDS  # a view moves no data: bounds [0, 0, 0]
        if len(bounds) != 3 or (list(bounds) != [0, 0, 0] if view else min(bounds) < 1):
            raise VerifyError(f"'bounds' must be three positive loop bounds, got {bounds}")
        n_operands = len(task.operation.operands)
        if len(self.sources) != n_operands:
            raise VerifyError(
                f"task @{self.task} has {n_operands} operands, but 'sources' names "
                f"{len(self.sources)}"
            )
        if has_attr(self, "loop_order"):
            order = str_attr(self, "loop_order")
            if order not in LOOP_ORDERS:
                raise VerifyError(f"'loop_order' must be one of {', '.join(LOOP_ORDERS)}")
            kind = task_kind(task)
            if kind not in PE_KINDS and (kind not in POINTWISE_KINDS or order != "jik"):
                raise VerifyError(
                    f"'loop_order' applies to PE tasks and, as 'jik', to pointwise SFU "
                    f"tasks, not '{order}' on '{kind}'"
                )
        if not self.sinks and any(True for _ in task.operation.results[0].uses):
            raise VerifyError("'sinks' must name at least one buffer or link")
        for name in self.sources + self.sinks:
            _resolve(self, name, (BufferOp, LinkOp), "a buffer or link")


@_extends(_gen.SwitchOp)
class SwitchOp(DesignLevelOp):
    SIGNATURE = Signature(
        attrs={"from": SYMREF, "to": SYMREF, "cycles": INT}, parent="intar.schedule"
    )

    @property
    def source(self) -> str:
        return ref_attr(self, "from")

    @property
    def target(self) -> str:
        return ref_attr(self, "to")

    def verify_semantics(self) -> None:
        if int_attr(self, "cycles") < 0:
            raise VerifyError("'cycles' must be non-negative")


OP_CLASSES: dict[str, type] = {
    cls.OPERATION_NAME: cls
    for cls in (
        GraphOp,
        InputOp,
        WeightOp,
        OutputOp,
        *TASK_KINDS.values(),
        DesignOp,
        CoreOp,
        SfuOp,
        PortOp,
        LinkOp,
        BufferOp,
        ScheduleOp,
        PhaseOp,
        AssignOp,
        SwitchOp,
    )
}
"""Every op of the dialect, by full name."""
