"""Which figures a report gets, with their captions, and drawing them (in worker processes when that pays)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Callable

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from .._gc import paused_gc
from .._parallel import can_fork, usable_cpus
from ..stats import SEQUENTIAL, grain_series
from .best import best_figure, best_table
from .grain import grain_figure
from .layout import FigureFile, save
from .lines import cpu_figure, efficiency_figure, memory_figure, speedup_figure
from .panels import grain_sweep_workloads, skip_reason
from .size import SIZE_MAX_WORKER_LINES, size_data, size_figure
from .startup import COST_PANELS, startup_figure
from .style import RC, backend_palette

#: (name, caption, drawn even without data) in report order; drawers are looked up in FIGURES.
PLANS: tuple[tuple[str, str, bool], ...] = (
    (
        "speedup",
        "Speedup = median sequential time / median time, per backend; the dashed line is perfect "
        "scaling, vertical lines mark the core counts, the red region is oversubscribed. Both axes are "
        "logarithmic (base 2), so perfect scaling is a straight line.",
        True,
    ),
    (
        "efficiency",
        "Efficiency = speedup / workers; 1 means every worker fully used (worker axis in log2).",
        True,
    ),
    (
        "cpu",
        "CPU seconds (user+sys, all processes) per wall second: near 1 for GIL-bound threads, "
        "near the worker count when every worker computes.",
        False,
    ),
    ("memory", "Peak resident memory of the process tree: processes pay per worker.", False),
    (
        "startup",
        "Time to start the executor (pool, processes or threads) before the timed runs, and to shut "
        "it down after them (teardown), per backend and start method. Backends that create their "
        "threads or processes inside every run (thread, process) show almost nothing here: their "
        "start-up and teardown are part of each run's wall time.",
        False,
    ),
    (
        "best",
        "The fastest parallel backend per workload and worker count, in its colour, with its speedup over "
        "sequential; a pale cell means even the fastest one is slower than sequential.",
        False,
    ),
    (
        "grain",
        "Speedup against task grain (work per task) at one fixed worker count per machine (the one most "
        "grain series ran with; the crossover table covers all): at small grains per-task "
        "overhead (pickling, IPC, futures) eats the gain; × marks the crossover grain where speedup "
        "reaches 1 (interpolated in log-grain; marked only where the speedup's interval crosses 1 "
        "upward; see the crossover table and crossover.csv).",
        False,
    ),
    (
        "size",
        "Median wall time against problem size, log-log. Strong scaling: one line per backend and worker "
        f"count (at most {SIZE_MAX_WORKER_LINES} worker counts: smallest, nearest the physical cores, "
        "largest); the vertical gap to the sequential line is the speedup. Weak scaling (size grows with "
        "workers, dash-dot, labels = workers): a flat line is ideal.",
        False,
    ),
)
FIGURES: dict[str, Callable[..., Figure]] = {
    "speedup": speedup_figure,
    "efficiency": efficiency_figure,
    "cpu": cpu_figure,
    "memory": memory_figure,
    "startup": startup_figure,
    "best": best_figure,
    "grain": grain_figure,
    "size": size_figure,
}
#: Every figure a report can hold (a rebuild removes those it no longer draws).
FIGURE_NAMES: tuple[str, ...] = tuple(name for name, _, _ in PLANS)
#: Relative drawing cost per figure (measured on a 100k-row report), to hand out the big ones first.
DRAW_COST = {
    "speedup": 9,
    "efficiency": 9,
    "cpu": 8,
    "memory": 8,
    "size": 7,
    "grain": 7,
    "best": 5,
    "startup": 3,
}
#: Below this many panels per figure, forking costs more than it saves. Forking the report
#: process (its libraries already imported) costs a few ms: from one panel up, two figures
#: drawn side by side pay (the default sweep's report: 2.4-2.7 s serially, 1.5-1.9 s forked on
#: the 2-core VM, 2026-12-06).
PARALLEL_MIN_PANELS = 1


def draw_one(
    name: str,
    caption: str,
    summary: pd.DataFrame,
    topology: Mapping,
    palette: Mapping[str, str],
    out_dir: Path,
) -> FigureFile:
    """Draw and save one figure (module-level so a worker process can run it)."""
    with paused_gc(), plt.rc_context(RC), sns.axes_style("whitegrid"):
        fig = FIGURES[name](summary, topology, palette)
        return save(fig, out_dir, name, caption)


#: Figures that show speedups (a borrowed baseline is named in their captions).
SPEEDUP_FIGURES = ("speedup", "efficiency", "best", "grain")


def _borrowed_caption(summary: pd.DataFrame, name: str) -> str:
    """" Speedups of … use the baseline of sweep X …" where a speedup borrowed one, else ""."""
    if name not in SPEEDUP_FIGURES or "baseline_sweep" not in summary or summary.empty:
        return ""
    lent = summary[summary["baseline_sweep"].fillna("").astype(str).ne("")]
    lent = lent[np.isfinite(lent["speedup"].astype("float64"))]
    if lent.empty:
        return ""
    names = ", ".join(sorted(lent["baseline_sweep"].astype(str).unique()))
    return (
        f" Baseline borrowed: {len(lent)} configuration{'s' if len(lent) != 1 else ''} ran in a sweep "
        f"without sequential runs; their speedups use the sequential runs of sweep {names} (same machine, "
        "measured at another time)."
    )


class FigureJobs:
    """Every figure of a report, drawn in worker processes when that pays, else in this one.

    A 10-panel figure takes about a second to lay out and save twice; on a multi-core machine
    the figures are drawn side by side (fork; POSIX only, and only from a single-threaded
    process, where fork is safe) while the caller writes the CSVs, and the caller joins in
    once it is free. Any trouble starting workers falls back on drawing here, so the report
    never depends on them.
    """

    def __init__(
        self,
        summary: pd.DataFrame,
        topology: Mapping[str, Mapping[str, Any]],
        out_dir: Path,
        processes: int | None = None,
    ) -> None:
        self.summary = summary
        self.topology = {k: dict(v) for k, v in topology.items()}
        self.out_dir = out_dir
        self.palette = backend_palette(summary["backend"].astype(str).unique() if len(summary) else [])
        #: (name, why) for figures left out although their kind of data exists (see skip_reason).
        self.skipped: list[tuple[str, str]] = []
        self.plans: list[tuple[str, str]] = []
        grain_workloads = grain_sweep_workloads(summary) if len(summary) else set()
        for name, caption, always in PLANS:
            reason = skip_reason(summary, name, grain_workloads)
            if reason:
                self.skipped.append((name, reason))
            elif always or _has_values(summary, name):
                self.plans.append((name, caption + _borrowed_caption(summary, name)))
        # Plan indices, costliest first: workers (and, once free, the caller) take them in this
        # order from one shared counter, so all of them finish at about the same time.
        self._order = sorted(range(len(self.plans)), key=lambda i: -DRAW_COST.get(self.plans[i][0], 1))
        self._next: Any = None  # shared: position in _order of the next figure to take
        self._done: Any = None  # shared: 1 once figure i is saved
        self._workers: list[Any] = []
        if processes is None:
            processes = self._auto_processes()
        if processes > 1:
            self._start(processes)

    def _auto_processes(self) -> int:
        if len(self.summary) == 0 or not can_fork():
            return 1
        panels = self.summary.groupby(["machine", "workload", "size"]).ngroups
        wanted = min(usable_cpus(), len(self.plans))
        return wanted if panels >= PARALLEL_MIN_PANELS and wanted > 1 else 1

    def _start(self, processes: int) -> None:
        """Fork the workers: they see the plans and the summary without pickling anything."""
        import multiprocessing

        try:
            ctx = multiprocessing.get_context("fork")
            self._next = ctx.Value("i", 0)
            self._done = ctx.Array("b", len(self.plans))
            for _ in range(processes):
                worker = ctx.Process(target=self._work, args=(True,), daemon=True)
                worker.start()
                self._workers.append(worker)
        except (OSError, ValueError, RuntimeError, AssertionError):  # e.g. a daemonic caller
            pass  # whoever started works on; the caller draws the rest in result()

    def _take(self) -> int | None:
        """The next figure nobody has taken yet (plan index), or None when all are taken."""
        with self._next.get_lock():
            position = self._next.value
            if position >= len(self._order):
                return None
            self._next.value = position + 1
        return self._order[position]

    def _work(self, in_worker: bool = False) -> None:
        """Draw figures until none is left to take (in a worker, and in the caller once free).

        A worker skips a figure that fails (it stays not done, and the caller draws it again,
        where the error, if it is real, surfaces with its traceback).
        """
        while (i := self._take()) is not None:
            name, caption = self.plans[i]
            try:
                draw_one(name, caption, self.summary, self.topology, self.palette, self.out_dir)
            except Exception:
                if not in_worker:
                    raise
                continue
            self._done[i] = 1

    def planned(self) -> list[FigureFile]:
        """The figures the report will hold, in report order (their files may not be written yet)."""
        return [
            FigureFile(name, self.out_dir / f"{name}.png", self.out_dir / f"{name}.svg", caption)
            for name, caption in self.plans
        ]

    def draw_share(self) -> None:
        """The caller's share: draw figures from the shared queue until none is left to take
        (without waiting for the workers' last ones; ``result`` waits)."""
        if self._workers:
            self._work()

    def result(self) -> list[FigureFile]:
        """The saved figures in report order.

        The caller is free by now, so it takes figures from the same queue as the workers
        until none is left, then waits for them. A figure whose worker died or failed (not
        marked done) is drawn here, so the report never depends on the workers.
        """
        if self._workers:
            self._work()
            for worker in self._workers:
                worker.join()
        files: list[FigureFile] = []
        for i, (name, caption) in enumerate(self.plans):
            if self._workers and self._done[i]:
                files.append(
                    FigureFile(name, self.out_dir / f"{name}.png", self.out_dir / f"{name}.svg", caption)
                )
            else:
                files.append(draw_one(name, caption, self.summary, self.topology, self.palette, self.out_dir))
        return files


def draw_all(
    summary: pd.DataFrame,
    topology: Mapping[str, Mapping[str, Any]],
    out_dir: Path,
    processes: int | None = 1,
) -> list[FigureFile]:
    """Draw and save every figure; returns them in report order."""
    return FigureJobs(summary, topology, out_dir, processes).result()


def _has_values(summary: pd.DataFrame, name: str) -> bool:
    if summary.empty:
        return False
    if name == "best":
        return not best_table(summary).empty
    if name == "grain":
        return not grain_series(summary).empty
    if name == "size":
        ok = summary[(summary["n_ok"] > 0) & summary["backend"].ne(SEQUENTIAL)]
        keys = ["machine", "workload", "grain", "backend", "start_method", "pinning", "collect", "workers"]
        if (ok.groupby(keys, sort=False, dropna=False)["size"].nunique() >= 2).any():
            return True  # strong scaling over size: no need to look for weak-scaling ladders
        strong, weak = size_data(summary)
        return not (strong.empty and weak.empty)
    if name == "startup":
        return bool(np.isfinite(summary[[c for c, _ in COST_PANELS]].astype("float64").to_numpy()).any())
    column = {"cpu": "cpu_per_wall", "memory": "median_peak_rss_bytes"}[name]
    values = summary.loc[summary["backend"].ne(SEQUENTIAL), column].astype("float64")
    return bool(np.isfinite(values).any())
