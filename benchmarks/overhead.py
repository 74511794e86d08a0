"""How much of a sweep's wall time is the timed work, and where does the rest go?

Runs a sweep (by default the default sweep, report included, as ``coresweep`` with no
arguments runs it) in a fresh interpreter and splits its wall time into phases with
timestamps taken inside that process: interpreter start and imports, preflight (planning and
composing every job), Hydra's set-up and the environment record, the job loop, the report,
and exit. Inside the job loop, the timed work (each job's startup, warm-ups, timed runs and
teardown, read back from the rows) is set against everything else: Hydra's per-job
composition and files, coresweep's job set-up, the isolation (handing the job to a process of
its own and back: ``isolation_per_job_ms``), what the job process does outside the clocks (the
sequential reference, verification) and writing rows. A "job" here is one run of a job: with
``rounds=R`` each job counts R times. Goals: timed work >= 85 % of the sweep's wall time
without rounds, <= 20 ms per job for the isolation itself.

    python -m benchmarks.overhead [--rounds 3] [--out benchmarks/results] [-- OVERRIDES...]
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
from collections import defaultdict
from pathlib import Path
from typing import Any, Callable

from benchmarks._results import machine_header, write_result

RESULTS = Path(__file__).resolve().parent / "results"
_T0 = time.perf_counter()  # first thing in the measured process: imports are counted from here


def _instrument(spent: dict[str, float], counts: dict[str, int]) -> None:
    """Wrap the phases of a sweep with timers (in the measured process only)."""
    from hydra._internal.config_loader_impl import ConfigLoaderImpl

    from coresweep.experiments import callbacks, cli, report_builder
    from coresweep.experiments.job import runner as job

    def timed(owner: Any, name: str, phase: str) -> None:
        original: Callable[..., Any] = getattr(owner, name)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                spent[f"{phase}_end"] = time.perf_counter()
                spent[phase] += spent[f"{phase}_end"] - t0
                counts[phase] += 1

        setattr(owner, name, wrapper)

    timed(cli, "preflight", "preflight")
    timed(ConfigLoaderImpl, "load_configuration", "hydra_compose")
    timed(job, "run_job", "coresweep_job")
    timed(job, "run_isolated", "isolated")
    timed(job, "_write_rows", "write_rows")
    timed(callbacks.SweepCallback, "on_multirun_start", "sweep_start")
    timed(callbacks.SweepCallback, "on_multirun_end", "report")
    timed(report_builder.ReportBuilder, "wait_ready", "report_ready")


def inner(overrides: list[str], out: Path) -> int:
    """The measured process: run the sweep as the ``coresweep`` command does, under timers."""
    from coresweep.experiments.entry import prepare

    prepare(overrides)  # as the command does before importing Hydra (starts the report process)
    spent: dict[str, float] = defaultdict(float)
    counts: dict[str, int] = defaultdict(int)
    _instrument(spent, counts)
    from coresweep.experiments import cli

    spent["imports"] = time.perf_counter() - _T0
    run_sweep = cli.main

    def main_then_record(argv: list[str] | None = None) -> int:
        t0 = time.perf_counter()
        code = run_sweep(overrides)
        spent["main"] = time.perf_counter() - t0
        out.write_text(json.dumps({"spent": spent, "counts": counts, "exit": code}))
        return code

    cli.main = main_then_record  # type: ignore[assignment]
    cli.entry()  # exits the way the command does
    return 0


def timed_work(sweep: Path) -> tuple[float, int, float]:
    """Seconds inside the protocol's clocks (startup, warm-ups, runs x loops, teardown), job
    runs (one per job and round), and seconds the job processes spent from start to result."""
    total, jobs, in_child = 0.0, 0, 0.0
    for path in sorted(sweep.glob("*/results.jsonl")):
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        by_round: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for row in rows:
            by_round[int(row.get("round") or 0)].append(row)
        for kept in by_round.values():
            jobs += 1
            first = kept[0]
            total += (first["startup_s"] or 0) + (first["teardown_s"] or 0) + sum(first["warmup_s"] or [])
            total += sum((r["wall_s"] or 0) * (r["loops"] or 1) for r in kept)
            in_child += first.get("job_process_s") or 0
    return total, jobs, in_child


def one_round(overrides: list[str]) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        sweep, phases_file = Path(tmp) / "sweep", Path(tmp) / "phases.json"
        cmd = [sys.executable, "-m", "benchmarks.overhead", "--inner", str(phases_file), "--",
               *overrides, f"hydra.sweep.dir={sweep}"]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if proc.returncode != 0 or not phases_file.exists():
            raise SystemExit(f"the sweep failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
        phases = json.loads(phases_file.read_text())
        timed, jobs, in_child = timed_work(sweep)
    s = defaultdict(float, phases["spent"])
    # Hydra loads its launcher plugin afresh (a wrapper on its class would miss): the job loop
    # is what lies between the sweep-start and the sweep-end callbacks.
    loop = s["report_end"] - s["report"] - s["sweep_start_end"]
    return {
        "jobs": jobs,
        "wall_s": wall,
        "timed_s": timed,
        "timed_share": timed / wall,
        "outside_per_job_ms": (wall - timed) / jobs * 1e3,
        "loop_outside_per_job_ms": (loop - timed) / jobs * 1e3,
        "start_imports_exit_s": wall - s["main"],
        "imports_s": s["imports"],
        "preflight_s": s["preflight"],
        "sweep_start_s": s["sweep_start"],
        "job_loop_s": loop,
        "report_s": s["report"],
        "report_ready_s": s["report_ready"],
        "hydra_composes": phases["counts"].get("hydra_compose", 0),
        "hydra_per_job_ms": (loop - s["coresweep_job"]) / jobs * 1e3,
        "job_setup_per_job_ms": (s["coresweep_job"] - s["isolated"] - s["write_rows"]) / jobs * 1e3,
        "isolation_per_job_ms": (s["isolated"] - in_child) / jobs * 1e3,
        "in_child_untimed_per_job_ms": (in_child - timed) / jobs * 1e3,
        "write_rows_per_job_ms": s["write_rows"] / jobs * 1e3,
    }


ROWS = (
    ("wall_s", "sweep wall (s)", "{:.2f}"),
    ("timed_s", "timed work (s)", "{:.2f}"),
    ("timed_share", "timed share", "{:.1%}"),
    ("outside_per_job_ms", "outside timed work / job (ms, all in)", "{:.0f}"),
    ("loop_outside_per_job_ms", "outside timed work / job (ms, job loop)", "{:.0f}"),
    ("start_imports_exit_s", "  interpreter start, imports, exit (s)", "{:.2f}"),
    ("imports_s", "    of which imports (s)", "{:.2f}"),
    ("preflight_s", "  preflight: plan, compose, check (s)", "{:.2f}"),
    ("sweep_start_s", "  sweep start: environment record (s)", "{:.2f}"),
    ("report_ready_s", "  waiting for the report process's imports (s)", "{:.2f}"),
    ("report_s", "  report (s)", "{:.2f}"),
    ("hydra_composes", "  Hydra compositions (preflight + launcher)", "{:.0f}"),
    ("hydra_per_job_ms", "  Hydra per job: compose, .hydra files, callbacks (ms)", "{:.1f}"),
    ("job_setup_per_job_ms", "  coresweep job set-up in the driver (ms)", "{:.1f}"),
    ("isolation_per_job_ms", "  isolation: fork, hand-over, wait, reap (ms)", "{:.1f}"),
    ("in_child_untimed_per_job_ms", "  job process, outside its clocks: reference, verify (ms)", "{:.1f}"),
    ("write_rows_per_job_ms", "  writing rows (ms)", "{:.1f}"),
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3, help="sweeps to run (medians, with ranges)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for overhead.json")
    parser.add_argument("--inner", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("overrides", nargs="*", help="coresweep overrides (default: the default sweep)")
    args = parser.parse_args(argv)
    if args.inner:
        return inner(args.overrides, args.inner)
    rounds = [one_round(args.overrides) for _ in range(args.rounds)]
    jobs = rounds[0]["jobs"]
    print(f"coresweep {' '.join(args.overrides) or '(default sweep)'}: {jobs} jobs, {len(rounds)} rounds")
    print(f"{'':58} {'median':>8} {'range':>17}")
    summary: dict[str, Any] = {"jobs": jobs}
    for key, label, fmt in ROWS:
        values = [r[key] for r in rounds]
        med = statistics.median(values)
        summary[key] = med
        spread = f"{fmt.format(min(values))}-{fmt.format(max(values))}"
        print(f"{label:58} {fmt.format(med):>8} {spread:>17}")
    report = {**machine_header(),
              "overrides": args.overrides, "loadavg_end": os.getloadavg()[0], "median": summary,
              "rounds": rounds}
    write_result(args.out, "overhead.json", report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
