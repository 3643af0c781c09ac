#!/usr/bin/env python3
"""Synthesises each DSP-using SFU kind at 1 and 2 lanes with yosys and prints the DSP48E2s it
maps next to what the scheduler budgets for it (`intar.hw.sfu_modules.dsps`).

    tools/sfu_dsps.py                   # every kind below (about 3 minutes)
    tools/sfu_dsps.py --kinds exp,softmax

Exits 1 when a kind's yosys count differs from the budgeted one, so it can gate a change of
either side. The parameters are typical of the paper's kernels (16-bit operands, Q.8).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from intar.hw import sfu_modules
from intar.hw.tensor_buffer import emit_sv_with_memories
from intar.synth.yosys import synth_cells

# `intar.hw.plan._sfu_params`-style key of one instance of each kind, by lane count
SFU_KEYS = {
    "exp": lambda lanes: ("exp", lanes, (16,), 16, 8),
    "softmax": lambda lanes: ("softmax", lanes, (16,), 16, 64, 8, 15, True, 64),
    "gelu": lambda lanes: ("gelu", lanes, (16,), 8, 8),
    "silu": lambda lanes: ("silu", lanes, (16,), 8, 8),
    "mul": lambda lanes: ("mul", lanes, (8, 8), 8, 4),
    "layernorm": lambda lanes: ("layernorm", lanes, (16, 8, 8), 8, 64, 8),
}


def yosys_dsps(kind: str, lanes: int, workdir: Path) -> int:
    name = f"sfu_{kind}_l{lanes}"
    key = SFU_KEYS[kind](lanes)
    sv = emit_sv_with_memories(lambda: sfu_modules.build(key, name))
    return synth_cells(sv, name, workdir / name).get("DSP48E2", 0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kinds", default=",".join(SFU_KEYS))
    args = ap.parse_args(argv)
    kinds = args.kinds.split(",")
    if unknown := [k for k in kinds if k not in SFU_KEYS]:
        ap.error(f"unknown SFU kind {unknown[0]!r} (known: {', '.join(SFU_KEYS)})")
    mismatches = 0
    print(f"{'kind':<10} {'lanes':>5} {'yosys':>6} {'model':>6}")
    with tempfile.TemporaryDirectory() as tmp:
        for kind in kinds:
            for lanes in (1, 2):
                got = yosys_dsps(kind, lanes, Path(tmp))
                model = sfu_modules.dsps(SFU_KEYS[kind](lanes))
                mismatches += got != model
                flag = "" if got == model else "  <- differs"
                print(f"{kind:<10} {lanes:>5} {got:>6} {model:>6}{flag}", flush=True)
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
