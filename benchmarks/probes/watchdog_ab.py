"""Does the protocol's watchdog thread change the speed of a pure-Python loop? (README Fidelity, 1.)

In one process, the same sequential cpu_python call, timed plainly and: inside a Watchdog
(the protocol's, a thread per run), beside a parked thread started per run, after a thread
started and joined, after a 0.5 ms sleep, and after notifying one thread kept for the whole
process (the first call starts it). Variants take turns in a
shuffled order; ratio = variant median / plain median with a bootstrap 95 % CI.

    python -m benchmarks.probes.watchdog_ab [RUNS] [VARIANTS]
    python -m benchmarks.probes.watchdog_ab 40 plain,watchdog,parked,started_joined,slept
    python -m benchmarks.probes.watchdog_ab 40 plain,watchdog,notified
"""

from __future__ import annotations

import random
import statistics
import sys
import threading
import time
from typing import Any, Callable

import numpy as np
from scipy.stats import bootstrap

from coresweep.experiments.job.protocol import Watchdog
from coresweep.experiments.machine.allocator import fix_allocator
from coresweep.experiments.workloads import WORKLOADS


def main() -> None:
    fix_allocator()
    workload = WORKLOADS["cpu_python"](size=64, grain=20000)
    task, items = workload.task, workload.inputs()

    def timed() -> float:
        t0 = time.perf_counter()
        [task(x) for x in items]
        return time.perf_counter() - t0

    def watchdog() -> float:
        with Watchdog(600.0, lambda: None, None):
            return timed()

    def parked() -> float:
        event = threading.Event()
        thread = threading.Thread(target=event.wait, args=(600,), daemon=True)
        thread.start()
        try:
            return timed()
        finally:
            event.set()
            thread.join()

    def started_joined() -> float:
        with Watchdog(600.0, lambda: None, None):
            pass
        return timed()

    def slept() -> float:
        time.sleep(0.0005)  # the main thread blocks for a moment, no other thread involved
        return timed()

    armed = threading.Condition()
    deadlines: list[float] = []

    def persistent_watch() -> None:
        with armed:
            while True:
                armed.wait(600)

    keeper: list[threading.Thread] = []

    def notified() -> float:
        # One watchdog-like thread for the whole process, armed by a notify: no waiting here.
        if not keeper:
            keeper.append(threading.Thread(target=persistent_watch, daemon=True))
            keeper[0].start()
        with armed:
            deadlines.append(time.monotonic() + 600)
            armed.notify()
        return timed()

    variants: dict[str, Callable[[], float]] = {
        "plain": timed,
        "watchdog": watchdog,
        "parked": parked,
        "started_joined": started_joined,
        "slept": slept,
        "notified": notified,
    }
    if len(sys.argv) > 2:  # a subset: "notified" leaves its thread running for every later call
        variants = {name: variants[name] for name in sys.argv[2].split(",")}
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 40
    times: dict[str, list[float]] = {name: [] for name in variants}
    order, rng = list(variants), random.Random(2)
    for fn in variants.values():
        fn()
    for _ in range(runs):
        rng.shuffle(order)
        for name in order:
            times[name].append(variants[name]())

    def ratio(a: Any, b: Any, axis: int = -1) -> Any:
        return np.median(a, axis=axis) / np.median(b, axis=axis)

    base = times["plain"]
    for name, values in times.items():
        ci = bootstrap(
            (np.array(values), np.array(base)),
            ratio,
            vectorized=True,
            n_resamples=2000,
            method="percentile",
            random_state=1,
        ).confidence_interval
        print(
            f"{name:15} {statistics.median(values) * 1e3:7.1f} ms  ratio "
            f"{statistics.median(values) / statistics.median(base):.3f} ({ci.low:.3f}-{ci.high:.3f})"
        )


if __name__ == "__main__":
    main()
