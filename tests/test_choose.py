"""``+experiment=choose`` and ``from coresweep import choose`` (issue 27): the sweeper's race,
its answer (sentence, code line, choice.json), the race figure, refusals. Behaviour, not speed."""

from __future__ import annotations

import functools
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from coresweep.analysis.choice import (
    CODE,
    SEQUENTIAL_CODE,
    choice_dict,
    code_line,
    race_of,
    race_record,
    sentence,
)
from coresweep.analysis.load import GROUP_KEYS
from coresweep.analysis.report import build_report
from coresweep.analysis.stats.race import confirm
from coresweep.experiments.choose import choose, function_spec
from coresweep.experiments.cli import main
from tests.test_analysis_blockmodel import _key
from tests.test_analysis_race import SEQ, _mu, _race

ROOT = Path(__file__).resolve().parents[1]


def _record(race, answer, fresh, secs: float = 5.0) -> dict:
    keys = (
        sorted({tuple(k) for k in fresh[list(GROUP_KEYS)].itertuples(index=False, name=None)})
        if len(fresh)
        else []
    )
    rounds = sorted(int(b) for b in fresh["block"].unique()) if len(fresh) else []
    return json.loads(json.dumps(race_record(race, {}, keys, rounds, secs)))


# ---------------------------------------------------------------------------- the answer


@pytest.mark.parametrize(
    "backend,expected",
    [
        ("process_pool", "ProcessPoolExecutor(max_workers=2)"),
        ("pool", "Pool(processes=2)"),
        ("thread_pool", "ThreadPoolExecutor(max_workers=2)"),
        ("joblib_loky", 'Parallel(n_jobs=2, backend="loky")'),
        ("joblib_threading", 'Parallel(n_jobs=2, backend="threading")'),
        ("joblib_multiprocessing", 'Parallel(n_jobs=2, backend="multiprocessing")'),
        ("thread", "threading.Thread(target=work, args=(chunk,))  # one per chunk, 2 threads"),
        ("process", "multiprocessing.Process(target=work, args=(chunk,))  # one per chunk, 2 processes"),
        ("interpreter_pool", "InterpreterPoolExecutor(max_workers=2)"),
        ("dask_distributed", "Client(LocalCluster(n_workers=2))"),
        ("sequential", SEQUENTIAL_CODE),
    ],
)
def test_the_code_line_per_backend(backend: str, expected: str) -> None:
    assert code_line(_key(2, backend)) == expected
    assert backend == "sequential" or backend in CODE


def test_the_start_method_is_named_only_where_the_race_compared_several() -> None:
    m = GROUP_KEYS.index("start_method")
    fork = _key(2, "pool")
    spawn = (*fork[:m], "spawn", *fork[m + 1 :])
    record = {"configurations": [{"key": list(fork)}, {"key": list(spawn)}]}
    assert code_line(spawn, record) == 'multiprocessing.get_context("spawn").Pool(processes=2)'
    assert code_line(spawn, {"configurations": [{"key": list(spawn)}]}) == "Pool(processes=2)"


def test_a_decided_race_says_what_to_use_how_sure_and_ends_with_its_code() -> None:
    race, answer, _, fresh = _race(_mu({2: 1.9, 1: 1.0, 3: 1.2}), budget_s=40.0, seed=3)
    record = _record(race, answer, fresh)
    text = sentence(answer, record)
    assert answer.decided and answer.best == _key(2)
    assert text.startswith("Use pool with 2 workers: ") and "faster than sequential" in text
    assert f"of {answer.budget_s:g} s used." in text
    assert text.endswith("`Pool(processes=2)`")
    assert "\n" not in text


def test_when_every_configuration_is_slower_the_answer_is_to_run_it_sequentially() -> None:
    race, answer, _, fresh = _race(_mu({2: 0.6, 3: 0.7}), budget_s=30.0, seed=2)
    text = sentence(answer, _record(race, answer, fresh))
    assert text.startswith("Run it sequentially: every parallel configuration was clearly slower")
    assert text.endswith(f"Apply it: {SEQUENTIAL_CODE}.")


def test_a_budget_too_small_says_so_and_which_budget_would_decide() -> None:
    race, answer, _, fresh = _race(_mu({2: 1.5, 3: 1.52}), budget_s=4.0, seed=1)
    text = sentence(answer, _record(race, answer, fresh))
    assert not answer.decided
    assert text.startswith(("The budget was too small to decide", "Undecided between"))
    assert f"budget_s={int(10 * math.ceil(answer.budget_needed_s / 10))} would decide" in text


