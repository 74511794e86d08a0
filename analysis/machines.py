"""Machines compared: for each configuration two machines ran, do their answers differ beyond the noise?

The figures put machines side by side; a reader still has to judge whether two speedups differ
or only look different. Here each configuration both machines ran gets both speedups with their
intervals, their ratio and a test: the two machines are independent, so the difference of the
log speedups has the two standard errors combined (each taken from its interval with the
quantile its design used: t over rounds, the pooled model's dof, or the normal for a one-round
bootstrap), Welch-Satterthwaite dof. The machines need not have used one design: a sweep in one
round against one in rounds is compared as well as they allow, and a one-round interval, which
leaves out the drift between jobs and is too narrow, is flagged wherever it enters a verdict.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .load import GROUP_KEYS
from .noise import machine_noise_line
from .report_text import (
    FLAG_MARK,
    config_name,
    fmt_num,
    fmt_ratio_ci,
    fmt_seconds,
    is_flagged,
    speedup_text,
    varying_per_backend,
)
from .stats import DESIGN_MODERATED, DESIGN_ROUNDS, DESIGN_RUNS, SEQUENTIAL, TIME_MODEL, best_per_workload
from .stats.blockmodel import BlockModel, satterthwaite, t_quantile_real
from .stats.compare import MARGIN
from .stats.summary import DESIGN_PAIRS

#: The tidy table of every comparison, written beside summary.csv when the report has 2+ machines.
MACHINES_FILE = "machines.csv"
CONFIDENCE = 0.95
#: Beside a verdict that rests on a one-round interval (bootstrap over the runs of one job).
ONE_ROUND_FLAG = "one round: interval ignores drift"
#: What is compared per configuration (speedup), and per baseline (the sequential time).
SPEEDUP, SEQUENTIAL_TIME = "speedup", "sequential wall_s"
TABLE_COLUMNS: tuple[str, ...] = (
    "quantity", "machine_a", "machine_b", *[k for k in GROUP_KEYS if k != "machine"],
    "a", "a_low", "a_high", "a_design", "b", "b_low", "b_high", "b_design",
    "ratio", "ratio_low", "ratio_high", "dof", "differ", "verdict",
)  # fmt: skip


@dataclass(frozen=True)
class Estimate:
    """One machine's value of a configuration, its 95 % interval and where the interval came from."""

    value: float
    low: float
    high: float
    #: Standard error and dof of log(value), from the interval and its design's quantile.
    se: float
    dof: float
    #: "3 rounds", "5 rounds, pooled", "1 round, runs only"
    design: str
    one_round: bool


@dataclass
class PairTable:
    """One comparison table (Markdown and HTML render the same cells)."""

    title: str
    header: list[str]
    body: list[list[str]]
    note: str = ""


@dataclass
class MachinesCompared:
    """The section: each machine at a glance, then per pair of machines the comparison tables."""

    overview: tuple[list[str], list[list[str]]]
    tables: list[PairTable] = field(default_factory=list)
    #: Every comparison, one row each (``TABLE_COLUMNS``): machines.csv.
    table: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: Where the fastest configuration differs between machines.
    best: PairTable | None = None
    #: Per pair, what only one machine ran (so nothing to compare it with), one line each.
    not_compared: list[str] = field(default_factory=list)


def _design_of(
    row: Mapping[str, Any], model_dof: Mapping[tuple, float], wall: bool
) -> tuple[str, float, bool]:
    """(short design text, dof of the interval's quantile, one round?) of a summary row's interval."""
    rounds = int(row["rounds"]) if pd.notna(row.get("rounds")) else 1
    design = str(row.get("interval_design") or "")
    if rounds < 2 or design == DESIGN_RUNS:
        return "1 round, runs only", np.inf, True
    if wall:  # the wall-time interval: t over the rounds' medians
        return f"{rounds} rounds", float(rounds - 1), False
    if design in (DESIGN_MODERATED, TIME_MODEL):
        dof = model_dof.get(tuple(row[k] for k in GROUP_KEYS), np.inf)
        return f"{rounds} rounds, pooled", float(dof), False
    if design in (DESIGN_ROUNDS, DESIGN_PAIRS):
        return f"{rounds} rounds" + (", pairs" if design == DESIGN_PAIRS else ""), float(rounds - 1), False
    return f"{rounds} rounds", float(rounds - 1), False


