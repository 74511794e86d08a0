"""Which Hydra launcher runs the jobs, and whether it times several at once on one machine.

coresweep's timings assume one job at a time on the machine: two jobs timed together share
the cores and slow each other down, and neither figure is then true. coresweep's launcher (the
default) and Hydra's basic one run jobs one after another; other plugin launchers may not.
``launcher_info`` says what the chosen launcher will do (recorded in ``environment.json``) and
``concurrency_warning`` turns that into the one line shown before the sweep starts.

With a launcher that runs jobs in other processes (submitit), the jobs' progress lines go to
the launcher's logs, not this terminal: ``outcomes_from_disk`` rebuilds the per-job summary
from the rows the jobs wrote, and ``surviving_dead_jobs`` turns a job whose submitit process
died (which submitit reports by raising) into a failed row and one error line, so the sweep goes
on. (The code measured runs in a process of its own there too, see isolation.py: a crash of it
is a failed row written by the submitit process; this is for that process itself being killed,
by a scheduler's time limit or the OOM killer.)
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from ..job import records

#: Launchers that run one job at a time (coresweep's: each in a process of its own).
SERIAL = (
    "hydra_plugins.coresweep_plugins.coresweep_launcher.CoresweepLauncher",
    "hydra._internal.core_plugins.basic_launcher.BasicLauncher",
)
#: Launchers that start the jobs of a batch together on this machine (how many: see below).
LOCAL_PARALLEL = (
    "hydra_plugins.hydra_submitit_launcher.submitit_launcher.LocalLauncher",  # every job of a batch
    "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher",  # n_jobs at a time
    "hydra_plugins.hydra_ray_launcher.ray_launcher.RayLauncher",  # a local Ray cluster
)
#: Launchers that send jobs to other machines (a scheduler decides where they run).
CLUSTER = ("hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher",)

#: The fix to show: Hydra's basic sweeper hands the launcher batches of this many jobs.
ONE_AT_A_TIME = "hydra.sweeper.max_batch_size=1"


def launcher_info(hydra_cfg: DictConfig, jobs: int, cpu_count: int | None = None) -> dict[str, Any]:
    """What the launcher of this sweep will do: its class, where jobs run, how many at once."""
    target = str(OmegaConf.select(hydra_cfg, "launcher._target_", default="") or "")
    choice = OmegaConf.select(hydra_cfg, "runtime.choices", default={}) or {}
    batch = OmegaConf.select(hydra_cfg, "sweeper.max_batch_size", default=None)
    at_most = max(1, min(jobs, int(batch)) if batch else jobs)
    info: dict[str, Any] = {
        "launcher": choice.get("hydra/launcher") or target.rsplit(".", 1)[-1],
        "target": target,
        "max_batch_size": batch,
        "where": "this machine",
        "jobs_at_once": None,  # None: coresweep cannot tell
    }
    if target in SERIAL:
        info["jobs_at_once"] = 1
    elif target in LOCAL_PARALLEL:
        n_jobs = OmegaConf.select(hydra_cfg, "launcher.n_jobs", default=None)
        if isinstance(n_jobs, int) and n_jobs != 0:  # joblib: -1 = every CPU, -2 = all but one...
            n_jobs = n_jobs if n_jobs > 0 else max(1, (cpu_count or 1) + 1 + n_jobs)
            at_most = min(at_most, n_jobs)
        info["jobs_at_once"] = at_most
    elif target in CLUSTER:
        info["where"] = "cluster"
        parallelism = OmegaConf.select(hydra_cfg, "launcher.array_parallelism", default=None)
        info["jobs_at_once"] = min(at_most, int(parallelism)) if parallelism else at_most
    else:
        info["where"] = "unknown"
    return info


def concurrency_warning(info: dict[str, Any]) -> str | None:
    """One line when jobs will (or may) be timed at the same time on one machine, else None."""
    name, at_once = info["launcher"], info["jobs_at_once"]
    if info["where"] == "this machine" and at_once is not None and at_once > 1:
        return (
            f"hydra/launcher={name} runs up to {at_once} jobs at the same time on this machine: they "
            f"share its cores, so every timing is corrupted; add {ONE_AT_A_TIME} to run them one at a time"
        )
    if info["where"] == "unknown":
        return (
            f"hydra/launcher={name}: coresweep cannot tell whether it runs jobs at the same time on "
            f"one machine (that would corrupt every timing); {ONE_AT_A_TIME} makes it run them one at a time"
        )
    return None


def outcomes_from_disk(sweep_dir: Path) -> list[tuple[Any, str]]:
    """Each job's outcome and overrides, read back from its folder (jobs that ran elsewhere)."""
    from ..job.runner import _outcome

    outcomes = []
    jobs = [p for p in sweep_dir.glob(f"*/{records.RESULTS_FILE}") if p.parent.name.isdigit()]
    for path in sorted(jobs, key=lambda p: int(p.parent.name)):
        rows = []
        for line in path.read_text().splitlines():
            try:
                rows.append(json.loads(line))
            except ValueError:
                continue  # a torn last line: the rows before it still count
        outcomes.append((_outcome(path.parent.name, rows), _overrides(path.parent)))
    return outcomes


