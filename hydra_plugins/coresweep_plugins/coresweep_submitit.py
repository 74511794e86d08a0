"""``hydra/launcher: coresweep_slurm`` and ``coresweep_submitit_local``: Hydra's submitit
launchers, with jobs that die becoming failed rows.

Hydra's submitit launcher collects each job's result with ``submitit.Job.results()``, which
raises for a job whose process was killed (a scheduler's time limit, the OOM killer, SIGKILL);
the sweep would end there with a traceback and no report. These subclasses launch exactly as
Hydra's do and collect each result themselves: a dead job gets a failed row (written by
coresweep, saying what submitit knew) and its place in the sweep, and the jobs after it run.

Registered only where hydra-submitit-launcher is installed (the ``slurm`` extra). Hydra imports
every plugin module at start-up: this one imports Hydra's plugin module (light) and nothing of
submitit or coresweep until a sweep launches.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any, List, Sequence

from hydra.core.config_store import ConfigStore
from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn
from omegaconf import OmegaConf

try:
    from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf, LocalQueueConf, SlurmQueueConf
    from hydra_plugins.hydra_submitit_launcher.submitit_launcher import LocalLauncher, SlurmLauncher
except ImportError:  # the slurm extra is not installed: no such launchers
    LocalLauncher = SlurmLauncher = None  # type: ignore[assignment,misc]

#: The launchers' names and their classes' import paths.
LOCAL_NAME, SLURM_NAME = "coresweep_submitit_local", "coresweep_slurm"
LOCAL_TARGET = "hydra_plugins.coresweep_plugins.coresweep_submitit.CoresweepSubmititLocalLauncher"
SLURM_TARGET = "hydra_plugins.coresweep_plugins.coresweep_submitit.CoresweepSlurmLauncher"


class _DeadJobsBecomeRows:
    """``launch`` as in hydra-submitit-launcher 1.2 (executor, parameters, one array of jobs), with
    each job's result collected here: a job that ended without one is recorded, not raised."""

    _EXECUTOR: str
    params: dict
    config: Any

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        import submitit

        from coresweep.experiments.launch.launchers import record_death

        assert self.config is not None and len(job_overrides) > 0
        init_keys = {"max_num_timeout"}
        init_params = {"folder": self.params["submitit_folder"]}
        init_params.update({f"{self._EXECUTOR}_{k}": v for k, v in self.params.items() if k in init_keys})
        executor = submitit.AutoExecutor(cluster=self._EXECUTOR, **init_params)
        base = set(OmegaConf.structured(BaseQueueConf).keys())
        executor.update_parameters(
            **{
                k if k in base else f"{self._EXECUTOR}_{k}": v
                for k, v in self.params.items()
                if k not in init_keys | {"submitit_folder"}
            }
        )
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        if "mode" in self.config.hydra.sweep:
            sweep_dir.chmod(int(str(self.config.hydra.sweep.mode), 8))
        params: List[Any] = []
        for i, overrides in enumerate(job_overrides):
            num = initial_job_idx + i
            state = Singleton.get_state()
            params.append((list(overrides), "hydra.sweep.dir", num, f"job_id_for_{num}", state))
        jobs = executor.map_array(self, *zip(*params))
        returns = []
        for i, job in enumerate(jobs):
            try:
                returns.append(job.results()[0])
            except (submitit.core.utils.UncompletedJobError, submitit.core.utils.FailedJobError) as exc:
                returns.append(record_death(self, job, exc, list(job_overrides[i]), initial_job_idx + i))
        return returns


if LocalLauncher is not None:

    class CoresweepSubmititLocalLauncher(_DeadJobsBecomeRows, LocalLauncher):  # type: ignore[misc,valid-type]
        """submitit's local executor (this machine), dead jobs as failed rows."""

    class CoresweepSlurmLauncher(_DeadJobsBecomeRows, SlurmLauncher):  # type: ignore[misc,valid-type]
        """SLURM through submitit, dead jobs (time limit, OOM killer) as failed rows."""

    @dataclass
    class CoresweepSubmititLocalConf(LocalQueueConf):
        _target_: str = LOCAL_TARGET

    @dataclass
    class CoresweepSlurmConf(SlurmQueueConf):
        _target_: str = SLURM_TARGET

    ConfigStore.instance().store(
        group="hydra/launcher", name=LOCAL_NAME, node=CoresweepSubmititLocalConf(), provider="coresweep"
    )
    ConfigStore.instance().store(
        group="hydra/launcher", name=SLURM_NAME, node=CoresweepSlurmConf(), provider="coresweep"
    )
