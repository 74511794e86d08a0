"""The benchmarks run end to end on a tiny configuration (their figures are not checked here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", *args]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=240)


@pytest.mark.slow
def test_fidelity_writes_both_sides(tmp_path: Path) -> None:
    out = _run("benchmarks.fidelity", "--rounds", "1", "--repeats", "1", "--workloads", "io_sleep",
               "--size", "4", "--grain", "200", "--out", str(tmp_path))
    assert out.returncode == 0, out.stderr
    report = json.loads((tmp_path / "fidelity.json").read_text())
    rows = {r["backend"]: r for r in report["results"]}
    assert set(rows) == {"sequential", "pool", "process_pool", "thread_pool", "joblib_loky"}
    parallel = [r for name, r in rows.items() if name != "sequential"]
    assert all(r["speedup_script"] > 0 and r["speedup_harness"] > 0 for r in parallel)
    verdicts = ("within", "open", "differs")
    assert all(r["all"]["n"] == 1 and r["all"]["verdict"] in verdicts for r in rows.values())
    (pair,) = report["parts"][0]["pairs"]["io_sleep"]  # the noise of both processes is recorded
    assert pair["noise_script"]["wall_s"] > 0 and pair["noise_harness"]["wall_s"] > 0


@pytest.mark.slow
def test_fidelity_merges_a_split_run(tmp_path: Path) -> None:
    for workload in ("io_sleep", "gil_release"):
        out = _run("benchmarks.fidelity", "--rounds", "1", "--repeats", "1", "--workloads", workload,
                   "--backends", "sequential", "--size", "4", "--grain", "64", "--merge",
                   "--out", str(tmp_path))
        assert out.returncode == 0, out.stderr
    report = json.loads((tmp_path / "fidelity.json").read_text())
    assert [(r["workload"], r["backend"]) for r in report["results"]] == [
        ("io_sleep", "sequential"), ("gil_release", "sequential")]
    assert [p["workloads"] for p in report["parts"]] == [["io_sleep"], ["gil_release"]]


@pytest.mark.slow
def test_overhead_splits_a_sweep(tmp_path: Path) -> None:
    out = _run("benchmarks.overhead", "--rounds", "1", "--out", str(tmp_path), "--", "-m",
               "backend=sequential,thread_pool", "workload=io_sleep", "workload.size=4", "workload.grain=200",
               "repeats=1", "report=false")
    assert out.returncode == 0, out.stderr
    median = json.loads((tmp_path / "overhead.json").read_text())["median"]
    assert median["jobs"] == 3  # thread_pool x the default workers 1,2, and sequential once
    assert 0 < median["timed_s"] < median["wall_s"]
    assert median["hydra_composes"] < 2 * 4  # each job composed once, in preflight


@pytest.mark.slow
def test_pyperf_comparison(tmp_path: Path) -> None:
    pytest.importorskip("pyperf")
    out = _run("benchmarks.pyperf_compare", "--rounds", "1", "--repeats", "2", "--fast", "--workloads",
               "io_sleep", "--size", "2", "--grain", "200", "--out", str(tmp_path))
    assert out.returncode == 0, out.stderr
    (row,) = json.loads((tmp_path / "pyperf_compare.json").read_text())["results"]
    assert row["pyperf_median_s"] > 0 and row["harness_median_s"] > 0
