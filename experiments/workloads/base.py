"""What every workload provides: deterministic inputs, one picklable task, a verifier.

A workload is ``size`` independent tasks; ``grain`` is the work inside one task. The runner
hands ``task`` and ``inputs()`` to a backend; the result list is compared with the sequential
answer (``reference``) by ``verify``. Task functions live at module level so every start
method (fork, spawn, forkserver, loky) can pickle them by reference.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, Callable, ClassVar


class WorkloadError(ValueError):
    """A workload was configured with values it cannot run (reported before any work)."""


class Workload(ABC):
    """Base class: subclasses set ``name`` and implement ``task`` and ``inputs``."""

    name: ClassVar[str]
    #: One line for ``--help`` and the README: what the workload stands for.
    summary: ClassVar[str] = ""
    #: True when the work releases the GIL (threads can then run it in parallel).
    releases_gil: ClassVar[bool] = False
    #: Whether ``grain`` means anything for this workload.
    uses_grain: ClassVar[bool] = True
    #: Relative tolerance for float results (0 means results must be equal).
    rel_tol: ClassVar[float] = 0.0
    #: Modules the task needs beyond the standard library (checked per interpreter for python=...).
    requires: ClassVar[tuple[str, ...]] = ()
    #: Top-level dimensions this workload takes (``share``, ``init``, ``state``): passed to its
    #: constructor and recorded in its rows; other workloads record null for them.
    dimensions: ClassVar[tuple[str, ...]] = ()
    #: Sample the process tree's PSS in every timed run (``peak_pss_bytes``): where
    #: copy-on-write against copies is the point, RSS sums count shared pages once per process.
    measure_pss: ClassVar[bool] = False

    def __init__(self, size: int, grain: int = 1, seed: int = 0, **options: Any) -> None:
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise WorkloadError(f"workload.size={size!r}: must be an integer >= 1")
        if self.uses_grain and (isinstance(grain, bool) or not isinstance(grain, int) or grain < 1):
            raise WorkloadError(f"workload.grain={grain!r}: must be an integer >= 1")
        if options:
            unknown = ", ".join(sorted(options))
            raise WorkloadError(f"workload={self.name}: unknown option(s) {unknown}")
        self.size = size
        self.grain = grain
        self.seed = seed

    @property
    @abstractmethod
    def task(self) -> Callable[[Any], Any]:
        """A picklable callable applied to each input."""

    @abstractmethod
    def inputs(self) -> list[Any]:
        """``size`` picklable inputs, the same for the same seed."""

    def bind(self, backend: Any) -> None:
        """Learn which backend runs the tasks, before ``setup`` (both outside the timed runs).

        A workload may set the backend's initializer here (per-worker set-up) or its
        ``auto_memmap``; the backend is started only after this.
        """

    def wrap_collector(self, collector: Any) -> Any:
        """The collector a run goes through (a stateful workload merges the workers' state)."""
        return collector

    def fields(self) -> dict[str, Any]:
        """Extra row fields this workload records (after the job; e.g. how the input was shared)."""
        return {}

    def setup(self) -> None:
        """Create what the tasks need (files, folders); called once per job before timing."""

    def teardown(self) -> None:
        """Remove what ``setup`` created; always called."""

    def requirements(self) -> tuple[str, ...]:
        """Modules a worker must import to run ``task`` (``requires``, plus any the options add)."""
        return self.requires

    def key(self) -> tuple[Any, ...]:
        """Identifies the sequential answer (for reuse across jobs of one sweep)."""
        return (type(self).__qualname__, self.size, self.grain, self.seed)

    def reference(self, inputs: Sequence[Any]) -> list[Any]:
        """The sequential answer every timed run is checked against."""
        task = self.task
        return [task(x) for x in inputs]

    def verify(self, expected: Sequence[Any], got: Sequence[Any] | None) -> str | None:
        """None when ``got`` matches ``expected``; else a short description of the mismatch."""
        if got is None:
            return "no results returned"
        got = list(got)
        if len(got) != len(expected):
            return f"expected {len(expected)} results, got {len(got)}"
        for index, (want, have) in enumerate(zip(expected, got)):
            if not self._same(want, have):
                return f"result {index} is {_short(have)}, expected {_short(want)}"
        return None

    def _same(self, want: Any, have: Any) -> bool:
        if self.rel_tol and isinstance(want, float) and isinstance(have, (float, int)):
            return math.isclose(want, have, rel_tol=self.rel_tol, abs_tol=self.rel_tol)
        return bool(want == have)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def task_seed(seed: int, index: int) -> int:
    """Per-task seed: distinct for every (seed, index), stable across runs and platforms."""
    return (seed * 1_000_003 + index * 7_919 + 12_345) % 2_147_483_647 or 1
