"""What moves a whole sweep? An experiment that makes the sweep-level effect visible (issue 29, point 2).

Six identical sweeps differed by more than their rounds imply: the between-sweep variance of the
mean log sequential time was 2.4x what the round-to-round variance implies. Something constant
within a sweep moves its baseline. This experiment runs many small sweeps under conditions that
each change one candidate, and estimates each candidate's share of the between-sweep variance.

A sweep here is what coresweep's launcher does, without Hydra: ``rounds`` rounds, each running
the same jobs once in a new seeded order (default: sequential, thread x1, pool x2 on cpu_python),
each job measured in a child forked from a job server (``isolation.run_isolated``, the code every
sweep uses), with the other processes' CPU share measured around it (``launch/busy.py``).

Conditions (``--conditions``; each changes one thing from ``baseline``):

==================  ===========================================================================
baseline            one job server per sweep, rounds back to back (as coresweep runs a sweep)
spread              the same, but the rounds of a sweep spread out in time: each turn runs one
                    round of ``rounds`` different sweeps, so a sweep's rounds are a turn apart
server_per_round    a new job server every round (process image, hash seed, layout per round)
hash_seed_fixed     a new server every round, but one PYTHONHASHSEED for the whole sweep
env_fixed           a new server every round, but one environment size for the whole sweep
                    (the others pad the server's environment by a random 0-4 KiB per round)
aslr_off            one server per sweep, address-space layout randomisation off (setarch -R)
fresh               a fresh interpreter per job (no server)
worker_thread       one server per sweep; the job process measures in a worker thread
==================  ===========================================================================

Contrasts (what each factor contributes; positive = the factor adds between-sweep variance):

- time correlation: baseline - spread
- one job server per sweep: baseline - server_per_round
- hash seed: hash_seed_fixed - server_per_round
- environment size: env_fixed - server_per_round
- address-space layout: baseline - aslr_off
- job process image (fork vs fresh): baseline - fresh
- main vs worker thread: baseline - worker_thread

For each condition and response (mean log sequential time; mean log speedup of each parallel
job), the sweep variance component is var(sweep means) - mean(round-to-round variance) / R (one-way
random effects), and the ratio var(sweep means) / (round variance / R) (1: no sweep effect). The
conditions take turns (turn i runs sweep i of every condition, in a new seeded order), so a
contrast's interval comes from a bootstrap over turns, the same turns for both sides (paired).

    python -m benchmarks.sweep_effect [--k 8] [--rounds 4] [--conditions baseline,spread,...]

Writes benchmarks/results/sweep_effect.json (``--out``, ``--name``).
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._results import machine_header, write_result
from coresweep.experiments.job.protocol import Protocol
from coresweep.experiments.launch import isolation
from coresweep.experiments.launch.busy import BusyProbe, watched_cpus
from coresweep.experiments.launch.interpreter import child_env
from coresweep.experiments.machine.worker_setup import ENV_VARS

RESULTS = Path(__file__).resolve().parent / "results"
ROOT = Path(__file__).resolve().parents[1]
CONDITIONS = (
    "baseline",
    "spread",
    "server_per_round",
    "hash_seed_fixed",
    "env_fixed",
    "aslr_off",
    "fresh",
    "worker_thread",
)
#: factor -> (condition with the factor constant within a sweep, condition without it).
CONTRASTS = {
    "time correlation (rounds back to back vs spread)": ("baseline", "spread"),
    "one job server per sweep vs per round": ("baseline", "server_per_round"),
    "hash seed (per sweep vs per round)": ("hash_seed_fixed", "server_per_round"),
    "environment size (per sweep vs per round)": ("env_fixed", "server_per_round"),
    "address-space layout (randomised per sweep vs off)": ("baseline", "aslr_off"),
    "job process (forked vs fresh interpreter)": ("baseline", "fresh"),
    "main thread vs worker thread": ("baseline", "worker_thread"),
}
BACKENDS = {
    "sequential": "coresweep.experiments.backends.sequential.SequentialBackend",
    "thread": "coresweep.experiments.backends.threads.ThreadBackend",
    "thread_pool": "coresweep.experiments.backends.threads.ThreadPoolBackend",
    "pool": "coresweep.experiments.backends.processes.PoolBackend",
    "process_pool": "coresweep.experiments.backends.processes.ProcessPoolBackend",
}
WORKLOAD = "coresweep.experiments.workloads.cpu_python.CpuPython"
PAD_MAX = 4096


# --- job servers of each condition -------------------------------------------------------------


def serve_worker_thread() -> None:
    """A job server whose job processes measure in a worker thread (this benchmark only)."""
    from coresweep.experiments.launch import job_child, job_server

    original = job_child.run

    def run_in_thread(request: dict[str, Any], result_path: str) -> Any:
        out: dict[str, Any] = {}
        worker = threading.Thread(target=lambda: out.setdefault("r", original(request, result_path)))
        worker.start()
        worker.join()
        return out.get("r")

    job_child.run = run_in_thread  # type: ignore[assignment]
    job_server.serve()


class Server(isolation.JobServer):
    """coresweep's job server, started with a given hash seed, environment padding and prefix."""

    def __init__(
        self, hash_seed: int | None, pad: int, aslr_off: bool = False, worker_thread: bool = False
    ) -> None:
        env = dict(os.environ)
        env.update({name: "1" for name in ENV_VARS})
        env.pop("PYTHONHASHSEED", None)
        if hash_seed is not None:
            env["PYTHONHASHSEED"] = str(hash_seed)
        env["CORESWEEP_BENCH_PAD"] = "x" * pad
        code = self.serve_code
        if worker_thread:
            code = (
                f"import sys; sys.path.insert(0, {str(ROOT)!r}); "
                "from benchmarks.sweep_effect import serve_worker_thread; serve_worker_thread()"
            )
        prefix = ["setarch", platform.machine(), "-R"] if aslr_off else []
        self.proc = subprocess.Popen(
            [*prefix, sys.executable, "-c", code],
            env=child_env(env),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            start_new_session=True,
        )
        self.pid = self.proc.pid
        self._buffer = b""
        self._eof = False
        self.info = None
        self.wait_ready()


