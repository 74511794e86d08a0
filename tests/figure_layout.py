"""What a figure's layout must satisfy: no text of it lies outside the saved figure.

Shared by tests/test_presets.py (the figures of every preset's real, tiny sweep) and
tests/test_figure_layout.py (synthetic summaries at the extremes a preset or a big machine gives).
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

from matplotlib.figure import Figure  # noqa: E402


def overflowing_texts(fig: Figure, tolerance_px: float = 1.0) -> list[str]:
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


def clipped_figures(summary, topology) -> tuple[list[str], dict[str, list[str]]]:
    """Every figure of the report drawn from ``summary``: (the names drawn, name -> its texts
    outside the figure), under the report's style."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    from coresweep.analysis.figures import FIGURES, RC, backend_palette, skip_reason

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
    return drawn, problems
