"""Borrow strength across configurations: a configuration x block model on per-block log speedups.

With R rounds, a configuration's own t interval has R - 1 degrees of freedom: at R = 3 its
quantile is 4.30, so the interval is wide however steady the machine. Every configuration of a
workload is timed in the same blocks (rounds of a sweep), so their noise can be estimated
together. Per baseline group (``BASELINE_KEYS``: configurations compared with the same
sequential runs) the model is

    log_speedup[c, b] = mu_c + beta_b + e[c, b],    e[c, b] ~ N(0, sigma_c^2),

``beta_b`` the block's effect (the baseline's noise in that block and the machine's speed then,
shared by every configuration of the block) and ``sigma_c^2`` the configuration's own noise.

- The additive model is fitted by least squares (unbalanced blocks welcome: a configuration
  missing from some blocks). Its residuals give each configuration's residual sum of squares;
  their expectation is a known linear mix of every configuration's ``sigma^2`` (the residual
  projection M spreads noise between configurations: E[SS_c] = sum_c' A[c, c'] sigma_c'^2 with
  A[c, c'] = sum over c's rows i and c''s rows j of M[i, j]^2), so solving A sigma^2 = SS gives
  unbiased per-configuration variances even when configurations differ in noise.
- Those variances are moderated as in limma (Smyth 2004): a scaled inverse chi-square prior
  (d0, s0^2) is estimated from all configurations' variances, and each posterior variance is
  (d0 s0^2 + d_c s_c^2) / (d0 + d_c) with d0 + d_c degrees of freedom. Unlike limma's
  thousands of genes, a workload has a handful of configurations: d0 is capped so that d0 + d_c
  never exceeds the residual degrees of freedom of the whole fit (the prior holds no more
  information than the data it came from).
- A configuration's speedup is exp of its mean log speedup over its blocks (the geometric mean
  of its per-block speedups, as before). Its interval must also hold the block effects (each
  block's baseline noise moves its estimate): the variance is (sigma_beta^2 + sigma_c^2) / n_c,
  taken as the fitted block effects' variance (B - 1 degrees of freedom; it holds sigma_beta^2
  and a share of the residual noise) plus the configuration's own variance less that share;
  the interval's degrees of freedom are Welch-Satterthwaite's for the sum.
- A paired difference of two configurations over their common blocks cancels beta_b: its
  variance is (sigma_a^2 + sigma_b^2) / K with Satterthwaite's degrees of freedom from the two
  posteriors. This is what comparisons (``analysis.stats.compare``) test.

**The baseline as a configuration** (``TIME_MODEL``, used wherever every value of a group
comes from round medians, the default). Above, ``beta_b`` holds the baseline's noise in block b,
estimated from the B fitted block effects: B - 1 degrees of freedom, 2 at the default 3 rounds,
so every speedup interval of the group inherits a t quantile near 4.3 however many
configurations share the noise. The same data fit on log *times*, the sequential baseline one
configuration among the others,

    -log time[c, b] = m_c + g_b + e[c, b],    e[c, b] ~ N(0, sigma_c^2),

give the baseline's own noise ``sigma_s^2`` as a moderated residual variance like any other (the
shared block effect ``g_b``, the machine's speed in that round, cancels in every within-block
ratio). A speedup is then the paired difference of c and the baseline over their common blocks:
variance (sigma_c^2 + sigma_s^2) / n with Satterthwaite's dof, capped at the fit's residual dof
((C - 1)(B - 1) in a full design), and the estimate is unchanged (the geometric mean of per-block
speedups). What the speedups of two configurations share is ``sigma_s^2`` (``covariance``).

Groups with fewer than three configurations of at least two blocks (too few to separate the
block effect from each configuration's noise), and groups larger than ``MAX_VALUES`` block
values (the exact residual algebra costs N^3), keep the plain per-configuration t over blocks
(R - 1 dof); one-block configurations keep what ``summarize`` gives them (the bootstrap over
repeats). Coverage on synthetic data: docs/measurement.md and tests/test_analysis_blockmodel.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize, special

from ..load import GROUP_KEYS
from .intervals import CONFIDENCE, t_quantile
from .keys import BASELINE_KEYS

#: ``interval_design`` of a speedup interval from the moderated block model.
DESIGN_MODERATED = (
    "rounds, pooled (configuration x block model on per-block log speedups; "
    "moderated variances, Smyth 2004; Satterthwaite dof)"
)
#: ``interval_design`` of a speedup interval from the model on log times (the baseline a configuration).
TIME_MODEL = (
    "rounds, pooled (configuration x block model on per-block log times, the sequential baseline "
    "one configuration; moderated variances, Smyth 2004; Satterthwaite dof)"
)
#: Smallest number of configurations (with >= 2 blocks each) for which the model is fitted.
MIN_CONFIGS = 3
#: Largest number of block values in one group fitted exactly (the residual algebra is N x N).
MAX_VALUES = 400

MODEL_COLUMNS: tuple[str, ...] = (
    *GROUP_KEYS,
    "n_blocks",
    "log_estimate",
    "se",
    "dof",
    "speedup",
    "ci_low",
    "ci_high",
    "resid_var",
    "resid_dof",
    "block_var",
    "pooled",
    "times",  # the model on log times (``TIME_MODEL``), the baseline one configuration
)


@dataclass(frozen=True)
class Difference:
    """A paired difference of two configurations' log speedups over their common blocks."""

    estimate: float  # mean over the common blocks of log_speedup[a] - log_speedup[b]
    se: float
    dof: float
    n_blocks: int
    pooled: bool  # the standard error came from the moderated model (else the pairs alone)

    def interval(self, confidence: float = CONFIDENCE, one_sided: bool = False) -> tuple[float, float]:
        """(low, high) of the log difference; ``one_sided`` puts all of 1 - confidence on each side."""
        q = t_quantile_real(confidence if not one_sided else 2 * confidence - 1, self.dof)
        return self.estimate - q * self.se, self.estimate + q * self.se


