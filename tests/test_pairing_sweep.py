"""``pair`` through the real command: one-line errors, and rows of a real sweep carrying their pairs."""

from __future__ import annotations

import pytest

from coresweep.analysis.load import load_results
from coresweep.analysis.stats import summarize
from coresweep.analysis.stats.summary import DESIGN_PAIRS
from coresweep.experiments.cli import main

from .test_cli_sweep import coresweep, rows_of

BAD = [
    (["pair=sometimes"], "pair=sometimes: choose one of auto, on, off"),
    (["pair=on", "workload=stateful"], "pair=on: workload=stateful cannot be paired"),
]


@pytest.mark.parametrize("argv,message", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_pair_is_one_line_and_exit_2(argv, message, capsys, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(lines) == 1 and message in lines[0], lines
    assert not (tmp_path / "outputs").exists()


@pytest.mark.slow
def test_a_sweep_records_its_pairs(tmp_path) -> None:
    sweep = tmp_path / "sweep"
    done = coresweep(
        "-m",
        "backend=sequential,thread_pool",
        "workers=2",
        "workload=cpu_python,io_sleep",
        "workload.size=4",
        "workload.grain=2000",
        "rounds=2",
        "repeats=2",
        "pair=auto",
        f"hydra.sweep.dir={sweep}",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    rows = rows_of(sweep)
    paired = [r for r in rows if r["backend"] == "thread_pool" and r["workload"] == "cpu_python"]
    assert len(paired) == 4
    for r in paired:
        assert r["paired"] is True and r["pair_error"] is None and r["pair_loops"] >= 1
        assert r["pair_wall_s"] > 0
    # P S P: the first run has its sequential run after it, the second before it: the same one
    for rnd in (0, 1):
        first, second = sorted((r for r in paired if r["round"] == rnd), key=lambda r: r["repeat"])
        assert first["pair_before_s"] is None and second["pair_after_s"] is None
        assert first["pair_after_s"] == second["pair_before_s"] == first["pair_wall_s"]
    # pair=auto: io_sleep is not paired, nor is the sequential job
    for r in rows:
        if r["backend"] == "sequential" or r["workload"] == "io_sleep":
            assert r["paired"] is False and "pair_wall_s" not in r
    summary = summarize(load_results([sweep])[0])
    mine = summary[summary["backend"].eq("thread_pool") & summary["workload"].eq("cpu_python")].iloc[0]
    assert mine["interval_design"] == DESIGN_PAIRS


@pytest.mark.slow
def test_pair_off_records_no_pairs(tmp_path) -> None:
    sweep = tmp_path / "sweep"
    done = coresweep(
        "-m",
        "backend=thread_pool",
        "workers=2",
        "workload=cpu_python",
        "workload.size=4",
        "workload.grain=2000",
        "pair=off",
        f"hydra.sweep.dir={sweep}",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert all(r["paired"] is False and "pair_wall_s" not in r for r in rows_of(sweep))


@pytest.mark.slow
def test_jobs_under_another_interpreter_record_their_pairs(tmp_path) -> None:
    import sys

    sweep = tmp_path / "sweep"
    done = coresweep(
        "-m", "backend=thread_pool", "workers=2", "workload=cpu_python", "workload.size=4",
        "workload.grain=2000", f"python={sys.executable}", "report=false", "pair=on",
        f"hydra.sweep.dir={sweep}",
        cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = rows_of(sweep)
    assert rows and all(r["job_process"] == "fresh" for r in rows)  # python=: a fresh interpreter
    assert all(r["paired"] is True and r["pair_wall_s"] > 0 for r in rows)
