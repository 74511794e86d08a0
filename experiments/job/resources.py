"""CPU time and peak memory of the whole process tree (this process and every descendant).

Wall time alone hides two things this tool exists to show: threads that burn CPU while
waiting on the GIL (CPU time > wall time × useful workers) and processes that multiply memory.

psutil is optional: a job run under another interpreter (``python=3.12``) may have only the
standard library. Without psutil the same kernel counters are read from ``/proc`` (Linux), and
elsewhere only ``os.times``/``getrusage`` remain, which cannot see live worker processes.
``METHOD`` names the source, and every row records it as ``resource_method``.
"""

from __future__ import annotations

import os
import re
import threading
import time
from dataclasses import dataclass
from typing import Any

try:
    import psutil
except ImportError:  # a bare interpreter (python=...): read /proc instead
    psutil = None

#: Where CPU times and RSS come from: psutil, proc (Linux /proc) or getrusage (self + reaped only).
METHOD = "psutil" if psutil is not None else ("proc" if os.path.exists("/proc/self/stat") else "getrusage")

_SELF: Any = psutil.Process() if psutil is not None else None


def _after_fork() -> None:
    """A forked process (a job forked from the job server, a pool worker) measures itself,
    not the process it was forked from."""
    global _SELF
    _SELF = psutil.Process() if psutil is not None else None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass(frozen=True)
class CpuTimes:
    user: float
    system: float

    def __sub__(self, other: CpuTimes) -> CpuTimes:
        return CpuTimes(self.user - other.user, self.system - other.system)


def tree_cpu_times() -> CpuTimes:
    """user+sys of this process, its reaped children, and every live descendant."""
    own = os.times()
    user = own.user + own.children_user
    system = own.system + own.children_system
    if psutil is None:
        for pid in _descendant_pids():
            fields = _proc_stat(pid)
            if fields is not None:  # utime stime cutime cstime, in clock ticks
                user += (int(fields[11]) + int(fields[13])) / _TICKS
                system += (int(fields[12]) + int(fields[14])) / _TICKS
        return CpuTimes(user, system)
    for child in _children():
        try:
            t = child.cpu_times()
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
        user += t.user + getattr(t, "children_user", 0.0)
        system += t.system + getattr(t, "children_system", 0.0)
    return CpuTimes(user, system)


#: Readings taken back to back (the tree's RSS, then its CPU time, at the start and at the end of
#: a timed run) share one listing of the tree: a listing scans every process in /proc (about
#: 1.2 ms with 80 processes, more on a desktop), and four of them per run were the largest
#: part of the protocol's own cost. Nothing in coresweep starts a process between two such
#: readings; the CPU of a child reaped in between is in os.times() either way.
SHARE_LISTING_S = 0.005
_last_listing: tuple[float, list[Any]] = (-1e9, [])


def _children() -> list[Any]:
    global _last_listing
    listed_at, listed = _last_listing
    if time.monotonic() - listed_at < SHARE_LISTING_S:
        return listed
    pids = _task_children_pids()
    if pids is None:
        try:
            listed = _SELF.children(recursive=True)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            listed = []
    else:
        listed = []
        for pid in pids:
            try:
                listed.append(psutil.Process(pid))
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
    _last_listing = (time.monotonic(), listed)
    return listed


#: Linux (3.5+, CONFIG_PROC_CHILDREN) lists each thread's children in /proc/PID/task/TID/children.
_TASK_CHILDREN = os.path.exists(f"/proc/{os.getpid()}/task/{os.getpid()}/children")


def _task_children_pids() -> list[int] | None:
    """Descendants from each thread's ``children`` file: a few small reads instead of a scan of
    all of /proc (0.03 ms against about 1 ms with 65 processes, more on a desktop). A process
    that starts or ends during the walk may be missed, as with any listing. None where the
    kernel has no such files (then the caller scans /proc)."""
    if not _TASK_CHILDREN:
        return None
    found: list[int] = []
    todo = [os.getpid()]
    while todo:
        pid = todo.pop()
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:  # it ended meanwhile
            continue
        for tid in tids:
            try:  # os.open/os.read: a third of the cost of open() through Python's io stack
                fd = os.open(f"/proc/{pid}/task/{tid}/children", os.O_RDONLY)
                try:
                    kids = [int(k) for k in os.read(fd, 65536).split()]
                finally:
                    os.close(fd)
            except (OSError, ValueError):
                continue
            found += kids
            todo += kids
    return found


def _proc_stat(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name (field 3 onwards), or None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].decode().split()
    except (OSError, IndexError):
        return None


def _descendant_pids() -> list[int]:
    """Every live descendant of this process, from the parent ids in /proc (as psutil does)."""
    if METHOD != "proc":
        return []
    fast = _task_children_pids()
    if fast is not None:
        return fast
    by_parent: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            fields = _proc_stat(int(name))
            if fields is not None:
                by_parent.setdefault(int(fields[1]), []).append(int(name))
    found, todo = [], [os.getpid()]
    while todo:
        kids = by_parent.get(todo.pop(), [])
        found += kids
        todo += kids
    return found


