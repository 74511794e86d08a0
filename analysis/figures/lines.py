"""Metrics against workers, one line per backend (and variant): speedup, efficiency, CPU and memory.

Intervals are bands, drawn from the summary's interval columns (``stats.summarize``'s), not from
seaborn's own estimator.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Callable

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FixedLocator, FuncFormatter, MaxNLocator, NullLocator

from ..stats import SEQUENTIAL
from .layout import PANEL_H, Layout, figure_note, grid_shape, message_figure, panel_grid
from .panels import (
    PANEL_METHODS,
    VARIANT_DIMS,
    grain_sweep_workloads,
    line_data,
    line_variants,
    series_positions,
    variant_indices,
    worker_panels,
)
from .style import BACKEND_COLOURS, add_bands, band_polygon, legend_order, series_label, series_line
from .worker_axis import (
    CORE_LABEL_ROW_IN,
    core_label_rows,
    core_markers,
    log2_ticks,
    ratio_tick,
    worker_axis,
)

#: Sideways step between neighbouring series of the memory figure, in octaves of workers.
MEMORY_DODGE = 0.035
#: Series whose values differ by at most this share are named as coinciding (memory figure).
COINCIDE = 0.02


@dataclass(frozen=True)
class LineSpec:
    """What a figure against workers draws: its column, interval columns and guide lines."""

    y: str
    y_low: str | None
    y_high: str | None
    title: str
    ylabel: str
    ideal: Callable[[np.ndarray], np.ndarray] | None = None
    ideal_label: str = ""
    baseline_y: float | None = None
    baseline_label: str = ""
    log2_x: bool | None = None
    log_y_with_x: bool = False
    empty_message: str = "no parallel runs: nothing to plot against workers"
    dodge: float = 0.0
    sequential_reference: str = ""


OVERSUBSCRIBED = "oversubscribed (workers > logical CPUs)"


@dataclass
class _Series:
    """The series of one figure, worked out once: their labels, styles, offsets and values."""

    data: pd.DataFrame
    variants: dict[str, list[str]]
    dims: list[str]  # the columns that tell series apart (VARIANT_DIMS, and size where it varies)
    labels: set[str]
    order: list[str]  # labels in legend order
    offset_of: dict[str, float]  # label -> sideways offset (dodge)
    v_indices: dict[tuple, int]
    positions: dict[tuple, list[tuple[tuple, np.ndarray]]]  # (machine, panel) -> series
    values: dict[str, np.ndarray]  # y, y_low, y_high as arrays
    workers: np.ndarray

    @property
    def max_offset(self) -> float:
        return max(self.offset_of.values(), default=0.0)


def _figure_series(data: pd.DataFrame, spec: LineSpec, palette: Mapping[str, str]) -> _Series:
    variants = line_variants(data)
    dims = [d for d in VARIANT_DIMS if d in data.columns]
    dims += ["size"] if any("size" in v for v in variants.values()) else []
    labels = {
        series_label(str(b), variants.get(str(b), []), dict(zip(dims, rest)))
        for b, *rest in data[["backend", *dims]].drop_duplicates().itertuples(index=False, name=None)
    }
    # A series keeps its sideways offset in every panel: its place among all the figure's series.
    order = sorted(labels, key=lambda label: legend_order(label, palette))
    offset_of = {label: (i - (len(order) - 1) / 2) * spec.dodge for i, label in enumerate(order)}
    columns = (spec.y, spec.y_low, spec.y_high)
    return _Series(
        data=data,
        variants=variants,
        dims=dims,
        labels=labels,
        order=order,
        offset_of=offset_of,
        v_indices=variant_indices(data, variants),
        positions=series_positions(data, ["machine", "_panel", "backend", *dims]),
        values={c: data[c].to_numpy(dtype="float64", na_value=np.nan) for c in columns if c},
        workers=data["workers"].astype("float64").to_numpy(),
    )


def _draw_series(
    ax: plt.Axes,
    series: _Series,
    panel_series: list[tuple[tuple, np.ndarray]],
    spec: LineSpec,
    palette: Mapping[str, str],
    log2_x: bool,
    logical: float | None,
    handles: dict[str, Any],
) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Every line of a panel, with its band (or error bars at a single point); returns the points
    drawn where they are dodged, to name the series that coincide."""
    y, y_low, y_high = spec.y, spec.y_low, spec.y_high
    bands: list[tuple[np.ndarray, str]] = []
    panel_points: list[tuple[str, np.ndarray, np.ndarray]] = []
    for (backend, *rest), pos in panel_series:
        backend = str(backend)
        dims = series.variants.get(backend, [])
        values = dict(zip(series.dims, rest))
        label = series_label(backend, dims, values)
        v_index = series.v_indices.get((backend, *(str(values[d]) for d in dims)), 0)
        xs = series.workers[pos]
        ys = series.values[y][pos]
        colour = palette.get(backend, "#333333")
        if y_low and y_high:
            lo = series.values[y_low][pos]
            hi = series.values[y_high][pos]
            has = np.isfinite(lo) & np.isfinite(hi)
            if has.sum() >= 2:
                bands.append((band_polygon(xs[has], lo[has], hi[has]), colour))
            elif has.any():
                yerr = np.vstack([np.clip(ys - lo, 0, None), np.clip(hi - ys, 0, None)])[:, has]
                ax.errorbar(
                    xs[has], ys[has], yerr=yerr, fmt="none", ecolor=colour, elinewidth=1.0, capsize=3,
                    zorder=3,
                )  # fmt: skip
        marker_index = None
        if spec.dodge:
            panel_points.append((label, xs, ys))
            shift = np.full(xs.shape, series.offset_of[label])
            if logical:  # points within the CPUs are nudged leftwards only: never into the band
                shift = np.where(xs <= logical, shift - series.max_offset, shift)
            xs = xs * 2.0**shift if log2_x else xs + shift
            marker_index = series.order.index(label)
        line = series_line(
            ax, xs, ys, v_index, colour, label=label, marker_index=marker_index, backend=backend
        )
        handles.setdefault(label, line)
    add_bands(ax, bands)
    return panel_points


