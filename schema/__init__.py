"""The on-disk row format: the contract between the runner and the analysis, in one place.

``experiments/`` writes rows (``job/records.py``) and ``analysis/`` reads them back
(``load.py``); both derive their field lists from this module, which imports neither side
(standard library only, so a bare interpreter under ``python=`` and a report rebuilt on
another machine can both import it).

A result row is one JSON object per timed run in ``<sweep>/<job>/results.jsonl``; each
sweep has one ``environment.json``. Bump ``SCHEMA`` when a field changes meaning and say
what changed in ``CHANGES``; adding a field needs no bump (readers keep unknown fields).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: The row format this code writes.
SCHEMA = 2
#: Row formats a reader reads as they are (1: before the pattern dimensions of schema 2).
KNOWN_SCHEMAS: tuple[int, ...] = (1, 2)
#: What each schema version changed.
CHANGES: dict[int, str] = {
    1: "the first format: one row per timed run, the sweep's dimensions, times, resources, topology",
    2: (
        "issue 16: rows also carry the pattern dimensions share, init, state, input_mb, init_ms "
        "(null where the workload does not use them), setup_s, peak_pss_bytes and memory_measure; "
        "schema-1 rows read as if those were null"
    ),
}

RESULTS_FILE = "results.jsonl"
ENVIRONMENT_FILE = "environment.json"

#: A field without a default for older rows.
NO_DEFAULT: Any = None


@dataclass(frozen=True)
class Field:
    """One row field.

    ``type`` is how a reader types the column ("str", "int", "float", "bool", or "json" for
    lists kept as compact JSON text). ``required``: every row the runner writes carries it
    (null allowed). ``group``: one of the dimensions that make a configuration. ``column``: it
    has a fixed place in ``results.csv`` (the table's order); other known fields follow sorted by
    name, like unknown ones. ``default``: what a row without it (an older runner's) means, or
    ``NO_DEFAULT``; ``warn`` says whether the reader warns when it fills it in.
    """

    name: str
    type: str
    meaning: str
    required: bool = True
    group: bool = False
    column: bool = True
    default: Any = NO_DEFAULT
    warn: bool = True
    since: int = 1


_PATTERN = "(schema 2; null where the workload does not use it)"

#: Every known row field, in the column order of ``results.csv``.
ROW_FIELDS: tuple[Field, ...] = (
    Field("schema", "int", "the row format's version (SCHEMA)"),
    Field("sweep_id", "str", "the sweep's id (its folder name unless set)"),
    Field("job", "str", "the job's number in the sweep (its folder name)"),
    Field("machine", "str", "the machine's name (machine=, else the host's)", group=True),
    Field("backend", "str", "the backend's name", group=True, default="unknown"),
    Field("start_method", "str", "multiprocessing start method, or none", group=True, default="none"),
    Field("workers", "int", "workers used (after capping to the usable CPUs)", group=True),
    Field("pinning", "str", "the pinning policy", group=True, default="none"),
    Field("workload", "str", "the workload's name", group=True, default="unknown"),
    Field("size", "int", "the workload's size", group=True, default=0),
    Field("grain", "int", "items per task (null where the workload has none)", group=True, default=0),
    Field("collect", "str", "how results come back", group=True, default="return"),
    Field("round", "int", "the round (0-based); rows from before rounds are round 0"),
    Field("repeat", "int", "the timed run's number within its round (-1: none)"),
    Field("loops", "int", "calls of the workload inside one timed run"),
    Field("wall_s", "float", "wall time of one call, seconds (over loops)"),
    Field("startup_s", "float", "backend start-up time, seconds"),
    Field("teardown_s", "float", "backend shut-down time, seconds"),
    Field("cpu_user_s", "float", "user CPU time of the process tree, seconds"),
    Field("cpu_sys_s", "float", "system CPU time of the process tree, seconds"),
    Field("peak_rss_bytes", "int", "peak resident memory of the process tree"),
    Field("verified", "bool", "the answer matched the sequential one"),
    Field("ok", "bool", "the run finished, was verified and has a time"),
    Field("error", "str", "why it failed (null when ok)"),
    Field("python", "str", "the interpreter's version", group=True, default="unknown"),
    Field("gil_enabled", "bool", "whether the GIL was on", group=True),
    Field("logical_cores", "int", "logical CPUs of the machine"),
    Field("physical_cores", "int", "physical cores of the machine"),
    Field("sockets", "int", "sockets of the machine"),
    Field("numa_nodes", "int", "NUMA nodes of the machine"),
    Field("affinity_cpus", "json", "the CPUs the job could run on"),
    Field("usable_cpus", "float", "CPUs usable (affinity and cgroup quota)"),
    Field("timestamp", "str", "when the run ended (UTC, ISO 8601)"),
    Field("position", "int", "the job's place in its round", required=False),
    Field("order_seed", "int", "the seed of the rounds' order", required=False),
    Field("share", "str", f"how the input reaches workers {_PATTERN}", group=True, default="-", warn=False,
          since=2),
    Field("init", "str", f"where per-worker set-up runs {_PATTERN}", group=True, default="-", warn=False,
          since=2),
    Field("state", "str", f"whether workers keep state {_PATTERN}", group=True, default="-", warn=False,
          since=2),
    Field("input_mb", "int", f"the input's size in MB {_PATTERN}", required=False, group=True, default=0,
          warn=False, since=2),
    Field("init_ms", "int", f"per-worker set-up time, ms {_PATTERN}", required=False, group=True, default=0,
          warn=False, since=2),
    Field("setup_s", "float", "the workload's set-up time, seconds (schema 2)", required=False, since=2),
    Field("peak_pss_bytes", "int", "peak proportional memory of the tree (schema 2)", required=False,
          since=2),
    Field("memory_measure", "str", "how peak memory was measured (schema 2)", required=False, since=2),
    Field("share_how", "str", "how the input actually reached the workers", required=False, column=False,
          since=2),
    Field("init_lands", "str", "where the per-worker set-up actually ran", required=False, column=False,
          since=2),
    Field("busy_share", "float", "share of the job's CPUs other processes used during this execution "
          "(job, round), 0-1 (issue 29)", required=False, since=2),
    Field("busy", "bool", "busy_share was above the busy threshold (10 %)", required=False, since=2),
    Field("busy_attempt", "int", "which attempt of this (job, round) the row is (busy=rerun; 0 first)",
          required=False, since=2),
    Field("superseded", "bool", "a later attempt replaced this busy one (busy=rerun); analysis leaves "
          "it out", required=False, since=2),
    Field("busy_wait_s", "float", "seconds waited for a quiet machine before the execution (busy=wait)",
          required=False, since=2),
    Field("verify", "str", "the check each result went through: exact, close(rtol=..., atol=...), none "
          "(not verified) or checker pkg.module:func (rows before issue 25: null)", required=False,
          column=False, since=2),
    # Adjacent pairs (pair=auto|on): only in the rows of jobs that paired (docs/measurement.md).
    Field("paired", "bool", "the job timed sequential runs between its runs (adjacent pairs)",
          required=False, column=False, since=2),
    Field("pair_wall_s", "float", "one call of the sequential runs beside this run, seconds (geometric "
          "mean; null: no complete pair)", required=False, column=False, since=2),
    Field("pair_before_s", "float", "one call of the sequential run right before this run, seconds",
          required=False, column=False, since=2),
    Field("pair_after_s", "float", "one call of the sequential run right after this run, seconds",
          required=False, column=False, since=2),
    Field("pair_loops", "int", "calls of the task inside one adjacent sequential run", required=False,
          column=False, since=2),
    Field("pair_error", "str", "why this run has no complete pair (a sequential run beside it failed)",
          required=False, column=False, since=2),
)

BY_NAME: dict[str, Field] = {f.name: f for f in ROW_FIELDS}


def names(*, type: str | None = None, required: bool | None = None, group: bool | None = None,
          column: bool | None = None) -> tuple[str, ...]:
    """The names of the fields that match every given property, in ``ROW_FIELDS`` order."""
    return tuple(
        f.name
        for f in ROW_FIELDS
        if (type is None or f.type == type)
        and (required is None or f.required == required)
        and (group is None or f.group == group)
        and (column is None or f.column == column)
    )


def defaults(*, warn: bool) -> dict[str, Any]:
    """What a row without the field means, for the fields that have a default (by ``warn``)."""
    return {f.name: f.default for f in ROW_FIELDS if f.default is not NO_DEFAULT and f.warn == warn}
