"""The report as text: numbers with their intervals, verdict lines and the Markdown summary.

The HTML page (``report_html``) shows the same tables; both take them from here, so
summary.md and index.html never disagree.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .load import GROUP_KEYS, PATTERN_DEFAULTS
from .physics import FLAG
from .stats import (
    DESIGN_MODERATED,
    DESIGN_ROUNDS,
    DESIGN_RUNS,
    GRAIN_SERIES_KEYS,
    SEQUENTIAL,
    TIME_MODEL,
    VARIANT_DIMS,
    best_per_workload,
)
from .stats.blockmodel import BlockModel
from .stats.compare import (
    MARGIN,
    TARGET_DIFFERENCE,
    Candidate,
    Comparison,
    compare_with_best,
    rounds_to_separate,
)

if TYPE_CHECKING:
    from .machines import MachinesCompared

#: The physics flags, one line each (an empty file when there are none), for a terminal to print.
WARNINGS_FILE = "warnings.txt"


@dataclass
class Extras:
    """The report's derived tables beyond the summary: noise, the classic claims, grain, weak scaling."""

    noise: list[str] = field(default_factory=list)
    #: One line per configuration whose speedup the cores cannot give (``physics.physics_lines``).
    physics: list[str] = field(default_factory=list)
    folklore: pd.DataFrame = field(default_factory=pd.DataFrame)
    crossover: pd.DataFrame = field(default_factory=pd.DataFrame)
    weak: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: The summary table as text (header, rows), formatted once for both summary.md and the HTML.
    summary_table: tuple[list[str], list[list[str]]] | None = None
    #: One line per interrupted sweep (``interrupted.json``): what ran and what did not.
    partial: list[str] = field(default_factory=list)
    #: How noisy the machine was during the sweep (``noise.machine_noise_line``), at the top.
    machine_noise: str = ""
    #: A report of one custom function leads with its verdict (``lead_answer``).
    answer: str = ""
    #: A race's answer (``choice.sentence``), one per race folder: the first thing on the page.
    choices: list[str] = field(default_factory=list)
    #: Two machines or more: the "Machines compared" section (``machines.compare_machines``).
    machines: MachinesCompared | None = None


