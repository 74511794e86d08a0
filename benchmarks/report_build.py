"""How long does a report take to build from 100 000 rows?

Writes a synthetic sweep shaped like a real one (rows copied from the committed example
``examples/2core-vm-default`` with other configurations and noisy times), then times
``build_report`` on it, interpreter start excluded, and prints wall and CPU seconds.

    python -m benchmarks.report_build [--rows 100000] [--times 3]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from coresweep.analysis.report import build_report

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "2core-vm-default"
BACKENDS = ("thread", "thread_pool", "process", "pool", "process_pool", "joblib_loky", "joblib_threading",
            "joblib_multiprocessing")


def make_sweep(out: Path, rows: int) -> None:
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
                        configs.append(dict(backend=backend, workers=workers, workload=workload, size=size,
                                            grain=grain))
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


def cpu_seconds() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--times", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        sweep = Path(tmp) / "sweep"
        make_sweep(sweep, args.rows)
        for _ in range(args.times):
            shutil.rmtree(sweep / "report", ignore_errors=True)
            cpu0, t0 = cpu_seconds(), time.perf_counter()
            result = build_report([sweep])
            wall = time.perf_counter() - t0
            print(f"{result.n_rows} rows: {wall:.2f} s wall, {cpu_seconds() - cpu0:.2f} s CPU, "
                  f"load {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
