"""Speedups from adjacent pairs, on synthetic sweeps: a planted speedup recovered through drift
that rounds cannot cancel, intervals from the pairs, and rows without pairs read as before."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from coresweep.analysis.load import load_results
from coresweep.analysis.stats import summarize
from coresweep.analysis.stats.paired import SOURCE_PAIRS, SOURCE_ROUNDS, block_log_speedups
from coresweep.analysis.stats.summary import BASELINE_PAIRS, DESIGN_PAIRS, DESIGN_ROUNDS, DESIGN_RUNS
from tests.test_analysis_rounds import TRUE_SPEEDUP, _one_config, _simulated_wall, write_rounds

#: Drift between jobs of one round, far more than the pairs see (they are a fraction of a second apart).
WILD = {"round_drift": (0.7, 1.3), "job_drift": (0.8, 1.2)}
#: The noise of one adjacent pair (relative), as on a VM whose neighbouring runs agree within a few %.
PAIR_NOISE = 0.01


def add_pairs(sweep: Path, seed: int = 0, fail_round: int | None = None, noise: float = PAIR_NOISE) -> None:
    """Give the parallel jobs' rows adjacent pairs: a sequential time TRUE_SPEEDUP times the run's,
    with noise; ``fail_round`` gives that round's pairs a failed sequential run instead."""
    rng = np.random.default_rng(seed)
    for path in sweep.glob("*/results.jsonl"):
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        if rows[0]["backend"] == "sequential":
            continue
        for r in rows:
            r["paired"] = True
            if r["round"] == fail_round:
                r.update(pair_wall_s=None, pair_error="sequential run failed: RuntimeError: boom")
                continue
            pair = r["wall_s"] * TRUE_SPEEDUP * float(np.exp(noise * rng.standard_normal()))
            r.update(pair_wall_s=pair, pair_before_s=pair, pair_after_s=pair, pair_loops=1, pair_error=None)
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def _parallel(summary: pd.DataFrame) -> pd.Series:
    return summary[summary["backend"].eq("process_pool")].iloc[0]


def test_pairs_recover_a_planted_speedup_through_drift_rounds_cannot_cancel(tmp_path: Path) -> None:
    sweep = write_rounds(tmp_path / "s", _one_config(), _simulated_wall, rounds=4, repeats=2, seed=3, **WILD)
    before = _parallel(summarize(load_results([sweep])[0]))
    add_pairs(sweep, seed=3)
    after = _parallel(summarize(load_results([sweep])[0]))
    assert before["interval_design"] == DESIGN_ROUNDS
    assert after["interval_design"] == DESIGN_PAIRS
    assert after["baseline"] == BASELINE_PAIRS
    assert after["speedup"] == pytest.approx(TRUE_SPEEDUP, rel=0.02)
    assert after["speedup_ci_low"] <= TRUE_SPEEDUP <= after["speedup_ci_high"]
    half = (after["speedup_ci_high"] - after["speedup_ci_low"]) / 2 / after["speedup"]
    half_before = (before["speedup_ci_high"] - before["speedup_ci_low"]) / 2 / before["speedup"]
    assert half < 0.05 < half_before
    assert after["baseline_n"] == 8  # the pairs: 4 rounds x 2 runs
    assert after["efficiency"] == pytest.approx(after["speedup"] / 2)


def test_the_interval_is_t_over_rounds_of_the_mean_log_ratio(tmp_path: Path) -> None:
    from scipy import stats

    sweep = write_rounds(tmp_path / "s", _one_config(), _simulated_wall, rounds=3, repeats=2, seed=5)
    add_pairs(sweep, seed=5, noise=0.03)
    rows = load_results([sweep])[0]
    par = rows[rows["backend"].eq("process_pool")]
    per_round = (np.log(par["pair_wall_s"]) - np.log(par["wall_s"])).groupby(par["round"]).mean().to_numpy()
    mean, sd = per_round.mean(), per_round.std(ddof=1)
    half = stats.t.ppf(0.975, 2) * sd / np.sqrt(3)
    got = _parallel(summarize(rows))
    assert got["speedup"] == pytest.approx(np.exp(mean))
    assert got["speedup_ci_low"] == pytest.approx(np.exp(mean - half))
    assert got["speedup_ci_high"] == pytest.approx(np.exp(mean + half))
    blocks = block_log_speedups(rows)
    assert list(blocks["source"]) == [SOURCE_PAIRS] * 3
    assert blocks["log_speedup"].to_numpy() == pytest.approx(per_round)
    assert list(blocks["n"]) == [2, 2, 2]


