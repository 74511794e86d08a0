"""The best-backend heatmap: the fastest parallel backend per workload and worker count."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ..stats import SEQUENTIAL
from .layout import figure_note, message_figure
from .panels import INTERPRETER_KEYS, interpreter_labels

#: Below this speedup the best parallel backend still loses to sequential: its cell is pale.
BEST_PALE_BELOW = 1.0


def _text_colour(hex_colour: str) -> str:
    r, g, b = matplotlib.colors.to_rgb(hex_colour)
    return "black" if 0.299 * r + 0.587 * g + 0.114 * b > 0.55 else "white"


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
        return message_figure(title, "no successful parallel runs")
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
