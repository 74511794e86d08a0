"""Backends by name: the registry that configs, validation and tests share.

A new backend is a class with a ``name`` listed here and a ``conf/backend/NAME.yaml``;
the tests are parametrised over this registry, so registering it gets it tested.
"""

from __future__ import annotations

from .base import Backend, BackendError, WorkerDied, split_evenly
from .dask_backend import DaskDistributedBackend
from .interpreters import InterpreterPoolBackend
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
        InterpreterPoolBackend,
        DaskDistributedBackend,
    )
}

#: The backends this interpreter can run (interpreter_pool needs Python 3.14+, dask_distributed
#: the optional extra coresweep[dask]).
AVAILABLE_BACKENDS: list[str] = [name for name, cls in BACKENDS.items() if cls.available()]



def backend_class(target: str) -> type[Backend]:
    """The class a backend config's ``_target_`` names (so a user's own backend YAML works too)."""
    from hydra.utils import get_class

    cls = get_class(target)
    if not (isinstance(cls, type) and issubclass(cls, Backend)):
        raise TypeError(f"{target} is not a Backend")
    return cls


__all__ = [
    "AVAILABLE_BACKENDS", "BACKENDS", "Backend", "BackendError", "WorkerDied", "backend_class",
    "split_evenly",
]
