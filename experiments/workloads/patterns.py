"""What the three pattern workloads share: their dimensions and per-worker set-up.

Real parallel code rarely takes an integer as its input. Three patterns decide which backend
wins in practice (as in github.com/sybrenjansen/multiprocessing_benchmarks): one large input
read by every task (``shared_input``, dimension ``share``), an object that is expensive to
build and used by every task (``init_heavy``, dimension ``init``), and state kept by each
worker and merged at the end (``stateful``, dimension ``state``).
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any, Callable

#: ``share=``: how the large input reaches the workers (``shared_input``).
SHARE_METHODS = ("argument", "inherit", "shared_memory", "memmap")
#: ``init=``: where the expensive object is built (``init_heavy``).
INIT_METHODS = ("per_task", "per_worker")
#: ``state=``: how per-worker state is kept and merged (``stateful``).
STATE_METHODS = ("manager", "mapreduce")
#: The top-level keys, their allowed values, and the workload that uses each.
DIMENSIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "share": (SHARE_METHODS, "shared_input"),
    "init": (INIT_METHODS, "init_heavy"),
    "state": (STATE_METHODS, "stateful"),
}


def run_initializers(pairs: tuple[tuple[Callable[..., None], tuple[Any, ...]], ...]) -> None:
    """One initializer that runs several (a workload's, and the BLAS cap under forkserver)."""
    for fn, args in pairs:
        fn(*args)


def add_initializer(backend: Any, fn: Callable[..., None], args: tuple[Any, ...]) -> None:
    """Give ``backend`` one more per-worker initializer, after any it has."""
    if backend.initializer is None:
        backend.initializer, backend.initargs = fn, args
        return
    pairs = ((backend.initializer, tuple(backend.initargs)), (fn, args))
    backend.initializer, backend.initargs = run_initializers, (pairs,)


def where_per_worker_lands(backend: Any) -> str:
    """Where a backend's per-worker initializer runs, as rows record it (``init_lands``).

    Pools start their workers in ``start()`` (timed as ``startup_s``), so their initializer
    lands there; a worker still initialising when start-up's round trip returns finishes in
    the warm-up, never in a timed run. Backends that start workers in every run (``thread``,
    ``process``) pay it inside every run.
    """
    return "run" if backend.workers_per_run else "startup"


class InitLog:
    """Per-worker initialisations, counted and timed where they happen (any process, any thread).

    Each one appends a line ``pid tid seconds`` to a file in the job's temporary folder (an
    append of a short line is atomic on a local file system); the job reads the file at its end.
    """

    def __init__(self, path: str) -> None:
        self.path = path

    def record(self, seconds: float) -> None:
        with open(self.path, "a", encoding="ascii") as fh:
            fh.write(f"{os.getpid()} {threading.get_ident()} {seconds:.9f}\n")

    def summary(self) -> dict[str, Any]:
        try:
            with open(self.path, encoding="ascii") as fh:
                times = [float(line.split()[2]) for line in fh if line.strip()]
        except (OSError, ValueError, IndexError):
            times = []
        return {
            "worker_inits": len(times),
            "worker_init_s": sum(times) / len(times) if times else None,
        }


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    t0 = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - t0
