"""One large read-only input that every task reads: how it reaches the workers is ``share``.

Every task reads a window of one large float64 array (``input_mb`` MiB) and computes something
small on it (``grain`` passes of a square-root-and-sum over a 64 KiB window): the work is fixed
per task, while what it costs to get the array to a worker grows with the array. ``share``:

- ``argument``: the array travels with every task (pickled per task, or per chunk where a
  backend sends chunks, for process backends; joblib's automatic memmapping is turned off);
- ``inherit``: a module global, set before the workers start: copy-on-write under fork, pickled
  once per worker through the backend's initializer under spawn, forkserver and loky;
- ``shared_memory``: a ``multiprocessing.shared_memory`` block each worker attaches to once;
- ``memmap``: a file-backed ``numpy.memmap`` each worker opens once; for joblib backends,
  joblib's own automatic memmapping of array arguments (``max_nbytes=0``).

Threads see the array directly, whatever ``share`` says: rows record that (``share_how``).
Building the array and placing it (global, shared memory, file) is set-up, outside the timed
runs (``setup_s``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from multiprocessing.shared_memory import SharedMemory
from typing import Any, Callable, ClassVar

try:
    import numpy as np
except ImportError:  # a bare interpreter (python=...): preflight refuses this workload there
    np = None  # type: ignore[assignment]

from .base import Workload, WorkloadError
from .patterns import SHARE_METHODS, add_initializer

#: Elements in the window a task works on (64 KiB of float64), or its whole slice if smaller.
WINDOW = 8192

# The array as this process sees it: set in the job's process (inherited by forked workers),
# by the initializer (other start methods), or on a worker's first task (shared memory, memmap).
_INPUT: dict[str, Any] = {}


def build_array(input_mb: int, seed: int) -> Any:
    """The input: ``input_mb`` MiB of float64, deterministic from the seed, cheap to build."""
    n = max(1, input_mb * 2**20 // 8)
    array = np.arange(n, dtype=np.float64)
    array *= 1e-6
    array += float(seed % 1000)
    return array


def window_work(array: Any, index: int, size: int, grain: int) -> float:
    """``grain`` passes over the task's window of the array: fixed work, whatever its size."""
    n = array.shape[0]
    start = index * n // size
    width = max(1, min(WINDOW, n // size))
    window = np.asarray(array[start : start + width], dtype=np.float64)
    acc = 0.0
    for k in range(grain):
        acc += float(np.sqrt(np.abs(window * (k + 1.0))).sum())
    return acc


def task_argument(item: tuple[Any, int, int, int]) -> float:
    """``share=argument``: the array is part of the task's input."""
    array, index, size, grain = item
    return window_work(array, index, size, grain)


def task_inherited(item: tuple[int, int, int]) -> float:
    """``share=inherit``: the module global this worker inherited or was given once."""
    index, size, grain = item
    return window_work(_INPUT["array"], index, size, grain)


def set_inherited(array: Any) -> None:
    """The initializer of ``share=inherit`` (under fork, the array was never pickled)."""
    _INPUT["array"] = array


class SharedMemoryTask:
    """``share=shared_memory``: attach to the block once per process, then read it in place."""

    def __init__(self, name: str, length: int) -> None:
        self.name, self.length = name, length

    def __call__(self, item: tuple[int, int, int]) -> float:
        index, size, grain = item
        return window_work(self._array(), index, size, grain)

    def _array(self) -> Any:
        key = ("shm", self.name, os.getpid())
        array = _INPUT.get(key)
        if array is None:
            from ..job.collect import _attach  # the tracker-safe attach (it never unlinks the block)

            shm = _attach(self.name)
            array = _INPUT[key] = np.ndarray((self.length,), dtype=np.float64, buffer=shm.buf)
        return array


class MemmapTask:
    """``share=memmap``: open the file once per process (the page cache is shared)."""

    def __init__(self, path: str, length: int) -> None:
        self.path, self.length = path, length

    def __call__(self, item: tuple[int, int, int]) -> float:
        index, size, grain = item
        key = ("memmap", self.path, os.getpid())
        array = _INPUT.get(key)
        if array is None:
            array = _INPUT[key] = np.memmap(self.path, dtype=np.float64, mode="r", shape=(self.length,))
        return window_work(array, index, size, grain)


class SharedInput(Workload):
    name: ClassVar[str] = "shared_input"
    summary: ClassVar[str] = "every task reads one large array (input_mb); share= says how it reaches workers"
    releases_gil: ClassVar[bool] = True
    requires: ClassVar[tuple[str, ...]] = ("numpy",)
    default_rtol: ClassVar[float] = 1e-9
    default_atol: ClassVar[float] = 1e-9
    dimensions: ClassVar[tuple[str, ...]] = ("share",)
    measure_pss: ClassVar[bool] = True

    def __init__(
        self,
        size: int,
        grain: int = 250,
        seed: int = 0,
        input_mb: int = 10,
        share: str = "argument",
        **checks: Any,
    ) -> None:
        super().__init__(size, grain, seed, **checks)
        if isinstance(input_mb, bool) or not isinstance(input_mb, int) or input_mb < 1:
            raise WorkloadError(f"workload.input_mb={input_mb!r}: must be an integer >= 1 (MiB)")
        if share not in SHARE_METHODS:
            raise WorkloadError(f"share={share}: choose one of {', '.join(SHARE_METHODS)}")
        self.input_mb, self.share = input_mb, share
        self._backend: Any = None
        self._array: Any = None
        self._shm: SharedMemory | None = None
        self._folder: str | None = None
        self._task: Callable[[Any], Any] | None = None
        self._how = ""

    def input_bytes(self) -> int:
        """What the input needs in memory, once (preflight compares it with what is available)."""
        return self.input_mb * 2**20

    def key(self) -> tuple[Any, ...]:
        return (*super().key(), self.input_mb)

    def bind(self, backend: Any) -> None:
        self._backend = backend

    def _joblib_memmap(self) -> bool:
        backend = self._backend
        return bool(backend is not None and backend.has_auto_memmap and backend.uses_processes)

    def setup(self) -> None:
        backend = self._backend
        processes = bool(backend is not None and backend.uses_processes)
        self._array = build_array(self.input_mb, self.seed)
        n = self._array.shape[0]
        if self.share == "argument":
            self._task = task_argument
            if backend is not None and backend.has_auto_memmap:
                backend.auto_memmap = False  # really pickled: joblib would memory-map it
            self._how = "pickled per task" if processes else "same array (threads share memory)"
        elif self.share == "inherit":
            set_inherited(self._array)  # here, before the workers start: fork inherits it
            self._task = task_inherited
            if processes:
                add_initializer(backend, set_inherited, (self._array,))
                method = backend.start_method
                self._how = (
                    "copy-on-write (fork)" if method == "fork" else f"pickled once per worker ({method})"
                )
            else:
                self._how = "same array (threads share memory)"
        elif self.share == "shared_memory":
            self._shm = SharedMemory(create=True, size=self._array.nbytes)
            from ..job.collect import _OWNED

            _OWNED[self._shm.name] = self._shm  # threads of this process use the owner's mapping
            np.ndarray(self._array.shape, dtype=np.float64, buffer=self._shm.buf)[:] = self._array
            self._task = SharedMemoryTask(self._shm.name, n)
            self._how = "shared memory block" if processes else "shared memory block (threads: same mapping)"
        else:  # memmap
            if self._joblib_memmap():
                self._task = task_argument
                backend.auto_memmap = True
                self._how = "joblib automatic memmap (max_nbytes=0)"
            else:
                self._folder = tempfile.mkdtemp(prefix="coresweep-memmap-")
                path = os.path.join(self._folder, "input.f64")
                self._array.tofile(path)
                self._task = MemmapTask(path, n)
                self._how = "numpy.memmap file" if processes else "numpy.memmap file (threads: same mapping)"

    def teardown(self) -> None:
        _INPUT.clear()
        if self._shm is not None:
            from ..job.collect import _OWNED

            _OWNED.pop(self._shm.name, None)
            self._shm.close()
            self._shm.unlink()
            self._shm = None
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None
        self._array = None

    @property
    def task(self) -> Callable[[Any], Any]:
        if self._task is None:
            raise RuntimeError("shared_input: setup() was not called")
        return self._task

    def inputs(self) -> list[Any]:
        if self._task is task_argument:
            return [(self._array, i, self.size, self.grain) for i in range(self.size)]
        return [(i, self.size, self.grain) for i in range(self.size)]

    def reference(self, inputs: Any) -> list[Any]:
        array = build_array(self.input_mb, self.seed) if self._array is None else self._array
        return [window_work(array, i, self.size, self.grain) for i in range(self.size)]

    def fields(self) -> dict[str, Any]:
        return {**super().fields(), "share_how": self._how, "input_bytes": self.input_bytes()}
