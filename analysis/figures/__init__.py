"""Figures: speedup and efficiency against workers, plus start-up, memory and CPU use.

Every worker axis carries the machine's physical and logical core counts and shades the
oversubscribed region, because "how many workers" only means something against the cores
that exist. A backend keeps one colour in every figure of a report (``backend_palette``), so a
reader learns the colours once. Figures are drawn with matplotlib under a seaborn style, from
the summary table (whose intervals are ``stats.summarize``'s), not from seaborn's own estimator.

One module per figure family, and the layout they share:

- ``style``: colours, markers, line styles, matplotlib's rc;
- ``layout``: panel grids with fixed margins, captions (``figure_note``), saving;
- ``worker_axis``: the worker axis and the core counts marked on it;
- ``panels``: which panels and series a figure against workers gets;
- ``lines``: speedup, efficiency, CPU and memory against workers;
- ``startup``, ``grain``, ``best``, ``size``: one figure each;
- ``patterns``: the workload patterns' figures (issue 16);
- ``jobs``: which figures a report gets, and drawing them (in worker processes when that pays).
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # before any pyplot import below: reports are drawn without a display

from .best import BEST_PALE_BELOW, best_figure, best_table  # noqa: E402
from .grain import GRAIN_KEY_COLUMNS, GRAIN_VARIANTS, grain_figure, grain_workers  # noqa: E402
from .jobs import (  # noqa: E402
    DRAW_COST,
    FIGURE_NAMES,
    FIGURES,
    PARALLEL_MIN_PANELS,
    PLANS,
    SPEEDUP_FIGURES,
    FigureJobs,
    draw_all,
    draw_one,
)
from .layout import CHAR_W_EM, MAX_COLS, MAX_PNG_PX, PANEL_H, PANEL_W, FigureFile, figure_note, save  # noqa: E402
from .lines import (  # noqa: E402
    COINCIDE,
    MEMORY_DODGE,
    cpu_figure,
    efficiency_figure,
    line_figure,
    memory_figure,
    speedup_figure,
)
from .panels import INTERPRETER_KEYS, LINE_FIGURE_COLUMNS, VARIANT_DIMS, interpreter_labels, skip_reason  # noqa: E402
from .size import SIZE_MAX_WORKER_LINES, WEAK_LABEL, size_data, size_figure  # noqa: E402
from .startup import COST_PANELS, startup_figure  # noqa: E402
from .style import (  # noqa: E402
    BACKEND_COLOURS,
    BACKEND_MARKERS,
    DPI,
    EXTRA_COLOURS,
    LINESTYLES,
    MARKERS,
    RC,
    backend_palette,
)
from .worker_axis import CORE_LABEL_ROW_IN  # noqa: E402

__all__ = [
    "BACKEND_COLOURS",
    "BACKEND_MARKERS",
    "BEST_PALE_BELOW",
    "CHAR_W_EM",
    "COINCIDE",
    "CORE_LABEL_ROW_IN",
    "COST_PANELS",
    "DPI",
    "DRAW_COST",
    "EXTRA_COLOURS",
    "FIGURES",
    "FIGURE_NAMES",
    "FigureFile",
    "FigureJobs",
    "GRAIN_KEY_COLUMNS",
    "GRAIN_VARIANTS",
    "INTERPRETER_KEYS",
    "LINESTYLES",
    "LINE_FIGURE_COLUMNS",
    "MARKERS",
    "MAX_COLS",
    "MAX_PNG_PX",
    "MEMORY_DODGE",
    "PANEL_H",
    "PANEL_W",
    "PARALLEL_MIN_PANELS",
    "PLANS",
    "RC",
    "SIZE_MAX_WORKER_LINES",
    "SPEEDUP_FIGURES",
    "VARIANT_DIMS",
    "WEAK_LABEL",
    "backend_palette",
    "best_figure",
    "best_table",
    "cpu_figure",
    "draw_all",
    "draw_one",
    "efficiency_figure",
    "figure_note",
    "grain_figure",
    "grain_workers",
    "interpreter_labels",
    "line_figure",
    "memory_figure",
    "save",
    "size_data",
    "size_figure",
    "skip_reason",
    "speedup_figure",
    "startup_figure",
]
