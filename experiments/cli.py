"""The ``coresweep`` command: check the whole sweep, then hand over to Hydra.

Thin on purpose: ``sweep`` plans and validates, ``job`` measures, the callback reports.
"""

from __future__ import annotations

import functools
import os
import signal
import sys
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig, OmegaConf

from .launch.isolation import ISOLATION
from .plan.composed import ComposedConfigs
from .plan.sweep import CONFIG_NAME, ConfigError
from .report_builder import BUILDER, report_wanted

EXIT_OK, EXIT_FAILED_RUNS, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130


@hydra.main(config_path="pkg://coresweep.conf", config_name=CONFIG_NAME, version_base="1.3")
def _hydra_app(cfg: DictConfig) -> Any:
    from hydra.core.hydra_config import HydraConfig

    from .job.runner import run_job
    from .job.spec import JobSpec
    from .machine.topology_state import current_topology

    hc = HydraConfig.get()
    topo = current_topology()
    job_dir = Path(hc.runtime.output_dir)
    # The launcher boundary: the composed config becomes a typed spec, read once.
    spec = JobSpec.from_config(cfg)
    return run_job(spec, job_dir=job_dir, sweep_dir=Path(hc.sweep.dir), job=job_dir.name, topology=topo)


def _passthrough(args: Any) -> bool:
    """Hydra's informational flags (help, --cfg, completion) run no jobs: nothing to check."""
    flags = ("help", "hydra_help", "cfg", "info", "shell_completion", "version", "experimental_rerun")
    return any(getattr(args, flag, None) for flag in flags)


