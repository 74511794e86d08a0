"""Subinterpreters: ``concurrent.futures.InterpreterPoolExecutor`` (Python 3.14+).

Each worker is a subinterpreter with its own GIL in the same process: parallel like
processes for pure-Python work, cheaper to start, but every task and result is pickled
between interpreters as with processes. Offered only where the standard library has it.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any, Callable, ClassVar

from .base import Backend, BackendError


def interpreter_pool_available() -> bool:
    import concurrent.futures

    return hasattr(concurrent.futures, "InterpreterPoolExecutor")


class InterpreterPoolBackend(Backend):
    name: ClassVar[str] = "interpreter_pool"
    summary: ClassVar[str] = "InterpreterPoolExecutor (3.14+): one subinterpreter with its own GIL per worker"
    requires: ClassVar[tuple[str, ...]] = ("concurrent.futures:InterpreterPoolExecutor",)

    def __init__(self, workers: int, start_method: str | None = None, *args: Any, **kwargs: Any) -> None:
        if not interpreter_pool_available():
            raise BackendError(
                "backend=interpreter_pool: needs concurrent.futures.InterpreterPoolExecutor "
                f"(Python 3.14 or newer); this is Python {sys.version.split()[0]}"
            )
        super().__init__(workers, start_method, *args, **kwargs)

    @classmethod
    def available(cls) -> bool:
        return interpreter_pool_available()

    def start(self) -> None:
        from concurrent.futures import InterpreterPoolExecutor  # type: ignore[attr-defined]

        self._executor = InterpreterPoolExecutor(
            max_workers=self.workers, initializer=self.initializer, initargs=self.initargs
        )
        list(self._executor.map(abs, range(self.workers)))  # create the interpreters now

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        return list(self._executor.map(fn, items))

    def shutdown(self) -> None:
        self._executor.shutdown(wait=True)

    def abort(self) -> None:
        # Not shutdown(): it waits for the interpreters, and one stuck in a loop never returns,
        # so the watchdog would never reach its grace period and end the job process.
        executor = getattr(self, "_executor", None)
        if executor is not None:
            try:
                executor.shutdown(wait=False, cancel_futures=True)
            except Exception:
                pass
