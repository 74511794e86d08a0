"""coresweep's Hydra sweeper: rounds in seeded orders, duplicates left out, resume per round."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hydra import compose, initialize_config_module
from hydra.core.global_hydra import GlobalHydra
from hydra.utils import instantiate

from coresweep.experiments.plan.schedule import round_batches, round_orders

from . import early

ROOT = Path(__file__).resolve().parents[1]


def test_orders_differ_between_rounds_and_repeat_with_the_seed() -> None:
    orders = round_orders(8, 4, seed=0)
    assert all(sorted(order) == list(range(8)) for order in orders)
    assert len({tuple(o) for o in orders}) == 4  # a new order each round
    assert orders == round_orders(8, 4, seed=0)
    assert orders != round_orders(8, 4, seed=1)


def test_batches_are_rounds_and_carry_each_runs_place() -> None:
    jobs = [["backend=sequential"], ["backend=pool", "workers=2"], ["backend=thread_pool", "workers=2"]]
    batches = round_batches(jobs, rounds=2, seed=3)
    assert len(batches) == 2 and all(len(b) == 3 for b in batches)
    for r, batch in enumerate(batches):
        placed = {tuple(o for o in run if not o.startswith("schedule.")): run for run in batch}
        assert set(placed) == {tuple(j) for j in jobs}
        for position, run in enumerate(batch):
            assert f"schedule.round={r}" in run and f"schedule.position={position}" in run
            job = jobs.index([o for o in run if not o.startswith("schedule.")])
            assert f"schedule.job={job}" in run
    assert len(round_batches(jobs, rounds=2, seed=3, max_batch_size=1)) == 6


class _RecordingLauncher:
    def __init__(self) -> None:
        self.batches: list[tuple[list[list[str]], int]] = []
        self.closed = False

    def launch(self, batch: Any, initial_job_idx: int) -> list[Any]:
        self.batches.append(([list(job) for job in batch], initial_job_idx))
        return []

    def close(self) -> None:
        self.closed = True


def test_sweeper_through_the_compose_api(tmp_path: Path) -> None:
    GlobalHydra.instance().clear()
    overrides = ["rounds=3", "order_seed=5", f"hydra.sweep.dir={tmp_path}"]
    with initialize_config_module("coresweep.conf", version_base="1.3"):
        cfg = compose("config", overrides=overrides, return_hydra_config=True)
        assert cfg.hydra.sweeper._target_.endswith("coresweep_sweeper.CoresweepSweeper")
        assert cfg.hydra.launcher._target_.endswith("coresweep_launcher.CoresweepLauncher")
        sweeper = instantiate(cfg.hydra.sweeper)
        sweeper.config = cfg
        sweeper.launcher = launcher = _RecordingLauncher()
        from coresweep.experiments.callbacks import LAST_SWEEP_PLAN

        LAST_SWEEP_PLAN.pop("planned", None)
        sweeper.sweep(["backend=sequential,pool", "workers=1,2", "workload=cpu_python"])
    GlobalHydra.instance().clear()
    assert launcher.closed
    assert [start for _, start in launcher.batches] == [0, 3, 6]  # three rounds of three jobs
    runs = [run for batch, _ in launcher.batches for run in batch]
    # sequential ignores workers: it runs once per round, not once per worker count
    assert sum("backend=sequential" in run for run in runs) == 3
    orders = [[next(o for o in run if o.startswith("schedule.job=")) for run in batch] for batch, _ in
              launcher.batches]
    assert len({tuple(o) for o in orders}) > 1
    assert (tmp_path / "multirun.yaml").is_file()


def _sweep(tmp_path: Path, name: str, *overrides: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "coresweep.experiments.entry", "-m", "backend=sequential,thread_pool",
         "workers=1,2", "workload=io_sleep", "workload.size=4", "workload.grain=200", "repeats=2",
         "warmup=0", "min_time_s=0", "report=false", f"hydra.sweep.dir={tmp_path / name}", *overrides],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )


def _rows(sweep: Path) -> dict[str, list[dict[str, Any]]]:
    return {
        p.parent.name: [json.loads(line) for line in p.read_text().splitlines()]
        for p in sorted(sweep.glob("*/results.jsonl"))
    }


@pytest.mark.slow
def test_rounds_through_the_cli_are_reproducible_from_the_seed(tmp_path: Path) -> None:
    first = _sweep(tmp_path, "a", "rounds=2", "order_seed=7")
    assert first.returncode == 0, first.stderr
    again = _sweep(tmp_path, "b", "rounds=2", "order_seed=7")
    assert again.returncode == 0, again.stderr
    a, b = _rows(tmp_path / "a"), _rows(tmp_path / "b")
    assert sorted(a) == ["0", "1", "2"]  # sequential once, thread_pool at 1 and 2 workers
    for job, rows in a.items():
        assert [(r["round"], r["repeat"]) for r in rows] == [(0, 0), (0, 1), (1, 0), (1, 1)]
        assert all(r["ok"] and r["rounds"] == 2 and r["order_seed"] == 7 for r in rows)
        assert [r["position"] for r in rows] == [r["position"] for r in b[job]]
    positions = {job: [rows[0]["position"], rows[2]["position"]] for job, rows in a.items()}
    assert sorted(p[0] for p in positions.values()) == [0, 1, 2]
    assert "round 2/2" in first.stderr  # the progress lines say which round


@pytest.mark.slow
def test_resume_keeps_finished_rounds_and_reruns_the_rest(tmp_path: Path) -> None:
    out = _sweep(tmp_path, "s", "rounds=2")
    assert out.returncode == 0, out.stderr
    sweep = tmp_path / "s"
    path = sweep / "1" / "results.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    # Round 1 of job 1 was cut short: one row, interrupted.
    cut = [*rows[:2], {**rows[2], "interrupted": True}]
    path.write_text("".join(json.dumps(r) + "\n" for r in cut))
    before = {job: [r["timestamp"] for r in kept] for job, kept in _rows(sweep).items()}
    out = _sweep(tmp_path, "s", "rounds=2", f"resume={sweep}")
    assert out.returncode == 0, out.stderr
    after = _rows(sweep)
    for job in ("0", "2"):  # finished jobs: untouched
        assert [r["timestamp"] for r in after[job]] == before[job]
    rerun = after["1"]
    assert [(r["round"], r["repeat"]) for r in rerun] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert [r["timestamp"] for r in rerun[:2]] == before["1"][:2]  # round 0 kept
    assert not any(r.get("interrupted") for r in rerun)
    assert list((sweep / "1").glob("results.unfinished-*.jsonl"))  # set aside, never deleted


SUBMITIT_TEST = "test_submitit_local_with_rounds"


@pytest.fixture(scope="module", autouse=True)
def submitit_sweep(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """The submitit_local sweep (a fresh interpreter per job run, and submitit's polling: about
    10 s, much of it waiting) starts with this module's first test and runs beside the others."""
    try:
        import hydra_plugins.hydra_submitit_launcher  # noqa: F401
    except ImportError:
        yield None
        return
    if not early.selected(request, __file__, SUBMITIT_TEST):
        yield None
        return
    folder = tmp_path_factory.mktemp("submitit")
    sweep = folder / "sweep"
    cmd = [
        sys.executable, "-m", "coresweep.experiments.entry", "hydra/launcher=coresweep_submitit_local",
        "hydra.sweeper.max_batch_size=1", "-m", "backend=sequential,thread_pool", "workers=2",
        "workload=io_sleep", "workload.size=4", "workload.grain=200", "repeats=2", "warmup=0",
        "min_time_s=0", "rounds=2", f"hydra.sweep.dir={sweep}",
    ]
    with early.started(subprocess.run, cmd, cwd=folder, capture_output=True, text=True, timeout=300,
                       env={**os.environ, "PYTHONPATH": str(ROOT)}) as future:
        yield sweep, future


