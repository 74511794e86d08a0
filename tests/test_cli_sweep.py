"""Real sweeps through the real command, in a subprocess, into a temporary folder.

All in the slow tier but the install test (the console scripts from another directory), which
is the fast tier's one sweep through the installed command."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from coresweep.experiments.job.records import FIELDS

from . import early

ROOT = Path(__file__).resolve().parents[1]


def coresweep(*args: str, cwd: Path, module: str = "coresweep.experiments.entry",
              env: dict[str, str] | None = None) -> Any:
    """Run the real command (the console script's module) in a subprocess (``env``: added)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}  # so workers can import tests.tasks
    if module == "coresweep.experiments.entry" and not any(a.startswith("rounds=") for a in args):
        args = (*args, "rounds=1")  # one pass per job: these tests count rows per job
    cmd = [sys.executable, "-m", module, *args]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


#: The stuck-jobs sweep (last test) mostly waits: a 1 s timeout, then the grace a stuck thread
#: gets (1 s here instead of 10: CORESWEEP_STUCK_GRACE_S), for each of its two jobs. It starts
#: with this module's first test and runs beside the others; its test waits for it.
STUCK_TEST = "test_jobs_stuck_past_the_timeout_are_ended_and_the_sweep_goes_on"
STUCK_ARGS = ["workload=custom", "workload.fn=tests.tasks:hang_on_two", "workload.size=4", "-m",
              "backend=thread_pool,sequential", "workers=2", "repeats=2", "warmup=0", "timeout_s=1"]
STUCK_ENV = {"CORESWEEP_STUCK_GRACE_S": "1"}


@pytest.fixture(scope="module", autouse=True)
def stuck_sweep(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """(sweep folder, the command's future) when the stuck-jobs test is selected, else None."""
    if not early.selected(request, __file__, STUCK_TEST):
        yield None
        return
    folder = tmp_path_factory.mktemp("stuck")
    sweep = folder / "sweep"
    with early.started(coresweep, *STUCK_ARGS, f"hydra.sweep.dir={sweep}", cwd=folder,
                       env=STUCK_ENV) as future:
        yield sweep, future


def rows_of(sweep: Path) -> list[dict]:
    rows = []
    for path in sorted(sweep.glob("*/results.jsonl")):
        rows += [json.loads(line) for line in path.read_text().splitlines()]
    return rows


@pytest.mark.slow
def test_two_backends_two_workers_sweep(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    out = coresweep(
        "-m",
        "backend=sequential,process_pool",
        "workers=1,2",
        "workload=cpu_python",
        "workload.size=8",
        "workload.grain=200",
        "repeats=2",
        "min_time_s=0",
        f"hydra.sweep.dir={sweep}",
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    # sequential ignores workers: it runs once (3 jobs, not 4), and says so
    assert "1 job skipped: backend=sequential ignores workers" in out.stderr
    assert "coresweep: 3 jobs" in out.stderr
    jobs = sorted(p.parent.name for p in sweep.glob("*/results.jsonl"))
    assert jobs == ["0", "1", "2"]
    rows = rows_of(sweep)
    assert len(rows) == 3 * 2
    for row in rows:
        assert set(FIELDS) <= set(row), set(FIELDS) - set(row)
        assert row["ok"] and row["verified"] and row["error"] is None
        assert row["wall_s"] > 0 and row["startup_s"] >= 0 and row["teardown_s"] >= 0
        assert row["peak_rss_bytes"] > 0
    assert {(r["backend"], r["workers"]) for r in rows} == {
        ("sequential", 1),
        ("process_pool", 1),
        ("process_pool", 2),
    }
    env = json.loads((sweep / "environment.json").read_text())
    assert env["topology"]["logical_cores"] >= 1
    assert "backend=sequential,process_pool" in env["command_line"]
    assert env["packages"]["numpy"]
    for name in ("index.html", "results.csv", "summary.csv", "speedup.png", "speedup.svg",
                 "efficiency.png", "efficiency.svg"):
        assert (sweep / "report" / name).is_file(), name
    # The one sequential job is the baseline of both worker counts.
    summary = (sweep / "report" / "summary.csv").read_text().splitlines()
    header = summary[0].split(",")
    speedups = {
        (r[header.index("backend")], r[header.index("workers")]): r[header.index("speedup")]
        for r in (line.split(",") for line in summary[1:])
    }
    assert float(speedups[("process_pool", "1")]) > 0 and float(speedups[("process_pool", "2")]) > 0
    # The report's path is the command's result: the only line on stdout; progress on stderr.
    assert out.stdout == f"report: {sweep / 'report' / 'index.html'}\n"
    assert "report:" not in out.stderr and "[1/" in out.stderr
    assert "[3/3]" in out.stderr


@pytest.mark.slow
def test_custom_function_and_failures_are_recorded(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    out = coresweep(
        "workload=custom",
        "workload.fn=tests.tasks:fail_on_three",
        "workload.size=6",
        "-m",
        "backend=thread_pool,process_pool",
        "workers=2",
        "repeats=2",
        f"hydra.sweep.dir={sweep}",
        cwd=tmp_path,
    )
    # the sequential reference itself fails: every run is a failed row, the sweep still ends
    assert out.returncode == 1, out.stderr
    rows = rows_of(sweep)
    assert len(rows) == 2 * 2
    assert all(not r["ok"] and "task 3 fails on purpose" in r["error"] for r in rows)
    assert (sweep / "report" / "index.html").is_file()


@pytest.mark.slow
def test_custom_function_times_the_users_code(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    out = coresweep(
        "workload=custom",
        "workload.fn=tests.tasks:square",
        "workload.size=20",
        "-m",
        "backend=thread_pool,process_pool",
        "workers=1,2",
        "repeats=2",
        f"hydra.sweep.dir={sweep}",
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    rows = rows_of(sweep)
    assert len(rows) == 4 * 2 and all(r["ok"] for r in rows)
    assert {r["fn"] for r in rows} == {"tests.tasks:square"}


@pytest.mark.slow
def test_help_and_cfg_job_behave_as_in_hydra(tmp_path: Path) -> None:
    out = coresweep("--help", cwd=tmp_path)
    assert out.returncode == 0
    assert "coresweep" in out.stdout and "backend:" in out.stdout and "Exit status" in out.stdout
    out = coresweep("--cfg", "job", "backend=pool", "workers=3", cwd=tmp_path)
    assert out.returncode == 0
    assert "name: pool" in out.stdout and "workers: 3" in out.stdout
    assert not (tmp_path / "outputs").exists()


@pytest.mark.slow
def test_topology_command_json(tmp_path: Path) -> None:
    out = coresweep("--json", cwd=tmp_path, module="coresweep.experiments.machine.topology_cli")
    assert out.returncode == 0, out.stderr
    topo = json.loads(out.stdout)
    assert topo["logical_cores"] >= 1 and topo["affinity_cpus"]


@pytest.mark.slow
def test_restricted_to_cpu0_every_worker_runs_only_there(tmp_path: Path) -> None:
    import os as _os

    cpu0 = min(_os.sched_getaffinity(0))
    sweep = tmp_path / "sweep"
    out = coresweep(
        f"cpus={cpu0}", "pinning=compact", "-m", "backend=thread_pool,process,process_pool,joblib_loky",
        "workers=2", "workload=cpu_python", "workload.size=8", "workload.grain=200", "repeats=2",
        "report=false",
        f"hydra.sweep.dir={sweep}", cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    rows = rows_of(sweep)
    assert len(rows) == 8
    for row in rows:
        assert row["cpus"] == str(cpu0) and row["affinity_cpus"] == 1 and row["logical_cores"] == 1
        assert row["pinning_ok"] is True
        assert all(cpus == [cpu0] for cpus in row["worker_cpus"].values()), row["worker_cpus"]


@pytest.mark.skipif(shutil.which("coresweep") is None, reason="console scripts not on PATH")
def test_installed_console_scripts_work_from_another_directory(tmp_path: Path) -> None:
    """The install test: the real console scripts, run outside the repository, find the
    configs shipped as package data (CI runs this against a non-editable `pip install .`)."""
    out = subprocess.run(["coresweep-topology", "--json"], cwd=tmp_path, capture_output=True, text=True)
    assert out.returncode == 0 and json.loads(out.stdout)["logical_cores"] >= 1
    sweep = tmp_path / "sweep"
    out = subprocess.run(
        ["coresweep", "backend=thread_pool", "workers=2", "workload=cpu_python", "workload.size=4",
         "workload.grain=100", "repeats=1", f"hydra.sweep.dir={sweep}"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )
    assert out.returncode == 0, out.stderr
    rows = rows_of(sweep)  # the default: 5 rounds of 1 run
    assert sorted(r["round"] for r in rows) == [0, 1, 2, 3, 4] and (sweep / "report" / "index.html").is_file()
    out = subprocess.run(["coresweep-report", str(sweep), "-o", str(tmp_path / "again")],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "again" / "index.html").is_file()


@pytest.mark.slow
def test_environment_records_the_restricted_topology(tmp_path: Path) -> None:
    import os as _os

    cpu = max(_os.sched_getaffinity(0))
    sweep = tmp_path / "sweep"
    out = coresweep(f"cpus={cpu}", "backend=thread_pool", "workers=1", "workload=cpu_python",
                    "workload.size=2", "workload.grain=10", "repeats=1", "report=false",
                    f"hydra.sweep.dir={sweep}", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    topo = json.loads((sweep / "environment.json").read_text())["topology"]
    assert topo["affinity_cpus"] == [cpu] and topo["logical_cores"] == 1


@pytest.mark.slow
def test_jobs_stuck_past_the_timeout_are_ended_and_the_sweep_goes_on(stuck_sweep) -> None:
    # Threads cannot be killed, so a stuck job ends with its process; the next job still runs.
    sweep, future = stuck_sweep  # STUCK_ARGS, started with the module's first test
    out = future.result()
    assert out.returncode == 1, out.stderr
    rows = rows_of(sweep)
    assert {r["backend"] for r in rows} == {"thread_pool", "sequential"}
    assert len(rows) == 4 and all(not r["ok"] and r["error"].startswith("stopped:") for r in rows)
    assert "timeout_s=1" in rows[0]["error"]
    assert (sweep / "report" / "index.html").is_file()
