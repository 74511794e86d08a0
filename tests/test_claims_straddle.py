"""Every claim applies its threshold to the interval: one that straddles it reads *depends*; claims
comparing two configurations pair them by round where the rows have rounds (issue 29).

Each claim is judged on a small hand-made summary (or rows) where the median alone would pass,
and the 95 % interval reaches across the threshold; then with the whole interval on one side.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from coresweep.analysis import folklore as fk

_DIMS = {
    "machine": "m",
    "workload": "cpu_python",
    "size": 64,
    "grain": 10,
    "start_method": "fork",
    "pinning": "none",
    "collect": "return",
    "python": "3.11",
    "gil_enabled": True,
    "physics_flag": "",
}


def _config(backend: str, workers: int, speedup: tuple[float, float, float], **extra) -> dict:
    s, lo, hi = speedup
    row = {**_DIMS, "backend": backend, "workers": workers, "n_ok": 6, "median_wall_s": 1.0 / s}
    row.update(speedup=s, speedup_ci_low=lo, speedup_ci_high=hi)
    row.update(efficiency=s / workers, efficiency_ci_low=lo / workers, efficiency_ci_high=hi / workers)
    row.update(extra)
    return row


def _summary(*configs: dict) -> pd.DataFrame:
    seq = _config("sequential", 1, (1.0, 1.0, 1.0))
    return pd.DataFrame([seq, *configs])


def test_claim1_threads_cpu_straddling_upper_bound_depends() -> None:
    t = fk.THREADS_CPU_MAX_SPEEDUP
    straddle = _summary(_config("thread_pool", 2, (t - 0.1, t - 0.3, t + 0.1)))
    assert fk.claim_threads_cpu(straddle)["verdict"] == "depends"
    below = _summary(_config("thread_pool", 2, (t - 0.2, t - 0.3, t - 0.1)))
    assert fk.claim_threads_cpu(below)["verdict"] == "supported"
    above = _summary(_config("thread_pool", 2, (t + 0.3, t + 0.1, t + 0.5)))
    assert fk.claim_threads_cpu(above)["verdict"] == "refuted"


def test_claim2_threads_io_straddling_lower_bound_depends() -> None:
    t = fk.THREADS_IO_MIN_SPEEDUP
    io = {"workload": "io_sleep"}
    straddle = _summary(_config("thread", 2, (t + 0.2, t - 0.1, t + 0.4), **io))
    assert fk.claim_threads_io(straddle)["verdict"] == "depends"
    clear = _summary(_config("thread", 2, (t + 0.2, t + 0.1, t + 0.4), **io))
    assert fk.claim_threads_io(clear)["verdict"] == "supported"


def test_claim3_processes_cpu_straddling_efficiency_depends() -> None:
    topo = {"m": {"physical_cores": 2, "logical_cores": 2}}
    e = fk.PROCESS_CPU_MIN_EFFICIENCY
    # median efficiency 0.85 (passes on the median alone), interval [0.7, 0.95]
    straddle = _summary(_config("pool", 2, (2 * (e + 0.05), 2 * (e - 0.1), 2 * (e + 0.15))))
    assert fk.claim_processes_cpu(straddle, topo)["verdict"] == "depends"
    clear = _summary(_config("pool", 2, (2 * (e + 0.1), 2 * (e + 0.05), 2 * (e + 0.15))))
    assert fk.claim_processes_cpu(clear, topo)["verdict"] == "supported"
    poor = _summary(_config("pool", 2, (2 * (e - 0.2), 2 * (e - 0.3), 2 * (e - 0.1))))
    assert fk.claim_processes_cpu(poor, topo)["verdict"] == "refuted"
    assert "lower bound" in fk.claim_processes_cpu(clear, topo)["threshold"]


def _rows(groups: dict[tuple, np.ndarray], **columns) -> pd.DataFrame:
    """Rows: one per wall time, keyed by (backend, collect, workers)."""
    out = []
    for (backend, collect, workers), walls in groups.items():
        for i, w in enumerate(walls):
            row = {k: v for k, v in _DIMS.items() if k != "physics_flag"}
            row.update(backend=backend, collect=collect, workers=workers, wall_s=float(w), ok=True)
            row.update({k: (v(backend, i) if callable(v) else v) for k, v in columns.items()})
            out.append(row)
    return pd.DataFrame(out)


def test_claim5_manager_list_straddling_interval_depends() -> None:
    """The issue's case: manager_list / return = 1.46× [0.983, 1.81] read *supported* from the median."""
    rng = np.random.default_rng(0)
    ret = 1.0 + rng.normal(0, 0.02, 6)
    wide = np.array([0.95, 1.1, 1.4, 1.5, 1.8, 1.85])  # median 1.45, spread across 1.2
    verdict = fk.claim_manager_list(_rows({("pool", "return", 2): ret, ("pool", "manager_list", 2): wide}))
    assert verdict["verdict"] == "depends", verdict
    assert "[" in verdict["evidence"]  # the interval is shown
    tight = 1.5 + rng.normal(0, 0.01, 6)
    verdict = fk.claim_manager_list(_rows({("pool", "return", 2): ret, ("pool", "manager_list", 2): tight}))
    assert verdict["verdict"] == "supported"
    cheap = 1.05 + rng.normal(0, 0.01, 6)
    verdict = fk.claim_manager_list(_rows({("pool", "return", 2): ret, ("pool", "manager_list", 2): cheap}))
    assert verdict["verdict"] == "refuted"


