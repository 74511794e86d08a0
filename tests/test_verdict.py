"""The verdict: multiple comparisons with the best, never a configuration slower than sequential, above
the CPUs or flagged, and "undecided" where the noise hides the answer (issues 18 and 29)."""

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


def test_no_oversubscribed_verdict_on_cpu_work() -> None:
    """process_pool x4 at 1.81x on 2 CPUs is never named on CPU-bound work (issue 29); it is mentioned."""
    summary = _summary(
        _row("process_pool", 4, 1.81, 1.70, 1.92),
        _row("process_pool", 2, 1.78, 1.69, 1.86),
        _row("thread_pool", 2, 0.98, 0.95, 1.01),
    )
    (line,) = verdict_lines(summary)
    assert "best is process_pool with 2 workers: 1.78×" in line
    assert "process_pool with 4 workers measured 1.81× but oversubscribes the 2 usable CPUs" in line
    assert "clearly slower: thread_pool with 2 workers" in line


def test_indistinguishable_configurations_are_undecided_not_the_fewest_workers() -> None:
    """The old rule named the fewest workers among overlapping intervals; noise then picked the
    smallest configuration. Now: undecided, with the rounds a 5 % difference would need."""
    summary = _summary(
        _row("pool", 4, 3.1, 2.8, 3.4, usable_cpus=8.0, rounds=3),
        _row("pool", 8, 3.3, 2.9, 3.7, usable_cpus=8.0, rounds=3),
        _row("process_pool", 4, 3.2, 3.0, 3.5, usable_cpus=8.0, rounds=3),
        _row("pool", 2, 1.9, 1.8, 2.0, usable_cpus=8.0, rounds=3),
    )
    (line,) = verdict_lines(summary)
    assert (
        "undecided: pool with 8 workers and process_pool with 4 workers (and 1 more) cannot be told apart"
        in line
    )
    assert "more rounds would separate a 5 % difference" in line
    assert "best is" not in line and "pool with 2 workers" not in line  # clearly slower: not a tie


def test_equivalence_shown_names_the_fewest_workers() -> None:
    """Within the 3 % margin by a test (narrow intervals), the extra workers buy nothing."""
    summary = _summary(
        _row("pool", 4, 3.02, 3.0, 3.04, usable_cpus=8.0),
        _row("pool", 8, 3.03, 3.01, 3.05, usable_cpus=8.0),
    )
    (line,) = verdict_lines(summary)
    assert "best is pool with 4 workers" in line
    assert "fewest workers among configurations shown within 3% of the fastest estimate" in line


def test_clearly_faster_above_the_cpus_is_named_on_io_work() -> None:
    summary = _summary(
        _row("thread_pool", 8, 6.0, 5.8, 6.2, workload="io_sleep"),
        _row("thread_pool", 2, 1.98, 1.95, 2.0, workload="io_sleep"),
    ).assign(workload="io_sleep")
    (line,) = verdict_lines(summary)
    assert "best is thread_pool with 8 workers: 6×" in line
    assert "undecided" not in line and "oversubscribes" not in line


def test_single_best_keeps_its_plain_sentence() -> None:
    summary = _summary(_row("pool", 2, 1.9, 1.85, 1.95), _row("thread_pool", 2, 1.0, 0.97, 1.03))
    (line,) = verdict_lines(summary)
    assert line.startswith("cpu_python on vm: best is pool with 2 workers: 1.9× [1.85, 1.95] (1 s → 526 ms)")
    assert "clearly slower: thread_pool with 2 workers 0.526×" in line


def test_the_issue_case_never_names_one_worker_slower_than_sequential() -> None:
    """process_pool x1 0.88x [0.696, 1.11] against x2 1.36x and x4 1.15x on noisy data (issue 29)."""
    summary = _summary(
        _row("process_pool", 1, 0.88, 0.696, 1.11),
        _row("process_pool", 2, 1.36, 1.08, 1.72),
        _row("process_pool", 4, 1.15, 0.91, 1.45, usable_cpus=4.0),
    )
    (line,) = verdict_lines(summary)
    assert "process_pool with 1 worker" not in line.split(";")[0]
    assert line.startswith("cpu_python on vm: best is process_pool with 2 workers")
    assert "process_pool with 4 workers cannot be told apart from it but is not clearly faster" in line


def test_includes_one_only_when_it_does() -> None:
    """0.982x [0.975, 0.989] lies wholly below 1x: slower, not "includes 1x" (issue 29)."""
    below = _summary(_row("thread_pool", 2, 0.982, 0.975, 0.989))
    (line,) = verdict_lines(below)
    assert "no parallel configuration is clearly faster than sequential" in line
    assert "slower than sequential (the interval lies below 1×)" in line and "includes 1×" not in line
    straddle = _summary(_row("thread_pool", 2, 1.01, 0.97, 1.05))
    (line,) = verdict_lines(straddle)
    assert "the interval includes 1×" in line and "best is" not in line


def test_undecided_says_what_more_rounds_would_do_or_that_the_difference_is_smaller() -> None:
    """Issue 29: "about N more rounds would separate a 5 % difference" only where N > 0; where the
    rounds run would already have separated 5 %, the verdict says the difference is smaller."""
    from coresweep.analysis.report_text import Choice, _rounds_to_decide_text

    assert _rounds_to_decide_text(Choice(rounds_needed=12, rounds_now=5)) == (
        "; about 7 more rounds would separate a 5 % difference"
    )
    smaller = _rounds_to_decide_text(Choice(rounds_needed=3, rounds_now=5))
    assert "would have separated a 5 % difference" in smaller and "more round" not in smaller
    assert _rounds_to_decide_text(Choice(rounds_needed=3, rounds_now=5, within_target=True)) == ""
    assert _rounds_to_decide_text(Choice()) == ""
