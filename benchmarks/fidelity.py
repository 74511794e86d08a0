"""Does coresweep report the speedups a careful hand-written script measures?

Side by side, on the same tasks (the harness's own task functions, so the work is identical):
a minimal script per backend (multiprocessing.Pool, ProcessPoolExecutor, threads, joblib),
timed with perf_counter, median of N runs after one warm-up, and the harness on the same
configurations (``min_time_s=0``: one call per timed run, as in the script). Each *pair* runs
the script and the harness as two fresh processes at the same time, taking turns run by run
(benchmarks/turns.py): one timed run of one, then one of the other, never two at once, so
both see the same machine although its speed drifts by 5-10 % over seconds on a shared VM.
Which side goes first alternates from pair to pair. ``--back-to-back`` runs the earlier
design instead: the two processes one after the other (drift then lands between them).

Per pair and backend: ratio = harness speedup / script speedup. Per row: the median ratio over
the pairs with a seeded bootstrap 95 % CI (goal: within 3 %). The verdict says whether the CI
lies inside 0.97-1.03 (``within``), outside it (``differs``) or across a bound (``open``).

Other processes on the machine only ever add time, so each pair is recorded with the
machine's noise: VM steal time and the CPU time of everything else (``/proc/stat`` minus the
pair's and the driver's own CPU), load average and involuntary context switches. A pair in
which other processes used more than ``--quiet-share`` of the machine is marked noisy, and
each row is given again over the quiet pairs alone.

The script runs with the malloc thresholds coresweep fixes for itself and its workers
(``GLIBC_TUNABLES``, see experiments/allocator.py); without them glibc's thresholds depend on
the process's history and the same task runs up to 30 % slower in a fresh process (cause of
the gil_release disagreement measured before; ``--cold-script`` shows it).

    python -m benchmarks.fidelity [--rounds 10] [--repeats 7] [--workloads ...] [--merge]

A full run of 10 rounds takes about 7 minutes on a 2-core machine; ``--workloads cpu_python --merge`` (and
so on, one workload per call) splits it and merges each part into the same fidelity.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from multiprocessing import Pool
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._results import machine_header, write_result
from benchmarks.turns import turn
from coresweep.experiments.machine.allocator import TUNABLES
from coresweep.experiments.workloads import WORKLOADS

CASES = {
    # workload: (size, grain) sized so a sequential run takes ~0.1-0.3 s here
    "cpu_python": (64, 20000),
    "io_sleep": (64, 5000),
    "gil_release": (128, 256),
}
BACKENDS = ("pool", "process_pool", "thread_pool", "joblib_loky")
RESULTS = Path(__file__).resolve().parent / "results"
#: The agreement the issue asks for: harness speedup / script speedup within 1 ± GOAL.
GOAL = 0.03
_TICK = os.sysconf("SC_CLK_TCK")


def run_times(fn, repeats: int) -> list[float]:
    """The times of ``repeats`` runs after one warm-up (as the harness does)."""
    fn()
    times = []
    for _ in range(repeats):
        turn()  # side by side with the harness: wait for this run's turn (no-op alone)
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def hand_written(workload: str, workers: int, repeats: int, backends: list[str]) -> dict[str, list[float]]:
    """The minimal script: what someone would write by hand to compare the backends."""
    from joblib import Parallel, delayed

    size, grain = CASES[workload]
    wl = WORKLOADS[workload](size=size, grain=grain)
    task, items = wl.task, wl.inputs()
    out = {"sequential": run_times(lambda: [task(x) for x in items], repeats)}
    if "pool" in backends:
        with Pool(workers) as pool:
            out["pool"] = run_times(lambda: pool.map(task, items), repeats)
    if "process_pool" in backends:
        with ProcessPoolExecutor(workers) as ex:
            out["process_pool"] = run_times(lambda: list(ex.map(task, items)), repeats)
    if "thread_pool" in backends:
        with ThreadPoolExecutor(workers) as ex:
            out["thread_pool"] = run_times(lambda: list(ex.map(task, items)), repeats)
    if "joblib_loky" in backends:
        with Parallel(n_jobs=workers) as par:
            out["joblib_loky"] = run_times(lambda: par(delayed(task)(x) for x in items), repeats)
    return out


# --- the machine's noise while one process ran -------------------------------------------


def _cpu_ticks() -> tuple[int, int]:
    """(busy, steal) clock ticks of all CPUs since boot, from the first line of /proc/stat."""
    try:
        with open("/proc/stat") as fh:
            fields = [int(x) for x in fh.readline().split()[1:]]
    except (OSError, ValueError):
        return 0, 0
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return user + nice + system + irq + softirq, steal


@dataclass
class Noise:
    """What else happened on the machine while one process (and its children) ran."""

    wall_s: float
    own_cpu_s: float  # the process tree's user+sys (getrusage of reaped children)
    others_cpu_s: float  # every other process's user+sys (+irq) meanwhile: /proc/stat busy - own
    others_share: float  # others_cpu_s / (wall_s x CPUs): 0 on a quiet machine
    steal_s: float  # CPU time the hypervisor gave to other guests (VM steal)
    involuntary_switches: int  # times the tree was preempted (by anything, itself included)
    loadavg_1m: float


def run_measured(
    cmd: list[str], env: dict[str, str] | None = None
) -> tuple[subprocess.CompletedProcess, Noise]:
    """Run ``cmd`` to completion and say how noisy the machine was meanwhile."""
    busy0, steal0 = _cpu_ticks()
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy1, steal1 = _cpu_ticks()
    own = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    others = max(0.0, (busy1 - busy0) / _TICK - own)
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    noise = Noise(
        wall_s=wall,
        own_cpu_s=own,
        others_cpu_s=others,
        others_share=others / (wall * cpus),
        steal_s=(steal1 - steal0) / _TICK,
        involuntary_switches=ru1.ru_nivcsw - ru0.ru_nivcsw,
        loadavg_1m=os.getloadavg()[0],
    )
    return proc, noise


# --- the two sides ------------------------------------------------------------------------


def script_command(workload: str, args: argparse.Namespace) -> tuple[list[str], dict[str, str]]:
    """The command (and environment) that runs ``hand_written`` in a fresh interpreter."""
    env = dict(os.environ)
    if not args.cold_script:
        env["GLIBC_TUNABLES"] = TUNABLES
    size, grain = CASES[workload]
    return [
        sys.executable,
        "-m",
        "benchmarks.fidelity",
        "--script-only",
        workload,
        "--workers",
        str(args.workers),
        "--repeats",
        str(args.repeats),
        "--size",
        str(size),
        "--grain",
        str(grain),
        "--backends",
        ",".join(args.backends),
        "--script-imports",
        args.script_imports,
    ], env


def script(workload: str, args: argparse.Namespace) -> tuple[dict[str, list[float]], Noise]:
    """Run ``hand_written`` in a fresh interpreter (as a user's script would run)."""
    cmd, env = script_command(workload, args)
    proc, noise = run_measured(cmd, env)
    if proc.returncode != 0:
        raise SystemExit(f"hand-written script failed:\n{proc.stderr}")
    return json.loads(proc.stdout), noise


def harness_overrides(workload: str, args: argparse.Namespace, sweep_dir: Path) -> list[str]:
    """coresweep's command line for the same configurations (``min_time_s=0``: one call a run)."""
    size, grain = CASES[workload]
    parallel = [b for b in args.backends if b != "sequential"]
    return [
        "-m",
        f"backend={','.join(['sequential', *parallel])}",
        # sequential alone ignores workers, and coresweep refuses a setting no job uses
        f"workers={args.workers if parallel else 1}",
        f"workload={workload}",
        f"workload.size={size}",
        f"workload.grain={grain}",
        f"repeats={args.repeats}",
        "rounds=1",  # one pass per job, as the script makes: this compares the timing, not the design
        "warmup=1",
        "min_time_s=0",
        "report=false",
        f"hydra.sweep.dir={sweep_dir}",
    ]


def harness(workload: str, args: argparse.Namespace, sweep_dir: Path) -> tuple[dict[str, list[float]], Noise]:
    cmd = [sys.executable, "-m", "coresweep.experiments.cli", *harness_overrides(workload, args, sweep_dir)]
    proc, noise = run_measured(cmd)
    if proc.returncode != 0:
        raise SystemExit(f"harness failed:\n{proc.stderr}")
    return harness_walls(sweep_dir), noise


def harness_walls(sweep_dir: Path) -> dict[str, list[float]]:
    """Each backend's run times, from the sweep's rows."""
    walls: dict[str, list[float]] = {}
    for path in sorted(sweep_dir.glob("*/results.jsonl")):
        for line in path.read_text().splitlines():
            row = json.loads(line)
            walls.setdefault(row["backend"], []).append(row["wall_s"])
    return walls


def in_turns(
    workload: str, args: argparse.Namespace, sweep_dir: Path, script_first: bool
) -> tuple[dict[str, list[float]], Noise, dict[str, list[float]], Noise]:
    """Script and harness side by side, taking turns run by run (benchmarks/turns.py)."""
    from benchmarks.turns import run_in_turns

    script_cmd, script_env = script_command(workload, args)
    overrides = harness_overrides(workload, args, sweep_dir)
    harness_cmd = [sys.executable, "-m", "benchmarks.turns", "--", *overrides]
    busy0, steal0 = _cpu_ticks()
    me0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    cmds = {"script": script_cmd, "harness": harness_cmd}
    if not script_first:
        cmds = {"harness": harness_cmd, "script": script_cmd}
    out = run_in_turns(cmds, {"script": script_env})
    wall = time.perf_counter() - t0
    me1 = resource.getrusage(resource.RUSAGE_SELF)
    busy1, steal1 = _cpu_ticks()
    for side in ("script", "harness"):
        if out[side]["returncode"] != 0:
            raise SystemExit(f"{side} failed:\n{out[side]['stderr'][-3000:]}")
    driver = (me1.ru_utime - me0.ru_utime) + (me1.ru_stime - me0.ru_stime)  # passing the turns
    own = out["script"]["own_cpu_s"] + out["harness"]["own_cpu_s"] + driver
    others = max(0.0, (busy1 - busy0) / _TICK - own)
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    # Each side took a turn per timed run: fewer turns would mean runs timed outside the turns.
    runs = args.repeats * (1 + len(args.backends))
    for side in ("script", "harness"):
        if out[side]["turns"] < runs:
            raise SystemExit(f"{side}: {out[side]['turns']} turns for {runs} timed runs: not side by side")
    noises = [
        Noise(
            wall_s=wall,
            own_cpu_s=out[side]["own_cpu_s"],
            others_cpu_s=others,  # both sides ran together: the pair's others, on both
            others_share=others / (wall * cpus),
            steal_s=(steal1 - steal0) / _TICK,
            involuntary_switches=out[side]["involuntary_switches"],
            loadavg_1m=os.getloadavg()[0],
        )
        for side in ("script", "harness")
    ]
    return json.loads(out["script"]["stdout"]), noises[0], harness_walls(sweep_dir), noises[1]


# --- statistics ---------------------------------------------------------------------------


def median_ci(values: list[float], seed: int) -> tuple[float, float | None, float | None]:
    """The median and a percentile-bootstrap 95 % CI of it (seeded; None with < 3 values)."""
    med = statistics.median(values)
    if len(values) < 3 or max(values) == min(values):
        return med, (med if len(values) >= 3 else None), (med if len(values) >= 3 else None)
    from scipy.stats import bootstrap

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy warns about the discreteness of a median's resamples
        res = bootstrap(
            (np.asarray(values),), np.median, n_resamples=5000, method="percentile", random_state=seed
        )
    return med, float(res.confidence_interval.low), float(res.confidence_interval.high)


def verdict(low: float | None, high: float | None) -> str:
    """within: the CI lies inside 1 ± GOAL; differs: it lies outside; open: it crosses a bound."""
    if low is None or high is None:
        return "open"
    if low >= 1 - GOAL and high <= 1 + GOAL:
        return "within"
    if high < 1 - GOAL or low > 1 + GOAL:
        return "differs"
    return "open"


def summarise(pairs: list[dict[str, Any]], key: str, seed: int) -> dict[str, Any]:
    """Median of ``key`` over the pairs, its CI and verdict."""
    values = [p[key] for p in pairs]
    if not values:
        return {"n": 0}
    med, low, high = median_ci(values, seed)
    return {
        "n": len(values),
        "median": med,
        "ci_low": low,
        "ci_high": high,
        "verdict": verdict(low, high),
        "min": min(values),
        "max": max(values),
    }


def pair_row(backend: str, mine: dict[str, list[float]], ours: dict[str, list[float]]) -> dict[str, float]:
    mid = [{k: statistics.median(v) for k, v in side.items()} for side in (mine, ours)]
    low = [{k: min(v) for k, v in side.items()} for side in (mine, ours)]
    row = {
        "seq_script_s": mid[0]["sequential"],
        "seq_harness_s": mid[1]["sequential"],
        "seq_ratio": mid[1]["sequential"] / mid[0]["sequential"],
        "seq_ratio_of_min": low[1]["sequential"] / low[0]["sequential"],
    }
    if backend != "sequential":
        row.update(
            {
                "speedup_script": mid[0]["sequential"] / mid[0][backend],
                "speedup_harness": mid[1]["sequential"] / mid[1][backend],
                "par_script_s": mid[0][backend],
                "par_harness_s": mid[1][backend],
                "par_ratio": mid[1][backend] / mid[0][backend],
                # Other processes only ever add time: the fastest run is the least disturbed.
                "ratio_of_min": (low[1]["sequential"] / low[1][backend])
                / (low[0]["sequential"] / low[0][backend]),
            }
        )
        row["ratio"] = row["speedup_harness"] / row["speedup_script"]
    return row


# --- the run ------------------------------------------------------------------------------


def measure(args: argparse.Namespace) -> dict[str, list[dict[str, Any]]]:
    """Run the pairs; returns, by workload, each pair's run times and noise."""
    pairs: dict[str, list[dict[str, Any]]] = {w: [] for w in args.workloads}
    for r in range(args.rounds):
        for k, workload in enumerate(args.workloads):
            script_first = (r + k) % 2 == 0  # ABBA...: neither side always runs first
            with tempfile.TemporaryDirectory() as tmp:
                sweep = Path(tmp) / "sweep"
                if args.in_turns:  # side by side; the first turn alternates as the order does
                    mine, noise_s, ours, noise_h = in_turns(workload, args, sweep, script_first)
                elif script_first:
                    mine, noise_s = script(workload, args)
                    ours, noise_h = harness(workload, args, sweep)
                else:
                    ours, noise_h = harness(workload, args, sweep)
                    mine, noise_s = script(workload, args)
            quiet = max(noise_s.others_share, noise_h.others_share) <= args.quiet_share
            pairs[workload].append(
                {
                    "round": r,
                    "script_first": script_first,
                    "quiet": quiet,
                    "noise_script": asdict(noise_s),
                    "noise_harness": asdict(noise_h),
                    "script": mine,
                    "harness": ours,
                }
            )
            print(
                f"round {r + 1}/{args.rounds} {workload:12} others' CPU share "
                f"script {noise_s.others_share:5.1%} "
                f"harness {noise_h.others_share:5.1%}  steal {noise_s.steal_s + noise_h.steal_s:.2f} s"
                f"{'' if quiet else '  (noisy pair)'}",
                flush=True,
            )
    return pairs


def rows_for(
    workload: str, pairs: list[dict[str, Any]], backends: list[str], seed: int
) -> list[dict[str, Any]]:
    rows = []
    for backend in ["sequential", *backends]:
        per_pair = [
            {"round": p["round"], "quiet": p["quiet"], **pair_row(backend, p["script"], p["harness"])}
            for p in pairs
        ]
        key = "seq_ratio" if backend == "sequential" else "ratio"
        quiet = [p for p in per_pair if p["quiet"]]
        row: dict[str, Any] = {
            "workload": workload,
            "backend": backend,
            "all": summarise(per_pair, key, seed),
            "quiet": summarise(quiet, key, seed),
        }
        for field in (
            "seq_script_s",
            "seq_harness_s",
            "speedup_script",
            "speedup_harness",
            "par_script_s",
            "par_harness_s",
            "ratio_of_min",
        ):
            if field in per_pair[0]:
                row[field] = statistics.median(p[field] for p in per_pair)
        if backend != "sequential":
            row["par_ratio"] = summarise(per_pair, "par_ratio", seed)
            row["of_min"] = summarise(per_pair, "ratio_of_min", seed)
        else:
            row["of_min"] = summarise(per_pair, "seq_ratio_of_min", seed)
        row["pairs"] = per_pair
        rows.append(row)
    return rows


def _ci(s: dict[str, Any]) -> str:
    if not s.get("n"):
        return f"{'-':>26}"
    low = f"{s['ci_low']:.3f}" if s["ci_low"] is not None else "?"
    high = f"{s['ci_high']:.3f}" if s["ci_high"] is not None else "?"
    return f"{s['median']:6.3f} ({low}-{high}) {s['verdict']:7}"


def print_table(rows: list[dict[str, Any]]) -> None:
    print(
        f"\n{'workload':12} {'backend':13} {'script ×':>8} {'harness ×':>9}  {'ratio, 95% CI, all pairs':>26}"
        f"  {'quiet pairs':>26} {'n':>5}  {'fastest runs':>26}  {'seq ms s/h':>13}  {'par ms s/h':>13}"
    )
    for row in rows:
        speed = (
            f"{row['speedup_script']:8.3f} {row['speedup_harness']:9.3f}"
            if "speedup_script" in row
            else f"{'':8} {'':9}"
        )
        par = (
            f"{row['par_script_s'] * 1e3:6.1f}/{row['par_harness_s'] * 1e3:6.1f}"
            if "par_script_s" in row
            else ""
        )
        print(
            f"{row['workload']:12} {row['backend']:13} {speed}  {_ci(row['all'])}  {_ci(row['quiet'])}"
            f" {row['quiet'].get('n', 0):>2}/{row['all']['n']:<2}  {_ci(row['of_min'])}"
            f"  {row['seq_script_s'] * 1e3:6.1f}/{row['seq_harness_s'] * 1e3:6.1f}  {par}"
        )
    print(
        "(sequential rows: harness time / script time; the others: harness speedup / script speedup;"
        " fastest runs: the same from each process's fastest run)"
    )


def markdown(report: dict[str, Any]) -> str:
    """docs/measurement.md's fidelity table, from a fidelity.json (it shows exactly what was measured)."""

    def ci(s: dict[str, Any]) -> str:
        if not s.get("n") or s.get("ci_low") is None:
            return "–"
        return f"{s['median']:.3f} ({s['ci_low']:.3f}–{s['ci_high']:.3f})"

    lines = [
        "| workload | backend | script speedup | coresweep speedup | ratio (95 % CI) | verdict "
        "| quiet pairs | ratio of fastest runs (CI) | sequential ms script / coresweep "
        "| parallel ms script / coresweep |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in report["results"]:
        speed, par = "– | –", "–"
        if "speedup_script" in r:
            speed = f"{r['speedup_script']:.3f} | {r['speedup_harness']:.3f}"
            par = f"{r['par_script_s'] * 1e3:.1f} / {r['par_harness_s'] * 1e3:.1f}"
        quiet = f"{r['quiet']['n']}/{r['all']['n']}"
        lines.append(
            f"| {r['workload']} | {r['backend']} | {speed} | {ci(r['all'])} | {r['all']['verdict']} "
            f"| {quiet} | {ci(r['of_min'])} "
            f"| {r['seq_script_s'] * 1e3:.1f} / {r['seq_harness_s'] * 1e3:.1f} | {par} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=10, help="script+harness pairs per workload")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--workloads", default=",".join(CASES))
    parser.add_argument(
        "--backends",
        default=",".join(BACKENDS),
        help="parallel backends beside sequential ('sequential' alone: only that)",
    )
    parser.add_argument("--size", type=int, help="tasks per run for every workload (a quick check)")
    parser.add_argument("--grain", type=int, help="grain for every workload (a quick check)")
    parser.add_argument(
        "--cold-script",
        action="store_true",
        help="run the script without coresweep's malloc thresholds (shows the old bias)",
    )
    parser.add_argument(
        "--quiet-share",
        type=float,
        default=0.05,
        help="a pair is noisy when other processes used more than this share of the CPUs",
    )
    parser.add_argument("--seed", type=int, default=20261125, help="bootstrap seed")
    parser.add_argument(
        "--merge",
        action="store_true",
        help="keep the other workloads' rows already in the JSON (split a run by --workloads)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for fidelity.json")
    parser.add_argument(
        "--script-imports",
        default="",
        metavar="MODULES",
        help="the script imports these modules first (e.g. coresweep.experiments.cli: the harness's "
        "process state, to test whether a difference comes from it)",
    )
    parser.add_argument(
        "--back-to-back",
        dest="in_turns",
        action="store_false",
        help="run the script and the harness one after the other (the design before turns: "
        "each process sees the machine's drift alone)",
    )
    parser.add_argument("--script-only", metavar="WORKLOAD", help=argparse.SUPPRESS)
    parser.add_argument("--table", type=Path, metavar="JSON", help="print a fidelity.json as the docs' table")
    args = parser.parse_args(argv)
    if args.table:
        print(markdown(json.loads(args.table.read_text())))
        return 0
    args.workloads = args.workloads.split(",")
    args.backends = [b for b in args.backends.split(",") if b and b != "sequential"]
    for name in args.workloads:
        if name not in CASES:
            parser.error(f"--workloads: {name!r} is not one of {', '.join(CASES)}")
    for name in args.backends:
        if name not in BACKENDS:
            parser.error(f"--backends: {name!r} is not one of sequential, {', '.join(BACKENDS)}")
    for name, (size, grain) in CASES.items():
        CASES[name] = (args.size or size, args.grain or grain)
    if args.script_only:
        for module in filter(None, args.script_imports.split(",")):
            importlib.import_module(module)
        print(json.dumps(hand_written(args.script_only, args.workers, args.repeats, args.backends)))
        return 0

    # Experiments that change the script go to their own file, never over fidelity.json.
    name = "fidelity-cold.json" if args.cold_script else "fidelity.json"
    if args.script_imports:
        name = name.replace(".json", "-imports.json")
    if not args.in_turns:
        name = name.replace(".json", "-back-to-back.json")
    started = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    load0 = os.getloadavg()[0]
    pairs = measure(args)
    part = {
        "workloads": args.workloads,
        "started": started,
        "finished": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "loadavg_start": load0,
        "loadavg_end": os.getloadavg()[0],
        "rounds": args.rounds,
        "quiet_pairs": sum(p["quiet"] for ps in pairs.values() for p in ps),
        "n_pairs": sum(len(ps) for ps in pairs.values()),
        # every run's time, by workload, pair and side: the rows below are computed from these
        "pairs": pairs,
    }
    rows = [row for w in args.workloads for row in rows_for(w, pairs[w], args.backends, args.seed)]
    print_table(rows)

    report: dict[str, Any] = {
        **machine_header(),
        "workers": args.workers,
        "repeats": args.repeats,
        "design": "turns" if args.in_turns else "back_to_back",
        "cold_script": args.cold_script,
        "script_imports": args.script_imports,
        "goal": GOAL,
        "quiet_share": args.quiet_share,
        "seed": args.seed,
        "cases": CASES,
        "parts": [part],
        "results": rows,
    }
    old_path = args.out / name
    if args.merge and old_path.exists():
        old = json.loads(old_path.read_text())
        kept = [p for p in old.get("parts", []) if not set(p["workloads"]) & set(args.workloads)]
        report["parts"] = kept + report["parts"]
        kept_rows = [r for r in old.get("results", []) if r["workload"] not in args.workloads and "all" in r]
        report["results"] = kept_rows + rows  # ("all" in r: a row of this format, not an older file's)
    write_result(args.out, name, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