def t_quantile_real(confidence: float, dof: float) -> float:
    """Two-sided t quantile for a real (Satterthwaite) dof; the normal's beyond 1e6."""
    if not np.isfinite(dof) or dof > 1e6:
        return float(special.ndtri(0.5 + confidence / 2.0))
    if float(dof).is_integer():
        return t_quantile(confidence, int(dof))
    return float(special.stdtrit(dof, 0.5 + confidence / 2.0))


def satterthwaite(parts: np.ndarray, dofs: np.ndarray) -> float:
    """Welch-Satterthwaite dof of a sum of independent variance estimates."""
    parts = np.asarray(parts, dtype="float64")
    dofs = np.asarray(dofs, dtype="float64")
    keep = parts > 0
    if not keep.any():
        return float(np.min(dofs)) if dofs.size else np.nan
    with np.errstate(divide="ignore"):
        denom = np.sum(np.where(np.isfinite(dofs[keep]), parts[keep] ** 2 / dofs[keep], 0.0))
    return float(parts[keep].sum() ** 2 / denom) if denom > 0 else np.inf


def _trigamma_inverse(y: float) -> float:
    """x with trigamma(x) = y (y > 0)."""
    f = lambda x: float(special.polygamma(1, x)) - y  # noqa: E731
    return float(optimize.brentq(f, 1e-8, 1e8))


def fit_prior(s2: np.ndarray, d: np.ndarray) -> tuple[float, float]:
    """limma's prior (d0, s0^2) from sample variances ``s2`` with ``d`` dof (Smyth 2004, section 6.2).

    d0 is infinite when the variances scatter no more than their own sampling noise says (then
    every configuration shares s0^2); 0 with fewer than two usable variances.
    """
    ok = np.isfinite(s2) & (s2 > 0) & np.isfinite(d) & (d > 0)
    g = int(ok.sum())
    if g < 2:
        return 0.0, float(np.nanmean(s2)) if np.isfinite(s2).any() else np.nan
    z, dd = np.log(s2[ok]), d[ok]
    e = z - special.digamma(dd / 2) + np.log(dd / 2)
    e_mean = float(e.mean())
    e_var = float(((e - e_mean) ** 2).sum() / (g - 1) - special.polygamma(1, dd / 2).mean())
    if e_var <= 0:
        return np.inf, math.exp(e_mean)
    d0 = 2.0 * _trigamma_inverse(e_var)
    return d0, math.exp(e_mean + special.digamma(d0 / 2) - math.log(d0 / 2))


