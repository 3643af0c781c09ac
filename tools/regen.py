#!/usr/bin/env python3
"""Regenerates the Python op bindings, the dialect docs and the pass docs from dialect/*.td.

    tools/regen.py                      # rewrite the committed files
    tools/regen.py --check              # exit 1 if they are stale
    tools/regen.py --tblgen PATH        # use a specific mlir-tblgen

CMake's `intar-regen` target, `make regen` and the staleness test all run this script.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

from intar.generated import sync

ROOT = Path(__file__).resolve().parent.parent
DIALECT = ROOT / "dialect"
OUTPUTS = {
    "-gen-python-op-bindings": (
        DIALECT / "Intar.td",
        ROOT / "python/intar/dialects/_intar_ops_gen.py",
        ["-bind-dialect=intar"],
    ),
    "-gen-dialect-doc": (DIALECT / "Intar.td", ROOT / "docs/Dialects/intar.md", ["-dialect=intar"]),
    "-gen-pass-doc": (DIALECT / "IntarPasses.td", ROOT / "docs/Passes.md", []),
}
CANDIDATES = ("mlir-tblgen", "mlir-tblgen-22", "/usr/lib/llvm-22/bin/mlir-tblgen")


def find_tblgen(explicit: str | None = None) -> Path | None:
    for name in [explicit] if explicit else CANDIDATES:
        found = shutil.which(name)
        if found:
            return Path(found)
    return None


def mlir_include(tblgen: Path) -> Path:
    """The MLIR include directory that belongs to this mlir-tblgen."""
    prefix = tblgen.resolve().parent.parent
    for candidate in (prefix / "include", Path("/usr/lib/llvm-22/include")):
        if (candidate / "mlir/IR/OpBase.td").exists():
            return candidate
    raise FileNotFoundError(f"no mlir/IR/OpBase.td beside {tblgen}")


def generate(tblgen: Path) -> dict[Path, str]:
    include = mlir_include(tblgen)
    results = {}
    for generator, (td, path, extra) in OUTPUTS.items():
        cmd = [str(tblgen), generator, *extra, f"-I{include}", f"-I{DIALECT}", str(td)]
        results[path] = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return results


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--tblgen", default=None)
    args = parser.parse_args()
    tblgen = find_tblgen(args.tblgen)
    if tblgen is None:
        print(
            "regen: mlir-tblgen not found (apt-get install mlir-22-tools libmlir-22-dev)",
            file=sys.stderr,
        )
        return 2
    return sync(generate(tblgen), check=args.check, command="tools/regen.py")


if __name__ == "__main__":
    sys.exit(main())
