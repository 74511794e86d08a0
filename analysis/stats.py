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

Rounds: resampling the repeats of one job sees only the noise within that job, not the
machine's drift between jobs (5-10 % over seconds on a shared VM), which moves a baseline
timed at one moment against a configuration timed at another: such intervals covered the true
speedup about 65 % of the time instead of 95 %. A sweep in rounds times every job, the
sequential baseline too, once per round in a new random order. A configuration with >= 2
rounds gets per-round medians and per-round speedups (each against its own round's baseline,
so a slow round slows both), and a Student t interval over the rounds on their logs (R - 1
degrees of freedom: with 3-5 rounds a bootstrap over so few values would be far too narrow).
The spread between rounds holds the drift and the repeats' noise alike, so no second stage is
needed, and no random numbers: it is vectorised over configurations.
"""

from __future__ import annotations

import math
import warnings
import zlib
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, stats

from .load import GROUP_KEYS
from .physics import physics_flags, usable_cpus_per_row

#: Bootstrap resamples per group; cheap (see module docstring), so generous.
N_BOOT = 4000
CONFIDENCE = 0.95
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
    "rounds",
    "interval_design",
    "usable_cpus",
    "physics_flag",
    "baseline_sweep",
)

SCALING_COLUMNS: tuple[str, ...] = (
    *CURVE_KEYS,
    "n_worker_counts",
    "max_workers",
    "serial_fraction",
    "serial_fraction_ci_low",
    "serial_fraction_ci_high",
    "serial_fraction_ci_method",
    "amdahl_limit",
    "fit_rmse",
    "amdahl_fits",
    "note",
    "usl_sigma",
    "usl_sigma_ci_low",
    "usl_sigma_ci_high",
    "usl_kappa",
    "usl_kappa_ci_low",
    "usl_kappa_ci_high",
    "usl_gamma",
    "usl_peak_workers",
    "usl_rmse",
    "usl_note",
)

#: A model "does not fit" when its RMSE exceeds this share of the largest measured speedup.
FIT_RMSE_REL_MAX = 0.25
#: Fewest distinct worker counts for each fit (Amdahl has 1 parameter, USL 3: gamma, sigma, kappa).
AMDAHL_MIN_POINTS = 3
USL_MIN_POINTS = 4


#: Keys added to the groups after reports existed (the ``python=`` dimension). Seeds leave them
#: out, so a folder's report rebuilds with the same bootstrap draws as before (two groups that
#: differ only by interpreter share a seed: their data differ, so their draws do too).
_UNSEEDED = frozenset({"python", "gil_enabled"})


def _seed_key(names: Sequence[str], key: tuple) -> tuple:
    return tuple(k for name, k in zip(names, key) if name not in _UNSEEDED)


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
    below, above, frac, kth = _percentile_positions(boot.size, confidence)
    part = np.partition(boot, kth)
    low, high = part[below] + (part[above] - part[below]) * frac
    return (float(low), float(high))


@lru_cache(maxsize=64)
def _percentile_positions(
    size: int, confidence: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """np.quantile's "linear" rule for the interval's two ends, via one partial sort (a full
    quantile call costs 5x more): the order statistics below and above each end, the weight
    between them, and what to partition on. Computed once per sample size."""
    alpha = (1.0 - confidence) / 2.0
    pos = np.array([alpha, 1.0 - alpha]) * (size - 1)
    below = np.floor(pos).astype(int)
    above = np.minimum(below + 1, size - 1)
    return below, above, pos - below, np.unique(np.concatenate([below, above]))


@lru_cache(maxsize=256)
def _t_quantile(confidence: float, dof: int) -> float:
    """Two-sided Student t quantile (0.1 ms a scipy call; a report asks the same few hundreds of times)."""
    return float(stats.t.ppf(0.5 + confidence / 2.0, df=dof))


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
    workers: Sequence[float],
    speedup: Sequence[float],
    confidence: float = CONFIDENCE,
    speedup_low: Sequence[float] | None = None,
    speedup_high: Sequence[float] | None = None,
) -> dict[str, Any]:
    """Least-squares serial fraction f in [0, 1] with a confidence interval.

    The interval comes from the fit's covariance (t quantile, n - 1 degrees of freedom). Where
    that is not finite (e.g. the covariance cannot be estimated) and the speedups' bootstrap
    bounds are given, it is the envelope of the fits to those bounds instead: the upper
    speedup bounds give the smallest f, the lower ones the largest. ``ci_method`` says which.
    """
    p = np.asarray(workers, dtype="float64")
    s = np.asarray(speedup, dtype="float64")
    keep = np.isfinite(p) & np.isfinite(s) & (p > 0) & (s > 0)
    out: dict[str, Any] = {
        "serial_fraction": np.nan,
        "ci_low": np.nan,
        "ci_high": np.nan,
        "rmse": np.nan,
        "ci_method": "",
    }
    if np.unique(p[keep]).size < AMDAHL_MIN_POINTS:
        return out
    f, var = _amdahl_lsq(p[keep], s[keep])
    if not np.isfinite(f):
        return out
    resid = s[keep] - amdahl_speedup(p[keep], f)
    out["serial_fraction"] = f
    out["rmse"] = float(np.sqrt(np.mean(resid**2)))
    n = int(keep.sum())
    if np.isfinite(var) and n > 1:
        half = _t_quantile(confidence, max(n - 1, 1)) * np.sqrt(max(var, 0.0))
        out["ci_low"] = max(0.0, f - half)
        out["ci_high"] = min(1.0, f + half)
        out["ci_method"] = "covariance"
    elif speedup_low is not None and speedup_high is not None:
        lo = np.asarray(speedup_low, dtype="float64")[keep]
        hi = np.asarray(speedup_high, dtype="float64")[keep]
        if np.all(np.isfinite(lo) & (lo > 0)) and np.all(np.isfinite(hi) & (hi > 0)):
            f_hi, _ = _amdahl_lsq(p[keep], lo)
            f_lo, _ = _amdahl_lsq(p[keep], hi)
            if np.isfinite(f_lo) and np.isfinite(f_hi):
                out["ci_low"], out["ci_high"] = min(f_lo, f, f_hi), max(f_lo, f, f_hi)
                out["ci_method"] = "speedup-CI envelope"
    return out


def _amdahl_lsq(p: np.ndarray, s: np.ndarray) -> tuple[float, float]:
    """Least-squares f in [0, 1] and its variance (as ``curve_fit`` would report it).

    One parameter needs no general optimiser (``curve_fit`` cost ~2 ms a ladder, most of a
    report's fitting time): the best of a grid over [0, 1] is refined by Gauss-Newton steps,
    each kept only if it lowers the squared error. The variance is the residual variance
    (n - 1 degrees of freedom) over the squared Jacobian at the optimum.
    """
    p = np.asarray(p, dtype="float64")
    s = np.asarray(s, dtype="float64")
    if p.size < 2 or not (np.all(np.isfinite(p)) and np.all(np.isfinite(s))):
        return np.nan, np.nan
    grid = np.linspace(0.0, 1.0, 201)
    sse_grid = ((s - 1.0 / (grid[:, None] + (1.0 - grid[:, None]) / p)) ** 2).sum(axis=1)
    f = float(grid[int(np.argmin(sse_grid))])
    sse = float(sse_grid.min())
    for _ in range(100):
        jac = _amdahl_jac(p, f)[:, 0]
        jj = float(jac @ jac)
        if jj <= 0.0:
            break
        step = float(jac @ (s - amdahl_speedup(p, f))) / jj
        while abs(step) > 1e-15:
            trial = min(1.0, max(0.0, f + step))
            trial_sse = float(((s - amdahl_speedup(p, trial)) ** 2).sum())
            if trial_sse <= sse:
                break
            step /= 2.0
        else:
            break
        if trial == f:
            break
        f, sse = trial, trial_sse
    jac = _amdahl_jac(p, f)[:, 0]
    jj = float(jac @ jac)
    var = (sse / (p.size - 1)) / jj if jj > 0 else np.inf
    return f, var


def _amdahl_jac(p: np.ndarray, f: float) -> np.ndarray:
    """d S / d f of Amdahl's law (an exact Jacobian: the fit needs no finite differences)."""
    p = np.asarray(p, dtype="float64")
    return (-(1.0 - 1.0 / p) / (f + (1.0 - f) / p) ** 2)[:, None]


def _usl_jac(p: np.ndarray, sigma: float, kappa: float, gamma: float) -> np.ndarray:
    p = np.asarray(p, dtype="float64")
    d = 1.0 + sigma * (p - 1.0) + kappa * p * (p - 1.0)
    base = -gamma * p * (p - 1.0) / d**2
    return np.column_stack([base, base * p, p / d])


#: Lower bounds of (sigma, kappa, gamma) in the USL fit.
USL_LOWER = (0.0, 0.0, 1e-9)


def _usl_lsq(p: np.ndarray, s: np.ndarray, x0: Sequence[float]) -> tuple[np.ndarray, np.ndarray] | None:
    """Bounded least squares for the USL, and its covariance as ``curve_fit`` reports it.

    Three parameters and a handful of points need no general optimiser (``curve_fit`` costs
    about 2 ms a ladder, a report fits hundreds): Levenberg-Marquardt steps with the exact
    Jacobian, a parameter held at its bound while the gradient pushes it out. The covariance is
    the residual variance (n - 3 degrees of freedom) times the pseudo-inverse of J'J at the
    optimum, as ``curve_fit`` computes it. None when the steps do not converge (the caller
    then asks ``curve_fit``).
    """
    lower = np.array(USL_LOWER)
    x = np.maximum(np.asarray(x0, dtype="float64"), lower)
    resid = s - usl_speedup(p, *x)
    cost = float(resid @ resid)
    damping = 1e-3
    for _ in range(500):
        if cost == 0.0:
            break
        jac = _usl_jac(p, *x)
        grad = jac.T @ resid  # the direction that lowers the squared error
        free = ~((x <= lower) & (grad <= 0.0))
        if not free.any():
            break
        normal = (jac.T @ jac)[np.ix_(free, free)]
        scale = np.diag(normal) + 1e-300
        while damping < 1e12:
            try:
                step = np.linalg.solve(normal + damping * np.diag(scale), grad[free])
            except np.linalg.LinAlgError:
                damping *= 10.0
                continue
            trial = x.copy()
            trial[free] += step
            trial = np.maximum(trial, lower)
            trial_resid = s - usl_speedup(p, *trial)
            trial_cost = float(trial_resid @ trial_resid)
            if trial_cost < cost:
                break
            damping *= 10.0
        else:
            break  # no step lowers the error: a minimum (within rounding)
        gain = cost - trial_cost
        x, resid, cost = trial, trial_resid, trial_cost
        damping = max(damping / 4.0, 1e-15)
        if gain <= 1e-12 * cost:  # (curve_fit stops at 1e-8)
            break
    else:
        return None
    if not np.all(np.isfinite(x)):
        return None
    jac = _usl_jac(p, *x)
    _, singular, vt = np.linalg.svd(jac, full_matrices=False)
    keep = singular > np.finfo(float).eps * max(jac.shape) * singular[0]
    vt = vt[: int(keep.sum())]
    pcov = (vt.T / singular[keep] ** 2) @ vt
    pcov = pcov * (cost / (p.size - 3)) if p.size > 3 else np.full_like(pcov, np.inf)
    if np.isnan(pcov).any():
        pcov = np.full_like(pcov, np.inf)
    return x, pcov


def usl_speedup(workers: np.ndarray | float, sigma: float, kappa: float, gamma: float = 1.0) -> np.ndarray:
    """Gunther's Universal Scalability Law: S(p) = gamma p / (1 + sigma (p - 1) + kappa p (p - 1)).

    sigma is contention (queueing for something shared: Amdahl's serial part), kappa is
    coherency (every worker talking to every other: the cost that makes speedup fall again),
    gamma is the speedup of one worker (below 1 when one worker already pays overhead).
    """
    p = np.asarray(workers, dtype="float64")
    return gamma * p / (1.0 + sigma * (p - 1.0) + kappa * p * (p - 1.0))


def fit_usl(
    workers: Sequence[float], speedup: Sequence[float], confidence: float = CONFIDENCE
) -> dict[str, Any]:
    """Fit sigma, kappa >= 0 (and gamma > 0) by least squares; ``note`` says why where no numbers."""
    p = np.asarray(workers, dtype="float64")
    s = np.asarray(speedup, dtype="float64")
    keep = np.isfinite(p) & np.isfinite(s) & (p > 0) & (s > 0)
    p, s = p[keep], s[keep]
    out: dict[str, Any] = {
        "sigma": np.nan,
        "sigma_ci_low": np.nan,
        "sigma_ci_high": np.nan,
        "kappa": np.nan,
        "kappa_ci_low": np.nan,
        "kappa_ci_high": np.nan,
        "gamma": np.nan,
        "peak_workers": np.nan,
        "rmse": np.nan,
        "note": "",
    }
    counts = np.unique(p).size
    if counts < USL_MIN_POINTS:
        out["note"] = f"too few worker counts for USL ({counts} < {USL_MIN_POINTS})"
        return out
    gamma0 = float(s[p == p.min()].mean() / p.min())
    x0 = [0.05, 0.001, max(gamma0, 1e-3)]
    fitted = _usl_lsq(p, s, x0)
    if fitted is not None:
        popt, pcov = fitted
    else:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optimize.OptimizeWarning)
                popt, pcov = optimize.curve_fit(
                    lambda x, sg, kp, gm: usl_speedup(x, sg, kp, gm),
                    p,
                    s,
                    p0=x0,
                    bounds=(list(USL_LOWER), [np.inf, np.inf, np.inf]),
                    jac=_usl_jac,
                    max_nfev=5000,
                )
        except (RuntimeError, ValueError) as exc:
            out["note"] = f"USL fit failed: {str(exc).splitlines()[0][:80]}"
            return out
    sigma, kappa, gamma = (float(v) for v in popt)
    resid = s - usl_speedup(p, sigma, kappa, gamma)
    out.update(sigma=sigma, kappa=kappa, gamma=gamma, rmse=float(np.sqrt(np.mean(resid**2))))
    dof = max(p.size - 3, 1)
    t = _t_quantile(confidence, dof)
    diag = np.diag(pcov) if np.ndim(pcov) == 2 else np.full(3, np.nan)
    for name, value, var in (("sigma", sigma, diag[0]), ("kappa", kappa, diag[1])):
        if np.isfinite(var):
            half = t * np.sqrt(max(float(var), 0.0))
            out[f"{name}_ci_low"] = max(0.0, value - half)
            out[f"{name}_ci_high"] = value + half
    out["peak_workers"] = math.sqrt((1.0 - sigma) / kappa) if kappa > 0 and sigma < 1 else np.inf
    notes = []
    if p.size <= 3:
        notes.append("no CI: as many points as parameters")
    elif not np.isfinite(out["sigma_ci_low"]):
        notes.append("no CI: covariance not estimable")
    if out["rmse"] > FIT_RMSE_REL_MAX * float(s.max()):
        notes.append(f"does not fit (RMSE > {FIT_RMSE_REL_MAX:.0%} of the largest speedup)")
    out["note"] = "; ".join(notes)
    return out


