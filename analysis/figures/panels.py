"""Which panels and which series (lines) a figure against workers gets, and what it leaves out."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..stats import SEQUENTIAL, VARIANT_DIMS, grain_series


def panel_label(workload: Any, size: Any, several_sizes: bool) -> str:
    return f"{workload} · size={size}" if several_sizes else str(workload)


def series_positions(data: pd.DataFrame, keys: list[str]) -> dict[tuple, list[tuple[tuple, np.ndarray]]]:
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


def line_variants(data: pd.DataFrame) -> dict[str, list[str]]:
    """Per backend, the VARIANT_DIMS whose value differs between its rows *within one panel*
    (they name its lines). A value that only differs between panels (say each workload has its
    own grain) already shows in the panel title and would only double the legend.

    Where one panel holds several sizes (``_panel``: see ``worker_panels``), size names lines
    too, but only if it differs at one worker count: in a weak-scaling ladder each worker count
    has its own size and the points still form one line per backend.
    """
    out: dict[str, list[str]] = {}
    panel = ["machine", "_panel"] if "_panel" in data.columns else ["machine", "workload", "size"]
    panel = [c for c in panel if c in data.columns]
    for backend, part in data.groupby("backend", sort=True):
        varying = set()
        for _, cell in part.groupby(panel, sort=False) if panel else [(None, part)]:
            varying |= {d for d in VARIANT_DIMS if d in cell and cell[d].nunique(dropna=False) > 1}
        dims = [d for d in VARIANT_DIMS if d in varying]
        if "_panel" in part.columns:
            sizes = part.groupby([*panel, *dims, "workers"], sort=False, dropna=False)["size"].nunique()
            if (sizes > 1).any():
                dims.append("size")
        out[str(backend)] = dims
    return out


@dataclass(frozen=True)
class Panels:
    """Which panels a figure against workers gets, and what it leaves out (and why)."""

    data: pd.DataFrame  # the rows drawn, with ``_panel``: the index of their panel
    titles: list[str]
    left_out: list[str]  # one sentence per workload not drawn


def worker_panels(data: pd.DataFrame, grain_workloads: Iterable[str] = ()) -> Panels:
    """Panels = workload x size, unless that leaves a panel with a single worker count.

    A grain sweep (the size follows the grain) or a weak-scaling sweep (the size follows the
    workers) makes every (workload, size) panel hold one worker count: a column of single
    points. Then the workload gets one panel and size becomes part of the series (see
    ``line_variants``). A workload run at one worker count only has nothing to draw against
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
                title = panel_label(workload, size, len(sizes) > 1)
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
    data, titles = _split_by_method(data[data["_panel"] >= 0], titles)
    return Panels(data, titles, left_out)


#: The pattern workloads' methods (issue 16): a panel holds one method of each, so its lines
#: compare backends under one share, init or state method (input size and init time, which
#: vary within it, name the lines: see ``line_variants``).
PANEL_METHODS = ("share", "init", "state")


def _split_by_method(data: pd.DataFrame, titles: list[str]) -> tuple[pd.DataFrame, list[str]]:
    """Each panel whose rows ran several pattern methods becomes one panel per method (in sorted
    order, titled "shared_input · share=memmap"); the others keep their place and title."""
    methods = [d for d in PANEL_METHODS if d in data.columns]
    if not methods or data.empty:
        return data, titles
    panel = data["_panel"].to_numpy()
    if not any(data[d].nunique(dropna=False) > 1 for d in methods):
        return data, titles  # no pattern workload ran several methods: nothing to split
    text = {d: data[d].astype(str).to_numpy() for d in methods}
    new_index = np.full(len(data), -1)
    new_titles: list[str] = []
    for p, title in enumerate(titles):
        mask = panel == p
        varying = [d for d in methods if len(set(text[d][mask])) > 1]
        if not varying:
            new_index[mask] = len(new_titles)
            new_titles.append(title)
            continue
        for combo in sorted({tuple(text[d][i] for d in varying) for i in np.flatnonzero(mask)}):
            sub = mask.copy()
            for d, value in zip(varying, combo):
                sub &= text[d] == value
            new_index[sub] = len(new_titles)
            new_titles.append(title + " · " + ", ".join(f"{d}={v}" for d, v in zip(varying, combo)))
    return data.assign(_panel=new_index), new_titles


def line_data(summary: pd.DataFrame, y: str) -> pd.DataFrame:
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
    data was run at one worker count, and the grain figure shows it (``worker_panels``)."""
    column = LINE_FIGURE_COLUMNS.get(name)
    if column is None or summary.empty:
        return ""
    data = line_data(summary, column)
    if data.empty:
        return ""
    per_workload = data.groupby("workload")["workers"].nunique()
    if (per_workload >= 2).all():  # the common case, decided without planning the panels
        return ""
    plan = worker_panels(data, grain_sweep_workloads(summary) if grain_workloads is None else grain_workloads)
    return "; ".join(plan.left_out) if plan.data.empty else ""


def grain_sweep_workloads(summary: pd.DataFrame) -> set[str]:
    if "speedup" not in summary.columns:
        return set()
    return set(grain_series(summary)["workload"].astype(str))


def variant_indices(data: pd.DataFrame, variants: Mapping[str, list[str]]) -> dict[tuple, int]:
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
