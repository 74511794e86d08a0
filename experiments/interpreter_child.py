"""The child side of ``python=...``: one job measured in this interpreter, reported as JSON.

Started by ``interpreter_job.py`` as ``<python> -c <bootstrap> REQUEST RESULT``. Imports only
the standard library and coresweep's runner modules (numpy, psutil, joblib only where the job
itself needs them, which preflight checked), so it runs in a bare interpreter. The timing is
``protocol.Protocol``, the same code that times jobs in the main process; the sequential
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
from dataclasses import asdict
from typing import Any

from . import resources
from .collect import COLLECTORS
from .pinning import Pinner
from .protocol import AdaptiveRepeats, JobMeasurement, Protocol

#: The code the parent runs with ``-c``; drops the current folder from sys.path first, as the
#: ``coresweep`` console script has it, so a stray ``threading.py`` there cannot shadow the stdlib.
BOOTSTRAP = (
    "import sys; sys.path[:] = [p for p in sys.path if p not in ('', '.')]; "
    "from coresweep.experiments.interpreter_child import main; main()"
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


def run(request: dict[str, Any], result_path: str) -> dict[str, Any]:
    """Measure the job ``request`` describes; the result is also written to ``result_path``."""
    spec = request["backend"]
    backend = _import(spec["target"])(int(spec["workers"]), spec["start_method"], **spec.get("options", {}))
    backend.task_timeout_s = spec.get("task_timeout_s")
    options = request["workload"]
    workload = _import(options["target"])(**options["options"])
    collector = COLLECTORS[request["collect"]]()
    settings = dict(request["protocol"])
    adaptive = settings.pop("adaptive", None)
    protocol = Protocol(**settings, adaptive=AdaptiveRepeats(**adaptive) if adaptive else None)
    plan = request.get("pinning_plan")
    pinner = Pinner(plan, backend.workers_per_run) if plan else None
    result: dict[str, Any] = {
        "python": __import__("platform").python_version(),
        "executable": sys.executable,
        "resource_method": resources.METHOD,
        "start_method": backend.start_method,
        "workers": backend.workers,
        "reference": None,
    }

    def finish(measurement: JobMeasurement) -> dict[str, Any]:
        result["gil_enabled"] = _gil_enabled()  # after the imports: an extension can re-enable it
        result["measurement"] = asdict(measurement)
        _write(result_path, result)
        return result

    def stuck(partial: JobMeasurement) -> None:
        # From the watchdog thread: threads that cannot be killed hold the main thread. Record
        # what is known, then end this process and its workers; the parent's sweep goes on.
        protocol._fail_from(
            partial,
            len(partial.runs),
            "stopped: a run passed timeout_s or max_memory and its threads could not be stopped; "
            "the interpreter process running the job was ended",
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
        expected = workload.reference(items)
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


def main(argv: list[str] | None = None) -> None:
    # The parent passes Ctrl-C on as SIGINT. A parent started in the background (`cmd &`,
    # nohup) ignores SIGINT, and exec keeps an ignored signal ignored: take it back.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    request_path, result_path = (sys.argv[1:] if argv is None else argv)[:2]
    with open(request_path, encoding="utf-8") as fh:
        request = json.load(fh)
    run(request, result_path)


if __name__ == "__main__":
    main()
