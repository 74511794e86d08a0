"""Run one job under another interpreter (``python=...``): start it, hand over, read the answer.

The parent plans the job exactly as for an in-process one (config, pinning plan, BLAS cap,
protocol settings), writes it as plain JSON, and starts ``<python> -c BOOTSTRAP`` in a session
of its own (so stray workers can be ended as one process group). The child measures with the
same ``Protocol`` and writes its runs back as JSON; the parent turns them into the usual rows.
A child that dies without an answer gives failed rows that say how it ended, never no rows.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from typing import Any

from .interpreter import Interpreter, child_env
from .interpreter_child import BOOTSTRAP
from .protocol import JobMeasurement, Protocol, RunMeasurement
from .worker_setup import ENV_VARS

#: Seconds a child gets to write what it measured after Ctrl-C is passed on to it.
INTERRUPT_GRACE_S = 10.0

# The sequential answer per (interpreter, workload), as the pickled bytes the child sent: later
# jobs of the sweep under the same interpreter reuse it (the parent never unpickles it).
_REFERENCES: dict[tuple[str, tuple[Any, ...]], str] = {}


@dataclass
class JobRequest:
    """Everything the child needs, as plain data (JSON): no config objects cross over."""

    backend_target: str
    workers: int
    start_method: str
    workload_target: str
    workload_options: dict[str, Any]
    collect: str
    protocol: Protocol
    pinning_plan: list[list[int]] | None = None
    task_timeout_s: float | None = None
    blas_threads: int | None = None
    cpus: list[int] | None = None
    #: The backend's own config keys (e.g. dask's ``processes``), passed to its class by keyword.
    backend_options: dict[str, Any] = field(default_factory=dict)

    def to_json(self, reference: str | None) -> dict[str, Any]:
        p = self.protocol
        adaptive = p.adaptive
        return {
            "backend": {
                "target": self.backend_target,
                "workers": self.workers,
                "start_method": self.start_method,
                "task_timeout_s": self.task_timeout_s,
                "options": self.backend_options,
            },
            "workload": {"target": self.workload_target, "options": self.workload_options},
            "collect": self.collect,
            "protocol": {
                "repeats": p.repeats,
                "warmup": p.warmup,
                "min_time_s": p.min_time_s,
                "timeout_s": p.timeout_s,
                "max_memory_bytes": p.max_memory_bytes,
                "adaptive": None if adaptive is None else asdict(adaptive),
            },
            "pinning_plan": self.pinning_plan,
            "reference": reference,
        }


def run_in_interpreter(
    interp: Interpreter, request: JobRequest, reference_key: tuple[Any, ...]
) -> tuple[JobMeasurement, dict[str, Any]]:
    """Measure the job under ``interp``; returns the measurement and the row fields it fixes.

    Raises KeyboardInterrupt (after collecting what the child measured) when interrupted.
    """
    key = (interp.path, reference_key)
    folder = tempfile.mkdtemp(prefix="coresweep-job-")
    request_path = os.path.join(folder, "request.json")
    result_path = os.path.join(folder, "result.json")
    stderr_path = os.path.join(folder, "stderr.txt")
    with open(request_path, "w", encoding="utf-8") as fh:
        json.dump(request.to_json(_REFERENCES.get(key)), fh)
    extra: dict[str, str] = {}
    if request.blas_threads is not None:
        # Read by BLAS when the child (and its workers) load it: the same cap as in-process jobs.
        extra.update({name: str(request.blas_threads) for name in ENV_VARS})
    row: dict[str, Any] = {
        "python": interp.version,
        "gil_enabled": interp.gil_enabled,
        "python_executable": interp.path,
    }
    interrupted = False
    returncode: int | None = None
    saved_affinity = os.sched_getaffinity(0) if request.cpus is not None else None
    try:
        if request.cpus is not None:
            os.sched_setaffinity(0, request.cpus)  # the child and its workers inherit the mask
        with open(stderr_path, "wb") as err:
            try:
                proc = subprocess.Popen(
                    [interp.path, "-c", BOOTSTRAP, request_path, result_path],
                    env=child_env(extra),
                    stdin=subprocess.DEVNULL,
                    stderr=err,
                    start_new_session=True,
                )
            except OSError as exc:
                err.write(f"could not start {interp.path}: {exc}\n".encode())
            else:
                try:
                    proc.wait()
                except KeyboardInterrupt:
                    interrupted = True
                    _stop(proc)
                returncode = proc.returncode
                _end_group(proc.pid, signal.SIGKILL)  # workers a crashed child left behind
    finally:
        if saved_affinity is not None:
            os.sched_setaffinity(0, saved_affinity)
    try:
        stderr = _read(stderr_path)
        if stderr.strip():
            sys.stderr.write(stderr if stderr.endswith("\n") else stderr + "\n")
        measurement, fields = _measurement(result_path, returncode, stderr, request.protocol)
    finally:
        _remove(folder)
    reference = fields.pop("reference_pickle", None)
    if reference:
        _REFERENCES[key] = reference
    row.update(fields)
    if interrupted:
        measurement.interrupted = True
    return measurement, row


def _measurement(
    result_path: str, returncode: int | None, stderr: str, protocol: Protocol
) -> tuple[JobMeasurement, dict[str, Any]]:
    try:
        with open(result_path, encoding="utf-8") as fh:
            result = json.load(fh)
    except (OSError, ValueError):
        job = JobMeasurement()
        lines = [ln for ln in stderr.strip().splitlines() if ln.strip()]
        killed = returncode is not None and returncode < 0
        how = f"signal {-returncode}" if killed else f"exit status {returncode}"
        detail = f": {lines[-1].strip()[:300]}" if lines else ""
        protocol._fail_all(job, f"the interpreter process ended ({how}) without results{detail}")
        return job, {}
    m = result["measurement"]
    job = JobMeasurement(
        startup_s=m.get("startup_s"),
        teardown_s=m.get("teardown_s"),
        warmup_s=list(m.get("warmup_s") or []),
        runs=[RunMeasurement(**run) for run in m.get("runs") or []],
        interrupted=bool(m.get("interrupted")),
        stop_reason=m.get("stop_reason"),
    )
    fields: dict[str, Any] = {
        "python": result.get("python"),
        "gil_enabled": result.get("gil_enabled"),
        "python_executable": result.get("executable"),
        "resource_method": result.get("resource_method"),
        "start_method": result.get("start_method"),
        "workers": result.get("workers"),
        "reference_pickle": result.get("reference"),
    }
    if "pinning_ok" in result:
        fields["pinning_ok"] = result["pinning_ok"]
        fields["worker_cpus"] = {int(k): v for k, v in (result.get("worker_cpus") or {}).items()}
    return job, fields


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Ctrl-C/SIGTERM here: pass Ctrl-C on, so the child stops its workers and writes its runs."""
    _end_group(proc.pid, signal.SIGINT)
    try:
        proc.wait(timeout=INTERRUPT_GRACE_S)
    except (subprocess.TimeoutExpired, KeyboardInterrupt):
        _end_group(proc.pid, signal.SIGKILL)
        proc.wait()


def _end_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read()
    except OSError:
        return ""


def _remove(folder: str) -> None:
    import shutil

    shutil.rmtree(folder, ignore_errors=True)
