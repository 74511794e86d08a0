"""The ``python=`` dimension measured: interpreters side by side, and what the child process costs.

Runs the same cpu_python sweep (sequential, thread_pool, process_pool × workers 1, 2) once per
interpreter, each as its own ``coresweep`` sweep, and prints per interpreter the median wall
time and the speedup over that interpreter's own sequential run. Two of the rows are this
interpreter: ``null`` (measured in-process, as by default) and its own path (measured in a
child process, as every ``python=`` job is); their ratio shows that the child measures the
same thing, and the difference of the sweeps' wall times per job is the child's cost.

    python -m benchmarks.interpreters [--versions 3.11,3.12,3.13] [--repeats 5] [--out benchmarks/results]
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
from pathlib import Path

from benchmarks._results import machine_header, write_result
from coresweep.experiments import interpreter

BACKENDS = ("sequential", "thread_pool", "process_pool")
WORKERS = (1, 2)


def sweep(python: str, repeats: int, folder: Path) -> tuple[list[dict], float]:
    """Rows of one sweep under ``python`` and the sweep's wall time."""
    cmd = [
        sys.executable, "-m", "coresweep.experiments.entry", "-m", f"python={python}",
        f"backend={','.join(BACKENDS)}", f"workers={','.join(map(str, WORKERS))}",
        "workload=cpu_python", f"repeats={repeats}", "report=false", f"hydra.sweep.dir={folder}",
    ]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"sweep under python={python} failed:\n{done.stderr}")
    rows = [json.loads(line) for p in folder.glob("*/results.jsonl") for line in p.read_text().splitlines()]
    return rows, seconds


def medians(rows: list[dict]) -> dict[tuple[str, int], float]:
    walls: dict[tuple[str, int], list[float]] = {}
    for r in rows:
        if r["ok"]:
            walls.setdefault((r["backend"], r["workers"]), []).append(r["wall_s"])
    return {k: statistics.median(v) for k, v in walls.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--versions", default="3.11,3.12,3.13", help="other interpreters (skipped if absent)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args()

    values = ["null", sys.executable]
    for version in args.versions.split(","):
        try:
            values.append(interpreter.resolve(version.strip()).path)
        except interpreter.InterpreterError as exc:
            print(f"skipped: {exc}", file=sys.stderr)
    results = []
    with tempfile.TemporaryDirectory(prefix="coresweep-bench-") as tmp:
        for n, value in enumerate(values):
            rows, seconds = sweep(value, args.repeats, Path(tmp) / str(n))
            med = medians(rows)
            results.append({
                "python": value,
                "version": rows[0]["python"],
                "gil_enabled": rows[0]["gil_enabled"],
                "resource_method": rows[0].get("resource_method"),
                "sweep_s": seconds,
                "jobs": len({r["job"] for r in rows}),
                "median_wall_s": {f"{b}/{w}": m for (b, w), m in sorted(med.items())},
            })

    print(f"{'python':>12} {'version':>8}  " + "  ".join(f"{b}/{w:<3}" for b in BACKENDS[1:] for w in WORKERS)
          + "  sequential   sweep s")
    for res in results:
        med = res["median_wall_s"]
        seq = med.get("sequential/1")
        cells = []
        for b in BACKENDS[1:]:
            for w in WORKERS:
                wall = med.get(f"{b}/{w}")
                width = len(f"{b}/{w:<3}")
                cells.append(f"{seq / wall:>{width - 1}.2f}x" if wall and seq else " " * width)
        label = "null" if res["python"] == "null" else ("this (child)" if res["python"] == sys.executable
                                                         else os.path.basename(res["python"]))
        tail = f"  {seq:9.4f} s  {res['sweep_s']:7.1f}"
        print(f"{label:>12} {res['version']:>8}  " + "  ".join(cells) + tail)
    inproc, child = results[0], results[1]
    ratios = [child["median_wall_s"][k] / inproc["median_wall_s"][k] for k in inproc["median_wall_s"]
              if k in child["median_wall_s"]]
    per_job = (child["sweep_s"] - inproc["sweep_s"]) / max(1, child["jobs"])
    print(f"\nsame interpreter, child / in-process median wall: {min(ratios):.3f} – {max(ratios):.3f}"
          f" (median {statistics.median(ratios):.3f}); extra cost of the child per job: {per_job:+.2f} s")
    write_result(args.out, "interpreters.json", {
        **machine_header(),
        "repeats": args.repeats,
        "results": results,
        "child_over_inprocess_wall": ratios,
        "child_extra_s_per_job": per_job,
    })


if __name__ == "__main__":
    main()
