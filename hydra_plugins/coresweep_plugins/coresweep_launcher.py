"""``hydra/launcher: coresweep``: jobs one at a time, each measured in a process of its own.

Jobs run one after another (two jobs timed at once on a small machine corrupt both). Before
the first job it starts the job server (Linux: a clean process that forks one child per job);
the job function plans each job here and the child measures it, so a crash, a hang or a leak
in the code measured becomes a failed row and the sweep goes on.
"""

from dataclasses import dataclass
from typing import Any, Optional, Sequence

from hydra.core.config_store import ConfigStore
from hydra.core.utils import JobReturn
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig


@dataclass
class CoresweepLauncherConf:
    _target_: str = "hydra_plugins.coresweep_plugins.coresweep_launcher.CoresweepLauncher"


ConfigStore.instance().store(
    group="hydra/launcher", name="coresweep", node=CoresweepLauncherConf, provider="coresweep"
)


class CoresweepLauncher(Launcher):
    def __init__(self) -> None:
        self.config: Optional[DictConfig] = None
        self.hydra_context: Optional[HydraContext] = None
        self.task_function: Optional[TaskFunction] = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.config = config
        self.hydra_context = hydra_context
        self.task_function = task_function

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        from coresweep.experiments.launch.launcher import launch_jobs

        assert self.config is not None and self.hydra_context is not None and self.task_function is not None
        return launch_jobs(self, job_overrides, initial_job_idx)

    def close(self) -> Any:
        """The sweep is over: stop the job server."""
        from coresweep.experiments.launch.isolation import ISOLATION

        ISOLATION.close()