def _finite(value: Any) -> float | None:
    """``value`` as a finite float, or None (shown as "–")."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if np.isfinite(v) else None


def fmt_seconds(value: Any) -> str:
    """A duration with a unit a person reads at a glance (s, ms, µs)."""
    v = _finite(value)
    if v is None:
        return "–"
    if abs(v) >= 1:
        return f"{v:.3g} s" if abs(v) < 100 else f"{v:.0f} s"
    if abs(v) >= 1e-3:
        return f"{v * 1e3:.3g} ms"
    return f"{v * 1e6:.3g} µs"


def fmt_num(value: Any, digits: int = 3) -> str:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return "–" if value is None else str(value)
    if not np.isfinite(v):
        return "–"
    return f"{v:.{digits}g}"


def fmt_ratio_ci(value: Any, low: Any, high: Any, suffix: str = "×") -> str:
    text = fmt_num(value) + suffix
    if text.startswith("–"):
        return "–"
    if np.isfinite(float(low)) and np.isfinite(float(high)):
        text += f" [{fmt_num(low)}, {fmt_num(high)}]"
    return text


#: Beside a flagged speedup wherever it is shown (the full text is in the physics checks).
FLAG_MARK = "⚠ flagged"


def is_flagged(row: Mapping[str, Any]) -> bool:
    """Whether a summary row carries a physics flag (``physics_flag`` not empty)."""
    value = row.get("physics_flag") if hasattr(row, "get") else None
    return isinstance(value, str) and bool(value.strip())


def speedup_text(row: Mapping[str, Any]) -> str:
    text = fmt_ratio_ci(row["speedup"], row["speedup_ci_low"], row["speedup_ci_high"])
    borrowed = borrowed_from(row)
    if borrowed and np.isfinite(float(row["speedup"])):
        text += f" (baseline borrowed from sweep {borrowed})"
    return f"{text} {FLAG_MARK}" if is_flagged(row) else text


def design_short(summary: pd.DataFrame) -> str:
    """The interval designs of the summary table, counted (one phrase)."""
    if "interval_design" not in summary:
        return "none"
    counts = summary["interval_design"].astype(str).replace("", "no interval").value_counts(sort=False)
    return "; ".join(f"{design}: {n} configurations" for design, n in sorted(counts.items()))


def interval_sentence(summary: pd.DataFrame) -> str:
    """In words: which design produced the report's intervals (``interval_design``), and what it misses."""
    design = summary["interval_design"] if "interval_design" in summary else pd.Series(dtype=object)
    pooled = design.isin([DESIGN_MODERATED, TIME_MODEL]) if len(design) else pd.Series(dtype=bool)
    n_pooled = int(pooled.sum())
    n_times = int(design.eq(TIME_MODEL).sum()) if len(design) else 0
    design = design.where(~pooled, DESIGN_ROUNDS) if len(design) else design
    rounds = summary.loc[design.eq(DESIGN_ROUNDS), "rounds"] if len(design) else pd.Series(dtype="int64")
    n_rounds, n_runs = int(design.eq(DESIGN_ROUNDS).sum()), int(design.eq(DESIGN_RUNS).sum())
    parts = [
        "Speedup = median sequential time / median time of the configuration, the sequential runs "
        "taken from the same sweep (with rounds: per round, against that round's sequential runs, "
        "then the geometric mean over the rounds)."
    ]
    if n_rounds:
        lo, hi = int(rounds.min()), int(rounds.max())
        count = f"{lo}" if lo == hi else f"{lo}–{hi}"
        who = "Every configuration" if not n_runs else f"{n_rounds} configurations"
        parts.append(
            f"{who} ran in {count} rounds: its 95% interval is a t interval over the rounds (rounds − 1 "
            "degrees of freedom) on the log of each round's median time, and for speedup on the log of "
            "each round's sequential median over the configuration's median in that same round, so the "
            "machine's drift between jobs and between rounds is inside the interval."
        )
    if n_pooled:
        who = "every one of them" if n_pooled == n_rounds else f"{n_pooled} of them"
        if n_times == n_pooled:
            parts.append(
                f"For {who} the noise is estimated from all configurations of the workload together "
                "(a configuration × round model on the per-round log times, the sequential baseline "
                "one of the configurations, with moderated per-configuration variances, Smyth 2004): "
                "a speedup's interval holds the baseline's noise and the configuration's, each "
                "estimated with the degrees of freedom of the whole workload instead of rounds − 1, "
                "so it is narrower at the same coverage."
            )
        else:
            parts.append(
                f"For {who} the noise is estimated from all configurations of the workload together "
                "(a configuration × round model on the per-round log speedups, with moderated "
                "per-configuration variances, Smyth 2004): the interval holds the rounds' shared effect "
                "and has more degrees of freedom than rounds − 1, so it is narrower at the same coverage."
            )
    if n_runs:
        who = "Every configuration" if not n_rounds else f"{n_runs} configurations"
        parts.append(
            f"{who} ran in one round: its 95% interval is a bootstrap over the repeats and ignores the "
            "machine's drift between jobs (5–10 % over seconds on a shared VM), so it is too narrow to "
            "compare configurations timed at different moments; a sweep with rounds=3 or more "
            "(e.g. coresweep rounds=5) gives intervals that include it."
        )
    if not (n_rounds or n_runs):
        parts.append("No configuration has an interval (each needs 2 ok runs, or ok runs in 2 rounds).")
    return " ".join(parts)


def fmt_bytes(value: Any) -> str:
    v = _finite(value)
    if v is None:
        return "–"
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if v >= scale:
            return f"{v / scale:.3g} {unit}"
    return f"{v:.0f} B"


def config_name(row: Mapping[str, Any], vary: Mapping[str, list[str]]) -> str:
    """ "process_pool with 4 workers (spawn)" — only the dimensions that vary are named, and a
    pattern dimension only where the row's workload uses it (not "share=-", "input_mb=0")."""
    extras = [
        f"{d}={row[d]}"
        for d in vary.get(str(row["backend"]), [])
        if d in row and (d not in PATTERN_DEFAULTS or str(row[d]) != str(PATTERN_DEFAULTS[d]))
    ]
    workers = int(row["workers"])
    text = str(row["backend"])
    if row["backend"] != SEQUENTIAL:
        text += f" with {workers} worker{'s' if workers != 1 else ''}"
    if extras:
        text += " (" + ", ".join(extras) + ")"
    return text