def estimate(value: Any, low: Any, high: Any, design: str, dof: float, one_round: bool) -> Estimate | None:
    """An interval as a standard error on the log scale: its log half-width over the quantile it
    was built with; None where the value or its interval is missing."""
    try:
        v, lo, hi = float(value), float(low), float(high)
    except (TypeError, ValueError):
        return None
    if not (np.isfinite([v, lo, hi]).all() and min(v, lo, hi) > 0 and hi >= lo):
        return None
    half = (math.log(hi) - math.log(lo)) / 2.0
    se = half / t_quantile_real(CONFIDENCE, dof)
    return Estimate(v, lo, hi, se, dof, design, one_round)


def difference(
    a: Estimate, b: Estimate, margin: float = MARGIN
) -> tuple[float, float, float, float, str, bool]:
    """b / a with its 95 % interval (Welch on the logs), the dof, a verdict and whether they differ.

    The verdict says "yes: B higher" (or lower) when the ratio's interval excludes 1, "no: equal
    within 3 %" when it lies inside [1/1.03, 1.03], else "no"; with a one-round side it ends with
    ``ONE_ROUND_FLAG``.
    """
    d = math.log(b.value) - math.log(a.value)
    se = math.hypot(a.se, b.se)
    dof = satterthwaite(np.array([a.se**2, b.se**2]), np.array([a.dof, b.dof]))
    half = t_quantile_real(CONFIDENCE, dof) * se
    ratio, low, high = math.exp(d), math.exp(d - half), math.exp(d + half)
    differ = bool(low > 1.0 or high < 1.0)
    if differ:
        verdict = f"yes: B {'higher' if ratio > 1 else 'lower'}"
    elif low >= 1.0 / (1.0 + margin) and high <= 1.0 + margin:
        verdict = f"no: equal within {margin:.0%}"
    else:
        verdict = "no"
    if a.one_round or b.one_round:
        verdict += f" ({ONE_ROUND_FLAG})"
    return ratio, low, high, float(dof), verdict, differ


def _match_keys(summary: pd.DataFrame) -> list[str]:
    """The keys that name one configuration on every machine: all but the machine, and the
    interpreter too where each machine ran one (3.11.7 on one, 3.12.3 on the other is the same
    configuration of two machines; the overview names each machine's Python)."""
    keys = [k for k in GROUP_KEYS if k != "machine"]
    per_machine = summary.groupby("machine")[["python", "gil_enabled"]].nunique(dropna=False)
    if len(per_machine) and bool((per_machine.max(axis=1) <= 1).all()):
        keys = [k for k in keys if k not in ("python", "gil_enabled")]
    return keys


def _model_dof(model: BlockModel | None) -> dict[tuple, float]:
    if model is None or model.table.empty or "dof" not in model.table:
        return {}
    t = model.table
    return {
        tuple(k): float(d)
        for k, d in zip(t[list(GROUP_KEYS)].itertuples(index=False, name=None), t["dof"].astype("float64"))
    }


def _estimates(
    part: pd.DataFrame, keys: list[str], model_dof: Mapping[tuple, float], wall: bool
) -> dict[tuple, tuple[Estimate, Mapping[str, Any]]]:
    out = {}
    cols = (
        ("median_wall_s", "wall_ci_low", "wall_ci_high")
        if wall
        else ("speedup", "speedup_ci_low", "speedup_ci_high")
    )
    for _, r in part.iterrows():
        design, dof, one = _design_of(r, model_dof, wall)
        est = estimate(r[cols[0]], r[cols[1]], r[cols[2]], design, dof, one)
        if est is not None:
            out[tuple(r[k] for k in keys)] = (est, r)
    return out


