"""Build the report folder: tidy CSVs, a Markdown summary, figures, and one self-contained index.html.

The HTML embeds every figure (base64 PNG) and its CSS, and loads nothing from the network, so
it can be mailed or archived as one file. Everything a reader needs to trust a number is next
to it: the interval, how many runs it rests on, what failed, the machine, and the command
that reproduces it. CSVs and Markdown are byte-identical when rebuilt from the same folder.
"""

from __future__ import annotations

import base64
import gc
import html
import json
import os
import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ._parallel import Background
from .csvtext import write_csv
from .figures import FIGURE_NAMES, FigureFile, FigureJobs
from .folklore import folklore_table, row_claims
from .load import GROUP_KEYS, load_results, machine_topology
from .noise import cv_warning, noise_warnings, noisy_configurations
from .patterns import pattern_figures
from .physics import FLAG, physics_lines
from .stats import (
    DESIGN_ROUNDS,
    DESIGN_RUNS,
    GRAIN_SERIES_KEYS,
    SEQUENTIAL,
    best_per_workload,
    crossover_grains,
    scaling_fits,
    summarize,
    weak_scaling,
)

#: Stands in for the figures while the page is rendered before the last figure is saved
#: (user text in the page is escaped, so it cannot contain this).
FIGURES_MARK = "<!--coresweep:figures-->"
#: Failed rows listed one by one in the HTML; beyond this, results.csv holds them all.
MAX_FAILED_ROWS_SHOWN = 2000
#: From this many rows on, results.csv is written by a forked child (about 0.3 s per 100k rows).
BACKGROUND_MIN_ROWS = 20_000
#: The physics flags, one line each (an empty file when there are none), for a terminal to print.
WARNINGS_FILE = "warnings.txt"
#: Physics flags listed at the top of the HTML; beyond this, warnings.txt and summary.md hold them all.
MAX_FLAGS_SHOWN = 50
VARIANT_DIMS = ("start_method", "pinning", "collect", "grain", "python", "gil_enabled")
TOPOLOGY_FIELDS = (
    "cpu_model",
    "logical_cores",
    "physical_cores",
    "threads_per_core",
    "sockets",
    "numa_nodes",
    "usable_cpus",
    "affinity_cpus",
)


@dataclass
class ReportResult:
    """What a build produced: where, how many rows, how many failed, and what looked wrong."""

    out_dir: Path
    n_rows: int
    n_ok: int
    n_failed: int
    warnings: list[str] = field(default_factory=list)
    index_html: Path = Path()
    #: Reasons not to trust small differences: noisy configurations, a busy machine, a governor.
    noise_warnings: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    #: Speedups the cores cannot give (``physics.physics_lines``), as in ``warnings.txt``.
    physics_flags: list[str] = field(default_factory=list)


