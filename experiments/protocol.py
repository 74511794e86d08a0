"""The timing protocol: the only place in coresweep that reads a clock.

Per job: start the backend (``startup_s``) → warm-up runs → ``repeats`` timed runs →
shut down (``teardown_s``). Each timed run is ``loops`` back-to-back calls inside one timed
region when a single call is shorter than ``min_time_s`` (as pyperf calibrates loops), and
``wall_s`` is the time of one call. Every call's result is verified against the sequential
answer *outside* the timed region; a wrong or failed run is returned as failed, never dropped
and never given a time that could be mistaken for a fast one.
"""

from __future__ import annotations

import math
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Callable

from .backends.base import Backend
from .collect import Collector
from .resources import CpuTimes, PeakMemory, tree_cpu_times

Clock = Callable[[], int]
Verifier = Callable[[Sequence[Any], Sequence[Any]], "str | None"]

#: Never loop more than this many calls into one timed run, however fast a call is.
MAX_LOOPS = 1000


@dataclass(frozen=True)
class RunMeasurement:
    """One timed run, as it becomes one row."""

    repeat: int
    loops: int
    wall_s: float | None
    cpu_user_s: float | None
    cpu_sys_s: float | None
    peak_rss_bytes: int | None
    verified: bool
    ok: bool
    error: str | None


@dataclass
class JobMeasurement:
    startup_s: float | None = None
    teardown_s: float | None = None
    warmup_s: list[float] = field(default_factory=list)
    runs: list[RunMeasurement] = field(default_factory=list)


def describe(exc: BaseException) -> str:
    """One line for the ``error`` field: exception type and message, plus where it came from."""
    text = f"{type(exc).__name__}: {exc}".strip().splitlines()
    first = text[0] if text else type(exc).__name__
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (at {frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno})" if frames else ""
    return (first[:400] + where) if len(first) > 400 else first + where


@dataclass
class Protocol:
    """Runs one job's measurements. ``clock`` and ``cpu_times`` are injectable for tests."""

    repeats: int
    warmup: int = 1
    min_time_s: float = 0.0
    clock: Clock = time.perf_counter_ns
    cpu_times: Callable[[], CpuTimes] = tree_cpu_times
    measure_memory: bool = True

    def measure(
        self,
        backend: Backend,
        collector: Collector,
        task: Callable[[Any], Any],
        items: Sequence[Any],
        expected: Sequence[Any],
        verify: Verifier,
        before_run: Callable[[], None] | None = None,
    ) -> JobMeasurement:
        """Start, warm up, time ``repeats`` runs, shut down. ``before_run`` runs untimed before
        every run (warm-ups included)."""
        self._before_run = before_run or (lambda: None)
        job = JobMeasurement()
        started = False
        try:
            t0 = self.clock()
            backend.start()
            started = True
            collector.start(backend, expected)
            job.startup_s = (self.clock() - t0) / 1e9
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt):
                raise
            self._fail_all(job, f"startup failed: {describe(exc)}")
            if started:
                backend.abort()
            return job

        loops = 1
        try:
            for _ in range(self.warmup):
                self._before_run()
                t0 = self.clock()
                got = collector.run(backend, task, items)
                job.warmup_s.append((self.clock() - t0) / 1e9)
                problem = verify(expected, got)
                if problem:
                    raise AssertionError(f"wrong result in warm-up: {problem}")
            if self.min_time_s > 0 and job.warmup_s:
                loops = calibrate_loops(job.warmup_s[-1], self.min_time_s)
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt):
                backend.abort()
                raise
            self._fail_all(job, f"warm-up failed: {describe(exc)}")
            self._teardown(job, backend, collector, aborted=True)
            return job

        broken = False
        for repeat in range(self.repeats):
            run = self._timed_run(repeat, loops, backend, collector, task, items, expected, verify)
            job.runs.append(run)
            broken = broken or (not run.ok and run.wall_s is None)
        self._teardown(job, backend, collector, aborted=broken)
        return job

    def _timed_run(
        self,
        repeat: int,
        loops: int,
        backend: Backend,
        collector: Collector,
        task: Callable[[Any], Any],
        items: Sequence[Any],
        expected: Sequence[Any],
        verify: Verifier,
    ) -> RunMeasurement:
        outputs: list[Any] = []
        self._before_run()
        memory = PeakMemory(sample_children=backend.uses_processes) if self.measure_memory else None
        cpu0 = self.cpu_times()
        try:
            if memory is not None:
                memory.__enter__()
            t0 = self.clock()
            for _ in range(loops):
                outputs.append(collector.run(backend, task, items))
            elapsed_ns = self.clock() - t0
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt):
                raise
            return RunMeasurement(repeat, loops, None, None, None, None, False, False, describe(exc))
        finally:
            if memory is not None:
                memory.__exit__(None, None, None)
        cpu = self.cpu_times() - cpu0
        problem = next((p for p in (verify(expected, got) for got in outputs) if p), None)
        return RunMeasurement(
            repeat=repeat,
            loops=loops,
            wall_s=elapsed_ns / 1e9 / loops,
            cpu_user_s=cpu.user / loops,
            cpu_sys_s=cpu.system / loops,
            peak_rss_bytes=memory.peak_bytes if memory is not None else None,
            verified=problem is None,
            ok=problem is None,
            error=None if problem is None else f"wrong result: {problem}",
        )

    def _teardown(
        self, job: JobMeasurement, backend: Backend, collector: Collector, aborted: bool
    ) -> None:
        t0 = self.clock()
        try:
            if aborted:
                backend.abort()
            else:
                backend.shutdown()
            collector.shutdown()
        except Exception:
            backend.abort()
            return
        job.teardown_s = (self.clock() - t0) / 1e9

    def _fail_all(self, job: JobMeasurement, error: str) -> None:
        job.runs = [
            RunMeasurement(r, 1, None, None, None, None, False, False, error)
            for r in range(self.repeats)
        ]


def calibrate_loops(call_s: float, min_time_s: float) -> int:
    """How many calls make one timed run last at least ``min_time_s``."""
    if call_s <= 0:
        return MAX_LOOPS
    return max(1, min(MAX_LOOPS, math.ceil(min_time_s / call_s)))