def fit_moderated(
    configs: list, per: dict
) -> tuple[np.ndarray, np.ndarray, int, np.ndarray, np.ndarray, np.ndarray] | None:
    """The additive configuration x block model on ``per[config][block]`` values, with moderated
    per-configuration residual variances: (posterior variances, their dof, the fit's residual dof,
    the fitted block effects (first block 0), each value's configuration index, its block index),
    in the order of ``configs``; None where it cannot be fitted."""
    cfg_idx, blk_idx, y = [], [], []
    block_ids = sorted({b for k in configs for b in per[k]})
    where = {b: i for i, b in enumerate(block_ids)}
    for c, k in enumerate(configs):
        for b, v in per[k].items():
            cfg_idx.append(c)
            blk_idx.append(where[b])
            y.append(v)
    n_obs, n_cfg, n_blk = len(y), len(configs), len(block_ids)
    if n_obs > MAX_VALUES or n_blk < 2:
        return None
    cfg = np.array(cfg_idx)
    blk = np.array(blk_idx)
    yv = np.array(y)
    x = np.zeros((n_obs, n_cfg + n_blk - 1))
    x[np.arange(n_obs), cfg] = 1.0
    has = blk > 0
    x[np.flatnonzero(has), n_cfg + blk[has] - 1] = 1.0
    rank = int(np.linalg.matrix_rank(x))
    df_total = n_obs - rank
    if df_total < 1:
        return None
    pinv = np.linalg.pinv(x)
    m = np.eye(n_obs) - x @ pinv
    resid = m @ yv
    g = np.zeros((n_obs, n_cfg))
    g[np.arange(n_obs), cfg] = 1.0
    ss = g.T @ resid**2
    d = g.T @ np.diag(m)  # each configuration's share of the residual dof
    a = g.T @ (m**2) @ g
    pooled_var = float(resid @ resid / df_total)
    floor = max(pooled_var * 1e-3, 1e-12)
    if np.linalg.matrix_rank(a) == n_cfg:
        s2 = np.maximum(np.linalg.solve(a, ss), floor)
        # The estimates' own dof (Satterthwaite): Var(SS) under these variances, mapped by A^-1.
        msm = m @ (s2[cfg][:, None] * m)
        cov_ss = 2.0 * g.T @ (msm**2) @ g
        inv = np.linalg.inv(a)
        var_s2 = np.einsum("ij,jk,ik->i", inv, cov_ss, inv)
        d = np.clip(2.0 * s2**2 / np.maximum(var_s2, 1e-300), np.minimum(1.0, d), d)
    else:  # cannot separate the configurations' variances: the homoscedastic estimate
        s2 = np.maximum(ss / np.where(d > 0, d, np.nan), floor)
        d = np.maximum(d, 1e-3)
    s2 = np.where(np.isfinite(s2), s2, pooled_var)
    d0, _ = fit_prior(s2, d)
    s0 = pooled_var  # the prior's scale: the pooled residual variance (unbiased, df_total dof)
    d0c = np.minimum(d0, np.maximum(df_total - d, 0.0))
    post = np.where(d0c > 0, (d0c * (s0 if np.isfinite(s0) else 0.0) + d * s2) / (d0c + d), s2)
    post_dof = d0c + d
    beta = np.concatenate([[0.0], (pinv @ yv)[n_cfg:]])
    return post, post_dof, int(df_total), beta, cfg, blk