def varying_per_backend(frame: pd.DataFrame) -> dict[str, list[str]]:
    """Per backend, the dimensions that tell its configurations apart (they name it in verdicts)."""
    return {
        str(backend): [d for d in VARIANT_DIMS if d in part and part[d].nunique(dropna=False) > 1]
        for backend, part in frame.groupby("backend", sort=True)
    }


def _varying(frame: pd.DataFrame, dims: Iterable[str] = VARIANT_DIMS) -> list[str]:
    """Dimensions worth naming: those that differ between parallel configurations.

    (The sequential baseline always has start_method "none", which is no choice to report.)
    """
    if "backend" in frame and frame["backend"].ne(SEQUENTIAL).any():
        frame = frame[frame["backend"].ne(SEQUENTIAL)]
    return [d for d in dims if d in frame and frame[d].nunique(dropna=False) > 1]


def borrowed_line(summary: pd.DataFrame) -> str:
    """One sentence naming every sweep whose baseline another sweep's speedups borrowed, or ""."""
    if "baseline_sweep" not in summary:
        return ""
    lent = summary["baseline_sweep"].fillna("").astype(str)
    lent = lent[lent.ne("") & np.isfinite(summary["speedup"].astype("float64"))]
    if lent.empty:
        return ""
    names = ", ".join(sorted(lent.unique()))
    return (
        f"{len(lent)} configuration{'s' if len(lent) != 1 else ''} ran in a sweep without its own "
        f"sequential runs: their speedups use the baseline of sweep {names} (same machine, interpreter, "
        "workload, size and grain, measured at another time), marked “baseline borrowed” wherever shown."
    )


def verdict_lines(
    summary: pd.DataFrame,
    model: BlockModel | None = None,
    busy: Callable[[Any, Any], str | None] | None = None,
) -> list[str]:
    """One sentence per (machine, workload, size): the configuration to use, or why none can be named.

    ``model`` (the block model of the same rows) pairs comparisons by block; without it they
    are tested from the intervals alone (``analysis.stats.compare``). ``busy(machine, workload)``
    gives the note a verdict reached on a busy machine ends with (``analysis.busy.busy_note``).
    """
    best = best_per_workload(summary)
    if best.empty:
        return ["No configuration has a successful run: see the failures table."]
    several_sizes = summary.groupby(["machine", "workload"])["size"].nunique().max() > 1
    lines = []
    for _, row in best.iterrows():
        what = f"{row['workload']}" + (f" (size={row['size']})" if several_sizes else "")
        where = f"{what} on {row['machine']}"
        group = summary[
            summary["machine"].eq(row["machine"])
            & summary["workload"].eq(row["workload"])
            & summary["size"].eq(row["size"])
            & (summary["n_ok"] > 0)
        ]
        # Named by what tells configurations of this workload apart (another workload's grain is
        # no part of their names).
        vary = varying_per_backend(group)
        parallel = group[group["backend"].ne(SEQUENTIAL)]
        if parallel.empty:
            lines.append(f"{where}: only sequential runs succeeded ({fmt_seconds(row['median_wall_s'])}).")
            continue
        if not np.isfinite(parallel["speedup"].astype("float64")).any():
            fastest = parallel.sort_values("median_wall_s", kind="mergesort").iloc[0]
            at = fmt_seconds(fastest["median_wall_s"])
            lines.append(
                f"{where}: fastest is {config_name(fastest, vary)} at {at} "
                "(no successful sequential run, so no speedup)."
            )
            continue
        note = busy(row["machine"], row["workload"]) if busy is not None else None
        sentence = _best_sentence(row, group, vary, model)
        lines.append(f"{where}: {sentence}" + (f"; {note}" if note else "") + ".")
    borrowed = borrowed_line(summary)
    return lines + ([borrowed] if borrowed else [])


#: Workloads whose tasks wait more than they compute: more workers than CPUs can pay.
OVERLAP_WORKLOADS = ("io_sleep", "io_file")


def _interval(row: Mapping[str, Any]) -> tuple[float, float]:
    """A speedup's 95% interval; the point value for both ends where there is none."""
    low, high = float(row["speedup_ci_low"]), float(row["speedup_ci_high"])
    if not (np.isfinite(low) and np.isfinite(high)):
        low = high = float(row["speedup"])
    return low, high


