"""A busy machine (issue 29, point 7): other processes' CPU share per execution, the busy=
policies, and what the analysis says about it. The share and the policies are tested with fake
readers and a fake clock; two real sweeps run beside a CPU burner pinned to the sweep's CPUs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from coresweep.analysis import busy as analysis_busy
from coresweep.analysis.noise import noise_warnings
from coresweep.experiments.job.runner import complete_round
from coresweep.experiments.launch import busy
from coresweep.experiments.launch.busy import BusyProbe, BusyWatch, CpuSample, QuietWait

ROOT = Path(__file__).resolve().parents[1]


class Machine:
    """A fake machine: a clock, the watched CPUs' busy seconds and this tree's, moved by hand."""

    def __init__(self, cpus: int = 2) -> None:
        self.now = 100.0
        self.busy_s = 1000.0
        self.own_s = 10.0
        self.cpus = list(range(cpus))

    def probe(self) -> BusyProbe:
        return BusyProbe(
            self.cpus,
            clock=lambda: self.now,
            busy_reader=lambda c: self.busy_s,
            own_reader=lambda: self.own_s,
        )

    def run(self, wall: float, own: float, other: float) -> None:
        """``wall`` seconds pass; this tree uses ``own`` CPU seconds and others ``other``."""
        self.now += wall
        self.own_s += own
        self.busy_s += own + other


def test_share_is_others_cpu_over_wall_times_cpus() -> None:
    m = Machine(cpus=2)
    probe = m.probe()
    start = probe.sample()
    m.run(wall=2.0, own=1.9, other=0.8)  # the job used ~1 CPU; others 0.8 CPU-s of 4 CPU-s
    assert probe.share(start, probe.sample()) == pytest.approx(0.2)
    start = probe.sample()
    m.run(wall=1.0, own=2.0, other=0.0)
    assert probe.share(start, probe.sample()) == 0.0
    start = probe.sample()
    m.run(wall=1.0, own=0.0, other=5.0)  # tick rounding can overshoot: clipped
    assert probe.share(start, probe.sample()) == 1.0


def test_share_is_none_when_unreadable_or_no_time_passed() -> None:
    m = Machine()
    probe = m.probe()
    s = probe.sample()
    assert probe.share(s, s) is None
    assert probe.share(CpuSample(0.0, None, 0.0), CpuSample(1.0, 5.0, 0.0)) is None


def test_machine_busy_seconds_reads_the_watched_cpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stat = tmp_path / "stat"
    stat.write_text(
        "cpu  300 0 30 900 10 0 0 0 0 0\n"
        "cpu0 100 0 10 300 5 1 2 3 0 0\n"
        "cpu1 200 0 20 600 5 0 0 0 0 0\n"
        "intr 1 2 3\n"
    )
    monkeypatch.setattr(busy, "_STAT", str(stat))
    monkeypatch.setattr(busy, "_ticks_per_second", lambda: 100.0)
    assert busy.machine_busy_seconds([0]) == pytest.approx((100 + 10 + 1 + 2 + 3) / 100)  # not idle, iowait
    assert busy.machine_busy_seconds([1]) == pytest.approx(2.2)
    assert busy.machine_busy_seconds(None) == pytest.approx(1.16 + 2.2)
    assert busy.machine_busy_seconds([7]) is None


def test_real_readers_give_a_share_between_0_and_1() -> None:
    probe = BusyProbe(busy.watched_cpus(None))
    start = probe.sample()
    sum(i * i for i in range(200_000))
    share = probe.share(start, probe.sample())
    assert share is None or 0.0 <= share <= 1.0


@dataclass
class Run:
    ok: bool = True


@dataclass
class Measurement:
    runs: list[Run] = field(default_factory=lambda: [Run(), Run()])
    interrupted: bool = False


def _executor(m: Machine, others: list[float], failed: bool = False) -> Any:
    """Each call is one execution of 1 s that used one CPU; others use the next share in turn."""
    calls: list[int] = []

    def execute() -> tuple[Measurement, dict[str, Any]]:
        other = others[min(len(calls), len(others) - 1)]
        calls.append(1)
        m.run(wall=1.0, own=1.0, other=other * len(m.cpus))
        runs = [Run(ok=not failed), Run()]
        return Measurement(runs), {"job_process": "forked"}

    execute.calls = calls  # type: ignore[attr-defined]
    return execute


def test_keep_records_and_marks_a_busy_execution() -> None:
    m = Machine()
    execute = _executor(m, [0.5])
    superseded: list[Any] = []
    measurement, fields = BusyWatch(sleep=lambda s: None).run(
        execute, "keep", m.probe(), lambda *a: superseded.append(a)
    )
    assert fields["busy_share"] == pytest.approx(0.5) and fields["busy"] is True
    assert fields["busy_attempt"] == 0 and fields["superseded"] is False and "busy_wait_s" not in fields
    assert fields["job_process"] == "forked"
    assert len(execute.calls) == 1 and superseded == []


def test_quiet_execution_is_not_busy() -> None:
    m = Machine()
    _, fields = BusyWatch().run(_executor(m, [0.02]), "keep", m.probe(), lambda *a: None)
    assert fields["busy"] is False and fields["busy_share"] == pytest.approx(0.02)


def test_rerun_reruns_busy_executions_and_keeps_the_busy_rows_marked() -> None:
    m = Machine()
    execute = _executor(m, [0.6, 0.4, 0.01])  # busy, busy, then quiet
    superseded: list[dict[str, Any]] = []
    pauses: list[float] = []
    _, fields = BusyWatch(sleep=pauses.append).run(
        execute, "rerun", m.probe(), lambda meas, f: superseded.append(f)
    )
    assert len(execute.calls) == 3
    assert [f["busy_attempt"] for f in superseded] == [0, 1]
    assert all(f["superseded"] and f["busy"] for f in superseded)
    assert fields["busy_attempt"] == 2 and not fields["superseded"] and not fields["busy"]
    assert pauses == [busy.RERUN_PAUSE_S] * 2


def test_rerun_stops_after_the_limit_and_keeps_the_last_busy_attempt() -> None:
    m = Machine()
    execute = _executor(m, [0.9])
    superseded: list[dict[str, Any]] = []
    _, fields = BusyWatch(sleep=lambda s: None).run(
        execute, "rerun", m.probe(), lambda meas, f: superseded.append(f)
    )
    assert len(execute.calls) == 1 + busy.BUSY_RERUNS and len(superseded) == busy.BUSY_RERUNS
    assert fields["busy"] and not fields["superseded"] and fields["busy_attempt"] == busy.BUSY_RERUNS


def test_rerun_never_replaces_an_attempt_with_a_failed_run() -> None:
    m = Machine()
    execute = _executor(m, [0.9], failed=True)
    _, fields = BusyWatch(sleep=lambda s: None).run(execute, "rerun", m.probe(), lambda *a: None)
    assert len(execute.calls) == 1 and fields["busy"] and fields["busy_attempt"] == 0


class BusyThenQuiet:
    """A probe's machine busy for the first ``busy_windows`` waits, then quiet."""

    def __init__(self, m: Machine, busy_windows: int, other: float = 0.5) -> None:
        self.m, self.left, self.other = m, busy_windows, other
        self.windows = 0

    def sleep(self, seconds: float) -> None:
        self.windows += 1
        other = self.other if self.left > 0 else 0.0
        self.left -= 1
        self.m.run(wall=seconds, own=0.0, other=other * len(self.m.cpus))


