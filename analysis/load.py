"""Read results folders into one tidy table: every row kept, every oddity reported, nothing fatal.

A report is often rebuilt from a folder copied off another machine, maybe half-written
(a sweep killed mid-row) or produced by another coresweep version. So reading never stops at
the first surprise: a bad line, an empty job or an unknown schema becomes a warning and the
rest is still read. Only "nothing to read at all" is an error.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import schema as _schema
from ..schema import ENVIRONMENT_FILE, KNOWN_SCHEMAS, RESULTS_FILE, SCHEMA
from ._gc import paused_gc
from .hosts import LABEL_KEY, host_labels

#: Folders never searched for rows: our own output and Hydra's bookkeeping.
SKIP_DIRS = frozenset({"report", ".hydra", "__pycache__", ".git"})

#: One configuration = one value of each of these (the sweep's dimensions).
GROUP_KEYS: tuple[str, ...] = _schema.names(group=True)
#: The pattern workloads' dimensions (schema 2), and what a row without them means: the
#: workload does not use them (no warning: most rows are of such workloads).
PATTERN_DEFAULTS: dict[str, Any] = _schema.defaults(warn=False)

STR_COLUMNS = _schema.names(type="str")
INT_COLUMNS = _schema.names(type="int")
FLOAT_COLUMNS = _schema.names(type="float")
BOOL_COLUMNS = _schema.names(type="bool")
#: The column order of ``results.csv``; unknown extra fields follow, sorted by name.
COLUMNS: tuple[str, ...] = _schema.names(column=True)
#: What a missing dimension means (an older runner that did not sweep it used the default).
KEY_DEFAULTS: dict[str, Any] = _schema.defaults(warn=True)


class AnalysisError(Exception):
    """A problem the user must fix (bad path, nothing to read); shown as one line, no traceback."""


class NoResultsError(AnalysisError):
    """A folder that holds no ``results.jsonl`` at all."""


def find_results(paths: Sequence[Path | str]) -> list[Path]:
    """Every ``results.jsonl`` under the given folders (sorted, de-duplicated, ``report/`` skipped)."""
    found: set[Path] = set()
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise AnalysisError(f"path does not exist: {path}")
        if path.is_file():
            if path.name != RESULTS_FILE:
                raise NoResultsError(f"not a results file: {path}: expected <sweep>/<job>/{RESULTS_FILE}")
            found.add(path.resolve())
            continue
        here: list[Path] = []
        # Walked from the resolved folder (the walk does not enter linked folders), so a file's
        # path needs resolving only when the file itself is a link (resolving every path, a
        # dozen system calls each, took as long as the walk).
        for root, dirs, files in os.walk(path.resolve()):
            dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS)
            if RESULTS_FILE in files:
                found_file = Path(root, RESULTS_FILE)
                here.append(found_file.resolve() if found_file.is_symlink() else found_file)
        if not here:
            raise NoResultsError(f"no results found under {path}: expected <sweep>/<job>/{RESULTS_FILE}")
        found.update(here)
    return sorted(found, key=_path_sort_key)


def _path_sort_key(path: Path) -> tuple:
    """Job folders "2" before "10": numeric parts compare as numbers."""
    parts = []
    for part in path.parts:
        parts.append((0, int(part), "") if part.isdigit() else (1, 0, part))
    return tuple(parts)


def _sweep_dir_of(results_file: Path) -> Path:
    """The nearest folder above the job that holds ``environment.json`` (else the job's parent)."""
    job_dir = results_file.parent
    for candidate in (job_dir.parent, job_dir, job_dir.parent.parent):
        if (candidate / ENVIRONMENT_FILE).is_file():
            return candidate
    return job_dir.parent


def _read_environment(sweep_dir: Path, warnings: list[str]) -> dict[str, Any]:
    path = sweep_dir / ENVIRONMENT_FILE
    if not path.is_file():
        warnings.append(f"{sweep_dir}: no {ENVIRONMENT_FILE}; environment details are missing")
        return {}
    try:
        env = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        warnings.append(f"{path}: unreadable ({exc}); environment details are missing")
        return {}
    if not isinstance(env, dict):
        warnings.append(f"{path}: not a JSON object; ignored")
        return {}
    if env.get("schema", SCHEMA) not in KNOWN_SCHEMAS:
        warnings.append(
            f"{path}: schema {env.get('schema')!r} (this reader knows {SCHEMA}); read as best it can"
        )
    return env


def _read_jsonl(path: Path, warnings: list[str]) -> list[dict[str, Any]]:
    """Rows of one file. Fast path: the whole file as one JSON array; per-line only on trouble."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        warnings.append(f"{path}: unreadable ({exc}); skipped")
        return []
    body = text.strip()
    if not body:
        return []
    try:  # (splitting into lines and joining them again cost 0.07 s per 100k rows)
        rows = json.loads("[" + body.replace("\n", ",") + "]")
        if all(isinstance(row, dict) for row in rows):
            return rows
    except json.JSONDecodeError:
        pass
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    rows = []
    last = len(lines) - 1
    for number, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            if number == last:
                warnings.append(
                    f"{path}:{number + 1}: truncated last line ignored (a run cut short while writing?)"
                )
            else:
                warnings.append(f"{path}:{number + 1}: invalid JSON ({exc.msg}); line skipped")
            continue
        if not isinstance(row, dict):
            warnings.append(f"{path}:{number + 1}: not a JSON object; line skipped")
            continue
        rows.append(row)
    return rows


def load_results(
    paths: Sequence[Path | str] | Path | str,
) -> tuple[pd.DataFrame, dict[str, dict[str, Any]], list[str]]:
    """Read every row under ``paths``.

    Returns ``(rows, environments, warnings)``: one row per timed run (failed ones included,
    with ``ok`` False), the ``environment.json`` of each sweep keyed by its sweep id, and one
    human-readable line per problem met. Raises ``AnalysisError`` only when there is nothing
    to read (a path that does not exist, a folder without results).

    Rows of a sweep in rounds carry ``round`` (0-based; ``repeat`` restarts in each round),
    ``position`` (the job's place in its round) and ``order_seed``, all Int64; rows from before
    rounds get ``round`` 0 (one round) and no position or seed.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    files = find_results(paths)
    warnings: list[str] = []
    environments: dict[str, dict[str, Any]] = {}
    key_of_dir: dict[Path, str] = {}
    frames, file_counts = _parse_files(files, warnings)
    # Per-file bookkeeping, expanded to per-row columns in one vectorised step below.
    counts: list[int] = []
    job_dirs: list[str] = []
    sweep_keys: list[str] = []
    env_machines: list[Any] = []
    for results_file, n_rows in zip(files, file_counts):
        sweep_dir = _sweep_dir_of(results_file)
        if sweep_dir not in key_of_dir:
            env = _read_environment(sweep_dir, warnings)
            key = str(env.get("sweep_id") or sweep_dir.name)
            if key in environments:  # two sweeps with one id (a copied folder): keep both apart
                n = 2
                while f"{key}#{n}" in environments:
                    n += 1
                key = f"{key}#{n}"
            key_of_dir[sweep_dir] = key
            environments[key] = env
        key = key_of_dir[sweep_dir]
        env = environments[key]
        if not n_rows:
            warnings.append(f"{results_file.parent}: job folder has no rows (the job did not run?)")
            continue
        counts.append(n_rows)
        job_dirs.append(results_file.parent.name)
        sweep_keys.append(key)
        env_machines.append(env.get("machine") or env.get("hostname"))
    if not counts:
        return _empty_frame(), environments, warnings
    df = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True, sort=False)
    df["_job_dir"] = np.repeat(np.array(job_dirs, dtype=object), counts)
    df["_sweep_key"] = np.repeat(np.array(sweep_keys, dtype=object), counts)
    df["_env_machine"] = np.repeat(np.array(env_machines, dtype=object), counts)
    df["_file_order"] = np.concatenate([np.arange(c) for c in counts])
    df = _normalise(df, warnings, environments)
    return df, environments, warnings


#: From this many bytes of results on, a forked child parses the second half of the files while
#: this process parses the first (JSON decoding is most of the time of reading 100k rows).
PARALLEL_PARSE_MIN_BYTES = 8_000_000
#: The child's share of the bytes when parsing in two processes (it also pickles its rows back).
CHILD_PARSE_SHARE = 0.47


def _parse_part(files: Sequence[Path]) -> tuple[pd.DataFrame, list[int], list[str]]:
    """Rows of these files as one frame, the row count of each file, and the warnings met."""
    warnings: list[str] = []
    records: list[dict[str, Any]] = []
    counts = []
    with paused_gc():  # one dict per row, all alive until the frame is built
        for path in files:
            rows = _read_jsonl(path, warnings)
            records.extend(rows)
            counts.append(len(rows))
        frame = pd.DataFrame.from_records(records) if records else pd.DataFrame()
        # Lists such as affinity_cpus become JSON text here, in each parsing process, rather
        # than after the halves are joined (``_normalise`` leaves text as it is).
        for col in frame.columns:
            if (
                col in INT_COLUMNS
                or col in FLOAT_COLUMNS
                or col in BOOL_COLUMNS
                or frame[col].dtype != object
            ):
                continue
            first = frame[col].first_valid_index()
            if first is not None and isinstance(frame[col].iloc[first], (list, dict, tuple)):
                frame[col] = _flatten_nested(frame[col])
    return frame, counts, warnings


def _parse_part_to_send(files: Sequence[Path]) -> tuple[pd.DataFrame, list[int], list[str]]:
    """``_parse_part`` in the child, with each text column's equal strings made one object.

    JSON decoding gives every row its own copy of "process_pool", "vm"...; pickling them for
    the trip to the parent cost more than parsing a tenth of the files. One object per distinct
    value pickles once (then by reference): a tenth of the time, the same table.
    """
    frame, counts, warnings = _parse_part(files)
    for col in frame.columns:
        values = frame[col]
        if isinstance(values.dtype, pd.StringDtype):
            codes, uniques = pd.factorize(values, use_na_sentinel=True)
            if len(uniques) * 2 < len(values):
                frame[col] = uniques.take(codes, allow_fill=True)
    return frame, counts, warnings


def _parse_files(files: Sequence[Path], warnings: list[str]) -> tuple[list[pd.DataFrame], list[int]]:
    """Parse every file, in two processes when the files are big and forking is safe.

    Returns the frames in file order (empty ones dropped) and each file's row count; the
    result is the same either way (the child's part simply comes second).
    """
    from ._parallel import can_fork

    sizes = []
    for path in files:
        try:
            sizes.append(path.stat().st_size)
        except OSError:
            sizes.append(0)
    size = sum(sizes)
    parts: list[tuple[pd.DataFrame, list[int], list[str]]]
    if len(files) >= 2 and size >= PARALLEL_PARSE_MIN_BYTES and can_fork():
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        # The child's share of the bytes is a little under half: it also sends its rows back.
        cumulative = np.cumsum(sizes)
        half = min(max(int(np.searchsorted(cumulative, size * (1.0 - CHILD_PARSE_SHARE))), 1), len(files) - 1)
        try:
            with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork")) as pool:
                future = pool.submit(_parse_part_to_send, list(files[half:]))
                first = _parse_part(files[:half])
                try:
                    second = future.result()
                except Exception:  # the child died: parse its half here
                    second = _parse_part(files[half:])
        except (OSError, ValueError, RuntimeError):
            first, second = _parse_part(files[:half]), _parse_part(files[half:])
        parts = [first, second]
    else:
        parts = [_parse_part(files)]
    frames = [df for df, _, _ in parts if len(df)]
    counts = [n for _, c, _ in parts for n in c]
    for _, _, w in parts:
        warnings.extend(w)
    return frames, counts


def _empty_frame() -> pd.DataFrame:
    return pd.DataFrame({col: pd.Series(dtype=_dtype_of(col)) for col in COLUMNS})


def _dtype_of(col: str) -> str:
    if col in INT_COLUMNS:
        return "Int64"
    if col in FLOAT_COLUMNS:
        return "float64"
    if col in BOOL_COLUMNS:
        return "bool" if col == "ok" else "boolean"
    return "object"


def _normalise(
    df: pd.DataFrame, warnings: list[str], environments: dict[str, dict[str, Any]] | None = None
) -> pd.DataFrame:
    """Types, defaults and row order, so later steps need no special cases."""
    n = len(df)
    for col in COLUMNS:
        if col not in df.columns:
            df[col] = None
    if "schema" in df.columns:
        schemas = pd.to_numeric(df["schema"], errors="coerce")
        odd = schemas[~schemas.isin(KNOWN_SCHEMAS) | schemas.isna()]
        for value, count in odd.value_counts(dropna=False).sort_index().items():
            shown = "missing" if pd.isna(value) else int(value)
            warnings.append(
                f"{count} rows with schema {shown} (this reader knows {SCHEMA}); read as best it can"
            )

    # Where a row has no machine, the sweep's environment says which machine it ran on.
    machine = df["machine"].where(df["machine"].notna() & df["machine"].astype(str).ne(""))
    df["machine"] = machine.fillna(df["_env_machine"]).fillna("unknown")
    if len(environments) >= 2:
        _tell_hosts_apart(df, environments, warnings)
    df["sweep_id"] = df["sweep_id"].where(df["sweep_id"].notna(), df["_sweep_key"])
    df["job"] = df["job"].where(df["job"].notna(), df["_job_dir"])

    for col in FLOAT_COLUMNS:
        if col not in df.columns:  # a known field outside results.csv's columns, absent here
            continue
        df[col] = pd.to_numeric(df[col], errors="coerce").astype("float64")
    for col in INT_COLUMNS:
        if col not in df.columns:
            continue
        values = pd.to_numeric(df[col], errors="coerce")
        df[col] = values.round().astype("Int64") if values.notna().any() else values.astype("Int64")
    for col, default in KEY_DEFAULTS.items():
        missing = df[col].isna()
        if missing.any():
            warnings.append(f"{int(missing.sum())} rows have no {col!r}; taken as {default!r}")
            df[col] = df[col].where(~missing, default)
    for col, default in PATTERN_DEFAULTS.items():
        df[col] = df[col].where(df[col].notna(), default)
    workers_missing = df["workers"].isna()
    if workers_missing.any():
        warnings.append(f"{int(workers_missing.sum())} rows have no 'workers'; taken as 1")
        df["workers"] = df["workers"].fillna(1)
    df["loops"] = df["loops"].fillna(1)
    df["repeat"] = df["repeat"].fillna(-1)
    # A sweep from before rounds ran every job once: its rows are all round 0.
    df["round"] = df["round"].fillna(0)

    for col in ("verified", "gil_enabled"):
        df[col] = _bool_column(df[col]).astype("boolean")
    ok_raw = _bool_column(df["ok"])
    error_set = df["error"].notna() & df["error"].astype(str).ne("")
    # A row counts only if it says ok, was not found wrong, and has a usable time.
    ok = ok_raw.fillna(~error_set).astype(bool) & df["verified"].fillna(True).astype(bool)
    has_time = np.isfinite(df["wall_s"].to_numpy(dtype="float64", na_value=np.nan)) & (
        df["wall_s"].fillna(0).to_numpy() > 0
    )
    no_time = ok & ~has_time
    if no_time.any():
        warnings.append(f"{int(no_time.sum())} rows marked ok have no positive wall_s; counted as failed")
    df["ok"] = ok & has_time
    err = df["error"].where(error_set)
    err = err.where(err.notna() | df["ok"], np.where(no_time, "no wall time recorded", None))
    wrong = ~df["ok"] & df["verified"].eq(False).fillna(False).astype(bool) & err.isna()
    df["error"] = err.where(~wrong, "wrong result (not verified)")
    still = ~df["ok"] & df["error"].isna()
    df.loc[still, "error"] = "failed (no error message recorded)"

    for col in df.columns:
        if col.startswith("_") or col in INT_COLUMNS or col in FLOAT_COLUMNS or col in BOOL_COLUMNS:
            continue
        kind = pd.api.types.infer_dtype(df[col], skipna=True)
        if kind in ("string", "empty"):
            df[col] = df[col].astype(object)
        elif col in STR_COLUMNS:
            s = _flatten_nested(df[col].astype(object))
            df[col] = s.where(s.isna(), s.astype(str)).astype(object)
        elif kind not in ("integer", "floating", "boolean", "mixed-integer-float"):
            df[col] = _flatten_nested(df[col].astype(object))

    job_num = pd.to_numeric(df["job"], errors="coerce")
    df["_job_num"] = job_num.fillna(np.inf)
    order = ["machine", "sweep_id", "_job_num", "job", "round", "repeat", "_file_order"]
    df = df.sort_values(order, kind="mergesort")
    extra = sorted(c for c in df.columns if c not in COLUMNS and not c.startswith("_"))
    df = df[list(COLUMNS) + extra].reset_index(drop=True)
    assert len(df) == n
    return df


def _tell_hosts_apart(df: pd.DataFrame, environments: dict[str, dict[str, Any]], warnings: list[str]) -> None:
    """One label on several hosts (``hosts.host_labels``): each host's rows get a label of its
    own, and its environment records it (``machine_label``) for the tables keyed by machine."""
    pairs = df[["machine", "_sweep_key"]].astype(str).drop_duplicates()
    if pairs["_sweep_key"].nunique() < 2:
        return
    new = host_labels(list(pairs.itertuples(index=False, name=None)), environments, warnings)
    if not new:
        return
    labels = pd.Series(new)
    labels.index = pd.MultiIndex.from_tuples(labels.index)
    index = pd.MultiIndex.from_arrays([df["machine"].astype(str), df["_sweep_key"].astype(str)])
    relabelled = labels.reindex(index).to_numpy(dtype=object)
    changed = pd.notna(relabelled)
    df.loc[changed, "machine"] = relabelled[changed]
    for (label, key), name in new.items():
        env = environments.get(key)
        if env is not None and (env.get("machine") or env.get("hostname")) == label:
            env[LABEL_KEY] = name


def _to_bool(value: Any) -> Any:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, float)):
        return bool(value)
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes", "ok")
    return None


