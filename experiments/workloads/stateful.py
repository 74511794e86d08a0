"""State kept per worker and merged at the end: word-prefix counts.

Each task makes ``grain`` words (deterministic from the seed and its index) and counts their
3-letter prefixes. ``state``:

- ``manager``: one Manager-held counter per worker (as the multiprocessing version of the
  benchmark it follows does); each task adds its counts to its worker's counter (one round
  trip), and the caller merges the counters after the run;
- ``mapreduce``: each task returns its partial counts, and the caller merges them.

Either way the merged counts must equal the serial counts: that is the verification. A run
starts from empty counters (resetting the manager's counters is inside the run: it is part of
what that method costs).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import threading
from collections import Counter
from collections.abc import Sequence
from multiprocessing.managers import BaseManager, BaseProxy
from typing import Any, Callable, ClassVar

from .base import Workload, WorkloadError, task_seed
from .patterns import STATE_METHODS

_MODULUS = 2_147_483_647
_LETTERS = "etaoinshrdlucmfwyp"


def make_words(index: int, seed: int, grain: int) -> list[str]:
    """``grain`` words of 3 to 8 letters, deterministic from (seed, index)."""
    state = task_seed(seed, index)
    words = []
    for _ in range(grain):
        state = (state * 48_271) % _MODULUS
        length = 3 + state % 6
        word = []
        for _ in range(length):
            state = (state * 48_271) % _MODULUS
            word.append(_LETTERS[state % len(_LETTERS)])
        words.append("".join(word))
    return words


def count_prefixes(item: tuple[int, int, int]) -> dict[str, int]:
    """``state=mapreduce``: one task's partial state, returned to the caller."""
    index, seed, grain = item
    return dict(Counter(word[:3] for word in make_words(index, seed, grain)))


class PrefixCounts:
    """The Manager-held state of one worker (lives in the manager's process)."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()  # the manager serves each connection in a thread of its own

    def add(self, partial: dict[str, int]) -> None:
        with self._lock:
            self._counts.update(partial)

    def get(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()


class Slots:
    """Hands each worker (process and thread) its own counter, once."""

    def __init__(self, n: int) -> None:
        self._n = n
        self._given: dict[Any, int] = {}
        self._lock = threading.Lock()

    def claim(self, who: Any) -> int:
        with self._lock:
            if who not in self._given:
                self._given[who] = len(self._given) % self._n  # more claimants than counters: share (locked)
            return self._given[who]


class PrefixCountsProxy(BaseProxy):
    _exposed_ = ("add", "get", "reset")

    def add(self, partial: dict[str, int]) -> None:
        self._callmethod("add", (partial,))

    def get(self) -> dict[str, int]:
        return self._callmethod("get")

    def reset(self) -> None:
        self._callmethod("reset")


class SlotsProxy(BaseProxy):
    _exposed_ = ("claim",)

    def claim(self, who: Any) -> int:
        return self._callmethod("claim", (who,))


class StateManager(BaseManager):
    pass


StateManager.register("PrefixCounts", PrefixCounts, proxytype=PrefixCountsProxy)
StateManager.register("Slots", Slots, proxytype=SlotsProxy)

# Per process and thread: (manager address) -> (slot proxy, counter proxies, my slot).
_WORKER: dict[Any, Any] = {}


class AddToManager:
    """``state=manager``: count, then add the partial counts to this worker's counter.

    Pickled as the manager's address and the counters' tokens; each worker (process and
    thread) builds its proxies and claims its counter once, on its first task.
    """

    def __init__(self, address: Any, slots_token: Any, counter_tokens: list[Any]) -> None:
        self.address, self.slots_token, self.counter_tokens = address, slots_token, counter_tokens

    def __call__(self, item: tuple[int, int, int]) -> int:
        who = (os.getpid(), threading.get_ident())
        key = (self.address, who)
        mine = _WORKER.get(key)
        if mine is None:
            slots = SlotsProxy(self.slots_token, "pickle", incref=False)
            counters = [PrefixCountsProxy(t, "pickle", incref=False) for t in self.counter_tokens]
            mine = _WORKER[key] = counters[slots.claim(who)]
        partial = count_prefixes(item)
        mine.add(partial)
        return len(partial)


class _StateCollector:
    """Wraps the run's collector: the run ends with the workers' state merged (timed)."""

    def __init__(self, inner: Any, workload: Stateful) -> None:
        self.inner, self.workload = inner, workload
        self.requires = getattr(inner, "requires", ())

    def start(self, backend: Any, expected: Sequence[Any]) -> None:
        self.inner.start(backend, [0] * self.workload.size)

    def run(self, backend: Any, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        merged: Counter[str] = Counter()
        if self.workload.state == "manager":
            counters = self.workload.counters
            for counter in counters:
                counter.reset()
            self.inner.run(backend, fn, items)
            for counter in counters:
                merged.update(counter.get())
        else:
            for partial in self.inner.run(backend, fn, items):
                merged.update(partial)
        return [dict(merged)]

    def shutdown(self) -> None:
        self.inner.shutdown()


class Stateful(Workload):
    name: ClassVar[str] = "stateful"
    pairable: ClassVar[bool] = False  # the runs merge per-worker state
    summary: ClassVar[str] = "per-worker state (prefix counts) merged at the end: manager or mapreduce"
    dimensions: ClassVar[tuple[str, ...]] = ("state",)

    def __init__(
        self, size: int, grain: int = 2_000, seed: int = 0, state: str = "mapreduce", **checks: Any
    ) -> None:
        super().__init__(size, grain, seed, **checks)
        if state not in STATE_METHODS:
            raise WorkloadError(f"state={state}: choose one of {', '.join(STATE_METHODS)}")
        self.state = state
        self.counters: list[Any] = []
        self._manager: Any = None
        self._task: Callable[[Any], Any] = count_prefixes
        self._workers = 1
        self._ctx: Any = None

    def bind(self, backend: Any) -> None:
        self._workers = backend.workers
        self._ctx = backend.context() if backend.supports_start_method else mp.get_context()

    def setup(self) -> None:
        if self.state != "manager":
            self._task = count_prefixes
            return
        self._manager = StateManager(ctx=self._ctx or mp.get_context())
        self._manager.start()
        self.counters = [self._manager.PrefixCounts() for _ in range(self._workers)]
        slots = self._manager.Slots(self._workers)
        self._slots = slots  # kept: the manager frees an object when its last proxy goes
        self._task = AddToManager(self._manager.address, slots._token, [c._token for c in self.counters])

    def teardown(self) -> None:
        _WORKER.clear()
        if self._manager is not None:
            self.counters = []
            self._slots = None
            self._manager.shutdown()
            self._manager = None

    def wrap_collector(self, collector: Any) -> Any:
        return _StateCollector(collector, self)

    @property
    def task(self) -> Callable[[Any], Any]:
        return self._task

    def inputs(self) -> list[Any]:
        return [(i, self.seed, self.grain) for i in range(self.size)]

    def reference(self, inputs: Any) -> list[Any]:
        """The serial state: one counter over every task's words."""
        merged: Counter[str] = Counter()
        for item in inputs:
            merged.update(count_prefixes(item))
        return [dict(merged)]

    def fields(self) -> dict[str, Any]:
        return {**super().fields(), "state_objects": self._workers if self.state == "manager" else None}