def _key(row: Mapping[str, Any]) -> tuple:
    return tuple(row[k] for k in GROUP_KEYS) if all(k in row for k in GROUP_KEYS) else (id(row),)


def _clearly_faster(row: Mapping[str, Any]) -> bool:
    """The speedup's interval lies wholly above 1x (a point value without interval never does)."""
    low = float(row["speedup_ci_low"])
    return bool(np.isfinite(low) and low > 1.0)


def _above_cpus(row: Mapping[str, Any]) -> bool:
    usable = float(row.get("usable_cpus", np.nan)) if hasattr(row, "get") else np.nan
    return bool(np.isfinite(usable) and int(row["workers"]) > usable)


def _relation_to_one(row: Mapping[str, Any]) -> str:
    """What the interval says about 1x, in words ("" when it is wholly above)."""
    low, high = _interval(row)
    if not (np.isfinite(low) and np.isfinite(high)):
        return ""
    if high < 1.0:
        return "slower than sequential (the interval lies below 1×)"
    if low <= 1.0:
        return "not clearly faster than sequential (the interval includes 1×)"
    return ""


@dataclass
class Choice:
    """What a verdict names: one configuration (``best``), or two it cannot tell apart."""

    best: Any = None  # the summary row named, or None
    undecided: list[Any] = field(default_factory=list)  # rows, fastest estimate first
    reason: str = ""
    comparison: Comparison | None = None
    rows: dict = field(default_factory=dict)  # key -> summary row of every candidate
    over_cpus: list[Any] = field(default_factory=list)  # faster estimates left out: above the CPUs
    flagged: list[Any] = field(default_factory=list)  # faster estimates left out: physics flags
    not_faster: list[Any] = field(default_factory=list)  # in the best set, not clearly > sequential
    rounds_needed: int | None = None
    rounds_now: int | None = None
    #: Every undecided member's ratio to the fastest lies within 5 % (its interval): the data
    #: resolve a 5 % difference, only the 3 % margin is out of reach.
    within_target: bool = False


def simplest_best(
    group: pd.DataFrame,
    fastest: Mapping[str, Any] | None = None,
    vary: Mapping[str, list[str]] | None = None,
    model: BlockModel | None = None,
) -> Choice:
    """The configuration a verdict names, by multiple comparisons with the best (``stats.compare``).

    Candidates: parallel configurations with a speedup, without a physics flag, and (except on
    IO work, where waits overlap) within the usable CPUs. The best set is every candidate not
    clearly slower than the fastest by more than ``MARGIN`` (paired test). Only members clearly
    faster than sequential can be named. One such member: it is the best. Several, all shown
    within the margin of each other: the fewest workers (the data show the extra workers buy
    nothing). Several that cannot be told apart at this noise: undecided, never the fewest
    workers by default. ``fastest`` is unused (kept for callers of the old signature).
    """
    del fastest
    vary = vary or {}
    parallel = group[group["backend"].ne(SEQUENTIAL) & np.isfinite(group["speedup"].astype("float64"))]
    flagged = np.array([is_flagged(r) for _, r in parallel.iterrows()], dtype=bool)
    io = parallel["workload"].astype(str).isin(OVERLAP_WORKLOADS).to_numpy()
    over = np.array([_above_cpus(r) for _, r in parallel.iterrows()], dtype=bool) & ~io
    eligible = parallel[~flagged & ~over]
    choice = Choice()
    if eligible.empty:
        return choice
    rows = {_key(r): r for _, r in eligible.iterrows()}
    choice.rows = rows
    candidates = []
    for key, r in rows.items():
        low, high = float(r["speedup_ci_low"]), float(r["speedup_ci_high"])
        candidates.append(
            Candidate(
                key,
                math.log(float(r["speedup"])),
                math.log(low) if np.isfinite(low) and low > 0 else np.nan,
                math.log(high) if np.isfinite(high) and high > 0 else np.nan,
                int(r["workers"]),
            )
        )
    comparison = compare_with_best(candidates, model)
    choice.comparison = comparison
    top_estimate = float(rows[comparison.order[0]]["speedup"])
    choice.over_cpus = [
        r
        for (_, r), o, f in zip(parallel.iterrows(), over, flagged)
        if o and not f and float(r["speedup"]) > top_estimate
    ]
    choice.flagged = [
        r for (_, r), f in zip(parallel.iterrows(), flagged) if f and float(r["speedup"]) > top_estimate
    ]
    named = [rows[k] for k in comparison.best_set if _clearly_faster(rows[k])]
    choice.not_faster = [rows[k] for k in comparison.best_set if not _clearly_faster(rows[k])]
    if not named:
        return choice
    if len(named) == 1:
        choice.best = named[0]
        return choice
    if comparison.decided:
        pick = sorted(named, key=lambda r: (int(r["workers"]), -float(r["speedup"])))[0]
        choice.best = pick
        top = rows[comparison.order[0]]
        if _key(pick) != _key(top):
            choice.reason = (
                f"the fewest workers among configurations shown within {MARGIN:.0%} of the fastest "
                f"estimate, {config_name(top, vary)} ({fmt_num(top['speedup'])}×), by a paired test"
            )
        return choice
    choice.undecided = named
    first = candidates[[c.key for c in candidates].index(_key(named[0]))]
    second = candidates[[c.key for c in candidates].index(_key(named[1]))]
    rounds = int(named[0].get("rounds", 0) or 0) if hasattr(named[0], "get") else 0
    choice.rounds_needed, choice.rounds_now = rounds_to_separate(first, second, model, rounds)
    target = math.log1p(TARGET_DIFFERENCE)
    bounds = [comparison.ratio_to_best.get(_key(r), (np.nan,) * 3) for r in named[1:]]
    choice.within_target = all(
        np.isfinite(lo) and np.isfinite(hi) and math.log(lo) > -target and math.log(hi) < target
        for _, lo, hi in bounds
    )
    return choice


