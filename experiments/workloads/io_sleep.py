"""Waiting, not computing (a stand-in for network calls): sleep releases the GIL."""

from __future__ import annotations

import time
from typing import Any, Callable, ClassVar

from .base import Workload


def sleep_then_echo(arg: tuple[int, int]) -> int:
    """Sleep ``grain`` microseconds, then return a value derived from the task index."""
    index, grain_us = arg
    time.sleep(grain_us / 1_000_000)
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