@dataclass
class Sweep:
    """One small sweep of a condition: its rounds' values and, while it runs, its server."""

    condition: str
    index: int
    hash_seed: int | None
    pad: int
    server: Server | None = None
    rounds: list[dict[str, Any]] = field(default_factory=list)


def _server_for(cond: str, sweep: Sweep, rng: random.Random, per_round: bool) -> Server | None:
    """The server this condition's round runs on (None: a fresh interpreter per job)."""
    if cond == "fresh":
        return None
    if not per_round:
        if sweep.server is None:
            sweep.server = Server(
                sweep.hash_seed, sweep.pad, aslr_off=cond == "aslr_off", worker_thread=cond == "worker_thread"
            )
        return sweep.server
    seed = sweep.hash_seed if cond == "hash_seed_fixed" else rng.randrange(2**32)
    pad = sweep.pad if cond == "env_fixed" else rng.randrange(PAD_MAX + 1)
    return Server(seed, pad)


# --- one round -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    backend: str
    workers: int

    @property
    def name(self) -> str:
        return self.backend if self.backend == "sequential" else f"{self.backend}x{self.workers}"


def _request(job: Job, args: argparse.Namespace) -> isolation.JobRequest:
    protocol = Protocol(repeats=args.repeats, warmup=args.warmup, min_time_s=args.min_time_s, timeout_s=120)
    return isolation.JobRequest(
        backend_target=BACKENDS[job.backend],
        workers=job.workers,
        start_method="auto",
        workload_target=WORKLOAD,
        workload_options={"size": args.size, "grain": args.grain, "seed": 0},
        collect="return",
        protocol=protocol,
        task_timeout_s=120,
    )


def run_round(
    server: Server | None, jobs: list[Job], args: argparse.Namespace, rng: random.Random
) -> dict[str, Any]:
    """Every job once in a seeded random order; per job the log of its median wall time."""
    if server is None:
        isolation.ISOLATION._ready = False
    else:
        isolation.ISOLATION.server, isolation.ISOLATION._ready = server, True
    order = list(jobs)
    rng.shuffle(order)
    probe = BusyProbe(watched_cpus(None))
    out: dict[str, Any] = {
        "order": [j.name for j in order],
        "log_wall": {},
        "busy_share": {},
        "at": time.time(),
    }
    for job in order:
        start = probe.sample()
        measurement, _ = isolation.run_isolated(
            None, _request(job, args), ("cpu_python", args.size, args.grain)
        )
        out["busy_share"][job.name] = probe.share(start, probe.sample())
        walls = [r.wall_s for r in measurement.runs if r.ok and r.wall_s]
        out["log_wall"][job.name] = math.log(statistics.median(walls)) if walls else None
    isolation.ISOLATION.server, isolation.ISOLATION._ready = None, False
    return out


