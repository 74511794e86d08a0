"""Each job's config is composed once (in preflight) and is exactly what Hydra would compose."""

from __future__ import annotations

from pathlib import Path

import pytest

from coresweep.experiments import cli
from coresweep.experiments.callbacks import LAST_SWEEP
from coresweep.experiments.composed import ComposedConfigs, hydra_overrides

SWEEP = ["-m", "backend=sequential,thread_pool", "workers=1,2", "workload=io_sleep", "workload.size=4",
         "workload.grain=500", "repeats=1", "warmup=0", "report=false"]


def _hydra_files(sweep: Path) -> dict[str, str]:
    return {
        str(p.relative_to(sweep)): p.read_text().replace(str(sweep), "SWEEP")
        for p in sorted(sweep.glob("*/.hydra/*.yaml"))
    }


def test_launcher_gets_the_preflight_configs_and_they_equal_hydras(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kept, plain = tmp_path / "kept", tmp_path / "plain"
    assert cli.main([*SWEEP, "rounds=2", f"hydra.sweep.dir={kept}"]) == 0
    # 3 jobs (sequential once, thread_pool at 1 and 2 workers) x 2 rounds: none composed again
    assert LAST_SWEEP["jobs_composed_once"] == 6
    monkeypatch.setattr(ComposedConfigs, "get", lambda self, hydra_lines, job: None)
    assert cli.main([*SWEEP, "rounds=2", f"hydra.sweep.dir={plain}"]) == 0
    assert LAST_SWEEP["jobs_composed_once"] == 0
    kept_files, plain_files = _hydra_files(kept), _hydra_files(plain)
    assert len(kept_files) == 9  # config, hydra, overrides for each of 3 jobs (the last round's)
    assert kept_files == plain_files


def test_hydra_overrides_are_picked_in_order() -> None:
    lines = ["backend=pool", "hydra.sweep.dir=/x", "+experiment=grain", "hydra/launcher=basic"]
    assert hydra_overrides(lines) == ["hydra.sweep.dir=/x", "hydra/launcher=basic"]
