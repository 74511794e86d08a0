"""Runs whose answers nobody checked (``workload.verify=none``), said loudly in the report.

Every other run was compared with the sequential answer (the rows' ``verify`` field says how);
under ``verify=none`` a wrong answer would be timed as if it were right, so the report says so
at its top and in its verdict. Rows from before the field (older folders) have no ``verify``
column: they were all verified, and give no line.
"""

from __future__ import annotations

import pandas as pd


def unverified_lines(rows: pd.DataFrame) -> list[str]:
    """One line when some timed runs were not verified (``verify`` is "none"), else none."""
    if rows.empty or "verify" not in rows.columns:
        return []
    unchecked = rows["verify"].astype(object).eq("none")
    if not unchecked.any():
        return []
    what = rows.loc[unchecked, "workload"].astype(str)
    if "fn" in rows.columns:
        fn = rows.loc[unchecked, "fn"]
        what = what.where(fn.isna(), what + " " + fn.astype(str))
    named = ", ".join(sorted(set(what)))
    return [
        f"results not verified: workload.verify=none for {int(unchecked.sum())} of {len(rows)} timed "
        f"runs ({named}); their answers were not compared with the sequential one, so a wrong "
        "answer would be timed as if it were right"
    ]
