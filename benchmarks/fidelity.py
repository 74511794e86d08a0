"""Does coresweep report the speedups a careful hand-written script measures?

Side by side in one run, on the same tasks (the harness's own task functions, so the work is
identical): a minimal script per backend (multiprocessing.Pool, ProcessPoolExecutor, threads,
joblib), timed with perf_counter, median of N runs after one warm-up; then the harness on the
same configurations. Prints both speedups and their ratio (goal: within 3 %), and the harness
overhead: the sweep's wall time against the time spent inside timed work.

    python -m benchmarks.fidelity [--repeats 7] [--workers 2] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from multiprocessing import Pool
from pathlib import Path

from joblib import Parallel, delayed

from coresweep.experiments.workloads import WORKLOADS

CASES = {
    # workload: (size, grain) sized so a sequential run takes ~0.15-0.3 s here
    "cpu_python": (64, 20000),
    "io_sleep": (64, 5000),
    "gil_release": (64, 256),
}
BACKENDS = ("pool", "process_pool", "thread_pool", "joblib_loky")


def median_time(fn, repeats: int) -> float:
    fn()  # warm-up, as the harness does
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def hand_written(workload: str, workers: int, repeats: int) -> dict[str, float]:
    size, grain = CASES[workload]
    wl = WORKLOADS[workload](size=size, grain=grain)
    task, items = wl.task, wl.inputs()
    out = {"sequential": median_time(lambda: [task(x) for x in items], repeats)}
    with Pool(workers) as pool:
        out["pool"] = median_time(lambda: pool.map(task, items), repeats)
    with ProcessPoolExecutor(workers) as ex:
        out["process_pool"] = median_time(lambda: list(ex.map(task, items)), repeats)
    with ThreadPoolExecutor(workers) as ex:
        out["thread_pool"] = median_time(lambda: list(ex.map(task, items)), repeats)
    with Parallel(n_jobs=workers) as par:
        out["joblib_loky"] = median_time(lambda: par(delayed(task)(x) for x in items), repeats)
    return out


def harness(workload: str, workers: int, repeats: int, sweep_dir: Path) -> tuple[dict[str, float], dict]:
    size, grain = CASES[workload]
    cmd = [
        sys.executable, "-m", "coresweep.experiments.cli", "-m",
        f"backend=sequential,{','.join(BACKENDS)}", f"workers={workers}", f"workload={workload}",
        f"workload.size={size}", f"workload.grain={grain}", f"repeats={repeats}", "warmup=1",
        "min_time_s=0", "report=false", f"hydra.sweep.dir={sweep_dir}",
    ]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    sweep_wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"harness failed:\n{proc.stderr}")
    walls: dict[str, list[float]] = {}
    timed = 0.0
    jobs = 0
    for path in sorted(sweep_dir.glob("*/results.jsonl")):
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        jobs += 1
        first = rows[0]
        timed += (first["startup_s"] or 0) + (first["teardown_s"] or 0) + sum(first["warmup_s"] or [])
        for row in rows:
            walls.setdefault(row["backend"], []).append(row["wall_s"])
            timed += row["wall_s"] * row["loops"]
    overhead = {"sweep_wall_s": sweep_wall, "timed_s": timed, "jobs": jobs,
                "per_job_outside_s": (sweep_wall - timed) / jobs}
    return {k: statistics.median(v) for k, v in walls.items()}, overhead


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--workloads", default=",".join(CASES))
    parser.add_argument("--out", type=Path, default=None, help="write fidelity.json here")
    args = parser.parse_args(argv)
    report = {"machine": os.uname().nodename, "cpus": os.cpu_count(), "workers": args.workers,
              "python": sys.version.split()[0], "results": []}
    print(f"{'workload':12} {'backend':13} {'script ×':>9} {'harness ×':>9} {'ratio':>7}")
    for workload in args.workloads.split(","):
        script = hand_written(workload, args.workers, args.repeats)
        with tempfile.TemporaryDirectory() as tmp:
            ours, overhead = harness(workload, args.workers, args.repeats, Path(tmp) / "sweep")
        for backend in BACKENDS:
            s_script = script["sequential"] / script[backend]
            s_ours = ours["sequential"] / ours[backend]
            ratio = s_ours / s_script
            report["results"].append({"workload": workload, "backend": backend, "speedup_script": s_script,
                                      "speedup_harness": s_ours, "ratio": ratio})
            print(f"{workload:12} {backend:13} {s_script:9.3f} {s_ours:9.3f} {ratio:7.3f}")
        report.setdefault("overhead", {})[workload] = overhead
        print(f"  sweep {overhead['sweep_wall_s']:.2f} s, timed work {overhead['timed_s']:.2f} s "
              f"({overhead['timed_s'] / overhead['sweep_wall_s']:.0%}), "
              f"{overhead['per_job_outside_s'] * 1000:.0f} ms per job outside timed work")
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "fidelity.json").write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