def test_wait_waits_until_a_window_is_quiet() -> None:
    m = Machine()
    machine = BusyThenQuiet(m, busy_windows=3)
    watch = BusyWatch(waiter=QuietWait(window_s=0.25, sleep=machine.sleep))
    execute = _executor(m, [0.0])
    _, fields = watch.run(execute, "wait", m.probe(), lambda *a: None)
    assert machine.windows == 4  # three busy windows, then a quiet one
    assert fields["busy_wait_s"] == pytest.approx(1.0) and not fields["busy"]
    # The next execution follows a quiet one at once: no window.
    _, fields = watch.run(execute, "wait", m.probe(), lambda *a: None)
    assert machine.windows == 4 and fields["busy_wait_s"] == 0.0


def test_wait_is_bounded_per_execution_and_per_sweep() -> None:
    m = Machine()
    machine = BusyThenQuiet(m, busy_windows=10**6)
    waiter = QuietWait(max_s=1.0, budget_s=1.5, window_s=0.25, sleep=machine.sleep)
    watch = BusyWatch(waiter=waiter)
    execute = _executor(m, [0.5])
    _, first = watch.run(execute, "wait", m.probe(), lambda *a: None)
    assert first["busy_wait_s"] == pytest.approx(1.0) and first["busy"]
    _, second = watch.run(execute, "wait", m.probe(), lambda *a: None)
    assert second["busy_wait_s"] == pytest.approx(0.5)  # what the sweep's budget had left
    _, third = watch.run(execute, "wait", m.probe(), lambda *a: None)
    assert third["busy_wait_s"] == 0.0 and waiter.spent_s == pytest.approx(1.5)


