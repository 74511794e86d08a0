"""Backends by name: the registry that configs, validation and tests share.

A new backend is a class with a ``name`` listed here and a ``conf/backend/NAME.yaml``;
the tests are parametrised over this registry, so registering it gets it tested.
"""

from __future__ import annotations

from .base import Backend, BackendError, WorkerDied, split_evenly
from .joblib_backends import (
    JoblibLokyBackend,
    JoblibMultiprocessingBackend,
    JoblibThreadingBackend,
)
from .processes import PoolBackend, ProcessBackend, ProcessPoolBackend
from .sequential import SequentialBackend
from .threads import ThreadBackend, ThreadPoolBackend

BACKENDS: dict[str, type[Backend]] = {
    cls.name: cls
    for cls in (
        SequentialBackend,
        ThreadBackend,
        ThreadPoolBackend,
        ProcessBackend,
        PoolBackend,
        ProcessPoolBackend,
        JoblibLokyBackend,
        JoblibThreadingBackend,
        JoblibMultiprocessingBackend,
    )
}

__all__ = ["BACKENDS", "Backend", "BackendError", "WorkerDied", "split_evenly"]
