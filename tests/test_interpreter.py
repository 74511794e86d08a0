"""The ``python=`` dimension: finding interpreters, refusing what cannot run, real sweeps under them.

Fake interpreters (shell scripts that answer the probe) test detection, free-threading and the
error lines on any machine; real sweeps use the interpreters this machine has (pyenv builds
without third-party packages on CI) and skip cleanly where there is none.
"""

from __future__ import annotations

import json
import os
import platform
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from coresweep.experiments.cli import main
from coresweep.experiments.launch import interpreter

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _fresh_probes():
    """Probes are cached per process (a sweep probes each interpreter once); tests start clean."""
    def clear() -> None:
        interpreter.resolve.cache_clear()
        interpreter._probe.cache_clear()
        interpreter._IMPORTS.clear()

    clear()
    yield
    clear()


def fake_python(path: Path, version: str, gil: bool = True, free_threaded: bool = False,
                missing: dict[str, str] | None = None) -> Path:
    """A script that answers the probe the way an interpreter of that kind would."""
    answer = {
        "version": version,
        "implementation": "CPython",
        "executable": str(path),
        "version_info": [int(p) for p in version.split(".")[:2]],
        "free_threaded_build": free_threaded,
        "gil_enabled": gil,
        "missing": missing or {},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\ncat <<'EOF'\ncoresweep-probe:{json.dumps(answer)}\nEOF\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def test_current_interpreter_is_the_default_and_runs_in_process() -> None:
    for value in (None, "null", "current", ""):
        assert interpreter.selected(value) is None


@pytest.mark.parametrize(
    ("value", "text"),
    [(3.1, "3.10"), (3.2, "3.20"), (3.12, "3.12"), (3.9, "3.9"), (3.8, "3.8"), ("3.13t", "3.13t"),
     (None, None)],
)
def test_versions_that_yaml_read_as_numbers_get_their_text_back(value: Any, text: Any) -> None:
    assert interpreter.option_text(value) == text


def test_free_threaded_build_found_under_pyenv_and_gil_state_recorded(tmp_path: Path, monkeypatch) -> None:
    root = tmp_path / "pyenv"
    fake_python(root / "versions" / "3.13.1" / "bin" / "python3.13", "3.13.1")
    ft = fake_python(
        root / "versions" / "3.13.1t" / "bin" / "python3.13t", "3.13.1", gil=False, free_threaded=True
    )
    monkeypatch.setenv("PYENV_ROOT", str(root))
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    monkeypatch.setenv("UV_PYTHON_INSTALL_DIR", str(tmp_path / "uv"))
    found = interpreter.resolve("3.13t")
    assert found.path == str(ft)
    assert found.free_threaded_build and found.gil_enabled is False and found.version == "3.13.1"
    regular = interpreter.resolve("3.13")
    assert regular.free_threaded_build is False and regular.gil_enabled is True


def test_pyenv_dev_and_uv_free_threaded_names(tmp_path: Path, monkeypatch) -> None:
    dev = fake_python(tmp_path / "pyenv" / "versions" / "3.14t-dev" / "bin" / "python3.14t", "3.14.0",
                      gil=False, free_threaded=True)
    uv = fake_python(tmp_path / "uv" / "cpython-3.15.0+freethreaded-linux-x86_64-gnu" / "bin" / "python3.15t",
                     "3.15.0", gil=False, free_threaded=True)
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "pyenv"))
    monkeypatch.setenv("UV_PYTHON_INSTALL_DIR", str(tmp_path / "uv"))
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    assert interpreter.resolve("3.14t").path == str(dev)
    assert interpreter.resolve("3.15t").path == str(uv)
    with pytest.raises(interpreter.InterpreterError, match="no Python 3.14 found"):
        interpreter.resolve("3.14")  # only the free-threaded build is there


def test_gil_turned_back_on_by_an_extension_is_what_gets_recorded(tmp_path: Path) -> None:
    # A free-threaded build whose imports re-enabled the GIL: the probe reads it after imports.
    path = fake_python(tmp_path / "python3.13t", "3.13.0", gil=True, free_threaded=True)
    found = interpreter.resolve(str(path))
    assert found.free_threaded_build and found.gil_enabled is True


def test_real_probe_reports_this_interpreter() -> None:
    found = interpreter.resolve(sys.executable)
    assert found.version == platform.python_version()
    check = getattr(sys, "_is_gil_enabled", None)
    assert found.gil_enabled is (True if check is None else bool(check()))


