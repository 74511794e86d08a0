"""The timing protocol: the only place in coresweep that reads a clock.

Per job: start the backend (``startup_s``) → warm-up runs → ``repeats`` timed runs →
shut down (``teardown_s``). Each timed run is ``loops`` back-to-back calls inside one timed
region when a single call is shorter than ``min_time_s`` (as pyperf calibrates loops), and
``wall_s`` is the time of one call. Every call's result is verified against the sequential
answer *outside* the timed region; a wrong or failed run is returned as failed, never dropped
and never given a time that could be mistaken for a fast one.

Adjacent pairs (``pair``): the job also times the sequential computation (the workload's task
over the same items, in this thread) *between* its timed runs, P S P S … P (S P S with one
run), so that each run has a sequential time taken a fraction of a second away, where the
machine's speed has not moved yet (docs/measurement.md, "Adjacent pairs").
"""

from __future__ import annotations

import math
import os
import threading
import time
import traceback
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any, Callable

from ..backends.base import Backend
from .collect import Collector
from .resources import CpuTimes, PeakMemory, PeakPss, tree_cpu_times, tree_rss

Clock = Callable[[], int]
Verifier = Callable[[Sequence[Any], Sequence[Any]], "str | None"]

#: Never loop more than this many calls into one timed run, however fast a call is.
MAX_LOOPS = 1000
#: Seconds a run's threads get to return once its limit fired and its workers were stopped,
#: before the job's process is ended (a thread cannot be killed): long enough for a pool to
#: notice its killed workers on a busy machine. ``CORESWEEP_STUCK_GRACE_S`` replaces it (the
#: tests set it short: every stuck thread they provoke would otherwise cost them 10 s).
STUCK_GRACE_S = 10.0
GRACE_VARIABLE = "CORESWEEP_STUCK_GRACE_S"


def stuck_grace_s() -> float:
    """The grace a stuck run's threads get (``STUCK_GRACE_S`` unless the environment says).

    Raises ValueError naming the variable when its value is not a number of seconds > 0
    (the command checks it before any work, so a job never meets a bad one).
    """
    text = os.environ.get(GRACE_VARIABLE, "").strip()
    if not text:
        return STUCK_GRACE_S
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(
            f"{GRACE_VARIABLE}={text}: must be a number of seconds > 0 (unset: {STUCK_GRACE_S:g})"
        )
    return value


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
    #: Peak PSS of the process tree (only where the workload asks for it: ``measure_pss``).
    peak_pss_bytes: int | None = None
    #: Adjacent pairs only: one call of the sequential run right before / right after this run
    #: (None where there is none or it failed), and what this run is compared with: the
    #: geometric mean of those that exist, None when any of them failed (``pair_error`` says why).
    pair_before_s: float | None = None
    pair_after_s: float | None = None
    pair_wall_s: float | None = None
    pair_loops: int | None = None
    pair_error: str | None = None


@dataclass
class JobMeasurement:
    startup_s: float | None = None
    teardown_s: float | None = None
    #: The workload's set-up (inputs built and placed: arrays, files, shared memory, managers),
    #: outside every timed run and timed on its own.
    setup_s: float | None = None
    warmup_s: list[float] = field(default_factory=list)
    runs: list[RunMeasurement] = field(default_factory=list)
    interrupted: bool = False
    #: Why timing stopped: fixed, target, max_repeats, time_budget, failures (or None).
    stop_reason: str | None = None
    #: The job's process died before it finished (its last run says how).
    died: bool = False


def describe(exc: BaseException) -> str:
    """One line for the ``error`` field: exception type and message, plus where it came from."""
    text = f"{type(exc).__name__}: {exc}".strip().splitlines()
    first = text[0] if text else type(exc).__name__
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (at {frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno})" if frames else ""
    text = (first[:400] + where) if len(first) > 400 else first + where
    for needle, hint in _HINTS:
        if needle in str(exc):
            text += f" [{hint}]"
    return text


