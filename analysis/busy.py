"""Which executions ran on a busy machine: the rows' ``busy_share``, per execution, round and
configuration, and the one line a report leads its noise warnings with.

The runner measures, around each execution of a job (one job, one round), the share of the
job's CPUs that other processes used (``busy_share``, with ``busy`` true above its threshold;
``experiments/launch/busy.py``). Under ``busy=rerun`` a busy attempt's rows stay on disk marked
``superseded``; the analysis uses the last attempt (``current_rows``). Rows from before issue 29
have none of these fields: such a sweep is simply not judged busy or quiet.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

#: Other processes above this share of the job's CPUs make an execution busy (the runner's
#: threshold, repeated here because analysis never imports experiments; rows also say ``busy``).
BUSY_SHARE = 0.10
#: A sweep (or one workload of it) is *judged* busy, and its verdicts and claims say so, when at
#: least this share of its executions was busy. A few busy executions among many are part of
#: the machine's noise, which the rounds put inside the intervals (the coverage benchmark's quiet
#: sweeps had 3-5 % of them); a claim refuted there is not refuted "by accident" of contention.
JUDGED_SHARE = 0.2
#: One execution: one job in one round, one attempt of it.
EXECUTION_KEYS = ("sweep_id", "job", "round", "busy_attempt")
#: The dimensions that name a configuration in the tables below.
CONFIG_KEYS = (
    "machine",
    "workload",
    "backend",
    "workers",
    "size",
    "grain",
    "start_method",
    "pinning",
    "collect",
)


_EMPTY_TYPES = {"busy_share": "float64", "busy": "bool", "superseded": "bool", "busy_attempt": "int64"}


def _flag(rows: pd.DataFrame, col: str) -> pd.Series:
    if col not in rows:
        return pd.Series(False, index=rows.index)
    return rows[col].astype("boolean").fillna(False).astype(bool)


def current_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows the statistics use: without busy attempts that a rerun replaced."""
    superseded = _flag(rows, "superseded")
    return rows[~superseded] if superseded.any() else rows


