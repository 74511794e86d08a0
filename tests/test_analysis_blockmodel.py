"""The configuration x block model and the comparisons with the best (issue 29, points 3-5).

Statistical tests on synthetic data with a known truth (seeded; no timing). "4 % round noise"
means: each configuration's log speedup in each round has its own independent N(0, 0.04^2)
error (about 4 % CV), on top of a round effect shared by every configuration of that round
(the baseline's noise and the machine's speed then), which the paired comparisons cancel.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from coresweep.analysis.load import GROUP_KEYS, PATTERN_DEFAULTS, load_results
from coresweep.analysis.report import build_report, verdict_lines
from coresweep.analysis.stats import TIME_MODEL, summarize
from coresweep.analysis.stats.blockmodel import BlockModel
from coresweep.analysis.stats.compare import MARGIN, Candidate, compare_with_best, rounds_for
from coresweep.analysis.stats.paired import block_log_speedups
from tests.test_analysis_rounds import write_rounds

_BASE = {
    "machine": "vm",
    "start_method": "fork",
    "pinning": "none",
    "workload": "cpu_python",
    "size": 64,
    "grain": 10,
    "collect": "return",
    "python": "3.11",
    "gil_enabled": True,
    **PATTERN_DEFAULTS,
}


def _key(workers: int, backend: str = "pool") -> tuple:
    row = {**_BASE, "backend": backend, "workers": workers}
    return tuple(row[k] for k in GROUP_KEYS)


def _blocks(
    mu: np.ndarray,
    noise: np.ndarray | float,
    block_sd: float,
    rounds: int,
    rng: np.random.Generator,
    missing: float = 0.0,
) -> pd.DataFrame:
    """``block_log_speedups``-shaped rows: configuration c (pool with c + 1 workers) in each round."""
    noise = np.broadcast_to(np.asarray(noise, dtype="float64"), mu.shape)
    beta = rng.normal(0.0, block_sd, rounds)
    recs = []
    for c, (m, s) in enumerate(zip(mu, noise)):
        for b in range(rounds):
            if missing and b >= 2 and rng.random() < missing:
                continue  # unbalanced: this configuration has no value in this round
            value = m + beta[b] + rng.normal(0.0, s)
            recs.append({**_BASE, "backend": "pool", "workers": c + 1, "block": b, "sweep": 0,
                         "log_speedup": value, "n": 2, "source": "synthetic"})  # fmt: skip
    return pd.DataFrame(recs)


def _coverage(noise: list[float], block_sd: float, rounds: int, n: int, seed: int, missing: float = 0.0):
    rng = np.random.default_rng(seed)
    mu = np.log(np.linspace(1.0, 2.0, len(noise)))
    hits = np.zeros(len(noise))
    for _ in range(n):
        table = BlockModel(_blocks(mu, np.array(noise), block_sd, rounds, rng, missing)).table
        assert table["pooled"].all()
        c, covered = _covered(table, mu)
        hits[c] += covered
    return hits / n


def _covered(table: pd.DataFrame, mu: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each configuration's index (pool with c + 1 workers) and whether its interval holds mu[c]."""
    c = table["workers"].astype(int).to_numpy() - 1
    low = np.log(table["ci_low"].astype(float).to_numpy())
    high = np.log(table["ci_high"].astype(float).to_numpy())
    return c, (low <= mu[c]) & (mu[c] <= high)


@pytest.mark.slow  # a coverage simulation (seconds)
def test_moderated_intervals_cover_with_block_effects_and_unequal_noise() -> None:
    """Nominal 95 %: at least 93 % over many simulated sweeps, overall, in three designs."""
    cases = [
        ([0.04] * 6, 0.04, 3, 0.0),  # equal noise, round effect as large
        ([0.02, 0.02, 0.02, 0.04, 0.08, 0.10], 0.04, 3, 0.0),  # heteroscedastic
        ([0.02, 0.03, 0.05, 0.10, 0.02, 0.04], 0.05, 5, 0.3),  # unbalanced: some rounds missing
    ]
    for k, (noise, block_sd, rounds, missing) in enumerate(cases):
        cover = _coverage(noise, block_sd, rounds, n=300, seed=10 + k, missing=missing)
        assert cover.mean() >= 0.93, (k, cover)
        assert cover.min() >= 0.86, (k, cover)  # the noisiest configuration is pulled toward the pool


