"""Every task needs an object that is expensive to build: built per task, or once per worker.

The object is a 256-entry lookup table built by a pure-Python loop (``init_ms`` milliseconds of
Lehmer-generator steps, deterministic from the seed: a stand-in for loading a model); each task
then runs ``grain`` steps that read the table. ``init``:

- ``per_task``: every task builds the table;
- ``per_worker``: each worker builds it once, through the backend's initializer
  (``Pool(initializer=)``, ``ProcessPoolExecutor(initializer=)``, loky's initializer,
  ``ThreadPoolExecutor(initializer=)``: thread-local for threads; dask's ``client.run``).

Where the per-worker builds land depends on the backend, and rows say it (``init_lands``):
pools build in start-up (``startup_s``); ``thread`` and ``process`` start workers in every run,
so there they land inside every run. ``init_s`` is one build timed in the job's process during
set-up; ``worker_inits`` and ``worker_init_s`` count and time the builds the workers did.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from typing import Any, Callable, ClassVar

from .base import Workload, WorkloadError, task_seed
from .patterns import INIT_METHODS, InitLog, add_initializer, where_per_worker_lands

_MODULUS = 2_147_483_647
#: Lehmer steps per nominal millisecond of ``init_ms`` (about 1 ms on the 2-core VM of
#: examples/; the real cost on this machine is recorded as ``init_s``).
STEPS_PER_MS = 7_000
TABLE_SIZE = 256

# Per-worker tables: a thread-local (threads of one process each get their own, as a
# ThreadPoolExecutor initializer gives them) keyed by what the table is built from.
_LOCAL = threading.local()


def build_table(seed: int, steps: int) -> list[int]:
    """``steps`` generator steps folded into a 256-entry table: the expensive object."""
    state = task_seed(seed, 0)
    table = [0] * TABLE_SIZE
    for i in range(steps):
        state = (state * 48_271) % _MODULUS
        table[i & 0xFF] = (table[i & 0xFF] + state) & 0xFFFF_FFFF
    return table


def use_table(table: list[int], index: int, seed: int, grain: int) -> int:
    """One task's work: ``grain`` steps that read the table."""
    state = task_seed(seed, index + 1)
    acc = 0
    for _ in range(grain):
        state = (state * 48_271) % _MODULUS
        acc = (acc + table[state & 0xFF] + state) & 0xFFFF_FFFF
    return acc


def task_per_task(item: tuple[int, int, int, int]) -> int:
    """``init=per_task``: build the table, then use it."""
    index, seed, steps, grain = item
    return use_table(build_table(seed, steps), index, seed, grain)


def init_worker(seed: int, steps: int, log_path: str | None) -> None:
    """The per-worker initializer: build the table once in this worker (thread), log the cost."""
    t0 = time.perf_counter()
    _LOCAL.table = build_table(seed, steps)
    _LOCAL.key = (seed, steps, os.getpid())
    if log_path:
        InitLog(log_path).record(time.perf_counter() - t0)


def task_per_worker(item: tuple[int, int, int, int, str]) -> int:
    """``init=per_worker``: the table this worker built; built here if its initializer did not
    run in this thread (counted like any per-worker build, so it cannot hide)."""
    index, seed, steps, grain, log_path = item
    if getattr(_LOCAL, "key", None) != (seed, steps, os.getpid()):
        init_worker(seed, steps, log_path)
    return use_table(_LOCAL.table, index, seed, grain)


class InitHeavy(Workload):
    name: ClassVar[str] = "init_heavy"
    pairable: ClassVar[bool] = False  # per_worker tasks need their workers' set-up
    summary: ClassVar[str] = "each task needs an object costing init_ms to build: per task or per worker"
    dimensions: ClassVar[tuple[str, ...]] = ("init",)

    def __init__(
        self,
        size: int,
        grain: int = 20_000,
        seed: int = 0,
        init_ms: int = 10,
        init: str = "per_task",
        **checks: Any,
    ) -> None:
        super().__init__(size, grain, seed, **checks)
        if isinstance(init_ms, bool) or not isinstance(init_ms, int) or init_ms < 0:
            raise WorkloadError(f"workload.init_ms={init_ms!r}: must be an integer >= 0 (milliseconds)")
        if init not in INIT_METHODS:
            raise WorkloadError(f"init={init}: choose one of {', '.join(INIT_METHODS)}")
        self.init_ms, self.init = init_ms, init
        self.steps = init_ms * STEPS_PER_MS
        self._folder: str | None = None
        self._log: str | None = None
        self._fields: dict[str, Any] = {}
        self._lands = "run"

    def key(self) -> tuple[Any, ...]:
        return (*super().key(), self.init_ms)

    def bind(self, backend: Any) -> None:
        self._backend = backend

    def setup(self) -> None:
        t0 = time.perf_counter()
        build_table(self.seed, self.steps)
        self._fields = {"init_s": time.perf_counter() - t0}
        if self.init == "per_worker":
            self._folder = tempfile.mkdtemp(prefix="coresweep-init-")
            self._log = os.path.join(self._folder, "inits.log")
            backend = getattr(self, "_backend", None)
            if backend is not None:
                add_initializer(backend, init_worker, (self.seed, self.steps, self._log))
                self._lands = where_per_worker_lands(backend)

    def teardown(self) -> None:
        if self._log is not None:
            self._fields.update(InitLog(self._log).summary())
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = self._log = None

    @property
    def task(self) -> Callable[[Any], Any]:
        return task_per_worker if self.init == "per_worker" else task_per_task

    def inputs(self) -> list[Any]:
        if self.init == "per_worker":
            return [(i, self.seed, self.steps, self.grain, self._log or "") for i in range(self.size)]
        return [(i, self.seed, self.steps, self.grain) for i in range(self.size)]

    def reference(self, inputs: Any) -> list[Any]:
        """The answer, with the table built once (how it is built does not change it)."""
        table = build_table(self.seed, self.steps)
        return [use_table(table, i, self.seed, self.grain) for i in range(self.size)]

    def fields(self) -> dict[str, Any]:
        lands = self._lands if self.init == "per_worker" else "run"
        return {**super().fields(), **self._fields, "init_lands": lands}
