"""Every preset runs clean and reads right (issue 18): each runs through the CLI at a tiny size
with no note about itself, and no text of any of its figures lies outside the saved figure."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
PRESETS = sorted(p.stem for p in (ROOT / "conf" / "experiment").glob("*.yaml"))
#: Tiny: one timed run per job and round, two rounds (so intervals exist), a few tasks.
TINY = ["repeats=1", "warmup=0", "min_time_s=0", "rounds=2"]
#: Presets that race (race=true): their rounds are the race's, bounded by budget_s instead.
RACES = {"choose"}
TINY_RACE = ["warmup=0", "min_time_s=0", "budget_s=6"]
SIZE = {
    "grain": ["workload.size=12"],
    # up to 16 workers: 16 tasks, so that none is left without one (coresweep would note it)
    "io_bound": ["workload.size=16"],
    "oversubscription": ["workload.size=16"],
    "weak_scaling": [],
    # 260 jobs in full (about 2.5 min on 2 cores): one input size and init cost, two backends.
    "patterns": ["backend=sequential,pool", "workload.input_mb=choice(1)",
                 "workload.init_ms=choice(1)", "workload.grain=choice(5)", "workload.size=8"],
}

pytestmark = pytest.mark.slow


#: Preset sweeps run at once: each spends much of its time starting processes and waiting on
#: them (io_bound sleeps, pools start), so two share the 2-core CI machine well. Nothing here
#: is timed against anything: a busy machine changes no line these tests read.
PARALLEL = 2


@pytest.fixture(scope="module")
def preset_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Any]]:
    """Each preset run once, tiny, through the command (as a user runs it), ``PARALLEL`` at once."""
    base = tmp_path_factory.mktemp("presets")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def run(preset: str) -> tuple[Path, Any]:
        sweep = base / preset
        size = SIZE.get(preset, ["workload.size=8"])
        tiny = TINY_RACE if preset in RACES else TINY
        cmd = [sys.executable, "-m", "coresweep.experiments.entry", f"+experiment={preset}", *size, *tiny]
        cmd.append(f"hydra.sweep.dir={sweep}")
        proc = subprocess.run(cmd, cwd=base, env=env, capture_output=True, text=True, timeout=900)
        return sweep, proc

    with ThreadPoolExecutor(max_workers=PARALLEL, thread_name_prefix="preset") as pool:
        return dict(zip(PRESETS, pool.map(run, PRESETS)))


@pytest.mark.parametrize("preset", PRESETS)
def test_preset_runs_clean(preset: str, preset_runs) -> None:
    sweep, proc = preset_runs[preset]
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.strip().splitlines()
    assert lines[-1] == f"report: {sweep / 'report' / 'index.html'}"
    assert len(lines) == (2 if preset in RACES else 1), lines  # a race's answer: one sentence above
    # No note about itself: nothing skipped behind its back, no missing baseline. (Warnings
    # about a busy machine are about the machine, not the preset.)
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("coresweep:")]
    assert not [ln for ln in lines if "note:" in ln], lines
    assert "Traceback" not in proc.stderr
    page = (sweep / "report" / "index.html").read_text(encoding="utf-8")
    assert "no successful sequential baseline" not in page
    assert "no speedup:" not in page


@pytest.mark.parametrize("preset", PRESETS)
def test_no_figure_text_is_clipped(preset: str, preset_runs) -> None:
    from coresweep.analysis.load import load_results, machine_topology
    from coresweep.analysis.stats import summarize

    from .figure_layout import clipped_figures

    sweep, proc = preset_runs[preset]
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows, envs, _ = load_results([sweep])
    drawn, problems = clipped_figures(summarize(rows), machine_topology(rows, envs))
    assert drawn
    assert not problems, problems
