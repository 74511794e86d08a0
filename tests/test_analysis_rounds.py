"""Rounds, honest intervals and physics checks, on synthetic sweeps with a planted drift.

The machine's speed drifts between jobs (5-10 % over seconds on a shared VM). A sweep in
rounds times every job once per round, the sequential baseline too; the analysis pairs each
round's configuration with that round's baseline and puts the spread over rounds in the
interval. These tests plant such a drift and check, over many simulated sweeps, that the
intervals cover the true speedup about as often as they claim; that a sweep of one round
(whose intervals see only the repeats) covers it far less often; and that speedups the
cores cannot give are flagged, never reported as findings.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from coresweep.analysis.cli import main
from coresweep.analysis.folklore import folklore_table
from coresweep.analysis.load import load_results
from coresweep.analysis.physics import FLAG, physics_flags, physics_lines
from coresweep.analysis.report import WARNINGS_FILE, build_report, verdict_lines
from coresweep.analysis.stats import DESIGN_ROUNDS, DESIGN_RUNS, summarize
from tests.test_analysis_synth import environment, ladder, row, write_sweep

#: The planted drift: each round's machine speed (every job of the round alike) ...
ROUND_DRIFT = (0.9, 1.1)
#: ... and each job's own moment within its round (sequential and configuration apart).
JOB_DRIFT = (0.95, 1.05)
#: Run-to-run noise (relative standard deviation) within a job.
RUN_NOISE = 0.005
#: True speedup of the simulated configuration: process_pool with 2 workers on 4 usable CPUs
#: (below the physical limit of 2, so no physics flag).
TRUE_SPEEDUP = 1.6
T_SEQUENTIAL = 1.0


def write_rounds(
    sweep: Path,
    configs: list[dict],
    wall,
    *,
    rounds: int,
    repeats: int = 5,
    machine: str = "alpha",
    sweep_id: str | None = None,
    seed: int = 0,
    round_drift: tuple[float, float] = ROUND_DRIFT,
    job_drift: tuple[float, float] = JOB_DRIFT,
    noise: float = RUN_NOISE,
    fail=None,
    with_round: bool = True,
) -> Path:
    """A sweep of ``rounds`` rounds as the runner lays it out: every job once per round, in a
    new random order, all of a job's rounds in its one ``results.jsonl`` (``repeat`` from 0 in
    each round). ``wall(config)`` is the true time; each round scales every job by one factor
    drawn from ``round_drift`` and each job by its own from ``job_drift``. ``fail(config, round)``
    may fail a job's whole round. ``with_round=False`` writes rows as before rounds existed."""
    sweep_id = sweep_id or f"sweep-{machine}"
    sweep.mkdir(parents=True, exist_ok=True)
    (sweep / "environment.json").write_text(json.dumps(environment(machine, sweep_id)))
    rng = np.random.default_rng(seed)
    lines: dict[int, list[str]] = {job: [] for job in range(len(configs))}
    for rnd in range(rounds):
        machine_speed = rng.uniform(*round_drift)
        order = rng.permutation(len(configs))
        for position, job in enumerate(order):
            config = configs[job]
            moment = machine_speed * rng.uniform(*job_drift)
            error = fail(config, rnd) if fail else None
            for rep in range(repeats):
                value = float(wall(config) * moment * (1.0 + noise * rng.standard_normal()))
                value = None if error else value
                r = row(machine, sweep_id, str(job), rep, value, **config)
                if with_round:
                    r.update({"round": rnd, "position": position, "order_seed": 1234 + rnd, "rounds": rounds})
                if error:
                    r.update(ok=False, error=error)
                lines[job].append(json.dumps(r))
    for job, job_lines in lines.items():
        (sweep / str(job)).mkdir(parents=True, exist_ok=True)
        (sweep / str(job) / "results.jsonl").write_text("\n".join(job_lines) + "\n")
    return sweep


def _one_config(workers: int = 2, workload: str = "cpu_python") -> list[dict]:
    return [
        {"backend": "sequential", "workers": 1, "workload": workload},
        {"backend": "process_pool", "workers": workers, "start_method": "fork", "workload": workload},
    ]