def build_report(paths: Sequence[Path | str] | Path | str, out_dir: Path | str | None = None) -> ReportResult:
    """(Re)build the report for one or more results folders; default output ``<first path>/report``.

    Raises ``AnalysisError`` (one-line message) when a path is missing or holds no results.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    paths = [Path(p) for p in paths]
    # Objects alive now (modules of pandas, matplotlib, scipy...) live for the whole build: move
    # them out of the cyclic collector's reach, so each pass scans only what the build allocates
    # (about 4 % of a 100k-row build); given back to the collector when the build ends.
    gc.freeze()
    try:
        return _build(paths, out_dir)
    finally:
        gc.unfreeze()


def _build(paths: list[Path], out_dir: Path | str | None) -> ReportResult:
    rows, environments, warnings = load_results(paths)
    first = paths[0]
    default_out = (first.parent if first.is_file() else first) / "report"
    out_dir = default_out if out_dir is None else Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    files: list[Path] = []
    results_csv = out_dir / "results.csv"
    # Big tables: forked children write results.csv and judge the claims that need only the rows
    # while this process summarises (see _parallel).
    big = len(rows) >= BACKGROUND_MIN_ROWS
    csv_job = Background(_write_results_csv, rows, results_csv, allowed=big)
    claims_job = Background(row_claims, rows, allowed=big)
    summary = summarize(rows)
    topology = machine_topology(rows, environments)
    # Figures next: they may be drawn by worker processes while this one fits and writes the tables.
    figure_jobs = FigureJobs(summary, topology, out_dir)
    scaling = scaling_fits(summary)
    summary_csv = out_dir / "summary.csv"
    summary.to_csv(summary_csv, index=False, float_format="%.6g", lineterminator="\n")
    scaling_csv = out_dir / "scaling.csv"
    scaling.to_csv(scaling_csv, index=False, float_format="%.6g", lineterminator="\n")
    extras = Extras(
        partial=partial_lines(paths),
        noise=noise_warnings(summary, environments),
        physics=physics_lines(summary),
        folklore=folklore_table(summary, rows, topology, claims_job.result),
        crossover=crossover_grains(summary),
        weak=weak_scaling(summary),
    )
    tables = {
        "crossover.csv": extras.crossover,
        "folklore.csv": extras.folklore,
        "weak_scaling.csv": extras.weak,
    }
    for name, table in tables.items():
        table.to_csv(out_dir / name, index=False, float_format="%.6g", lineterminator="\n")
    summary_md = out_dir / "summary.md"
    verdicts = verdict_lines(summary)
    extras.summary_table = _summary_display(summary) if len(summary) else ([], [])
    summary_md.write_text(markdown_summary(summary, verdicts, rows, extras), encoding="utf-8")
    warnings_txt = out_dir / WARNINGS_FILE
    warnings_txt.write_text("".join(f"{line}\n" for line in extras.physics), encoding="utf-8")
    files += [results_csv, summary_csv, scaling_csv, *(out_dir / n for n in tables), summary_md, warnings_txt]

    figure_jobs.draw_share()
    # While the workers finish their last figures: the whole page but the figures' pixels.
    page = render_html(
        paths,
        rows,
        summary,
        scaling,
        environments,
        topology,
        figure_jobs.planned(),
        verdicts,
        warnings,
        None if out_dir == default_out else out_dir,
        extras,
        figure_jobs.skipped,
        figures_section=FIGURES_MARK,
    )
    figures = figure_jobs.result()
    figures += pattern_figures(summary, rows, topology, out_dir)  # issue 16; none without pattern rows
    csv_job.wait()
    claims_job.close()
    for fig in figures:
        files += [fig.png, fig.svg]
    _remove_stale_figures(out_dir, {fig.name for fig in figures})

    index = out_dir / "index.html"
    index.write_text(
        page.replace(FIGURES_MARK, _figures_html(figures, figure_jobs.skipped), 1), encoding="utf-8"
    )
    files.append(index)
    n_ok = int(rows["ok"].sum()) if len(rows) else 0
    return ReportResult(
        out_dir=out_dir,
        n_rows=len(rows),
        n_ok=n_ok,
        n_failed=len(rows) - n_ok,
        warnings=warnings,
        index_html=index,
        files=files,
        noise_warnings=extras.noise,
        physics_flags=extras.physics,
    )


INTERRUPTED_FILE = "interrupted.json"
#: Jobs that did not run, named one by one in the partial-report box before "and N more".
MAX_NOT_RUN_SHOWN = 20


def partial_lines(paths: Sequence[Path]) -> list[str]:
    """For each sweep folder that was interrupted (``interrupted.json``, removed once a sweep
    finishes): one line saying so, then one per job that did not run all its rounds."""
    out: list[str] = []
    for path in paths:
        folder = path.parent if path.is_file() else path
        record_path = folder / INTERRUPTED_FILE
        try:
            record = json.loads(record_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(record, Mapping):
            continue
        done, planned = record.get("job_runs_done"), record.get("job_runs_planned")
        rounds = int(record.get("rounds") or 1)
        what = "jobs" if rounds == 1 else "job runs"
        not_run = [j for j in record.get("not_run") or [] if isinstance(j, Mapping)]
        out.append(
            f"Partial report: sweep {folder} was interrupted ({record.get('interrupted_at', '')}) after "
            f"{done} of {planned} {what}; {len(not_run)} job{'s' if len(not_run) != 1 else ''} did not "
            f"run{' all their rounds' if rounds > 1 else ''}, so every figure and verdict below rests on "
            f"the runs that finished. Finish it with the same command and resume={folder}."
        )
        for job in not_run[:MAX_NOT_RUN_SHOWN]:
            missing = job.get("rounds_missing") or []
            when = ""
            if rounds > 1:
                when = f" (round{'s' if len(missing) != 1 else ''} {', '.join(map(str, missing))})"
            out.append(f"job {job.get('job')}: {job.get('overrides', '')}{when}")
        if len(not_run) > MAX_NOT_RUN_SHOWN:
            out.append(f"and {len(not_run) - MAX_NOT_RUN_SHOWN} more (see {record_path})")
    return out


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


def _remove_stale_figures(out_dir: Path, drawn: set[str]) -> None:
    """A rebuild into the same folder must not leave an earlier build's figure that this one
    left out (the files would contradict index.html); only our own figure names are touched."""
    for name in FIGURE_NAMES:
        if name not in drawn:
            for suffix in (".png", ".svg"):
                (out_dir / f"{name}{suffix}").unlink(missing_ok=True)


def _write_results_csv(rows: pd.DataFrame, path: Path) -> None:
    """Every row, written to a temporary name first so a reader never sees half a file."""
    tmp = path.with_name(path.name + ".tmp")
    write_csv(rows, tmp)  # pandas' to_csv bytes, in a third of the time
    os.replace(tmp, path)


# ----------------------------------------------------------------------------- formatting


def fmt_seconds(value: Any) -> str:
    """A duration with a unit a person reads at a glance (s, ms, µs)."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return "–"
    if not np.isfinite(v):
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


