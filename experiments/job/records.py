"""The one place that writes result rows: one JSON object per timed run, appended and flushed.

`results.jsonl` is the contract between measuring (``experiments``) and showing
(``analysis``); ``analysis`` never imports this module, it reads the files. The fields, their
types and the schema version live in ``coresweep.schema``, which both sides import.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from ... import schema as _schema
from ...schema import ENVIRONMENT_FILE, RESULTS_FILE, SCHEMA  # noqa: F401  (re-exported)

#: Every row carries at least these fields (the schema's required fields; DESIGN.md, "Records").
FIELDS: tuple[str, ...] = _schema.names(required=True)

#: Written when a sweep is interrupted (what ran, what did not); removed when it is finished.
INTERRUPTED_FILE = "interrupted.json"


class RecordWriter:
    """Appends rows to ``<job dir>/results.jsonl``; each row is flushed when written.

    Earlier lines are never rewritten, so a crash or SIGKILL loses at most the row being
    written (readers tolerate a truncated last line). The file is fsynced once, on close:
    a job writes all its rows at its end, and an fsync per row cost about 1 ms each.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh: IO[str] | None = None
        self.rows_written = 0

    def write(self, row: Mapping[str, Any]) -> None:
        missing = [f for f in FIELDS if f not in row]
        if missing:
            raise ValueError(f"record is missing fields: {', '.join(missing)}")
        if self._fh is None:
            self._fh = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - kept open across rows
        self._fh.write(json.dumps(dict(row), sort_keys=False, default=_json_default) + "\n")
        self._fh.flush()
        self.rows_written += 1

    def close(self) -> None:
        if self._fh is not None:
            os.fsync(self._fh.fileno())
            self._fh.close()
            self._fh = None

    def __enter__(self) -> RecordWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_environment(sweep_dir: Path, environment: Mapping[str, Any]) -> Path:
    """Write ``environment.json`` once per sweep (atomically: a reader never sees half a file)."""
    sweep_dir = Path(sweep_dir)
    sweep_dir.mkdir(parents=True, exist_ok=True)
    path = sweep_dir / ENVIRONMENT_FILE
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(dict(environment), indent=2, default=_json_default) + "\n")
    os.replace(tmp, path)
    return path


def _json_default(obj: Any) -> Any:
    # numpy scalars and sets show up in rows; JSON has no type for them.
    if hasattr(obj, "item"):
        return obj.item()
    if isinstance(obj, (set, frozenset, tuple)):
        return sorted(obj) if isinstance(obj, (set, frozenset)) else list(obj)
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
