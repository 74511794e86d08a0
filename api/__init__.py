"""coresweep: measure threads vs processes vs joblib on this machine's cores.

The command line (``coresweep``, ``coresweep-report``, ``coresweep-topology``) is the main
interface; from Python, ``from coresweep import choose`` answers "which backend and how many
workers for my function" (``experiments/choose.py``). Imported lazily, so that importing any
part of coresweep (the analysis, which never imports the runner) does not load the runner.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Choice", "choose"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from coresweep.experiments import choose as _choose

        return getattr(_choose, name)
    raise AttributeError(f"module 'coresweep' has no attribute {name!r}")
