"""The verdict respects its intervals and prefers the simpler answer (issue 18, item 1)."""

from __future__ import annotations

import pandas as pd

from coresweep.analysis.report import verdict_lines

_DIMS = {
    "machine": "vm",
    "workload": "cpu_python",
    "size": 64,
    "grain": 10,
    "start_method": "fork",
    "pinning": "none",
    "collect": "return",
    "python": "3.11",
    "gil_enabled": True,
    "physics_flag": "",
    "usable_cpus": 2.0,
    "baseline_wall_s": 1.0,
    "n_ok": 6,
}


def _row(backend: str, workers: int, s: float, lo: float, hi: float, **extra) -> dict:
    row = {**_DIMS, "backend": backend, "workers": workers, "median_wall_s": 1.0 / s}
    row.update(speedup=s, speedup_ci_low=lo, speedup_ci_high=hi, **extra)
    return row


def _summary(*rows: dict) -> pd.DataFrame:
    return pd.DataFrame([_row("sequential", 1, 1.0, 1.0, 1.0), *rows])


def test_no_oversubscribed_verdict_when_intervals_overlap() -> None:
    """The issue's case: process_pool x4 at 1.81x on 2 CPUs, x2 at 1.78x overlapping it."""
    summary = _summary(
        _row("process_pool", 4, 1.81, 1.70, 1.92),
        _row("process_pool", 2, 1.78, 1.69, 1.86),
        _row("thread_pool", 2, 0.98, 0.95, 1.01),
    )
    (line,) = verdict_lines(summary)
    assert "best is process_pool with 2 workers: 1.78×" in line
    assert "oversubscribes the 2 usable CPUs" in line
    assert "1 other cannot be told apart" in line and "process_pool with 4 workers (1.81×)" in line


def test_fewest_workers_among_the_indistinguishable() -> None:
    summary = _summary(
        _row("pool", 4, 3.1, 2.8, 3.4, usable_cpus=8.0),
        _row("pool", 8, 3.3, 2.9, 3.7, usable_cpus=8.0),
        _row("process_pool", 4, 3.2, 3.0, 3.5, usable_cpus=8.0),
        _row("pool", 2, 1.9, 1.8, 2.0, usable_cpus=8.0),
    )
    (line,) = verdict_lines(summary)
    assert "best is process_pool with 4 workers" in line  # 4 workers, the faster of the two fours
    assert "fewest workers among those that cannot be told apart from the fastest, pool with 8" in line
    assert "2 others cannot be told apart" in line
    assert "pool with 2 workers" not in line  # clearly slower: not a tie


def test_clearly_faster_above_the_cpus_is_named() -> None:
    summary = _summary(
        _row("thread_pool", 8, 6.0, 5.8, 6.2, workload="io_sleep"),
        _row("thread_pool", 2, 1.98, 1.95, 2.0, workload="io_sleep"),
    ).assign(workload="io_sleep")
    (line,) = verdict_lines(summary)
    assert "best is thread_pool with 8 workers: 6×" in line
    assert "cannot be told apart" not in line and "oversubscribes" not in line


def test_single_best_keeps_its_plain_sentence() -> None:
    summary = _summary(_row("pool", 2, 1.9, 1.85, 1.95), _row("thread_pool", 2, 1.0, 0.97, 1.03))
    (line,) = verdict_lines(summary)
    assert line == "cpu_python on vm: best is pool with 2 workers: 1.9× [1.85, 1.95] (1 s → 526 ms)."
