"""The timing protocol on a fake clock: what is timed, what is verified, what is recorded."""

from __future__ import annotations

import itertools

import pytest

from coresweep.experiments.backends import BACKENDS
from coresweep.experiments.job.collect import Collector
from coresweep.experiments.job.protocol import Protocol, calibrate_loops
from coresweep.experiments.job.resources import CpuTimes

from . import tasks


class FakeClock:
    """Each reading advances by ``step_ns``: every timed region lasts a known number of steps."""

    def __init__(self, step_ns: int = 1_000_000) -> None:
        self.now = 0
        self.step = step_ns

    def __call__(self) -> int:
        self.now += self.step
        return self.now


def fake_cpu() -> CpuTimes:
    return CpuTimes(0.0, 0.0)


def _protocol(**kw) -> Protocol:
    kw.setdefault("repeats", 3)
    kw.setdefault("warmup", 1)
    return Protocol(clock=FakeClock(), cpu_times=fake_cpu, measure_memory=False, **kw)


def verify(expected, got):
    return None if list(expected) == list(got) else "mismatch"


def test_one_row_per_repeat_with_startup_and_teardown() -> None:
    items = list(range(5))
    job = _protocol().measure(
        BACKENDS["sequential"](1), Collector(), tasks.square, items, [i * i for i in items], verify
    )
    assert [r.repeat for r in job.runs] == [0, 1, 2]
    assert all(r.ok and r.verified and r.error is None for r in job.runs)
    # startup, each run and teardown are one clock step each (1 ms) on the fake clock
    assert job.startup_s == pytest.approx(0.001)
    assert job.teardown_s == pytest.approx(0.001)
    assert all(r.wall_s == pytest.approx(0.001) for r in job.runs)
    assert len(job.warmup_s) == 1


def test_wrong_answer_is_a_failed_run_not_a_fast_one() -> None:
    items = list(range(4))
    wrong = [i * i + 1 for i in items]
    job = _protocol(warmup=0).measure(
        BACKENDS["sequential"](1), Collector(), tasks.square, items, wrong, verify
    )
    assert len(job.runs) == 3
    assert all(not r.ok and not r.verified for r in job.runs)
    assert all("wrong result" in (r.error or "") for r in job.runs)


def test_exception_in_run_is_recorded_and_the_next_repeats_still_run() -> None:
    job = _protocol(warmup=0).measure(
        BACKENDS["thread_pool"](2), Collector(), tasks.fail_on_three, list(range(6)), [], verify
    )
    assert len(job.runs) == 3
    assert all(not r.ok and r.wall_s is None for r in job.runs)
    assert "task 3 fails on purpose" in (job.runs[0].error or "")


def test_failed_warmup_fails_every_repeat() -> None:
    job = _protocol(warmup=1).measure(
        BACKENDS["sequential"](1), Collector(), tasks.fail_on_three, list(range(6)), [], verify
    )
    assert len(job.runs) == 3 and all(not r.ok for r in job.runs)
    assert all((r.error or "").startswith("warm-up failed") for r in job.runs)


class BrokenStart(BACKENDS["sequential"]):  # type: ignore[misc,valid-type]
    def start(self) -> None:
        raise OSError("cannot start workers")


def test_failed_startup_gives_failed_rows_for_every_repeat() -> None:
    job = _protocol().measure(BrokenStart(1), Collector(), tasks.square, [1], [1], verify)
    assert len(job.runs) == 3
    assert all("startup failed" in (r.error or "") for r in job.runs)
    assert job.startup_s is None


def test_short_runs_are_looped_to_reach_min_time() -> None:
    # warm-up takes 1 ms on the fake clock; min_time 10 ms → 10 loops per timed run
    items = [1, 2]
    job = _protocol(min_time_s=0.010).measure(
        BACKENDS["sequential"](1), Collector(), tasks.square, items, [1, 4], verify
    )
    assert all(r.loops == 10 for r in job.runs)
    # one timed region of 1 step over 10 loops → 0.1 ms per call
    assert all(r.wall_s == pytest.approx(0.0001) for r in job.runs)