def compare_pair(
    summary: pd.DataFrame, a: str, b: str, model: BlockModel | None = None, keys: Sequence[str] | None = None
) -> pd.DataFrame:
    """Every configuration machines ``a`` and ``b`` both ran, compared (``TABLE_COLUMNS``): the
    speedups of the parallel configurations, and the sequential time of each baseline."""
    keys = list(keys) if keys is not None else _match_keys(summary)
    model_dof = _model_dof(model)
    records = []
    for quantity in (SPEEDUP, SEQUENTIAL_TIME):
        wall = quantity == SEQUENTIAL_TIME
        sel = summary["backend"].eq(SEQUENTIAL) if wall else summary["backend"].ne(SEQUENTIAL)
        left = _estimates(summary[sel & summary["machine"].eq(a)], keys, model_dof, wall)
        right = _estimates(summary[sel & summary["machine"].eq(b)], keys, model_dof, wall)
        for key in sorted(set(left) & set(right), key=lambda k: [str(v) for v in k]):
            (ea, ra), (eb, rb) = left[key], right[key]
            ratio, low, high, dof, verdict, differ = difference(ea, eb)
            rec = {k: ra[k] for k in GROUP_KEYS if k != "machine"}
            rec.update(
                quantity=quantity, machine_a=a, machine_b=b,
                a=ea.value, a_low=ea.low, a_high=ea.high, a_design=ea.design,
                b=eb.value, b_low=eb.low, b_high=eb.high, b_design=eb.design,
                ratio=ratio, ratio_low=low, ratio_high=high, dof=dof, differ=differ, verdict=verdict,
                _flag_a=is_flagged(ra), _flag_b=is_flagged(rb),
            )  # fmt: skip
            records.append(rec)
    frame = pd.DataFrame.from_records(records, columns=[*TABLE_COLUMNS, "_flag_a", "_flag_b"])
    return frame


def not_compared(summary: pd.DataFrame, a: str, b: str, keys: Sequence[str]) -> str:
    """One line naming what only one of ``a`` and ``b`` ran (e.g. io_sleep at another grain), or ""."""
    keys = list(keys)
    mine = {m: summary[summary["machine"].astype(str).eq(m)] for m in (a, b)}
    sets = {m: set(part[keys].itertuples(index=False, name=None)) for m, part in mine.items()}
    parts = []
    for m, other in ((a, b), (b, a)):
        part = mine[m]
        alone = part[[k not in sets[other] for k in part[keys].itertuples(index=False, name=None)]]
        if alone.empty:
            continue
        groups = alone.groupby(["workload", "size", "grain"], sort=True, dropna=False).size()
        listed = ", ".join(
            f"{w} (size {s}, grain {g}): {n} configuration{'s' if n != 1 else ''}"
            for (w, s, g), n in groups.items()
        )
        parts.append(f"only on {m}: {listed}")
    if not parts:
        return ""
    return (
        f"Not compared ({a} against {b}), as no configuration of the other machine matches them "
        f"(a different size or grain is another configuration): {'; '.join(parts)}."
    )


def _dims(table: pd.DataFrame) -> list[str]:
    """The configuration's columns worth showing: workload, size, backend, workers and what varies."""
    fixed = ["workload", "size", "backend"]
    vary = [
        k for k in GROUP_KEYS
        if k not in (*fixed, "machine", "workers") and k in table and table[k].nunique(dropna=False) > 1
    ]  # fmt: skip
    return [*fixed, *vary, "workers"]


def _cell(value: float, low: float, high: float, design: str, wall: bool, flagged: bool) -> str:
    if wall:
        text = f"{fmt_seconds(value)} [{fmt_seconds(low)}, {fmt_seconds(high)}]"
    else:
        text = fmt_ratio_ci(value, low, high)
    text += f" ({design})"
    return f"{text} {FLAG_MARK}" if flagged else text