def preflight(argv: list[str], composed: ComposedConfigs | None = None) -> tuple[list[str], int]:
    """Plan and validate every job; returns (argv for Hydra, planned job count).

    With ``composed``, each job's config is composed as Hydra's launcher will compose it and
    kept there, so that the launcher need not compose it again (see composed.py).
    """
    from hydra import initialize_config_module
    from hydra._internal.utils import get_args_parser
    from hydra.core.global_hydra import GlobalHydra

    from .callbacks import LAST_SWEEP_PLAN
    from .job.protocol import stuck_grace_s
    from .machine.topology_state import current_topology
    from .plan.applies import check_given_twice
    from .plan.composed import hydra_overrides
    from .plan.racing import check_race_jobs, check_race_options
    from .plan.sweep import (
        check_job,
        check_resume,
        check_resume_jobs,
        check_rounds,
        check_sweep_dir,
        compose,
        compose_with,
        duplicate_key,
        ignored_by,
        plan,
        sweep_wide,
    )

    try:
        stuck_grace_s()  # read again in every job's process: a bad value is refused here, once
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    args = get_args_parser().parse_args(argv)
    overrides = list(args.overrides)
    check_given_twice(overrides)  # the user's own: workers=auto's expansion is added below
    extra_search = []
    if args.config_dir:
        extra_search.append(f"hydra.searchpath=[file://{Path(args.config_dir).absolute()}]")
    GlobalHydra.instance().clear()
    with initialize_config_module("coresweep.conf", version_base="1.3", job_name="coresweep"):
        topo = current_topology()
        sweep = plan(overrides + extra_search, topo)
        budget_s = check_race_options(sweep.base, overrides, sweep.jobs)  # before composing every job
        resume = sweep.base.get("resume")
        if resume:
            sweep.extra_overrides += check_resume(resume, sweep)
        else:
            check_sweep_dir(sweep.base.hydra.sweep.dir)
        checked = []
        loader = GlobalHydra.instance().config_loader()
        # What the launcher's master config records as hydra.overrides.hydra, and prepends.
        hydra_lines = hydra_overrides(overrides + sweep.extra_overrides)
        keep = None
        if composed is not None:
            keep = functools.partial(composed.compose, loader, CONFIG_NAME, hydra_lines)
        kept, skipped, seen, skipped_why = [], [], set(), []
        beyond: list[tuple[str, str]] = []  # (what a job's worker count means, its kind)
        for job_overrides in sweep.jobs:
            if keep is not None and not extra_search:
                cfg = compose_with(keep, job_overrides)
            else:  # --config-dir: Hydra's own search path differs from this one; compose plainly
                cfg = compose(job_overrides + extra_search)
            try:
                check_job(cfg, topo)
            except ConfigError as exc:
                if sweep_wide(str(exc), sweep.jobs):  # the same for every job: one clean line
                    raise
                swept = " ".join(o for o in job_overrides if "=" in o)
                raise ConfigError(f"{exc}  [job: {swept}]") from None
            beyond.extend(_workers_beyond(cfg, topo))
            duplicate = duplicate_key(cfg)
            if duplicate is not None and duplicate in seen:
                skipped.append(job_overrides)  # e.g. sequential again, with only `workers` changed
                skipped_why.append((str(cfg.backend.name), ignored_by(cfg)))
                continue
            seen.add(duplicate)
            kept.append(job_overrides)
            checked.append(cfg)
        sweep.jobs = kept
        if budget_s is not None:
            check_race_jobs(checked)
        _check_workers_beyond(beyond, overrides)
        if resume:
            check_resume_jobs(resume, sweep.jobs, skipped)
        rounds = check_rounds(sweep.base, sweep.jobs)
        sweeper = str(OmegaConf.select(sweep.base, "hydra.sweeper._target_", default="") or "")
        if rounds > 1 and not sweeper.endswith("CoresweepSweeper"):
            print(
                f"coresweep: note: hydra/sweeper={sweeper.rsplit('.', 1)[-1]} runs every job once "
                f"(rounds={rounds} is coresweep's sweeper's, the default); its intervals leave out "
                "the drift between jobs",
                file=sys.stderr,
            )
            rounds = 1
    GlobalHydra.instance().clear()
    LAST_SWEEP_PLAN["skipped_jobs"] = [list(job) for job in skipped]
    # What coresweep's sweeper runs: these jobs, `rounds` times (schedule.py).
    task_lines = [o for o in overrides + sweep.extra_overrides if not o.startswith(("hydra.", "hydra/"))]
    LAST_SWEEP_PLAN["planned"] = {"arguments": task_lines, "jobs": [list(job) for job in kept]}
    LAST_SWEEP_PLAN["composed"] = composed
    LAST_SWEEP_PLAN["rounds"] = 1 if budget_s is not None else rounds  # a race's rounds are its own
    LAST_SWEEP_PLAN["race_budget_s"] = budget_s
    LAST_SWEEP_PLAN["configurations"] = len(sweep.jobs)
    _note_skipped(skipped, skipped_why, overrides)
    if any(str(c.workload.get("verify", "auto")) == "none" for c in checked):
        print(
            "coresweep: warning: workload.verify=none: no result is checked against the sequential "
            "answer, so a wrong answer would count as a fast one (the report says so at its top)",
            file=sys.stderr,
        )
    if checked and not any(c.backend.name == "sequential" for c in checked):
        print(
            "coresweep: note: this sweep has no backend=sequential, so the report can show times "
            "but no speedups; add sequential to backend=... for a baseline",
            file=sys.stderr,
        )
    _check_launcher(sweep.base, len(sweep.jobs))
    cpus_values = {str(c.get("cpus")) for c in checked}
    LAST_SWEEP_PLAN["cpus"] = checked[0].get("cpus") if len(cpus_values) == 1 and checked else None
    from .launch.interpreter import describe_selected

    LAST_SWEEP_PLAN["interpreters"] = describe_selected(c.get("python") for c in checked)
    report = sweep.base.get("report", True)
    if not isinstance(report, bool):  # report=no would be a true string: a report nobody asked for
        raise ConfigError(f"report={report}: choose true or false")
    LAST_SWEEP_PLAN["report"] = report
    return _appended_where_absent(argv) + sweep.extra_overrides, len(sweep.jobs)


