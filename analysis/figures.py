"""Figures: speedup and efficiency against workers, plus start-up, memory and CPU use.

Every worker axis carries the machine's physical and logical core counts and shades the
oversubscribed region, because "how many workers" only means something against the cores
that exist. A backend keeps one colour in every figure of a report (``backend_palette``), so a
reader learns the colours once. Figures are drawn with matplotlib under a seaborn style, from
the summary table (whose intervals are ``stats.summarize``'s), not from seaborn's own estimator.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.collections import PolyCollection  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from matplotlib.ticker import FixedLocator, FuncFormatter, MaxNLocator, NullLocator  # noqa: E402

from ._gc import paused_gc  # noqa: E402
from ._parallel import can_fork, usable_cpus  # noqa: E402
from .stats import SEQUENTIAL, crossover_grains, grain_series, weak_scaling  # noqa: E402

DPI = 110
PANEL_W = 4.3
PANEL_H = 3.3
MAX_COLS = 4
MAX_PNG_PX = 2000

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
#: Sideways step between neighbouring series of the memory figure, in octaves of workers.
MEMORY_DODGE = 0.035
#: Series whose values differ by at most this share are named as coinciding (memory figure).
COINCIDE = 0.02
#: Dimensions that may split one backend into several lines within a panel.
VARIANT_DIMS = ("start_method", "pinning", "collect", "grain", "python", "gil_enabled")

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


def _grow_bottom(fig: Figure, extra_in: float) -> None:
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
        _grow_bottom(fig, need - room_in)
    height = fig.get_size_inches()[1]
    fig.text(left_in / width, 0.1 / height, "\n".join(lines), fontsize=fontsize, color="#444444", va="bottom")


def _message_figure(title: str, message: str) -> Figure:
    fig, ax = plt.subplots(figsize=(6.5, 2.2))
    ax.set_axis_off()
    ax.set_title(title, loc="left", fontsize=11)
    ax.text(0.5, 0.45, message, ha="center", va="center", fontsize=11, wrap=True, color="#444444")
    return fig


def _panel_label(workload: Any, size: Any, several_sizes: bool) -> str:
    return f"{workload} · size={size}" if several_sizes else str(workload)


def _series_line(
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


def _series_positions(data: pd.DataFrame, keys: list[str]) -> dict[tuple, list[tuple[tuple, np.ndarray]]]:
    """Row positions of every series, ordered by workers, grouped by (keys[0], keys[1]) = the panel.

    One grouping pass and plain index arrays: a pandas slice per series (and per column of
    it) cost more than drawing the lines. Series come in sorted key order within a panel.
    """
    group = data.groupby(keys, sort=True, dropna=False).ngroup().to_numpy()
    order = np.lexsort((data["workers"].to_numpy(dtype="float64"), group))
    sorted_groups = group[order]
    starts = np.flatnonzero(np.r_[True, sorted_groups[1:] != sorted_groups[:-1]])
    columns = [data[k].to_numpy(dtype=object) for k in keys]
    out: dict[tuple, list[tuple[tuple, np.ndarray]]] = {}
    for pos in np.split(order, starts[1:]):
        first = pos[0]
        key = tuple(col[first] for col in columns)
        out.setdefault(key[:2], []).append((key[2:], pos))
    return out


def _band_polygon(xs: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """The outline of a confidence band: along the lower bounds, back along the upper ones."""
    return np.column_stack([np.concatenate([xs, xs[::-1]]), np.concatenate([lo, hi[::-1]])])


def _add_bands(ax: plt.Axes, bands: list[tuple[np.ndarray, str]]) -> None:
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


def _variants(data: pd.DataFrame) -> dict[str, list[str]]:
    """Per backend, the VARIANT_DIMS whose value differs between its rows *within one panel*
    (they name its lines). A value that only differs between panels (say each workload has its
    own grain) already shows in the panel title and would only double the legend.

    Where one panel holds several sizes (``_panel``: see ``_worker_panels``), size names lines
    too, but only if it differs at one worker count: in a weak-scaling ladder each worker count
    has its own size and the points still form one line per backend.
    """
    out: dict[str, list[str]] = {}
    panel = ["machine", "_panel"] if "_panel" in data.columns else ["machine", "workload", "size"]
    panel = [c for c in panel if c in data.columns]
    for backend, part in data.groupby("backend", sort=True):
        varying = set()
        for _, cell in part.groupby(panel, sort=False) if panel else [(None, part)]:
            varying |= {d for d in VARIANT_DIMS if cell[d].nunique(dropna=False) > 1}
        dims = [d for d in VARIANT_DIMS if d in varying]
        if "_panel" in part.columns:
            sizes = part.groupby([*panel, *dims, "workers"], sort=False, dropna=False)["size"].nunique()
            if (sizes > 1).any():
                dims.append("size")
        out[str(backend)] = dims
    return out


@dataclass(frozen=True)
class _Panels:
    """Which panels a figure against workers gets, and what it leaves out (and why)."""

    data: pd.DataFrame  # the rows drawn, with ``_panel``: the index of their panel
    titles: list[str]
    left_out: list[str]  # one sentence per workload not drawn


def _worker_panels(data: pd.DataFrame, grain_workloads: Iterable[str] = ()) -> _Panels:
    """Panels = workload x size, unless that leaves a panel with a single worker count.

    A grain sweep (the size follows the grain) or a weak-scaling sweep (the size follows the
    workers) makes every (workload, size) panel hold one worker count: a column of single
    points. Then the workload gets one panel and size becomes part of the series (see
    ``_variants``). A workload run at one worker count only has nothing to draw against
    workers: it is always left out (and named), as a grain sweep's is.
    """
    grain_workloads = set(grain_workloads)
    titles: list[str] = []
    panel_of: dict[tuple[str, Any], int] = {}
    left_out: list[str] = []
    for workload, part in data.groupby("workload", sort=True):
        workload = str(workload)
        sizes = sorted(part["size"].unique())
        per_size = part.groupby("size")["workers"].nunique()
        counts = sorted(int(w) for w in part["workers"].unique())
        if per_size.min() >= 2:
            grains = part.groupby("size")["grain"].agg(["nunique", "first"])
            several_grains = part["grain"].nunique() > 1
            for size in sizes:
                title = _panel_label(workload, size, len(sizes) > 1)
                if several_grains and grains.loc[size, "nunique"] == 1:
                    title += f" · grain={grains.loc[size, 'first']}"
                panel_of[(workload, size)] = len(titles)
                titles.append(title)
            continue
        if len(counts) < 2:
            one = f"{workload}: every run used {counts[0]} worker{'s' if counts[0] != 1 else ''}"
            if workload in grain_workloads:
                left_out.append(one + " (the grain figure shows its speedup against task grain)")
            else:  # a column of points at one x: nothing to read against workers
                left_out.append(one + " (nothing to draw against workers: the summary table has them)")
            continue
        panel_of[(workload, None)] = len(titles)
        titles.append(workload + (f" · size {sizes[0]}–{sizes[-1]}" if len(sizes) > 1 else ""))
    index = [
        panel_of.get((w, s), panel_of.get((w, None), -1)) for w, s in zip(data["workload"], data["size"])
    ]
    data = data.assign(_panel=index)
    return _Panels(data[data["_panel"] >= 0], titles, left_out)


def _line_data(summary: pd.DataFrame, y: str) -> pd.DataFrame:
    """The parallel configurations a figure against workers can draw: ok runs, a finite ``y``."""
    values = summary[y].astype("float64") if y in summary.columns else pd.Series(np.nan, summary.index)
    data = summary[summary["backend"].ne(SEQUENTIAL) & (summary["n_ok"] > 0) & np.isfinite(values)]
    return data.assign(machine=data["machine"].astype(str), workload=data["workload"].astype(str))


#: The figures against workers and the summary column each draws.
LINE_FIGURE_COLUMNS = {
    "speedup": "speedup",
    "efficiency": "efficiency",
    "cpu": "cpu_per_wall",
    "memory": "median_peak_rss_bytes",
}


def skip_reason(summary: pd.DataFrame, name: str, grain_workloads: set[str] | None = None) -> str:
    """Why a figure against workers is not drawn at all ("" when it is): every workload with
    data was run at one worker count, and the grain figure shows it (``_worker_panels``)."""
    column = LINE_FIGURE_COLUMNS.get(name)
    if column is None or summary.empty:
        return ""
    data = _line_data(summary, column)
    if data.empty:
        return ""
    per_workload = data.groupby("workload")["workers"].nunique()
    if (per_workload >= 2).all():  # the common case, decided without planning the panels
        return ""
    plan = _worker_panels(data, _grain_workloads(summary) if grain_workloads is None else grain_workloads)
    return "; ".join(plan.left_out) if plan.data.empty else ""


def _grain_workloads(summary: pd.DataFrame) -> set[str]:
    if "speedup" not in summary.columns:
        return set()
    return set(grain_series(summary)["workload"].astype(str))


def _worker_axis(ax: plt.Axes, workers: np.ndarray, log2: bool) -> None:
    ticks = sorted({int(w) for w in workers if w > 0})
    if log2:
        ax.set_xscale("log", base=2)
        ax.xaxis.set_minor_locator(NullLocator())
    if len(ticks) > 8:  # keep powers of two and the ends so tick labels never collide
        ticks = sorted({t for t in ticks if t & (t - 1) == 0} | {ticks[0], ticks[-1]})
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))


def _ratio_tick(value: float, _pos: Any = None) -> str:
    """A tick of a log2 ratio axis: 2^-3 reads 1/8, 2^-10 1/1024 (not 0.000976562): short enough
    for the fixed left margin."""
    if 0 < value < 0.3 and abs(1 / value - round(1 / value)) < 1e-6:
        return f"1/{1 / value:.0f}"
    return f"{value:g}"


def _log2_ticks(low: float, high: float, most: int = 8) -> list[float]:
    """Ticks for a log2 axis: powers of two and the halfway 1.5 x 2^k, fewer when the range is wide."""
    powers = range(math.floor(math.log2(low)) - 1, math.ceil(math.log2(high)) + 2)
    ticks = [m * 2.0**k for k in powers for m in (1.0, 1.5) if low <= m * 2.0**k <= high]
    if len(ticks) > most:
        ticks = [t for t in ticks if math.log2(t).is_integer()]
    step = max(1, math.ceil(len(ticks) / most))
    return sorted(ticks)[::step]


def _core_marks(topo: Mapping[str, Any] | None) -> dict[float, list[str]]:
    """Core counts to mark on a worker axis: value -> its names (physical, logical, usable)."""
    if not topo:
        return {}
    physical = topo.get("physical_cores")
    logical = topo.get("logical_cores")
    usable = topo.get("usable_cpus")
    marks: dict[float, list[str]] = {}
    for value, label in ((physical, "physical"), (logical, "logical"), (usable, "usable")):
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
            if label == "usable" and logical and value >= logical:
                continue
            marks.setdefault(float(value), []).append(label)
    return marks


#: Height of one row of core-count labels above a panel, in inches (7 pt text and its box).
CORE_LABEL_ROW_IN = 0.16


def _core_label_rows(topologies: Iterable[Mapping[str, Any] | None]) -> int:
    """Rows of core-count labels above the panels: neighbouring labels alternate between two
    rows (they may sit close together on the axis), so one mark needs one row, more need two."""
    return max((min(len(_core_marks(t)), 2) for t in topologies), default=0)


def _core_markers(ax: plt.Axes, topo: Mapping[str, Any] | None, x_max: float) -> int:
    """Dashed lines at physical/logical (and usable) core counts; shade workers > logical.

    The labels ("2 physical = logical") sit above the panel's top edge, outside the data, so
    no line or band can run under them. Returns the rows of labels drawn (0, 1 or 2).
    """
    marks = _core_marks(topo)
    for index, (value, labels) in enumerate(sorted(marks.items())):
        ax.axvline(value, color="#555555", linestyle=(0, (4, 3)), linewidth=0.9, zorder=1)
        text = f"{value:g} " + " = ".join(labels)
        ax.annotate(
            text,
            xy=(value, 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(0, 2 + 72 * CORE_LABEL_ROW_IN * (index % 2)),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=7,
            color="#444444",
            annotation_clip=False,
        )
    logical = (topo or {}).get("logical_cores")
    if isinstance(logical, (int, float)) and logical > 0 and x_max > logical:
        ax.axvspan(float(logical), x_max * 4, color="#d62728", alpha=0.07, linewidth=0, zorder=0)
    return min(len(marks), 2)


def _grid(n_panels: int, n_machines: int) -> tuple[int, int]:
    if n_machines > 1:
        return n_machines, n_panels
    cols = min(MAX_COLS, max(1, n_panels))
    return math.ceil(n_panels / cols), cols


@dataclass(frozen=True)
class _Layout:
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


def _series_label(backend: str, dims: list[str], values: Mapping[str, Any]) -> str:
    variant = ", ".join(f"{d}={values[d]}" for d in dims)
    return backend + (f" ({variant})" if variant else "")


def line_figure(
    summary: pd.DataFrame,
    topology: Mapping[str, Mapping[str, Any]],
    palette: Mapping[str, str],
    *,
    y: str,
    y_low: str | None,
    y_high: str | None,
    title: str,
    ylabel: str,
    ideal: Callable[[np.ndarray], np.ndarray] | None = None,
    ideal_label: str = "",
    baseline_y: float | None = None,
    baseline_label: str = "",
    log2_x: bool | None = None,
    log_y_with_x: bool = False,
    empty_message: str = "no parallel runs: nothing to plot against workers",
    dodge: float = 0.0,
    sequential_reference: str = "",
) -> Figure:
    """Metric against workers: rows = machines (if several), columns = workload (and size).

    Intervals are bands (a single worker count gets an error bar instead), drawn from the
    summary's interval columns. ``dodge`` nudges each series sideways (a fraction of an octave
    on a log2 axis) so that series with equal values stay visible side by side;
    ``sequential_reference`` (its legend label) draws the sequential run's value of each panel
    as a horizontal line, for metrics that have no "1x" of their own.
    """
    data = _line_data(summary, y)
    if data.empty:
        return _message_figure(title, empty_message)
    plan = _worker_panels(data, _grain_workloads(summary))
    note = "Not shown: " + "; ".join(plan.left_out) + "." if plan.left_out else ""
    if dodge:
        nudge = "Points are nudged sideways per backend so that equal values stay visible."
        note = f"{note} {nudge}".strip()
    data = plan.data
    if data.empty:
        return _message_figure(title, note or empty_message)
    machines = sorted(data["machine"].unique())
    panels = plan.titles
    n_rows, n_cols = _grid(len(panels), len(machines))
    variants = _variants(data)
    series_dims = [*VARIANT_DIMS, *(["size"] if any("size" in v for v in variants.values()) else [])]
    labels = {
        _series_label(str(b), variants.get(str(b), []), dict(zip(series_dims, rest)))
        for b, *rest in data[["backend", *series_dims]].drop_duplicates().itertuples(index=False, name=None)
    }
    guides = [ideal_label, baseline_label, "oversubscribed (workers > logical CPUs)", sequential_reference]
    # A series keeps its sideways offset in every panel: its place among all the figure's series.
    order = sorted(labels, key=lambda label: _legend_order(label, palette))
    offset_of = {label: (i - (len(order) - 1) / 2) * dodge for i, label in enumerate(order)}
    max_offset = max(offset_of.values(), default=0.0)
    references = _sequential_values(summary, y) if sequential_reference else None
    coinciding: dict[str, list[str]] = {}  # "a = b" -> the panels where their lines coincide
    label_rows = _core_label_rows(topology.get(m) for m in machines)
    layout = _Layout(
        n_rows,
        n_cols,
        max(len(t) for t in [*labels, *guides]),
        bottom=0.9 if note else 0.6,
        top=0.75 + CORE_LABEL_ROW_IN * label_rows,
        hspace=0.85 + CORE_LABEL_ROW_IN * label_rows,
    )
    fig, axes = _panel_grid(layout, len(panels) if len(machines) == 1 else n_rows * n_cols)
    layout.apply(fig)
    workers_all = data["workers"].astype("float64").to_numpy()
    if log2_x is None:
        log2_x = workers_all.max() > 16
    handles: dict[str, Any] = {}
    used = set()
    series_of = _series_positions(data, ["machine", "_panel", "backend", *series_dims])
    values_of = {c: data[c].to_numpy(dtype="float64", na_value=np.nan) for c in (y, y_low, y_high) if c}
    w_all = workers_all
    v_indices = _variant_indices(data, variants)
    for m_index, machine in enumerate(machines):
        topo = topology.get(machine, {}) or {}
        logical = topo.get("logical_cores")
        logical = float(logical) if isinstance(logical, (int, float)) and logical > 0 else None
        for p_index, panel_title in enumerate(panels):
            if len(machines) > 1:
                r, c = m_index, p_index
            else:
                r, c = divmod(p_index, n_cols)
            ax = axes[r][c]
            used.add((r, c))
            # An explicit y skips matplotlib's per-draw title placement (it measures every tick label).
            ax.set_title(panel_title + (f" — {machine}" if len(machines) > 1 else ""), y=1.01)
            if c == 0:
                ax.set_ylabel(ylabel)
            if r == n_rows - 1 or (len(machines) == 1 and p_index + n_cols >= len(panels)):
                ax.set_xlabel("workers")
            panel_series = series_of.get((machine, p_index))
            if not panel_series:
                ax.text(
                    0.5,
                    0.5,
                    "no successful parallel runs",
                    ha="center",
                    va="center",
                    transform=ax.transAxes,
                    fontsize=8,
                    color="#666666",
                )
                _worker_axis(ax, workers_all, log2_x)
                continue
            in_panel = np.concatenate([pos for _, pos in panel_series])
            x_max = float(w_all[in_panel].max())
            right = max(x_max, logical or 0.0)
            bands: list[tuple[np.ndarray, str]] = []
            panel_points: list[tuple[str, np.ndarray, np.ndarray]] = []
            for (backend, *rest), pos in panel_series:
                backend = str(backend)
                dims = variants.get(backend, [])
                values = dict(zip(series_dims, rest))
                label = _series_label(backend, dims, values)
                v_index = v_indices.get((backend, *(str(values[d]) for d in dims)), 0)
                xs = w_all[pos]
                ys = values_of[y][pos]
                colour = palette.get(backend, "#333333")
                if y_low and y_high:
                    lo = values_of[y_low][pos]
                    hi = values_of[y_high][pos]
                    has = np.isfinite(lo) & np.isfinite(hi)
                    if has.sum() >= 2:
                        bands.append((_band_polygon(xs[has], lo[has], hi[has]), colour))
                    elif has.any():
                        yerr = np.vstack([np.clip(ys - lo, 0, None), np.clip(hi - ys, 0, None)])[:, has]
                        ax.errorbar(
                            xs[has],
                            ys[has],
                            yerr=yerr,
                            fmt="none",
                            ecolor=colour,
                            elinewidth=1.0,
                            capsize=3,
                            zorder=3,
                        )
                marker_index = None
                if dodge:
                    panel_points.append((label, xs, ys))
                    shift = np.full(xs.shape, offset_of[label])
                    if logical:  # points within the CPUs are nudged leftwards only: never into the band
                        shift = np.where(xs <= logical, shift - max_offset, shift)
                    xs = xs * 2.0**shift if log2_x else xs + shift
                    marker_index = order.index(label)
                line = _series_line(
                    ax, xs, ys, v_index, colour, label=label, marker_index=marker_index, backend=backend
                )
                handles.setdefault(label, line)
            for group in _coinciding(panel_points):
                coinciding.setdefault(" = ".join(group), []).append(panel_title)
            _add_bands(ax, bands)
            reference_top = np.nan
            if references is not None:
                seq_colour = palette.get(SEQUENTIAL, BACKEND_COLOURS[SEQUENTIAL])
                for value in _panel_references(references, machine, data.iloc[in_panel]):
                    ax.axhline(value, color=seq_colour, linestyle=":", linewidth=1.4, zorder=3)
                    handles.setdefault(sequential_reference, Line2D([], [], color=seq_colour, linestyle=":"))
                    reference_top = np.nanmax([reference_top, value])
            ticks = np.unique(np.concatenate([w_all[in_panel], [logical] if logical else []]))
            _worker_axis(ax, ticks, log2_x)
            lim = (min(ticks) / 1.4, right * 1.4) if log2_x else (0.0, right + max(0.6, right * 0.08))
            ax.set_xlim(*lim)
            if ideal is not None:
                xs_ideal = np.geomspace(max(lim[0], 0.5), lim[1], 48)
                ax.plot(xs_ideal, ideal(xs_ideal), color="#888888", linestyle="--", linewidth=1.0, zorder=1)
                handles.setdefault(ideal_label, Line2D([], [], color="#888888", linestyle="--"))
            if baseline_y is not None:
                seq_colour = palette.get(SEQUENTIAL, BACKEND_COLOURS[SEQUENTIAL])
                ax.axhline(baseline_y, color=seq_colour, linewidth=1.2, alpha=0.8, zorder=1)
                handles.setdefault(baseline_label, Line2D([], [], color=seq_colour))
            rows_drawn = _core_markers(ax, topo, lim[1])
            if rows_drawn:  # the panel title goes above the core-count labels
                ax.title.set_y(1.01 + rows_drawn * CORE_LABEL_ROW_IN / PANEL_H)
            if logical and x_max > logical:
                handles.setdefault(guides[2], Patch(color="#d62728", alpha=0.15))
            top = np.nanmax(values_of[y_high if y_high else y][in_panel])
            top = np.nanmax([top, np.nanmax(values_of[y][in_panel])])
            if ideal is not None and not log2_x:
                top = max(top, float(ideal(np.array([x_max]))[0]))
            if ideal is not None and log2_x:
                top = max(top, min(float(ideal(np.array([x_max]))[0]), top * 1.5))
            if baseline_y is not None:
                top = max(top, baseline_y)
            if np.isfinite(reference_top):
                top = max(top, reference_top)
            if log2_x and log_y_with_x:
                # Log-log: the ideal line stays straight and 0.5x and 2x look equally far from 1x.
                values = np.concatenate([v[in_panel] for v in values_of.values()])
                values = values[np.isfinite(values) & (values > 0)]
                bottom = min(float(values.min()) if values.size else 1.0, baseline_y or 1.0) / 1.3
                top = max(float(values.max()) if values.size else 1.0, baseline_y or 1.0) * 1.3
                if ideal is not None:
                    top = max(top, min(float(ideal(np.array([x_max]))[0]), top * 4))
                ax.set_yscale("log", base=2)
                ax.set_ylim(bottom, top)
                ax.yaxis.set_major_locator(FixedLocator(_log2_ticks(bottom, top)))
                ax.yaxis.set_major_formatter(FuncFormatter(_ratio_tick))
                ax.yaxis.set_minor_locator(NullLocator())
            else:
                ax.set_ylim(0, top * 1.12 if np.isfinite(top) and top > 0 else 1.0)
                ax.yaxis.set_major_locator(MaxNLocator(6, steps=[1, 2, 2.5, 5, 10]))
    for r in range(n_rows):
        for c in range(n_cols):
            if (r, c) not in used and axes[r][c] is not None:
                axes[r][c].set_visible(False)
    width, height = layout.size
    fig.suptitle(title, x=layout.left / width * 0.4, y=1 - 0.18 / height, ha="left", va="top", fontsize=12)
    if coinciding:
        same = "; ".join(
            group + ("" if len(where) == len(panels) else f" ({', '.join(where)})")
            for group, where in coinciding.items()
        )
        note += f" Equal within {COINCIDE:.0%} at every point: {same}."
    if handles:
        ordered = sorted(handles.items(), key=lambda kv: _legend_order(kv[0], palette))
        fig.legend(
            [h for _, h in ordered],
            [k for k, _ in ordered],
            loc="upper left",
            bbox_to_anchor=((width - layout.legend_w) / width, 1 - layout.top / height),
            frameon=False,
            title="backend",
            alignment="left",
        )
    if note:
        figure_note(fig, note, layout.left * 0.4, room_in=layout.bottom - 0.55)
    return fig


def _coinciding(points: list[tuple[str, np.ndarray, np.ndarray]]) -> list[list[str]]:
    """Groups of series (by label) whose values agree within ``COINCIDE`` at the same workers:
    drawn on top of each other, the figure must name them."""
    groups: list[list[tuple[str, dict[float, float]]]] = []
    for label, xs, ys in points:
        series = {float(x): float(v) for x, v in zip(xs, ys) if np.isfinite(v)}
        for group in groups:
            other = group[0][1]
            if series.keys() == other.keys() and all(
                abs(series[x] - other[x]) <= COINCIDE * max(abs(other[x]), 1e-12) for x in series
            ):
                group.append((label, series))
                break
        else:
            groups.append([(label, series)])
    return [[label for label, _ in g] for g in groups if len(g) > 1]


def _sequential_values(summary: pd.DataFrame, y: str) -> pd.DataFrame:
    """The sequential configurations with a finite ``y`` (a reference line in each panel)."""
    if y not in summary.columns:
        return summary.iloc[0:0]
    values = summary[y].astype("float64")
    seq = summary[summary["backend"].eq(SEQUENTIAL) & (summary["n_ok"] > 0) & np.isfinite(values)]
    return seq.assign(
        machine=seq["machine"].astype(str), workload=seq["workload"].astype(str), _reference_y=values
    )


def _panel_references(seq: pd.DataFrame, machine: str, panel_rows: pd.DataFrame) -> list[float]:
    """The sequential values that belong to a panel: same machine, workload, size and grain."""
    keys = [k for k in ("workload", "size", "grain") if k in seq.columns and k in panel_rows.columns]
    wanted = set(panel_rows[keys].astype(str).itertuples(index=False, name=None))
    mine = seq[seq["machine"].eq(machine)]
    if mine.empty or not keys:
        return []
    match = [tuple(row) in wanted for row in mine[keys].astype(str).itertuples(index=False, name=None)]
    return sorted(set(mine.loc[match, "_reference_y"].astype("float64")))


def _legend_order(label: str, palette: Mapping[str, str]) -> tuple[int, str]:
    """Backends first (alphabetical), then the guides (ideal, baseline, shading)."""
    backend = label.split(" (", 1)[0]
    return (0 if backend in palette else 1, label)


def _variant_indices(data: pd.DataFrame, variants: Mapping[str, list[str]]) -> dict[tuple, int]:
    """(backend, *variant values as text) -> its line style index, computed once per figure.

    Within a backend the variants are numbered in sorted order of their values (as text), so
    a variant keeps its style whichever panels it appears in.
    """
    out: dict[tuple, int] = {}
    for backend, part in data.groupby(data["backend"].astype(str), sort=True):
        dims = list(variants.get(str(backend), []))
        if not dims:
            continue
        combos = part[dims].drop_duplicates().astype(str).sort_values(dims)
        for i, combo in enumerate(combos.itertuples(index=False, name=None)):
            out[(str(backend), *combo)] = i
    return out


def speedup_figure(summary: pd.DataFrame, topology: Mapping, palette: Mapping[str, str]) -> Figure:
    return line_figure(
        summary,
        topology,
        palette,
        y="speedup",
        y_low="speedup_ci_low",
        y_high="speedup_ci_high",
        title="Speedup over sequential (median time, 95% CI)",
        ylabel="speedup (× sequential)",
        ideal=lambda x: x,
        ideal_label="ideal (speedup = workers)",
        baseline_y=1.0,
        baseline_label="sequential baseline (1×)",
        log2_x=True,
        log_y_with_x=True,
        empty_message=_empty_reason(summary),
    )


def efficiency_figure(summary: pd.DataFrame, topology: Mapping, palette: Mapping[str, str]) -> Figure:
    return line_figure(
        summary,
        topology,
        palette,
        y="efficiency",
        y_low="efficiency_ci_low",
        y_high="efficiency_ci_high",
        title="Parallel efficiency = speedup / workers (95% CI)",
        ylabel="efficiency (speedup per worker)",
        ideal=lambda x: np.ones_like(x),
        ideal_label="ideal (efficiency = 1)",
        log2_x=True,
        empty_message=_empty_reason(summary),
    )


def memory_figure(summary: pd.DataFrame, topology: Mapping, palette: Mapping[str, str]) -> Figure:
    mem = summary.assign(peak_rss_mib=summary["median_peak_rss_bytes"].astype("float64") / 2**20)
    return line_figure(
        mem,
        topology,
        palette,
        y="peak_rss_mib",
        y_low=None,
        y_high=None,
        title="Peak memory of the whole process tree (median of repeats)",
        ylabel="peak RSS (MiB)",
        log2_x=True,
        empty_message="no memory measurements for parallel runs",
        # Backends of one family often use the same memory to the MiB (the lines coincide).
        dodge=MEMORY_DODGE,
        sequential_reference="sequential (reference: no workers)",
    )


def cpu_figure(summary: pd.DataFrame, topology: Mapping, palette: Mapping[str, str]) -> Figure:
    return line_figure(
        summary,
        topology,
        palette,
        y="cpu_per_wall",
        y_low=None,
        y_high=None,
        title="CPU time / wall time: how many cores were busy on average",
        ylabel="CPU s per wall s (user+sys)",
        ideal=lambda x: x,
        ideal_label="all workers busy (= workers)",
        log2_x=True,  # linear y: an idle IO backend uses ~0 CPU, which a log axis cannot show
        empty_message="no CPU-time measurements for parallel runs",
    )


#: The two fixed costs of an executor, each drawn in its own panel of the start-up figure.
COST_PANELS = (
    ("median_startup_s", "start-up: executor created before the timed runs"),
    ("median_teardown_s", "teardown: executor shut down after them"),
)


def startup_figure(summary: pd.DataFrame, topology: Mapping, palette: Mapping[str, str]) -> Figure:
    """Median executor start-up and teardown per backend, start method and worker count.

    Two panels per machine (start-up, teardown), one group of bars per backend (and start
    method, where a backend ran with several), one bar per worker count (labelled on top), so
    a backend whose fixed costs grow with workers (one process each) shows it at a glance.
    """
    title = "Executor start-up and teardown cost per backend and start method"
    columns = [c for c, _ in COST_PANELS]
    ok = summary[summary["n_ok"] > 0]
    if ok.empty or not np.isfinite(ok[columns].astype("float64").to_numpy()).any():
        return _message_figure(title, "no start-up or teardown times recorded")
    data = (
        ok.groupby(["machine", "backend", "start_method", "workers"], sort=True)[columns]
        .median()
        .reset_index()
    )
    data["machine"] = data["machine"].astype(str)
    data["backend"] = data["backend"].astype(str)
    methods = data.groupby("backend")["start_method"].nunique()
    data["group"] = [
        f"{b} ({m})" if methods[b] > 1 else b for b, m in zip(data["backend"], data["start_method"])
    ]
    machines = sorted(data["machine"].unique())
    n_groups = data.groupby("machine")["group"].nunique().max()
    panel_w = max(5.6, 1.0 + 0.55 * n_groups + 0.12 * data.groupby(["machine", "group"]).size().max())
    # Tick labels turn 30°, right-aligned at their bar: the longest reaches this far left and
    # down (8 pt), so the margins hold it ("joblib_multiprocessing (forkserver)" was cut off).
    label_in = max(len(g) for g in data["group"]) * 8 * CHAR_W_EM / 72
    first_tick_in = 0.6 / (n_groups + 0.2) * (panel_w - 0.75)
    left = max(0.75, label_in * math.cos(math.radians(30)) - first_tick_in + 0.15)
    bottom = max(1.25, label_in * math.sin(math.radians(30)) + 0.45)
    width, top, row_h = 2 * panel_w + 0.9 + (left - 0.75), 0.75, 2.9
    height = top + len(machines) * (row_h + bottom) - 0.2
    fig, axes = plt.subplots(len(machines), 2, figsize=(width, height), squeeze=False)
    fig.subplots_adjust(
        left=left / width,
        right=1 - 0.15 / width,
        top=1 - top / height,
        bottom=(bottom - 0.2) / height,
        wspace=max(0.75, left) / panel_w,
        hspace=bottom / row_h,
    )
    for m_index, machine in enumerate(machines):
        part = data[data["machine"].eq(machine)]
        for c_index, (column, panel_title) in enumerate(COST_PANELS):
            ax = axes[m_index][c_index]
            ax.set_title(panel_title + (f" — {machine}" if len(machines) > 1 else ""), y=1.01)
            _cost_bars(ax, part, column, palette)
            if c_index == 0:
                ax.set_ylabel("ms (median)")
    fig.suptitle(
        title + " (one bar per worker count, count on top)",
        x=0.3 / width,
        y=1 - 0.15 / height,
        ha="left",
        va="top",
        fontsize=12,
    )
    return fig


def _cost_bars(ax: plt.Axes, part: pd.DataFrame, column: str, palette: Mapping[str, str]) -> None:
    """One bar per (group, workers) in a single ``bar`` call; log scale when values span > 100x."""
    part = part[np.isfinite(part[column].astype("float64"))]
    ax.grid(axis="x", visible=False)
    if part.empty:
        ax.text(0.5, 0.5, "not recorded", ha="center", va="center", transform=ax.transAxes, color="#666666")
        ax.set_xticks([])
        return
    groups = sorted(part["group"].unique(), key=lambda g: (not g.startswith(SEQUENTIAL), g))
    n_bars = int(part.groupby("group").size().max())
    width = 0.8 / n_bars
    xs, heights, colours, labels = [], [], [], []
    for i, group in enumerate(groups):
        rows = part[part["group"].eq(group)].sort_values("workers")
        k = len(rows)
        shades = np.linspace(0.55, 1.0, k) if k > 1 else np.array([1.0])
        rgb = matplotlib.colors.to_rgb(palette.get(str(rows["backend"].iloc[0]), "#333333"))
        for j, (workers, value) in enumerate(zip(rows["workers"], rows[column].astype("float64"))):
            xs.append(i + (j - (k - 1) / 2) * width)
            heights.append(value * 1000.0)
            colours.append((*rgb, float(shades[j])))
            labels.append(str(int(workers)))
    heights_arr = np.asarray(heights)
    ax.bar(xs, heights_arr, width=width * 0.92, color=colours, edgecolor="white", linewidth=0.5)
    positive = heights_arr[heights_arr > 0]
    if positive.size and positive.max() / positive.min() > 100:
        ax.set_yscale("log")
    if n_bars <= 8:
        for x, h, text in zip(xs, heights_arr, labels):
            ax.annotate(
                text,
                (x, h),
                xytext=(0, 1),
                textcoords="offset points",
                ha="center",
                va="bottom",
                fontsize=6,
                color="#555555",
            )
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels(groups, rotation=30, ha="right")
    ax.set_xlim(-0.6, len(groups) - 0.4)
    ax.margins(y=0.12)  # room for the worker-count labels on top of the bars


def _empty_reason(summary: pd.DataFrame) -> str:
    if summary.empty or int(summary["n_ok"].sum()) == 0:
        return "no successful runs: every run failed (see the failures table)"
    if summary["backend"].eq(SEQUENTIAL).all():
        return "no parallel runs: only the sequential baseline was measured"
    if not np.isfinite(summary["speedup"].astype("float64")).any():
        return "no speedup: no successful sequential baseline for these workloads"
    return "no successful parallel runs"


# ----------------------------------------------------------------------------- task grain

GRAIN_VARIANTS = ("start_method", "pinning", "collect", "python", "gil_enabled")
GRAIN_KEY_COLUMNS = ("machine", "workload", "backend", *GRAIN_VARIANTS, "workers", "held_fixed")


def grain_workers(data: pd.DataFrame) -> dict[str, int]:
    """The one worker count per machine the grain figure shows: the one most grain series ran
    with (ties: the largest). The crossover table has every worker count."""
    counts = data.groupby(["machine", "workers"]).size().reset_index(name="n")
    counts = counts.sort_values(["machine", "n", "workers"], ascending=[True, False, False], kind="mergesort")
    return {str(m): int(w) for m, w in counts.groupby("machine").head(1)[["machine", "workers"]].to_numpy()}


def _fig_layout(n_panels: int, n_rows_fixed: int | None, legend_chars: int) -> tuple[Figure, Any, _Layout]:
    if n_rows_fixed:
        rows, cols = n_rows_fixed, max(1, math.ceil(n_panels / n_rows_fixed))
    else:
        rows, cols = _grid(n_panels, 1)
    layout = _Layout(rows, cols, legend_chars)
    fig, axes = _panel_grid(layout, rows * cols if n_rows_fixed else n_panels)
    layout.apply(fig)
    return fig, axes, layout


def _panel_grid(layout: _Layout, n_used: int) -> tuple[Figure, list[list[Any]]]:
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


def _finish(
    fig: Figure,
    axes: Any,
    layout: _Layout,
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


def grain_figure(summary: pd.DataFrame, topology: Mapping, palette: Mapping[str, str]) -> Figure:
    """Speedup against task grain (log x) per workload and worker count; x marks the crossover."""
    title = "Speedup vs task grain: where parallel starts to pay (95% CI)"
    data = grain_series(summary)
    if data.empty:
        return _message_figure(title, "no grain sweep: no configuration ran at two or more task grains")
    data = data.assign(machine=data["machine"].astype(str), workload=data["workload"].astype(str))
    data = data[data["workers"].eq(data["machine"].map(grain_workers(data)))]
    cross = crossover_grains(summary)
    cross = cross[cross["crossover"].eq("crosses")]
    cross_at = {
        tuple(str(v) for v in key): float(g)
        for *key, g in cross[[*GRAIN_KEY_COLUMNS, "crossover_grain"]].itertuples(index=False, name=None)
    }
    several_machines = data["machine"].nunique() > 1
    rows_keys = sorted({(m, int(w)) for m, w in zip(data["machine"], data["workers"])})
    col_keys = sorted({(w, str(k)) for w, k in zip(data["workload"], data["_size_key"])})
    variants = {
        str(b): [d for d in GRAIN_VARIANTS if part[d].nunique(dropna=False) > 1]
        for b, part in data.groupby("backend", sort=True)
    }
    labels = {
        _series_label(str(b), variants[str(b)], dict(zip(GRAIN_VARIANTS, rest)))
        for b, *rest in data[["backend", *GRAIN_VARIANTS]]
        .drop_duplicates()
        .itertuples(index=False, name=None)
    }
    guides = ["ideal (speedup = workers)", "sequential baseline (1×)", "crossover (speedup reaches 1)"]
    one_row = len(rows_keys) == 1
    n_panels = len(col_keys) * len(rows_keys)
    fig, axes, layout = _fig_layout(
        n_panels, None if one_row else len(rows_keys), max(len(t) for t in [*labels, *guides])
    )
    handles: dict[str, Any] = {}
    used: set = set()
    clipped: list[str] = []
    v_indices = _variant_indices(data, variants)
    by_panel = dict(iter(data.groupby(["machine", "workers", "workload", "_size_key"], sort=True)))
    n_keys = data.groupby(["machine", "workload"])["_size_key"].nunique().to_dict()
    for r_index, (machine, workers) in enumerate(rows_keys):
        for c_index, (workload, size_key) in enumerate(col_keys):
            p_index = r_index * len(col_keys) + c_index
            r, c = divmod(p_index, layout.cols) if one_row else (r_index, c_index)
            ax = axes[r][c]
            used.add((r, c))
            label = workload + (f" · {size_key}" if n_keys.get((machine, workload), 1) > 1 else "")
            label += f" · {workers} worker{'s' if workers != 1 else ''}"
            ax.set_title(label + (f" — {machine}" if several_machines else ""), y=1.01)
            ax.set_xscale("log")
            if c == 0:
                ax.set_ylabel("speedup (× sequential)")
            ax.set_xlabel("task grain (work per task, log)")
            part = by_panel.get((machine, workers, workload, size_key))
            if part is None:
                ax.text(
                    0.5, 0.5, "not run", ha="center", va="center", transform=ax.transAxes, color="#666666"
                )
                continue
            top = float(workers)
            band_top = 0.0
            bands = []
            for (backend, *rest), series in part.groupby(
                ["backend", *GRAIN_VARIANTS], sort=True, dropna=False
            ):
                backend = str(backend)
                values = dict(zip(GRAIN_VARIANTS, rest))
                dims = variants.get(backend, [])
                name = _series_label(backend, dims, values)
                v_index = v_indices.get((backend, *(str(values[d]) for d in dims)), 0)
                series = series.sort_values("grain")
                xs = series["grain"].astype("float64").to_numpy()
                ys = series["speedup"].astype("float64").to_numpy()
                lo = series["speedup_ci_low"].astype("float64").to_numpy()
                hi = series["speedup_ci_high"].astype("float64").to_numpy()
                colour = palette.get(backend, "#333333")
                has = np.isfinite(lo) & np.isfinite(hi)
                if has.sum() >= 2:
                    bands.append((_band_polygon(xs[has], lo[has], hi[has]), colour))
                    band_top = max(band_top, float(np.nanmax(hi[has])))
                line = _series_line(ax, xs, ys, v_index, colour, backend=str(backend))
                handles.setdefault(name, line)
                top = max(top, float(np.nanmax(ys)))
                where = (machine, workload, backend, *(str(values[d]) for d in GRAIN_VARIANTS), workers)
                hit = cross_at.get(tuple(str(v) for v in (*where, size_key)))
                if hit is not None:
                    ax.plot(
                        [hit],
                        [1.0],
                        marker="X",
                        markersize=9,
                        color=colour,
                        markeredgecolor="black",
                        markeredgewidth=0.6,
                        linestyle="none",
                        zorder=6,
                    )
                    handles.setdefault(
                        guides[2],
                        Line2D([], [], marker="X", color="#888888", markeredgecolor="black", ls="none"),
                    )
            _add_bands(ax, bands)
            ax.axhline(float(workers), color="#888888", linestyle="--", linewidth=1.0, zorder=1)
            handles.setdefault(guides[0], Line2D([], [], color="#888888", linestyle="--"))
            ax.axhline(
                1.0, color=palette.get(SEQUENTIAL, BACKEND_COLOURS[SEQUENTIAL]), linewidth=1.2, zorder=1
            )
            handles.setdefault(guides[1], Line2D([], [], color=BACKEND_COLOURS[SEQUENTIAL]))
            # An interval far above every measured speedup (few rounds: a t interval with 1-2
            # degrees of freedom) would flatten the panel: it runs off the top, and the caption says so.
            if band_top > top * 1.5:
                clipped.append(label)
            top = max(top, min(band_top, top * 1.5))
            ax.set_ylim(0, top * 1.12)
            ax.yaxis.set_major_locator(MaxNLocator(6, steps=[1, 2, 2.5, 5, 10]))
            grains = np.unique(part["grain"].astype("float64").to_numpy())
            ax.set_xlim(grains.min() / 1.6, grains.max() * 1.6)
            ax.xaxis.set_major_locator(
                FixedLocator(grains) if grains.size <= 8 else matplotlib.ticker.LogLocator()
            )
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:,.0f}" if v >= 1 else f"{v:g}"))
            ax.xaxis.set_minor_locator(NullLocator())
    ordered = dict(sorted(handles.items(), key=lambda kv: _legend_order(kv[0], palette)))
    _finish(fig, axes, layout, used, title, ordered, "backend")
    if clipped:
        figure_note(
            fig,
            "Some 95% intervals run past the top of the panel (" + ", ".join(clipped) + "): too few rounds "
            "to pin those speedups down (coresweep rounds=5 narrows them).",
            layout.left * 0.4,
            room_in=layout.bottom - 0.55,
        )
    return fig


# ----------------------------------------------------------------------------- best backend

#: Below this speedup the best parallel backend still loses to sequential: its cell is pale.
BEST_PALE_BELOW = 1.0


def _text_colour(hex_colour: str) -> str:
    r, g, b = matplotlib.colors.to_rgb(hex_colour)
    return "black" if 0.299 * r + 0.587 * g + 0.114 * b > 0.55 else "white"


#: The interpreter of a configuration (``python=`` sweeps): version and whether the GIL was on.
INTERPRETER_KEYS = ("python", "gil_enabled")


def interpreter_labels(data: pd.DataFrame) -> pd.Series:
    """Per row, its interpreter as a figure names it ("python=3.13, gil_enabled=False"), or ""
    where the data has one interpreter only (nothing to tell apart)."""
    keys = [k for k in INTERPRETER_KEYS if k in data.columns]
    if data.empty or not keys:
        return pd.Series("", index=data.index, dtype="object")
    varying = [k for k in keys if data[k].astype(str).nunique() > 1]
    if not varying:
        return pd.Series("", index=data.index, dtype="object")
    parts = [f"{k}=" + data[k].astype(str) for k in varying]
    label = parts[0]
    for part in parts[1:]:
        label = label + ", " + part
    return label.astype("object")


def best_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Fastest parallel configuration per (machine, workload[, size, grain], interpreter, workers),
    with a row label. Interpreters are never mixed: the fastest under 3.13t is not the fastest
    under 3.12, and each speedup is against the sequential run of its own interpreter."""
    par = summary[
        summary["backend"].ne(SEQUENTIAL)
        & (summary["n_ok"] > 0)
        & np.isfinite(summary["median_wall_s"].astype("float64"))
    ]
    if par.empty:
        return par.assign(row_label=pd.Series(dtype="object"))
    par = par.assign(_interpreter=interpreter_labels(par))
    cell = ["machine", "workload", "size", "grain", "_interpreter", "workers"]
    par = par.sort_values([*cell, "median_wall_s", "backend"], kind="mergesort")
    best = par.groupby(cell, sort=True, dropna=False).head(1)
    multi_size = best.groupby(["machine", "workload"])["size"].transform("nunique") > 1
    multi_grain = best.groupby(["machine", "workload"])["grain"].transform("nunique") > 1
    labels = best["workload"].astype(str)
    labels = labels + np.where(multi_size, " · size=" + best["size"].astype(str), "")
    labels = labels + np.where(multi_grain, " · grain=" + best["grain"].astype(str), "")
    interp = best["_interpreter"].astype(str)
    labels = labels + np.where(interp.ne(""), " · " + interp, "")
    return best.drop(columns="_interpreter").assign(row_label=labels).reset_index(drop=True)


