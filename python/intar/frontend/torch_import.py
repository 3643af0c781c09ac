"""The PyTorch front end: an `nn.Module` captured with `torch.export`, mapped to a float graph.

    fg = import_module(module, (example_input,))      # a FloatGraph (intar task kinds, float)
    qm = quantize(fg, [{"x": example_input_np}])      # intar.frontend.quantize: the int graph

What is mapped (ATen ops of `torch.export`'s default IR):

* linear / addmm / mm / matmul / bmm with a constant rhs: a matmul with a weight, then an add
  of the bias; with two computed operands: a matmul (batched for attention heads);
* conv2d (groups 1, dilation 1, no bias, square stride and padding);
* softmax over the last dimension; an additive causal mask (0 on and below the diagonal, very
  negative above) added right before it becomes `softmax {causal}`;
* layer_norm over the last dimension; gelu (erf or tanh), silu, relu, and the `transformers`
  activation modules that spell GELU out in elementwise ops (`NewGELUActivation`, ...),
  recognised by their module and collapsed into one gelu;
* add / sub / mul / div with a tensor, a constant or a scalar (a scalar product is `scale`);
* view / reshape / unsqueeze / flatten / transpose / permute, and split / chunk of a linear
  layer's result along its last dimension, which becomes one linear layer per part (intar has
  no slice task, but it has weights);
* dropout in eval mode, clones, dtype no-ops and metadata asserts are dropped.

Everything that depends only on parameters and constants (position ids, the causal mask, a
position-embedding lookup) is evaluated at import time. Any other op is an error naming the op
and its source line (`TorchImportError`, one `Diag` per offending node); nothing is dropped
silently. torch is imported lazily: this module imports without it.
"""

from __future__ import annotations

import linecache
import math
import operator
import re
import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from intar.diagnostics import Diag
from intar.frontend.float_graph import FloatGraph, FNode, SourceLoc

GELU_MODULES = {
    "NewGELUActivation": "tanh",
    "GELUTanh": "tanh",
    "PytorchGELUTanh": "tanh",
    "FastGELUActivation": "tanh",
    "GELUActivation": "none",
}
"""`transformers` activation modules imported as one gelu (with this approximation)."""

_IDENTITY = {
    "dropout",
    "alias",
    "clone",
    "contiguous",
    "detach",
    "lift_fresh_copy",
    "to",
    "_to_copy",
}
_VIEWS = {"view", "reshape", "_unsafe_view", "unsqueeze", "squeeze", "flatten", "expand"}
_SKIP = {"_assert_tensor_metadata", "_assert_scalar", "sym_constrain_range_for_size"}
_MASK_LIMIT = -1e4
"""An additive mask entry at or below this counts as masked."""


class TorchImportError(Exception):
    """The module uses something the importer does not map; `diags` says what and where."""

    def __init__(self, diags: list[Diag]) -> None:
        self.diags = diags
        super().__init__("\n".join(d.format() for d in diags))


def _require_torch() -> Any:
    try:
        import torch
    except ImportError as e:  # pragma: no cover - exercised only without the extra
        raise ImportError("the PyTorch front end needs torch: pip install 'intar[torch]'") from e
    return torch


# -- names and locations --------------------------------------------------------------------


def _module_path(node: Any) -> tuple[str, str]:
    """(path, class name) of the innermost module a node was traced in."""
    stack = node.meta.get("nn_module_stack") or {}
    if not stack:
        return "", ""
    path, cls = list(stack.values())[-1]
    cls = cls if isinstance(cls, str) else getattr(cls, "__name__", str(cls))
    return path, cls.rsplit(".", 1)[-1]


def _prefix(path: str) -> str:
    """`gpt2.h.0.attn` -> `gpt2_h0_attn`: dots become underscores, indices join their list."""
    parts: list[str] = []
    for p in path.split("."):
        if p.isdigit() and parts:
            parts[-1] += p
        elif p:
            parts.append(re.sub(r"\W", "_", p))
    return "_".join(parts)


def _layer(path: str) -> str:
    """`gpt2.h.0.attn` -> `gpt2_h0`: the module path up to its first numbered child."""
    parts = path.split(".")
    for i, p in enumerate(parts):
        if p.isdigit():
            return _prefix(".".join(parts[: i + 1]))
    return _prefix(path)