def pair_tables(table: pd.DataFrame, a: str, b: str) -> list[PairTable]:
    """The speedup table and the sequential-time table of one pair, as text cells."""
    out: list[PairTable] = []
    for quantity in (SPEEDUP, SEQUENTIAL_TIME):
        part = table[table["quantity"].eq(quantity)]
        if part.empty:
            continue
        wall = quantity == SEQUENTIAL_TIME
        dims = [d for d in _dims(part) if not (wall and d in ("backend", "workers"))]
        what = "sequential time" if wall else "speedup"
        header = [*dims, f"A = {a}: {what} [95% CI]", f"B = {b}: {what} [95% CI]", "B / A [95% CI]",
                  "differ beyond intervals?"]  # fmt: skip
        body = []
        for _, r in part.iterrows():
            body.append(
                [
                    *[str(r[d]) for d in dims],
                    _cell(r["a"], r["a_low"], r["a_high"], r["a_design"], wall, bool(r["_flag_a"])),
                    _cell(r["b"], r["b_low"], r["b_high"], r["b_design"], wall, bool(r["_flag_b"])),
                    fmt_ratio_ci(r["ratio"], r["ratio_low"], r["ratio_high"]),
                    str(r["verdict"]),
                ]
            )
        n_differ = int(part["differ"].sum())
        counts = f"{n_differ} of {len(part)} differ beyond their intervals"
        if wall:
            title = f"Sequential time: {a} against {b}"
            note = (
                "One core's speed: the sequential baseline's median time on each machine (B / A below 1: "
                f"B is faster): {counts}. "
            )
            note += "Tested as the speedups above." if out else _test_note(part)
        else:
            title = f"Speedups: {a} against {b}"
            note = "Each configuration both machines ran, its speedup on each (against that machine's own "
            note += f"sequential time) and their ratio: {counts}. " + _test_note(part)
        out.append(PairTable(title, header, body, note))
    return out


def _test_note(part: pd.DataFrame) -> str:
    """How "differ beyond intervals" is decided, which designs gave the intervals, and what a
    one-round interval cannot tell."""
    designs = sorted({*part["a_design"].astype(str), *part["b_design"].astype(str)})
    note = (
        "The test: the machines are independent, so the log ratio's standard error combines the two, "
        "each taken from its machine's interval with the quantile that interval was built with (t over "
        "rounds with rounds − 1 dof; the pooled model's dof; the normal for a one-round bootstrap), "
        "Welch–Satterthwaite dof; “yes” = the ratio's 95% interval excludes 1, “equal within "
        f"{MARGIN:.0%}” = it lies inside [{1 / (1 + MARGIN):.3f}, {1 + MARGIN:.2f}]. Each row is tested at "
        f"5 %: were the machines equal, about {0.05 * len(part):.1f} of these {len(part)} rows would say "
        "“yes” by chance. Intervals from: " + "; ".join(f"“{d}”" for d in designs) + "."
    )
    if part["verdict"].str.contains(ONE_ROUND_FLAG, regex=False).any():
        note += (
            " A one-round interval (“1 round, runs only”: a bootstrap over one job's runs) leaves out "
            "the machine's drift between jobs and is too narrow (its measured coverage is well below "
            f"95 %, docs/measurement.md), so a verdict marked “{ONE_ROUND_FLAG}” can be drift: a "
            "difference of a few percent there is not established. Record that machine again with "
            "rounds=3 or more to compare it honestly."
        )
    return note


