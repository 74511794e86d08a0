"""``hydra/sweeper: coresweep``: every job once per round, in a new seeded order each round.

It expands the sweep as Hydra's basic sweeper does (``hydra.sweeper.params``, then the command
line), leaves out duplicate sequential jobs (a backend that ignores ``workers`` runs once per
configuration), and hands the launcher one batch per round. Each job of a batch carries its
place in the plan as overrides: ``schedule.job`` (its folder, the same in every round),
``schedule.round`` and ``schedule.position``. Why rounds: the machine's speed drifts by
5-10 % over seconds, and jobs timed one after another each see a different part of that
drift; in rounds, every configuration (the sequential baseline too) samples all of it.
"""

from dataclasses import dataclass
from typing import Any, Dict, List, Optional

from hydra.core.config_store import ConfigStore
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig


@dataclass
class CoresweepSweeperConf:
    _target_: str = "hydra_plugins.coresweep_plugins.coresweep_sweeper.CoresweepSweeper"
    #: Split a round into batches of at most this many jobs (null: one batch per round).
    max_batch_size: Optional[int] = None
    #: The default sweep: a value list per key, as Hydra's basic sweeper takes it.
    params: Optional[Dict[str, str]] = None


ConfigStore.instance().store(
    group="hydra/sweeper", name="coresweep", node=CoresweepSweeperConf, provider="coresweep"
)


class CoresweepSweeper(Sweeper):
    def __init__(self, max_batch_size: Optional[int] = None, params: Optional[Dict[str, str]] = None) -> None:
        self.max_batch_size = max_batch_size
        self.params = dict(params or {})
        self.config: Optional[DictConfig] = None
        self.launcher: Any = None
        self.hydra_context: Optional[HydraContext] = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        from hydra.core.plugins import Plugins

        self.config = config
        self.hydra_context = hydra_context
        self.launcher = Plugins.instance().instantiate_launcher(
            config=config, hydra_context=hydra_context, task_function=task_function
        )

    def sweep(self, arguments: List[str]) -> Any:
        from coresweep.experiments.plan.schedule import run_rounds

        assert self.config is not None and self.launcher is not None
        return run_rounds(self.config, self.launcher, arguments, self.max_batch_size)
