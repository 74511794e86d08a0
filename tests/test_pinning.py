"""Pinning takes inside every kind of worker, and the harness sees it from inside."""

from __future__ import annotations

import os

import pytest

from coresweep.experiments.backends import AVAILABLE_BACKENDS, BACKENDS
from coresweep.experiments.machine.pinning import Pinner, can_pin, current_cpu

from . import tasks

pytestmark = pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="pins threads the Linux way")

CPU0 = sorted(os.sched_getaffinity(0))[0] if can_pin() else 0


@pytest.mark.parametrize("name", AVAILABLE_BACKENDS)
def test_every_worker_runs_only_on_its_cpu(name: str) -> None:
    backend = BACKENDS[name](2)
    pinner = Pinner([[CPU0], [CPU0]], backend.workers_per_run)
    backend.start()
    try:
        for _ in range(2):
            pinner.before_run()
            assert backend.map(pinner.wrap(tasks.square), list(range(40))) == [i * i for i in range(40)]
    finally:
        backend.shutdown()
    ok, seen = pinner.verdict()
    pinner.close()
    assert ok, seen
    assert seen and all(cpus == [CPU0] for cpus in seen.values())


def test_pinning_that_did_not_take_is_reported() -> None:
    pinner = Pinner([[CPU0]], workers_per_run=False)
    with open(os.path.join(pinner.folder, "seen-0"), "w") as fh:
        fh.write(f"{CPU0}\n{CPU0 + 1}\n")  # as if the worker had strayed to another CPU
    ok, seen = pinner.verdict()
    pinner.close()
    assert not ok and seen == {0: [CPU0, CPU0 + 1]}


def test_main_thread_affinity_is_restored() -> None:
    before = os.sched_getaffinity(0)
    pinner = Pinner([[CPU0]], workers_per_run=False)
    BACKENDS["sequential"](1).map(pinner.wrap(tasks.square), [1, 2])
    assert os.sched_getaffinity(0) == {CPU0}
    pinner.close()
    assert os.sched_getaffinity(0) == before


def test_current_cpu_is_in_the_affinity() -> None:
    cpu = current_cpu()
    assert cpu is None or cpu in os.sched_getaffinity(0)
