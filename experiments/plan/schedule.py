"""The sweep in rounds: every job once per round, each round in a new seeded order.

Used by coresweep's Hydra sweeper (``hydra_plugins/coresweep_plugins/coresweep_sweeper.py``).
The machine's speed drifts by 5-10 % over seconds; jobs timed one after another, each once,
put that drift between configurations, where no interval sees it. Run in rounds, in a fresh
order each round (asv's ``--interleave-processes``, Google Benchmark's random interleaving),
every configuration, the sequential baseline included, samples the whole drift, and the
analysis can resample rounds. The order is reproducible from ``order_seed``; each run of a job
records its ``round`` and ``position``.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf


def round_orders(n_jobs: int, rounds: int, seed: int) -> list[list[int]]:
    """For each round, the job indices in the order they run (seeded, a new order each round).

    One round keeps the planned order (Hydra's expansion), as coresweep ran before rounds.
    """
    if rounds == 1:
        return [list(range(n_jobs))]
    rng = random.Random(seed)
    orders = []
    for _ in range(rounds):
        order = list(range(n_jobs))
        rng.shuffle(order)
        orders.append(order)
    return orders


def schedule_overrides(job: int, round_: int, position: int) -> list[str]:
    """The overrides that place one run of a job in the plan (its folder is ``job``)."""
    return [f"schedule.job={job}", f"schedule.round={round_}", f"schedule.position={position}"]


def round_batches(
    jobs: Sequence[Sequence[str]], rounds: int, seed: int, max_batch_size: int | None = None
) -> list[list[list[str]]]:
    """The batches handed to the launcher: one per round (split at ``max_batch_size``)."""
    batches = []
    for r, order in enumerate(round_orders(len(jobs), rounds, seed)):
        batch = [[*jobs[j], *schedule_overrides(j, r, p)] for p, j in enumerate(order)]
        size = max_batch_size or len(batch) or 1
        batches += [batch[i : i + size] for i in range(0, len(batch), size)]
    return batches


def planned_jobs(arguments: Sequence[str]) -> list[list[str]]:
    """Each job's overrides: as the CLI's preflight planned them, or planned here.

    Preflight (``cli.preflight``) plans, validates and leaves out duplicate sequential jobs
    before Hydra starts; a sweep started another way (Hydra's own entry point, a test) gets the
    same expansion here, without preflight's one-line errors.
    """
    from ..callbacks import LAST_SWEEP_PLAN
    from ..machine.topology_state import current_topology
    from .sweep import compose, duplicate_key, plan

    planned = LAST_SWEEP_PLAN.get("planned")
    if planned is not None and planned["arguments"] == [str(a) for a in arguments]:
        return [list(job) for job in planned["jobs"]]
    sweep = plan(list(arguments), current_topology())
    kept, seen = [], set()
    for job in sweep.jobs:
        key = duplicate_key(compose(job))
        if key is not None and key in seen:
            continue
        seen.add(key)
        kept.append(job)
    return kept


def run_rounds(
    config: DictConfig,
    launcher: Any,
    arguments: Sequence[str],
    max_batch_size: int | None,
) -> list[Any]:
    """The sweeper's work: plan, then launch every round's batches; returns their results.

    ``race=true``: the race decides the rounds and their jobs (``racing.run_race``).
    """
    jobs = planned_jobs(arguments)
    rounds = int(OmegaConf.select(config, "rounds", default=1) or 1)
    seed = int(OmegaConf.select(config, "order_seed", default=0) or 0)
    sweep_dir = Path(str(config.hydra.sweep.dir))
    sweep_dir.mkdir(parents=True, exist_ok=True)
    OmegaConf.save(config, sweep_dir / "multirun.yaml")
    returns: list[Any] = []
    start = 0
    try:
        if OmegaConf.select(config, "race", default=False) is True:
            from .racing import run_race

            return run_race(config, launcher, jobs, seed)
        for batch in round_batches(jobs, rounds, seed, max_batch_size):
            # A job that crashed the harness is counted by the callback; the sweep goes on.
            returns.append(launcher.launch(batch, initial_job_idx=start))
            start += len(batch)
    finally:
        close = getattr(launcher, "close", None)
        if callable(close):
            close()
    return returns
