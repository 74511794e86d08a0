"""One job = one configuration: build it from its config, measure it, write its rows.

A job never raises for a failure of the thing measured: an exception in the workload, a dead
worker or a wrong answer becomes rows with ``ok=false`` and the error, and the sweep goes on.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from . import records
from .collect import COLLECTORS
from .environment import default_machine_name, gil_enabled, python_info
from .pinning import Pinner
from .protocol import JobMeasurement, Protocol, describe
from .sweep import backend_class, job_topology, make_workload
from .topology import Topology, format_cpu_list, pinning_plan
from .worker_setup import init_worker, native_thread_limits, resolve_blas_threads

# The sequential answer of a workload, reused by the later jobs of the same sweep (one process
# runs every job with Hydra's default launcher). Keyed by the workload's full parameters.
_REFERENCE_CACHE: dict[tuple[Any, ...], list[Any]] = {}


@dataclass(frozen=True)
class JobOutcome:
    """What a job returns to Hydra (and the progress display)."""

    job: str
    n_ok: int
    n_failed: int
    median_wall_s: float | None
    first_error: str | None


def run_job(
    cfg: DictConfig,
    job_dir: Path,
    sweep_dir: Path,
    job: str,
    topology: Topology,
) -> JobOutcome:
    """Measure one configuration and append its rows to ``job_dir/results.jsonl``."""
    topology, cpus = job_topology(cfg, topology)
    counts = topology.counts()
    environment = _read_environment(sweep_dir)
    machine = cfg.get("machine") or environment.get("machine") or default_machine_name()
    sweep_id = environment.get("sweep_id") or sweep_dir.name

    workload = make_workload(cfg)
    cls = backend_class(cfg)
    workers = 1 if cls.single_worker else int(cfg.workers)
    usable = counts.get("usable_cpus") or counts.get("logical_cores") or 1
    blas_threads = resolve_blas_threads(cfg.get("blas_threads", "auto"), usable, workers)
    backend = cls(workers, cfg.start_method)
    if backend.start_method == "forkserver":
        backend = cls(workers, cfg.start_method, initializer=init_worker, initargs=(blas_threads,))
    collector = COLLECTORS[cfg.collect]()
    plan = pinning_plan(topology, cfg.pinning, backend.workers) if cfg.pinning != "none" else None
    protocol = Protocol(
        repeats=int(cfg.repeats), warmup=int(cfg.warmup), min_time_s=float(cfg.min_time_s)
    )

    base_row: dict[str, Any] = {
        "schema": records.SCHEMA,
        "sweep_id": sweep_id,
        "job": job,
        "machine": machine,
        "backend": cfg.backend.name,
        "start_method": backend.start_method,
        "workers": backend.workers,
        "workers_requested": int(cfg.workers),
        "pinning": cfg.pinning,
        "workload": cfg.workload.name,
        "size": workload.size,
        "grain": workload.grain if workload.uses_grain else None,
        "collect": cfg.collect,
        "cpus": format_cpu_list(cpus) if cpus is not None else None,
        "pinning_plan": plan,
        "blas_threads": blas_threads,
        "python": python_info()["version"],
        "gil_enabled": gil_enabled(),
        **counts,
    }
    if cfg.workload.name == "custom":
        base_row["fn"] = cfg.workload.fn

    measurement = JobMeasurement()
    pinner = Pinner(plan, backend.workers_per_run) if plan is not None else None
    saved_affinity = os.sched_getaffinity(0) if cpus is not None else None
    try:
        if cpus is not None:
            # Restrict this thread before any worker exists: children inherit the mask.
            os.sched_setaffinity(0, cpus)
        workload.setup()
        try:
            items = workload.inputs()
            with native_thread_limits(blas_threads):
                try:
                    expected = _reference(workload, items)
                except Exception as exc:
                    protocol._fail_all(measurement, f"sequential reference failed: {describe(exc)}")
                else:
                    task = pinner.wrap(workload.task) if pinner else workload.task
                    before = pinner.before_run if pinner else None
                    measurement = protocol.measure(
                        backend, collector, task, items, expected, workload.verify, before
                    )
        finally:
            workload.teardown()
    except Exception as exc:
        protocol._fail_all(measurement, f"job failed: {describe(exc)}")
    finally:
        if pinner is not None:
            base_row["pinning_ok"], base_row["worker_cpus"] = pinner.verdict()
            pinner.close()
        if saved_affinity is not None:
            os.sched_setaffinity(0, saved_affinity)

    with records.RecordWriter(job_dir / records.RESULTS_FILE) as writer:
        for run in measurement.runs:
            writer.write(
                {
                    **base_row,
                    "repeat": run.repeat,
                    "loops": run.loops,
                    "wall_s": run.wall_s,
                    "startup_s": measurement.startup_s,
                    "teardown_s": measurement.teardown_s,
                    "warmup_s": measurement.warmup_s,
                    "cpu_user_s": run.cpu_user_s,
                    "cpu_sys_s": run.cpu_sys_s,
                    "peak_rss_bytes": run.peak_rss_bytes,
                    "verified": run.verified,
                    "ok": run.ok,
                    "error": run.error,
                    "timestamp": dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds"),
                }
            )

    ok_walls = [r.wall_s for r in measurement.runs if r.ok and r.wall_s is not None]
    failed = [r for r in measurement.runs if not r.ok]
    return JobOutcome(
        job=job,
        n_ok=len(ok_walls),
        n_failed=len(failed),
        median_wall_s=statistics.median(ok_walls) if ok_walls else None,
        first_error=failed[0].error if failed else None,
    )


def _reference(workload: Any, items: list[Any]) -> list[Any]:
    key = workload.key()
    if key not in _REFERENCE_CACHE:
        _REFERENCE_CACHE[key] = workload.reference(items)
    return _REFERENCE_CACHE[key]


def _read_environment(sweep_dir: Path) -> dict[str, Any]:
    try:
        return json.loads((sweep_dir / records.ENVIRONMENT_FILE).read_text())
    except (OSError, ValueError):
        return {}
