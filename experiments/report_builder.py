"""Building the sweep's report: in a report process started while the sweep plans, else here.

The report process (``coresweep.analysis.warm``) imports the report's libraries on the core
that planning leaves idle, then sleeps until the sweep ends; that takes the ~1 s of imports
out of every sweep's wall time. The sweep waits for it to be ready before the first job, so it
never runs beside a timed run. Whatever goes wrong with that process (it cannot start, is not
ready in time, dies, fails, Ctrl-C), it is stopped and the report is built in this process as
before: the process only saves time, it never decides whether there is a report.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

#: How long the sweep waits, after planning, for the report process's imports.
READY_TIMEOUT_S = 60.0

#: ``python -c`` without the current directory on sys.path (the ``coresweep`` console script
#: has none either), so a user's json.py or pandas/ there cannot break the report process.
_SERVE = (
    "import sys; sys.path[:] = [p for p in sys.path if p not in ('', '.')]; "
    "from coresweep.analysis.warm import serve; serve()"
)


def report_wanted(argv: list[str]) -> bool:
    """Whether a command line leaves the report on (``report=false`` turns it off): the report
    process is started only then."""
    return "report=false" not in argv


class ReportError(Exception):
    """The report could not be built; the message is the builder's one line."""


class ReportBuilder:
    """Builds ``<sweep>/report``; ``start()`` first to have the report process ready."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen[str] | None = None
        self._ready = False
        self.pid: int | None = None  # the serving process (the one started exits at its fork)

    def start(self) -> None:
        """Start the report process (POSIX: it detaches with a fork), if not started."""
        if self._proc is not None or not hasattr(os, "fork"):
            return
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-c", _SERVE],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                start_new_session=True,  # Ctrl-C at the terminal reaches the sweep, not it
            )
        except OSError:
            self._proc = None

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> bool:
        """Block until the report process has imported (or give it up: the report is then built here)."""
        if self._proc is None or self._ready:
            return self._ready
        reply = self._receive(timeout)
        self._ready = bool(reply and reply.get("ready"))
        self.pid = reply.get("pid") if reply else None
        if not self._ready:
            self.close()
            return False
        try:
            self._proc.wait(timeout=5)  # the process started exited at its fork; its child serves
        except subprocess.TimeoutExpired:
            pass
        return True

    def build(self, sweep_dir: Path) -> Path:
        """Build the report of ``sweep_dir``; returns index.html's path, raises ``ReportError``."""
        # As given (often relative): the report's rebuild command shows them so, and the report
        # process works in this process's directory.
        paths, out = [str(sweep_dir)], str(Path(sweep_dir) / "report")
        if self.wait_ready():
            try:
                reply = self._request({"paths": paths, "out": out})
            except BaseException:  # Ctrl-C mid-build: stop it; whoever handles this builds here
                self.close()
                raise
            if reply is not None and "index_html" in reply:
                return Path(reply["index_html"])
            # It died, or failed where this process might not (its environment differs from
            # this one's in how it was started): build here, so it never decides the outcome.
            self.close()
        from coresweep.analysis.report import build_report

        try:
            return build_report(paths, out).index_html
        except Exception as exc:
            raise ReportError(f"{type(exc).__name__}: {exc}") from exc

    def close(self) -> None:
        """End the report process, whatever it is doing (importing, building, waiting)."""
        proc, self._proc, self._ready, self.pid = self._proc, None, False, None
        if proc is None:
            return
        try:  # it leads its own session, and the serving process stays in its group
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
        for stream in (proc.stdin, proc.stdout):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    def _request(self, message: dict[str, Any]) -> dict[str, Any] | None:
        assert self._proc is not None and self._proc.stdin is not None
        try:
            self._proc.stdin.write(json.dumps(message) + "\n")
            self._proc.stdin.flush()
        except OSError:
            return None
        return self._receive(None)

    def _receive(self, timeout: float | None) -> dict[str, Any] | None:
        """The next reply, or None at the end of the stream or after ``timeout`` seconds."""
        assert self._proc is not None and self._proc.stdout is not None
        try:
            readable, _, _ = select.select([self._proc.stdout], [], [], timeout)
            line = self._proc.stdout.readline() if readable else ""
            return json.loads(line) if line else None
        except (OSError, ValueError):
            return None


#: The sweep's builder in this process: the CLI starts it, the callback builds with it.
BUILDER = ReportBuilder()
