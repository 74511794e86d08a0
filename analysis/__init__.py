"""coresweep.analysis: results folders on disk -> statistics, figures and a self-contained report.

Reads files only (never imports ``coresweep.experiments``), so a report can be rebuilt from a
folder copied off another machine. Heavy modules (matplotlib) load on first use.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__all__ = [
    "AnalysisError",
    "NoResultsError",
    "ReportResult",
    "build_report",
    "crossover_grains",
    "folklore_table",
    "load_results",
    "noise_warnings",
    "physics_flags",
    "physics_lines",
    "scaling_fits",
    "summarize",
    "weak_scaling",
]

_WHERE = {
    "AnalysisError": "load",
    "NoResultsError": "load",
    "load_results": "load",
    "summarize": "stats",
    "scaling_fits": "stats",
    "crossover_grains": "stats",
    "weak_scaling": "stats",
    "folklore_table": "folklore",
    "noise_warnings": "noise",
    "physics_flags": "physics",
    "physics_lines": "physics",
    "ReportResult": "report",
    "build_report": "report",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
