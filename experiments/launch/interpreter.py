"""The ``python`` dimension: find another Python interpreter and check what it can run.

``python=null`` (the default) measures each job under this interpreter (in a process forked from
the job server, see isolation.py). ``python=3.12``, a path, or
a command name runs each job in a child process of that interpreter
(``isolation.py`` starts it, ``job_child.py`` is its side). That interpreter
usually has none of coresweep's dependencies (a bare pyenv build), so the child imports only
the standard library and coresweep's own runner modules, reached through a temporary folder
that links ``coresweep/experiments`` to this installation's code; never this environment's
site-packages, whose compiled wheels belong to this interpreter's version.

Everything a job needs beyond that (joblib, numpy, the user's module) is declared by the
backend, workload and collector (``requires``) and checked here before any work, per
interpreter, by importing it in a probe process of that interpreter.
"""

from __future__ import annotations

import atexit
import functools
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: The oldest Python a job can run under (the runner's code uses 3.9 syntax and stdlib).
MIN_VERSION = (3, 9)
#: Values that mean "this interpreter" (Hydra turns `null` into None).
CURRENT = (None, "", "null", "none", "current")
#: The module the child runs; the probe imports it too, so a probe that passes can run jobs.
CHILD_MODULE = "coresweep.experiments.launch.job_child"

_VERSION = re.compile(r"^(\d+)\.(\d+)(?:\.(\d+))?(t?)$")

# Self-contained (no coresweep import), so that it reports even on an interpreter too old to
# run coresweep. argv: modules to import (``module`` or ``module:attribute``). The GIL state is
# read after the imports: on a free-threaded build, importing an extension that does not
# declare free-threading support turns the GIL back on.
_PROBE = r"""
import json, platform, sys, sysconfig
out = {"version": platform.python_version(), "implementation": platform.python_implementation(),
       "executable": sys.executable, "version_info": list(sys.version_info[:2]),
       "free_threaded_build": bool(sysconfig.get_config_var("Py_GIL_DISABLED")), "missing": {}}
if sys.version_info >= (3, 9):
    for spec in sys.argv[1:]:
        name, _, attr = spec.partition(":")
        try:
            module = __import__(name, fromlist=["_"])
            if attr and not hasattr(module, attr):
                raise ImportError("%s has no attribute %s" % (name, attr))
        except Exception as exc:
            out["missing"][spec] = ("%s: %s" % (type(exc).__name__, exc)).splitlines()[0][:300]
check = getattr(sys, "_is_gil_enabled", None)
out["gil_enabled"] = bool(check()) if check is not None else True
print("coresweep-probe:" + json.dumps(out))
"""


class InterpreterError(ValueError):
    """``python=...`` names no usable interpreter, or one that lacks what the job needs."""


@dataclass(frozen=True)
class Interpreter:
    """An interpreter found for a ``python=`` value (its probe's answers)."""

    requested: str
    path: str
    version: str
    implementation: str
    gil_enabled: bool
    free_threaded_build: bool

    @property
    def label(self) -> str:
        """How errors name it: ``python=3.12 (/path/to/python3.12)``, or just the path given."""
        if self.requested == self.path:
            return f"python={self.path}"
        return f"python={self.requested} ({self.path})"


def option_text(value: Any) -> Any:
    """The ``python=`` value as typed: ``python=3.10`` reaches the config as the number 3.1.

    (YAML and Hydra's override parser read it as a float.) So 3.1 means 3.10 and 3.2 means
    3.20: Pythons 3.1 and 3.2 are long gone, far below what coresweep runs on. Quoting
    (``python='3.10'``) avoids the question.
    """
    if isinstance(value, float):
        major, _, minor = repr(value).partition(".")
        if major == "3" and minor in ("1", "2"):
            minor += "0"
        return f"{major}.{minor}"
    return value


def is_current(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip().lower() in CURRENT)


def selected(value: Any) -> Interpreter | None:
    """The interpreter a job runs under, or None for this one."""
    value = option_text(value)
    if is_current(value):
        return None
    return resolve(str(value).strip())


@functools.cache
def resolve(value: str) -> Interpreter:
    """Find and probe the interpreter ``value`` names (a version, a path or a command)."""
    if value.lower() in ("true", "false"):
        raise InterpreterError(
            f"python={value}: give a version like 3.12, a path to an interpreter, or null "
            "(this interpreter)"
        )
    match = _VERSION.match(value)
    if match:
        candidates = version_candidates(value)
    elif os.sep in value or (os.altsep and os.altsep in value) or value.startswith("~"):
        path = Path(value).expanduser()
        if not path.is_file() or not os.access(path, os.X_OK):
            raise InterpreterError(f"python={value}: no such executable file")
        candidates = [str(path.absolute())]
    else:
        found = shutil.which(value)
        if found is None:
            raise InterpreterError(
                f"python={value}: no command of that name on PATH; give a version like 3.12, a "
                f"path, or null (this interpreter); found {_found_list()}"
            )
        candidates = [found]
    problems = []
    for path in candidates:
        info = _probe(path, ())
        if isinstance(info, str):
            problems.append(f"{path}: {info}")
            continue
        if match and not _version_matches(value, info):
            problems.append(f"{path} is Python {info['version']}")
            continue
        interp = Interpreter(
            requested=value,
            path=path,
            version=str(info["version"]),
            implementation=str(info["implementation"]),
            gil_enabled=bool(info["gil_enabled"]),
            free_threaded_build=bool(info["free_threaded_build"]),
        )
        if tuple(info["version_info"]) < MIN_VERSION:
            raise InterpreterError(
                f"{interp.label}: Python {interp.version} is too old; jobs run under Python "
                f"{'.'.join(map(str, MIN_VERSION))} or newer"
            )
        return interp
    if match:
        tried = f" (tried {'; '.join(problems)})" if problems else ""
        raise InterpreterError(
            f"python={value}: no Python {value} found on PATH or under pyenv ({pyenv_root()}/versions)"
            f"{tried}; found {_found_list()}; give one of those versions, a path to an "
            "interpreter, or null (this interpreter)"
        )
    raise InterpreterError(f"python={value}: not a working Python interpreter ({problems[0]})")


def describe_selected(values: Iterable[Any]) -> list[dict[str, Any]]:
    """For ``environment.json``: each interpreter a sweep's jobs run under besides this one."""
    out: list[dict[str, Any]] = []
    for value in values:
        interp = selected(value)
        if interp is None or any(d["path"] == interp.path for d in out):
            continue
        imports = _IMPORTS.get(interp.path, {})
        out.append({
            "requested": interp.requested,
            "path": interp.path,
            "version": interp.version,
            "implementation": interp.implementation,
            "free_threaded_build": interp.free_threaded_build,
            "gil_enabled": interp.gil_enabled,
            "packages": {m: imports[m] is None for m in ("numpy", "joblib") if m in imports},
        })
    return out


def _version_matches(requested: str, info: dict[str, Any]) -> bool:
    match = _VERSION.match(requested)
    assert match is not None
    want = [int(p) for p in match.groups()[:3] if p is not None]
    have = [int(p) for p in str(info["version"]).split(".")[: len(want)] if p.isdigit()]
    return have == want and (not match.group(4) or bool(info["free_threaded_build"]))


def pyenv_root() -> str:
    return os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")


def _uv_root() -> str:
    return os.environ.get("UV_PYTHON_INSTALL_DIR") or os.path.expanduser("~/.local/share/uv/python")


def _install_dirs() -> list[tuple[str, str, bool]]:
    """(version, bin folder, free-threaded) of every pyenv and uv installation."""
    found = []
    versions = Path(pyenv_root()) / "versions"
    if versions.is_dir():
        for entry in versions.iterdir():  # 3.12.1, 3.13.0t, 3.13t-dev, 3.14-dev
            base = entry.name.split("-")[0]
            found.append((base.rstrip("t"), str(entry / "bin"), base.endswith("t")))
    uv = Path(_uv_root())
    if uv.is_dir():
        for entry in uv.iterdir():  # cpython-3.13.1+freethreaded-linux-x86_64-gnu
            parts = entry.name.split("-")
            if len(parts) > 1 and parts[0] == "cpython":
                version, _, variant = parts[1].partition("+")
                found.append((version, str(entry / "bin"), variant == "freethreaded"))
    return found


def _numeric(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", version)[:3])


def version_candidates(value: str) -> list[str]:
    """Executables that may be Python ``value`` (3.12, 3.12.1 or 3.13t), best first.

    PATH first (``python3.12``), skipping pyenv's shims (a shim fails for a version that is
    installed but not selected), then pyenv's and uv's installation folders, newest patch first.
    """
    match = _VERSION.match(value)
    assert match is not None
    major, minor, patch, ft = match.groups()
    command = f"python{major}.{minor}{ft}"
    shims = os.path.realpath(os.path.join(pyenv_root(), "shims"))
    candidates = []
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        if not folder or os.path.realpath(folder) == shims:
            continue
        path = os.path.join(folder, command)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            candidates.append(path)
    installs = [
        (version, folder, free)
        for version, folder, free in _install_dirs()
        if _numeric(version)[:2] == (int(major), int(minor))
        and (patch is None or _numeric(version)[2:3] == (int(patch),))
        and free == bool(ft)
    ]
    for _, folder, _ in sorted(installs, key=lambda i: _numeric(i[0]), reverse=True):
        path = os.path.join(folder, command)
        if os.path.isfile(path):
            candidates.append(path)
    unique: list[str] = []
    for path in candidates:
        if path not in unique:
            unique.append(path)
    return unique


def _found_list() -> str:
    """Usable interpreters on this machine, for error messages: '3.9.18, 3.12.1, 3.13.0t (Python 3.9+)'."""
    names = set()
    for version, folder, free in _install_dirs():
        if os.path.isdir(folder):
            names.add(version + ("t" if free else ""))
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        if folder and os.path.isdir(folder) and os.path.realpath(folder) != os.path.realpath(
            os.path.join(pyenv_root(), "shims")
        ):
            try:
                names.update(
                    n[len("python"):] for n in os.listdir(folder) if re.fullmatch(r"python3\.\d+t?", n)
                )
            except OSError:
                continue
    usable = [v for v in names if _numeric(v)[:2] >= MIN_VERSION]
    listed = sorted(usable, key=lambda v: (_numeric(v), v))
    floor = ".".join(map(str, MIN_VERSION))
    return ", ".join(listed) + f" (Python {floor}+)" if listed else f"no Python {floor}+ besides this one"


@functools.lru_cache(maxsize=1)
def link_dir() -> str:
    """A temporary folder holding ``coresweep/experiments`` -> this installation's runner code
    (and ``coresweep/schema``, the row format it imports).

    Put first on the child's PYTHONPATH, it makes ``coresweep.experiments`` importable in any
    interpreter without exposing this environment's site-packages. Removed at exit.
    """
    from .. import __file__ as experiments_init

    folder = tempfile.mkdtemp(prefix="coresweep-interp-")
    package = os.path.join(folder, "coresweep")
    os.mkdir(package)
    with open(os.path.join(package, "__init__.py"), "w") as fh:
        fh.write('"""coresweep runner code, linked for a job under another interpreter."""\n')
    experiments = os.path.dirname(os.path.realpath(experiments_init))
    os.symlink(experiments, os.path.join(package, "experiments"))
    # The row schema (``coresweep.schema``, standard library only), which the runner imports.
    schema = os.path.join(os.path.dirname(experiments), "schema")
    if os.path.isdir(schema):
        os.symlink(schema, os.path.join(package, "schema"))
    atexit.register(shutil.rmtree, folder, True)
    return folder


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a probe or job process: this one's, with the link folder first on PYTHONPATH."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (link_dir(), env.get("PYTHONPATH", "")) if p)
    for name in ("PYTHONHOME", "PYTHONEXECUTABLE", "__PYVENV_LAUNCHER__"):
        env.pop(name, None)  # they would point the child at this interpreter's files
    env.update(extra or {})
    return env


@functools.cache
def _probe(path: str, modules: tuple[str, ...]) -> dict[str, Any] | str:
    """Run the probe under ``path``; its answers, or a one-line reason it failed."""
    try:
        done = subprocess.run(
            [path, "-c", _PROBE, *modules],
            env=child_env(),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return f"could not run it ({type(exc).__name__}: {exc})"
    for line in done.stdout.splitlines():
        if line.startswith("coresweep-probe:"):
            try:
                return dict(json.loads(line[len("coresweep-probe:"):]))
            except ValueError:
                break
    tail = (done.stderr or "").strip().splitlines()
    last = f": {tail[-1].strip()}" if tail and len(tail[-1]) <= 200 else ""
    return f"not a working Python 3 (it gave no answer to the probe; exit status {done.returncode}{last})"


#: What the built-in backends, workloads and collectors can need: probed together on an
#: interpreter's first check, so a sweep usually starts one probe per interpreter, not per job.
COMMON_SPECS = (
    CHILD_MODULE,
    "coresweep.experiments.workloads",
    "numpy",
    "joblib",
    "concurrent.futures:InterpreterPoolExecutor",
)

def _common_specs() -> set[str]:
    from ..backends import BACKENDS
    from ..workloads import WORKLOADS

    return {*COMMON_SPECS, *(cls.__module__ for cls in [*BACKENDS.values(), *WORKLOADS.values()])}


# Per interpreter path: spec -> why it fails to import there (None: it imports).
_IMPORTS: dict[str, dict[str, str | None]] = {}


def _missing(interp: Interpreter, specs: set[str]) -> dict[str, str]:
    """The specs that do not import under ``interp`` (probing only those not known yet)."""
    known = _IMPORTS.setdefault(interp.path, {})
    unknown = specs - known.keys()
    if unknown:
        ask = tuple(sorted(unknown | (_common_specs() - known.keys())))
        info = _probe(interp.path, ask)
        if isinstance(info, str):
            raise InterpreterError(f"{interp.label}: {info}")
        failed = info.get("missing", {})
        known.update({spec: failed.get(spec) for spec in ask})
    return {spec: str(known[spec]) for spec in specs if known.get(spec) is not None}


def _describe(spec: str) -> str:
    module, _, attr = spec.partition(":")
    return f"{module}.{attr}" if attr else module


def check_requirements(interp: Interpreter, needs: Iterable[tuple[str, Sequence[str]]]) -> None:
    """Import, under ``interp``, every module each part of the job needs; one line on the first gap.

    ``needs``: (who needs it, e.g. ``backend=joblib_loky``, modules) pairs. The runner's own
    child module is always imported too, so a passing check means the job can start there.
    """
    needs = [(who, tuple(mods)) for who, mods in needs]
    missing = _missing(interp, {m for _, mods in needs for m in mods} | {CHILD_MODULE})
    if CHILD_MODULE in missing:
        raise InterpreterError(
            f"{interp.label}: cannot import coresweep's runner there ({missing[CHILD_MODULE]})"
        )
    for who, mods in needs:
        for spec in mods:
            if spec not in missing:
                continue
            if ":" in spec:
                raise InterpreterError(
                    f"{interp.label}: {who} needs {_describe(spec)}, which Python {interp.version} "
                    "does not have"
                )
            top = spec.split(".")[0]
            reason = missing[spec]
            if who.startswith("workload.fn"):
                raise InterpreterError(
                    f"{interp.label}: {who}: that interpreter cannot import {spec} ({reason}); put "
                    "its folder on PYTHONPATH or install it for that interpreter"
                )
            if reason.startswith("ModuleNotFoundError") and f"'{top}'" in reason:
                raise InterpreterError(
                    f"{interp.label}: {who} needs {top}, not installed for that interpreter; "
                    f"install with {interp.path} -m pip install {top}"
                )
            raise InterpreterError(
                f"{interp.label}: {who} needs {spec}, which fails to import there ({reason})"
            )
