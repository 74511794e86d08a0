"""dask.distributed: a scheduler plus workers, as people use it for parallel Python beyond one pool.

A ``LocalCluster`` (worker processes, or worker threads in this process) started and closed
by the job, or an existing scheduler at ``address`` that the job only connects to. Every task
goes through the scheduler (a round trip over TCP per task), which is the price measured
against the standard library's pools. dask is an optional extra: ``pip install '.[dask]'``.

Three dask defaults would fake or blur figures, so they are changed for the job's cluster:
results are not cached between runs (``pure=False``: every run computes every task), a task
whose worker dies is a failure rather than silently retried on another worker
(``allowed-failures: 0``), and dask's log lines are kept off the terminal (errors land in the
rows). The nanny starts worker processes with ``distributed.worker.multiprocessing-method``
(spawn unless configured), which is what ``start_method`` records.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from typing import Any, Callable, ClassVar

from .base import Backend, BackendError, Initializer

#: Install hint shown wherever dask is missing.
EXTRA = (
    "the extra coresweep[dask]: pip install '.[dask]' in the coresweep checkout, "
    "or pip install 'dask[distributed]'"
)

#: A scheduler address: ``scheme://host:port`` (tcp, tls, ucx, ws...) or plain ``host:port``.
_ADDRESS = re.compile(r"^(?:[a-z][a-z0-9+]*://\S+|[^\s:/]+:\d+)$")

#: How long to wait for an existing cluster's workers to join before checking its size.
EXTERNAL_WAIT_S = 10.0


def dask_available() -> bool:
    """Installed or not, without importing it (the registry asks at every coresweep start)."""
    from importlib.util import find_spec

    try:
        return find_spec("dask") is not None and find_spec("distributed") is not None
    except (ImportError, ValueError):  # a broken or blocked import machinery: treat as absent
        return False


def _quiet_dask_logging() -> None:
    """Keep dask's INFO/WARNING/ERROR lines (worker restarts, killed tasks) off the terminal.

    Each failure is already in the rows with its reason; dask's own loggers would print the
    same event several times, interleaved with coresweep's progress lines.
    """
    for name in [n for n in logging.root.manager.loggerDict if n.split(".")[0] == "distributed"]:
        logging.getLogger(name).setLevel(logging.CRITICAL)
    logging.getLogger("distributed").setLevel(logging.CRITICAL)


class DaskDistributedBackend(Backend):
    """``client.map`` + ``client.gather`` on a LocalCluster (or an existing scheduler)."""

    name: ClassVar[str] = "dask_distributed"
    summary: ClassVar[str] = "dask.distributed LocalCluster (processes or threads) or an existing scheduler"
    requires: ClassVar[tuple[str, ...]] = ("dask", "distributed")
    uses_processes: ClassVar[bool] = True

    def __init__(
        self,
        workers: int,
        start_method: str | None = None,
        initializer: Initializer = None,
        initargs: tuple[Any, ...] = (),
        processes: bool = True,
        address: str | None = None,
    ) -> None:
        if not dask_available():
            raise BackendError(f"backend=dask_distributed: needs dask.distributed, {EXTRA}")
        try:  # imported here, not in start(): the first job's startup_s must not include it
            import distributed  # noqa: F401
        except ImportError as exc:
            raise BackendError(f"backend=dask_distributed: cannot import dask.distributed ({exc})") from None
        if not isinstance(processes, bool):
            raise BackendError(
                f"backend.processes={processes!r}: must be true (worker processes) or false (threads)"
            )
        if address is not None and (not isinstance(address, str) or not _ADDRESS.match(address)):
            raise BackendError(
                f"backend.address={address!r}: must be a scheduler address like tcp://host:8786, or null "
                "(start a LocalCluster)"
            )
        super().__init__(workers, start_method, initializer, initargs)
        self.processes = processes
        self.address = address
        # An instance attribute: threads mode shares this process (no pickling, no children).
        self.uses_processes = processes or address is not None  # type: ignore[misc]

    @classmethod
    def available(cls) -> bool:
        return dask_available()

    @property
    def start_method(self) -> str:
        if self.address is not None:
            return "external"  # workers were started by whoever runs that scheduler
        if not self.processes:
            return "thread"
        import dask

        return str(dask.config.get("distributed.worker.multiprocessing-method"))

    def start(self) -> None:
        import dask
        from distributed import Client, LocalCluster

        _quiet_dask_logging()
        self._environ = dict(os.environ)  # the nanny writes its pre-spawn variables into ours
        self._cluster = None
        with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
            if self.address is None:
                self._cluster = LocalCluster(
                    n_workers=self.workers,
                    threads_per_worker=1,
                    processes=self.processes,
                    dashboard_address=None,  # no web server competing for the CPUs measured
                    silence_logs=logging.CRITICAL,
                )
            self._client = Client(self._cluster or self.address, set_as_default=False)
        if self.address is None:
            self._client.wait_for_workers(self.workers)
        else:
            self._check_external_cluster()
        if self.initializer is not None:
            self._client.run(self.initializer, *self.initargs)
        self._restore_environ()

    def _check_external_cluster(self) -> None:
        """An existing cluster has the size it has: refuse to record it under another ``workers``."""
        try:  # give a cluster that is still scaling up a moment to reach the size asked for
            self._client.wait_for_workers(self.workers, timeout=EXTERNAL_WAIT_S)
        except TimeoutError:
            pass
        info = self._client.scheduler_info(n_workers=-1)["workers"]
        threads = sum(int(w.get("nthreads", 1)) for w in info.values())
        if threads != self.workers:
            raise BackendError(
                f"backend.address={self.address}: that cluster runs {threads} tasks at once "
                f"({len(info)} workers, {threads} threads in all) but workers={self.workers}; "
                f"set workers={threads} so the rows say what ran"
            )

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        # pure=False: unique keys, so no run can be answered from an earlier run's results.
        futures = self._client.map(fn, list(items), pure=False)
        try:
            return list(self._client.gather(futures))
        except BaseException:
            self._client.cancel(futures)  # tasks still queued must not run into the next run
            raise
        finally:
            del futures  # release the results on the workers

    def shutdown(self) -> None:
        try:
            self._client.close()
            if self._cluster is not None:
                self._cluster.close()
        finally:
            self._restore_environ()

    def abort(self) -> None:
        """Kill our worker processes first (a hung task ends ``gather``), then close."""
        cluster = getattr(self, "_cluster", None)
        if cluster is not None and self.processes:
            import psutil

            for nanny in list(cluster.workers.values()):
                process = getattr(getattr(nanny, "process", None), "process", None)
                pid = getattr(process, "pid", None)
                if pid is not None:
                    try:
                        psutil.Process(pid).kill()
                    except psutil.Error:
                        pass
        for closer in (getattr(self, "_client", None), cluster):
            if closer is not None:
                try:
                    closer.close(timeout=10)
                except Exception:
                    pass
        self._restore_environ()

    def _restore_environ(self) -> None:
        saved = getattr(self, "_environ", None)
        if saved is not None and dict(os.environ) != saved:
            os.environ.clear()
            os.environ.update(saved)
