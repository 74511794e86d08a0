"""Task grain: speedup against work per task, and the grain where parallel starts to pay."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .keys import SEQUENTIAL

#: A worker ladder over task grain: a configuration minus its grain (and size, which a grain
#: sweep usually derives from the grain to keep the total work fixed).
GRAIN_SERIES_KEYS: tuple[str, ...] = (
    "machine",
    "workload",
    "backend",
    "start_method",
    "pinning",
    "collect",
    "python",
    "gil_enabled",
    "workers",
)
CROSSOVER_COLUMNS: tuple[str, ...] = (
    *GRAIN_SERIES_KEYS,
    "held_fixed",
    "n_grains",
    "min_grain",
    "max_grain",
    "crossover",
    "crossover_grain",
    "crossover_grain_ci_low",
    "crossover_grain_ci_high",
    "note",
)


def grain_series(summary: pd.DataFrame) -> pd.DataFrame:
    """Parallel configurations that belong to a grain sweep: >= 2 distinct grains (> 0) per series.

    A series is ``GRAIN_SERIES_KEYS`` plus what was held fixed while the grain changed: either
    the total work (size x grain, as ``+experiment=grain`` does: fewer, bigger tasks), labelled
    "work=W", or the task count, labelled "size=N". Fixed-work series are found first; the
    remaining configurations form fixed-size series. Returns the summary rows of every series
    with its label in ``_size_key``.
    """
    par = summary[
        summary["backend"].ne(SEQUENTIAL)
        & (summary["n_ok"] > 0)
        & (summary["grain"].astype("float64") > 0)
        & np.isfinite(summary["speedup"].astype("float64"))
    ]
    if par.empty:
        return par.assign(_size_key=pd.Series(dtype="object"))
    keys = list(GRAIN_SERIES_KEYS)
    work = par["size"].astype("float64") * par["grain"].astype("float64")
    work_key = pd.Series([f"work={w:.3g}" for w in work], index=par.index, dtype=object)
    by_work = par.assign(_size_key=work_key)
    n_grains = by_work.groupby([*keys, "_size_key"], sort=False, dropna=False)["grain"].transform("nunique")
    fixed_work = by_work[n_grains >= 2]
    rest = par.drop(index=fixed_work.index)
    size_key = pd.Series([f"size={v}" for v in rest["size"]], index=rest.index, dtype=object)
    rest = rest.assign(_size_key=size_key)
    n_grains = rest.groupby([*keys, "_size_key"], sort=False, dropna=False)["grain"].transform("nunique")
    return pd.concat([fixed_work, rest[n_grains >= 2]])


def _log_crossing(grains: np.ndarray, values: np.ndarray, level: float = 1.0) -> tuple[str, float]:
    """Smallest grain where ``values`` reach ``level``, linear in log(grain) between points.

    ("always", smallest grain) when the first point is already there, ("never", nan) when
    no point is, ("crosses", grain) otherwise.
    """
    ok = np.isfinite(values)
    g, v = grains[ok], values[ok]
    if g.size == 0:
        return "unknown", np.nan
    above = np.flatnonzero(v >= level)
    if above.size == 0:
        return "never", np.nan
    i = int(above[0])
    if i == 0:
        return "always", float(g[0])
    lg0, lg1 = math.log(g[i - 1]), math.log(g[i])
    t = (level - v[i - 1]) / (v[i] - v[i - 1])
    return "crosses", float(math.exp(lg0 + t * (lg1 - lg0)))


def _clearly_crosses(speedup: np.ndarray, low: np.ndarray, high: np.ndarray) -> bool:
    """Some grain's interval lies wholly below 1 and a larger grain's wholly above 1 (without an
    interval, the point value stands for it)."""
    low = np.where(np.isfinite(low) & np.isfinite(high), low, speedup)
    high = np.where(np.isfinite(low) & np.isfinite(high), high, speedup)
    below = np.flatnonzero(high < 1.0)
    above = np.flatnonzero(low > 1.0)
    return bool(below.size and above.size and above.max() > below.min())


def crossover_grains(summary: pd.DataFrame) -> pd.DataFrame:
    """Per grain series: the smallest grain at which the speedup reaches 1 (parallel starts to pay).

    ``crossover`` is "crosses" (``crossover_grain`` interpolated in log-grain between the two
    measured grains around it; only where the speedup's interval crosses 1 upward: some grain's
    interval wholly below 1, a larger grain's wholly above), "unclear" (the median crosses 1
    but the intervals do not), "always" (already >= 1 at the smallest grain measured: the
    crossover lies below it), or "never" (below 1 at every grain). The interval comes from the
    same interpolation on the speedup's bootstrap bounds: the upper bounds cross first.
    """
    data = grain_series(summary)
    records = []
    data = data.sort_values("grain", kind="mergesort")
    # Plain arrays once; per series only index arithmetic (a pandas slice per series costs more).
    all_grains = data["grain"].to_numpy(dtype="float64")
    all_speedup = data["speedup"].to_numpy(dtype="float64")
    all_low = data["speedup_ci_low"].to_numpy(dtype="float64")
    all_high = data["speedup_ci_high"].to_numpy(dtype="float64")
    groups = data.groupby([*GRAIN_SERIES_KEYS, "_size_key"], sort=True, dropna=False).indices
    try:
        keys = sorted(groups)
    except TypeError:  # mixed types in one key column: order by text instead
        keys = sorted(groups, key=lambda k: tuple(str(v) for v in k))
    for key in keys:
        pos = np.sort(groups[key])
        grains, speedup, low, high = all_grains[pos], all_speedup[pos], all_low[pos], all_high[pos]
        status, grain = _log_crossing(grains, speedup)
        _, early = _log_crossing(grains, high)
        late_status, late = _log_crossing(grains, low)
        notes = []
        if status == "crosses" and not _clearly_crosses(speedup, low, high):
            # The median passes 1, but no interval lies wholly below 1 before one lies wholly
            # above it: the data cannot place a crossover (GIL-bound threads hover around 1).
            status = "unclear"
            notes.append("the speedup's interval includes 1 where the median crosses it: no clear crossover")
        if status == "always":
            notes.append(f"speedup >= 1 already at the smallest grain ({grains[0]:g})")
        elif status == "never":
            notes.append(f"speedup < 1 at every grain up to {grains[-1]:g} (best {np.nanmax(speedup):.3g}x)")
        if status in ("crosses", "always"):
            first = int(np.flatnonzero(speedup >= 1.0)[0])
            below = np.flatnonzero(speedup[first:] < 1.0)
            if below.size:
                notes.append(f"below 1 again at grain {grains[first + below[0]]:g}")
        if late_status == "never" and status != "never":
            notes.append("the CI's lower bound never reaches 1")
        if np.isnan(low).any():
            notes.append("no CI at some grains (fewer than 2 ok runs)")
            early = late = np.nan
        records.append(
            {
                **dict(zip(GRAIN_SERIES_KEYS, key[:-1])),
                "held_fixed": key[-1],
                "n_grains": int(np.unique(grains).size),
                "min_grain": grains[0],
                "max_grain": grains[-1],
                "crossover": status,
                "crossover_grain": grain if status == "crosses" else np.nan,
                "crossover_grain_ci_low": early if status == "crosses" else np.nan,
                "crossover_grain_ci_high": late if status == "crosses" else np.nan,
                "note": "; ".join(notes),
            }
        )
    if not records:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in CROSSOVER_COLUMNS})
    return pd.DataFrame.from_records(records, columns=list(CROSSOVER_COLUMNS))