def test_choice_json_holds_the_answer_the_sentence_and_the_code() -> None:
    race, answer, _, fresh = _race(_mu({2: 1.9, 1: 1.0}), budget_s=30.0, seed=3)
    record = _record(race, answer, fresh)
    choice = json.loads(json.dumps(choice_dict(answer, record, sentence(answer, record), "r/index.html")))
    assert choice["decided"] and choice["best"] == list(_key(2))
    assert choice["best_config"]["backend"] == "pool" and choice["best_config"]["workers"] == 2
    assert choice["code"] == "Pool(processes=2)" and choice["sentence"].startswith("Use pool")
    assert choice["group_keys"] == list(GROUP_KEYS) and choice["report"] == "r/index.html"
    best = next(e for e in choice["entries"] if e["key"] == list(_key(2)))
    assert best["low"] < best["speedup"] < best["high"] and best["in_best_set"]
    assert {d["key"][GROUP_KEYS.index("workers")] for d in choice["dropped"]} >= {1}


def test_race_json_gives_back_the_race_and_the_same_answer() -> None:
    race, answer, _, fresh = _race(_mu({2: 1.9, 1: 1.0, 3: 1.85}), budget_s=40.0, seed=4)
    again = race_of(_record(race, answer, fresh, secs=5.0))
    assert again.survivors == race.survivors and again.rounds == race.rounds
    assert set(again.dropped) == set(race.dropped) and math.isclose(again.spent_s, race.spent_s)
    assert again.values == race.values
    answer2 = confirm(fresh, again, 5.0)
    assert answer2.best == confirm(fresh, race, 5.0).best and answer2.best_set


def test_the_race_figure_is_drawn_with_every_label_inside(tmp_path: Path) -> None:
    import matplotlib.pyplot as plt

    from coresweep.analysis.choice import RaceReport
    from coresweep.analysis.figures.race import race_figure, race_figures
    from tests.figure_layout import overflowing_texts

    speedups = {(2, "joblib_multiprocessing"): 1.9, (2, "process_pool"): 1.88, (1, "thread_pool"): 0.95,
                (4, "joblib_loky"): 1.5, (2, "pool"): 1.87}  # fmt: skip
    mu = {SEQ: 0.0, **{_key(w, b): math.log(v) for (w, b), v in speedups.items()}}
    race, answer, _, fresh = _race(mu, budget_s=40.0, seed=6)
    record = _record(race, answer, fresh)
    values: dict = {}
    for row in fresh.itertuples(index=False):
        key = tuple(getattr(row, k) for k in GROUP_KEYS)
        values.setdefault(key, {})[int(row.block)] = float(row.log_speedup)
    choice = choice_dict(answer, record, sentence(answer, record))
    assert any(e["speedup"] is not None for e in choice["entries"])
    fig = race_figure(record, values, choice["entries"])
    assert not overflowing_texts(fig)
    plt.close(fig)
    (saved,) = race_figures([RaceReport(tmp_path, record, choice, values)], tmp_path)
    assert saved.png.stat().st_size > 10_000 and saved.svg.is_file() and "dropped" in saved.caption


REFUSED = [
    (["+experiment=choose", "budget_s=0"], "budget_s=0: must be a positive number of seconds"),
    (["+experiment=choose", "budget_s=-5"], "budget_s=-5: must be a positive number of seconds"),
    (["+experiment=choose", "budget_s=soon"], "budget_s=soon: must be a positive number of seconds"),
    (["+experiment=choose", "budget_s=inf"], "budget_s=inf: must be a positive number"),
    (["budget_s=30"], "budget_s=30: only a race reads it"),
    (["race=maybe"], "race=maybe: choose true or false"),
    (["+experiment=choose", "rounds=5"], "rounds=5: a race decides its rounds itself"),
    (["+experiment=choose", "-m", "budget_s=30,60"], "budget_s: one value for the whole sweep"),
    (["+experiment=choose", "backend=sequential"], "race=true: nothing to race"),
    (["+experiment=choose", "-m", "backend=thread_pool,pool"], "race=true: needs backend=sequential"),
    (
        ["+experiment=choose", "-m", "workload=cpu_python,io_sleep", "backend=sequential,pool", "workers=2"],
        "race=true: races the configurations of one",
    ),
]