def _speedup_text(row: Mapping[str, Any]) -> str:
    text = fmt_ratio_ci(row["speedup"], row["speedup_ci_low"], row["speedup_ci_high"])
    borrowed = borrowed_from(row)
    if borrowed and np.isfinite(float(row["speedup"])):
        text += f" (baseline borrowed from sweep {borrowed})"
    return f"{text} {FLAG_MARK}" if is_flagged(row) else text


def _design_short(summary: pd.DataFrame) -> str:
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
    try:
        v = float(value)
    except (TypeError, ValueError):
        return "–"
    if not np.isfinite(v):
        return "–"
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if v >= scale:
            return f"{v / scale:.3g} {unit}"
    return f"{v:.0f} B"


def _config_name(row: Mapping[str, Any], vary: Mapping[str, list[str]]) -> str:
    """ "process_pool with 4 workers (spawn)" — only the dimensions that vary are named."""
    extras = [f"{d}={row[d]}" for d in vary.get(str(row["backend"]), []) if d in row]
    workers = int(row["workers"])
    text = str(row["backend"])
    if row["backend"] != SEQUENTIAL:
        text += f" with {workers} worker{'s' if workers != 1 else ''}"
    if extras:
        text += " (" + ", ".join(extras) + ")"
    return text


def _varying_per_backend(frame: pd.DataFrame) -> dict[str, list[str]]:
    """Per backend, the dimensions that tell its configurations apart (they name it in verdicts)."""
    return {
        str(backend): [d for d in VARIANT_DIMS if part[d].nunique(dropna=False) > 1]
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
    vary = _varying_per_backend(summary)
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
                f"closest is {_config_name(runner_up, vary)}: "
                f"{_speedup_text(runner_up)}{flag}."
            )
            continue
        if not np.isfinite(float(row["speedup"])):
            lines.append(
                f"{where}: fastest is {_config_name(row, vary)} at {fmt_seconds(row['median_wall_s'])} "
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
                    f"the fastest median, {_config_name(fastest, vary)} ({fmt_num(fastest['speedup'])}×), "
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
            f"{_config_name(fastest, vary)} ({fmt_num(fastest['speedup'])}×)"
        )
    return chosen, others, reason


