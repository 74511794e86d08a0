"""The classic claims, noise warnings and the new report pieces, on synthetic sweeps with a known truth."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd
import pytest

from coresweep.analysis.cli import main
from coresweep.analysis.folklore import (
    FOLKLORE_COLUMNS,
    MANAGER_MIN_SLOWDOWN,
    THREADS_CPU_MAX_SPEEDUP,
    folklore_table,
)
from coresweep.analysis.load import load_results, machine_topology
from coresweep.analysis.noise import NOISY_CV, environment_warnings, noise_warnings
from coresweep.analysis.report import build_report
from coresweep.analysis.stats import summarize
from tests.test_analysis_synth import TOPOLOGY, ladder, write_sweep

NO_SMT = {**TOPOLOGY, "logical_cores": 2, "physical_cores": 2, "threads_per_core": 1}


def _classic_wall(c) -> float:
    """A textbook machine: GIL-bound threads on CPU work, threads overlap IO, processes scale.

    Manager().list costs 50% more; pool is clearly (10%) slower than process.
    """
    p = c["workers"]
    backend = c["backend"]
    if c["workload"] == "cpu_python":
        t = 1.0 if backend == "sequential" or backend in ("thread", "thread_pool") else 1.0 / p * 1.05
    else:  # io_sleep: everyone overlaps the waiting
        t = 1.0 if backend == "sequential" else 1.0 / p
    if backend == "pool":
        t *= 1.1
    if c.get("collect") == "manager_list":
        t *= 1.5
    return t


def _classic_configs(workers=(1, 2), collect=("return", "manager_list")):
    configs = []
    for workload in ("cpu_python", "io_sleep"):
        configs.append({"backend": "sequential", "workers": 1, "workload": workload})
        for backend in ("thread", "thread_pool", "process", "pool", "process_pool"):
            for w in workers:
                for how in collect:
                    configs.append(
                        {"backend": backend, "workers": w, "workload": workload, "collect": how, "grain": 10}
                    )
    return configs


def _startup(config: dict) -> dict:
    processes = config["backend"] in ("process", "pool", "process_pool")
    return {
        **config,
        "startup_s": 0.02 * config["workers"] if processes else 0.0002,
        "peak_rss_bytes": (50 + 40 * config["workers"]) * 2**20 if processes else 50 * 2**20,
    }


def _table(tmp_path: Path, configs, wall=_classic_wall, topology=NO_SMT, **kwargs) -> pd.DataFrame:
    sweep = write_sweep(tmp_path / "s", [_startup(c) for c in configs], wall, topology=topology, **kwargs)
    rows, envs, _ = load_results([sweep])
    return folklore_table(summarize(rows), rows, machine_topology(rows, envs)).set_index("claim_id")


def test_textbook_machine_supports_the_classic_claims(tmp_path: Path) -> None:
    table = _table(tmp_path, _classic_configs())
    assert list(table.reset_index().columns) == list(FOLKLORE_COLUMNS)
    assert list(table.index) == list(range(1, 11))
    assert table.at[10, "verdict"] == "not measured" and "python=3.14" in table.at[10, "evidence"]
    assert table.at[1, "verdict"] == "supported"
    assert f"{THREADS_CPU_MAX_SPEEDUP:g}" in table.at[1, "threshold"]
    assert table.at[2, "verdict"] == "supported" and "io_sleep" in table.at[2, "evidence"]
    assert table.at[3, "verdict"] == "supported" and "efficiency" in table.at[3, "evidence"]
    assert table.at[4, "verdict"] == "supported" and "MiB" in table.at[4, "evidence"]
    assert table.at[5, "verdict"] == "supported" and "manager_list / return = 1.5" in table.at[5, "evidence"]
    assert f"{MANAGER_MIN_SLOWDOWN:g}×" in table.at[5, "threshold"]
    assert table.at[6, "verdict"] == "supported"
    assert table.at[7, "verdict"] == "not measured on this machine (no SMT)"
    for text in table["evidence"]:
        assert text  # every row says why


def test_claims_are_refuted_when_the_data_says_the_opposite(tmp_path: Path) -> None:
    def wall(c):  # free-threaded Python: threads scale; pool faster than process; manager cheap
        if c["backend"] == "sequential":
            return 1.0
        t = 1.0 / c["workers"]
        return t * (1.3 if c["backend"] == "process" else 1.0)

    table = _table(tmp_path, _classic_configs(), wall=wall)
    assert table.at[1, "verdict"] == "refuted"
    assert table.at[5, "verdict"] == "refuted"
    assert table.at[6, "verdict"] == "refuted"


def test_overlapping_intervals_give_depends(tmp_path: Path) -> None:
    def wall(c):
        if c["backend"] == "sequential":
            return 1.0
        return 1.0 / c["workers"]  # pool and process identical: their CIs overlap

    table = _table(tmp_path, _classic_configs(collect=("return",)), wall=wall, noise=0.05)
    assert table.at[6, "verdict"] == "depends"
    assert table.at[5, "verdict"] == "not measured"
    assert "manager_list" in table.at[5, "evidence"]


def test_missing_workloads_are_not_measured(tmp_path: Path) -> None:
    configs = [c for c in _classic_configs() if c["workload"] == "cpu_python"]
    table = _table(tmp_path, configs)
    assert table.at[2, "verdict"] == "not measured"
    assert table.at[1, "verdict"] == "supported"


def test_smt_claim_needs_physical_and_logical_worker_counts(tmp_path: Path) -> None:
    # TOPOLOGY: 2 physical, 4 logical. Processes: +0.9x per worker 1->2, +0.25x per worker 2->4.
    def wall(c):
        if c["backend"] == "sequential":
            return 1.0
        return 1.0 / {1: 1.0, 2: 1.9, 4: 2.4}[c["workers"]]

    table = _table(
        tmp_path, ladder(["process_pool"], [1, 2, 4], workload="cpu_python"), wall=wall, topology=TOPOLOGY
    )
    assert table.at[7, "verdict"] == "supported"
    assert "1→2" in table.at[7, "evidence"] and "2→4" in table.at[7, "evidence"]
    table = _table(
        tmp_path / "b", ladder(["process_pool"], [1, 2], workload="cpu_python"), wall=wall, topology=TOPOLOGY
    )
    assert table.at[7, "verdict"] == "not measured" and "logical" in table.at[7, "evidence"]


def test_processes_use_all_cores_is_refuted_by_poor_efficiency(tmp_path: Path) -> None:
    def wall(c):
        return 1.0 if c["backend"] == "sequential" else 1.0 / (1 + 0.2 * (c["workers"] - 1))

    table = _table(tmp_path, ladder(["process_pool", "pool"], [1, 2], workload="cpu_python"), wall=wall)
    assert table.at[3, "verdict"] == "refuted" and "0.6" in table.at[3, "evidence"]


# ----------------------------------------------------------------------------- noise


def test_noise_warnings_for_noisy_configurations_and_a_busy_machine(tmp_path: Path) -> None:
    sweep = write_sweep(tmp_path / "s", ladder(["process_pool"], [1, 2]), lambda c: 1.0, noise=0.3, repeats=8)
    rows, envs, _ = load_results([sweep])
    summary = summarize(rows)
    warnings = noise_warnings(summary, envs)
    assert len(warnings) == 1 and f"CV of wall time > {NOISY_CV:.0%}" in warnings[0]
    assert "process_pool ×2" in warnings[0]

    env = json.loads((sweep / "environment.json").read_text())
    env["noise"] = {
        "loadavg_start": [3.5, 1.0, 1.0],
        "loadavg_end": [1.0, 1.0, 1.0],
        "busy_cpu_percent_other": 25.0,
        "cpu_governor": "powersave",
        "in_container": False,
        "virtualized": False,
        "throttle_count_start": 3,
        "throttle_count_end": 5,
    }
    (sweep / "environment.json").write_text(json.dumps(env))
    result = build_report([sweep])
    text = "\n".join(result.noise_warnings)
    assert "load average 3.50 on 4 logical CPUs" in text
    assert "other processes used 25%" in text
    assert "'powersave'" in text and "throttled 2 times" in text
    page = result.index_html.read_text()
    assert page.index("Noise warnings") < page.index('id="verdict"')  # at the top
    # The header counts what the boxes below list: each noisy configuration, each machine warning.
    noisy = int(warnings[0].split(" of ", 1)[0])
    machine = len(result.noise_warnings) - 1
    assert noisy >= 2 and machine == 4
    assert f"<span>{noisy + machine + len(result.physics_flags)} warnings</span>" in page
    assert "powersave" in (sweep / "report" / "summary.md").read_text()


def test_quiet_machine_and_missing_keys_give_no_warnings() -> None:
    assert environment_warnings("s", {}) == []
    assert environment_warnings("s", {"noise": {"cpu_governor": None, "loadavg_start": None}}) == []
    env = {
        "topology": {"logical_cores": 2},
        "noise": {"cpu_governor": "performance", "busy_cpu_percent_other": 2},
    }
    assert environment_warnings("s", env) == []
    # Without a noise section the start-of-sweep loadavg still counts.
    assert environment_warnings("s", {"topology": {"logical_cores": 2}, "loadavg": [1.5, 0, 0]})


def test_cli_prints_noise_warnings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sweep = write_sweep(tmp_path / "s", ladder(["process_pool"], [1, 2]), lambda c: 1.0, noise=0.3, repeats=8)
    assert main([str(sweep)]) == 0
    assert "coresweep-report: noise warning:" in capsys.readouterr().err


# ----------------------------------------------------------------------------- report


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_report_has_claims_grain_size_and_best(tmp_path: Path) -> None:
    configs = [_startup(c) for c in _classic_configs()]
    for g in (10, 100, 1000):
        configs += ladder(
            ["process_pool", "thread_pool"], [2], workload="gil_release", grain=g, size=10_000 // g
        )
    for p in (1, 2, 4):
        configs.append({"backend": "sequential", "workers": p, "workload": "memory", "size": 16 * p})
        configs.append({"backend": "process_pool", "workers": p, "workload": "memory", "size": 16 * p})

    def wall(c):
        if c["workload"] == "gil_release":
            if c["backend"] == "sequential":
                return 1.0
            return 1.0 / c["workers"] + 1e-3 * c["size"] * (1 if c["backend"] == "process_pool" else 0.01)
        if c["workload"] == "memory":
            return c["size"] / 16 * (1.0 if c["backend"] == "sequential" else 0.2 + 0.8 / c["workers"])
        return _classic_wall(c)

    sweep = write_sweep(tmp_path / "s", configs, wall, topology=NO_SMT, repeats=4)
    result = build_report([sweep])
    out = result.out_dir
    for name in ("grain", "best", "size"):
        assert (out / f"{name}.png").stat().st_size > 1000 and (out / f"{name}.svg").is_file(), name
    page = result.index_html.read_text()
    assert "The classic claims, measured" in page and "Crossover grain" in page
    assert "Weak scaling (Gustafson)" in page and "too few for Amdahl (3) or the USL (4)" in page
    folklore = _csv(out / "folklore.csv")
    assert [r["claim_id"] for r in folklore] == [str(i) for i in range(1, 11)]
    assert {r["verdict"] for r in folklore} <= {
        "supported",
        "refuted",
        "depends",
        "not measured",
        "not measured on this machine (no SMT)",
    }
    cross = _csv(out / "crossover.csv")
    assert {r["backend"] for r in cross} == {"process_pool", "thread_pool"}
    weak = _csv(out / "weak_scaling.csv")
    assert {r["workload"] for r in weak} == {"memory"}
    md = (out / "summary.md").read_text()
    assert "## The classic claims, measured" in md and "## Weak scaling (Gustafson)" in md
    assert "scaled speedup" in md
    scaling = _csv(out / "scaling.csv")
    assert "usl_sigma" in scaling[0] and "usl_note" in scaling[0]


def test_report_without_grain_or_weak_data_says_so(tmp_path: Path) -> None:
    sweep = write_sweep(tmp_path / "s", ladder(["process_pool"], [1, 2]), lambda c: 1.0 / c["workers"])
    result = build_report([sweep])
    out = result.out_dir
    assert not (out / "grain.png").exists() and not (out / "size.png").exists()
    assert (out / "best.png").is_file()
    md = (out / "summary.md").read_text()
    assert "Gustafson's scaled speedup does not apply" in md
    assert "No grain sweep" in result.index_html.read_text()
    assert _csv(out / "crossover.csv") == []


def _subinterpreter_sweep(tmp_path: Path, efficiency: float, startup_s: float, noise: float = 0.01):
    """cpu_python on 2 cores: threads, processes and subinterpreters; the latter as told."""
    configs = [{"backend": "sequential", "workers": 1, "workload": "cpu_python"}]
    for backend in ("thread_pool", "process_pool", "interpreter_pool"):
        for w in (1, 2):
            configs.append({"backend": backend, "workers": w, "workload": "cpu_python", "grain": 10})

    def wall(c):
        if c["backend"] in ("sequential", "thread_pool"):
            return 1.0
        if c["backend"] == "interpreter_pool":
            return 1.0 / (c["workers"] * efficiency) if c["workers"] > 1 else 1.0
        return 1.0 / c["workers"] * 1.05

    def cost(c):
        out = _startup(c)
        if c["backend"] == "interpreter_pool":
            out.update(startup_s=startup_s * c["workers"], peak_rss_bytes=80 * 2**20)
        return out

    sweep = write_sweep(tmp_path / "s", [cost(c) for c in configs], wall, topology=NO_SMT, noise=noise)
    rows, envs, _ = load_results([sweep])
    return folklore_table(summarize(rows), rows, machine_topology(rows, envs)).set_index("claim_id")


def test_subinterpreters_supported_when_they_scale_and_start_like_threads(tmp_path: Path) -> None:
    table = _subinterpreter_sweep(tmp_path, efficiency=0.95, startup_s=0.0003)
    assert table.at[10, "verdict"] == "supported", table.at[10, "evidence"]
    assert "interpreter_pool ×2" in table.at[10, "evidence"]
    assert "start-up subinterpreters" in table.at[10, "evidence"]


def test_subinterpreters_refuted_when_they_start_like_processes(tmp_path: Path) -> None:
    # Parallel like processes, but start-up 0.3 s per worker: far past the threads/processes midpoint.
    table = _subinterpreter_sweep(tmp_path, efficiency=0.95, startup_s=0.3)
    assert table.at[10, "verdict"] == "refuted"
    assert "midpoint" in table.at[10, "evidence"]


def test_subinterpreters_depend_when_the_efficiency_interval_straddles_the_threshold(tmp_path: Path) -> None:
    # Efficiency 0.8 exactly, with 10 % noise: the interval straddles claim 3's threshold.
    table = _subinterpreter_sweep(tmp_path, efficiency=0.8, startup_s=0.0003, noise=0.1)
    assert table.at[10, "verdict"] == "depends", table.at[10, "evidence"]
