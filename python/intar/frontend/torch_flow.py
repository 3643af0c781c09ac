"""The whole PyTorch path behind `intar import-torch`: import, calibrate and quantise, measure
the integer model against the PyTorch module, and emit the graph as MLIR text.

Calibration and evaluation inputs are seeded (numpy PCG64), and the random GPT-2 weights come
from `torch.manual_seed(seed)`, so the same arguments give byte-identical MLIR.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from intar.frontend.quantize import QuantConfig, QuantizedModel, evaluate, quantize
from intar.frontend.torch_import import (
    export,
    gpt2_embed,
    gpt2_module,
    gpt2_tokens,
    import_exported,
    inputs_of,
)

Progress = Callable[[str], None]

HOST_SPLIT = (
    "the token-embedding lookup (wte) runs on the host in float and its result is quantised to "
    "the graph input; the position embedding (a constant add), every block, ln_f and the tied "
    "LM head (a matmul) are intar tasks"
)


def stderr_progress(msg: str) -> None:
    print(f"[import-torch] {msg}", file=sys.stderr, flush=True)


@dataclass
class ImportResult:
    model: QuantizedModel
    report: dict[str, Any]
    mlir: str


def _outputs(torch: Any, module: Any, inputs: Sequence[Any]) -> list[np.ndarray]:
    from torch.utils._pytree import tree_leaves

    with torch.no_grad():
        out = module(*inputs)
    return [t.detach().double().numpy() for t in tree_leaves(out) if isinstance(t, torch.Tensor)]


def run_module(
    module: Any,
    example_inputs: Sequence[Any],
    name: str,
    config: QuantConfig,
    calib: Sequence[Sequence[Any]] | None = None,
    evals: Sequence[Sequence[Any]] | None = None,
    progress: Progress | None = None,
) -> ImportResult:
    """Imports `module` (exported on `example_inputs`), calibrates on `calib` (default: the
    example inputs) and measures on `evals` (default: the calibration inputs)."""
    import torch

    say = progress or (lambda _msg: None)
    t0 = time.perf_counter()
    say("capturing the module with torch.export")
    fg = import_exported(export(module, tuple(example_inputs)), name)
    say(f"imported {len(fg.nodes)} float nodes in {time.perf_counter() - t0:.1f} s")
    calib = list(calib or [example_inputs])
    evals = list(evals or calib)
    t1 = time.perf_counter()
    qm = quantize(fg, [inputs_of(fg, c) for c in calib], config)
    say(
        f"quantised (W{config.weight_bits}A{config.act_bits}, {len(calib)} calibration inputs) "
        f"to {len(qm.graph.nodes)} intar ops in {time.perf_counter() - t1:.1f} s"
    )
    t2 = time.perf_counter()
    say(f"running the golden model on {len(evals)} inputs")
    samples = [inputs_of(fg, e) for e in evals]
    refs = [_outputs(torch, module, e) for e in evals]
    float_gap = max(
        float(np.abs(fg.evaluate(s)[o] - r.reshape(fg.nodes[o].shape)).max())
        for s, ref in zip(samples, refs, strict=True)
        for o, r in zip(fg.outputs, ref, strict=True)
    )
    report = evaluate(qm, samples, refs)
    report["float_graph_max_abs_diff_vs_torch"] = float_gap
    report["calibration_samples"] = len(calib)
    say(f"measured in {time.perf_counter() - t2:.1f} s")
    return ImportResult(qm, report, qm.graph.to_mlir())


def run_gpt2(
    layers: int = 2,
    d_model: int = 64,
    heads: int = 4,
    ffn: int | None = None,
    seq: int = 16,
    vocab: int = 128,
    seed: int = 0,
    config: QuantConfig | None = None,
    calib: int = 8,
    evals: int = 16,
    progress: Progress | None = None,
) -> ImportResult:
    """A random `transformers` GPT-2 through the whole path. Calibration uses `calib` random
    token sequences (seed `seed`), the measurement `evals` others (seed `seed + 1`)."""
    say = progress or (lambda _msg: None)
    config = config or QuantConfig()
    say(f"building a random GPT-2: {layers} layers, d_model {d_model}, {heads} heads, seq {seq}")
    module = gpt2_module(layers, d_model, heads, ffn, seq, vocab, seed)
    cal = [(gpt2_embed(module, t),) for t in gpt2_tokens(module, calib, seed)]
    ev = [(gpt2_embed(module, t),) for t in gpt2_tokens(module, evals, seed + 1)]
    res = run_module(module, cal[0], "gpt2", config, cal, ev, progress)
    res.report["model"] = {
        "kind": "transformers GPT2LMHeadModel, random weights",
        "layers": layers,
        "d_model": d_model,
        "heads": heads,
        "ffn": ffn or 4 * d_model,
        "seq": seq,
        "vocab": vocab,
        "seed": seed,
    }
    res.report["host"] = HOST_SPLIT
    res.report["last_hidden_state"] = res.report["tensors"]["gpt2_ln_f"]
    return res