# Errors of the classic tutorial, and what to do about them.
_HINTS = (
    (
        "bootstrapping phase",
        "a module starts processes when imported: put that code under "
        "if __name__ == '__main__': so spawned workers can import it safely",
    ),
    (
        "Can't get attribute",
        "workers could not find the function by name: define it in an importable module, "
        "not in __main__ or a notebook",
    ),
    (
        "Can't pickle",
        "process backends pickle tasks and results: use module-level functions and plain data",
    ),
)


class RunTimeout(Exception):
    """A run outlived ``timeout_s``; its workers were stopped."""


class Watchdog:
    """Stops a run that outlives its time limit or grows past its memory limit.

    On expiry it calls ``abort`` (kills worker processes, so a blocked ``map`` raises). Threads
    cannot be killed: if the run is still stuck ``grace_s`` (``stuck_grace_s()``) later,
    ``on_stuck`` is called from the watchdog thread, which must record what is known and end
    the process. The memory check reads the tree's RSS every ``poll_s`` (about 15 µs a look on
    Linux).

    Entering does not start a thread: it hands this watchdog to the process's one parked
    watcher thread (``_Watcher``) and returns at once, so the clock starts without the caller
    having waited for a thread to run (a script timing the same loop never waits between
    runs). A loop timed right after such a wait ran 1-2 % faster in a probe. (The 1.5-3 % by
    which sequential cpu_python runs looked faster than a hand-written script's came from
    comparing two processes run one after the other; side by side they agree: README,
    "Fidelity".)
    """

    def __init__(
        self,
        seconds: float | None,
        abort: Callable[[], None],
        on_stuck: Callable[[], None] | None,
        max_memory_bytes: int | None = None,
        grace_s: float | None = None,
        poll_s: float = 0.05,
    ) -> None:
        self.seconds, self.abort, self.on_stuck = seconds, abort, on_stuck
        self.max_memory_bytes, self.poll_s = max_memory_bytes, poll_s
        self.grace_s = stuck_grace_s() if grace_s is None else grace_s
        self.reason: str | None = None
        self._done = threading.Event()
        self._armed_at = 0.0

    @property
    def fired(self) -> bool:
        return self.reason is not None

    def __enter__(self) -> Watchdog:
        if self.seconds or self.max_memory_bytes:
            self._armed_at = time.monotonic()  # the limit counts from here, however late the watcher wakes
            if not _Watcher.get().watch(self):  # the watcher is still busy with a fired one
                self._thread = threading.Thread(target=self._watch, name="coresweep-watchdog", daemon=True)
                self._thread.start()
        return self

    def _watch(self) -> None:
        deadline = self._armed_at + self.seconds if self.seconds else None
        while True:
            wait = self.poll_s if self.max_memory_bytes else None
            if deadline is not None:
                left = deadline - time.monotonic()
                wait = left if wait is None else min(wait, left)
            if self._done.wait(max(0.0, wait) if wait is not None else None):
                return
            if deadline is not None and time.monotonic() >= deadline:
                self.reason = "timeout"
                break
            if self.max_memory_bytes:
                rss = tree_rss()
                if rss > self.max_memory_bytes:
                    self.reason = f"memory ({rss / 2**20:.0f} MiB)"
                    break
        try:
            self.abort()
        except Exception:
            pass
        if not self._done.wait(self.grace_s) and self.on_stuck is not None:
            self.on_stuck()

    def __exit__(self, *exc: object) -> None:
        if self._armed_at:
            _Watcher.get().release(self)  # first: the next run may be handed over at once
        self._done.set()