class BlockModel:
    """The fitted model of every baseline group in a ``block_log_speedups`` table.

    ``table`` has one row per configuration (``MODEL_COLUMNS``): its speedup (exp of the mean
    log speedup over its blocks), standard error and dof of that log mean, the 95 % interval,
    its moderated residual variance and dof, the group's block variance, and whether the pooled
    model gave them (``pooled``; else the plain t over its blocks). ``difference(a, b)`` and
    ``covariance(a, b)`` compare two configurations (``GROUP_KEYS`` tuples).
    """

    def __init__(self, blocks: pd.DataFrame, confidence: float = CONFIDENCE) -> None:
        self.confidence = confidence
        self._values: dict[tuple, dict[int, float]] = {}
        self._group_of: dict[tuple, tuple] = {}
        self._resid: dict[tuple, tuple[float, float]] = {}
        self._block_var: dict[tuple, float] = {}
        self._df_total: dict[tuple, float] = {}
        records: list[dict] = []
        if blocks is not None and len(blocks):
            frame = blocks[np.isfinite(blocks["log_speedup"].astype("float64"))]
            for gkey, part in frame.groupby(list(BASELINE_KEYS), sort=True, dropna=False):
                records += self._fit_group(tuple(gkey), part)
        cols = list(MODEL_COLUMNS)
        self.table = (
            pd.DataFrame.from_records(records, columns=cols)
            if records
            else pd.DataFrame({c: pd.Series(dtype="object") for c in cols})
        )

    # ----------------------------------------------------------------------------- fitting

    def _fit_group(self, gkey: tuple, part: pd.DataFrame) -> list[dict]:
        keys = [tuple(k) for k in part[list(GROUP_KEYS)].itertuples(index=False, name=None)]
        blocks = part["block"].to_numpy(dtype="int64")
        y = part["log_speedup"].to_numpy(dtype="float64")
        per: dict[tuple, dict[int, float]] = {}
        for k, b, v in zip(keys, blocks, y):
            per.setdefault(k, {})[int(b)] = float(v)
        for k, vals in per.items():
            self._values[k] = vals
            self._group_of[k] = gkey
        configs = sorted(per, key=str)
        base = _baseline_times(part)
        if base is not None:
            timed = self._fit_times(gkey, configs, per, base)
            if timed is not None:
                done = {tuple(r[k] for k in GROUP_KEYS) for r in timed}
                return timed + self._plain(gkey, [k for k in configs if k not in done], per, None)
        multi = [k for k in configs if len(per[k]) >= 2]
        fitted = self._pooled(gkey, multi, per) if len(multi) >= MIN_CONFIGS else None
        return self._plain(gkey, configs, per, fitted)

    def _plain(
        self, gkey: tuple, configs: list[tuple], per: dict[tuple, dict[int, float]], fitted: dict | None
    ) -> list[dict]:
        """Records from the log-speedup model's fit (``fitted``), or the plain t over blocks."""
        out = []
        for k in configs:
            vals = np.array(list(per[k].values()), dtype="float64")
            n = vals.size
            if fitted is not None and k in fitted:
                resid_var, resid_dof, block_var, block_dof, spread = fitted[k]
                # The block effects' spread (B - 1 dof) and the configuration's own part: its
                # residual variance less what of the residual noise the spread already holds.
                own = resid_var - (spread - block_var)
                var = max(spread + own, spread) / n
                dof = satterthwaite(np.array([spread, max(own, 0.0)]), np.array([block_dof, resid_dof]))
                out.append(self._record(k, vals, math.sqrt(var), dof, resid_var=resid_var,
                                        resid_dof=resid_dof, block_var=block_var, pooled=True))  # fmt: skip
            elif n >= 2:
                out.append(self._record(k, vals, float(vals.std(ddof=1)) / math.sqrt(n), float(n - 1)))
            else:
                out.append(self._record(k, vals, np.nan, np.nan))
        return out

    def _record(self, key: tuple, vals: np.ndarray, se: float, dof: float, **fields: object) -> dict:
        """One row of ``table``: the configuration's mean log speedup over its blocks, its standard
        error and dof, the interval they give (none where either is unknown), and ``fields``."""
        mean = float(vals.mean())
        rec = dict(zip(GROUP_KEYS, key))
        rec.update(n_blocks=vals.size, log_estimate=mean, speedup=math.exp(mean), pooled=False, times=False)
        rec.update(se=se, dof=dof, ci_low=np.nan, ci_high=np.nan)
        rec.update(resid_var=np.nan, resid_dof=np.nan, block_var=np.nan)
        rec.update(fields)
        if np.isfinite(se) and np.isfinite(dof) and dof > 0:
            half = t_quantile_real(self.confidence, dof) * se
            half = min(half, 50.0)  # an unbounded interval stays finite (exp overflows past 709)
            rec.update(ci_low=math.exp(mean - half), ci_high=math.exp(mean + half))
        return rec

    def _pooled(
        self, gkey: tuple, configs: list[tuple], per: dict[tuple, dict[int, float]]
    ) -> dict[tuple, tuple[float, float, float, float, float]] | None:
        """Per configuration (moderated residual variance, its dof, block variance, its dof, the
        fitted block effects' variance), or None where the group cannot be fitted."""
        fit = fit_moderated(configs, per)
        if fit is None:
            return None
        post, post_dof, df_total, beta, cfg, blk = fit
        n_blk = beta.size
        # The block effects: the fitted effects scatter by sigma_beta^2 plus their own noise, about
        # the mean over blocks of (the residual variance of the block's configurations / their count).
        spread = float(np.var(beta, ddof=1))
        own = np.array([post[cfg[blk == b]].mean() / np.sum(blk == b) for b in range(n_blk)])
        block_var = spread - float(own.mean())  # may be negative: the configuration's part makes up
        block_dof = float(n_blk - 1)
        self._block_var[gkey] = block_var
        self._df_total[gkey] = float(df_total)
        out = {}
        for c, k in enumerate(configs):
            out[k] = (float(post[c]), float(post_dof[c]), block_var, block_dof, spread)
            self._resid[k] = (float(post[c]), float(post_dof[c]))
        return out

    def _fit_times(
        self, gkey: tuple, configs: list[tuple], per: dict[tuple, dict[int, float]], base: dict[int, float]
    ) -> list[dict] | None:
        """The group's records from the model on log *times* (``TIME_MODEL``), the baseline one of
        its configurations; None where it cannot be fitted (too few configurations or blocks)."""
        multi = [k for k in configs if len(per[k]) >= 2]
        if len(multi) + 1 < MIN_CONFIGS or len(base) < 2:
            return None
        # -log time of each configuration in each block: its log speedup less the block's log
        # baseline time; the baseline's own is -log baseline time.
        times = {k: {b: v - base[b] for b, v in per[k].items()} for k in multi}
        base_key = ("__baseline__", gkey)
        times[base_key] = {b: -v for b, v in base.items()}
        order = [*multi, base_key]
        fit = fit_moderated(order, times)
        if fit is None:
            return None
        post, post_dof, df_total, _, _, _ = fit
        s_base, d_base = float(post[-1]), float(post_dof[-1])
        self._block_var[gkey] = s_base  # what two configurations' estimates share: the baseline's noise
        self._df_total[gkey] = float(df_total)
        out = []
        for c, k in enumerate(multi):
            s_k, d_k = float(post[c]), float(post_dof[c])
            self._resid[k] = (s_k, d_k)
            vals = np.array(list(per[k].values()), dtype="float64")
            se = math.sqrt((s_k + s_base) / vals.size)
            dof = min(satterthwaite(np.array([s_k, s_base]), np.array([d_k, d_base])), float(df_total))
            out.append(self._record(k, vals, se, dof, resid_var=s_k, resid_dof=d_k, block_var=s_base,
                                    pooled=True, times=True))  # fmt: skip
        return out

    # ----------------------------------------------------------------------------- comparing

    def values(self, key: tuple) -> dict[int, float]:
        """The configuration's log speedup per block ({} when it has none)."""
        return self._values.get(tuple(key), {})

    def difference(self, a: tuple, b: tuple) -> Difference | None:
        """log speedup of ``a`` minus ``b``, paired over their common blocks; None under 2 blocks.

        Within one pooled group the standard error comes from the two moderated variances
        (Satterthwaite dof); otherwise from the per-block differences alone (K - 1 dof).
        """
        a, b = tuple(a), tuple(b)
        va, vb = self.values(a), self.values(b)
        common = sorted(set(va) & set(vb))
        if len(common) < 2:
            return None
        diffs = np.array([va[i] - vb[i] for i in common])
        k = len(common)
        same = self._group_of.get(a) == self._group_of.get(b)
        if same and a in self._resid and b in self._resid:
            (sa, da), (sb, db) = self._resid[a], self._resid[b]
            se = math.sqrt((sa + sb) / k)
            # Both posteriors lean on the same pooled residuals: together they hold no more
            # degrees of freedom than the whole fit.
            dof = min(
                satterthwaite(np.array([sa, sb]), np.array([da, db])), self._df_total[self._group_of[a]]
            )
            return Difference(float(diffs.mean()), se, dof, k, True)
        sd = float(diffs.std(ddof=1))
        return Difference(float(diffs.mean()), sd / math.sqrt(k), float(k - 1), k, False)

    def covariance(self, a: tuple, b: tuple) -> float:
        """Cov of the two configurations' log estimates: the block effects of their common blocks."""
        a, b = tuple(a), tuple(b)
        if a == b:
            row = self.table[[tuple(r) == a for r in self.table[list(GROUP_KEYS)].itertuples(index=False)]]
            return float(row["se"].iloc[0]) ** 2 if len(row) else np.nan
        if self._group_of.get(a) != self._group_of.get(b) or self._group_of.get(a) not in self._block_var:
            return np.nan
        va, vb = self.values(a), self.values(b)
        common = len(set(va) & set(vb))
        return max(self._block_var[self._group_of[a]], 0.0) * common / (len(va) * len(vb))