def _appended_where_absent(argv: list[str]) -> list[str]:
    """``workload.KEY=v`` as ``+workload.KEY=v`` where the workload Hydra composes first has no KEY.

    In ``-m workload=cpu_python,custom workload.fn=mod:f`` the key belongs to one swept workload
    (preflight checked that, and each job gets it only where it applies), but Hydra applies the
    fixed overrides to the primary config first, whose workload is the default one, and stops
    with "Could not override". Appending it there is harmless: no job of another workload reads it.
    """
    from hydra import compose as hydra_compose
    from hydra import initialize_config_module
    from hydra.core.global_hydra import GlobalHydra

    # What Hydra composes first in a multirun: the defaults with every override that is not a
    # sweep (a preset such as +experiment=patterns picks the workload too).
    sweeps = (",", "choice(", "range(", "glob(", "interval(")
    given = [
        a
        for a in argv
        if "=" in a
        and not a.lstrip("+~").startswith(("workload.", "hydra.", "hydra/"))
        and not any(m in a.split("=", 1)[1] for m in sweeps)
    ]
    try:
        GlobalHydra.instance().clear()
        with initialize_config_module("coresweep.conf", version_base="1.3", job_name="coresweep"):
            primary = hydra_compose(CONFIG_NAME, overrides=given)
        GlobalHydra.instance().clear()
    except Exception:  # preflight composed every job already; leave the command as it is
        return argv
    keys = set(primary.workload.keys()) if "workload" in primary else set()
    out = []
    for arg in argv:
        key = arg.split("=", 1)[0]
        value = arg.split("=", 1)[1] if "=" in arg else ""
        swept = any(m in value for m in sweeps)  # a sweep is applied per job, never to the primary
        if key.startswith("workload.") and "=" in arg and not swept and key.split(".", 2)[1] not in keys:
            arg = "+" + arg
        out.append(arg)
    return out


#: Thread workers beyond this many per usable CPU are named in a note (never refused: the
#: oversubscription preset asks for 8x the cores on purpose, and IO waits want many threads).
THREADS_PER_CPU_NOTED = 4


def _workers_beyond(cfg: DictConfig, topo: Any) -> list[tuple[str, str]]:
    """What a job's worker count means when it passes its tasks, or (threads) the CPUs by far."""
    from .machine.topology import job_topology
    from .plan.sweep import backend_class

    cls = backend_class(cfg)
    workers, tasks = cfg.get("workers"), OmegaConf.select(cfg, "workload.size")
    if cls.single_worker or not isinstance(workers, int) or not isinstance(tasks, int):
        return []
    found = []
    if workers > tasks:
        found.append(
            (
                f"workers={workers}: more than the {tasks} tasks of workload={cfg.workload.name} "
                f"(workload.size={tasks}), so at most {tasks} workers ever get one while rows would "
                f"record {workers}; use workers <= {tasks} or a larger workload.size",
                "tasks",
            )
        )
    if topo is not None and not cls.uses_processes:
        usable = job_topology(cfg.get("cpus"), topo)[0].logical_cores
        if workers > THREADS_PER_CPU_NOTED * usable:
            found.append(
                (
                    f"workers={workers} threads on {usable} usable CPU{'s' if usable > 1 else ''} "
                    f"(backend={cfg.backend.name}): at most {usable} run at a time, the rest wait "
                    "their turn (this measures oversubscription)",
                    "cpus",
                )
            )
    return found


def _check_workers_beyond(beyond: list[tuple[str, str]], overrides: list[str]) -> None:
    """A worker count the command line gives beyond the tasks is refused: its extra workers
    would get nothing to do while rows record them. The same from workers=auto or a preset
    gets one note line, and so do threads far beyond the CPUs when the command line asks for
    them (a preset that asks, oversubscription or io_bound, asks on purpose)."""
    given = [
        o
        for o in overrides
        if o.lstrip("+~").partition("=")[0] == "workers" and "auto" not in o.partition("=")[2]
    ]
    tasks = [text for text, kind in beyond if kind == "tasks"]
    if tasks and given:
        raise ConfigError(tasks[0])
    if not given:  # a preset's (or the ladder's) threads beyond the CPUs are its question
        beyond = [(text, kind) for text, kind in beyond if kind == "tasks"]
    if beyond:
        others = len(beyond) - 1
        more = f" (and {others} more such job{'s' if others > 1 else ''})" if others else ""
        print(f"coresweep: note: {beyond[0][0]}{more}", file=sys.stderr)