def _y_axis(
    ax: plt.Axes,
    series: _Series,
    in_panel: np.ndarray,
    spec: LineSpec,
    log2_x: bool,
    x_max: float,
    reference_top: float,
) -> None:
    """The panel's y range: every value and interval, the ideal line where it stays in reach, the
    baseline and the sequential reference; log2 with ratio ticks where x is log2 too (``log_y_with_x``)."""
    values_of, ideal, baseline_y = series.values, spec.ideal, spec.baseline_y
    both = np.concatenate([values_of[spec.y_high if spec.y_high else spec.y][in_panel],
                           values_of[spec.y][in_panel]]).astype("float64")
    both = both[~np.isnan(both)]  # np.nanmax of nothing but NaN warns on the user's terminal
    top = float(both.max()) if both.size else np.nan
    if ideal is not None and not log2_x:
        top = max(top, float(ideal(np.array([x_max]))[0]))
    if ideal is not None and log2_x:
        top = max(top, min(float(ideal(np.array([x_max]))[0]), top * 1.5))
    if baseline_y is not None:
        top = max(top, baseline_y)
    if np.isfinite(reference_top):
        top = max(top, reference_top)
    if log2_x and spec.log_y_with_x:
        # Log-log: the ideal line stays straight and 0.5x and 2x look equally far from 1x.
        values = np.concatenate([v[in_panel] for v in values_of.values()])
        values = values[np.isfinite(values) & (values > 0)]
        bottom = min(float(values.min()) if values.size else 1.0, baseline_y or 1.0) / 1.3
        top = max(float(values.max()) if values.size else 1.0, baseline_y or 1.0) * 1.3
        if ideal is not None:
            top = max(top, min(float(ideal(np.array([x_max]))[0]), top * 4))
        ax.set_yscale("log", base=2)
        ax.set_ylim(bottom, top)
        ax.yaxis.set_major_locator(FixedLocator(log2_ticks(bottom, top)))
        ax.yaxis.set_major_formatter(FuncFormatter(ratio_tick))
        ax.yaxis.set_minor_locator(NullLocator())
    else:
        ax.set_ylim(0, top * 1.12 if np.isfinite(top) and top > 0 else 1.0)
        ax.yaxis.set_major_locator(MaxNLocator(6, steps=[1, 2, 2.5, 5, 10]))


