"""The report process started while a sweep plans: same report, outside the measured tree, and
never the reason a report is missing (experiments/report_builder.py, analysis/warm.py)."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pytest

from coresweep.experiments.job.resources import child_pids
from coresweep.experiments.report_builder import ReportBuilder, ReportError
from tests.test_analysis_synth import amdahl_wall, ladder, write_sweep

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="the report process needs fork")


def _sweep(tmp_path: Path) -> Path:
    return write_sweep(tmp_path / "sweep", ladder(["process_pool"], [1, 2]), amdahl_wall(1.0, 0.1))


def _within(timeout: float, done) -> bool:  # type: ignore[no-untyped-def]
    """Whether ``done()`` becomes true within ``timeout`` seconds (polled)."""
    import time

    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _gone(pid: int) -> bool:
    import psutil

    def ended() -> bool:
        return not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE

    return _within(5.0, ended)


@pytest.fixture()
def ready_builder():  # type: ignore[no-untyped-def]
    """A builder whose report process has imported; closed afterwards."""
    builder = ReportBuilder()
    builder.start()
    try:
        assert builder.wait_ready()
        yield builder
    finally:
        builder.close()


def test_report_process_builds_the_same_report_as_this_process(tmp_path: Path, ready_builder) -> None:
    sweep = _sweep(tmp_path)
    served = ready_builder.pid
    # Outside the sweep's process tree: a job's peak memory and CPU never include it.
    assert served is not None and served not in child_pids()
    index = ready_builder.build(sweep)
    ready_builder.close()
    assert _gone(served)
    assert index == sweep / "report" / "index.html"
    names = ("index.html", "summary.csv", "results.csv", "speedup.svg")
    there = {name: (sweep / "report" / name).read_bytes() for name in names}
    from coresweep.analysis.report import build_report

    build_report([sweep], sweep / "report")  # the same folder, built in this process
    for name in names:
        assert (sweep / "report" / name).read_bytes() == there[name], name


def test_a_report_error_is_one_line(tmp_path: Path, ready_builder) -> None:
    with pytest.raises(ReportError, match=r"^\w*Error: .*") as err:
        ready_builder.build(tmp_path / "no-such-sweep")
    assert "\n" not in str(err.value)


def test_no_report_process_means_the_report_is_built_here(tmp_path: Path, monkeypatch) -> None:
    sweep = _sweep(tmp_path)
    monkeypatch.setattr(sys, "executable", str(tmp_path / "no-python"))  # it cannot start
    builder = ReportBuilder()
    builder.start()
    assert not builder.wait_ready()
    assert builder.build(sweep) == sweep / "report" / "index.html"
    assert (sweep / "report" / "summary.csv").is_file()


def test_a_report_process_that_dies_is_replaced_by_a_build_here(tmp_path: Path, ready_builder) -> None:
    sweep = _sweep(tmp_path)
    assert ready_builder.pid is not None
    os.kill(ready_builder.pid, signal.SIGKILL)
    assert ready_builder.build(sweep) == sweep / "report" / "index.html"
    assert (sweep / "report" / "index.html").is_file()


def test_a_report_process_not_ready_in_time_is_given_up(tmp_path: Path) -> None:
    """Given up, it is stopped, imports and all: nothing of it may run beside a timed run."""
    builder = ReportBuilder()
    builder.start()
    assert builder._proc is not None
    group = builder._proc.pid
    assert not builder.wait_ready(timeout=0.0)  # its imports take longer than no time at all
    assert builder._proc is None

    def group_gone() -> bool:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return True
        return False

    assert _within(5.0, group_gone)


def test_an_error_there_is_retried_here(tmp_path: Path, monkeypatch, ready_builder) -> None:
    """A build that fails in the report process (its start differs from this one) is redone here."""
    sweep = _sweep(tmp_path)
    monkeypatch.setattr(ready_builder, "_request", lambda message: {"error": "ImportError: shadowed"})
    assert ready_builder.build(sweep) == sweep / "report" / "index.html"
    assert (sweep / "report" / "summary.csv").is_file()


@pytest.mark.parametrize(
    ("argv", "started"),
    [([], True), (["-m", "backend=pool,thread"], True), (["--multirun", "workers=2"], True),
     (["report=false"], False), (["--help"], False), (["--cfg", "job"], False), (["-h"], False)],
)
def test_the_command_starts_the_report_process_only_for_a_sweep_with_a_report(argv, started) -> None:
    from coresweep.experiments.entry import _runs_a_sweep_with_report

    assert _runs_a_sweep_with_report(argv) is started


@pytest.mark.parametrize("argv", [["backend=nope"], ["--nonsense"], ["--help"]])
def test_a_command_that_runs_no_sweep_leaves_no_report_process(tmp_path: Path, argv: list[str]) -> None:
    """The command starts the report process before Hydra is imported; bad input (exit 2) or
    --help must not leave it importing, or serving, behind."""
    import subprocess

    import psutil

    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root)}
    before = {p.pid for p in psutil.process_iter()}
    proc = subprocess.run([sys.executable, "-m", "coresweep.experiments.entry", *argv], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode in (0, 2), proc.stderr

    def left() -> list[int]:
        found = []
        for p in psutil.process_iter(["pid", "cmdline"]):
            if p.pid in before or "coresweep.analysis.warm" not in " ".join(p.info["cmdline"] or []):
                continue
            try:
                if Path(p.cwd()) == tmp_path:  # this command's, not another suite's beside this one
                    found.append(p.pid)
            except psutil.Error:
                pass
        return found

    # At once: a process left behind would still be importing (over a second), then end by itself.
    assert _within(0.5, lambda: not left()), left()
