"""Thread backends: cheap to start, share memory, but pure-Python work is serialised by the GIL."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, ClassVar

from .base import Backend, split_evenly


class ThreadBackend(Backend):
    """One ``threading.Thread`` per chunk, created and joined on every run (the classic tutorial)."""

    name: ClassVar[str] = "thread"
    workers_per_run: ClassVar[bool] = True
    summary: ClassVar[str] = "one threading.Thread per chunk, started per run (tutorial style)"

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        results: list[Any] = [None] * len(items)
        errors: list[BaseException] = []

        def work(start: int, chunk: list[Any]) -> None:
            try:
                if self.initializer is not None:
                    self.initializer(*self.initargs)
                for offset, item in enumerate(chunk):
                    results[start + offset] = fn(item)
            except BaseException as exc:  # re-raised in the caller: a failed run, not a lost one
                errors.append(exc)

        threads = [
            threading.Thread(target=work, args=(start, chunk), name=f"coresweep-{k}", daemon=True)
            for k, (start, chunk) in enumerate(split_evenly(items, self.workers))
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]
        return results


class ThreadPoolBackend(Backend):
    """``concurrent.futures.ThreadPoolExecutor``: threads kept across runs."""

    name: ClassVar[str] = "thread_pool"
    summary: ClassVar[str] = "ThreadPoolExecutor: right for IO and for C code that drops the GIL"

    def start(self) -> None:
        self._executor = ThreadPoolExecutor(
            max_workers=self.workers,
            thread_name_prefix="coresweep",
            initializer=self.initializer,
            initargs=self.initargs,
        )
        # Threads are created lazily on submit; create them all now so startup is timed here.
        barrier = threading.Barrier(self.workers)
        list(self._executor.map(lambda _: barrier.wait(timeout=60), range(self.workers)))

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        return list(self._executor.map(fn, items))

    def shutdown(self) -> None:
        self._executor.shutdown(wait=True)

    def abort(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
