"""Intervals: the exact bootstrap of a median, percentile intervals, Student t on logs, seeds."""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np
from scipy import stats

#: Bootstrap resamples per group; cheap (see module docstring), so generous.
N_BOOT = 4000
CONFIDENCE = 0.95


#: Keys added to the groups after reports existed (the ``python=`` dimension). Seeds leave them
#: out, so a folder's report rebuilds with the same bootstrap draws as before (two groups that
#: differ only by interpreter share a seed: their data differ, so their draws do too).
_UNSEEDED = frozenset({"python", "gil_enabled"})


def seed_key(names: Sequence[str], key: tuple) -> tuple:
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
def t_quantile(confidence: float, dof: int) -> float:
    """Two-sided Student t quantile (0.1 ms a scipy call; a report asks the same few hundreds of times)."""
    return float(stats.t.ppf(0.5 + confidence / 2.0, df=dof))


def t_quantiles(dof: np.ndarray, confidence: float = CONFIDENCE) -> np.ndarray:
    """Two-sided Student t quantiles for an array of degrees of freedom (NaN where dof < 1)."""
    out = np.full(dof.shape, np.nan)
    for d in np.unique(dof[dof >= 1]):
        out[dof == d] = t_quantile(confidence, int(d))
    return out


def t_log_mean(logs: np.ndarray, confidence: float = CONFIDENCE) -> tuple[float, float, float]:
    """exp of the mean of ``logs`` (one value per round) and of its t interval (R - 1 dof)."""
    r = logs.size
    if r < 2 or not np.all(np.isfinite(logs)):
        return (np.nan, np.nan, np.nan)
    mean = float(logs.mean())
    half = t_quantile(confidence, r - 1) * float(logs.std(ddof=1)) / math.sqrt(r)
    return (math.exp(mean), math.exp(mean - half), math.exp(mean + half))