def _baseline_times(part: pd.DataFrame) -> dict[int, float] | None:
    """The group's log baseline time per block (``log_base``), or None where some value has none
    (adjacent pairs, or a table without the column): then the log-speedup model is fitted."""
    if "log_base" not in part:
        return None
    base = pd.to_numeric(part["log_base"], errors="coerce").to_numpy(dtype="float64")
    if not np.isfinite(base).all():
        return None
    out: dict[int, float] = {}
    for b, v in zip(part["block"].to_numpy(dtype="int64"), base):
        out.setdefault(int(b), float(v))
    return out


def several_blocks(rows: pd.DataFrame) -> bool:
    """Whether the rows span two blocks or more (rounds, or sweeps): else there is nothing to pool."""
    rounds = rows["round"].nunique(dropna=True) if "round" in rows else 1
    sweeps = rows["sweep_id"].nunique(dropna=True) if "sweep_id" in rows else 1
    return bool(len(rows)) and (rounds > 1 or sweeps > 1)


def model_of(rows: pd.DataFrame) -> BlockModel | None:
    """The block model of ``rows`` (``block_log_speedups``), or None where they span one block."""
    from .paired import block_log_speedups

    return BlockModel(block_log_speedups(rows)) if several_blocks(rows) else None


def moderate_summary(summary: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
    """``summary`` with the pooled model's speedup and interval wherever the model applies.

    Only configurations the pooled model fitted (>= 2 blocks, in a group of >= ``MIN_CONFIGS``)
    change: speedup (the same geometric mean of per-block speedups), its interval, efficiency,
    Karp-Flatt, ``interval_design`` (``DESIGN_MODERATED``) and the physics flag (recomputed on
    the new interval). Everything else is left as ``summarize`` made it.
    """
    from ..physics import physics_flags
    from .models import karp_flatt

    if summary.empty or rows.empty:
        return summary
    model = model_of(rows)
    if model is None:
        return summary
    fitted = model.table[model.table["pooled"].astype(bool)] if len(model.table) else model.table
    if fitted.empty:
        return summary
    index = {tuple(r): i for i, r in enumerate(summary[list(GROUP_KEYS)].itertuples(index=False, name=None))}
    out = summary.copy()
    for r in fitted.itertuples(index=False):
        key = tuple(getattr(r, k) for k in GROUP_KEYS)
        i = index.get(key)
        if i is None or not np.isfinite(r.ci_low):
            continue
        out.iloc[i, out.columns.get_loc("speedup")] = r.speedup
        out.iloc[i, out.columns.get_loc("speedup_ci_low")] = r.ci_low
        out.iloc[i, out.columns.get_loc("speedup_ci_high")] = r.ci_high
        design = TIME_MODEL if bool(getattr(r, "times", False)) else DESIGN_MODERATED
        out.iloc[i, out.columns.get_loc("interval_design")] = design
    used = out["workers"].astype("float64").where(out["backend"].ne("sequential"), 1.0)
    out["efficiency"] = out["speedup"].astype("float64") / used
    out["efficiency_ci_low"] = out["speedup_ci_low"].astype("float64") / used
    out["efficiency_ci_high"] = out["speedup_ci_high"].astype("float64") / used
    kf = karp_flatt(out["speedup"].to_numpy(dtype="float64"), out["workers"].to_numpy(dtype="float64"))
    out["karp_flatt"] = np.where(out["backend"].eq("sequential"), np.nan, kf)
    out["physics_flag"] = physics_flags(out)
    return out
