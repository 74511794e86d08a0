"""``pair``: whether a job times sequential runs next to its own (adjacent pairs).

The machine's speed moves by tens of percent over seconds on a shared VM, while runs a
fraction of a second apart agree within a few percent. A speedup taken from the sequential
job's runs, seconds to a minute away, carries that movement; one taken from sequential runs
timed between the configuration's own runs does not (docs/measurement.md, "Adjacent pairs").
Pairs cost one sequential run per job and round at the default ``repeats=2`` (P S P), so
``auto`` pairs only where they pay: workloads whose time is CPU time (``Workload.pair_auto``);
io_sleep's intervals are already ±1-3 % and pairing it would buy nothing for its cost.
"""

from __future__ import annotations

from typing import Any

#: The values of ``pair`` (YAML's bare on/off arrive as booleans and mean the same).
PAIR_MODES = ("auto", "on", "off")


def pair_mode(value: Any) -> str | None:
    """``auto``, ``on`` or ``off`` for a config value, or None when it is none of them."""
    if value is True:
        return "on"
    if value is False:
        return "off"
    if isinstance(value, str) and value.strip().lower() in PAIR_MODES:
        return value.strip().lower()
    return None


def pairs(mode: Any, workload: Any, baseline: bool) -> bool:
    """Whether a job pairs: never the sequential baseline's own jobs, else as ``pair`` says.

    ``on`` pairs every workload that can be paired (preflight refuses the others), ``auto``
    those marked ``pair_auto``.
    """
    resolved = pair_mode(mode) or "off"
    if baseline or resolved == "off" or not getattr(workload, "pairable", True):
        return False
    return resolved == "on" or bool(getattr(workload, "pair_auto", False))
