"""No figure text leaves the figure, at the extremes (issue 18's layout check without a sweep).

tests/test_presets.py checks the figures of every preset's real sweep, which is slow (the
slow tier). Here the same check runs on synthetic sweeps (tests/test_analysis_synth.py) shaped
like the presets, pushed to what a big machine or a long name gives: every backend, worker
counts up to 64, long workload names, speedups from a hundredth to a hundred, memory from
megabytes to tens of gigabytes, start-ups from milliseconds to half a minute.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from coresweep.analysis.load import load_results, machine_topology
from coresweep.analysis.stats import summarize

from .figure_layout import clipped_figures
from .test_analysis_synth import write_sweep

#: Every backend name, the longest included.
BACKENDS = [
    "thread_pool", "thread", "joblib_threading", "pool", "process_pool", "process", "joblib_loky",
    "joblib_multiprocessing", "dask_distributed", "interpreter_pool",
]
#: A 64-CPU machine (workers=auto gives 1..64 there).
BIG = {
    "logical_cores": 64, "physical_cores": 32, "threads_per_core": 2, "sockets": 2, "numa_nodes": 2,
    "affinity_cpus": list(range(64)), "usable_cpus": 64,
    "cpu_model": "Synthetic Server CPU with a Long Marketing Name @ 2.25GHz",
}
LONG_FN = "custom (my_package.some_module.submodule:a_rather_long_function_name)"


def _extreme_wall(config: dict[str, Any]) -> float:
    """Speedups from 1/100 (a backend that only pays overhead) to 100 (io_sleep at 64 workers)."""
    w, backend = config["workers"], config["backend"]
    if backend == "sequential":
        return 10.0
    if backend in ("process", "dask_distributed"):
        return 10.0 * 100 / w  # 100x slower than sequential at one worker
    return 10.0 / min(w * 1.6, 100.0)


def _extremes(config: dict[str, Any], **more: Any) -> dict[str, Any]:
    w = config["workers"]
    uses_processes = config["backend"] not in ("sequential", "thread_pool", "thread", "joblib_threading")
    return {
        **config,
        "startup_s": 30.0 if config["backend"] == "dask_distributed" else 0.001 * w,
        "teardown_s": 5.0 if uses_processes else 0.0001,
        "peak_rss_bytes": (40 << 20) + (w * (300 << 20) if uses_processes else 0),
        **more,
    }


def _configs(workloads: list[str], workers: list[int], backends: list[str] = BACKENDS,
             **fixed: Any) -> list[dict[str, Any]]:
    out = []
    for workload in workloads:
        out.append(_extremes({"backend": "sequential", "workers": 1, "workload": workload, **fixed}))
        for backend in backends:
            for w in workers:
                out.append(_extremes({"backend": backend, "workers": w, "workload": workload, **fixed}))
    return out


def _every_backend_to_64_workers() -> list[dict[str, Any]]:
    """strong_scaling / oversubscription / io_bound on a 64-CPU machine, long names included."""
    return _configs(["cpu_python", "io_sleep", "gil_release", LONG_FN], [1, 2, 4, 8, 16, 32, 64])


def _variants_at_one_worker_count() -> list[dict[str, Any]]:
    """start_methods and collect: every variant at workers=2 (no figure against workers)."""
    out = []
    for method in ("fork", "spawn", "forkserver"):
        for collect in ("return", "manager_list", "shared_memory"):
            backends = ["pool", "process_pool", "process", "joblib_multiprocessing"]
            out += _configs(["cpu_python"], [2], backends, start_method=method, collect=collect)
    return out


def _grain_series() -> list[dict[str, Any]]:
    """grain: size = work / grain from 10 to 400 000 at two workers."""
    out = []
    for grain in (10, 100, 1000, 10_000, 100_000, 400_000):
        out += _configs(["cpu_python"], [2], ["thread_pool", "pool", "process_pool", "joblib_loky"],
                        grain=grain, size=4_000_000 // grain)
    return out


def _weak_scaling() -> list[dict[str, Any]]:
    """weak_scaling: size grows with the workers, up to 64."""
    out = []
    for w in (1, 2, 4, 8, 16, 32, 64):
        for config in _configs(["cpu_python"], [w], ["thread_pool", "process_pool", "joblib_loky"]):
            out.append({**config, "size": 32 * w})
    return out


def _patterns() -> list[dict[str, Any]]:
    """patterns: share, init and state methods, inputs up to 500 MiB, at workers 1..16."""
    out = []
    for share in ("argument", "inherit", "shared_memory", "memmap"):
        for mb in (1, 10, 100, 500):
            out += _configs(["shared_input"], [1, 2, 4, 16], ["pool", "process_pool", "joblib_loky"],
                            share=share, input_mb=mb)
    for init in ("per_task", "per_worker"):
        for ms in (1, 10, 100):
            out += _configs(["init_heavy"], [1, 2, 4, 16], ["pool", "process_pool"], init=init, init_ms=ms)
    for state in ("manager", "mapreduce"):
        out += _configs(["stateful"], [1, 2, 4, 16], ["thread_pool", "pool"], state=state)
    return out


SHAPES = {
    "every backend to 64 workers": (_every_backend_to_64_workers, BIG),
    "variants at one worker count": (_variants_at_one_worker_count, None),
    "grain series": (_grain_series, None),
    "weak scaling to 64 workers": (_weak_scaling, BIG),
    "patterns": (_patterns, None),
}


@pytest.mark.parametrize("shape", list(SHAPES))
def test_no_figure_text_is_clipped_at_the_extremes(shape: str, tmp_path: Path) -> None:
    make, topology = SHAPES[shape]
    sweep = write_sweep(tmp_path / "s", make(), _extreme_wall, repeats=2, topology=topology)
    rows, envs, _ = load_results([sweep])
    summary = summarize(rows, n_boot=50)
    drawn, problems = clipped_figures(summary, machine_topology(rows, envs))
    assert drawn
    assert not problems, problems