def _draw_panel(
    ax: plt.Axes,
    series: _Series,
    panel_series: list[tuple[tuple, np.ndarray]],
    spec: LineSpec,
    palette: Mapping[str, str],
    topo: Mapping[str, Any],
    log2_x: bool,
    references: list[float],
    handles: dict[str, Any],
) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """One panel with data: its lines and bands, the guides (sequential reference, ideal,
    baseline), the worker axis with the core counts, and the y range. Returns the points drawn
    where they are dodged (``_coinciding`` names the series among them that coincide)."""
    logical = topo.get("logical_cores")
    logical = float(logical) if isinstance(logical, (int, float)) and logical > 0 else None
    w_all = series.workers
    in_panel = np.concatenate([pos for _, pos in panel_series])
    x_max = float(w_all[in_panel].max())
    right = max(x_max, logical or 0.0)
    panel_points = _draw_series(ax, series, panel_series, spec, palette, log2_x, logical, handles)
    reference_top = np.nan
    seq_colour = palette.get(SEQUENTIAL, BACKEND_COLOURS[SEQUENTIAL])
    for value in references:
        ax.axhline(value, color=seq_colour, linestyle=":", linewidth=1.4, zorder=3)
        handles.setdefault(spec.sequential_reference, Line2D([], [], color=seq_colour, linestyle=":"))
        reference_top = np.nanmax([reference_top, value])
    ticks = np.unique(np.concatenate([w_all[in_panel], [logical] if logical else []]))
    worker_axis(ax, ticks, log2_x)
    lim = (min(ticks) / 1.4, right * 1.4) if log2_x else (0.0, right + max(0.6, right * 0.08))
    ax.set_xlim(*lim)
    if spec.ideal is not None:
        xs_ideal = np.geomspace(max(lim[0], 0.5), lim[1], 48)
        ax.plot(xs_ideal, spec.ideal(xs_ideal), color="#888888", linestyle="--", linewidth=1.0, zorder=1)
        handles.setdefault(spec.ideal_label, Line2D([], [], color="#888888", linestyle="--"))
    if spec.baseline_y is not None:
        ax.axhline(spec.baseline_y, color=seq_colour, linewidth=1.2, alpha=0.8, zorder=1)
        handles.setdefault(spec.baseline_label, Line2D([], [], color=seq_colour))
    rows_drawn = core_markers(ax, topo, lim[1])
    if rows_drawn:  # the panel title goes above the core-count labels
        ax.title.set_y(1.01 + rows_drawn * CORE_LABEL_ROW_IN / PANEL_H)
    if logical and x_max > logical:
        handles.setdefault(OVERSUBSCRIBED, Patch(color="#d62728", alpha=0.15))
    _y_axis(ax, series, in_panel, spec, log2_x, x_max, reference_top)
    return panel_points


def _empty_panel(ax: plt.Axes, workers: np.ndarray, log2_x: bool) -> None:
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
    worker_axis(ax, workers, log2_x)


