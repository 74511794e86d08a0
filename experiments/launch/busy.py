"""Was the machine busy while a job ran? Other processes' share of the CPUs, per execution.

A laptop or a shared VM often runs something else beside a sweep; a job timed while another
process takes a core measures a contended machine, not this one. So the driver reads the
machine's busy CPU time (``/proc/stat``, per CPU the job may use) and its own process tree's
(this process, the job server, the job's process and its workers, reaped or alive) around each
execution of a job (one job, one round):

    busy_share = (busy CPU seconds - own tree's CPU seconds) / (wall seconds x CPUs watched)

the share of the job's CPUs that other processes (and, on a VM, the hypervisor's steal) used
while it ran. Every row of the execution records it (``busy_share``) and whether it passed
``BUSY_SHARE`` (``busy``). ``busy=`` says what to do about a busy execution:

- ``keep`` (the default): record and mark it; the report says how many were busy.
- ``rerun``: run a busy execution again, at most ``BUSY_RERUNS`` times; the busy attempt's rows
  stay on disk marked ``superseded`` (analysis uses the last attempt). An attempt with a failed
  run is never rerun: a failure under load is still a failure.
- ``wait``: before an execution, unless the previous one was quiet, wait until a window of
  ``QUIET_WINDOW_S`` is quiet (at most ``WAIT_MAX_S`` per execution, ``WAIT_BUDGET_S`` per sweep).

The readers are injectable, so the share and the policies are tested without a busy machine.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

#: Other processes using more than this share of the job's CPUs make an execution busy (10 %:
#: on 2 CPUs, a fifth of a core taken for the whole execution; above the tick rounding of a
#: one-second execution, ~2 %, and above what an idle desktop takes).
BUSY_SHARE = 0.10
#: What ``busy=`` may say (conf/config.yaml); ``keep`` is the default (docs/measurement.md).
BUSY_POLICIES: tuple[str, ...] = ("keep", "rerun", "wait")
#: busy=rerun: at most this many more attempts of a busy execution.
BUSY_RERUNS = 2
#: busy=rerun: seconds before a rerun, so that a burst of a second or so can pass.
RERUN_PAUSE_S = 1.0
#: busy=wait: the window over which the machine must be quiet before an execution starts
#: (25 ticks of /proc/stat per CPU: a 10 % share is about 2.5 of them).
QUIET_WINDOW_S = 0.25
#: busy=wait: at most this long before one execution; then it runs, marked if still busy.
WAIT_MAX_S = 30.0
#: busy=wait: at most this long in all per sweep (a machine busy for good must not stall it).
WAIT_BUDGET_S = 300.0
#: busy=wait: an execution that ended less than this long ago and was quiet stands for a window.
RECENT_S = 2.0

_STAT = "/proc/stat"
#: /proc/stat columns after the CPU's name: user nice system idle iowait irq softirq steal
#: (guest time is inside user already). Busy = all but idle and iowait.
_BUSY_COLUMNS = (0, 1, 2, 5, 6, 7)


def _ticks_per_second() -> float:
    try:
        return float(os.sysconf("SC_CLK_TCK"))
    except (AttributeError, ValueError, OSError):
        return 100.0


def machine_busy_seconds(cpus: Sequence[int] | None = None) -> float | None:
    """Busy CPU seconds since boot, summed over ``cpus`` (None: every CPU); None where unreadable.

    ``/proc/stat`` on Linux; psutil's machine-wide times elsewhere (then ``cpus`` is ignored).
    """
    try:
        with open(_STAT, encoding="ascii") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return _psutil_busy_seconds()
    wanted = None if cpus is None else {f"cpu{c}" for c in cpus}
    hz = _ticks_per_second()
    total, seen = 0.0, False
    for line in lines:
        name, _, rest = line.partition(" ")
        if not name.startswith("cpu") or name == "cpu":
            continue
        if wanted is not None and name not in wanted:
            continue
        values = rest.split()
        total += sum(int(values[i]) for i in _BUSY_COLUMNS if i < len(values))
        seen = True
    return total / hz if seen else None


def _psutil_busy_seconds() -> float | None:
    try:
        import psutil
    except ImportError:
        return None
    t = psutil.cpu_times()
    return float(sum(getattr(t, f, 0.0) for f in ("user", "nice", "system", "irq", "softirq", "steal")))


def own_tree_seconds() -> float:
    """CPU seconds of this process tree: this process, reaped children, every live descendant
    (the job server, whose reaped job processes and their workers count in its children's times)."""
    from ..job.resources import tree_cpu_times

    t = tree_cpu_times()
    return t.user + t.system


def watched_cpus(cpus: Sequence[int] | None) -> list[int] | None:
    """The CPUs a job may run on: ``cpus=`` when given, else this process's affinity."""
    if cpus is not None:
        return sorted(cpus)
    try:
        return sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return None


@dataclass(frozen=True)
class CpuSample:
    """One reading: when (monotonic seconds), busy seconds of the CPUs watched, own tree's."""

    at: float
    busy_s: float | None
    own_s: float


@dataclass
class BusyProbe:
    """Reads the machine and this tree; ``share`` says what others took between two readings."""

    cpus: list[int] | None = None
    clock: Callable[[], float] = time.monotonic
    busy_reader: Callable[[Sequence[int] | None], float | None] = machine_busy_seconds
    own_reader: Callable[[], float] = own_tree_seconds

    @property
    def n_cpus(self) -> int:
        return len(self.cpus) if self.cpus else (os.cpu_count() or 1)

    def sample(self) -> CpuSample:
        return CpuSample(self.clock(), self.busy_reader(self.cpus), self.own_reader())

    def share(self, start: CpuSample, end: CpuSample) -> float | None:
        """Other processes' share of the watched CPUs between two samples, in [0, 1] (None:
        unreadable, or no time passed). Clipped: ticks round each counter to 10 ms."""
        wall = end.at - start.at
        if start.busy_s is None or end.busy_s is None or wall <= 0:
            return None
        other = (end.busy_s - start.busy_s) - (end.own_s - start.own_s)
        return min(1.0, max(0.0, other / (wall * self.n_cpus)))


def is_busy(share: float | None) -> bool:
    return share is not None and share > BUSY_SHARE


@dataclass
class QuietWait:
    """busy=wait: waits until the machine is quiet, within a limit per execution and per sweep."""

    max_s: float = WAIT_MAX_S
    budget_s: float = WAIT_BUDGET_S
    window_s: float = QUIET_WINDOW_S
    sleep: Callable[[float], None] = time.sleep
    spent_s: float = 0.0

    def wait(self, probe: BusyProbe) -> float:
        """Seconds waited: windows of ``window_s`` until one is quiet or the limit is reached."""
        limit = min(self.max_s, max(0.0, self.budget_s - self.spent_s))
        waited = 0.0
        while waited < limit:
            start = probe.sample()
            self.sleep(self.window_s)
            end = probe.sample()
            waited += max(0.0, end.at - start.at)
            if not is_busy(probe.share(start, end)):
                break
        self.spent_s += waited
        return waited


@dataclass
class BusyWatch:
    """What the driver knows across executions: the wait budget and the last execution's end."""

    waiter: QuietWait = field(default_factory=QuietWait)
    #: The last execution's end sample and whether it was quiet (busy=wait skips a quiet gap).
    last_end: CpuSample | None = None
    last_quiet: bool = False
    sleep: Callable[[float], None] = time.sleep

    def run(
        self,
        execute: Callable[[], tuple[Any, dict[str, Any]]],
        policy: str,
        probe: BusyProbe,
        supersede: Callable[[Any, dict[str, Any]], None],
    ) -> tuple[Any, dict[str, Any]]:
        """Run one execution under ``policy``; returns its measurement and the row fields to add.

        ``execute`` runs the job once (``isolation.run_isolated``) and returns (measurement,
        fields); ``supersede`` writes a busy attempt's rows before it is rerun.
        """
        attempt = 0
        while True:
            waited = None
            if policy == "wait":
                recent = self.last_end is not None and probe.clock() - self.last_end.at < RECENT_S
                waited = 0.0 if recent and self.last_quiet else self.waiter.wait(probe)
            start = probe.sample()
            measurement, fields = execute()
            end = probe.sample()
            share = probe.share(start, end)
            busy = is_busy(share)
            self.last_end, self.last_quiet = end, not busy and share is not None
            fields = {
                **fields,
                "busy_share": None if share is None else round(share, 4),
                "busy": busy,
                "busy_attempt": attempt,
                "superseded": False,
            }
            if waited is not None:
                fields["busy_wait_s"] = round(waited, 3)
            if policy == "rerun" and busy and attempt < BUSY_RERUNS and _clean(measurement):
                supersede(measurement, {**fields, "superseded": True})
                attempt += 1
                self.sleep(RERUN_PAUSE_S)
                continue
            return measurement, fields


def _clean(measurement: Any) -> bool:
    """Every run of the attempt ok, nothing interrupted: only such an attempt may be replaced."""
    runs = getattr(measurement, "runs", None) or []
    return bool(runs) and all(r.ok for r in runs) and not getattr(measurement, "interrupted", False)


#: The driver's watch over this process's executions (the launcher's jobs run one at a time).
WATCH = BusyWatch()
