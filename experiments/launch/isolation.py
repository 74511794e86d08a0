"""Every job runs in a child process: a crash, a hang or a leak there is a failed row here.

The driver (the ``coresweep`` process: Hydra, the sweep, the rows) never runs the code it
measures, as pyperf and asv never do. It plans a job as plain JSON (``JobRequest``), a child
measures it with the same ``Protocol`` (``job_child.py``) and streams each timed run back as it
ends, and the driver turns the runs into rows. Where the child comes from:

- ``JobServer`` (Linux, this interpreter): a server process started before the first job, which
  has imported the runner (not pandas or matplotlib), holds no threads and forks one child per
  job (as asv's forkserver does), so a job costs a fork instead of an interpreter start.
- a fresh interpreter (``<python> -c BOOTSTRAP``): under ``python=X``, where there is no fork
  (macOS, Windows) or no server (a submitit job process).

Either way the child leads a process group of its own, so its workers (pool processes, loky,
dask) are ended with it; the server is also a child subreaper and reaps what escaped. Windows
has no process groups: there the child starts suspended inside a Job Object that kills its
whole tree when the driver closes it (``winjob.py``), also when the driver dies. A child
that dies (``os._exit``, a signal, the OOM killer) leaves its streamed runs and one failed row
that says how it ended; one that outlives its limits is killed; the sweep goes on.
"""

from __future__ import annotations

import atexit
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from ..job.protocol import JobMeasurement, Protocol, RunMeasurement
from ..machine import platforms
from ..machine.worker_setup import ENV_VARS
from . import winjob
from .interpreter import Interpreter, child_env
from .job_child import BOOTSTRAP, PARENT_ENV

#: SIGKILL where there is one (Windows has none: signal_group ends the process there).
_SIGKILL = getattr(signal, "SIGKILL", signal.SIGTERM)
#: Seconds a child gets to write what it measured after Ctrl-C is passed on to it.
INTERRUPT_GRACE_S = 10.0
#: Seconds the driver adds to a job's own limits before it kills a child that did not end.
DEADLINE_SLACK_S = 60.0

# The sequential answer per (interpreter, workload), as the pickled bytes a child sent: later
# jobs of the sweep under the same interpreter reuse it (the driver never unpickles it).
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

    def to_json(self, reference: str | None, stream: str | None = None) -> dict[str, Any]:
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
                "pair": p.pair,
            },
            "pinning_plan": self.pinning_plan,
            "blas_threads": self.blas_threads,
            "cpus": self.cpus,
            "reference": reference,
            "stream": stream,
        }

    def deadline_s(self) -> float | None:
        """How long the whole child may take before the driver kills it (None: no limit).

        The child's own watchdog ends a run at ``timeout_s``; this is the backstop for what it
        cannot see (a hang in set-up, a wedged interpreter): every run at its limit, plus slack.
        """
        p = self.protocol
        if p.timeout_s is None:
            return None
        runs = p.warmup + (p.adaptive.max_repeats if p.adaptive else p.repeats) + 3  # + start, stop, answer
        if p.pair:  # a sequential run beside each run (one more with a single run), + its warm-up
            runs += (p.adaptive.max_repeats if p.adaptive else p.repeats) + 2
        return runs * p.timeout_s + DEADLINE_SLACK_S


class Child:
    """A job's process, as the driver sees it: wait for it, signal its group."""

    pid: int
    #: Ctrl-C came while the job was being handed over (run_isolated stops it at once).
    interrupted = False
    #: Whoever started it kills and reaps its group when it ends (the job server does; after
    #: that the group id is free again, so the driver must not signal it a second time).
    group_reaped = False

    def wait(self, timeout: float | None) -> int | None:
        """The exit status (negative: the signal), or None if it still runs after ``timeout``."""
        raise NotImplementedError

    def signal_group(self, sig: int) -> None:
        if not hasattr(os, "killpg"):  # Windows: no process groups; end the process itself
            self.kill()
            return
        try:
            os.killpg(self.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def kill(self) -> None:
        pass

    def close(self) -> None:
        """Release what holds the job's tree (Windows: the Job Object, whose closing ends it)."""


class _Popened(Child):
    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.proc, self.pid = proc, proc.pid

    def wait(self, timeout: float | None) -> int | None:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self) -> None:
        self.proc.kill()


