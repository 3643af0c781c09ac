"""Simulate a compiled design: memory images, a generated Verilator testbench, bit-exact check.

`intar compile` writes ``DIR/design.sv`` and ``DIR/hw.json`` (the manifest below); `simulate`
packs the golden model's inputs and weights into per-port memory images, builds the design
with a testbench that drives every port through `lib/sim/memory_model.h` (the device's bytes
per cycle and latency; one read request or one write per port per cycle), runs it under a
watchdog, unpacks the outputs and compares them with the golden model element by element.

Off-chip layout: a tensor is a ``rows x cols`` matrix stored row-major, each row padded to
whole beats of ``width // bits`` elements (element e of a beat at bits e*bits). A conv weight
is a constant the host lays out as the matrix [O, KH*KW*Cp] the conv's core reads
(`intar.hw.plan.conv_weight_image`; its manifest entry says ``conv_weight``), a weight the
schedule stores transposed as its [N, K] transpose (``transposed``), and `pack_image` writes
them so.
"""

from __future__ import annotations

import hashlib
import json
import math
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from intar.files import atomic_write
from intar.hw.plan import HwPlan, conv_weight_image
from intar.scheduling.problem import matrix_dims
from intar.scheduling.result import transposed_weights
from intar.sim.headers import BUS_HEADER, MEMORY_MODEL_HEADER
from intar.sim.verilator import build

#: Designs predicted to finish within this many cycles are built at -O0: the C++ compile, not
#: the run, is most of their simulation time. (A -O0 build of the full-scale MLP dataflow design
#: simulated 2,700 cycles/s, against 85,000 optimised: -O0 pays off only for short runs.)
FAST_BUILD_CYCLES = 50_000
STATUS_NAMES = ("waiting for its phase", "waiting for operands", "output blocked", "FIFO full")