def best_figure(summary: pd.DataFrame, topology: Mapping, palette: Mapping[str, str]) -> Figure:
    """Heatmap: rows = workload, columns = workers, cell = fastest backend (its colour) and speedup."""
    title = "Fastest backend per workload and worker count\n(cell: backend, speedup vs sequential)"
    best = best_table(summary)
    if best.empty:
        return _message_figure(title, "no successful parallel runs")
    machines = sorted(best["machine"].astype(str).unique())
    blocks = []
    for machine in machines:
        part = best[best["machine"].astype(str).eq(machine)]
        order = part.sort_values(
            ["workload", "size", "grain", *INTERPRETER_KEYS, "row_label"], kind="mergesort"
        )
        row_labels = list(dict.fromkeys(order["row_label"]))
        cols = sorted(int(w) for w in part["workers"].unique())
        blocks.append((machine, part, row_labels, cols))
    max_cols = max(len(b[3]) for b in blocks)
    label_w = max(len(lbl) for b in blocks for lbl in b[2]) * 0.075 + 0.4
    cell_w, cell_h = 1.35, 0.52
    width = label_w + max_cols * cell_w + 0.5
    top = 1.15  # two title lines, then the "workers" axis label above the cells
    width = max(width, 6.0)
    # Wrapped to the figure's width (about 14 characters per inch at 8 pt), never cut off.
    caption = textwrap.wrap(
        "Colour = the backend's colour in every figure; pale cell = even the fastest backend is slower "
        f"than sequential (speedup < {BEST_PALE_BELOW:g}).",
        width=int(width * 14),
    )
    bottom = 0.3 + 0.15 * len(caption)
    caption_room = bottom - 0.05
    height = top + sum(len(b[2]) * cell_h for b in blocks) + 0.95 * (len(blocks) - 1) + bottom
    fig = plt.figure(figsize=(width, height))
    y_top = height - top
    for machine, part, row_labels, cols in blocks:
        block_h = len(row_labels) * cell_h
        ax = fig.add_axes(
            (
                label_w / fig.get_figwidth(),
                (y_top - block_h) / height,
                len(cols) * cell_w / fig.get_figwidth(),
                block_h / height,
            )
        )
        y_top -= block_h + 0.95
        ax.set_xlim(0, len(cols))
        ax.set_ylim(len(row_labels), 0)
        ax.set_xticks(np.arange(len(cols)) + 0.5)
        ax.set_xticklabels([str(c) for c in cols])
        ax.set_yticks(np.arange(len(row_labels)) + 0.5)
        ax.set_yticklabels(row_labels)
        ax.tick_params(length=0)
        ax.grid(False)
        ax.set_xlabel("workers")
        ax.xaxis.set_label_position("top")
        ax.xaxis.tick_top()
        if len(machines) > 1:
            ax.set_title(machine, loc="left", y=1.0, pad=28, fontsize=10)
        for spine in ax.spines.values():
            spine.set_visible(False)
        cells = {(str(r["row_label"]), int(r["workers"])): r for _, r in part.iterrows()}
        for i, label in enumerate(row_labels):
            for j, w in enumerate(cols):
                r = cells.get((label, w))
                if r is None:
                    ax.add_patch(
                        matplotlib.patches.Rectangle((j, i), 1, 1, color="#f2f2f2", ec="white", lw=2)
                    )
                    ax.text(j + 0.5, i + 0.5, "–", ha="center", va="center", fontsize=8, color="#999999")
                    continue
                colour = palette.get(str(r["backend"]), "#333333")
                speed = float(r["speedup"])
                pale = np.isfinite(speed) and speed < BEST_PALE_BELOW
                fill = colour
                if pale:
                    rgb = np.array(matplotlib.colors.to_rgb(colour))
                    fill = matplotlib.colors.to_hex(1 - 0.3 * (1 - rgb))
                ax.add_patch(
                    matplotlib.patches.Rectangle((j, i), 1, 1, facecolor=fill, edgecolor="white", lw=2)
                )
                text = f"{r['backend']}\n" + (f"{speed:.2f}×" if np.isfinite(speed) else "no baseline")
                ax.text(
                    j + 0.5,
                    i + 0.5,
                    text,
                    ha="center",
                    va="center",
                    fontsize=7.5,
                    color="#333333" if pale else _text_colour(colour),
                    linespacing=1.15,
                )
    fig.suptitle(title, x=0.01, y=1 - 0.15 / height, ha="left", va="top", fontsize=11)
    figure_note(fig, "\n".join(caption), 0.01 * width, room_in=caption_room)
    return fig


