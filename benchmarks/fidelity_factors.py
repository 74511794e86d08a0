"""What, inside coresweep's timed region, changes a run's time? An in-process A/B.

benchmarks/fidelity.py compares two processes (a hand-written script and the harness), so a
difference there can come from the protocol or from the process (imports, memory layout,
history). This benchmark removes the second: in one process, on one started backend, it
times the same call plainly (``perf_counter`` around ``backend.map``, as the script does) and
through the protocol's timed run (``Protocol._timed_run``), with one factor of the protocol
switched off at a time:

- ``protocol``     : as a job runs it (watchdog thread for ``timeout_s``, CPU-time reads of the
                     process tree, peak memory: the kernel's high-water marks, reset before
                     and read after the run; a sampler thread every 20 ms for ``process``)
- ``no_sampler``   : ``measure_memory=False`` (no RSS sampler, no high-water-mark reset)
- ``no_watchdog``  : ``timeout_s=None`` (no watchdog thread)

The variants take turns in a shuffled order (seeded), so drift hits them alike. Ratio = the
variant's median / plain's median, with a seeded bootstrap 95 % CI.

    python -m benchmarks.fidelity_factors [--runs 30] [--workloads cpu_python,gil_release]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
from scipy.stats import bootstrap

from benchmarks._results import machine_header, write_result
from coresweep.experiments.backends import BACKENDS
from coresweep.experiments.job.collect import Collector
from coresweep.experiments.job.protocol import JobMeasurement, Protocol, _Work
from coresweep.experiments.machine.allocator import fix_allocator

CASES = {"cpu_python": (64, 20000), "io_sleep": (64, 5000), "gil_release": (128, 256)}
BACKEND_NAMES = ("sequential", "pool", "process_pool", "thread_pool", "joblib_loky")
VARIANTS = ("plain", "protocol", "no_sampler", "no_watchdog")
RESULTS = Path(__file__).resolve().parent / "results"


def ratio_ci(values: list[float], base: list[float], seed: int) -> tuple[float, float, float]:
    """median(values)/median(base) and a percentile-bootstrap 95 % CI (independent resamples)."""

    def stat(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
        return np.median(a, axis=axis) / np.median(b, axis=axis)

    res = bootstrap(
        (np.array(values), np.array(base)),
        stat,
        paired=False,
        vectorized=True,
        n_resamples=2000,
        method="percentile",
        random_state=seed,
    )
    point = statistics.median(values) / statistics.median(base)
    return point, float(res.confidence_interval.low), float(res.confidence_interval.high)


def timers(
    backend: Any, task: Callable[[Any], Any], items: list[Any], expected: list[Any], verify: Any
) -> dict[str, Callable[[], float]]:
    """One function per variant; each times one call and returns seconds."""
    collector = Collector()

    def plain() -> float:
        t0 = time.perf_counter()
        collector.run(backend, task, items)
        return time.perf_counter() - t0

    def through(protocol: Protocol) -> Callable[[], float]:
        work = _Work(backend, collector, task, items, expected, verify, lambda: None, JobMeasurement())

        def run() -> float:
            measured = protocol._timed_run(work, 0, 1)
            if not measured.ok or measured.wall_s is None:
                raise SystemExit(f"run failed: {measured.error}")
            return measured.wall_s

        return run

    return {
        "plain": plain,
        "protocol": through(Protocol(repeats=1, timeout_s=600.0)),
        "no_sampler": through(Protocol(repeats=1, timeout_s=600.0, measure_memory=False)),
        "no_watchdog": through(Protocol(repeats=1, timeout_s=None)),
    }


def measure(workload_name: str, backend_name: str, workers: int, runs: int, seed: int) -> dict[str, Any]:
    from coresweep.experiments.workloads import WORKLOADS

    size, grain = CASES[workload_name]
    workload = WORKLOADS[workload_name](size=size, grain=grain)
    items = workload.inputs()
    expected = workload.reference(items)
    backend = BACKENDS[backend_name](workers, "auto")
    backend.start()
    try:
        variants = timers(backend, workload.task, items, expected, workload.verify)
        for fn in variants.values():  # warm-up, every path once
            fn()
        times: dict[str, list[float]] = {name: [] for name in variants}
        order = list(variants)
        rng = random.Random(seed)
        for _ in range(runs):
            rng.shuffle(order)
            for name in order:
                times[name].append(variants[name]())
    finally:
        backend.shutdown()
    row: dict[str, Any] = {"workload": workload_name, "backend": backend_name, "times": times}
    for name in VARIANTS[1:]:
        row[name] = ratio_ci(times[name], times["plain"], seed)
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=30, help="timed calls per variant")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--workloads", default="cpu_python,gil_release")
    parser.add_argument("--backends", default=",".join(BACKEND_NAMES))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for fidelity_factors.json")
    parser.add_argument("--merge", action="store_true", help="keep other rows in the JSON")
    args = parser.parse_args(argv)
    fix_allocator()  # as a job does
    report: dict[str, Any] = {
        **machine_header(),
        "workers": args.workers,
        "runs": args.runs,
        "seed": args.seed,
        "loadavg_start": os.getloadavg()[0],
        "results": [],
    }
    print(f"{'workload':12} {'backend':13} {'plain ms':>9}  " + "  ".join(f"{v:>22}" for v in VARIANTS[1:]))
    for workload in args.workloads.split(","):
        for backend in args.backends.split(","):
            row = measure(workload, backend, args.workers, args.runs, args.seed)
            row["measured_at"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
            row["loadavg_1m"] = os.getloadavg()[0]
            report["results"].append(row)
            cells = "  ".join(f"{p:6.3f} ({lo:.3f}-{hi:.3f})" for p, lo, hi in (row[v] for v in VARIANTS[1:]))
            print(
                f"{workload:12} {backend:13} {statistics.median(row['times']['plain']) * 1e3:9.1f}  {cells}",
                flush=True,
            )
    report["loadavg_end"] = os.getloadavg()[0]
    path = args.out / "fidelity_factors.json"
    if args.merge and path.exists():
        done = {(r["workload"], r["backend"]) for r in report["results"]}
        old = json.loads(path.read_text()).get("results", [])
        report["results"] = [r for r in old if (r["workload"], r["backend"]) not in done] + report["results"]
    write_result(args.out, "fidelity_factors.json", report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