def _simulated_wall(config: dict) -> float:
    return T_SEQUENTIAL / (TRUE_SPEEDUP if config["backend"] != "sequential" else 1.0)


def simulate_rows(parent: Path, n_sweeps: int, rounds: int, seed: int = 0, **drift) -> pd.DataFrame:
    """The rows of ``n_sweeps`` independent sweeps (one machine name each, so nothing pools
    across them) of one configuration and its baseline."""
    for k in range(n_sweeps):
        write_rounds(
            parent / f"s{k}",
            _one_config(),
            _simulated_wall,
            rounds=rounds,
            machine=f"sim{k}",
            seed=seed + k,
            **drift,
        )
    return load_results([parent])[0]


def _configuration(rows: pd.DataFrame) -> pd.DataFrame:
    """The simulated configuration's summary row of each sweep."""
    summary = summarize(rows)
    return summary[summary["backend"].eq("process_pool")]


def simulate(parent: Path, n_sweeps: int, rounds: int, seed: int = 0, **drift) -> pd.DataFrame:
    return _configuration(simulate_rows(parent, n_sweeps, rounds, seed, **drift))


def coverage(summary: pd.DataFrame, truth: float = TRUE_SPEEDUP) -> float:
    low = summary["speedup_ci_low"].to_numpy(dtype="float64")
    high = summary["speedup_ci_high"].to_numpy(dtype="float64")
    return float(np.mean((low <= truth) & (truth <= high)))


# ----------------------------------------------------------------------------- coverage


def test_rounds_cover_the_true_speedup_and_one_round_does_not(tmp_path: Path) -> None:
    rounds = simulate(tmp_path / "rounds", 200, rounds=6)
    single = simulate(tmp_path / "single", 200, rounds=1, seed=10_000)
    assert set(rounds["interval_design"]) == {DESIGN_ROUNDS} and set(rounds["rounds"]) == {6}
    assert set(single["interval_design"]) == {DESIGN_RUNS} and set(single["rounds"]) == {1}
    # Nominal 95 %: the paired rounds design keeps close to it, the repeats alone are far off
    # (the drift between the baseline's job and the configuration's is in no interval).
    assert coverage(rounds) >= 0.88
    assert coverage(single) <= 0.5
    # The point estimate (geometric mean of the per-round ratios of medians) sits inside its interval.
    assert np.all(rounds["speedup_ci_low"] <= rounds["speedup"])
    assert np.all(rounds["speedup"] <= rounds["speedup_ci_high"])
    assert rounds["speedup"].median() == pytest.approx(TRUE_SPEEDUP, rel=0.02)
    # Efficiency follows the speedup (2 workers).
    assert np.allclose(rounds["efficiency_ci_low"] * 2, rounds["speedup_ci_low"])


def test_pairing_by_round_is_what_covers(tmp_path: Path) -> None:
    """The same rows with their rounds forgotten (every run pooled, as before rounds existed):
    more runs, but the drift between the baseline's jobs and the configuration's is still only
    seen as scatter of the repeats, and the interval misses the truth far more often."""
    drift = {"round_drift": (1.0, 1.0), "job_drift": (0.9, 1.1)}  # every job at its own moment
    rows = simulate_rows(tmp_path / "s", 200, rounds=6, seed=50_000, **drift)
    paired = _configuration(rows)
    pooled = _configuration(rows.assign(round=0))
    assert set(pooled["interval_design"]) == {DESIGN_RUNS}
    assert coverage(paired) >= 0.88
    assert coverage(pooled) <= 0.85


