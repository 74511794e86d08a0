"""The report process started while a sweep plans: same report, outside the measured tree, and
never the reason a report is missing (experiments/report_builder.py, analysis/warm.py)."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pytest

from coresweep.experiments import report_builder
from coresweep.experiments.report_builder import ReportBuilder, ReportError
from coresweep.experiments.resources import child_pids
from tests.test_analysis_synth import amdahl_wall, ladder, write_sweep

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="the report process needs fork")


def _sweep(tmp_path: Path) -> Path:
    return write_sweep(tmp_path / "sweep", ladder(["process_pool"], [1, 2]), amdahl_wall(1.0, 0.1))


def _served_pid(builder: ReportBuilder) -> int:
    """The pid of the process answering (the one started exits at its fork)."""
    import psutil

    started = builder._proc
    assert started is not None
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = proc.info["cmdline"] or []
        if "coresweep.analysis.warm" in cmdline and proc.pid != started.pid:
            return proc.pid
    raise AssertionError("no report process found")


def test_report_process_builds_the_same_report_as_this_process(tmp_path: Path) -> None:
    sweep = _sweep(tmp_path)
    builder = ReportBuilder()
    builder.start()
    try:
        assert builder.wait_ready()
        served = _served_pid(builder)
        # Outside the sweep's process tree: a job's peak memory and CPU never include it.
        assert served not in child_pids()
        index = builder.build(sweep)
    finally:
        builder.close()
    assert index == sweep / "report" / "index.html"
    names = ("index.html", "summary.csv", "results.csv", "speedup.svg")
    there = {name: (sweep / "report" / name).read_bytes() for name in names}
    from coresweep.analysis.report import build_report

    build_report([sweep], sweep / "report")  # the same folder, built in this process
    for name in names:
        assert (sweep / "report" / name).read_bytes() == there[name], name


def test_a_report_error_is_one_line_from_the_report_process(tmp_path: Path) -> None:
    builder = ReportBuilder()
    builder.start()
    try:
        with pytest.raises(ReportError, match=r"^\w*Error: .*") as err:
            builder.build(tmp_path / "no-such-sweep")
    finally:
        builder.close()
    assert "\n" not in str(err.value)


def test_no_report_process_means_the_report_is_built_here(tmp_path: Path, monkeypatch) -> None:
    sweep = _sweep(tmp_path)
    monkeypatch.setattr(sys, "executable", str(tmp_path / "no-python"))  # it cannot start
    builder = ReportBuilder()
    builder.start()
    assert not builder.wait_ready()
    assert builder.build(sweep) == sweep / "report" / "index.html"
    assert (sweep / "report" / "summary.csv").is_file()


def test_a_report_process_that_dies_mid_sweep_is_replaced_by_a_build_here(tmp_path: Path) -> None:
    sweep = _sweep(tmp_path)
    builder = ReportBuilder()
    builder.start()
    try:
        assert builder.wait_ready()
        os.kill(_served_pid(builder), signal.SIGKILL)
        assert builder.build(sweep) == sweep / "report" / "index.html"
    finally:
        builder.close()
    assert (sweep / "report" / "index.html").is_file()


def test_a_report_process_not_ready_in_time_is_given_up(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(report_builder, "READY_TIMEOUT_S", 0.0)
    builder = ReportBuilder()
    builder.start()
    assert not builder.wait_ready(timeout=0.0)  # its imports take longer than no time at all
    assert builder._proc is None
