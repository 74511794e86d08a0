"""Colours, markers and line styles: a backend looks the same in every figure of a report."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
from matplotlib.collections import PolyCollection

from ..load import PATTERN_DEFAULTS

DPI = 110


#: Fixed colours: thread families in blues/teal, process families in gold/orange/crimson,
#: joblib's process backends in green/pink, so related backends look related in every figure;
#: the three stdlib process backends differ in hue (gold, crimson, orange) and in marker
#: (``BACKEND_MARKERS``), so pool and process_pool are told apart at a glance.
BACKEND_COLOURS: dict[str, str] = {
    "sequential": "#4d4d4d",
    "thread": "#56b4e9",
    "thread_pool": "#0173b2",
    "joblib_threading": "#7b3294",
    "process": "#e6ab02",
    "pool": "#b2182b",
    "process_pool": "#f07d0a",
    "joblib_loky": "#029e73",
    "joblib_multiprocessing": "#cc78bc",
}
#: Colours handed to backends not listed above, in sorted-name order.
EXTRA_COLOURS: tuple[str, ...] = (
    "#8c564b",
    "#17becf",
    "#bcbd22",
    "#e7298a",
    "#1b9e77",
    "#7570b3",
    "#a6761d",
    "#666666",
    "#fb9a99",
    "#b2df8a",
)
LINESTYLES = ("-", "--", ":", "-.")
MARKERS = ("o", "s", "^", "D", "v", "P", "X")
#: Each known backend's first marker (its variants take the next ones): related backends that
#: share a family of colours still differ in shape.
BACKEND_MARKERS: dict[str, int] = {
    "thread": 0,
    "thread_pool": 1,
    "joblib_threading": 2,
    "process": 3,
    "pool": 4,
    "process_pool": 5,
    "joblib_loky": 2,
    "joblib_multiprocessing": 0,
    "dask_distributed": 6,
    "interpreter_pool": 3,
}


RC = {
    "svg.hashsalt": "coresweep",  # fixed ids in SVG so a rebuild is byte-identical
    "svg.fonttype": "none",  # text stays text: smaller, searchable, faster
    # Unhinted glyphs: a tenth less time for a report's PNGs, and at these sizes they look the same.
    "text.hinting": "none",
    "figure.dpi": DPI,
    "savefig.dpi": DPI,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
}


def backend_palette(backends: Iterable[str]) -> dict[str, str]:
    """Colour per backend: the fixed ones first, unknown names get extra colours in sorted order."""
    palette: dict[str, str] = {}
    unknown = sorted({str(b) for b in backends if str(b) not in BACKEND_COLOURS})
    for name in sorted({str(b) for b in backends}):
        if name in BACKEND_COLOURS:
            palette[name] = BACKEND_COLOURS[name]
    for i, name in enumerate(unknown):
        if i < len(EXTRA_COLOURS):
            palette[name] = EXTRA_COLOURS[i]
        else:  # more unknown backends than colours: fall back on an evenly spaced hue wheel
            palette[name] = matplotlib.colors.to_hex(sns.color_palette("husl", len(unknown))[i])
    return palette


def series_line(
    ax: plt.Axes,
    xs: Any,
    ys: Any,
    v_index: int,
    colour: str,
    label: str | None = None,
    marker_index: int | None = None,
    backend: str = "",
) -> Any:
    """One backend's line: its colour, and the line style and marker of its variant (the
    backend's own marker, then the next ones; or the marker given, where markers tell apart
    series that may coincide)."""
    extra = {"label": label} if label is not None else {}
    marker = BACKEND_MARKERS.get(backend, 0) + v_index if marker_index is None else marker_index
    (line,) = ax.plot(
        xs,
        ys,
        linestyle=LINESTYLES[v_index % len(LINESTYLES)],
        marker=MARKERS[marker % len(MARKERS)],
        color=colour,
        linewidth=1.6,
        markersize=4.5,
        zorder=4,
        **extra,
    )
    return line


def band_polygon(xs: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """The outline of a confidence band: along the lower bounds, back along the upper ones."""
    return np.column_stack([np.concatenate([xs, xs[::-1]]), np.concatenate([lo, hi[::-1]])])


def add_bands(ax: plt.Axes, bands: list[tuple[np.ndarray, str]]) -> None:
    """Every confidence band of a panel as one collection (one artist, not one per series:
    ``fill_between`` per series was a third of the time of drawing a 10-panel figure)."""
    if bands:
        ax.add_collection(
            PolyCollection(
                [verts for verts, _ in bands],
                facecolors=[colour for _, colour in bands],
                alpha=0.18,
                linewidths=0,
                zorder=2,
            ),
            autolim=False,
        )


def series_label(backend: str, dims: list[str], values: Mapping[str, Any]) -> str:
    """"backend (dim=value, ...)"; a pattern dimension at its "not used" value (share=-,
    input_mb=0...) is left out: it only says the series is of another pattern workload."""
    shown = [d for d in dims if d not in PATTERN_DEFAULTS or str(values[d]) != str(PATTERN_DEFAULTS[d])]
    variant = ", ".join(f"{d}={values[d]}" for d in shown)
    return backend + (f" ({variant})" if variant else "")


def legend_order(label: str, palette: Mapping[str, str]) -> tuple[int, str]:
    """Backends first (alphabetical), then the guides (ideal, baseline, shading)."""
    backend = label.split(" (", 1)[0]
    return (0 if backend in palette else 1, label)
