"""Scaling models fitted to a worker ladder: Amdahl, the Universal Scalability Law, Karp-Flatt."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize

from .intervals import CONFIDENCE, t_quantile
from .keys import CURVE_KEYS, SEQUENTIAL

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
        half = t_quantile(confidence, max(n - 1, 1)) * np.sqrt(max(var, 0.0))
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
    t = t_quantile(confidence, dof)
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
