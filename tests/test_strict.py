"""What CI provides, checked where CI runs (``CORESWEEP_STRICT=1``, set by ``.ci/run``).

Tests parametrised over ``AVAILABLE_BACKENDS`` lose a backend without a skip line when its
import breaks (dask), and optional pieces skip where they are missing. In CI each is provided,
so here their absence is a failure, not a smaller test run.
"""

from __future__ import annotations

import importlib.util
import os
import sys

import pytest

from coresweep.experiments.backends import AVAILABLE_BACKENDS, BACKENDS

STRICT = os.environ.get("CORESWEEP_STRICT") == "1"
strict_only = pytest.mark.skipif(not STRICT, reason="CI's completeness checks (CORESWEEP_STRICT=1)")

#: Backends whose availability depends on the interpreter, not on what CI installs:
#: subinterpreters need Python 3.14 (tests/test_python314.py runs them under CI's 3.14).
NEEDS_NEWER_PYTHON = {"interpreter_pool": (3, 14)}


@strict_only
def test_every_backend_is_available_in_ci() -> None:
    missing = [
        name
        for name in BACKENDS
        if name not in AVAILABLE_BACKENDS and sys.version_info[:2] >= NEEDS_NEWER_PYTHON.get(name, (0, 0))
    ]
    assert not missing, f"backends CI must test but cannot import here: {missing}"


@strict_only
@pytest.mark.parametrize("module", ["pyperf", "dask.distributed", "hydra_plugins.hydra_submitit_launcher"])
def test_optional_packages_are_installed_in_ci(module: str) -> None:
    assert importlib.util.find_spec(module) is not None, f"{module} is missing: the test extra installs it"


@strict_only
def test_python314_is_provisioned_in_ci() -> None:
    path = os.environ.get("CORESWEEP_PY314", "")
    assert path and os.access(path, os.X_OK), (
        "CORESWEEP_PY314 is not an interpreter: .ci/python314.sh failed (its one line is above in CI's log)"
    )


#: The job interpreters CI provides beside its own (pyenv builds; 3.14 comes from .ci/python314.sh):
#: tests/test_interpreter.py runs a sweep under each, from the oldest a job may use.
CI_JOB_PYTHONS = ("3.9", "3.10", "3.12", "3.13")


@strict_only
def test_every_job_interpreter_ci_provides_is_found() -> None:
    from coresweep.experiments.launch import interpreter

    found = {}
    for version in CI_JOB_PYTHONS:
        try:
            found[version] = interpreter.resolve(version).version
        except interpreter.InterpreterError as exc:
            found[version] = f"missing: {exc}"
    missing = {v: why for v, why in found.items() if why.startswith("missing")}
    assert not missing, f"job interpreters CI must test under: {missing}"
    assert ".".join(map(str, interpreter.MIN_VERSION)) == CI_JOB_PYTHONS[0], "the oldest a job may use"