def _error_line(capsys, *args: str) -> str:
    assert main([*args, "report=false"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert "Traceback" not in err[0]
    return err[0]


def test_missing_interpreter_is_one_line_naming_the_option_and_what_exists(capsys, tmp_path: Path) -> None:
    line = _error_line(capsys, "python=3.97", f"hydra.sweep.dir={tmp_path / 's'}")
    assert "python=3.97: no Python 3.97 found" in line and "found " in line
    line = _error_line(capsys, f"python={tmp_path / 'nope'}", f"hydra.sweep.dir={tmp_path / 's'}")
    assert "no such executable file" in line
    assert not (tmp_path / "s").exists()


def test_not_a_python_is_refused(capsys, tmp_path: Path) -> None:
    line = _error_line(capsys, "python=/bin/true", f"hydra.sweep.dir={tmp_path / 's'}")
    assert "python=/bin/true: not a working Python interpreter" in line


def test_too_old_interpreter_names_the_minimum(capsys, tmp_path: Path) -> None:
    old = fake_python(tmp_path / "python3.8", "3.8.18")
    line = _error_line(capsys, f"python={old}", f"hydra.sweep.dir={tmp_path / 's'}")
    assert "Python 3.8.18 is too old" in line and "3.9 or newer" in line


def test_missing_module_names_who_needs_it_and_how_to_install(capsys, tmp_path: Path) -> None:
    no_joblib = {"joblib": "ModuleNotFoundError: No module named 'joblib'"}
    bare = fake_python(tmp_path / "python3.12", "3.12.1", missing=no_joblib)
    line = _error_line(
        capsys, f"python={bare}", "backend=joblib_loky", "workers=2", f"hydra.sweep.dir={tmp_path / 's'}"
    )
    assert f"python={bare}: backend=joblib_loky needs joblib, not installed for that interpreter" in line
    assert f"install with {bare} -m pip install joblib" in line


def _bare_interpreters() -> list[interpreter.Interpreter]:
    """Other interpreters on this machine (pyenv builds on CI), newest first."""
    found = []
    for version in ("3.13", "3.12", "3.11", "3.10", "3.9"):
        try:
            interp = interpreter.resolve(version)
        except interpreter.InterpreterError:
            continue
        if interp.version != platform.python_version():
            found.append(interp)
    return found


def test_missing_module_in_a_real_bare_interpreter(capsys, tmp_path: Path) -> None:
    bare = [i for i in _bare_interpreters() if isinstance(interpreter._probe(i.path, ("numpy",)), dict)
            and "numpy" in interpreter._probe(i.path, ("numpy",))["missing"]]  # type: ignore[index]
    if not bare:
        pytest.skip("no other interpreter without numpy on this machine")
    line = _error_line(
        capsys, f"python={bare[0].path}", "workload=gil_release", f"hydra.sweep.dir={tmp_path / 's'}"
    )
    assert "workload=gil_release needs numpy, not installed for that interpreter" in line


def _request(**overrides: Any) -> Any:
    from coresweep.experiments.job.protocol import Protocol
    from coresweep.experiments.launch.isolation import JobRequest

    fields: dict[str, Any] = dict(
        backend_target="coresweep.experiments.backends.threads.ThreadPoolBackend",
        workers=2,
        start_method="auto",
        workload_target="coresweep.experiments.workloads.cpu_python.CpuPython",
        workload_options={"size": 6, "grain": 200, "seed": 0},
        collect="return",
        protocol=Protocol(repeats=3, warmup=1),
    )
    fields.update(overrides)
    return JobRequest(**fields)


def test_child_side_measures_with_the_protocol_and_hands_back_its_reference(tmp_path: Path) -> None:
    from coresweep.experiments.launch.job_child import run

    request = _request().to_json(None)
    first = run(request, str(tmp_path / "a.json"))
    assert json.loads((tmp_path / "a.json").read_text())["python"] == platform.python_version()
    runs = first["measurement"]["runs"]
    assert len(runs) == 3 and all(r["ok"] and r["verified"] and r["wall_s"] > 0 for r in runs)
    assert first["start_method"] == "thread" and first["workers"] == 2 and first["reference"]
    again = run(_request().to_json(first["reference"]), str(tmp_path / "b.json"))
    assert again["reference"] is None and all(r["ok"] for r in again["measurement"]["runs"])


def test_a_wrong_reference_fails_every_run(tmp_path: Path) -> None:
    import base64
    import pickle

    from coresweep.experiments.launch.job_child import run

    wrong = base64.b64encode(pickle.dumps([0] * 6)).decode()
    result = run(_request().to_json(wrong), str(tmp_path / "r.json"))
    runs = result["measurement"]["runs"]
    assert runs and not any(r["ok"] for r in runs)
    assert "wrong result" in (runs[0]["error"] or "")


def test_a_child_that_dies_gives_a_failed_row_saying_how(tmp_path: Path) -> None:
    from coresweep.experiments.launch.isolation import run_isolated

    script = tmp_path / "python3.12"
    script.write_text("#!/bin/sh\necho 'Fatal Python error: boom' >&2\nexit 3\n")
    script.chmod(0o755)
    interp = interpreter.Interpreter("3.12", str(script), "3.12.1", "CPython", True, False)
    measurement, row = run_isolated(interp, _request(), ("key",))
    assert len(measurement.runs) == 1 and not measurement.runs[0].ok and measurement.died
    assert measurement.runs[0].error == (
        "job process died: it ended (exit status 3) after 0 timed runs; "
        "last output: Fatal Python error: boom"
    )
    assert row["python"] == "3.12.1" and row["python_executable"] == str(script)


def _sweep(tmp_path: Path, *args: str) -> list[dict]:
    sweep = tmp_path / "sweep"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-m", "coresweep.experiments.entry", "-m", *args,
         "backend=sequential,thread_pool,process_pool", "workload=cpu_python", "workload.size=8",
         "workload.grain=500", "repeats=2", "min_time_s=0", "rounds=1", "report=false",
         f"hydra.sweep.dir={sweep}"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
    )
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line) for p in sweep.glob("*/results.jsonl") for line in p.read_text().splitlines()]
    assert rows and all(r["ok"] and r["verified"] and r["wall_s"] > 0 for r in rows)
    assert all(isinstance(r["gil_enabled"], bool) and r["peak_rss_bytes"] > 0 for r in rows)
    return rows


