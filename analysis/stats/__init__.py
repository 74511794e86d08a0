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

One module per concept; every public name is re-exported here:

- ``intervals``: the exact bootstrap of a median, percentile and Student t intervals, seeds;
- ``keys``: the sequential backend's name, worker ladders (``CURVE_KEYS``), baselines;
- ``blockmodel``: the configuration x block model, moderated variances (Smyth 2004);
- ``compare``: multiple comparisons with the best on paired differences (Hsu's MCB);
- ``race``: racing configurations round by round, then confirming the survivors on fresh rounds;
- ``summary``: ``summarize``, the summary table (speedup against its baseline, efficiency);
- ``models``: Amdahl, USL and Karp-Flatt, and ``scaling_fits``;
- ``grain``: speedup against task grain and the crossover grain;
- ``weak``: weak scaling (size grows with the workers).
"""

from __future__ import annotations

from .blockmodel import DESIGN_MODERATED, TIME_MODEL, BlockModel, moderate_summary
from .compare import MARGIN, compare_with_best
from .grain import CROSSOVER_COLUMNS, GRAIN_SERIES_KEYS, crossover_grains, grain_series
from .intervals import (
    CONFIDENCE,
    N_BOOT,
    bootstrap_medians,
    group_seed,
    percentile_ci,
    seed_key,
    t_log_mean,
    t_quantile,
    t_quantiles,
)
from .keys import BASELINE_KEYS, CURVE_KEYS, SEQUENTIAL, VARIANT_DIMS
from .models import (
    AMDAHL_MIN_POINTS,
    FIT_RMSE_REL_MAX,
    SCALING_COLUMNS,
    USL_LOWER,
    USL_MIN_POINTS,
    amdahl_speedup,
    fit_amdahl,
    fit_usl,
    karp_flatt,
    scaling_fits,
    usl_speedup,
)
from .race import Answer, Drop, Race, confirm, cut_to_confirm
from .summary import DESIGN_ROUNDS, DESIGN_RUNS, SUMMARY_COLUMNS, best_per_workload, summarize
from .weak import WEAK_COLUMNS, WEAK_KEYS, weak_scaling

__all__ = [
    "AMDAHL_MIN_POINTS",
    "BASELINE_KEYS",
    "CONFIDENCE",
    "CROSSOVER_COLUMNS",
    "CURVE_KEYS",
    "DESIGN_MODERATED",
    "TIME_MODEL",
    "BlockModel",
    "MARGIN",
    "DESIGN_ROUNDS",
    "DESIGN_RUNS",
    "FIT_RMSE_REL_MAX",
    "GRAIN_SERIES_KEYS",
    "N_BOOT",
    "SCALING_COLUMNS",
    "SEQUENTIAL",
    "SUMMARY_COLUMNS",
    "USL_LOWER",
    "USL_MIN_POINTS",
    "VARIANT_DIMS",
    "WEAK_COLUMNS",
    "WEAK_KEYS",
    "amdahl_speedup",
    "best_per_workload",
    "compare_with_best",
    "Answer",
    "Drop",
    "Race",
    "confirm",
    "cut_to_confirm",
    "moderate_summary",
    "bootstrap_medians",
    "crossover_grains",
    "fit_amdahl",
    "fit_usl",
    "grain_series",
    "group_seed",
    "karp_flatt",
    "percentile_ci",
    "scaling_fits",
    "seed_key",
    "summarize",
    "t_log_mean",
    "t_quantile",
    "t_quantiles",
    "usl_speedup",
    "weak_scaling",
]
