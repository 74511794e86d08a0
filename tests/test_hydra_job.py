"""coresweep's run_job (hydra_job.py) does what Hydra's does, as a task, a callback or a reader of
``.hydra/`` sees it, for a job that ends and for one that raises."""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import pytest
from hydra import compose, initialize_config_module
from hydra._internal.callbacks import Callbacks
from hydra.core.hydra_config import HydraConfig
from hydra.core.utils import JobStatus
from hydra.core.utils import run_job as hydras_run_job
from hydra.types import HydraContext
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from coresweep.experiments.launch.hydra_job import run_job as our_run_job
from coresweep.experiments.launch.hydra_job import yaml_text
from coresweep.experiments.plan import resolvers  # noqa: F401 - the configs' resolvers


class Recorder:
    """A Hydra callback that writes down what it is shown."""

    def __init__(self, seen: list[Any]) -> None:
        self.seen = seen

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        self.seen.append(("start", OmegaConf.to_container(config), os.environ.get("CORESWEEP_TEST_ENV")))

    def on_job_end(self, config: DictConfig, job_return: Any, **kwargs: Any) -> None:
        ret = job_return
        self.seen.append(("end", OmegaConf.to_container(config), ret.status, OmegaConf.to_container(ret.cfg),
                          OmegaConf.to_container(ret.hydra_cfg), ret.overrides, ret.task_name))


def _config(sweep: Path, chdir: bool) -> DictConfig:
    with initialize_config_module(config_module="coresweep.conf", version_base=None):
        cfg = compose(config_name="config", overrides=["backend=pool", "workers=2", "schedule.job=3"],
                      return_hydra_config=True)
    with read_write(cfg), open_dict(cfg):
        cfg.hydra.sweep.dir = str(sweep)
        cfg.hydra.job.num = cfg.hydra.job.id = 0
        cfg.hydra.job.chdir = chdir
        cfg.hydra.job.env_set = {"CORESWEEP_TEST_ENV": "set"}
    return cfg


def _run(runner: Any, sweep: Path, chdir: bool, fail: bool) -> tuple[list[Any], dict[str, str]]:
    seen: list[Any] = []
    callbacks = Callbacks()
    callbacks.callbacks = [Recorder(seen)]
    context = HydraContext(config_loader=None, callbacks=callbacks)
    before = HydraConfig.instance().cfg

    def task(cfg: DictConfig) -> int:
        seen.append(("task", OmegaConf.to_container(cfg), OmegaConf.is_struct(cfg), "hydra" in cfg,
                     OmegaConf.to_container(HydraConfig.get()), os.getcwd(),
                     os.environ.get("CORESWEEP_TEST_ENV")))
        if fail:
            raise ValueError("the task failed")
        return 7

    cwd = os.getcwd()
    ret = runner(hydra_context=context, task_function=task, config=_config(sweep, chdir),
                 job_dir_key="hydra.sweep.dir", job_subdir_key="hydra.sweep.subdir")
    assert os.getcwd() == cwd and HydraConfig.instance().cfg is before
    assert ret.status == (JobStatus.FAILED if fail else JobStatus.COMPLETED)
    value = ret._return_value  # the property raises a failed job's exception
    assert (str(value) if fail else value) == ("the task failed" if fail else 7)
    seen.append(("working_dir", ret.working_dir))
    files = {p.name: p.read_text() for p in sorted((Path(cwd) / sweep / "3" / ".hydra").glob("*.yaml"))}
    assert len(files) == 3
    return seen, files


def _renamed(value: Any, old: str, new: str) -> Any:
    if isinstance(value, str):
        return value.replace(old, new)
    if isinstance(value, (list, tuple)):
        return type(value)(_renamed(v, old, new) for v in value)
    if isinstance(value, dict):
        return {k: _renamed(v, old, new) for k, v in value.items()}
    return value


@pytest.mark.parametrize("chdir", [False, True])
@pytest.mark.parametrize("fail", [False, True])
@pytest.mark.parametrize("relative", [False, True])
def test_the_same_as_hydras_run_job(
    tmp_path: Path, chdir: bool, fail: bool, relative: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    base = Path("x") if relative else tmp_path / "x"
    ours, hydras = base / "ours", base / "hydr"  # same length: same yaml
    seen_ours, files_ours = _run(our_run_job, ours, chdir, fail)
    seen_hydras, files_hydras = _run(hydras_run_job, hydras, chdir, fail)
    assert seen_ours == _renamed(seen_hydras, str(hydras), str(ours))
    assert files_ours == {k: v.replace(str(hydras), str(ours)) for k, v in files_hydras.items()}


def test_the_config_handed_in_is_not_copied_into_the_task(tmp_path: Path) -> None:
    cfg = _config(tmp_path, chdir=False)
    hydra_before = copy.deepcopy(OmegaConf.to_container(cfg.hydra))
    kept: list[DictConfig] = []
    context = HydraContext(config_loader=None, callbacks=Callbacks())
    our_run_job(hydra_context=context, task_function=kept.append, config=cfg)
    assert "hydra" in cfg and "hydra" not in kept[0]
    assert kept[0].backend.name == "pool"
    kept[0].backend.name = "changed"  # the task's copy is its own
    assert cfg.backend.name == "pool"
    hydra_after = OmegaConf.to_container(cfg.hydra)
    assert hydra_after["runtime"]["output_dir"] == str(tmp_path / "3")
    hydra_after["runtime"]["output_dir"] = hydra_before["runtime"]["output_dir"]
    assert hydra_after == hydra_before



def test_yaml_text_of_odd_values() -> None:
    odd = OmegaConf.create({"a": {"x": "1", "y": 1, "z": "true", "w": [1, {"q": None}], "v": {}},
                            "b": {}, "c": "yes", "d": [], 1: {"2": "two"}, "long": {"t": "word " * 40}})
    assert yaml_text(odd) == OmegaConf.to_yaml(odd)
    keys = OmegaConf.create({"k": {"k" * 130: 1, "a b " * 40: 2, "a\nb": 3, "x": 4}})
    assert yaml_text(keys) == OmegaConf.to_yaml(keys)
    assert yaml_text(OmegaConf.create({})) == OmegaConf.to_yaml(OmegaConf.create({}))
    assert yaml_text(OmegaConf.create([1, 2])) == OmegaConf.to_yaml(OmegaConf.create([1, 2]))
