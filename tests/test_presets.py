"""Every preset runs clean and reads right (issue 18): each runs through the CLI at a tiny size
with no note about itself, and no text of any of its figures lies outside the saved figure."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import matplotlib
import pytest

matplotlib.use("Agg")

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


@pytest.fixture(scope="module")
def preset_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Any]]:
    """Each preset run once, tiny, through the command (as a user runs it)."""
    out = {}
    base = tmp_path_factory.mktemp("presets")
    for preset in PRESETS:
        sweep = base / preset
        size = SIZE.get(preset, ["workload.size=8"])
        tiny = TINY_RACE if preset in RACES else TINY
        cmd = [sys.executable, "-m", "coresweep.experiments.entry", f"+experiment={preset}", *size, *tiny]
        cmd.append(f"hydra.sweep.dir={sweep}")
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        proc = subprocess.run(cmd, cwd=base, env=env, capture_output=True, text=True, timeout=900)
        out[preset] = (sweep, proc)
    return out


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


def overflowing_texts(fig: matplotlib.figure.Figure, tolerance_px: float = 1.0) -> list[str]:
    """Every visible, non-empty text artist whose drawn extent leaves the figure."""
    from matplotlib.text import Text

    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    box = fig.bbox
    # Tick labels of ticks outside an axis's view are kept by matplotlib but never drawn.
    drawn_ticks, all_ticks = set(), set()
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                all_ticks.update((id(tick.label1), id(tick.label2)))
            for tick in axis._update_ticks():
                drawn_ticks.update((id(tick.label1), id(tick.label2)))
    out = []
    for text in fig.findobj(Text):
        if not text.get_visible() or not text.get_text().strip():
            continue
        if id(text) in all_ticks and id(text) not in drawn_ticks:
            continue
        if not all(a.get_visible() for a in _parents(text)):
            continue
        ext = text.get_window_extent(renderer)
        if (
            ext.x0 < box.x0 - tolerance_px
            or ext.y0 < box.y0 - tolerance_px
            or ext.x1 > box.x1 + tolerance_px
            or ext.y1 > box.y1 + tolerance_px
        ):
            out.append(f"{text.get_text()[:80]!r} at {ext.bounds} outside {box.bounds}")
    return out


def _parents(artist):
    axes = getattr(artist, "axes", None)
    return [axes] if axes is not None else []


@pytest.mark.parametrize("preset", PRESETS)
def test_no_figure_text_is_clipped(preset: str, preset_runs) -> None:
    import matplotlib.pyplot as plt
    import seaborn as sns

    from coresweep.analysis.figures import FIGURES, RC, backend_palette, skip_reason
    from coresweep.analysis.load import load_results, machine_topology
    from coresweep.analysis.stats import summarize

    sweep, proc = preset_runs[preset]
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows, envs, _ = load_results([sweep])
    summary = summarize(rows)
    topology = machine_topology(rows, envs)
    palette = backend_palette(summary["backend"].astype(str).unique())
    drawn, problems = [], {}
    for name, draw in FIGURES.items():
        if skip_reason(summary, name):
            continue
        with plt.rc_context(RC), sns.axes_style("whitegrid"):
            fig = draw(summary, topology, palette)
            bad = overflowing_texts(fig)
            plt.close(fig)
        drawn.append(name)
        if bad:
            problems[name] = bad
    assert drawn
    assert not problems, problems
