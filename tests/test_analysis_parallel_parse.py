"""Reading rows: two processes (big folders) read exactly what one reads; rows end at "\n" only."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from coresweep.analysis import _parallel, load
from coresweep.analysis.load import load_results
from tests.test_analysis_synth import amdahl_wall, ladder, write_sweep


def _odd_sweep(tmp_path: Path) -> Path:
    sweep = write_sweep(
        tmp_path / "sweep",
        ladder(["process_pool", "thread_pool", "joblib_loky"], [1, 2, 4]),
        amdahl_wall(1.0, 0.1),
        fail=lambda c, rep: "BrokenProcessPool: worker died" if c["workers"] == 4 and rep == 1 else None,
    )
    jobs = sorted((p for p in sweep.iterdir() if p.name.isdigit()), key=lambda p: int(p.name))
    first, last = jobs[0] / "results.jsonl", jobs[-1] / "results.jsonl"
    lines = first.read_text().splitlines()
    lines.insert(1, "{not json")
    first.write_text("\n".join(lines) + "\n")
    lines = last.read_text().splitlines()
    extra = json.loads(lines[0])
    extra.update(schema=2, shiny_new_field=[1, 2], machine=None, backend="thread_pool")
    lines += [json.dumps(extra), lines[-1][:20]]  # an unknown field, then a truncated last line
    last.write_text("\n".join(lines) + "\n")
    return sweep


@pytest.mark.skipif(not _parallel.can_fork(), reason="reading in two processes needs fork and 2 CPUs")
def test_two_processes_read_what_one_reads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sweep = _odd_sweep(tmp_path)
    serial, envs, warnings = load_results([sweep])
    monkeypatch.setattr(load, "PARALLEL_PARSE_MIN_BYTES", 0)
    calls: list[int] = []  # parts parsed in this process (the child's calls stay in the child)
    real = load._parse_part
    monkeypatch.setattr(load, "_parse_part", lambda files: calls.append(len(files)) or real(files))
    parallel, envs2, warnings2 = load_results([sweep])
    assert len(calls) == 1 and calls[0] < len(load.find_results([sweep]))  # the child read the rest
    pd.testing.assert_frame_equal(parallel, serial)
    assert warnings2 == warnings and envs2 == envs
    assert any("truncated last line" in w for w in warnings) and any("invalid JSON" in w for w in warnings)
    assert "shiny_new_field" in parallel.columns


def test_text_columns_sent_by_the_child_are_the_same_table(tmp_path: Path) -> None:
    files = load.find_results([_odd_sweep(tmp_path)])
    plain, sent = load._parse_part(files), load._parse_part_to_send(files)
    pd.testing.assert_frame_equal(sent[0], plain[0])
    assert sent[1:] == plain[1:]


def test_a_unicode_line_separator_inside_a_text_is_kept(tmp_path: Path) -> None:
    # Rows are split on "\n" only: U+2028 inside a string is JSON text, not the end of a row.
    path = tmp_path / "results.jsonl"
    rows = [{"error": "first\u2028second", "ok": False}, {"error": None, "ok": True}]
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    warnings: list[str] = []
    assert load._read_jsonl(path, warnings) == rows and warnings == []