def test_rounds_without_a_complete_pair_are_left_out_and_said(tmp_path: Path) -> None:
    sweep = write_rounds(tmp_path / "s", _one_config(), _simulated_wall, rounds=3, repeats=2, seed=1)
    add_pairs(sweep, seed=1, fail_round=1)
    rows = load_results([sweep])[0]
    got = _parallel(summarize(rows))
    assert got["interval_design"] == DESIGN_PAIRS
    assert "1 of 3 rounds have no complete adjacent pair" in got["note"]
    assert got["n_ok"] == 6 and got["baseline_n"] == 4  # the runs stay ok; their pairs are not counted
    assert list(block_log_speedups(rows)["block"]) == [0, 2]


def test_pairs_need_no_sequential_job(tmp_path: Path) -> None:
    sweep = write_rounds(tmp_path / "s", _one_config()[1:], _simulated_wall, rounds=3, repeats=2, seed=2)
    add_pairs(sweep, seed=2)
    rows = load_results([sweep])[0]
    got = _parallel(summarize(rows))
    assert got["interval_design"] == DESIGN_PAIRS
    assert got["speedup"] == pytest.approx(TRUE_SPEEDUP, rel=0.03)
    assert len(block_log_speedups(rows)) == 3


def test_one_round_of_pairs_is_the_runs_only_design(tmp_path: Path) -> None:
    sweep = write_rounds(tmp_path / "s", _one_config(), _simulated_wall, rounds=1, repeats=4, seed=4)
    add_pairs(sweep, seed=4)
    got = _parallel(summarize(load_results([sweep])[0]))
    assert got["interval_design"] == DESIGN_RUNS
    assert got["speedup"] == pytest.approx(TRUE_SPEEDUP, rel=0.05)
    assert got["speedup_ci_low"] < got["speedup"] < got["speedup_ci_high"]


def test_all_pairs_failed_falls_back_to_the_round_medians(tmp_path: Path) -> None:
    sweep = write_rounds(tmp_path / "s", _one_config(), _simulated_wall, rounds=2, repeats=2, seed=6)
    plain = _parallel(summarize(load_results([sweep])[0]))
    add_pairs(sweep)
    rows = load_results([sweep])[0]
    rows.loc[rows["backend"].eq("process_pool"), ["pair_wall_s"]] = np.nan  # every pair failed
    got = _parallel(summarize(rows))
    assert got["interval_design"] == DESIGN_ROUNDS
    assert got["speedup"] == pytest.approx(plain["speedup"])
    assert "no complete adjacent pair" in got["note"]
    assert set(block_log_speedups(rows)["source"]) == {SOURCE_ROUNDS}


def test_rows_without_pair_fields_summarise_exactly_as_before(tmp_path: Path) -> None:
    sweep = write_rounds(tmp_path / "s", _one_config(), _simulated_wall, rounds=3, repeats=2, seed=7)
    rows = load_results([sweep])[0]
    assert not any(c.startswith("pair") for c in rows.columns)  # nothing added to an old folder's rows
    summary = summarize(rows)
    # The same rows with the pair columns present but empty (a sweep that paired nothing).
    empty = rows.assign(paired=False, pair_wall_s=np.nan, pair_before_s=np.nan, pair_after_s=np.nan)
    pd.testing.assert_frame_equal(summarize(empty), summary)
    assert set(block_log_speedups(rows)["source"]) == {SOURCE_ROUNDS}
