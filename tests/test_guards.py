"""The classic tutorial's errors become clear one-line messages."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from coresweep.experiments.cli import main
from coresweep.experiments.entry import shadowing_files
from coresweep.experiments.protocol import describe

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", ["multiprocessing", "threading", "joblib"])
def test_a_file_named_like_a_module_is_found(tmp_path: Path, name: str) -> None:
    (tmp_path / f"{name}.py").write_text("# oops\n")
    found = shadowing_files([str(tmp_path), *sys.path])
    assert (name, str(tmp_path / f"{name}.py")) in found


def test_nothing_is_shadowed_here() -> None:
    assert shadowing_files() == []


def test_the_command_names_the_shadowing_file(tmp_path: Path) -> None:
    (tmp_path / "multiprocessing.py").write_text("raise SystemExit('the shadow was imported')\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-c", "from coresweep.experiments.entry import main; main()", "--cfg", "job"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 2
    assert f"{tmp_path / 'multiprocessing.py'} shadows the module 'multiprocessing'" in out.stderr
    assert "Traceback" not in out.stderr


def test_unpicklable_function_for_process_backends(capsys, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    code = main(["workload=custom", "workload.fn=tests.tasks:IDENTITY", "backend=process_pool"])
    err = capsys.readouterr().err
    assert code == 2
    assert "cannot be sent to worker processes" in err and "thread backend" in err


def test_unpicklable_function_is_fine_for_threads(tmp_path, monkeypatch) -> None:
    from coresweep.experiments.cli import preflight

    monkeypatch.chdir(tmp_path)
    _, jobs = preflight(["workload=custom", "workload.fn=tests.tasks:IDENTITY", "backend=thread_pool"])
    assert jobs > 0


def test_bootstrapping_error_gets_the_main_guard_hint() -> None:
    exc = RuntimeError(
        "An attempt has been made to start a new process before the\n"
        "current process has finished its bootstrapping phase."
    )
    assert "if __name__ == '__main__'" in describe(exc)


def test_missing_attribute_in_worker_gets_the_importable_module_hint() -> None:
    exc = AttributeError("Can't get attribute 'work' on <module '__main__' (built-in)>")
    assert "importable module" in describe(exc)
