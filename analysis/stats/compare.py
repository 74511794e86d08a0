"""Comparisons that test what they claim: multiple comparisons with the best, on paired differences.

Two speedup intervals that overlap do not show two configurations equal: each holds the same
baseline's noise, so overlap misses most real differences (a 10 % difference at R = 3 about
90 % of the time). The comparisons here pair two configurations by block (the block effect
cancels) and use the block model's pooled variances (``blockmodel``), then apply Hsu's
multiple comparisons with the best (MCB, Hsu 1996, ch. 4):

- for each configuration i, the upper bound of mu_i - max_{j != i} mu_j is
  U_i = min_j (D_ij + q * se_ij), q the one-sided t quantile at alpha / (k - 1) (Bonferroni
  instead of Dunnett's exact constant: slightly conservative, and valid with unequal variances);
- the **best set** holds every configuration with U_i > -log(1 + ``MARGIN``): not clearly slower
  than the fastest by more than the margin;
- the best set is **decided** when it has one member, or when every member's ratio to the best
  estimate has its (two-sided, Bonferroni) interval inside [1/(1 + margin), 1 + margin]: then
  they are shown equivalent and the simplest (fewest workers) can be named; otherwise
  **undecided**, with the rounds a 5 % difference would need at this noise.

Without per-block values (a summary alone), a difference is tested from the two intervals:
their log half-widths give standard errors, combined as independent (normal); that is a test,
not an overlap rule, but unpaired and so less powerful.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import special

from .blockmodel import BlockModel, Difference, t_quantile_real

#: Equivalence margin: two configurations within 3 % of each other are the same answer. 3 %
#: is below what a user would choose a configuration for, and about the round-to-round noise of
#: a quiet 2-core VM (docs/measurement.md), so smaller differences are not claimed either way.
MARGIN = 0.03
#: The difference "about N more rounds" is quoted for (the issue's 5 %).
TARGET_DIFFERENCE = 0.05
#: Family-wise error rate of the comparisons with the best (one-sided, each direction).
ALPHA = 0.05
#: Power at which a TARGET_DIFFERENCE would be detected with the quoted number of rounds.
POWER = 0.8
#: Rounds quoted at most as "what would decide" (a difference right on the margin needs any number).
MAX_ROUNDS_QUOTED = 1000


@dataclass(frozen=True)
class Candidate:
    """One configuration entering a comparison: its key, log speedup and log interval."""

    key: Hashable
    log_speedup: float
    log_low: float = np.nan
    log_high: float = np.nan
    workers: int = 1


@dataclass
class Comparison:
    """The outcome of comparing candidates with the best."""

    order: list[Hashable]  # by estimate, fastest first
    best_set: list[Hashable]  # not clearly slower than the fastest (margin), fastest first
    decided: bool  # one member, or every member shown within the margin of the best
    #: Per candidate: (ratio to the fastest estimate, low, high) from the paired difference.
    ratio_to_best: dict[Hashable, tuple[float, float, float]] = field(default_factory=dict)
    #: Per candidate: U_i of MCB on the log scale (its ratio to the best of the others, upper bound).
    upper: dict[Hashable, float] = field(default_factory=dict)
    #: Rounds in all a 5 % difference between the two leaders would need (None: not known).
    rounds_needed: int | None = None
    rounds_now: int | None = None


def _fallback_difference(a: Candidate, b: Candidate) -> Difference | None:
    """From the two 95 % intervals: standard errors from their log half-widths, combined unpaired."""
    z = float(special.ndtri(0.975))
    ses = []
    for c in (a, b):
        if not (np.isfinite(c.log_low) and np.isfinite(c.log_high)):
            return None
        ses.append((c.log_high - c.log_low) / (2 * z))
    se = math.hypot(*ses)
    if not se > 0:
        return None
    return Difference(a.log_speedup - b.log_speedup, se, np.inf, 0, False)


def rounds_for(sd_per_block: float, difference: float = TARGET_DIFFERENCE, power: float = POWER) -> int:
    """Blocks a paired comparison needs to detect ``difference`` (relative) with ``power`` at ALPHA
    one-sided, when one block's log difference has SD ``sd_per_block`` (normal approximation)."""
    if not (np.isfinite(sd_per_block) and sd_per_block > 0):
        return 2
    z = float(special.ndtri(1 - ALPHA)) + float(special.ndtri(power))
    return max(2, math.ceil((z * sd_per_block / math.log1p(difference)) ** 2))


