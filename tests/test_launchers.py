"""Hydra launchers: concurrency is warned about and recorded; submitit jobs (other processes)
land where coresweep-report finds them, and the sweep still ends with its report and status."""

from __future__ import annotations

import json
import os
import pickle
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_module
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf

from coresweep.experiments.callbacks import LAST_SWEEP_PLAN, SweepCallback
from coresweep.experiments.launch.launchers import concurrency_warning, launcher_info

from . import early

ROOT = Path(__file__).resolve().parents[1]


def _has_submitit() -> bool:
    try:
        import hydra_plugins.hydra_submitit_launcher  # noqa: F401
    except ImportError:
        return False
    return True


needs_submitit = pytest.mark.skipif(not _has_submitit(), reason="hydra-submitit-launcher not installed")


def _hydra(overrides: list[str]):
    GlobalHydra.instance().clear()
    with initialize_config_module("coresweep.conf", version_base="1.3"):
        cfg = compose("config", overrides=overrides, return_hydra_config=True)
    GlobalHydra.instance().clear()
    return cfg.hydra


def test_default_launcher_is_serial_and_silent() -> None:
    info = launcher_info(_hydra([]), jobs=28)
    assert info["launcher"] == "coresweep" and info["jobs_at_once"] == 1
    assert concurrency_warning(info) is None


@needs_submitit
def test_submitit_local_runs_a_batch_at_once_unless_batches_hold_one_job() -> None:
    info = launcher_info(_hydra(["hydra/launcher=coresweep_submitit_local"]), jobs=4)
    assert info["jobs_at_once"] == 4 and info["where"] == "this machine"
    warning = concurrency_warning(info)
    assert warning and "runs up to 4 jobs at the same time" in warning
    assert "hydra.sweeper.max_batch_size=1" in warning
    one_at_a_time = ["hydra/launcher=coresweep_submitit_local", "hydra.sweeper.max_batch_size=1"]
    one = launcher_info(_hydra(one_at_a_time), jobs=4)
    assert one["jobs_at_once"] == 1 and concurrency_warning(one) is None


@needs_submitit
def test_slurm_jobs_run_on_the_cluster() -> None:
    hydra_cfg = _hydra(["hydra/launcher=coresweep_slurm", "hydra.launcher.array_parallelism=3"])
    info = launcher_info(hydra_cfg, jobs=10)
    assert info["where"] == "cluster" and info["jobs_at_once"] == 3
    assert concurrency_warning(info) is None


def test_joblib_launcher_counts_its_n_jobs() -> None:
    target = "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher"
    cfg = OmegaConf.create({"launcher": {"_target_": target, "n_jobs": -1}, "sweeper": {}})
    assert launcher_info(cfg, jobs=8, cpu_count=2)["jobs_at_once"] == 2
    cfg.launcher.n_jobs = 1
    assert concurrency_warning(launcher_info(cfg, jobs=8)) is None


def test_an_unknown_launcher_is_flagged() -> None:
    cfg = OmegaConf.create({"launcher": {"_target_": "mylab.launchers.Fancy"}, "sweeper": {}})
    warning = concurrency_warning(launcher_info(cfg, jobs=3))
    assert warning and "cannot tell" in warning


@needs_submitit
def test_preflight_prints_one_warning_line_and_records_it(capsys) -> None:
    from coresweep.experiments.cli import preflight

    preflight(["-m", "hydra/launcher=coresweep_submitit_local", "backend=sequential,thread_pool", "workers=1",
               "workload=cpu_python"])
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if "warning" in ln]
    assert len(lines) == 1 and "coresweep_submitit_local runs up to 2 jobs at the same time" in lines[0]
    assert LAST_SWEEP_PLAN["launcher"]["jobs_at_once"] == 2


@needs_submitit
@pytest.mark.parametrize(("hydras", "ours"), [("submitit_local", "coresweep_submitit_local"),
                                              ("submitit_slurm", "coresweep_slurm")])
