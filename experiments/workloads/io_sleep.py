"""Waiting, not computing (a stand-in for network calls): sleep releases the GIL."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, Callable, ClassVar

from .base import Workload


def sleep_then_echo(arg: tuple[int, int]) -> int:
    """Sleep ``grain`` microseconds, then return a value derived from the task index."""
    index, grain_us = arg
    time.sleep(grain_us / 1_000_000)
    return echo(index)


def echo(index: int) -> int:
    return (index * 2_654_435_761) % 4_294_967_296


class IoSleep(Workload):
    name: ClassVar[str] = "io_sleep"
    summary: ClassVar[str] = "time.sleep(grain µs) per task: IO-like waiting, threads should help"
    releases_gil: ClassVar[bool] = True

    @property
    def task(self) -> Callable[[Any], Any]:
        return sleep_then_echo

    def inputs(self) -> list[Any]:
        return [(i, self.grain) for i in range(self.size)]

    def reference(self, inputs: Sequence[Any]) -> list[Any]:
        """The answer without the waiting: the task's value is a function of its index alone.
        (Sleeping through the reference cost ~0.3 s per io_sleep sweep for nothing.)"""
        return [echo(index) for index, _ in inputs]
