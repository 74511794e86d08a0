"""Do coresweep's 95 % speedup intervals cover what they claim? Run the same sweep K times.

For every configuration, the "truth" is the median of its speedup over the K sweeps; an
interval covers when it contains that median. A nominal 95 % interval should cover in about
95 % of sweeps: the share it reaches, pooled over configurations, is the figure to read, with
the median half-width (precision) and the sweep's wall time (cost) beside it. Each design
(a set of overrides, e.g. ``rounds=1`` for one pass per job, as coresweep ran before rounds)
runs K sweeps, the designs taking turns (A B A B ...) so that both see the same hour of the
machine. Also counted: intervals of CPU-bound work lying wholly above min(workers, usable
CPUs), which no machine can give.

    python -m benchmarks.coverage [--k 6] [--design "rounds=1" --design ""] [-- OVERRIDES...]
    python -m benchmarks.coverage --default-sweep --name coverage-default.json

Writes benchmarks/results/coverage.json (``--out``, ``--name`` to move it).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from benchmarks._results import machine_header, write_result

RESULTS = Path(__file__).resolve().parent / "results"
#: The sweep of issue 14's measurement: five backends at one and two workers on GIL-bound work.
DEFAULT_SWEEP = [
    "backend=sequential,pool,process_pool,thread_pool,joblib_loky", "workers=1,2", "workload=cpu_python",
]
CPU_BOUND = {"cpu_python", "gil_release", "memory"}
KEY = ("backend", "workers", "workload", "size", "grain", "collect", "start_method", "pinning")


def run_sweep(overrides: list[str], folder: Path) -> dict[str, Any]:
    """One sweep into ``folder``; its wall time, timed share and summary rows."""
    cmd = [sys.executable, "-m", "coresweep.experiments.entry", "-m", *overrides, f"hydra.sweep.dir={folder}"]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    summary = folder / "report" / "summary.csv"
    if not summary.is_file():
        raise SystemExit(f"the sweep wrote no report (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    with summary.open() as fh:
        rows = list(csv.DictReader(fh))
    return {"wall_s": wall, "exit": proc.returncode, "timed_s": _timed_work(folder), "rows": rows}


def _timed_work(folder: Path) -> float:
    """Seconds inside the protocol's clocks, from the rows (as benchmarks.overhead counts them)."""
    total = 0.0
    for path in folder.glob("*/results.jsonl"):
        firsts: dict[int, dict[str, Any]] = {}
        for line in path.read_text().splitlines():
            row = json.loads(line)
            firsts.setdefault(int(row.get("round") or 0), row)
            total += (row.get("wall_s") or 0) * (row.get("loops") or 1)
        for first in firsts.values():
            total += (first.get("startup_s") or 0) + (first.get("teardown_s") or 0)
            total += sum(first.get("warmup_s") or [])
    return total


def _float(value: str | None) -> float | None:
    try:
        number = float(value) if value not in (None, "") else None
    except ValueError:
        return None
    return number if number is not None and number == number else None


