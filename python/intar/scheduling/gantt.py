"""Pictures of a schedule and a graph: a Gantt chart (PNG) and a DOT graph with data volumes."""

from __future__ import annotations

from pathlib import Path

from .problem import TaskGraph
from .result import Schedule

_PATTERN_COLOURS = {
    "sequential": "#4c72b0",
    "task_parallel": "#55a868",
    "task_pipeline": "#dd8452",
}


def render_gantt(schedule: Schedule, path: str | Path) -> Path:
    """Draw phases over cores and SFUs as a PNG; identical inputs give identical bytes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    units = [c.name for c in schedule.cores] + [s.name for s in schedule.sfus]
    row = {u: i for i, u in enumerate(units)}
    fig_h = 1.2 + 0.45 * max(1, len(units))
    fig, ax = plt.subplots(figsize=(11, fig_h), dpi=100)
    start = 0
    switch = {sw.from_phase: sw.cycles for sw in schedule.switches}
    for ph in schedule.phases:
        colour = _PATTERN_COLOURS.get(ph.pattern, "#8172b2")
        by_unit: dict[str, list[str]] = {}
        for a in ph.assigns:
            by_unit.setdefault(a.unit, [])
            if a.task not in by_unit[a.unit]:
                by_unit[a.unit].append(a.task)
        for unit, tasks in sorted(by_unit.items(), key=lambda kv: row.get(kv[0], 0)):
            if unit not in row:
                continue
            ax.broken_barh(
                [(start, max(ph.cycles, 1))],
                (row[unit] - 0.4, 0.8),
                facecolors=colour,
                edgecolor="black",
                linewidth=0.5,
            )
            ax.text(
                start + ph.cycles / 2,
                row[unit],
                _bar_label(tasks),
                ha="center",
                va="center",
                fontsize=7,
                clip_on=True,
            )
        ax.axvline(start, color="grey", linewidth=0.5, linestyle=":")
        ax.text(start, len(units) - 0.35, f"{ph.name}\n{ph.pattern}", fontsize=6, va="bottom")
        start += ph.cycles + switch.get(ph.name, 0)
    ax.set_yticks(range(len(units)))
    ax.set_yticklabels(units)
    ax.set_ylim(-0.6, len(units) + 0.6)
    ax.set_xlim(0, max(1, start))
    ax.set_xlabel("cycles")
    ax.set_title(
        f"{schedule.graph} on {schedule.device} ({schedule.mode}): "
        f"{schedule.predicted_cycles:,} cycles, roofline {schedule.roofline_cycles:,}",
        fontsize=9,
    )
    handles = [
        plt.Rectangle((0, 0), 1, 1, facecolor=c, edgecolor="black")
        for c in _PATTERN_COLOURS.values()
    ]
    ax.legend(
        handles, list(_PATTERN_COLOURS), fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0)
    )
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, format="png", metadata={"Software": None})
    plt.close(fig)
    return out


BAR_LABEL_CHARS = 40
"""A bar names its tasks up to this many characters, then counts the rest (laying out a
label of hundreds of task names takes matplotlib minutes)."""


def _bar_label(tasks: list[str]) -> str:
    label = ",".join(tasks)
    if len(label) <= BAR_LABEL_CHARS:
        return label
    shown: list[str] = []
    for t in tasks:
        if len(",".join([*shown, t])) > BAR_LABEL_CHARS - 8:
            break
        shown.append(t)
    return ",".join(shown) + f" +{len(tasks) - len(shown)}"


def _quote(s: str) -> str:
    """A DOT string literal; a newline becomes DOT's centred line break."""
    body = s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{body}"'


def to_dot(graph: TaskGraph) -> str:
    """The task graph in Graphviz DOT: leaves as boxes, tasks as ellipses, edges in bytes."""
    lines = [f"digraph {_quote(graph.name)} {{", "  rankdir=TB;"]
    used = {op for t in graph.tasks for op in t.operands}
    for name in sorted(used):
        t = graph.tensors[name]
        if t.role != "task":
            label = _quote(f"{name} ({t.role})\n{'x'.join(map(str, t.shape))} i{t.bits}")
            lines.append(f"  {_quote(name)} [shape=box, label={label}];")
    for t in graph.tasks:
        shape = "x".join(map(str, t.shape))
        out = " [output]" if t.name in graph.outputs else ""
        lines.append(
            f"  {_quote(t.name)} [label={_quote(f'{t.name}: {t.kind}{out}\n{shape} i{t.bits}')}];"
        )
    for t in graph.tasks:
        for op in dict.fromkeys(t.operands):
            lines.append(
                f"  {_quote(op)} -> {_quote(t.name)} [label={_quote(f'{graph.bytes(op)} B')}];"
            )
    lines.append("}")
    return "\n".join(lines) + "\n"
