"""Where every benchmark's figures go: one JSON file under benchmarks/results/ (or --out)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any


def machine_header() -> dict[str, Any]:
    """What every results JSON starts with: which machine and Python measured it."""
    return {"machine": os.uname().nodename, "cpus": os.cpu_count(), "python": sys.version.split()[0]}


def write_result(out_dir: Path, name: str, record: Any) -> Path:
    """Write ``record`` as indented JSON to ``out_dir/name`` and say where."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / name
    path.write_text(json.dumps(record, indent=2) + "\n")
    print(f"written: {path}")
    return path
