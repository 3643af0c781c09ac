"""The InTAR paper's five multi-task kernels, written with the builder.

Each function takes the paper's shapes by default; `small=True` gives a version with the same
structure at shapes that simulate in seconds. All are int16 with int32 accumulation. Shifts
are chosen so that products of full-range operands land back in int16's range.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

from intar.frontend import Graph
from intar.scheduling.problem import TaskGraph


def self_attention(small: bool = False) -> Graph:
    """One head: Q, K, V projections; QKᵀ; softmax; A·V (seq 256, D 1024)."""
    seq, d = (16, 32) if small else (256, 1024)
    g = Graph("self_attention")
    x = g.input((seq, d), "i16", name="x")
    proj = d.bit_length() // 2 + 15
    q = g.matmul(x, g.weight((d, d), name="w_q"), shift=proj, out="i16", name="q_proj")
    k = g.matmul(x, g.weight((d, d), name="w_k"), shift=proj, out="i16", name="k_proj")
    v = g.matmul(x, g.weight((d, d), name="w_v"), shift=proj, out="i16", name="v_proj")
    s = g.matmul(q, k, transpose_rhs=True, shift=proj + 5, out="i16", name="qk")
    a = g.softmax(s, frac_bits=8, out_frac_bits=14, name="softmax")
    o = g.matmul(a, v, shift=14, out="i16", name="av")
    g.output(o)
    return g


def mlp(small: bool = False) -> Graph:
    """One vector through 256 → 1024 → 2048 → 256 with ReLU."""
    widths = (16, 32, 64, 16) if small else (256, 1024, 2048, 256)
    g = Graph("mlp")
    h = g.input((1, widths[0]), "i16", name="x")
    for i, (n_in, n_out) in enumerate(itertools.pairwise(widths)):
        w = g.weight((n_in, n_out), name=f"w{i + 1}")
        h = g.matmul(h, w, shift=n_in.bit_length() // 2 + 15, out="i16", name=f"fc{i + 1}")
        if i + 2 < len(widths):
            h = g.relu(h, name=f"relu{i + 1}")
    g.output(h)
    return g


def cnn_4l(small: bool = False) -> Graph:
    """Single-channel 3×3 convolutions: 224² → 448² → 896² → 448² → 448²."""
    side = 8 if small else 224
    g = Graph("cnn_4l")
    x = g.input((1, side, side), "i16", name="x")

    def conv(t, i):
        w = g.weight((1, 1, 3, 3), name=f"w{i}")
        return g.conv2d(t, w, padding=1, shift=17, out="i16", name=f"conv{i}")

    h = g.upsample(g.relu(conv(x, 1), name="relu1"), name="up1")
    h = g.upsample(g.relu(conv(h, 2), name="relu2"), name="up2")
    h = g.relu(g.maxpool(conv(h, 3), name="pool3"), name="relu3")
    g.output(conv(h, 4))
    return g


def vae(small: bool = False) -> Graph:
    """Encoder (two convolutions to a mean and a log-variance), sampling, decoder."""
    if small:
        side, k1, k2, ch = 14, 4, 4, 4
    else:
        side, k1, k2, ch = 28, 8, 4, 16
    frac = 8
    g = Graph("vae")
    x = g.input((2, side, side), "i16", name="x")
    h = g.conv2d(x, g.weight((ch, 2, k1, k1), name="w_enc1"), shift=20, out="i16", name="enc1")
    h = g.relu(h, name="enc1_relu")
    mu = g.conv2d(h, g.weight((1, ch, k2, k2), name="w_mu"), shift=20, out="i16", name="mu")
    logvar = g.conv2d(
        h, g.weight((1, ch, k2, k2), name="w_logvar"), shift=24, out="i16", name="logvar"
    )
    half = g.requantize(logvar, shift=1, out="i16", name="half_logvar")
    std = g.exp(half, frac_bits=frac, name="std")
    eps = g.input(mu.shape, "i16", name="eps")
    z = g.add(mu, g.mul(std, eps, shift=frac, out="i16", name="noise"), name="z")
    d = g.conv_transpose2d(
        z, g.weight((1, ch, k1, k1), name="w_dec1"), shift=14, out="i16", name="dec1"
    )
    d = g.relu(d, name="dec1_relu")
    y = g.conv_transpose2d(
        d, g.weight((ch, 2, k2, k2), name="w_dec2"), shift=20, out="i16", name="dec2"
    )
    g.output(y)
    return g


def gating_net(small: bool = False) -> Graph:
    """SwiGLU feed-forward: silu(X·W_up) ⊙ (X·W_gate), then the down projection."""
    batch, d, ffn = (4, 32, 64) if small else (32, 4096, 11008)
    g = Graph("gating_net")
    x = g.input((batch, d), "i16", name="x")
    shift = d.bit_length() // 2 + 15
    up = g.matmul(x, g.weight((d, ffn), name="w_up"), shift=shift, out="i16", name="up")
    act = g.silu(up, frac_bits=10, name="silu")
    gate = g.matmul(x, g.weight((d, ffn), name="w_gate"), shift=shift, out="i16", name="gate")
    h = g.mul(act, gate, shift=15, out="i16", name="glu")
    down_shift = ffn.bit_length() // 2 + 15
    y = g.matmul(h, g.weight((ffn, d), name="w_down"), shift=down_shift, out="i16", name="down")
    g.output(y)
    return g


PAPER_DSP_BUDGETS = {"self_attention": 43, "mlp": 32, "cnn_4l": 439, "vae": 239, "gating_net": 109}
"""DSPs of the paper's hand-written InTAR designs on the U280."""

PAPER_PORTS = {"self_attention": 7, "mlp": 5, "cnn_4l": 6, "vae": 9, "gating_net": 5}
"""Off-chip ports (HBM channels) of the paper's designs: one per kernel argument."""


PAPER_CYCLES = {
    "self_attention": {"intar": 40_520_051, "dataflow": 73_143_507, "sequential": 348_574_419},
    "mlp": {"intar": 140_957, "dataflow": 181_996, "sequential": 1_374_935},
    "cnn_4l": {"intar": 118_729, "dataflow": 713_144, "sequential": 2_215_282},
    "vae": {"intar": 10_295, "dataflow": 28_383, "sequential": 306_935},
    "gating_net": {"intar": 48_668_637, "dataflow": 48_668_637, "sequential": 117_702_892},
}
"""Cycles of the paper's designs on the U280 (its repository's benchmark table)."""


def task_graph(name: str, small: bool = False, cleanup: bool = False) -> TaskGraph:
    """A kernel as the scheduler's problem, built through the IR like any other input;
    with `cleanup`, after the `intar-task-cleanup` passes, as `intar compile` schedules it
    (a relu fused into its conv, a requantize into its producer)."""
    from intar.analysis.task_graph import task_graph as analyse
    from intar.ir import make_context
    from intar.passes import run_pipeline

    ctx = make_context()
    module = KERNELS[name](small).build(ctx)
    with ctx:
        if cleanup and not run_pipeline(module, ["intar-task-cleanup"]):
            raise RuntimeError(f"intar-task-cleanup failed on the {name} kernel")
        problem = analyse(next(iter(module.body.operations)))
    del module
    return problem


KERNELS: dict[str, Callable[[bool], Graph]] = {
    "self_attention": self_attention,
    "mlp": mlp,
    "cnn_4l": cnn_4l,
    "vae": vae,
    "gating_net": gating_net,
}
"""The paper's kernels by name; `examples/<name>.mlir` holds each one."""