def _note_skipped(
    skipped: list[list[str]], why: list[tuple[str, tuple[str, ...]]], overrides: list[str]
) -> None:
    """One line when jobs the user's own command line asked for were left out because their
    backend ignores a key they list (a preset's own lists are planned that way: no note)."""
    # Keys the command line sweeps over several values (a single value skips nothing).
    given = {
        o.lstrip("+~").split("=", 1)[0]
        for o in overrides
        if "=" in o and any(m in o.split("=", 1)[1] for m in (",", "range(", "glob("))
    }
    ignored: dict[str, list[str]] = {}
    count = 0
    for backend, keys in why:
        mine = [k for k in keys if k in given]
        if mine:
            count += 1
            ignored.setdefault(backend, [])
            ignored[backend] += [k for k in mine if k not in ignored[backend]]
    if not count:
        return
    parts = [f"backend={b} ignores {' and '.join(keys)}" for b, keys in sorted(ignored.items())]
    print(
        f"coresweep: note: {count} job{'s' if count > 1 else ''} skipped: {'; '.join(parts)}, "
        "so it runs once per configuration (its runs serve every value of those keys)",
        file=sys.stderr,
    )


def _check_launcher(base: DictConfig, jobs: int) -> None:
    """Warn (one line, and in environment.json) when jobs would be timed at the same time."""
    from .callbacks import LAST_SWEEP_PLAN
    from .launch.launchers import DEAD_JOBS, concurrency_warning, launcher_info, launcher_refusal

    info = launcher_info(base.hydra, jobs, os.cpu_count())
    refusal = launcher_refusal(info)
    if refusal:
        raise ConfigError(refusal)
    DEAD_JOBS.clear()
    info["warning"] = concurrency_warning(info)
    if info["warning"]:
        print(f"coresweep: warning: {info['warning']}", file=sys.stderr)
    LAST_SWEEP_PLAN["launcher"] = info


def main(argv: list[str] | None = None) -> int:
    """Console entry point; returns 0 (all verified), 1 (some run failed), 2 (bad input)."""
    from hydra._internal.utils import get_args_parser

    from .callbacks import LAST_SWEEP, LAST_SWEEP_PLAN

    argv = list(sys.argv[1:] if argv is None else argv)
    # Hydra's argparse rejects overrides on both sides of -m (`a=1 -m b=1,2`); every coresweep
    # run is a multirun anyway, so -m may stand anywhere: move it to the front.
    multirun = [t for t in argv if t in ("-m", "--multirun")]
    argv = multirun[:1] + [t for t in argv if t not in ("-m", "--multirun")]
    prog = "coresweep"
    try:
        args = get_args_parser().parse_args(argv)
    except SystemExit as exc:  # argparse already printed its one-line usage error
        return EXIT_BAD_INPUT if exc.code else EXIT_OK
    hydra_argv = argv
    LAST_SWEEP_PLAN.clear()
    LAST_SWEEP.clear()
    composed = ComposedConfigs()
    if not _passthrough(args):
        if report_wanted(argv):
            BUILDER.start()  # imports the report's libraries on the core planning leaves idle
        ISOLATION.start_server(wait=False)  # the job server imports the runner there too
        try:
            hydra_argv, njobs = preflight(argv, composed)
        except ConfigError as exc:
            BUILDER.close()
            ISOLATION.close()
            print(f"{prog}: error: {exc}", file=sys.stderr)
            return EXIT_BAD_INPUT
        # Job runs: each job once per round.
        runs = njobs * int(LAST_SWEEP_PLAN.get("rounds") or 1)
        if LAST_SWEEP_PLAN.get("race_budget_s"):
            runs = None  # a race's job runs are known at its end
        LAST_SWEEP_PLAN.update(jobs=runs, argv=[prog, *argv])
        if LAST_SWEEP_PLAN.get("report", True):
            BUILDER.wait_ready()  # before the first job: nothing of it runs beside a timed run
        else:
            BUILDER.close()
    saved = sys.argv, signal.getsignal(signal.SIGTERM)
    sys.argv = [prog, *hydra_argv]
    # SIGTERM (a scheduler's stop, `kill`) gets the same clean ending as Ctrl-C.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        _hydra_app()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if code:
            return code
    except KeyboardInterrupt:
        return _interrupted(LAST_SWEEP.get("sweep_dir"))
    finally:
        sys.argv = saved[0]
        signal.signal(signal.SIGTERM, saved[1])
        LAST_SWEEP["jobs_composed_once"] = composed.hits
        LAST_SWEEP_PLAN.pop("composed", None)
        ISOLATION.close()
        BUILDER.close()
    if LAST_SWEEP.get("failed_runs") or LAST_SWEEP.get("report_error"):
        return EXIT_FAILED_RUNS
    return EXIT_OK


