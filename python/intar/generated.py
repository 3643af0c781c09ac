"""Files the project generates and commits: write them, or check that they are current."""

from __future__ import annotations

import sys
from pathlib import Path


def sync(files: dict[Path, str], *, check: bool, command: str) -> int:
    """Writes `files`, or with `check` reports the stale ones; returns an exit code."""
    stale = []
    for path, text in files.items():
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(path)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    for path in stale:
        print(f"stale: {path} (run {command})", file=sys.stderr)
    return 1 if stale else 0
