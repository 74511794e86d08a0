"""Does where the loop's int objects land in pymalloc's pools change its speed? (README Fidelity, 1.)

Before each timed run, k floats (the same 32-byte size class as the task's ints) are kept
alive, which moves the blocks the loop allocates; k takes turns in a shuffled order.

    python -m benchmarks.probes.heap_shift [ROUNDS]
"""

from __future__ import annotations

import random
import statistics
import sys
import time

from coresweep.experiments.workloads import WORKLOADS

SHIFTS = (0, 1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 64, 96, 128)


def main() -> None:
    workload = WORKLOADS["cpu_python"](size=32, grain=20000)
    task, items = workload.task, workload.inputs()

    def run(k: int) -> float:
        keep = [float(i) + 0.5 for i in range(k)]
        t0 = time.perf_counter()
        [task(x) for x in items]
        elapsed = time.perf_counter() - t0
        del keep
        return elapsed

    times: dict[int, list[float]] = {k: [] for k in SHIFTS}
    order, rng = list(SHIFTS), random.Random(0)
    run(0)
    for _ in range(int(sys.argv[1]) if len(sys.argv) > 1 else 8):
        rng.shuffle(order)
        for k in order:
            times[k].append(run(k))
    medians = {k: statistics.median(v) * 1e3 for k, v in times.items()}
    spread = max(medians.values()) / min(medians.values()) - 1
    print(" ".join(f"{k}:{v:.1f}" for k, v in medians.items()), f"ms | spread {spread:.1%}")


if __name__ == "__main__":
    main()
