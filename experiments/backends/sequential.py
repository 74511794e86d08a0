"""The baseline: a plain loop in the main process, the denominator of every speedup."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Callable, ClassVar

from .base import Backend


class SequentialBackend(Backend):
    name: ClassVar[str] = "sequential"
    summary: ClassVar[str] = "a for loop in the main process; ignores workers; the baseline"
    single_worker: ClassVar[bool] = True

    def start(self) -> None:
        if self.initializer is not None:
            self.initializer(*self.initargs)

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        return [fn(x) for x in items]