def _overview(
    summary: pd.DataFrame,
    rows: pd.DataFrame,
    environments: Mapping[str, Mapping[str, Any]],
    topology: Mapping[str, Mapping[str, Any]],
    model: BlockModel | None,
    machines: Sequence[str],
) -> tuple[list[str], list[list[str]]]:
    header = ["machine", "CPU model", "cores", "Python", "sweeps, design", "noise during the sweep"]
    body = []
    table = model.table if model is not None and not model.table.empty else None
    for m in machines:
        topo = topology.get(m, {})
        mine = rows[rows["machine"].astype(str).eq(m)]
        cores = (
            f"{topo.get('physical_cores', '?')} physical, {topo.get('logical_cores', '?')} logical, "
            f"{fmt_num(topo.get('usable_cpus'))} usable"
        )
        part = summary[summary["machine"].astype(str).eq(m)]
        rounds = int(part["rounds"].max()) if len(part) and "rounds" in part else 1
        runs = mine[mine["ok"]].groupby([*GROUP_KEYS, "sweep_id", "round"], dropna=False).size()
        per_round = fmt_num(float(runs.median()), 2) if len(runs) else "?"
        sweeps = mine["sweep_id"].nunique()
        design = (
            f"{sweeps} sweep{'s' if sweeps != 1 else ''}; {rounds} round{'s' if rounds != 1 else ''} × "
            f"{per_round} run{'s' if per_round != '1' else ''} per job"
        )
        mine_table = table[table["machine"].astype(str).eq(m)] if table is not None else None
        noise = machine_noise_line(mine, mine_table) if len(mine) else "–"
        pythons = ", ".join(sorted(part["python"].astype(str).unique())) if len(part) else "–"
        body.append(
            [m, str(topo.get("cpu_model") or _env_model(environments, m)), cores, pythons, design, noise]
        )
    return header, body


def _env_model(environments: Mapping[str, Mapping[str, Any]], machine: str) -> str:
    from .hosts import LABEL_KEY

    for env in environments.values():
        if (env.get(LABEL_KEY) or env.get("machine") or env.get("hostname")) == machine:
            return str(env.get("cpu_model") or "?")
    return "?"


def _best_table(summary: pd.DataFrame, machines: Sequence[str]) -> PairTable | None:
    """The fastest configuration per workload on each machine, and whether one answer fits all."""
    best = best_per_workload(summary)
    if best.empty:
        return None
    vary = varying_per_backend(summary)
    body = []
    for (workload, size), part in best.groupby(["workload", "size"], sort=True):
        by_machine = {str(r["machine"]): r for _, r in part.iterrows()}
        picks = {m: (str(r["backend"]), int(r["workers"])) for m, r in by_machine.items()}
        differs = len(set(picks.values())) > 1 or len(by_machine) < len(machines)
        cells = [str(workload), str(size)]
        for m in machines:
            r = by_machine.get(m)
            cells.append("–" if r is None else f"{config_name(r, vary)}: {speedup_text(r)}")
        cells.append("yes" if differs else "no")
        body.append(cells)
    return PairTable(
        "Where the best backend or worker count differs",
        ["workload", "size", *machines, "differs"],
        body,
        "The fastest configuration (lowest median time) per workload on each machine; each machine's "
        "verdict above says whether its data can name it. “differs” says whether one answer fits every "
        "machine.",
    )


def compare_machines(
    summary: pd.DataFrame,
    rows: pd.DataFrame,
    environments: Mapping[str, Mapping[str, Any]],
    topology: Mapping[str, Mapping[str, Any]],
    model: BlockModel | None = None,
) -> MachinesCompared | None:
    """The "Machines compared" section, or None for a report of one machine."""
    if summary.empty:
        return None
    machines = sorted(summary["machine"].astype(str).unique())
    if len(machines) < 2:
        return None
    keys = _match_keys(summary)
    result = MachinesCompared(_overview(summary, rows, environments, topology, model, machines))
    frames = []
    for a, b in itertools.combinations(machines, 2):
        table = compare_pair(summary, a, b, model, keys)
        frames.append(table)
        result.tables += pair_tables(table, a, b)
        line = not_compared(summary, a, b, keys)
        if line:
            result.not_compared.append(line)
    result.table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=TABLE_COLUMNS)
    result.table = result.table[list(TABLE_COLUMNS)]
    result.best = _best_table(summary, machines)
    return result


def section_intro(compared: MachinesCompared) -> str:
    """The sentence under the section's title."""
    n = len(compared.overview[1])
    return (
        f"{n} machines. Each has its own verdict above (a machine's rows are never blocks of another's), "
        "and sits beside the others in every figure. Below: each machine at a glance, then per pair of "
        f"machines every configuration both ran (also in {MACHINES_FILE})."
    )
