"""Where every benchmark's figures go: one JSON file under benchmarks/results/ (or --out)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any


def machine_header() -> dict[str, Any]:
    """What every results JSON starts with: which machine (and CPU model) and Python measured it."""
    return {"machine": os.uname().nodename, "cpu_model": _cpu_model(), "cpus": os.cpu_count(),
            "python": sys.version.split()[0]}


def _cpu_model() -> str | None:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def write_result(out_dir: Path, name: str, record: Any) -> Path:
    """Write ``record`` as indented JSON to ``out_dir/name`` and say where."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / name
    path.write_text(json.dumps(record, indent=2) + "\n")
    print(f"written: {path}")
    return path