def source_loc(node: Any) -> SourceLoc | None:
    """The innermost frame of the node's stack trace outside torch itself."""
    trace = node.meta.get("stack_trace") or ""
    frames = re.findall(r'File "([^"]+)", line (\d+)', trace)
    if not frames:
        return None
    torch_dir = "/torch/"
    user = [f for f in frames if torch_dir not in f[0]] or frames
    file, line = user[-1][0], int(user[-1][1])
    text = linecache.getline(file, line)
    col = len(text) - len(text.lstrip()) + 1 if text.strip() else 1
    return SourceLoc(file, line, col)


def _diag(node: Any, message: str) -> Diag:
    loc = source_loc(node)
    if loc is None:
        return Diag("error", None, 0, 0, message)
    return Diag("error", loc.file, loc.line, loc.col, message)


# -- values during the walk -----------------------------------------------------------------


class _Dyn:
    """A computed tensor: a float-graph node."""

    def __init__(self, name: str) -> None:
        self.name = name


class _Const:
    def __init__(self, value: Any) -> None:
        self.value = value


class _Masked:
    """scores + causal mask, waiting for its softmax."""

    def __init__(self, name: str) -> None:
        self.name = name


class _Split:
    def __init__(self, parts: list[_Dyn]) -> None:
        self.parts = parts


class _Bad:
    """The result of a node that already failed (its users report nothing more)."""


class _Unsupported(Exception):
    pass


def ishape(shape: Sequence[int]) -> tuple[int, ...]:
    """intar's shape of a torch shape: a leading batch of 1 on rank ≥ 3 is dropped."""
    shape = tuple(int(d) for d in shape)
    return shape[1:] if len(shape) >= 3 and shape[0] == 1 else shape


