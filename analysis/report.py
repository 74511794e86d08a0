"""Build the report folder: tidy CSVs, a Markdown summary, figures, and one self-contained index.html.

The HTML embeds every figure (base64 PNG) and its CSS, and loads nothing from the network, so
it can be mailed or archived as one file. Everything a reader needs to trust a number is next
to it: the interval, how many runs it rests on, what failed, the machine, and the command
that reproduces it. CSVs and Markdown are byte-identical when rebuilt from the same folder.

This module builds the folder (CSVs first, figures beside them, the page last);
``report_text`` turns numbers into text (verdict lines, the Markdown summary) and
``report_html`` renders the page.
"""

from __future__ import annotations

import gc
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ._parallel import Background
from .busy import busy_note, current_rows, mark_busy_claims
from .choice import CHOICE_FILE, race_reports
from .csvtext import write_csv
from .figures import FIGURE_NAMES, FigureJobs
from .figures.race import RACE_FIGURE, race_figures
from .folklore import folklore_table, row_claims
from .load import load_results, machine_topology
from .machines import MACHINES_FILE, compare_machines
from .noise import machine_noise_line, noise_warnings
from .patterns import pattern_figures
from .physics import physics_lines
from .report_html import figures_html, render_html
from .report_text import (
    WARNINGS_FILE,
    Extras,
    lead_answer,
    markdown_summary,
    summary_display,
    verdict_lines,
)
from .stats import crossover_grains, scaling_fits, summarize, weak_scaling
from .stats.blockmodel import model_of
from .stats.keys import name_functions
from .verification import unverified_lines

#: Stands in for the figures while the page is rendered before the last figure is saved
#: (user text in the page is escaped, so it cannot contain this).
FIGURES_MARK = "<!--coresweep:figures-->"


#: From this many rows on, results.csv is written by a forked child (about 0.3 s per 100k rows).
BACKGROUND_MIN_ROWS = 20_000


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
    all_rows, environments, warnings = load_results(paths)
    # busy=rerun: a replaced busy attempt stays in results.csv only; two functions of
    # workload=custom are two workloads to the statistics.
    rows = name_functions(current_rows(all_rows))
    first = paths[0]
    default_out = (first.parent if first.is_file() else first) / "report"
    out_dir = default_out if out_dir is None else Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    files: list[Path] = []
    results_csv = out_dir / "results.csv"
    # Big tables: forked children write results.csv and judge the claims that need only the rows
    # while this process summarises (see _parallel).
    big = len(rows) >= BACKGROUND_MIN_ROWS
    csv_job = Background(_write_results_csv, all_rows, results_csv, allowed=big)
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
        noise=noise_warnings(summary, environments, all_rows),
        physics=physics_lines(summary),
        folklore=mark_busy_claims(folklore_table(summary, rows, topology, claims_job.result), rows),
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
    model = model_of(rows)  # pairs the verdict's comparisons by block (None: one block only)
    verdicts = verdict_lines(summary, model, lambda machine, workload: busy_note(rows, machine, workload))
    extras.machine_noise = machine_noise_line(rows, model.table if model else None) if len(rows) else ""
    extras.machines = compare_machines(summary, rows, environments, topology, model)
    machines_csv = out_dir / MACHINES_FILE
    if extras.machines is not None:
        extras.machines.table.to_csv(machines_csv, index=False, float_format="%.6g", lineterminator="\n")
        files.append(machines_csv)
        # Each machine's own noise line (one line over all machines would mix them).
        extras.machine_noise = " ".join(f"{row[0]}: {row[-1]}" for row in extras.machines.overview[1])
    else:
        machines_csv.unlink(missing_ok=True)  # a rebuild with one machine leaves no stale comparison
    unverified = unverified_lines(rows)  # workload.verify=none: first in the verdict, and boxed
    extras.answer = lead_answer(summary, verdicts)
    if extras.answer and unverified:
        extras.answer = "results not verified (workload.verify=none); " + extras.answer
    verdicts = [*unverified, *verdicts]
    extras.summary_table = summary_display(summary) if len(summary) else ([], [])
    # race=true: the race's answer first (and choice.json beside the page)
    races = race_reports(paths, out_dir, warnings)
    extras.choices = [race.choice["sentence"] for race in races]
    if races:
        files.append(out_dir / CHOICE_FILE)
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
        unverified=unverified,
    )
    figures = figure_jobs.result()
    figures += pattern_figures(summary, rows, topology, out_dir)  # issue 16; none without pattern rows
    figures = race_figures(races, out_dir) + figures
    csv_job.wait()
    claims_job.close()
    for fig in figures:
        files += [fig.png, fig.svg]
    _remove_stale_figures(out_dir, {fig.name for fig in figures})

    index = out_dir / "index.html"
    index.write_text(
        page.replace(FIGURES_MARK, figures_html(figures, figure_jobs.skipped), 1), encoding="utf-8"
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


def _remove_stale_figures(out_dir: Path, drawn: set[str]) -> None:
    """A rebuild into the same folder must not leave an earlier build's figure that this one
    left out (the files would contradict index.html); only our own figure names are touched."""
    for name in (*FIGURE_NAMES, RACE_FIGURE):
        if name not in drawn:
            for suffix in (".png", ".svg"):
                (out_dir / f"{name}{suffix}").unlink(missing_ok=True)


def _write_results_csv(rows: pd.DataFrame, path: Path) -> None:
    """Every row, written to a temporary name first so a reader never sees half a file."""
    tmp = path.with_name(path.name + ".tmp")
    write_csv(rows, tmp)  # pandas' to_csv bytes, in a third of the time
    os.replace(tmp, path)