def _legend(fig: Figure, layout: Layout, handles: Mapping[str, Any], palette: Mapping[str, str]) -> None:
    """Backends first (alphabetical), then the guides, right of the panels."""
    if not handles:
        return
    width, height = layout.size
    ordered = sorted(handles.items(), key=lambda kv: legend_order(kv[0], palette))
    fig.legend(
        [h for _, h in ordered],
        [k for k, _ in ordered],
        loc="upper left",
        bbox_to_anchor=((width - layout.legend_w) / width, 1 - layout.top / height),
        frameon=False,
        title="backend",
        alignment="left",
    )


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
    spec = LineSpec(
        y, y_low, y_high, title, ylabel, ideal, ideal_label, baseline_y, baseline_label,
        log2_x, log_y_with_x, empty_message, dodge, sequential_reference,
    )  # fmt: skip
    data = line_data(summary, y)
    if data.empty:
        return message_figure(title, empty_message)
    plan = worker_panels(data, grain_sweep_workloads(summary))
    note = "Not shown: " + "; ".join(plan.left_out) + "." if plan.left_out else ""
    if dodge:
        nudge = "Points are nudged sideways per backend so that equal values stay visible."
        note = f"{note} {nudge}".strip()
    data = plan.data
    if data.empty:
        return message_figure(title, note or empty_message)
    machines = sorted(data["machine"].unique())
    panels = plan.titles
    n_rows, n_cols = grid_shape(len(panels), len(machines))
    series = _figure_series(data, spec, palette)
    guides = [ideal_label, baseline_label, OVERSUBSCRIBED, sequential_reference]
    references = _sequential_values(summary, y) if sequential_reference else None
    coinciding: dict[str, list[str]] = {}  # "a = b" -> the panels where their lines coincide
    label_rows = core_label_rows(topology.get(m) for m in machines)
    layout = Layout(
        n_rows,
        n_cols,
        max(len(t) for t in [*series.labels, *guides]),
        bottom=0.9 if note else 0.6,
        top=0.75 + CORE_LABEL_ROW_IN * label_rows,
        hspace=0.85 + CORE_LABEL_ROW_IN * label_rows,
    )
    fig, axes = panel_grid(layout, len(panels) if len(machines) == 1 else n_rows * n_cols)
    layout.apply(fig)
    if log2_x is None:
        log2_x = series.workers.max() > 16
    handles: dict[str, Any] = {}
    used = set()
    for m_index, machine in enumerate(machines):
        topo = topology.get(machine, {}) or {}
        for p_index, panel_title in enumerate(panels):
            r, c = (m_index, p_index) if len(machines) > 1 else divmod(p_index, n_cols)
            ax = axes[r][c]
            used.add((r, c))
            # An explicit y skips matplotlib's per-draw title placement (it measures every tick label).
            ax.set_title(panel_title + (f" — {machine}" if len(machines) > 1 else ""), y=1.01)
            if c == 0:
                ax.set_ylabel(ylabel)
            if r == n_rows - 1 or (len(machines) == 1 and p_index + n_cols >= len(panels)):
                ax.set_xlabel("workers")
            panel_series = series.positions.get((machine, p_index))
            if not panel_series:
                _empty_panel(ax, series.workers, log2_x)
                continue
            in_panel = np.concatenate([pos for _, pos in panel_series])
            refs = [] if references is None else _panel_references(references, machine, data.iloc[in_panel])
            points = _draw_panel(ax, series, panel_series, spec, palette, topo, log2_x, refs, handles)
            for group in _coinciding(points):
                coinciding.setdefault(" = ".join(group), []).append(panel_title)
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
    _legend(fig, layout, handles, palette)
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
    """The sequential values that belong to a panel: same machine, workload, size, grain and
    pattern method."""
    keys = [k for k in ("workload", "size", "grain", *PANEL_METHODS) if k in seq.columns and k in panel_rows]
    wanted = set(panel_rows[keys].astype(str).itertuples(index=False, name=None))
    mine = seq[seq["machine"].eq(machine)]
    if mine.empty or not keys:
        return []
    match = [tuple(row) in wanted for row in mine[keys].astype(str).itertuples(index=False, name=None)]
    return sorted(set(mine.loc[match, "_reference_y"].astype("float64")))


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


def _empty_reason(summary: pd.DataFrame) -> str:
    if summary.empty or int(summary["n_ok"].sum()) == 0:
        return "no successful runs: every run failed (see the failures table)"
    if summary["backend"].eq(SEQUENTIAL).all():
        return "no parallel runs: only the sequential baseline was measured"
    if not np.isfinite(summary["speedup"].astype("float64")).any():
        return "no speedup: no successful sequential baseline for these workloads"
    return "no successful parallel runs"