class _Importer:
    def __init__(self, ep: Any, name: str) -> None:
        self.torch = _require_torch()
        self.ep = ep
        self.fg = FloatGraph(name)
        self.env: dict[str, Any] = {}
        self.diags: list[Diag] = []
        self.counts: dict[tuple[str, str], int] = {}
        self.users = {n.name: list(n.users) for n in ep.graph.nodes}

    # -- helpers ----------------------------------------------------------------------------

    def fresh(self, base: str) -> str:
        name, k = base, 1
        while name in self.fg.nodes:
            name, k = f"{base}_{k}", k + 1
        return name

    def auto(self, node: Any, kind: str) -> str:
        prefix = _prefix(_module_path(node)[0])
        k = self.counts.get((prefix, kind), 0)
        self.counts[(prefix, kind)] = k + 1
        return self.fresh(f"{prefix}_{kind}{k}" if prefix else f"{kind}{k}")

    def node(
        self,
        fx: Any,
        kind: str,
        inputs: Sequence[str],
        shape: Sequence[int],
        name: str | None = None,
        **attrs: Any,
    ) -> _Dyn:
        n = FNode(
            kind,
            self.fresh(name) if name else self.auto(fx, kind),
            tuple(inputs),
            tuple(int(d) for d in shape),
            attrs,
            loc=source_loc(fx),
            origin=fx.name,
            layer=_layer(_module_path(fx)[0]),
        )
        self.fg.add(n)
        return _Dyn(n.name)

    def const(self, value: np.ndarray, name: str) -> str:
        value = np.asarray(value, dtype=np.float64)
        n = FNode("const", self.fresh(name), (), tuple(value.shape), value=value)
        self.fg.add(n)
        return n.name

    def shape(self, v: _Dyn) -> tuple[int, ...]:
        return self.fg.nodes[v.name].shape

    def dyn(self, arg: Any) -> _Dyn:
        v = self.env[arg.name] if hasattr(arg, "name") and arg.name in self.env else None
        if isinstance(v, _Dyn):
            return v
        if isinstance(v, _Masked):
            raise _Unsupported("an additive attention mask is only supported as softmax's input")
        raise _Unsupported("expected a computed tensor operand")

    def val(self, arg: Any) -> Any:
        """An argument as _Dyn, _Const, _Masked, a python value, or a list of those."""
        if isinstance(arg, (list, tuple)):
            return type(arg)(self.val(a) for a in arg)
        if hasattr(arg, "op") and hasattr(arg, "name"):
            return self.env[arg.name]
        return _Const(arg)

    def to_np(self, c: _Const) -> np.ndarray:
        v = c.value
        if isinstance(v, self.torch.Tensor):
            return v.detach().to(self.torch.float64).numpy()
        return np.asarray(v, dtype=np.float64)

    # -- the walk ---------------------------------------------------------------------------

    def run(self) -> FloatGraph:
        torch = self.torch
        sig = self.ep.graph_signature
        state = dict(self.ep.state_dict)
        params = {**sig.inputs_to_parameters, **sig.inputs_to_buffers}
        consts = dict(getattr(sig, "inputs_to_lifted_tensor_constants", {}) or {})
        groups = self._activation_groups()
        for n in self.ep.graph.nodes:
            if n.op == "placeholder":
                if n.name in params:
                    self.env[n.name] = _Const(state[params[n.name]])
                elif n.name in consts:
                    self.env[n.name] = _Const(self.ep.constants[consts[n.name]])
                else:
                    val = n.meta["val"]
                    if not val.dtype.is_floating_point:
                        self.diags.append(
                            _diag(
                                n,
                                f"input '{n.name}' has dtype {val.dtype}; the importer takes "
                                "float inputs (do embedding lookups on the host)",
                            )
                        )
                        self.env[n.name] = _Bad()
                        continue
                    fnode = FNode("input", self.fresh(n.name), (), ishape(val.shape), origin=n.name)
                    self.fg.add(fnode)
                    self.fg.inputs.append(fnode.name)
                    self.env[n.name] = _Dyn(fnode.name)
            elif n.op == "call_function":
                self._call(n, groups, torch)
            elif n.op == "output":
                for a in n.args[0]:
                    v = self.env.get(a.name) if hasattr(a, "name") else None
                    if isinstance(v, _Dyn):
                        self.fg.outputs.append(v.name)
                    elif not isinstance(v, _Bad):
                        self.diags.append(
                            _diag(n, f"output '{getattr(a, 'name', a)}' is not a computed tensor")
                        )
            else:
                self.diags.append(_diag(n, f"unsupported fx node kind '{n.op}' ('{n.name}')"))
        if self.diags:
            raise TorchImportError(self.diags)
        self.fg.prune()
        return self.fg

    def _activation_groups(self) -> dict[str, tuple[str, str]]:
        """fx node -> (module path, approximation) for nodes inside a collapsible activation."""
        out = {}
        for n in self.ep.graph.nodes:
            path, cls = _module_path(n)
            if n.op == "call_function" and cls in GELU_MODULES:
                out[n.name] = (path, GELU_MODULES[cls])
        return out

    def _call(self, n: Any, groups: dict[str, tuple[str, str]], torch: Any) -> None:
        args = [self.val(a) for a in n.args]
        kwargs = {k: self.val(v) for k, v in n.kwargs.items()}
        flat = [*_flatten(args), *_flatten(list(kwargs.values()))]
        if any(isinstance(a, _Bad) for a in flat):
            self.env[n.name] = _Bad()
            return
        if n.name in groups:
            self._activation(n, groups)
            return
        if not any(isinstance(a, (_Dyn, _Masked, _Split)) for a in flat):
            # constant folding: parameters, buffers and literals only
            try:
                value = n.target(*_unwrap(n.args, self.env), **_unwrap(n.kwargs, self.env))
            except Exception as e:  # reported as a diagnostic
                self.diags.append(_diag(n, f"cannot evaluate constant '{n.target}': {e}"))
                self.env[n.name] = _Bad()
                return
            self.env[n.name] = _Const(value)
            return
        op = _op_name(n.target)
        try:
            handler = getattr(self, f"op_{op}", None)
            if op in _SKIP:
                self.env[n.name] = _Const(None)
                return
            if op in _IDENTITY:
                self._identity(n, op)
                return
            if op in _VIEWS:
                self.env[n.name] = self._view(n, self.dyn(n.args[0]))
                return
            if handler is None:
                raise _Unsupported(f"unsupported PyTorch op '{n.target}' (node '{n.name}')")
            self.env[n.name] = handler(n, *args, **kwargs)
        except _Unsupported as e:
            msg = str(e)
            if "node '" not in msg:
                msg = f"{msg} (op '{n.target}', node '{n.name}')"
            self.diags.append(_diag(n, msg))
            self.env[n.name] = _Bad()

    # -- op handlers ------------------------------------------------------------------------

    def _identity(self, n: Any, op: str) -> None:
        if op == "dropout" and len(n.args) > 2 and n.args[2] and n.args[1] != 0:
            raise _Unsupported("dropout in training mode (call module.eval() first)")
        dtypes = [
            a for a in (*n.args[1:], n.kwargs.get("dtype")) if hasattr(a, "is_floating_point")
        ]
        dtype = dtypes[0] if dtypes else None
        if op in ("to", "_to_copy") and dtype is not None and not dtype.is_floating_point:
            raise _Unsupported(f"a cast to {dtype}")
        self.env[n.name] = self.dyn(n.args[0])

    def _view(self, n: Any, x: _Dyn) -> _Dyn:
        shape = ishape(n.meta["val"].shape)
        src = self.fg.nodes[x.name]
        if shape == src.shape:
            return x
        if src.kind == "reshape":  # a reshape of a reshape reads the first one's source
            x = _Dyn(src.inputs[0])
            if self.shape(x) == shape:
                return x
        return self.node(n, "reshape", [x.name], shape)

    def _transpose(self, n: Any, x: _Dyn, tperm: Sequence[int]) -> _Dyn:
        in_t = tuple(n.args[0].meta["val"].shape)
        out_t = tuple(n.meta["val"].shape)
        s_in = len(in_t) - len(self.shape(x))
        s_out = len(out_t) - len(ishape(out_t))
        perm = [tperm[j] - s_in for j in range(s_out, len(out_t))]
        if sorted(perm) != list(range(len(self.shape(x)))):
            return self._view(n, x)  # only moves dimensions of size 1
        if perm == sorted(perm):
            return x
        src = self.fg.nodes[x.name]
        if src.kind == "transpose":  # compose with the transpose below
            inner = src.attrs["perm"]
            perm = [inner[p] for p in perm]
            x = _Dyn(src.inputs[0])
            if perm == sorted(perm):
                return x
        return self.node(n, "transpose", [x.name], ishape(out_t), perm=tuple(perm))

    def op_transpose(self, n: Any, x: Any, d0: Any, d1: Any) -> _Dyn:
        rank = len(n.args[0].meta["val"].shape)
        a, b = d0.value % rank, d1.value % rank
        perm = list(range(rank))
        perm[a], perm[b] = perm[b], perm[a]
        return self._transpose(n, self.dyn(n.args[0]), perm)

    def op_permute(self, n: Any, x: Any, dims: Any) -> _Dyn:
        rank = len(n.args[0].meta["val"].shape)
        return self._transpose(n, self.dyn(n.args[0]), [d.value % rank for d in dims])

    def op_t(self, n: Any, x: Any) -> _Dyn:
        return self._transpose(n, self.dyn(n.args[0]), [1, 0])

    def op_getitem(self, n: Any, x: Any, i: Any) -> _Dyn:
        if not isinstance(x, _Split):
            raise _Unsupported("indexing a tensor is not supported")
        return x.parts[i.value]

    # linear layers

    def _leaf_name(self, n: Any) -> str | None:
        path, cls = _module_path(n)
        if cls in ("Linear", "Conv1D", "Conv2d") and path:
            return _prefix(path)
        return None

    def _linear(self, n: Any, x: _Dyn, w: np.ndarray, b: np.ndarray | None) -> _Dyn:
        """x @ w (+ b), w a constant [K, N]."""
        base = self._leaf_name(n)
        xs = self.shape(x)
        if len(xs) not in (2, 3) or xs[-1] != w.shape[0]:
            raise _Unsupported(f"a linear layer on a tensor of shape {list(xs)}")
        out = (*xs[:-1], w.shape[1])
        wname = self.const(w, f"{base}_w" if base else self.auto(n, "w"))
        if b is None or not np.any(b):
            return self.node(n, "matmul", [x.name, wname], out, name=base)
        mm = self.node(n, "matmul", [x.name, wname], out, name=f"{base}_mm" if base else None)
        bname = self.const(b, f"{base}_b" if base else self.auto(n, "b"))
        res = self.node(n, "add", [mm.name, bname], out, name=base)
        self.fg.nodes[res.name].attrs["linear"] = (x.name, wname, bname)
        self.fg.nodes[mm.name].origin = ""
        return res

    def op_addmm(self, n: Any, bias: Any, x: Any, w: Any, **kw: Any) -> _Dyn:
        if kw.get("beta", _Const(1)).value != 1 or kw.get("alpha", _Const(1)).value != 1:
            raise _Unsupported("addmm with alpha or beta other than 1")
        if not isinstance(bias, _Const) or not isinstance(w, _Const):
            raise _Unsupported("addmm with a computed bias or weight")
        return self._linear(n, self.dyn(n.args[1]), self.to_np(w), self.to_np(bias))

    def op_linear(self, n: Any, x: Any, w: Any, b: Any = None) -> _Dyn:
        if not isinstance(w, _Const) or not (b is None or isinstance(b, _Const)):
            raise _Unsupported("linear with a computed weight or bias")
        bias = None if b is None or b.value is None else self.to_np(b)
        return self._linear(n, self.dyn(n.args[0]), self.to_np(w).T, bias)

    def op_matmul(self, n: Any, a: Any, b: Any) -> _Dyn:
        if isinstance(b, _Const):
            return self._linear(n, self.dyn(n.args[0]), self.to_np(b), None)
        x, y = self.dyn(n.args[0]), self.dyn(n.args[1])
        xs, ys = self.shape(x), self.shape(y)
        if len(xs) not in (2, 3) or len(ys) not in (2, 3) or (len(ys) == 3 and len(xs) != 3):
            raise _Unsupported(f"matmul of shapes {list(xs)} x {list(ys)}")
        return self.node(n, "matmul", [x.name, y.name], ishape(n.meta["val"].shape))

    op_mm = op_matmul
    op_bmm = op_matmul

    def op_conv2d(
        self,
        n: Any,
        x: Any,
        w: Any,
        b: Any = None,
        stride: Any = None,
        padding: Any = None,
        dilation: Any = None,
        groups: Any = None,
    ) -> _Dyn:
        xd = self.dyn(n.args[0])
        if not isinstance(w, _Const):
            raise _Unsupported("conv2d with a computed weight")
        if b is not None and b.value is not None and np.any(self.to_np(b)):
            raise _Unsupported("conv2d with a bias (intar adds only row-vector biases)")
        st = [s.value for s in stride] if stride else [1, 1]
        pd = [p.value for p in padding] if padding and not isinstance(padding, _Const) else [0, 0]
        dl = [d.value for d in dilation] if dilation else [1, 1]
        if (
            len(set(st)) != 1
            or len(set(pd)) != 1
            or set(dl) != {1}
            or (groups and groups.value != 1)
        ):
            raise _Unsupported("conv2d needs square stride and padding, dilation 1 and groups 1")
        if len(self.shape(xd)) != 3:
            raise _Unsupported(f"conv2d on a tensor of shape {list(self.shape(xd))} (not CHW)")
        wname = self.const(self.to_np(w), f"{self._leaf_name(n) or self.auto(n, 'w')}_w")
        return self.node(
            n,
            "conv2d",
            [xd.name, wname],
            ishape(n.meta["val"].shape),
            name=self._leaf_name(n),
            stride=st[0],
            padding=pd[0],
        )

    # element-wise

    def _binary(self, n: Any, kind: str, a: Any, b: Any) -> _Dyn:
        out = ishape(n.meta["val"].shape)
        if isinstance(a, _Masked) or isinstance(b, _Masked):
            raise _Unsupported("an additive attention mask is only supported as softmax's input")
        if not isinstance(a, _Dyn):
            a, b = b, a
        if not isinstance(a, _Dyn):
            raise _Unsupported(f"{kind} without a computed operand")
        x = a
        if isinstance(b, _Dyn):
            y = b
            xs, ys = self.shape(x), self.shape(y)
            if xs != out:
                x, y = y, x
                xs, ys = ys, xs
            if xs != out or ys != xs[len(xs) - len(ys) :]:
                raise _Unsupported(f"{kind} of shapes {list(xs)} and {list(ys)} (broadcast)")
            return self.node(n, kind, [x.name, y.name], out)
        c = self.to_np(b)
        if c.ndim == 0 or c.size == 1:
            if kind == "mul":
                return self.node(n, "scale", [x.name], out, factor=float(c.reshape(())))
            c = np.full(out[-1:], float(c.reshape(())))
        if self.shape(x) != out:
            raise _Unsupported(f"{kind} broadcasting {list(self.shape(x))} to {list(out)}")
        while c.ndim > len(out) or (c.ndim and c.shape[0] == 1 and c.ndim > 1):
            c = c.reshape(c.shape[1:])
        if c.shape != out[len(out) - c.ndim :]:
            c = np.broadcast_to(c, out).copy()
        cname = self.const(c, self.auto(n, "c"))
        return self.node(n, kind, [x.name, cname], out)

    def op_add(self, n: Any, a: Any, b: Any, alpha: Any = None) -> Any:
        if alpha is not None and alpha.value != 1:
            raise _Unsupported("add with alpha other than 1")
        mask = b if isinstance(b, _Const) else a if isinstance(a, _Const) else None
        other = n.args[0] if mask is b else n.args[1]
        if mask is not None and isinstance(mask.value, self.torch.Tensor):
            kind = self._mask_kind(self.to_np(mask), tuple(n.meta["val"].shape))
            if kind == "causal":
                return _Masked(self.dyn(other).name)
        return self._binary(n, "add", a, b)

    def _mask_kind(self, m: np.ndarray, out: tuple[int, ...]) -> str | None:
        if m.ndim < 2 or m.shape[-2:] != out[-2:] or out[-1] != out[-2]:
            return None
        if not (np.any(m <= _MASK_LIMIT) or np.any(np.isneginf(m))):
            return None
        causal = np.triu(np.ones(out[-2:], dtype=bool), 1)
        flat = np.broadcast_to(m, m.shape).reshape(-1, *out[-2:])
        ok = all((np.where(causal, f <= _MASK_LIMIT, f == 0)).all() for f in flat)
        if not ok:
            raise _Unsupported("an additive attention mask that is not causal")
        return "causal"

    def op_sub(self, n: Any, a: Any, b: Any, alpha: Any = None) -> _Dyn:
        if isinstance(b, _Const):
            return self._binary(n, "add", a, _Const(-self.to_np(b)))
        raise _Unsupported("subtraction of a computed tensor")

    def op_mul(self, n: Any, a: Any, b: Any) -> _Dyn:
        return self._binary(n, "mul", a, b)

    def op_div(self, n: Any, a: Any, b: Any, rounding_mode: Any = None) -> _Dyn:
        if not isinstance(b, _Const) or (rounding_mode and rounding_mode.value):
            raise _Unsupported("division by a computed tensor")
        return self._binary(n, "mul", a, _Const(1.0 / self.to_np(b)))

    def _unary(self, n: Any, kind: str, **attrs: Any) -> _Dyn:
        x = self.dyn(n.args[0])
        path, cls = _module_path(n)
        leaf = _prefix(path) if cls in ("GELU", "SiLU", "ReLU") and path else None
        return self.node(n, kind, [x.name], self.shape(x), name=leaf, **attrs)

    def op_relu(self, n: Any, *a: Any) -> _Dyn:
        return self._unary(n, "relu")

    def op_silu(self, n: Any, *a: Any) -> _Dyn:
        return self._unary(n, "silu")

    def op_gelu(self, n: Any, x: Any, approximate: Any = None) -> _Dyn:
        return self._unary(n, "gelu", approximate=approximate.value if approximate else "none")

    def _activation(self, n: Any, groups: dict[str, tuple[str, str]]) -> None:
        """A node inside a collapsed activation module: the one whose value leaves the module
        becomes a gelu of the module's one computed input; the others vanish."""
        path, approx = groups[n.name]
        members = [m for m, (p, _) in groups.items() if p == path]
        self.env[n.name] = _Const(None)
        if any(u.name not in members for u in self.users[n.name]) or not self.users[n.name]:
            ins = {
                a.name
                for m in self.ep.graph.nodes
                if m.name in members
                for a in m.all_input_nodes
                if a.name not in members and isinstance(self.env.get(a.name), _Dyn)
            }
            if len(ins) != 1:
                self.diags.append(_diag(n, f"activation module '{path}' has {len(ins)} inputs"))
                self.env[n.name] = _Bad()
                return
            x = self.env[ins.pop()]
            self.env[n.name] = self.node(
                n, "gelu", [x.name], self.shape(x), name=_prefix(path), approximate=approx
            )

    def op_softmax(self, n: Any, x: Any, dim: Any, *rest: Any) -> _Dyn:
        rank = len(n.meta["val"].shape)
        if dim.value % rank != rank - 1:
            raise _Unsupported(f"softmax over dim {dim.value}; only the last dimension is mapped")
        causal = isinstance(x, _Masked)
        src = x.name if causal else self.dyn(n.args[0]).name
        return self.node(n, "softmax", [src], self.fg.nodes[src].shape, causal=causal)

    op__softmax = op_softmax

    def op_layer_norm(
        self, n: Any, x: Any, shape: Any, w: Any = None, b: Any = None, eps: Any = None, *r: Any
    ) -> _Dyn:
        xd = self.dyn(n.args[0])
        xs = self.shape(xd)
        if [s.value for s in shape] != [xs[-1]]:
            raise _Unsupported("layer_norm over more than the last dimension")
        if (w is not None and not isinstance(w, _Const)) or (
            b is not None and not isinstance(b, _Const)
        ):
            raise _Unsupported("layer_norm with a computed weight or bias")
        path, cls = _module_path(n)
        base = _prefix(path) if cls == "LayerNorm" and path else self.auto(n, "layernorm")
        g = self.to_np(w) if w is not None and w.value is not None else np.ones(xs[-1:])
        bb = self.to_np(b) if b is not None and b.value is not None else np.zeros(xs[-1:])
        gn, bn = self.const(g, f"{base}_g"), self.const(bb, f"{base}_b")
        e = eps.value if eps is not None else 1e-5
        return self.node(n, "layernorm", [xd.name, gn, bn], xs, name=base, eps=float(e))

    def op_split(self, n: Any, x: Any, size: Any, dim: Any = None) -> _Split:
        src = self.dyn(n.args[0])
        shape = self.shape(src)
        rank = len(n.args[0].meta["val"].shape)
        d = (dim.value if dim is not None else 0) % rank
        if d != rank - 1:
            raise _Unsupported("split along a dimension other than the last")
        sizes = [s.value for s in size] if isinstance(size, list) else None
        if sizes is None:
            step = size.value
            sizes = [min(step, shape[-1] - i) for i in range(0, shape[-1], step)]
        return self._split_linear(n, src, sizes)

    op_split_with_sizes = op_split

    def op_chunk(self, n: Any, x: Any, chunks: Any, dim: Any = None) -> _Split:
        src = self.dyn(n.args[0])
        step = math.ceil(self.shape(src)[-1] / chunks.value)
        return self.op_split(n, x, _Const(step), dim)

    def _split_linear(self, n: Any, src: _Dyn, sizes: list[int]) -> _Split:
        """Splitting a linear layer's result by columns is one linear layer per part."""
        node = self.fg.nodes[src.name]
        mm = node
        bias = None
        if node.kind == "add" and "linear" in node.attrs:
            mm, bias = self.fg.nodes[node.inputs[0]], self.fg.nodes[node.inputs[1]].value
        if mm.kind != "matmul" or self.fg.nodes[mm.inputs[1]].kind != "const":
            raise _Unsupported(
                "split of a computed tensor that is not a linear layer's result (intar has no "
                "slice task)"
            )
        x, w = mm.inputs[0], self.fg.nodes[mm.inputs[1]].value
        parts, lo = [], 0
        for i, size in enumerate(sizes):
            cols = slice(lo, lo + size)
            lo += size
            base = f"{node.name}_s{i}"
            out = (*node.shape[:-1], size)
            wn = self.const(w[:, cols], f"{base}_w")
            if bias is None:
                parts.append(self.node(n, "matmul", [x, wn], out, name=base))
                continue
            m = self.node(n, "matmul", [x, wn], out, name=f"{base}_mm")
            bn = self.const(bias[cols], f"{base}_b")
            parts.append(self.node(n, "add", [m.name, bn], out, name=base))
            self.fg.nodes[parts[-1].name].attrs["linear"] = (x, wn, bn)
            self.fg.nodes[m.name].origin = ""
        return _Split(parts)


