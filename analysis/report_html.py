"""The report's page: one self-contained index.html (CSS inline, figures as base64 PNG)."""

from __future__ import annotations

import base64
import html
import json
import shlex
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .figures import FigureFile
from .hosts import LABEL_KEY
from .load import GROUP_KEYS
from .machines import MachinesCompared, section_intro
from .noise import cv_warning, noisy_configurations
from .report_text import (
    FLAG_MARK,
    WARNINGS_FILE,
    Extras,
    crossover_display,
    design_short,
    fmt_num,
    fold_unmeasured,
    folklore_display,
    interval_sentence,
    physics_intro,
    summary_display,
    weak_display,
    weak_sentence,
)
from .verification import unverified_lines

#: Failed rows listed one by one in the HTML; beyond this, results.csv holds them all.
MAX_FAILED_ROWS_SHOWN = 2000


#: Physics flags listed at the top of the HTML; beyond this, warnings.txt and summary.md hold them all.
MAX_FLAGS_SHOWN = 50


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
td.v-depends{color:#8a5a00;font-weight:600}td.v-not{color:#666}p.v-not{color:#555}
.answer{font-size:17px;background:#eef6ee;border:1px solid #9ccf9c;padding:8px 12px;margin:10px 0}
.machine-noise{background:#f3f3f7;border:1px solid #d6d6e0;padding:6px 12px;margin:10px 0}
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


def figures_html(figures: list[FigureFile], skipped: Sequence[tuple[str, str]] = ()) -> str:
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
        if unverified_lines(rows):
            return '<p class="good">Every run succeeded; not all were verified (workload.verify=none).</p>'
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
    first = ["machine", LABEL_KEY, "hostname", "timestamp", "cpu_model", "coresweep_version", "git_commit"]
    first.append("loadavg")
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
            label = env.get(LABEL_KEY) or env.get("machine", "?")
            parts.append(
                f"<p>Sweep <code>{_e(key)}</code> on <b>{_e(label)}</b> ran:</p>"
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


def _machines_html(compared: MachinesCompared, topology: Mapping[str, Mapping[str, Any]]) -> str:
    """The "Machines compared" section: the same tables as summary.md, and the full topology."""
    machines = sorted(topology)
    parts = [f"<p>{_e(section_intro(compared))}</p>", _html_table(*compared.overview)]
    parts += [f"<p>{_e(text)}</p>" for text in compared.not_compared]
    for table in [*compared.tables, *([compared.best] if compared.best else [])]:
        parts += [f"<h3>{_e(table.title)}</h3>", f"<p>{_e(table.note)}</p>"]
        parts.append(_html_table(table.header, table.body))
    header = ["", *machines]
    body = [[f, *[_plain(topology[m].get(f)) for m in machines]] for f in TOPOLOGY_FIELDS]
    parts += ["<h3>Core topology side by side</h3>", _html_table(header, body)]
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
    folklore, unmeasured = fold_unmeasured(folklore)
    folded = f'<p class="v-not">{_e(unmeasured)}</p>' if unmeasured else ""
    if folklore.empty:
        return folded
    header, body = folklore_display(folklore)
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
        "Claims comparing two configurations pair them by round where the sweep has rounds. "
        "Also in folklore.csv.</p>"
        f"<table><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>" + folded
    )


def _choices_html(choices: Sequence[str]) -> str:
    """A race's answer first, as the terminal said it."""
    return "".join(f'<p class="answer" id="choice"><b>Answer:</b> {_choice_html(c)}</p>' for c in choices)


def _choice_html(sentence: str) -> str:
    """A race's sentence, its `code` in <code>."""
    parts = _e(sentence).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


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
        f'<div class="physics" id="physics"><b>Physics checks</b>: {_e(physics_intro(physics))}'
        f"<ul>{items}</ul></div>"
    )


def _unverified_html(lines: Sequence[str]) -> str:
    """workload.verify=none: a box above everything else, as loud as a failure."""
    if not lines:
        return ""
    items = "".join(f"<li>{_e(line)}</li>" for line in lines)
    return f'<div class="warn" id="unverified"><b>Results not verified</b><ul>{items}</ul></div>'


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
        parts.append(_html_table(*crossover_display(extras.crossover)))
    parts.append('<h3 id="weak">Weak scaling (Gustafson)</h3>')
    parts.append(f"<p>{_e(weak_sentence(extras.weak))}</p>".replace("`", ""))
    if len(extras.weak):
        parts.append(_html_table(*weak_display(extras.weak)))
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
    unverified: Sequence[str] = (),
) -> str:
    """The page; ``figures_section`` (e.g. a mark to replace later) stands in for the figures.
    ``unverified``: lines saying results were not verified (boxed at the top)."""
    extras = extras or Extras()
    n_ok = int(rows["ok"].sum()) if len(rows) else 0
    n_failed = len(rows) - n_ok
    machines = sorted(rows["machine"].astype(str).unique()) if len(rows) else []
    sweeps = list(environments)
    title = ("coresweep partial report: " if extras.partial else "coresweep report: ") + ", ".join(
        machines or ["no rows"]
    )
    nav = ["verdict", *(["machines"] if extras.machines is not None else []), "claims", "figures"]
    nav += ["scaling", "summary", "failures"]
    if extras.partial:
        nav.insert(0, "partial")
    if extras.noise:
        nav.insert(0, "noise")
    if extras.physics:
        nav.insert(0, "physics")
    nav += ["environment", "reproduce"]
    if warnings:
        nav.append("warnings")
    header, body = (extras.summary_table or summary_display(summary)) if len(summary) else ([], [])
    numeric = [
        i
        for i, h in enumerate(header)
        if h not in ("machine", "workload", "backend", "start_method", "pinning", "collect")
    ]
    failed_class = "bad" if n_failed else "good"
    # Every warning listed on the page: reading, noise (each noisy configuration counts, as the
    # box below lists them), physics.
    n_warnings = warning_count(summary, warnings, extras) + len(unverified)
    sections = [
        f"<h1>{_e(title)}</h1>",
        f'<p class="meta">Sweeps: {_e(", ".join(sweeps))}</p>',
        f'<p class="counts"><span>{len(rows)} timed runs</span><span class="good">{n_ok} ok</span>'
        f'<span class="{failed_class}">{n_failed} failed</span><span>{len(summary)} configurations</span>'
        f"<span>{n_warnings} warning{'s' if n_warnings != 1 else ''}</span></p>",
        "<nav>" + "".join(f'<a href="#{n}">{n}</a>' for n in nav) + "</nav>",
        _unverified_html(unverified),
        _choices_html(extras.choices),
        (
            f'<p class="answer" id="answer"><b>Your function:</b> {_e(extras.answer)}</p>'
            if extras.answer
            else ""
        ),
        (
            f'<p class="machine-noise" id="machine-noise"><b>Noise during the sweep:</b> '
            f"{_e(extras.machine_noise)}</p>"
            if extras.machine_noise
            else ""
        ),
        _partial_html(extras.partial),
        _physics_html(extras.physics),
        _noise_html(extras.noise),
        '<h2 id="verdict">Verdict</h2>',
        '<ul class="verdict">' + "".join(f"<li>{_e(v)}</li>" for v in verdicts) + "</ul>",
        f'<p class="meta" id="intervals">{_e(interval_sentence(summary))} [low, high] is the 95% interval; '
        "the verdict compares configurations by a paired test per round (multiple comparisons with the best, "
        "3 % equivalence margin), not by whether their intervals overlap.</p>",
        *(
            ['<h2 id="machines">Machines compared</h2>', _machines_html(extras.machines, topology)]
            if extras.machines is not None
            else []
        ),
        '<h2 id="claims">The classic claims, measured</h2>',
        _folklore_html(extras.folklore),
        '<h2 id="figures">Figures</h2>',
        figures_html(figures, skipped_figures) if figures_section is None else figures_section,
        '<h2 id="scaling">Scaling models</h2>',
        _scaling_html(scaling),
        _grain_weak_html(extras),
        '<h2 id="summary">Summary by configuration</h2>',
        "<p>Karp–Flatt e = (1/S − 1/p)/(1 − 1/p): flat e means serial work limits scaling, growing e "
        f"means overhead that grows with workers. Intervals: {_e(design_short(summary))}; "
        f"“{FLAG_MARK}” marks a speedup the cores cannot give (see the physics checks). "
        "Full precision in summary.csv (with interval_design and physics_flag per configuration).</p>",
        f'<div class="scroll">{_html_table(header, body, numeric=numeric)}</div>'
        if body
        else "<p>No rows.</p>",
        '<h2 id="failures">Failures</h2>',
        _failures_html(rows),
    ]
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
