"""The worker axis: ticks at the worker counts run, and the machine's core counts marked on it.

"How many workers" only means something against the cores that exist: every worker axis carries
the physical and logical core counts and shades the oversubscribed region beyond them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator


def worker_axis(ax: plt.Axes, workers: np.ndarray, log2: bool) -> None:
    ticks = sorted({int(w) for w in workers if w > 0})
    if log2:
        ax.set_xscale("log", base=2)
        ax.xaxis.set_minor_locator(NullLocator())
    if len(ticks) > 8:  # keep powers of two and the ends so tick labels never collide
        ticks = sorted({t for t in ticks if t & (t - 1) == 0} | {ticks[0], ticks[-1]})
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))


def ratio_tick(value: float, _pos: Any = None) -> str:
    """A tick of a log2 ratio axis: 2^-3 reads 1/8, 2^-10 1/1024 (not 0.000976562): short enough
    for the fixed left margin."""
    if 0 < value < 0.3 and abs(1 / value - round(1 / value)) < 1e-6:
        return f"1/{1 / value:.0f}"
    return f"{value:g}"


def log2_ticks(low: float, high: float, most: int = 8) -> list[float]:
    """Ticks for a log2 axis: powers of two and the halfway 1.5 x 2^k, fewer when the range is wide."""
    powers = range(math.floor(math.log2(low)) - 1, math.ceil(math.log2(high)) + 2)
    ticks = [m * 2.0**k for k in powers for m in (1.0, 1.5) if low <= m * 2.0**k <= high]
    if len(ticks) > most:
        ticks = [t for t in ticks if math.log2(t).is_integer()]
    step = max(1, math.ceil(len(ticks) / most))
    return sorted(ticks)[::step]


def core_marks(topo: Mapping[str, Any] | None) -> dict[float, list[str]]:
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


def core_label_rows(topologies: Iterable[Mapping[str, Any] | None]) -> int:
    """Rows of core-count labels above the panels: neighbouring labels alternate between two
    rows (they may sit close together on the axis), so one mark needs one row, more need two."""
    return max((min(len(core_marks(t)), 2) for t in topologies), default=0)


def core_markers(ax: plt.Axes, topo: Mapping[str, Any] | None, x_max: float) -> int:
    """Dashed lines at physical/logical (and usable) core counts; shade workers > logical.

    The labels ("2 physical = logical") sit above the panel's top edge, outside the data, so
    no line or band can run under them. Returns the rows of labels drawn (0, 1 or 2).
    """
    marks = core_marks(topo)
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
