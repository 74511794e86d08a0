"""Weak scaling: the size grows with the workers; a flat wall time is ideal."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .keys import SEQUENTIAL

WEAK_KEYS: tuple[str, ...] = (
    "machine",
    "workload",
    "grain",
    "backend",
    "start_method",
    "pinning",
    "collect",
    "python",
    "gil_enabled",
)
WEAK_COLUMNS: tuple[str, ...] = (
    *WEAK_KEYS,
    "workers",
    "size",
    "size_per_worker",
    "median_wall_s",
    "scaled_speedup",
    "scaled_speedup_ci_low",
    "scaled_speedup_ci_high",
    "scaled_efficiency",
    "gustafson_serial_fraction",
    "baseline",
)


def weak_scaling(summary: pd.DataFrame) -> pd.DataFrame:
    """Gustafson's scaled speedup for weak-scaling data, one row per (series, workers).

    Weak-scaling data: in a series (``WEAK_KEYS``) every worker count ran exactly one size,
    size / workers is the same for all, and there are >= 2 worker counts. The scaled speedup
    is T_sequential(size) / T_parallel(p, size) with the sequential run of that same (grown)
    size; where that was not run but the per-worker size was, it is p * T_seq(size / p) /
    T_parallel (assumes the sequential time grows linearly with size; ``baseline`` says which).
    Gustafson's serial fraction alpha = (p - S) / (p - 1). Empty when no series is weak.
    """
    par = summary[
        summary["backend"].ne(SEQUENTIAL)
        & (summary["n_ok"] > 0)
        & np.isfinite(summary["median_wall_s"].astype("float64"))
        & (summary["size"].astype("float64") > 0)
    ]
    seq = summary[summary["backend"].eq(SEQUENTIAL) & (summary["n_ok"] > 0)]
    # The sequential time of the same interpreter (python= sweeps time several side by side).
    seq_wall = seq.groupby(
        ["machine", "python", "gil_enabled", "workload", "grain", "size"], sort=False, dropna=False
    )["median_wall_s"].min()
    records = []
    # Only ladders where every worker count ran one size can be weak scaling: found in one pass.
    sizes_at_workers = par.groupby([*WEAK_KEYS, "workers"], sort=False, dropna=False)["size"].transform(
        "nunique"
    )
    ladder = par.groupby(list(WEAK_KEYS), sort=False, dropna=False)
    candidate = ladder["workers"].transform("nunique").ge(2) & sizes_at_workers.groupby(
        [par[k] for k in WEAK_KEYS], sort=False, dropna=False
    ).transform("max").le(1)
    par = par[candidate.to_numpy(dtype=bool)]
    for key, part in par.groupby(list(WEAK_KEYS), sort=True, dropna=False):
        if part["workers"].nunique() < 2:
            continue
        sizes = part.groupby("workers")["size"].nunique()
        if (sizes > 1).any():
            continue
        ratio = part["size"].astype("float64") / part["workers"].astype("float64")
        if not np.allclose(ratio, ratio.iloc[0], rtol=1e-9):
            continue
        per_worker = float(ratio.iloc[0])
        machine, workload, grain = key[0], key[1], key[2]
        python, gil = key[WEAK_KEYS.index("python")], key[WEAK_KEYS.index("gil_enabled")]
        small = seq_wall.get((machine, python, gil, workload, grain, int(round(per_worker))), np.nan)
        for _, r in part.sort_values("workers").iterrows():
            p = float(r["workers"])
            same = seq_wall.get((machine, python, gil, workload, grain, r["size"]), np.nan)
            if np.isfinite(same):
                s, lo, hi = r["speedup"], r["speedup_ci_low"], r["speedup_ci_high"]
                base = "sequential at the same size"
            elif np.isfinite(small):
                s = p * small / r["median_wall_s"]
                lo = hi = np.nan
                base = "p x sequential at size/p (assumes linear growth)"
            else:
                s = lo = hi = np.nan
                base = "none: no sequential run at this size or at size/p"
            records.append(
                {
                    **dict(zip(WEAK_KEYS, key)),
                    "workers": int(p),
                    "size": r["size"],
                    "size_per_worker": per_worker,
                    "median_wall_s": r["median_wall_s"],
                    "scaled_speedup": s,
                    "scaled_speedup_ci_low": lo,
                    "scaled_speedup_ci_high": hi,
                    "scaled_efficiency": s / p,
                    "gustafson_serial_fraction": (p - s) / (p - 1) if p > 1 else np.nan,
                    "baseline": base,
                }
            )
    if not records:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in WEAK_COLUMNS})
    return pd.DataFrame.from_records(records, columns=list(WEAK_COLUMNS))
