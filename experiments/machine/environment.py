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
    "dask",  # the optional extras: None where not installed
    "distributed",
    "submitit",
    "hydra-submitit-launcher",
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
        # the hypervisor's name where this is a VM (topology has where it came from), else None
        "hypervisor": topology.get("hypervisor") if topology.get("virtualized") else None,
        "topology": topology,
        "coresweep_version": package_versions().get("coresweep"),
    }


def _read_text(path: str) -> str | None:
    try:
        with open(path) as fh:
            return fh.read().strip()
    except OSError:
        return None


def throttle_count() -> int | None:
    """Sum of thermal-throttle events over all CPUs (Linux x86), or None where unreadable."""
    import glob

    total, seen = 0, False
    for path in glob.glob("/sys/devices/system/cpu/cpu[0-9]*/thermal_throttle/*_throttle_count"):
        text = _read_text(path)
        if text and text.isdigit():
            total += int(text)
            seen = True
    return total if seen else None


def _busy_seconds() -> tuple[float, float]:
    """(CPU seconds busy on the whole machine, CPU seconds used by this process tree)."""
    import psutil

    t = psutil.cpu_times()
    busy = sum(getattr(t, f, 0.0) for f in ("user", "nice", "system", "irq", "softirq", "steal"))
    own = os.times()
    mine = own.user + own.system + own.children_user + own.children_system
    for child in psutil.Process().children(recursive=True):
        try:
            ct = child.cpu_times()
            # children_*: workers that a live child (a forkserver, a pool) started and reaped
            mine += ct.user + ct.system
            mine += getattr(ct, "children_user", 0.0) + getattr(ct, "children_system", 0.0)
        except psutil.Error:
            continue
    return busy, mine


class NoiseMonitor:
    """What else the machine was doing during the sweep: the numbers behind "was it quiet?".

    Records load average, the CPU frequency governor and boost setting, thermal-throttle
    counters, and the CPU time used by *other* processes while the sweep ran (machine-wide
    busy time minus this process tree's), as a percentage of the machine's capacity.
    """

    def __init__(self) -> None:
        import time

        self._t0 = time.monotonic()
        self._busy0, self._mine0 = _busy_seconds()
        try:
            self.loadavg_start: list[float] | None = list(os.getloadavg())
        except (OSError, AttributeError):
            self.loadavg_start = None
        self.throttle_start = throttle_count()

    def finish(self, logical_cpus: int) -> dict[str, Any]:
        import time

        elapsed = max(1e-9, time.monotonic() - self._t0)
        busy, mine = _busy_seconds()
        other = max(0.0, (busy - self._busy0) - (mine - self._mine0))
        try:
            loadavg_end: list[float] | None = list(os.getloadavg())
        except (OSError, AttributeError):
            loadavg_end = None
        return {
            "loadavg_start": self.loadavg_start,
            "loadavg_end": loadavg_end,
            # CPU times tick at 10 ms: over a very short sweep the ratio is coarse, so bound it.
            "busy_cpu_percent_other": round(min(100.0, 100.0 * other / (elapsed * max(1, logical_cpus))), 2),
            "cpu_governor": _read_text("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"),
            "boost": _read_text("/sys/devices/system/cpu/cpufreq/boost"),
            "no_turbo": _read_text("/sys/devices/system/cpu/intel_pstate/no_turbo"),
            "throttle_count_start": self.throttle_start,
            "throttle_count_end": throttle_count(),
            "sweep_wall_s": round(elapsed, 3),
        }


def noise_warnings(noise: dict[str, Any], logical_cpus: int) -> list[str]:
    """Plain-language warnings when the machine was not quiet enough to trust small differences."""
    warnings = []
    load = (noise.get("loadavg_start") or [0.0])[0]
    if load > 0.5 * logical_cpus:
        warnings.append(
            f"the machine was busy when the sweep started (load average {load:.2f} on {logical_cpus} CPUs)"
        )
    other = noise.get("busy_cpu_percent_other") or 0.0
    if other > 10:
        warnings.append(f"other processes used {other:.0f}% of the CPUs during the sweep")
    governor = noise.get("cpu_governor")
    if governor and governor != "performance":
        warnings.append(f"CPU frequency governor is '{governor}' (not 'performance'): clocks may vary")
    start, end = noise.get("throttle_count_start"), noise.get("throttle_count_end")
    if start is not None and end is not None and end > start:
        warnings.append(f"the CPU was thermally throttled {end - start} times during the sweep")
    return warnings
