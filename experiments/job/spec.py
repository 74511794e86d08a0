"""The job spec: one frozen dataclass built from a job's composed config, once, where the
launcher hands the job over (``cli._hydra_app``; ``launchers._record_death`` for a job that
died), and passed down from there. The runner's functions take the fields they use; only
this module reads the job's DictConfig by key.

Building a spec checks nothing: preflight (``sweep.check_job``) has already checked every
value, with its one-line errors, before any job runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Optional, Union

from omegaconf import DictConfig, OmegaConf

from ..workloads.patterns import DIMENSIONS


@dataclass(frozen=True)
class JobSpec:
    """What one run of one job measures, and how (the composed config's job keys)."""

    backend: str
    """``backend.name``"""
    backend_target: str
    """``backend._target_``: the backend's class"""
    workload: str
    """``workload.name``"""
    workload_target: str
    """``workload._target_``: the workload's class"""
    workers: int
    start_method: str
    pinning: str
    collect: str
    #: The backend's own keys besides ``_target_`` and ``name`` (passed to its class by keyword).
    backend_options: Mapping[str, Any] = field(default_factory=dict)
    #: The workload's keys besides ``_target_`` and ``name`` (resolved).
    workload_options: Mapping[str, Any] = field(default_factory=dict)
    #: The pattern dimensions the config sets (``share``, ``init``, ``state``); a workload uses
    #: those it names in its ``dimensions``.
    dimensions: Mapping[str, Any] = field(default_factory=dict)
    #: ``workload.fn`` of the custom workload, else None.
    fn: Optional[str] = None
    cpus: Any = None
    blas_threads: Any = "auto"
    python: Optional[str] = None
    machine: Optional[str] = None
    resume: Any = None
    repeats: Union[int, str] = 1
    repeats_target: Any = None
    repeats_max: Any = None
    repeats_budget_s: Any = None
    warmup: int = 0
    min_time_s: float = 0.0
    timeout_s: Optional[float] = None
    max_memory: Any = None
    #: What to do about an execution other processes made busy: keep, rerun or wait (launch/busy.py).
    busy: str = "keep"
    #: ``pair``: auto | on | off (YAML's bare on/off arrive as booleans).
    pair: Any = "auto"
    #: Where this run sits in the sweep's plan (set by coresweep's sweeper): ``planned`` is
    #: False under another sweeper (hydra/sweeper=basic: one pass).
    planned: bool = False
    round: int = 0
    rounds: int = 1
    position: Optional[int] = None
    order_seed: Optional[int] = None

    @classmethod
    def from_config(cls, cfg: DictConfig) -> JobSpec:
        """The spec of a composed job config (every value already checked by preflight)."""
        backend = _container(cfg.backend)
        workload = _container(cfg.workload)
        schedule = cfg.get("schedule") or {}
        timeout = cfg.get("timeout_s")
        return cls(
            backend=str(cfg.backend.name),
            backend_target=str(cfg.backend._target_),
            workload=str(cfg.workload.name),
            workload_target=str(cfg.workload._target_),
            workers=int(cfg.workers),
            start_method=str(cfg.start_method),
            pinning=cfg.pinning,
            collect=cfg.collect,
            backend_options={k: v for k, v in backend.items() if k not in ("_target_", "name")},
            workload_options={k: v for k, v in workload.items() if k not in ("_target_", "name")},
            dimensions={key: cfg.get(key) for key in DIMENSIONS if key in cfg},
            fn=cfg.workload.fn if cfg.workload.name == "custom" else None,
            cpus=cfg.get("cpus"),
            blas_threads=cfg.get("blas_threads", "auto"),
            python=cfg.get("python"),
            machine=cfg.get("machine"),
            resume=cfg.get("resume"),
            repeats=cfg.repeats,
            repeats_target=cfg.get("repeats_target"),
            repeats_max=cfg.get("repeats_max"),
            repeats_budget_s=cfg.get("repeats_budget_s"),
            warmup=int(cfg.warmup),
            min_time_s=float(cfg.min_time_s),
            timeout_s=float(timeout) if timeout else None,
            max_memory=cfg.get("max_memory"),
            busy=str(cfg.get("busy") or "keep"),
            pair=cfg.get("pair", "auto"),
            planned=schedule.get("job") is not None,
            round=int(schedule.get("round") or 0),
            rounds=int(cfg.get("rounds") or 1),
            position=schedule.get("position"),
            order_seed=cfg.get("order_seed"),
        )

    def dimension(self, key: str) -> Any:
        """A pattern dimension's value (None where the config does not set it)."""
        return self.dimensions.get(key)


def _container(node: Any) -> dict[str, Any]:
    value = OmegaConf.to_container(node, resolve=True)
    assert isinstance(value, dict)
    return {str(k): v for k, v in value.items()}
