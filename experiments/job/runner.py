"""One job = one configuration: build it from its config, measure it, write its rows.

A job never raises for a failure of the thing measured: an exception in the workload, a dead
worker or a wrong answer becomes rows with ``ok=false`` and the error, and the sweep goes on.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..backends import backend_class
from ..launch.busy import WATCH, BusyProbe, watched_cpus
from ..launch.interpreter import selected as selected_interpreter
from ..launch.isolation import JobRequest, run_isolated
from ..machine.environment import default_machine_name, gil_enabled, python_info
from ..machine.topology import Topology, format_cpu_list, job_topology, pinning_plan
from ..machine.worker_setup import resolve_blas_threads
from ..workloads import make_workload
from . import records
from .pairing import pairs
from .protocol import ADAPTIVE_MIN_REPEATS, AdaptiveRepeats, JobMeasurement, Protocol
from .resources import METHOD as RESOURCE_METHOD
from .resources import parse_memory
from .spec import JobSpec


@dataclass(frozen=True)
class JobOutcome:
    """What a job returns to Hydra (and the progress display)."""

    job: str
    n_ok: int
    n_failed: int
    median_wall_s: float | None
    first_error: str | None
    resumed: bool = False
    #: Coefficient of variation of the ok runs' wall times (None with fewer than 2).
    cv: float | None = None
    #: Other processes' share of the job's CPUs during this execution (launch/busy.py), and
    #: how many busy attempts busy=rerun replaced.
    busy_share: float | None = None
    busy_reruns: int = 0


def run_job(
    spec: JobSpec,
    job_dir: Path,
    sweep_dir: Path,
    job: str,
    topology: Topology,
) -> JobOutcome:
    """Measure one configuration (one round of it) and append its rows to ``job_dir/results.jsonl``.

    The measuring happens in a child process (``isolation.run_isolated``): this process only
    plans the job and writes the rows, so nothing the job does can end the sweep.
    """
    schedule = _schedule(spec)
    results_path = job_dir / records.RESULTS_FILE
    if spec.resume:
        kept = complete_round(
            results_path, schedule["round"], min_repeats(spec.repeats), since=_resumed_at(sweep_dir)
        )
        if kept is not None:
            return _outcome(job, kept, resumed=True)
    topology, cpus = job_topology(spec.cpus, topology)
    counts = topology.counts()
    environment = _read_environment(sweep_dir)
    machine = spec.machine or environment.get("machine") or default_machine_name()
    if not spec.machine and environment.get("hostname") not in (None, default_machine_name()):
        machine = default_machine_name()  # a launcher (SLURM) ran this job on another host than the sweep's
    sweep_id = environment.get("sweep_id") or sweep_dir.name

    workload = _workload(spec)
    cls = backend_class(spec.backend_target)
    workers = 1 if cls.single_worker else spec.workers
    usable = counts.get("usable_cpus") or counts.get("logical_cores") or 1
    blas_threads = resolve_blas_threads(spec.blas_threads, usable, workers)
    python = selected_interpreter(spec.python)
    plan = pinning_plan(topology, spec.pinning, workers) if spec.pinning != "none" else None
    adaptive = None
    if spec.repeats == "auto":
        adaptive = AdaptiveRepeats(
            target=float(spec.repeats_target),
            max_repeats=int(spec.repeats_max),
            budget_s=float(spec.repeats_budget_s),
        )
    protocol = Protocol(
        repeats=min_repeats(spec.repeats),
        adaptive=adaptive,
        warmup=spec.warmup,
        min_time_s=spec.min_time_s,
        timeout_s=spec.timeout_s,
        max_memory_bytes=parse_memory(spec.max_memory),
        pair=pairs(spec.pair, workload, baseline=cls.name == "sequential"),
    )

    base_row: dict[str, Any] = {
        "schema": records.SCHEMA,
        "sweep_id": sweep_id,
        "job": job,
        **schedule,
        "machine": machine,
        **config_fields(spec, workload, workers, cpus),
        "start_method": None,
        "pinning_plan": plan,
        "blas_threads": blas_threads,
        "python": python_info()["version"],
        "gil_enabled": gil_enabled(),
        "python_executable": sys.executable,
        "resource_method": RESOURCE_METHOD,
        # The check configured; the job's process replaces it with the check that ran
        # (workload.fields(), also under python=...).
        "verify": workload.check.label(),
        "paired": protocol.pair,
        **counts,
    }
    if spec.fn is not None:
        base_row["fn"] = spec.fn

    options = dict(spec.workload_options)
    options.update(_used_dimensions(spec, type(workload)))
    request = JobRequest(
        backend_target=spec.backend_target,
        workers=spec.workers,
        start_method=spec.start_method,
        workload_target=spec.workload_target,
        workload_options=options,
        collect=str(spec.collect),
        protocol=protocol,
        pinning_plan=plan,
        task_timeout_s=spec.timeout_s,
        blas_threads=blas_threads,
        cpus=list(cpus) if cpus is not None else None,
        backend_options=dict(spec.backend_options),
    )

    def supersede(attempt: JobMeasurement, fields: dict[str, Any]) -> None:
        _write_rows(results_path, {**base_row, **fields}, attempt)  # busy=rerun: kept, marked

    measurement, fields = WATCH.run(
        lambda: run_isolated(python, request, workload.key()),
        spec.busy,
        BusyProbe(watched_cpus(cpus)),
        supersede,
    )
    base_row.update(fields)
    _write_rows(results_path, base_row, measurement)
    if measurement.interrupted:
        raise KeyboardInterrupt
    outcome = _outcome(job, [{"ok": r.ok, "wall_s": r.wall_s, "error": r.error} for r in measurement.runs])
    return dataclasses.replace(
        outcome, busy_share=fields.get("busy_share"), busy_reruns=fields.get("busy_attempt", 0)
    )


def _schedule(spec: JobSpec) -> dict[str, Any]:
    """Where this run of the job sits in the sweep's plan (set by coresweep's sweeper)."""
    return {
        "round": spec.round,
        "rounds": spec.rounds if spec.planned else 1,  # another sweeper (hydra/sweeper=basic): one pass
        "position": spec.position,
        "order_seed": spec.order_seed,
    }


def _workload(spec: JobSpec) -> Any:
    """The job's workload, built by the workloads' registry."""
    return make_workload(spec.workload_target, spec.workload, spec.workload_options, spec.dimensions)


def _used_dimensions(spec: JobSpec, workload_cls: Any) -> dict[str, Any]:
    """The pattern dimensions (``share``, ``init``, ``state``) this workload class takes."""
    return {k: v for k, v in spec.dimensions.items() if k in getattr(workload_cls, "dimensions", ())}


def config_fields(spec: JobSpec, workload: Any, workers: int, cpus: Any) -> dict[str, Any]:
    """The row fields that say which configuration ran: the same for a measured job and for
    the failed row of a job that died, so the report groups both alike."""
    return {
        "backend": spec.backend,
        "workers": workers,
        "workers_requested": spec.workers,
        "pinning": spec.pinning,
        "workload": spec.workload,
        "size": workload.size,
        "grain": workload.grain if workload.uses_grain else None,
        "collect": spec.collect,
        "cpus": format_cpu_list(cpus) if cpus is not None else None,
        **pattern_fields(spec, workload),
    }


def pattern_fields(spec: JobSpec, workload: Any) -> dict[str, Any]:
    """The pattern dimensions (null where the workload does not use them, so that every row
    has them): ``share``, ``init``, ``state`` and the pattern workloads' sizes."""
    uses = getattr(workload, "dimensions", ())
    return {
        "share": spec.dimension("share") if "share" in uses else None,
        "init": spec.dimension("init") if "init" in uses else None,
        "state": spec.dimension("state") if "state" in uses else None,
        "input_mb": getattr(workload, "input_mb", None),
        "init_ms": getattr(workload, "init_ms", None),
    }