def evaluate(sweeps: list[dict[str, Any]]) -> dict[str, Any]:
    """Coverage, half-width and impossible intervals of one design's K sweeps."""
    intervals: dict[tuple[str, ...], list[tuple[float, float, float, dict[str, str]]]] = defaultdict(list)
    for sweep in sweeps:
        for row in sweep["rows"]:
            if row.get("backend") == "sequential":
                continue  # its speedup is 1 by definition
            s, lo, hi = (_float(row.get(k)) for k in ("speedup", "speedup_ci_low", "speedup_ci_high"))
            if s is None or lo is None or hi is None:
                continue
            intervals[tuple(row.get(k, "") for k in KEY)].append((s, lo, hi, row))
    per_config = []
    covered = total = impossible = 0
    for key, found in sorted(intervals.items()):
        truth = statistics.median(s for s, _, _, _ in found)
        hits = sum(lo <= truth <= hi for _, lo, hi, _ in found)
        halves = [(hi - lo) / 2 / s for s, lo, hi, _ in found if s > 0]
        row = found[0][3]
        limit = min(float(row.get("workers") or 1), float(row.get("usable_cpus") or row.get("workers") or 1))
        above = sum(lo > limit for _, lo, _, _ in found) if row.get("workload") in CPU_BOUND else 0
        covered += hits
        total += len(found)
        impossible += above
        per_config.append({
            **dict(zip(KEY, key)), "sweeps": len(found), "truth": truth, "coverage": hits / len(found),
            "median_half_width": statistics.median(halves) if halves else None,
            "speedups": [s for s, _, _, _ in found], "intervals_above_limit": above,
        })
    walls = [s["wall_s"] for s in sweeps]
    shares = [s["timed_s"] / s["wall_s"] for s in sweeps if s["wall_s"]]
    all_halves = [c["median_half_width"] for c in per_config if c["median_half_width"] is not None]
    return {
        "pooled_coverage": covered / total if total else None,
        "intervals": total,
        "median_half_width": statistics.median(all_halves) if all_halves else None,
        "median_wall_s": statistics.median(walls),
        "wall_s": walls,
        "median_timed_share": statistics.median(shares) if shares else None,
        "intervals_above_limit": impossible,
        "failed_sweeps": sum(1 for s in sweeps if s["exit"] != 0),
        "configurations": per_config,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--k", type=int, default=6, help="sweeps per design (at least 6)")
    parser.add_argument("--design", action="append", default=None,
                        help="overrides of one design, e.g. 'rounds=1' (repeat the flag; '' = the defaults)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for coverage.json")
    parser.add_argument("--name", default="coverage.json", help="file name of the JSON written")
    parser.add_argument("--default-sweep", action="store_true",
                        help="run coresweep's default sweep (what `coresweep` alone runs)")
    parser.add_argument("overrides", nargs="*", help="the sweep (default: issue 14's cpu_python sweep)")
    args = parser.parse_args(argv)
    if args.k < 6:
        parser.error("--k: at least 6 sweeps per design (fewer say little about a 95 % coverage)")
    designs = args.design if args.design is not None else ["rounds=1", ""]
    sweep = [] if args.default_sweep else (args.overrides or DEFAULT_SWEEP)
    runs: dict[str, list[dict[str, Any]]] = {d: [] for d in designs}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.k):
            for j, design in enumerate(designs):  # taking turns: both designs see the same drift
                folder = Path(tmp) / f"d{j}-{i}"
                runs[design].append(run_sweep([*sweep, *design.split()], folder))
                print(f"design {design or '(defaults)'!r}: sweep {i + 1}/{args.k} "
                      f"{runs[design][-1]['wall_s']:.1f} s", file=sys.stderr, flush=True)
    results = {design: evaluate(found) for design, found in runs.items()}
    print(f"sweep: {' '.join(sweep) or '(the default sweep)'}; K={args.k} per design")
    print(f"{'design':24} {'coverage':>9} {'half-width':>11} {'wall (s)':>9} {'timed':>7} {'>limit':>7}")
    for design, r in results.items():
        print(f"{design or '(defaults)':24} {r['pooled_coverage']:>9.1%} {r['median_half_width']:>11.1%} "
              f"{r['median_wall_s']:>9.1f} {r['median_timed_share']:>7.1%} {r['intervals_above_limit']:>7}")
    for design, r in results.items():
        print(f"\n{design or '(defaults)'}: per configuration (coverage, median half-width, truth)")
        for c in r["configurations"]:
            print(f"  {c['backend']:>12} x{c['workers']:<2} {c['workload']:<11} {c['coverage']:>6.0%} "
                  f"{(c['median_half_width'] or 0):>7.1%} {c['truth']:.3f}")
    write_result(args.out, args.name, {
        **machine_header(), "sweep": sweep, "k": args.k, "loadavg_end": os.getloadavg()[0],
        "designs": results,
    })
    return 0


if __name__ == "__main__":
    sys.exit(main())