def _nm(a: Any) -> str:
    return getattr(a, "name", "")


def _flatten(xs: list[Any]) -> list[Any]:
    out = []
    for x in xs:
        out.extend(_flatten(list(x)) if isinstance(x, (list, tuple)) else [x])
    return out


def _unwrap(a: Any, env: dict[str, Any]) -> Any:
    if isinstance(a, (list, tuple)):
        return type(a)(_unwrap(x, env) for x in a)
    if isinstance(a, dict):
        return {k: _unwrap(v, env) for k, v in a.items()}
    if hasattr(a, "op") and hasattr(a, "name"):
        return env[a.name].value
    return a


def _op_name(target: Any) -> str:
    if target is operator.getitem:
        return "getitem"
    packet = getattr(target, "_overloadpacket", None)
    if packet is not None:
        return packet.__name__
    return getattr(target, "__name__", str(target))


# -- entry points -----------------------------------------------------------------------------


def export(module: Any, example_inputs: tuple[Any, ...]) -> Any:
    """`torch.export.export` of the module in eval mode."""
    torch = _require_torch()
    module.eval()
    with torch.no_grad():
        return torch.export.export(module, tuple(example_inputs))


def import_module(module: Any, example_inputs: tuple[Any, ...], name: str = "model") -> FloatGraph:
    """Captures `module` with torch.export and maps it to a float graph; raises
    `TorchImportError` listing every unsupported op with its source line."""
    return import_exported(export(module, example_inputs), name)


