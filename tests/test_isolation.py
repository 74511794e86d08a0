"""Every job is measured in a child process: a crash, a hang or a leak there is a failed row.

Real sweeps through the real command (as test_cli_sweep.py runs them), each with a unique
``CRASH_TEST_MARKER`` in its environment: every process it starts (the job server, the job
children, their workers) inherits it, so "no process left" is "no live process carries the
marker" once the command has ended. The crashing functions are in ``tests/crashers.py``; they
crash only in the timed runs, never in the sequential reference (see that module).

The sweeps are independent, so the ones the selected tests need start together when the
first of those tests asks (at most ``PARALLEL`` at a time, longest first) and each test waits
for its own: most of their time is spent waiting on limits (``timeout_s``, the grace a stuck
thread gets), not computing. Where a stuck thread can only be waited out (its backend runs the
task in the job's own process, or the reference hangs), the sweep sets that grace to
``SHORT_GRACE`` (``CORESWEEP_STUCK_GRACE_S``): the same path, ended sooner. Sweeps whose
worker processes are killed keep the default grace, which their backend's abort must beat.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import pytest

from coresweep.experiments.job.records import FIELDS

ROOT = Path(__file__).resolve().parents[1]
MARKER = "CRASH_TEST_MARKER"
#: Sweeps run at once (2-core CI: one may spin a core for ~25 s, the others mostly wait).
PARALLEL = 2
#: Options every sweep here shares: small, one round, no warm-up, no loops.
SMALL = ["repeats=2", "warmup=0", "min_time_s=0", "rounds=1"]
#: The environment of a sweep whose stuck threads are only waited out (see the module's text).
SHORT_GRACE = {"CORESWEEP_STUCK_GRACE_S": "1"}
#: Every backend that runs under this interpreter (interpreter_pool needs 3.14: see
#: tests/test_python314.py). dask_distributed comes with the ``test`` extra.
BACKENDS = [
    "sequential", "thread_pool", "thread", "joblib_threading",
    "pool", "process_pool", "process", "joblib_loky", "joblib_multiprocessing", "dask_distributed",
]
#: Backends whose tasks run in the job process itself (its main thread or its threads): a fault
#: that kills a process kills the job process, and a loop that holds the GIL cannot be stopped,
#: so there "end to end" means the job process dies (or is ended past its limit and grace), its
#: row is a failed row with ``job_died``, and the sweep goes on with the next job.
IN_PROCESS = {"sequential", "thread_pool", "thread", "joblib_threading", "interpreter_pool"}
#: Each fault's sweeps: one over every backend, but a loop that holds the GIL in two, so that
#: the in-process backends (whose stuck threads are waited out) get the short grace.
SWEEPS_OF_KIND = {
    "exit13": ["crash-exit13"], "segfault": ["crash-segfault"], "abort": ["crash-abort"],
    "spin": ["crash-spin-workers", "crash-spin-in-process"], "grow": ["crash-grow"],
}
CRASH_KINDS = ["exit13", "segfault", "abort", "spin", "grow"]
#: Per crash kind: extra options, and what a failed row of a crash in the job process names.
CRASH_OPTIONS = {
    "exit13": ["timeout_s=60"],
    "segfault": ["timeout_s=60"],
    "abort": ["timeout_s=60"],
    # 5 s, not 2: the limit holds for every job of the sweep, and starting joblib_loky's
    # workers (fresh interpreters) for the control job took over 2 s on a busy 2-core machine
    "spin": ["timeout_s=5"],
    # in-process backends start in milliseconds: 3 s holds the control job there
    "spin-in-process": ["timeout_s=3"],
    # timeout_s is only a backstop: the grow task raises on its own at 512 MiB (crashers.grow)
    "grow": ["max_memory=300MB", "timeout_s=30"],
}
IN_PROCESS_CAUSE = {
    "exit13": r"^job process died: it ended \(exit status 13\)",
    "segfault": r"^job process died: it ended \(signal SIGSEGV\)",
    "abort": r"^job process died: it ended \(signal SIGABRT\)",
    "spin": r"timeout",
    "grow": r"^(memory: |stopped: .*max_memory)",
}
#: A crash in a worker process: the worker died (pool, process, joblib_multiprocessing:
#: WorkerDied, process_pool: BrokenProcessPool, loky: TerminatedWorkerError, dask:
#: KilledWorker), or the error names the cause; never the timeout.
WORKER_DIED = r"(?i)^(?!timeout).*(worker|process pool|exit code 13|SIGSEGV|SIGABRT)"
WORKER_CAUSE = {"exit13": WORKER_DIED, "segfault": WORKER_DIED, "abort": WORKER_DIED,
                "spin": r"^timeout", "grow": r"^memory"}


# --------------------------------------------------------------------------------------------
# Running a sweep


@dataclass
class Outcome:
    returncode: int
    stdout: str
    stderr: str
    sweep: Path
    rows: list[dict[str, Any]]
    #: Live processes that still carry the sweep's marker after it ended (and a grace period).
    left: list[str]

    def failure(self) -> str:
        """What to print when an assertion on this sweep fails: its stderr's last lines."""
        return "\n".join(self.stderr.splitlines()[-40:])


