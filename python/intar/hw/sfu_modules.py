"""The SFU module for a task's parameters (the `params` key of `intar.hw.plan.Instr`), and
the DSP48E2s it takes (which the scheduler budgets)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from intar.scheduling.problem import Task, TaskGraph, matrix_dims

if TYPE_CHECKING:
    from circt.dialects import hw

NO_DSP_KINDS = ("relu", "requantize", "add", "upsample", "maxpool")


def key(t: Task, graph: TaskGraph, lanes: int) -> tuple:
    """The elaboration parameters of the SFU module that runs task `t` with `lanes` lanes."""
    in_bits = tuple(graph.tensors[o].bits for o in t.operands)
    if t.kind in ("relu", "requantize", "add", "mul"):
        return (t.kind, lanes, in_bits, t.bits, int(t.attr("shift", 0)))
    if t.kind in ("exp", "gelu", "silu"):
        return (t.kind, lanes, in_bits, t.bits, int(t.attr("frac_bits")))
    cols = matrix_dims(t.shape)[1]
    if t.kind == "softmax":
        shape = graph.tensors[t.operands[0]].shape
        return (
            t.kind,
            lanes,
            in_bits,
            t.bits,
            cols,
            int(t.attr("frac_bits")),
            int(t.attr("out_frac_bits")),
            bool(t.attr("causal", False)),
            shape[-2] if len(shape) > 1 else 1,
        )
    if t.kind == "layernorm":
        return (t.kind, lanes, in_bits, t.bits, cols, int(t.attr("frac_bits")))
    if t.kind == "upsample":  # reads lanes / 2 elements, writes lanes
        return (t.kind, lanes // 2, in_bits, t.bits)
    if t.kind == "maxpool":  # reads lanes elements, writes lanes / 2
        return (t.kind, lanes, in_bits, t.bits)
    raise ValueError(f"no SFU for '{t.kind}'")


def build(key: tuple, name: str) -> hw.HWModuleOp:
    """Create the SFU module described by `key` (see `intar.hw.plan._sfu_params`)."""
    kind, lanes, in_bits = key[0], key[1], key[2]
    if kind in ("relu", "requantize", "add", "mul"):
        from intar.hw.sfu import build_sfu

        out_bits, shift = key[3], key[4]
        rhs = in_bits[1] if len(in_bits) > 1 else None
        return build_sfu(kind, lanes, in_bits[0], out_bits, shift, name, rhs)
    if kind == "exp":
        from intar.hw.sfu_exp import build_exp_sfu

        return build_exp_sfu(lanes, in_bits[0], key[3], key[4], name)
    if kind in ("gelu", "silu"):
        from intar.hw.sfu_pwl import build_pwl_sfu

        return build_pwl_sfu(kind, lanes, in_bits[0], key[3], key[4], name)
    if kind == "softmax":
        from intar.hw.sfu_exp import build_softmax_sfu

        out_bits, row_len, frac, out_frac, causal, per_matrix = key[3:9]
        return build_softmax_sfu(
            row_len, lanes, in_bits[0], out_bits, frac, out_frac, causal, per_matrix, name
        )
    if kind == "layernorm":  # operands x, gamma, beta on ports a, b, c
        from intar.hw.sfu_layernorm import build_layernorm_sfu

        out_bits, row_len, frac = key[3:6]
        x_bits, gamma_bits, beta_bits = in_bits
        return build_layernorm_sfu(
            row_len, lanes, x_bits, out_bits, frac, name, gamma_bits, beta_bits
        )
    if kind in ("upsample", "maxpool"):
        from intar.hw.sfu_resample import build_maxpool_sfu, build_upsample_sfu

        make = build_upsample_sfu if kind == "upsample" else build_maxpool_sfu
        return make(lanes, in_bits[0], key[3], name)
    raise ValueError(f"no SFU module for {kind!r}")


def dsps(key: tuple) -> int:
    """DSP48E2s of the SFU module described by `key`, as its builder writes its multipliers
    (`builders.dsp_products` of each product's operand widths; constant products are shifts
    and adds). `tools/sfu_dsps.py` checks these against yosys."""
    kind, lanes, in_bits = key[0], key[1], key[2]
    if kind == "mul":
        from intar.hw.builders import dsp_products

        return lanes * dsp_products(in_bits[0], in_bits[1])
    if kind == "exp":
        from intar.hw.sfu_exp import exp_dsps

        return exp_dsps(lanes)
    if kind == "softmax":
        from intar.hw.sfu_exp import softmax_dsps

        return softmax_dsps(lanes)
    if kind in ("gelu", "silu"):
        from intar.hw.sfu_pwl import pwl_dsps

        return pwl_dsps(kind, lanes)
    if kind == "layernorm":
        from intar.hw.sfu_layernorm import layernorm_dsps

        return layernorm_dsps(key[4], lanes, in_bits[0], in_bits[1])
    if kind in NO_DSP_KINDS:
        return 0
    raise ValueError(f"no SFU module for {kind!r}")


def operand_widths(key: tuple) -> list[int]:
    """Bus widths of the SFU's operand ports (a, then b for binary kinds)."""
    lanes, in_bits = key[1], key[2]
    return [lanes * b for b in in_bits]
