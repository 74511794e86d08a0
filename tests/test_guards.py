"""The classic tutorial's errors become clear one-line messages."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from coresweep.experiments.cli import main
from coresweep.experiments.entry import shadowing_files
from coresweep.experiments.job.protocol import describe

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


def test_function_defined_only_under_the_main_guard_says_so(tmp_path: Path, monkeypatch) -> None:
    """The seed's classic error: ``def f`` inside ``if __name__ == "__main__":``."""
    from coresweep.experiments.workloads.base import WorkloadError
    from coresweep.experiments.workloads.custom import resolve_function

    (tmp_path / "myscript_guarded.py").write_text(
        "import math\n\nif __name__ == '__main__':\n    def f(i):\n        return i * 2\n    print(f(3))\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(WorkloadError) as info:
        resolve_function("myscript_guarded:f")
    message = str(info.value)
    assert "'f' is defined only under `if __name__ == \"__main__\":`" in message
    assert str(tmp_path / "myscript_guarded.py") in message
    assert "move its definition to the top level of the module" in message
    assert "\n" not in message
    # A name that is simply missing keeps the plain message.
    with pytest.raises(WorkloadError, match="has no attribute 'g'"):
        resolve_function("myscript_guarded:g")


def test_function_only_in_the_script_run_as_main_says_so(tmp_path: Path) -> None:
    script = tmp_path / "runme.py"
    script.write_text(
        "import sys\n"
        "from coresweep.experiments.workloads.base import WorkloadError\n"
        "from coresweep.experiments.workloads.custom import resolve_function\n"
        "if __name__ == '__main__':\n"
        "    globals()['work'] = len\n"
        "    try:\n"
        "        resolve_function('runme:work')\n"
        "    except WorkloadError as exc:\n"
        "        print(exc)\n"
    )
    out = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=60,
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
    )
    assert "'work' exists only in the script run as __main__" in out.stdout, out.stdout + out.stderr


def test_the_command_says_the_main_guard_error_in_one_line(tmp_path: Path, capsys, monkeypatch) -> None:
    source = "if __name__ == '__main__':\n    def work(i):\n        return i\n"
    (tmp_path / "guarded_cli.py").write_text(source)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    monkeypatch.syspath_prepend(str(tmp_path))
    code = main(
        ["-m", "workload=custom", "workload.fn=guarded_cli:work", "backend=sequential", "report=false",
         f"hydra.sweep.dir={tmp_path / 'sweep'}"]
    )
    assert code == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "is defined only under `if __name__ == \"__main__\":`" in line