def _rounds_to_decide_text(choice: Choice) -> str:
    """"; about N more rounds would separate a 5 % difference", or, where the rounds run already
    would have, that the differences are smaller than that."""
    needed, now = choice.rounds_needed, choice.rounds_now
    if needed is None or not now:
        return ""
    if needed > now:
        extra = needed - now
        plural = "s" if extra != 1 else ""
        return f"; about {extra} more round{plural} would separate a 5 % difference"
    if choice.within_target:
        return ""
    return "; these rounds would have separated a 5 % difference between the first two, so theirs is smaller"


def _ratio_text(choice: Choice, row: Mapping[str, Any], vary: Mapping[str, list[str]]) -> str:
    ratio, low, high = choice.comparison.ratio_to_best.get(_key(row), (np.nan, np.nan, np.nan))
    return f"{config_name(row, vary)} {fmt_ratio_ci(ratio, low, high)} of it"


def _best_sentence(
    fastest: Mapping[str, Any],
    group: pd.DataFrame,
    vary: Mapping[str, list[str]],
    model: BlockModel | None = None,
) -> str:
    choice = simplest_best(group, fastest, vary, model)
    comparison = choice.comparison
    over = ""
    if choice.over_cpus:
        o = choice.over_cpus[0]
        usable = float(o.get("usable_cpus", np.nan))
        over = (
            f"; {config_name(o, vary)} measured {fmt_num(o['speedup'])}× but oversubscribes the "
            f"{usable:g} usable CPUs (never named on work that needs a core per worker)"
        )
    if choice.flagged:
        f = choice.flagged[0]
        over += f"; {config_name(f, vary)} measured {fmt_num(f['speedup'])}× but is not named: {FLAG}"
    if comparison is None:
        parallel = group[group["backend"].ne(SEQUENTIAL)].sort_values("median_wall_s", kind="mergesort")
        top = parallel.iloc[0]
        why = f" ({FLAG})" if is_flagged(top) else ""
        return (
            f"no configuration can be named: every parallel one is flagged or above the usable CPUs; "
            f"fastest is {config_name(top, vary)}: {speedup_text(top)}{why}"
        )
    if choice.undecided:
        a, b = choice.undecided[0], choice.undecided[1]
        more = len(choice.undecided) - 2
        names = f"{config_name(a, vary)} and {config_name(b, vary)}"
        names += f" (and {more} more)" if more > 0 else ""
        if choice.within_target:
            # The data resolve a 5 % difference: these are within 5 % of each other, and only
            # the 3 % margin is out of reach. Any of them is a fine answer; say so.
            text = (
                f"undecided within 5 %: {names} are within 5 % of each other (paired intervals) but "
                f"not shown within {MARGIN:.0%}; any of them will do"
            )
        else:
            text = f"undecided: {names} cannot be told apart at this noise"
        text += _rounds_to_decide_text(choice)
        text += (
            f" ({config_name(a, vary)}: {speedup_text(a)}; "
            + "; ".join(_ratio_text(choice, r, vary) for r in choice.undecided[1:4])
            + ")"
        )
        return text + over
    if choice.best is None:
        top = choice.rows[comparison.order[0]]
        relation = _relation_to_one(top) or "not clearly faster than sequential"
        return (
            f"no parallel configuration is clearly faster than sequential; the fastest estimate is "
            f"{config_name(top, vary)}: {speedup_text(top)}, {relation}" + over
        )
    row = choice.best
    text = (
        f"best is {config_name(row, vary)}: "
        f"{fmt_ratio_ci(row['speedup'], row['speedup_ci_low'], row['speedup_ci_high'])} "
        f"({fmt_seconds(row['baseline_wall_s'])} → {fmt_seconds(row['median_wall_s'])})"
    )
    borrowed = borrowed_from(row)
    if borrowed:
        text += f"; baseline borrowed from sweep {borrowed}"
    if choice.reason:
        text += f" ({choice.reason})"
    text += over
    for other in choice.not_faster[:2]:
        text += (
            f"; {config_name(other, vary)} cannot be told apart from it but is not clearly faster "
            "than sequential"
        )
    slower = [choice.rows[k] for k in comparison.order if k not in comparison.best_set]
    if slower:
        text += "; clearly slower: " + ", ".join(_ratio_text(choice, r, vary) for r in slower[:2])
        if len(slower) > 2:
            text += f" and {len(slower) - 2} more"
    return text


