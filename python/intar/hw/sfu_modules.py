"""The SFU module for a task's parameters (the `params` key of `intar.hw.plan.Instr`)."""

from __future__ import annotations

from circt.dialects import hw


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


def operand_widths(key: tuple) -> list[int]:
    """Bus widths of the SFU's operand ports (a, then b for binary kinds)."""
    lanes, in_bits = key[1], key[2]
    return [lanes * b for b in in_bits]
