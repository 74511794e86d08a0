"""Does coresweep report the speedups a careful hand-written script measures?

Side by side, on the same tasks (the harness's own task functions, so the work is identical):
a minimal script per backend (multiprocessing.Pool, ProcessPoolExecutor, threads, joblib),
timed with perf_counter, median of N runs after one warm-up; then the harness on the same
configurations (``min_time_s=0``: one call per timed run, as in the script). Each round runs
the script and the harness as two fresh processes, alternating which goes first. Prints both
speedups, their ratio (goal: within 3 %) and the absolute times, and the harness overhead.

The script runs with the malloc thresholds coresweep fixes for itself and its workers
(``GLIBC_TUNABLES``, see experiments/allocator.py); without them glibc's thresholds depend on
the process's history and the same task runs up to 30 % slower in a fresh process (cause of
the gil_release disagreement measured before; ``--cold-script`` shows it).

    python -m benchmarks.fidelity [--rounds 3] [--repeats 7] [--workers 2] [--out benchmarks/results]
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

from benchmarks._results import write_result
from coresweep.experiments.allocator import TUNABLES
from coresweep.experiments.workloads import WORKLOADS

CASES = {
    # workload: (size, grain) sized so a sequential run takes ~0.05-0.3 s here
    "cpu_python": (64, 20000),
    "io_sleep": (64, 5000),
    "gil_release": (128, 256),
}
BACKENDS = ("pool", "process_pool", "thread_pool", "joblib_loky")
RESULTS = Path(__file__).resolve().parent / "results"


def median_time(fn, repeats: int) -> list[float]:
    """The times of ``repeats`` runs after one warm-up (as the harness does)."""
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def hand_written(workload: str, workers: int, repeats: int) -> dict[str, list[float]]:
    """The minimal script: what someone would write by hand to compare the backends."""
    from joblib import Parallel, delayed

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


def script(workload: str, workers: int, repeats: int, cold: bool) -> dict[str, list[float]]:
    """Run ``hand_written`` in a fresh interpreter (as a user's script would run)."""
    env = dict(os.environ)
    if not cold:
        env["GLIBC_TUNABLES"] = TUNABLES
    size, grain = CASES[workload]
    cmd = [sys.executable, "-m", "benchmarks.fidelity", "--script-only", workload, "--workers", str(workers),
           "--repeats", str(repeats), "--size", str(size), "--grain", str(grain)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"hand-written script failed:\n{proc.stderr}")
    return json.loads(proc.stdout)


def harness(workload: str, workers: int, repeats: int, sweep_dir: Path) -> dict[str, list[float]]:
    size, grain = CASES[workload]
    cmd = [
        sys.executable, "-m", "coresweep.experiments.cli", "-m",
        f"backend=sequential,{','.join(BACKENDS)}", f"workers={workers}", f"workload={workload}",
        f"workload.size={size}", f"workload.grain={grain}", f"repeats={repeats}", "warmup=1",
        "min_time_s=0", "report=false", f"hydra.sweep.dir={sweep_dir}",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"harness failed:\n{proc.stderr}")
    walls: dict[str, list[float]] = {}
    for path in sorted(sweep_dir.glob("*/results.jsonl")):
        for line in path.read_text().splitlines():
            row = json.loads(line)
            walls.setdefault(row["backend"], []).append(row["wall_s"])
    return walls


def compare(args: argparse.Namespace) -> dict:
    report = {"machine": os.uname().nodename, "cpus": os.cpu_count(), "workers": args.workers,
              "python": sys.version.split()[0], "repeats": args.repeats, "rounds": args.rounds,
              "cold_script": args.cold_script, "loadavg_start": os.getloadavg()[0], "results": []}
    rounds: dict[tuple[str, str], list[dict[str, float]]] = {}
    for r in range(args.rounds):
        for workload in args.workloads.split(","):
            with tempfile.TemporaryDirectory() as tmp:
                first_script = r % 2 == 0  # alternate the order: neither side always runs first
                if first_script:
                    mine = script(workload, args.workers, args.repeats, args.cold_script)
                ours = harness(workload, args.workers, args.repeats, Path(tmp) / "sweep")
                if not first_script:
                    mine = script(workload, args.workers, args.repeats, args.cold_script)
            mid = [{k: statistics.median(v) for k, v in side.items()} for side in (mine, ours)]
            low = [{k: min(v) for k, v in side.items()} for side in (mine, ours)]
            for backend in BACKENDS:
                rounds.setdefault((workload, backend), []).append({
                    "speedup_script": mid[0]["sequential"] / mid[0][backend],
                    "speedup_harness": mid[1]["sequential"] / mid[1][backend],
                    "seq_script_s": mid[0]["sequential"], "seq_harness_s": mid[1]["sequential"],
                    "par_script_s": mid[0][backend], "par_harness_s": mid[1][backend],
                    # Other processes only ever add time: the fastest run is the least disturbed.
                    "ratio_of_min": (low[1]["sequential"] / low[1][backend])
                    / (low[0]["sequential"] / low[0][backend]),
                })
    print(f"{'workload':12} {'backend':13} {'script ×':>9} {'harness ×':>9} {'ratio':>6} {'ratio range':>13}"
          f" {'of min':>6}"
          f"  {'seq ms script/harness':>21}  {'par ms script/harness':>21}")
    for (workload, backend), runs in rounds.items():
        ratios = [x["speedup_harness"] / x["speedup_script"] for x in runs]
        med = {k: statistics.median(x[k] for x in runs) for k in runs[0]}
        row = {"workload": workload, "backend": backend, **med, "ratio": statistics.median(ratios),
               "ratio_min": min(ratios), "ratio_max": max(ratios), "rounds": runs}
        row["ratio_of_min"] = statistics.median(x["ratio_of_min"] for x in runs)
        report["results"].append(row)
        print(f"{workload:12} {backend:13} {med['speedup_script']:9.3f} {med['speedup_harness']:9.3f} "
              f"{row['ratio']:6.3f} {row['ratio_min']:6.3f}-{row['ratio_max']:.3f} {row['ratio_of_min']:6.3f}"
              f"  {med['seq_script_s'] * 1e3:9.1f} {med['seq_harness_s'] * 1e3:9.1f}"
              f"    {med['par_script_s'] * 1e3:9.1f} {med['par_harness_s'] * 1e3:9.1f}")
    report["loadavg_end"] = os.getloadavg()[0]
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3, help="script+harness pairs per workload")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--workloads", default=",".join(CASES))
    parser.add_argument("--size", type=int, help="tasks per run for every workload (a quick check)")
    parser.add_argument("--grain", type=int, help="grain for every workload (a quick check)")
    parser.add_argument("--cold-script", action="store_true",
                        help="run the script without coresweep's malloc thresholds (shows the old bias)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for fidelity.json")
    parser.add_argument("--script-only", metavar="WORKLOAD", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    for name, (size, grain) in CASES.items():
        CASES[name] = (args.size or size, args.grain or grain)
    if args.script_only:
        print(json.dumps(hand_written(args.script_only, args.workers, args.repeats)))
        return 0
    report = compare(args)
    write_result(args.out, "fidelity-cold.json" if args.cold_script else "fidelity.json", report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
