"""The race figure: each configuration's speedup per round, where it was dropped, and the
confirmed intervals that the answer rests on."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator

from ..load import GROUP_KEYS
from ..stats import SEQUENTIAL
from .layout import CHAR_W_EM, FigureFile, save
from .style import LINESTYLES, RC, backend_palette

CAPTION = (
    "The race: each configuration's speedup over sequential in each round (against that round's "
    "sequential run); × marks the round after which it was dropped as clearly slower than the best "
    "(a paired t test on the per-round ratios, Holm over the survivors), + where it was cut as beyond "
    "the 3 confirmed. In the shaded rounds the survivors ran again from scratch: the bars on the right "
    "are their 95 % intervals from those rounds alone (green: the best set), which the answer reports."
)

#: The figure's file name (report/race.png, race.svg).
RACE_FIGURE = "race"

_B = GROUP_KEYS.index("backend")
_W = GROUP_KEYS.index("workers")


def _name(key: Sequence[Any]) -> str:
    return "sequential" if key[_B] == SEQUENTIAL else f"{key[_B]} {key[_W]}"


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'s' if count != 1 else ''}"


def _label(entry: tuple) -> str:
    s, low, high, key, _ = entry
    return f"{_name(key)}: {s:.2f}× [{low:.2f}, {high:.2f}]"


def _text_in(text: str, points: float = 8) -> float:
    """Width of ``text`` in inches at ``points``."""
    return len(text) * points * CHAR_W_EM / 72


def race_figure(
    record: Mapping[str, Any],
    confirm_values: Mapping[tuple, Mapping[int, float]],
    entries: Sequence[Mapping[str, Any]],
) -> Figure:
    """``record``: race.json; ``confirm_values``: per confirmed key, round -> log speedup of the
    confirmation rounds; ``entries``: choice.json's entries (the confirmed intervals)."""
    configs = [c for c in record["configurations"] if c["key"][_B] != SEQUENTIAL]
    race_rounds = [int(r) for r in record.get("rounds") or []]
    confirm_rounds = [int(r) for r in record["confirm"]["rounds"]]
    x_of = {r: i + 1 for i, r in enumerate(race_rounds + confirm_rounds)}
    drops = {tuple(d["key"]): d for d in record.get("dropped") or []}
    palette = backend_palette([str(c["key"][_B]) for c in configs])
    workers = sorted({int(c["key"][_W]) for c in configs})
    style_of = {w: LINESTYLES[i % len(LINESTYLES)] for i, w in enumerate(workers)}
    shown = _confirmed(entries)
    handles = _handles(palette, workers, style_of)
    n_x = len(x_of)
    answer_x = n_x + 1.2
    # Sizes in inches: the labels of the confirmed intervals right of the axes, the legend below.
    left, right = 0.75, 0.3 + max([_text_in(_label(e)) for e in shown] + [0.0])
    ax_w, ax_h, top, below = max(5.5, 0.42 * (n_x + 2)), 3.8, 0.45, 0.6
    width = left + ax_w + right
    col_in = max(_text_in(str(h.get_label())) for h in handles) + 0.6
    ncol = max(1, min(len(handles), int((width - 0.3) // col_in)))
    legend_h = 0.12 + math.ceil(len(handles) / ncol) * 0.2
    height = top + ax_h + below + legend_h
    fig, ax = plt.subplots(figsize=(width, height))
    fig.subplots_adjust(
        left=left / width,
        right=(left + ax_w) / width,
        top=1 - top / height,
        bottom=(below + legend_h) / height,
    )
    ys: list[float] = []
    for c in configs:
        key = tuple(c["key"])
        pts = sorted(
            (x_of[int(r)], math.exp(v))
            for r, v in (c.get("values") or {}).items()
            if v is not None and int(r) in x_of
        )
        pts += sorted((x_of[r], math.exp(v)) for r, v in confirm_values.get(key, {}).items() if r in x_of)
        if not pts:
            continue
        xs, vals = zip(*pts)
        ys += vals
        colour = palette[str(key[_B])]
        ax.plot(
            xs,
            vals,
            color=colour,
            linestyle=style_of[int(key[_W])],
            linewidth=1.3,
            marker="o",
            markersize=3,
            alpha=0.85,
        )
        drop = drops.get(key)
        if drop is not None:
            cut = str(drop.get("test", "")).startswith("not confirmed")
            at = race_rounds[min(len(race_rounds), int(drop["after_round"])) - 1] if race_rounds else None
            x = x_of.get(at, xs[-1])
            ax.plot(
                [x],
                [dict(pts).get(x, vals[-1])],
                marker="P" if cut else "X",
                markersize=9,
                color=colour,
                markeredgecolor="white",
                markeredgewidth=0.8,
                linestyle="none",
                zorder=5,
            )
    if confirm_rounds:
        lo = len(race_rounds) + 0.5
        ax.axvspan(lo, n_x + 0.5, color="#e8f0fa", zorder=0)
        ax.text(
            lo + 0.1,
            0.98,
            "confirmation (fresh rounds)",
            transform=ax.get_xaxis_transform(),
            va="top",
            fontsize=8,
            color="#365f91",
        )
    ys += [v for e in shown for v in e[1:3]]
    ax.axhline(1.0, color="#4d4d4d", linestyle="--", linewidth=1)
    ax.set_yscale("log", base=2)
    finite = [y for y in ys if y and np.isfinite(y) and y > 0]
    if finite:
        ax.set_ylim(min(min(finite), 1.0) / 1.15, max(max(finite), 1.0) * 1.15)
    ax.set_xlim(0.5, answer_x + 0.5)
    _answer_column(ax, shown, answer_x)
    ax.yaxis.set_major_locator(LogLocator(base=2, subs=(1.0, 1.5)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}×"))
    ax.yaxis.set_minor_locator(NullLocator())
    ticks = list(range(1, n_x + 1))
    ax.set_xticks([*ticks, answer_x])
    ax.set_xticklabels([*map(str, ticks), "answer"])
    ax.set_xlabel("round (race, then confirmation)")
    ax.set_ylabel("speedup over sequential (that round)")
    used = (record.get("spent_s") or 0) + (record["confirm"].get("seconds") or 0)
    ax.set_title(
        f"Race: {_n(len(configs), 'configuration')}, {_n(len(race_rounds), 'race round')}, "
        f"{_n(len(confirm_rounds), 'confirmation round')}; {used:.0f} of {record.get('budget_s'):g} s",
        loc="left",
        fontsize=10,
    )
    fig.legend(
        handles=handles,
        loc="lower left",
        bbox_to_anchor=(0.3 / width, 0.05 / height),
        ncol=ncol,
        fontsize=8,
        frameon=False,
    )
    return fig


def _confirmed(entries: Sequence[Mapping[str, Any]]) -> list[tuple]:
    """(speedup, low, high, key, in best set) of each confirmed parallel configuration, fastest first."""
    shown = []
    for e in entries:
        key = tuple(e["key"])
        s, low, high = e.get("speedup"), e.get("low"), e.get("high")
        if key[_B] == SEQUENTIAL or s is None or low is None or high is None:
            continue
        shown.append((float(s), float(low), float(high), key, bool(e.get("in_best_set"))))
    return sorted(shown, key=lambda t: -t[0])


def _handles(palette: Mapping[str, str], workers: Sequence[int], style_of: Mapping[int, str]) -> list[Line2D]:
    grey = "#555555"
    handles = [Line2D([], [], color=palette[b], linewidth=2, label=b) for b in sorted(palette)]
    handles += [
        Line2D([], [], color=grey, linestyle=style_of[w], label=f"{w} worker{'s' if w != 1 else ''}")
        for w in workers
    ]
    handles += [
        Line2D(
            [], [], color=grey, marker="X", linestyle="none", markersize=8, label="dropped (clearly slower)"
        ),
        Line2D(
            [], [], color=grey, marker="P", linestyle="none", markersize=8, label="cut (beyond 3 confirmed)"
        ),
    ]
    return handles


def _answer_column(ax: Any, shown: list[tuple], x: float) -> None:
    """The confirmed intervals side by side at ``x`` (fastest first), each labelled right of the
    axes; labels kept apart on the log axis so that two close speedups stay readable."""
    n = len(shown)
    low_y, high_y = ax.get_ylim()
    gap = math.log2(high_y / low_y) * 0.055
    placed: list[float] = []
    for entry in shown:  # fastest first: labels go downwards
        y = math.log2(entry[0])
        if placed and y > placed[-1] - gap:
            y = placed[-1] - gap
        placed.append(y)
    shift = max(0.0, math.log2(low_y) + gap / 2 - placed[-1]) if placed else 0.0
    for i, entry in enumerate(shown):
        s, low, high, _, best = entry
        colour = "#2e7d32" if best else "#777777"
        xi = x + (i - (n - 1) / 2) * 0.16
        ax.errorbar(
            [xi],
            [s],
            yerr=[[s - low], [high - s]],
            fmt="o",
            color=colour,
            capsize=3,
            markersize=4,
            linewidth=1.8,
        )
        ax.annotate(
            _label(entry),
            (xi, s),
            xytext=(1.02, 2 ** (placed[i] + shift)),
            textcoords=("axes fraction", "data"),
            va="center",
            fontsize=8,
            color=colour,
            annotation_clip=False,
            arrowprops={
                "arrowstyle": "-",
                "color": colour,
                "lw": 0.6,
                "shrinkA": 0,
                "shrinkB": 2,
                "relpos": (0, 0.5),
            },
        )


def race_figures(races: Sequence[Any], out_dir: Path) -> list[FigureFile]:
    """One race figure per race (``choice.RaceReport``), saved in ``out_dir``."""
    import seaborn as sns

    out = []
    for i, race in enumerate(races):
        with plt.rc_context(RC), sns.axes_style("whitegrid"):
            fig = race_figure(race.record, race.confirm_values, race.choice.get("entries") or [])
            name = RACE_FIGURE if i == 0 else f"{RACE_FIGURE}_{i + 1}"
            out.append(save(fig, Path(out_dir), name, CAPTION))
    return out
