"""intar-opt: the mlir-opt of intar.

Reads MLIR (a file or stdin), verifies it, runs a pass pipeline and prints the result. The
flags and exit codes follow mlir-opt: 0 on success, 1 on any error, and with -o nothing is
written unless every input chunk succeeded.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
from collections.abc import Sequence

from circt import ir

from intar.diagnostics import DiagnosticCollector, check_expected, expected_diagnostics
from intar.ir import make_context
from intar.parse import Chunk, parse_chunk, split_source
from intar.passes import (
    PIPELINES,
    build_pass_manager,
    parse_element,
    registered_passes,
    run_pipeline,
    split_pipeline,
)
from intar.verifier import verify

SPLIT_SEPARATOR = "// -----\n"


class _AppendPass(argparse.Action):
    """`--<pass>` or `--<pass>=<options>`: appends a pipeline element in command-line order."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        element = self.dest.replace("_", "-")
        if values:
            element += "{" + values + "}"
        namespace.passes = [*namespace.passes, element]


class _AppendGroup(argparse.Action):
    """`--<group>`: appends the group's passes."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        namespace.passes = [*namespace.passes, *PIPELINES[self.dest.replace("_", "-")]]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="intar-opt",
        description="Parse, verify and transform intar IR (an mlir-opt for the intar dialect).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("input", nargs="?", default="-", help="input file ('-' for stdin)")
    parser.add_argument("-o", dest="output", default="-", help="output file ('-' for stdout)")
    parser.add_argument(
        "--pass-pipeline", default=None, help="a pipeline, e.g. 'builtin.module(intar-...)'"
    )
    parser.add_argument(
        "--split-input-file",
        action="store_true",
        help="split the input at '// -----' and process each chunk on its own",
    )
    parser.add_argument(
        "--verify-diagnostics",
        action="store_true",
        help="check diagnostics against '// expected-error {{...}}' annotations",
    )
    parser.add_argument(
        "--mlir-print-ir-after-all",
        action="store_true",
        help="print the IR after every pass (to stderr)",
    )
    parser.add_argument(
        "--mlir-print-ir-before-all",
        action="store_true",
        help="print the IR before every pass (to stderr)",
    )
    parser.add_argument("--mlir-timing", action="store_true", help="report the time of each pass")
    parser.add_argument(
        "--mlir-print-debuginfo", action="store_true", help="print locations with the IR"
    )
    group = parser.add_argument_group("passes (in command-line order)")
    parser.set_defaults(passes=[])
    for name, info in registered_passes().items():
        help_text = info.summary
        shape: dict = {"nargs": 0}
        if info.options:
            help_text += (
                " (options: " + ", ".join(f"{k}={o.help}" for k, o in info.options.items()) + ")"
            )
            shape = {"nargs": "?", "const": "", "metavar": "'OPT=V ...'"}
        group.add_argument(
            f"--{name}", dest=name.replace("-", "_"), action=_AppendPass, help=help_text, **shape
        )
    groups = parser.add_argument_group("pass groups (usable in --pass-pipeline)")
    for name, members in PIPELINES.items():
        groups.add_argument(
            f"--{name}",
            dest=name.replace("-", "_"),
            action=_AppendGroup,
            nargs=0,
            help=" then ".join(members),
        )
    return parser


def _process(
    chunk: Chunk,
    args: argparse.Namespace,
    source_name: str,
    ctx: ir.Context,
    pipeline: list[str],
    out: io.StringIO,
) -> tuple[bool, list[str]]:
    """Runs one chunk; returns (success, verify-diagnostics complaints)."""
    with ctx, ir.Location.unknown(), DiagnosticCollector(ctx) as diags:
        ok = True
        module = None
        try:
            module = parse_chunk(chunk, source_name)
        except ir.MLIRError as e:
            diags.add_error(e)
            ok = False
        if ok:
            ok = verify(module.operation)
        if ok and pipeline:
            try:
                ok = run_pipeline(
                    module,
                    pipeline,
                    print_before_all=args.mlir_print_ir_before_all,
                    print_after_all=args.mlir_print_ir_after_all,
                    timing=args.mlir_timing,
                )
            except ir.MLIRError as e:
                diags.add_error(e)
                ok = False
        if ok:
            out.write(module.operation.get_asm(enable_debug_info=args.mlir_print_debuginfo))
        del module
    if args.verify_diagnostics:
        expected = expected_diagnostics(chunk.text, chunk.first_line)
        return ok, check_expected(expected, diags.diags, source_name)
    diags.print(sys.stderr)
    return ok, []


def _read_input(path: str) -> tuple[str, str]:
    if path == "-":
        return sys.stdin.read(), "<stdin>"
    with open(path, encoding="utf-8") as f:
        return f.read(), path


def _write_output(path: str, text: str) -> None:
    if path == "-":
        sys.stdout.write(text)
        return
    # Write beside the target and rename, so a reader never sees a partial file.
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".intar-opt-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    pipeline = list(args.passes)
    try:
        if args.pass_pipeline:
            if pipeline:
                print(
                    "intar-opt: error: --pass-pipeline cannot be combined with pass flags",
                    file=sys.stderr,
                )
                return 1
            pipeline = split_pipeline(args.pass_pipeline)
        with make_context():
            build_pass_manager([parse_element(e) for e in pipeline])
    except ValueError as e:
        print(f"intar-opt: error: {e}", file=sys.stderr)
        return 1
    try:
        text, source_name = _read_input(args.input)
    except OSError as e:
        print(
            f"intar-opt: error: cannot open input file '{args.input}': {e.strerror}",
            file=sys.stderr,
        )
        return 1

    ctx = make_context()
    out = io.StringIO()
    all_ok, complaints = True, []
    for i, chunk in enumerate(split_source(text, args.split_input_file)):
        if i:
            out.write(SPLIT_SEPARATOR)
        ok, problems = _process(chunk, args, source_name, ctx, pipeline, out)
        all_ok &= ok
        complaints += problems
    if args.verify_diagnostics:
        for p in complaints:
            print(p, file=sys.stderr)
        success = not complaints
    else:
        success = all_ok
    if success or args.verify_diagnostics:
        _write_output(args.output, out.getvalue())
    return 0 if success else 1


if __name__ == "__main__":
    sys.exit(main())