def test_claim4_process_cost_overlapping_intervals_depend() -> None:
    rng = np.random.default_rng(1)
    walls = np.ones(8)

    def startup(spread: float):
        def value(backend: str, i: int) -> float:
            base = 0.010 if backend == "pool" else 0.009
            return base + spread * (i - 3.5) / 3.5

        return value

    def rss(backend: str, i: int) -> float:
        return (200 if backend == "pool" else 50) * 2**20 + i

    groups = {("pool", "return", 2): walls, ("thread_pool", "return", 2): walls}
    # start-up medians differ (10 vs 9 ms) but the runs scatter by ±4 ms: intervals overlap
    overlap = fk.claim_process_cost(_rows(groups, startup_s=startup(0.004), peak_rss_bytes=rss))
    assert overlap["verdict"] == "depends", overlap
    clear = fk.claim_process_cost(_rows(groups, startup_s=startup(0.0001), peak_rss_bytes=rss))
    assert clear["verdict"] == "supported", clear
    del rng


def test_claim6_pool_vs_process_overlap_depends() -> None:
    same = np.array([1.0, 1.1, 0.9, 1.05, 0.95, 1.0])
    verdict = fk.claim_pool_vs_process(
        _rows({("pool", "return", 2): same * 1.05, ("process", "return", 2): same})
    )
    assert verdict["verdict"] == "depends"
    clear = fk.claim_pool_vs_process(
        _rows({("pool", "return", 2): same * 0.01 + 1.5, ("process", "return", 2): same * 0.01 + 1.0})
    )
    assert clear["verdict"] == "supported"


def test_claim7_smt_straddling_gains_depend() -> None:
    topo = {"m": {"physical_cores": 2, "logical_cores": 4, "threads_per_core": 2}}
    # medians: +0.8 per worker 1→2, +0.3 per worker 2→4 (passes on medians alone)
    wide = _summary(
        _config("pool", 1, (1.0, 0.9, 1.1)),
        _config("pool", 2, (1.8, 1.3, 2.3)),
        _config("pool", 4, (2.4, 1.6, 3.2)),
    )
    assert fk.claim_smt(wide, topo)["verdict"] == "depends"
    tight = _summary(
        _config("pool", 1, (1.0, 0.99, 1.01)),
        _config("pool", 2, (1.8, 1.78, 1.82)),
        _config("pool", 4, (2.4, 2.38, 2.42)),
    )
    assert fk.claim_smt(tight, topo)["verdict"] == "supported"


def _round_rows(groups: dict[tuple, float], rounds: int = 4, **fixed) -> pd.DataFrame:
    """Rows of ``rounds`` rounds: each round moves every configuration by one factor (0.8-1.2, a
    planted shift larger than the difference), three runs with 1 % noise per configuration."""
    rng = np.random.default_rng(3)
    shifts = np.linspace(0.8, 1.2, rounds)
    out = []
    for rnd, shift in enumerate(shifts):
        for (backend, collect, workers), wall in groups.items():
            for rep in range(3):
                row = {k: v for k, v in _DIMS.items() if k != "physics_flag"}
                wall_s = float(wall * shift * (1 + 0.01 * rng.standard_normal()))
                row.update(backend=backend, collect=collect, workers=workers, ok=True, round=rnd)
                row.update(sweep_id="s", wall_s=wall_s, repeat=rep, **fixed)
                out.append(row)
    return pd.DataFrame(out)


def test_claim6_pairs_by_round_where_the_runs_pooled_over_rounds_overlap() -> None:
    """pool 8 % slower than process in every round; rounds move both by +-20 %: the runs pooled over
    rounds overlap (depends), the ratio paired by round does not (supported)."""
    rows = _round_rows({("pool", "return", 2): 1.08, ("process", "return", 2): 1.0})
    verdict = fk.claim_pool_vs_process(rows)
    assert verdict["verdict"] == "supported", verdict
    assert "paired by round" in verdict["evidence"] and "pool / process = 1.08" in verdict["evidence"]
    one_round = fk.claim_pool_vs_process(rows.drop(columns=["round"]))
    assert one_round["verdict"] == "depends"  # the same runs, unpaired


def test_claim5_pairs_by_round() -> None:
    rows = _round_rows({("pool", "manager_list", 2): 1.35, ("pool", "return", 2): 1.0})
    verdict = fk.claim_manager_list(rows)
    assert verdict["verdict"] == "supported" and "manager_list / return = 1.35" in verdict["evidence"]


def test_claim9_pairs_per_task_and_per_worker_by_round() -> None:
    from coresweep.analysis.patterns import claim_init_once
    from coresweep.analysis.stats import summarize

    base = {"workload": "init_heavy", "init_ms": 10, "share": "-", "state": "-", "input_mb": 0}
    task = _round_rows({("pool", "return", 2): 1.2}, init="per_task", **base)
    worker = _round_rows({("pool", "return", 2): 1.0}, init="per_worker", **base)
    seq = _round_rows({("sequential", "return", 1): 2.0}, init="per_task", **base)
    rows = pd.concat([task, worker, seq], ignore_index=True)
    rows["job"] = rows["backend"] + rows["init"]
    for col in ("cpu_user_s", "cpu_sys_s", "peak_rss_bytes", "startup_s", "teardown_s"):
        rows[col] = np.nan
    summary = summarize(rows)
    paired = claim_init_once(summary, 9, rows)
    assert paired["verdict"] == "supported", paired
    unpaired = claim_init_once(summary, 9)  # from the two time intervals: the round shift hides it
    assert unpaired["verdict"] == "depends", unpaired
