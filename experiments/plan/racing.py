"""The sweep as a race (``race=true``; ``+experiment=choose``): rounds until the race stops, then
fresh confirmation rounds of the survivors, all within ``budget_s``.

``schedule.py`` runs every job ``rounds`` times; here the race decides which jobs a round holds
(``analysis.stats.race``). Each round runs the jobs of ``Race.to_run`` (the survivors and the
sequential baseline) once, in a new seeded order, as schedule.py runs a round. After it, each
configuration's log speedup against that round's sequential run (``block_log_speedups`` on the
round's rows, read from the job folders) and the seconds its run took (the launch with Hydra's
steps and the fork) go to ``Race.record``, which drops the clearly slower ones. When
``Race.stop_reason`` says stop, the survivors (``cut_to_confirm``: 3 at most) and the baseline
run fresh rounds, as many as the rest of the budget holds; the answer comes from those rounds
alone (``analysis.choice``). What the race did is written to ``race.json`` for the report.

The seconds between the runs of a round (reading its rows, the race's tests) are counted as
the baseline's: it runs in every round, so the race's estimate of a round's cost carries them,
and ``Race.spent_s`` is the race's wall time.
"""

from __future__ import annotations

import json
import math
import random
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from ..errors import ConfigError
from .schedule import schedule_overrides

#: ``budget_s`` when ``race=true`` leaves it null (the issue's default).
DEFAULT_BUDGET_S = 60.0
#: Confirmation rounds always run (where the budget's estimate allows them) before the clock
#: may cut the confirmation short: a paired interval needs two.
MIN_INTERVAL_ROUNDS = 2

SEQUENTIAL = "sequential"


# ---------------------------------------------------------------------------- preflight


def _given(overrides: Sequence[str]) -> dict[str, str]:
    return {o.partition("=")[0].lstrip("+~"): o.partition("=")[2] for o in overrides if "=" in o}


def check_race_options(
    base: DictConfig, overrides: Sequence[str], jobs: Sequence[Sequence[str]]
) -> float | None:
    """``race``, ``budget_s`` and what a race cannot take, before any job is composed: the budget
    in seconds, or None for a sweep that is no race. Refusals are one-line ConfigErrors."""
    from .sweep import swept_keys

    swept = swept_keys(jobs)
    for key in ("race", "budget_s"):
        if key in swept:
            raise ConfigError(
                f"{key}: one value for the whole sweep (it plans every round); not a list to sweep"
            )
    race = base.get("race", False)
    budget = base.get("budget_s")
    if not isinstance(race, bool):
        raise ConfigError(f"race={race}: choose true or false")
    if not race:
        if budget is not None:
            raise ConfigError(
                f"budget_s={budget}: only a race reads it (it bounds the race and its confirmation); "
                "use +experiment=choose, or add race=true"
            )
        return None
    if budget is None:
        budget = DEFAULT_BUDGET_S
    if (
        isinstance(budget, bool)
        or not isinstance(budget, (int, float))
        or not math.isfinite(budget)
        or budget <= 0
    ):
        raise ConfigError(
            f"budget_s={budget}: must be a positive number of seconds (the race and its confirmation "
            "together), e.g. budget_s=60"
        )
    given = _given(overrides)
    if "rounds" in given:
        raise ConfigError(
            f"rounds={given['rounds']}: a race decides its rounds itself (after each round it drops the "
            "clearly slower configurations, and it stops within budget_s); give budget_s=SECONDS instead"
        )
    if base.get("resume"):
        raise ConfigError(
            f"resume={base.get('resume')}: a race cannot be resumed (each round's jobs depend on the "
            "rounds before it); run it anew"
        )
    sweeper = str(OmegaConf.select(base, "hydra.sweeper._target_", default="") or "")
    if not sweeper.endswith("CoresweepSweeper"):
        raise ConfigError(
            f"race=true: only coresweep's sweeper runs a race, not hydra/sweeper={sweeper.rsplit('.', 1)[-1]}"
        )
    return float(budget)


def check_race_jobs(checked: Sequence[DictConfig]) -> None:
    """A race compares configurations against one sequential baseline, in every round."""
    seq = [c for c in checked if str(c.backend.name) == SEQUENTIAL]
    if not seq:
        raise ConfigError(
            "race=true: needs backend=sequential among the backends (every round times it; each "
            "speedup is against it), e.g. backend=sequential,thread_pool,process_pool"
        )
    if len(seq) > 1:
        workloads = sorted({f"{c.workload.name} size={c.workload.get('size')}" for c in seq})
        raise ConfigError(
            f"race=true: races the configurations of one workload against one sequential baseline; this "
            f"sweep has {len(seq)} ({'; '.join(workloads)}, or another swept key such as python=); run one "
            "race for each"
        )
    if len(checked) < 2:
        raise ConfigError(
            "race=true: nothing to race: the sweep holds only backend=sequential; add parallel backends, "
            "e.g. backend=sequential,thread_pool,process_pool"
        )


# ---------------------------------------------------------------------------- the race


