"""Post-training quantisation of a float graph to an intar integer graph (W4A8 by default).

The scheme is the InTAR paper's: 4-bit weights (8-bit as an option), 8-bit activations, and
power-of-two scales everywhere, so every rescale is a rounding right shift (`shift` of a
matmul, add or mul, or a `requantize` task). A tensor "at frac f" holds round(v·2^f),
saturated to its width.

Calibration runs the float graph on the calibration inputs. Every activation gets the frac that
minimises the mean squared quantisation error of its calibration values (clipping allowed);
every weight gets the same per-tensor choice over its values. Then, in graph order:

* matmul / conv2d: the result frac is the calibrated one, capped at fa + fw (shift ≥ 0);
* add: both operands are brought to the lower frac (a constant operand is quantised at the
  highest frac at which it fits, which can lower the other operand); mul: fa + fb - shift;
* a product with a power-of-two scalar (attention's 1/√d_head) only relabels the frac;
  another scalar is a mul by a quantised row vector;
* layernorm: gamma, beta and the result share a frac (its input scale cancels); softmax,
  gelu and silu need an input frac in [0, 7], and softmax's result is Q0.7 (i8);
* a lowered frac is a `requantize`, folded into its producer's shift when that producer is a
  matmul/add/mul/requantize used only there.

`evaluate` runs the integer graph on intar's golden interpreter and reports, per float
tensor that survives as an intar tensor, the relative L2 error of its dequantised value against
the float graph (pooled over the samples), and for outputs of rank ≥ 2 the top-1 agreement of
the last axis (np.argmax; a tie in the integer logits goes to the first index).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from intar.diagnostics import Diag
from intar.frontend.builder import Graph
from intar.frontend.float_graph import FloatGraph, FNode

SHIFTABLE = ("matmul", "conv2d", "add", "mul", "requantize")


class QuantError(ValueError):
    """The float graph cannot be quantised under the constraints (e.g. a softmax input > 127)."""

    def __init__(self, node: FNode | None, message: str) -> None:
        self.node = node
        self.message = f"'{node.name}': {message}" if node is not None else message
        super().__init__(self.diag().format())

    def diag(self) -> Diag:
        loc = self.node.loc if self.node is not None else None
        if loc is None:
            return Diag("error", None, 0, 0, self.message)
        return Diag("error", loc.file, loc.line, loc.col, self.message)


@dataclass(frozen=True)
class QuantConfig:
    weight_bits: int = 4
    act_bits: int = 8
    weight_storage_bits: int | None = None
    """Element type of the weight tensors (default: weight_bits). 8 keeps 4-bit values in i8
    tensors (twice the off-chip bytes); the scheduler gives each element width ports of its
    own, so i4 weights need at least two ports."""

    def __post_init__(self) -> None:
        if self.weight_bits not in (4, 8):
            raise ValueError(f"weight_bits must be 4 or 8, got {self.weight_bits}")
        if self.weight_storage_bits not in (None, 4, 8, 16):
            raise ValueError(
                f"weight_storage_bits must be 4, 8 or 16, got {self.weight_storage_bits}"
            )
        if (self.weight_storage_bits or self.weight_bits) < self.weight_bits:
            raise ValueError("weight_storage_bits is below weight_bits")

    @property
    def storage_bits(self) -> int:
        return self.weight_storage_bits or self.weight_bits
        if self.act_bits not in (8, 16):
            raise ValueError(f"act_bits must be 8 or 16, got {self.act_bits}")


@dataclass
class QNode:
    kind: str
    name: str
    operands: list[str]
    shape: tuple[int, ...]
    dtype: str
    attrs: dict[str, Any] = field(default_factory=dict)
    value: np.ndarray | None = None


@dataclass
class QuantizedModel:
    graph: Graph
    float_graph: FloatGraph
    config: QuantConfig
    tensors: dict[str, tuple[str, int]]
    """Float node name -> (intar tensor name, frac) for every value the integer graph holds."""
    weights: dict[str, int]
    """intar weight name -> its frac."""

    @property
    def input_fracs(self) -> dict[str, int]:
        return {n: self.tensors[n][1] for n in self.float_graph.inputs}

    def quantize_inputs(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Float inputs (by float-graph name) -> the intar graph's integer inputs."""
        out = {}
        for name in self.float_graph.inputs:
            tname, frac = self.tensors[name]
            x = np.asarray(inputs[name], dtype=np.float64).reshape(
                self.float_graph.nodes[name].shape
            )
            out[tname] = to_fixed(x, frac, self.config.act_bits)
        return out

    def dequantize(self, values: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Golden-model values (by intar name) -> float values by float-graph name."""
        return {
            f: np.asarray(values[t], dtype=np.float64) / 2.0**frac
            for f, (t, frac) in self.tensors.items()
            if t in values
        }

    def attrs(self) -> dict[str, dict[str, Any]]:
        """Each intar task's attributes (what `kernels.gpt2` takes to rebuild this graph)."""
        return {
            n.name: dict(n.attrs) for n in self.graph.nodes if n.kind not in ("input", "weight")
        }


def to_fixed(x: np.ndarray, frac: int, bits: int) -> np.ndarray:
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return np.clip(np.floor(np.asarray(x) * 2.0**frac + 0.5), lo, hi).astype(np.int64)


def best_frac(x: np.ndarray, bits: int) -> int:
    """The power-of-two scale (as fractional bits) with the least squared error at `bits`."""
    x = np.asarray(x, dtype=np.float64).ravel()
    amax = float(np.abs(x).max()) if x.size else 0.0
    if amax == 0.0:
        return bits - 1
    top = (1 << (bits - 1)) - 1
    f0 = math.floor(math.log2(top / amax))  # the largest frac without clipping
    best, best_err = f0, math.inf
    for f in range(f0, f0 + 4):
        err = float(np.sum((to_fixed(x, f, bits) / 2.0**f - x) ** 2))
        if err < best_err:
            best, best_err = f, err
    return best


def fit_frac(x: np.ndarray, bits: int) -> int:
    """The largest frac at which every value of x fits in `bits` bits after rounding."""
    amax = float(np.abs(np.asarray(x)).max()) if np.size(x) else 0.0
    if amax == 0.0:
        return 62
    f = math.floor(math.log2(((1 << (bits - 1)) - 1) / amax))
    while f > -62 and np.abs(np.floor(np.asarray(x) * 2.0**f + 0.5)).max() > (1 << (bits - 1)) - 1:
        f -= 1
    return f


def _is_pow2(c: float) -> int | None:
    if c <= 0:
        return None
    e = math.log2(c)
    return round(e) if e == round(e) else None


class _Quantizer:
    def __init__(self, fg: FloatGraph, calib: Sequence[Mapping[str, np.ndarray]], cfg: QuantConfig):
        self.fg, self.cfg = fg, cfg
        self.act = f"i{cfg.act_bits}"
        self.wdtype = f"i{cfg.weight_bits}"
        self.top_frac = cfg.act_bits - 1
        runs = [fg.evaluate(s) for s in calib]
        self.desired = {
            n: best_frac(np.concatenate([r[n].ravel() for r in runs]), cfg.act_bits)
            for n, node in fg.nodes.items()
            if node.kind != "const"
        }
        self.nodes: dict[str, QNode] = {}
        self.tensors: dict[str, tuple[str, int]] = {}
        self.weights: dict[str, int] = {}

    def fresh(self, base: str) -> str:
        name, k = base, 1
        while name in self.nodes:
            name, k = f"{base}_{k}", k + 1
        return name

    def emit(self, kind: str, name: str, ops: list[str], shape: tuple[int, ...], dtype: str,
             value: np.ndarray | None = None, **attrs: Any) -> str:  # fmt: skip
        name = self.fresh(name)
        self.nodes[name] = QNode(kind, name, ops, tuple(shape), dtype, attrs, value)
        return name

    def weight(self, const: str, frac: int, bits: int, storage: int | None = None) -> str:
        v = self.fg.nodes[const].value
        dtype = f"i{storage or bits}"
        name = self.emit("weight", const, [], v.shape, dtype, to_fixed(v, frac, bits))
        self.weights[name] = frac
        return name

    def requant(self, t: tuple[str, int], to: int, base: str) -> tuple[str, int]:
        name, frac = t
        if to >= frac:
            return t
        node = self.nodes[name]
        rq = self.emit("requantize", f"{base}_rq", [name], node.shape, self.act, shift=frac - to)
        return rq, to

    def run(self) -> tuple[dict[str, QNode], dict[str, tuple[str, int]], dict[str, int]]:
        for n in self.fg.nodes.values():
            if n.kind == "const":
                continue
            handler = getattr(self, f"q_{n.kind}")
            self.tensors[n.name] = handler(n, *[self.tensors.get(i) for i in n.inputs])
        self._fold()
        return self.nodes, self.tensors, self.weights

    def _is_const(self, name: str) -> bool:
        return self.fg.nodes[name].kind == "const"

    # -- kinds ---------------------------------------------------------------------------------

    def q_input(self, n: FNode) -> tuple[str, int]:
        return self.emit("input", n.name, [], n.shape, self.act), self.desired[n.name]

    def _product(self, n: FNode, a: tuple[str, int], b: tuple[str, int], **attrs: Any):
        fin = a[1] + b[1]
        fo = min(self.desired[n.name], fin)
        name = self.emit(n.kind, n.name, [a[0], b[0]], n.shape, self.act, shift=fin - fo, **attrs)
        return name, fo

    def _const_operand(self, n: FNode, bits: int, storage: int | None = None) -> tuple[str, int]:
        c = self.fg.nodes[n.inputs[1]].value
        f = best_frac(c, bits)
        return self.weight(n.inputs[1], f, bits, storage), f

    def q_matmul(self, n: FNode, a: tuple[str, int], b: tuple[str, int] | None):
        if self._is_const(n.inputs[1]):
            b = self._const_operand(n, self.cfg.weight_bits, self.cfg.storage_bits)
        return self._product(n, a, b)

    def q_conv2d(self, n: FNode, a: tuple[str, int], b: tuple[str, int] | None):
        b = self._const_operand(n, self.cfg.weight_bits, self.cfg.storage_bits)
        return self._product(n, a, b, stride=n.attrs["stride"], padding=n.attrs["padding"])

    def q_mul(self, n: FNode, a: tuple[str, int], b: tuple[str, int] | None):
        if self._is_const(n.inputs[1]):
            b = self._const_operand(n, self.cfg.act_bits)
        return self._product(n, a, b)

    def q_add(self, n: FNode, a: tuple[str, int], b: tuple[str, int] | None):
        if self._is_const(n.inputs[1]):
            c = self.fg.nodes[n.inputs[1]].value
            f = min(a[1], fit_frac(c, self.cfg.act_bits))
            a = self.requant(a, f, n.name)
            b = (self.weight(n.inputs[1], f, self.cfg.act_bits), f)
        else:
            f = min(a[1], b[1])
            a, b = self.requant(a, f, n.name), self.requant(b, f, n.name)
        fo = min(self.desired[n.name], f)
        return self.emit("add", n.name, [a[0], b[0]], n.shape, self.act, shift=f - fo), fo

    def q_scale(self, n: FNode, a: tuple[str, int]):
        c = n.attrs["factor"]
        e = _is_pow2(c)
        if e is not None:
            return a[0], a[1] - e
        vec = np.full(n.shape[-1:], c)
        f = best_frac(vec, self.cfg.act_bits)
        w = self.emit("weight", f"{n.name}_c", [], vec.shape, self.act, to_fixed(vec, f, 8))
        self.weights[w] = f
        fin = a[1] + f
        fo = min(self.desired[n.name], fin)
        return self.emit("mul", n.name, [a[0], w], n.shape, self.act, shift=fin - fo), fo

    def q_layernorm(self, n: FNode, x: tuple[str, int], *_: Any):
        g, b = (self.fg.nodes[i].value for i in n.inputs[1:])
        bits = self.cfg.act_bits
        fo = min(self.desired[n.name], self.top_frac, fit_frac(g, bits), fit_frac(b, bits))
        if fo < 0:
            raise QuantError(n, f"gamma/beta do not fit i{bits} at a non-negative frac")
        gq, bq = self.weight(n.inputs[1], fo, bits), self.weight(n.inputs[2], fo, bits)
        return self.emit("layernorm", n.name, [x[0], gq, bq], n.shape, self.act, frac_bits=fo), fo

    def _fixed_input(self, n: FNode, x: tuple[str, int]) -> tuple[str, int]:
        x = self.requant(x, self.top_frac, n.name)
        if x[1] < 0:
            raise QuantError(
                n, f"input needs a negative frac ({x[1]}); its range exceeds {self.act}"
            )
        return x

    def q_softmax(self, n: FNode, x: tuple[str, int]):
        x = self._fixed_input(n, x)
        name = self.emit(
            "softmax",
            n.name,
            [x[0]],
            n.shape,
            self.act,
            frac_bits=x[1],
            out_frac_bits=self.top_frac,
            causal=bool(n.attrs.get("causal")),
        )
        return name, self.top_frac

    def _pointwise(self, n: FNode, x: tuple[str, int]):
        x = self._fixed_input(n, x)
        return self.emit(n.kind, n.name, [x[0]], n.shape, self.act, frac_bits=x[1]), x[1]

    q_gelu = q_silu = _pointwise

    def q_relu(self, n: FNode, x: tuple[str, int]):
        return self.emit("relu", n.name, [x[0]], n.shape, self.act), x[1]

    def q_reshape(self, n: FNode, x: tuple[str, int]):
        return self.emit("reshape", n.name, [x[0]], n.shape, self.act), x[1]

    def q_transpose(self, n: FNode, x: tuple[str, int]):
        perm = tuple(n.attrs["perm"])
        return self.emit("transpose", n.name, [x[0]], n.shape, self.act, perm=perm), x[1]

    # -- clean-up ------------------------------------------------------------------------------

    def _fold(self) -> None:
        """Folds single-use requantizes into their producer's shift; drops dead tasks."""
        outputs = {self.tensors[o][0] for o in self.fg.outputs}
        for rq in [n for n in self.nodes.values() if n.kind == "requantize"]:
            src = self.nodes[rq.operands[0]]
            users = [u for u in self.nodes.values() if src.name in u.operands]
            if src.kind not in SHIFTABLE or users != [rq] or src.name in outputs:
                continue
            src.attrs["shift"] += rq.attrs["shift"]
            for u in self.nodes.values():
                u.operands = [src.name if o == rq.name else o for o in u.operands]
            self.tensors = {
                f: (src.name if t == rq.name else t, fr)
                for f, (t, fr) in self.tensors.items()
                if t != src.name
            }
            del self.nodes[rq.name]
        live = set(outputs)
        for n in reversed(list(self.nodes.values())):
            if n.name in live:
                live.update(n.operands)
        live.update(n.name for n in self.nodes.values() if n.kind == "input")
        self.nodes = {k: v for k, v in self.nodes.items() if k in live}
        self.tensors = {f: t for f, t in self.tensors.items() if t[0] in self.nodes}


def quantize(
    fg: FloatGraph,
    calib: Sequence[Mapping[str, np.ndarray]],
    config: QuantConfig | None = None,
) -> QuantizedModel:
    """Quantises `fg`, calibrated on `calib` (float inputs by input name)."""
    cfg = config or QuantConfig()
    if not calib:
        raise ValueError("quantisation needs at least one calibration input")
    nodes, tensors, weights = _Quantizer(fg, calib, cfg).run()
    g = Graph(fg.name)
    built: dict[str, Any] = {}
    for n in nodes.values():
        ops = [built[o] for o in n.operands]
        a = n.attrs
        if n.kind == "input":
            t = g.input(n.shape, n.dtype, name=n.name)
        elif n.kind == "weight":
            t = g.weight(n.shape, n.dtype, name=n.name, value=n.value)
        elif n.kind == "matmul":
            t = g.matmul(*ops, shift=a["shift"], out=n.dtype, name=n.name)
        elif n.kind == "conv2d":
            t = g.conv2d(*ops, stride=a["stride"], padding=a["padding"], shift=a["shift"],
                         out=n.dtype, name=n.name)  # fmt: skip
        elif n.kind in ("add", "mul"):
            t = getattr(g, n.kind)(*ops, shift=a["shift"], out=n.dtype, name=n.name)
        elif n.kind == "requantize":
            t = g.requantize(*ops, shift=a["shift"], out=n.dtype, name=n.name)
        elif n.kind == "layernorm":
            t = g.layernorm(*ops, frac_bits=a["frac_bits"], name=n.name)
        elif n.kind == "softmax":
            t = g.softmax(*ops, frac_bits=a["frac_bits"], out_frac_bits=a["out_frac_bits"],
                          causal=a["causal"], out=n.dtype, name=n.name)  # fmt: skip
        elif n.kind in ("gelu", "silu"):
            t = getattr(g, n.kind)(*ops, frac_bits=a["frac_bits"], name=n.name)
        elif n.kind == "relu":
            t = g.relu(*ops, name=n.name)
        elif n.kind == "reshape":
            t = g.reshape(*ops, n.shape, name=n.name)
        elif n.kind == "transpose":
            t = g.transpose(*ops, a["perm"], name=n.name)
        else:  # pragma: no cover
            raise AssertionError(n.kind)
        built[n.name] = t
    g.output(*[built[tensors[o][0]] for o in fg.outputs])
    return QuantizedModel(g, fg, cfg, tensors, weights)


# -- measuring --------------------------------------------------------------------------------


def evaluate(
    qm: QuantizedModel,
    samples: Sequence[Mapping[str, np.ndarray]],
    references: Sequence[Sequence[np.ndarray]] | None = None,
) -> dict[str, Any]:
    """Runs the integer graph on the golden interpreter for each sample and measures it against
    the float graph; `references` (one list of output arrays per sample, e.g. the PyTorch
    module's) replaces the float graph's outputs as the reference for the outputs."""
    from circt import ir

    from intar.golden import interpreter
    from intar.ir import make_context

    fg = qm.float_graph
    err: dict[str, float] = {}
    ref2: dict[str, float] = {}
    agree = {o: [0, 0] for o in fg.outputs}
    ctx = make_context()
    module = qm.graph.build(ctx)
    with ctx, ir.Location.unknown():
        graph = interpreter.graph_named(module, qm.graph.name)
        for i, sample in enumerate(samples):
            floats = fg.evaluate(sample)
            if references is not None:
                for o, r in zip(fg.outputs, references[i], strict=True):
                    floats[o] = np.asarray(r, dtype=np.float64).reshape(fg.nodes[o].shape)
            values = interpreter.run(graph, qm.quantize_inputs(sample))
            deq = qm.dequantize(values)
            for name, v in deq.items():
                d = v - floats[name]
                err[name] = err.get(name, 0.0) + float(np.sum(d * d))
                ref2[name] = ref2.get(name, 0.0) + float(np.sum(floats[name] ** 2))
            for o in fg.outputs:
                if len(fg.nodes[o].shape) >= 2:
                    a, b = np.argmax(deq[o], -1), np.argmax(floats[o], -1)
                    agree[o][0] += int(np.sum(a == b))
                    agree[o][1] += a.size
        del graph
    del module

    def rel(name: str) -> float:
        return math.sqrt(err[name] / ref2[name]) if ref2[name] > 0 else math.sqrt(err[name])

    tensors = {
        f: {"intar": t, "frac": frac, "rel_l2": round(rel(f), 6)}
        for f, (t, frac) in qm.tensors.items()
        if f in err
    }
    layers: dict[str, str] = {}
    for name, node in fg.nodes.items():
        if name in tensors and node.kind != "input":
            layers[node.layer or "(top)"] = name
    return {
        "graph": qm.graph.name,
        "weight_bits": qm.config.weight_bits,
        "act_bits": qm.config.act_bits,
        "samples": len(samples),
        "inputs": {
            n: {"frac": f, "dtype": f"i{qm.config.act_bits}"} for n, f in qm.input_fracs.items()
        },
        "outputs": {
            o: {
                "intar": qm.tensors[o][0],
                "frac": qm.tensors[o][1],
                "rel_l2": tensors[o]["rel_l2"],
                **({"top1_agreement": round(agree[o][0] / agree[o][1], 6)} if agree[o][1] else {}),
            }
            for o in fg.outputs
        },
        "layers": [
            {"layer": k, "tensor": v, "rel_l2": tensors[v]["rel_l2"]} for k, v in layers.items()
        ],
        "tensors": tensors,
    }
