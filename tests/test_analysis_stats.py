"""Statistics on synthetic sweeps whose truth is known: perfect scaling, Amdahl f=0.2, failures."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from coresweep.analysis.load import load_results
from coresweep.analysis.stats import (
    amdahl_speedup,
    best_per_workload,
    bootstrap_medians,
    fit_amdahl,
    karp_flatt,
    percentile_ci,
    scaling_fits,
    summarize,
)
from tests.test_analysis_synth import amdahl_wall, ladder, write_sweep


def _summary(tmp_path: Path, wall, workers=(1, 2, 4, 8), noise=0.01, **kwargs) -> pd.DataFrame:
    sweep = write_sweep(tmp_path / "s", ladder(["process_pool"], workers), wall, noise=noise, **kwargs)
    rows, _envs, _warnings = load_results([sweep])
    return summarize(rows)


def _parallel(summary: pd.DataFrame) -> pd.DataFrame:
    return summary[summary["backend"].eq("process_pool")].set_index("workers")


def test_perfect_scaling_gives_speedup_equal_to_workers(tmp_path: Path) -> None:
    par = _parallel(_summary(tmp_path, amdahl_wall(2.0, 0.0), noise=0.0))
    for p in (1, 2, 4, 8):
        assert par.at[p, "speedup"] == pytest.approx(p, rel=1e-9)
        assert par.at[p, "efficiency"] == pytest.approx(1.0, rel=1e-9)
    assert np.allclose(par.loc[[2, 4, 8], "karp_flatt"], 0.0, atol=1e-9)
    assert np.isnan(par.at[1, "karp_flatt"])


def test_speedup_interval_contains_the_truth_under_noise(tmp_path: Path) -> None:
    par = _parallel(_summary(tmp_path, amdahl_wall(1.0, 0.0), noise=0.02, repeats=15))
    for p in (2, 4, 8):
        assert par.at[p, "speedup_ci_low"] <= p * 1.02 and par.at[p, "speedup_ci_high"] >= p * 0.98
        assert par.at[p, "speedup_ci_low"] < par.at[p, "speedup"] < par.at[p, "speedup_ci_high"]
        assert par.at[p, "efficiency_ci_low"] == pytest.approx(par.at[p, "speedup_ci_low"] / p)


def test_amdahl_serial_fraction_is_recovered(tmp_path: Path) -> None:
    summary = _summary(tmp_path, amdahl_wall(1.0, 0.2), workers=(1, 2, 4, 8, 16), noise=0.01)
    fits = scaling_fits(summary)
    assert len(fits) == 1
    fit = fits.iloc[0]
    assert fit["serial_fraction"] == pytest.approx(0.2, abs=0.02)
    assert fit["serial_fraction_ci_low"] <= 0.2 + 0.02 and fit["serial_fraction_ci_high"] >= 0.2 - 0.02
    assert fit["amdahl_limit"] == pytest.approx(5.0, rel=0.15)
    # Karp-Flatt of pure Amdahl data is the serial fraction at every p.
    par = _parallel(summary)
    assert np.allclose(par.loc[[2, 4, 8, 16], "karp_flatt"], 0.2, atol=0.03)


def test_fit_amdahl_needs_three_worker_counts() -> None:
    assert np.isnan(fit_amdahl([1, 2], [1.0, 1.6])["serial_fraction"])
    p = np.array([1, 2, 4, 8, 32])
    assert fit_amdahl(p, amdahl_speedup(p, 0.05))["serial_fraction"] == pytest.approx(0.05, abs=1e-6)


def test_karp_flatt_formula() -> None:
    assert karp_flatt(4.0, 4)[()] == pytest.approx(0.0)
    assert karp_flatt(1.0, 4)[()] == pytest.approx(1.0)
    assert np.isnan(karp_flatt(1.0, 1)[()])


def test_failed_rows_are_counted_not_timed(tmp_path: Path) -> None:
    def fail(config, rep):
        if config["backend"] == "process_pool" and config["workers"] == 4:
            return "BrokenProcessPool" if rep < 3 else None
        if config["workers"] == 8 and config["backend"] == "process_pool":
            return "wrong result"
        return None

    # A failed run with a (fast) time must not count either: rewrite one with wall_s set.
    summary = _summary(tmp_path, amdahl_wall(1.0, 0.0), fail=fail)
    par = _parallel(summary)
    assert (par.at[4, "n_ok"], par.at[4, "n_failed"]) == (2, 3)
    assert par.at[8, "n_ok"] == 0 and par.at[8, "n_failed"] == 5
    assert np.isnan(par.at[8, "median_wall_s"]) and np.isnan(par.at[8, "speedup"])
    assert par.at[4, "speedup"] == pytest.approx(4.0, rel=0.05)


def test_failed_row_with_a_time_is_not_timed(tmp_path: Path) -> None:
    sweep = write_sweep(tmp_path / "s", ladder(["process_pool"], [2]), amdahl_wall(1.0, 0.0), noise=0.0)
    path = sweep / "1" / "results.jsonl"
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    lines[0].update(ok=False, verified=False, wall_s=1e-6, error=None)  # fast but wrong
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    rows, _, _ = load_results([sweep])
    bad = rows[~rows["ok"]]
    assert len(bad) == 1 and bad.iloc[0]["error"] == "wrong result (not verified)"
    par = _parallel(summarize(rows))
    assert par.at[2, "n_failed"] == 1 and par.at[2, "median_wall_s"] == pytest.approx(0.5)


def test_single_run_has_no_interval_and_says_why(tmp_path: Path) -> None:
    summary = _summary(tmp_path, amdahl_wall(1.0, 0.0), workers=(2,), repeats=1)
    par = _parallel(summary)
    assert par.at[2, "speedup"] == pytest.approx(2.0, rel=0.05)
    assert np.isnan(par.at[2, "speedup_ci_low"]) and "fewer than 2" in par.at[2, "note"]


def test_no_sequential_baseline_gives_nan_speedup(tmp_path: Path) -> None:
    configs = [c for c in ladder(["thread_pool"], [1, 2]) if c["backend"] != "sequential"]
    sweep = write_sweep(tmp_path / "s", configs, amdahl_wall(1.0, 0.0))
    rows, _, _ = load_results([sweep])
    summary = summarize(rows)
    assert summary["speedup"].isna().all()
    assert summary["baseline"].str.startswith("none").all()
    assert summary["speedup_vs_1worker"].tolist() == pytest.approx([1.0, 2.0], rel=0.05)


def test_baseline_prefers_collect_return(tmp_path: Path) -> None:
    configs = [
        {"backend": "sequential", "workers": 1, "collect": "return"},
        {"backend": "sequential", "workers": 1, "collect": "manager_list"},
        {"backend": "process_pool", "workers": 2, "collect": "manager_list"},
    ]

    def wall(c):
        return {"return": 1.0, "manager_list": 3.0}[c["collect"]] / c["workers"]

    sweep = write_sweep(tmp_path / "s", configs, wall, noise=0.0)
    rows, _, _ = load_results([sweep])
    summary = summarize(rows)
    par = summary[summary["backend"].eq("process_pool")].iloc[0]
    assert par["baseline_wall_s"] == pytest.approx(1.0)
    assert "collect=return" in par["baseline"]


def test_summary_is_deterministic(tmp_path: Path) -> None:
    sweep = write_sweep(tmp_path / "s", ladder(["process_pool", "thread"], [1, 2, 4]), amdahl_wall(1.0, 0.1))
    rows, _, _ = load_results([sweep])
    a = summarize(rows).to_csv(index=False)
    b = summarize(rows.sample(frac=1.0, random_state=3)).to_csv(index=False)
    assert a == b


def test_exact_bootstrap_matches_resampling() -> None:
    rng = np.random.default_rng(1)
    for n in (5, 6, 11, 40):
        x = rng.lognormal(0.0, 0.3, n)
        fast = percentile_ci(bootstrap_medians(x, seed=7, n_boot=20000))
        slow = np.median(x[rng.integers(0, n, size=(20000, n))], axis=1)
        ref = np.quantile(slow, [0.025, 0.975])
        spread = np.ptp(x)
        assert abs(fast[0] - ref[0]) < 0.08 * spread and abs(fast[1] - ref[1]) < 0.08 * spread


def test_best_per_workload_picks_fastest(tmp_path: Path) -> None:
    summary = _summary(tmp_path, amdahl_wall(1.0, 0.2))
    best = best_per_workload(summary)
    assert len(best) == 1 and best.iloc[0]["workers"] == 8


def test_speedup_is_against_the_sequential_run_under_the_same_interpreter(tmp_path: Path) -> None:
    # python= sweeps: each interpreter (and GIL state) has its own baseline and its own lines.
    pythons = [("3.11.7", True, 1.0), ("3.12.1", True, 1.5), ("3.13.1", True, 2.0), ("3.13.1", False, 2.2)]
    configs = [
        {"backend": backend, "workers": workers, "python": version, "gil_enabled": gil}
        for version, gil, _ in pythons
        for backend, workers in (("sequential", 1), ("thread_pool", 2))
    ]
    slowness = {(v, g): s for v, g, s in pythons}

    def wall(c):
        scale = slowness[(c["python"], c["gil_enabled"])]
        return scale / (2.0 if c["backend"] == "thread_pool" and not c["gil_enabled"] else 1.0)

    rows, _, _ = load_results([write_sweep(tmp_path / "s", configs, wall, noise=0.0)])
    summary = summarize(rows)
    assert len(summary) == 8
    threads = summary[summary["backend"].eq("thread_pool")].set_index(["python", "gil_enabled"])
    assert threads.loc[("3.12.1", True), "speedup"] == pytest.approx(1.0)
    assert threads.loc[("3.13.1", True), "baseline_wall_s"] == pytest.approx(2.0)
    assert threads.loc[("3.13.1", False), "speedup"] == pytest.approx(2.0)


def test_two_functions_of_workload_custom_are_two_workloads() -> None:
    from coresweep.analysis.stats.keys import name_functions

    rows = pd.DataFrame(
        {"workload": ["custom", "custom", "cpu_python"], "fn": ["m:f", "m:g", None], "wall_s": [1.0, 2, 3]}
    )
    named = name_functions(rows)
    assert named["workload"].tolist() == ["custom (m:f)", "custom (m:g)", "cpu_python"]
    one = rows.assign(fn=["m:f", "m:f", None])
    assert name_functions(one)["workload"].tolist() == ["custom", "custom", "cpu_python"]
    plain = name_functions(rows.drop(columns=["fn"]))
    assert plain["workload"].tolist() == ["custom", "custom", "cpu_python"]