def _bool_column(values: pd.Series) -> pd.Series:
    """True/False/None from JSON booleans (fast path) or from strings and numbers (slow path)."""
    if values.dtype == bool:
        return values.astype(object)
    return values.map(_to_bool, na_action="ignore")


def _flatten_nested(values: pd.Series) -> pd.Series:
    """Lists and dicts (``affinity_cpus``, unknown extras) as compact JSON, so CSV cells are stable.

    Rows of one sweep repeat the same few lists, so each distinct value is encoded once.
    """
    types = values.map(type, na_action="ignore")
    nested = types.isin([list, dict, tuple]).to_numpy()
    if not nested.any():
        return values
    cache: dict[str, str] = {}

    def encode(value: Any) -> str:
        text = repr(value)
        if text not in cache:
            cache[text] = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
        return cache[text]

    out = values.to_numpy(dtype=object, copy=True)
    out[nested] = [encode(v) for v in out[nested]]
    return pd.Series(out, index=values.index, dtype=object)


def machine_topology(
    rows: pd.DataFrame, environments: dict[str, dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """Core counts per machine, for the markers on every worker axis."""
    result: dict[str, dict[str, Any]] = {}
    for env in environments.values():
        machine = env.get(LABEL_KEY) or env.get("machine") or env.get("hostname")
        topo = env.get("topology")
        if machine and isinstance(topo, dict) and machine not in result:
            result[str(machine)] = dict(topo)
    if len(rows):
        fields = ["logical_cores", "physical_cores", "usable_cpus", "sockets", "numa_nodes"]
        firsts = rows.groupby("machine", sort=True)[fields].first()
        for machine, rec in firsts.iterrows():
            topo = result.setdefault(str(machine), {})
            for field in fields:
                if topo.get(field) is None and pd.notna(rec[field]):
                    value = rec[field]
                    topo[field] = float(value) if field == "usable_cpus" else int(value)
    return result
