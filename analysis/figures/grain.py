"""The grain figure: speedup against task grain, with the crossover where parallel starts to pay."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedLocator, FuncFormatter, MaxNLocator, NullLocator

from ..stats import SEQUENTIAL, crossover_grains, grain_series
from .layout import fig_layout, figure_note, finish, message_figure
from .panels import variant_indices
from .style import BACKEND_COLOURS, add_bands, band_polygon, legend_order, series_label, series_line

GRAIN_VARIANTS = ("start_method", "pinning", "collect", "python", "gil_enabled")
GRAIN_KEY_COLUMNS = ("machine", "workload", "backend", *GRAIN_VARIANTS, "workers", "held_fixed")


def grain_workers(data: pd.DataFrame) -> dict[str, int]:
    """The one worker count per machine the grain figure shows: the one most grain series ran
    with (ties: the largest). The crossover table has every worker count."""
    counts = data.groupby(["machine", "workers"]).size().reset_index(name="n")
    counts = counts.sort_values(["machine", "n", "workers"], ascending=[True, False, False], kind="mergesort")
    return {str(m): int(w) for m, w in counts.groupby("machine").head(1)[["machine", "workers"]].to_numpy()}


def grain_figure(summary: pd.DataFrame, topology: Mapping, palette: Mapping[str, str]) -> Figure:
    """Speedup against task grain (log x) per workload and worker count; x marks the crossover."""
    title = "Speedup vs task grain: where parallel starts to pay (95% CI)"
    data = grain_series(summary)
    if data.empty:
        return message_figure(title, "no grain sweep: no configuration ran at two or more task grains")
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
        series_label(str(b), variants[str(b)], dict(zip(GRAIN_VARIANTS, rest)))
        for b, *rest in data[["backend", *GRAIN_VARIANTS]]
        .drop_duplicates()
        .itertuples(index=False, name=None)
    }
    guides = ["ideal (speedup = workers)", "sequential baseline (1×)", "crossover (speedup reaches 1)"]
    one_row = len(rows_keys) == 1
    n_panels = len(col_keys) * len(rows_keys)
    fig, axes, layout = fig_layout(
        n_panels, None if one_row else len(rows_keys), max(len(t) for t in [*labels, *guides])
    )
    handles: dict[str, Any] = {}
    used: set = set()
    clipped: list[str] = []
    v_indices = variant_indices(data, variants)
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
                name = series_label(backend, dims, values)
                v_index = v_indices.get((backend, *(str(values[d]) for d in dims)), 0)
                series = series.sort_values("grain")
                xs = series["grain"].astype("float64").to_numpy()
                ys = series["speedup"].astype("float64").to_numpy()
                lo = series["speedup_ci_low"].astype("float64").to_numpy()
                hi = series["speedup_ci_high"].astype("float64").to_numpy()
                colour = palette.get(backend, "#333333")
                has = np.isfinite(lo) & np.isfinite(hi)
                if has.sum() >= 2:
                    bands.append((band_polygon(xs[has], lo[has], hi[has]), colour))
                    band_top = max(band_top, float(np.nanmax(hi[has])))
                line = series_line(ax, xs, ys, v_index, colour, backend=str(backend))
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
            add_bands(ax, bands)
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
    ordered = dict(sorted(handles.items(), key=lambda kv: legend_order(kv[0], palette)))
    finish(fig, axes, layout, used, title, ordered, "backend")
    if clipped:
        figure_note(
            fig,
            "Some 95% intervals run past the top of the panel (" + ", ".join(clipped) + "): too few rounds "
            "to pin those speedups down (coresweep rounds=5 narrows them).",
            layout.left * 0.4,
            room_in=layout.bottom - 0.55,
        )
    return fig
