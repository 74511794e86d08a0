"""Two machines in one report: sweeps of one label on two hosts kept apart, and the
"Machines compared" section (each configuration's speedups, their ratio, whether they differ)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from coresweep.analysis.hosts import short_cpu_model
from coresweep.analysis.load import load_results
from coresweep.analysis.machines import (
    MACHINES_FILE,
    ONE_ROUND_FLAG,
    Estimate,
    difference,
    estimate,
)
from coresweep.analysis.report import build_report
from tests.test_analysis_rounds import write_rounds

SEQUENTIAL_S = 1.0


def _configs() -> list[dict]:
    return [
        {"backend": "sequential", "workers": 1},
        {"backend": "process_pool", "workers": 2, "start_method": "fork"},
        {"backend": "thread_pool", "workers": 2, "start_method": "thread"},
    ]


def _wall(speedup: float):
    def wall(config: dict) -> float:
        return SEQUENTIAL_S / (speedup if config["backend"] == "process_pool" else 1.0)

    return wall


def _host(sweep: Path, cpu_model: str | None = None, hostname: str | None = None) -> Path:
    """The sweep's environment.json rewritten as if recorded on another host."""
    path = sweep / "environment.json"
    env = json.loads(path.read_text())
    if cpu_model is not None:
        env["cpu_model"] = cpu_model
        env["topology"]["cpu_model"] = cpu_model
    if hostname is not None:
        env["hostname"] = hostname
    path.write_text(json.dumps(env))
    return sweep


def _sweep(
    path: Path, speedup: float, rounds: int, cpu_model: str, seed: int, sweep_id: str, **kw
) -> Path:
    sweep = write_rounds(
        path, _configs(), _wall(speedup), rounds=rounds, machine="vm", sweep_id=sweep_id, seed=seed, **kw
    )
    return _host(sweep, cpu_model)


# ----------------------------------------------------------------------------- telling hosts apart


def test_one_label_on_two_cpu_models_is_two_machines_with_one_warning(tmp_path: Path) -> None:
    a = _sweep(tmp_path / "a", 1.5, 3, "Intel(R) Xeon(R) Processor", 1, "sa")
    b = _sweep(tmp_path / "b", 1.5, 3, "AMD EPYC 7763 64-Core Processor", 2, "sb")
    rows, envs, warnings = load_results([a, b])
    assert set(rows["machine"]) == {"vm (Intel Xeon)", "vm (AMD EPYC 7763 64-Core)"}
    said = [w for w in warnings if "different machines" in w]
    assert len(said) == 1 and "'vm'" in said[0] and "machine=" in said[0]
    assert {e["machine_label"] for e in envs.values()} == {"vm (Intel Xeon)", "vm (AMD EPYC 7763 64-Core)"}
    # Each machine's rounds are its own blocks: three rounds each, not a merged machine of six.
    from coresweep.analysis.stats import summarize

    summary = summarize(rows)
    assert set(summary["rounds"].astype(int)) == {3}


def test_sweeps_of_one_host_still_combine(tmp_path: Path) -> None:
    a = _sweep(tmp_path / "a", 1.5, 3, "AMD EPYC", 1, "sa")
    b = _sweep(tmp_path / "b", 1.5, 3, "AMD EPYC", 2, "sb")
    rows, _, warnings = load_results([a, b])
    assert set(rows["machine"]) == {"vm"}
    assert not [w for w in warnings if "different machines" in w]


def test_one_label_one_model_two_hostnames_named_by_hostname(tmp_path: Path) -> None:
    a = _host(_sweep(tmp_path / "a", 1.5, 2, "AMD EPYC", 1, "sa"), hostname="node-1")
    b = _host(_sweep(tmp_path / "b", 1.5, 2, "AMD EPYC", 2, "sb"), hostname="node-2")
    rows, _, warnings = load_results([a, b])
    assert set(rows["machine"]) == {"vm (node-1)", "vm (node-2)"}
    assert any("hostname 'node-1' vs 'node-2'" in w for w in warnings)


def test_short_cpu_model() -> None:
    assert short_cpu_model("Intel(R) Xeon(R) Processor") == "Intel Xeon"
    assert short_cpu_model("Intel(R) Core(TM) i7-1185G7 @ 3.00GHz") == "Intel Core i7-1185G7"
    assert short_cpu_model("Apple M2 Pro") == "Apple M2 Pro"
    assert short_cpu_model(None) == "unknown CPU"


# ----------------------------------------------------------------------------- the test itself


def _est(value: float, half: float, dof: float = 4.0, one_round: bool = False) -> Estimate:
    """An estimate whose 95 % interval is value × exp(±half) with a t(dof) quantile."""
    return estimate(value, value * math.exp(-half), value * math.exp(half), "test", dof, one_round)


def test_difference_combines_the_two_standard_errors() -> None:
    a, b = _est(1.5, 0.05), _est(1.5 * 1.3, 0.05)
    ratio, low, high, dof, verdict, differ = difference(a, b)
    assert math.isclose(ratio, 1.3)
    assert differ and verdict == "yes: B higher" and low > 1.0
    # Two independent t(4) estimates of equal se: the difference's dof is their sum (Satterthwaite).
    assert math.isclose(dof, 8.0)
    ratio, low, high, _, verdict, differ = difference(b, a)
    assert high < 1.0 and verdict == "yes: B lower"
    # Equal machines, precise intervals: shown equal within the 3 % margin.
    _, low, high, _, verdict, differ = difference(_est(1.5, 0.005), _est(1.5, 0.005))
    assert not differ and verdict == "no: equal within 3%"
    # Equal machines, wide intervals: no difference shown, and no equality claimed either.
    _, _, _, _, verdict, differ = difference(_est(1.5, 0.2), _est(1.55, 0.2))
    assert not differ and verdict == "no"


