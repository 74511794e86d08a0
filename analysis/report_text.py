"""The report as text: numbers with their intervals, verdict lines and the Markdown summary.

The HTML page (``report_html``) shows the same tables; both take them from here, so
summary.md and index.html never disagree.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .load import GROUP_KEYS, PATTERN_DEFAULTS
from .physics import FLAG
from .stats import (
    DESIGN_ROUNDS,
    DESIGN_RUNS,
    GRAIN_SERIES_KEYS,
    SEQUENTIAL,
    VARIANT_DIMS,
    best_per_workload,
)

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


def verdict_lines(summary: pd.DataFrame) -> list[str]:
    """One sentence per (machine, workload, size): the fastest configuration and its speedup CI."""
    best = best_per_workload(summary)
    if best.empty:
        return ["No configuration has a successful run: see the failures table."]
    vary = varying_per_backend(summary)
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
        if row["backend"] == SEQUENTIAL:
            parallel = group[group["backend"].ne(SEQUENTIAL)].sort_values(["median_wall_s"], kind="mergesort")
            if parallel.empty:
                lines.append(
                    f"{where}: only sequential runs succeeded ({fmt_seconds(row['median_wall_s'])})."
                )
                continue
            runner_up = parallel.iloc[0]
            flag = f" ({FLAG})" if is_flagged(runner_up) else ""
            lines.append(
                f"{where}: no parallel configuration beats sequential ({fmt_seconds(row['median_wall_s'])}); "
                f"closest is {config_name(runner_up, vary)}: "
                f"{speedup_text(runner_up)}{flag}."
            )
            continue
        if not np.isfinite(float(row["speedup"])):
            lines.append(
                f"{where}: fastest is {config_name(row, vary)} at {fmt_seconds(row['median_wall_s'])} "
                "(no successful sequential run, so no speedup)."
            )
            continue
        lines.append(where + ": " + _best_sentence(row, group, vary) + ".")
    borrowed = borrowed_line(summary)
    return lines + ([borrowed] if borrowed else [])


def _interval(row: Mapping[str, Any]) -> tuple[float, float]:
    """A speedup's 95% interval; the point value for both ends where there is none."""
    low, high = float(row["speedup_ci_low"]), float(row["speedup_ci_high"])
    if not (np.isfinite(low) and np.isfinite(high)):
        low = high = float(row["speedup"])
    return low, high


def _same_config(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return all(a[d] == b[d] for d in ("backend", "workers", "start_method", "pinning", "collect", "grain"))


def simplest_best(
    group: pd.DataFrame, fastest: Mapping[str, Any], vary: Mapping[str, list[str]] | None = None
) -> tuple[Any, pd.DataFrame, str]:
    """The configuration a verdict names, the others it cannot be told apart from, and why.

    Among the parallel configurations whose speedup intervals overlap the fastest one's, the one
    with the fewest workers (then the fastest median): more workers that measure the same are
    no better answer. One above the usable CPUs is named only when it is clearly faster (its
    interval wholly above) than every configuration within them.
    """
    parallel = group[group["backend"].ne(SEQUENTIAL) & np.isfinite(group["speedup"].astype("float64"))]
    parallel = parallel.sort_values(["median_wall_s", "workers"], kind="mergesort")
    reason = ""
    vary = vary or {}
    usable = float(fastest.get("usable_cpus", np.nan)) if hasattr(fastest, "get") else np.nan
    if np.isfinite(usable) and int(fastest["workers"]) > usable:
        within = parallel[parallel["workers"].astype("float64") <= usable]
        if len(within):
            top = within.iloc[0]
            if _interval(fastest)[0] <= _interval(top)[1]:  # not clearly faster: keep within the CPUs
                reason = (
                    f"the fastest median, {config_name(fastest, vary)} ({fmt_num(fastest['speedup'])}×), "
                    f"oversubscribes the {usable:g} usable CPUs without being clearly faster"
                )
                parallel, fastest = within, top
    low, high = _interval(fastest)
    everyone = group[group["backend"].ne(SEQUENTIAL) & np.isfinite(group["speedup"].astype("float64"))]
    overlap = everyone[[_interval(r)[1] >= low and _interval(r)[0] <= high for _, r in everyone.iterrows()]]
    candidates = overlap[overlap.index.isin(parallel.index)]
    if candidates.empty:
        return fastest, overlap.iloc[0:0], reason
    chosen = candidates.sort_values(["workers", "median_wall_s"], kind="mergesort").iloc[0]
    others = overlap[[not _same_config(r, chosen) for _, r in overlap.iterrows()]]
    if not reason and not _same_config(chosen, fastest):
        reason = (
            f"fewest workers among those that cannot be told apart from the fastest, "
            f"{config_name(fastest, vary)} ({fmt_num(fastest['speedup'])}×)"
        )
    return chosen, others, reason


def _best_sentence(fastest: Mapping[str, Any], group: pd.DataFrame, vary: Mapping[str, list[str]]) -> str:
    row, others, reason = simplest_best(group, fastest, vary)
    text = (
        f"best is {config_name(row, vary)}: "
        f"{fmt_ratio_ci(row['speedup'], row['speedup_ci_low'], row['speedup_ci_high'])} "
        f"({fmt_seconds(row['baseline_wall_s'])} → {fmt_seconds(row['median_wall_s'])})"
    )
    borrowed = borrowed_from(row)
    if borrowed:
        text += f"; baseline borrowed from sweep {borrowed}"
    if reason:
        text += f" ({reason})"
    if is_flagged(row):
        text += f"; flagged: {FLAG}"
    low = float(row["speedup_ci_low"])
    if np.isfinite(low) and low <= 1.0:
        text += "; not clearly faster than sequential (the interval includes 1×)"
    if len(others):
        names = [
            f"{config_name(t, vary)} ({fmt_num(t['speedup'])}×"
            + (f", {FLAG_MARK}" if is_flagged(t) else "")
            + ")"
            for _, t in others.sort_values("median_wall_s", kind="mergesort").head(3).iterrows()
        ]
        more = f" and {len(others) - 3} more" if len(others) > 3 else ""
        n = len(others)
        text += (
            f"; {n} other{'s' if n != 1 else ''} cannot be told apart (intervals overlap): "
            + ", ".join(names)
            + more
        )
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
    if len(extras.folklore):
        parts += ["", "## The classic claims, measured", "", _md_table(*folklore_display(extras.folklore))]
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


def physics_intro(physics: list[str]) -> str:
    """The sentence above the physics flags (Markdown and HTML)."""
    if not physics:
        return (
            "No configuration exceeds what the cores can give (speedup interval above min(workers, "
            "usable CPUs) on CPU-bound work, a one-worker process backend faster than sequential, or "
            "Karp–Flatt below 0)."
        )
    return (
        f"{len(physics)} configuration{'s' if len(physics) != 1 else ''} measured a speedup the cores cannot "
        "give (interval wholly above min(workers, usable CPUs) on CPU-bound work, a one-worker process "
        "backend faster than sequential, or Karp–Flatt below 0). Their numbers are not findings: they are "
        "marked “⚠ flagged” wherever they appear, and the verdict says so."
    )
