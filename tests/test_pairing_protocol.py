"""Adjacent pairs in the timing protocol, on a fake clock: order, recorded times, failures, loops."""

from __future__ import annotations

import pytest

from coresweep.experiments.backends import BACKENDS
from coresweep.experiments.job.collect import Collector
from coresweep.experiments.job.pairing import pair_mode, pairs
from coresweep.experiments.job.protocol import AdaptiveRepeats, Protocol
from coresweep.experiments.job.resources import CpuTimes
from coresweep.experiments.workloads.cpu_python import CpuPython
from coresweep.experiments.workloads.io_sleep import IoSleep
from coresweep.experiments.workloads.stateful import Stateful

from .test_protocol import FakeClock

ITEMS = list(range(5))
EXPECTED = [i * i for i in ITEMS]


class Log:
    """The parallel task logs "P", the sequential one "S" (one entry per call)."""

    def __init__(self, fail_at: int | None = None) -> None:
        self.calls: list[tuple[str, int]] = []
        self.s_calls = 0
        self.fail_at = fail_at

    def parallel(self, x: int) -> int:
        self.calls.append(("P", x))
        return x * x

    def sequential(self, x: int) -> int:
        self.s_calls += 1
        self.calls.append(("S", x))
        if self.fail_at is not None and self.s_calls == self.fail_at:
            raise RuntimeError("sequential fails on purpose")
        return x * x

    def runs(self) -> list[str]:
        """The calls as runs: each run calls items 0, 1, ... in order; a lone call (the
        sequential warm-up call) shows as "s"."""
        groups: list[list[str]] = []
        for kind, x in self.calls:
            if x == ITEMS[0]:
                groups.append([])
            groups[-1].append(kind)
        return [g[0] if len(g) == len(ITEMS) else g[0].lower() for g in groups]


def _measure(log: Log, **kw) -> list:
    kw.setdefault("repeats", 3)
    kw.setdefault("warmup", 1)
    protocol = Protocol(
        clock=FakeClock(), cpu_times=lambda: CpuTimes(0.0, 0.0), measure_memory=False, pair=True, **kw
    )
    job = protocol.measure(
        BACKENDS["sequential"](1),
        Collector(),
        log.parallel,
        ITEMS,
        EXPECTED,
        lambda e, g: None if list(e) == list(g) else "mismatch",
        sequential_task=log.sequential,
    )
    return job.runs


def test_sequential_runs_lie_between_the_timed_runs() -> None:
    log = Log()
    runs = _measure(log, repeats=3)
    # warm-up P, one untimed sequential call, then P S P S P: each S between two timed runs
    assert log.runs() == ["P", "s", "P", "S", "P", "S", "P"]
    assert [r.repeat for r in runs] == [0, 1, 2]
    assert all(r.ok and r.pair_error is None for r in runs)


def test_one_timed_run_has_a_sequential_run_on_each_side() -> None:
    log = Log()
    runs = _measure(log, repeats=1)
    assert log.runs() == ["P", "s", "S", "P", "S"]
    assert runs[0].pair_before_s is not None and runs[0].pair_after_s is not None


def test_pair_fields_name_the_neighbours_and_their_geometric_mean() -> None:
    runs = _measure(Log(), repeats=3)
    # the fake clock: every timed region lasts one step (1 ms), loops 1
    first, middle, last = runs
    assert first.pair_before_s is None and first.pair_after_s == pytest.approx(0.001)
    assert middle.pair_before_s == pytest.approx(0.001) and middle.pair_after_s == pytest.approx(0.001)
    assert last.pair_before_s == pytest.approx(0.001) and last.pair_after_s is None
    assert all(r.pair_wall_s == pytest.approx(0.001) and r.pair_loops == 1 for r in runs)


def test_a_failing_sequential_run_fails_the_pairs_beside_it_never_the_runs() -> None:
    # calls: 1 = the warm-up call, 2-6 = the first sequential run, 7-11 = the second
    runs = _measure(Log(fail_at=7), repeats=3)
    assert all(r.ok and r.verified for r in runs)  # the timed runs stay ok
    assert runs[0].pair_wall_s is not None and runs[0].pair_error is None
    for run in runs[1:]:
        assert run.pair_wall_s is None
        assert "sequential run failed" in (run.pair_error or "") and "on purpose" in run.pair_error


def test_a_failing_sequential_warm_up_fails_every_pair() -> None:
    runs = _measure(Log(fail_at=1), repeats=2)
    assert all(r.ok for r in runs)
    assert all(r.pair_wall_s is None and "sequential warm-up failed" in (r.pair_error or "") for r in runs)


def test_sequential_runs_loop_to_min_time_like_timed_runs() -> None:
    # one call lasts 1 ms on the fake clock, so a run of 5 items is taken as 5 ms: 20 ms needs 4 loops
    log = Log()
    runs = _measure(log, repeats=2, min_time_s=0.02)
    assert all(r.pair_loops == 4 for r in runs)
    assert runs[0].pair_wall_s == pytest.approx(0.001 / 4)  # one clock step over 4 loops
    assert log.runs().count("S") == 4  # one sequential run of 4 loops between the two timed runs


def test_no_warm_up_means_no_warm_up_call_and_one_loop() -> None:
    log = Log()
    runs = _measure(log, repeats=2, warmup=0, min_time_s=0.5)
    assert log.runs() == ["P", "S", "P"]
    assert all(r.pair_loops == 1 for r in runs)


def test_adaptive_repeats_pair_every_run() -> None:
    runs = _measure(Log(), repeats=6, adaptive=AdaptiveRepeats(target=0.5, max_repeats=8, budget_s=10))
    assert len(runs) >= 6
    assert all(r.pair_wall_s is not None for r in runs)


def test_unpaired_protocol_records_no_pairs() -> None:
    protocol = Protocol(
        repeats=2, warmup=1, clock=FakeClock(), cpu_times=lambda: CpuTimes(0.0, 0.0), measure_memory=False
    )
    log = Log()
    job = protocol.measure(
        BACKENDS["sequential"](1),
        Collector(),
        log.parallel,
        ITEMS,
        EXPECTED,
        lambda e, g: None,
        sequential_task=log.sequential,
    )
    assert all(kind == "P" for kind, _ in log.calls)
    assert all(r.pair_wall_s is None and r.pair_loops is None for r in job.runs)


@pytest.mark.parametrize(
    ("value", "mode"),
    [("auto", "auto"), ("on", "on"), (True, "on"), (False, "off"), ("OFF", "off"), ("x", None)],
)
def test_pair_mode(value, mode) -> None:
    assert pair_mode(value) == mode


def test_which_jobs_pair() -> None:
    cpu, sleep, state = CpuPython(size=2), IoSleep(size=2), Stateful(size=2)
    assert pairs("auto", cpu, baseline=False) and not pairs("auto", sleep, baseline=False)
    assert pairs("on", sleep, baseline=False) and not pairs("off", cpu, baseline=False)
    assert not pairs("on", cpu, baseline=True)  # the sequential job is its own baseline
    assert not pairs("on", state, baseline=False)  # its runs merge per-worker state
