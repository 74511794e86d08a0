"""The job server: a clean process that forks one child per job (Linux; see isolation.py).

It imports what every job needs (the runner's modules, psutil, joblib) once, holds no threads
(forking a process with threads can leave a lock held for ever in the child), and then answers
one request at a time on stdin/stdout. Each child leads a process group of its own, dies with
the server (``PR_SET_PDEATHSIG``), writes its output to the job's stderr file and measures the
job with ``job_child``. The server is a child subreaper: a job's workers orphaned by a crash
come back to it, and it kills the job's whole group and reaps every process before answering.
Imports here are the standard library's and the runner's only (no pandas, no matplotlib).
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import sys
import time

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36


def _prctl(option: int, value: int) -> None:
    try:
        ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the process group still ends the job's workers
        pass


def _preload() -> None:
    """What every job imports, imported once here instead of in each child."""
    import concurrent.futures  # noqa: F401
    import multiprocessing.pool  # noqa: F401

    from ..backends import BACKENDS  # noqa: F401
    from ..workloads import WORKLOADS  # noqa: F401
    from . import job_child  # noqa: F401  (protocol, collect, resources, pinning)

    for optional in ("psutil", "joblib", "threadpoolctl"):
        try:
            __import__(optional)
        except ImportError:
            pass


def _threads() -> int:
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        import threading

        return threading.active_count()


def _child(request: dict) -> None:
    """In the forked child: become the job's process, run it, never return."""
    code = 1
    try:
        os.setpgid(0, 0)
        # The server died: end this job's whole group (job_child's SIGTERM handler does).
        _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        fd = os.open(request["stderr"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
        os.close(null)
        sys.stdin = open(0, closefd=False)  # noqa: SIM115
        # The driver's environment and folder as the job starts (hydra.job.env_set, chdir),
        # with the job's own BLAS caps: not the server's, which started before the sweep.
        os.environ.clear()
        os.environ.update(request.get("env") or {})
        if request.get("cwd"):
            os.chdir(request["cwd"])
        # SIGPIPE stays ignored, as in any Python process: a write to a dead worker's pipe
        # raises BrokenPipeError (a failed run), it does not kill the job.
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        from . import job_child

        job_child.FORKED = True
        job_child.main(list(request["args"]))
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        try:
            import atexit

            atexit._run_exitfuncs()  # loky's and multiprocessing's clean-up, as a normal exit runs
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def _reap_group(pgid: int) -> None:
    """Kill what is left of the job's process group and reap every child of this server."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    deadline = time.monotonic() + 2.0
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return  # no children left
        if pid == 0:
            if time.monotonic() > deadline:
                return  # something escaped the group (setsid): leave it to the driver's check
            time.sleep(0.005)


_CURRENT: list[int] = []  # the job child running now (its pid is its process group)


def _on_term(signum: int, frame: object) -> None:
    """The driver died (or stopped us): end the running job's group, then this server."""
    for pgid in _CURRENT:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    os._exit(128 + signum)


def serve() -> None:
    """Answer fork requests until stdin closes."""
    signal.signal(signal.SIGTERM, _on_term)
    _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)  # the driver died: so does the server, cleanly
    if os.getppid() == 1:
        _on_term(signal.SIGTERM, None)  # it died before the line above
    _prctl(_PR_SET_CHILD_SUBREAPER, 1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the driver's to pass on
    _preload()
    out = sys.stdout
    out.write("ready " + json.dumps({"threads": _threads(), "pid": os.getpid()}) + "\n")
    out.flush()
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            _child(request)
        _CURRENT[:] = [pid]
        out.write(json.dumps({"pid": pid}) + "\n")
        out.flush()
        while True:
            try:
                _, status = os.waitpid(pid, 0)
                break
            except InterruptedError:
                continue
        _reap_group(pid)
        _CURRENT.clear()
        out.write(json.dumps({"pid": pid, "status": os.waitstatus_to_exitcode(status)}) + "\n")
        out.flush()


if __name__ == "__main__":
    serve()
