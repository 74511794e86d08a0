"""Figures: fixed colours per backend, both file formats, and no crash on thin data."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from coresweep.analysis.figures import BACKEND_COLOURS, backend_palette, draw_all
from coresweep.analysis.load import load_results, machine_topology
from coresweep.analysis.stats import summarize
from tests.test_analysis_synth import amdahl_wall, ladder, write_sweep


def test_palette_is_fixed_for_known_backends_and_distinct_for_new_ones() -> None:
    one = backend_palette(["process_pool", "thread", "zeta_pool", "alpha_pool"])
    two = backend_palette(["alpha_pool", "zeta_pool", "process_pool"])
    assert one["process_pool"] == two["process_pool"] == BACKEND_COLOURS["process_pool"]
    assert one["alpha_pool"] == two["alpha_pool"] and one["zeta_pool"] == two["zeta_pool"]
    assert len(set(one.values())) == len(one)
    many = backend_palette([f"b{i:02d}" for i in range(30)])
    assert len(many) == 30


def test_every_figure_in_png_and_svg_with_many_panels(tmp_path: Path) -> None:
    configs = []
    for workload in ("cpu_python", "io_sleep", "gil_release"):
        for size in (10, 20):
            configs += ladder(["process_pool", "thread_pool"], [1, 2, 4], workload=workload, size=size)
    sweep = write_sweep(tmp_path / "s", configs, amdahl_wall(1.0, 0.1), repeats=3)
    rows, envs, _ = load_results([sweep])
    summary = summarize(rows)
    out = tmp_path / "out"
    out.mkdir()
    serial = draw_all(summary, machine_topology(rows, envs), out, processes=1)
    names = [f.name for f in serial]
    assert names[:2] == ["speedup", "efficiency"] and {"cpu", "memory", "startup"} <= set(names)
    for fig in serial:
        assert fig.png.stat().st_size > 1000 and fig.svg.stat().st_size > 1000
    first = {f.name: f.svg.read_bytes() for f in serial}
    forked = draw_all(summary, machine_topology(rows, envs), out, processes=2)
    assert {f.name: f.svg.read_bytes() for f in forked} == first  # same bytes whoever draws


def test_real_command_line(tmp_path: Path) -> None:
    sweep = write_sweep(tmp_path / "s", ladder(["process_pool"], [1, 2]), amdahl_wall(1.0, 0.0))
    out = subprocess.run(
        [sys.executable, "-m", "coresweep.analysis.cli", str(sweep)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert str(sweep / "report" / "index.html") in out.stdout
    missing = subprocess.run(
        [sys.executable, "-m", "coresweep.analysis.cli", str(tmp_path / "nope")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1 and "Traceback" not in missing.stderr
