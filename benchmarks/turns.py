"""Two processes taking turns: the hand-written script and coresweep, one timed run each in turn.

Why: on a shared VM a loop's speed drifts by 5-10 % over seconds (docs/measurement.md, "Fidelity"), so
two processes run one after the other see different machines, and a 3 % comparison of them
needs tens of pairs. Run side by side, each process waits for its turn before every timed run
(``turn()``); the driver (``run_in_turns``) lets one process go at a time and alternates them.
So their timed runs alternate every ~0.1-0.3 s and share the drift, and nothing of one process
(start-up, warm-ups, verification, pool start, exit) ever runs beside a timed run of the other:
a process's turn lasts from its ``turn()`` until its next ``turn()`` (or its exit).

Each side calls ``turn()`` before each timed run, both the same way (a blocking one-byte read
on a pipe): the script right before its clock, coresweep before its run's set-up (memory
reset, watchdog hand-off), which then belongs to its turn. The harness side is coresweep's own
command with one change made here, for this measurement only: ``Protocol._timed_run`` first
calls ``turn()`` (``python -m benchmarks.turns -- OVERRIDES...``).
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

_ENV = "CORESWEEP_BENCH_TURNS"  # "READ_FD,WRITE_FD" of this process's end of the turn pipes


def turn() -> None:
    """Say this side is ready for a timed run and wait until it is its turn (no-op alone)."""
    fds = os.environ.get(_ENV)
    if not fds:
        return
    read_fd, write_fd = (int(x) for x in fds.split(","))
    os.write(write_fd, b"r")
    if os.read(read_fd, 1) != b"g":
        raise SystemExit("the turn driver went away")


@dataclass
class Side:
    """One process of the pair, as the driver sees it."""

    name: str
    proc: subprocess.Popen[str]
    ready_fd: int  # the side writes b"r" here when it waits for its turn
    go_fd: int  # the driver writes b"g" here to let it run
    waiting: bool = False
    done: bool = False
    turns: int = 0


def run_in_turns(cmds: dict[str, list[str]], env: dict[str, dict[str, str]]) -> dict[str, dict[str, Any]]:
    """Run the commands side by side, one timed run at a time, alternating; returns per side
    its stdout, stderr, exit status, turns and rusage (user+sys, involuntary switches)."""
    sides: list[Side] = []
    for name, cmd in cmds.items():
        to_side_r, to_side_w = os.pipe()
        from_side_r, from_side_w = os.pipe()
        side_env = {**env.get(name, os.environ), _ENV: f"{to_side_r},{from_side_w}"}
        proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=side_env,
            pass_fds=(to_side_r, from_side_w),
        )
        os.close(to_side_r)
        os.close(from_side_w)
        sides.append(Side(name, proc, from_side_r, to_side_w))
    try:
        return _drive(sides)
    finally:  # a driver error or Ctrl-C must not leave the two processes behind
        for side in sides:
            if side.proc.returncode is None and side.proc.poll() is None:
                side.proc.kill()
                side.proc.wait()


def _drive(sides: list[Side]) -> dict[str, dict[str, Any]]:
    outputs = {s.name: {"stdout": [], "stderr": []} for s in sides}
    streams = {s.proc.stdout.fileno(): (s, "stdout") for s in sides}  # type: ignore[union-attr]
    streams.update({s.proc.stderr.fileno(): (s, "stderr") for s in sides})  # type: ignore[union-attr]
    last: Side | None = None
    while not all(s.done for s in sides) or streams:
        active = [s for s in sides if not s.done and not s.waiting]
        waiting = [s for s in sides if s.waiting]
        if not active and waiting:
            # Nobody runs: let the one that did not run last go (alternate), else the only one.
            nxt = next((s for s in waiting if s is not last), waiting[0])
            nxt.waiting = False
            nxt.turns += 1
            last = nxt
            os.write(nxt.go_fd, b"g")
            continue
        watch = [s.ready_fd for s in sides if not s.done] + list(streams)
        readable, _, _ = select.select(watch, [], [])
        for fd in readable:
            if fd in streams:
                side, which = streams[fd]
                chunk = os.read(fd, 65536)
                if chunk:
                    outputs[side.name][which].append(chunk.decode(errors="replace"))
                else:
                    del streams[fd]
                continue
            side = next(s for s in sides if s.ready_fd == fd)
            if os.read(fd, 1) == b"r":
                side.waiting = True
            else:  # end of the pipe: the process exited
                side.done = True
                os.close(side.ready_fd)
                os.close(side.go_fd)
    results = {}
    for side in sides:
        for stream in (side.proc.stdout, side.proc.stderr):
            if stream is not None:
                stream.close()
        _, status, usage = os.wait4(side.proc.pid, 0)
        side.proc.returncode = os.waitstatus_to_exitcode(status)
        results[side.name] = {
            "returncode": side.proc.returncode,
            "stdout": "".join(outputs[side.name]["stdout"]),
            "stderr": "".join(outputs[side.name]["stderr"]),
            "turns": side.turns,
            "own_cpu_s": usage.ru_utime + usage.ru_stime,  # this process and its reaped children
            "involuntary_switches": usage.ru_nivcsw,
        }
    return results


def _take_turns_in_protocol() -> None:
    """``Protocol._timed_run`` first calls ``turn()``, in this process and its forks."""
    from coresweep.experiments.job import protocol

    original = protocol.Protocol._timed_run

    def timed_run_in_turn(self: Any, *args: Any, **kwargs: Any) -> Any:
        turn()
        return original(self, *args, **kwargs)

    protocol.Protocol._timed_run = timed_run_in_turn  # type: ignore[method-assign]


def serve_in_turns() -> None:
    """coresweep's job server, whose job children take turns (they are forked from it)."""
    from coresweep.experiments.launch import job_server

    _take_turns_in_protocol()
    job_server.serve()


def harness_main(argv: list[str]) -> int:
    """coresweep's command, with ``turn()`` before every timed run.

    Jobs are measured in children forked from coresweep's job server: the server keeps the
    turn pipes open and patches the protocol before it forks (this benchmark only).
    """
    from coresweep.experiments import cli
    from coresweep.experiments.launch import isolation

    _take_turns_in_protocol()
    fds = os.environ.get(_ENV)
    if fds:
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        isolation.JobServer.pass_fds = tuple(int(x) for x in fds.split(","))
        isolation.JobServer.serve_code = (
            f"import sys; sys.path.insert(0, {root!r}); from benchmarks.turns import serve_in_turns; "
            "serve_in_turns()"
        )
    return cli.main(argv)


if __name__ == "__main__":
    args = sys.argv[1:]
    if args[:1] == ["--"]:
        args = args[1:]
    sys.exit(harness_main(args))