class _Watcher:
    """The process's one watchdog thread, parked on a condition between runs.

    ``watch`` hands it a watchdog and returns without waiting for it; ``release`` (on the
    watchdog's exit) frees it at once, so the next run can be handed over before the thread
    has even woken. A watchdog it is still watching past a firing (the grace period) keeps it
    busy: the next one then gets a thread of its own, as before.
    """

    _lock = threading.Lock()
    _instance: _Watcher | None = None

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._current: Watchdog | None = None
        self._pid = os.getpid()
        threading.Thread(target=self._loop, name="coresweep-watchdog", daemon=True).start()

    @classmethod
    def get(cls) -> _Watcher:
        with cls._lock:
            # A forked child has this object but not its thread: it gets its own.
            if cls._instance is None or cls._instance._pid != os.getpid():
                cls._instance = cls()
            return cls._instance

    def watch(self, watchdog: Watchdog) -> bool:
        with self._cond:
            if self._current is not None:
                return False
            self._current = watchdog
            self._cond.notify()
            return True

    def release(self, watchdog: Watchdog) -> None:
        with self._cond:
            if self._current is watchdog:
                self._current = None

    def _loop(self) -> None:
        while True:
            with self._cond:
                while self._current is None or self._current._done.is_set():
                    self._cond.wait()
                watchdog = self._current
            watchdog._watch()  # returns as soon as its run ends


#: repeats=auto starts with this many runs: the fewest with a 95 % order-statistic median CI.
ADAPTIVE_MIN_REPEATS = 6


@dataclass(frozen=True)
class AdaptiveRepeats:
    """``repeats=auto``: keep timing until the median is known to within ``target``."""

    target: float = 0.05
    max_repeats: int = 30
    budget_s: float = 30.0