class _InJob(_Popened):
    """A fresh job process on Windows, inside a kill-on-close Job Object with its workers."""

    def __init__(self, proc: subprocess.Popen[bytes], job: Any) -> None:
        super().__init__(proc)
        self.job = job

    def signal_group(self, sig: int) -> None:
        self.job.terminate()  # no signals to pass on: end the job's process and its workers

    def kill(self) -> None:
        self.job.terminate()

    def close(self) -> None:
        self.job.close()


class FreshInterpreter:
    """Starts each job as ``<python> -c BOOTSTRAP`` in a session of its own."""

    def __init__(self, path: str | None = None) -> None:
        self.path = path or sys.executable

    def start(self, args: list[str], stderr_path: str, env: dict[str, str]) -> Child:
        job = winjob.KillOnCloseJob() if platforms.system() == "windows" else None
        extra: dict[str, Any] = {"creationflags": winjob.CREATE_SUSPENDED} if job is not None else {}
        try:
            with open(stderr_path, "wb") as err:
                proc = subprocess.Popen(
                    [self.path, "-c", BOOTSTRAP, *args],
                    env=child_env({**env, PARENT_ENV: str(os.getpid())}),
                    stdin=subprocess.DEVNULL,
                    stdout=err,
                    stderr=err,
                    start_new_session=True,
                    **extra,
                )
        except BaseException:
            if job is not None:
                job.close()
            raise
        if job is None:
            return _Popened(proc)
        try:  # into the job before its first instruction runs, then let it go
            job.assign(int(proc._handle))  # type: ignore[attr-defined]
            winjob.resume(proc.pid)
        except BaseException:
            proc.kill()
            job.close()
            raise
        return _InJob(proc, job)


class _Forked(Child):
    group_reaped = True  # job_server._reap_group, before it reports the status

    def __init__(self, server: JobServer, pid: int) -> None:
        self.server, self.pid = server, pid
        self.status: int | None = None

    def wait(self, timeout: float | None) -> int | None:
        if self.status is None:
            self.status = self.server._read_status(self.pid, timeout)
        return self.status


class JobServerError(RuntimeError):
    """The job server could not start or stopped answering."""


#: The server process: no current folder on sys.path (see job_child.BOOTSTRAP).
_SERVE = (
    "import sys; sys.path[:] = [p for p in sys.path if p not in ('', '.')]; "
    "from coresweep.experiments.launch.job_server import serve; serve()"
)


