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
    assert report["design"] == "turns"  # side by side, run by run (benchmarks/turns.py)
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
               "repeats=1", "rounds=2", "report=false")
    assert out.returncode == 0, out.stderr
    median = json.loads((tmp_path / "overhead.json").read_text())["median"]
    assert median["jobs"] == 3 * 2  # (thread_pool x the default workers 1,2, and sequential once) x 2 rounds
    assert 0 < median["timed_s"] < median["wall_s"]
    assert median["hydra_composes"] < 2 * 4  # each job composed once, in preflight, whatever the rounds
    assert median["isolation_per_job_ms"] > 0


@pytest.mark.slow
def test_pyperf_comparison(tmp_path: Path) -> None:
    pytest.importorskip("pyperf")
    out = _run("benchmarks.pyperf_compare", "--rounds", "1", "--repeats", "2", "--fast", "--workloads",
               "io_sleep", "--size", "2", "--grain", "200", "--out", str(tmp_path))
    assert out.returncode == 0, out.stderr
    (row,) = json.loads((tmp_path / "pyperf_compare.json").read_text())["results"]
    assert row["pyperf_median_s"] > 0 and row["harness_median_s"] > 0


_SIDE = """
import sys, time
from benchmarks.turns import turn
name, runs = sys.argv[1], int(sys.argv[2])
time.sleep(0.2 if name == "b" else 0.0)  # b starts later: a must not run beside b's start-up
print(time.time(), file=sys.stderr, flush=True)  # start-up over
for i in range(runs):
    turn()
    t0 = time.time()
    time.sleep(0.02)
    print(f"{name} {t0} {time.time()}", flush=True)
    time.sleep(0.01)  # untimed work after a run: still this side's turn
"""


def test_turns_alternate_and_never_overlap(tmp_path: Path) -> None:
    """Side by side, one timed run at a time: a's, b's, a's... and nothing of b runs beside a's."""
    from benchmarks.turns import run_in_turns

    script = tmp_path / "side.py"
    script.write_text(_SIDE)
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    cmds = {name: [sys.executable, str(script), name, str(runs)] for name, runs in (("a", 4), ("b", 3))}
    out = run_in_turns(cmds, {"a": env, "b": env})
    assert out["a"]["returncode"] == 0 and out["b"]["returncode"] == 0, out
    assert (out["a"]["turns"], out["b"]["turns"]) == (4, 3)
    runs = sorted(
        (float(t0), float(t1), name)
        for side in ("a", "b")
        for name, t0, t1 in (line.split() for line in out[side]["stdout"].splitlines())
    )
    assert [name for _, _, name in runs] == ["a", "b", "a", "b", "a", "b", "a"]
    for (_, end, _), (start, _, _) in zip(runs, runs[1:]):
        assert end <= start  # never two timed runs at once
    # a's first run waited for the end of b's start-up (0.2 s longer than a's).
    assert runs[0][0] >= float(out["b"]["stderr"])


@pytest.mark.slow
def test_fidelity_back_to_back_still_runs(tmp_path: Path) -> None:
    out = _run("benchmarks.fidelity", "--rounds", "1", "--repeats", "1", "--workloads", "io_sleep",
               "--backends", "sequential", "--size", "4", "--grain", "200", "--back-to-back",
               "--out", str(tmp_path))
    assert out.returncode == 0, out.stderr
    report = json.loads((tmp_path / "fidelity-back-to-back.json").read_text())
    assert report["design"] == "back_to_back" and report["results"][0]["all"]["n"] == 1
