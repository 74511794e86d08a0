"""OmegaConf resolvers used by the configs (e.g. weak scaling: ``size: ${mul:${workers},32}``)."""

from __future__ import annotations

from omegaconf import OmegaConf


def register() -> None:
    if not OmegaConf.has_resolver("mul"):
        OmegaConf.register_new_resolver("mul", lambda a, b: int(a) * int(b))
    if not OmegaConf.has_resolver("div"):
        OmegaConf.register_new_resolver("div", lambda a, b: max(1, int(a) // int(b)))
    if not OmegaConf.has_resolver("coresweep_job_dir"):
        # hydra.sweep.subdir: the job's folder from coresweep's sweeper (the same in every
        # round), else Hydra's job number (another sweeper).
        OmegaConf.register_new_resolver(
            "coresweep_job_dir", lambda job, num: str(num if job is None else job)
        )


register()
