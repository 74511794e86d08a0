"""Every registered backend × start method × workload gives the sequential answer."""

from __future__ import annotations

import multiprocessing as mp

import pytest

from coresweep.experiments.backends import AVAILABLE_BACKENDS, BACKENDS, BackendError
from coresweep.experiments.job.collect import COLLECTORS
from coresweep.experiments.workloads import WORKLOADS

from . import tasks

START_METHODS = [m for m in ("fork", "spawn", "forkserver") if m in mp.get_all_start_methods()]


def _cases() -> list[tuple[str, str | None]]:
    cases: list[tuple[str, str | None]] = []
    for name, cls in BACKENDS.items():
        if not cls.available():
            continue
        if cls.supports_start_method:
            cases += [(name, m) for m in START_METHODS]
        else:
            cases.append((name, None))
    return cases


def _run(backend, collector, fn, items):
    backend.start()
    collector.start(backend, [fn(x) for x in items])
    try:
        return collector.run(backend, fn, items)
    finally:
        backend.shutdown()
        collector.shutdown()


@pytest.mark.parametrize("name,start_method", _cases())
@pytest.mark.parametrize("workers", [1, 3])
def test_backend_matches_sequential(name: str, start_method: str | None, workers: int) -> None:
    items = list(range(7))  # fewer items than some chunkings, a remainder for others
    backend = BACKENDS[name](workers, start_method)
    got = _run(backend, COLLECTORS["return"](), tasks.square, items)
    assert got == [tasks.square(i) for i in items]


@pytest.mark.parametrize("name", AVAILABLE_BACKENDS)
def test_more_workers_than_items(name: str) -> None:
    backend = BACKENDS[name](4, None)
    assert _run(backend, COLLECTORS["return"](), tasks.square, [5, 6]) == [25, 36]


@pytest.mark.parametrize("name", AVAILABLE_BACKENDS)
@pytest.mark.parametrize("collect", ["manager_list", "shared_memory"])
def test_collect_modes(name: str, collect: str) -> None:
    items = list(range(9))
    got = _run(BACKENDS[name](2, None), COLLECTORS[collect](), tasks.square, items)
    assert got == [i * i for i in items]


@pytest.mark.parametrize("name", AVAILABLE_BACKENDS)
def test_exception_in_task_propagates(name: str) -> None:
    backend = BACKENDS[name](2, None)
    backend.start()
    try:
        with pytest.raises(Exception, match="task 3 fails on purpose"):
            backend.map(tasks.fail_on_three, list(range(6)))
    finally:
        backend.abort()


@pytest.mark.parametrize("workload", [w for w in WORKLOADS if w != "custom"])
@pytest.mark.parametrize("name", ["sequential", "thread_pool", "process_pool", "joblib_loky"])
def test_builtin_workloads_verify(workload: str, name: str) -> None:
    wl = WORKLOADS[workload](size=3, grain=2)
    backend = BACKENDS[name](2, None)
    wl.bind(backend)  # the pattern workloads set up for their backend (and may give it an initializer)
    wl.setup()
    try:
        items = wl.inputs()
        expected = wl.reference(items)
        got = _run(backend, wl.wrap_collector(COLLECTORS["return"]()), wl.task, items)
        assert wl.verify(expected, got) is None
    finally:
        wl.teardown()


@pytest.mark.parametrize("workers", [0, -1, "x", 1.5, True])
def test_bad_worker_counts_are_rejected(workers: object) -> None:
    with pytest.raises(BackendError, match="workers="):
        BACKENDS["thread_pool"](workers, None)  # type: ignore[arg-type]


def test_unknown_start_method_names_the_allowed_ones() -> None:
    with pytest.raises(BackendError, match="start_method=nope.*choose one of"):
        BACKENDS["process_pool"](2, "nope")


def test_sequential_ignores_workers() -> None:
    assert BACKENDS["sequential"](8, None).workers == 1


def test_effective_start_method_is_recorded() -> None:
    assert BACKENDS["thread_pool"](2, None).start_method == "thread"
    assert BACKENDS["joblib_loky"](2, None).start_method == "loky"
    assert BACKENDS["process_pool"](2, "spawn").start_method == "spawn"
