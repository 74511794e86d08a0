"""A report builder started ahead of time, so a sweep's report does not wait for its imports.

Importing the report's libraries (pandas, matplotlib, seaborn, scipy) takes about 1 s of a
2-core VM, and a sweep first spends 1-2 s planning on one core while the other idles. The
sweep (``coresweep.experiments.report_builder``) starts this process before it plans: the
imports run on the idle core, this process then sleeps until the sweep is over, and the report
starts at once (``python -m benchmarks.overhead``: README, "Overhead").

It detaches from the sweep's process tree first (a second fork), so that the peak memory and
CPU time that coresweep measures for a job's process tree never include it, and it ignores
Ctrl-C (the sweep decides what to do on an interrupt).

Protocol, one JSON object per line: this process writes ``{"ready": true, "pid": ...}`` once imported; each
request ``{"paths": [...], "out": "..."}`` on stdin is answered with ``{"index_html": ...,
"physics_flags": [...]}`` (the lines of ``report/warnings.txt``) or ``{"error": "Type: message"}``.
The end of stdin (the sweep ended, however) ends this process.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from typing import Any, TextIO


def _send(channel: TextIO, message: dict[str, Any]) -> None:
    try:
        channel.write(json.dumps(message) + "\n")
        channel.flush()
    except OSError:  # the sweep has gone (it ended or gave this process up): end quietly
        os._exit(0)


def serve() -> None:
    if hasattr(os, "fork") and os.fork():
        os._exit(0)  # the sweep reaps this one; the child carries on outside its process tree
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    channel = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # whatever a library prints goes to stderr, never into the replies
    sys.stdout = sys.stderr
    from .report import build_report  # the point of this process: import while the sweep plans

    _send(channel, {"ready": True, "pid": os.getpid()})
    for line in sys.stdin:
        request = json.loads(line)
        try:
            result = build_report(request["paths"], request["out"])
        except Exception as exc:  # the sweep says it in one line; its rows are on disk already
            _send(channel, {"error": f"{type(exc).__name__}: {exc}"})
            continue
        _send(channel, {"index_html": str(result.index_html), "physics_flags": result.physics_flags})
    # The sweep has ended. Leave without tearing down matplotlib and pandas (~0.2 s): this
    # process shares the sweep's stderr, and whoever reads it waits for every writer to close.
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    serve()