# --- the statistics ------------------------------------------------------------------------------


def responses(sweep: Sweep, jobs: list[Job]) -> dict[str, list[float]]:
    """Per response, the sweep's per-round values: log sequential time, log speedup of each job."""
    out: dict[str, list[float]] = {"log_sequential": []}
    for job in jobs:
        if job.backend != "sequential":
            out[f"log_speedup {job.name}"] = []
    for rnd in sweep.rounds:
        logs = rnd["log_wall"]
        seq = logs.get("sequential")
        if seq is None:
            continue
        out["log_sequential"].append(seq)
        for job in jobs:
            if job.backend != "sequential" and logs.get(job.name) is not None:
                out[f"log_speedup {job.name}"].append(seq - logs[job.name])
    return out


def components(series: list[list[float]]) -> dict[str, float | None]:
    """Sweep variance component and between/implied ratio of K sweeps' per-round values."""
    usable = [v for v in series if len(v) >= 2]
    if len(usable) < 2:
        return {"sweep_variance": None, "ratio": None, "between": None, "implied": None}
    between = statistics.variance([statistics.mean(v) for v in usable])
    rounds = len(usable) / sum(1 / len(v) for v in usable)
    implied = statistics.mean(statistics.variance(v) for v in usable) / rounds
    return {
        "sweep_variance": between - implied,
        "ratio": between / implied if implied > 0 else None,
        "between": between,
        "implied": implied,
    }


def _ci(values: list[float]) -> list[float] | None:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return (
        [float(np.percentile(finite, 2.5)), float(np.percentile(finite, 97.5))] if len(finite) >= 10 else None
    )


def analyse(sweeps: dict[str, list[Sweep]], jobs: list[Job], resamples: int, seed: int) -> dict[str, Any]:
    """Per condition its components (bootstrap over sweeps), per factor the paired contrast."""
    series = {c: [responses(s, jobs) for s in found] for c, found in sweeps.items()}
    names = sorted({r for per in series.values() for found in per for r in found})
    k = min(len(found) for found in sweeps.values())
    rng = np.random.default_rng(seed)
    draws = [list(rng.integers(0, k, k)) for _ in range(resamples)] if k >= 2 else []

    def comp(cond: str, name: str, idx: list[int]) -> dict[str, float | None]:
        return components([series[cond][i].get(name, []) for i in idx])

    conditions = {}
    for cond in sweeps:
        conditions[cond] = {}
        for name in names:
            point = comp(cond, name, list(range(k)))
            boots = [comp(cond, name, d) for d in draws]
            conditions[cond][name] = {
                **point,
                "sweep_variance_ci": _ci([b["sweep_variance"] or math.nan for b in boots]),
                "ratio_ci": _ci([b["ratio"] or math.nan for b in boots]),
            }
    contrasts = {}
    for factor, (with_, without) in CONTRASTS.items():
        if with_ not in sweeps or without not in sweeps:
            continue
        contrasts[factor] = {}
        for name in names:

            def diff(idx: list[int], name: str = name, a_cond: str = with_, b_cond: str = without) -> float:
                a, b = comp(a_cond, name, idx)["sweep_variance"], comp(b_cond, name, idx)["sweep_variance"]
                return math.nan if a is None or b is None else a - b

            contrasts[factor][name] = {
                "conditions": [with_, without],
                "difference": diff(list(range(k))),
                "difference_ci_paired_bootstrap": _ci([diff(d) for d in draws]),
            }
    return {"turns": k, "conditions": conditions, "contrasts": contrasts}


# --- the command -------------------------------------------------------------------------------


