"""The same sequential run in fresh processes: how much do identical processes differ? (README 3.)

Prints one line per process (median of 7 runs after a warm-up). Run it several times in a row,
plain, under ``setarch -R`` (no address-space randomisation) or ``taskset -c N``:

    for i in 1 2 3 4; do python -m benchmarks.probes.process_spread; done
    for i in 1 2 3 4; do setarch "$(uname -m)" -R python -m benchmarks.probes.process_spread; done
"""

from __future__ import annotations

import statistics
import time

from coresweep.experiments.machine.allocator import fix_allocator
from coresweep.experiments.workloads import WORKLOADS


def main() -> None:
    fix_allocator()
    workload = WORKLOADS["cpu_python"](size=32, grain=20000)
    task, items = workload.task, workload.inputs()
    times = []
    for _ in range(8):
        t0 = time.perf_counter()
        [task(x) for x in items]
        times.append(time.perf_counter() - t0)
    runs = times[1:]
    low, high = min(runs) * 1e3, max(runs) * 1e3
    print(f"median {statistics.median(runs) * 1e3:.1f} ms, runs {low:.1f}-{high:.1f} ms")


if __name__ == "__main__":
    main()
