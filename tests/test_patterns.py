"""The workload patterns (issue 16): every share, init and state method verified under fork and
spawn; the PSS reading against copy-on-write; bad input; a tiny run of the preset."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import time
from pathlib import Path

import numpy as np
import pytest

from coresweep.experiments.backends import BACKENDS
from coresweep.experiments.cli import main
from coresweep.experiments.job.collect import Collector
from coresweep.experiments.job.protocol import Protocol
from coresweep.experiments.job.resources import HAS_PSS, tree_pss, tree_rss
from coresweep.experiments.plan.sweep import applicable_jobs
from coresweep.experiments.workloads import WORKLOADS
from coresweep.experiments.workloads.patterns import INIT_METHODS, SHARE_METHODS, STATE_METHODS

from .test_cli_sweep import coresweep, rows_of


def _measure(backend_name: str, start_method: str, workload: str, **options) -> tuple:
    cls = BACKENDS[backend_name]
    backend = cls(2, start_method if cls.supports_start_method else None)
    work = WORKLOADS[workload](**options)
    protocol = Protocol(repeats=2, warmup=1, timeout_s=120, measure_pss=work.measure_pss)
    job = protocol.measure_workload(backend, Collector(), work, work.reference)
    return job, work


CASES = []
for method in ("fork", "spawn"):
    for backend in ("sequential", "thread_pool", "thread", "pool", "process_pool", "process"):
        if method == "spawn" and not BACKENDS[backend].supports_start_method:
            continue
        CASES += [(backend, method, "shared_input", {"share": s}) for s in SHARE_METHODS]
        CASES += [(backend, method, "init_heavy", {"init": i}) for i in INIT_METHODS]
        CASES += [(backend, method, "stateful", {"state": s}) for s in STATE_METHODS]
CASES += [("joblib_loky", "loky", "shared_input", {"share": s}) for s in SHARE_METHODS]
CASES += [("joblib_loky", "loky", "init_heavy", {"init": i}) for i in INIT_METHODS]
CASES += [("joblib_loky", "loky", "stateful", {"state": s}) for s in STATE_METHODS]
SMALL = {
    "shared_input": {"size": 4, "grain": 3, "input_mb": 1},
    "init_heavy": {"size": 4, "grain": 200, "init_ms": 1},
    "stateful": {"size": 4, "grain": 50},
}


@pytest.mark.parametrize(
    "backend,method,workload,dims", CASES, ids=[f"{b}-{m}-{w}-{list(d.values())[0]}" for b, m, w, d in CASES]
)
def test_every_method_gives_verified_rows(backend, method, workload, dims) -> None:
    job, work = _measure(backend, method, workload, **SMALL[workload], **dims)
    assert len(job.runs) == 2
    assert all(r.ok and r.verified for r in job.runs), [r.error for r in job.runs]
    assert job.setup_s is not None and job.setup_s >= 0
    fields = work.fields()
    if workload == "shared_input":
        assert all(r.peak_pss_bytes is None or r.peak_pss_bytes > 0 for r in job.runs)
        assert fields["share_how"]
        if not BACKENDS[backend].uses_processes:
            assert "thread" in fields["share_how"] or "same" in fields["share_how"]
    if workload == "init_heavy" and dims["init"] == "per_worker":
        assert fields["worker_inits"] >= 1
        expected = "run" if BACKENDS[backend].workers_per_run else "startup"
        assert fields["init_lands"] == expected


def test_a_wrong_merge_fails_verification() -> None:
    work = WORKLOADS["stateful"](size=4, grain=20)
    expected = work.reference(work.inputs())
    wrong = [dict(expected[0], zzz=1)]
    assert work.verify(expected, wrong) is not None
    assert work.verify(expected, expected) is None


def _hold(array_bytes: int, touch: bool, ready, done) -> None:
    array = _SHARED["array"]
    if touch:
        array += 1.0  # writes every page: copy-on-write gives this process its own copy
    ready.set()
    done.wait(30)


_SHARED: dict = {}


@pytest.mark.skipif(not HAS_PSS or "fork" not in mp.get_all_start_methods(), reason="needs PSS and fork")
@pytest.mark.parametrize("touch", [False, True], ids=["untouched", "touched"])
def test_pss_counts_a_forked_array_once_unless_the_child_writes_it(touch: bool) -> None:
    size = 64 * 2**20
    _SHARED["array"] = np.ones(size // 8)
    ctx = mp.get_context("fork")
    ready, done = ctx.Event(), ctx.Event()
    base_pss = tree_pss()
    child = ctx.Process(target=_hold, args=(size, touch, ready, done))
    child.start()
    try:
        assert ready.wait(30)
        time.sleep(0.05)
        pss, rss = tree_pss(), tree_rss()
    finally:
        done.set()
        child.join(10)
        _SHARED.clear()
    extra = pss - base_pss
    # RSS sums count the shared array in the parent and again in the child, touched or not.
    assert rss - pss > (0.6 * size if not touch else -size)
    if touch:
        assert extra > 0.8 * size, extra / 2**20  # a second copy
    else:
        assert extra < 0.4 * size, extra / 2**20  # shared pages split, counted once in all


BAD = [
    (["workload=shared_input", "share=telepathy"], "share=telepathy: choose one of argument, inherit"),
    (["workload=init_heavy", "init=never"], "init=never: choose one of per_task, per_worker"),
    (["workload=stateful", "state=global"], "state=global: choose one of manager, mapreduce"),
    (["share=telepathy"], "share=telepathy: choose one of"),
    (["workload=shared_input", "workload.input_mb=0"], "workload.input_mb=0: must be an integer >= 1"),
    (["workload=shared_input", "workload.input_mb=-5"], "workload.input_mb=-5"),
    (["workload=shared_input", "workload.input_mb=100000000"], "is larger than the memory available"),
    (["workload=init_heavy", "init=per_worker", "backend=joblib_threading"],
     "init=per_worker: backend=joblib_threading has no per-worker initializer"),
    (["workload=stateful", "collect=manager_list"], "collect=manager_list: workload=stateful"),
    (["-m", "workload=shared_input,stateful", "workload.init_ms=10"],
     "workload.init_ms belongs to workload=init_heavy; add workload=init_heavy"),
]


@pytest.mark.parametrize("argv,message", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_pattern_input_is_one_line_and_exit_2(argv, message, capsys, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("coresweep: error: ") and message in lines[0], lines[0]
    assert not (tmp_path / "outputs").exists(), "no work may start on bad input"


def test_dimensions_that_do_not_apply_are_left_out() -> None:
    jobs = [
        ["workload=shared_input", "share=argument", "workload.input_mb=1", "workload.init_ms=1"],
        ["workload=shared_input", "share=argument", "workload.input_mb=1", "workload.init_ms=10"],
        ["workload=init_heavy", "share=argument", "workload.input_mb=1", "workload.init_ms=1"],
        ["workload=init_heavy", "share=inherit", "workload.input_mb=10", "workload.init_ms=1"],
        ["workload=cpu_python", "share=inherit", "workload.input_mb=10", "workload.init_ms=1"],
    ]
    assert applicable_jobs(jobs, "cpu_python") == [
        ["workload=shared_input", "share=argument", "workload.input_mb=1"],
        ["workload=init_heavy", "workload.init_ms=1"],
        ["workload=cpu_python"],
    ]


@pytest.mark.slow
def test_tiny_patterns_preset_through_the_cli(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    out = coresweep(
        "+experiment=patterns",
        "backend=sequential,pool",
        "workers=2",
        "workload.input_mb=1,2",
        "workload.init_ms=0,1",
        "workload.grain=choice(5)",
        "repeats=2",
        "warmup=0",
        f"hydra.sweep.dir={sweep}",
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    rows = rows_of(sweep)
    assert rows and all(r["ok"] and r["verified"] for r in rows)
    shared = [r for r in rows if r["workload"] == "shared_input"]
    assert {r["share"] for r in shared} == set(SHARE_METHODS)
    assert {r["input_mb"] for r in shared} == {1, 2}
    assert all(r["memory_measure"] in ("pss", "rss") and r["setup_s"] is not None for r in shared)
    init = [r for r in rows if r["workload"] == "init_heavy"]
    assert {r["init"] for r in init} == set(INIT_METHODS) and all(r["share"] is None for r in init)
    state = [r for r in rows if r["workload"] == "stateful"]
    assert {r["state"] for r in state} == set(STATE_METHODS) and all(r["input_mb"] is None for r in state)
    report = sweep / "report"
    for name in ("patterns_share", "patterns_init", "patterns_state"):
        assert (report / f"{name}.png").is_file(), name
    claims = (report / "folklore.csv").read_text()
    assert "Sending a large input to processes" in claims and "Initialise once per worker" in claims
    env = json.loads((sweep / "environment.json").read_text())
    assert env
    assert os.path.exists(report / "index.html")
