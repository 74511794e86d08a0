"""Is the machine's noise shared by its CPUs, or does each CPU move on its own?

Two processes, one pinned to each of the first two CPUs, time the same ~20 ms pure-Python loop
back to back for ``--seconds``; their times are binned into 0.5 s windows. Printed: each CPU's
CV over the windows, the correlation of the two CPUs' log times, the spread of their difference
(what a one-CPU reference cannot cancel in a two-CPU run) and of their mean, and each CPU's
lag-1 autocorrelation (how slowly it moves). Adjacent sequential runs (``pair=``) can only
cancel the shared part: a sequential run uses one CPU, a 2-worker run both.

    python -m benchmarks.probes.vcpu_noise [--seconds 40]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import time

import numpy as np


def _loop(cpu: int, queue: mp.Queue, seconds: float) -> None:
    os.sched_setaffinity(0, {cpu})
    out = []
    end = time.time() + seconds
    while time.time() < end:
        t0 = time.perf_counter()
        total = 0
        for i in range(300_000):
            total += i * i
        out.append((time.time(), time.perf_counter() - t0))
    queue.put((cpu, out))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=40.0)
    args = parser.parse_args(argv)
    cpus = sorted(os.sched_getaffinity(0))[:2]
    queue: mp.Queue = mp.Queue()
    procs = [mp.Process(target=_loop, args=(c, queue, args.seconds)) for c in cpus]
    for p in procs:
        p.start()
    found = dict(queue.get() for _ in procs)
    for p in procs:
        p.join()
    start = min(found[c][0][0] for c in cpus)
    bins: dict[int, dict[int, list[float]]] = {}
    for c in cpus:
        for stamp, took in found[c]:
            bins.setdefault(int((stamp - start) / 0.5), {}).setdefault(c, []).append(took)
    both = [v for _, v in sorted(bins.items()) if len(v) == 2]
    a = np.log([np.median(v[cpus[0]]) for v in both])
    b = np.log([np.median(v[cpus[1]]) for v in both])
    print(
        f"windows {a.size}: CV cpu{cpus[0]} {a.std():.3f}, cpu{cpus[1]} {b.std():.3f}; "
        f"correlation {np.corrcoef(a, b)[0, 1]:.2f}; sd of the difference {(a - b).std():.3f}, "
        f"of the mean {((a + b) / 2).std():.3f}; lag-1 autocorrelation "
        f"{np.corrcoef(a[:-1], a[1:])[0, 1]:.2f} / {np.corrcoef(b[:-1], b[1:])[0, 1]:.2f}"
    )


if __name__ == "__main__":
    main()