def borrowed_from(row: Mapping[str, Any]) -> str:
    """The sweep whose sequential runs this configuration's speedup borrowed, or ""."""
    value = row.get("baseline_sweep") if hasattr(row, "get") else None
    return value if isinstance(value, str) and value.strip() else ""


def summary_display(summary: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    """The human summary table (shared by Markdown and HTML): only dimensions that vary."""
    several_machines = summary["machine"].nunique() > 1
    dims = (["machine"] if several_machines else []) + ["workload", "size"]
    dims += ["backend"] + _varying(summary, VARIANT_DIMS) + ["workers"]
    several_rounds = "rounds" in summary and bool((summary["rounds"].astype("float64") > 1).any())
    header = dims + [
        "ok / runs",
        *(["rounds"] if several_rounds else []),
        "median wall",
        "95% CI (wall)",
        "speedup [95% CI]",
        "efficiency [95% CI]",
        "vs own 1-worker",
        "Karp–Flatt",
        "peak RSS",
    ]
    body = []
    for _, r in summary.iterrows():
        cells = [str(r[d]) for d in dims]
        cells += [
            f"{int(r['n_ok'])} / {int(r['n_runs'])}",
            *([str(int(r["rounds"]))] if several_rounds else []),
            fmt_seconds(r["median_wall_s"]),
            (
                f"{fmt_seconds(r['wall_ci_low'])} – {fmt_seconds(r['wall_ci_high'])}"
                if np.isfinite(float(r["wall_ci_low"]))
                else "–"
            ),
            speedup_text(r),
            fmt_ratio_ci(r["efficiency"], r["efficiency_ci_low"], r["efficiency_ci_high"], suffix=""),
            fmt_num(r["speedup_vs_1worker"]) + ("×" if np.isfinite(float(r["speedup_vs_1worker"])) else ""),
            fmt_num(r["karp_flatt"], 2),
            fmt_bytes(r["median_peak_rss_bytes"]),
        ]
        body.append(cells)
    return header, body


def lead_answer(summary: pd.DataFrame, verdicts: list[str]) -> str:
    """The verdict a report of one custom function leads with, or "" for any other report."""
    if summary.empty or "workload" not in summary or not verdicts:
        return ""
    if set(summary["workload"].astype(str)) != {"custom"} or summary["machine"].nunique() != 1:
        return ""
    return verdicts[0] if summary["size"].nunique() == 1 else ""


def _id_ranges(ids: list[int]) -> str:
    """[1, 2, 4, 5, 6] -> "1, 2, 4–6"."""
    out: list[str] = []
    for i in sorted(ids):
        if out and out[-1][1] == i - 1:
            out[-1] = (out[-1][0], i)
        else:
            out.append((i, i))  # type: ignore[arg-type]
    return ", ".join(f"{a}" if a == b else f"{a}, {b}" if b == a + 1 else f"{a}–{b}" for a, b in out)


def fold_unmeasured(folklore: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """The claims that were measured, and one line for all those that were not ("" if none)."""
    if folklore.empty:
        return folklore, ""
    unmeasured = folklore["verdict"].astype(str).str.startswith("not measured")
    if not unmeasured.any():
        return folklore, ""
    ids = [int(i) for i in folklore.loc[unmeasured, "claim_id"]]
    n = len(ids)
    line = (
        f"Not measured here: claim{'s' if n != 1 else ''} {_id_ranges(ids)} (no runs in this report bear "
        f"on {'them' if n != 1 else 'it'}; folklore.csv says which runs would)."
    )
    return folklore[~unmeasured], line


def folklore_display(folklore: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    header = ["#", "claim", "verdict", "evidence (95% CI)", "threshold used"]
    body = [
        [str(r["claim_id"]), r["claim"], r["verdict"], r["evidence"], r["threshold"]]
        for _, r in folklore.iterrows()
    ]
    return header, body


def fmt_grain(value: Any) -> str:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return "–"
    return f"{v:,.0f}" if np.isfinite(v) and v >= 10 else fmt_num(v)


def _crossover_text(r: Mapping[str, Any]) -> str:
    status = r["crossover"]
    if status == "never":
        return f"never (speedup < 1 up to grain {fmt_grain(r['max_grain'])})"
    if status == "always":
        return f"always (≥ 1 already at grain {fmt_grain(r['min_grain'])})"
    if status == "unclear":
        return "unclear (the speedup's interval includes 1 where its median crosses it)"
    text = fmt_grain(r["crossover_grain"])
    lo, hi = float(r["crossover_grain_ci_low"]), float(r["crossover_grain_ci_high"])
    if np.isfinite(lo) and np.isfinite(hi):
        text += f" [{fmt_grain(lo)}, {fmt_grain(hi)}]"
    return text


def crossover_display(crossover: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    dims = [
        d
        for d in (*GRAIN_SERIES_KEYS, "held_fixed")
        if d in ("workload", "backend", "workers") or crossover[d].nunique() > 1
    ]
    header = [*dims, "grains measured", "crossover grain [95% CI]", "note"]
    body = [
        [
            *[str(r[d]) for d in dims],
            f"{int(r['n_grains'])} ({fmt_grain(r['min_grain'])} – {fmt_grain(r['max_grain'])})",
            _crossover_text(r),
            str(r["note"]),
        ]
        for _, r in crossover.iterrows()
    ]
    return header, body


def weak_sentence(weak: pd.DataFrame) -> str:
    if weak.empty:
        return (
            "Gustafson's scaled speedup does not apply: no configuration ran with the size growing in "
            "proportion to the workers (weak scaling, e.g. `+experiment=weak_scaling`)."
        )
    return (
        "Weak scaling: the size grows with the workers (same size per worker). Scaled speedup "
        "S = T_sequential(size) / T_parallel(workers, size); Gustafson's law S = p − α(p − 1) gives the "
        "serial fraction α = (p − S)/(p − 1). Ideal: S = p, flat wall time."
    )


def weak_display(weak: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    dims = [
        d
        for d in ("machine", "workload", "grain", "backend", "start_method", "pinning", "collect", "python")
        if d in ("workload", "backend") or weak[d].nunique() > 1
    ]
    header = [*dims, "workers", "size", "wall", "scaled speedup [95% CI]", "scaled efficiency", "α"]
    header.append("baseline")
    body = [
        [
            *[str(r[d]) for d in dims],
            str(r["workers"]),
            str(r["size"]),
            fmt_seconds(r["median_wall_s"]),
            fmt_ratio_ci(r["scaled_speedup"], r["scaled_speedup_ci_low"], r["scaled_speedup_ci_high"]),
            fmt_num(r["scaled_efficiency"]),
            fmt_num(r["gustafson_serial_fraction"], 2),
            str(r["baseline"]),
        ]
        for _, r in weak.iterrows()
    ]
    return header, body


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _md_table(header: list[str], body: list[list[str]]) -> str:
    lines = [
        "| " + " | ".join(_md_cell(h) for h in header) + " |",
        "| " + " | ".join("---" for _ in header) + " |",
    ]
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in body]
    return "\n".join(lines)


def markdown_summary(
    summary: pd.DataFrame, verdicts: list[str], rows: pd.DataFrame, extras: Extras | None = None
) -> str:
    extras = extras or Extras()
    n_ok = int(rows["ok"].sum()) if len(rows) else 0
    parts = ["# coresweep summary" + (" (partial: the sweep was interrupted)" if extras.partial else ""), ""]
    for choice in extras.choices:
        parts += [f"**Answer:** {choice}", ""]
    if extras.answer:
        parts += [f"**Your function:** {extras.answer}", ""]
    if extras.machine_noise:
        parts += [f"**Noise during the sweep:** {extras.machine_noise}", ""]
    counts = f"{len(rows)} timed runs: {n_ok} ok, {len(rows) - n_ok} failed."
    parts.append(f"{counts} {interval_sentence(summary)}")
    if extras.partial:
        parts += ["", "## Partial report", ""] + [f"- {line}" for line in extras.partial]
    if extras.noise:
        parts += ["", "## Noise warnings", ""] + [f"- **warning:** {line}" for line in extras.noise]
    parts += ["", "## Physics checks", "", physics_intro(extras.physics)]
    if extras.physics:
        parts += [""] + [f"- **flagged:** {line}" for line in extras.physics]
    parts += ["", "## Verdict", ""] + [f"- {line}" for line in verdicts]
    if extras.machines is not None:
        parts += ["", *machines_markdown(extras.machines)]
    if len(extras.folklore):
        measured, unmeasured = fold_unmeasured(extras.folklore)
        parts += ["", "## The classic claims, measured", ""]
        if len(measured):
            parts.append(_md_table(*folklore_display(measured)))
        if unmeasured:
            parts += ["", unmeasured] if len(measured) else [unmeasured]
    if len(extras.crossover):
        parts += ["", "## Crossover grain (speedup reaches 1)", ""]
        parts.append(_md_table(*crossover_display(extras.crossover)))
    parts += ["", "## Weak scaling (Gustafson)", "", weak_sentence(extras.weak)]
    if len(extras.weak):
        parts += ["", _md_table(*weak_display(extras.weak))]
    if len(summary):
        header, body = extras.summary_table or summary_display(summary)
        parts += ["", "## Configurations", "", _md_table(header, body)]
    failed = rows[~rows["ok"]] if len(rows) else rows
    if len(failed):
        counts = (
            failed.groupby([*GROUP_KEYS, "error"], sort=True, dropna=False)
            .size()
            .rename("runs")
            .reset_index()
        )
        header = [*GROUP_KEYS, "error", "runs"]
        body = [[str(v) for v in rec] for rec in counts[header].itertuples(index=False, name=None)]
        parts += ["", "## Failures", "", _md_table(header, body)]
    return "\n".join(parts) + "\n"


def machines_markdown(compared: MachinesCompared) -> list[str]:
    """The "Machines compared" section of summary.md (index.html shows the same tables)."""
    from .machines import section_intro

    parts = ["## Machines compared", "", section_intro(compared), "", _md_table(*compared.overview)]
    parts += [line for text in compared.not_compared for line in ("", text)]
    for table in [*compared.tables, *([compared.best] if compared.best else [])]:
        parts += ["", f"### {table.title}", "", table.note, "", _md_table(table.header, table.body)]
    return parts


def physics_intro(physics: list[str]) -> str:
    """The sentence above the physics flags (Markdown and HTML)."""
    checks = (
        "speedup or its interval above min(workers, usable CPUs) on CPU-bound work, CPU time per wall "
        "second above the usable CPUs, one worker of a process or thread backend clearly faster than "
        "sequential, or Karp–Flatt below 0"
    )
    if not physics:
        return f"No configuration exceeds what the cores can give ({checks})."
    return (
        f"{len(physics)} configuration{'s' if len(physics) != 1 else ''} measured a speedup the cores cannot "
        f"give ({checks}). Their numbers are not findings: they are "
        "marked “⚠ flagged” wherever they appear, and the verdict says so."
    )
