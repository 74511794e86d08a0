"""Per-configuration statistics: medians with bootstrap intervals, speedup, efficiency, scaling models.

Why medians: a run's wall time has a floor and a long right tail (other processes, page
faults, a slow fork), so the median is the typical run and the mean is not. Why bootstrap:
with a handful of repeats no distribution can be assumed; resampling the repeats gives an
interval for the median and for a ratio of two medians (speedup) without one.

The bootstrap here samples the *exact* bootstrap distribution of a median instead of
resampling whole arrays: after sorting a sample of n values, the k-th order statistic of a
resample is <= x_(j) exactly when at least k of the n draws fall at or below x_(j), a binomial
event. Inverting that CDF turns one uniform number into one bootstrap median, so a group costs
O(B log n) instead of O(B n) and 100k rows summarise in well under a second. Every group's
random numbers come from a seed derived from its own key, so results do not depend on which
other groups are present and the same input always gives byte-identical output.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, stats

from .load import GROUP_KEYS

#: Bootstrap resamples per group; cheap (see module docstring), so generous.
N_BOOT = 4000
CONFIDENCE = 0.95
SEQUENTIAL = "sequential"
#: Grouping of worker ladders for a scaling fit: a configuration minus its worker count.
CURVE_KEYS: tuple[str, ...] = tuple(k for k in GROUP_KEYS if k != "workers")
BASELINE_KEYS: tuple[str, ...] = ("machine", "workload", "size", "grain")

SUMMARY_COLUMNS: tuple[str, ...] = (
    *GROUP_KEYS,
    "n_runs",
    "n_ok",
    "n_failed",
    "median_wall_s",
    "wall_ci_low",
    "wall_ci_high",
    "cv",
    "speedup",
    "speedup_ci_low",
    "speedup_ci_high",
    "efficiency",
    "efficiency_ci_low",
    "efficiency_ci_high",
    "speedup_vs_1worker",
    "karp_flatt",
    "baseline_wall_s",
    "baseline_n",
    "baseline",
    "median_cpu_s",
    "cpu_per_wall",
    "median_peak_rss_bytes",
    "median_startup_s",
    "median_teardown_s",
    "note",
)

SCALING_COLUMNS: tuple[str, ...] = (
    *CURVE_KEYS,
    "n_worker_counts",
    "max_workers",
    "serial_fraction",
    "serial_fraction_ci_low",
    "serial_fraction_ci_high",
    "amdahl_limit",
    "fit_rmse",
    "note",
)


def group_seed(*key: Any) -> int:
    """A stable seed per group: crc32 of its key's text (Python's ``hash`` is salted per process)."""
    return zlib.crc32("\x1f".join(str(k) for k in key).encode("utf-8"))


@lru_cache(maxsize=4096)
def _order_stat_cdf(n: int, rank: int) -> np.ndarray:
    """P(rank-th smallest of a size-n resample <= x_(j)) for j = 1..n (sorted sample x)."""
    j = np.arange(1, n + 1)
    cdf = stats.binom.sf(rank - 1, n, j / n)
    cdf[-1] = 1.0  # exact, guards against rounding leaving searchsorted past the end
    return cdf


def bootstrap_medians(values: np.ndarray, seed: int, n_boot: int = N_BOOT) -> np.ndarray:
    """``n_boot`` draws from the bootstrap distribution of the median of ``values``.

    Odd n is exact. For even n the median is the mean of two neighbouring order statistics,
    drawn here from one uniform number (their marginals are exact; their coupling is the
    tightest one, which widens the interval slightly rather than narrowing it).
    """
    x = np.sort(np.asarray(values, dtype="float64"))
    n = x.size
    if n == 0:
        return np.full(n_boot, np.nan)
    if n == 1:
        return np.full(n_boot, x[0])
    u = np.random.default_rng(seed).random(n_boot)
    if n % 2:
        return x[np.searchsorted(_order_stat_cdf(n, (n + 1) // 2), u)]
    low = x[np.searchsorted(_order_stat_cdf(n, n // 2), u)]
    high = x[np.searchsorted(_order_stat_cdf(n, n // 2 + 1), u)]
    return (low + high) / 2.0


def percentile_ci(boot: np.ndarray, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Percentile interval of a bootstrap sample (NaN where the sample is NaN)."""
    if boot.size == 0 or not np.all(np.isfinite(boot)):
        return (np.nan, np.nan)
    alpha = (1.0 - confidence) / 2.0
    # np.quantile's "linear" rule, via one partial sort (a full quantile call costs 5x more).
    pos = np.array([alpha, 1.0 - alpha]) * (boot.size - 1)
    below = np.floor(pos).astype(int)
    above = np.minimum(below + 1, boot.size - 1)
    part = np.partition(boot, np.unique(np.concatenate([below, above])))
    frac = pos - below
    low, high = part[below] + (part[above] - part[below]) * frac
    return (float(low), float(high))