_MAIN_PID = os.getpid()


def _interrupt(signum: int, frame: Any) -> None:
    if os.getpid() != _MAIN_PID:  # a forked worker inherited this handler: just end
        os._exit(128 + signum)
    raise KeyboardInterrupt


def _interrupted(sweep_dir: str | None) -> int:
    """Ctrl-C/SIGTERM: stop every worker, keep every row, write the partial report; one line."""
    from .callbacks import LAST_SWEEP, LAST_SWEEP_PLAN
    from .job.runner import kill_children
    from .launch.isolation import STOPPED

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut this short
    try:
        stop_progress = LAST_SWEEP.pop("stop_progress", None)
        if stop_progress is not None:
            stop_progress()
        ISOLATION.close()  # the job's child was stopped already (isolation.run_isolated)
        stopped = STOPPED["processes"] + kill_children()
        STOPPED["processes"] = 0
        done = [tuple(d) for d in LAST_SWEEP.get("runs_done", [])]
        planned = int(LAST_SWEEP_PLAN.get("jobs") or 0)
        what = "jobs" if int(LAST_SWEEP_PLAN.get("rounds") or 1) == 1 else "job runs"
        line = f"coresweep: interrupted: {len(done)} of {planned or '?'} {what} done"
        processes = f"{stopped} process{'es' if stopped != 1 else ''} stopped"
        report = None
        if sweep_dir and any(Path(sweep_dir).glob("*/results.jsonl")):
            _write_interrupted(Path(sweep_dir), done, planned)
            if not LAST_SWEEP_PLAN.get("report", True):  # report=false: no report, partial or whole
                line += f"; rows are in {sweep_dir}"
            else:
                try:
                    report = BUILDER.build(Path(sweep_dir))
                    line += f"; partial report {report}"
                except Exception as exc:
                    line += f"; partial report failed ({exc}), rows are in {sweep_dir}"
            line += f"; {processes}; finish with the same command and resume={sweep_dir}"
        else:
            line += f"; nothing measured yet; {processes}"
        # On a terminal, over the "^C" the terminal echoed.
        print(("\r" if sys.stderr.isatty() else "") + line, file=sys.stderr, flush=True)
        if report is not None:
            print(f"report: {report}", flush=True)  # the result: stdout, as at a sweep's end
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    return EXIT_INTERRUPTED


def _write_interrupted(sweep_dir: Path, done: list[tuple], planned: int) -> None:
    """``interrupted.json``: which job runs ended and which did not, for the partial report."""
    import json
    import time

    from .callbacks import LAST_SWEEP_PLAN
    from .job.records import INTERRUPTED_FILE

    jobs = (LAST_SWEEP_PLAN.get("planned") or {}).get("jobs") or []
    rounds = int(LAST_SWEEP_PLAN.get("rounds") or 1)
    finished = set(done)
    not_run = []
    for num, overrides in enumerate(jobs):
        missing = [r + 1 for r in range(rounds) if (num, r) not in finished]
        if missing:
            shown = " ".join(o for o in overrides if not o.startswith(("hydra", "schedule.")))
            not_run.append({"job": num, "overrides": shown, "rounds_missing": missing})
    record = {
        "interrupted_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "job_runs_done": len(done),
        "job_runs_planned": planned,
        "rounds": rounds,
        "not_run": not_run,
    }
    try:
        (sweep_dir / INTERRUPTED_FILE).write_text(json.dumps(record, indent=2), encoding="utf-8")
    except OSError:
        pass


def entry() -> None:
    try:
        code = main()
    finally:  # the report process (started by entry.prepare) and the job server, however main ended
        BUILDER.close()
        ISOLATION.close()
    # Tearing the interpreter down (freeing every object of Hydra, pandas, matplotlib...) took
    # ~0.4 s of every sweep's wall time (benchmarks/overhead.py). Run the exit handlers
    # (logging, multiprocessing, loky), flush, and leave without that teardown, unless a
    # non-daemon thread is still running (then exit normally, which waits for it).
    import atexit
    import threading

    others = [t for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon]
    if any(t.is_alive() for t in others):
        sys.exit(code)
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    entry()