def child_pids() -> list[int]:
    """Live descendants of this process (psutil where installed, else /proc)."""
    if psutil is None:
        return _descendant_pids()
    return [c.pid for c in _children()]


def _own_rss() -> int:
    if psutil is not None:
        return int(_SELF.memory_info().rss)
    if METHOD == "proc":
        return _rss_of([os.getpid()])
    import resource  # no /proc: the peak is the best figure there is (kilobytes on Linux/BSD)

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def tree_rss() -> int:
    if psutil is None:
        return _own_rss() + _rss_of(_descendant_pids())
    total = _SELF.memory_info().rss
    for child in _children():
        try:
            total += child.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return total


def _rss_of(pids: list[int]) -> int:
    """RSS of the given processes from /proc/PID/statm: ~20 µs each, far cheaper than psutil."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/statm", "rb") as fh:
                total += int(fh.read().split()[1]) * _PAGE
        except (OSError, IndexError, ValueError):
            continue
    return total


def _read_hwm(pid: int | str = "self") -> int | None:
    """A process's peak RSS since its start or its last ``_reset_hwm`` (Linux's VmHWM)."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            match = re.search(r"^VmHWM:\s+(\d+)\s+kB", fh.read(), re.MULTILINE)
    except OSError:
        return None
    return int(match.group(1)) * 1024 if match else None


