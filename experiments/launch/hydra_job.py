"""Hydra's ``run_job`` for one job of coresweep's launcher, with one copy of the config, not four.

Hydra's ``hydra.core.utils.run_job`` (1.3) makes two masked copies of the ``hydra`` node (it
sets ``HydraConfig`` twice), a deep copy of the whole config (then drops ``hydra`` from it) and
one more of ``hydra``: about 15 ms of a job's 30-45 ms outside its timed work on the 2-core
VM, in a sweep whose jobs last about a second. This runs the same steps in the same order
(``HydraConfig``, output folder, ``.hydra/`` records, job logging, ``env_set``, callbacks, the
task function, ``JobReturn``) with one masked copy of ``hydra`` and a copy of the task's part
alone. What a task function, a callback or a reader of ``.hydra/`` sees is the same: a test
runs both on the same job and compares them.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import yaml
from hydra import version
from hydra.core.hydra_config import HydraConfig
from hydra.core.utils import JobReturn, JobRuntime, JobStatus, _flush_loggers, configure_log, env_override
from hydra.types import HydraContext, TaskFunction
from omegaconf import AnyNode, DictConfig, OmegaConf, open_dict, read_write


def run_job(
    hydra_context: HydraContext,
    task_function: TaskFunction,
    config: DictConfig,
    job_dir_key: str = "hydra.sweep.dir",
    job_subdir_key: str | None = "hydra.sweep.subdir",
    configure_logging: bool = True,
) -> JobReturn:
    callbacks = hydra_context.callbacks
    old_cwd = os.getcwd()
    orig_hydra_cfg = HydraConfig.instance().cfg
    # Set for the evaluation of the folder's keys (they may use ${hydra:...}); the one copy.
    HydraConfig.instance().set_config(config)
    hydra_cfg = HydraConfig.instance().cfg
    assert isinstance(hydra_cfg, DictConfig)
    output_dir = str(OmegaConf.select(config, job_dir_key))
    if job_subdir_key is not None:
        output_dir = os.path.join(output_dir, str(OmegaConf.select(config, job_subdir_key)))
    for node in (config.hydra.runtime, hydra_cfg.hydra.runtime):  # Hydra sets it, then copies
        with read_write(node), open_dict(node):
            node.output_dir = os.path.abspath(output_dir)
    chdir = False
    try:
        ret = JobReturn()
        task_cfg = _without_hydra(config)
        ret.cfg = task_cfg
        # This job's own copy (HydraConfig gets a new one per job); Hydra hands a deep copy of
        # it, cut from the config: that cut is made once the job has ended (``finally``).
        ret.hydra_cfg = hydra_cfg
        overrides = OmegaConf.to_container(config.hydra.overrides.task)
        assert isinstance(overrides, list)
        ret.overrides = overrides
        Path(output_dir).mkdir(parents=True, exist_ok=True)
        chdir = hydra_cfg.hydra.job.chdir
        if chdir is None:  # as Hydra: False from version_base 1.2 on (coresweep's), else True
            chdir = not version.base_at_least("1.2")
        if chdir:
            os.chdir(output_dir)
            ret.working_dir = output_dir
        else:
            ret.working_dir = os.getcwd()
        if configure_logging:
            configure_log(config.hydra.job_logging, config.hydra.verbose)
        if config.hydra.output_subdir is not None:
            hydra_output = Path(config.hydra.runtime.output_dir) / Path(config.hydra.output_subdir)
            _save_config(task_cfg, "config.yaml", hydra_output)
            _save_config(hydra_cfg, "hydra.yaml", hydra_output)
            _save_config(config.hydra.overrides.task, "overrides.yaml", hydra_output)
        with env_override(hydra_cfg.hydra.job.env_set):
            callbacks.on_job_start(config=config, task_function=task_function)
            try:
                ret.return_value = task_function(task_cfg)
                ret.status = JobStatus.COMPLETED
            except Exception as e:  # as Hydra: the sweep's end reports it
                ret.return_value = e
                ret.status = JobStatus.FAILED
        ret.task_name = JobRuntime.instance().get("name")
        _flush_loggers()
        callbacks.on_job_end(config=config, job_return=ret)
        return ret
    finally:
        HydraConfig.instance().cfg = orig_hydra_cfg
        # As Hydra's copy: its interpolations no longer reach into the (kept, reused) config.
        hydra_cfg.hydra._set_parent(hydra_cfg)
        if chdir:
            os.chdir(old_cwd)


def _without_hydra(config: DictConfig) -> DictConfig:
    """A deep copy of ``config`` without its ``hydra`` node, which is never copied (a stand-in
    takes its place in the copy, then goes)."""
    task_cfg = copy.deepcopy(config, memo={id(config._get_node("hydra")): AnyNode(None)})
    with read_write(task_cfg), open_dict(task_cfg):
        del task_cfg["hydra"]
    return task_cfg


def _save_config(cfg: Any, filename: str, output_dir: Path) -> None:
    """Hydra's ``_save_config``, with the text from :func:`yaml_text`, written whole or not at
    all: a sweep killed while writing (SIGKILL, the OOM killer) must not leave an empty
    ``overrides.yaml``, which ``resume=`` reads as the job's record."""
    output_dir.mkdir(parents=True, exist_ok=True)
    path = output_dir / filename
    part = output_dir / f".{filename}.part"
    part.write_text(yaml_text(cfg), encoding="utf-8")
    os.replace(part, path)


#: YAML text of (key, subkey, value) blocks already written in this process (see yaml_text).
_BLOCKS: dict[tuple[str, str, str], str] = {}
_MAX_BLOCKS = 4096


def yaml_text(cfg: Any) -> str:
    """``OmegaConf.to_yaml(cfg)``, the same text, with each block under a top-level key emitted
    once: most of a job's ``.hydra/hydra.yaml`` (help texts, logging, launcher,
    sweeper) is the same for every job, and emitting it took ~6 ms a job. A block mapping's
    blocks at one level do not depend on each other, so the text is their concatenation; a
    test compares it with OmegaConf's for every preset's jobs. (One object shared by two blocks
    would be written out twice where OmegaConf writes an alias; configs read from YAML files
    share none.)"""
    from omegaconf._utils import get_omega_conf_dumper

    data = OmegaConf.to_container(cfg, resolve=False, enum_to_str=True)
    if not isinstance(data, dict) or not data:
        return OmegaConf.to_yaml(cfg)
    if len(_BLOCKS) > _MAX_BLOCKS:
        _BLOCKS.clear()
    dumper = get_omega_conf_dumper()

    def dump(value: dict[str, Any]) -> str:
        return yaml.dump(value, default_flow_style=False, allow_unicode=True, sort_keys=False, Dumper=dumper)

    parts = []
    for key, value in data.items():
        if not isinstance(value, dict) or not value:
            parts.append(dump({key: value}))
            continue
        header = None
        for sub, inner in value.items():
            memo = (repr(key), repr(sub), repr(inner))
            text = _BLOCKS.get(memo)
            if text is None:  # "key:\n" then the block, indented under it
                text = _BLOCKS[memo] = dump({key: {sub: inner}})
            first, _, block = text.partition("\n")
            if first.startswith("?") or not first.endswith(":") or not block.startswith("  "):
                return OmegaConf.to_yaml(cfg)  # a long or multi-line key: not a plain "key:" line
            if header is None:
                header = first
                parts.append(first + "\n")
            elif first != header:
                return OmegaConf.to_yaml(cfg)
            parts.append(block)
    return "".join(parts)
