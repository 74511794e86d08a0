"""benchmarks/sweep_effect.py: the variance components and contrasts on made-up sweeps, and a tiny
real run of a few conditions (its figures are not checked)."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import sweep_effect
from benchmarks.sweep_effect import Job, Sweep

ROOT = Path(__file__).resolve().parents[1]
JOBS = [Job("sequential", 1), Job("pool", 2)]


def _sweeps(cond: str, k: int, shift: float, rng: random.Random) -> list[Sweep]:
    """K sweeps of 4 rounds: round noise 2 %, a per-sweep shift of the sequential time (sd ``shift``)."""
    out = []
    for i in range(k):
        level = rng.gauss(0, shift)
        sweep = Sweep(cond, i, None, 0)
        for _ in range(4):
            seq = level + rng.gauss(0, 0.02)
            sweep.rounds.append({"log_wall": {"sequential": seq, "poolx2": -0.69 + rng.gauss(0, 0.02)}})
        out.append(sweep)
    return out


def test_components_without_a_sweep_effect() -> None:
    rng = random.Random(3)
    found = _sweeps("baseline", 40, 0.0, rng)
    comp = sweep_effect.components([sweep_effect.responses(s, JOBS)["log_sequential"] for s in found])
    assert 0.5 < comp["ratio"] < 2.0
    assert abs(comp["sweep_variance"]) < comp["implied"]


def test_a_factor_that_shifts_sweeps_shows_in_its_contrast() -> None:
    rng = random.Random(5)
    sweeps = {"baseline": _sweeps("baseline", 12, 0.08, rng), "spread": _sweeps("spread", 12, 0.0, rng)}
    result = sweep_effect.analyse(sweeps, JOBS, resamples=300, seed=0)
    seq = result["conditions"]["baseline"]["log_sequential"]
    assert seq["ratio"] > 10 and seq["ratio_ci"][0] > 1
    contrast = result["contrasts"]["time correlation (rounds back to back vs spread)"]["log_sequential"]
    assert contrast["conditions"] == ["baseline", "spread"]
    assert contrast["difference"] > 0 and contrast["difference_ci_paired_bootstrap"][0] > 0
    assert set(result["conditions"]["spread"]) == {"log_sequential", "log_speedup poolx2"}


def test_bad_condition_is_refused() -> None:
    with pytest.raises(SystemExit):
        sweep_effect.main(["--conditions", "baseline,moon_phase"])


@pytest.mark.slow
def test_a_tiny_run_writes_every_condition(tmp_path: Path) -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.sweep_effect",
            "--k",
            "2",
            "--rounds",
            "2",
            "--size",
            "4",
            "--grain",
            "500",
            "--repeats",
            "1",
            "--warmup",
            "0",
            "--min-time-s",
            "0",
            "--resamples",
            "20",
            "--conditions",
            "baseline,spread,server_per_round,fresh,worker_thread",
            "--out",
            str(tmp_path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads((tmp_path / "sweep_effect.json").read_text())
    assert set(result["sweeps"]) == {"baseline", "spread", "server_per_round", "fresh", "worker_thread"}
    for found in result["sweeps"].values():
        assert [len(s["rounds"]) for s in found] == [2, 2]
        assert all(r["log_wall"]["sequential"] is not None for s in found for r in s["rounds"])
    assert "one job server per sweep vs per round" in result["contrasts"]
