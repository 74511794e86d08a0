"""Keep native thread pools (OpenBLAS, MKL, OpenMP) from oversubscribing the cores.

Each worker process would otherwise start one BLAS thread per core, so 4 workers on 4 cores
run 16 BLAS threads. joblib/loky cap them per worker (cpu_count // n_jobs); coresweep applies
the same cap to every backend so the comparison is fair, and records it as ``blas_threads``.

The cap is set in the parent for the whole job, in both places children look: the live
thread pools (threadpoolctl; inherited by fork) and the environment variables (read by
spawn/loky children when they load BLAS). Only forkserver children, forked from a server
that started earlier with the environment of that moment, need the initializer: running
threadpoolctl inside every worker costs tens of milliseconds per process, which the
``process`` backend would pay in every timed run.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

ENV_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)

_LIMITER: Any = None


def init_worker(blas_threads: int | None) -> None:
    """Initializer for forkserver workers: cap BLAS pools in this process for its lifetime."""
    global _LIMITER
    if blas_threads is None:
        return
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        # A bare interpreter (python=...; forkserver is 3.14's default start method): it has
        # no threadpoolctl, nor a numpy whose BLAS pools would need the cap. Raising here
        # would kill every worker (and multiprocessing.Pool would start new ones forever).
        return
    _LIMITER = threadpool_limits(limits=blas_threads)


@contextlib.contextmanager
def native_thread_limits(blas_threads: int | None) -> Iterator[None]:
    """Cap BLAS/OpenMP threads in this process and in the children it starts, then restore."""
    if blas_threads is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    saved = {name: os.environ.get(name) for name in ENV_VARS}
    os.environ.update({name: str(blas_threads) for name in ENV_VARS})
    try:
        with threadpool_limits(limits=blas_threads):
            yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def resolve_blas_threads(setting: Any, usable_cpus: float, workers: int) -> int | None:
    """``auto`` → usable CPUs // workers (at least 1), as joblib does; ``none`` → untouched."""
    if setting in (None, "none", "None"):
        return None
    if setting == "auto":
        return max(1, int(usable_cpus) // max(1, workers))
    return int(setting)