@pytest.mark.parametrize(
    "call_s,min_s,loops", [(0.2, 0.1, 1), (0.01, 0.1, 10), (0.03, 0.1, 4), (0.0, 0.1, 1000), (1e-9, 1, 1000)]
)
def test_calibrate_loops(call_s: float, min_s: float, loops: int) -> None:
    assert calibrate_loops(call_s, min_s) == loops


def test_cpu_time_is_the_difference_across_the_run() -> None:
    readings = itertools.count(step=0.5)

    def cpu() -> CpuTimes:
        v = next(readings)
        return CpuTimes(v, v / 10)

    proto = Protocol(repeats=2, warmup=0, clock=FakeClock(), cpu_times=cpu, measure_memory=False)
    job = proto.measure(BACKENDS["sequential"](1), Collector(), tasks.square, [3], [9], verify)
    assert [r.cpu_user_s for r in job.runs] == [pytest.approx(0.5)] * 2
    assert [r.cpu_sys_s for r in job.runs] == [pytest.approx(0.05)] * 2


def test_memory_is_measured_for_process_backends() -> None:
    proto = Protocol(repeats=1, warmup=0)
    job = proto.measure(BACKENDS["process_pool"](2), Collector(), tasks.square, [1, 2], [1, 4], verify)
    assert job.runs[0].ok
    assert job.runs[0].peak_rss_bytes and job.runs[0].peak_rss_bytes > 10 * 2**20


class ScriptedClock:
    """Every timed region lasts the next value of ``durations_ms`` (startup/teardown too)."""

    def __init__(self, durations_ms) -> None:
        self.durations = iter(durations_ms)
        self.now = 0
        self.start = True

    def __call__(self) -> int:
        if not self.start:
            self.now += int(next(self.durations) * 1e6)
        self.start = not self.start
        return self.now


def _adaptive(durations_ms, **kw) -> Protocol:
    from coresweep.experiments.job.protocol import AdaptiveRepeats

    return Protocol(
        repeats=6, warmup=0, clock=ScriptedClock(durations_ms), cpu_times=fake_cpu,
        measure_memory=False, adaptive=AdaptiveRepeats(**kw),
    )


def test_adaptive_repeats_stop_at_the_target_when_times_are_steady() -> None:
    proto = _adaptive([1] + [100] * 50 + [1] * 5, target=0.05, max_repeats=30)
    job = proto.measure(BACKENDS["sequential"](1), Collector(), tasks.square, [1], [1], verify)
    assert len(job.runs) == 6 and job.stop_reason == "target"


def test_adaptive_repeats_go_on_while_noisy_and_stop_at_max() -> None:
    noisy = [1] + [100 if i % 2 else 160 for i in range(60)] + [1] * 5
    job = _adaptive(noisy, target=0.01, max_repeats=12, budget_s=1000).measure(
        BACKENDS["sequential"](1), Collector(), tasks.square, [1], [1], verify
    )
    assert len(job.runs) == 12 and job.stop_reason == "max_repeats"


def test_adaptive_repeats_stop_on_the_time_budget() -> None:
    noisy = [1] + [100 if i % 2 else 160 for i in range(60)] + [1] * 5
    job = _adaptive(noisy, target=0.01, max_repeats=50, budget_s=1.0).measure(
        BACKENDS["sequential"](1), Collector(), tasks.square, [1], [1], verify
    )
    assert job.stop_reason == "time_budget"
    assert sum(r.wall_s for r in job.runs) >= 1.0 and len(job.runs) < 50


def test_fixed_repeats_record_why_they_stopped() -> None:
    job = _protocol().measure(BACKENDS["sequential"](1), Collector(), tasks.square, [2], [4], verify)
    assert job.stop_reason == "fixed"


