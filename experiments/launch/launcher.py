"""coresweep's launcher at work: run a batch of jobs one at a time, each measured in isolation.

The Hydra plugin (``hydra_plugins/coresweep_plugins/coresweep_launcher.py``) stays light, as
Hydra imports it in every app; this module does the work. Per job it takes the config that
preflight composed (``composed.py``), sets the job's place in the plan (``schedule.*``), and
runs Hydra's ``run_job`` steps (output folder, ``.hydra/`` records, callbacks; with fewer
copies of the config: ``hydra_job.py``) around the job function, which plans the job here and
has it measured in a child (``isolation.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra.core.utils import JobReturn, configure_log, setup_globals
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from .hydra_job import run_job
from .isolation import ISOLATION

SCHEDULE_PREFIX = "schedule."


def launch_jobs(
    launcher: Any, job_overrides: Sequence[Sequence[str]], initial_job_idx: int
) -> list[JobReturn]:
    setup_globals()
    config: DictConfig = launcher.config
    configure_log(config.hydra.hydra_logging, config.hydra.verbose)
    Path(str(config.hydra.sweep.dir)).mkdir(parents=True, exist_ok=True)
    ISOLATION.start_server()  # before the first job; a no-op once started
    returns = []
    for idx, overrides in enumerate(job_overrides):
        num = initial_job_idx + idx
        cfg = job_config(launcher, list(overrides))
        with read_write(cfg.hydra), open_dict(cfg):
            cfg.hydra.job.id = num
            cfg.hydra.job.num = num
            if OmegaConf.select(cfg, "schedule.round", default=0):
                # Hydra's record of the job (.hydra/*.yaml) was written by its first round; the
                # later rounds differ only in schedule.* (in their rows): ~15 ms a run saved.
                cfg.hydra.output_subdir = None
        returns.append(
            run_job(
                hydra_context=launcher.hydra_context,
                task_function=launcher.task_function,
                config=cfg,
                job_dir_key="hydra.sweep.dir",
                job_subdir_key="hydra.sweep.subdir",
            )
        )
    return returns


def job_config(launcher: Any, overrides: list[str]) -> DictConfig:
    """The job's config: preflight's, with this run's ``schedule.*``; else composed now."""
    from ..callbacks import LAST_SWEEP_PLAN

    master: DictConfig = launcher.config
    task = [o for o in overrides if not o.startswith(SCHEDULE_PREFIX)]
    schedule = [o for o in overrides if o.startswith(SCHEDULE_PREFIX)]
    composed = LAST_SWEEP_PLAN.get("composed")
    hydra_lines = [str(o) for o in master.hydra.overrides.hydra]
    kept = composed.get(hydra_lines, task) if composed is not None else None
    if kept is None:
        return launcher.hydra_context.config_loader.load_sweep_config(master, overrides)
    # The same object in every round (run_job copies what it keeps); Hydra left its node
    # read-only after the job's earlier round.
    cfg = kept
    OmegaConf.set_readonly(cfg.hydra, False)
    with read_write(cfg), open_dict(cfg):
        for line in schedule:
            key, _, value = line.partition("=")
            OmegaConf.update(cfg, key, _value(value), merge=False)
        cfg.hydra.overrides.task = [*task, *schedule]
    OmegaConf.copy_cache(from_config=master, to_config=cfg)  # ${now:} resolves as the sweep's
    return cfg


def _value(text: str) -> Any:
    try:
        return int(text)
    except ValueError:
        return None if text == "null" else text
