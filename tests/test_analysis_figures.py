"""Figures: fixed colours per backend, both file formats, and no crash on thin data."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import matplotlib.pyplot as plt

from coresweep.analysis.figures import (
    BACKEND_COLOURS,
    backend_palette,
    cpu_figure,
    draw_all,
    efficiency_figure,
    memory_figure,
    speedup_figure,
    startup_figure,
)
from coresweep.analysis.load import load_results, machine_topology
from coresweep.analysis.report import build_report
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


def _summary_of(sweep: Path) -> tuple:
    rows, envs, _ = load_results([sweep])
    return summarize(rows), machine_topology(rows, envs)


def _series_points(ax) -> list:
    """The data points of the backend lines in one panel (guides are drawn below zorder 4)."""
    return [(x, y) for line in ax.get_lines() if line.get_zorder() == 4 for x, y in line.get_xydata()]


def _panels(fig) -> list:
    return [ax for ax in fig.axes if ax.get_visible() and ax.get_title()]


def test_worker_axes_are_log2_with_ticks_at_the_worker_counts_and_core_markers(tmp_path: Path) -> None:
    sweep = write_sweep(tmp_path / "s", ladder(["process_pool"], [1, 2, 3, 8]), amdahl_wall(1.0, 0.1))
    summary, topology = _summary_of(sweep)
    palette = backend_palette(summary["backend"])
    for draw in (speedup_figure, efficiency_figure, cpu_figure, memory_figure):
        (ax,) = _panels(draw(summary, topology, palette))
        assert ax.get_xscale() == "log" and ax.xaxis.get_transform().base == 2
        # every worker count is a tick (and the logical core count, 4, where the marker is)
        assert [float(t) for t in ax.get_xticks()] == [1.0, 2.0, 3.0, 4.0, 8.0]
        markers = {
            float(line.get_xdata()[0])
            for line in ax.get_lines()
            if line.get_linestyle() == "--" and len(set(line.get_xdata())) == 1
        }
        assert {2.0, 4.0} <= markers  # physical and logical cores of the synthetic topology
        plt.close("all")


def test_grain_sweep_gets_no_single_point_panels(tmp_path: Path) -> None:
    """As +experiment=grain: size = work / grain, one worker count. Nothing to draw against
    workers, so those figures are left out with a reason; the grain figure shows the data."""
    configs = []
    for grain in (100, 1000, 10000, 100000):
        size = 4_000_000 // grain
        configs.append({"backend": "sequential", "workers": 1, "grain": grain, "size": size})
        for backend in ("process_pool", "thread_pool"):
            configs.append({"backend": backend, "workers": 2, "grain": grain, "size": size})
    sweep = write_sweep(tmp_path / "s", configs, lambda c: 1.0 / c["workers"] + 1000.0 / c["grain"])
    result = build_report([sweep])
    names = {p.stem for p in result.out_dir.glob("*.png")}
    assert "grain" in names and not names & {"speedup", "efficiency", "cpu", "memory"}
    html = result.index_html.read_text()
    assert "No speedup / efficiency / cpu / memory figure against workers" in html
    assert "every run used 2 workers" in html

    # The same sweep at 1 and 2 workers: one panel per grain, each a line of two points.
    more = [dict(c, workers=1) for c in configs if c["backend"] != "sequential"]
    sweep = write_sweep(tmp_path / "t", configs + more, lambda c: 1.0 / c["workers"] + 1000.0 / c["grain"])
    summary, topology = _summary_of(sweep)
    panels = _panels(speedup_figure(summary, topology, backend_palette(summary["backend"])))
    assert len(panels) == 4
    for ax in panels:
        assert len({x for x, _ in _series_points(ax)}) == 2
        assert "grain=" in ax.get_title()
    plt.close("all")


def test_weak_scaling_is_one_panel_with_a_line_per_backend(tmp_path: Path) -> None:
    """Size grows with workers: per-size panels would each hold one point."""
    configs = []
    for workers in (1, 2, 4):
        configs.append({"backend": "sequential", "workers": 1, "size": 32 * workers})
        configs.append({"backend": "process_pool", "workers": workers, "size": 32 * workers})
    sweep = write_sweep(tmp_path / "s", configs, lambda c: c["size"] / 32 / c["workers"])
    summary, topology = _summary_of(sweep)
    for draw in (speedup_figure, efficiency_figure):
        (ax,) = _panels(draw(summary, topology, backend_palette(summary["backend"])))
        assert sorted(x for x, _ in _series_points(ax)) == [1.0, 2.0, 4.0]
        plt.close("all")


def test_startup_figure_has_a_teardown_panel_per_start_method(tmp_path: Path) -> None:
    configs = [{"backend": "sequential", "workers": 1}]
    for method in ("fork", "spawn"):
        configs += [
            {"backend": "pool", "workers": w, "start_method": method, "teardown_s": 0.01} for w in (1, 2)
        ]
    sweep = write_sweep(tmp_path / "s", configs, amdahl_wall(1.0, 0.1))
    summary, topology = _summary_of(sweep)
    fig = startup_figure(summary, topology, backend_palette(summary["backend"]))
    startup, teardown = _panels(fig)
    assert "start-up" in startup.get_title() and "teardown" in teardown.get_title()
    labels = [t.get_text() for t in teardown.get_xticklabels()]
    assert labels == ["sequential", "pool (fork)", "pool (spawn)"]
    assert len(teardown.patches) == 5  # one bar per (group, worker count)
    plt.close("all")
    result = build_report([sweep])
    assert (result.out_dir / "startup.png").is_file() and (result.out_dir / "startup.svg").is_file()
    assert "teardown" in result.index_html.read_text()


def test_a_figure_that_fails_in_a_worker_is_drawn_by_the_caller(tmp_path: Path, monkeypatch) -> None:
    import os

    from coresweep.analysis import figures

    sweep = write_sweep(tmp_path / "s", ladder(["process_pool"], [1, 2]), amdahl_wall(1.0, 0.1))
    summary, topology = _summary_of(sweep)
    parent, real = os.getpid(), figures.FIGURES["efficiency"]

    def only_here(*args):
        if os.getpid() != parent:
            raise RuntimeError("worker trouble")
        return real(*args)

    monkeypatch.setitem(figures.FIGURES, "efficiency", only_here)
    out = tmp_path / "out"
    out.mkdir()
    files = draw_all(summary, topology, out, processes=2)
    assert [f.name for f in files][:2] == ["speedup", "efficiency"]
    assert all(f.png.is_file() and f.svg.is_file() for f in files)


def test_memory_figure_shows_coinciding_backends_apart_and_the_sequential_reference(tmp_path: Path) -> None:
    # Every synthetic row has the same peak RSS: three backends draw the very same line.
    configs = ladder(["pool", "process_pool", "thread_pool"], [1, 2])
    sweep = write_sweep(tmp_path / "s", configs, amdahl_wall(1.0, 0.1))
    summary, topology = _summary_of(sweep)
    fig = memory_figure(summary, topology, backend_palette(summary["backend"]))
    (ax,) = _panels(fig)
    lines = {line.get_label(): line for line in ax.get_lines() if line.get_zorder() == 4}
    assert set(lines) == {"pool", "process_pool", "thread_pool"}
    # Each backend sits at its own x near each worker count (same value, so nudged apart)...
    at_two = sorted(float(line.get_xdata()[1]) for line in lines.values())
    assert len(set(at_two)) == 3 and all(1.8 < x < 2.2 for x in at_two)
    assert len({line.get_marker() for line in lines.values()}) == 3  # and has its own marker
    # ...and the figure says which coincide.
    texts = " ".join(t.get_text().replace("\n", " ") for t in fig.texts)  # captions wrap
    assert "pool = process_pool = thread_pool" in texts and "nudged sideways" in texts
    # The sequential run is the reference: a dotted horizontal line at its value, in the legend.
    mib = 50_000_000 / 2**20
    refs = [ln for ln in ax.get_lines() if ln.get_linestyle() == ":" and set(ln.get_ydata()) == {mib}]
    assert len(refs) == 1
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert any(t.startswith("sequential") for t in legend)
    # The speedup figure is not nudged: its points sit on the worker counts.
    speedup = speedup_figure(summary, topology, backend_palette(summary["backend"]))
    (ax,) = _panels(speedup)
    assert sorted({x for x, _ in _series_points(ax)}) == [1.0, 2.0]
    plt.close("all")


def test_core_count_labels_sit_above_the_panel_below_its_title(tmp_path: Path) -> None:
    # Physical 2 and logical 4 (the synthetic topology): two labels, never over the data.
    sweep = write_sweep(tmp_path / "s", ladder(["process_pool"], [1, 2, 4, 8]), amdahl_wall(1.0, 0.1))
    summary, topology = _summary_of(sweep)
    for draw in (speedup_figure, efficiency_figure):
        fig = draw(summary, topology, backend_palette(summary["backend"]))
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        (ax,) = _panels(fig)
        panel = ax.get_window_extent(renderer)
        labels = [t for t in ax.texts if "physical" in t.get_text() or "logical" in t.get_text()]
        assert sorted(t.get_text() for t in labels) == ["2 physical", "4 logical"]
        boxes = [t.get_window_extent(renderer) for t in labels]
        assert all(box.y0 >= panel.y1 for box in boxes)  # above the plotting area
        assert not boxes[0].overlaps(boxes[1])
        title = ax.title.get_window_extent(renderer)
        assert all(title.y0 >= box.y1 - 0.5 for box in boxes)
        plt.close("all")


def _two_interpreters(tmp_path: Path) -> Path:
    """3.12 (GIL) and 3.13 without the GIL, two sizes: threads win only where the GIL is off."""
    configs = []
    for python, gil in (("3.12.1", True), ("3.13.0", False)):
        for size in (64, 256):
            common = {"python": python, "gil_enabled": gil, "size": size}
            configs.append({"backend": "sequential", "workers": 1, **common})
            for backend in ("thread_pool", "process_pool"):
                configs.append({"backend": backend, "workers": 2, **common})

    def wall(c: dict) -> float:
        t = c["size"] / 64 * (1.3 if c["python"] == "3.13.0" else 1.0)
        if c["backend"] == "thread_pool":
            return t / 2 if not c["gil_enabled"] else t
        return t / 1.8 if c["backend"] == "process_pool" else t

    return write_sweep(tmp_path / "s", configs, wall)


def test_size_figure_and_best_heatmap_keep_interpreters_apart(tmp_path: Path) -> None:
    from coresweep.analysis.figures import best_figure, best_table, size_figure

    summary, topology = _summary_of(_two_interpreters(tmp_path))
    palette = backend_palette(summary["backend"])
    # Size: one panel per interpreter, each with its own sequential line.
    titles = sorted(ax.get_title() for ax in _panels(size_figure(summary, topology, palette)))
    assert titles == [
        "cpu_python · python=3.12.1, gil_enabled=True",
        "cpu_python · python=3.13.0, gil_enabled=False",
    ]
    # Best: one row per interpreter (and size); the winner differs with the GIL.
    best = best_table(summary)
    winners = {(r["python"], int(r["size"])): r["backend"] for _, r in best.iterrows()}
    assert winners == {
        ("3.12.1", 64): "process_pool", ("3.12.1", 256): "process_pool",
        ("3.13.0", 64): "thread_pool", ("3.13.0", 256): "thread_pool",
    }
    assert len(set(best["row_label"])) == 4 and all("python=" in label for label in best["row_label"])
    fig = best_figure(summary, topology, palette)
    assert sorted(t.get_text() for t in fig.axes[0].get_yticklabels()) == sorted(best["row_label"])
    plt.close("all")
    # One interpreter: no interpreter in any label.
    one = summary[summary["python"].eq("3.12.1")]
    assert not any("python=" in label for label in best_table(one)["row_label"])
    assert not any("python=" in ax.get_title() for ax in _panels(size_figure(one, topology, palette)))
    plt.close("all")


def test_pattern_methods_get_panels_and_sizes_name_lines() -> None:
    """A pattern workload run with several share methods gets a panel per method, and its input
    sizes name the lines (a 'not used' pattern value such as share=- is left out of names)."""
    import pandas as pd

    from coresweep.analysis.figures.panels import line_variants, worker_panels
    from coresweep.analysis.figures.style import series_label

    rows = [
        {"machine": "m", "workload": "shared_input", "backend": "pool", "workers": w, "size": 4,
         "grain": 250, "start_method": "fork", "pinning": "none", "collect": "result", "python": "",
         "gil_enabled": "", "share": share, "init": "-", "state": "-", "input_mb": mb, "init_ms": 0}
        for share in ("argument", "inherit") for mb in (1, 10) for w in (1, 2)
    ]  # fmt: skip
    plan = worker_panels(pd.DataFrame(rows))
    assert plan.titles == ["shared_input · share=argument", "shared_input · share=inherit"]
    assert line_variants(plan.data) == {"pool": ["input_mb"]}
    assert series_label("pool", ["share", "input_mb"], {"share": "-", "input_mb": 10}) == "pool (input_mb=10)"
