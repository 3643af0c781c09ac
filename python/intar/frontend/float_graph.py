"""A float task graph: what the PyTorch importer produces and the quantiser consumes.

Each node is one `intar` task kind (or a leaf) with float64 semantics, evaluated in numpy.
Shapes follow intar's conventions: a torch batch dimension of 1 on a rank ≥ 3 tensor is
dropped, so [1, L, D] becomes [L, D] and [1, H, L, dh] becomes [H, L, dh]. `evaluate` is the
float reference the integer model is measured against; the importer's tests check that it
reproduces the PyTorch module. This module imports no torch.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

KINDS = (
    "input",
    "const",
    "matmul",
    "conv2d",
    "add",
    "mul",
    "scale",
    "layernorm",
    "softmax",
    "gelu",
    "silu",
    "relu",
    "reshape",
    "transpose",
)
"""Node kinds. `scale` multiplies by the float attribute `factor`; `const` holds `value`."""


@dataclass(frozen=True)
class SourceLoc:
    """Where a node came from: the innermost user frame of the torch node's stack trace."""

    file: str
    line: int
    col: int = 1

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


@dataclass
class FNode:
    kind: str
    name: str
    inputs: tuple[str, ...]
    shape: tuple[int, ...]
    attrs: dict[str, Any] = field(default_factory=dict)
    value: np.ndarray | None = None
    loc: SourceLoc | None = None
    origin: str = ""
    """The torch node (fx name) whose value this node holds, if it holds one."""
    layer: str = ""
    """The module it came from, up to the first numbered child (`gpt2_h0`), for reports."""


@dataclass
class FloatGraph:
    name: str
    nodes: dict[str, FNode] = field(default_factory=dict)
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)

    def add(self, node: FNode) -> FNode:
        if node.kind not in KINDS:
            raise ValueError(f"unknown float node kind '{node.kind}'")
        if node.name in self.nodes:
            raise ValueError(f"duplicate node name '{node.name}'")
        self.nodes[node.name] = node
        return node

    def users(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {n: [] for n in self.nodes}
        for n in self.nodes.values():
            for i in n.inputs:
                out[i].append(n.name)
        return out

    def prune(self) -> None:
        """Drops every node the outputs do not depend on (inputs stay)."""
        live = set(self.outputs) | set(self.inputs)
        for n in reversed(list(self.nodes.values())):
            if n.name in live:
                live.update(n.inputs)
        self.nodes = {k: v for k, v in self.nodes.items() if k in live}

    def evaluate(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Every node's value in float64 (constants included)."""
        vals: dict[str, np.ndarray] = {}
        for n in self.nodes.values():
            args = [vals[i] for i in n.inputs]
            if n.kind == "input":
                v = np.asarray(inputs[n.name], dtype=np.float64).reshape(n.shape)
            elif n.kind == "const":
                v = np.asarray(n.value, dtype=np.float64)
            else:
                v = _EVAL[n.kind](n, *args)
            vals[n.name] = v
        return vals


def _layernorm(n: FNode, x: np.ndarray, g: np.ndarray, b: np.ndarray) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + n.attrs["eps"]) * g + b


def _softmax(n: FNode, x: np.ndarray) -> np.ndarray:
    if n.attrs.get("causal"):
        i, j = np.indices(x.shape[-2:])
        x = np.where(j > i, -np.inf, x)
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


_ERF = np.vectorize(math.erf, otypes=[np.float64])


def _gelu(n: FNode, x: np.ndarray) -> np.ndarray:
    if n.attrs.get("approximate", "none") == "tanh":
        return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))
    return 0.5 * x * (1 + _ERF(x / math.sqrt(2)))


def _conv2d(n: FNode, x: np.ndarray, w: np.ndarray) -> np.ndarray:
    s, p = n.attrs["stride"], n.attrs["padding"]
    xp = np.pad(x, ((0, 0), (p, p), (p, p)))
    _, _, kh, kw = w.shape
    oh, ow = n.shape[1:]
    win = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(1, 2))
    win = win[:, : (oh - 1) * s + 1 : s, : (ow - 1) * s + 1 : s]
    return np.einsum("chwuv,ocuv->ohw", win, w)


_EVAL = {
    "matmul": lambda n, a, b: np.matmul(a, b),
    "conv2d": _conv2d,
    "add": lambda n, a, b: a + b,
    "mul": lambda n, a, b: a * b,
    "scale": lambda n, a: a * n.attrs["factor"],
    "layernorm": _layernorm,
    "softmax": _softmax,
    "gelu": _gelu,
    "silu": lambda n, x: x / (1 + np.exp(-x)),
    "relu": lambda n, x: np.maximum(x, 0),
    "reshape": lambda n, x: x.reshape(n.shape),
    "transpose": lambda n, x: x.transpose(n.attrs["perm"]),
}
