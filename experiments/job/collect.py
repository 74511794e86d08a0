"""How results travel back from workers: the ``collect`` dimension.

``return`` uses each backend's own return path (pickled through pipes for processes);
``manager_list`` appends to a ``Manager().list()`` proxy as the classic tutorial does (one
round trip to the manager process per result); ``shared_memory`` writes numeric results
into a ``multiprocessing.shared_memory`` block (no pickling of results at all).
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Sequence
from multiprocessing import resource_tracker
from multiprocessing.shared_memory import SharedMemory
from typing import Any, Callable, ClassVar

try:
    import numpy as np
except ImportError:  # a bare interpreter (python=...): preflight refuses this workload there
    np = None  # type: ignore[assignment]

from ..backends.base import Backend

COLLECT_MODES = ("return", "manager_list", "shared_memory")


class CollectError(ValueError):
    """The results of this workload cannot be collected this way."""


class Collector:
    """Default: results come back as the backend's return value."""

    name: ClassVar[str] = "return"
    #: Modules it needs beyond the standard library (checked per interpreter for python=...).
    requires: ClassVar[tuple[str, ...]] = ()

    def start(self, backend: Backend, expected: Sequence[Any]) -> None:
        """Create the channel (timed with the backend's startup)."""

    def run(self, backend: Backend, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        return backend.map(fn, items)

    def shutdown(self) -> None:
        """Release the channel (timed with the backend's teardown)."""


class _AppendToList:
    """Picklable task wrapper: compute, then append ``(index, result)`` to a manager list."""

    def __init__(self, fn: Callable[[Any], Any], proxy: Any) -> None:
        self.fn = fn
        self.proxy = proxy

    def __call__(self, indexed: tuple[int, Any]) -> None:
        index, item = indexed
        self.proxy.append((index, self.fn(item)))


class ManagerListCollector(Collector):
    name: ClassVar[str] = "manager_list"

    def start(self, backend: Backend, expected: Sequence[Any]) -> None:
        ctx = backend.context() if backend.supports_start_method else mp.get_context()
        self._manager = ctx.Manager()

    def run(self, backend: Backend, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        proxy = self._manager.list()
        try:
            backend.map(_AppendToList(fn, proxy), list(enumerate(items)))
            pairs = sorted(list(proxy), key=lambda pair: pair[0])
        finally:
            del proxy
        # A missing index stays missing: verification then reports the wrong count.
        return [value for _, value in pairs]

    def shutdown(self) -> None:
        self._manager.shutdown()


_ATTACHED: dict[str, tuple[SharedMemory, int]] = {}
_OWNED: dict[str, SharedMemory] = {}


def _attach(name: str) -> SharedMemory:
    """Open a block created by the parent, once per process, without the tracker owning it.

    Before Python 3.13 every attaching process registers the block with the resource tracker,
    which then unlinks (or warns about) the parent's block when the child exits.
    """
    if name in _OWNED:  # same process (thread backends): use the owner's mapping
        return _OWNED[name]
    cached = _ATTACHED.get(name)
    if cached is not None and cached[1] == os.getpid():
        return cached[0]
    register = resource_tracker.register
    resource_tracker.register = lambda *args, **kwargs: None  # type: ignore[assignment]
    try:
        shm = SharedMemory(name=name)
    finally:
        resource_tracker.register = register  # type: ignore[assignment]
    _ATTACHED[name] = (shm, os.getpid())
    return shm


class _WriteToShared:
    """Picklable task wrapper: compute, then store the scalar at ``index`` of a shared array."""

    def __init__(self, fn: Callable[[Any], Any], name: str, dtype: str, length: int) -> None:
        self.fn, self.name, self.dtype, self.length = fn, name, dtype, length

    def __call__(self, indexed: tuple[int, Any]) -> None:
        index, item = indexed
        shm = _attach(self.name)
        np.ndarray((self.length,), dtype=self.dtype, buffer=shm.buf)[index] = self.fn(item)


class SharedMemoryCollector(Collector):
    name: ClassVar[str] = "shared_memory"
    requires: ClassVar[tuple[str, ...]] = ("numpy",)

    def start(self, backend: Backend, expected: Sequence[Any]) -> None:
        if all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in expected):
            self.dtype = "int64"
        elif all(isinstance(v, (int, float, np.integer, np.floating)) for v in expected):
            self.dtype = "float64"
        else:
            kinds = sorted({type(v).__name__ for v in expected})
            raise CollectError(
                "collect=shared_memory needs int or float results; this workload returns "
                + ", ".join(kinds)
            )
        self.length = len(expected)
        self._shm = SharedMemory(create=True, size=max(8, 8 * self.length))
        _OWNED[self._shm.name] = self._shm
        self._array = np.ndarray((self.length,), dtype=self.dtype, buffer=self._shm.buf)

    def run(self, backend: Backend, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        sentinel = np.iinfo(np.int64).min if self.dtype == "int64" else np.nan
        self._array[:] = sentinel  # a task that never wrote its slot cannot pass verification
        wrapper = _WriteToShared(fn, self._shm.name, self.dtype, self.length)
        backend.map(wrapper, list(enumerate(items)))
        return self._array.tolist()

    def shutdown(self) -> None:
        _OWNED.pop(self._shm.name, None)
        del self._array
        self._shm.close()
        self._shm.unlink()


COLLECTORS: dict[str, type[Collector]] = {
    cls.name: cls for cls in (Collector, ManagerListCollector, SharedMemoryCollector)
}