def test_pooling_narrows_the_interval_against_the_plain_t() -> None:
    rng = np.random.default_rng(3)
    frame = _blocks(np.log(np.linspace(1.0, 2.0, 6)), 0.04, 0.02, 3, rng)
    table = BlockModel(frame).table
    plain = []
    for _, part in frame.groupby("workers"):
        v = part["log_speedup"].to_numpy()
        plain.append(4.303 * v.std(ddof=1) / np.sqrt(3))  # t(0.975, 2 dof)
    pooled = np.log(table["ci_high"].astype(float)) - np.log(table["speedup"].astype(float))
    assert (table["dof"] > 2).all()
    assert np.median(pooled) < np.median(plain)


def test_one_block_and_two_configurations_keep_the_plain_design() -> None:
    rng = np.random.default_rng(0)
    two = BlockModel(_blocks(np.log([1.5, 1.8]), 0.03, 0.05, 4, rng)).table
    assert not two["pooled"].any() and (two["dof"] == 3).all()
    one = BlockModel(_blocks(np.log([1.5, 1.8, 1.9]), 0.03, 0.05, 1, rng)).table
    assert not one["pooled"].any() and one["ci_low"].isna().all()


@pytest.mark.slow  # a power simulation (seconds)
def test_paired_comparison_detects_a_ten_percent_difference_at_the_nominal_rate() -> None:
    """4 % round noise, R = 3, eight configurations (one workload of a small sweep): the paired test
    (one-sided, 5 %) finds a 10 % difference at least 80 % of the time, and a null one at most
    about 5 % of the time; overlap of the two speedup intervals finds it far less often."""
    n = 600
    detected = {0.0: 0, float(np.log(1.1)): 0}
    overlap_found = 0
    for diff in detected:
        rng = np.random.default_rng(2)
        for _ in range(n):
            mu = np.log(np.linspace(1.2, 2.0, 8))
            mu[1] = mu[0] + diff
            model = BlockModel(_blocks(mu, 0.04, 0.08, 3, rng))
            d = model.difference(_key(2), _key(1))
            low, _ = d.interval(0.95, one_sided=True)
            detected[diff] += low > 0
            if diff:
                t = model.table.set_index("workers")
                overlap_found += t.loc[2, "ci_low"] > t.loc[1, "ci_high"]
    null, real = detected.values()
    assert null / n <= 0.07
    assert real / n >= 0.80
    assert overlap_found / n < 0.3


def test_a_planted_round_shift_fools_unpaired_intervals_not_the_paired_test() -> None:
    """Rounds move every configuration by +-15 %: the speedup intervals overlap, while the
    per-round differences (1 % noise) separate an 8 % difference."""
    rng = np.random.default_rng(5)
    mu = np.log(np.array([1.3, 1.3 * 1.08, 1.0, 1.1]))
    frame = _blocks(mu, 0.01, 0.15, 4, rng)
    model = BlockModel(frame)
    t = model.table.set_index("workers")
    assert t.loc[2, "ci_low"] < t.loc[1, "ci_high"]  # the intervals overlap
    cands = [Candidate(_key(w), float(np.log(t.loc[w, "speedup"])), workers=w) for w in t.index]
    result = compare_with_best(cands, model)
    assert result.best_set == [_key(2)] and result.decided
    ratio, low, high = result.ratio_to_best[_key(1)]
    assert high < 1.0 and abs(ratio - 1 / 1.08) < 0.03
    # Without the pairing (the intervals alone) the same data cannot decide.
    unpaired = compare_with_best(
        [
            Candidate(
                c.key,
                c.log_speedup,
                np.log(t.loc[c.workers, "ci_low"]),
                np.log(t.loc[c.workers, "ci_high"]),
                c.workers,
            )
            for c in cands
        ]  # fmt: skip
    )
    assert len(unpaired.best_set) >= 2


def test_the_margin_and_the_rounds_to_separate() -> None:
    assert MARGIN == 0.03
    # One round's log difference with SD 0.0566 (4 % noise on each side): a 5 % difference at
    # 80 % power needs about (2.49 * 0.0566 / 0.0488)^2 = 8.3 -> 9 rounds.
    assert rounds_for(0.04 * np.sqrt(2)) == 9
    assert rounds_for(float("nan")) == 2


def _sweep(tmp_path: Path, truth: dict[tuple[str, int], float], rounds: int, seed: int, **drift) -> Path:
    configs = [{"backend": b, "workers": w, "start_method": "fork"} for b, w in truth]
    cpu = {"usable_cpus": 2, "logical_cores": 2, "physical_cores": 2, "affinity_cpus": [0, 1]}
    return write_rounds(
        tmp_path / f"s{seed}",
        [{**c, **cpu} for c in configs],
        lambda c: 1.0 / truth[(c["backend"], c["workers"])],
        rounds=rounds,
        repeats=2,
        seed=seed,
        **drift,
    )


