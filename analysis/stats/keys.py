"""Which rows belong together: the sequential backend's name, worker ladders, baselines."""

from __future__ import annotations

import pandas as pd

from ..load import GROUP_KEYS

SEQUENTIAL = "sequential"
#: Grouping of worker ladders for a scaling fit: a configuration minus its worker count.
CURVE_KEYS: tuple[str, ...] = tuple(k for k in GROUP_KEYS if k != "workers")
#: The sequential baseline runs under the same interpreter (``python=`` sweeps compare them).
BASELINE_KEYS: tuple[str, ...] = (
    "machine", "python", "gil_enabled", "workload", "size",
    # The pattern workloads' dimensions: each share/init/state method and input size has its own
    # sequential baseline (sequential runs every one of them).
    "share", "init", "state", "input_mb", "init_ms",
    "grain",  # last: the baseline search may fall back to another grain
)
#: Dimensions that may split one backend into several lines or rows where they vary: the
#: executor's settings, the interpreter, and the pattern workloads' (issue 16) share, init and
#: state methods and their input size and initialisation time.
VARIANT_DIMS: tuple[str, ...] = (
    "start_method", "pinning", "collect", "grain", "python", "gil_enabled",
    "share", "init", "state", "input_mb", "init_ms",
)  # fmt: skip


def name_functions(rows: pd.DataFrame) -> pd.DataFrame:
    """Rows of ``workload=custom`` named by their function where several functions are present.

    ``workload.fn`` is not one of the configuration's dimensions, so two functions swept in one
    sweep (or two sweeps of one machine) would share every configuration, baseline and verdict.
    Named ``custom (mod:func)`` they are told apart everywhere; one function keeps ``custom``.
    """
    if rows.empty or "fn" not in rows or "workload" not in rows:
        return rows
    custom = rows["workload"].astype(str).eq("custom") & rows["fn"].notna()
    if rows.loc[custom, "fn"].astype(str).nunique() < 2:
        return rows
    out = rows.copy()
    out["workload"] = out["workload"].astype(object)
    out.loc[custom, "workload"] = "custom (" + out.loc[custom, "fn"].astype(str) + ")"
    return out
