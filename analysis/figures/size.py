"""The size figure: wall time against problem size, strong-scaling lines and weak-scaling ladders."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

from ..stats import SEQUENTIAL, weak_scaling
from .layout import fig_layout, finish, message_figure
from .panels import INTERPRETER_KEYS, interpreter_labels
from .style import BACKEND_COLOURS, LINESTYLES, MARKERS

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
        return message_figure(title, "no configuration ran at two or more sizes")
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
    fig, axes, layout = fig_layout(
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
    finish(fig, axes, layout, used, title, handles, "backend / workers")
    return fig