def test_summary_uses_the_model_and_the_verdict_never_names_one_worker(tmp_path: Path) -> None:
    """The issue's sweep: sequential and process_pool with 1, 2 and 4 workers on 2 CPUs, noisy rounds."""
    truth = {("sequential", 1): 1.0, ("process_pool", 1): 0.9, ("process_pool", 2): 1.7,
             ("process_pool", 4): 1.6, ("thread_pool", 2): 0.95}  # fmt: skip
    for seed in range(4):
        sweep = _sweep(tmp_path, truth, rounds=3, seed=seed, round_drift=(0.8, 1.2), job_drift=(0.9, 1.1))
        rows, _, _ = load_results([sweep])
        summary = summarize(rows)
        par = summary[summary["backend"].ne("sequential")]
        assert set(par["interval_design"]) == {TIME_MODEL}
        (line,) = verdict_lines(summary, BlockModel(block_log_speedups(rows)))
        assert "process_pool with 1 worker" not in line.split(";")[0], line
        assert "with 4 workers:" not in line.split(";")[0], line  # above the 2 usable CPUs
        assert line.startswith("cpu_python on alpha: best is process_pool with 2 workers") or (
            "undecided" in line
        ), line


def test_undecided_verdict_names_both_and_the_rounds(tmp_path: Path) -> None:
    truth = {("sequential", 1): 1.0, ("process_pool", 2): 1.80, ("pool", 2): 1.76,
             ("thread_pool", 2): 0.95, ("thread_pool", 1): 0.97}  # fmt: skip
    sweep = _sweep(tmp_path, truth, rounds=3, seed=1, round_drift=(0.9, 1.1), job_drift=(0.85, 1.15))
    rows, _, _ = load_results([sweep])
    summary = summarize(rows)
    (line,) = verdict_lines(summary, BlockModel(block_log_speedups(rows)))
    assert "undecided: " in line and "cannot be told apart at this noise" in line, line
    assert "pool with 2 workers" in line and "process_pool with 2 workers" in line
    assert "more round" in line and "would separate a 5 % difference" in line


def test_report_top_says_the_noise_and_folds_unmeasured_claims(tmp_path: Path) -> None:
    truth = {("sequential", 1): 1.0, ("process_pool", 2): 1.8, ("pool", 2): 1.7, ("thread_pool", 2): 0.95}
    sweep = _sweep(tmp_path, truth, rounds=3, seed=2)
    result = build_report([sweep])
    page = result.index_html.read_text(encoding="utf-8")
    md = (sweep / "report" / "summary.md").read_text(encoding="utf-8")
    for text in (page, md):
        assert "Noise during the sweep" in text
        assert "rounds for a 5 % half-width" in text or "rounds would give a 5 % half-width" in text
        assert "Not measured here" in text
    assert page.index('id="machine-noise"') < page.index('id="verdict"')
    assert md.count("| not measured") == 0


def test_a_custom_function_report_leads_with_its_answer(tmp_path: Path) -> None:
    truth = {("sequential", 1): 1.0, ("process_pool", 2): 1.8, ("thread_pool", 2): 0.95}
    configs = [{"backend": b, "workers": w, "start_method": "fork", "workload": "custom"} for b, w in truth]
    cpu = {"usable_cpus": 2, "logical_cores": 2, "physical_cores": 2, "affinity_cpus": [0, 1]}
    sweep = write_rounds(
        tmp_path / "c", [{**c, **cpu} for c in configs], lambda c: 1.0 / truth[(c["backend"], c["workers"])],
        rounds=3, repeats=2, seed=4,
    )  # fmt: skip
    result = build_report([sweep])
    page = result.index_html.read_text(encoding="utf-8")
    md = (sweep / "report" / "summary.md").read_text(encoding="utf-8")
    assert page.index('id="answer"') < page.index('id="machine-noise"')
    assert (
        "<b>Your function:</b> " in page
        and "best is process_pool with 2 workers" in page.split('id="answer"')[1][:600]
    )
    assert md.split("\n\n")[1].startswith("**Your function:** custom on alpha: best is process_pool")


# --- the model on log times: the sequential baseline one configuration ------------------------


