"""joblib's backends, used the way joblib users use them: one ``Parallel`` kept open for the job.

Note joblib's own rule: with ``n_jobs=1`` every joblib backend runs the tasks sequentially in
the calling process (``FallbackToBackend(SequentialBackend)``); coresweep measures that as is.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any, Callable, ClassVar

from .base import Backend, WorkerDied
from .processes import _noop

# joblib is imported when a backend is built, not here: the backend registry must import under
# an interpreter that has only the standard library (python=3.12 runs jobs in a bare one). Not
# in start() either: start() is timed as startup_s, and an import there would be counted.


class _JoblibBackend(Backend):
    """Shared by the three joblib backends; subclasses say which joblib backend object to build."""

    requires: ClassVar[tuple[str, ...]] = ("joblib",)
    has_auto_memmap: ClassVar[bool] = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        import joblib._parallel_backends  # noqa: F401  (make_backend's imports are then lookups)
        from joblib import Parallel, delayed

        self._Parallel, self._delayed = Parallel, delayed

    def make_backend(self) -> Any:
        raise NotImplementedError

    def configure_parallel(self, parallel: Any) -> None:
        """Adjust the ``Parallel`` object before it starts its workers (default: nothing)."""

    def start(self) -> None:
        Parallel, delayed = self._Parallel, self._delayed
        # joblib's own per-task timeout is what ends a call whose worker died: its
        # multiprocessing backend would otherwise wait forever for the lost task.
        # (With one worker joblib falls back to its sequential backend, which has no timeout.)
        timeout = self.task_timeout_s if self.workers > 1 else None
        memmap: dict[str, Any] = {}
        if self.auto_memmap is not None:  # share=memmap: every array; share=argument: none (pickled)
            memmap["max_nbytes"] = 0 if self.auto_memmap else None
        self._parallel = Parallel(
            n_jobs=self.workers, backend=self.make_backend(), timeout=timeout, **memmap
        )
        self.configure_parallel(self._parallel)
        self._parallel.__enter__()
        # One task per worker so that the workers exist before the first timed run.
        self._parallel(delayed(_noop)(i) for i in range(self.workers))

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        delayed = self._delayed
        return list(self._parallel(delayed(fn)(x) for x in items))

    def shutdown(self) -> None:
        self._parallel.__exit__(None, None, None)

    def abort(self) -> None:
        parallel = getattr(self, "_parallel", None)
        if parallel is None:
            return
        parallel._aborting = True  # makes a blocked retrieval loop give up (it polls this flag)
        try:
            parallel._backend.abort_everything(ensure_ready=False)
        except Exception:
            pass
        try:
            self.shutdown()
        except Exception:
            pass


class JoblibLokyBackend(_JoblibBackend):
    name: ClassVar[str] = "joblib_loky"
    pins_per_process: ClassVar[bool] = True
    summary: ClassVar[str] = "joblib's default: loky processes, robust to crashes, caps BLAS threads"
    uses_processes: ClassVar[bool] = True

    @property
    def start_method(self) -> str:
        return "loky"

    def make_backend(self) -> Any:
        from joblib._parallel_backends import LokyBackend

        kwargs: dict[str, Any] = {}
        if self.initializer is not None:
            kwargs.update(initializer=self.initializer, initargs=self.initargs)
        return LokyBackend(**kwargs)

    def start(self) -> None:
        super().start()
        # loky keeps a process-wide reusable executor alive after Parallel exits; keep a
        # handle so shutdown can end it, or the next job would inherit warm workers.
        self._executor = getattr(self._parallel._backend, "_workers", None)

    def shutdown(self) -> None:
        super().shutdown()
        executor = getattr(self, "_executor", None)
        if executor is not None:
            executor.shutdown(wait=True, kill_workers=True)


class JoblibMultiprocessingBackend(_JoblibBackend):
    name: ClassVar[str] = "joblib_multiprocessing"
    pins_per_process: ClassVar[bool] = True
    summary: ClassVar[str] = "joblib over multiprocessing.Pool (honours start_method)"
    uses_processes: ClassVar[bool] = True
    supports_start_method: ClassVar[bool] = True

    def make_backend(self) -> Any:
        from joblib._parallel_backends import MultiprocessingBackend

        kwargs: dict[str, Any] = {}
        if self.initializer is not None:
            kwargs.update(initializer=self.initializer, initargs=self.initargs)
        return MultiprocessingBackend(**kwargs)

    def configure_parallel(self, parallel: Any) -> None:
        # Parallel puts its own default context into the kwargs it hands the backend, and
        # those win over the backend's; replace it with the start method asked for.
        parallel._backend_kwargs["context"] = self.context()

    #: How often the worker watcher looks (a dead worker is reported within about this long).
    watch_s: ClassVar[float] = 0.1

    def start(self) -> None:
        self._dead: list[int] = []
        self._busy = False
        self._stop_watch = threading.Event()
        self._watcher: threading.Thread | None = None
        super().start()
        pool = getattr(self._parallel._backend, "_pool", None)  # None: n_jobs=1 runs sequentially
        if pool is not None:
            # the workers as they are now: one may die before the watcher's first look
            self._watcher = threading.Thread(
                target=self._watch_workers,
                args=(pool, list(pool._pool)),
                name="coresweep-joblib-workers",
                daemon=True,
            )
            self._watcher.start()

    def _watch_workers(self, pool: Any, watched: list[Any]) -> None:
        """Notice a worker that died: ``multiprocessing.Pool`` replaces it and loses its task,
        so joblib would wait for the lost result until its timeout (``timeout_s``, 600 s by
        default). A death during a ``map`` aborts the pool, and the ``map`` raises
        ``WorkerDied`` within ``watch_s``. The pool never retires a worker of its own accord
        (no ``maxtasksperchild``): one that left its list was reaped by the pool, i.e. died."""
        from multiprocessing.pool import RUN

        while not self._stop_watch.wait(self.watch_s):
            current = getattr(self._parallel._backend, "_pool", None)
            if current is None:  # between joblib's pools (ended after a task raised): nothing to watch
                pool, watched = None, []
                continue
            if current is not pool:  # joblib ends the pool and starts a new one after a task raised
                pool, watched = current, list(current._pool)
                continue
            now = list(pool._pool)
            codes = [w.exitcode for w in watched if w.exitcode is not None or w not in now]
            watched += [w for w in now if w not in watched]
            # read after the workers: terminate() marks the pool before it ends them
            if codes and pool._state == RUN and not self._stop_watch.is_set():
                self._dead += codes
                if self._busy:
                    self.abort()
                return

    def _raise_if_dead(self, error: BaseException | None = None) -> None:
        if self._dead:
            codes = ", ".join(str(c) for c in self._dead)
            raise WorkerDied(f"joblib worker process ended with exit code {codes}") from error

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        self._busy = True  # before the check: the watcher sets _dead before it reads _busy
        try:
            self._raise_if_dead()
            return super().map(fn, items)
        except WorkerDied:
            raise
        except Exception as error:
            self._raise_if_dead(error)
            raise
        finally:
            self._busy = False

    def abort(self) -> None:
        stop = getattr(self, "_stop_watch", None)
        if stop is not None:
            stop.set()  # the workers abort ends are not deaths to report
        super().abort()

    def shutdown(self) -> None:
        stop = getattr(self, "_stop_watch", None)
        if stop is not None:
            stop.set()  # first: the pool's own shutdown ends its workers
        watcher = getattr(self, "_watcher", None)
        if watcher is not None and watcher is not threading.current_thread():
            watcher.join()
        super().shutdown()


class JoblibThreadingBackend(_JoblibBackend):
    name: ClassVar[str] = "joblib_threading"
    summary: ClassVar[str] = "joblib with threads (prefer='threads'): for GIL-releasing work"

    # Its initializer runs once, in the calling thread, not in each of joblib's threads.
    has_initializer: ClassVar[bool] = False

    def make_backend(self) -> Any:
        from joblib._parallel_backends import ThreadingBackend

        return ThreadingBackend()

    def start(self) -> None:
        if self.initializer is not None:
            self.initializer(*self.initargs)
        super().start()