def test_hydras_own_submitit_launchers_are_refused_naming_coresweeps(hydras: str, ours: str) -> None:
    # Under them a killed job ends the sweep with a traceback and no report.
    out = subprocess.run(
        [sys.executable, "-m", "coresweep.experiments.entry", f"hydra/launcher={hydras}",
         "backend=sequential", "workers=1", "workload=cpu_python"],
        capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 2 and out.stdout == ""
    (line,) = out.stderr.splitlines()
    assert f"hydra/launcher={hydras}: use hydra/launcher={ours}" in line


@needs_submitit
def test_coresweeps_submitit_launchers_subclass_hydras_and_patch_nothing() -> None:
    import submitit
    from hydra_plugins.hydra_submitit_launcher import submitit_launcher as hydras

    from hydra_plugins.coresweep_plugins import coresweep_submitit as ours

    def bases(cls: type) -> set[str]:  # by name: Hydra's plugin scan may import a module twice
        return {f"{c.__module__}.{c.__qualname__}" for c in cls.__mro__}

    assert f"{hydras.__name__}.LocalLauncher" in bases(ours.CoresweepSubmititLocalLauncher)
    assert f"{hydras.__name__}.SlurmLauncher" in bases(ours.CoresweepSlurmLauncher)
    info = launcher_info(_hydra(["hydra/launcher=coresweep_slurm"]), jobs=2)
    assert info["target"] == ours.SLURM_TARGET and info["where"] == "cluster"
    # Their own functions, not stand-ins defined elsewhere (a patch would name its definer).
    assert hydras.BaseSubmititLauncher.launch.__qualname__ == "BaseSubmititLauncher.launch"
    assert submitit.Job.results.__qualname__ == "Job.results"
    source = (ROOT / "experiments" / "launch" / "launchers.py").read_text()
    assert "submitit.Job.results =" not in source and "BaseSubmititLauncher.launch =" not in source


def test_the_callback_survives_pickling() -> None:
    # submitit pickles the callbacks with each job; the terminal console is made anew there.
    callback = SweepCallback()
    callback.total = 7
    copy = pickle.loads(pickle.dumps(callback))
    assert copy.total == 7 and copy.console is not callback.console


def test_a_job_run_on_another_host_is_labelled_with_that_host(tmp_path: Path) -> None:
    from coresweep.experiments.job.runner import run_job
    from coresweep.experiments.job.spec import JobSpec
    from coresweep.experiments.machine.environment import default_machine_name
    from coresweep.experiments.machine.topology_state import current_topology

    GlobalHydra.instance().clear()
    with initialize_config_module("coresweep.conf", version_base="1.3"):
        cfg = compose("config", overrides=[
            "backend=sequential", "workload=cpu_python", "workload.size=2", "workload.grain=10",
            "repeats=1", "warmup=0", "min_time_s=0",
        ])
    GlobalHydra.instance().clear()
    machines = {}
    for host in ("login-node", default_machine_name()):
        sweep = tmp_path / host
        sweep.mkdir()
        (sweep / "environment.json").write_text(json.dumps({"machine": "the-sweep", "hostname": host}))
        spec = JobSpec.from_config(cfg)
        run_job(spec, job_dir=sweep / "0", sweep_dir=sweep, job="0", topology=current_topology())
        machines[host] = json.loads((sweep / "0" / "results.jsonl").read_text().splitlines()[0])["machine"]
    # SLURM ran it elsewhere: the rows name the host that ran them, not the one that submitted.
    assert machines == {"login-node": default_machine_name(), default_machine_name(): "the-sweep"}


def submitit_local_sweep(sweep: Path, *overrides: str) -> list[str]:
    """The command of a sweep under submitit_local, one job at a time, into ``sweep``."""
    return [
        sys.executable, "-m", "coresweep.experiments.entry", "hydra/launcher=coresweep_submitit_local",
        "hydra.sweeper.max_batch_size=1", "-m", *overrides, "rounds=1", f"hydra.sweep.dir={sweep}",
    ]


@pytest.mark.slow
@needs_submitit
def test_submitit_local_two_jobs_one_at_a_time_end_to_end(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    cmd = submitit_local_sweep(
        sweep, "backend=sequential,process_pool", "workers=2", "workload=cpu_python",
        "workload.size=8", "workload.grain=200", "repeats=2",
    )
    out = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "at the same time" not in out.stderr
    # Each job's rows are in <sweep>/<job>/results.jsonl, as with the default launcher.
    for job in ("0", "1"):
        rows = [json.loads(ln) for ln in (sweep / job / "results.jsonl").read_text().splitlines()]
        assert len(rows) == 2 and all(r["ok"] and r["verified"] for r in rows)
    env = json.loads((sweep / "environment.json").read_text())
    assert env["launcher"]["launcher"] == "coresweep_submitit_local" and env["launcher"]["jobs_at_once"] == 1
    assert env["noise"]  # the multirun-end callback ran in this process
    assert (sweep / "report" / "index.html").is_file()
    # The terminal still gets one line per job, rebuilt from the rows on disk.
    assert "[1/2] backend=sequential" in out.stderr and "[2/2] backend=process_pool" in out.stderr
    # One at a time: the second job started after the first had finished (submitit's own logs).
    spans = []
    for log in sorted(sweep.glob(".submitit/*/*_0_log.out"), key=lambda p: int(p.parent.name)):
        stamps = re.findall(r"submitit INFO \(([^)]+)\)", log.read_text())
        spans.append((stamps[0], stamps[-1]))
    assert len(spans) == 2 and spans[0][1] <= spans[1][0], spans


KILLED_TEST = "test_submitit_job_killed_outright_is_a_failed_row_and_one_error_line"


@pytest.fixture(scope="module", autouse=True)
def killed_sweep(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """The killed-job sweep mostly waits (submitit gives a job that left no result 15 s to
    write one): it starts with this module's first test and runs beside the others."""
    if not _has_submitit() or not early.selected(request, __file__, KILLED_TEST):
        yield None
        return
    folder = tmp_path_factory.mktemp("killed")
    sweep = folder / "sweep"
    # Job 1 (thread_pool) SIGKILLs the submitit process that runs it (the parent of the job's
    # own process) from a worker thread; jobs 0 and 2 finish.
    cmd = submitit_local_sweep(
        sweep, "backend=sequential,thread_pool,process_pool", "workers=2", "workload=custom",
        "workload.fn=tests.tasks:kill_parent_off_main_thread", "workload.size=4", "repeats=2",
        "min_time_s=0",
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # so every process can import tests.tasks
    with early.started(subprocess.run, cmd, cwd=folder, capture_output=True, text=True, timeout=300,
                       env=env) as future:
        yield sweep, future


@pytest.mark.slow
@needs_submitit
def test_submitit_job_killed_outright_is_a_failed_row_and_one_error_line(killed_sweep) -> None:
    sweep, future = killed_sweep  # started with the module's first test
    out = future.result()
    assert out.returncode == 1, out.stderr
    assert "Traceback" not in out.stderr and "UncompletedJobError" not in out.stderr
    # The rows of the jobs before and after it are kept; the dead job has one failed row.
    for job in ("0", "2"):
        rows = [json.loads(ln) for ln in (sweep / job / "results.jsonl").read_text().splitlines()]
        assert len(rows) == 2 and all(r["ok"] for r in rows)
    (dead,) = [json.loads(ln) for ln in (sweep / "1" / "results.jsonl").read_text().splitlines()]
    assert dead["ok"] is False and dead["job_died"] is True and dead["backend"] == "thread_pool"
    assert "without a result" in dead["error"] and "SIGKILL" in dead["error"]
    # One error line names the job, its overrides and why; the report is built all the same.
    errors = [ln for ln in out.stderr.splitlines() if ln.startswith("coresweep: error:")]
    assert len(errors) == 1, out.stderr
    assert "job 2/3 (backend=thread_pool workers=2" in errors[0] and "died:" in errors[0]
    assert (sweep / "report" / "index.html").is_file()
    assert "job process died" in (sweep / "report" / "index.html").read_text()