def test_resume_counts_the_last_attempt_only(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    old = {"round": 0, "ok": True, "wall_s": 1.0, "superseded": True, "busy_attempt": 0}
    path.write_text("".join(json.dumps({**old, "repeat": i}) + "\n" for i in range(2)))
    assert complete_round(path, 0, repeats=2) is None  # only a replaced attempt: rerun the round
    assert list(tmp_path.glob("results.unfinished-*.jsonl"))
    rows = [{**old, "repeat": i} for i in range(2)]
    rows += [{**old, "superseded": False, "busy_attempt": 1, "repeat": i} for i in range(2)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    kept = complete_round(path, 0, repeats=2)
    assert kept is not None and [r["busy_attempt"] for r in kept] == [1, 1]


# --- analysis ---------------------------------------------------------------------------------


def _rows(shares: list[tuple[int, int, float, bool]]) -> pd.DataFrame:
    """Two rows per execution: (job, round, share, superseded)."""
    rows = []
    for job, rnd, share, superseded in shares:
        for repeat in range(2):
            rows.append(
                {
                    "sweep_id": "s",
                    "job": str(job),
                    "round": rnd,
                    "repeat": repeat,
                    "machine": "m",
                    "workload": "cpu_python",
                    "backend": "thread" if job else "sequential",
                    "workers": 1,
                    "size": 1,
                    "grain": 1,
                    "start_method": "none",
                    "pinning": "none",
                    "collect": "return",
                    "busy_share": share,
                    "busy": share > 0.1,
                    "superseded": superseded,
                    "busy_attempt": 1 if (share < 0.1 and (job, rnd) == (1, 1)) else 0,
                    "ok": True,
                    "wall_s": 1.0,
                }
            )
    return pd.DataFrame(rows)


def test_analysis_counts_busy_executions_rounds_and_reruns() -> None:
    rows = _rows(
        [
            (0, 0, 0.02, False),
            (1, 0, 0.55, False),
            (0, 1, 0.01, False),
            (1, 1, 0.40, True),
            (1, 1, 0.03, False),
        ]
    )
    summary = analysis_busy.busy_summary(rows)
    assert summary["executions"] == 4 and summary["busy"] == 1 and summary["rerun"] == 1
    assert summary["max_share"] == pytest.approx(0.55)
    rounds = analysis_busy.busy_rounds(rows)
    assert rounds["busy"].tolist() == [1, 0] and rounds["executions"].tolist() == [2, 2]
    configs = analysis_busy.busy_configurations(rows)
    assert configs.iloc[0]["backend"] == "thread" and configs.iloc[0]["busy"] == 1
    assert len(analysis_busy.current_rows(rows)) == len(rows) - 2
    assert analysis_busy.judged_busy(rows)
    line = analysis_busy.busy_warning(rows)
    assert line is not None and line.startswith("judged on a busy machine: 1 of 4 executions")
    assert "1 busy attempts were rerun" in line


def test_analysis_is_silent_on_a_quiet_sweep_and_on_rows_without_shares() -> None:
    quiet = _rows([(0, 0, 0.02, False), (1, 0, 0.05, False)])
    assert analysis_busy.busy_warning(quiet) is None and not analysis_busy.judged_busy(quiet)
    old = quiet.drop(columns=["busy_share", "busy", "superseded", "busy_attempt"])
    assert analysis_busy.busy_summary(old)["executions"] == 0
    assert analysis_busy.busy_warning(old) is None
    assert analysis_busy.current_rows(old) is old


def test_a_verdict_and_claims_judged_on_a_busy_machine_say_so() -> None:
    rows = _rows([(0, 0, 0.3, False), (1, 0, 0.02, False)])
    machine, workload = rows["machine"].iloc[0], rows["workload"].iloc[0]
    note = analysis_busy.busy_note(rows, machine, workload)
    assert note is not None and note.startswith("judged on a busy machine: 1 of 2 executions")
    assert analysis_busy.busy_note(rows, machine, "another workload") is None
    quiet = _rows([(0, 0, 0.02, False), (1, 0, 0.05, False)])
    assert analysis_busy.busy_note(quiet, machine, workload) is None
    claims = pd.DataFrame(
        {"claim_id": [1, 2, 3], "verdict": ["refuted", "supported", "not measured"], "evidence": list("abc")}
    )
    marked = analysis_busy.mark_busy_claims(claims, rows)
    assert marked["verdict"].tolist() == ["depends", "supported", "not measured"]  # never refuted there
    assert marked["evidence"].iloc[0].startswith("would be refuted, but judged on a busy machine")
    assert marked["evidence"].iloc[1].startswith("judged on a busy machine")
    assert marked["evidence"].iloc[2] == "c"
    assert analysis_busy.mark_busy_claims(claims, quiet).equals(claims)


def test_the_busy_line_leads_the_noise_warnings() -> None:
    rows = _rows([(0, 0, 0.3, False), (1, 0, 0.02, False)])
    lines = noise_warnings(pd.DataFrame(), {}, rows)
    assert lines and lines[0].startswith("judged on a busy machine: 1 of 2 executions")


# --- real sweeps beside a CPU burner ---------------------------------------------------------


def _burner(cpu: int) -> subprocess.Popen[bytes]:
    code = f"import os; os.sched_setaffinity(0, {{{cpu}}}); exec('while True: pass')"
    return subprocess.Popen([sys.executable, "-c", code])


def _sweep(
    tmp_path: Path, *extra: str, backends: str = "sequential,thread", rounds: int = 2
) -> tuple[subprocess.CompletedProcess[str], list[dict[str, Any]]]:
    cpus = sorted(os.sched_getaffinity(0))[:2]
    sweep = tmp_path / "sweep"
    burner = _burner(cpus[0])
    try:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "coresweep.experiments.entry",
                "-m",
                f"backend={backends}",
                "workers=1",
                "workload=cpu_python",
                "workload.size=300",
                f"rounds={rounds}",
                "repeats=1",
                "warmup=0",
                "min_time_s=0",
                f"cpus={cpus[0]}-{cpus[1]}",
                f"hydra.sweep.dir={sweep}",
                *extra,
            ],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=600,
        )
    finally:
        burner.kill()
        burner.wait()
    rows = [
        json.loads(line) for p in sorted(sweep.glob("*/results.jsonl")) for line in p.read_text().splitlines()
    ]
    return proc, rows


