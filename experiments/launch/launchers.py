"""Which Hydra launcher runs the jobs, and whether it times several at once on one machine.

coresweep's timings assume one job at a time on the machine: two jobs timed together share
the cores and slow each other down, and neither figure is then true. coresweep's launcher (the
default) and Hydra's basic one run jobs one after another; other plugin launchers may not.
``launcher_info`` says what the chosen launcher will do (recorded in ``environment.json``) and
``concurrency_warning`` turns that into the one line shown before the sweep starts.

With a launcher that runs jobs in other processes (submitit), the jobs' progress lines go to
the launcher's logs, not this terminal: ``outcomes_from_disk`` rebuilds the per-job summary
from the rows the jobs wrote, and ``record_death`` turns a job whose submitit process died (which
submitit reports by raising) into a failed row and one error line, so the sweep goes on: coresweep's
submitit launchers (hydra_plugins/coresweep_plugins/coresweep_submitit.py) call it; Hydra's own are
refused with the name of coresweep's (``launcher_refusal``). (The code measured runs in a process
of its own there too, see isolation.py: a crash of it
is a failed row written by the submitit process; this is for that process itself being killed,
by a scheduler's time limit or the OOM killer.)
"""

from __future__ import annotations

import json
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
    "hydra_plugins.coresweep_plugins.coresweep_submitit.CoresweepSubmititLocalLauncher",  # the same
    "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher",  # n_jobs at a time
    "hydra_plugins.hydra_ray_launcher.ray_launcher.RayLauncher",  # a local Ray cluster
)
#: Launchers that send jobs to other machines (a scheduler decides where they run).
CLUSTER = (
    "hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher",
    "hydra_plugins.coresweep_plugins.coresweep_submitit.CoresweepSlurmLauncher",
)

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
        current = [r for r in rows if not r.get("superseded")]  # busy=rerun: the last attempts
        outcomes.append((_outcome(path.parent.name, current), _overrides(path.parent)))
    return outcomes


def _overrides(job_dir: Path) -> str:
    """The job's overrides as Hydra recorded them (``<job>/.hydra/overrides.yaml``)."""
    try:
        listed = OmegaConf.load(job_dir / ".hydra" / "overrides.yaml")
    except (OSError, ValueError):
        return f"job {job_dir.name}"
    shown = [str(o) for o in listed if not str(o).startswith(("hydra.", "hydra/"))]  # type: ignore[union-attr]
    return " ".join(shown).replace("\\:", ":") or "defaults"


#: Jobs whose process died under coresweep's submitit launchers in this sweep: (job, overrides, why).
DEAD_JOBS: list[tuple[str, str, str]] = []

#: Hydra's own submitit launchers, and coresweep's subclasses of them to use instead.
HYDRA_SUBMITIT = {
    "hydra_plugins.hydra_submitit_launcher.submitit_launcher.LocalLauncher": "coresweep_submitit_local",
    "hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher": "coresweep_slurm",
}


def launcher_refusal(info: dict[str, Any]) -> str | None:
    """One line refusing Hydra's own submitit launchers: a job killed there (a time limit, the
    OOM killer) ends the whole sweep with a traceback and no report; coresweep's subclasses of
    them (hydra_plugins/coresweep_plugins/coresweep_submitit.py) make it a failed row."""
    instead = HYDRA_SUBMITIT.get(str(info.get("target") or ""))
    if instead is None:
        return None
    return (
        f"hydra/launcher={info['launcher']}: use hydra/launcher={instead} (the same submitit launcher, "
        "with the same hydra.launcher.* keys, where a job that is killed becomes a failed row instead "
        "of ending the sweep without a report)"
    )


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


def record_death(launcher: Any, job: Any, exc: BaseException, overrides: list[str], num: int) -> Any:
    """Write the dead job's failed row and stand in for its result (the sweep goes on)."""
    from hydra.core.utils import JobReturn, JobStatus

    from ..job.runner import record_dead_job
    from ..job.spec import JobSpec

    name = str(num)
    sweep_dir = Path(str(launcher.config.hydra.sweep.dir))
    shown = " ".join(o for o in overrides if not o.startswith(("hydra.", "hydra/"))).replace("\\:", ":")
    why = death_reason(job, exc)
    DEAD_JOBS.append((name, shown or "defaults", why))
    error = f"job process died: {why}"
    try:
        cfg = launcher.hydra_context.config_loader.load_sweep_config(launcher.config, overrides)
        record_dead_job(JobSpec.from_config(cfg), sweep_dir / name, sweep_dir, name, error)
    except Exception as problem:  # the error line still names the job; the row is a courtesy
        DEAD_JOBS[-1] = (name, shown or "defaults", f"{why} (no failed row written: {problem})")
    from ..job.runner import JobOutcome

    outcome = JobOutcome(job=name, n_ok=0, n_failed=1, median_wall_s=None, first_error=error)
    return JobReturn(overrides=overrides, status=JobStatus.COMPLETED, _return_value=outcome)
