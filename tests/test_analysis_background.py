"""Background work in a forked child: its result comes back, and a failing child never loses the work."""

from __future__ import annotations

import os

import pytest

from coresweep.analysis import _parallel
from coresweep.analysis._parallel import Background

needs_fork = pytest.mark.skipif(not _parallel.can_fork(), reason="needs fork and 2 CPUs")


def _pid_and(value: int) -> tuple[int, int]:
    return os.getpid(), value * 2


def _die_in_child(parent: int) -> str:
    if os.getpid() != parent:
        os._exit(3)  # a child killed mid-work: nothing sent
    return "done here"


@needs_fork
def test_the_child_does_the_work_and_sends_the_result() -> None:
    job = Background(_pid_and, 21)
    pid, value = job.result()
    assert value == 42 and pid != os.getpid()
    assert job.result() == (pid, value)  # asked twice: the same answer, no second run


@needs_fork
def test_a_dead_child_means_the_work_is_done_here() -> None:
    assert Background(_die_in_child, os.getpid()).result() == "done here"


def test_not_allowed_runs_here() -> None:
    pid, value = Background(_pid_and, 1, allowed=False).result()
    assert pid == os.getpid() and value == 2


@needs_fork
def test_an_unwanted_result_is_reaped() -> None:
    job = Background(_pid_and, 1)
    job.close()
    assert job.process.exitcode == 0