def _reset_hwm(pid: int | str = "self") -> bool:
    """Linux resets VmHWM to the current RSS when "5" is written to clear_refs (own processes)."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


class _StatmReader:
    """RSS of processes from ``/proc/PID/statm`` files kept open: one ``pread`` per process.

    The sampler reads the same few files every 20 ms while the workers it measures compete
    for the same cores, so its cost is theirs: opening each file through Python's io stack
    took about 20 µs a process, a ``pread`` on a kept descriptor about 3 µs. A descriptor of a
    process that has ended fails to read (it never reads a later process with the same id).
    """

    def __init__(self) -> None:
        self._fds: dict[int, int] = {}

    def rss(self, pids: list[int]) -> int:
        total = 0
        for pid in pids:
            fd = self._fds.get(pid)
            try:
                if fd is None:
                    fd = self._fds[pid] = os.open(f"/proc/{pid}/statm", os.O_RDONLY)
                total += int(os.pread(fd, 128, 0).split()[1]) * _PAGE
            except (OSError, IndexError, ValueError):
                continue
        return total

    def close(self) -> None:
        for fd in self._fds.values():
            try:
                os.close(fd)
            except OSError:
                pass
        self._fds.clear()


def _sampler_pids() -> list[int]:
    """This process and its descendants, listed without psutil objects where the kernel allows
    (the sampler needs ids only: building a psutil.Process per child doubled a listing's cost)."""
    kids = _task_children_pids()
    return [os.getpid(), *(kids if kids is not None else child_pids())]


class PeakMemory:
    """Peak RSS of the process tree during a ``with`` block.

    For this process alone (thread backends) the kernel's own high-water mark is exact and
    costs nothing during the run. So it is for workers that live through the run (pools,
    ``relist_first=False``): each one's mark is reset on entry and read on exit, and the peak
    is the sum of the marks (each process's exact peak; an upper bound for the tree when its
    processes peak at different times). Nothing of coresweep runs during such a run: a
    sampler thread there cost ``gil_release``'s 60 ms ``pool`` runs about 1-2 % (README,
    "Fidelity"). Workers started during the run (``process``), or marks that cannot be reset,
    are sampled by a thread every ``interval`` seconds instead. Its CPU is taken from the
    cores the workers run on: about 90 µs a sample (mostly the thread's wake-up; one ``pread``
    per process; the tree relisted every tenth sample), 0.5 % of a core at 20 ms.
    """

    #: Re-list the process tree every this many samples (listing scans all of /proc).
    RELIST_EVERY = 10

    def __init__(self, sample_children: bool, interval: float = 0.02, relist_first: bool = True) -> None:
        self.sample_children = sample_children
        self.interval = interval
        # Whether the first sample must look for new children (workers started in the run).
        # Otherwise it starts from the listing taken on entry: a listing scans all of /proc,
        # and one at the first sample of every run cost a short pool run ~10 % on 2 cores
        # (benchmarks/fidelity.py, gil_release).
        self.relist_first = relist_first
        self.peak_bytes: int | None = None
        self._stop = threading.Event()
        self._sampled = 0
        self._marks = False

    def __enter__(self) -> PeakMemory:
        self._hwm_ok = _reset_hwm()
        self._pids = [os.getpid(), *child_pids()]
        self._sampled = tree_rss()
        # Workers that outlive the run: their own marks, reset now (all of them, or sample).
        self._marks = (
            self.sample_children
            and not self.relist_first
            and self._hwm_ok
            and all([_reset_hwm(pid) for pid in self._pids[1:]])
        )
        if (self.sample_children and not self._marks) or not self._hwm_ok:
            self._thread = threading.Thread(target=self._sample, name="coresweep-rss", daemon=True)
            self._thread.start()
        return self

    def _sample(self) -> None:
        fast = os.path.exists("/proc/self/statm")
        pids: list[int] = self._pids
        count = 0 if self.relist_first else 1
        reader = _StatmReader()
        try:
            while not self._stop.wait(self.interval):
                try:
                    if not fast:
                        self._sampled = max(self._sampled, tree_rss())
                        continue
                    if count % self.RELIST_EVERY == 0:
                        pids = _sampler_pids()
                    count += 1
                    self._sampled = max(self._sampled, reader.rss(pids))
                except Exception:  # a process vanishing mid-read must not end the sampling
                    continue
        finally:
            reader.close()

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        thread = getattr(self, "_thread", None)
        if thread is not None:
            thread.join()
        self._sampled = max(self._sampled, tree_rss())
        if self._marks:
            # A worker that started during the run has its mark from its start; one that ended
            # took its mark with it (a worker dying fails the run anyway).
            pids = dict.fromkeys([*self._pids, *child_pids()])
            marks = [_read_hwm(pid) for pid in pids]
            self.peak_bytes = max(sum(m for m in marks if m is not None), self._sampled)
            return
        own_peak = _read_hwm() if self._hwm_ok else None
        if own_peak is not None and not self.sample_children:
            self.peak_bytes = max(own_peak, self._sampled)
        else:
            # Samples cover the children; the kernel's mark covers this process between samples.
            own_now = _own_rss()
            extra = max(0, (own_peak or own_now) - own_now)
            self.peak_bytes = self._sampled + extra


def pss_of(pid: int | str = "self") -> int | None:
    """A process's proportional set size (PSS) from ``/proc/PID/smaps_rollup`` (Linux 4.14+).

    PSS charges each page shared by N processes 1/N to each of them, so the tree's sum counts
    a page shared after fork once, where RSS sums count it once per process. None where the
    file is missing or unreadable (another platform, an older kernel, a process that ended).
    """
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as fh:
            text = fh.read()
    except OSError:
        return None
    match = re.search(rb"^Pss:\s+(\d+)\s+kB", text, re.MULTILINE)
    return int(match.group(1)) * 1024 if match else None


#: Whether this kernel gives PSS (rows say ``memory_measure``: pss where it does, else rss).
HAS_PSS = pss_of() is not None


def tree_pss() -> int | None:
    """PSS of this process and every live descendant (None where the kernel gives none)."""
    if not HAS_PSS:
        return None
    total = 0
    for pid in [os.getpid(), *child_pids()]:
        value = pss_of(pid)
        total += value or 0
    return total


class PeakPss:
    """Peak PSS of the process tree during a ``with`` block, sampled every ``interval`` s.

    There is no kernel high-water mark for PSS, so a thread samples (reading smaps_rollup walks
    a process's page tables: about 0.1-1 ms a process for a few hundred MiB). It is used only
    by workloads that ask for it (``Workload.measure_pss``: the pattern workloads, where
    copy-on-write against copies is the point), so other workloads keep their cheaper readings.
    """

    def __init__(self, interval: float = 0.01) -> None:
        self.interval = interval
        self.peak_bytes: int | None = None
        self._stop = threading.Event()

    def _sample_once(self) -> None:
        value = tree_pss()
        if value is not None:
            self.peak_bytes = max(self.peak_bytes or 0, value)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self._sample_once()
            except Exception:  # a process ending mid-read must not end the sampling
                continue

    def __enter__(self) -> PeakPss:
        if HAS_PSS:
            self._sample_once()
            self._thread = threading.Thread(target=self._loop, name="coresweep-pss", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        thread = getattr(self, "_thread", None)
        if thread is not None:
            thread.join()
            self._sample_once()


_UNITS = {"": 1, "b": 1, "k": 2**10, "kb": 10**3, "kib": 2**10, "m": 2**20, "mb": 10**6,
          "mib": 2**20, "g": 2**30, "gb": 10**9, "gib": 2**30, "t": 2**40, "tb": 10**12, "tib": 2**40}


def parse_memory(value: object) -> int | None:
    """``max_memory``: null, bytes, "4GiB"/"500MB", or "80%" of this machine's RAM."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError("expected bytes, a size like 4GiB, or a percentage like 80%")
    if isinstance(value, (int, float)):
        if value <= 0:
            raise ValueError("must be > 0")
        return int(value)
    text = str(value).strip().lower().replace(" ", "")
    if text.endswith("%"):
        pct = float(text[:-1])
        if not 0 < pct <= 100:
            raise ValueError("a percentage must be in (0, 100]")
        total = psutil.virtual_memory().total if psutil is not None else os.sysconf("SC_PHYS_PAGES") * _PAGE
        return int(total * pct / 100)
    match = re.fullmatch(r"([0-9]*\.?[0-9]+)([a-z]*)", text)
    if not match or match.group(2) not in _UNITS:
        raise ValueError("expected bytes, a size like 4GiB or 500MB, or a percentage like 80%")
    size = int(float(match.group(1)) * _UNITS[match.group(2)])
    if size <= 0:
        raise ValueError("must be > 0")
    return size
