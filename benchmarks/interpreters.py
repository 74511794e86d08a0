"""The ``python=`` dimension measured: interpreters side by side, and what the child process costs.

Runs the same cpu_python sweep (sequential, thread_pool, process_pool × workers 1, 2) once per
interpreter, each as its own ``coresweep`` sweep, and prints per interpreter the median wall
time and the speedup over that interpreter's own sequential run. Two of the rows are this
interpreter: ``null`` (measured in-process, as by default) and its own path (measured in a
child process, as every ``python=`` job is); their ratio shows that the child measures the
same thing, and the difference of the sweeps' wall times per job is the child's cost.

``--subinterpreters`` measures instead what Python 3.14's ``InterpreterPoolExecutor`` gives:
``interpreter_pool`` against ``thread_pool``, ``process_pool`` and ``pool`` with 1, 2 and 4
workers on cpu_python and io_sleep (and gil_release where numpy imports there), under 3.14:
speedup over 3.14's own sequential run, executor start-up and peak memory of the job's tree,
written to ``interpreters-subinterpreters.json``; ``--keep DIR`` keeps the sweep's folder (the
committed ``examples/2core-vm-py314/`` is such a folder, less its report).

A version that is not on PATH or under pyenv is also looked up where ``.ci/python314.sh``
leaves Python 3.14 (``$CORESWEEP_PY314``, or that script's cache, provisioning it if needed).

    python -m benchmarks.interpreters [--versions 3.11,3.12,3.13,3.14] [--repeats 5] [--out DIR]
    python -m benchmarks.interpreters --subinterpreters [--keep examples/2core-vm-py314]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks._results import machine_header, write_result
from coresweep.experiments.launch import interpreter

BACKENDS = ("sequential", "thread_pool", "process_pool")
WORKERS = (1, 2)
SUB_BACKENDS = ("sequential", "interpreter_pool", "thread_pool", "process_pool", "pool")
SUB_WORKERS = (1, 2, 4)
REPO = Path(__file__).resolve().parent.parent


def find_python(version: str) -> str:
    """The path of ``version``: PATH and pyenv (as ``python=`` looks), then .ci/python314.sh's."""
    try:
        return interpreter.resolve(version).path
    except interpreter.InterpreterError as exc:
        if version != "3.14":
            raise
        path = os.environ.get("CORESWEEP_PY314") or _provision_314()
        if not path:
            raise interpreter.InterpreterError(f"{exc}; and .ci/python314.sh gave none") from None
        return interpreter.resolve(path).path


def _provision_314() -> str:
    """Run .ci/python314.sh (idempotent: only prints the path once cached); '' on failure."""
    script = REPO / ".ci" / "python314.sh"
    if not script.is_file():
        return ""
    done = subprocess.run(["bash", str(script)], capture_output=True, text=True, check=False)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        print(f"skipped 3.14: {done.stderr.strip().splitlines()[-1:] or 'no output'}", file=sys.stderr)
        return ""
    return lines[-1]


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
    parser.add_argument("--versions", default="3.11,3.12,3.13,3.14",
                        help="other interpreters (skipped if absent)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--subinterpreters", action="store_true",
                        help="interpreter_pool against threads and processes under 3.14 (see above)")
    parser.add_argument("--keep", type=Path, default=None,
                        help="with --subinterpreters: write the sweep's folder here")
    args = parser.parse_args()
    if args.subinterpreters:
        subinterpreters(args.out, args.keep)
        return

    values = ["null", sys.executable]
    for version in args.versions.split(","):
        try:
            values.append(find_python(version.strip()))
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


def subinterpreters(out: Path, keep: Path | None) -> None:
    """interpreter_pool against threads and processes under 3.14, as one coresweep sweep."""
    try:
        py = find_python("3.14")
    except interpreter.InterpreterError as exc:
        raise SystemExit(f"--subinterpreters needs Python 3.14: {exc}") from None
    has_numpy = subprocess.run([py, "-c", "import numpy"], capture_output=True, check=False).returncode == 0
    workloads = ["cpu_python", "io_sleep"] + (["gil_release"] if has_numpy else [])
    with tempfile.TemporaryDirectory(prefix="coresweep-bench-") as tmp:
        folder = keep if keep is not None else Path(tmp) / "py314"
        cmd = [
            sys.executable, "-m", "coresweep.experiments.entry", "-m", f"python={py}",
            f"backend={','.join(SUB_BACKENDS)}", f"workers={','.join(map(str, SUB_WORKERS))}",
            f"workload={','.join(workloads)}", "machine=2core-vm", f"hydra.sweep.dir={folder}",
        ]
        print("running:", " ".join(cmd), file=sys.stderr)
        t0 = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        seconds = time.perf_counter() - t0
        if done.returncode != 0:
            tail = done.stderr[-3000:]
            raise SystemExit(f"sweep under python={py} failed (exit {done.returncode}):\n{tail}")
        summary = _read_summary(folder / "report" / "summary.csv")
        if keep is not None:  # committed folders hold rows and records, not the report
            shutil.rmtree(folder / "report", ignore_errors=True)
            for log in folder.rglob("*.log"):
                log.unlink()
    table = []
    for row in summary:
        table.append({
            "workload": row["workload"], "backend": row["backend"], "workers": int(row["workers"]),
            "start_method": row["start_method"], "python": row["python"],
            "median_wall_s": _num(row["median_wall_s"]),
            "speedup": _num(row["speedup"]),
            "speedup_ci": [_num(row["speedup_ci_low"]), _num(row["speedup_ci_high"])],
            "median_startup_s": _num(row["median_startup_s"]),
            "median_peak_rss_mib": _num(row["median_peak_rss_bytes"]) / 2**20,
            "physics_flag": row.get("physics_flag") or None,
        })
    table.sort(key=lambda r: (r["workload"], r["workers"], r["backend"]))
    print(f"{'workload':<11} {'backend':<17} {'w':>2} {'speedup [95% CI]':>22} {'start-up':>10} "
          f"{'peak RSS':>9}")
    for r in table:
        lo, hi = r["speedup_ci"]
        print(f"{r['workload']:<11} {r['backend']:<17} {r['workers']:>2} "
              f"{r['speedup']:>7.2f}x [{lo:5.2f}, {hi:5.2f}] {r['median_startup_s'] * 1e3:8.1f}ms "
              f"{r['median_peak_rss_mib']:6.0f}MiB")
    if not has_numpy:
        print("gil_release not measured: numpy does not import under that 3.14", file=sys.stderr)
    write_result(out, "interpreters-subinterpreters.json", {
        **machine_header(),
        "python_314": py,
        "workloads": workloads,
        "gil_release": "measured" if has_numpy else "not measured: numpy does not import under that 3.14",
        "sweep_s": seconds,
        "command": " ".join(cmd[1:]),
        "summary": table,
    })


def _read_summary(path: Path) -> list[dict]:
    import csv

    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def _num(text: str | None) -> float:
    try:
        return float(text) if text not in (None, "") else float("nan")
    except ValueError:
        return float("nan")


if __name__ == "__main__":
    main()
