"""What adjacent pairs (``pair=``) cost and what they buy: the same sweep K times per design.

Cost: each sweep's wall time, and the seconds its adjacent sequential runs took (from the rows:
every distinct sequential run times its loops). Buy: the median half-width of the speedup
intervals of CPU-bound configurations (``cpu_python``, ``gil_release``, ``memory``, ``custom``),
and their leave-one-out coverage: for sweep k the "truth" of a configuration is the median of
its speedup over the *other* K - 1 sweeps of the same design, so no interval helps define its
own target. The designs take turns (A B A B ...) so that both see the same hour of the machine,
and each sweep's noise is recorded beside it: the round-to-round CV of its sequential job's
per-round medians, and the load average at its end. Also per sweep: the median adjacent
sequential time over the sequential job's median (``pairs_over_sequential_job``), which should
sit around 1 (the same computation, a job apart).

``--aa N`` also times the sequential cpu_python task N times back to back in this process (an
A/A series: every run the same work) and reports how far apart runs drift with their distance,
and how noisy each pairing design's per-block estimate is on it (P S P, S P S P S, S P S P and
the rounds' "far" pairing), the measurement behind the protocol's choice of P S P … P.

    python -m benchmarks.pairing [--k 8] [--design pair=off --design pair=auto] [--aa 400] [-- OVERRIDES...]
    python -m benchmarks.pairing --default-sweep --name pairing-default.json

Writes benchmarks/results/pairing.json (``--out``, ``--name`` to move it).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from benchmarks._results import machine_header, write_result
from benchmarks.coverage import KEY, _float, read_summary, run_sweep

RESULTS = Path(__file__).resolve().parent / "results"
#: The sweep the issue measured: the backends that decide threads vs processes, on GIL-bound work.
DEFAULT_SWEEP = [
    "backend=sequential,pool,process_pool,thread_pool,joblib_loky",
    "workers=1,2",
    "workload=cpu_python",
]
DESIGNS = ["pair=off", "pair=auto"]
PAIRED_WORKLOADS = {"cpu_python", "gil_release", "memory", "custom"}


def sweep_rows(folder: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for path in sorted(folder.glob("*/results.jsonl")):
        rows += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return rows


def pair_seconds(rows: list[dict[str, Any]]) -> float:
    """Seconds the adjacent sequential runs took: per job and round, each distinct run x loops."""
    seen: dict[tuple[Any, ...], set[float]] = defaultdict(set)
    loops: dict[tuple[Any, ...], int] = {}
    for row in rows:
        key = (row.get("job"), row.get("round"))
        for side in ("pair_before_s", "pair_after_s"):
            if row.get(side):
                seen[key].add(row[side])
        loops[key] = row.get("pair_loops") or 1
    return sum(sum(values) * loops[key] for key, values in seen.items())


def sequential_noise(rows: list[dict[str, Any]]) -> dict[str, float | None]:
    """Per workload: the CV of the sequential job's per-round median times (the machine's drift)."""
    per: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        if row.get("backend") == "sequential" and row.get("ok") and row.get("wall_s"):
            per[row["workload"]][int(row.get("round") or 0)].append(row["wall_s"])
    out: dict[str, float | None] = {}
    for workload, rounds in per.items():
        medians = [statistics.median(v) for v in rounds.values()]
        mean = statistics.mean(medians)
        out[workload] = statistics.stdev(medians) / mean if len(medians) >= 2 and mean else None
    return out


def pairs_against_sequential_job(rows: list[dict[str, Any]]) -> dict[str, float]:
    """Per workload: median adjacent sequential time over the sequential job's median time.

    The two are the same computation a job apart (the adjacent one in the parallel job's
    process, beside its idle workers, under its BLAS cap): a ratio away from 1 over many sweeps
    would be a systematic difference between them, which the speedups from pairs would carry.
    """
    pairs: dict[str, list[float]] = defaultdict(list)
    seq: dict[str, list[float]] = defaultdict(list)
    for row in rows:
        if row.get("pair_wall_s"):
            pairs[row["workload"]].append(row["pair_wall_s"])
        elif row.get("backend") == "sequential" and row.get("ok") and row.get("wall_s"):
            seq[row["workload"]].append(row["wall_s"])
    return {w: statistics.median(v) / statistics.median(seq[w]) for w, v in pairs.items() if seq.get(w)}


def evaluate(sweeps: list[dict[str, Any]]) -> dict[str, Any]:
    """Leave-one-out coverage and half-widths of one design's sweeps (CPU-bound, non-sequential)."""
    found: dict[tuple[str, ...], dict[int, tuple[float, float, float, str]]] = defaultdict(dict)
    for k, sweep in enumerate(sweeps):
        for row in sweep["rows"]:
            if row.get("backend") == "sequential" or row.get("workload") not in PAIRED_WORKLOADS:
                continue
            s, lo, hi = (_float(row.get(c)) for c in ("speedup", "speedup_ci_low", "speedup_ci_high"))
            if s is None or lo is None or hi is None or s <= 0:
                continue
            found[tuple(row.get(c, "") for c in KEY)][k] = (s, lo, hi, row.get("interval_design", ""))
    covered = total = 0
    halves: list[float] = []
    per_config = []
    for key, by_sweep in sorted(found.items()):
        hits = n = 0
        for k, (s, lo, hi, _) in by_sweep.items():
            others = [v[0] for j, v in by_sweep.items() if j != k]
            halves.append((hi - lo) / 2 / s)
            if len(others) < 2:
                continue
            truth = statistics.median(others)
            hits += lo <= truth <= hi
            n += 1
        covered += hits
        total += n
        speedups = [v[0] for v in by_sweep.values()]
        per_config.append(
            {
                **dict(zip(KEY, key)),
                "sweeps": len(by_sweep),
                "loo_coverage": hits / n if n else None,
                "median_half_width": statistics.median((v[2] - v[1]) / 2 / v[0] for v in by_sweep.values()),
                "speedups": speedups,
                "designs": sorted({v[3] for v in by_sweep.values()}),
            }
        )
    walls = [s["wall_s"] for s in sweeps]
    return {
        "loo_coverage": covered / total if total else None,
        "intervals": total,
        "median_half_width": statistics.median(halves) if halves else None,
        "median_wall_s": statistics.median(walls) if walls else None,
        "wall_s": walls,
        "pair_s": [s["pair_s"] for s in sweeps],
        "sequential_round_cv": [s["noise"] for s in sweeps],
        "pairs_over_sequential_job": [s.get("pairs_vs_job", {}) for s in sweeps],
        "loadavg": [s["loadavg"] for s in sweeps],
        "failed_sweeps": sum(1 for s in sweeps if s["exit"] != 0),
        "configurations": per_config,
    }