def import_exported(ep: Any, name: str = "model") -> FloatGraph:
    return _Importer(ep, name).run()


def inputs_of(fg: FloatGraph, example_inputs: Sequence[Any]) -> dict[str, np.ndarray]:
    """The module's positional example inputs by float-graph input name, as float64 arrays."""
    out = {}
    for name, x in zip(fg.inputs, example_inputs, strict=True):
        arr = x.detach().double().numpy() if hasattr(x, "detach") else np.asarray(x, np.float64)
        out[name] = arr.reshape(fg.nodes[name].shape)
    return out


# -- GPT-2 --------------------------------------------------------------------------------


def gpt2_module(
    layers: int = 2,
    d_model: int = 64,
    heads: int = 4,
    ffn: int | None = None,
    seq: int = 16,
    vocab: int = 128,
    seed: int = 0,
) -> Any:
    """A randomly initialised `transformers` GPT-2 (nothing downloaded) wrapped so that it
    takes token embeddings [1, seq, d_model] and returns the logits [1, seq, vocab]: the token
    lookup runs on the host, the position embedding (a constant add), the blocks, the final
    layernorm and the tied LM head are imported."""
    torch = _require_torch()
    from transformers import GPT2Config, GPT2LMHeadModel

    cfg = GPT2Config(
        n_layer=layers,
        n_embd=d_model,
        n_head=heads,
        n_inner=ffn or 4 * d_model,
        vocab_size=vocab,
        n_positions=seq,
        attn_implementation="eager",
        use_cache=False,
        bos_token_id=vocab - 1,
        eos_token_id=vocab - 1,
    )
    torch.manual_seed(seed)
    lm = GPT2LMHeadModel(cfg).eval()
    with torch.no_grad():  # GPT-2 initialises biases to 0 and norms to 1; a trained one does not
        for name, p in lm.named_parameters():
            if name.endswith(".bias"):
                p.normal_(0.0, 0.02)
            elif ".ln_" in name and name.endswith(".weight"):
                p.normal_(1.0, 0.1)

    class GPT2Logits(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.gpt2 = lm.transformer
            self.lm_head = lm.lm_head
            self.config = cfg

        def forward(self, inputs_embeds: Any) -> Any:
            hidden = self.gpt2(inputs_embeds=inputs_embeds).last_hidden_state
            return self.lm_head(hidden)

    return GPT2Logits().eval()


def gpt2_tokens(module: Any, count: int, seed: int) -> np.ndarray:
    """`count` random token sequences [count, seq] (numpy PCG64 from `seed`)."""
    cfg = module.config
    rng = np.random.Generator(np.random.PCG64(seed))
    return rng.integers(0, cfg.vocab_size, size=(count, cfg.n_positions))


def gpt2_embed(module: Any, tokens: np.ndarray) -> Any:
    """The host-side token lookup: [seq] ids -> a [1, seq, d_model] float tensor."""
    torch = _require_torch()
    with torch.no_grad():
        return module.gpt2.wte.weight[torch.as_tensor(tokens)].unsqueeze(0).clone()


def load_factory(spec: str) -> Callable[[], tuple[Any, tuple[Any, ...]]]:
    """`path/to/file.py:factory` -> the factory function (raises ValueError on a bad spec)."""
    import importlib.util
    from pathlib import Path

    path, sep, attr = spec.rpartition(":")
    if not sep or not path or not attr:
        raise ValueError(f"'{spec}' is not of the form path/to/file.py:factory")
    file = Path(path)
    if not file.is_file():
        raise ValueError(f"no such file '{path}'")
    mod_name = f"_intar_factory_{abs(hash(str(file.resolve())))}"
    module_spec = importlib.util.spec_from_file_location(mod_name, file)
    if module_spec is None or module_spec.loader is None:
        raise ValueError(f"cannot load '{path}' as Python")
    mod = importlib.util.module_from_spec(module_spec)
    sys.modules[mod_name] = mod
    module_spec.loader.exec_module(mod)
    factory = getattr(mod, attr, None)
    if not callable(factory):
        raise ValueError(f"'{path}' has no function '{attr}'")
    return factory
