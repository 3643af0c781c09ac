"""GPT-2 written with the builder: the graph the PyTorch importer and the quantiser produce for
`transformers`' GPT2 (see docs/frontend-torch.md), without torch.

    g = gpt2(layers=24, d_model=1024, heads=16, ffn=4096, seq=256, lm_head=False)

gives GPT-2 medium's shapes for scheduling benchmarks. Task names, order, operands, shapes and
element types equal the importer's; shifts and fracs default to the values the quantiser
picks for the small random model and can be overridden per task through `attrs` (e.g.
`QuantizedModel.attrs()`), weights through `weights` (otherwise they are seeded).

One block, with p = `gpt2_h{i}` and x the residual stream [seq, d_model]:

    ln_1 -> three linear layers (q, k, v: matmul `_mm` + bias add; torch's fused c_attn split
    by columns) -> heads as views: reshape [seq, H, dh], transpose to [H, seq, dh] (q, v) and
    [H, dh, seq] (k) -> scores (batched matmul; the 1/sqrt(dh) scale is folded into its shift)
    -> causal softmax -> probabilities x v -> merge heads (transpose + reshape, a stored view)
    -> c_proj linear -> residual add -> ln_2 -> c_fc linear -> gelu -> c_proj linear ->
    residual add.

`gpt2` adds the position embedding (a constant add on the token embeddings, which the host
looks up), the final layernorm `gpt2_ln_f` and the tied LM head `lm_head` (a matmul).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from intar.frontend.builder import Graph, Tensor

DEFAULTS: dict[str, dict[str, int]] = {
    "ln": {"frac_bits": 5},
    "mm": {"shift": 5},
    "bias": {"shift": 0},
    "scores": {"shift": 10},
    "softmax": {"frac_bits": 7, "out_frac_bits": 7},
    "pv": {"shift": 6},
    "gelu": {"frac_bits": 7},
    "residual": {"shift": 0},
    "pos": {"shift": 0},
    "lm_head": {"shift": 5},
}
"""Attributes by role when `attrs` does not name the task (the small model's choices)."""


class _Builder:
    def __init__(
        self,
        g: Graph,
        act: str,
        wdtype: str,
        attrs: Mapping[str, Mapping[str, int]] | None,
        weights: Mapping[str, np.ndarray] | None,
    ) -> None:
        self.g, self.act, self.wdtype = g, act, wdtype
        self.attrs = attrs or {}
        self.weights = weights or {}

    def a(self, name: str, role: str, key: str) -> int:
        return int(self.attrs.get(name, {}).get(key, DEFAULTS[role][key]))

    def weight(self, name: str, shape: tuple[int, ...], dtype: str) -> Tensor:
        if name in self.weights:
            return self.g.weight(shape, dtype, name, value=self.weights[name])
        return self.g.weight(shape, dtype, name)

    def linear(self, x: Tensor, n_out: int, name: str, bias: bool) -> Tensor:
        g = self.g
        w = self.weight(f"{name}_w", (x.shape[-1], n_out), self.wdtype)
        if not bias:
            return g.matmul(x, w, shift=self.a(name, "mm", "shift"), out=self.act, name=name)
        mm = g.matmul(
            x, w, shift=self.a(f"{name}_mm", "mm", "shift"), out=self.act, name=f"{name}_mm"
        )
        b = self.weight(f"{name}_b", (n_out,), self.act)
        return g.add(mm, b, shift=self.a(name, "bias", "shift"), out=self.act, name=name)

    def layernorm(self, x: Tensor, name: str) -> Tensor:
        d = x.shape[-1]
        gamma = self.weight(f"{name}_g", (d,), self.act)
        beta = self.weight(f"{name}_b", (d,), self.act)
        return self.g.layernorm(
            x, gamma, beta, frac_bits=self.a(name, "ln", "frac_bits"), name=name
        )

    def block(self, x: Tensor, p: str, heads: int, ffn: int, bias: bool) -> Tensor:
        g = self.g
        seq, d = x.shape
        dh = d // heads
        h = self.layernorm(x, f"{p}_ln_1")
        q, k, v = (self.linear(h, d, f"{p}_attn_c_attn_s{i}", bias) for i in range(3))
        a = f"{p}_attn"
        kr = g.reshape(k, (seq, heads, dh), name=f"{a}_reshape0")
        vr = g.reshape(v, (seq, heads, dh), name=f"{a}_reshape1")
        vh = g.transpose(vr, (1, 0, 2), name=f"{a}_transpose1")
        qr = g.reshape(q, (seq, heads, dh), name=f"{a}_reshape2")
        qh = g.transpose(qr, (1, 0, 2), name=f"{a}_transpose2")
        kt = g.transpose(kr, (1, 2, 0), name=f"{a}_transpose3")
        n = f"{a}_matmul0"
        s = g.matmul(qh, kt, shift=self.a(n, "scores", "shift"), out=self.act, name=n)
        n = f"{a}_softmax0"
        prob = g.softmax(
            s,
            frac_bits=self.a(n, "softmax", "frac_bits"),
            out_frac_bits=self.a(n, "softmax", "out_frac_bits"),
            causal=True,
            out=self.act,
            name=n,
        )
        n = f"{a}_matmul1"
        o = g.matmul(prob, vh, shift=self.a(n, "pv", "shift"), out=self.act, name=n)
        merged = g.reshape(
            g.transpose(o, (1, 0, 2), name=f"{a}_transpose4"), (seq, d), name=f"{a}_reshape3"
        )
        attn = self.linear(merged, d, f"{a}_c_proj", bias)
        n = f"{p}_add0"
        x = g.add(attn, x, shift=self.a(n, "residual", "shift"), out=self.act, name=n)
        h = self.layernorm(x, f"{p}_ln_2")
        h = self.linear(h, ffn, f"{p}_mlp_c_fc", bias)
        n = f"{p}_mlp_act"
        h = g.gelu(h, frac_bits=self.a(n, "gelu", "frac_bits"), name=n)
        h = self.linear(h, d, f"{p}_mlp_c_proj", bias)
        n = f"{p}_add1"
        return g.add(x, h, shift=self.a(n, "residual", "shift"), out=self.act, name=n)


def _check(d_model: int, heads: int) -> None:
    if d_model % heads:
        raise ValueError(f"d_model {d_model} is not a multiple of heads {heads}")


def gpt2_layer(
    d_model: int = 1024,
    heads: int = 16,
    ffn: int | None = None,
    seq: int = 256,
    *,
    index: int = 0,
    bias: bool = True,
    weight_dtype: str = "i4",
    act: str = "i8",
    attrs: Mapping[str, Mapping[str, int]] | None = None,
    weights: Mapping[str, np.ndarray] | None = None,
    name: str = "gpt2_layer",
) -> Graph:
    """One GPT-2 block (`gpt2_h{index}`) on an input residual stream `x` [seq, d_model]."""
    _check(d_model, heads)
    g = Graph(name)
    b = _Builder(g, act, weight_dtype, attrs, weights)
    x = g.input((seq, d_model), act, name="x")
    g.output(b.block(x, f"gpt2_h{index}", heads, ffn or 4 * d_model, bias))
    return g


def gpt2(
    layers: int = 2,
    d_model: int = 64,
    heads: int = 4,
    ffn: int | None = None,
    seq: int = 16,
    vocab: int = 128,
    *,
    lm_head: bool = True,
    bias: bool = True,
    weight_dtype: str = "i4",
    act: str = "i8",
    attrs: Mapping[str, Mapping[str, int]] | None = None,
    weights: Mapping[str, np.ndarray] | None = None,
    name: str = "gpt2",
) -> Graph:
    """GPT-2 from the token embeddings [seq, d_model] to the logits [seq, vocab] (or, without
    `lm_head`, to the final layernorm's output), as `intar import-torch --gpt2` emits it."""
    _check(d_model, heads)
    g = Graph(name)
    b = _Builder(g, act, weight_dtype, attrs, weights)
    x = g.input((seq, d_model), act, name="inputs_embeds")
    pos = b.weight("gpt2_c0", (seq, d_model), act)
    x = g.add(x, pos, shift=b.a("gpt2_add0", "pos", "shift"), out=act, name="gpt2_add0")
    for i in range(layers):
        x = b.block(x, f"gpt2_h{i}", heads, ffn or 4 * d_model, bias)
    x = b.layernorm(x, "gpt2_ln_f")
    if lm_head:
        w = b.weight("lm_head_w", (d_model, vocab), weight_dtype)
        x = g.matmul(x, w, shift=b.a("lm_head", "lm_head", "shift"), out=act, name="lm_head")
    g.output(x)
    return g


def structure(g: Graph) -> list[tuple[Any, ...]]:
    """A graph's nodes without weight values or seeds: what two GPT-2 builds must share."""
    return [
        (
            n.kind,
            n.name,
            tuple(g.nodes[i].name for i in n.operands),
            n.shape,
            n.dtype,
            tuple(sorted((k, v) for k, v in n.attrs.items() if k not in ("value", "seed"))),
        )
        for n in g.nodes
    ]