def _timed_blocks(
    mu: np.ndarray,
    noise: np.ndarray,
    seq_noise: float,
    shared_sd: float,
    rounds: int,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """``block_log_speedups`` rows with ``log_base``, from log times: configuration c (pool with
    c + 1 workers) and the baseline each with their own noise, plus a machine effect shared by
    the round; the true log speedup of c is ``mu[c]``."""
    shared = rng.normal(0.0, shared_sd, rounds)
    base = shared + rng.normal(0.0, seq_noise, rounds)  # log baseline time, true 0
    recs = []
    for c, (m, s) in enumerate(zip(mu, noise)):
        for b in range(rounds):
            log_time = -m + shared[b] + rng.normal(0.0, s)
            recs.append({**_BASE, "backend": "pool", "workers": c + 1, "block": b, "sweep": 0,
                         "log_speedup": base[b] - log_time, "n": 2, "source": "round medians",
                         "log_base": base[b]})  # fmt: skip
    return pd.DataFrame(recs)


def _time_coverage(noise: list[float], seq_noise: float, shared_sd: float, rounds: int, n: int, seed: int):
    rng = np.random.default_rng(seed)
    mu = np.log(np.linspace(0.9, 2.0, len(noise)))
    hits = np.zeros(len(noise))
    dofs = []
    for _ in range(n):
        table = BlockModel(_timed_blocks(mu, np.array(noise), seq_noise, shared_sd, rounds, rng)).table
        assert table["times"].all()
        c, covered = _covered(table, mu)
        hits[c] += covered
        dofs.append(float(table["dof"].median()))
    return hits / n, float(np.median(dofs))


def test_time_model_intervals_cover_whatever_the_baselines_noise() -> None:
    """Nominal 95 %: at least 93 % overall when the baseline is as noisy as the others, much
    quieter, or much noisier, with a shared machine effect as large as the noise; and more
    degrees of freedom than rounds - 1."""
    twelve = [0.05, 0.05, 0.06, 0.10, 0.05, 0.05, 0.05, 0.10, 0.05, 0.05, 0.11, 0.08]
    cases = [
        ([0.04] * 8, 0.04, 0.04, 3),
        (twelve, 0.015, 0.05, 3),  # the quiet baseline of a real sweep, heteroscedastic others
        (twelve, 0.10, 0.02, 3),  # a noisy baseline
        ([0.03, 0.03, 0.06, 0.09, 0.03, 0.05], 0.03, 0.08, 6),
    ]
    for k, (noise, seq_noise, shared_sd, rounds) in enumerate(cases):
        cover, dof = _time_coverage(noise, seq_noise, shared_sd, rounds, n=300, seed=40 + k)
        assert cover.mean() >= 0.93, (k, cover)
        assert cover.min() >= 0.86, (k, cover)
        assert dof > rounds - 1, (k, dof)


def test_time_model_is_used_where_every_value_has_a_baseline_and_not_for_pairs() -> None:
    rng = np.random.default_rng(5)
    frame = _timed_blocks(np.log(np.linspace(1.0, 2.0, 5)), np.full(5, 0.04), 0.04, 0.02, 4, rng)
    table = BlockModel(frame).table
    assert table["times"].all() and table["pooled"].all()
    # The estimate is the geometric mean of the per-round speedups, as in every other design.
    means = frame.groupby("workers")["log_speedup"].mean().to_numpy()
    assert np.allclose(table.sort_values("workers")["log_estimate"].astype(float), means)
    # Adjacent pairs have no baseline time: that group keeps the log-speedup model.
    paired = frame.assign(log_base=np.nan, source="adjacent pairs")
    table = BlockModel(paired).table
    assert not table["times"].any() and table["pooled"].all()
    # Without the column (an older table) too.
    assert not BlockModel(frame.drop(columns="log_base")).table["times"].any()


def test_time_model_difference_cancels_the_shared_effect() -> None:
    """Two configurations 10 % apart under a +-15 % shared machine effect: the paired difference
    finds it, as in the log-speedup model."""
    found = 0
    for seed in range(200):
        rng = np.random.default_rng(seed)
        mu = np.log(np.linspace(1.2, 2.0, 8))
        mu[1] = mu[0] + np.log(1.1)
        model = BlockModel(_timed_blocks(mu, np.full(8, 0.04), 0.04, 0.15, 3, rng))
        low, _ = model.difference(_key(2), _key(1)).interval(0.95, one_sided=True)
        found += low > 0
    assert found / 200 >= 0.8
