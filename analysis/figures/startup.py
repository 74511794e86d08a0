"""The start-up figure: executor start-up and teardown cost per backend and worker count."""

from __future__ import annotations

import math
from collections.abc import Mapping

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator

from ..stats import SEQUENTIAL
from .layout import CHAR_W_EM, message_figure

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
        return message_figure(title, "no start-up or teardown times recorded")
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
        # Plain numbers (0.01, 1, 100 ms) rather than 10^k in mathtext, which also took a
        # quarter of the report's drawing time for this figure; no minor ticks.
        ax.yaxis.set_major_locator(LogLocator(base=10))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
        ax.yaxis.set_minor_locator(NullLocator())
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