def _jobs(text: str) -> list[Job]:
    jobs = []
    for part in text.split(","):
        backend, _, workers = part.partition(":")
        if backend not in BACKENDS:
            raise SystemExit(f"--jobs: {backend}: choose from {', '.join(BACKENDS)}")
        jobs.append(Job(backend, int(workers or 1)))
    if not any(j.backend == "sequential" for j in jobs):
        jobs.insert(0, Job("sequential", 1))
    return jobs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--k", type=int, default=8, help="sweeps per condition (turns); default 8")
    parser.add_argument("--rounds", type=int, default=4, help="rounds per sweep (default 4)")
    parser.add_argument("--conditions", default=",".join(CONDITIONS), help="comma-separated; default all")
    parser.add_argument(
        "--jobs", default="sequential,thread:1,pool:2", help="backend:workers, comma-separated"
    )
    parser.add_argument(
        "--size", type=int, default=64, help="cpu_python tasks (default 64, the default sweep's)"
    )
    parser.add_argument("--grain", type=int, default=20000, help="cpu_python loop iterations per task")
    parser.add_argument("--repeats", type=int, default=2, help="timed runs per job and round (default 2)")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--min-time-s", type=float, default=0.1)
    parser.add_argument(
        "--seed", type=int, default=0, help="seeds the orders, hash seeds, paddings, bootstrap"
    )
    parser.add_argument("--resamples", type=int, default=2000)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--name", default="sweep_effect.json")
    args = parser.parse_args(argv)
    conditions = [c for c in args.conditions.split(",") if c]
    bad = [c for c in conditions if c not in CONDITIONS]
    if bad:
        parser.error(f"--conditions: {bad[0]}: choose from {', '.join(CONDITIONS)}")
    if args.k < 2 or args.rounds < 2:
        parser.error("--k and --rounds: at least 2 each (variances need two)")
    if "aslr_off" in conditions and (shutil.which("setarch") is None or not sys.platform.startswith("linux")):
        print("sweep_effect: no setarch here: aslr_off left out", file=sys.stderr)
        conditions.remove("aslr_off")
    jobs = _jobs(args.jobs)
    rng = random.Random(args.seed)
    sweeps = {
        c: [Sweep(c, i, rng.randrange(2**32), rng.randrange(PAD_MAX + 1)) for i in range(args.k)]
        for c in conditions
    }
    started = time.time()
    for turn in range(args.k):
        order = list(conditions)
        rng.shuffle(order)  # taking turns, in a new order each turn
        for cond in order:
            if cond == "spread":
                # One round each of ``rounds`` different sweeps: a sweep's rounds are a turn apart.
                for j in range(args.rounds):
                    sweep = sweeps[cond][(turn - j) % args.k]
                    if len(sweep.rounds) < args.rounds:
                        sweep.rounds.append(run_round(_server_for(cond, sweep, rng, False), jobs, args, rng))
                continue
            sweep = sweeps[cond][turn]
            for _ in range(args.rounds):
                server = _server_for(
                    cond, sweep, rng, per_round=cond in ("server_per_round", "hash_seed_fixed", "env_fixed")
                )
                sweep.rounds.append(run_round(server, jobs, args, rng))
                if server is not None and server is not sweep.server:
                    server.close()
            if sweep.server is not None:
                sweep.server.close()
                sweep.server = None
        print(f"turn {turn + 1}/{args.k} done ({time.time() - started:.0f} s)", file=sys.stderr, flush=True)
    for found in sweeps.values():  # spread's servers live across turns
        for sweep in found:
            if sweep.server is not None:
                sweep.server.close()
    result = analyse(sweeps, jobs, args.resamples, args.seed)
    print(f"{'condition':18} {'response':26} {'ratio':>7} {'sweep var':>11}")
    for cond, per in result["conditions"].items():
        for name, c in per.items():
            ratio = c["ratio"] if c["ratio"] is not None else math.nan
            var = c["sweep_variance"] if c["sweep_variance"] is not None else math.nan
            print(f"{cond:18} {name:26} {ratio:>7.2f} {var:>11.2e}")
    for factor, per in result["contrasts"].items():
        seq = per.get("log_sequential", {})
        ci = seq.get("difference_ci_paired_bootstrap")
        print(
            f"{factor}: sequential sweep variance difference {seq.get('difference', math.nan):.2e}"
            + (f" [{ci[0]:.2e}, {ci[1]:.2e}]" if ci else "")
        )
    write_result(
        args.out,
        args.name,
        {
            **machine_header(),
            "k": args.k,
            "rounds": args.rounds,
            "jobs": [j.name for j in jobs],
            "size": args.size,
            "grain": args.grain,
            "repeats": args.repeats,
            "seed": args.seed,
            "wall_s": time.time() - started,
            "loadavg_end": os.getloadavg()[0],
            **result,
            "sweeps": {
                c: [{"hash_seed": s.hash_seed, "pad": s.pad, "rounds": s.rounds} for s in found]
                for c, found in sweeps.items()
            },
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