@pytest.mark.parametrize("argv,message", REFUSED, ids=[" ".join(a) for a, _ in REFUSED])
def test_bad_race_options_are_one_line_and_exit_2(argv, message, capsys, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("coresweep: error: ") and message in lines[0], lines
    assert not (tmp_path / "outputs").exists()


def _nested():
    def inner(i: int) -> int:
        return i

    return inner


def _in_main(i: int) -> int:
    return i


_in_main.__module__ = "__main__"


@pytest.mark.parametrize(
    "func,error,message",
    [
        (lambda i: i, ValueError, "a lambda cannot be imported by worker processes"),
        (_nested(), ValueError, "defined inside another function"),
        (_in_main, ValueError, "is defined in __main__ (a script or notebook)"),
        (functools.partial(pow, 2), ValueError, "has no module and name"),
        (42, TypeError, "func must be a function"),
    ],
    ids=["lambda", "nested", "__main__", "partial", "not callable"],
)
def test_a_function_workers_cannot_import_is_refused_in_one_line(func, error, message) -> None:
    with pytest.raises(error) as info:
        choose(func, size=4, budget_s=5)
    text = str(info.value)
    assert message in text and "\n" not in text
    if error is ValueError:
        assert "put it at the top level of a module" in text


def test_a_module_function_is_named_with_its_import_root() -> None:
    from tests.tasks import square

    assert function_spec(square) == ("tests.tasks:square", ROOT)


@pytest.mark.parametrize(
    "kw,message",
    [({"budget_s": 0}, "budget_s=0"), ({"size": 0}, "size=0"), ({"budget_s": float("nan")}, "budget_s=nan")],
)
def test_bad_size_or_budget_is_refused_before_anything_runs(kw, message) -> None:
    from tests.tasks import square

    with pytest.raises(ValueError, match=message):
        choose(square, **{"size": 4, "budget_s": 5, **kw})


# ---------------------------------------------------------------------------- end to end

#: A cheap race: 5 configurations, short timed runs, a budget of a few seconds.
CHEAP = ["-m", "backend=sequential,thread_pool,process_pool", "workers=1,2", "min_time_s=0.02"]


@pytest.mark.slow
def test_the_preset_races_confirms_and_answers_end_to_end(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    cmd = [
        sys.executable,
        "-m",
        "coresweep.experiments.entry",
        "+experiment=choose",
        "workload=custom",
        "workload.fn=tests.tasks:burn",
        "workload.size=16",
        "budget_s=4",
        *CHEAP,
        f"hydra.sweep.dir={sweep}",
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.strip().splitlines()
    assert lines[-1] == f"report: {sweep / 'report' / 'index.html'}"
    choice = json.loads((sweep / "choice.json").read_text())
    assert lines[-2] == choice["sentence"]
    assert json.loads((sweep / "report" / "choice.json").read_text())["sentence"] == choice["sentence"]
    race = json.loads((sweep / "race.json").read_text())
    assert len(race["configurations"]) == 5  # sequential and 2 backends x 2 worker counts
    assert race["confirm"]["rounds"] or choice["best_config"]["backend"] == "sequential"
    assert set(race["confirm"]["rounds"]).isdisjoint(race["rounds"])
    assert choice["used_s"] <= 4 * 1.5 and choice["confirm_rounds"] == len(race["confirm"]["rounds"])
    if choice["decided"]:
        assert choice["code"] and choice["sentence"].endswith((f"`{choice['code']}`", f"{SEQUENTIAL_CODE}."))
    rows = [json.loads(ln) for p in sweep.glob("*/results.jsonl") for ln in p.read_text().splitlines()]
    rounds = {r["round"] for r in rows if r["backend"] == "sequential"}
    assert rounds == set(race["rounds"]) | set(race["confirm"]["rounds"])  # the baseline ran every round
    summary = (sweep / "report" / "summary.md").read_text()
    assert summary.splitlines()[2] == f"**Answer:** {choice['sentence']}"
    html = (sweep / "report" / "index.html").read_text()
    assert 'id="choice"' in html
    assert (sweep / "report" / "race.png").stat().st_size > 10_000
    build_report(sweep, tmp_path / "again")  # from the files alone
    rebuilt = json.loads((tmp_path / "again" / "choice.json").read_text())
    assert rebuilt["sentence"] == choice["sentence"]


@pytest.mark.slow
def test_choose_from_python_returns_the_answer(tmp_path: Path) -> None:
    from coresweep import choose as top_level
    from tests.tasks import burn

    answer = top_level(burn, size=16, budget_s=2, overrides=CHEAP[1:], sweep_dir=tmp_path / "s", quiet=True)
    assert answer.sentence and str(answer) == answer.sentence
    assert answer.report == tmp_path / "s" / "report" / "index.html" and answer.report.is_file()
    assert answer.budget_s == 2 and answer.entries and answer.raw["group_keys"] == list(GROUP_KEYS)
    assert (answer.best is None) == (not answer.decided)