def test_a_slow_round_slows_both_and_cancels_in_the_pairing(tmp_path: Path) -> None:
    """Round factors 0.7 ... 1.6 (far more than any real drift), no drift within a round."""
    still = (1.0, 1.0)
    sweep = write_rounds(
        tmp_path / "s", _one_config(), _simulated_wall, rounds=4, round_drift=still, job_drift=still
    )
    # Scale every row of a round by that round's factor, sequential and configuration alike.
    factors = [0.7, 1.0, 1.3, 1.6]
    for path in sweep.glob("*/results.jsonl"):
        out = []
        for line in path.read_text().splitlines():
            r = json.loads(line)
            r["wall_s"] *= factors[r["round"]]
            out.append(json.dumps(r))
        path.write_text("\n".join(out) + "\n")
    rows, _, _ = load_results([sweep])
    par = summarize(rows).set_index("backend").loc["process_pool"]
    assert par["rounds"] == 4 and par["interval_design"] == DESIGN_ROUNDS
    assert par["speedup_ci_low"] <= TRUE_SPEEDUP <= par["speedup_ci_high"]
    assert par["speedup_ci_high"] / par["speedup_ci_low"] < 1.01  # the round factors cancel
    # The time itself did change from round to round: its interval says so.
    assert par["wall_ci_high"] / par["wall_ci_low"] > 1.5


# ----------------------------------------------------------------------------- rows and rounds


def test_rows_keep_round_position_and_order_seed(tmp_path: Path) -> None:
    sweep = write_rounds(tmp_path / "s", _one_config(), _simulated_wall, rounds=3, repeats=2)
    rows, _, _ = load_results([sweep])
    assert len(rows) == 12
    for col in ("round", "position", "order_seed"):
        assert str(rows[col].dtype) == "Int64", col
    assert sorted(rows["round"].unique()) == [0, 1, 2]
    # Rows of one job are in round order, repeats restarting in each round.
    job = rows[rows["job"].eq("1")]
    assert list(zip(job["round"], job["repeat"])) == [(r, k) for r in range(3) for k in range(2)]
    summary = summarize(rows)
    assert list(summary["n_runs"]) == [6, 6] and list(summary["rounds"]) == [3, 3]


def test_old_rows_without_round_summarise_as_one_round(tmp_path: Path) -> None:
    sweep = write_sweep(tmp_path / "s", ladder(["process_pool"], [1, 2]), lambda c: 1.0 / c["workers"])
    rows, _, warnings = load_results([sweep])
    assert not any("round" in w for w in warnings)
    assert set(rows["round"]) == {0} and rows["position"].isna().all()
    summary = summarize(rows)
    assert set(summary["rounds"]) == {1}
    assert set(summary["interval_design"]) == {DESIGN_RUNS}
    par = summary[summary["backend"].eq("process_pool")].set_index("workers")
    assert par.at[2, "speedup"] == pytest.approx(2.0, rel=0.03)
    assert par.at[2, "speedup_ci_low"] < par.at[2, "speedup"] < par.at[2, "speedup_ci_high"]
    result = build_report([sweep])
    page = result.index_html.read_text()
    assert "ignores the machine&#x27;s drift between jobs" in page
    md = (sweep / "report" / "summary.md").read_text()
    assert "bootstrap over the repeats and ignores the machine's drift between jobs" in md


def test_rows_written_without_round_match_round_zero(tmp_path: Path) -> None:
    """A one-round sweep gives the same numbers whether its rows say round 0 or nothing."""
    configs = _one_config()
    a = write_rounds(tmp_path / "a", configs, _simulated_wall, rounds=1, seed=3)
    b = write_rounds(tmp_path / "b", configs, _simulated_wall, rounds=1, seed=3, with_round=False)
    sa = summarize(load_results([a])[0])
    sb = summarize(load_results([b])[0])
    pd.testing.assert_frame_equal(sa, sb)


def test_a_round_without_baseline_is_left_out_of_the_speedup(tmp_path: Path) -> None:
    def fail(config, rnd):
        return "BrokenProcessPool" if config["backend"] == "sequential" and rnd == 1 else None

    sweep = write_rounds(tmp_path / "s", _one_config(), _simulated_wall, rounds=4, fail=fail)
    rows, _, _ = load_results([sweep])
    par = summarize(rows).set_index("backend").loc["process_pool"]
    assert par["rounds"] == 4 and par["interval_design"] == DESIGN_ROUNDS
    assert "1 of 4 rounds have no ok sequential run" in par["note"]
    assert par["baseline_n"] == 15  # three rounds of five repeats
    assert par["speedup_ci_low"] < par["speedup"] < par["speedup_ci_high"]


