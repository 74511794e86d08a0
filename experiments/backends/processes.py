"""Process backends from the standard library: true parallelism, paid for in start-up and pickling."""

from __future__ import annotations

import os
import traceback
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Callable, ClassVar

from .base import Backend, WorkerDied, split_evenly


def _noop(_: Any = None) -> int:
    return os.getpid()


def _run_chunk(
    fn: Callable[[Any], Any],
    start: int,
    chunk: list[Any],
    queue: Any,
    initializer: Any,
    initargs: tuple[Any, ...],
) -> None:
    """Body of one ``multiprocessing.Process``: compute a chunk, send results (or the error)."""
    try:
        if initializer is not None:
            initializer(*initargs)
        queue.put((start, "ok", [fn(x) for x in chunk]))
    except BaseException as exc:
        queue.put((start, "error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"))


def _silence_cancelled_future_race() -> None:
    """Hide one known CPython race from the user's terminal (it changes nothing measured).

    When a run is interrupted, ``Executor.map`` cancels its pending futures while the
    executor's manager thread, seeing the killed workers, sets "broken pool" exceptions on
    them; the loser raises InvalidStateError in that background thread and prints a
    traceback (fixed upstream in later CPython releases).
    """
    import threading
    from concurrent.futures import InvalidStateError

    previous = threading.excepthook
    if getattr(previous, "_coresweep", False):
        return

    def hook(args: Any) -> None:
        if args.exc_type is InvalidStateError and "futures/process.py" in _origin(args.exc_traceback):
            return
        previous(args)

    hook._coresweep = True  # type: ignore[attr-defined]
    threading.excepthook = hook


def _origin(tb: Any) -> str:
    files = []
    while tb is not None:
        files.append(tb.tb_frame.f_code.co_filename)
        tb = tb.tb_next
    return " ".join(files)


class ProcessBackend(Backend):
    """One ``multiprocessing.Process`` per chunk, started on every run, results via a Queue."""

    name: ClassVar[str] = "process"
    pins_per_process: ClassVar[bool] = True
    workers_per_run: ClassVar[bool] = True
    summary: ClassVar[str] = "one multiprocessing.Process per chunk, started per run (tutorial style)"
    uses_processes: ClassVar[bool] = True
    supports_start_method: ClassVar[bool] = True

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        ctx = self.context()
        queue = ctx.Queue()
        chunks = split_evenly(items, self.workers)
        procs = [
            ctx.Process(
                target=_run_chunk,
                args=(fn, start, chunk, queue, self.initializer, self.initargs),
                name=f"coresweep-{k}",
                daemon=True,
            )
            for k, (start, chunk) in enumerate(chunks)
        ]
        self._procs = procs
        for p in procs:
            p.start()
        results: list[Any] = [None] * len(items)
        try:
            # Drain the queue before join: a child blocks on a full pipe until it is read.
            for _ in chunks:
                start, status, payload = self._get(queue, procs)
                if status == "error":
                    raise RuntimeError(f"in worker process: {payload}")
                results[start : start + len(payload)] = payload
        finally:
            for p in procs:
                p.join(timeout=None if p.exitcode is not None else 5)
                if p.is_alive():
                    p.kill()
                    p.join()
            queue.close()
        return results

    @staticmethod
    def _get(queue: Any, procs: list[Any]) -> Any:
        import queue as queue_mod

        while True:
            try:
                return queue.get(timeout=0.2)
            except queue_mod.Empty:
                dead = [p for p in procs if p.exitcode not in (None, 0)]
                if dead:
                    codes = ", ".join(str(p.exitcode) for p in dead)
                    raise WorkerDied(f"worker process ended with exit code {codes}") from None

    def abort(self) -> None:
        for p in getattr(self, "_procs", []):
            if p.is_alive():
                p.kill()
            p.join(timeout=5)


class PoolBackend(Backend):
    """``multiprocessing.Pool``: workers kept across runs, ``Pool.map`` with its default chunksize."""

    name: ClassVar[str] = "pool"
    pins_per_process: ClassVar[bool] = True
    summary: ClassVar[str] = "multiprocessing.Pool.map: processes reused across runs"
    uses_processes: ClassVar[bool] = True
    supports_start_method: ClassVar[bool] = True

    def start(self) -> None:
        self._pool = self.context().Pool(self.workers, self.initializer, self.initargs)
        # Pool starts its processes eagerly; one round trip per worker proves they are up.
        self._pool.map(_noop, range(self.workers), chunksize=1)

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        # Pool silently replaces a dead worker and waits forever for the task it held; watch
        # the workers (the ones at the start and any replacement) and fail instead.
        watched = list(self._pool._pool)
        result = self._pool.map_async(fn, items)
        while not result.ready():
            result.wait(0.1)
            watched += [p for p in self._pool._pool if p not in watched]
            dead = [p.exitcode for p in watched if p.exitcode not in (None, 0)]
            if dead:
                self._broken = True  # the lost task keeps Pool.join() waiting forever
                raise WorkerDied(
                    f"a Pool worker process died (exit code {dead[0]}); its tasks would never finish"
                )
        return result.get()

    def shutdown(self) -> None:
        if getattr(self, "_broken", False):
            self.abort()
            return
        self._pool.close()
        self._pool.join()

    def abort(self) -> None:
        self._pool.terminate()
        self._pool.join()


class ProcessPoolBackend(Backend):
    """``concurrent.futures.ProcessPoolExecutor``: workers kept across runs, broken pools detected."""

    name: ClassVar[str] = "process_pool"
    pins_per_process: ClassVar[bool] = True
    summary: ClassVar[str] = "ProcessPoolExecutor: the standard choice for pure-Python CPU work"
    uses_processes: ClassVar[bool] = True
    supports_start_method: ClassVar[bool] = True

    def start(self) -> None:
        self._executor = ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=self.context(),
            initializer=self.initializer,
            initargs=self.initargs,
        )
        # Workers spawn lazily, one per submit while none is idle: submit one task per worker.
        for future in [self._executor.submit(_noop) for _ in range(self.workers)]:
            future.result()

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        return list(self._executor.map(fn, items))

    def shutdown(self) -> None:
        self._executor.shutdown(wait=True)

    def abort(self) -> None:
        _silence_cancelled_future_race()
        procs = list((getattr(self._executor, "_processes", None) or {}).values())
        for p in procs:
            if p.is_alive():
                p.kill()
        for p in procs:
            p.join(timeout=5)
        # No cancel_futures: the executor's manager thread now fails the pending futures as
        # "broken" itself, and cancelling them too races it (InvalidStateError, CPython 3.11).
        # The same thread may close the call queue first: a second close is harmless.
        try:
            self._executor.shutdown(wait=True)
        except OSError:
            pass


__all__ = ["ProcessBackend", "PoolBackend", "ProcessPoolBackend", "WorkerDied"]
