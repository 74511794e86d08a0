"""Python 3.14 for real (issue 17): ``interpreter_pool`` and the ``python=`` dimension on a real
CPython 3.14, Debian sid's, provisioned by ``.ci/python314.sh`` (CI runs it before pytest).

The interpreter is ``$CORESWEEP_PY314`` when that is an executable, else the script's default
cache (``$CORESWEEP_PY314_CACHE``, default ``~/.cache/coresweep/python3.14``); without either,
these tests skip with the one line the script gave (``failure.txt`` in the cache folder).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / ".ci" / "python314.sh"


def _cache() -> Path:
    return Path(os.environ.get("CORESWEEP_PY314_CACHE")
                or Path.home() / ".cache" / "coresweep" / "python3.14")


def _default_path() -> Path:
    return _cache() / "root" / "usr" / "bin" / "python3.14"


def python314() -> str:
    """The provisioned 3.14's path, or skip saying why there is none."""
    given = os.environ.get("CORESWEEP_PY314", "")
    if given and os.path.isfile(given) and os.access(given, os.X_OK):
        return given
    default = _default_path()
    if default.is_file() and os.access(default, os.X_OK):
        return str(default)
    failure = _cache() / "failure.txt"
    if failure.is_file() and failure.read_text().strip():
        reason = failure.read_text().strip().splitlines()[0]
    else:
        reason = "not provisioned (run: bash .ci/python314.sh)"
    if given:
        reason = f"CORESWEEP_PY314={given} is not an executable; {reason}"
    pytest.skip(f"no Python 3.14: {reason}")


def _sweep(tmp_path: Path, *args: str) -> tuple[list[dict], dict]:
    """A real multirun through the CLI (tiny sizes, one round); every row must verify."""
    sweep = tmp_path / "sweep"
    out = subprocess.run(
        [sys.executable, "-m", "coresweep.experiments.entry", "-m", *args, "workers=2",
         "workload.size=8", "workload.grain=500", "repeats=2", "rounds=1", "min_time_s=0",
         "report=false", f"hydra.sweep.dir={sweep}"],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True, text=True, timeout=300,
    )
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line) for p in sorted(sweep.glob("*/results.jsonl"))
            for line in p.read_text().splitlines()]
    assert rows and all(r["ok"] and r["verified"] and r["wall_s"] > 0 for r in rows), rows
    assert all(isinstance(r["gil_enabled"], bool) for r in rows)
    env = json.loads((sweep / "environment.json").read_text())
    return rows, env


@pytest.mark.slow
def test_interpreter_pool_runs_under_python_314(tmp_path: Path) -> None:
    py = python314()
    rows, env = _sweep(tmp_path, f"python={py}", "backend=sequential,interpreter_pool",
                       "workload=cpu_python,io_sleep")
    assert len(rows) == 2 * 2 * 2  # 2 backends x 2 workloads x 2 repeats
    assert {(r["backend"], r["workload"]) for r in rows} == {
        (b, w) for b in ("sequential", "interpreter_pool") for w in ("cpu_python", "io_sleep")}
    assert all(r["python"].startswith("3.14") and r["python_executable"] == py for r in rows)
    # Debian's build has the GIL (one per subinterpreter); no free-threaded 3.14 is to be had.
    assert all(r["gil_enabled"] is True for r in rows)
    pool = [r for r in rows if r["backend"] == "interpreter_pool"]
    assert all(r["workers"] == 2 and r["startup_s"] > 0 for r in pool)
    assert [(i["path"], i["version"][:4]) for i in env["interpreters"]] == [(py, "3.14")]


@pytest.mark.slow
def test_python_sweep_over_this_interpreter_and_314(tmp_path: Path) -> None:
    py = python314()
    # process_pool: 3.14's default start method is forkserver, whose workers get coresweep's
    # initializer (the BLAS cap), which must not need threadpoolctl on a bare interpreter.
    backends = {"sequential", "thread_pool", "process_pool"}
    rows, env = _sweep(tmp_path, f"python=null,{py}", f"backend={','.join(sorted(backends))}",
                       "workload=cpu_python")
    assert len(rows) == 2 * 3 * 2  # 2 interpreters x 3 backends x 2 repeats
    by_python: dict[str, set[str]] = {}
    for r in rows:
        by_python.setdefault(r["python"], set()).add(r["backend"])
    here = platform.python_version()
    assert here in by_python and by_python[here] == backends
    other = [v for v in by_python if v != here]
    assert len(other) == 1 and other[0].startswith("3.14")
    assert by_python[other[0]] == backends
    assert {r["start_method"] for r in rows if r["python"] == other[0] and r["backend"] == "process_pool"} \
        == {"forkserver"}
    assert {r["python_executable"] for r in rows if r["python"] == other[0]} == {py}
    assert py in [i["path"] for i in env["interpreters"]]


@pytest.mark.slow
def test_provisioning_again_only_prints_the_path() -> None:
    """Idempotent: with the interpreter in the cache, the script just prints its path."""
    if not (_cache() / "ok").is_file() or not _default_path().is_file():
        pytest.skip(f"Python 3.14 not provisioned in {_cache()} (run: bash .ci/python314.sh)")
    started = time.monotonic()
    out = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout == f"{_default_path()}\n" and out.stderr == ""
    assert time.monotonic() - started < 10


@pytest.mark.slow
def test_provisioning_failure_is_one_line_the_tests_can_give_as_their_reason(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    env = {**os.environ, "CORESWEEP_PY314_CACHE": str(cache),
           "CORESWEEP_PY314_URI": "http://127.0.0.1:9/debian"}  # nothing listens on port 9
    out = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode != 0
    err = out.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("python314.sh: "), out.stderr
    assert (cache / "failure.txt").read_text().strip() == err[0]
    assert not (cache / "root").exists()
    if shutil.which("apt-get") and shutil.which("dpkg-deb") and platform.machine() == "x86_64":
        assert "registry not answering" in err[0] and "127.0.0.1:9" in err[0]