@pytest.mark.slow
def test_submitit_local_with_rounds(submitit_sweep) -> None:
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    sweep, future = submitit_sweep  # started with the module's first test
    out = future.result()
    assert out.returncode == 0, out.stderr
    rows = _rows(sweep)
    assert sorted(rows) == ["0", "1"]
    for kept in rows.values():
        assert sorted((r["round"], r["repeat"]) for r in kept) == [(0, 0), (0, 1), (1, 0), (1, 1)]
        assert all(r["ok"] and r["job_process"] == "fresh" for r in kept)  # no job server there
    assert (sweep / "report" / "index.html").is_file()


def test_rounds_is_one_value_for_the_sweep(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from coresweep.experiments.cli import main

    assert main(["-m", "rounds=1,2", "backend=sequential", f"hydra.sweep.dir={tmp_path / 's'}"]) == 2
    assert "rounds: one value for the whole sweep" in capsys.readouterr().err
    assert main(["rounds=0", "backend=sequential", f"hydra.sweep.dir={tmp_path / 's'}"]) == 2
    assert "rounds=0: must be an integer >= 1" in capsys.readouterr().err
    assert not (tmp_path / "s").exists()


@pytest.mark.slow
def test_resume_keeps_the_rows_its_own_rounds_wrote(tmp_path: Path) -> None:
    """A round that dies again while resuming keeps its failed row: a later round's check sets
    aside only rows older than the resumption, never the ones it just wrote."""
    sweep = tmp_path / "s"
    cmd = [sys.executable, "-m", "coresweep.experiments.entry", "-m", "backend=thread_pool", "workers=2",
           "workload=custom", "workload.fn=tests.tasks:kill_own_process_off_main_thread", "workload.size=4",
           "rounds=2", "repeats=2", "report=false", f"hydra.sweep.dir={sweep}"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    first = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env)
    assert first.returncode == 1, first.stderr
    again = subprocess.run([*cmd, f"resume={sweep}"], cwd=tmp_path, capture_output=True, text=True,
                           timeout=300, env=env)
    assert again.returncode == 1, again.stderr
    rows = _rows(sweep)["0"]
    assert sorted(r["round"] for r in rows) == [0, 1] and all(r["job_died"] for r in rows)
    assert "signal SIGKILL" in rows[0]["error"]
    assert len(list((sweep / "0").glob("results.unfinished-*.jsonl"))) == 1
