"""What runs at the start of every worker (process or thread) before it takes tasks.

Native thread pools (OpenBLAS, MKL, OpenMP) would otherwise start one thread per core in
*every* worker process, so 4 workers on 4 cores run 16 BLAS threads. joblib/loky cap them per
worker; coresweep applies the same cap to every backend so the comparison is fair.
"""

from __future__ import annotations

from typing import Any

_LIMITER: Any = None


def limit_native_threads(blas_threads: int | None) -> None:
    """Cap BLAS/OpenMP pools in this process (kept for the life of the worker)."""
    global _LIMITER
    if blas_threads is None:
        return
    from threadpoolctl import threadpool_limits

    _LIMITER = threadpool_limits(limits=blas_threads)


def init_worker(blas_threads: int | None) -> None:
    """Initializer handed to every backend."""
    limit_native_threads(blas_threads)


def resolve_blas_threads(setting: Any, usable_cpus: float, workers: int) -> int | None:
    """``auto`` → usable CPUs // workers (at least 1), as joblib does; ``none`` → untouched."""
    if setting in (None, "none", "None"):
        return None
    if setting == "auto":
        return max(1, int(usable_cpus) // max(1, workers))
    return int(setting)
