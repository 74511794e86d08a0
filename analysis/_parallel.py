"""Side-by-side work for big reports: fork where it is safe, and always a serial fallback.

A 100k-row report spends its time in independent places (writing results.csv, the claims
judged from the rows, summarising, drawing figures). On a machine with two or more usable CPUs
these run in forked children, which see the parent's tables without pickling them. Fork is
used only on Linux and only from a single-threaded process (forking a process with threads can
deadlock a child); anywhere else, or if starting a child fails, the work simply runs here.
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


def _child(fn: Callable[..., Any], args: tuple, conn: Any) -> None:
    conn.send(fn(*args))
    conn.close()


#: What ``Background`` got from a child that died before sending its result.
_NOTHING = object()


class Background:
    """Run ``fn(*args)`` in a forked child if ``allowed`` and possible, else at ``result()`` here.

    The child sends ``fn``'s return value back through a pipe (so keep it small: a few tables of
    text, not the rows).
    """

    def __init__(self, fn: Callable[..., Any], *args: Any, allowed: bool = True) -> None:
        self.fn = fn
        self.args = args
        self.process: Any = None
        self._receive: Any = None
        self._value: Any = _NOTHING
        if allowed and can_fork():
            try:
                ctx = multiprocessing.get_context("fork")
                self._receive, send = ctx.Pipe(duplex=False)
                self.process = ctx.Process(target=_child, args=(fn, args, send), daemon=True)
                self.process.start()
                send.close()  # the child holds the sending end: its death ends the pipe
            except (OSError, ValueError, RuntimeError, AssertionError):
                self.process = None

    def result(self) -> Any:
        """``fn``'s return value; if the child failed (or none ran), ``fn`` runs here."""
        if self._value is not _NOTHING:
            return self._value
        if self.process is not None:
            value = self._collect()
            if value is not _NOTHING and self.process.exitcode == 0:
                self._value = value
                return value
        self._value = self.fn(*self.args)
        return self._value

    def wait(self) -> None:
        """Block until done (doing the work here if the child failed)."""
        self.result()

    def close(self) -> None:
        """Reap a child whose result nobody asked for (its work is simply dropped)."""
        if self.process is not None and self._value is _NOTHING and not self._receive.closed:
            self._collect()

    def _collect(self) -> Any:
        try:
            value = self._receive.recv()
        except (EOFError, OSError):
            value = _NOTHING
        finally:
            self._receive.close()
        self.process.join()
        return value
