"""benchmarks/coverage.py, second version: leave-one-out truth, sweep-bootstrap intervals and the
variance ratios, on made-up sweeps (no sweep is run); --reuse on a made-up sweeps folder."""

from __future__ import annotations

import csv
import json
import math
import random
from pathlib import Path

import pytest

from benchmarks import coverage

FIELDS = [
    "machine",
    "backend",
    "workers",
    "workload",
    "size",
    "grain",
    "collect",
    "start_method",
    "pinning",
    "speedup",
    "speedup_ci_low",
    "speedup_ci_high",
    "usable_cpus",
]


def _summary(speedup: float, half: float) -> list[dict[str, str]]:
    base = {
        "machine": "m",
        "workload": "cpu_python",
        "size": "10",
        "grain": "5",
        "collect": "return",
        "start_method": "none",
        "pinning": "none",
        "usable_cpus": "2",
    }
    return [
        {
            **base,
            "backend": "sequential",
            "workers": "1",
            "speedup": "1",
            "speedup_ci_low": "1",
            "speedup_ci_high": "1",
        },
        {
            **base,
            "backend": "pool",
            "workers": "2",
            "speedup": str(speedup),
            "speedup_ci_low": str(speedup * math.exp(-half)),
            "speedup_ci_high": str(speedup * math.exp(half)),
        },
    ]


def _rows(seq: list[float], par: list[float]) -> list[dict]:
    rows = []
    base = {
        "machine": "m",
        "workload": "cpu_python",
        "size": 10,
        "grain": 5,
        "collect": "return",
        "start_method": None,
        "pinning": "none",
        "ok": True,
        "repeat": 0,
    }
    for r, (s, p) in enumerate(zip(seq, par)):
        rows.append(
            {
                **base,
                "job": "0",
                "backend": "sequential",
                "workers": 1,
                "round": r,
                "wall_s": s,
                "busy_share": 0.02,
            }
        )
        rows.append(
            {**base, "job": "1", "backend": "pool", "workers": 2, "round": r, "wall_s": p, "busy_share": 0.3}
        )
    return rows


def _sweeps(k: int, shift: float, seed: int = 1) -> list[dict]:
    """K sweeps: per-round noise 2 %, a per-sweep shift of the sequential time (sd ``shift``)."""
    rng = random.Random(seed)
    out = []
    for _ in range(k):
        level = rng.gauss(0, shift)
        seq = [math.exp(level + rng.gauss(0, 0.02)) for _ in range(4)]
        par = [math.exp(math.log(0.5) + rng.gauss(0, 0.02)) for _ in range(4)]
        logs = [math.log(s / p) for s, p in zip(seq, par)]
        est = math.exp(sum(logs) / 4)
        out.append(
            {"summary": _summary(est, 0.05), "rows": _rows(seq, par), "wall_s": 1.0, "exit": 0, "noise": {}}
        )
    return out


def test_leave_one_out_truth_is_the_other_sweeps_geometric_mean() -> None:
    found = coverage.intervals_by_config([_summary(2.0, 0.1), _summary(1.0, 0.1), _summary(4.0, 0.8)])
    events = coverage.coverage_events(found)
    assert [round(e["truth"], 6) for e in events] == [2.0, round(math.sqrt(8), 6), round(math.sqrt(2), 6)]
    assert [e["covered"] for e in events] == [True, False, False]


def test_no_sweep_effect_gives_ratios_near_one_and_a_shift_gives_more() -> None:
    quiet = coverage.evaluate(_sweeps(12, shift=0.0), resamples=300)
    shifted = coverage.evaluate(_sweeps(12, shift=0.1), resamples=300)
    (seq_quiet,) = quiet["ratio_rounds_sequential"].values()
    (seq_shift,) = shifted["ratio_rounds_sequential"].values()
    assert seq_quiet["f_ci"][0] < 1 < seq_quiet["f_ci"][1]
    assert seq_shift["ratio"] > 10 and seq_shift["f_ci"][0] > 1
    assert shifted["ratio_rounds_speedup"] > quiet["ratio_rounds_speedup"]
    lo, hi = shifted["ratio_intervals_ci_sweep_bootstrap"]
    assert lo <= shifted["ratio_intervals"] <= hi
    assert shifted["coverage"] < quiet["coverage"]


def test_coverage_interval_comes_from_whole_sweeps() -> None:
    result = coverage.evaluate(_sweeps(8, shift=0.1), resamples=500)
    lo, hi = result["coverage_ci_sweep_bootstrap"]
    assert 0 <= lo <= result["coverage"] <= hi <= 1
    assert result["k"] == 8 and result["intervals"] == 8
    assert result["expected_coverage_loo"] == pytest.approx(0.933, abs=0.001)
    assert result["noise"] == [{}] * 8


def test_sweep_noise_records_sequential_cv_and_busy(tmp_path: Path) -> None:
    rows = _rows([1.0, 1.1, 0.9], [0.5, 0.5, 0.5])
    noise = coverage.sweep_noise(rows, tmp_path)
    assert noise["sequential"]["cpu_python"]["round_cv"] == pytest.approx(0.1)
    assert noise["busy"]["executions"] == 6 and noise["busy"]["busy"] == 3


def test_reuse_reads_a_sweeps_folder_without_running(tmp_path: Path) -> None:
    sweeps = _sweeps(3, shift=0.05)
    entries = []
    for k, sweep in enumerate(sweeps):
        folder = tmp_path / "custom" / str(k)
        (folder / "report").mkdir(parents=True)
        with (folder / "report" / "summary.csv").open("w", newline="") as fh:
            writer = csv.DictWriter(fh, FIELDS)
            writer.writeheader()
            writer.writerows(sweep["summary"])
        for job in ("0", "1"):
            (folder / job).mkdir()
            lines = [json.dumps(r) for r in sweep["rows"] if (r["backend"] == "sequential") == (job == "0")]
            (folder / job / "results.jsonl").write_text("\n".join(lines) + "\n")
        entries.append({"folder": f"custom/{k}", "wall_s": 1.0, "exit": 0})
    manifest = {
        "cells": [
            {
                "name": "custom/defaults",
                "sweep": "custom",
                "design": "",
                "overrides": ["x=1"],
                "sweeps": entries,
            }
        ]
    }
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    out = tmp_path / "out"
    assert (
        coverage.main(["--reuse", str(tmp_path), "--no-rebuild", "--resamples", "100", "--out", str(out)])
        == 0
    )
    result = json.loads((out / "coverage-v2.json").read_text())
    cell = result["results"]["custom/defaults"]
    assert result["version"] == 2 and result["reused"] and cell["k"] == 3 and cell["intervals"] == 3
    assert cell["noise"][0]["busy"]["busy"] == 4
    assert cell["configurations"][0]["ratio_rounds"] is not None  # rows and summary.csv keys match