def aa_series(n: int) -> list[float]:
    """``n`` back-to-back sequential runs of the default cpu_python task in this process (seconds)."""
    from coresweep.experiments.workloads.cpu_python import CpuPython

    workload = CpuPython(size=64, grain=20000)
    task, items = workload.task, workload.inputs()
    [task(x) for x in items]  # warm-up
    times = []
    for _ in range(n):
        t0 = time.perf_counter_ns()
        [task(x) for x in items]
        times.append((time.perf_counter_ns() - t0) / 1e9)
    return times


def aa_designs(times: list[float]) -> dict[str, Any]:
    """On an A/A series (every run the same work, true log ratio 0): the spread of the log ratio
    of two runs by their distance, and of each pairing design's per-block estimate, blocks cut
    from the series one after another (the spread is the design's noise; smaller is better)."""
    logs = [math.log(t) for t in times]

    def sd(values: list[float]) -> float | None:
        return statistics.stdev(values) if len(values) >= 3 else None

    by_lag = {
        str(lag): sd([logs[i + lag] - logs[i] for i in range(len(logs) - lag)])
        for lag in (1, 2, 5, 10, 25, 50, 100)
        if lag < len(logs) - 3
    }

    def blocks(pattern: str) -> list[float]:
        """Per block: mean log P - mean over P of the log geometric mean of its S neighbours."""
        out = []
        width = len(pattern)
        for start in range(0, len(logs) - width + 1, width):
            part = logs[start : start + width]
            est = []
            for i, kind in enumerate(pattern):
                if kind != "P":
                    continue
                sides = [part[j] for j in (i - 1, i + 1) if 0 <= j < width and pattern[j] == "S"]
                est.append(statistics.mean(sides) - part[i])
            out.append(statistics.mean(est))
        return out

    designs = {
        pattern: {
            "sd": sd(blocks(pattern)),
            "mean": statistics.mean(blocks(pattern)),  # a drift the design does not cancel shows here
            "blocks": len(blocks(pattern)),
            "sequential_runs_per_block": pattern.count("S"),
            # what a block costs in runs: sd^2 x runs compares designs at equal cost
            "variance_x_runs": None
            if sd(blocks(pattern)) is None
            else sd(blocks(pattern)) ** 2 * len(pattern),
        }
        for pattern in ("PSP", "SPS", "SPSPS", "SPSP")
    }
    # The rounds' pairing: P and S about 10 runs apart (the other jobs of a round between them).
    far = [logs[i + 10] - logs[i] for i in range(0, len(logs) - 10, 11)]
    designs["far (10 runs apart)"] = {
        "sd": sd(far),
        "mean": statistics.mean(far) if far else None,
        "blocks": len(far),
        "sequential_runs_per_block": 1,
    }
    return {
        "runs": len(times),
        "median_s": statistics.median(times),
        "sd_log_ratio_by_lag": by_lag,
        "per_block_sd": designs,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--k", type=int, default=8, help="sweeps per design (>= 3 for leave-one-out)")
    parser.add_argument(
        "--design",
        action="append",
        default=None,
        help=f"overrides of one design (repeat the flag; default {' and '.join(DESIGNS)})",
    )
    parser.add_argument(
        "--aa",
        type=int,
        default=0,
        metavar="N",
        help="also time N back-to-back sequential cpu_python runs (A/A) and compare designs",
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for the JSON")
    parser.add_argument("--name", default="pairing.json", help="file name of the JSON written")
    parser.add_argument(
        "--default-sweep",
        action="store_true",
        help="run coresweep's default sweep (what `coresweep` alone runs)",
    )
    parser.add_argument(
        "overrides",
        nargs="*",
        help="the sweep, e.g. rounds=3 repeats=2 (default: " + " ".join(DEFAULT_SWEEP) + ")",
    )
    args = parser.parse_args(argv)
    if args.k < 3:
        parser.error("--k: at least 3 sweeps per design (leave-one-out needs two others)")
    designs = args.design if args.design is not None else DESIGNS
    if args.default_sweep:
        sweep = list(args.overrides)
    else:
        given = {o.split("=", 1)[0].lstrip("+") for o in args.overrides}
        sweep = [o for o in DEFAULT_SWEEP if o.split("=", 1)[0] not in given] + list(args.overrides)
    runs: dict[str, list[dict[str, Any]]] = {d: [] for d in designs}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.k):
            for j, design in enumerate(designs):  # taking turns: every design sees the same drift
                folder = Path(tmp) / f"d{j}-{i}"
                done = run_sweep([*sweep, *design.split()], folder)
                rows = sweep_rows(folder)
                done.update(
                    rows=read_summary(folder),  # the report's summary.csv: the intervals evaluated
                    pair_s=pair_seconds(rows),
                    noise=sequential_noise(rows),
                    pairs_vs_job=pairs_against_sequential_job(rows),
                    loadavg=os.getloadavg()[0],
                )
                runs[design].append(done)
                print(
                    f"design {design or '(defaults)'!r}: sweep {i + 1}/{args.k} {done['wall_s']:.1f} s "
                    f"(sequential runs beside the runs: {done['pair_s']:.1f} s)",
                    file=sys.stderr,
                    flush=True,
                )
    results = {design: evaluate(found) for design, found in runs.items()}
    print(f"sweep: {' '.join(sweep) or '(the default sweep)'}; K={args.k} per design")
    print(f"{'design':24} {'LOO coverage':>13} {'half-width':>11} {'wall (s)':>9} {'pairs (s)':>10}")
    for design, r in results.items():
        cov = "-" if r["loo_coverage"] is None else f"{r['loo_coverage']:.1%}"
        half = "-" if r["median_half_width"] is None else f"{r['median_half_width']:.1%}"
        print(
            f"{design or '(defaults)':24} {cov:>13} {half:>11} {r['median_wall_s']:>9.1f} "
            f"{statistics.median(r['pair_s']):>10.1f}"
        )
    record: dict[str, Any] = {**machine_header(), "sweep": sweep, "k": args.k, "designs": results}
    if args.aa:
        record["aa"] = aa_designs(aa_series(args.aa))
        print(
            "A/A per-block sd of the log estimate:",
            {
                k: None if v["sd"] is None else round(v["sd"], 4)
                for k, v in record["aa"]["per_block_sd"].items()
            },
        )
    write_result(args.out, args.name, record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