def test_a_one_round_side_is_flagged_whatever_the_verdict() -> None:
    one_round = _est(1.5 * 1.3, 0.01, dof=math.inf, one_round=True)
    *_, verdict, differ = difference(_est(1.5, 0.05), one_round)
    assert differ and verdict == f"yes: B higher ({ONE_ROUND_FLAG})"
    *_, verdict, differ = difference(_est(1.5, 0.2), _est(1.5, 0.01, dof=math.inf, one_round=True))
    assert not differ and verdict.endswith(f"({ONE_ROUND_FLAG})")


# ----------------------------------------------------------------------------- the report section


def _machines_csv(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / MACHINES_FILE)


def test_a_planted_30_percent_difference_differs_beyond_the_intervals(tmp_path: Path) -> None:
    a = _sweep(tmp_path / "a", 1.5, 5, "Intel Xeon", 1, "sa")
    b = _sweep(tmp_path / "b", 1.5 * 1.3, 5, "AMD EPYC", 2, "sb")
    result = build_report([a, b], tmp_path / "out")
    table = _machines_csv(result.out_dir)
    speed = table[table["quantity"].eq("speedup")].set_index("backend")
    # A = vm (AMD EPYC) (sorted first): its process_pool is 1.3 times the Intel's.
    assert set(table["machine_a"]) == {"vm (AMD EPYC)"} and set(table["machine_b"]) == {"vm (Intel Xeon)"}
    row = speed.loc["process_pool"]
    assert bool(row["differ"]) and row["verdict"] == "yes: B lower"
    assert row["ratio_low"] < 1 / 1.3 < row["ratio_high"] < 1
    assert not bool(speed.loc["thread_pool", "differ"])  # the same on both: no difference claimed
    assert set(table["a_design"]) | set(table["b_design"]) <= {"5 rounds", "5 rounds, pooled"}
    md = (result.out_dir / "summary.md").read_text()
    assert "## Machines compared" in md and "### Speedups: vm (AMD EPYC) against vm (Intel Xeon)" in md
    assert ONE_ROUND_FLAG not in md
    page = result.index_html.read_text()
    assert 'id="machines"' in page and "yes: B lower" in page
    # Each machine its own verdict line.
    verdict = md.split("## Verdict")[1].split("##")[0]
    assert "on vm (AMD EPYC)" in verdict and "on vm (Intel Xeon)" in verdict


def test_equal_machines_do_not_differ(tmp_path: Path) -> None:
    narrow = {"round_drift": (0.99, 1.01), "job_drift": (0.995, 1.005)}
    a = _sweep(tmp_path / "a", 1.5, 5, "Intel Xeon", 1, "sa", **narrow)
    b = _sweep(tmp_path / "b", 1.5, 5, "AMD EPYC", 2, "sb", **narrow)
    table = _machines_csv(build_report([a, b], tmp_path / "out").out_dir)
    assert not table["differ"].any()
    speed = table[table["quantity"].eq("speedup")].set_index("backend")
    assert speed.loc["process_pool", "verdict"] == "no: equal within 3%"


def test_one_round_against_rounds_names_each_design_and_flags_one_round(tmp_path: Path) -> None:
    old = _sweep(tmp_path / "old", 1.5, 1, "Intel(R) Xeon(R) Processor", 1, "old", with_round=False)
    new = _sweep(tmp_path / "new", 1.5 * 1.3, 3, "AMD EPYC", 2, "new")
    result = build_report([old, new], tmp_path / "out")
    table = _machines_csv(result.out_dir)
    speed = table[table["quantity"].eq("speedup")].set_index("backend")
    assert speed.loc["process_pool", "b_design"] == "1 round, runs only"
    assert speed.loc["process_pool", "a_design"].startswith("3 rounds")
    assert table["verdict"].str.endswith(f"({ONE_ROUND_FLAG})").all()
    md = (result.out_dir / "summary.md").read_text()
    section = md.split("## Machines compared")[1]
    assert "too narrow" in section and "“1 round, runs only”" in section
    # The overview: each machine's CPU model, cores, design and noise line.
    assert "| vm (Intel Xeon) | Intel(R) Xeon(R) Processor | 2 physical, 4 logical, 4 usable |" in section
    assert "1 round × 5 runs per job" in section and "3 rounds × 5 runs per job" in section
    assert "one round only, so the machine's round-to-round noise was not measured" in section


def test_one_machine_has_no_comparison_and_a_rebuild_removes_a_stale_one(tmp_path: Path) -> None:
    a = _sweep(tmp_path / "a", 1.5, 3, "Intel Xeon", 1, "sa")
    b = _sweep(tmp_path / "b", 1.5, 3, "AMD EPYC", 2, "sb")
    out = tmp_path / "out"
    build_report([a, b], out)
    assert (out / MACHINES_FILE).is_file()
    result = build_report([a], out)
    assert not (out / MACHINES_FILE).exists()
    assert "Machines compared" not in (out / "summary.md").read_text()
    assert 'id="machines"' not in result.index_html.read_text()