def executions(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per execution that measured its busy share: its configuration, round, share,
    whether it was busy, whether a rerun replaced it. Empty when no row has a share."""
    cols = [*EXECUTION_KEYS, *CONFIG_KEYS, "busy_share", "busy", "superseded"]
    empty = pd.DataFrame({c: pd.Series(dtype=_EMPTY_TYPES.get(c, "object")) for c in cols})
    if len(rows) == 0 or "busy_share" not in rows:
        return empty
    share = pd.to_numeric(rows["busy_share"], errors="coerce")
    measured = rows[share.notna()].copy()
    if measured.empty:
        return empty
    measured["busy_share"] = share[share.notna()].astype("float64")
    flagged = _flag(measured, "busy")
    measured["busy"] = flagged | (measured["busy_share"] > BUSY_SHARE)
    measured["superseded"] = _flag(measured, "superseded")
    if "busy_attempt" not in measured:
        measured["busy_attempt"] = 0
    measured["busy_attempt"] = pd.to_numeric(measured["busy_attempt"], errors="coerce").fillna(0).astype(int)
    for key in CONFIG_KEYS:
        if key not in measured:
            measured[key] = None
    keys = list(EXECUTION_KEYS)
    first = measured.groupby(keys, sort=True, dropna=False).first().reset_index()
    return first[cols].reset_index(drop=True)


def busy_rounds(rows: pd.DataFrame) -> pd.DataFrame:
    """Per sweep and round: executions used, how many were busy, their mean and largest share."""
    ex = executions(rows)
    ex = ex[~ex["superseded"]]
    if ex.empty:
        return pd.DataFrame(columns=["sweep_id", "round", "executions", "busy", "mean_share", "max_share"])
    grouped = ex.groupby(["sweep_id", "round"], sort=True)
    out = grouped.agg(
        executions=("busy", "size"),
        busy=("busy", "sum"),
        mean_share=("busy_share", "mean"),
        max_share=("busy_share", "max"),
    )
    return out.reset_index()


def busy_configurations(rows: pd.DataFrame) -> pd.DataFrame:
    """Per configuration: executions used and how many of them were busy (busiest first)."""
    ex = executions(rows)
    ex = ex[~ex["superseded"]]
    if ex.empty:
        return pd.DataFrame(columns=[*CONFIG_KEYS, "executions", "busy", "max_share"])
    grouped = ex.groupby(list(CONFIG_KEYS), sort=True, dropna=False)
    out = grouped.agg(executions=("busy", "size"), busy=("busy", "sum"), max_share=("busy_share", "max"))
    return out.reset_index().sort_values(["busy", "max_share"], ascending=False, kind="mergesort")


def busy_summary(rows: pd.DataFrame) -> dict[str, Any]:
    """The sweep's busy figures: executions used, busy ones among them, busy attempts rerun,
    the largest and the median share. ``executions`` 0: no row measured its share."""
    ex = executions(rows)
    used = ex[~ex["superseded"]]
    shares = used["busy_share"].to_numpy(dtype="float64")
    return {
        "executions": int(len(used)),
        "busy": int(used["busy"].sum()),
        "rerun": int(ex["superseded"].sum()),
        "max_share": float(np.max(shares)) if len(shares) else None,
        "median_share": float(np.median(shares)) if len(shares) else None,
        "threshold": BUSY_SHARE,
    }


def _judged(s: dict[str, Any]) -> bool:
    return bool(s.get("busy")) and s["busy"] >= JUDGED_SHARE * max(int(s.get("executions") or 0), 1)


def judged_busy(rows: pd.DataFrame) -> bool:
    """Whether enough of the executions the statistics use were busy (``JUDGED_SHARE``) that
    verdicts and claims should say they were judged on a busy machine."""
    return _judged(busy_summary(rows))


def busy_warning(rows: pd.DataFrame) -> str | None:
    """One line when executions the statistics use were busy, else None."""
    s = busy_summary(rows)
    if not s["busy"]:
        return None
    rerun = f"; {s['rerun']} busy attempts were rerun" if s["rerun"] else ""
    advice = "" if s["rerun"] else "; busy=rerun or busy=wait measures them again"
    if not _judged(s):
        return (
            f"{s['busy']} of {s['executions']} executions had other processes using > {BUSY_SHARE:.0%} "
            f"of the CPUs (the most {s['max_share']:.0%}){rerun}: fewer than {JUDGED_SHARE:.0%}, so "
            f"their noise is part of the intervals and the verdicts stand{advice}"
        )
    return (
        f"judged on a busy machine: {s['busy']} of {s['executions']} executions had other processes "
        f"using > {BUSY_SHARE:.0%} of the CPUs (the most {s['max_share']:.0%}){rerun}: their times "
        f"are of a contended machine{advice}"
    )


def busy_note(rows: pd.DataFrame, machine: Any, workload: Any) -> str | None:
    """For one machine's workload: "judged on a busy machine: ..." when enough executions its
    statistics use were busy (``JUDGED_SHARE``), else None (a verdict reached there is of a
    contended machine, and says so)."""
    if rows.empty or "workload" not in rows or "machine" not in rows:
        return None
    part = rows[rows["machine"].astype(str).eq(str(machine)) & rows["workload"].astype(str).eq(str(workload))]
    s = busy_summary(part) if len(part) else {"busy": 0}
    if not _judged(s):
        return None
    return (
        f"judged on a busy machine: {s['busy']} of {s['executions']} executions had other processes "
        f"using > {BUSY_SHARE:.0%} of the CPUs (busy=rerun or busy=wait measures again)"
    )


def mark_busy_claims(folklore: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
    """Claims judged on a busy machine say so; one the rows would refute is "depends" instead:
    a contended machine can refute a claim about the machine only by accident."""
    if folklore.empty or not judged_busy(rows):
        return folklore
    out = folklore.copy()
    measured = ~out["verdict"].astype(str).str.startswith("not measured")
    refuted = out["verdict"].astype(str).eq("refuted")
    out.loc[refuted, "verdict"] = "depends"
    note = "judged on a busy machine (busy=rerun or busy=wait measures again)"
    out.loc[refuted, "evidence"] = (
        "would be refuted, but " + note + ": " + out.loc[refuted, "evidence"].astype(str)
    )
    out.loc[measured & ~refuted, "evidence"] = (
        note + ": " + out.loc[measured & ~refuted, "evidence"].astype(str)
    )
    return out