def karp_flatt(speedup: np.ndarray | float, workers: np.ndarray | float) -> np.ndarray:
    """Experimentally determined serial fraction e = (1/S - 1/p) / (1 - 1/p); NaN where p <= 1.

    If e stays flat as p grows, the limit is serial work (Amdahl); if e grows, it is
    overhead that grows with the worker count (start-up, pickling, contention).
    """
    s = np.asarray(speedup, dtype="float64")
    p = np.asarray(workers, dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        e = (1.0 / s - 1.0 / p) / (1.0 - 1.0 / p)
    return np.where(p > 1, e, np.nan)


def amdahl_speedup(workers: np.ndarray | float, serial_fraction: float) -> np.ndarray:
    """Amdahl's law: S(p) = 1 / (f + (1 - f) / p)."""
    p = np.asarray(workers, dtype="float64")
    return 1.0 / (serial_fraction + (1.0 - serial_fraction) / p)


def fit_amdahl(
    workers: Sequence[float], speedup: Sequence[float], confidence: float = CONFIDENCE
) -> dict[str, float]:
    """Least-squares serial fraction f in [0, 1] with a confidence interval from its covariance."""
    p = np.asarray(workers, dtype="float64")
    s = np.asarray(speedup, dtype="float64")
    keep = np.isfinite(p) & np.isfinite(s) & (p > 0) & (s > 0)
    p, s = p[keep], s[keep]
    out = {"serial_fraction": np.nan, "ci_low": np.nan, "ci_high": np.nan, "rmse": np.nan}
    if np.unique(p).size < 3:
        return out
    try:
        popt, pcov = optimize.curve_fit(amdahl_speedup, p, s, p0=[0.1], bounds=(0.0, 1.0))
    except (RuntimeError, ValueError):
        return out
    f = float(popt[0])
    resid = s - amdahl_speedup(p, f)
    out["serial_fraction"] = f
    out["rmse"] = float(np.sqrt(np.mean(resid**2)))
    var = float(pcov[0, 0]) if np.ndim(pcov) else float(pcov)
    if np.isfinite(var) and p.size > 1:
        half = stats.t.ppf(0.5 + confidence / 2.0, df=max(p.size - 1, 1)) * np.sqrt(max(var, 0.0))
        out["ci_low"] = max(0.0, f - half)
        out["ci_high"] = min(1.0, f + half)
    return out


def summarize(rows: pd.DataFrame, n_boot: int = N_BOOT) -> pd.DataFrame:
    """One row per configuration (``GROUP_KEYS``): counts, medians with CIs, speedup, efficiency.

    Failed rows are counted (``n_failed``) and never timed. Speedup compares with the
    sequential runs of the same machine, workload, size and grain (collect=return preferred);
    the ``baseline`` column says which sequential runs were used, or why there are none.
    """
    if rows.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in SUMMARY_COLUMNS})
    keys = list(GROUP_KEYS)
    counts = rows.groupby(keys, sort=True, dropna=False)["ok"].agg(["size", "sum"])
    counts.columns = ["n_runs", "n_ok"]
    counts["n_failed"] = counts["n_runs"] - counts["n_ok"]

    # Sorted by value within each group so float sums (mean, std) do not depend on row order.
    ok = rows[rows["ok"]].sort_values([*keys, "wall_s"], kind="mergesort")
    ok["cpu_s"] = ok[["cpu_user_s", "cpu_sys_s"]].sum(axis=1, min_count=1)
    grouped = ok.groupby(keys, sort=True, dropna=False)
    agg = grouped.agg(
        median_wall_s=("wall_s", "median"),
        mean_wall_s=("wall_s", "mean"),
        std_wall_s=("wall_s", "std"),
        median_cpu_s=("cpu_s", "median"),
        median_peak_rss_bytes=("peak_rss_bytes", "median"),
        median_startup_s=("startup_s", "median"),
        median_teardown_s=("teardown_s", "median"),
    )
    summary = counts.join(agg, how="left").reset_index()
    summary["cv"] = summary["std_wall_s"] / summary["mean_wall_s"]
    summary["cpu_per_wall"] = summary["median_cpu_s"] / summary["median_wall_s"]

    walls = ok["wall_s"].to_numpy(dtype="float64")
    indices = grouped.indices  # key tuple -> positions in ``ok``
    boots: dict[tuple, np.ndarray] = {}
    ci_low = np.full(len(summary), np.nan)
    ci_high = np.full(len(summary), np.nan)
    group_tuples = [tuple(r) for r in summary[keys].itertuples(index=False, name=None)]
    for i, key in enumerate(group_tuples):
        pos = indices.get(key)
        if pos is None or len(pos) < 2:
            continue
        boot = bootstrap_medians(walls[pos], group_seed("wall", *key), n_boot)
        boots[key] = boot
        ci_low[i], ci_high[i] = percentile_ci(boot)
    summary["wall_ci_low"] = ci_low
    summary["wall_ci_high"] = ci_high

    _add_speedup(summary, ok, group_tuples, boots, n_boot)
    # Sequential runs use one core whatever "workers" a sweep paired them with.
    used = summary["workers"].astype("float64").where(summary["backend"].ne(SEQUENTIAL), 1.0)
    summary["efficiency"] = summary["speedup"] / used
    summary["efficiency_ci_low"] = summary["speedup_ci_low"] / used
    summary["efficiency_ci_high"] = summary["speedup_ci_high"] / used
    summary["karp_flatt"] = karp_flatt(
        summary["speedup"].to_numpy(dtype="float64"), summary["workers"].to_numpy(dtype="float64")
    )
    summary.loc[summary["backend"].eq(SEQUENTIAL), "karp_flatt"] = np.nan
    _add_vs_one_worker(summary)

    order = summary.assign(_seq=summary["backend"].ne(SEQUENTIAL)).sort_values(
        [
            "machine",
            "workload",
            "size",
            "grain",
            "_seq",
            "backend",
            "start_method",
            "pinning",
            "collect",
            "workers",
        ],
        kind="mergesort",
    )
    return order[list(SUMMARY_COLUMNS)].reset_index(drop=True)


