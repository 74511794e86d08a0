"""Fault injection: every fault in a run becomes failed rows with the reason; nothing hangs,
nothing is left running, and the rows keep their count."""

from __future__ import annotations

import time

import psutil
import pytest

from coresweep.experiments.backends import AVAILABLE_BACKENDS, BACKENDS
from coresweep.experiments.job.collect import Collector
from coresweep.experiments.job.protocol import Protocol

from . import tasks

PROCESS_BACKENDS = [n for n in AVAILABLE_BACKENDS if BACKENDS[n].uses_processes]
ITEMS = list(range(6))


def verify(expected, got):
    return None if list(expected) == list(got) else "mismatch"


def measure(name: str, fn, timeout_s: float | None = 20.0):
    protocol = Protocol(repeats=2, warmup=0, timeout_s=timeout_s, measure_memory=False)
    backend = BACKENDS[name](2)
    backend.task_timeout_s = timeout_s  # as the job sets it
    return protocol.measure(backend, Collector(), fn, ITEMS, ITEMS, verify)


def _running_workers() -> set[int]:
    # Resource trackers (multiprocessing's and loky's) live as long as the interpreter by
    # design, and zombies are not running; anything else is a worker process.
    out = set()
    for p in psutil.Process().children(recursive=True):
        try:
            if p.status() != psutil.STATUS_ZOMBIE and "resource_tracker" not in " ".join(_cmdline(p)):
                out.add(p.pid)
        except psutil.Error:
            continue
    return out


@pytest.fixture(autouse=True)
def _baseline():
    global _BEFORE
    _BEFORE = _running_workers()
    yield


_BEFORE: set[int] = set()


def _no_orphans(grace_s: float = 5.0) -> None:
    # A terminated worker may need a moment to exit; then nothing may be left.
    deadline = time.monotonic() + grace_s
    while _running_workers() - _BEFORE and time.monotonic() < deadline:
        time.sleep(0.1)
    left = _running_workers() - _BEFORE
    assert not left, f"worker processes left running: {sorted(left)}"


def _cmdline(p: psutil.Process) -> list[str]:
    try:
        return p.cmdline()
    except psutil.Error:
        return []


@pytest.mark.parametrize("name", AVAILABLE_BACKENDS)
def test_exception_in_workload(name: str) -> None:
    job = measure(name, tasks.fail_on_three)
    assert len(job.runs) == 2
    assert all(not r.ok and "task 3 fails on purpose" in r.error for r in job.runs)
    _no_orphans()


@pytest.mark.parametrize("fault", ["die_on_two", "segfault_on_two", "kill_self_on_two"])
@pytest.mark.parametrize("name", PROCESS_BACKENDS)
def test_worker_process_dies(name: str, fault: str) -> None:
    # Every backend notices the dead worker itself, long before the timeout (joblib's
    # multiprocessing backend through coresweep's worker watcher: its pool would wait forever).
    job = measure(name, getattr(tasks, fault), timeout_s=60.0)
    assert len(job.runs) == 2
    assert all(not r.ok and r.wall_s is None for r in job.runs)
    assert job.runs[0].error and not job.runs[0].error.startswith("timeout"), job.runs[0].error
    _no_orphans()


@pytest.mark.parametrize("name", PROCESS_BACKENDS)
def test_hang_in_a_process_is_stopped_by_the_timeout(name: str) -> None:
    job = measure(name, tasks.hang_on_two, timeout_s=2.0)
    assert len(job.runs) == 2
    assert job.runs[0].error.startswith("timeout")
    assert "not run" in job.runs[1].error or job.runs[1].error.startswith("timeout")
    _no_orphans()


def test_wrong_result_is_never_counted() -> None:
    protocol = Protocol(repeats=3, warmup=0, measure_memory=False)
    job = protocol.measure(BACKENDS["process_pool"](2), Collector(), tasks.square, ITEMS, ITEMS, verify)
    assert [r.ok for r in job.runs] == [False] * 3
    assert all(r.verified is False and r.error.startswith("wrong result") for r in job.runs)
    _no_orphans()


@pytest.mark.parametrize("name", ["process_pool", "pool", "process"])
def test_memory_guard_stops_a_run_that_grows_too_large(name: str) -> None:
    from coresweep.experiments.job.resources import tree_rss

    # RSS sums count pages shared after fork once per process, and this test process may be
    # big (pandas, matplotlib): spawned workers, and a limit set above what is here already.
    limit = tree_rss() + 350 * 2**20
    protocol = Protocol(repeats=2, warmup=0, timeout_s=60, max_memory_bytes=limit, measure_memory=False)
    backend = BACKENDS[name](2, "spawn")
    job = protocol.measure(backend, Collector(), tasks.hog_memory, ITEMS, ITEMS, verify)
    assert len(job.runs) == 2
    assert job.runs[0].error.startswith("memory:"), job.runs[0].error
    assert f"max_memory ({limit / 2**20:.0f} MiB)" in job.runs[0].error
    _no_orphans()


@pytest.mark.parametrize(
    "value,expected",
    [(None, None), (1024, 1024), ("4GiB", 4 * 2**30), ("500MB", 500 * 10**6), ("1.5g", int(1.5 * 2**30))],
)
def test_parse_memory(value, expected) -> None:
    from coresweep.experiments.job.resources import parse_memory

    assert parse_memory(value) == expected


@pytest.mark.parametrize("value", ["-1", "lots", "0%", "150%", 0, True])
def test_parse_memory_rejects_nonsense(value) -> None:
    from coresweep.experiments.job.resources import parse_memory

    with pytest.raises(ValueError):
        parse_memory(value)
