"""The row schema: one module both sides derive their field lists from, importing neither."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

from coresweep import schema
from coresweep.analysis import load
from coresweep.experiments.job import records

ROOT = Path(__file__).resolve().parents[1]


def test_schema_imports_only_the_standard_library() -> None:
    tree = ast.parse((ROOT / "schema" / "__init__.py").read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "the schema imports nothing of coresweep"
            imported.add((node.module or "").split(".")[0])
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}, imported


def test_both_sides_derive_from_the_schema() -> None:
    assert records.SCHEMA == load.SCHEMA == schema.SCHEMA
    assert schema.SCHEMA in schema.KNOWN_SCHEMAS == load.KNOWN_SCHEMAS
    assert set(schema.CHANGES) == set(schema.KNOWN_SCHEMAS)
    assert records.RESULTS_FILE == load.RESULTS_FILE == schema.RESULTS_FILE
    assert records.ENVIRONMENT_FILE == load.ENVIRONMENT_FILE == schema.ENVIRONMENT_FILE
    # Every field a row must carry has a column in results.csv, and every dimension too.
    assert set(records.FIELDS) <= set(load.COLUMNS)
    assert set(load.GROUP_KEYS) <= set(load.COLUMNS)
    typed = load.STR_COLUMNS + load.INT_COLUMNS + load.FLOAT_COLUMNS + load.BOOL_COLUMNS
    assert len(typed) == len(set(typed))
    assert set(load.KEY_DEFAULTS) | set(load.PATTERN_DEFAULTS) <= set(load.GROUP_KEYS)
    assert load.PATTERN_DEFAULTS == {"share": "-", "init": "-", "state": "-", "input_mb": 0, "init_ms": 0}


def test_every_field_says_what_it_means() -> None:
    assert len({f.name for f in schema.ROW_FIELDS}) == len(schema.ROW_FIELDS)
    for field in schema.ROW_FIELDS:
        assert field.meaning and field.type in ("str", "int", "float", "bool", "json")
        assert field.since in schema.KNOWN_SCHEMAS