needs_two_cpus = pytest.mark.skipif(
    not hasattr(os, "sched_getaffinity")
    or len(os.sched_getaffinity(0)) < 2
    or not os.path.exists("/proc/stat"),
    reason="needs Linux and two CPUs (a burner on one of the sweep's two)",
)


@pytest.mark.slow
@needs_two_cpus
def test_a_sweep_beside_a_burner_has_busy_rows_and_says_so(tmp_path: Path) -> None:
    proc, rows = _sweep(tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert len(rows) == 4  # 2 jobs x 2 rounds x 1 repeat: nothing rerun under busy=keep
    # The burner holds one of the job's two CPUs: about half of them, whatever else runs.
    assert all(r["busy_share"] >= 0.3 and r["busy"] for r in rows), [r["busy_share"] for r in rows]
    assert all(r["busy_attempt"] == 0 and r["superseded"] is False for r in rows)
    summary = (tmp_path / "sweep" / "report" / "summary.md").read_text()
    assert "judged on a busy machine: 4 of 4 executions" in summary + proc.stderr
    assert "busy: other processes used" in proc.stdout + proc.stderr  # the job's progress line


@pytest.mark.slow
@needs_two_cpus
def test_busy_rerun_reruns_and_keeps_the_busy_rows(tmp_path: Path) -> None:
    # One execution (reruns pause 1 s each): its attempts are what is checked.
    proc, rows = _sweep(tmp_path, "busy=rerun", backends="sequential", rounds=1)
    assert proc.returncode == 0, proc.stderr[-2000:]
    per_execution: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for r in rows:
        per_execution.setdefault((r["job"], r["round"]), []).append(r)
    assert len(per_execution) == 1
    for found in per_execution.values():
        attempts = [r["busy_attempt"] for r in found]
        assert attempts == list(range(len(attempts))) and len(attempts) >= 2  # the burner never stops
        assert all(r["superseded"] for r in found[:-1]) and not found[-1]["superseded"]
    csv = (tmp_path / "sweep" / "report" / "results.csv").read_text().splitlines()
    assert len(csv) - 1 == len(rows)  # every attempt's row is in results.csv


def test_bad_busy_value_is_one_line_before_any_work(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "coresweep.experiments.entry",
            "busy=often",
            f"hydra.sweep.dir={tmp_path / 's'}",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "busy=often: choose one of keep, rerun, wait" in proc.stderr
    assert not (tmp_path / "s").exists() or not list((tmp_path / "s").glob("*/results.jsonl"))


def test_a_few_busy_executions_among_many_do_not_mark_the_verdict() -> None:
    """1 of 10 executions busy: the warning counts it, but verdicts and claims stand (below
    JUDGED_SHARE the contention is part of the machine's noise, inside the intervals)."""
    rows = _rows([(0, 0, 0.5, False)] + [(i % 2, i // 2, 0.02, False) for i in range(1, 10)])
    machine, workload = rows["machine"].iloc[0], rows["workload"].iloc[0]
    assert analysis_busy.busy_summary(rows)["busy"] == 1
    assert not analysis_busy.judged_busy(rows)
    assert analysis_busy.busy_note(rows, machine, workload) is None
    line = analysis_busy.busy_warning(rows)
    assert line is not None and line.startswith("1 of 10 executions") and "verdicts stand" in line
    claims = pd.DataFrame({"claim_id": [1], "verdict": ["refuted"], "evidence": ["a"]})
    assert analysis_busy.mark_busy_claims(claims, rows).equals(claims)