class JobServer:
    """A clean process that forks one child per job (Linux, this interpreter).

    Started before the first job, so its imports run once and outside every job; it answers
    one request at a time on a pipe: ``{"args", "stderr", "env"}`` → ``{"pid"}``, then, once the
    child has ended and its process group is gone, ``{"pid", "status"}``.
    """

    READY_TIMEOUT_S = 60.0
    #: The server's ``-c`` code, and file descriptors it keeps (a benchmark's turn pipes).
    serve_code = _SERVE
    pass_fds: tuple[int, ...] = ()

    def __init__(self) -> None:
        env = dict(os.environ)
        # Loaded in the server (numpy through joblib), BLAS would start its thread pool there;
        # one thread keeps the server thread-free. Each child gets the driver's environment.
        env.update({name: "1" for name in ENV_VARS})
        self.proc = subprocess.Popen(
            [sys.executable, "-c", self.serve_code],
            env=child_env(env),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            pass_fds=self.pass_fds,
            start_new_session=True,  # Ctrl-C at the terminal reaches the driver, not the server
        )
        self.pid = self.proc.pid
        self._buffer = b""
        self._eof = False
        self.info: dict[str, Any] | None = None

    def wait_ready(self) -> dict[str, Any]:
        """Until the server has imported the runner (it started while the sweep planned)."""
        if self.info is None:
            line = self._read_line(self.READY_TIMEOUT_S)
            if line is None or not line.startswith("ready"):
                self.close()
                raise JobServerError(f"the job server did not start ({line or 'no answer'})")
            self.info = json.loads(line.split(" ", 1)[1]) if " " in line else {}
        return self.info

    def start(self, args: list[str], stderr_path: str, env: dict[str, str]) -> Child:
        assert self.proc.stdin is not None
        # The job runs with the driver's environment and folder of this moment (Hydra's
        # hydra.job.env_set and chdir apply), plus the job's own variables.
        message = {"args": args, "stderr": stderr_path, "env": {**os.environ, **env}, "cwd": os.getcwd()}
        try:
            self.proc.stdin.write((json.dumps(message) + "\n").encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError) as exc:
            raise JobServerError(f"the job server is gone ({exc})") from None
        interrupted = False
        try:
            line = self._read_line(self.READY_TIMEOUT_S)
        except KeyboardInterrupt:  # Ctrl-C mid hand-over: the fork's answer comes at once
            interrupted = True
            line = self._read_line(5.0)
        if line is None:
            raise JobServerError("the job server did not fork the job")
        child = _Forked(self, int(json.loads(line)["pid"]))
        child.interrupted = interrupted
        return child

    def _read_status(self, pid: int, timeout: float | None) -> int | None:
        line = self._read_line(timeout)
        if line is None:
            if self._eof:  # the server is gone (not a timeout): say how it ended
                try:
                    self.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
                raise JobServerError(f"the job server ended ({exit_description(self.proc.returncode)})")
            return None
        answer = json.loads(line)
        assert answer["pid"] == pid, answer
        return int(answer["status"])

    def _read_line(self, timeout: float | None) -> str | None:
        """One line from the server, or None after ``timeout`` seconds (or when it is gone)."""
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        end = None if timeout is None else time.monotonic() + timeout
        while b"\n" not in self._buffer:
            left = None if end is None else max(0.0, end - time.monotonic())
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                return None
            chunk = os.read(fd, 65536)
            if not chunk:
                self._eof = True
                return None
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line.decode()

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                if self.proc.stdin is not None:
                    self.proc.stdin.close()  # the server's loop ends at end of input
                self.proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()


