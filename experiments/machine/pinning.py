"""Pin each worker (thread or process) to its CPUs, and check from inside that it took.

Works the same for every backend without touching them: the task function is wrapped, and
the first task a worker runs claims a slot of the plan (an ``O_EXCL`` file in a per-job
folder, which works across threads and processes alike), pins the calling thread with
``os.sched_setaffinity(0, ...)`` (on Linux that pins the thread, so a process worker's task
thread and each pool thread are pinned one by one), and from then on notes every CPU it is
seen running on. The parent reads those notes after the job: a worker seen outside its CPUs
marks the job's rows ``pinning_ok=false``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Sequence
from typing import Any, Callable

_STATE = threading.local()


def can_pin() -> bool:
    return hasattr(os, "sched_setaffinity") and hasattr(os, "sched_getaffinity")


def current_cpu() -> int | None:
    """The CPU the calling thread is running on now (Linux: field 39 of /proc/thread-self/stat)."""
    try:
        with open("/proc/thread-self/stat", "rb") as fh:
            fields = fh.read().rsplit(b")", 1)[1].split()
        return int(fields[36])  # fields after "comm)" start at field 3
    except (OSError, IndexError, ValueError):
        return None


class PinnedTask:
    """Picklable wrapper: pin this worker on its first task, note CPUs seen, run the task."""

    def __init__(self, fn: Callable[[Any], Any], plan: Sequence[Sequence[int]], folder: str) -> None:
        self.fn = fn
        self.plan = [list(c) for c in plan]
        self.folder = folder

    def _claim(self) -> int:
        for slot in range(len(self.plan)):
            try:
                fd = os.open(os.path.join(self.folder, f"claim-{slot}"), os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                continue
            os.close(fd)
            return slot
        # More workers than slots (a backend that started extra workers): share round-robin.
        return (os.getpid() + threading.get_ident()) % len(self.plan)

    def __call__(self, item: Any) -> Any:
        state = _STATE
        if getattr(state, "folder", None) != self.folder or getattr(state, "pid", None) != os.getpid():
            state.slot = self._claim()
            os.sched_setaffinity(0, self.plan[state.slot])
            state.folder, state.pid, state.seen = self.folder, os.getpid(), set()
        cpu = current_cpu()
        if cpu is not None and cpu not in state.seen:
            state.seen.add(cpu)
            with open(os.path.join(self.folder, f"seen-{state.slot}"), "a") as fh:
                fh.write(f"{cpu}\n")
        return self.fn(item)


class Pinner:
    """One job's pinning: the plan, the claim folder, and what workers reported."""

    def __init__(self, plan: Sequence[Sequence[int]], workers_per_run: bool) -> None:
        self.plan = [list(c) for c in plan]
        self.workers_per_run = workers_per_run
        self.folder = tempfile.mkdtemp(prefix="coresweep-pin-")
        self._main_affinity = os.sched_getaffinity(0)

    def wrap(self, fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
        return PinnedTask(fn, self.plan, self.folder)

    def before_run(self) -> None:
        """Backends that start fresh workers every run need fresh slots every run."""
        if self.workers_per_run:
            for name in os.listdir(self.folder):
                if name.startswith("claim-"):
                    os.remove(os.path.join(self.folder, name))

    def seen(self) -> dict[int, list[int]]:
        out: dict[int, list[int]] = {}
        for name in sorted(os.listdir(self.folder)):
            if name.startswith("seen-"):
                with open(os.path.join(self.folder, name)) as fh:
                    cpus = {int(line) for line in fh if line.strip()}
                out[int(name[5:])] = sorted(cpus)
        return out

    def verdict(self) -> tuple[bool, dict[int, list[int]]]:
        """(every worker stayed on its CPUs and at least one worker reported, what was seen)."""
        seen = self.seen()
        ok = bool(seen) and all(set(cpus) <= set(self.plan[slot]) for slot, cpus in seen.items())
        return ok, seen

    def close(self) -> None:
        # The sequential backend runs tasks in this thread, which the wrapper pinned: undo it.
        try:
            os.sched_setaffinity(0, self._main_affinity)
        except OSError:
            pass
        shutil.rmtree(self.folder, ignore_errors=True)