class _Rounds:
    """Launches jobs one at a time (each timed, Hydra's steps included) and reads their rows."""

    def __init__(self, launcher: Any, jobs: Sequence[Sequence[str]], sweep_dir: Path, seed: int) -> None:
        self.launcher, self.jobs, self.sweep_dir = launcher, jobs, sweep_dir
        self.rng = random.Random(seed)
        self.next_idx = 0
        self.returns: list[Any] = []

    def run(self, job_ids: Sequence[int], round_: int) -> dict[int, float]:
        """One round of ``job_ids`` in a new seeded order; each job's seconds."""
        from ..callbacks import LAST_SWEEP_PLAN

        order = list(job_ids)
        self.rng.shuffle(order)
        LAST_SWEEP_PLAN["race_round_jobs"] = len(order)
        seconds: dict[int, float] = {}
        for position, j in enumerate(order):
            batch = [[*self.jobs[j], *schedule_overrides(j, round_, position)]]
            t0 = time.perf_counter()
            self.returns.append(self.launcher.launch(batch, initial_job_idx=self.next_idx))
            seconds[j] = time.perf_counter() - t0
            self.next_idx += 1
        return seconds

    def rows(self, job_ids: Sequence[int]) -> Any:
        from coresweep.analysis.choice import race_rows

        files = [self.sweep_dir / str(j) / "results.jsonl" for j in job_ids]
        files = [f for f in files if f.is_file()]
        if not files:
            import pandas as pd

            return pd.DataFrame()
        return race_rows(files)


def run_race(config: DictConfig, launcher: Any, jobs: Sequence[Sequence[str]], seed: int) -> list[Any]:
    """Race the jobs (see the module docstring); writes race.json and choice.json."""
    from coresweep.analysis.choice import RACE_FILE, job_keys, race_record, round_values, write_choice
    from coresweep.analysis.stats.race import Race, cut_to_confirm

    from ..callbacks import LAST_SWEEP, LAST_SWEEP_PLAN

    started = time.perf_counter()
    budget = float(OmegaConf.select(config, "budget_s", default=None) or DEFAULT_BUDGET_S)
    sweep_dir = Path(str(config.hydra.sweep.dir))
    rounds = _Rounds(launcher, jobs, sweep_dir, seed)
    everyone = list(range(len(jobs)))

    def one_round(job_ids: Sequence[int], round_: int) -> tuple[dict[int, float], Any, float]:
        t0 = time.perf_counter()
        secs = rounds.run(job_ids, round_)
        rows = rounds.rows(job_ids)
        return secs, rows, t0

    LAST_SWEEP_PLAN["race_phase"] = "race round 1"
    secs, rows, t0 = one_round(everyone, 0)
    keys = job_keys(rows)  # job folder -> configuration key (a job without rows cannot race)
    job_of = {k: int(j) for j, k in keys.items()}
    baseline = next((k for k in job_of if k[_backend_index()] == SEQUENTIAL), None)
    candidates = [k for k in sorted(job_of, key=lambda k: job_of[k]) if k != baseline]
    race = Race(candidates, budget, baseline=baseline)

    def record(round_: int, secs: dict[int, float], rows: Any, t0: float) -> None:
        values = round_values(rows, round_)
        by_key = {k: secs[j] for k, j in job_of.items() if j in secs}
        between = time.perf_counter() - t0 - sum(secs.values())
        if baseline in by_key:  # reading the rows and the tests: the baseline's (module docstring)
            by_key[baseline] += max(0.0, between)
        race.record(round_, values, by_key)

    record(0, secs, rows, t0)
    round_ = 0
    while race.stop_reason() is None:
        round_ += 1
        LAST_SWEEP_PLAN["race_phase"] = f"race round {round_ + 1}"
        ids = [job_of[k] for k in race.to_run()]
        secs, rows, t0 = one_round(ids, round_)
        record(round_, secs, rows, t0)
    keep = cut_to_confirm(race)
    planned = race.confirm_rounds()
    confirm_ids = [job_of[k] for k in keep] + ([job_of[baseline]] if baseline is not None else [])
    confirm_rounds: list[int] = []
    confirm_s = 0.0
    for i in range(planned):
        per_round = confirm_s / i if i else 0.0
        if i >= MIN_INTERVAL_ROUNDS and time.perf_counter() - started + per_round > budget:
            break  # the clock, not the estimate, has the last word
        round_ += 1
        LAST_SWEEP_PLAN["race_phase"] = f"confirmation round {i + 1}/{planned}"
        t0 = time.perf_counter()
        rounds.run(confirm_ids, round_)
        confirm_s += time.perf_counter() - t0
        confirm_rounds.append(round_)
    elapsed = time.perf_counter() - started
    all_rows = rounds.rows(everyone)
    timed = _timed_seconds(all_rows)
    record_ = race_record(
        race,
        {k: str(j) for k, j in job_of.items()},
        keep,
        confirm_rounds,
        confirm_s,
        elapsed_s=elapsed,
        timed_s=timed,
        jobs_without_rows=[str(j) for j in everyone if str(j) not in keys],
    )
    (sweep_dir / RACE_FILE).write_text(json.dumps(record_, indent=2) + "\n", encoding="utf-8")
    LAST_SWEEP_PLAN.pop("race_phase", None)
    try:
        report = (
            sweep_dir / "report" / "index.html" if OmegaConf.select(config, "report", default=True) else None
        )
        LAST_SWEEP["choice"] = write_choice(
            sweep_dir, [sweep_dir], all_rows, None if report is None else str(report)
        )
    except Exception as exc:  # the rows and race.json are on disk: the report retries
        print(f"coresweep: warning: the race's answer could not be computed ({exc})", file=sys.stderr)
    return rounds.returns


def _backend_index() -> int:
    from coresweep.analysis.load import GROUP_KEYS

    return GROUP_KEYS.index("backend")


def _timed_seconds(rows: Any) -> float | None:
    """Seconds inside timed regions (each run's wall_s x loops): the race's measuring share."""
    if rows is None or len(rows) == 0 or "wall_s" not in rows:
        return None
    import pandas as pd

    wall = pd.to_numeric(rows["wall_s"], errors="coerce")
    loops = pd.to_numeric(rows["loops"], errors="coerce").fillna(1) if "loops" in rows else 1
    return float((wall * loops).fillna(0).sum())
