"""One small interface for every way of running tasks in parallel.

Modelled on joblib's ``ParallelBackendBase``: a backend is started once (timed as
``startup_s``), runs any number of ``map`` calls (each one timed run), and is shut down
(timed as ``teardown_s``). Capabilities are class attributes, not if/elif on names.
"""

from __future__ import annotations

import multiprocessing as mp
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, Callable, ClassVar, Optional

from ..machine.platforms import platform_start_method

Initializer = Optional[Callable[..., None]]


class BackendError(ValueError):
    """A backend cannot be configured as asked (reported before any work)."""


class WorkerDied(RuntimeError):
    """A worker process ended without delivering its results (crash, signal, os._exit)."""


def split_evenly(items: Sequence[Any], parts: int) -> list[tuple[int, list[Any]]]:
    """Split ``items`` into at most ``parts`` contiguous chunks whose sizes differ by at most 1.

    Returns ``(start index, chunk)`` pairs and never an empty chunk. The classic tutorial's
    ``step = total // workers`` loses the remainder and gives empty chunks (or a zero step)
    when there are fewer items than workers; this does neither.
    """
    if parts < 1:
        raise ValueError(f"parts must be >= 1, got {parts}")
    total = len(items)
    parts = min(parts, total)
    chunks: list[tuple[int, list[Any]]] = []
    start = 0
    for k in range(parts):
        size = total // parts + (1 if k < total % parts else 0)
        chunks.append((start, list(items[start : start + size])))
        start += size
    return chunks


def available_start_methods() -> list[str]:
    return list(mp.get_all_start_methods())


class Backend(ABC):
    """Start, map, shut down. Subclasses are 30-80 lines each."""

    #: The Hydra choice name (``backend=NAME``).
    name: ClassVar[str]
    #: One line: when this backend is the right choice.
    summary: ClassVar[str] = ""
    #: Work crosses a process boundary, so task and inputs must pickle.
    uses_processes: ClassVar[bool] = False
    #: Each worker is a process that runs its tasks in one thread, so pinning the process pins
    #: the worker (how Windows pins: psutil sets a process's affinity, not a thread's).
    pins_per_process: ClassVar[bool] = False
    #: Honours ``start_method`` (fork/spawn/forkserver).
    supports_start_method: ClassVar[bool] = False
    #: Ignores ``workers`` (the sequential baseline).
    single_worker: ClassVar[bool] = False
    #: Starts fresh workers in every run (so per-worker state, like pinning, is per run).
    workers_per_run: ClassVar[bool] = False
    #: Modules (or ``module:attribute``) it needs beyond the standard library; checked per
    #: interpreter before a ``python=...`` sweep starts, so imports stay inside the backend.
    requires: ClassVar[tuple[str, ...]] = ()
    #: Runs an initializer in every worker it starts (per-worker set-up: ``init=per_worker``,
    #: ``share=inherit``); backends without one refuse those methods before the sweep starts.
    has_initializer: ClassVar[bool] = True
    #: Can send a Manager proxy to its workers (``state=manager``).
    supports_manager: ClassVar[bool] = True
    #: Memory-maps large array arguments by itself (joblib's ``max_nbytes``).
    has_auto_memmap: ClassVar[bool] = False

    def __init__(
        self,
        workers: int,
        start_method: str | None = None,
        initializer: Initializer = None,
        initargs: tuple[Any, ...] = (),
    ) -> None:
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise BackendError(f"workers={workers!r}: must be an integer >= 1")
        if start_method not in (None, "auto") and self.supports_start_method:
            allowed = available_start_methods()
            if start_method not in allowed:
                raise BackendError(
                    f"start_method={start_method}: not available on this platform; "
                    f"choose one of {', '.join(allowed)}"
                )
        self.workers = 1 if self.single_worker else workers
        self.requested_start_method = None if start_method == "auto" else start_method
        self.initializer = initializer
        self.initargs = initargs
        #: Longest a single task may take, for backends that can enforce it themselves.
        self.task_timeout_s: float | None = None
        #: For backends with ``has_auto_memmap``: True memory-maps every array argument, False
        #: turns it off (arrays are pickled), None keeps the library's default (set by a workload).
        self.auto_memmap: bool | None = None

    @classmethod
    def ignored_keys(cls) -> tuple[str, ...]:
        """Config keys this backend's measurement does not depend on: jobs that differ only in
        them time the same thing, so a sweep runs one of them (``sweep.duplicate_key``)."""
        if cls.single_worker:
            return ("workers", "start_method", "pinning")
        return () if cls.supports_start_method else ("start_method",)

    @classmethod
    def available(cls) -> bool:
        """Whether this interpreter and platform can run the backend at all."""
        return True

    @property
    def start_method(self) -> str:
        """The start method really used, as recorded in every row."""
        if not self.uses_processes:
            return "thread" if not self.single_worker else "none"
        return self.requested_start_method or platform_start_method() or mp.get_start_method()

    def context(self) -> Any:
        return mp.get_context(self.requested_start_method or platform_start_method())

    def start(self) -> None:
        """Create workers (timed as startup). Default: nothing to start."""

    @abstractmethod
    def map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        """Apply ``fn`` to every item; results in input order. One timed run."""

    def shutdown(self) -> None:
        """Release workers and wait for them (timed as teardown). Default: nothing."""

    def abort(self) -> None:
        """Stop as fast as possible after a failure; never raises."""
        try:
            self.shutdown()
        except Exception:
            pass
