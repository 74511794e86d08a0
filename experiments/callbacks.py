"""Hydra callback: environment at sweep start, progress per job, report at sweep end."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf
from rich.console import Console
from rich.markup import escape

from .job import records
from .launch.busy import BUSY_SHARE
from .machine.allocator import fix_allocator
from .machine.environment import NoiseMonitor, collect_environment, default_machine_name, noise_warnings
from .machine.topology import parse_cpus_option, restrict
from .machine.topology_state import current_topology
from .report_builder import BUILDER, ReportError

#: A job whose runs vary more than this (coefficient of variation) is flagged as noisy.
NOISY_CV = 0.10

#: What the last sweep of this process ended with; the CLI turns it into the exit status.
LAST_SWEEP: dict[str, Any] = {}


class SweepCallback(Callback):
    def __init__(self) -> None:
        self.console = Console(stderr=True, highlight=False, soft_wrap=True)
        self.total: int | None = None
        self.failed_jobs: list[str] = []
        self.failed_runs = 0
        self.jobs_done = 0

    def __getstate__(self) -> dict[str, Any]:
        # Launchers that run jobs in other processes (submitit) pickle the callbacks with the
        # job; a rich Console holds locks and the terminal, so each process makes its own.
        state = dict(self.__dict__)
        state.pop("console", None)
        state.pop("progress", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.console = Console(stderr=True, highlight=False, soft_wrap=True)

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        LAST_SWEEP.clear()
        sweep_dir = Path(config.hydra.sweep.dir)
        self.started = time.perf_counter()
        self.total = LAST_SWEEP_PLAN.get("jobs")
        topo = current_topology()
        cpus = LAST_SWEEP_PLAN.get("cpus")
        if cpus not in (None, "all"):
            # The whole sweep runs on a subset: record the machine as the sweep saw it.
            topo = restrict(topo, parse_cpus_option(cpus, topo))
        machine = OmegaConf.select(config, "machine") or default_machine_name()
        env = collect_environment(
            sweep_id=f"{sweep_dir.name}-{sweep_dir.parent.name}-{machine}",
            machine=machine,
            command=list(LAST_SWEEP_PLAN.get("argv") or ["coresweep", *sys.argv[1:]]),
            overrides=list(config.hydra.overrides.task),
            topology=topo.to_dict(),
            jobs_planned=self.total,
        )
        if LAST_SWEEP_PLAN.get("interpreters"):  # python=...: the interpreters jobs ran under
            env["interpreters"] = LAST_SWEEP_PLAN["interpreters"]
        env["launcher"] = LAST_SWEEP_PLAN.get("launcher")
        env["schedule"] = {  # coresweep's sweeper: every job once per round, a seeded order each
            "rounds": LAST_SWEEP_PLAN.get("rounds") or 1,
            "order_seed": OmegaConf.select(config, "order_seed", default=0),
            "configurations": LAST_SWEEP_PLAN.get("configurations"),
            "sweeper": OmegaConf.select(config, "hydra.sweeper._target_", default=None),
        }
        if LAST_SWEEP_PLAN.get("race_budget_s"):  # race=true: the race decides the rounds (race.json)
            env["schedule"].update(rounds=None, race=True, budget_s=LAST_SWEEP_PLAN["race_budget_s"])
        env["allocator"] = fix_allocator()
        if OmegaConf.select(config, "resume") and (sweep_dir / records.ENVIRONMENT_FILE).exists():
            # Keep the original record; each resumption adds its own beside it.
            stamp = env["timestamp"].replace(":", "").replace("+0000", "")
            (sweep_dir / f"environment.resumed-{stamp}.json").write_text(json.dumps(env, indent=2))
        else:
            records.write_environment(sweep_dir, env)
        LAST_SWEEP.update(sweep_dir=str(sweep_dir), failed_runs=0, failed_jobs=[])
        self.noise = NoiseMonitor()
        # Load and CPU share are machine-wide figures: compare them with the whole machine.
        self.logical_cpus = int(current_topology().counts().get("logical_cores") or 1)
        self.console.print(f"coresweep: {self._jobs_text()} → {sweep_dir}")

    def _jobs_text(self, runs: int | None = None) -> str:
        """``26 jobs``, or with rounds ``26 jobs x 3 rounds`` (``runs``: job runs done)."""
        budget = LAST_SWEEP_PLAN.get("race_budget_s")
        if budget:
            if runs is not None:
                return f"{runs} job runs"
            n = LAST_SWEEP_PLAN.get("configurations") or "?"
            return f"a race of {n} configurations within budget_s={budget:g}"
        rounds = int(LAST_SWEEP_PLAN.get("rounds") or 1)
        total = self.total if runs is None else runs
        if total is None:
            return "? jobs"
        if rounds > 1 and total % rounds == 0:
            return f"{total // rounds} jobs x {rounds} rounds"
        return f"{total} jobs" if rounds == 1 else f"{total} job runs"

    def _prefix(self, config: DictConfig) -> str:
        num = OmegaConf.select(config, "hydra.job.num", default=0)
        overrides = OmegaConf.select(config, "hydra.overrides.task", default=[]) or []
        shown = " ".join(o for o in overrides if not o.startswith(("hydra", "schedule."))).replace("\\:", ":")
        rounds = int(LAST_SWEEP_PLAN.get("rounds") or 1)  # 1 under another sweeper
        where = ""
        phase = LAST_SWEEP_PLAN.get("race_phase")  # race=true: "race round 3", "confirmation round 1/6"
        if phase:
            where = f" ({phase})"
        elif rounds > 1:
            where = f" (round {int(OmegaConf.select(config, 'schedule.round', default=0) or 0) + 1}/{rounds})"
        return f"[{num + 1}/{self.total or '?'}]{where} {shown or 'defaults'}"

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        # On a terminal, a progress bar (round, jobs done, ETA, the job running) above the
        # lines of the jobs done. It is redrawn only here and at job end: no refresh thread
        # runs while a job is timed.
        if self.console.is_terminal:
            self._progress_start(config)
        self.job_started = time.perf_counter()

    def _progress_start(self, config: DictConfig) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        if getattr(self, "progress", None) is None:
            self.progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                TextColumn("{task.fields[running]}"),
                console=self.console,
                auto_refresh=False,
                transient=True,
            )
            self.progress.start()
            LAST_SWEEP["stop_progress"] = self._progress_stop  # Ctrl-C: the CLI clears the bar
            self.task_id = self.progress.add_task("coresweep", total=self.total, running="")
        rounds = int(LAST_SWEEP_PLAN.get("rounds") or 1)  # 1 under another sweeper
        round_ = int(OmegaConf.select(config, "schedule.round", default=0) or 0) + 1
        overrides = OmegaConf.select(config, "hydra.overrides.task", default=[]) or []
        running = " ".join(o for o in overrides if o.split("=")[0] in ("backend", "workers", "workload"))
        phase = LAST_SWEEP_PLAN.get("race_phase")
        description = phase or f"round {round_}/{rounds}"
        self.progress.update(self.task_id, description=description, running=running)
        self.progress.refresh()

    def _progress_stop(self) -> None:
        if getattr(self, "progress", None) is not None:
            self.progress.stop()
            self.progress = None

    def on_job_end(self, config: DictConfig, job_return: Any, **kwargs: Any) -> None:
        self.jobs_done += 1
        # Which (job, round) ran to its end: an interrupted sweep's report lists the others.
        LAST_SWEEP.setdefault("runs_done", []).append(
            (
                int(OmegaConf.select(config, "schedule.job", default=-1) or 0),
                int(OmegaConf.select(config, "schedule.round", default=0) or 0),
            )
        )
        # The job's folder (the same in every round), as the summary names failed jobs.
        folder = Path(str(OmegaConf.select(config, "hydra.runtime.output_dir", default="") or "?")).name
        shown = self._prefix(config)
        if getattr(self, "progress", None) is not None:
            self.progress.update(self.task_id, completed=self.jobs_done)
            self.progress.refresh()
        seconds = time.perf_counter() - getattr(self, "job_started", time.perf_counter())
        try:
            outcome = job_return.return_value
        except Exception as exc:  # the job function itself crashed: a harness bug, say so
            self.failed_runs += 1  # nothing of it is measured: the exit status says so
            self._failed_job(folder)
            self.console.print(f"{shown} [red]crashed: {escape(str(exc))}[/red]")
            return
        if outcome is None:
            return
        self.console.print(f"{shown} {self._count(folder, outcome)}; job {seconds:.1f} s")

    def _failed_job(self, folder: str) -> None:
        if folder not in self.failed_jobs:  # with rounds, a job fails once per round at most
            self.failed_jobs.append(folder)

    def _count(self, num: str, outcome: Any) -> str:
        """Add a job's failures to the sweep's; returns its status for the progress line."""
        if outcome.n_failed:
            self.failed_runs += outcome.n_failed
            self._failed_job(num)
            status = f"[red]✗ {outcome.n_failed} failed[/red]: {escape(str(outcome.first_error))}"
        else:
            # Labelled: the median of one timed run; the job's own wall time comes after it.
            status = f"[green]✓[/green] median run {outcome.median_wall_s:.4f} s"
        if outcome.resumed:
            status += " (kept from the earlier run)"
        elif outcome.cv is not None:
            cv = f", CV {outcome.cv * 100:.0f} %"
            status += f"[yellow]{cv} (noisy)[/yellow]" if outcome.cv > NOISY_CV else cv
        share = getattr(outcome, "busy_share", None)
        reruns = getattr(outcome, "busy_reruns", 0)
        if (share is not None and share > BUSY_SHARE) or reruns:
            again = f"; rerun {reruns}×" if reruns else ""
            shown = "?" if share is None else f"{share:.0%}"
            status += f" [yellow](busy: other processes used {shown} of its CPUs{again})[/yellow]"
        return status

    def _count_jobs_run_elsewhere(self, sweep_dir: Path) -> None:
        """Jobs that ran in other processes (submitit) told this one nothing: read their rows."""
        from .launch.launchers import outcomes_from_disk

        for outcome, overrides in outcomes_from_disk(sweep_dir):
            self.jobs_done += 1
            prefix = f"[{int(outcome.job) + 1}/{self.total or '?'}] {overrides}"
            self.console.print(f"{prefix} {self._count(outcome.job, outcome)}")

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        self._progress_stop()
        sweep_dir = Path(config.hydra.sweep.dir)
        # The sweep ran to its end (a resumption included): its report is no longer partial.
        (sweep_dir / records.INTERRUPTED_FILE).unlink(missing_ok=True)
        if self.jobs_done == 0:
            self._count_jobs_run_elsewhere(sweep_dir)
        LAST_SWEEP.update(failed_runs=self.failed_runs, failed_jobs=list(self.failed_jobs))
        self._record_noise(sweep_dir)
        if not OmegaConf.select(config, "report", default=True):
            self._say_dead_jobs()
            self._say_choice()
            return
        try:
            index_html = BUILDER.build(sweep_dir)
        except ReportError as exc:  # results are on disk already; a report bug must not hide them
            LAST_SWEEP["report_error"] = str(exc)
            self.console.print(
                f"[red]coresweep: the report could not be built ({exc}); "
                f"results are in {sweep_dir}; retry with coresweep-report {sweep_dir}[/red]"
            )
            return
        elapsed = time.perf_counter() - self.started
        summary = f"{self._jobs_text(self.jobs_done)} in {elapsed:.1f} s"
        if self.failed_runs:
            jobs = ", ".join(self.failed_jobs)
            summary += f", [red]{self.failed_runs} failed runs (jobs {jobs})[/red]"
        self.console.print(f"coresweep: {summary}")
        self._say_dead_jobs()
        self._say_physics_flags(Path(index_html).parent)
        self._say_choice()
        # The command's result, on stdout (progress, warnings and errors are on stderr), so
        # `coresweep ... | tail -1` or `$(coresweep ...)` gets the report's path alone.
        print(f"report: {index_html}", flush=True)

    def _say_choice(self) -> None:
        """A race's answer: one sentence on stdout, before the report's line (the command's result)."""
        choice = LAST_SWEEP.get("choice")
        if choice and choice.get("sentence"):
            print(choice["sentence"], flush=True)

    def _say_physics_flags(self, report_dir: Path, shown: int = 10) -> None:
        """The report's physics checks (speedups the cores cannot give), on the terminal too."""
        try:
            lines = [ln for ln in (report_dir / "warnings.txt").read_text().splitlines() if ln.strip()]
        except OSError:
            return
        for line in lines[:shown]:
            self.console.print(f"[yellow]coresweep: warning: {escape(line)}[/yellow]")
        if len(lines) > shown:
            more = f"coresweep: … {len(lines) - shown} more in {report_dir / 'warnings.txt'}"
            self.console.print(f"[yellow]{escape(more)}[/yellow]")

    def _say_dead_jobs(self) -> None:
        """One error line per job whose process died (submitit launchers; see launchers.py)."""
        from .launch.launchers import DEAD_JOBS

        for job, overrides, why in DEAD_JOBS:
            which = f"job {int(job) + 1}/{self.total or '?'} ({overrides})"
            self.console.print(f"[red]coresweep: error: {which} died: {why}[/red]")

    def _record_noise(self, sweep_dir: Path) -> None:
        """Add the ``noise`` section to environment.json and warn about a busy machine."""
        monitor = getattr(self, "noise", None)
        if monitor is None:
            return
        noise = monitor.finish(self.logical_cpus)
        path = sweep_dir / records.ENVIRONMENT_FILE
        try:
            env = json.loads(path.read_text())
        except (OSError, ValueError):
            env = {}
        env["noise"] = noise
        records.write_environment(sweep_dir, env)
        for warning in noise_warnings(noise, self.logical_cpus):
            self.console.print(f"[yellow]coresweep: warning: {warning}[/yellow]")


#: Filled by the CLI before Hydra starts: the planned job count and the original argv.
LAST_SWEEP_PLAN: dict[str, Any] = {}