def test_a_single_round_with_baseline_falls_back_on_the_repeats(tmp_path: Path) -> None:
    def fail(config, rnd):
        return "killed" if config["backend"] == "sequential" and rnd > 0 else None

    sweep = write_rounds(tmp_path / "s", _one_config(), _simulated_wall, rounds=3, fail=fail)
    par = summarize(load_results([sweep])[0]).set_index("backend").loc["process_pool"]
    assert par["interval_design"] == DESIGN_RUNS
    assert "speedup from the one round with an ok sequential run" in par["note"]
    assert np.isfinite(par["speedup_ci_low"])


def test_a_baseline_is_borrowed_from_another_sweep_only_visibly(tmp_path: Path) -> None:
    wall = lambda c: 1.0 / c["workers"]  # noqa: E731
    write_sweep(tmp_path / "all" / "a", ladder(["process_pool"], [2]), wall, sweep_id="A")
    # Sweep B on the same machine: no sequential run, one configuration A also ran, one it did not.
    configs = [{"backend": "process_pool", "workers": w, "start_method": "fork"} for w in (2, 4)]
    write_sweep(tmp_path / "all" / "b", configs, wall, sweep_id="B", seed=5)
    rows, _, _ = load_results([tmp_path / "all"])
    summary = summarize(rows).set_index(["backend", "workers"])
    only_b = summary.loc[("process_pool", 4)]
    # B has no sequential run: its speedup uses A's (same machine, workload, size), marked so.
    assert only_b["speedup"] == pytest.approx(4.0, rel=0.05) and np.isfinite(only_b["speedup_ci_low"])
    assert only_b["baseline_sweep"] == "A"
    assert "borrowed from sweep A" in only_b["baseline"] and "borrowed from sweep A" in only_b["note"]
    both = summary.loc[("process_pool", 2)]
    assert both["baseline_sweep"] == ""  # its own sweep A has the baseline
    assert both["rounds"] == 2  # one round in each sweep; only A's has a baseline
    assert both["baseline_n"] == 5 and both["interval_design"] == DESIGN_RUNS
    assert both["speedup"] == pytest.approx(2.0, rel=0.03)


def test_a_configuration_without_ok_runs_still_names_its_baseline(tmp_path: Path) -> None:
    def fail(config, rnd):
        return "died" if config["backend"] != "sequential" else None

    sweep = write_rounds(tmp_path / "s", _one_config(), _simulated_wall, rounds=3, fail=fail)
    par = summarize(load_results([sweep])[0]).set_index("backend").loc["process_pool"]
    assert par["n_ok"] == 0 and par["rounds"] == 0 and par["interval_design"] == ""
    assert par["baseline"].startswith("sequential (") and par["baseline_n"] == 15
    assert np.isnan(par["speedup"]) and par["note"] == "no ok run"


def test_rounds_summary_is_deterministic_and_the_report_says_its_design(tmp_path: Path) -> None:
    sweep = write_rounds(
        tmp_path / "s", ladder(["process_pool"], [1, 2], workload="cpu_python"), _simulated_wall, rounds=5
    )
    first = build_report([sweep], tmp_path / "r1")
    second = build_report([sweep], tmp_path / "r2")
    for name in ("summary.csv", "summary.md", WARNINGS_FILE):
        assert (first.out_dir / name).read_bytes() == (second.out_dir / name).read_bytes(), name
    page = first.index_html.read_text()
    assert "Every configuration ran in 5 rounds" in page and "t interval over the rounds" in page
    assert page.index('id="intervals"') < page.index('id="claims"')  # by the verdict, near the top
    header = (first.out_dir / "summary.md").read_text().splitlines()
    table = next(line for line in header if line.startswith("| workload"))
    assert "| rounds |" in table


# ----------------------------------------------------------------------------- physics checks