def median_ci_halfwidth(sorted_values: Sequence[float]) -> float | None:
    """Relative half-width of a distribution-free 95 % CI of the median (order statistics).

    For n samples the interval [x_(j), x_(k)] around the median has coverage from the
    binomial(n, 1/2) distribution; no resampling, so it is exact and deterministic. Returns
    None when n is too small for a 95 % interval (n < 6).
    """
    n = len(sorted_values)
    if n < 6:
        return None
    j = _binomial_half_ppf(0.025, n)  # 0-based index of the lower order statistic
    k = n - 1 - j
    if j < 0 or k >= n or j >= k:
        return None
    median = sorted_values[n // 2] if n % 2 else 0.5 * (sorted_values[n // 2 - 1] + sorted_values[n // 2])
    if median <= 0:
        return None
    return (sorted_values[k] - sorted_values[j]) / 2 / median


def _binomial_half_ppf(q: float, n: int) -> int:
    """Smallest k with P(Binomial(n, 1/2) <= k) >= q, in exact integer arithmetic.

    (What ``scipy.stats.binom.ppf(q, n, 0.5)`` gives; computed here so that the protocol needs
    only the standard library, as it does when a job runs under another interpreter.)
    """
    threshold = Fraction(repr(q)) * 2**n  # 0.025 as the decimal it is written as, exactly
    cumulative = 0
    for k in range(n + 1):
        cumulative += math.comb(n, k)
        if cumulative >= threshold:
            return k
    return n


@dataclass
class _Work:
    """What one job measures, handed between the protocol's steps."""

    backend: Backend
    collector: Collector
    task: Callable[[Any], Any]
    items: Sequence[Any]
    expected: Sequence[Any]
    verify: Verifier
    before: Callable[[], None]
    job: JobMeasurement
    #: The task the adjacent sequential runs call (None: no pairs).
    sequential: Callable[[Any], Any] | None = None


@dataclass
class Protocol:
    """Runs one job's measurements. ``clock`` and ``cpu_times`` are injectable for tests."""

    repeats: int
    warmup: int = 1
    min_time_s: float = 0.0
    timeout_s: float | None = None
    max_memory_bytes: int | None = None
    adaptive: AdaptiveRepeats | None = None
    clock: Clock = time.perf_counter_ns
    cpu_times: Callable[[], CpuTimes] = tree_cpu_times
    measure_memory: bool = True
    #: Also sample the tree's PSS during each timed run (set from ``Workload.measure_pss``).
    measure_pss: bool = False
    #: Called (from the watchdog thread) when a timed-out run cannot be stopped; gets the job.
    on_stuck: Callable[[JobMeasurement], None] | None = None
    #: Called after each timed run (a job's child streams its runs, so a crash keeps them).
    on_run: Callable[[RunMeasurement], None] | None = None
    #: Time the sequential computation next to every timed run (adjacent pairs).
    pair: bool = False

    def measure(
        self,
        backend: Backend,
        collector: Collector,
        task: Callable[[Any], Any],
        items: Sequence[Any],
        expected: Sequence[Any],
        verify: Verifier,
        before_run: Callable[[], None] | None = None,
        sequential_task: Callable[[Any], Any] | None = None,
    ) -> JobMeasurement:
        """Start, warm up, time ``repeats`` runs, shut down; never raises for the code measured.

        ``before_run`` runs untimed before every run (warm-ups included). With ``pair``, the
        sequential runs between the timed runs call ``sequential_task`` (default ``task``) over
        ``items`` in this thread. On Ctrl-C the workers are stopped, the runs measured so far
        are returned with ``interrupted`` set.
        """
        job = JobMeasurement()
        work = _Work(backend, collector, task, items, expected, verify, before_run or (lambda: None), job)
        if self.pair:
            work.sequential = sequential_task or task
        try:
            self._measure(work)
        except KeyboardInterrupt:
            job.interrupted = True
            _quietly(backend.abort)
            _quietly(collector.shutdown)
        return job

    def measure_workload(
        self,
        backend: Backend,
        collector: Collector,
        workload: Any,
        reference: Callable[[Sequence[Any]], Any],
        pinner: Any = None,
        limits: AbstractContextManager[Any] | None = None,
        on_stuck_reference: Callable[[JobMeasurement], None] | None = None,
    ) -> JobMeasurement:
        """A whole job: the workload's inputs, its sequential answer, then :meth:`measure`.

        The answer comes from ``reference(items)`` under the time limit (a hang there calls
        ``on_stuck_reference``, like a stuck thread). ``limits`` is held around the answer and
        the runs (e.g. BLAS thread caps); ``pinner`` wraps the task and runs before each run.
        Never raises for the code measured: a failure becomes failed rows. Shared by jobs run
        here and jobs run under another interpreter (``python=``), so both follow one protocol.
        """
        measurement = JobMeasurement()
        try:
            t0 = self.clock()
            # The workload's set-up is not part of any run: building and placing its inputs
            # (a large array in shared memory, a file, a manager process) is timed on its own.
            bind = getattr(workload, "bind", None)  # a stand-in workload (tests) may lack the hooks
            if bind is not None:
                bind(backend)
            workload.setup()
            wrap = getattr(workload, "wrap_collector", None)
            collector = wrap(collector) if wrap is not None else collector
            setup_s = (self.clock() - t0) / 1e9
            try:
                items = workload.inputs()
                with limits if limits is not None else nullcontext():
                    stuck = (lambda: on_stuck_reference(measurement)) if on_stuck_reference else None
                    try:
                        # The sequential answer runs in this thread: a hang there can only be
                        # ended the way stuck threads are (rows written, process ended).
                        with Watchdog(self.timeout_s, lambda: None, stuck):
                            expected = reference(items)
                    except Exception as exc:
                        self._fail_all(measurement, f"sequential reference failed: {describe(exc)}")
                    else:
                        task = pinner.wrap(workload.task) if pinner else workload.task
                        before = pinner.before_run if pinner else None
                        measurement = self.measure(
                            backend,
                            collector,
                            task,
                            items,
                            expected,
                            workload.verify,
                            before,
                            sequential_task=workload.task,  # unpinned: it runs in this thread
                        )
                measurement.setup_s = setup_s
            finally:
                workload.teardown()
        except Exception as exc:
            self._fail_all(measurement, f"job failed: {describe(exc)}")
        return measurement

    def _measure(self, work: _Work) -> None:
        job, backend, collector = work.job, work.backend, work.collector
        task, items, expected, verify, before = work.task, work.items, work.expected, work.verify, work.before
        try:
            with self._watchdog(backend, job) as watchdog:
                t0 = self.clock()  # inside: the watchdog's own thread start is not the backend's
                backend.start()
                collector.start(backend, expected)
                job.startup_s = (self.clock() - t0) / 1e9
            if watchdog.fired:
                raise RunTimeout(self._limit_error(watchdog, "startup"))
        except Exception as exc:
            self._fail_from(job, 0, f"startup failed: {describe(exc)}")
            _quietly(backend.abort)
            _quietly(collector.shutdown)
            return

        loops = 1
        try:
            for _ in range(self.warmup):
                before()
                with self._watchdog(backend, job) as watchdog:
                    t0 = self.clock()
                    got = collector.run(backend, task, items)
                    elapsed_ns = self.clock() - t0
                if watchdog.fired:
                    raise RunTimeout(self._limit_error(watchdog, "a warm-up run"))
                job.warmup_s.append(elapsed_ns / 1e9)
                problem = verify(expected, got)
                if problem:
                    raise AssertionError(f"wrong result in warm-up: {problem}")
            if self.min_time_s > 0 and job.warmup_s:
                loops = calibrate_loops(job.warmup_s[-1], self.min_time_s)
        except Exception as exc:
            self._fail_from(job, 0, f"warm-up failed: {describe(exc)}")
            self._teardown(job, backend, collector, aborted=True)
            return

        pairs = _Pairs(self, work) if work.sequential is not None else None
        # One timed run: a sequential run on each side of it (S P S), so drift cancels in their
        # mean; several: one between each two (P S P … P), the same cancellation, fewer S runs.
        lone = pairs is not None and self.adaptive is None and self.repeats == 1
        before = pairs.run() if pairs is not None and lone else None
        repeat = 0
        while True:
            run = self._timed_run(work, repeat, loops)
            job.runs.append(run)
            if pairs is not None:  # what a job that dies now leaves: no complete pair yet
                job.runs[-1] = pairs.pair(run, before, None, complete=False)
            if self.on_run is not None:
                self.on_run(job.runs[-1])
            repeat += 1
            if run.error and run.error.startswith(("timeout", "memory")):
                # The workers were killed: the backend is gone, later runs cannot be timed.
                self._fail_from(job, repeat, "not run: an earlier run hit a limit and was stopped")
                self._teardown(job, backend, collector, aborted=True)
                return
            job.stop_reason = self._stop_reason(job)
            if pairs is not None:
                after = pairs.run() if job.stop_reason is None or lone else None
                job.runs[-1] = pairs.pair(run, before, after)
                before = after
            if job.stop_reason is not None:
                break
        self._teardown(job, backend, collector, aborted=False)

    def _stop_reason(self, job: JobMeasurement) -> str | None:
        """Why to stop after the runs so far, or None to run another.

        Fixed repeats stop at ``repeats``. Adaptive repeats (``adaptive``) run at least
        ``repeats``, then stop once the 95 % confidence interval of the median is narrower
        than ``target`` (relative half-width), or at ``max_repeats``, or when the time spent
        in timed runs passes ``budget_s``.
        """
        n = len(job.runs)
        if self.adaptive is None:
            return "fixed" if n >= self.repeats else None
        if n < self.repeats:
            return None
        walls = sorted(r.wall_s * r.loops for r in job.runs if r.ok and r.wall_s is not None)
        half = median_ci_halfwidth(walls)
        if half is not None and half <= self.adaptive.target:
            return "target"
        if n >= self.adaptive.max_repeats:
            return "max_repeats"
        spent = sum(r.wall_s * r.loops for r in job.runs if r.wall_s is not None)
        if spent >= self.adaptive.budget_s:
            return "time_budget"
        if len(walls) < n // 2:  # mostly failing: more runs will not make it trustworthy
            return "failures"
        return None

    def _watchdog(self, backend: Backend, job: JobMeasurement) -> Watchdog:
        on_stuck = (lambda: self.on_stuck(job)) if self.on_stuck is not None else None
        return Watchdog(self.timeout_s, backend.abort, on_stuck, self.max_memory_bytes)

    def _limit_error(self, watchdog: Watchdog, what: str) -> str:
        if watchdog.reason == "timeout":
            return f"timeout: {what} took longer than timeout_s={self.timeout_s}"
        limit = (self.max_memory_bytes or 0) / 2**20
        return f"memory: {what} grew the process tree past max_memory ({limit:.0f} MiB): {watchdog.reason}"

    def _timed_run(self, work: _Work, repeat: int, loops: int) -> RunMeasurement:
        backend, collector, task, items = work.backend, work.collector, work.task, work.items
        job, before = work.job, work.before
        outputs: list[Any] = []
        before()
        memory = (
            PeakMemory(sample_children=backend.uses_processes, relist_first=backend.workers_per_run)
            if self.measure_memory
            else None
        )
        pss = PeakPss() if self.measure_pss else None
        watchdog = self._watchdog(backend, job)
        cpu0 = self.cpu_times()
        try:
            if memory is not None:
                memory.__enter__()
            if pss is not None:
                pss.__enter__()
            with watchdog:
                t0 = self.clock()
                for _ in range(loops):
                    outputs.append(collector.run(backend, task, items))
                elapsed_ns = self.clock() - t0
        except Exception as exc:
            error = describe(exc)
            if watchdog.fired:
                error = self._limit_error(watchdog, "the run") + "; workers stopped"
            return RunMeasurement(repeat, loops, None, None, None, None, False, False, error)
        finally:
            if pss is not None:
                pss.__exit__(None, None, None)
            if memory is not None:
                memory.__exit__(None, None, None)
        if watchdog.fired:  # finished, but only past a limit: not a valid time
            error = self._limit_error(watchdog, "the run")
            return RunMeasurement(repeat, loops, None, None, None, None, False, False, error)
        cpu = self.cpu_times() - cpu0
        problem = next((p for p in (work.verify(work.expected, got) for got in outputs) if p), None)
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
            peak_pss_bytes=pss.peak_bytes if pss is not None else None,
        )

    def _teardown(
        self, job: JobMeasurement, backend: Backend, collector: Collector, aborted: bool
    ) -> None:
        """Shut down (timed as ``teardown_s``); after a broken run, abort instead (not timed)."""
        if aborted:
            _quietly(backend.abort)
            _quietly(collector.shutdown)
            return
        try:
            with self._watchdog(backend, job) as watchdog:
                t0 = self.clock()
                backend.shutdown()
                collector.shutdown()
                elapsed_ns = self.clock() - t0
            if watchdog.fired:
                raise RunTimeout("shutdown took longer than timeout_s")
        except Exception:
            _quietly(backend.abort)
            _quietly(collector.shutdown)
            return
        job.teardown_s = elapsed_ns / 1e9

    def _fail_from(self, job: JobMeasurement, first: int, error: str) -> None:
        """Failed rows for repeats ``first``.. so that a failure never shrinks the row count."""
        job.runs = job.runs[:first] + [
            RunMeasurement(r, 1, None, None, None, None, False, False, error)
            for r in range(first, self.repeats)
        ]

    def _fail_all(self, job: JobMeasurement, error: str) -> None:
        self._fail_from(job, 0, error)