def _best_sentence(fastest: Mapping[str, Any], group: pd.DataFrame, vary: Mapping[str, list[str]]) -> str:
    row, others, reason = simplest_best(group, fastest, vary)
    text = (
        f"best is {_config_name(row, vary)}: "
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
            f"{_config_name(t, vary)} ({fmt_num(t['speedup'])}×"
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


# ----------------------------------------------------------------------------- Markdown


def _summary_display(summary: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
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
            _speedup_text(r),
            fmt_ratio_ci(r["efficiency"], r["efficiency_ci_low"], r["efficiency_ci_high"], suffix=""),
            fmt_num(r["speedup_vs_1worker"]) + ("×" if np.isfinite(float(r["speedup_vs_1worker"])) else ""),
            fmt_num(r["karp_flatt"], 2),
            fmt_bytes(r["median_peak_rss_bytes"]),
        ]
        body.append(cells)
    return header, body


def _folklore_display(folklore: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
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


def _crossover_display(crossover: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
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


def _weak_sentence(weak: pd.DataFrame) -> str:
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


def _weak_display(weak: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
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
    parts += ["", "## Physics checks", "", _physics_intro(extras.physics)]
    if extras.physics:
        parts += [""] + [f"- **flagged:** {line}" for line in extras.physics]
    parts += ["", "## Verdict", ""] + [f"- {line}" for line in verdicts]
    if len(extras.folklore):
        parts += ["", "## The classic claims, measured", "", _md_table(*_folklore_display(extras.folklore))]
    if len(extras.crossover):
        parts += ["", "## Crossover grain (speedup reaches 1)", ""]
        parts.append(_md_table(*_crossover_display(extras.crossover)))
    parts += ["", "## Weak scaling (Gustafson)", "", _weak_sentence(extras.weak)]
    if len(extras.weak):
        parts += ["", _md_table(*_weak_display(extras.weak))]
    if len(summary):
        header, body = extras.summary_table or _summary_display(summary)
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


# ----------------------------------------------------------------------------- HTML

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;
color:#1d1d1f;background:#fafafa}
main{max-width:1280px;margin:0 auto;padding:16px 28px 48px}
h1{font-size:24px;margin:12px 0 4px}
h2{font-size:19px;margin:30px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
h3{font-size:15px;margin:18px 0 6px}
.meta{color:#555}.counts span{display:inline-block;margin-right:14px}
.bad{color:#b00020;font-weight:600}.good{color:#0a7d32;font-weight:600}
ul.verdict li{margin:4px 0}
nav a{margin-right:12px}
figure{margin:14px 0 22px;background:#fff;border:1px solid #e3e3e3;padding:10px;overflow-x:auto}
figure img{max-width:100%;height:auto}figcaption{color:#444;font-size:13px;margin-top:6px}
table{border-collapse:collapse;font-size:12.5px;background:#fff;margin:6px 0 14px}
th,td{border:1px solid #ddd;padding:3px 7px;text-align:left;vertical-align:top}
th{background:#f0f0f3;position:sticky;top:0}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr.failed td{background:#fff3f3}
.scroll{max-height:560px;overflow:auto;border:1px solid #e3e3e3}
pre{background:#f4f4f6;padding:8px 10px;overflow-x:auto;border:1px solid #e3e3e3}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
.cards{display:flex;flex-wrap:wrap;gap:4px 18px;align-items:flex-start}
.card h4{margin:6px 0 2px;font-size:13px;color:#444}
.warn{background:#fff8e1;border:1px solid #f1d48a;padding:8px 12px}
.partial{background:#fde8e8;border:2px solid #c0392b;padding:8px 12px;margin:10px 0}
.partial ul{margin:4px 0 0 0;padding-left:20px}
.noise{background:#fff4e5;border:1px solid #f0b35a;padding:8px 12px;margin:10px 0}
.noise ul{margin:4px 0 0 0;padding-left:20px}
.physics{background:#fdecea;border:1px solid #e59a94;padding:8px 12px;margin:10px 0}
.physics ul{margin:4px 0 0 0;padding-left:20px}
td.v-supported{color:#0a7d32;font-weight:600}td.v-refuted{color:#b00020;font-weight:600}
td.v-depends{color:#8a5a00;font-weight:600}td.v-not{color:#666}
"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _html_table(
    header: Sequence[str], body: Iterable[Sequence[Any]], numeric: Iterable[int] = (), row_class: str = ""
) -> str:
    nums = set(numeric)
    out = ["<table><thead><tr>" + "".join(f"<th>{_e(h)}</th>" for h in header) + "</tr></thead><tbody>"]
    cls = f' class="{row_class}"' if row_class else ""
    for row in body:
        cells = "".join(
            f'<td class="num">{_e(c)}</td>' if i in nums else f"<td>{_e(c)}</td>" for i, c in enumerate(row)
        )
        out.append(f"<tr{cls}>{cells}</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _plain(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return _compact_list(value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return "–" if value is None else str(value)


def _compact_list(values: Sequence[Any]) -> str:
    """[0,1,2,3,8] -> "0-3,8" for CPU lists; other lists as JSON."""
    if values and all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        out, start, prev = [], values[0], values[0]
        for v in list(values[1:]) + [None]:
            if v is not None and v == prev + 1:
                prev = v
                continue
            out.append(f"{start}-{prev}" if prev != start else f"{start}")
            if v is not None:
                start = prev = v
        return f"{','.join(out)} ({len(values)} CPUs)"
    return json.dumps(list(values))


def _kv_table(mapping: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for key in mapping:
        value = mapping[key]
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value and len(json.dumps(value, default=str)) > 80:
            pairs += _kv_table(value, prefix=name + ".")
        else:
            pairs.append((name, _plain(value)))
    return pairs


def _skipped_figures_html(skipped: Sequence[tuple[str, str]]) -> str:
    """One sentence per reason: which figures against workers were left out, and why."""
    by_reason: dict[str, list[str]] = {}
    for name, reason in skipped:
        by_reason.setdefault(reason, []).append(name)
    return "".join(
        f'<p class="meta">No {_e(" / ".join(names))} figure against workers: {_e(reason)}.</p>'
        for reason, names in by_reason.items()
    )


def _figures_html(figures: list[FigureFile], skipped: Sequence[tuple[str, str]] = ()) -> str:
    parts = [_skipped_figures_html(skipped)] if skipped else []
    for fig in figures:
        data = base64.b64encode(fig.png.read_bytes()).decode("ascii")
        parts.append(
            f'<figure id="fig-{_e(fig.name)}"><img alt="{_e(fig.name)} figure" '
            f'src="data:image/png;base64,{data}"><figcaption>{_e(fig.caption)} '
            f'Files: <a href="{_e(fig.png.name)}">{_e(fig.png.name)}</a>, '
            f'<a href="{_e(fig.svg.name)}">{_e(fig.svg.name)}</a>.</figcaption></figure>'
        )
    return "\n".join(parts)


def _failures_html(rows: pd.DataFrame) -> str:
    failed = rows[~rows["ok"]] if len(rows) else rows
    if failed.empty:
        return '<p class="good">Every run succeeded and was verified.</p>'
    counts = (
        failed.groupby(["error"], sort=True, dropna=False)
        .size()
        .sort_values(ascending=False, kind="mergesort")
    )
    intro = (
        f'<p class="bad">{len(failed)} failed runs (not counted in any timing or speedup).</p>'
        + _html_table(["error", "runs"], [[e, n] for e, n in counts.items()], numeric=[1])
    )
    cols = ["machine", "sweep_id", "job", *[k for k in GROUP_KEYS if k != "machine"], "repeat", "error"]
    shown = failed.head(MAX_FAILED_ROWS_SHOWN)
    body = [[_plain(v) for v in rec] for rec in shown[cols].itertuples(index=False, name=None)]
    table = _html_table(cols, body, row_class="failed")
    more = ""
    if len(failed) > len(shown):
        more = (
            f"<p>Showing the first {len(shown)} of {len(failed)}; results.csv holds every row "
            "(filter ok = False).</p>"
        )
    return intro + f'<div class="scroll">{table}</div>' + more


def _card(title: str, table: str) -> str:
    return f'<div class="card"><h4>{_e(title)}</h4>{table}</div>'


def _environment_html(environments: Mapping[str, Mapping[str, Any]]) -> str:
    """Every sweep's environment.json, as small side-by-side tables; unknown keys shown too."""
    if not environments:
        return "<p>No environment.json was found.</p>"
    known = ("topology", "python", "platform", "packages")
    first = ["machine", "hostname", "timestamp", "cpu_model", "coresweep_version", "git_commit", "loadavg"]
    skip = {*known, *first, "command", "command_line", "schema", "sweep_id"}
    parts = []
    for key, env in environments.items():
        parts.append(f"<h3>{_e(key)}</h3>")
        if not env:
            parts.append("<p>No environment.json for this sweep.</p>")
            continue
        cards = [
            _card(
                "sweep", _html_table(["field", "value"], [(k, _plain(env.get(k))) for k in first if k in env])
            )
        ]
        for section in known:
            value = env.get(section)
            if isinstance(value, dict) and value:
                cards.append(_card(section, _html_table(["field", "value"], _kv_table(value))))
        rest = {k: v for k, v in env.items() if k not in skip}
        if rest:
            cards.append(_card("other", _html_table(["field", "value"], _kv_table(rest))))
        parts.append('<div class="cards">' + "".join(cards) + "</div>")
    return "\n".join(parts)


def _reproduce_html(
    paths: Sequence[Path], environments: Mapping[str, Mapping[str, Any]], out_dir: Path | None = None
) -> str:
    parts = []
    for key, env in environments.items():
        command = env.get("command_line")
        if not command and isinstance(env.get("command"), list):
            command = shlex.join(str(a) for a in env["command"])
        if command:
            parts.append(
                f"<p>Sweep <code>{_e(key)}</code> on <b>{_e(env.get('machine', '?'))}</b> ran:</p>"
                f"<pre><code>{_e(command)}</code></pre>"
            )
        else:
            parts.append(f"<p>Sweep <code>{_e(key)}</code>: the command line was not recorded.</p>")
        commit = env.get("git_commit")
        if commit:
            parts.append(f"<p>from project commit <code>{_e(commit)}</code>.</p>")
    argv = ["coresweep-report", *[str(p) for p in paths]]
    if out_dir is not None:
        argv += ["-o", str(out_dir)]
    rebuild = shlex.join(argv)
    parts.append(
        "<p>Rebuild this report from the results folders (no re-run needed):</p>"
        f"<pre><code>{_e(rebuild)}</code></pre>"
    )
    return "\n".join(parts)


def _machines_html(summary: pd.DataFrame, topology: Mapping[str, Mapping[str, Any]]) -> str:
    machines = sorted(topology)
    header = ["", *machines]
    body = [[f, *[_plain(topology[m].get(f)) for m in machines]] for f in TOPOLOGY_FIELDS]
    parts = ["<h3>Core topology side by side</h3>", _html_table(header, body)]
    best = best_per_workload(summary)
    if best.empty:
        return "\n".join(parts)
    vary = _varying_per_backend(summary)
    table = []
    for (workload, size), part in best.groupby(["workload", "size"], sort=True):
        by_machine = {str(r["machine"]): r for _, r in part.iterrows()}
        picks = {m: (str(r["backend"]), int(r["workers"])) for m, r in by_machine.items()}
        differs = len(set(picks.values())) > 1 or len(by_machine) < len(machines)
        cells = [workload, size]
        for m in machines:
            r = by_machine.get(m)
            cells.append("–" if r is None else f"{_config_name(r, vary)}: {_speedup_text(r)}")
        cells.append("yes" if differs else "no")
        table.append(cells)
    parts += [
        "<h3>Where the best backend or worker count differs</h3>",
        "<p>The fastest configuration per workload on each machine; <b>differs</b> says whether "
        "one answer fits every machine.</p>",
        _html_table(["workload", "size", *machines, "differs"], table),
    ]
    return "\n".join(parts)


def _scaling_html(scaling: pd.DataFrame) -> str:
    few = scaling["n_worker_counts"].astype("int64") < 3 if len(scaling) else pd.Series(dtype=bool)
    skipped = ""
    if few.any():
        skipped = (
            f"<p>{int(few.sum())} worker ladders have only two worker counts: too few for Amdahl (3) or "
            "the USL (4); scaling.csv lists them with that reason.</p>"
        )
        scaling = scaling[~few]
    if scaling.empty:
        return (
            "<p>No Amdahl fit: it needs at least three worker counts of one configuration. "
            "The Karp–Flatt metric per worker count is in the summary table.</p>" + skipped
        )
    dims = [
        d
        for d in ("machine", "backend", "start_method", "pinning", "workload", "size", "grain", "collect")
        if d in scaling and (d in ("backend", "workload") or scaling[d].nunique() > 1)
    ]
    header = [
        *dims,
        "worker counts",
        "serial fraction f [95% CI]",
        "Amdahl limit 1/f",
        "fit RMSE",
        "Amdahl fits?",
        "note",
        "USL σ [95% CI]",
        "USL κ [95% CI]",
        "USL peak at",
        "USL RMSE",
        "USL note",
    ]
    body = []
    for _, r in scaling.iterrows():
        f = float(r["serial_fraction"])
        limit = float(r["amdahl_limit"])
        peak = float(r["usl_peak_workers"])
        body.append(
            [
                *[r[d] for d in dims],
                f"{r['n_worker_counts']} (up to {r['max_workers']})",
                _value_ci(f, r["serial_fraction_ci_low"], r["serial_fraction_ci_high"]),
                "–" if not np.isfinite(f) else (fmt_num(limit) + "×") if np.isfinite(limit) else "∞",
                fmt_num(r["fit_rmse"], 2),
                r["amdahl_fits"] or "–",
                r["note"],
                _value_ci(r["usl_sigma"], r["usl_sigma_ci_low"], r["usl_sigma_ci_high"]),
                _value_ci(r["usl_kappa"], r["usl_kappa_ci_low"], r["usl_kappa_ci_high"]),
                "–" if np.isnan(peak) else f"{peak:.3g} workers" if peak < 1e6 else "never (κ = 0)",
                fmt_num(r["usl_rmse"], 2),
                r["usl_note"],
            ]
        )
    return (
        "<p>Amdahl's law S(p) = 1 / (f + (1 − f)/p) fitted to the measured speedups: f is the "
        "share of the work that does not parallelise (or overhead that behaves like it). "
        "The Universal Scalability Law S(p) = γp / (1 + σ(p − 1) + κp(p − 1)) adds coherency κ, the "
        "cost that grows with every pair of workers and makes speedup fall again past "
        "p* = √((1 − σ)/κ); σ is contention. Both need enough worker counts (Amdahl 3, USL 4); where a "
        "fit is missing or does not fit, the note says why.</p>" + _html_table(header, body) + skipped
    )


def _value_ci(value: Any, low: Any, high: Any) -> str:
    text = fmt_num(value, 3)
    if text != "–" and np.isfinite(float(low)) and np.isfinite(float(high)):
        text += f" [{fmt_num(low, 3)}, {fmt_num(high, 3)}]"
    return text


def _folklore_html(folklore: pd.DataFrame) -> str:
    if folklore.empty:
        return "<p>No claims could be checked.</p>"
    header, body = _folklore_display(folklore)
    rows = []
    for cells in body:
        verdict = cells[2]
        cls = "v-not" if verdict.startswith("not measured") else f"v-{verdict}"
        rows.append(
            "<tr>"
            + "".join(
                f'<td class="{cls}">{_e(c)}</td>' if i == 2 else f"<td>{_e(c)}</td>"
                for i, c in enumerate(cells)
            )
            + "</tr>"
        )
    head = "<tr>" + "".join(f"<th>{_e(h)}</th>" for h in header) + "</tr>"
    return (
        "<p>Each claim is judged only from the runs in this report: <b>supported</b> = every relevant "
        "measurement passes the threshold, <b>refuted</b> = every one fails it, <b>depends</b> = some pass "
        "and some fail or an interval straddles the threshold, <b>not measured</b> = no runs bear on it. "
        "Also in folklore.csv.</p>"
        f"<table><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _physics_intro(physics: list[str]) -> str:
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


def _partial_html(partial: list[str]) -> str:
    if not partial:
        return ""
    head, *jobs = partial
    items = "".join(f"<li>{_e(line)}</li>" for line in jobs)
    return (
        f'<div class="partial" id="partial"><b>{_e(head)}</b>'
        + (f"<p>Did not run:</p><ul>{items}</ul>" if items else "")
        + "</div>"
    )


def _physics_html(physics: list[str]) -> str:
    if not physics:
        return ""
    items = "".join(f"<li>{_e(line)}</li>" for line in physics[:MAX_FLAGS_SHOWN])
    if len(physics) > MAX_FLAGS_SHOWN:
        more = len(physics) - MAX_FLAGS_SHOWN
        items += f"<li>and {more} more: {WARNINGS_FILE} and summary.md list all</li>"
    return (
        f'<div class="physics" id="physics"><b>Physics checks</b>: {_e(_physics_intro(physics))}'
        f"<ul>{items}</ul></div>"
    )


def _noise_html(noise: list[str]) -> str:
    if not noise:
        return ""
    items = "".join(f"<li>{_e(n)}</li>" for n in noise)
    return (
        '<div class="noise" id="noise"><b>Noise warnings</b> (small differences may not be real):'
        f"<ul>{items}</ul></div>"
    )


def _grain_weak_html(extras: Extras) -> str:
    parts = ['<h3 id="crossover">Crossover grain: where parallel starts to pay</h3>']
    if extras.crossover.empty:
        parts.append("<p>No grain sweep: no configuration ran at two or more task grains.</p>")
    else:
        parts.append(
            "<p>The smallest task grain at which the speedup reaches 1, interpolated in log-grain between "
            "the measured grains; the interval is the same interpolation on the speedup's 95% bounds. "
            "Also in crossover.csv.</p>"
        )
        parts.append(_html_table(*_crossover_display(extras.crossover)))
    parts.append('<h3 id="weak">Weak scaling (Gustafson)</h3>')
    parts.append(f"<p>{_e(_weak_sentence(extras.weak))}</p>".replace("`", ""))
    if len(extras.weak):
        parts.append(_html_table(*_weak_display(extras.weak)))
    return "\n".join(parts)


def warning_count(summary: pd.DataFrame, warnings: Sequence[str], extras: Extras) -> int:
    """The header's count: reading warnings, physics flags, machine noise warnings and every noisy
    configuration (the noise box's first line names each one)."""
    noise = list(extras.noise)
    noisy = len(noisy_configurations(summary))
    line = cv_warning(summary) if noisy else None
    if line is not None and line in noise:
        noise.remove(line)
    return len(warnings) + len(extras.physics) + len(noise) + noisy


def render_html(
    paths: Sequence[Path],
    rows: pd.DataFrame,
    summary: pd.DataFrame,
    scaling: pd.DataFrame,
    environments: Mapping[str, Mapping[str, Any]],
    topology: Mapping[str, Mapping[str, Any]],
    figures: list[FigureFile],
    verdicts: list[str],
    warnings: list[str],
    out_dir: Path | None = None,
    extras: Extras | None = None,
    skipped_figures: Sequence[tuple[str, str]] = (),
    figures_section: str | None = None,
) -> str:
    """The page; ``figures_section`` (e.g. a mark to replace later) stands in for the figures."""
    extras = extras or Extras()
    n_ok = int(rows["ok"].sum()) if len(rows) else 0
    n_failed = len(rows) - n_ok
    machines = sorted(rows["machine"].astype(str).unique()) if len(rows) else []
    sweeps = list(environments)
    title = ("coresweep partial report: " if extras.partial else "coresweep report: ") + ", ".join(
        machines or ["no rows"]
    )
    nav = ["verdict", "claims", "figures", "scaling", "summary", "failures"]
    if extras.partial:
        nav.insert(0, "partial")
    if extras.noise:
        nav.insert(0, "noise")
    if extras.physics:
        nav.insert(0, "physics")
    if len(machines) > 1:
        nav.append("machines")
    nav += ["environment", "reproduce"]
    if warnings:
        nav.append("warnings")
    header, body = (extras.summary_table or _summary_display(summary)) if len(summary) else ([], [])
    numeric = [
        i
        for i, h in enumerate(header)
        if h not in ("machine", "workload", "backend", "start_method", "pinning", "collect")
    ]
    failed_class = "bad" if n_failed else "good"
    # Every warning listed on the page: reading, noise (each noisy configuration counts, as the
    # box below lists them), physics.
    n_warnings = warning_count(summary, warnings, extras)
    sections = [
        f"<h1>{_e(title)}</h1>",
        f'<p class="meta">Sweeps: {_e(", ".join(sweeps))}</p>',
        f'<p class="counts"><span>{len(rows)} timed runs</span><span class="good">{n_ok} ok</span>'
        f'<span class="{failed_class}">{n_failed} failed</span><span>{len(summary)} configurations</span>'
        f"<span>{n_warnings} warning{'s' if n_warnings != 1 else ''}</span></p>",
        "<nav>" + "".join(f'<a href="#{n}">{n}</a>' for n in nav) + "</nav>",
        _partial_html(extras.partial),
        _physics_html(extras.physics),
        _noise_html(extras.noise),
        '<h2 id="verdict">Verdict</h2>',
        '<ul class="verdict">' + "".join(f"<li>{_e(v)}</li>" for v in verdicts) + "</ul>",
        f'<p class="meta" id="intervals">{_e(interval_sentence(summary))} [low, high] is the 95% interval; '
        "overlapping intervals mean the measurements cannot tell the configurations apart.</p>",
        '<h2 id="claims">The classic claims, measured</h2>',
        _folklore_html(extras.folklore),
        '<h2 id="figures">Figures</h2>',
        _figures_html(figures, skipped_figures) if figures_section is None else figures_section,
        '<h2 id="scaling">Scaling models</h2>',
        _scaling_html(scaling),
        _grain_weak_html(extras),
        '<h2 id="summary">Summary by configuration</h2>',
        "<p>Karp–Flatt e = (1/S − 1/p)/(1 − 1/p): flat e means serial work limits scaling, growing e "
        f"means overhead that grows with workers. Intervals: {_e(_design_short(summary))}; "
        f"“{FLAG_MARK}” marks a speedup the cores cannot give (see the physics checks). "
        "Full precision in summary.csv (with interval_design and physics_flag per configuration).</p>",
        f'<div class="scroll">{_html_table(header, body, numeric=numeric)}</div>'
        if body
        else "<p>No rows.</p>",
        '<h2 id="failures">Failures</h2>',
        _failures_html(rows),
    ]
    if len(machines) > 1:
        sections += ['<h2 id="machines">Machines compared</h2>', _machines_html(summary, topology)]
    sections += [
        '<h2 id="environment">Environment</h2>',
        _environment_html(environments),
        '<h2 id="reproduce">Reproduce</h2>',
        _reproduce_html(paths, environments, out_dir),
    ]
    if warnings:
        sections += [
            '<h2 id="warnings">Warnings while reading</h2>',
            '<div class="warn"><ul>' + "".join(f"<li>{_e(w)}</li>" for w in warnings) + "</ul></div>",
        ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{CSS}</style></head>\n<body><main>\n"
        + "\n".join(sections)
        + "\n</main></body></html>\n"
    )
