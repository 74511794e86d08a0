"""Do coresweep's 95 % speedup intervals cover what they claim? The same sweep K times (v2).

For sweep k, the truth of a configuration is its leave-one-out estimate: the geometric mean of
its speedup in the other K - 1 sweeps (so no interval helps define its own target). An interval
covers when it contains that truth. Pooled over configurations, a calibrated 95 % interval
covers a little less than 95 % of the time, since the truth is itself an estimate: about
2 Phi(1.96 / sqrt(1 + 1/(K-1))) - 1 (93.3 % at K = 8), printed beside the figure.

Coverage events of one sweep are not independent (a sweep whose baseline ran slow moves every
speedup of it), so the coverage's 95 % interval comes from bootstrapping whole sweeps (percentile,
seeded); the binomial interval, which treats every interval as independent, is printed beside it.

Also reported, each with a sweep-bootstrap interval:

- ``ratio_intervals``: the between-sweep variance of each configuration's log speedup over the
  variance its intervals imply ((log high - log low) / (2 x 1.96))^2, pooled over configurations
  (sum over sum). 1: the intervals are as wide as the sweep-to-sweep scatter; above 1: narrower.
- ``ratio_rounds``: from the rows, the between-sweep variance of the sweep means of the per-round
  log sequential time (per workload), and of the per-round log speedup (per configuration, pooled),
  over what the round-to-round variance implies (within-sweep variance / R). For the sequential
  time an F interval too (one-way random effects: the ratio / F(K-1, K(R-1)) quantiles; exact for
  normal, independent rounds). 1: no sweep-level effect; the issue measured 2.4.

Every sweep's noise is recorded: the round-to-round and within-round CV of its sequential runs,
its busy executions (``busy_share``, issue 29) and what environment.json says (other processes'
CPU, load). The intervals are read from each sweep's report/summary.csv, so the figures measure
whatever the analysis does now; ``--reuse DIR`` rebuilds those reports with the installed
analysis and recomputes, without running a sweep.

    python -m benchmarks.coverage                       # K=8, the default and the cpu_python sweep
    python -m benchmarks.coverage --sweep cpu_python --k 10 --sweeps-dir outputs/coverage-a
    python -m benchmarks.coverage --reuse outputs/coverage-a        # re-analyse, no new sweep
    python -m benchmarks.coverage --sweep custom --k 2 -- backend=sequential,thread workers=1

Writes benchmarks/results/coverage-v2.json (``--out``, ``--name`` to move it; version 1's
coverage.json and coverage-default.json stay as they are).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import math
import os
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._results import machine_header, write_result

RESULTS = Path(__file__).resolve().parent / "results"
ROOT = Path(__file__).resolve().parents[1]
#: The sweeps this benchmark knows by name ("custom": the overrides after ``--``).
SWEEPS: dict[str, list[str]] = {
    "default": [],  # what `coresweep` alone runs
    "cpu_python": [
        "backend=sequential,pool,process_pool,thread_pool,joblib_loky",
        "workers=1,2",
        "workload=cpu_python",
    ],
}
CPU_BOUND = {"cpu_python", "gil_release", "memory"}
KEY = ("machine", "backend", "workers", "workload", "size", "grain", "collect", "start_method", "pinning")
Z95 = 1.959963984540054
MANIFEST = "manifest.json"
MIN_K = 8


# --- running and reading sweeps --------------------------------------------------------------


def run_sweep(overrides: list[str], folder: Path) -> dict[str, Any]:
    """One sweep into ``folder`` (coresweep's own command); its wall time and exit status."""
    cmd = [sys.executable, "-m", "coresweep.experiments.entry", "-m", *overrides, f"hydra.sweep.dir={folder}"]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if not (folder / "report" / "summary.csv").is_file():
        raise SystemExit(f"the sweep wrote no report (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return {"folder": str(folder), "wall_s": wall, "exit": proc.returncode}


def rebuild_report(folder: Path) -> None:
    """The sweep's report again, by the installed analysis (what other changes made of it)."""
    proc = subprocess.run(
        [sys.executable, "-m", "coresweep.analysis.cli", str(folder)], capture_output=True, text=True
    )
    if proc.returncode not in (0, 1) or not (folder / "report" / "summary.csv").is_file():
        raise SystemExit(f"coresweep-report {folder} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")


def read_summary(folder: Path) -> list[dict[str, str]]:
    with (folder / "report" / "summary.csv").open() as fh:
        return list(csv.DictReader(fh))


def read_rows(folder: Path) -> list[dict[str, Any]]:
    """Every row of the sweep (a torn last line skipped), as written."""
    rows = []
    for path in sorted(folder.glob("*/results.jsonl")):
        for line in path.read_text().splitlines():
            try:
                rows.append(json.loads(line))
            except ValueError:
                continue
    return rows


def _float(value: Any) -> float | None:
    try:
        number = float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None
    return number if number is not None and math.isfinite(number) else None


def _used(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows the analysis uses: ok, timed, not replaced by a busy rerun."""
    return [r for r in rows if r.get("ok") and (_float(r.get("wall_s")) or 0) > 0 and not r.get("superseded")]


#: How the report spells a dimension a row leaves empty (analysis/load.py's defaults).
_EMPTY = {"start_method": "none", "pinning": "none", "collect": "return", "grain": ""}


def _spelled(key: str, value: Any) -> str:
    """One spelling for rows and summary.csv alike: integers without '.0', empty as the report's."""
    number = _float(value)
    text = (
        str(int(number))
        if number is not None and number == int(number)
        else ("" if value is None else str(value))
    )
    if text in ("", "nan", "None") or (key == "grain" and text == "0"):
        return _EMPTY.get(key, "")
    return text


def _config(row: dict[str, Any]) -> tuple[str, ...]:
    return tuple(_spelled(k, row.get(k)) for k in KEY)


def _summary_key(row: dict[str, str]) -> tuple[str, ...]:
    return tuple(_spelled(k, row.get(k)) for k in KEY)


def round_values(rows: list[dict[str, Any]]) -> dict[tuple[str, ...], dict[int, float]]:
    """Per configuration and round: the log of the median wall time of its ok runs."""
    walls: dict[tuple[str, ...], dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in _used(rows):
        walls[_config(r)][int(r.get("round") or 0)].append(float(r["wall_s"]))
    return {c: {k: math.log(statistics.median(v)) for k, v in per.items()} for c, per in walls.items()}


def _sequential_of(
    config: tuple[str, ...], values: dict[tuple[str, ...], dict[int, float]]
) -> tuple[str, ...] | None:
    """The sequential configuration of the same machine, workload and size."""
    k = dict(zip(KEY, config))
    for other in values:
        o = dict(zip(KEY, other))
        if o["backend"] == "sequential" and all(
            o[d] == k[d] for d in ("machine", "workload", "size", "grain")
        ):
            return other
    return None


def sweep_noise(rows: list[dict[str, Any]], folder: Path) -> dict[str, Any]:
    """How noisy the machine was during one sweep: sequential CVs, busy executions, environment."""
    values = round_values(rows)
    walls: dict[tuple[str, ...], dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in _used(rows):
        if r.get("backend") == "sequential":
            walls[_config(r)][int(r.get("round") or 0)].append(float(r["wall_s"]))
    per_workload = {}
    for config, per_round in walls.items():
        medians = [statistics.median(v) for v in per_round.values()]
        within = [statistics.stdev(v) / statistics.mean(v) for v in per_round.values() if len(v) >= 2]
        per_workload[dict(zip(KEY, config))["workload"]] = {
            "rounds": len(medians),
            "round_cv": statistics.stdev(medians) / statistics.mean(medians) if len(medians) >= 2 else None,
            "within_round_cv": statistics.median(within) if within else None,
            "mean_log_wall": statistics.mean(values[config].values()),
        }
    executions: dict[tuple[Any, ...], float] = {}
    for r in rows:
        share = _float(r.get("busy_share"))
        if share is not None and not r.get("superseded"):
            executions[(r.get("job"), r.get("round"), r.get("busy_attempt"))] = share
    shares = list(executions.values())
    env: dict[str, Any] = {}
    try:
        env = json.loads((folder / "environment.json").read_text()).get("noise") or {}
    except (OSError, ValueError, AttributeError):
        pass
    return {
        "sequential": per_workload,
        "busy": {
            "executions": len(shares),
            "busy": sum(s > 0.10 for s in shares),
            "median_share": statistics.median(shares) if shares else None,
            "max_share": max(shares) if shares else None,
            "rerun": len(
                {(r.get("job"), r.get("round"), r.get("busy_attempt")) for r in rows if r.get("superseded")}
            ),
        },
        "busy_cpu_percent_other": env.get("busy_cpu_percent_other"),
        "loadavg_start": (env.get("loadavg_start") or [None])[0],
    }


# --- the statistics ----------------------------------------------------------------------------


def _percentile_ci(values: list[float]) -> list[float] | None:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if len(finite) < 10:
        return None
    return [float(np.percentile(finite, 2.5)), float(np.percentile(finite, 97.5))]


def _wilson(hits: int, n: int) -> list[float] | None:
    if n == 0:
        return None
    p, z = hits / n, Z95
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return [centre - half, centre + half]


def expected_loo_coverage(k: int) -> float | None:
    """What an exact 95 % interval covers against a leave-one-out truth of K - 1 sweeps."""
    if k < 2:
        return None
    from scipy.stats import norm

    return float(2 * norm.cdf(Z95 / math.sqrt(1 + 1 / (k - 1))) - 1)


def intervals_by_config(
    summaries: list[list[dict[str, str]]],
) -> dict[tuple[str, ...], dict[int, tuple[float, float, float]]]:
    """(speedup, low, high) per configuration and sweep index, sequential left out."""
    found: dict[tuple[str, ...], dict[int, tuple[float, float, float]]] = defaultdict(dict)
    for k, rows in enumerate(summaries):
        for row in rows:
            if row.get("backend") == "sequential":
                continue  # its speedup is 1 by definition
            s, lo, hi = (_float(row.get(c)) for c in ("speedup", "speedup_ci_low", "speedup_ci_high"))
            if s is None or lo is None or hi is None or s <= 0 or lo <= 0:
                continue
            found[_summary_key(row)][k] = (s, lo, hi)
    return found


def coverage_events(
    found: dict[tuple[str, ...], dict[int, tuple[float, float, float]]],
) -> list[dict[str, Any]]:
    """One event per (configuration, sweep) with at least one other sweep: covered or not."""
    events = []
    for config, per in sorted(found.items()):
        for k, (s, lo, hi) in per.items():
            others = [math.log(v[0]) for j, v in per.items() if j != k]
            if not others:
                continue
            truth = math.exp(statistics.mean(others))
            events.append(
                {
                    "config": config,
                    "sweep": k,
                    "covered": lo <= truth <= hi,
                    "truth": truth,
                    "speedup": s,
                    "half_width": (hi - lo) / 2 / s,
                }
            )
    return events


def _coverage_of(events: list[dict[str, Any]], sweeps: list[int]) -> float | None:
    by_sweep: dict[int, list[bool]] = defaultdict(list)
    for e in events:
        by_sweep[e["sweep"]].append(e["covered"])
    hits = sum(sum(by_sweep[k]) for k in sweeps)
    n = sum(len(by_sweep[k]) for k in sweeps)
    return hits / n if n else None


def _log_interval_variances(
    found: dict[tuple[str, ...], dict[int, tuple[float, float, float]]], sweeps: list[int]
) -> tuple[float, float]:
    """(sum of between-sweep variances, sum of implied variances) over configurations, for the
    sweeps listed (a bootstrap resample may list one twice)."""
    between = implied = 0.0
    for per in found.values():
        picked = [per[k] for k in sweeps if k in per]
        if len(picked) < 2:
            continue
        logs = [math.log(s) for s, _, _ in picked]
        between += statistics.variance(logs)
        implied += statistics.mean(((math.log(hi) - math.log(lo)) / (2 * Z95)) ** 2 for _, lo, hi in picked)
    return between, implied


def _ratio(pair: tuple[float, float]) -> float | None:
    return pair[0] / pair[1] if pair[1] > 0 else None


def _within_between(per_sweep: list[list[float]]) -> tuple[float, float, float, int] | None:
    """(variance of the sweep means, mean within-sweep variance, mean rounds, within df)."""
    usable = [v for v in per_sweep if len(v) >= 2]
    if len(usable) < 2:
        return None
    means = [statistics.mean(v) for v in usable]
    within = statistics.mean(statistics.variance(v) for v in usable)
    rounds = len(usable) / sum(1 / len(v) for v in usable)  # harmonic mean
    return statistics.variance(means), within, rounds, sum(len(v) - 1 for v in usable)


def round_series(
    all_rows: list[list[dict[str, Any]]],
) -> tuple[dict[str, list[list[float]]], dict[tuple[str, ...], list[list[float]]]]:
    """Per workload, each sweep's per-round log sequential times; per configuration, each sweep's
    per-round log speedups (log sequential - log configuration, same round)."""
    seq: dict[str, list[list[float]]] = defaultdict(list)
    speed: dict[tuple[str, ...], list[list[float]]] = defaultdict(list)
    for rows in all_rows:
        values = round_values(rows)
        for config, per in values.items():
            base = _sequential_of(config, values)
            if base is None:
                continue
            if config == base:
                seq["/".join(config[KEY.index(d)] for d in ("machine", "workload", "size"))].append(
                    [per[r] for r in sorted(per)]
                )
            else:
                shared = sorted(set(per) & set(values[base]))
                speed[config].append([values[base][r] - per[r] for r in shared])
    return seq, speed


def rounds_ratio(series: list[list[float]]) -> dict[str, Any] | None:
    """Between-sweep variance of sweep means over the round-to-round variance / R, with an F interval."""
    wb = _within_between(series)
    if wb is None:
        return None
    between, within, rounds, df_within = wb
    implied = within / rounds
    out: dict[str, Any] = {
        "between": between,
        "implied": implied,
        "ratio": between / implied if implied > 0 else None,
        "sweeps": len([v for v in series if len(v) >= 2]),
        "rounds": rounds,
    }
    if out["ratio"] is not None and df_within > 0:
        from scipy.stats import f

        df_between = out["sweeps"] - 1
        out["f_ci"] = [
            out["ratio"] / f.ppf(0.975, df_between, df_within),
            out["ratio"] / f.ppf(0.025, df_between, df_within),
        ]
    return out


def _pooled_rounds_ratio(
    speed: dict[tuple[str, ...], list[list[float]]], sweeps: list[int] | None = None
) -> float | None:
    between = implied = 0.0
    for series in speed.values():
        chosen = series if sweeps is None else [series[k] for k in sweeps if k < len(series)]
        wb = _within_between(chosen)
        if wb is None:
            continue
        between += wb[0]
        implied += wb[1] / wb[2]
    return between / implied if implied > 0 else None


def evaluate(sweeps: list[dict[str, Any]], resamples: int = 2000, seed: int = 0) -> dict[str, Any]:
    """Coverage (leave-one-out), its sweep-bootstrap interval and the variance ratios of K sweeps."""
    summaries = [s["summary"] for s in sweeps]
    all_rows = [s["rows"] for s in sweeps]
    k_total = len(sweeps)
    found = intervals_by_config(summaries)
    events = coverage_events(found)
    indices = list(range(k_total))
    rng = np.random.default_rng(seed)
    draws = [list(rng.integers(0, k_total, k_total)) for _ in range(resamples)] if k_total >= 2 else []
    coverage = _coverage_of(events, indices)
    hits = sum(e["covered"] for e in events)
    seq, speed = round_series(all_rows)
    ratio_int = _ratio(_log_interval_variances(found, indices))
    halves = [e["half_width"] for e in events]
    per_config = []
    for config, per in sorted(found.items()):
        mine = [e for e in events if e["config"] == config]
        row = dict(zip(KEY, config))
        limit = min(
            float(row.get("workers") or 1), float(_usable(summaries, config) or row.get("workers") or 1)
        )
        per_config.append(
            {
                **row,
                "sweeps": len(per),
                "coverage": (sum(e["covered"] for e in mine) / len(mine)) if mine else None,
                "median_half_width": statistics.median(e["half_width"] for e in mine) if mine else None,
                "speedups": [per[k][0] for k in sorted(per)],
                "intervals": [[per[k][1], per[k][2]] for k in sorted(per)],
                "ratio_intervals": _ratio(_log_interval_variances({config: per}, indices)),
                "ratio_rounds": (rounds_ratio(speed[config]) or {}).get("ratio") if config in speed else None,
                "intervals_above_limit": sum(lo > limit for _, lo, _ in per.values())
                if row["workload"] in CPU_BOUND
                else 0,
            }
        )
    by_workload: dict[str, list[float]] = defaultdict(list)
    for e in events:
        by_workload[dict(zip(KEY, e["config"]))["workload"]].append(e["half_width"])
    walls = [s["wall_s"] for s in sweeps if s.get("wall_s")]
    return {
        "k": k_total,
        "truth": "leave-one-out: geometric mean of the other K-1 sweeps' speedups",
        "coverage": coverage,
        "covered": hits,
        "intervals": len(events),
        "coverage_ci_sweep_bootstrap": _percentile_ci([_coverage_of(events, d) for d in draws]),
        "coverage_ci_binomial": _wilson(hits, len(events)),
        "expected_coverage_loo": expected_loo_coverage(k_total),
        "median_half_width": statistics.median(halves) if halves else None,
        "median_half_width_by_workload": {w: statistics.median(v) for w, v in sorted(by_workload.items())},
        "max_half_width": max(halves) if halves else None,
        "ratio_intervals": ratio_int,
        "ratio_intervals_ci_sweep_bootstrap": _percentile_ci(
            [_ratio(_log_interval_variances(found, d)) or math.nan for d in draws]
        ),
        "ratio_rounds_sequential": {w: rounds_ratio(v) for w, v in sorted(seq.items())},
        "ratio_rounds_sequential_ci_sweep_bootstrap": {
            w: _percentile_ci(
                [
                    (rounds_ratio([v[k] for k in d if k < len(v)]) or {}).get("ratio") or math.nan
                    for d in draws
                ]
            )
            for w, v in sorted(seq.items())
        },
        "ratio_rounds_speedup": _pooled_rounds_ratio(speed),
        "ratio_rounds_speedup_ci_sweep_bootstrap": _percentile_ci(
            [_pooled_rounds_ratio(speed, d) or math.nan for d in draws]
        ),
        "intervals_above_limit": sum(c["intervals_above_limit"] for c in per_config),
        "median_wall_s": statistics.median(walls) if walls else None,
        "wall_s": walls,
        "failed_sweeps": sum(1 for s in sweeps if s.get("exit") not in (0, None)),
        "noise": [s["noise"] for s in sweeps],
        "configurations": per_config,
    }


def _usable(summaries: list[list[dict[str, str]]], config: tuple[str, ...]) -> float | None:
    for rows in summaries:
        for row in rows:
            if _summary_key(row) == config:
                return _float(row.get("usable_cpus"))
    return None


# --- the command -------------------------------------------------------------------------------


def _slug(design: str) -> str:
    text = "".join(c if c.isalnum() else "_" for c in design).strip("_")
    return text or "defaults"


def _load(manifest_dir: Path, rebuild: bool) -> dict[str, list[dict[str, Any]]]:
    """The cells of a sweeps folder (its manifest), each sweep re-read (and re-reported)."""
    manifest = json.loads((manifest_dir / MANIFEST).read_text())
    cells: dict[str, list[dict[str, Any]]] = {}
    for cell in manifest["cells"]:
        found = []
        for entry in cell["sweeps"]:
            folder = Path(entry["folder"])
            if not folder.is_absolute():
                folder = manifest_dir / folder
            if rebuild:
                rebuild_report(folder)
                print(f"rebuilt: {folder}/report", file=sys.stderr, flush=True)
            rows = read_rows(folder)
            found.append(
                {**entry, "summary": read_summary(folder), "rows": rows, "noise": sweep_noise(rows, folder)}
            )
        cells[cell["name"]] = found
    return cells


def _print(results: dict[str, Any]) -> None:
    print(
        f"{'cell':34} {'K':>3} {'coverage (LOO)':>15} {'sweep-boot CI':>15} {'expected':>9} "
        f"{'half-width':>10} {'ratio int.':>10} {'ratio rounds':>12}"
    )
    for name, r in results.items():
        ci = r["coverage_ci_sweep_bootstrap"]
        cov = f"{r['coverage']:.1%} ({r['covered']}/{r['intervals']})" if r["coverage"] is not None else "-"
        print(
            f"{name:34} {r['k']:>3} {cov:>15} {(f'{ci[0]:.0%}-{ci[1]:.0%}' if ci else '-'):>15} "
            f"{(r['expected_coverage_loo'] or 0):>9.1%} {(r['median_half_width'] or 0):>10.1%} "
            f"{(r['ratio_intervals'] or math.nan):>10.2f} {(r['ratio_rounds_speedup'] or math.nan):>12.2f}"
        )
        for w, s in r["ratio_rounds_sequential"].items():
            if s:
                fci = s.get("f_ci")
                print(
                    f"    sequential {w}: between/implied {s['ratio']:.2f}"
                    + (f" (F 95 % {fci[0]:.2f}-{fci[1]:.2f})" if fci else "")
                )


def _shown(path: Path) -> str:
    """The sweeps folder as the JSON records it: relative to the repository, else its name."""
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return path.name


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--k", type=int, default=MIN_K, help=f"sweeps per cell (default {MIN_K}; at least 2)")
    parser.add_argument(
        "--sweep",
        action="append",
        choices=[*SWEEPS, "custom"],
        default=None,
        help="which sweep (repeat the flag; default: default and cpu_python; custom: the overrides after --)",
    )
    parser.add_argument(
        "--design",
        action="append",
        default=None,
        help="overrides of one design added to every sweep, e.g. 'rounds=5' (repeat; '' = the "
        "defaults, the default)",
    )
    parser.add_argument(
        "--sweeps-dir",
        type=Path,
        default=None,
        help="where the sweeps are kept (default outputs/coverage/<time>); --reuse reads it",
    )
    parser.add_argument(
        "--reuse",
        type=Path,
        default=None,
        help="re-analyse the sweeps of this folder (its manifest.json) without running any",
    )
    parser.add_argument(
        "--no-rebuild",
        action="store_true",
        help="with --reuse: read each report/summary.csv as it is (default: rebuild the reports)",
    )
    parser.add_argument("--resamples", type=int, default=2000, help="sweep-bootstrap resamples")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sweep bootstrap")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for the JSON")
    parser.add_argument("--name", default="coverage-v2.json", help="file name of the JSON written")
    parser.add_argument("overrides", nargs="*", help="the custom sweep's overrides (after --)")
    args = parser.parse_args(argv)
    if args.k < 2:
        parser.error(
            "--k: at least 2 sweeps (leave-one-out needs another sweep); 8 or more to read the figures"
        )
    if args.no_rebuild and args.reuse is None:
        parser.error("--no-rebuild: only with --reuse DIR")
    if args.reuse is not None:
        if not (args.reuse / MANIFEST).is_file():
            parser.error(f"--reuse {args.reuse}: no {MANIFEST} there (a folder this benchmark wrote)")
        cells = _load(args.reuse, rebuild=not args.no_rebuild)
        sweeps_dir = args.reuse
    else:
        names = args.sweep or ["default", "cpu_python"]
        if "custom" in names and not args.overrides:
            parser.error("--sweep custom: give the sweep's overrides after --")
        if args.k < MIN_K:
            print(f"coverage: K={args.k} < {MIN_K}: a smoke run, its figures say little", file=sys.stderr)
        designs = args.design if args.design is not None else [""]
        stamp = dt.datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
        sweeps_dir = (args.sweeps_dir or ROOT / "outputs" / "coverage" / stamp).resolve()
        sweeps_dir.mkdir(parents=True, exist_ok=True)
        plan = [(n, d) for n in names for d in designs]
        manifest = {
            "cells": [
                {
                    "name": f"{n}/{_slug(d)}",
                    "sweep": n,
                    "design": d,
                    "overrides": [*(args.overrides if n == "custom" else SWEEPS[n]), *d.split()],
                    "sweeps": [],
                }
                for n, d in plan
            ]
        }
        for i in range(args.k):
            for cell in manifest["cells"]:  # taking turns: every cell sees the same stretch of the machine
                folder = sweeps_dir / cell["name"] / str(i)
                entry = run_sweep(cell["overrides"], folder)
                entry["folder"] = str(folder.relative_to(sweeps_dir))
                cell["sweeps"].append(entry)
                (sweeps_dir / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
                print(
                    f"{cell['name']}: sweep {i + 1}/{args.k} {entry['wall_s']:.1f} s",
                    file=sys.stderr,
                    flush=True,
                )
        cells = _load(sweeps_dir, rebuild=False)
    results = {name: evaluate(found, args.resamples, args.seed) for name, found in cells.items()}
    _print(results)
    manifest = json.loads((sweeps_dir / MANIFEST).read_text())
    write_result(
        args.out,
        args.name,
        {
            **machine_header(),
            "version": 2,
            "sweeps_dir": _shown(sweeps_dir),
            "reused": args.reuse is not None,
            "cells": {
                c["name"]: {"overrides": c["overrides"], "design": c["design"]} for c in manifest["cells"]
            },
            "loadavg_end": os.getloadavg()[0],
            "results": results,
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
