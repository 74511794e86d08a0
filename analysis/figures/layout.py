"""Figure layout: panel grids with margins fixed up front, captions at the foot, and saving."""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from .style import DPI

PANEL_W = 4.3
PANEL_H = 3.3
MAX_COLS = 4
MAX_PNG_PX = 2000


@dataclass(frozen=True)
class FigureFile:
    """One saved figure: its name, both files, and a sentence saying what it shows."""

    name: str
    png: Path
    svg: Path
    caption: str


def save(fig: Figure, out_dir: Path, name: str, caption: str) -> FigureFile:
    """PNG and SVG without timestamps or version stamps, so rebuilding gives the same bytes."""
    png = out_dir / f"{name}.png"
    svg = out_dir / f"{name}.svg"
    # Big grids get fewer dots per inch: the PNG stays readable in a browser (about 2000 px
    # wide at most) and costs a fraction of the time; the SVG keeps every detail.
    dpi = min(DPI, max(60, MAX_PNG_PX / fig.get_figwidth()))
    # Fast zlib level: a third of the encoding time for PNGs about a fifth bigger.
    fig.savefig(png, dpi=dpi, metadata={"Software": None}, pil_kwargs={"compress_level": 1})
    fig.savefig(svg, metadata={"Date": None, "Creator": None})
    plt.close(fig)
    return FigureFile(name, png, svg, caption)


#: Average glyph width as a share of the font size (DejaVu Sans, mixed text), for wrapping.
CHAR_W_EM = 0.56


def grow_bottom(fig: Figure, extra_in: float) -> None:
    """Make the figure ``extra_in`` inches taller at the bottom, leaving everything drawn so far
    where it was (axes, figure texts and legends keep their place from the top)."""
    width, height = fig.get_size_inches()
    new_h = height + extra_in

    def moved(y: float) -> float:
        return (y * height + extra_in) / new_h

    anchors = []
    for legend in fig.legends:
        box = legend.get_bbox_to_anchor()  # display units, at the current size
        anchors.append((legend, box.x0 / fig.dpi / width, box.y0 / fig.dpi))
    for ax in fig.axes:
        pos = ax.get_position()
        ax.set_position([pos.x0, moved(pos.y0), pos.width, pos.height * height / new_h])
    texts = list(fig.texts) + ([fig._suptitle] if getattr(fig, "_suptitle", None) is not None else [])
    for text in texts:
        if text.get_transform() == fig.transFigure:
            text.set_y(moved(text.get_position()[1]))
    fig.set_size_inches(width, new_h)
    for legend, x, y_in in anchors:
        legend.set_bbox_to_anchor((x, (y_in + extra_in) / new_h), transform=fig.transFigure)


def figure_note(fig: Figure, text: str, left_in: float, room_in: float, fontsize: float = 8) -> None:
    """A caption at the figure's foot, wrapped to its width; the figure grows at the bottom when
    the wrapped lines need more than the ``room_in`` inches its layout left for them."""
    width, _ = fig.get_size_inches()
    chars = max(20, int((width - left_in - 0.15) * 72 / (fontsize * CHAR_W_EM)))
    lines = [ln for part in text.split("\n") for ln in (textwrap.wrap(part, chars) or [""])]
    need = 0.1 + len(lines) * fontsize * 1.3 / 72
    if need > room_in:
        grow_bottom(fig, need - room_in)
    height = fig.get_size_inches()[1]
    fig.text(left_in / width, 0.1 / height, "\n".join(lines), fontsize=fontsize, color="#444444", va="bottom")


def message_figure(title: str, message: str) -> Figure:
    fig, ax = plt.subplots(figsize=(6.5, 2.2))
    ax.set_axis_off()
    ax.set_title(title, loc="left", fontsize=11)
    ax.text(0.5, 0.45, message, ha="center", va="center", fontsize=11, wrap=True, color="#444444")
    return fig


def grid_shape(n_panels: int, n_machines: int) -> tuple[int, int]:
    if n_machines > 1:
        return n_machines, n_panels
    cols = min(MAX_COLS, max(1, n_panels))
    return math.ceil(n_panels / cols), cols


@dataclass(frozen=True)
class Layout:
    """Margins in inches, fixed up front: no tight_layout / bbox_inches="tight" passes.

    Each of those re-measures every text item; on a 10-panel figure they cost more than the
    drawing itself, and a known layout also keeps the legend from ever overlapping a panel.
    """

    rows: int
    cols: int
    legend_chars: int
    left: float = 0.85
    right_gap: float = 0.25
    bottom: float = 0.6
    top: float = 0.75
    wspace: float = 0.55
    hspace: float = 0.85

    @property
    def legend_w(self) -> float:
        return 0.8 + 0.062 * self.legend_chars if self.legend_chars else 0.0

    @property
    def size(self) -> tuple[float, float]:
        width = (
            self.left + self.cols * PANEL_W + (self.cols - 1) * self.wspace + self.right_gap + self.legend_w
        )
        height = self.bottom + self.rows * PANEL_H + (self.rows - 1) * self.hspace + self.top
        return (width, height)

    def apply(self, fig: Figure) -> None:
        width, height = self.size
        fig.subplots_adjust(
            left=self.left / width,
            right=(width - self.right_gap - self.legend_w) / width,
            bottom=self.bottom / height,
            top=(height - self.top) / height,
            wspace=self.wspace / PANEL_W,
            hspace=self.hspace / PANEL_H,
        )


def fig_layout(n_panels: int, n_rows_fixed: int | None, legend_chars: int) -> tuple[Figure, Any, Layout]:
    if n_rows_fixed:
        rows, cols = n_rows_fixed, max(1, math.ceil(n_panels / n_rows_fixed))
    else:
        rows, cols = grid_shape(n_panels, 1)
    layout = Layout(rows, cols, legend_chars)
    fig, axes = panel_grid(layout, rows * cols if n_rows_fixed else n_panels)
    layout.apply(fig)
    return fig, axes, layout


def panel_grid(layout: Layout, n_used: int) -> tuple[Figure, list[list[Any]]]:
    """``plt.subplots`` for the first ``n_used`` cells (row by row) only; None in the others.

    An axes costs a few ms to create even when it is hidden, and a 10-panel grid of 3 x 4 has two.
    """
    fig = plt.figure(figsize=layout.size)
    grid = fig.add_gridspec(layout.rows, layout.cols)
    axes = [
        [fig.add_subplot(grid[r, c]) if r * layout.cols + c < n_used else None for c in range(layout.cols)]
        for r in range(layout.rows)
    ]
    return fig, axes


def finish(
    fig: Figure,
    axes: Any,
    layout: Layout,
    used: set,
    title: str,
    handles: Mapping[str, Any],
    legend_title: str,
) -> None:
    for r in range(layout.rows):
        for c in range(layout.cols):
            if (r, c) not in used and axes[r][c] is not None:
                axes[r][c].set_visible(False)
    width, height = layout.size
    fig.suptitle(title, x=layout.left / width * 0.4, y=1 - 0.18 / height, ha="left", va="top", fontsize=12)
    if handles:
        fig.legend(
            list(handles.values()),
            list(handles.keys()),
            loc="upper left",
            bbox_to_anchor=((width - layout.legend_w) / width, 1 - layout.top / height),
            frameon=False,
            title=legend_title,
            alignment="left",
        )
