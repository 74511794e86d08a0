"""No command measures something else than it says: a setting that applies to no job of the
sweep is refused in one line, before anything runs (docs/usage.md, "What is refused").

Every command issue 25 saw exit 0 (or end on Hydra's "use +key" advice) is here; a few go
through the real ``coresweep`` command, the rest through its in-process entry (the same
preflight, seconds faster). The last test walks every key a user can set.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from coresweep.experiments.cli import main, preflight
from coresweep.experiments.plan.applies import group_options, option_keys
from coresweep.experiments.plan.composed import ComposedConfigs
from coresweep.experiments.plan.sweep import ConfigError

ROOT = Path(__file__).resolve().parents[1]
FN = "workload.fn=tests.tasks:square"
OWNED = "workload.fn belongs to workload=custom; add workload=custom"

#: (command line, what its one line must say)
SILENT_BEFORE = [
    (
        [FN, "backend=pool", "workers=1", "rounds=1"],
        "workload.fn belongs to workload=custom; add workload=custom",
    ),
    (
        ["+" + FN, "backend=pool", "workers=1", "rounds=1"],
        "workload.fn belongs to workload=custom; add workload=custom",
    ),
    (["++" + FN, "backend=pool"], OWNED),
    (["-m", "workload=cpu_python,io_sleep", FN], "workload.fn belongs to workload=custom"),
    (["workload.init_ms=10"], "workload.init_ms belongs to workload=init_heavy; add workload=init_heavy"),
    (["+workload.init_ms=10"], "workload.init_ms belongs to workload=init_heavy"),
    (["++workload.init_ms=10", "workload=stateful"], "workload.init_ms belongs to workload=init_heavy"),
    (["+workload.bogus=1", "workload=io_sleep"], "workload.bogus: not an option of workload=io_sleep"),
    (["backend=pool", "backend.processes=false"], "backend.processes belongs to backend=dask_distributed"),
    (
        ["backend=joblib_loky", "start_method=spawn"],
        "start_method=spawn: backend=joblib_loky ignores start_method",
    ),
    (["backend=thread_pool", "start_method=fork"], "backend=thread_pool ignores start_method"),
    (["-m", "backend=thread,joblib_threading", "start_method=spawn,fork"], "ignore start_method"),
    (["backend=sequential", "workers=4"], "workers=4: backend=sequential ignores workers"),
    (["backend=sequential", "pinning=compact"], "backend=sequential ignores pinning"),
    (["share=inherit"], "share=inherit: share applies to workload=shared_input only"),
    (["init=per_worker"], "init applies to workload=init_heavy only"),
    (["state=manager", "workload=io_file"], "state applies to workload=stateful only"),
    (["repeats_target=0.1"], "repeats_target is read by repeats=auto only"),
    (["workload=custom", "workload.grain=5", FN], "workload=custom does not use grain"),
    (["workload=custom", "-m", "workload.seed=1,2", FN], "workload=custom does not use seed"),
    (["report=no"], "report=no: choose true or false"),
    (["start_method=fork_server"], "start_method=fork_server: unknown start method; choose one of auto"),
    (["backend=thread_pool", "workers=5000"], "workers=5000: more than the 64 tasks of workload=cpu_python"),
    (["workers=2", "-m", "workers=1,2"], "workers is given twice: workers=2 and workers=1,2"),
    (["backend=pool", "backend=thread"], "backend is given twice"),
]


def _one_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert "Could not override" not in err and "use +" not in err and "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize("argv,message", SILENT_BEFORE, ids=[" ".join(a) for a, _ in SILENT_BEFORE])
def test_what_ran_something_else_is_refused_in_one_line(argv, message, capsys, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    line = _one_line(capsys.readouterr().err)
    assert line.startswith("coresweep: error: ") and message in line, line
    assert not (tmp_path / "outputs").exists(), "no work may start on bad input"


def test_a_bad_stuck_grace_in_the_environment_is_refused_in_one_line(capsys, tmp_path, monkeypatch) -> None:
    """CORESWEEP_STUCK_GRACE_S is read in every job's process: a bad value is refused before any."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CORESWEEP_STUCK_GRACE_S", "soon")
    assert main(["backend=thread_pool", "workers=2"]) == 2
    line = _one_line(capsys.readouterr().err)
    assert line == ("coresweep: error: CORESWEEP_STUCK_GRACE_S=soon: must be a number of seconds > 0 "
                    "(unset: 10)")
    assert not (tmp_path / "outputs").exists(), "no work may start on bad input"