def _add_speedup(
    summary: pd.DataFrame,
    ok: pd.DataFrame,
    group_tuples: list[tuple],
    boots: dict[tuple, np.ndarray],
    n_boot: int,
) -> None:
    """Speedup against the pooled sequential runs, with a bootstrap CI of the ratio of medians."""
    seq = ok[ok["backend"].eq(SEQUENTIAL)]
    # (machine, workload, size) -> list of (grain, collect, walls)
    pools: dict[tuple, list[tuple[Any, str, np.ndarray]]] = {}
    for (machine, workload, size, grain, collect), part in seq.groupby(
        [*BASELINE_KEYS, "collect"], sort=True, dropna=False
    ):
        pools.setdefault((machine, workload, size), []).append(
            (grain, str(collect), part["wall_s"].to_numpy(dtype="float64"))
        )

    cache: dict[tuple, tuple[str, np.ndarray, np.ndarray | None]] = {}

    def baseline_for(machine: Any, workload: Any, size: Any, grain: Any):
        key = (machine, workload, size, grain)
        if key in cache:
            return cache[key]
        candidates = pools.get((machine, workload, size), [])
        choice = None
        for same_grain, want_return in ((True, True), (True, False), (False, True), (False, False)):
            picked = [
                walls
                for g, c, walls in candidates
                if (g == grain or not same_grain) and (c == "return" or not want_return)
            ]
            if picked:
                where = "same grain" if same_grain else "any grain"
                what = "collect=return" if want_return else "any collect"
                choice = (f"sequential ({where}, {what})", np.concatenate(picked))
                break
        if choice is None:
            cache[key] = ("none: no ok sequential run of this workload and size", np.empty(0), None)
        else:
            label, walls = choice
            boot = bootstrap_medians(walls, group_seed("baseline", *key), n_boot) if walls.size >= 2 else None
            cache[key] = (label, walls, boot)
        return cache[key]

    n = len(summary)
    base_wall = np.full(n, np.nan)
    base_n = np.zeros(n, dtype="int64")
    labels: list[str] = []
    notes: list[str] = []
    s_low = np.full(n, np.nan)
    s_high = np.full(n, np.nan)
    key_index = {k: i for i, k in enumerate(GROUP_KEYS)}
    med = summary["median_wall_s"].to_numpy(dtype="float64")
    for i, key in enumerate(group_tuples):
        label, walls, bboot = baseline_for(*(key[key_index[k]] for k in BASELINE_KEYS))
        labels.append(label)
        note = []
        if summary.at[i, "n_ok"] == 0:
            note.append("no ok run")
        if walls.size:
            base_wall[i] = float(np.median(walls))
            base_n[i] = walls.size
            cboot = boots.get(key)
            if bboot is None or cboot is None:
                if np.isfinite(med[i]):
                    note.append("no CI: fewer than 2 ok runs here or in the baseline")
            else:
                s_low[i], s_high[i] = percentile_ci(bboot / cboot)
        notes.append("; ".join(note))
    summary["baseline_wall_s"] = base_wall
    summary["baseline_n"] = base_n
    summary["baseline"] = labels
    summary["speedup"] = base_wall / med
    summary["speedup_ci_low"] = s_low
    summary["speedup_ci_high"] = s_high
    summary["note"] = notes