class Isolation:
    """Where this process's jobs run: the job server a launcher started, else fresh interpreters."""

    def __init__(self) -> None:
        self.server: JobServer | None = None
        self.server_error: str | None = None
        self._ready = False

    def start_server(self, wait: bool = True) -> None:
        """Start the job server (Linux); where it cannot start, jobs use fresh interpreters.

        ``wait=False`` returns at once (the CLI starts it while the sweep plans, so that its
        imports run on the core planning leaves idle); the launcher's call waits for it.
        """
        if platforms.system() != "linux" or self.server_error is not None:
            return
        try:
            if self.server is None:
                self.server = JobServer()
                atexit.register(self.close)
            if not wait or self._ready:
                return
            info = self.server.wait_ready()
        except (JobServerError, OSError) as exc:
            self.server_error = str(exc)
            self.close()
            print(f"coresweep: warning: {exc}; each job starts a fresh interpreter instead", file=sys.stderr)
            return
        self._ready = True
        if info.get("threads", 1) != 1:
            # Forking a process that holds threads is unsafe (a lock held by another thread
            # stays held in the child forever): use fresh interpreters instead.
            print(
                f"coresweep: warning: the job server holds {info['threads']} threads after its "
                "imports, so forking it is unsafe; each job starts a fresh interpreter instead",
                file=sys.stderr,
            )
            self.server_error = "threads"
            self.close()

    def runner(self, interp: Interpreter | None) -> JobServer | FreshInterpreter:
        if interp is None and self._ready and self.server is not None and self.server.proc.poll() is None:
            return self.server
        return FreshInterpreter(interp.path if interp is not None else None)

    def close(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None
        self._ready = False


#: Jobs of this process: the launcher starts the server in it before the first job.
ISOLATION = Isolation()


def run_isolated(
    interp: Interpreter | None, request: JobRequest, reference_key: tuple[Any, ...]
) -> tuple[JobMeasurement, dict[str, Any]]:
    """Measure the job in a child; returns the measurement and the row fields it fixes.

    ``interp`` None: this interpreter (forked from the job server where there is one). Raises
    KeyboardInterrupt (after collecting what the child measured) when interrupted.
    """
    path = interp.path if interp is not None else sys.executable
    key = (path, reference_key)
    folder = tempfile.mkdtemp(prefix="coresweep-job-")
    request_path = os.path.join(folder, "request.json")
    result_path = os.path.join(folder, "result.json")
    stream_path = os.path.join(folder, "runs.jsonl")
    stderr_path = os.path.join(folder, "stderr.txt")
    with open(request_path, "w", encoding="utf-8") as fh:
        json.dump(request.to_json(_REFERENCES.get(key), stream_path), fh)
    env: dict[str, str] = {}
    if request.blas_threads is not None:
        # Read by BLAS when the child (and its workers) load it.
        env.update({name: str(request.blas_threads) for name in ENV_VARS})
    row: dict[str, Any] = {}
    runner = ISOLATION.runner(interp)
    row["job_process"] = "forked" if isinstance(runner, JobServer) else "fresh"
    if interp is not None:
        row.update(python=interp.version, gil_enabled=interp.gil_enabled, python_executable=interp.path)
    interrupted = False
    returncode: int | None = None
    ended = ""
    child: Child | None = None
    try:
        try:
            child = runner.start([request_path, result_path], stderr_path, env)
        except (OSError, JobServerError) as exc:
            if isinstance(runner, JobServer):  # the server is gone: this job, and later ones, fresh
                ISOLATION.close()
                row["job_process"] = "fresh"
                child = FreshInterpreter().start([request_path, result_path], stderr_path, env)
            else:
                with open(stderr_path, "ab") as err:
                    err.write(f"could not start {path}: {exc}\n".encode())
        if child is not None:
            try:
                if child.interrupted:
                    raise KeyboardInterrupt
                returncode = child.wait(request.deadline_s())
                if returncode is None:
                    child.signal_group(_SIGKILL)
                    returncode = child.wait(None)
                    ended = (
                        f"killed after {request.deadline_s():.0f} s, past every limit of the job "
                        f"(timeout_s={request.protocol.timeout_s} per run)"
                    )
            except KeyboardInterrupt:
                interrupted = True
                returncode = _stop(child)
            except JobServerError as exc:
                ISOLATION.close()
                ended = str(exc)
            if not child.group_reaped:
                child.signal_group(_SIGKILL)  # workers a dead fresh child left behind
        stderr = _read(stderr_path)
        if stderr.strip() and not interrupted:  # after Ctrl-C: only the workers' KeyboardInterrupts
            sys.stderr.write(_tail(stderr))
        measurement, fields = _measurement(
            result_path, stream_path, returncode, stderr, request.protocol, ended
        )
    finally:
        if child is not None:
            child.close()
        _remove(folder)
    reference = fields.pop("reference_pickle", None)
    if reference:
        _REFERENCES[key] = reference
    row.update({k: v for k, v in fields.items() if v is not None or k not in row})
    if interrupted:
        measurement.interrupted = True
    return measurement, row


def exit_description(returncode: int | None) -> str:
    """``exit status 13`` or ``signal SIGSEGV`` (from a Popen/waitpid-style return code)."""
    if returncode is None:
        return "no exit status"
    if returncode < 0:
        try:
            return f"signal {signal.Signals(-returncode).name}"
        except ValueError:
            return f"signal {-returncode}"
    return f"exit status {returncode}"


def _measurement(
    result_path: str,
    stream_path: str,
    returncode: int | None,
    stderr: str,
    protocol: Protocol,
    ended: str = "",
) -> tuple[JobMeasurement, dict[str, Any]]:
    try:
        with open(result_path, encoding="utf-8") as fh:
            result = json.load(fh)
    except (OSError, ValueError):
        return _died(stream_path, returncode, stderr, ended), {}
    m = result["measurement"]
    job = JobMeasurement(
        startup_s=m.get("startup_s"),
        teardown_s=m.get("teardown_s"),
        setup_s=m.get("setup_s"),
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
        "job_process": result.get("job_process"),
        "job_process_s": result.get("job_process_s"),
    }
    fields.update(result.get("workload_fields") or {})
    if "pinning_ok" in result:
        fields["pinning_ok"] = result["pinning_ok"]
        fields["worker_cpus"] = {int(k): v for k, v in (result.get("worker_cpus") or {}).items()}
    return job, fields


def _died(stream_path: str, returncode: int | None, stderr: str, ended: str) -> JobMeasurement:
    """The runs the child streamed before it died, then one failed row saying how it ended."""
    job = JobMeasurement()
    phase = None
    try:
        with open(stream_path, encoding="utf-8") as fh:
            for line in fh:
                try:
                    entry = json.loads(line)
                    if "phase" in entry:
                        phase = entry["phase"]
                    else:
                        job.runs.append(RunMeasurement(**entry))
                except (ValueError, TypeError):
                    break  # a torn last line: the child died while writing it
    except OSError:
        pass
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    # faulthandler's report (a crash in C) starts with its one-line cause; a traceback follows
    fatal = [ln for ln in lines if ln.startswith("Fatal Python error")]
    last = fatal[-1] if fatal else lines[-1] if lines else ""
    why = ended or f"it ended ({exit_description(returncode)})"
    when = f"after {len(job.runs)} timed runs"
    if phase == "reference":
        when = "while computing the sequential answer"
    detail = f"; last output: {last[:300]}" if last else ""  # stdout and stderr share one file
    error = f"job process died: {why} {when}{detail}"
    job.runs.append(RunMeasurement(len(job.runs), 1, None, None, None, None, False, False, error))
    job.died = True
    return job


#: Processes stopped by Ctrl-C/SIGTERM (the job's process and its workers), for the CLI's line.
STOPPED = {"processes": 0}


def _count_tree(pid: int) -> int:
    """The process and its descendants, counted now (0 if it is gone)."""
    try:
        import psutil

        proc = psutil.Process(pid)
        return 1 + len(proc.children(recursive=True))
    except Exception:
        return 0


def _stop(child: Child) -> int | None:
    """Ctrl-C/SIGTERM here: pass Ctrl-C on, so the child stops its workers and writes its runs."""
    STOPPED["processes"] += _count_tree(child.pid)
    child.signal_group(signal.SIGINT)
    try:
        status = child.wait(INTERRUPT_GRACE_S)
    except KeyboardInterrupt:
        status = None
    if status is None:
        child.signal_group(_SIGKILL)
        status = child.wait(None)
    return status


def _tail(text: str, keep: int = 100) -> str:
    """The job's output for the terminal: its last ``keep`` lines (a chatty job can print MBs)."""
    lines = text.splitlines()
    shown = lines[-keep:]
    if len(lines) > keep:
        shown.insert(0, f"coresweep: (the job printed {len(lines)} lines; the last {keep}:)")
    return "\n".join(shown) + "\n"


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read()
    except OSError:
        return ""


def _remove(folder: str) -> None:
    import shutil

    shutil.rmtree(folder, ignore_errors=True)

