"""Ctrl-C, SIGTERM and SIGKILL mid-sweep, in a subprocess: rows kept, nothing left running,
and ``resume=`` finishes the sweep."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow

#: Three jobs of about a second each (40 tasks of 20 ms on 2 workers, 3 timed runs, no warm-up):
#: long enough for a signal to land mid-job once its workers exist (an event these tests wait for).
SWEEP = [
    "-m", "backend=pool,process_pool,thread_pool", "workers=2", "workload=io_sleep",
    "workload.size=40", "workload.grain=20000", "repeats=3", "warmup=0", "min_time_s=0", "rounds=1",
]


@pytest.fixture(autouse=True)
def interruptible_children():
    """A shell starts a background job with SIGINT ignored, and a child inherits that across exec:
    in `.ci/run &` the sweep would never see the signal these tests send. Children get the
    default handler back when this process has one."""
    if signal.getsignal(signal.SIGINT) != signal.SIG_IGN:
        yield
        return
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def start(sweep_dir: Path, *extra: str) -> subprocess.Popen:
    """SWEEP with ``extra``; a key in ``extra`` replaces SWEEP's (a key given twice is refused)."""
    entry = [sys.executable, "-m", "coresweep.experiments.entry"]
    given = {e.split("=", 1)[0] for e in extra}
    base = [a for a in SWEEP if a.split("=", 1)[0] not in given]
    cmd = [*entry, *base, *extra, f"hydra.sweep.dir={sweep_dir}"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        cmd, cwd=sweep_dir.parent, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, start_new_session=True,
    )


def wait_for_rows(path: Path, n: int = 3, timeout: float = 120) -> None:
    """Until the job has all its rows (they are written one by one at the job's end)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().count("\n") >= n:
            return
        time.sleep(0.1)
    raise AssertionError(f"no rows appeared in {path}")


def wait_for_workers(proc: subprocess.Popen, n: int = 2, timeout: float = 60) -> None:
    """Until a job's process has ``n`` children of its own: its pool's workers exist (an event,
    not a guess at how long a job takes). The job's process is a grandchild of the sweep (the job
    server forks it); the sweep's own children (job server, report process) are not counted."""
    top = psutil.Process(proc.pid)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for p in top.children(recursive=True):
            try:
                if p.ppid() != top.pid and len(p.children()) >= n:
                    return
            except psutil.NoSuchProcess:
                continue
        time.sleep(0.02)
    raise AssertionError(f"no job process with {n} workers appeared")


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def assert_all_gone(procs: list[psutil.Process]) -> None:
    _, alive = psutil.wait_procs(procs, timeout=10)
    assert not alive, f"left running: {[p.pid for p in alive]}"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_keeps_rows_stops_workers_and_writes_partial_report(tmp_path: Path, sig) -> None:
    sweep = tmp_path / "sweep"
    proc = start(sweep)
    wait_for_rows(sweep / "0" / "results.jsonl")
    wait_for_workers(proc)  # into the second job (process_pool x2): its workers exist now
    tree = psutil.Process(proc.pid).children(recursive=True)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "resume=" in err
    assert len(rows(sweep / "0" / "results.jsonl")) == 3
    assert (sweep / "report" / "index.html").is_file()
    # The partial report's path is the result: stdout, alone, as at the end of a whole sweep.
    assert out == f"report: {sweep / 'report' / 'index.html'}\n"
    assert "Traceback" not in err
    assert_all_gone(tree)


def test_interrupt_with_report_false_writes_no_report(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    proc = start(sweep, "report=false")
    wait_for_rows(sweep / "0" / "results.jsonl")
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert out == "" and not (sweep / "report").exists()
    lines = [ln for ln in err.splitlines() if ln.startswith("coresweep: interrupted")]
    assert len(lines) == 1 and f"rows are in {sweep}" in lines[0] and "partial report" not in lines[0]


def test_sigkill_then_resume_finishes_the_sweep(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    proc = start(sweep)
    wait_for_rows(sweep / "0" / "results.jsonl")
    before = (sweep / "0" / "results.jsonl").read_text()
    os.killpg(proc.pid, signal.SIGKILL)  # the whole process group, as an OOM killer or `kill -9` of a job
    proc.communicate(timeout=60)
    assert (sweep / "0" / "results.jsonl").read_text() == before, "rows written before the kill stay intact"

    resumed = start(sweep, f"resume={sweep}")
    _, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    assert "kept from the earlier run" in err
    assert (sweep / "0" / "results.jsonl").read_text() == before
    for job in ("0", "1", "2"):
        assert len(rows(sweep / job / "results.jsonl")) == 3
    assert (sweep / "report" / "index.html").is_file()


def test_resume_refuses_a_different_sweep(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    proc = start(sweep, "backend=thread_pool", "repeats=1")
    proc.communicate(timeout=120)
    cmd = [sys.executable, "-m", "coresweep.experiments.entry", "backend=pool", f"resume={sweep}"]
    out = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert "resume" in out.stderr and "original command" in out.stderr


def test_ctrl_c_from_the_terminal_prints_one_line_and_a_partial_report(tmp_path: Path) -> None:
    """Ctrl-C at a terminal reaches the whole foreground group: one line, no worker tracebacks,
    the true number of processes stopped, and a report that says it is partial."""
    sweep = tmp_path / "sweep"
    proc = start(sweep)
    wait_for_rows(sweep / "0" / "results.jsonl")
    wait_for_workers(proc)  # into the second job (process_pool x2): its process and two workers
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err and "InvalidStateError" not in err
    job_lines = [ln for ln in err.splitlines() if ln.startswith("[")]
    other = [ln for ln in err.splitlines() if ln.strip() and not ln.startswith("[")]
    other = [ln for ln in other if not ln.startswith("coresweep: note:")]  # no sequential here
    assert other[0].startswith("coresweep: 3 jobs")  # the sweep's first line
    (line,) = other[1:]
    assert line.startswith(f"coresweep: interrupted: {len(job_lines)} of 3 jobs done; partial report "), line
    stopped = int(line.split(" process", 1)[0].rsplit("; ", 1)[1])
    assert stopped >= 3, line  # the job's process and its two workers
    assert f"resume={sweep}" in line
    assert out == f"report: {sweep / 'report' / 'index.html'}\n"
    page = (sweep / "report" / "index.html").read_text()
    assert "coresweep partial report" in page and "Did not run:" in page
    assert page.index('id="partial"') < page.index('id="verdict"')
    assert "backend=thread_pool" in page.split('id="partial"', 1)[1].split("</div>", 1)[0]
    # Finishing the sweep makes the report whole again.
    resumed = start(sweep, f"resume={sweep}")
    _, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    assert not (sweep / "interrupted.json").exists()
    assert "partial report" not in (sweep / "report" / "index.html").read_text()
