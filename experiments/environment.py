"""The environment of a sweep, recorded once in ``environment.json`` (pyperf's metadata idea)."""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import os
import platform
import shlex
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

PACKAGES = (
    "coresweep",
    "numpy",
    "pandas",
    "scipy",
    "seaborn",
    "matplotlib",
    "hydra-core",
    "omegaconf",
    "joblib",
    "psutil",
    "threadpoolctl",
    "rich",
)


def gil_enabled() -> bool:
    check = getattr(sys, "_is_gil_enabled", None)
    return True if check is None else bool(check())


def python_info() -> dict[str, Any]:
    return {
        "version": platform.python_version(),
        "implementation": platform.python_implementation(),
        "executable": sys.executable,
        "gil_enabled": gil_enabled(),
        "build": " ".join(platform.python_build()),
        "compiler": platform.python_compiler(),
    }


def package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_commit(path: Path) -> str | None:
    """The commit of the project the sweep was run from, if it is a git checkout."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=path,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def blas_info() -> list[dict[str, Any]]:
    try:
        from threadpoolctl import threadpool_info

        return [
            {k: v for k, v in pool.items() if k in ("user_api", "internal_api", "num_threads", "version")}
            for pool in threadpool_info()
        ]
    except Exception:
        return []


def default_machine_name() -> str:
    return socket.gethostname() or platform.node() or "unknown"


def collect_environment(
    *,
    sweep_id: str,
    machine: str,
    command: list[str],
    overrides: list[str],
    topology: dict[str, Any],
    jobs_planned: int | None = None,
) -> dict[str, Any]:
    try:
        loadavg: list[float] | None = list(os.getloadavg())
    except (OSError, AttributeError):
        loadavg = None
    return {
        "schema": 1,
        "sweep_id": sweep_id,
        "machine": machine,
        "hostname": socket.gethostname(),
        "timestamp": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "command": command,
        "command_line": " ".join(shlex.quote(c) for c in command),
        "overrides": overrides,
        "jobs_planned": jobs_planned,
        "cwd": os.getcwd(),
        "python": python_info(),
        "platform": {
            "system": platform.system(),
            "release": platform.release(),
            "machine": platform.machine(),
            "platform": platform.platform(),
        },
        "packages": package_versions(),
        "blas": blas_info(),
        "git_commit": git_commit(Path.cwd()),
        "loadavg": loadavg,
        "cpu_model": topology.get("cpu_model"),
        "topology": topology,
        "coresweep_version": package_versions().get("coresweep"),
    }
