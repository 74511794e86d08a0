"""Shared fixtures. A hung test dumps every thread's traceback instead of hanging CI silently.

Two guards for the whole run:

- The tests import the *installed* coresweep (the project is tested as ``pip install .``
  installs it, configs as package data). If that copy differs from this working tree, a test
  run would test old code and say nothing; the run stops at once with one line that says how to
  reinstall.
- ``CORESWEEP_STRICT=1`` (set by ``.ci/run``) turns every skip into a failure: in CI each
  optional piece (Python 3.14, pyperf, dask, the other interpreters) is provided, so a skip
  means something CI claims to test went untested.
"""

from __future__ import annotations

import faulthandler
import hashlib
import os
import sys
from pathlib import Path

import pytest
from hydra import initialize_config_module
from hydra.core.global_hydra import GlobalHydra


@pytest.fixture(autouse=True)
def _dump_traceback_if_hung():
    faulthandler.dump_traceback_later(240, exit=False, file=sys.stderr)
    yield
    faulthandler.cancel_dump_traceback_later()


@pytest.fixture()
def hydra_ctx():
    """Hydra's compose API on the packaged configs (``compose("config", overrides=...)``)."""
    GlobalHydra.instance().clear()
    with initialize_config_module("coresweep.conf", version_base="1.3"):
        yield
    GlobalHydra.instance().clear()


ROOT = Path(__file__).resolve().parent.parent
#: Installed package -> folder of this working tree (pyproject.toml's package-dir).
_PACKAGES = {
    "coresweep": "api",
    "coresweep.experiments": "experiments",
    "coresweep.analysis": "analysis",
    "coresweep.conf": "conf",
    "coresweep.schema": "schema",
    "hydra_plugins.coresweep_plugins": "hydra_plugins/coresweep_plugins",
}
STRICT = os.environ.get("CORESWEEP_STRICT") == "1"


def _digests(folder: Path, deep: bool = True) -> dict[str, str]:
    return {
        str(path.relative_to(folder)): hashlib.sha1(path.read_bytes()).hexdigest()
        for path in (folder.rglob("*") if deep else folder.glob("*"))
        if path.suffix in (".py", ".yaml") and "__pycache__" not in path.parts
    }


def stale_install() -> list[str]:
    """Files where the installed coresweep differs from this working tree ("" when they agree)."""
    import importlib.util

    differ: list[str] = []
    for package, local in _PACKAGES.items():
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            differ.append(f"{local}/ (not installed)")
            continue
        installed = Path(list(spec.submodule_search_locations)[0])
        if installed.resolve() == (ROOT / local).resolve():
            continue
        deep = package != "coresweep"  # the package's own files; its subpackages are listed apart
        mine, theirs = _digests(ROOT / local, deep), _digests(installed, deep)
        differ += sorted(
            f"{local}/{name}" for name in mine.keys() | theirs.keys() if mine.get(name) != theirs.get(name)
        )
    return differ


def pytest_sessionstart(session: pytest.Session) -> None:
    if os.environ.get("CORESWEEP_SKIP_INSTALL_CHECK") == "1" or not (ROOT / "pyproject.toml").exists():
        return
    differ = stale_install()
    if differ:
        shown = ", ".join(differ[:3]) + (f" and {len(differ) - 3} more" if len(differ) > 3 else "")
        raise pytest.UsageError(
            f"the installed coresweep differs from this working tree ({shown}): the tests would test "
            "the installed copy; run `pip install --no-deps --force-reinstall .` first"
        )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> object:
    outcome = yield
    report = outcome.get_result()
    if STRICT and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"CORESWEEP_STRICT=1 (CI): this test must run, not skip: {reason}"
