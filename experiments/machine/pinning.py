"""Pin each worker (thread or process) to its CPUs, and check from inside that it took.

Works the same for every backend without touching them: the task function is wrapped, and
the first task a worker runs claims a slot of the plan (an ``O_EXCL`` file in a per-job
folder, which works across threads and processes alike), pins the calling thread with
``os.sched_setaffinity(0, ...)`` (on Linux that pins the thread, so a process worker's task
thread and each pool thread are pinned one by one), and from then on notes every CPU it is
seen running on. The parent reads those notes after the job: a worker seen outside its CPUs
marks the job's rows ``pinning_ok=false``.

Windows pins processes, not threads: psutil's ``cpu_affinity`` (SetProcessAffinityMask) pins a
process worker as a whole, so there only backends whose workers are single-threaded processes
(``Backend.pins_per_process``) can be pinned, and only in the first processor group. macOS
cannot pin at all (affinity tags are hints). ``pinning_refusal`` says so in one line before a
sweep starts.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Sequence
from typing import Any, Callable

from . import platforms

_STATE = threading.local()


def can_pin() -> bool:
    """Whether this system lets coresweep pin workers at all (Linux threads, Windows processes)."""
    if platforms.system() == "windows":
        return _psutil_process() is not None
    if platforms.system() == "macos":
        return False
    return hasattr(os, "sched_setaffinity") and hasattr(os, "sched_getaffinity")


def _psutil_process() -> Any:
    try:
        import psutil

        proc = psutil.Process()
        return proc if hasattr(proc, "cpu_affinity") else None
    except Exception:
        return None


def pinning_refusal(pinning: str, backend: Any, topo: Any = None) -> str | None:
    """Why ``pinning`` cannot be done for ``backend`` (a Backend class) here, in one line; None if it can."""
    if pinning == "none":
        return None
    where = platforms.system()
    if where == "macos":
        return (f"pinning={pinning}: macOS cannot pin threads or processes (its affinity tags are "
                "hints the scheduler may ignore); use pinning=none")
    if where == "windows":
        if not backend.pins_per_process:
            return (f"pinning={pinning} with backend={backend.name}: on Windows coresweep pins "
                    "worker processes (psutil cpu_affinity), not threads; use backend=process, pool, "
                    "process_pool, joblib_loky or joblib_multiprocessing, or pinning=none")
        groups = len(getattr(topo, "os_details", {}).get("groups", [])) if topo is not None else 0
        if groups > 1:
            return (f"pinning={pinning}: this Windows machine has {groups} processor groups and "
                    "psutil's cpu_affinity sets only the primary one; use pinning=none")
    if not can_pin():
        return (f"pinning={pinning}: this platform cannot pin threads or processes "
                "(no os.sched_setaffinity); use pinning=none")
    return None


def set_affinity(cpus: Sequence[int]) -> None:
    """Pin the calling thread (Linux) or the calling process (Windows) to ``cpus``."""
    if platforms.system() == "windows":
        _psutil_process().cpu_affinity(list(cpus))
    else:
        os.sched_setaffinity(0, cpus)


def get_affinity() -> set[int]:
    """The CPUs the calling thread (Linux) or process (Windows) may run on."""
    if platforms.system() == "windows":
        return set(_psutil_process().cpu_affinity())
    return set(os.sched_getaffinity(0))


def current_cpu() -> int | None:
    """The CPU the calling thread is running on now (Linux: field 39 of /proc/thread-self/stat;
    Windows: GetCurrentProcessorNumberEx)."""
    if platforms.system() == "windows":
        from .windows import current_cpu as windows_cpu

        return windows_cpu()
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
            set_affinity(self.plan[state.slot])
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
        self._main_affinity = get_affinity()

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
            set_affinity(sorted(self._main_affinity))
        except Exception:  # OSError on Linux; psutil.Error on Windows
            pass
        shutil.rmtree(self.folder, ignore_errors=True)
