"""What every workload provides: deterministic inputs, one picklable task, a verifier.

A workload is ``size`` independent tasks; ``grain`` is the work inside one task. The runner
hands ``task`` and ``inputs()`` to a backend; the result list is compared with the sequential
answer (``reference``) by ``verify``, which compares by type (``verify.Verification``: arrays,
floats within a tolerance, containers element by element) as ``workload.verify``, ``rtol`` and
``atol`` ask, keys every workload takes. Task functions live at module level so every start
method (fork, spawn, forkserver, loky) can pickle them by reference.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, Callable, ClassVar

from .verify import DEFAULT_ATOL, DEFAULT_RTOL, CheckerFailed, Verification


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
    #: Tolerances for float results under ``workload.verify=auto|close`` when ``workload.rtol``
    #: / ``workload.atol`` are null (the documented defaults; see ``verify.DEFAULT_RTOL``).
    default_rtol: ClassVar[float] = DEFAULT_RTOL
    default_atol: ClassVar[float] = DEFAULT_ATOL
    #: On a mismatch, call the task again sequentially to tell a non-deterministic function
    #: (a random one, not seeded per task) from a wrong parallel answer (the user's functions).
    rerun_on_mismatch: ClassVar[bool] = False
    #: Modules the task needs beyond the standard library (checked per interpreter for python=...).
    requires: ClassVar[tuple[str, ...]] = ()
    #: Top-level dimensions this workload takes (``share``, ``init``, ``state``): passed to its
    #: constructor and recorded in its rows; other workloads record null for them.
    dimensions: ClassVar[tuple[str, ...]] = ()
    #: Sample the process tree's PSS in every timed run (``peak_pss_bytes``): where
    #: copy-on-write against copies is the point, RSS sums count shared pages once per process.
    measure_pss: ClassVar[bool] = False
    #: ``pair=on`` can time the task over the inputs in the job's main thread, next to the
    #: timed runs, as the sequential baseline does: false where tasks need their workers
    #: (per-worker set-up) or change state the runs then read.
    pairable: ClassVar[bool] = True
    #: ``pair=auto`` pairs this workload: its time is CPU time, which the machine's speed moves.
    pair_auto: ClassVar[bool] = False

    def __init__(
        self,
        size: int,
        grain: int = 1,
        seed: int = 0,
        *,
        verify: Any = "auto",
        rtol: Any = None,
        atol: Any = None,
        **options: Any,
    ) -> None:
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise WorkloadError(f"workload.size={size!r}: must be an integer >= 1")
        if self.uses_grain and (isinstance(grain, bool) or not isinstance(grain, int) or grain < 1):
            raise WorkloadError(f"workload.grain={grain!r}: must be an integer >= 1")
        if options:
            unknown = ", ".join(sorted(options))
            raise WorkloadError(f"workload={self.name}: unknown option(s) {unknown}")
        try:
            #: How results are compared (``workload.verify``, ``rtol``, ``atol``).
            self.check = Verification.build(verify, rtol, atol, self.default_rtol, self.default_atol)
        except ValueError as exc:
            raise WorkloadError(str(exc)) from None
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
        """Extra row fields this workload records (after the job; e.g. how the input was shared).

        Every workload records ``verify``: the check its results went through."""
        return {"verify": self.check.label()}

    def setup(self) -> None:
        """Create what the tasks need (files, folders); called once per job before timing."""

    def teardown(self) -> None:
        """Remove what ``setup`` created; always called."""

    def requirements(self) -> tuple[str, ...]:
        """Modules a worker must import to run ``task`` (``requires``, plus any the options add:
        a checker's module, imported by the job's process to verify)."""
        return (*self.requires, *self.check.requirements())

    def key(self) -> tuple[Any, ...]:
        """Identifies the sequential answer (for reuse across jobs of one sweep)."""
        return (type(self).__qualname__, self.size, self.grain, self.seed)

    def reference(self, inputs: Sequence[Any]) -> list[Any]:
        """The sequential answer every timed run is checked against."""
        task = self.task
        return [task(x) for x in inputs]

    def verify(self, expected: Sequence[Any], got: Sequence[Any] | None) -> str | None:
        """None when ``got`` matches ``expected``; else where and how the results differ.

        Runs outside the timed region. Never raises: a checker that raises is a mismatch that
        says so (the run fails, the sweep goes on)."""
        if got is None:
            return "no results returned"
        got = list(got)
        if len(got) != len(expected):
            return f"expected {len(expected)} results, got {len(got)}"
        if self.check.mode == "none":  # results came back, one per task; their values go unchecked
            return None
        for index, (want, have) in enumerate(zip(expected, got)):
            try:
                problem = self.check.mismatch(want, have, f"result {index}")
            except CheckerFailed as exc:
                return str(exc)
            if problem:
                return problem + self._determinism(index, want)
        return None

    def call_name(self, index: int) -> str:
        """How a message names task ``index`` (a user's function: ``mod:func(3)``)."""
        return f"task {index}"

    def _determinism(self, index: int, want: Any) -> str:
        """After a mismatch: call task ``index`` again here, sequentially; if that differs from
        the reference too, the function is not deterministic, and the message says so."""
        if not self.rerun_on_mismatch:
            return ""
        try:
            again = self.task(self.inputs()[index])
        except Exception as exc:
            return f"; a second sequential call {self.call_name(index)} raised {type(exc).__name__}: {exc}"
        if self.check.differs_by_type(want, again, "") is None:
            return ""  # the function repeats itself: the parallel run's answer was wrong
        return (
            f"; {self.call_name(index)} gave different results on two sequential calls (it is not "
            "deterministic): seed it per task, e.g. random.Random(i) or numpy.random.default_rng(i), "
            "or set workload.verify=none"
        )


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def task_seed(seed: int, index: int) -> int:
    """Per-task seed: distinct for every (seed, index), stable across runs and platforms."""
    return (seed * 1_000_003 + index * 7_919 + 12_345) % 2_147_483_647 or 1