def _overrides(job_dir: Path) -> str:
    """The job's overrides as Hydra recorded them (``<job>/.hydra/overrides.yaml``)."""
    try:
        listed = OmegaConf.load(job_dir / ".hydra" / "overrides.yaml")
    except (OSError, ValueError):
        return f"job {job_dir.name}"
    shown = [str(o) for o in listed if not str(o).startswith(("hydra.", "hydra/"))]  # type: ignore[union-attr]
    return " ".join(shown).replace("\\:", ":") or "defaults"


#: Jobs whose process died under a submitit launcher in this sweep: (job, overrides, why).
DEAD_JOBS: list[tuple[str, str, str]] = []

_SUBMITIT_LAUNCHER = "hydra_plugins.hydra_submitit_launcher.submitit_launcher"


@contextlib.contextmanager
def surviving_dead_jobs(target: str | None) -> Iterator[None]:
    """Under a submitit launcher, a job whose process dies (SIGKILL, the OOM killer, a time
    limit) becomes a failed row and one error line, and the sweep goes on.

    submitit raises for such a job when its result is collected, which would end the sweep
    with a traceback and no report. For this call only, the launcher's result collection
    answers instead with what ``record_dead_job`` wrote, so the jobs after it still run and
    the report is built from every row that landed. Other launchers are left as they are.
    """
    DEAD_JOBS.clear()
    if not str(target or "").startswith(_SUBMITIT_LAUNCHER):
        yield
        return
    import submitit
    from hydra_plugins.hydra_submitit_launcher.submitit_launcher import BaseSubmititLauncher

    original_launch = BaseSubmititLauncher.launch
    original_results = submitit.Job.results

    def results(job: Any) -> Any:
        try:
            return original_results(job)
        except (submitit.core.utils.UncompletedJobError, submitit.core.utils.FailedJobError) as exc:
            return [_Died(job, exc)]

    def launch(launcher: Any, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Any:
        returns = list(original_launch(launcher, job_overrides, initial_job_idx))
        for i, ret in enumerate(returns):
            if isinstance(ret, _Died):
                returns[i] = _record_death(launcher, ret, list(job_overrides[i]), initial_job_idx + i)
        return returns

    submitit.Job.results = results  # type: ignore[method-assign]
    BaseSubmititLauncher.launch = launch  # type: ignore[method-assign]
    try:
        yield
    finally:
        submitit.Job.results = original_results  # type: ignore[method-assign]
        BaseSubmititLauncher.launch = original_launch  # type: ignore[method-assign]


class _Died:
    """Stands for the result of a submitit job that ended without one."""

    def __init__(self, job: Any, exc: BaseException) -> None:
        self.job, self.exc = job, exc


def death_reason(job: Any, exc: BaseException) -> str:
    """Why a submitit job ended without a result, in one line, from what submitit knows."""
    import submitit

    state = str(getattr(job, "state", "") or "UNKNOWN")
    try:
        stderr = job.stderr() or ""
    except Exception:  # a log that was never written
        stderr = ""
    last = next((ln.strip() for ln in reversed(stderr.splitlines()) if ln.strip()), "")
    if isinstance(exc, submitit.core.utils.FailedJobError):
        why = f"it failed outside the job ({last or _first_line(exc)})"
    elif last:
        why = f"its process ended without a result (launcher state {state}); last error output: {last}"
    else:
        why = (
            f"its process ended without a result and without error output (launcher state {state}; "
            "exit status not recorded): killed from outside, e.g. SIGKILL, the OOM killer or a time limit"
        )
    try:
        log = f"; log: {job.paths.stdout}"
    except Exception:
        log = ""
    return why + log


def _first_line(exc: BaseException) -> str:
    return next((ln for ln in str(exc).splitlines() if ln.strip()), type(exc).__name__)


def _record_death(launcher: Any, died: _Died, overrides: list[str], num: int) -> Any:
    """Write the dead job's failed row and stand in for its result (the sweep goes on)."""
    from hydra.core.utils import JobReturn, JobStatus

    from ..job.runner import record_dead_job
    from ..job.spec import JobSpec

    job = str(num)
    sweep_dir = Path(str(launcher.config.hydra.sweep.dir))
    shown = " ".join(o for o in overrides if not o.startswith(("hydra.", "hydra/"))).replace("\\:", ":")
    why = death_reason(died.job, died.exc)
    DEAD_JOBS.append((job, shown or "defaults", why))
    error = f"job process died: {why}"
    try:
        cfg = launcher.hydra_context.config_loader.load_sweep_config(launcher.config, overrides)
        record_dead_job(JobSpec.from_config(cfg), sweep_dir / job, sweep_dir, job, error)
    except Exception as exc:  # the error line still names the job; the row is a courtesy
        DEAD_JOBS[-1] = (job, shown or "defaults", f"{why} (no failed row written: {exc})")
    from ..job.runner import JobOutcome

    outcome = JobOutcome(job=job, n_ok=0, n_failed=1, median_wall_s=None, first_error=error)
    return JobReturn(overrides=overrides, status=JobStatus.COMPLETED, _return_value=outcome)
