"""How long does a report take to build from 100 000 rows, and how much memory does it use?

Writes a synthetic sweep shaped like a real one (rows copied from the committed example
``examples/2core-vm-default`` with other configurations and noisy times), then builds its
report ``--times`` times, each in a fresh Python process, as ``coresweep-report`` would:
the clock starts after the imports (interpreter start excluded) and stops when index.html is
written. Prints wall and CPU seconds (the process and its forked helpers) and peak memory, and
writes them to ``benchmarks/results/report_build.json``. Several ``--rows`` values show how
time and memory grow with the rows.

    python -m benchmarks.report_build [--rows 100000] [--times 5] [--out benchmarks/results]
    flock /tmp/coresweep-heavy.lock python -m benchmarks.report_build   # on a shared machine
"""

from __future__ import annotations

import argparse
import copy
import datetime
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks._results import write_result

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "2core-vm-default"
RESULTS = Path(__file__).resolve().parent / "results"
BACKENDS = (
    "thread",
    "thread_pool",
    "process",
    "pool",
    "process_pool",
    "joblib_loky",
    "joblib_threading",
    "joblib_multiprocessing",
)


def make_sweep(out: Path, rows: int) -> None:
    """820 configurations (5 workloads x 2 sizes x 2 grains x 8 backends x 5 worker counts + baselines)."""
    out.mkdir(parents=True, exist_ok=True)
    env = json.loads((EXAMPLE / "environment.json").read_text())
    env["sweep_id"] = "bench"
    (out / "environment.json").write_text(json.dumps(env))
    proto = json.loads((EXAMPLE / "0" / "results.jsonl").read_text().splitlines()[0])
    configs = []
    for workload in ("cpu_python", "io_sleep", "io_file", "memory", "gil_release"):
        for size in (64, 128):
            for grain in (1000, 20000):
                base = dict(workload=workload, size=size, grain=grain)
                configs.append(dict(backend="sequential", workers=1, **base))
                for backend in BACKENDS:
                    for workers in (1, 2, 4, 8, 16):
                        configs.append(
                            dict(backend=backend, workers=workers, workload=workload, size=size, grain=grain)
                        )
    rng = np.random.default_rng(1)
    per_job = rows // len(configs) + 1
    written = 0
    for job, config in enumerate(configs):
        base = 0.1 * config["size"] / 64
        if config["backend"] != "sequential":
            base *= 0.2 + 0.8 / config["workers"]
        lines = []
        for repeat in range(min(per_job, rows - written)):
            row = copy.deepcopy(proto)
            row.update(config, job=str(job), repeat=repeat, wall_s=float(base * rng.lognormal(0, 0.05)))
            lines.append(json.dumps(row))
        written += len(lines)
        (out / str(job)).mkdir(exist_ok=True)
        (out / str(job) / "results.jsonl").write_text("\n".join(lines) + "\n")


def _cpu_seconds() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def inner(sweep: Path, out: Path) -> dict:
    """One build in this (fresh) process; imports first, so the clock excludes them."""
    from coresweep.analysis.report import build_report

    cpu0, t0 = _cpu_seconds(), time.perf_counter()
    result = build_report([sweep], out)
    wall = time.perf_counter() - t0
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {
        "rows": result.n_rows,
        "wall_s": round(wall, 3),
        "cpu_s": round(_cpu_seconds() - cpu0, 3),
        "peak_rss_mib": round(own / 1024, 1),  # Linux: KiB
        "children_peak_rss_mib": round(children / 1024, 1),
        "load1_after": round(os.getloadavg()[0], 2),
    }


def _machine() -> dict:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"cpu_model": model, "usable_cpus": usable, "python": platform.python_version()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", default="100000", help="comma-separated row counts (default 100000)")
    parser.add_argument("--times", type=int, default=5, help="builds per row count (default 5)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for report_build.json")
    parser.add_argument("--inner", nargs=2, type=Path, metavar=("SWEEP", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.inner:
        print(json.dumps(inner(*args.inner)))
        return 0
    try:
        counts = [int(r) for r in args.rows.split(",")]
    except ValueError:
        parser.error(f"--rows: expected comma-separated integers, got {args.rows!r}")
    if any(c < 1 for c in counts) or args.times < 1:
        parser.error("--rows and --times must be at least 1")
    load_before = round(os.getloadavg()[0], 2)
    runs: list[dict] = []
    print(f"{'rows':>8} {'wall s':>7} {'CPU s':>6} {'peak MiB':>9} {'helpers MiB':>12} {'load':>5}")
    with tempfile.TemporaryDirectory() as tmp:
        for count in counts:
            sweep = Path(tmp) / f"sweep-{count}"
            make_sweep(sweep, count)
            for _ in range(args.times):
                out = subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "benchmarks.report_build",
                        "--inner",
                        str(sweep),
                        str(Path(tmp) / "r"),
                    ],
                    capture_output=True,
                    text=True,
                )
                if out.returncode != 0:  # show why: the build's own traceback
                    sys.stderr.write(out.stderr[-4000:])
                    out.check_returncode()
                run = json.loads(out.stdout.strip().splitlines()[-1])
                runs.append(run)
                print(
                    f"{run['rows']:>8} {run['wall_s']:>7.2f} {run['cpu_s']:>6.2f} "
                    f"{run['peak_rss_mib']:>9.0f} "
                    f"{run['children_peak_rss_mib']:>12.0f} {run['load1_after']:>5.2f}"
                )
    summary = {}
    for count in counts:
        walls = [r["wall_s"] for r in runs if r["rows"] == count]
        cpus = [r["cpu_s"] for r in runs if r["rows"] == count]
        summary[str(count)] = {
            "wall_s_min": min(walls),
            "wall_s_median": statistics.median(walls),
            "wall_s_max": max(walls),
            "cpu_s_median": statistics.median(cpus),
            "peak_rss_mib_max": max(r["peak_rss_mib"] for r in runs if r["rows"] == count),
        }
        print(
            f"{count} rows: wall {min(walls):.2f}-{max(walls):.2f} s "
            f"(median {statistics.median(walls):.2f}), CPU {statistics.median(cpus):.2f} s (median)"
        )
    record = {
        "benchmark": "report_build",
        "command": "python -m benchmarks.report_build "
        + " ".join(argv if argv is not None else sys.argv[1:]),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": _machine(),
        "load1_before": load_before,
        "summary": summary,
        "runs": runs,
    }
    write_result(args.out, "report_build.json", record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
