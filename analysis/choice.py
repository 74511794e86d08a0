"""A race's answer (``race=true``, ``+experiment=choose``): from ``race.json`` and the confirmation
rounds' rows to one sentence, the line of code that applies it, and ``choice.json``.

The sweeper runs the race (``experiments/plan/racing.py``) and writes what it decided to
``race.json``: the candidates and their jobs, each round's values and seconds, the drops with
their evidence, the trace, which configurations and rounds confirmed. The answer is computed
here from that record and the rows on disk (``confirm`` on the confirmation rounds alone), by the
sweeper at the end of the run and by every rebuild of the report alike: the terminal,
summary.md, index.html and choice.json say the same, and a folder copied off the machine
rebuilds them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .busy import current_rows
from .load import GROUP_KEYS, load_results
from .stats.compare import MARGIN
from .stats.keys import SEQUENTIAL, name_functions
from .stats.paired import block_log_speedups
from .stats.race import Answer, Drop, Race, confirm

#: In the sweep folder: what the race did (written by the sweeper; read by the report).
RACE_FILE = "race.json"
#: In the sweep folder and in report/: the answer for scripts.
CHOICE_FILE = "choice.json"
#: race.json's format; a reader refuses another.
RACE_FORMAT = 1


class ChoiceError(ValueError):
    """race.json cannot be read as a race (another format, a hand-edited file)."""


# ---------------------------------------------------------------------------- keys and rows


def normal_key(values: Sequence[Any]) -> tuple:
    """A configuration key as plain Python values (NaN as None): keys read from two tables, or
    from JSON, compare equal (two NaN objects never do)."""
    out = []
    for v in values:
        if isinstance(v, np.generic):
            v = v.item()
        if isinstance(v, float) and math.isnan(v):
            v = None
        out.append(v)
    return tuple(out)


def key_fields(key: Sequence[Any]) -> dict[str, Any]:
    """A key as {dimension: value} (``GROUP_KEYS`` order)."""
    return dict(zip(GROUP_KEYS, key))


def race_rows(paths: Sequence[Path | str] | Path | str) -> pd.DataFrame:
    """Rows as the report's statistics see them (busy attempts a rerun replaced left out, several
    custom functions told apart), so the race's keys are the report's."""
    rows, _, _ = load_results(paths)
    return name_functions(current_rows(rows))


def keyed(rows: pd.DataFrame) -> pd.DataFrame:
    """``rows`` with their ``GROUP_KEYS`` columns as plain values (NaN as None)."""
    if rows.empty:
        return rows
    out = rows.copy()
    for col in GROUP_KEYS:
        if col in out:
            out[col] = [normal_key([v])[0] for v in out[col].astype(object)]
    return out


def round_values(rows: pd.DataFrame, round_: int) -> dict[tuple, float]:
    """Each configuration's log speedup in one round, against that round's sequential runs
    (``block_log_speedups`` on the round's rows alone)."""
    part = rows[pd.to_numeric(rows["round"], errors="coerce").eq(round_)] if len(rows) else rows
    blocks = block_log_speedups(part)
    if blocks.empty:
        return {}
    keys = blocks[list(GROUP_KEYS)].itertuples(index=False, name=None)
    return {normal_key(k): float(v) for k, v in zip(keys, blocks["log_speedup"].astype("float64"))}


def job_keys(rows: pd.DataFrame) -> dict[str, tuple]:
    """Each job folder's configuration key (its first row's)."""
    if rows.empty:
        return {}
    first = rows.drop_duplicates("job", keep="first")
    keys = first[list(GROUP_KEYS)].itertuples(index=False, name=None)
    return {str(j): normal_key(k) for j, k in zip(first["job"], keys)}


# ---------------------------------------------------------------------------- race.json


def _num(value: Any) -> Any:
    """JSON has no NaN: None stands for it."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _nan(value: Any) -> float:
    return math.nan if value is None else float(value)


def _clean(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    return _num(obj)


def _drop_dict(d: Drop) -> dict[str, Any]:
    return {**asdict(d), "key": list(d.key), "best": None if d.best is None else list(d.best)}


def race_record(
    race: Race,
    jobs: Mapping[tuple, str],
    confirm_keys: Sequence[tuple],
    confirm_rounds: Sequence[int],
    confirm_seconds: float,
    **extra: Any,
) -> dict[str, Any]:
    """What ``race.json`` holds: the race's state after ``cut_to_confirm`` and its confirmation."""
    return _clean(
        {
            "format": RACE_FORMAT,
            "group_keys": list(GROUP_KEYS),
            "budget_s": race.budget_s,
            "baseline": None if race.baseline is None else list(race.baseline),
            "settings": {
                "first_test": race.first_test,
                "alpha": race.alpha,
                "margin": race.margin,
                "race_share": race.race_share,
                "max_rounds": race.max_rounds,
            },
            "configurations": [
                {
                    "key": list(k),
                    "job": jobs.get(k),
                    "values": {str(r): v for r, v in race.values.get(k, {}).items()},
                    "seconds": list(race.seconds.get(k, [])),
                    "failed_streak": race.failed_streak.get(k, 0),
                }
                for k in race.candidates
            ],
            "rounds": list(race.rounds),
            "spent_s": race.spent_s,
            "stopped": race.stopped,
            "dropped": [_drop_dict(d) for d in race.dropped.values()],
            "history": [
                {**h, "key": list(h["key"]), "best": None if h["best"] is None else list(h["best"])}
                for h in race.history
            ],
            "confirm": {
                "keys": [list(k) for k in confirm_keys],
                "rounds": list(confirm_rounds),
                "seconds": confirm_seconds,
            },
            **extra,
        }
    )


def read_record(sweep_dir: Path | str) -> dict[str, Any] | None:
    """The sweep's race.json (None where the sweep was no race)."""
    path = Path(sweep_dir) / RACE_FILE
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ChoiceError(f"{path}: not readable as JSON ({exc})") from None
    if not isinstance(record, dict) or record.get("format") != RACE_FORMAT:
        raise ChoiceError(f"{path}: not a race record of format {RACE_FORMAT}")
    if list(record.get("group_keys") or []) != list(GROUP_KEYS):
        raise ChoiceError(f"{path}: written for other configuration keys ({record.get('group_keys')})")
    return record


def _key(value: Any) -> tuple | None:
    return None if value is None else normal_key(value)


def race_of(record: Mapping[str, Any]) -> Race:
    """The Race that ``record`` describes (as ``cut_to_confirm`` left it)."""
    configs = record["configurations"]
    cands = [_key(c["key"]) for c in configs]
    settings = record.get("settings") or {}
    race = Race(
        cands,
        float(record["budget_s"]),
        baseline=_key(record.get("baseline")),
        **{k: v for k, v in settings.items() if v is not None},
    )
    for c, k in zip(configs, cands):
        race.values[k] = {int(r): float(v) for r, v in (c.get("values") or {}).items() if v is not None}
        race.seconds[k] = [float(s) for s in c.get("seconds") or []]
        race.failed_streak[k] = int(c.get("failed_streak") or 0)
    race.rounds = [int(r) for r in record.get("rounds") or []]
    race.spent_s = float(record.get("spent_s") or 0.0)
    race.stopped = record.get("stopped")
    for d in record.get("dropped") or []:
        drop = Drop(
            _key(d["key"]),
            int(d["after_round"]),
            _key(d.get("best")),
            _nan(d.get("ratio")),
            _nan(d.get("ratio_low")),
            _nan(d.get("p_value")),
            _nan(d.get("p_holm")),
            int(d.get("rounds") or 0),
            str(d.get("test")),
        )
        race.dropped[drop.key] = drop
    race.history = [
        {**h, "key": _key(h["key"]), "best": _key(h.get("best"))} for h in record.get("history") or []
    ]
    return race


# ---------------------------------------------------------------------------- the answer


def confirmation_blocks(rows: pd.DataFrame, record: Mapping[str, Any]) -> pd.DataFrame:
    """``block_log_speedups`` of the confirmation rounds alone, of the confirmed configurations."""
    rounds = [int(r) for r in record["confirm"]["rounds"]]
    keys = {_key(k) for k in record["confirm"]["keys"]}
    if rows.empty or not rounds:
        return block_log_speedups(rows.iloc[:0])
    part = rows[pd.to_numeric(rows["round"], errors="coerce").isin(rounds)]
    blocks = keyed(block_log_speedups(part))
    if blocks.empty:
        return blocks
    mine = [normal_key(k) in keys for k in blocks[list(GROUP_KEYS)].itertuples(index=False, name=None)]
    return blocks[mine].reset_index(drop=True)


def answer_of(rows: pd.DataFrame, record: Mapping[str, Any]) -> Answer:
    """``confirm`` on the confirmation rounds' rows, with the race that ``record`` describes."""
    race = race_of(record)
    return confirm(confirmation_blocks(rows, record), race, float(record["confirm"]["seconds"] or 0.0))


def label(key: Sequence[Any] | None, record: Mapping[str, Any] | None = None) -> str:
    """``process_pool with 2 workers`` (its start method too where the race had several)."""
    if key is None:
        return "none"
    f = key_fields(key)
    if f["backend"] == SEQUENTIAL:
        return "sequential"
    n = f["workers"]
    text = f"{f['backend']} with {n} worker{'s' if n != 1 else ''}"
    if record is not None and f["start_method"] not in (None, "none") and _several_methods(f, record):
        text += f" ({f['start_method']})"
    return text


def _several_methods(f: Mapping[str, Any], record: Mapping[str, Any]) -> bool:
    methods = {
        key_fields(c["key"])["start_method"]
        for c in record.get("configurations") or []
        if key_fields(c["key"])["backend"] == f["backend"]
    }
    return len(methods) > 1


#: The constructor that applies each backend, by its coresweep name ({n}: workers).
CODE = {
    "thread_pool": "ThreadPoolExecutor(max_workers={n})",
    "process_pool": "ProcessPoolExecutor(max_workers={n}{ctx_kw})",
    "pool": "{ctx}Pool(processes={n})",
    "joblib_loky": 'Parallel(n_jobs={n}, backend="loky")',
    "joblib_threading": 'Parallel(n_jobs={n}, backend="threading")',
    "joblib_multiprocessing": 'Parallel(n_jobs={n}, backend="multiprocessing")',
    "thread": "threading.Thread(target=work, args=(chunk,))  # one per chunk, {n} threads",
    "process": "{ctx}Process(target=work, args=(chunk,))  # one per chunk, {n} processes",
    "interpreter_pool": "InterpreterPoolExecutor(max_workers={n})",
    "dask_distributed": "Client(LocalCluster(n_workers={n}))",
}
SEQUENTIAL_CODE = "run it sequentially"


def code_line(key: Sequence[Any] | None, record: Mapping[str, Any] | None = None) -> str:
    """The line of code that applies a configuration (its start method named where the race
    compared several, as ``multiprocessing.get_context("spawn")``)."""
    if key is None:
        return ""
    f = key_fields(key)
    if f["backend"] == SEQUENTIAL:
        return SEQUENTIAL_CODE
    template = CODE.get(str(f["backend"]))
    if template is None:
        return f"backend={f['backend']} with workers={f['workers']}"
    method = f["start_method"]
    several = record is not None and method not in (None, "none") and _several_methods(f, record)
    ctx = f'multiprocessing.get_context("{method}").' if several else ""
    ctx_kw = f', mp_context=multiprocessing.get_context("{method}")' if several else ""
    if not ctx and f["backend"] == "process":
        ctx = "multiprocessing."
    return template.format(n=f["workers"], ctx=ctx, ctx_kw=ctx_kw)


def _x(value: float) -> str:
    return f"{value:.2f}x" if np.isfinite(value) else "?x"


def _interval(entry: Any) -> str:
    if not (np.isfinite(entry.low) and np.isfinite(entry.high)):
        return _x(entry.speedup)
    return f"{_x(entry.speedup)} [{entry.low:.2f}, {entry.high:.2f}]"


def _versus(entry: Any) -> str:
    """How the interval stands against 1 (sequential)."""
    if np.isfinite(entry.low) and entry.low > 1:
        return "faster than sequential"
    if np.isfinite(entry.high) and entry.high < 1:
        return "slower than sequential"
    return "against sequential (not clearly faster)"


def _nice_budget(seconds: float | None) -> int | None:
    if seconds is None or not np.isfinite(seconds):
        return None
    return int(10 * math.ceil(seconds / 10))


def _used(answer: Answer) -> str:
    return f"{answer.used_s:.0f} of {answer.budget_s:g} s used."


def _dropped_text(answer: Answer, baseline: tuple | None) -> str:
    """How many parallel configurations the race dropped (the cut ones are not counted)."""
    raced = sum(
        1 for k, d in answer.dropped.items() if k != baseline and not d.test.startswith("not confirmed")
    )
    if raced <= 0:
        return ""
    return f" {raced} configuration{'s' if raced != 1 else ''} dropped in the race as clearly slower."


def _fastest_dropped(answer: Answer, baseline: tuple | None, record: Mapping[str, Any]) -> str:
    """"the fastest of them, X, ran at 0.62x in the race": the drop against sequential with the
    smallest time ratio (the race's own estimate, as the evidence of the drop)."""
    against = [
        d for k, d in answer.dropped.items() if k != baseline and d.best == baseline and np.isfinite(d.ratio)
    ]
    if not against:
        return ""
    d = min(against, key=lambda d: d.ratio)
    return f"the fastest of them, {label(d.key, record)}, ran at {_x(1 / d.ratio)} in the race"


def sentence(answer: Answer, record: Mapping[str, Any], rows: pd.DataFrame | None = None) -> str:
    """The answer in one sentence, ending with the line of code that applies it."""
    margin = float((record.get("settings") or {}).get("margin") or MARGIN)
    baseline = _key(record.get("baseline"))
    failed = _all_failed(rows, baseline)
    if failed:
        return failed
    used = _used(answer)
    if answer.decided and answer.best is not None:
        best = answer.entries.get(answer.best)
        if answer.best == baseline:
            faster = [e for k, e in answer.entries.items() if k != baseline]
            why = "every parallel configuration was clearly slower"
            if any(e.in_best_set for e in faster):
                why = f"no parallel configuration is more than {margin * 100:.0f} % faster"
            others = "; ".join(f"{label(e.key, record)} {_interval(e)}" for e in faster)
            if not others:
                others = _fastest_dropped(answer, baseline, record)
            text = f"Run it sequentially: {why}" + (f" ({others})" if others else "") + "."
            return f"{text}{_dropped_text(answer, baseline)} {used} Apply it: {SEQUENTIAL_CODE}."
        parts = [f"Use {label(answer.best, record)}: {_interval(best)} {_versus(best)}"]
        for k in answer.best_set:
            if k == answer.best:
                continue
            parts.append(f"{label(k, record)} is within {margin * 100:.0f} % (cannot be told apart)")
        for k, e in answer.entries.items():
            if k in answer.best_set or k == baseline:
                continue
            parts.append(f"{label(k, record)} {_interval(e)}")
        text = "; ".join(parts) + "."
        return f"{text}{_dropped_text(answer, baseline)} {used} Apply it: `{code_line(answer.best, record)}`"
    needed = _nice_budget(answer.budget_needed_s)
    would = f"; budget_s={needed} would decide" if needed else ""
    if answer.rounds_needed:
        would += f" (about {answer.rounds_needed} confirmation rounds)"
    if answer.confirm_rounds < 2:
        leaders = ", ".join(label(k, record) for k in answer.best_set) or "none"
        return (
            f"The budget was too small to decide: budget_s={answer.budget_s:g} held {answer.race_rounds} "
            f"race round{'s' if answer.race_rounds != 1 else ''} and {answer.confirm_rounds} confirmation "
            f"round{'s' if answer.confirm_rounds != 1 else ''} (an interval needs 2){would}. "
            f"Leading in the race: {leaders}. {used}"
        )
    members = [
        label(k, record) if k == baseline else f"{label(k, record)} ({_interval(answer.entries[k])})"
        for k in answer.best_set
        if k in answer.entries
    ]
    codes = [SEQUENTIAL_CODE if k == baseline else f"`{code_line(k, record)}`" for k in answer.best_set]
    return (
        f"Undecided between {_join(members)}: {answer.confirm_rounds} confirmation rounds cannot tell "
        f"whether they differ by more than {margin * 100:.0f} %{would}. {used} "
        f"Either applies: {' or '.join(codes)}"
    )


def _join(items: list[str]) -> str:
    if len(items) <= 2:
        return " and ".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _all_failed(rows: pd.DataFrame | None, baseline: tuple | None) -> str:
    """ "No answer: ..." where the sequential baseline never ran correctly (nothing has a speedup)."""
    if rows is None or rows.empty or "ok" not in rows:
        return ""
    seq = rows[rows["backend"].astype(str).eq(SEQUENTIAL)]
    if len(seq) and seq["ok"].astype(bool).any():
        return ""
    errors = rows.loc[~rows["ok"].astype(bool), "error"].dropna().astype(str)
    first = errors.iloc[0].splitlines()[0] if len(errors) else "no error recorded"
    what = "every run failed" if not rows["ok"].astype(bool).any() else "the sequential baseline never ran"
    return f"No answer: {what} (first error: {first}); the report lists the failures."


def choice_dict(answer: Answer, record: Mapping[str, Any], text: str, report: str | None = None) -> dict:
    """choice.json: ``Answer.to_dict`` with the sentence, the code line and the best's dimensions."""
    out = answer.to_dict()
    out.update(
        group_keys=list(GROUP_KEYS),
        best_config=None if answer.best is None else key_fields(answer.best),
        code=code_line(answer.best, record) if answer.decided else None,
        codes={label(k, record): code_line(k, record) for k in answer.best_set},
        sentence=text,
        report=report,
    )
    return _clean(out)


def write_choice(
    sweep_dir: Path | str,
    out_dirs: Sequence[Path | str],
    rows: pd.DataFrame | None = None,
    report: str | None = None,
) -> dict | None:
    """Compute the answer of the race in ``sweep_dir`` and write choice.json in each of
    ``out_dirs``; returns it (None where the sweep was no race)."""
    record = read_record(sweep_dir)
    if record is None:
        return None
    if rows is None:
        rows = race_rows([sweep_dir])
    answer = answer_of(rows, record)
    choice = choice_dict(answer, record, sentence(answer, record, rows), report)
    text = json.dumps(choice, indent=2) + "\n"
    for folder in map(Path, out_dirs):
        (folder / CHOICE_FILE).write_text(text, encoding="utf-8")
    return choice


@dataclass
class RaceReport:
    """What a report shows of one race: its record, its answer, the confirmation rounds' values."""

    folder: Path
    record: dict[str, Any]
    choice: dict[str, Any]
    confirm_values: dict[tuple, dict[int, float]]


def race_reports(paths: Sequence[Path], out_dir: Path, warnings: list[str]) -> list[RaceReport]:
    """The races among ``paths`` (folders with race.json), their answers written to
    ``out_dir``/choice.json (one race; several: the first). An unreadable race.json is a line
    in ``warnings``, not a failed report."""
    found: list[RaceReport] = []
    for path in paths:
        folder = path.parent if path.is_file() else path
        try:
            record = read_record(folder)
        except ChoiceError as exc:
            warnings.append(str(exc))
            continue
        if record is None:
            continue
        rows = race_rows([folder])
        choice = write_choice(folder, [] if found else [out_dir], rows, str(out_dir / "index.html"))
        assert choice is not None
        values: dict[tuple, dict[int, float]] = {}
        for r in record["confirm"]["rounds"]:
            for k, v in round_values(rows, int(r)).items():
                values.setdefault(k, {})[int(r)] = v
        found.append(RaceReport(folder, record, choice, values))
    return found
