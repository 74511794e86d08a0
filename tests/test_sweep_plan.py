"""Planning a sweep: a backend that ignores ``workers`` (sequential) runs once, not once per
worker count, unless something it measures follows the workers."""

from __future__ import annotations

from pathlib import Path

import pytest

from coresweep.experiments.callbacks import LAST_SWEEP_PLAN
from coresweep.experiments.cli import preflight
from coresweep.experiments.plan.composed import ComposedConfigs


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    LAST_SWEEP_PLAN.clear()


def test_sequential_runs_once_per_configuration_not_per_worker_count(capsys) -> None:
    sweep = ["-m", "backend=sequential,thread_pool", "workers=1,2,4", "workload=cpu_python,io_sleep"]
    _, jobs = preflight(sweep)
    # 2 workloads x (1 sequential + 3 thread_pool) instead of 2 x (3 + 3)
    assert jobs == 8
    skipped = LAST_SWEEP_PLAN["skipped_jobs"]
    assert len(skipped) == 4 and all("backend=sequential" in job for job in skipped)
    assert {o for job in skipped for o in job if o.startswith("workers=")} == {"workers=2", "workers=4"}
    err = capsys.readouterr().err
    assert "4 jobs skipped: backend=sequential ignores workers" in err and err.count("\n") == 1


def test_default_sweep_job_count() -> None:
    _, jobs = preflight([], ComposedConfigs())  # as the command plans it (derived compositions)
    assert jobs == 26  # 6 parallel backends x 2 worker counts x 2 workloads + sequential x 2 workloads


def test_sequential_whose_work_follows_the_workers_is_kept(capsys) -> None:
    # Weak scaling: size = 32 x workers, so each sequential job measures different work.
    _, jobs = preflight(["-m", "+experiment=weak_scaling", "backend=sequential", "workers=1,2"])
    assert jobs == 2 and LAST_SWEEP_PLAN["skipped_jobs"] == []
    assert "skipped" not in capsys.readouterr().err


def test_nothing_skipped_when_sequential_differs_in_another_key() -> None:
    _, jobs = preflight(["-m", "backend=sequential", "workload=cpu_python", "workers=1,2", "repeats=2,3"])
    assert jobs == 2  # one per repeats value; workers alone never makes a second one


def test_a_sweep_that_ran_sequential_per_worker_count_is_not_resumed_silently(tmp_path: Path, capsys) -> None:
    # Folders from before: job 1 was sequential at workers=2, which this version skips.
    from coresweep.experiments.cli import main

    old = tmp_path / "old"
    jobs = [["backend=sequential", "workers=1"], ["backend=sequential", "workers=2"],
            ["backend=thread_pool", "workers=1"], ["backend=thread_pool", "workers=2"]]
    for num, job in enumerate(jobs):
        (old / str(num) / ".hydra").mkdir(parents=True)
        (old / str(num) / ".hydra" / "overrides.yaml").write_text(
            "".join(f"- {o}\n" for o in [*job, "workload=cpu_python"])
        )
    (old / "environment.json").write_text("{}")
    argv = ["-m", "backend=sequential,thread_pool", "workers=1,2", "workload=cpu_python", f"resume={old}"]
    assert main(argv) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "which this version skips" in line and f"coresweep-report {old}" in line


def test_resume_passes_over_a_record_cut_by_a_kill(tmp_path: Path) -> None:
    """A sweep killed while a job's .hydra/overrides.yaml was being written left it empty (the job
    never ran): resume runs that job instead of refusing the folder."""
    from coresweep.experiments.errors import ConfigError
    from coresweep.experiments.plan.sweep import check_resume_jobs

    jobs = [["backend=pool", "workers=1"], ["backend=pool", "workers=2"]]
    (tmp_path / "0" / ".hydra").mkdir(parents=True)
    (tmp_path / "0" / ".hydra" / "overrides.yaml").write_text("- backend=pool\n- workers=1\n")
    (tmp_path / "1" / ".hydra").mkdir(parents=True)
    (tmp_path / "1" / ".hydra" / "overrides.yaml").write_text("")
    check_resume_jobs(str(tmp_path), jobs)
    (tmp_path / "1" / ".hydra" / "overrides.yaml").write_text("- backend=thread\n- workers=2\n")
    with pytest.raises(ConfigError, match="job 1 was"):
        check_resume_jobs(str(tmp_path), jobs)


def test_hydra_records_are_written_whole(tmp_path: Path) -> None:
    """.hydra files go through a temporary file and a rename: none is left behind."""
    from omegaconf import OmegaConf

    from coresweep.experiments.launch.hydra_job import _save_config

    _save_config(OmegaConf.create(["backend=pool", "workers=2"]), "overrides.yaml", tmp_path / ".hydra")
    assert [p.name for p in (tmp_path / ".hydra").iterdir()] == ["overrides.yaml"]
    assert (tmp_path / ".hydra" / "overrides.yaml").read_text() == "- backend=pool\n- workers=2\n"


PRESETS = sorted(
    p.stem for p in (Path(__file__).resolve().parents[1] / "conf" / "experiment").glob("*.yaml")
)


@pytest.mark.slow  # every preset planned in full (the patterns preset alone: seconds)
@pytest.mark.parametrize("preset", PRESETS)
def test_no_preset_notes_about_itself(preset: str, capsys) -> None:
    """A preset is planned as it should run: no note about skipped jobs or a missing baseline.
    Planned as the command plans it, keeping each job's composition (jobs derived from a
    sibling's: tests/test_composed.py checks those equal Hydra's own; the patterns preset's
    260 jobs take seconds this way, not half a minute)."""
    _, jobs = preflight(["-m", f"+experiment={preset}"], ComposedConfigs())
    assert jobs > 0
    err = capsys.readouterr().err
    assert "note:" not in err and "warning:" not in err, err


def test_sequential_runs_once_whatever_start_method_and_pinning_list(capsys) -> None:
    _, jobs = preflight(["-m", "+experiment=start_methods"])
    skipped = LAST_SWEEP_PLAN["skipped_jobs"]
    # sequential once, not once per start method; 4 process backends x 3 start methods
    assert jobs == 1 + 4 * 3 and len(skipped) == 2
    assert all("backend=sequential" in job for job in skipped)
    argv = ["-m", "backend=sequential,thread_pool,pool", "start_method=fork,spawn", "workers=2"]
    argv.append("workload=io_sleep")
    _, jobs = preflight(argv)
    assert jobs == 1 + 1 + 2  # thread_pool has no start method either
    err = capsys.readouterr().err
    assert "2 jobs skipped: backend=sequential ignores start_method; backend=thread_pool ignores " in err