def _summary_rows(**columns) -> pd.DataFrame:
    base = {
        "machine": "alpha",
        "backend": "pool",
        "workers": 2,
        "workload": "cpu_python",
        "size": 64,
        "grain": 10,
        "start_method": "fork",
        "pinning": "none",
        "collect": "return",
        "python": "3.12.3",
        "speedup": 1.0,
        "speedup_ci_low": 0.9,
        "speedup_ci_high": 1.1,
        "usable_cpus": 4.0,
    }
    n = max(len(v) for v in columns.values())
    frame = pd.DataFrame({k: [v] * n for k, v in base.items()})
    for k, v in columns.items():
        frame[k] = v
    return frame


def test_physics_checks_on_speedup_intervals() -> None:
    cases = [  # backend, workload, workers, speedup [low, high], usable CPUs, flagged?
        # 2.3x [2.25, 2.35] with 2 workers on pure-Python work
        ("pool", "cpu_python", 2, (2.3, 2.25, 2.35), 4.0, True),
        # io_sleep: 8 threads wait at once, more than the 4 CPUs, fewer than the 8 workers
        ("thread_pool", "io_sleep", 8, (6.0, 5.8, 6.2), 4.0, False),
        # a one-worker thread backend clearly faster than sequential (issue 29: flagged too)
        ("thread_pool", "io_sleep", 1, (1.1, 1.05, 1.15), 4.0, True),
        ("thread_pool", "cpu_python", 1, (1.1, 1.05, 1.15), 4.0, True),
        ("thread", "cpu_python", 1, (1.02, 0.98, 1.06), 4.0, False),
        # a one-worker pool clearly faster than sequential
        ("pool", "cpu_python", 1, (1.1, 1.05, 1.15), 4.0, True),
        # io_file: a file system may merge concurrent writes (superlinear is possible)
        ("thread_pool", "io_file", 8, (9.0, 8.5, 9.5), 4.0, False),
        # custom: unknown work
        ("pool", "custom", 2, (2.5, 2.4, 2.6), 4.0, False),
        # memory, 4 workers on 2 usable CPUs: 2.1 > min(4, 2)
        ("dask_distributed", "memory", 4, (2.2, 2.1, 2.3), 2.0, True),
        # usable CPUs unknown: the limit is the 8 workers
        ("pool", "gil_release", 8, (3.0, 2.9, 3.1), np.nan, False),
    ]
    s = _summary_rows(
        backend=[c[0] for c in cases],
        workload=[c[1] for c in cases],
        workers=[c[2] for c in cases],
        speedup=[c[3][0] for c in cases],
        speedup_ci_low=[c[3][1] for c in cases],
        speedup_ci_high=[c[3][2] for c in cases],
        usable_cpus=[c[4] for c in cases],
    )
    assert list(physics_flags(s)) == [FLAG if c[5] else "" for c in cases]
    # The same interval that only touches the limit is not "clearly" above it.
    touching = _summary_rows(speedup=[2.0], speedup_ci_low=[1.95], speedup_ci_high=[2.05])
    assert list(physics_flags(touching)) == [""]
    # Karp-Flatt below 0: io_sleep with 2 workers cannot be more than 2x faster.
    kf = _summary_rows(workload=["io_sleep"], speedup=[2.3], speedup_ci_low=[2.25], speedup_ci_high=[2.35])
    assert list(physics_flags(kf)) == [FLAG]
    # No interval: only the point estimate is judged (issue 29: 3x with 2 workers is flagged;
    # 2.03x is within the 2 % slack of the limit).
    bare = _summary_rows(speedup=[3.0, 2.03], speedup_ci_low=[np.nan] * 2, speedup_ci_high=[np.nan] * 2)
    assert list(physics_flags(bare)) == [FLAG, ""]