def _add_vs_one_worker(summary: pd.DataFrame) -> None:
    """Speedup against the fastest 1-worker configuration of the same backend (its own overhead)."""
    ladder = ["machine", "backend", "workload", "size", "grain"]
    one = summary[summary["workers"].eq(1)].groupby(ladder, sort=True, dropna=False)["median_wall_s"].min()
    one = one.rename("_best_one").reset_index()
    merged = summary[ladder].merge(one, on=ladder, how="left")
    summary["speedup_vs_1worker"] = merged["_best_one"].to_numpy(dtype="float64") / summary[
        "median_wall_s"
    ].to_numpy(dtype="float64")


def scaling_fits(summary: pd.DataFrame) -> pd.DataFrame:
    """Amdahl serial fraction per worker ladder (a configuration minus workers), >= 3 worker counts."""
    records = []
    par = summary[summary["backend"].ne(SEQUENTIAL) & np.isfinite(summary["speedup"].astype("float64"))]
    for key, part in par.groupby(list(CURVE_KEYS), sort=True, dropna=False):
        counts = part["workers"].nunique()
        if counts < 3:
            continue
        fit = fit_amdahl(part["workers"].astype("float64"), part["speedup"].astype("float64"))
        f = fit["serial_fraction"]
        note = ""
        if np.isfinite(f) and part["speedup"].max() < 1.0:
            note = "never faster than sequential: Amdahl does not describe a slowdown"
        elif np.isfinite(f) and f >= 0.9:
            note = "practically no parallel gain (e.g. GIL-bound threads)"
        elif np.isfinite(fit["rmse"]) and fit["rmse"] > 0.25 * float(part["speedup"].max()):
            note = "poor fit: overhead grows with workers"
        records.append(
            {
                **dict(zip(CURVE_KEYS, key)),
                "n_worker_counts": int(counts),
                "max_workers": int(part["workers"].max()),
                "serial_fraction": f,
                "serial_fraction_ci_low": fit["ci_low"],
                "serial_fraction_ci_high": fit["ci_high"],
                "amdahl_limit": (1.0 / f) if np.isfinite(f) and f > 0 else np.inf,
                "fit_rmse": fit["rmse"],
                "note": note,
            }
        )
    if not records:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in SCALING_COLUMNS})
    return pd.DataFrame.from_records(records, columns=list(SCALING_COLUMNS))


def best_per_workload(summary: pd.DataFrame) -> pd.DataFrame:
    """The fastest configuration per (machine, workload, size): the report's verdict lines."""
    ok = summary[(summary["n_ok"] > 0) & np.isfinite(summary["median_wall_s"].astype("float64"))]
    if ok.empty:
        return summary.iloc[0:0]
    ok = ok.sort_values(
        ["machine", "workload", "size", "median_wall_s", "backend", "workers"], kind="mergesort"
    )
    return ok.groupby(["machine", "workload", "size"], sort=True, dropna=False).head(1).reset_index(drop=True)