def record_dead_job(spec: JobSpec, job_dir: Path, sweep_dir: Path, job: str, error: str) -> None:
    """One failed row for a job whose process died before it returned (killed, out of memory,
    a scheduler's time limit): the report lists it among the failures, the exit status is 1,
    and ``resume=`` runs it again. Rows the job wrote before it died are kept as they are."""
    from ..machine.topology_state import current_topology

    environment = _read_environment(sweep_dir)
    topology, cpus = job_topology(spec.cpus, current_topology())
    workload = _workload(spec)
    cls = backend_class(spec.backend_target)
    row: dict[str, Any] = {
        "schema": records.SCHEMA,
        "sweep_id": environment.get("sweep_id") or sweep_dir.name,
        "job": job,
        **_schedule(spec),
        "machine": spec.machine or environment.get("machine") or default_machine_name(),
        **config_fields(spec, workload, 1 if cls.single_worker else spec.workers, cpus),
        "start_method": None,
        **topology.counts(),
        "repeat": 0,
        "loops": None,
        "wall_s": None,
        "startup_s": None,
        "teardown_s": None,
        "cpu_user_s": None,
        "cpu_sys_s": None,
        "peak_rss_bytes": None,
        # Under python=... the child's version is unknown once it is gone; here it is this one.
        "python": python_info()["version"] if spec.python is None else None,
        "gil_enabled": gil_enabled() if spec.python is None else None,
        "verified": False,
        "ok": False,
        "error": error,
        "verify": workload.check.label(),
        "job_died": True,
        "timestamp": dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds"),
    }
    if spec.fn is not None:
        row["fn"] = spec.fn
    with records.RecordWriter(job_dir / records.RESULTS_FILE) as writer:
        writer.write(row)