def test_median_ci_halfwidth() -> None:
    from coresweep.experiments.job.protocol import median_ci_halfwidth

    assert median_ci_halfwidth([1.0] * 5) is None  # too few for a 95 % interval
    assert median_ci_halfwidth([1.0] * 10) == 0
    values = sorted([0.9, 1.0, 1.0, 1.0, 1.0, 1.1, 1.0, 1.0])
    assert median_ci_halfwidth(values) == pytest.approx(0.0, abs=0.11)


def _watchdog_threads() -> list:
    import threading

    return [t for t in threading.enumerate() if t.name == "coresweep-watchdog"]


def test_watchdogs_share_one_parked_thread_and_entering_starts_none() -> None:
    """A thread start makes the caller wait, and a run timed right after such a wait ran
    faster than in a hand-written script: entering a watchdog hands it to the parked thread."""
    from coresweep.experiments.job.protocol import Watchdog

    with Watchdog(60.0, lambda: None, None):
        pass
    before = _watchdog_threads()
    for _ in range(50):
        with Watchdog(60.0, lambda: None, None) as dog:
            pass
        assert not dog.fired
    assert _watchdog_threads() == before and len(before) == 1


def test_the_shared_watchdog_still_fires_and_the_next_one_still_watches() -> None:
    import threading

    from coresweep.experiments.job.protocol import Watchdog

    aborted = threading.Event()
    with Watchdog(0.05, aborted.set, None) as dog:
        assert aborted.wait(5.0)
    assert dog.fired and dog.reason == "timeout"
    again = threading.Event()
    with Watchdog(0.05, again.set, None) as dog2:
        assert again.wait(5.0)
    assert dog2.reason == "timeout"


def test_a_watchdog_still_in_its_grace_period_does_not_block_the_next_one() -> None:
    """The parked thread waits out a fired watchdog's grace period; a watchdog entered
    meanwhile (nested) gets a thread of its own and fires on time."""
    import threading

    from coresweep.experiments.job.protocol import Watchdog

    first_fired, second_fired = threading.Event(), threading.Event()
    with Watchdog(0.01, first_fired.set, None, grace_s=30.0):
        assert first_fired.wait(5.0)
        with Watchdog(0.05, second_fired.set, None) as inner:
            assert second_fired.wait(5.0)
        assert inner.fired


def test_the_stuck_grace_is_ten_seconds_unless_the_environment_says(monkeypatch) -> None:
    """CORESWEEP_STUCK_GRACE_S shortens the wait for a stuck thread (the tests set it); unset,
    users keep 10 s; a value that is not a number of seconds > 0 is refused, naming it."""
    from coresweep.experiments.job.protocol import GRACE_VARIABLE, STUCK_GRACE_S, Watchdog, stuck_grace_s

    monkeypatch.delenv(GRACE_VARIABLE, raising=False)
    assert stuck_grace_s() == STUCK_GRACE_S == 10.0
    assert Watchdog(1.0, lambda: None, None).grace_s == 10.0
    monkeypatch.setenv(GRACE_VARIABLE, "0.5")
    assert Watchdog(1.0, lambda: None, None).grace_s == 0.5
    assert Watchdog(1.0, lambda: None, None, grace_s=3.0).grace_s == 3.0  # given: kept
    for bad in ("soon", "0", "-1", "nan", "inf"):
        monkeypatch.setenv(GRACE_VARIABLE, bad)
        with pytest.raises(ValueError, match=rf"^{GRACE_VARIABLE}={bad}: must be a number of seconds > 0"):
            stuck_grace_s()


def test_a_stuck_run_is_ended_after_the_grace_from_the_environment(monkeypatch) -> None:
    """The grace counts from the limit: on_stuck comes about grace_s after the abort."""
    import threading
    import time

    from coresweep.experiments.job.protocol import GRACE_VARIABLE, Watchdog

    monkeypatch.setenv(GRACE_VARIABLE, "0.2")
    aborted, stuck = threading.Event(), threading.Event()
    with Watchdog(0.01, aborted.set, stuck.set):
        assert aborted.wait(5.0)
        fired_at = time.monotonic()
        assert stuck.wait(5.0)  # the run never returns here: past the grace, on_stuck
        assert time.monotonic() - fired_at >= 0.15
