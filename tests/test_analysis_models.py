"""Scaling models on synthetic sweeps with a known truth: USL, Amdahl's CI, grain crossover, weak scaling."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from coresweep.analysis.load import load_results
from coresweep.analysis.stats import (
    FIT_RMSE_REL_MAX,
    crossover_grains,
    fit_amdahl,
    fit_usl,
    scaling_fits,
    summarize,
    usl_speedup,
    weak_scaling,
)
from tests.test_analysis_synth import ladder, write_sweep


def _summary(tmp_path: Path, configs, wall, **kwargs) -> pd.DataFrame:
    sweep = write_sweep(tmp_path / "s", configs, wall, **kwargs)
    rows, _envs, _warnings = load_results([sweep])
    return summarize(rows)


# ----------------------------------------------------------------------------- USL


def test_usl_recovers_contention_and_coherency(tmp_path: Path) -> None:
    sigma, kappa, gamma = 0.05, 0.002, 0.9

    def wall(c):
        if c["backend"] == "sequential":
            return 1.0
        return 1.0 / float(usl_speedup(c["workers"], sigma, kappa, gamma))

    summary = _summary(tmp_path, ladder(["process_pool"], [1, 2, 4, 8, 16, 32]), wall, noise=0.002)
    fit = scaling_fits(summary).iloc[0]
    assert fit["usl_sigma"] == pytest.approx(sigma, abs=0.01)
    assert fit["usl_kappa"] == pytest.approx(kappa, abs=0.0005)
    assert fit["usl_gamma"] == pytest.approx(gamma, abs=0.02)
    assert fit["usl_sigma_ci_low"] <= fit["usl_sigma"] <= fit["usl_sigma_ci_high"]
    assert fit["usl_kappa_ci_low"] <= kappa <= fit["usl_kappa_ci_high"] * 1.05
    assert fit["usl_peak_workers"] == pytest.approx(math.sqrt((1 - sigma) / kappa), rel=0.15)
    assert fit["usl_note"] == ""
    # Retrograde scaling is what Amdahl cannot describe: it says so instead of a silent number.
    assert fit["amdahl_fits"] in ("yes", "no")


def test_usl_needs_four_worker_counts_and_says_so(tmp_path: Path) -> None:
    out = fit_usl([1, 2, 4], [1.0, 1.9, 3.5])
    assert np.isnan(out["sigma"]) and "too few worker counts for USL (3 < 4)" in out["note"]
    summary = _summary(tmp_path, ladder(["process_pool"], [1, 2]), lambda c: 1.0 / c["workers"])
    fits = scaling_fits(summary)
    assert len(fits) == 1
    row = fits.iloc[0]
    assert np.isnan(row["serial_fraction"]) and "too few worker counts for Amdahl (2 < 3)" in row["note"]
    assert "too few worker counts for USL (2 < 4)" in row["usl_note"]


def test_usl_bounds_keep_parameters_non_negative() -> None:
    p = np.array([1, 2, 4, 8, 16])
    out = fit_usl(p, p * 1.0)  # perfect scaling: the best fit sits on the bounds
    assert out["sigma"] >= 0 and out["kappa"] >= 0
    assert out["sigma"] == pytest.approx(0, abs=1e-6) and out["kappa"] == pytest.approx(0, abs=1e-6)
    assert out["peak_workers"] == np.inf or out["peak_workers"] > 1e3


def test_usl_on_its_bound_says_speedup_never_falls(tmp_path: Path) -> None:
    from coresweep.analysis.report_html import _scaling_html

    # Amdahl-shaped data: no coherency cost, so the fit puts kappa on its bound.
    summary = _summary(
        tmp_path, ladder(["process_pool"], [1, 2, 4, 8, 16]), lambda c: 0.2 + 0.8 / c["workers"], noise=0.0
    )
    fit = scaling_fits(summary).iloc[0]
    assert fit["usl_kappa"] == 0.0 and fit["usl_peak_workers"] == np.inf
    assert "never (κ = 0)" in _scaling_html(scaling_fits(summary))


# ----------------------------------------------------------------------------- Amdahl


def test_amdahl_always_has_a_ci_or_says_why(tmp_path: Path) -> None:
    summary = _summary(
        tmp_path, ladder(["process_pool"], [1, 2, 4, 8]), lambda c: 0.2 + 0.8 / c["workers"], noise=0.01
    )
    fit = scaling_fits(summary).iloc[0]
    assert fit["serial_fraction_ci_low"] <= fit["serial_fraction"] <= fit["serial_fraction_ci_high"]
    assert fit["serial_fraction_ci_method"] == "covariance" and fit["amdahl_fits"] == "yes"


def test_amdahl_ci_falls_back_on_the_speedup_interval_envelope(monkeypatch) -> None:
    from coresweep.analysis import stats

    real = stats.models._amdahl_lsq
    monkeypatch.setattr(stats.models, "_amdahl_lsq", lambda p, s: (real(p, s)[0], np.nan))
    p = np.array([1.0, 2.0, 4.0, 8.0])
    s = stats.amdahl_speedup(p, 0.2)
    out = fit_amdahl(p, s, speedup_low=s * 0.95, speedup_high=s * 1.05)
    assert out["ci_method"] == "speedup-CI envelope"
    assert out["ci_low"] < 0.2 < out["ci_high"]


def test_amdahl_states_does_not_fit_for_retrograde_scaling(tmp_path: Path) -> None:
    def wall(c):  # fast up to 4 workers, then much slower: nothing like Amdahl
        if c["backend"] == "sequential":
            return 1.0
        return {1: 1.0, 2: 0.5, 4: 0.25, 8: 1.0, 16: 4.0}[c["workers"]]

    summary = _summary(tmp_path, ladder(["process_pool"], [1, 2, 4, 8, 16]), wall, noise=0.0)
    fit = scaling_fits(summary).iloc[0]
    assert fit["amdahl_fits"] == "no"
    assert "does not fit" in fit["note"] and f"{FIT_RMSE_REL_MAX:.0%}" in fit["note"]


# ----------------------------------------------------------------------------- grain crossover

#: Per-task overhead (s) per backend; total work 1 s cut into size = 1e5 / grain tasks.
OVERHEAD = {"process_pool": 1e-4, "thread_pool": 0.0, "joblib_loky": 1e-7}


def _grain_wall(c):
    if c["backend"] == "sequential":
        return 1.0
    if c["backend"] == "thread_pool":
        return 1.05  # GIL-bound: never pays
    return 1.0 / c["workers"] + OVERHEAD[c["backend"]] * c["size"]


def _grain_configs(grains=(10, 100, 1000, 10000)):
    configs = []
    for g in grains:
        configs += ladder(list(OVERHEAD), [2], grain=g, size=100_000 // g)
    return configs


def test_crossover_grain_is_interpolated_in_log_grain(tmp_path: Path) -> None:
    summary = _summary(tmp_path, _grain_configs(), _grain_wall, noise=0.005)
    cross = crossover_grains(summary).set_index("backend")
    assert set(cross.index) == set(OVERHEAD)
    # process_pool: speedup 1/(0.5 + 1e-4 * 1e5/g) -> 0.667 at g=10, 1.667 at g=100; log-linear
    # interpolation puts 1.0 a third of the way: 10 * 10**(1/3) = 21.5.
    pp = cross.loc["process_pool"]
    assert pp["crossover"] == "crosses" and pp["held_fixed"] == "work=1e+05"
    assert pp["crossover_grain"] == pytest.approx(10 * 10 ** (1 / 3), rel=0.05)
    assert pp["crossover_grain_ci_low"] <= pp["crossover_grain"] <= pp["crossover_grain_ci_high"]
    assert cross.loc["thread_pool", "crossover"] == "never"
    assert np.isnan(cross.loc["thread_pool", "crossover_grain"])
    assert cross.loc["joblib_loky", "crossover"] == "always"
    assert cross.loc["joblib_loky", "n_grains"] == 4


def test_no_crossover_rows_without_a_grain_sweep(tmp_path: Path) -> None:
    summary = _summary(tmp_path, ladder(["process_pool"], [1, 2]), lambda c: 1.0 / c["workers"])
    assert crossover_grains(summary).empty


def test_fixed_size_grain_series_are_found_too(tmp_path: Path) -> None:
    configs = []
    for g in (10, 100, 1000):
        configs += ladder(["process_pool"], [2], grain=g, size=500)
    summary = _summary(
        tmp_path, configs, lambda c: c["grain"] / (1.0 if c["backend"] == "sequential" else 1.8)
    )
    cross = crossover_grains(summary)
    assert list(cross["held_fixed"]) == ["size=500"] and cross["crossover"].iloc[0] == "always"


# ----------------------------------------------------------------------------- weak scaling


def _weak_configs(with_sequential_at_every_size: bool = True):
    configs = []
    for p in (1, 2, 4, 8):
        if with_sequential_at_every_size or p == 1:
            configs.append({"backend": "sequential", "workers": p, "size": 32 * p})
        configs.append({"backend": "process_pool", "workers": p, "size": 32 * p, "start_method": "fork"})
    return configs


def _weak_wall(c):
    t_seq = c["size"] / 32  # sequential time grows linearly with size
    if c["backend"] == "sequential":
        return t_seq
    return t_seq * (0.1 + 0.9 / c["workers"])  # 10% serial part: Gustafson alpha from S


def test_gustafson_scaled_speedup_for_weak_scaling_data(tmp_path: Path) -> None:
    summary = _summary(tmp_path, _weak_configs(), _weak_wall, noise=0.0)
    weak = weak_scaling(summary).set_index("workers")
    assert list(weak.index) == [1, 2, 4, 8]
    for p in (2, 4, 8):
        s = 1.0 / (0.1 + 0.9 / p)
        assert weak.at[p, "scaled_speedup"] == pytest.approx(s, rel=1e-6)
        assert weak.at[p, "gustafson_serial_fraction"] == pytest.approx((p - s) / (p - 1), rel=1e-6)
        assert weak.at[p, "baseline"] == "sequential at the same size"
    assert (weak["size_per_worker"] == 32).all()


def test_gustafson_falls_back_on_linear_growth_when_only_the_small_size_ran(tmp_path: Path) -> None:
    summary = _summary(tmp_path, _weak_configs(False), _weak_wall, noise=0.0)
    weak = weak_scaling(summary).set_index("workers")
    assert weak.at[4, "scaled_speedup"] == pytest.approx(1.0 / (0.1 + 0.9 / 4), rel=1e-6)
    assert "assumes linear" in weak.at[4, "baseline"]


def test_gustafson_does_not_apply_to_strong_scaling_grids(tmp_path: Path) -> None:
    configs = []
    for size in (64, 128):
        configs += ladder(["process_pool"], [1, 2], size=size)
    summary = _summary(tmp_path, configs, lambda c: c["size"] / 64 / c["workers"])
    assert weak_scaling(summary).empty


def test_crossover_only_where_the_interval_crosses_1_upward(tmp_path: Path) -> None:
    """GIL-bound threads hovering around 1 (median 0.98 then 1.02, noisy) get no crossover mark."""

    def wall(c):
        if c["backend"] == "sequential":
            return 1.0
        return {10: 1.02, 100: 1.01, 1000: 0.98, 10000: 0.99}[c["grain"]]

    configs = []
    for g in (10, 100, 1000, 10000):
        configs += ladder(["thread_pool"], [2], grain=g, size=100_000 // g)
    summary = _summary(tmp_path, configs, wall, noise=0.08)
    row = crossover_grains(summary).iloc[0]
    assert row["crossover"] == "unclear", row.to_dict()
    assert np.isnan(row["crossover_grain"]) and "no clear crossover" in row["note"]