#: The measured columns ``summarize`` reads (besides the configuration keys).
_SUMMED_COLUMNS = ("wall_s", "cpu_user_s", "cpu_sys_s", "peak_rss_bytes", "startup_s", "teardown_s")

#: ``interval_design`` of a configuration measured in >= 2 rounds: per round the median time of
#: the configuration (and, for the speedup, the same round's sequential median over it); the
#: interval is a Student t interval over rounds on the log of those values, R - 1 degrees of
#: freedom, and the speedup is the geometric mean of the per-round speedups.
DESIGN_ROUNDS = "rounds (per-round medians; speedup paired by round; t on log; R-1 dof)"
#: ``interval_design`` of a configuration measured in one round: bootstrap over its repeats only.
DESIGN_RUNS = "runs only (1 round: between-job drift not included)"


def _blocks(rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Each row's round block, numbered in sorted (sweep, round) order, and each block's sweep number.

    A block is one round of one sweep: what was timed together. Rows without ``round`` (sweeps
    from before rounds) are round 0; rows without ``sweep_id`` are one sweep.
    """
    n = len(rows)
    if "sweep_id" in rows:
        sweep = rows["sweep_id"].astype(object).where(rows["sweep_id"].notna(), "")
        sweep_code, _ = pd.factorize(sweep.astype(str), sort=True)
    else:
        sweep_code = np.zeros(n, dtype="int64")
    if "round" in rows:
        rnd = pd.to_numeric(rows["round"], errors="coerce").fillna(0).to_numpy(dtype="int64")
        rnd = rnd - min(int(rnd.min()), 0) if n else rnd
    else:
        rnd = np.zeros(n, dtype="int64")
    span = int(rnd.max()) + 1 if n else 1
    combined = sweep_code.astype("int64") * span + rnd
    uniques, blk = np.unique(combined, return_inverse=True)
    return blk.astype("int64"), (uniques // span).astype("int64")


def _t_quantiles(dof: np.ndarray, confidence: float = CONFIDENCE) -> np.ndarray:
    """Two-sided Student t quantiles for an array of degrees of freedom (NaN where dof < 1)."""
    out = np.full(dof.shape, np.nan)
    for d in np.unique(dof[dof >= 1]):
        out[dof == d] = _t_quantile(confidence, int(d))
    return out


def _t_log_mean(logs: np.ndarray, confidence: float = CONFIDENCE) -> tuple[float, float, float]:
    """exp of the mean of ``logs`` (one value per round) and of its t interval (R - 1 dof)."""
    r = logs.size
    if r < 2 or not np.all(np.isfinite(logs)):
        return (np.nan, np.nan, np.nan)
    mean = float(logs.mean())
    half = _t_quantile(confidence, r - 1) * float(logs.std(ddof=1)) / math.sqrt(r)
    return (math.exp(mean), math.exp(mean - half), math.exp(mean + half))


def summarize(rows: pd.DataFrame, n_boot: int = N_BOOT) -> pd.DataFrame:
    """One row per configuration (``GROUP_KEYS``): counts, medians with CIs, speedup, efficiency.

    Failed rows are counted (``n_failed``) and never timed. Speedup compares with the
    sequential runs of the same sweep, machine, workload, size and grain (collect=return
    preferred); the ``baseline`` column says which sequential runs were used, or why there are
    none. A baseline is never taken from another sweep.

    Intervals (``interval_design`` says which, ``rounds`` how many rounds): a configuration
    timed in >= 2 rounds (``round``; each round of each sweep counts) gets t intervals over its
    rounds (R - 1 degrees of freedom): the time's on the log of each round's median, the
    speedup's on the log of each round's ratio of the sequential median to the configuration's
    median in that same round (rounds without an ok sequential run are left out); the speedup
    is then the geometric mean of those per-round ratios. The machine's drift between jobs and
    rounds is inside these intervals. A configuration timed in one round keeps the exact
    bootstrap over its repeats (and the baseline's) and the ratio of medians, which do not see
    that drift. ``median_wall_s`` is always the median of all ok runs (its interval is widened
    to include it where the per-round interval does not). ``physics_flag`` marks speedups the
    cores cannot give (``analysis.physics``), judged with the largest ``usable_cpus`` of the
    configuration's rows (``usable_cpus``, else ``logical_cores``, else the ``affinity_cpus`` count).
    """
    if rows.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in SUMMARY_COLUMNS})
    keys = list(GROUP_KEYS)
    # One grouping pass over the nine key columns (the costly part on 100k rows); everything
    # after works on the integer group ids, numbered in sorted key order.
    gid = rows.groupby(keys, sort=True, dropna=False).ngroup().to_numpy()
    n_groups = int(gid.max()) + 1
    first = np.empty(n_groups, dtype="int64")
    first[gid[::-1]] = np.arange(len(gid) - 1, -1, -1)  # each group's first row
    ok_mask = rows["ok"].to_numpy(dtype=bool)
    n_runs = np.bincount(gid, minlength=n_groups)
    n_ok = np.bincount(gid[ok_mask], minlength=n_groups)
    counts = (
        rows.iloc[first][keys].reset_index(drop=True).assign(n_runs=n_runs, n_ok=n_ok, n_failed=n_runs - n_ok)
    )
    blk, block_sweep = _blocks(rows)

    # Sorted by round and value within each group so float sums (mean, std) do not depend on
    # row order. Only the columns used below (copying all of a 100k-row table twice cost more
    # than the medians).
    used = list(dict.fromkeys([*keys, *BASELINE_KEYS, "collect", *_SUMMED_COLUMNS]))
    ok_gid = gid[ok_mask]
    ok_blk = blk[ok_mask]
    order = np.lexsort((rows["wall_s"].to_numpy(dtype="float64")[ok_mask], ok_blk, ok_gid))
    ok_gid = ok_gid[order]
    ok_blk = ok_blk[order]
    ok = rows[used].iloc[np.flatnonzero(ok_mask)[order]]
    ok = ok.assign(cpu_s=ok[["cpu_user_s", "cpu_sys_s"]].sum(axis=1, min_count=1), _blk=ok_blk)
    agg = ok.groupby(ok_gid, sort=True).agg(
        median_wall_s=("wall_s", "median"),
        mean_wall_s=("wall_s", "mean"),
        std_wall_s=("wall_s", "std"),
        median_cpu_s=("cpu_s", "median"),
        median_peak_rss_bytes=("peak_rss_bytes", "median"),
        median_startup_s=("startup_s", "median"),
        median_teardown_s=("teardown_s", "median"),
    )
    summary = counts.join(agg, how="left")
    summary["cv"] = summary["std_wall_s"] / summary["mean_wall_s"]
    summary["cpu_per_wall"] = summary["median_cpu_s"] / summary["median_wall_s"]

    walls = ok["wall_s"].to_numpy(dtype="float64")
    cells = _Cells(ok_gid, ok_blk, walls, n_groups)
    group_ids = np.arange(n_groups)
    starts = np.searchsorted(ok_gid, group_ids, side="left")
    ends = np.searchsorted(ok_gid, group_ids, side="right")
    rounds = cells.count
    boots: dict[tuple, np.ndarray] = {}
    ci_low = np.full(len(summary), np.nan)
    ci_high = np.full(len(summary), np.nan)
    group_tuples = [tuple(r) for r in summary[keys].itertuples(index=False, name=None)]
    # One round: the exact bootstrap of the median over the repeats.
    for i in np.flatnonzero((rounds == 1) & (ends - starts >= 2)):
        key = group_tuples[i]
        seed = group_seed("wall", *_seed_key(keys, key))
        boot = bootstrap_medians(walls[starts[i] : ends[i]], seed, n_boot)
        boots[key] = boot
        ci_low[i], ci_high[i] = percentile_ci(boot)
    # Several rounds: a t interval over the rounds on the log of each round's median (vectorised).
    multi = rounds >= 2
    if multi.any():
        low, high = cells.t_interval()
        ci_low[multi], ci_high[multi] = low[multi], high[multi]
        med = summary["median_wall_s"].to_numpy(dtype="float64")
        ci_low[multi] = np.fmin(ci_low[multi], med[multi])
        ci_high[multi] = np.fmax(ci_high[multi], med[multi])
    summary["wall_ci_low"] = ci_low
    summary["wall_ci_high"] = ci_high

    # Configurations without an ok run still name the baseline they would have been compared with.
    idle = np.flatnonzero(n_ok == 0)
    idle_sweeps: dict[int, np.ndarray] = {}
    if idle.size:
        mask = np.isin(gid, idle)
        pairs = np.unique(np.stack([gid[mask], block_sweep[blk[mask]]]), axis=1)
        idle_sweeps = {int(g): pairs[1][pairs[0] == g] for g in idle}
    if "sweep_id" in rows:
        names = rows["sweep_id"].astype(object).where(rows["sweep_id"].notna(), "").astype(str)
        sweep_names = sorted(names.unique())
    else:
        sweep_names = [""]
    design = _add_speedup(
        summary, ok, group_tuples, boots, n_boot, cells, block_sweep, idle_sweeps, sweep_names
    )
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
    summary["rounds"] = rounds
    # Where there is no speedup interval, the time interval's design (if it has one).
    wall_design = np.where(multi, DESIGN_ROUNDS, np.where(np.isfinite(ci_low), DESIGN_RUNS, ""))
    summary["interval_design"] = np.where(design != "", design, wall_design).astype(object)
    usable = pd.Series(usable_cpus_per_row(rows)).groupby(gid, sort=True).max()
    summary["usable_cpus"] = usable.reindex(group_ids).to_numpy(dtype="float64")
    summary["physics_flag"] = physics_flags(summary)

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


class _Cells:
    """The ok runs of each (configuration, round) cell: rows sorted by group, block, then wall time.

    ``start``/``end`` index the sorted rows of each cell, ``gid``/``blk`` say whose cell it is,
    ``median`` is its median time; ``first``/``count`` give each group's cells (``count`` is the
    number of rounds the group has ok runs in).
    """

    def __init__(self, gid: np.ndarray, blk: np.ndarray, walls: np.ndarray, n_groups: int) -> None:
        self.walls = walls
        n = gid.size
        if n:
            change = np.flatnonzero((np.diff(gid) != 0) | (np.diff(blk) != 0)) + 1
            self.start = np.concatenate([[0], change]).astype("int64")
        else:
            self.start = np.zeros(0, dtype="int64")
        self.end = np.append(self.start[1:], n).astype("int64")
        self.gid = gid[self.start]
        self.blk = blk[self.start]
        size = self.end - self.start
        self.median = (walls[self.start + (size - 1) // 2] + walls[self.start + size // 2]) / 2.0
        self.count = np.bincount(self.gid, minlength=n_groups)
        self.first = np.searchsorted(self.gid, np.arange(n_groups), side="left")

    def of(self, i: int) -> slice:
        """The cells of group ``i``."""
        return slice(int(self.first[i]), int(self.first[i] + self.count[i]))

    def walls_of(self, cells: np.ndarray) -> np.ndarray:
        """The ok times of these cells (indices into the cell arrays), in one array."""
        return np.concatenate([self.walls[self.start[c] : self.end[c]] for c in cells])

    def t_interval(self, confidence: float = CONFIDENCE) -> tuple[np.ndarray, np.ndarray]:
        """Per group: exp of the t interval (R - 1 dof) of the mean log per-round median; NaN if R < 2."""
        logs = np.log(self.median)
        r = self.count.astype("float64")
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.bincount(self.gid, logs, minlength=r.size) / r
            ss = np.bincount(self.gid, (logs - mean[self.gid]) ** 2, minlength=r.size)
            half = _t_quantiles(self.count - 1, confidence) * np.sqrt(ss / (r - 1.0)) / np.sqrt(r)
            return np.exp(mean - half), np.exp(mean + half)


def _add_speedup(
    summary: pd.DataFrame,
    ok: pd.DataFrame,
    group_tuples: list[tuple],
    boots: dict[tuple, np.ndarray],
    n_boot: int,
    cells: _Cells,
    block_sweep: np.ndarray,
    idle_sweeps: dict[int, np.ndarray],
    sweep_names: Sequence[str] = ("",),
) -> np.ndarray:
    """Speedup against the same sweep's sequential runs; returns each configuration's interval design.

    A configuration whose own sweep has no ok sequential run of its workload and size borrows
    the baseline of another sweep of the same machine (interpreter, workload, size, grain),
    visibly: ``baseline_sweep`` names that sweep, ``baseline`` and ``note`` say so, and its
    interval is the bootstrap over the runs of both (the drift between the sweeps is not in it).

    Only rounds where both the configuration and its baseline have ok runs count. With >= 2
    such rounds, each round gives its own ratio of medians (that round's sequential median over
    the configuration's: a slow round slows both, and cancels); the speedup is their geometric
    mean and its interval the t interval (R - 1 dof) on their logs. With one, the speedup is
    the ratio of the two medians and its interval the bootstrap of that ratio over the repeats.
    ``baseline_wall_s`` / ``baseline_n`` are the median and count of the baseline's runs in the
    rounds used (with rounds, speedup can differ slightly from baseline_wall_s / median_wall_s,
    which pool the rounds).
    """
    seq_mask = ok["backend"].eq(SEQUENTIAL).to_numpy()
    seq = ok[seq_mask]
    seq_sweep = block_sweep[ok["_blk"].to_numpy()[seq_mask]]
    # (machine, python, ..., size, sweep) -> list of (grain, collect, walls, blocks)
    pools: dict[tuple, list[tuple[Any, str, np.ndarray, np.ndarray]]] = {}
    # (machine, python, ..., size) with a baseline in some sweep: to say why none was borrowed
    anywhere: set[tuple] = set()
    if len(seq):
        seq = seq.assign(_sweep=seq_sweep)
        groups = seq.groupby([*BASELINE_KEYS, "collect", "_sweep"], sort=True, dropna=False)
        for (*pool_key, grain, collect, sweep), part in groups:
            pools.setdefault((*pool_key, sweep), []).append(
                (
                    grain,
                    str(collect),
                    part["wall_s"].to_numpy(dtype="float64"),
                    part["_blk"].to_numpy(dtype="int64"),
                )
            )
            anywhere.add(tuple(pool_key))

    cache: dict[tuple, tuple[str, np.ndarray, np.ndarray, dict[int, float]]] = {}

    def baseline_for(key: tuple, sweep: int) -> tuple[str, np.ndarray, np.ndarray, dict[int, float]]:
        """(label, walls, their blocks, median per block) of the sequential runs this key compares with."""
        if (key, sweep) in cache:
            return cache[(key, sweep)]
        *pool_key, grain = key
        candidates = pools.get((*pool_key, sweep), [])
        result = None
        for same_grain, want_return in ((True, True), (True, False), (False, True), (False, False)):
            picked = [
                (w, b)
                for g, c, w, b in candidates
                if (g == grain or not same_grain) and (c == "return" or not want_return)
            ]
            if picked:
                where = "same grain" if same_grain else "any grain"
                what = "collect=return" if want_return else "any collect"
                w = np.concatenate([p[0] for p in picked])
                b = np.concatenate([p[1] for p in picked])
                order = np.lexsort((w, b))
                w, b = w[order], b[order]
                edges = np.flatnonzero(np.diff(b)) + 1
                meds = {
                    int(part_b[0]): float(np.median(part_w))
                    for part_w, part_b in zip(np.split(w, edges), np.split(b, edges))
                }
                result = (f"sequential ({where}, {what})", w, b, meds)
                break
        if result is None:
            result = ("", np.empty(0), np.empty(0, dtype="int64"), {})
        cache[(key, sweep)] = result
        return result

    boot_cache: dict[tuple, np.ndarray | None] = {}
    pooled: dict[tuple, tuple[float, int]] = {}

    def baseline_boot(key: tuple, sweep: int, block: int, walls: np.ndarray) -> np.ndarray | None:
        if (key, sweep, block) not in boot_cache:
            seed = group_seed("baseline", *_seed_key(BASELINE_KEYS, key))
            boot = bootstrap_medians(walls, seed, n_boot) if walls.size >= 2 else None
            boot_cache[(key, sweep, block)] = boot
        return boot_cache[(key, sweep, block)]

    n = len(summary)
    speedup = np.full(n, np.nan)
    base_wall = np.full(n, np.nan)
    base_n = np.zeros(n, dtype="int64")
    labels: list[str] = []
    notes: list[str] = []
    borrowed_from = [""] * n
    design = np.full(n, "", dtype=object)
    s_low = np.full(n, np.nan)
    s_high = np.full(n, np.nan)
    key_index = {k: i for i, k in enumerate(GROUP_KEYS)}
    base_pos = [key_index[k] for k in BASELINE_KEYS]
    seed_names = list(GROUP_KEYS)
    med = summary["median_wall_s"].to_numpy(dtype="float64")
    n_ok = summary["n_ok"].to_numpy()
    for i, key in enumerate(group_tuples):
        bkey = tuple(key[p] for p in base_pos)
        note = []
        if n_ok[i] == 0:
            note.append("no ok run")
        mine = cells.of(i)
        blocks = cells.blk[mine]
        sweeps = block_sweep[blocks]
        chosen: dict[int, tuple[str, np.ndarray, np.ndarray, dict[int, float]]] = {}
        for sweep in np.unique(sweeps) if blocks.size else idle_sweeps.get(i, ()):
            found = baseline_for(bkey, int(sweep))
            if found[3]:
                chosen[int(sweep)] = found
        paired = np.flatnonzero(
            [int(s) in chosen and int(b) in chosen[int(s)][3] for b, s in zip(blocks, sweeps)]
        ).astype("int64")
        if not chosen and n_ok[i] and blocks.size:
            lender = _lender(bkey, pools, baseline_for)
            if lender is not None:
                other, (label, w, _b, _m) = lender
                name = sweep_names[other] if other < len(sweep_names) else str(other)
                mine_walls = cells.walls_of(np.arange(mine.start, mine.stop))
                base_wall[i], base_n[i] = float(np.median(w)), w.size
                speedup[i] = base_wall[i] / float(np.median(mine_walls))
                borrowed_from[i] = name or "(unnamed)"
                labels.append(f"{label}, borrowed from sweep {borrowed_from[i]}")
                note.append(
                    f"baseline borrowed from sweep {borrowed_from[i]} (another sweep of this machine: "
                    "the drift between the sweeps is not in the interval)"
                )
                if w.size >= 2 and mine_walls.size >= 2:
                    b_seed = group_seed("borrowed", *_seed_key(BASELINE_KEYS, bkey))
                    c_seed = group_seed("wall", *_seed_key(seed_names, key))
                    bboot = bootstrap_medians(w, b_seed, n_boot)
                    cboot = bootstrap_medians(mine_walls, c_seed, n_boot)
                    s_low[i], s_high[i] = percentile_ci(bboot / cboot)
                    design[i] = DESIGN_RUNS
                notes.append("; ".join(note))
                continue
        if not chosen:
            pool_key = bkey[:-1]
            labels.append(
                "none: no ok sequential run of this workload and size in this sweep "
                "(never borrowed from another sweep)"
                if pool_key in anywhere and n_ok[i]
                else "none: no ok sequential run of this workload and size"
            )
            notes.append("; ".join(note))
            continue
        labels.append(" + ".join(dict.fromkeys(c[0] for c in chosen.values())))
        if blocks.size == 0:  # no ok run: no speedup, but the baseline it would have had
            all_walls = np.concatenate([chosen[s][1] for s in sorted(chosen)])
            base_wall[i], base_n[i] = float(np.median(all_walls)), all_walls.size
            notes.append("; ".join(note))
            continue
        if paired.size == 0:
            note.append("no round has ok runs of both this configuration and the sequential baseline")
            notes.append("; ".join(note))
            continue
        if paired.size < blocks.size:
            note.append(
                f"{blocks.size - paired.size} of {blocks.size} rounds have no ok sequential run: "
                "left out of the speedup"
            )
        cell_ids = np.arange(mine.start, mine.stop)[paired]
        paired_blocks = blocks[paired]
        pooled_key = (bkey, tuple(paired_blocks.tolist()))
        if pooled_key not in pooled:  # configurations of one baseline mostly share their rounds
            base_walls = np.concatenate(
                [w[np.isin(b, paired_blocks)] for _, w, b, _ in (chosen[s] for s in sorted(chosen))]
            )
            pooled[pooled_key] = (float(np.median(base_walls)), base_walls.size)
        base_wall[i], base_n[i] = pooled[pooled_key]
        if paired.size >= 2:
            # Each round's own ratio of medians; their geometric mean and its t interval.
            base_meds = np.array(
                [chosen[int(s)][3][int(b)] for b, s in zip(paired_blocks, sweeps[paired])], dtype="float64"
            )
            log_ratios = np.log(base_meds) - np.log(cells.median[cell_ids])
            speedup[i], s_low[i], s_high[i] = _t_log_mean(log_ratios)
            design[i] = DESIGN_ROUNDS
        else:
            config_median = med[i] if blocks.size == 1 else float(np.median(cells.walls_of(cell_ids)))
            speedup[i] = base_wall[i] / config_median
            block, sweep = int(paired_blocks[0]), int(sweeps[paired][0])
            _, w, b, _ = chosen[sweep]
            bboot = baseline_boot(bkey, sweep, block, w[b == block])
            if blocks.size == 1:
                cboot = boots.get(key)
            else:  # the configuration's runs of that one round only
                mine_walls = cells.walls_of(cell_ids)
                cboot = None
                if mine_walls.size >= 2:
                    seed = group_seed("wall", *_seed_key(seed_names, key))
                    cboot = bootstrap_medians(mine_walls, seed, n_boot)
                note.append("speedup from the one round with an ok sequential run")
            if bboot is None or cboot is None:
                if np.isfinite(med[i]):
                    note.append("no CI: fewer than 2 ok runs here or in the baseline")
            else:
                s_low[i], s_high[i] = percentile_ci(bboot / cboot)
                design[i] = DESIGN_RUNS
        notes.append("; ".join(note))
    summary["baseline_wall_s"] = base_wall
    summary["baseline_n"] = base_n
    summary["baseline"] = labels
    summary["baseline_sweep"] = borrowed_from
    summary["speedup"] = speedup
    summary["speedup_ci_low"] = s_low
    summary["speedup_ci_high"] = s_high
    summary["note"] = notes
    return design


def _lender(bkey: tuple, pools: Mapping[tuple, Any], baseline_for: Callable) -> tuple[int, tuple] | None:
    """The first other sweep (in sweep order) with an ok sequential baseline for ``bkey``."""
    pool_key = tuple(bkey[:-1])
    for other in sorted(int(k[-1]) for k in pools if tuple(k[:-1]) == pool_key):
        found = baseline_for(bkey, other)
        if found[3]:
            return other, found
    return None


def _add_vs_one_worker(summary: pd.DataFrame) -> None:
    """Speedup against the fastest 1-worker configuration of the same backend (its own overhead)."""
    ladder = ["machine", "python", "gil_enabled", "backend", "workload", "size", "grain"]
    one = summary[summary["workers"].eq(1)].groupby(ladder, sort=True, dropna=False)["median_wall_s"].min()
    one = one.rename("_best_one").reset_index()
    merged = summary[ladder].merge(one, on=ladder, how="left")
    summary["speedup_vs_1worker"] = merged["_best_one"].to_numpy(dtype="float64") / summary[
        "median_wall_s"
    ].to_numpy(dtype="float64")


def scaling_fits(summary: pd.DataFrame) -> pd.DataFrame:
    """Amdahl and USL fits per worker ladder (a configuration minus its worker count).

    Every ladder with at least two worker counts gets a row; where a model cannot be fitted
    (too few worker counts, a failed fit) its columns are empty and ``note`` / ``usl_note``
    say why. ``amdahl_fits`` is "no" when the RMSE exceeds ``FIT_RMSE_REL_MAX`` of the largest
    speedup: then the serial fraction describes nothing and the note says so.
    """
    records = []
    par = summary[summary["backend"].ne(SEQUENTIAL) & np.isfinite(summary["speedup"].astype("float64"))]
    # Plain arrays once; per ladder only index arithmetic (pandas slices per ladder cost more than the fits).
    all_workers = par["workers"].to_numpy(dtype="float64")
    columns = ("speedup", "speedup_ci_low", "speedup_ci_high")
    all_speedup, all_low, all_high = (par[c].to_numpy(dtype="float64", na_value=np.nan) for c in columns)
    ids = par.groupby(list(CURVE_KEYS), sort=True, dropna=False).ngroup().to_numpy()
    order = np.argsort(ids, kind="stable")
    ladders = np.split(order, np.flatnonzero(np.diff(ids[order])) + 1) if len(order) else []
    keys = par.iloc[[pos[0] for pos in ladders]][list(CURVE_KEYS)].itertuples(index=False, name=None)
    for key, pos in zip(keys, ladders):
        workers = all_workers[pos]
        counts = np.unique(workers).size
        if counts < 2:
            continue
        speedup = all_speedup[pos]
        fit = fit_amdahl(workers, speedup, speedup_low=all_low[pos], speedup_high=all_high[pos])
        f = fit["serial_fraction"]
        top = float(np.nanmax(speedup))
        notes = []
        fits = ""
        if counts < AMDAHL_MIN_POINTS:
            notes.append(f"too few worker counts for Amdahl ({counts} < {AMDAHL_MIN_POINTS})")
        elif not np.isfinite(f):
            notes.append("Amdahl fit failed")
        else:
            fits = "yes"
            if top < 1.0:
                notes.append("never faster than sequential: Amdahl does not describe a slowdown")
            elif f >= 0.9:
                notes.append("practically no parallel gain (e.g. GIL-bound threads)")
            if np.isfinite(fit["rmse"]) and fit["rmse"] > FIT_RMSE_REL_MAX * top:
                fits = "no"
                notes.append(
                    f"does not fit: RMSE {fit['rmse']:.3g} > {FIT_RMSE_REL_MAX:.0%} of the largest "
                    "speedup (overhead grows with workers?)"
                )
            if not np.isfinite(fit["ci_low"]):
                notes.append("no CI for f (covariance and speedup CIs unavailable)")
        usl = fit_usl(workers, speedup)
        records.append(
            {
                **dict(zip(CURVE_KEYS, key)),
                "n_worker_counts": int(counts),
                "max_workers": int(workers.max()),
                "serial_fraction": f,
                "serial_fraction_ci_low": fit["ci_low"],
                "serial_fraction_ci_high": fit["ci_high"],
                "serial_fraction_ci_method": fit["ci_method"],
                "amdahl_limit": ((1.0 / f) if f > 0 else np.inf) if np.isfinite(f) else np.nan,
                "fit_rmse": fit["rmse"],
                "amdahl_fits": fits,
                "note": "; ".join(notes),
                "usl_sigma": usl["sigma"],
                "usl_sigma_ci_low": usl["sigma_ci_low"],
                "usl_sigma_ci_high": usl["sigma_ci_high"],
                "usl_kappa": usl["kappa"],
                "usl_kappa_ci_low": usl["kappa_ci_low"],
                "usl_kappa_ci_high": usl["kappa_ci_high"],
                "usl_gamma": usl["gamma"],
                "usl_peak_workers": usl["peak_workers"],
                "usl_rmse": usl["rmse"],
                "usl_note": usl["note"],
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


# ----------------------------------------------------------------------------- task grain

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


# ----------------------------------------------------------------------------- weak scaling

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