def compare_with_best(
    candidates: Sequence[Candidate], model: BlockModel | None = None, margin: float = MARGIN
) -> Comparison:
    """Hsu's MCB over ``candidates`` (paired by block through ``model`` where it has their values)."""
    cands = sorted(candidates, key=lambda c: (-c.log_speedup, c.workers, str(c.key)))
    order = [c.key for c in cands]
    if not cands:
        return Comparison([], [], True)
    k = len(cands)
    if k == 1:
        c = cands[0]
        return Comparison(order, order, True, {c.key: (1.0, 1.0, 1.0)}, {c.key: np.inf})
    diffs: dict[tuple[int, int], Difference | None] = {}

    def diff(i: int, j: int) -> Difference | None:
        if (i, j) not in diffs:
            d = model.difference(cands[i].key, cands[j].key) if model is not None else None
            diffs[(i, j)] = d if d is not None else _fallback_difference(cands[i], cands[j])
        return diffs[(i, j)]

    one_sided = 1 - ALPHA / (k - 1)  # Bonferroni over the k - 1 comparisons of each candidate
    two_sided = 1 - ALPHA / (k - 1)
    log_margin = math.log1p(margin)
    upper: dict[Hashable, float] = {}
    for i, c in enumerate(cands):
        bounds = []
        for j in range(k):
            if j == i:
                continue
            d = diff(i, j)
            if d is None:
                bounds.append(np.inf)  # cannot tell: never clearly slower
                continue
            q = t_quantile_real(2 * one_sided - 1, d.dof)
            bounds.append(d.estimate + q * d.se)
        upper[c.key] = float(min(bounds))
    best_set = [c.key for c in cands if upper[c.key] > -log_margin]
    ratios: dict[Hashable, tuple[float, float, float]] = {order[0]: (1.0, 1.0, 1.0)}
    widths_ok = True
    for i in range(1, k):
        d = diff(i, 0)
        if d is None:
            ratios[order[i]] = (math.exp(cands[i].log_speedup - cands[0].log_speedup), np.nan, np.nan)
            if order[i] in best_set:
                widths_ok = False
            continue
        lo, hi = d.interval(two_sided)
        ratios[order[i]] = (math.exp(d.estimate), math.exp(lo), math.exp(hi))
        if order[i] in best_set and not (lo > -log_margin and hi < log_margin):
            widths_ok = False
    decided = len(best_set) == 1 or widths_ok
    result = Comparison(order, best_set, decided, ratios, upper)
    if len(best_set) >= 2:
        d = diff(order.index(best_set[1]), 0)
        if d is not None and d.n_blocks:
            sd = d.se * math.sqrt(d.n_blocks)
            result.rounds_needed = rounds_for(sd)
            result.rounds_now = d.n_blocks
    return result


def rounds_to_decide(
    sd_per_round: float, estimate: float, margin: float = MARGIN, tests: int = 1, floor: int = 2
) -> int:
    """Rounds after which a log difference ``estimate`` (of one round's SD ``sd_per_round``)
    would be shown inside the margin (equivalent) or outside it (separated), with power
    ``POWER`` at ``ALPHA`` Bonferroni over ``tests``; ``MAX_ROUNDS_QUOTED`` where the estimate
    sits on the margin (no number of rounds decides that)."""
    if not (np.isfinite(sd_per_round) and sd_per_round > 0 and np.isfinite(estimate)):
        return floor
    gap = abs(abs(estimate) - math.log1p(margin))
    z = float(special.ndtri(1 - ALPHA / max(tests, 1))) + float(special.ndtri(POWER))
    if gap <= 0:
        return MAX_ROUNDS_QUOTED
    return int(min(MAX_ROUNDS_QUOTED, max(floor, math.ceil((z * sd_per_round / gap) ** 2))))


def rounds_to_decide_best_set(
    model: Any, comparison: Comparison, margin: float = MARGIN, floor: int = 2
) -> int | None:
    """Rounds that would decide the best set: for every member against the fastest, the larger of
    the rounds a 5 % difference needs and the rounds its observed difference needs to fall clearly
    inside or outside the margin, at their measured paired noise; the largest over the members.
    ``model`` is anything with ``difference(a, b)`` (a ``BlockModel``); None without a second member."""
    if model is None or len(comparison.best_set) < 2:
        return None
    leader = comparison.order[0]
    needed = []
    for k in comparison.best_set:
        if k == leader:
            continue
        d = model.difference(k, leader)
        if d is None or not d.n_blocks:
            continue
        sd = d.se * math.sqrt(d.n_blocks)
        tests = len(comparison.order) - 1
        decide = rounds_to_decide(sd, d.estimate, margin, tests, floor)
        needed.append(max(rounds_for(sd, TARGET_DIFFERENCE), decide))
    return max(needed) if needed else None


def rounds_to_separate(
    a: Candidate,
    b: Candidate,
    model: BlockModel | None = None,
    rounds: int = 0,
    difference: float = TARGET_DIFFERENCE,
) -> tuple[int | None, int | None]:
    """(rounds in all, rounds now) for a paired comparison of ``a`` and ``b`` to detect a
    ``difference`` (5 %) with 80 % power at this noise; (None, None) where the noise is unknown."""
    d = model.difference(a.key, b.key) if model is not None else None
    if d is not None:
        return rounds_for(d.se * math.sqrt(d.n_blocks), difference), d.n_blocks
    d = _fallback_difference(a, b)
    if d is None or rounds < 1:
        return None, None
    return rounds_for(d.se * math.sqrt(rounds), difference), rounds


def paired_log_ratio(
    a: np.ndarray, a_blocks: np.ndarray, b: np.ndarray, b_blocks: np.ndarray, confidence: float = 0.95
) -> tuple[float, float, float, int] | None:
    """The ratio a / b paired by block: per block the ratio of the two medians, then the geometric
    mean over the blocks both have and its t interval (K - 1 dof) on the logs.

    The claims that compare two configurations (or two families of backends) use it wherever the
    sweep has rounds: a slow round slows both sides and cancels. None under two common blocks
    (the caller falls back on the bootstrap over the runs of its one round).
    """
    a, b = np.asarray(a, dtype="float64"), np.asarray(b, dtype="float64")
    a_blocks, b_blocks = np.asarray(a_blocks), np.asarray(b_blocks)
    keep_a, keep_b = np.isfinite(a) & (a > 0), np.isfinite(b) & (b > 0)
    a, a_blocks, b, b_blocks = a[keep_a], a_blocks[keep_a], b[keep_b], b_blocks[keep_b]
    common = np.intersect1d(a_blocks, b_blocks)
    if common.size < 2:
        return None
    logs = np.array(
        [np.log(np.median(a[a_blocks == k])) - np.log(np.median(b[b_blocks == k])) for k in common]
    )
    mean = float(logs.mean())
    half = t_quantile_real(confidence, common.size - 1) * float(logs.std(ddof=1)) / math.sqrt(common.size)
    return math.exp(mean), math.exp(mean - half), math.exp(mean + half), int(common.size)