@pytest.mark.slow
def test_sweep_under_this_interpreter_in_process_and_as_a_child(tmp_path: Path) -> None:
    rows = _sweep(tmp_path, f"python=null,{sys.executable}", "workers=2")
    assert len(rows) == 2 * 3 * 2
    here = (sys.executable, platform.python_version())
    assert {(r["python_executable"], r["python"]) for r in rows} == {here}


@pytest.mark.slow
def test_sweep_under_every_other_interpreter(tmp_path: Path) -> None:
    """A job's side of coresweep runs under any CPython from ``interpreter.MIN_VERSION`` (3.9):
    one sweep under every other one this machine has (CI: pyenv's 3.9, 3.10, 3.12 and 3.13,
    bare builds; tests/test_python314.py adds 3.14), each job in a fresh process of it."""
    others = _bare_interpreters()
    if not others:
        pytest.skip("no other Python 3.9+ on this machine (pyenv or PATH)")
    rows = _sweep(tmp_path, "python=" + ",".join(o.path for o in others), "workers=2")
    # per interpreter: 3 backends x 2 repeats
    assert len(rows) == 3 * 2 * len(others), sorted({(r["python"], r["backend"]) for r in rows})
    assert {(r["python_executable"], r["python"]) for r in rows} == {(o.path, o.version) for o in others}
    assert {(r["python"], r["backend"]) for r in rows} == {
        (o.version, b) for o in others for b in ("sequential", "thread_pool", "process_pool")}
    # Without psutil there (a bare pyenv build), CPU time and memory come from /proc.
    assert {r["resource_method"] for r in rows} <= {"psutil", "proc"}
    assert all(r["cpu_user_s"] is not None for r in rows)
    env = json.loads((tmp_path / "sweep" / "environment.json").read_text())
    assert sorted((i["path"], i["version"]) for i in env["interpreters"]) == sorted(
        (o.path, o.version) for o in others)


def test_the_child_side_imports_only_the_standard_library() -> None:
    """A bare interpreter has no third-party packages: the runner's child side, and every
    registered backend and workload module, must import without them (optional imports are
    lazy or guarded, and declared in ``requires``). A new backend that imports its library at
    module level fails here."""
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in BLOCKED:\n"
        "            raise ImportError('blocked: ' + name)\n"
        "BLOCKED = {'numpy', 'psutil', 'joblib', 'scipy', 'pandas', 'omegaconf', 'hydra', 'dask',\n"
        "           'distributed', 'threadpoolctl', 'rich', 'matplotlib', 'seaborn', 'submitit'}\n"
        "sys.meta_path.insert(0, Block())\n"
        "import coresweep.experiments.launch.job_child\n"
        "from coresweep.experiments.backends import BACKENDS\n"
        "from coresweep.experiments.workloads import WORKLOADS\n"
        "import importlib\n"
        "for cls in [*BACKENDS.values(), *WORKLOADS.values()]:\n"
        "    importlib.import_module(cls.__module__)\n"
        "print('ok', len(BACKENDS), len(WORKLOADS))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("ok")


def test_child_records_the_gil_state_it_ran_with(tmp_path: Path, monkeypatch) -> None:
    from coresweep.experiments.launch.job_child import run

    monkeypatch.setattr(sys, "_is_gil_enabled", lambda: False, raising=False)
    assert run(_request().to_json(None), str(tmp_path / "r.json"))["gil_enabled"] is False
    monkeypatch.delattr(sys, "_is_gil_enabled", raising=False)
    assert run(_request().to_json(None), str(tmp_path / "r.json"))["gil_enabled"] is True