def _env(marker: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    # PYTHONPATH: so the job children and their workers import tests.crashers (as test_faults).
    return {**os.environ, "PYTHONPATH": str(ROOT), MARKER: marker, **(extra or {})}


def _command(args: list[str], sweep: Path) -> list[str]:
    return [sys.executable, "-m", "coresweep.experiments.entry", *args, f"hydra.sweep.dir={sweep}"]


def _carriers(marker: str) -> list[psutil.Process]:
    """Live (non-zombie) processes whose environment holds ``MARKER=marker``."""
    found = []
    for p in psutil.process_iter():
        try:
            if p.environ().get(MARKER) == marker and p.status() != psutil.STATUS_ZOMBIE:
                found.append(p)
        except (psutil.Error, OSError):
            continue  # gone, a zombie, or someone else's
    return found


def _left(marker: str, grace_s: float = 10.0) -> list[str]:
    """The processes still carrying ``marker`` after ``grace_s`` (a killed one needs a moment)."""
    deadline = time.monotonic() + grace_s
    while True:
        left = _carriers(marker)
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    out = []
    for p in left:
        try:
            out.append(f"{p.pid} ({p.status()}): {' '.join(p.cmdline())[:200]}")
        except psutil.Error:
            continue
    return out


def rows_of(sweep: Path) -> list[dict[str, Any]]:
    rows = []
    for path in sorted(sweep.glob("*/results.jsonl")):
        rows += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return rows


@dataclass
class Sweep:
    """One ``coresweep`` command, started in a subprocess; ``outcome()`` waits for it."""

    name: str
    args: list[str]
    folder: Path
    #: Added to the sweep's environment (``SHORT_GRACE``).
    env: dict[str, str] = field(default_factory=dict)
    marker: str = field(default_factory=lambda: uuid.uuid4().hex)
    future: Future[Outcome] | None = None

    @property
    def sweep(self) -> Path:
        return self.folder / "sweep"

    def run(self, timeout_s: float = 300.0) -> Outcome:
        self.folder.mkdir(parents=True, exist_ok=True)
        out_path, err_path = self.folder / "stdout.txt", self.folder / "stderr.txt"
        with open(out_path, "w") as out, open(err_path, "w") as err:
            proc = subprocess.Popen(
                _command(self.args, self.sweep), cwd=self.folder, env=_env(self.marker, self.env),
                stdin=subprocess.DEVNULL, stdout=out, stderr=err,
            )
            try:
                returncode = proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                returncode = -9999  # shows up in the assertion on the exit status
        return Outcome(returncode, out_path.read_text(), err_path.read_text(), self.sweep,
                       rows_of(self.sweep), _left(self.marker))

    def outcome(self) -> Outcome:
        assert self.future is not None, f"sweep {self.name} was never started"
        return self.future.result()


def crash_sweep_args(kind: str, backends: list[str] = BACKENDS, options: str | None = None) -> list[str]:
    return [
        "-m", f"backend={','.join(backends)}", "workers=2", "workload=custom",
        # size 64: more tasks queued behind a dying worker than workers (process_pool's feeder
        # thread is still writing to its call queue when the pool breaks)
        f"workload.fn=tests.crashers:{kind},tests.crashers:fine", "workload.size=64",
        # the crash belongs in the timed runs: adjacent sequential runs (pair=auto pairs custom)
        # would call the crashing function in the job's own process between them
        "pair=off", *SMALL, *CRASH_OPTIONS[options or kind],
    ]


def hung_order_seed() -> int:
    """An ``order_seed`` that runs the sweep's first job (the hung one) before its second."""
    from coresweep.experiments.plan.schedule import round_orders

    return next(seed for seed in range(100) if round_orders(2, 1, seed)[0] == [0, 1])


#: Each sweep by name: its arguments (longest-running first: they start first).
SWEEPS: dict[str, Any] = {
    "crash-spin-workers": lambda: crash_sweep_args("spin", [b for b in BACKENDS if b not in IN_PROCESS]),
    "crash-spin-in-process": lambda: crash_sweep_args(
        "spin", [b for b in BACKENDS if b in IN_PROCESS], "spin-in-process"),
    # interpreter_pool needs Python 3.14: every fault in one sweep of it (one limit for all)
    "crash-314": lambda: [
        "-m", f"python={_python314_path()}", "backend=interpreter_pool", "workers=2",
        "workload=custom", f"workload.fn={','.join(f'tests.crashers:{k}' for k in [*CRASH_KINDS, 'fine'])}",
        "workload.size=64", "pair=off", *SMALL, "timeout_s=5", "max_memory=300MB",
    ],
    "hung-thread-pool": lambda: [
        "-m", "backend=thread_pool", "workers=2", "workload=io_sleep", "workload.size=2",
        # grain = µs each task sleeps: 1000 s (the hung job), then 1 ms (the job after it)
        "workload.grain=1000000000,1000", "timeout_s=2", f"order_seed={hung_order_seed()}",
        "report=false", *SMALL,
    ],
    "crash-grow": lambda: crash_sweep_args("grow"),
    "crash-exit13": lambda: crash_sweep_args("exit13"),
    "crash-segfault": lambda: crash_sweep_args("segfault"),
    "crash-abort": lambda: crash_sweep_args("abort"),
    "reference": lambda: [
        "-m", "backend=sequential,thread_pool,process_pool", "workers=2", "workload=custom",
        "workload.fn=tests.crashers:fail_in_reference", "workload.size=8", "timeout_s=60",
        "report=false", *SMALL,
    ],
    # the reference is computed in the job process whatever the backend: one backend is enough
    "reference-faults": lambda: [
        "-m", "backend=process_pool", "workers=2", "workload=custom", "workload.size=8",
        "workload.fn=tests.crashers:exit_in_reference,tests.crashers:spin_in_reference,tests.crashers:fine",
        "timeout_s=2", *SMALL,
    ],
    "forked-vs-fresh": lambda: [
        "-m", f"python=null,{sys.executable}", "backend=sequential,thread_pool,process_pool",
        "workers=2", "workload=custom", "workload.size=8", "timeout_s=60", "report=false", *SMALL,
        "workload.fn=tests.crashers:fine,tests.crashers:signals_as_in_a_fresh_python",
    ],
}
#: The sweeps that set ``SHORT_GRACE``: every stuck thread in them is only waited out.
SHORT_GRACE_SWEEPS = {"crash-spin-in-process", "crash-314", "hung-thread-pool", "reference-faults"}
#: Which sweep each test reads (crash tests: ``SWEEPS_OF_KIND[kind]``).
SWEEP_OF_TEST = {
    "test_hung_thread_pool_job_is_stopped_and_the_sweep_goes_on": "hung-thread-pool",
    "test_failure_only_in_the_reference_fails_every_row_and_the_sweep_goes_on": "reference",
    "test_forked_and_fresh_children_give_rows_with_the_same_fields": "forked-vs-fresh",
    "test_forked_and_fresh_job_processes_handle_signals_alike": "forked-vs-fresh",
    "test_fault_table_interpreter_pool_under_python_314": "crash-314",
    "test_a_crash_or_hang_in_the_reference_is_a_failed_row_and_the_sweep_goes_on": "reference-faults",
}


def _python314_path() -> str | None:
    """The provisioned Python 3.14 (tests/test_python314.py), or None."""
    from .test_python314 import python314

    try:
        return python314()
    except pytest.skip.Exception:
        return None


def _needed(session: pytest.Session) -> list[str]:
    """The sweeps the selected tests of this module read."""
    names = set()
    for item in session.items:
        if Path(str(getattr(item, "path", getattr(item, "fspath", "")))) != Path(__file__):
            continue
        params = getattr(getattr(item, "callspec", None), "params", {})
        name = SWEEP_OF_TEST.get(item.originalname)
        if name is not None:
            names.add(name)
        elif "kind" in params:
            names.update(SWEEPS_OF_KIND[params["kind"]])
    return [name for name in SWEEPS if name in names]


@pytest.fixture(scope="module")
def sweeps(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """The sweeps this module's selected tests need, started at once, ``PARALLEL`` at a time."""
    root = tmp_path_factory.mktemp("isolation")
    needed = [n for n in _needed(request.session) if n != "crash-314" or _python314_path()]
    started = {
        name: Sweep(name, SWEEPS[name](), root / name, SHORT_GRACE if name in SHORT_GRACE_SWEEPS else {})
        for name in needed
    }
    pool = ThreadPoolExecutor(max_workers=PARALLEL, thread_name_prefix="sweep")
    for sweep in started.values():
        sweep.future = pool.submit(sweep.run)
    try:
        yield started
    finally:
        pool.shutdown(wait=True)


# --------------------------------------------------------------------------------------------
# The crash helpers themselves (no sweep)


def test_the_reference_is_recognised() -> None:
    """crashers.in_reference tells coresweep's sequential reference from any other call."""
    from coresweep.experiments.workloads.custom import Custom

    from . import crashers

    workload = Custom(size=3, fn="tests.crashers:where_am_i")
    assert workload.reference(workload.inputs()) == [1, 1, 1], (
        "crashers.in_reference no longer sees the reference (Workload.reference renamed?)"
    )
    assert [crashers.where_am_i(i) for i in range(3)] == [0, 0, 0]


# --------------------------------------------------------------------------------------------
# A crash, a hang or a blow-up in the timed runs, under every backend


def _outcomes(sweeps: dict[str, Sweep], kind: str) -> list[Outcome]:
    """The outcomes of ``kind``'s sweeps (SWEEPS_OF_KIND), each waited for."""
    return [sweeps[name].outcome() for name in SWEEPS_OF_KIND[kind]]


def _of_backend(sweeps: dict[str, Sweep], kind: str, backend: str) -> Outcome:
    """The outcome of the sweep of ``kind`` that ran ``backend``."""
    for out in _outcomes(sweeps, kind):
        if any(r["backend"] == backend for r in out.rows):
            return out
    return out  # none ran it: _check_fault says so, with the last sweep's stderr


def _crashed_and_control(out: Outcome, backend: str, kind: str) -> tuple[list[dict], list[dict]]:
    """The rows of ``backend``'s crashing job and of its control job (``fine``)."""
    def of(fn: str) -> list[dict[str, Any]]:
        return [r for r in out.rows if r["backend"] == backend and r["fn"].rpartition(":")[2] == fn]

    return of(kind), of("fine")


@pytest.mark.slow
@pytest.mark.parametrize("kind", CRASH_KINDS)
def test_a_crash_sweep_exits_1_with_a_report_a_row_per_job_and_nothing_left(kind: str, sweeps) -> None:
    """Per fault, sweeps over every backend: what holds for each sweep as a whole."""
    jobs = set()
    for out in _outcomes(sweeps, kind):
        assert out.returncode == 1, out.failure()
        assert (out.sweep / "report" / "index.html").is_file(), out.failure()
        assert out.stdout == f"report: {out.sweep / 'report' / 'index.html'}\n", out.failure()
        assert not out.left, f"processes left running: {out.left}"
        for row in out.rows:
            assert set(FIELDS) <= set(row), (row["backend"], row["fn"], set(FIELDS) - set(row))
            jobs.add((row["backend"], row["fn"].rpartition(":")[2]))
    assert jobs == {(b, fn) for b in BACKENDS for fn in (kind, "fine")}, sorted(jobs)


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", CRASH_KINDS)
def test_fault_table(kind: str, backend: str, sweeps) -> None:
    """The fault table (docs/design.md, "Faults"): ``kind`` in ``backend``'s timed runs gives
    failed rows that say why, and the sweep's next job (the control) still passes."""
    _check_fault(_of_backend(sweeps, kind, backend), backend, kind)


@pytest.mark.slow
@pytest.mark.parametrize("kind", CRASH_KINDS)
def test_fault_table_interpreter_pool_under_python_314(kind: str, sweeps) -> None:
    """The fault table's interpreter_pool column: one sweep of every fault under Python 3.14."""
    from .test_python314 import python314

    python314()  # skips, saying why, where there is none
    out = sweeps["crash-314"].outcome()
    assert out.returncode == 1, out.failure()
    assert (out.sweep / "report" / "index.html").is_file(), out.failure()
    assert not out.left, f"processes left running: {out.left}"
    _check_fault(out, "interpreter_pool", kind)


def _check_fault(out: Outcome, backend: str, kind: str) -> None:
    crashed, control = _crashed_and_control(out, backend, kind)
    where = f"{backend} / {kind}"
    assert len(control) == 2 and all(r["ok"] and r["verified"] for r in control), (
        f"{where}: the control after it: {[(r['ok'], r['error']) for r in control]}\n{out.failure()}")
    errors = [r["error"] for r in crashed]
    assert crashed and not any(r["ok"] for r in crashed), f"{where}: a run passed: {errors}"
    died = [r for r in crashed if r.get("job_died")]
    if backend in IN_PROCESS:
        # The job process itself crashed (or was ended past its limit): the row says why.
        error = errors[-1] if died else errors[0]
        assert re.search(IN_PROCESS_CAUSE[kind], error), f"{where}: /{IN_PROCESS_CAUSE[kind]}/ ? {errors}"
        assert not any("grow reached" in e for e in errors), (
            f"{where}: the max_memory guard never stopped the run (the task gave up on its own "
            f"at its cap): {errors}")
        assert not died or (len(died) == 1 and died[-1] is crashed[-1]), (
            f"{where}: the job_died row must be the one last row: {errors}")
    else:
        # A worker process crashed: the backend (or coresweep's handling of it) makes it a
        # failed run, without waiting for the timeout; the job process lives on.
        assert not died, f"{where}: the job process died with its worker: {errors}"
        assert re.search(WORKER_CAUSE[kind], errors[0]), f"{where}: /{WORKER_CAUSE[kind]}/ ? {errors}"


# --------------------------------------------------------------------------------------------
# The other isolation cases


@pytest.mark.slow
def test_failure_only_in_the_reference_fails_every_row_and_the_sweep_goes_on(sweeps) -> None:
    out = sweeps["reference"].outcome()
    assert out.returncode == 1, out.failure()
    assert not out.left, f"processes left running: {out.left}"
    assert {r["backend"] for r in out.rows} == {"sequential", "thread_pool", "process_pool"}
    assert len(out.rows) == 3 * 2, [(r["backend"], r["error"]) for r in out.rows]
    for row in out.rows:
        assert not row["ok"] and not row.get("job_died"), row
        assert row["error"].startswith("sequential reference failed: ValueError: reference call 0 "
                                       "fails on purpose"), row["error"]


@pytest.mark.slow
def test_forked_and_fresh_children_give_rows_with_the_same_fields(sweeps) -> None:
    out = sweeps["forked-vs-fresh"].outcome()
    assert not out.left, f"processes left running: {out.left}"
    rows = [r for r in out.rows if r["fn"] == "tests.crashers:fine"]
    assert all(r["ok"] for r in rows), [r["error"] for r in rows] or out.failure()
    keys: dict[tuple[str, str], set[frozenset[str]]] = {}
    for row in rows:
        keys.setdefault((row.get("job_process"), row["backend"]), set()).add(frozenset(row))
    backends = ["sequential", "thread_pool", "process_pool"]
    assert set(keys) == {(p, b) for p in ("forked", "fresh") for b in backends}, sorted(keys)
    for backend in backends:
        (forked,), (fresh,) = keys[("forked", backend)], keys[("fresh", backend)]
        assert forked == fresh, (
            f"{backend}: only forked rows have {sorted(forked - fresh)}, "
            f"only fresh rows have {sorted(fresh - forked)}"
        )
    assert {r["job_process"]: r["python_executable"] for r in rows}["fresh"] == sys.executable


@pytest.mark.slow
def test_forked_and_fresh_job_processes_handle_signals_alike(sweeps) -> None:
    """A job forked from the job server must handle signals as a fresh ``python -c`` does: a
    SIGPIPE left at SIG_DFL kills the job process where Python code would get BrokenPipeError
    (e.g. process_pool's queue feeder thread after a worker died; see the crash tests)."""
    out = sweeps["forked-vs-fresh"].outcome()
    rows = [r for r in out.rows if r["fn"].endswith(":signals_as_in_a_fresh_python")]
    assert len(rows) == 2 * 3 * 2, out.failure()
    wrong = sorted({(r["backend"], r.get("job_process"), r["error"]) for r in rows if not r["ok"]})
    assert not wrong, "\n".join(map(str, wrong))
    assert out.returncode == 0, out.failure()


@pytest.mark.slow
def test_hung_thread_pool_job_is_stopped_and_the_sweep_goes_on(sweeps) -> None:
    out = sweeps["hung-thread-pool"].outcome()
    assert out.returncode == 1, out.failure()
    assert not out.left, f"processes left running: {out.left}"
    hung = [r for r in out.rows if r["grain"] == 1_000_000_000]
    after = [r for r in out.rows if r["grain"] == 1000]
    assert len(hung) == 2 and len(after) == 2, [(r["grain"], r["error"]) for r in out.rows]
    for row in hung:
        assert not row["ok"] and re.search(r"timeout|stopped", row["error"]), row["error"]
    assert hung[0]["error"].startswith(("stopped:", "timeout:")), hung[0]["error"]
    assert "timeout_s=2" in hung[0]["error"], hung[0]["error"]
    # The next job ran after the hung one, and ran as usual.
    assert (hung[0]["position"], after[0]["position"]) == (0, 1), "order_seed no longer puts it first"
    assert all(r["ok"] and r["verified"] for r in after), [r["error"] for r in after]


@pytest.mark.slow
def test_a_job_process_killed_from_outside_leaves_a_failed_row_and_no_workers(tmp_path: Path) -> None:
    marker = uuid.uuid4().hex
    sweep = tmp_path / "sweep"
    args = [
        "-m", "backend=pool", "workers=2", "workload=io_sleep", "workload.size=4",
        "workload.grain=60000000",  # each task sleeps 60 s: the job is mid-run when killed
        "timeout_s=120", "report=false", *SMALL,
    ]
    err_path = tmp_path / "stderr.txt"
    with open(err_path, "w") as err:
        proc = subprocess.Popen(_command(args, sweep), cwd=tmp_path, env=_env(marker),
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
    try:
        child, workers = _job_child_with_workers(proc.pid, marker, n_workers=2, timeout_s=90)
        os.kill(child.pid, signal.SIGKILL)
        returncode = proc.wait(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    stderr = err_path.read_text()
    assert returncode == 1, stderr
    rows = rows_of(sweep)
    assert rows and rows[-1]["job_died"], rows
    assert not rows[-1]["ok"] and "signal SIGKILL" in rows[-1]["error"], rows[-1]["error"]
    assert rows[-1]["error"].startswith("job process died: it ended (signal SIGKILL)"), rows[-1]["error"]
    left = _left(marker)
    assert not left, f"processes left running: {left}"
    alive = [w.pid for w in workers if _running(w)]
    assert not alive, f"the killed job's workers live on: {alive}"


@pytest.mark.slow
def test_a_crash_or_hang_in_the_reference_is_a_failed_row_and_the_sweep_goes_on(sweeps) -> None:
    out = sweeps["reference-faults"].outcome()
    assert out.returncode == 1, out.failure()
    assert (out.sweep / "report" / "index.html").is_file(), out.failure()
    assert not out.left, f"processes left running: {out.left}"
    by_fn: dict[str, list[dict[str, Any]]] = {}
    for row in out.rows:
        by_fn.setdefault(row["fn"].rpartition(":")[2], []).append(row)
    crashed, hung, control = by_fn["exit_in_reference"], by_fn["spin_in_reference"], by_fn["fine"]
    assert [(r["ok"], r["job_died"]) for r in crashed] == [(False, True)], crashed
    assert crashed[0]["error"].startswith(
        "job process died: it ended (exit status 13) while computing the sequential answer"
    ), crashed[0]["error"]
    # The reference runs in the job's main thread: past timeout_s and the grace, the job
    # process is ended, and every run it owed is a failed row.
    assert len(hung) == 2 and not any(r["ok"] for r in hung), hung
    assert all(r["error"].startswith("stopped:") and "timeout_s=2" in r["error"] for r in hung), hung
    assert len(control) == 2 and all(r["ok"] and r["verified"] for r in control), control


@pytest.mark.slow
def test_sigkill_of_the_whole_driver_group_leaves_nothing_running_and_keeps_the_rows(
    tmp_path: Path,
) -> None:
    """``kill -9 -- -PGID`` of the ``coresweep`` command's group mid-job: no one is left to
    clean up, so the job server, the job process (its own group) and its workers must notice
    on their own; the rows of the jobs that finished stay on disk."""
    marker = uuid.uuid4().hex
    sweep = tmp_path / "sweep"
    args = [
        "-m", "backend=pool", "workers=2", "workload=io_sleep", "workload.size=4",
        # µs each task sleeps: 1 ms (the job that finishes), then 60 s (the one killed mid-run)
        "workload.grain=1000,60000000", f"order_seed={hung_order_seed()}",
        "timeout_s=120", "report=false", *SMALL,
    ]
    err_path = tmp_path / "stderr.txt"
    with open(err_path, "w") as err:
        proc = subprocess.Popen(
            _command(args, sweep), cwd=tmp_path, env=_env(marker), start_new_session=True,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
        )
    try:
        deadline = time.monotonic() + 90
        while not _finished_first_job(sweep) and time.monotonic() < deadline:
            time.sleep(0.1)
        _job_child_with_workers(proc.pid, marker, n_workers=2, timeout_s=90)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    left = _left(marker)
    assert not left, f"processes left running after the driver group was killed: {left}"
    rows = rows_of(sweep)
    kept = [r for r in rows if r["grain"] == 1000]
    assert len(kept) == 2 and all(r["ok"] for r in kept), (kept, err_path.read_text()[-2000:])
    assert not any(r["ok"] for r in rows if r["grain"] != 1000), "the slow job finished: killed too late"


def _finished_first_job(sweep: Path) -> bool:
    try:
        return any(r["grain"] == 1000 for r in rows_of(sweep))
    except ValueError:  # a row being written
        return False


def _running(p: psutil.Process) -> bool:
    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _job_child_with_workers(
    coresweep_pid: int, marker: str, n_workers: int, timeout_s: float
) -> tuple[psutil.Process, list[psutil.Process]]:
    """The job process (a child of the job server that coresweep started) once it has its
    ``n_workers`` pool workers, and those workers."""
    deadline = time.monotonic() + timeout_s
    seen = "nothing"
    while time.monotonic() < deadline:
        try:
            servers = [
                p for p in psutil.Process(coresweep_pid).children()
                if "job_server import serve" in " ".join(p.cmdline())
            ]
            for server in servers:
                for child in server.children():
                    if child.environ().get(MARKER) != marker:
                        continue
                    workers = [w for w in child.children() if _running(w)]
                    seen = f"job process {child.pid} with {len(workers)} workers"
                    if len(workers) >= n_workers:
                        return child, workers
        except psutil.Error:
            pass
        time.sleep(0.1)
    raise AssertionError(f"no job process with {n_workers} workers within {timeout_s} s (saw {seen})")