class _Pairs:
    """The adjacent sequential runs of one job (``Protocol.pair``): P S P S … P, or S P S.

    Each sequential run calls the workload's task over the same items in this thread, timed
    like a timed run (``loops`` calls inside one clock reading, calibrated to ``min_time_s``
    from one untimed warm-up call of the task, which also pays this thread's first-call
    costs), outside every timed run, and never verified: it *is* the reference computation.
    A sequential run that raises, or outlives ``timeout_s``/``max_memory``, fails the pairs of
    the runs beside it (``pair_error``); it never fails a timed run.
    """

    def __init__(self, protocol: Protocol, work: _Work) -> None:
        self.protocol, self.work = protocol, work
        self.loops = 1
        #: Why no sequential run can be timed (its warm-up call failed), or None.
        self.broken: str | None = None
        task, items = work.sequential, work.items
        assert task is not None
        if protocol.warmup > 0 and items:
            try:
                with self._watchdog() as watchdog:
                    t0 = protocol.clock()
                    task(items[0])
                    one_ns = protocol.clock() - t0
                if watchdog.fired:
                    raise RunTimeout(protocol._limit_error(watchdog, "the sequential warm-up call"))
            except Exception as exc:
                self.broken = f"sequential warm-up failed: {describe(exc)}"
                return
            if protocol.min_time_s > 0:
                # One call's time stands for the run's (a whole warm-up run would cost a
                # sequential run per job and round: 9 s of the default sweep).
                self.loops = calibrate_loops(one_ns / 1e9 * len(items), protocol.min_time_s)

    def _watchdog(self) -> Watchdog:
        # Abort does nothing: the run is in this thread; a stuck one ends the job's process.
        job = self.work.job
        on_stuck = (lambda: self.protocol.on_stuck(job)) if self.protocol.on_stuck is not None else None
        return Watchdog(self.protocol.timeout_s, lambda: None, on_stuck, self.protocol.max_memory_bytes)

    def run(self) -> tuple[float | None, str | None]:
        """One sequential run: its time per call, or its error."""
        if self.broken is not None:
            return None, self.broken
        task, items, clock = self.work.sequential, self.work.items, self.protocol.clock
        assert task is not None
        try:
            with self._watchdog() as watchdog:
                t0 = clock()
                for _ in range(self.loops):
                    [task(x) for x in items]
                elapsed_ns = clock() - t0
            if watchdog.fired:
                raise RunTimeout(self.protocol._limit_error(watchdog, "a sequential run"))
        except Exception as exc:
            return None, f"sequential run failed: {describe(exc)}"
        return elapsed_ns / 1e9 / self.loops, None

    def pair(
        self,
        run: RunMeasurement,
        before: tuple[float | None, str | None] | None,
        after: tuple[float | None, str | None] | None,
        complete: bool = True,
    ) -> RunMeasurement:
        """``run`` with its neighbours (None: no sequential run on that side) recorded.

        Its sequential time is the geometric mean of its neighbours' (one side at the ends of
        P S P … P): only when ``complete`` and every neighbour succeeded.
        """
        sides = [side for side in (before, after) if side is not None]
        error = next((e for _, e in sides if e is not None), None)
        wall = None
        times = [t for t, _ in sides if t is not None and t > 0]
        if complete and sides and error is None and len(times) == len(sides):
            wall = times[0] if len(times) == 1 else math.sqrt(times[0] * times[1])
        return replace(
            run,
            pair_before_s=before[0] if before is not None else None,
            pair_after_s=after[0] if after is not None else None,
            pair_wall_s=wall,
            pair_loops=self.loops,
            pair_error=error,
        )


def _quietly(fn: Callable[[], None]) -> None:
    try:
        fn()
    except Exception:
        pass


def calibrate_loops(call_s: float, min_time_s: float) -> int:
    """How many calls make one timed run last at least ``min_time_s``."""
    if call_s <= 0:
        return MAX_LOOPS
    return max(1, min(MAX_LOOPS, math.ceil(min_time_s / call_s)))
