"""benchmarks/pairing.py: its A/A design comparison, and one tiny end-to-end run (figures unchecked)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.pairing import aa_designs, evaluate, pair_seconds, pairs_against_sequential_job

ROOT = Path(__file__).resolve().parents[1]


def test_centred_designs_cancel_a_linear_drift_and_alternation_does_not() -> None:
    # every run the same work on a machine slowing by 1 % a run: log time grows linearly
    times = [math.exp(0.01 * i) for i in range(60)]
    designs = aa_designs(times)["per_block_sd"]
    for centred in ("PSP", "SPS", "SPSPS"):
        assert designs[centred]["mean"] == pytest.approx(0, abs=1e-12)
        assert designs[centred]["sd"] == pytest.approx(0, abs=1e-12)
    # S P S P: the last run's only neighbour is earlier, so every block is off by half a step
    assert designs["SPSP"]["mean"] == pytest.approx(-0.005)
    assert designs["far (10 runs apart)"]["mean"] == pytest.approx(0.1)


def test_leave_one_out_truth_excludes_the_sweep_judged() -> None:
    def sweep(s: float, lo: float, hi: float) -> dict:
        row = {
            "backend": "pool",
            "workers": "2",
            "workload": "cpu_python",
            "speedup": str(s),
            "speedup_ci_low": str(lo),
            "speedup_ci_high": str(hi),
            "interval_design": "x",
        }
        return {"rows": [row], "wall_s": 1.0, "pair_s": 0.1, "noise": {}, "loadavg": 0.0, "exit": 0}

    # the outlier's own interval contains itself but not the others' median (1.5): not covered
    got = evaluate([sweep(1.5, 1.4, 1.6), sweep(1.5, 1.4, 1.6), sweep(1.5, 1.4, 1.6), sweep(2.0, 1.9, 2.1)])
    assert got["intervals"] == 4 and got["loo_coverage"] == pytest.approx(0.75)


def test_cost_and_fidelity_figures_from_rows() -> None:
    rows = [
        {"backend": "sequential", "workload": "cpu_python", "ok": True, "wall_s": 2.0, "job": "0",
         "round": 0},
        # P S P: both runs name the one sequential run between them; it counts once, times its loops
        {"backend": "pool", "workload": "cpu_python", "ok": True, "wall_s": 1.0, "job": "1", "round": 0,
         "pair_before_s": None, "pair_after_s": 1.5, "pair_wall_s": 1.5, "pair_loops": 2},
        {"backend": "pool", "workload": "cpu_python", "ok": True, "wall_s": 1.0, "job": "1", "round": 0,
         "pair_before_s": 1.5, "pair_after_s": None, "pair_wall_s": 1.5, "pair_loops": 2},
    ]  # fmt: skip
    assert pair_seconds(rows) == pytest.approx(3.0)
    assert pairs_against_sequential_job(rows) == {"cpu_python": pytest.approx(0.75)}


@pytest.mark.slow
def test_pairing_benchmark_runs_end_to_end(tmp_path: Path) -> None:
    cmd = [
        sys.executable,
        "-m",
        "benchmarks.pairing",
        "--k",
        "3",
        "--aa",
        "12",
        "--out",
        str(tmp_path),
        "--",
        "backend=sequential,thread_pool",
        "workers=2",
        "workload.size=2",
        "workload.grain=1000",
        "rounds=2",
    ]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    report = json.loads((tmp_path / "pairing.json").read_text())
    assert set(report["designs"]) == {"pair=off", "pair=auto"}
    assert all(v == 0 for v in report["designs"]["pair=off"]["pair_s"])
    assert all(v > 0 for v in report["designs"]["pair=auto"]["pair_s"])
    assert report["aa"]["runs"] == 12