def min_repeats(setting: Any) -> int:
    """Rows a job always has: ``repeats``, or for ``auto`` the 6 runs a 95 % median CI needs."""
    return ADAPTIVE_MIN_REPEATS if setting == "auto" else int(setting)


def _outcome(job: str, rows: list[dict[str, Any]], resumed: bool = False) -> JobOutcome:
    ok_walls = [r["wall_s"] for r in rows if r.get("ok") and r.get("wall_s") is not None]
    failed = [r for r in rows if not r.get("ok")]
    cv = None
    if len(ok_walls) >= 2 and statistics.mean(ok_walls) > 0:
        cv = statistics.stdev(ok_walls) / statistics.mean(ok_walls)
    return JobOutcome(
        cv=cv,
        job=job,
        n_ok=len(ok_walls),
        n_failed=len(failed),
        median_wall_s=statistics.median(ok_walls) if ok_walls else None,
        first_error=failed[0].get("error") if failed else None,
        resumed=resumed,
    )


def complete_round(
    path: Path, round_: int, repeats: int, since: float | None = None
) -> list[dict[str, Any]] | None:
    """``resume=``: the rows of this round of the job if it finished, else None.

    A round finished when it has its ``repeats`` rows and none of them was interrupted or
    written for a dead process. Rows of unfinished rounds are set aside, never deleted: the
    whole file moves to ``results.unfinished-<time>.jsonl`` and the other rows are written
    back, so each unfinished round runs again from its start. Rows written at or after
    ``since`` (a time.time(): when this resumption started) are this resumption's own: never
    set aside, whatever they say.
    """
    if not path.exists():
        return None
    rows: list[dict[str, Any]] = []
    torn = False
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except ValueError:
            torn = True  # a torn line (SIGKILL mid-write): that round did not finish
            break
    new = [r for r in rows if since is not None and _written_at(r) >= since]
    by_round: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        if not any(row is n for n in new):
            by_round.setdefault(int(row.get("round") or 0), []).append(row)

    def finished(kept: list[dict[str, Any]]) -> bool:
        current = [r for r in kept if not r.get("superseded")]  # busy=rerun: the last attempt's
        return len(current) >= repeats and not any(r.get("interrupted") or r.get("job_died") for r in current)

    done = {r: kept for r, kept in by_round.items() if finished(kept)}
    if torn or len(done) < len(by_round):
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
        path.rename(path.with_name(f"results.unfinished-{stamp}.jsonl"))
        if done or new:
            with records.RecordWriter(path) as writer:
                for row in [r for k in sorted(done) for r in done[k]] + new:
                    writer.write(row)
    kept = done.get(round_)
    return None if kept is None else [r for r in kept if not r.get("superseded")]