#: Through the real console command, in a process of its own, as a user types it.
REAL = [
    ["workload.fn=mywork:cpu", "backend=pool", "workers=1", "rounds=1"],
    ["+workload.fn=mywork:cpu", "backend=pool", "workers=1", "rounds=1"],
    ["backend=joblib_loky", "start_method=spawn"],
    ["workers=2", "-m", "workers=1,2"],
]


@pytest.mark.parametrize("argv", REAL, ids=[" ".join(a) for a in REAL])
def test_the_real_command_refuses_them_too(argv, tmp_path: Path) -> None:
    (tmp_path / "mywork.py").write_text("def cpu(i):\n    return sum(range(i * 1000))\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    cmd = [sys.executable, "-m", "coresweep.experiments.entry", *argv]
    out = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 2, out.stderr
    assert _one_line(out.stderr).startswith("coresweep: error: ")
    assert not (tmp_path / "outputs").exists()


#: A near miss of every enumerated option: (command line, the value it suggests)
NEAR_MISSES = [
    (["backend=tread"], "did you mean thread?"),
    (["workload=cpu_pyhton"], "did you mean cpu_python?"),
    (["+experiment=folklor"], "did you mean folklore?"),
    (["start_method=fork_server"], "did you mean forkserver?"),
    (["backend=thread", "start_method=spwan"], "did you mean spawn?"),
    (["pinning=compakt"], "did you mean compact?"),
    (["collect=retrun"], "did you mean return?"),
    (["workload=shared_input", "share=argumnet"], "did you mean argument?"),
    (["workload=init_heavy", "init=per_wroker"], "did you mean per_worker?"),
    (["workload=stateful", "state=mapreduse"], "did you mean mapreduce?"),
    (["share=inherrit"], "did you mean inherit?"),  # a typo is named before "does not apply"
    (["blas_threads=non"], "did you mean none?"),
    (["repeats=aut"], "did you mean auto?"),
    (["wokers=2"], "did you mean workers?"),
    (["+worker=2"], "did you mean workers?"),
    (["workload=io_sleep", "+workload.sise=2"], "did you mean size?"),
    (["hydra/launcher=basik"], "did you mean basic?"),
    (["workload=gil_release", "workload.kind=hsah"], "did you mean hash?"),  # a workload's own list
    (["workload=cpu"], "did you mean cpu_python?"),  # the one option it begins
    (["workload=cpu_python", "workload.verify=Exact"], "did you mean exact?"),  # the word in other case
]


@pytest.mark.parametrize("argv,hint", NEAR_MISSES, ids=[" ".join(a) for a, _ in NEAR_MISSES])
def test_near_misses_say_did_you_mean(argv, hint, capsys, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    line = _one_line(capsys.readouterr().err)
    assert hint in line, line


ALLOWED = [
    # a key that applies to at least one job: jobs that ignore it run once, rows say what ran
    ["-m", "backend=sequential,thread_pool,pool", "start_method=fork,spawn", "workload=io_sleep"],
    ["-m", "workload=cpu_python,custom", FN, "backend=sequential,thread_pool"],
    ["-m", "workload=init_heavy,stateful", "workload.init_ms=10", "backend=sequential"],
    ["-m", "backend=sequential,dask_distributed", "backend.processes=false", "workload=io_sleep"],
    # values that are true of every backend
    ["backend=sequential", "workers=1", "start_method=auto", "pinning=none"],
    ["workload=custom", FN, "workload.grain=1"],
    ["repeats=auto", "repeats_target=0.1"],
    # weak scaling's size follows the workers: sequential's work changes with them
    ["+experiment=weak_scaling", "backend=sequential", "workers=4"],
]


@pytest.mark.parametrize("argv", ALLOWED, ids=[" ".join(a) for a in ALLOWED])
def test_keys_that_apply_to_some_job_are_kept(argv, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    multirun = [a for a in argv if a == "-m"]
    _, jobs = preflight(multirun + [a for a in argv if a != "-m"], ComposedConfigs())
    assert jobs >= 1


def test_a_key_of_one_swept_workload_runs_through_the_real_command(tmp_path: Path) -> None:
    # Hydra applies fixed overrides to the default workload first ("Could not override"):
    # preflight hands it workload.fn as +workload.fn, and only the custom job reads it.
    (tmp_path / "mywork.py").write_text("def cpu(i):\n    return sum(range(i * 1000))\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    sweep = tmp_path / "sweep"
    cmd = [sys.executable, "-m", "coresweep.experiments.entry", "-m", "workload=cpu_python,custom",
           "workload.fn=mywork:cpu", "backend=sequential", "workload.size=4", "workload.grain=1",
           "rounds=1", "repeats=1", "report=false", f"hydra.sweep.dir={sweep}"]
    out = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    files = sorted(sweep.glob("*/results.jsonl"))
    rows = [json.loads(ln) for p in files for ln in p.read_text().splitlines()]
    assert {r["workload"] for r in rows} == {"cpu_python", "custom"} and all(r["ok"] for r in rows)
    assert {r.get("fn") for r in rows if r["workload"] == "custom"} == {"mywork:cpu"}


#: Top-level keys that apply to every job, whatever its backend and workload, and why.
EVERYWHERE = {
    "cpus": "every job runs on the CPUs it names (sequential too: one of them)",
    "collect": "every backend returns its results the way it names",
    "rounds": "the sweep's rounds: every job runs that many times",
    "order_seed": "the order of every round",
    "repeats": "timed runs of every job",
    "warmup": "untimed runs of every job",
    "min_time_s": "every timed run loops to at least this long",
    "blas_threads": "set in every job's environment (sequential: the one process)",
    "timeout_s": "every run is stopped past it",
    "max_memory": "every run's process tree is watched",
    "machine": "a label every row carries",
    "python": "the interpreter every job runs under",
    "resume": "the sweep folder the whole command finishes",
    "report": "the sweep's report",
    "busy": "every execution's other-process CPU share is measured (keep, rerun or wait)",
    "pair": "auto pairs what it can; pair=on where it cannot is refused (tests/test_pairing_sweep.py)",
    "race": "any sweep with a sequential baseline can race (without one it is refused: tests/test_choose.py)",
}
#: Keys of every workload's config file, and why each applies to every workload.
EVERY_WORKLOAD = {
    "size": "the number of tasks, for every workload",
    "seed": "recorded in every row; workloads derive their inputs from it (custom refuses it: below)",
    "grain": "work per task; workload=custom refuses any value but 1 (checked below)",
    # issue 25 point 1 (verification) adds these to workloads: every result is verified
    "verify": "every workload's results are verified",
    "rtol": "the tolerance of verify=close, for any workload",
    "atol": "the tolerance of verify=close, for any workload",
}
#: Keys no user sets (Hydra's own node, the sweeper's per-run schedule, the group choices).
NOT_USER_KEYS = {"hydra", "schedule", "backend", "workload"}

#: (key=value, the command it is set in, where it does not apply)
TOP_LEVEL_CASES = {
    "workers": ["backend=sequential", "workers=3"],
    "start_method": ["backend=thread", "start_method=spawn"],
    "pinning": ["backend=sequential", "pinning=scatter"],
    "share": ["workload=io_sleep", "share=inherit"],
    "init": ["workload=io_sleep", "init=per_worker"],
    "state": ["workload=io_sleep", "state=manager"],
    "repeats_target": ["repeats=2", "repeats_target=0.2"],
    "repeats_max": ["repeats=2", "repeats_max=10"],
    "repeats_budget_s": ["repeats=2", "repeats_budget_s=5"],
    "budget_s": ["budget_s=30"],  # without race=true
}


def _composed():
    from hydra import compose, initialize_config_module
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    with initialize_config_module("coresweep.conf", version_base="1.3"):
        cfg = compose("config")
    GlobalHydra.instance().clear()
    return cfg


def _refused(argv: list[str]) -> str:
    try:
        preflight(argv, ComposedConfigs())
    except ConfigError as exc:
        return str(exc)
    pytest.fail(f"{' '.join(argv)} was not refused")


def test_every_key_a_user_can_set_is_refused_where_it_does_not_apply(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    top = {str(k) for k in _composed()}
    undecided = top - set(EVERYWHERE) - set(TOP_LEVEL_CASES) - NOT_USER_KEYS
    assert not undecided, (
        f"new keys: add a case that refuses them where they do not apply, or say why not: {undecided}"
    )
    for key, argv in TOP_LEVEL_CASES.items():
        assert key in _refused(argv), argv

    # workload.* keys, read from the config files themselves (a key added there is walked too)
    workloads = group_options("workload")
    keys_of = {w: (option_keys("workload", w) or set()) - {"_target_", "name"} for w in workloads}
    every = set.intersection(*keys_of.values())
    assert every <= set(EVERY_WORKLOAD), f"keys every workload has: say why each applies: {every}"
    walked = 0
    for owner, keys in keys_of.items():
        for key in sorted(keys - every):
            other = next(w for w in workloads if key not in keys_of[w])
            extra = [FN] if other == "custom" else []
            line = _refused([f"workload={other}", f"workload.{key}=1", *extra])
            assert f"workload.{key} belongs to" in line and f"workload={owner}" in line, line
            walked += 1
    assert walked >= 5
    assert "does not use grain" in _refused(["workload=custom", FN, "workload.grain=5"])
    assert "does not use seed" in _refused(["workload=custom", FN, "workload.seed=3"])

    # backend.* keys, likewise
    backends = group_options("backend")
    for owner in backends:
        for key in sorted((option_keys("backend", owner) or set()) - {"_target_", "name"}):
            other = next(b for b in backends if key not in (option_keys("backend", b) or ()))
            line = _refused([f"backend={other}", f"backend.{key}=1"])
            assert f"backend.{key} belongs to backend={owner}" in line, line
    # a key no component reads, added with + or ++
    for prefix in ("+", "++"):
        assert "not a coresweep option" in _refused([f"{prefix}nothing_reads_this=1"])
        assert "not an option of" in _refused([f"{prefix}workload.nothing_reads_this=1"])
        assert "not an option of" in _refused(["backend=pool", f"{prefix}backend.nothing_reads_this=1"])


def test_the_config_files_keys_are_read_not_listed() -> None:
    """A workload key added to a config file is known with no code change (issue 25, point 1
    adds keys beside this one's work)."""
    assert "fn" in option_keys("workload", "custom")
    assert "init_ms" in option_keys("workload", "init_heavy")


def test_the_progress_line_labels_its_times() -> None:
    from types import SimpleNamespace

    from coresweep.experiments.callbacks import SweepCallback

    callback = SweepCallback.__new__(SweepCallback)
    callback.failed_runs, callback.failed_jobs = 0, []
    outcome = SimpleNamespace(n_failed=0, median_wall_s=0.1893, resumed=False, cv=0.13)
    assert (
        callback._count("0", outcome)
        == "[green]✓[/green] median run 0.1893 s[yellow], CV 13 % (noisy)[/yellow]"
    )
    outcome.cv = 0.02
    assert callback._count("0", outcome) == "[green]✓[/green] median run 0.1893 s, CV 2 %"


def test_every_help_example_passes_its_checks(tmp_path, monkeypatch) -> None:
    """--help's examples, with a real function for mypkg.mod:func; the custom one has a baseline."""
    import shlex

    header = OmegaConf.to_container(OmegaConf.load(ROOT / "conf" / "config.yaml"))["hydra"]["help"]["header"]
    examples = [ln.strip() for ln in header.split("Examples:", 1)[1].splitlines() if ln.strip()]
    commands = [ex.split("   ")[0].strip() for ex in examples if ex.startswith("coresweep ")]
    custom = [c for c in commands if "workload=custom" in c]
    # each names its baseline, or takes it from the choose preset's sweep
    assert custom and all("sequential" in c or "+experiment=choose" in c for c in custom), custom
    monkeypatch.chdir(tmp_path)
    for command in commands:
        args = shlex.split(command.replace("mypkg.mod:func", "tests.tasks:square"))[1:]
        if any(a.startswith(("python=", "--cfg")) for a in args):
            continue  # other interpreters (checked by hand, as in test_docs_commands); --cfg runs none
        multirun = [a for a in args if a == "-m"]
        _, jobs = preflight(multirun + [a for a in args if a != "-m"], ComposedConfigs())
        assert jobs >= 1, command