def manifest(plan: HwPlan, top: str) -> dict:
    """What the testbench and the checker need to know about a design (hw.json)."""
    g = plan.graph
    dev = plan.device
    tensors = []
    transposed = transposed_weights(plan.schedule)
    for name, (port, base) in sorted(plan.placement.items()):
        m = plan.stored_matrix(name)
        per = plan.port(port).width // m.bits
        part = plan.parts.get(name)
        tensor = part.tensor if part is not None else name
        role = g.tensors[tensor].role
        extra: dict = {}
        if part is not None:  # a stripe: its part of the tensor's [rows, cols] matrix
            extra["part"] = {
                "tensor": tensor,
                "matrix": list(matrix_dims(g.tensors[tensor].shape)),
                "dim": part.dim,
                "lo": part.lo,
                "hi": part.hi,
            }
        if name in plan.conv_weights:
            kind, cp = plan.conv_weights[name]
            extra["conv_weight"] = {"kind": kind, "cp": cp}
        if tensor in transposed:  # the host stores the [K, N] weight as [N, K]
            extra["transposed"] = True
        tensors.append(
            {
                "name": name,
                "role": "output" if name in g.outputs else role,
                "shape": [m.rows, m.cols] if part is not None else list(g.tensors[name].shape),
                "port": port,
                "base": base,
                "rows": m.rows,
                "cols": m.cols,
                "bits": m.bits,
                "per_beat": per,
                "beats_per_row": -(-m.cols // per),
            }
            | extra
        )
    return {
        "top": top,
        "graph": g.name,
        "mode": plan.schedule.mode,
        "device": dev.name,
        "predicted_cycles": plan.schedule.predicted_cycles,
        "phases": plan.n_phases,
        "predicted_phase_cycles": [ph.cycles for ph in plan.schedule.phases],
        "units": list(plan.instrs),
        "windows": plan.windows(),
        "ports": [
            {
                "name": p.name,
                "width": p.width,
                "beats": max(p.beats, 1),
                "bytes_per_cycle": dev.offchip.bytes_per_cycle,
                "latency": dev.offchip.latency_cycles,
            }
            for p in plan.ports
        ],
        "tensors": tensors,
        "memory": memory_summary(plan),
    }


def memory_summary(plan: HwPlan) -> dict:
    """The design's block RAM before synthesis (`intar.hw.resources`), against the device."""
    from intar.hw.resources import bram36_estimate, uram_estimate

    total, mems = bram36_estimate(plan)
    return {
        "bram36_estimate": math.ceil(total),
        "device_bram36": plan.device.bram36.count,
        "uram_estimate": uram_estimate(plan),
        "device_uram": plan.device.uram.count,
        "largest": [[m.name, m.bram36, m.count, m.depth, m.width] for m in mems[:5] if m.bram36],
        "ultra_ram": sorted(m.name for m in mems if m.ultra),
    }


def pack_image(man: dict, port: dict, values: dict[str, np.ndarray]) -> np.ndarray:
    """The port's memory as uint32 words (ceil(width / 32) per beat)."""
    wpb = -(-port["width"] // 32)
    words = np.zeros(port["beats"] * wpb, dtype=np.uint32)
    for t in man["tensors"]:
        if t["port"] != port["name"] or t["role"] == "output":
            continue
        part = t.get("part")
        v = np.asarray(values[part["tensor"] if part else t["name"]], dtype=np.int64)
        if "conv_weight" in t:
            v = conv_weight_image(v, t["conv_weight"]["kind"], t["conv_weight"]["cp"])
        if t.get("transposed"):
            v = v.T
        if part:
            v = v.reshape(part["matrix"])
            v = v[part["lo"] : part["hi"]] if part["dim"] == 0 else v[:, part["lo"] : part["hi"]]
        v = v.reshape(t["rows"], t["cols"])
        bits, per, bpr = t["bits"], t["per_beat"], t["beats_per_row"]
        mask = (1 << bits) - 1
        for r in range(t["rows"]):
            for bt in range(bpr):
                acc = 0
                for e in range(per):
                    c = bt * per + e
                    if c < t["cols"]:
                        acc |= (int(v[r, c]) & mask) << (e * bits)
                addr = t["base"] + r * bpr + bt
                for w in range(wpb):
                    words[addr * wpb + w] = (acc >> (32 * w)) & 0xFFFFFFFF
    return words


def unpack_tensor(t: dict, port: dict, words: np.ndarray) -> np.ndarray:
    wpb = -(-port["width"] // 32)
    bits, per, bpr = t["bits"], t["per_beat"], t["beats_per_row"]
    out = np.zeros((t["rows"], t["cols"]), dtype=np.int64)
    for r in range(t["rows"]):
        for bt in range(bpr):
            addr = t["base"] + r * bpr + bt
            acc = 0
            for w in range(wpb):
                acc |= int(words[addr * wpb + w]) << (32 * w)
            for e in range(per):
                c = bt * per + e
                if c < t["cols"]:
                    x = (acc >> (e * bits)) & ((1 << bits) - 1)
                    out[r, c] = x - (1 << bits) if x >> (bits - 1) else x
    return out.reshape(t["shape"])


def testbench_cpp(man: dict) -> str:
    """The C++ testbench of a design. argv: image_dir max_cycles watchdog_cycles."""
    top = man["top"]
    decl, drive, sample, dump, traffic = [], [], [], [], []
    for k, p in enumerate(man["ports"]):
        n = p["name"]
        decl.append(
            f"  intar::OffchipMemory m{k}({p['bytes_per_cycle']}, {p['latency']}, {p['beats']});"
            f' load(m{k}, dir + "/{n}.bin");'
            f" std::vector<uint32_t> rd{k}(m{k}.words_per_beat()), wd{k}(m{k}.words_per_beat());"
            f" bool prio{k} = false;"
        )
        drive.append(
            f"    {{ bool rv; m{k}.drive(rv, rd{k}.data()); top->{n}_mem_rvalid = rv;"
            f" intar::put(top->{n}_mem_rdata, rd{k}); }}"
        )
        sample.append(
            f"    {{ bool r = top->{n}_mem_req_valid, w = top->{n}_mem_wvalid;"
            f" bool take_r = r && (!w || !prio{k}); bool take_w = w && !take_r;"
            f" if (r && w) prio{k} = !prio{k};"
            f" top->{n}_mem_req_ready = take_r; top->{n}_mem_wready = take_w; top->eval();"
            f" m{k}.sample_read(take_r, top->{n}_mem_req_addr);"
            f" if (take_w) {{ intar::get(top->{n}_mem_wdata, wd{k});"
            f" m{k}.sample_write(true, top->{n}_mem_waddr, wd{k}.data()); }}"
            f" if (take_r || take_w) last_activity = cycle; }}"
        )
        dump.append(f'  save(m{k}, dir + "/{n}.out.bin");')
        sep = ", " if k + 1 < len(man["ports"]) else ""
        traffic.append(
            f'  std::printf("\\"{n}\\": [%llu, %llu]%s", (unsigned long long)m{k}.read_beats(),'
            f' (unsigned long long)m{k}.write_beats(), "{sep}");'
        )
    units = json.dumps(man["units"])
    windows = man.get("windows", [])
    win_names = ", ".join(f'"{w}"' for w in windows) or '""'

    status_names = ", ".join(f'"{s}"' for s in STATUS_NAMES)
    return f"""// Testbench of {top}, generated by intar.sim.design; do not edit.
#include "V{top}.h"
#include "verilated.h"
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "{BUS_HEADER}"
#include "{MEMORY_MODEL_HEADER}"

static void load(intar::OffchipMemory& m, const std::string& path) {{
  std::ifstream f(path, std::ios::binary);
  if (!f) {{ std::fprintf(stderr, "cannot read %s\\n", path.c_str()); std::exit(2); }}
  f.read(reinterpret_cast<char*>(m.beat(0)), std::streamsize(m.beats() * m.words_per_beat() * 4));
}}
static void save(intar::OffchipMemory& m, const std::string& path) {{
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(m.beat(0)),
          std::streamsize(m.beats() * m.words_per_beat() * 4));
}}

int main(int argc, char** argv) {{
  if (argc < 4) {{ std::fprintf(stderr, "usage: sim DIR MAX_CYCLES WATCHDOG\\n"); return 2; }}
  const std::string dir = argv[1];
  const unsigned long long max_cycles = std::strtoull(argv[2], nullptr, 10);
  const unsigned long long watchdog = std::strtoull(argv[3], nullptr, 10);
  const char* units[] = {{{units[1:-1] if man["units"] else '""'}}};
  const char* status_names[] = {{{status_names}}};
  const int n_units = {len(man["units"])};
  Verilated::commandArgs(argc, argv);
  auto* top = new V{top};
  unsigned long long cycle = 0, last_activity = 0;
{chr(10).join(decl)}
  top->clk = 0; top->rst = 1; top->start = 0; top->eval();
  for (int i = 0; i < 4; ++i) {{ top->clk = 1; top->eval(); top->clk = 0; top->eval(); }}
  top->rst = 0;
  int status_words = (4 * n_units + 31) / 32;
  std::vector<uint32_t> st(status_words > 0 ? status_words : 1);
  const char* windows[] = {{{win_names}}};
  const int n_windows = {len(windows)};
  std::vector<uint32_t> wf((n_windows + 31) / 32 + 1);
  const char* result = "done";
  std::vector<unsigned long long> phase_end;
  int last_phase = 0;
  while (true) {{
    top->start = cycle == 0;
{chr(10).join(drive)}
    top->eval();
{chr(10).join(sample)}
    if (top->active) last_activity = cycle;
    if (int(top->phase) != last_phase) {{
      phase_end.push_back(cycle);
      last_phase = int(top->phase);
    }}
    if (top->done) {{ phase_end.push_back(cycle); break; }}
    if (cycle >= max_cycles) {{ result = "timeout"; break; }}
    if (cycle - last_activity > watchdog) {{ result = "stall"; break; }}
    top->clk = 1; top->eval(); top->clk = 0;
{chr(10).join(f"    m{k}.tick();" for k in range(len(man["ports"])))}
    ++cycle;
  }}
  if (std::string(result) != "done") {{
    std::fprintf(stderr, "%s at cycle %llu in phase %d (no activity since cycle %llu)\\n", result,
                 cycle, int(top->phase), last_activity);
    intar::get(top->status, st);
    for (int u = 0; u < n_units; ++u) {{
      std::string what;
      for (int b = 0; b < 4; ++b) {{
        int bit = 4 * u + b;
        if (!((st[bit / 32] >> (bit % 32)) & 1u)) continue;
        what += std::string(what.empty() ? "" : ", ") + status_names[b];
      }}
      std::fprintf(stderr, "  %-16s %s\\n", units[u], what.empty() ? "idle" : what.c_str());
    }}
    intar::get(top->windows, wf);
    for (int w = 0; w < n_windows; ++w)
      if ((wf[w / 32] >> (w % 32)) & 1u)
        std::fprintf(stderr, "  window %s full: its writer waits for the reader's credit\\n",
                     windows[w]);
  }}
{chr(10).join(dump)}
  std::printf("{{\\"result\\": \\"%s\\", \\"cycles\\": %llu, \\"traffic\\": {{", result, cycle);
{chr(10).join(traffic)}
  std::printf("}}, \\"phase_end\\": [");
  for (size_t i = 0; i < phase_end.size(); ++i) std::printf("%s%llu", i ? ", " : "", phase_end[i]);
  std::printf("]}}\\n");
  delete top;
  return std::string(result) == "done" ? 0 : 3;
}}
"""


def _run_key(sv: Path, tb_text: str, images: list[Path], watchdog: int) -> str:
    """Digest of everything the simulation executable sees but its cycle limit: the design,
    its testbench, the memory images and the watchdog. The run is deterministic, so equal keys
    give equal runs (up to the limit)."""
    h = hashlib.sha256()
    for part in (sv.read_bytes(), tb_text.encode(), str(watchdog).encode()):
        h.update(part)
        h.update(b"\0")
    for img in images:
        with img.open("rb") as fh:
            while chunk := fh.read(1 << 24):
                h.update(chunk)
        h.update(b"\0")
    return h.hexdigest()


def simulate(
    out: Path,
    values: dict[str, np.ndarray],
    *,
    max_cycles: int | None = None,
    watchdog: int = 20_000,
    progress: bool = True,
    reuse: bool = False,
    build_timeout: float | None = None,
) -> dict:
    """Build and run DIR's design on `values` (every tensor, from the golden model).

    `max_cycles` (default: twice the prediction plus a million) only bounds a design that keeps
    moving; the watchdog stops one that stalls. With `reuse`, a run whose executable inputs
    (design, testbench, memory images, watchdog) match the last run's, and which finished within
    `max_cycles`, is not repeated: its raw results are read back and compared with `values`
    again (benchmarks use this)."""
    out = Path(out)
    man = json.loads((out / "hw.json").read_text())
    if max_cycles is None:
        max_cycles = 2 * man["predicted_cycles"] + 1_000_000
    start = time.monotonic()
    tb = out / "sim" / "testbench.cpp"
    tb.parent.mkdir(parents=True, exist_ok=True)
    text = testbench_cpp(man)
    if not tb.exists() or tb.read_text() != text:
        tb.write_text(text)
    exe = out / "sim" / "obj_dir" / f"V{man['top']}"
    sv = out / "design.sv"
    if not exe.exists() or exe.stat().st_mtime < max(sv.stat().st_mtime, tb.stat().st_mtime):
        optimize = man["predicted_cycles"] > FAST_BUILD_CYCLES
        exe = build(
            sv,
            man["top"],
            tb,
            out / "sim",
            progress=progress,
            optimize=optimize,
            timeout=build_timeout,
        )
    build_seconds = time.monotonic() - start
    images = []
    for p in man["ports"]:
        images.append(out / "sim" / f"{p['name']}.bin")
        pack_image(man, p, values).tofile(images[-1])
    key = _run_key(sv, text, images, watchdog)
    last = out / "sim" / "run.json"
    outs = [out / "sim" / f"{p['name']}.out.bin" for p in man["ports"]]
    cached = json.loads(last.read_text()) if reuse and last.exists() else {}
    finished = cached.get("run", {}).get("result") in ("done", "stall")
    if not (finished and cached["run"]["cycles"] <= max_cycles):
        cached = {}
    if cached.get("key") == key and all(o.exists() for o in outs):
        run, stderr, wall = cached["run"], cached["stderr"], cached["wall_seconds"]
        if progress:
            print(f"[sim] {man['top']}: reusing the identical last run", file=sys.stderr)
    else:
        last.unlink(missing_ok=True)
        t0 = time.monotonic()
        if progress:
            print(f"[sim] running {man['top']}", file=sys.stderr, flush=True)
        proc = subprocess.run(
            [str(exe), str(out / "sim"), str(max_cycles), str(watchdog)],
            capture_output=True,
            text=True,
        )
        wall = time.monotonic() - t0
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
        run = json.loads(lines[-1]) if lines else {"result": "crash", "cycles": 0, "traffic": {}}
        stderr = proc.stderr
        record = {"key": key, "run": run, "stderr": stderr, "wall_seconds": wall}
        atomic_write(last, json.dumps(record) + "\n")
    ends = run.get("phase_end", [])
    mismatches, checked, first = 0, 0, []
    if run["result"] == "done":
        ports = {p["name"]: p for p in man["ports"]}
        for t in man["tensors"]:
            if t["role"] != "output":
                continue
            words = np.fromfile(out / "sim" / f"{t['port']}.out.bin", dtype=np.uint32)
            got = unpack_tensor(t, ports[t["port"]], words)
            want = np.asarray(values[t["name"]], dtype=np.int64).reshape(t["shape"])
            bad = np.argwhere(got != want)
            mismatches += len(bad)
            checked += want.size
            for idx in bad[:5]:
                i = tuple(int(x) for x in idx)
                first.append(
                    {
                        "tensor": t["name"],
                        "index": list(i),
                        "got": int(got[i]),
                        "want": int(want[i]),
                    }
                )
    report = {
        "design": man["top"],
        "graph": man["graph"],
        "mode": man["mode"],
        "result": run["result"],
        "cycles": run["cycles"],
        "predicted_cycles": man["predicted_cycles"],
        "model_error": (
            round(man["predicted_cycles"] / run["cycles"] - 1, 4) if run["cycles"] else None
        ),
        "bit_exact": run["result"] == "done" and mismatches == 0 and checked > 0,
        "elements_checked": checked,
        "mismatches": mismatches,
        "first_mismatches": first,
        "phase_cycles": [b - a for a, b in zip([0, *ends], ends, strict=False)],
        "predicted_phase_cycles": man["predicted_phase_cycles"],
        "offchip_beats": run.get("traffic", {}),
        "stall_report": stderr.strip() if run["result"] != "done" else "",
        "build_seconds": round(build_seconds, 2),
        "wall_seconds": round(wall, 3),
        "cached": bool(cached.get("key") == key),
    }
    (out / "sim.json").write_text(json.dumps(report, indent=2) + "\n")
    return report
