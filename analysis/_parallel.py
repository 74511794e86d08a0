"""Side-by-side work for big reports: fork where it is safe, and always a serial fallback.

A 100k-row report spends its time in three independent places (writing results.csv,
summarising, drawing figures). On a machine with two or more usable CPUs these run in forked
children, which see the parent's tables without pickling them. Fork is used only on Linux and
only from a single-threaded process (forking a process with threads can deadlock a child);
anywhere else, or if starting a child fails, the work simply runs here.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
from typing import Any, Callable


def usable_cpus() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def can_fork() -> bool:
    """True where a fork child is safe and useful: Linux, >= 2 CPUs, no other thread running."""
    if not sys.platform.startswith("linux") or usable_cpus() < 2:
        return False
    if threading.active_count() > 1:
        return False
    # A daemonic process (e.g. a multiprocessing pool worker) may not have children.
    return not multiprocessing.current_process().daemon


def _child(fn: Callable[..., Any], args: tuple) -> None:
    fn(*args)


class Background:
    """Run ``fn(*args)`` in a forked child if ``allowed`` and possible, else at ``wait()`` here."""

    def __init__(self, fn: Callable[..., Any], *args: Any, allowed: bool = True) -> None:
        self.fn = fn
        self.args = args
        self.process: Any = None
        if allowed and can_fork():
            try:
                self.process = multiprocessing.get_context("fork").Process(
                    target=_child, args=(fn, args), daemon=True
                )
                self.process.start()
            except (OSError, ValueError, RuntimeError, AssertionError):
                self.process = None

    def wait(self) -> None:
        """Block until done; if the child failed (or none ran), do the work here."""
        if self.process is not None:
            self.process.join()
            if self.process.exitcode == 0:
                return
        self.fn(*self.args)
