"""dask_distributed beyond what the registry-wide tests check: threads mode, an existing
scheduler, no cached results, a clear refusal where dask is not installed."""

from __future__ import annotations

import os

import pytest
from hydra import compose

from coresweep.experiments.backends import BACKENDS, BackendError, dask_backend
from coresweep.experiments.plan.sweep import ConfigError, check_job

from . import tasks

DASK = BACKENDS["dask_distributed"]
needs_dask = pytest.mark.skipif(not DASK.available(), reason="dask is not installed (coresweep[dask])")


@needs_dask
def test_threads_mode_runs_in_this_process_without_caching() -> None:
    import psutil

    tasks.CALLS.clear()
    backend = DASK(2, None, processes=False)
    assert backend.start_method == "thread" and not backend.uses_processes
    children = {p.pid for p in psutil.Process().children(recursive=True)}
    backend.start()
    try:
        assert {p.pid for p in psutil.Process().children(recursive=True)} == children
        for _ in range(3):
            assert backend.map(tasks.count_call, [4, 5, 6]) == [4, 5, 6]
    finally:
        backend.shutdown()
    # Every run computed every task: nothing was answered from an earlier run's results.
    assert sorted(tasks.CALLS) == [4, 4, 4, 5, 5, 5, 6, 6, 6]


@needs_dask
def test_processes_mode_records_dask_start_method_and_leaves_environment_alone() -> None:
    before = dict(os.environ)
    backend = DASK(2, "fork")  # start_method is dask's own (its nanny), not ours
    assert backend.start_method == "spawn" and backend.uses_processes
    backend.start()
    try:
        assert backend.map(tasks.square, list(range(5))) == [0, 1, 4, 9, 16]
    finally:
        backend.shutdown()
    # The nanny writes its pre-spawn variables (PYTHONHASHSEED, OMP_NUM_THREADS...) into
    # this process; the next job must not inherit them.
    assert dict(os.environ) == before


@needs_dask
def test_existing_scheduler_is_used_not_owned(monkeypatch) -> None:
    from distributed import Client, LocalCluster

    monkeypatch.setattr(dask_backend, "EXTERNAL_WAIT_S", 0.5)  # how long a too-small cluster may grow

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None)
    try:
        backend = DASK(2, None, address=cluster.scheduler_address)
        assert backend.start_method == "external"
        backend.start()
        assert backend.map(tasks.square, [1, 2, 3]) == [1, 4, 9]
        backend.shutdown()
        with Client(cluster, set_as_default=False) as client:  # still up: not ours to stop
            assert len(client.scheduler_info()["workers"]) == 2

        wrong = DASK(3, None, address=cluster.scheduler_address)
        with pytest.raises(BackendError, match=r"runs 2 tasks at once .* but workers=3; set workers=2"):
            wrong.start()
        wrong.abort()
    finally:
        cluster.close()


def test_missing_dask_is_refused_with_the_extra_to_install(monkeypatch, hydra_ctx) -> None:
    monkeypatch.setattr(dask_backend, "dask_available", lambda: False)
    assert not DASK.available()
    hint = r"needs dask.distributed, the extra coresweep\[dask\]: pip install '.\[dask\]' in the coresweep"
    with pytest.raises(BackendError, match=hint):
        DASK(2, None)
    cfg = compose("config", overrides=["backend=dask_distributed"])
    with pytest.raises(ConfigError, match=r"backend=dask_distributed: needs dask.distributed"):
        check_job(cfg)


@needs_dask
@pytest.mark.parametrize(
    "override,message",
    [
        ("backend.processes=maybe", "backend.processes='maybe': must be true"),
        ("backend.address=''", "backend.address='': must be a scheduler address"),
        ("backend.address=foo", "backend.address='foo': must be a scheduler address"),
        ("+backend.threads=4", "backend.threads: not an option of backend=dask_distributed "
         r"\(its options: backend.processes, backend.address\)"),
    ],
)
def test_bad_dask_options_are_one_line_errors(hydra_ctx, override: str, message: str) -> None:
    cfg = compose("config", overrides=["backend=dask_distributed", override])
    with pytest.raises(ConfigError, match=message):
        check_job(cfg)


@needs_dask
def test_threads_option_composes(hydra_ctx) -> None:
    cfg = compose("config", overrides=["backend=dask_distributed", "backend.processes=false"])
    check_job(cfg)


@needs_dask
@pytest.mark.slow
def test_dask_sweep_through_the_real_command(tmp_path) -> None:
    import json
    import subprocess
    import sys

    sweep = tmp_path / "sweep"
    cmd = [
        sys.executable, "-m", "coresweep.experiments.entry", "-m", "backend=dask_distributed",
        "backend.processes=true,false", "workers=2", "workload=cpu_python", "workload.size=8",
        "workload.grain=200", "repeats=2", "rounds=1", "report=false", f"hydra.sweep.dir={sweep}",
    ]
    out = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    files = sorted(sweep.glob("*/results.jsonl"))
    rows = [json.loads(ln) for p in files for ln in p.read_text().splitlines()]
    assert len(rows) == 4 and all(r["ok"] and r["verified"] for r in rows)
    assert {(r["backend"], r["start_method"], r["workers"]) for r in rows} == {
        ("dask_distributed", "spawn", 2),
        ("dask_distributed", "thread", 2),
    }
    assert all(r["startup_s"] > 0 and r["teardown_s"] >= 0 for r in rows)
    assert "distributed." not in out.stderr  # dask's log lines stay off the terminal
