"""The child side of every job: one job measured in this process, reported as JSON.

Forked by the job server (``job_server.py``), or started by ``isolation.py`` as
``<python> -c <bootstrap> REQUEST RESULT`` (``python=X``, no fork, no server). Imports only
the standard library and coresweep's runner modules (numpy, psutil, joblib only where the job
itself needs them, which preflight checked), so it runs in a bare interpreter. The timing is
``protocol.Protocol``, the one timing code of every job, whatever its interpreter; the sequential
reference comes from the same workload code, computed in this interpreter (or handed back by
the parent from an earlier job of the sweep under the same interpreter, as pickled bytes it
never opens).
"""

from __future__ import annotations

import base64
import importlib
import json
import os
import pickle
import signal
import sys
import time
from dataclasses import asdict
from typing import Any

from ..job import resources
from ..job.collect import COLLECTORS
from ..job.protocol import AdaptiveRepeats, JobMeasurement, Protocol
from ..machine.allocator import fix_allocator
from ..machine.pinning import Pinner

#: The code the parent runs with ``-c``; drops the current folder from sys.path first, as the
#: ``coresweep`` console script has it, so a stray ``threading.py`` there cannot shadow the stdlib.
BOOTSTRAP = (
    "import sys; sys.path[:] = [p for p in sys.path if p not in ('', '.')]; "
    "from coresweep.experiments.launch.job_child import main; main()"
)


def _import(target: str) -> Any:
    module, _, name = target.rpartition(".")
    return getattr(importlib.import_module(module), name)


def _gil_enabled() -> bool:
    check = getattr(sys, "_is_gil_enabled", None)
    return True if check is None else bool(check())


def _encode(value: Any) -> str | None:
    try:
        return base64.b64encode(pickle.dumps(value)).decode("ascii")
    except Exception:  # an unpicklable answer: the next job recomputes it
        return None


def _write(path: str, result: dict[str, Any]) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(result, fh, default=lambda o: o.item() if hasattr(o, "item") else str(o))
    os.replace(tmp, path)  # the parent never reads half a file


#: Set by the job server in the children it forks (recorded as the rows' ``job_process``).
FORKED = False
#: The BLAS cap of this job (kept alive for the process's life).
_LIMITER: Any = None


def _cap_native_threads(blas_threads: int | None) -> Any:
    """The job's BLAS/OpenMP cap in pools already loaded here (a forked child inherits the
    server's, loaded with one thread). Children started later read the environment variables,
    which the driver set. Returns the limiter to keep alive, or None."""
    if blas_threads is None and not FORKED:
        return None
    if not any(name in sys.modules for name in ("numpy", "scipy")):
        return None  # nothing loaded yet: the environment variables decide
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return None
    return threadpool_limits(limits=blas_threads if blas_threads is not None else os.cpu_count())


def _stream(path: str | None) -> Any:
    """Append each timed run to ``path`` as it ends: what a child that dies leaves behind."""
    if not path:
        return None

    def write(run: Any) -> None:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(asdict(run)) + "\n")

    return write


def _phase(path: str | None, name: str) -> None:
    """Mark in the stream what the job is doing (the driver names it if the job dies)."""
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"phase": name}) + "\n")


def run(request: dict[str, Any], result_path: str) -> dict[str, Any]:
    """Measure the job ``request`` describes; the result is also written to ``result_path``."""
    started = time.perf_counter()
    fix_allocator()  # before the reference and any worker: every run sees the same malloc state
    cpus = request.get("cpus")
    if cpus is not None:
        os.sched_setaffinity(0, cpus)  # before any worker exists: they inherit the mask
    blas_threads = request.get("blas_threads")
    global _LIMITER
    _LIMITER = _cap_native_threads(blas_threads)
    spec = request["backend"]
    cls = _import(spec["target"])
    backend = cls(int(spec["workers"]), spec["start_method"], **spec.get("options", {}))
    if backend.start_method == "forkserver" and blas_threads is not None:
        # forkserver workers fork from a server started with the environment of its moment.
        from ..machine.worker_setup import init_worker

        backend = cls(
            int(spec["workers"]), spec["start_method"], initializer=init_worker,
            initargs=(blas_threads,), **spec.get("options", {}),
        )
    backend.task_timeout_s = spec.get("task_timeout_s")
    options = request["workload"]
    workload = _import(options["target"])(**options["options"])
    collector = COLLECTORS[request["collect"]]()
    settings = dict(request["protocol"])
    adaptive = settings.pop("adaptive", None)
    protocol = Protocol(**settings, adaptive=AdaptiveRepeats(**adaptive) if adaptive else None)
    protocol.on_run = _stream(request.get("stream"))
    protocol.measure_pss = bool(getattr(workload, "measure_pss", False))
    plan = request.get("pinning_plan")
    pinner = Pinner(plan, backend.workers_per_run) if plan else None
    result: dict[str, Any] = {
        "python": __import__("platform").python_version(),
        "executable": sys.executable,
        "resource_method": resources.METHOD,
        "start_method": backend.start_method,
        "workers": backend.workers,
        "reference": None,
        "job_process": "forked" if FORKED else "fresh",
    }

    def finish(measurement: JobMeasurement) -> dict[str, Any]:
        result["gil_enabled"] = _gil_enabled()  # after the imports: an extension can re-enable it
        # From here, not from the process start: the rest is the isolation's cost.
        result["job_process_s"] = time.perf_counter() - started
        result["measurement"] = asdict(measurement)
        try:
            result["workload_fields"] = workload.fields()
        except Exception:  # what a workload adds to its rows must never lose them
            result["workload_fields"] = {}
        _write(result_path, result)
        return result

    def stuck(partial: JobMeasurement) -> None:
        # From the watchdog thread: threads that cannot be killed hold the main thread. Record
        # what is known, then end this process and its workers; the parent's sweep goes on.
        protocol._fail_from(
            partial,
            len(partial.runs),
            f"stopped: a run passed timeout_s={protocol.timeout_s} or max_memory and its threads "
            "could not be stopped; the job's process was ended (the sweep went on)",
        )
        if pinner is not None:
            result["pinning_ok"], result["worker_cpus"] = pinner.verdict()
        finish(partial)
        if os.getpgid(0) == os.getpid():  # our own group (the parent starts us so): workers too
            os.killpg(os.getpid(), signal.SIGKILL)
        os._exit(1)

    protocol.on_stuck = stuck

    def reference(items: Any) -> Any:
        """The sequential answer: computed once per interpreter, then handed back by the parent."""
        if request.get("reference"):
            return pickle.loads(base64.b64decode(request["reference"]))
        _phase(request.get("stream"), "reference")  # a death from here on is the answer's
        expected = workload.reference(items)
        _phase(request.get("stream"), "timing")
        result["reference"] = _encode(expected)
        return expected

    measurement = JobMeasurement()
    try:
        measurement = protocol.measure_workload(
            backend, collector, workload, reference, pinner, on_stuck_reference=stuck
        )
    except KeyboardInterrupt:  # before the runs (setup, reference): nothing measured yet
        measurement.interrupted = True
    finally:
        if pinner is not None:
            result["pinning_ok"], result["worker_cpus"] = pinner.verdict()
            pinner.close()
    return finish(measurement)


