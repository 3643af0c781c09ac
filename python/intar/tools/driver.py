"""intar: the driver. Each subcommand is one step of the flow, reading what earlier steps wrote.

intar golden FILE -o DIR     verify a task graph and run it on the golden model
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from circt import ir

from intar.diagnostics import DiagnosticCollector
from intar.golden import interpreter
from intar.ir import make_context
from intar.parse import Chunk, parse_chunk
from intar.verifier import verify


def load(path: str, ctx: ir.Context, diags: DiagnosticCollector) -> ir.Module | None:
    """Parses and verifies a file; None (with diagnostics) if it is not valid intar IR."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        print(f"intar: error: cannot open input file '{path}': {e.strerror}", file=sys.stderr)
        return None
    try:
        module = parse_chunk(Chunk(text, 1), path)
    except ir.MLIRError as e:
        diags.add_error(e)
        return None
    return module if verify(module.operation) else None


def _digest(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a, dtype=np.int64).tobytes()).hexdigest()[:16]


def cmd_golden(args: argparse.Namespace) -> int:
    ctx = make_context()
    with ctx, ir.Location.unknown(), DiagnosticCollector(ctx) as diags:
        module = load(args.file, ctx, diags)
        if module is None:
            diags.print()
            return 1
        try:
            graph = interpreter.graph_named(module, args.graph)
        except KeyError as e:
            print(f"intar: error: {e.args[0]}", file=sys.stderr)
            return 1
        start = time.perf_counter()
        inputs = interpreter.random_inputs(graph, args.seed)
        values = interpreter.run(graph, inputs)
        seconds = time.perf_counter() - start
        results = interpreter.outputs(graph, values)
        report = {
            "graph": graph.graph_name,
            "seed": args.seed,
            "inputs": {n: list(a.shape) for n, a in inputs.items()},
            "outputs": {
                n: {
                    "shape": list(a.shape),
                    "min": int(a.min()),
                    "max": int(a.max()),
                    "sha256_16": _digest(a),
                }
                for n, a in results
            },
            "golden_seconds": round(seconds, 3),
        }
        del module
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    np.savez(out / "golden.npz", **inputs, **dict(results))
    (out / "golden.json").write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    for name, info in report["outputs"].items():
        print(
            f"{report['graph']}: {name} {info['shape']} range [{info['min']}, {info['max']}] "
            f"sha256 {info['sha256_16']}"
        )
    print(f"golden model: {seconds:.3f} s; wrote {out / 'golden.json'} and golden.npz")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="intar", description="The intar compiler driver.")
    sub = parser.add_subparsers(dest="command", required=True)
    golden = sub.add_parser("golden", help="verify a task graph and run it on the golden model")
    golden.add_argument("file", help="an .mlir file holding an intar.graph")
    golden.add_argument("-o", dest="output", default="out", help="output directory")
    golden.add_argument("--graph", default=None, help="which graph (default: the first)")
    golden.add_argument("--seed", type=int, default=0, help="seed of the random inputs")
    golden.set_defaults(run=cmd_golden)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