def _written_at(row: dict[str, Any]) -> float:
    try:
        return dt.datetime.fromisoformat(str(row.get("timestamp"))).timestamp()
    except ValueError:
        return 0.0


def _resumed_at(sweep_dir: Path) -> float | None:
    """When the newest resumption of this sweep started (its environment record's time)."""
    stamps = [p.stat().st_mtime for p in sweep_dir.glob("environment.resumed-*.json")]
    return max(stamps) if stamps else None


def _write_rows(path: Path, base_row: dict[str, Any], measurement: JobMeasurement) -> None:
    last = len(measurement.runs) - 1
    with records.RecordWriter(path) as writer:
        for i, run in enumerate(measurement.runs):
            writer.write(
                {
                    **base_row,
                    "repeat": run.repeat,
                    "loops": run.loops,
                    "wall_s": run.wall_s,
                    "startup_s": measurement.startup_s,
                    "teardown_s": measurement.teardown_s,
                    "setup_s": measurement.setup_s,
                    "warmup_s": measurement.warmup_s,
                    "cpu_user_s": run.cpu_user_s,
                    "cpu_sys_s": run.cpu_sys_s,
                    "peak_rss_bytes": run.peak_rss_bytes,
                    "peak_pss_bytes": run.peak_pss_bytes,
                    **_pair_fields(base_row, run),
                    # Which reading says how much memory the run took: pss where it was sampled.
                    "memory_measure": "pss" if run.peak_pss_bytes is not None else "rss",
                    # workload.verify=none checked nothing: such a run is ok, its answer unknown.
                    "verified": None if base_row.get("verify") == "none" and run.ok else run.verified,
                    "ok": run.ok,
                    "error": run.error,
                    "interrupted": measurement.interrupted,
                    "job_died": measurement.died and i == last,
                    "repeats_stop": measurement.stop_reason,
                    "timestamp": dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds"),
                }
            )


def _pair_fields(base_row: dict[str, Any], run: Any) -> dict[str, Any]:
    """The adjacent sequential times of a paired job's run (none for an unpaired job's rows)."""
    if not base_row.get("paired"):
        return {}
    return {
        "pair_wall_s": run.pair_wall_s,
        "pair_before_s": run.pair_before_s,
        "pair_after_s": run.pair_after_s,
        "pair_loops": run.pair_loops,
        "pair_error": run.pair_error,
    }


def kill_children(grace_s: float = 3.0) -> int:
    """Terminate, then kill, every descendant process; returns how many there were."""
    import psutil

    try:
        children = psutil.Process().children(recursive=True)
    except psutil.Error:
        return 0
    for child in children:
        try:
            child.terminate()
        except psutil.Error:
            pass
    _, alive = psutil.wait_procs(children, timeout=grace_s)
    for child in alive:
        try:
            child.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(alive, timeout=grace_s)
    return len(children)


def _read_environment(sweep_dir: Path) -> dict[str, Any]:
    try:
        return json.loads((sweep_dir / records.ENVIRONMENT_FILE).read_text())
    except (OSError, ValueError):
        return {}