def _flagged_sweep(tmp_path: Path) -> Path:
    """cpu_python: pool x2 at 2.3x on 2 usable CPUs (impossible), process_pool x2 at 1.7x; a one-worker
    pool at 1.1x; io_sleep thread_pool x8 at 6x (fine)."""
    topology = {"logical_cores": 2, "physical_cores": 2, "usable_cpus": 2, "affinity_cpus": [0, 1]}
    truth = {
        ("sequential", 1): 1.0,
        ("pool", 2): 1 / 2.3,
        ("pool", 1): 1 / 1.1,
        ("process_pool", 2): 1 / 1.7,
        ("thread_pool", 8): 1 / 6.0,
    }
    configs = [
        {"backend": "sequential", "workers": 1},
        {"backend": "pool", "workers": 1, "start_method": "fork"},
        {"backend": "pool", "workers": 2, "start_method": "fork"},
        {"backend": "process_pool", "workers": 2, "start_method": "fork"},
        {"backend": "sequential", "workers": 1, "workload": "io_sleep"},
        {"backend": "thread_pool", "workers": 8, "workload": "io_sleep"},
    ]
    cpu = {"usable_cpus": 2, "logical_cores": 2, "physical_cores": 2, "affinity_cpus": [0, 1]}
    return write_sweep(
        tmp_path / "s",
        [{**c, **cpu} for c in configs],
        lambda c: truth[(c["backend"], c["workers"])],
        noise=0.005,
        topology=topology,
    )


def test_flags_reach_summary_verdict_claims_and_every_report_file(tmp_path: Path) -> None:
    sweep = _flagged_sweep(tmp_path)
    rows, envs, _ = load_results([sweep])
    summary = summarize(rows)
    flagged = summary[summary["physics_flag"].ne("")]
    assert sorted(zip(flagged["backend"], flagged["workers"])) == [("pool", 1), ("pool", 2)]
    assert set(summary["usable_cpus"]) == {2.0}

    # The verdict never names the flagged pool x2 (issue 29), but says why it is left out.
    verdicts = verdict_lines(summary)
    cpu_line = next(v for v in verdicts if v.startswith("cpu_python"))
    assert "best is process_pool with 2 workers" in cpu_line
    assert "; pool with 2 workers measured 2.3" in cpu_line and f"but is not named: {FLAG}" in cpu_line
    io_line = next(v for v in verdicts if v.startswith("io_sleep"))
    assert FLAG not in io_line
    # "Processes use all cores": the flagged pool x2 is no evidence (it would pass).
    claims = folklore_table(summary, rows, {"alpha": {"physical_cores": 2, "logical_cores": 2}})
    claim = claims.set_index("claim_id").loc[3]
    assert f"flagged, not counted: {FLAG}" in claim["evidence"]
    assert claim["verdict"] == "depends"  # process_pool x2 passes, pool x2 cannot count

    result = build_report([sweep])
    out = sweep / "report"
    lines = (out / WARNINGS_FILE).read_text(encoding="utf-8").splitlines()
    assert lines == result.physics_flags == physics_lines(summary)
    assert len(lines) == 2 and all(line.endswith(FLAG) for line in lines)
    assert any(line.startswith("cpu_python pool ×2 (") and "speedup 2.3" in line for line in lines)
    assert any("above min(workers 2, usable CPUs 2) = 2× on CPU-bound work" in line for line in lines)
    assert any("one worker of a process backend faster than sequential" in line for line in lines)
    md = (out / "summary.md").read_text(encoding="utf-8")
    section = md.split("## Physics checks", 1)[1].split("\n## ", 1)[0]
    assert section.count(FLAG) == 2
    page = result.index_html.read_text(encoding="utf-8")
    assert page.index('id="physics"') < page.index('id="verdict"')  # at the top
    # The header counts every warning listed: the two flags (no noise, no reading warnings).
    assert "<span>2 warnings</span>" in page
    csv_summary = pd.read_csv(out / "summary.csv", keep_default_na=False)
    assert (csv_summary["physics_flag"] == FLAG).sum() == 2
    for col in ("rounds", "interval_design", "usable_cpus", "physics_flag"):
        assert col in csv_summary.columns


def test_no_flags_gives_an_empty_warnings_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    amdahl = lambda c: 0.2 + 0.8 / c["workers"]  # noqa: E731
    sweep = write_sweep(tmp_path / "s", ladder(["process_pool"], [1, 2]), amdahl)
    result = build_report([sweep])
    assert result.physics_flags == []
    assert (sweep / "report" / WARNINGS_FILE).read_text() == ""
    md = (sweep / "report" / "summary.md").read_text()
    assert "## Physics checks" in md and "No configuration exceeds what the cores can give" in md
    assert 'id="physics"' not in result.index_html.read_text()
    assert main([str(sweep)]) == 0
    assert "physics check" not in capsys.readouterr().err