#: Set by the process that starts a fresh job process: its pid (see ``_die_with_parent``).
PARENT_ENV = "CORESWEEP_JOB_PARENT"


def _die_with_parent() -> None:
    """A fresh job process ends when the process that started it dies (Linux; macOS and BSD
    through kqueue), so a killed submitit job or driver leaves no job running on. (Forked
    ones: the job server sets it. Windows: the driver's Job Object ends the tree.)"""
    parent = os.environ.pop(PARENT_ENV, None)
    if parent is None:
        return
    if not sys.platform.startswith("linux"):
        import select

        if hasattr(select, "kqueue"):
            watch_parent_exit(int(parent), select)
        return
    import ctypes

    try:
        ctypes.CDLL(None).prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG (see _end_group)
    except (OSError, AttributeError):
        return
    if os.getppid() != int(parent):  # it died before the line above
        _end_group(signal.SIGTERM, None)


def watch_parent_exit(parent: int, select_module: Any, start: bool = True) -> Any:
    """Where there is no PR_SET_PDEATHSIG (macOS): a thread that sleeps in kqueue until
    ``parent`` exits, then ends this job's process group. It wakes only then, so it costs the
    measurement nothing. Returns the thread (not started with ``start=False``: tests)."""
    import threading

    kq = select_module.kqueue()
    event = select_module.kevent(
        parent, filter=select_module.KQ_FILTER_PROC,
        flags=select_module.KQ_EV_ADD | select_module.KQ_EV_ONESHOT,
        fflags=select_module.KQ_NOTE_EXIT,
    )
    try:
        kq.control([event], 0, 0)
    except OSError:  # ESRCH: it died before we could watch it
        _end_group(signal.SIGTERM, None)

    def wait() -> None:
        kq.control(None, 1, None)
        _end_group(signal.SIGTERM, None)

    thread = threading.Thread(target=wait, name="coresweep-parent-watch", daemon=True)
    if start:
        thread.start()
    return thread


def _default_sigterm() -> None:
    try:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    except ValueError:  # not the main thread: nothing was inherited there
        pass


def _end_group(signum: int, frame: Any) -> None:
    """SIGTERM (the process that started this job died, or a scheduler stops it): end the
    job's whole process group, its workers with it, not just this process."""
    if hasattr(os, "killpg") and os.getpgid(0) == os.getpid():
        os.killpg(os.getpid(), signal.SIGKILL)
    os._exit(128 + signum)


def main(argv: list[str] | None = None) -> None:
    # The parent passes Ctrl-C on as SIGINT. A parent started in the background (`cmd &`,
    # nohup) ignores SIGINT, and exec keeps an ignored signal ignored: take it back.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    if hasattr(signal, "SIGKILL"):
        signal.signal(signal.SIGTERM, _end_group)
        # Workers forked from this process (fork start method) must not inherit it: a pool's
        # terminate() sends them SIGTERM, which must end them alone.
        os.register_at_fork(after_in_child=_default_sigterm)
    _die_with_parent()
    import faulthandler

    faulthandler.enable()  # a segfault or abort in the code measured says where, on the job's stderr
    request_path, result_path = (sys.argv[1:] if argv is None else argv)[:2]
    with open(request_path, encoding="utf-8") as fh:
        request = json.load(fh)
    run(request, result_path)


if __name__ == "__main__":
    main()