# ----------------------------------------------------------------------------- problem size

#: At most this many worker counts get a line per backend in the size figure (smallest,
#: nearest the physical core count, largest), so a panel stays readable.
SIZE_MAX_WORKER_LINES = 3


def _pick_workers(workers: list[int], physical: Any) -> list[int]:
    if len(workers) <= SIZE_MAX_WORKER_LINES:
        return workers
    picks = {workers[0], workers[-1]}
    if isinstance(physical, (int, float)) and physical > 0:
        picks.add(min(workers, key=lambda w: (abs(w - physical), w)))
    for w in workers:
        if len(picks) >= SIZE_MAX_WORKER_LINES:
            break
        picks.add(w)
    return sorted(picks)


def size_data(summary: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(strong, weak): configurations run at >= 2 sizes at fixed workers, and weak-scaling ladders."""
    ok = summary[(summary["n_ok"] > 0) & np.isfinite(summary["median_wall_s"].astype("float64"))]
    ok = ok[ok["size"].astype("float64") > 0]
    keys = ["machine", "workload", "grain", "backend", "start_method", "pinning", "collect", "workers"]
    keys += [k for k in INTERPRETER_KEYS if k in ok.columns]
    n_sizes = ok.groupby(keys, sort=False, dropna=False)["size"].transform("nunique")
    strong = ok[n_sizes >= 2]
    return strong[strong["backend"].ne(SEQUENTIAL)], weak_scaling(summary)


def _strong_lines(
    strong: pd.DataFrame,
) -> dict[tuple[str, str, Any, str], list[tuple[Any, Any, np.ndarray, np.ndarray]]]:
    """Every strong-scaling line of the size figure in one grouping pass (one per line cost more
    than drawing it): per (machine, workload, grain, interpreter) panel, (backend, workers, sizes, fastest
    median wall per size) in backend, then worker order, sizes ascending."""
    if strong.empty:
        return {}
    data = strong.assign(machine=strong["machine"].astype(str), workload=strong["workload"].astype(str))
    line_keys = ["machine", "workload", "grain", "_interpreter", "backend", "workers"]
    mins = data.groupby([*line_keys, "size"], sort=True)["median_wall_s"].min().reset_index()
    if mins.empty:
        return {}
    ids = mins.groupby(line_keys, sort=True).ngroup().to_numpy()
    sizes = mins["size"].to_numpy(dtype="float64")
    walls = mins["median_wall_s"].to_numpy(dtype="float64")
    keys = [mins[k].to_numpy(dtype=object) for k in line_keys]
    out: dict[tuple[str, str, Any, str], list[tuple[Any, Any, np.ndarray, np.ndarray]]] = {}
    for pos in np.split(np.arange(len(mins)), np.flatnonzero(np.diff(ids)) + 1):
        machine, workload, grain, interp, backend, workers = (k[pos[0]] for k in keys)
        line = (backend, workers, sizes[pos], walls[pos])
        out.setdefault((machine, workload, grain, interp), []).append(line)
    return out


WEAK_LABEL = "weak: size ∝ workers (labels = workers)"


def size_figure(summary: pd.DataFrame, topology: Mapping, palette: Mapping[str, str]) -> Figure:
    """Wall time against problem size (log-log): strong scaling lines and weak-scaling ladders."""
    title = "Wall time vs problem size (median; log-log)"
    strong, weak = size_data(summary)
    if strong.empty and weak.empty:
        return _message_figure(title, "no configuration ran at two or more sizes")
    ok = summary[(summary["n_ok"] > 0) & np.isfinite(summary["median_wall_s"].astype("float64"))]
    # One panel per interpreter too (python= sweeps): times under 3.12 and 3.13t are not one line.
    interp_of = interpreter_labels(ok)
    ok = ok.assign(_interpreter=interp_of)
    strong = strong.assign(_interpreter=interp_of.reindex(strong.index).fillna(""))
    weak = weak.assign(_interpreter=interpreter_labels(weak) if interp_of.ne("").any() else "")
    seq = ok[ok["backend"].eq(SEQUENTIAL) & (ok["size"].astype("float64") > 0)]
    keys = ["machine", "workload", "grain", "_interpreter"]
    panels = sorted(
        {(str(m), str(w), g, str(i)) for m, w, g, i in strong[keys].itertuples(index=False, name=None)}
        | {(str(m), str(w), g, str(i)) for m, w, g, i in weak[keys].itertuples(index=False, name=None)}
    )
    several_grains = len({(m, w, i) for m, w, _, i in panels}) < len(panels)
    several_machines = len({m for m, _, _, _ in panels}) > 1
    guides = ["sequential", "ideal weak scaling (flat)", "∝ size (linear)"]
    worker_styles: dict[int, int] = {}
    backends = sorted(set(strong["backend"].astype(str)) | set(weak["backend"].astype(str)))
    fig, axes, layout = _fig_layout(
        len(panels), None, max(len(t) for t in [*backends, *guides, WEAK_LABEL]) + 4
    )
    handles: dict[str, Any] = {}
    used: set = set()
    strong_lines = _strong_lines(strong)
    for p_index, (machine, workload, grain, interp) in enumerate(panels):
        r, c = divmod(p_index, layout.cols)
        ax = axes[r][c]
        used.add((r, c))
        label = workload + (f" · grain={grain}" if several_grains else "")
        label += f" · {interp}" if interp else ""
        ax.set_title(label + (f" — {machine}" if several_machines else ""), y=1.01)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        if c == 0:
            ax.set_ylabel("median wall time (s)")
        ax.set_xlabel("size (tasks, log scale)")
        sizes: set[float] = set()
        physical = (topology.get(machine) or {}).get("physical_cores")
        s_part = seq[
            seq["machine"].astype(str).eq(machine)
            & seq["workload"].astype(str).eq(workload)
            & seq["grain"].eq(grain)
            & seq["_interpreter"].eq(interp)
        ]
        if s_part["size"].nunique() >= 1:
            by_size = s_part.groupby("size")["median_wall_s"].min().sort_index()
            xs = by_size.index.astype("float64").to_numpy()
            ys = by_size.to_numpy(dtype="float64")
            colour = palette.get(SEQUENTIAL, BACKEND_COLOURS[SEQUENTIAL])
            (line,) = ax.plot(xs, ys, color=colour, marker="o", markersize=4, linewidth=2.0, zorder=3)
            handles.setdefault(guides[0], line)
            sizes.update(xs)
            if xs.size >= 2:
                ref = ys[0] * xs / xs[0]
                ax.plot(xs, ref, color="#aaaaaa", linestyle=":", linewidth=1.2, zorder=1)
                handles.setdefault(guides[2], Line2D([], [], color="#aaaaaa", linestyle=":"))
        lines = strong_lines.get((machine, workload, grain, interp), [])
        keep = _pick_workers(sorted({int(w) for _, w, _, _ in lines}), physical)
        for backend, workers, xs, ys in lines:
            if int(workers) not in keep:
                continue
            style = worker_styles.setdefault(int(workers), len(worker_styles))
            ax.plot(
                xs,
                ys,
                color=palette.get(str(backend), "#333333"),
                linestyle=LINESTYLES[style % len(LINESTYLES)],
                marker=MARKERS[style % len(MARKERS)],
                markersize=4,
                linewidth=1.5,
                zorder=4,
            )
            handles.setdefault(str(backend), Line2D([], [], color=palette.get(str(backend), "#333333"), lw=2))
            sizes.update(xs)
        wk = weak[
            weak["machine"].astype(str).eq(machine)
            & weak["workload"].astype(str).eq(workload)
            & weak["grain"].eq(grain)
            & weak["_interpreter"].eq(interp)
        ]
        for (backend, *_rest), series in wk.groupby(
            ["backend", "start_method", "pinning", "collect"], sort=True
        ):
            series = series.sort_values("workers")
            xs = series["size"].astype("float64").to_numpy()
            ys = series["median_wall_s"].astype("float64").to_numpy()
            colour = palette.get(str(backend), "#333333")
            ax.plot(xs, ys, color=colour, linestyle="-.", marker="D", markersize=4.5, linewidth=1.5, zorder=5)
            for x, y, w in zip(xs, ys, series["workers"]):
                ax.annotate(
                    f"{int(w)}",
                    (x, y),
                    xytext=(0, 5),
                    textcoords="offset points",
                    ha="center",
                    fontsize=6.5,
                    color=colour,
                )
            ax.plot(
                [xs[0], xs[-1]], [ys[0], ys[0]], color=colour, linestyle=(0, (1, 2)), linewidth=1.0, zorder=2
            )
            handles.setdefault(str(backend), Line2D([], [], color=colour, lw=2))
            handles.setdefault(
                WEAK_LABEL,
                Line2D([], [], color="#666666", ls="-.", marker="D"),
            )
            handles.setdefault(guides[1], Line2D([], [], color="#666666", linestyle=(0, (1, 2))))
            sizes.update(xs)
        if sizes:
            lo, hi = min(sizes), max(sizes)
            ax.set_xlim(lo / 1.5, hi * 1.5)
            ticks = sorted(sizes)
            if len(ticks) > 8:
                ticks = [t for t in ticks if math.log2(t).is_integer()] or ticks[:: max(1, len(ticks) // 6)]
            ax.xaxis.set_major_locator(FixedLocator(ticks))
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
            ax.xaxis.set_minor_locator(NullLocator())
        ax.yaxis.set_major_locator(matplotlib.ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
        ax.yaxis.set_minor_locator(NullLocator())
    for w, style in sorted(worker_styles.items()):
        handles[f"{w} worker{'s' if w != 1 else ''}"] = Line2D(
            [],
            [],
            color="#666666",
            linestyle=LINESTYLES[style % len(LINESTYLES)],
            marker=MARKERS[style % len(MARKERS)],
        )
    _finish(fig, axes, layout, used, title, handles, "backend / workers")
    return fig


#: (name, caption, drawn even without data) in report order; drawers are looked up in FIGURES.
PLANS: tuple[tuple[str, str, bool], ...] = (
    (
        "speedup",
        "Speedup = median sequential time / median time, per backend; the dashed line is perfect "
        "scaling, vertical lines mark the core counts, the red region is oversubscribed. Both axes are "
        "logarithmic (base 2), so perfect scaling is a straight line.",
        True,
    ),
    (
        "efficiency",
        "Efficiency = speedup / workers; 1 means every worker fully used (worker axis in log2).",
        True,
    ),
    (
        "cpu",
        "CPU seconds (user+sys, all processes) per wall second: near 1 for GIL-bound threads, "
        "near the worker count when every worker computes.",
        False,
    ),
    ("memory", "Peak resident memory of the process tree: processes pay per worker.", False),
    (
        "startup",
        "Time to start the executor (pool, processes or threads) before the timed runs, and to shut "
        "it down after them (teardown), per backend and start method. Backends that create their "
        "threads or processes inside every run (thread, process) show almost nothing here: their "
        "start-up and teardown are part of each run's wall time.",
        False,
    ),
    (
        "best",
        "The fastest parallel backend per workload and worker count, in its colour, with its speedup over "
        "sequential; a pale cell means even the fastest one is slower than sequential.",
        False,
    ),
    (
        "grain",
        "Speedup against task grain (work per task) at one fixed worker count per machine (the one most "
        "grain series ran with; the crossover table covers all): at small grains per-task "
        "overhead (pickling, IPC, futures) eats the gain; × marks the crossover grain where speedup "
        "reaches 1 (interpolated in log-grain; marked only where the speedup's interval crosses 1 "
        "upward; see the crossover table and crossover.csv).",
        False,
    ),
    (
        "size",
        "Median wall time against problem size, log-log. Strong scaling: one line per backend and worker "
        f"count (at most {SIZE_MAX_WORKER_LINES} worker counts: smallest, nearest the physical cores, "
        "largest); the vertical gap to the sequential line is the speedup. Weak scaling (size grows with "
        "workers, dash-dot, labels = workers): a flat line is ideal.",
        False,
    ),
)
FIGURES: dict[str, Callable[..., Figure]] = {
    "speedup": speedup_figure,
    "efficiency": efficiency_figure,
    "cpu": cpu_figure,
    "memory": memory_figure,
    "startup": startup_figure,
    "best": best_figure,
    "grain": grain_figure,
    "size": size_figure,
}
#: Every figure a report can hold (a rebuild removes those it no longer draws).
FIGURE_NAMES: tuple[str, ...] = tuple(name for name, _, _ in PLANS)
#: Relative drawing cost per figure (measured on a 100k-row report), to hand out the big ones first.
DRAW_COST = {
    "speedup": 9,
    "efficiency": 9,
    "cpu": 8,
    "memory": 8,
    "size": 7,
    "grain": 7,
    "best": 5,
    "startup": 3,
}
#: Below this many panels per figure, forking costs more than it saves.
PARALLEL_MIN_PANELS = 6


def draw_one(
    name: str,
    caption: str,
    summary: pd.DataFrame,
    topology: Mapping,
    palette: Mapping[str, str],
    out_dir: Path,
) -> FigureFile:
    """Draw and save one figure (module-level so a worker process can run it)."""
    with paused_gc(), plt.rc_context(RC), sns.axes_style("whitegrid"):
        fig = FIGURES[name](summary, topology, palette)
        return save(fig, out_dir, name, caption)


#: Figures that show speedups (a borrowed baseline is named in their captions).
SPEEDUP_FIGURES = ("speedup", "efficiency", "best", "grain")


def _borrowed_caption(summary: pd.DataFrame, name: str) -> str:
    """" Speedups of … use the baseline of sweep X …" where a speedup borrowed one, else ""."""
    if name not in SPEEDUP_FIGURES or "baseline_sweep" not in summary or summary.empty:
        return ""
    lent = summary[summary["baseline_sweep"].fillna("").astype(str).ne("")]
    lent = lent[np.isfinite(lent["speedup"].astype("float64"))]
    if lent.empty:
        return ""
    names = ", ".join(sorted(lent["baseline_sweep"].astype(str).unique()))
    return (
        f" Baseline borrowed: {len(lent)} configuration{'s' if len(lent) != 1 else ''} ran in a sweep "
        f"without sequential runs; their speedups use the sequential runs of sweep {names} (same machine, "
        "measured at another time)."
    )


class FigureJobs:
    """Every figure of a report, drawn in worker processes when that pays, else in this one.

    A 10-panel figure takes about a second to lay out and save twice; on a multi-core machine
    the figures are drawn side by side (fork; POSIX only, and only from a single-threaded
    process, where fork is safe) while the caller writes the CSVs, and the caller joins in
    once it is free. Any trouble starting workers falls back on drawing here, so the report
    never depends on them.
    """

    def __init__(
        self,
        summary: pd.DataFrame,
        topology: Mapping[str, Mapping[str, Any]],
        out_dir: Path,
        processes: int | None = None,
    ) -> None:
        self.summary = summary
        self.topology = {k: dict(v) for k, v in topology.items()}
        self.out_dir = out_dir
        self.palette = backend_palette(summary["backend"].astype(str).unique() if len(summary) else [])
        #: (name, why) for figures left out although their kind of data exists (see skip_reason).
        self.skipped: list[tuple[str, str]] = []
        self.plans: list[tuple[str, str]] = []
        grain_workloads = _grain_workloads(summary) if len(summary) else set()
        for name, caption, always in PLANS:
            reason = skip_reason(summary, name, grain_workloads)
            if reason:
                self.skipped.append((name, reason))
            elif always or _has_values(summary, name):
                self.plans.append((name, caption + _borrowed_caption(summary, name)))
        # Plan indices, costliest first: workers (and, once free, the caller) take them in this
        # order from one shared counter, so all of them finish at about the same time.
        self._order = sorted(range(len(self.plans)), key=lambda i: -DRAW_COST.get(self.plans[i][0], 1))
        self._next: Any = None  # shared: position in _order of the next figure to take
        self._done: Any = None  # shared: 1 once figure i is saved
        self._workers: list[Any] = []
        if processes is None:
            processes = self._auto_processes()
        if processes > 1:
            self._start(processes)

    def _auto_processes(self) -> int:
        if len(self.summary) == 0 or not can_fork():
            return 1
        panels = self.summary.groupby(["machine", "workload", "size"]).ngroups
        return min(usable_cpus(), len(self.plans)) if panels >= PARALLEL_MIN_PANELS else 1

    def _start(self, processes: int) -> None:
        """Fork the workers: they see the plans and the summary without pickling anything."""
        import multiprocessing

        try:
            ctx = multiprocessing.get_context("fork")
            self._next = ctx.Value("i", 0)
            self._done = ctx.Array("b", len(self.plans))
            for _ in range(processes):
                worker = ctx.Process(target=self._work, args=(True,), daemon=True)
                worker.start()
                self._workers.append(worker)
        except (OSError, ValueError, RuntimeError, AssertionError):  # e.g. a daemonic caller
            pass  # whoever started works on; the caller draws the rest in result()

    def _take(self) -> int | None:
        """The next figure nobody has taken yet (plan index), or None when all are taken."""
        with self._next.get_lock():
            position = self._next.value
            if position >= len(self._order):
                return None
            self._next.value = position + 1
        return self._order[position]

    def _work(self, in_worker: bool = False) -> None:
        """Draw figures until none is left to take (in a worker, and in the caller once free).

        A worker skips a figure that fails (it stays not done, and the caller draws it again,
        where the error, if it is real, surfaces with its traceback).
        """
        while (i := self._take()) is not None:
            name, caption = self.plans[i]
            try:
                draw_one(name, caption, self.summary, self.topology, self.palette, self.out_dir)
            except Exception:
                if not in_worker:
                    raise
                continue
            self._done[i] = 1

    def planned(self) -> list[FigureFile]:
        """The figures the report will hold, in report order (their files may not be written yet)."""
        return [
            FigureFile(name, self.out_dir / f"{name}.png", self.out_dir / f"{name}.svg", caption)
            for name, caption in self.plans
        ]

    def draw_share(self) -> None:
        """The caller's share: draw figures from the shared queue until none is left to take
        (without waiting for the workers' last ones; ``result`` waits)."""
        if self._workers:
            self._work()

    def result(self) -> list[FigureFile]:
        """The saved figures in report order.

        The caller is free by now, so it takes figures from the same queue as the workers
        until none is left, then waits for them. A figure whose worker died or failed (not
        marked done) is drawn here, so the report never depends on the workers.
        """
        if self._workers:
            self._work()
            for worker in self._workers:
                worker.join()
        files: list[FigureFile] = []
        for i, (name, caption) in enumerate(self.plans):
            if self._workers and self._done[i]:
                files.append(
                    FigureFile(name, self.out_dir / f"{name}.png", self.out_dir / f"{name}.svg", caption)
                )
            else:
                files.append(draw_one(name, caption, self.summary, self.topology, self.palette, self.out_dir))
        return files


def draw_all(
    summary: pd.DataFrame,
    topology: Mapping[str, Mapping[str, Any]],
    out_dir: Path,
    processes: int | None = 1,
) -> list[FigureFile]:
    """Draw and save every figure; returns them in report order."""
    return FigureJobs(summary, topology, out_dir, processes).result()


def _has_values(summary: pd.DataFrame, name: str) -> bool:
    if summary.empty:
        return False
    if name == "best":
        return not best_table(summary).empty
    if name == "grain":
        return not grain_series(summary).empty
    if name == "size":
        ok = summary[(summary["n_ok"] > 0) & summary["backend"].ne(SEQUENTIAL)]
        keys = ["machine", "workload", "grain", "backend", "start_method", "pinning", "collect", "workers"]
        if (ok.groupby(keys, sort=False, dropna=False)["size"].nunique() >= 2).any():
            return True  # strong scaling over size: no need to look for weak-scaling ladders
        strong, weak = size_data(summary)
        return not (strong.empty and weak.empty)
    if name == "startup":
        return bool(np.isfinite(summary[[c for c, _ in COST_PANELS]].astype("float64").to_numpy()).any())
    column = {"cpu": "cpu_per_wall", "memory": "median_peak_rss_bytes"}[name]
    values = summary.loc[summary["backend"].ne(SEQUENTIAL), column].astype("float64")
    return bool(np.isfinite(values).any())