def test_cli_prints_physics_flags(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sweep = _flagged_sweep(tmp_path)
    assert main([str(sweep)]) == 0
    err = capsys.readouterr().err
    assert err.count("coresweep-report: physics check: ") == 2 and FLAG in err


def test_header_counts_noise_warnings_too(tmp_path: Path) -> None:
    sweep = write_sweep(tmp_path / "s", ladder(["process_pool"], [1, 2]), lambda c: 1.0, noise=0.3, repeats=8)
    result = build_report([sweep])
    assert len(result.noise_warnings) == 1
    page = result.index_html.read_text()
    # Each noisy configuration the noise box names counts (issue 18: "0 warnings" above 4 of them).
    noisy = int(result.noise_warnings[0].split(" of ", 1)[0])
    n = noisy + len(result.warnings) + len(result.physics_flags)
    assert noisy == 3 and n >= 3 and f"<span>{n} warning{'s' if n != 1 else ''}</span>" in page


def test_borrowed_baseline_is_marked_in_csv_tables_captions_and_verdict(tmp_path: Path) -> None:
    """coresweep-report A B, B without sequential: every speedup of B says whose baseline it used."""
    wall = lambda c: 1.0 / min(c["workers"], 2)  # noqa: E731
    a = write_sweep(tmp_path / "a", ladder(["thread_pool"], [1, 2]), wall, sweep_id="A")
    configs = [{"backend": "pool", "workers": w, "start_method": "fork"} for w in (1, 2)]
    b = write_sweep(tmp_path / "b", configs, wall, sweep_id="B", seed=3)
    result = build_report([a, b], tmp_path / "out")
    csv_summary = pd.read_csv(tmp_path / "out" / "summary.csv", keep_default_na=False)
    pool = csv_summary[csv_summary["backend"].eq("pool")]
    assert list(pool["baseline_sweep"]) == ["A", "A"]
    assert all("borrowed from sweep A" in text for text in pool["baseline"])
    assert (csv_summary.loc[csv_summary["backend"].ne("pool"), "baseline_sweep"] == "").all()
    page = result.index_html.read_text(encoding="utf-8")
    table = page.split('id="summary"', 1)[1]
    assert table.count("(baseline borrowed from sweep A)") == 2  # both pool rows, in the table
    figures = page.split('id="figures"', 1)[1].split('id="scaling"', 1)[0]
    assert "Baseline borrowed: 2 configurations" in figures and "sweep A" in figures
    verdict = page.split('id="verdict"', 1)[1].split('id="claims"', 1)[0]
    assert "use the baseline of sweep A" in verdict
    md = (tmp_path / "out" / "summary.md").read_text(encoding="utf-8")
    assert "baseline borrowed from sweep A" in md


def test_new_physics_checks_point_cpu_time_and_one_thread() -> None:
    """Issue 29: a point estimate above the cores, CPU time per wall second above the usable CPUs,
    one thread worker clearly faster than sequential; each says which check fired."""
    s = _summary_rows(
        backend=["pool", "pool", "thread_pool", "process_pool", "thread"],
        workers=[2, 2, 1, 4, 2],
        speedup=[2.10, 1.9, 1.08, 1.5, 0.98],
        speedup_ci_low=[1.6, 1.8, 1.03, 1.4, 0.95],
        speedup_ci_high=[2.6, 2.0, 1.13, 1.6, 1.01],
        usable_cpus=[2.0, 2.0, 2.0, 2.0, 2.0],
        cpu_per_wall=[1.9, 1.9, 1.0, 2.4, 1.0],
    )
    s["physics_flag"] = physics_flags(s)
    assert list(s["physics_flag"].ne("")) == [True, False, True, True, False]
    lines = physics_lines(s)
    assert len(lines) == 3
    assert "point estimate above min(workers 2, usable CPUs 2) = 2× on CPU-bound work" in lines[0]
    assert "one worker of a thread backend faster than sequential" in lines[1]
    assert "2.4 CPU seconds per wall second on 2 usable CPUs" in lines[2]
