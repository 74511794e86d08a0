"""Synthetic sweep folders for the analysis tests: the on-disk contract, written without running anything.

``write_sweep`` lays out ``<sweep>/environment.json`` and ``<sweep>/<job>/results.jsonl`` exactly as
the runner does, from a small description of each configuration and its wall-time model, so the
tests can state the truth (perfect scaling, Amdahl with f=0.2, failures) and check the analysis
recovers it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

TOPOLOGY = {
    "logical_cores": 4,
    "physical_cores": 2,
    "threads_per_core": 2,
    "sockets": 1,
    "numa_nodes": 1,
    "affinity_cpus": [0, 1, 2, 3],
    "usable_cpus": 4,
    "cpu_model": "Synthetic CPU @ 3.0GHz",
}


def environment(machine: str, sweep_id: str, topology: dict | None = None) -> dict[str, Any]:
    topo = dict(TOPOLOGY if topology is None else topology)
    return {
        "schema": 1,
        "sweep_id": sweep_id,
        "machine": machine,
        "hostname": machine,
        "timestamp": "2025-01-01T00:00:00+00:00",
        "command": ["coresweep", "-m", "backend=sequential,process_pool", "workers=1,2,4"],
        "command_line": "coresweep -m backend=sequential,process_pool workers=1,2,4",
        "overrides": ["backend=sequential,process_pool", "workers=1,2,4"],
        "python": {
            "version": "3.12.3",
            "implementation": "CPython",
            "executable": "/usr/bin/python3",
            "gil_enabled": True,
        },
        "platform": {"system": "Linux", "release": "6.8.0", "machine": "x86_64"},
        "packages": {"numpy": "2.4.6", "pandas": "3.1.1"},
        "git_commit": "0123456789abcdef0123456789abcdef01234567",
        "loadavg": [0.1, 0.2, 0.3],
        "cpu_model": topo.get("cpu_model"),
        "topology": topo,
        "coresweep_version": "0.1.0",
    }


def row(machine: str, sweep_id: str, job: str, repeat: int, wall_s: float | None, **over: Any) -> dict:
    base = {
        "schema": 1,
        "sweep_id": sweep_id,
        "job": job,
        "machine": machine,
        "backend": "sequential",
        "start_method": "none",
        "workers": 1,
        "pinning": "none",
        "workload": "cpu_python",
        "size": 1000,
        "grain": 10,
        "collect": "return",
        "repeat": repeat,
        "loops": 1,
        "wall_s": wall_s,
        "startup_s": 0.01,
        "teardown_s": 0.002,
        "cpu_user_s": wall_s,
        "cpu_sys_s": 0.0 if wall_s is not None else None,
        "peak_rss_bytes": 50_000_000,
        "verified": True,
        "ok": True,
        "error": None,
        "python": "3.12.3",
        "gil_enabled": True,
        "logical_cores": 4,
        "physical_cores": 2,
        "sockets": 1,
        "numa_nodes": 1,
        "affinity_cpus": [0, 1, 2, 3],
        "usable_cpus": 4,
        "timestamp": "2025-01-01T00:00:00+00:00",
    }
    base.update(over)
    if "cpu_user_s" not in over and wall_s is not None:
        # Busy workers, but never more CPU seconds per wall second than the usable CPUs.
        base["cpu_user_s"] = wall_s * min(base["workers"], base.get("usable_cpus") or base["workers"])
    return base


Config = dict[str, Any]


def write_sweep(
    sweep: Path,
    configs: Iterable[Config],
    wall: Callable[[Config], float],
    *,
    machine: str = "alpha",
    sweep_id: str | None = None,
    repeats: int = 5,
    noise: float = 0.01,
    seed: int = 0,
    topology: dict | None = None,
    fail: Callable[[Config, int], str | None] | None = None,
) -> Path:
    """One job folder per config; ``wall(config)`` is the true time, ``fail`` may name an error."""
    sweep_id = sweep_id or f"sweep-{machine}"
    sweep.mkdir(parents=True, exist_ok=True)
    (sweep / "environment.json").write_text(json.dumps(environment(machine, sweep_id, topology)))
    rng = np.random.default_rng(seed)
    for job, config in enumerate(configs):
        job_dir = sweep / str(job)
        (job_dir / ".hydra").mkdir(parents=True, exist_ok=True)
        (job_dir / ".hydra" / "overrides.yaml").write_text("- backend=x\n")
        lines = []
        for rep in range(repeats):
            true = wall(config)
            error = fail(config, rep) if fail else None
            value = float(true * (1.0 + noise * rng.standard_normal())) if error is None else None
            r = row(machine, sweep_id, str(job), rep, value, **config)
            if error is not None:
                r.update(ok=False, error=error, verified="wrong" not in error)
            lines.append(json.dumps(r))
        (job_dir / "results.jsonl").write_text("\n".join(lines) + "\n")
    return sweep


def ladder(backends: Iterable[str], workers: Iterable[int], **common: Any) -> list[Config]:
    """A sequential baseline plus every backend at every worker count."""
    configs: list[Config] = [{"backend": "sequential", "workers": 1, **common}]
    for backend in backends:
        for w in workers:
            configs.append({"backend": backend, "workers": w, "start_method": "fork", **common})
    return configs


def amdahl_wall(t1: float, f: float) -> Callable[[Config], float]:
    def wall(config: Config) -> float:
        p = config["workers"]
        return t1 * (f + (1.0 - f) / p)

    return wall


def test_write_sweep_lays_out_the_contract(tmp_path: Path) -> None:
    sweep = write_sweep(tmp_path / "s", ladder(["process_pool"], [1, 2]), amdahl_wall(1.0, 0.0))
    assert (sweep / "environment.json").is_file()
    assert sorted(p.name for p in sweep.iterdir()) == ["0", "1", "2", "environment.json"]
    lines = (sweep / "1" / "results.jsonl").read_text().splitlines()
    assert len(lines) == 5 and json.loads(lines[0])["backend"] == "process_pool"
