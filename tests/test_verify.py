"""Verification by type (experiments/workloads/verify.py): each case passes or fails for the
stated reason, first one comparison at a time, then through a workload (the re-run that names a
function that is not deterministic, checkers), then through the real ``coresweep`` command."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from coresweep.experiments.workloads import WORKLOADS, WorkloadError
from coresweep.experiments.workloads.verify import DEFAULT_ATOL, DEFAULT_RTOL, MODES, Verification

ROOT = Path(__file__).resolve().parents[1]
TASKS = "tests.verify_tasks"
NAN = float("nan")


def _noisy(value: float, relative: float) -> float:
    return value * (1 + relative)


#: (id, expected, got, workload.verify, rtol, atol, None when it must pass, else a substring of
#: the mismatch, which names where it is).
CASES: list[tuple[str, Any, Any, str, Any, Any, str | None]] = [
    # numpy arrays: shape, dtype, values; NaN equal to NaN
    ("array-equal", np.arange(5.0), np.arange(5.0), "auto", None, None, None),
    ("array-nan", np.array([1.0, NAN]), np.array([1.0, NAN]), "auto", None, None, None),
    ("array-nan-exact", np.array([1.0, NAN]), np.array([1.0, NAN]), "exact", None, None, None),
    (
        "array-nan-vs-number",
        np.array([1.0, NAN]),
        np.array([1.0, 2.0]),
        "auto",
        None,
        None,
        "result 3: array values differ at 1 of 2 elements (first at [1]: 2.0, expected nan",
    ),
    (
        "array-shape",
        np.zeros(3),
        np.zeros(4),
        "auto",
        None,
        None,
        "result 3: array shape is (4,), expected (3,)",
    ),
    (
        "array-dtype",
        np.arange(3),
        np.arange(3.0),
        "auto",
        None,
        None,
        "result 3: array dtype is float64, expected int64",
    ),
    (
        "array-noise-within",
        np.linspace(0, 1, 100),
        np.linspace(0, 1, 100) * (1 + 1e-12),
        "auto",
        None,
        None,
        None,
    ),
    (
        "array-noise-beyond",
        np.ones(100),
        np.r_[np.ones(98), 1 + 3e-4, 1 + 1e-4],
        "auto",
        None,
        None,
        "result 3: array values differ at 2 of 100 elements (first at [98]: 1.0003, expected 1.0; "
        "max abs diff 0.0003; beyond rtol=1e-09, atol=0)",
    ),
    (
        "array-noise-exact",
        np.ones(3),
        np.ones(3) * (1 + 1e-15),
        "exact",
        None,
        None,
        "array values differ at 3 of 3 elements",
    ),
    ("array-loose-rtol", np.ones(3), np.ones(3) * (1 + 1e-6), "auto", 1e-5, None, None),
    (
        "array-ints",
        np.arange(4),
        np.array([0, 1, 2, 4]),
        "auto",
        None,
        None,
        "array values differ at 1 of 4 elements (first at [3]: 4, expected 3",
    ),
    (
        "array-2d-where",
        np.zeros((2, 3)),
        np.array([[0.0, 0, 0], [0, 0, 1]]),
        "auto",
        None,
        None,
        "first at [1, 2]",
    ),
    (
        "array-vs-list",
        np.zeros(2),
        [0.0, 0.0],
        "auto",
        None,
        None,
        "result 3: is a list ([0.0, 0.0]), expected a numpy array of shape (2,) and dtype float64",
    ),
    ("array-neg-zero", np.array([0.0, -0.0]), np.array([-0.0, 0.0]), "exact", None, None, None),
    (
        "array-strings",
        np.array(["a", "b"]),
        np.array(["a", "c"]),
        "auto",
        None,
        None,
        "array values differ at 1 of 2 elements",
    ),
    # nested lists of arrays: where the mismatch is
    (
        "nested-equal",
        [np.zeros(2), {"x": np.ones(3)}],
        [np.zeros(2), {"x": np.ones(3)}],
        "auto",
        None,
        None,
        None,
    ),
    (
        "nested-where",
        [np.zeros(2), {"x": np.ones(100)}],
        [np.zeros(2), {"x": np.r_[np.ones(99), 2.0]}],
        "auto",
        None,
        None,
        "result 3[1]['x']: array values differ at 1 of 100 elements",
    ),
    (
        "nested-tuple-vs-list",
        (1, 2),
        [1, 2],
        "auto",
        None,
        None,
        "result 3: is a list ([1, 2]), expected a tuple",
    ),
    ("nested-length", [1, 2, 3], [1, 2], "auto", None, None, "result 3: has 2 items, expected 3"),
    (
        "nested-keys",
        {"a": 1, "b": 2},
        {"a": 1, "c": 2},
        "auto",
        None,
        None,
        "result 3: missing keys ['b'], unexpected keys ['c']",
    ),
    ("nested-float-in-dict", {"a": [1.0, 2.0]}, {"a": [1.0, _noisy(2.0, 1e-13)]}, "auto", None, None, None),
    ("set-differs", {1, 2}, {1, 3}, "auto", None, None, "result 3: set differs: missing [2], unexpected [3]"),
    # floats: NaN, -0.0, noise within and beyond the tolerance
    ("nan", NAN, NAN, "auto", None, None, None),
    ("nan-exact", NAN, NAN, "exact", None, None, None),
    ("nan-vs-number", NAN, 1.0, "auto", None, None, "result 3: is 1.0, expected nan"),
    ("numpy-nan", np.float64(NAN), np.float64(NAN), "auto", None, None, None),
    ("neg-zero-exact", 0.0, -0.0, "exact", None, None, None),
    ("neg-zero-close", -0.0, 0.0, "close", None, None, None),
    ("inf", math.inf, math.inf, "auto", None, None, None),
    ("inf-sign", math.inf, -math.inf, "auto", None, None, "is -inf, expected inf"),
    ("float-noise-within", 0.1 + 0.2, 0.3, "auto", None, None, None),
    (
        "float-noise-beyond",
        1.0,
        1.0 + 1e-6,
        "auto",
        None,
        None,
        "result 3: is 1.000001, expected 1.0 (diff 1e-06, beyond rtol=1e-09, atol=0)",
    ),
    ("float-noise-exact", 0.1 + 0.2, 0.3, "exact", None, None, "is 0.3, expected 0.30000000000000004"),
    ("float-atol-near-zero", 0.0, 1e-12, "auto", None, 1e-9, None),
    ("float-near-zero-relative", 0.0, 1e-12, "auto", None, None, "is 1e-12, expected 0.0"),
    ("complex-within", 1 + 1j, (1 + 1j) * (1 + 1e-12), "auto", None, None, None),
    ("complex-nan", complex(NAN, 1), complex(NAN, 1), "auto", None, None, None),
    # ints, strings, bools: exact under auto; close puts every number within the tolerance
    (
        "int-exact",
        10**18,
        10**18 + 1,
        "auto",
        None,
        None,
        "is 1000000000000000001, expected 1000000000000000000",
    ),
    ("int-close", 10**18, 10**18 + 1, "close", None, None, None),
    ("str", "abc", "abd", "auto", None, None, "result 3: is 'abd', expected 'abc'"),
    ("bool", True, False, "close", None, None, "is False, expected True"),
    # objects without __eq__ get a hint
    ("identity", object(), object(), "auto", None, None, "compare by identity"),
    # pandas, by pandas
    ("pandas-equal-nan", pd.Series([1.0, NAN]), pd.Series([1.0, NAN]), "auto", None, None, None),
    (
        "pandas-differs",
        pd.DataFrame({"a": [1.0, 2.0]}),
        pd.DataFrame({"a": [1.0, 2.5]}),
        "auto",
        None,
        None,
        "result 3: DataFrame differs",
    ),
    # none: nothing is compared
    ("none", 1.0, 2.0, "none", None, None, None),
]


@pytest.mark.parametrize(
    ("want", "have", "mode", "rtol", "atol", "problem"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_comparison_by_type(
    want: Any, have: Any, mode: str, rtol: Any, atol: Any, problem: str | None
) -> None:
    check = Verification.build(mode, rtol, atol)
    found = check.mismatch(want, have, "result 3")
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found, found


def test_documented_defaults() -> None:
    assert (DEFAULT_RTOL, DEFAULT_ATOL) == (1e-9, 0.0)
    assert MODES == ("auto", "exact", "close", "none")
    check = Verification.build()
    assert (check.rtol, check.atol) == (1e-9, 0.0)


@pytest.mark.parametrize(
    ("results", "label"),
    [
        ([1, 2], "exact"),
        ([1.5, 2.5], "close(rtol=1e-09, atol=0)"),
        ([[1, np.zeros(2)]], "close(rtol=1e-09, atol=0)"),
        (["a"], "exact"),
    ],
)
def test_auto_records_the_comparison_that_ran(results: list[Any], label: str) -> None:
    check = Verification.build()
    assert check.label() == "auto(rtol=1e-09, atol=0)"  # before any result
    for value in results:
        assert check.mismatch(value, value, "result 0") is None
    assert check.label() == label


@pytest.mark.parametrize(
    ("options", "label"),
    [
        ({"verify": "exact"}, "exact"),
        ({"verify": "close", "rtol": 1e-6, "atol": 1e-12}, "close(rtol=1e-06, atol=1e-12)"),
        ({"verify": "none"}, "none"),
        ({"verify": f"{TASKS}:within_one"}, f"checker {TASKS}:within_one"),
    ],
)
def test_the_label_says_which_check(options: dict[str, Any], label: str) -> None:
    assert Verification.build(**options).label() == label


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"verify": "exct"}, "workload.verify='exct': choose one of auto, exact, close, none, or a checker"),
        ({"verify": None}, "workload.verify=None: choose one of"),
        ({"rtol": -1}, "workload.rtol=-1: must be a number >= 0"),
        ({"atol": "tiny"}, "workload.atol='tiny': must be a number >= 0"),
        ({"rtol": math.nan}, "workload.rtol=nan: must be a number >= 0"),
        ({"rtol": True}, "workload.rtol=True: must be a number >= 0"),
        ({"verify": "exact", "rtol": 1e-6}, "workload.rtol=1e-06 has no effect with workload.verify=exact"),
        ({"verify": "none", "atol": 1.0}, "workload.atol=1.0 has no effect with workload.verify=none"),
        (
            {"verify": "nosuch_module_xyz:check"},
            "workload.verify='nosuch_module_xyz:check': cannot import module",
        ),
        ({"verify": f"{TASKS}:missing"}, f"module '{TASKS}' has no attribute 'missing'"),
    ],
)
def test_bad_settings_are_one_line_errors_naming_the_option(options: dict[str, Any], error: str) -> None:
    with pytest.raises(WorkloadError) as info:
        WORKLOADS["cpu_python"](size=2, grain=10, **options)
    assert error in str(info.value) and "\n" not in str(info.value)


# -- through a workload: what a run's row says ---------------------------------------------------


def _custom(fn: str, **options: Any) -> Any:
    return WORKLOADS["custom"](size=5, fn=f"{TASKS}:{fn}", **options)


def _verify_a_second_run(workload: Any) -> str | None:
    """The sequential reference, then a second run of the same calls checked against it."""
    inputs = workload.inputs()
    expected = workload.reference(inputs)
    return workload.verify(expected, [workload.task(x) for x in inputs])


@pytest.mark.parametrize(
    ("fn", "options", "problem", "label"),
    [
        ("nested_arrays", {}, None, "close(rtol=1e-09, atol=0)"),
        ("nan_floats", {}, None, "close(rtol=1e-09, atol=0)"),
        ("nan_floats", {"verify": "exact"}, None, "exact"),
        ("summed", {}, None, "close(rtol=1e-09, atol=0)"),
        ("seeded", {}, None, "close(rtol=1e-09, atol=0)"),
        (
            "unseeded",
            {},
            f"{TASKS}:unseeded(0) gave different results on two sequential calls (it is not "
            "deterministic): seed it per task, e.g. random.Random(i) or numpy.random.default_rng(i), "
            "or set workload.verify=none",
            None,
        ),
        ("unseeded", {"verify": "none"}, None, "none"),
        ("unseeded", {"verify": f"{TASKS}:within_one"}, None, f"checker {TASKS}:within_one"),
        ("unseeded", {"verify": f"{TASKS}:strict"}, "not deterministic", f"checker {TASKS}:strict"),
        ("seeded", {"verify": f"{TASKS}:strict"}, None, f"checker {TASKS}:strict"),
        (
            "seeded",
            {"verify": f"{TASKS}:broken_checker"},
            f"result 0: the checker {TASKS}:broken_checker raised RuntimeError: "
            "this checker is broken on purpose",
            f"checker {TASKS}:broken_checker",
        ),
    ],
)
def test_user_functions(fn: str, options: dict[str, Any], problem: str | None, label: str | None) -> None:
    workload = _custom(fn, **options)
    found = _verify_a_second_run(workload)
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found, found
    if label is not None:
        assert workload.fields() == {"verify": label}


def test_a_deterministic_function_with_a_wrong_parallel_answer_is_not_called_random() -> None:
    workload = _custom("seeded")
    expected = workload.reference(workload.inputs())
    wrong = [*expected[:2], expected[2] + 1.0, *expected[3:]]
    found = workload.verify(expected, wrong)
    assert found is not None and found.startswith("result 2: is ")
    assert "deterministic" not in found


def test_a_checker_that_returns_nonsense_fails_the_run() -> None:
    check = Verification.build(f"{TASKS}:within_one")
    check.checker = lambda expected, got: 42
    workload = _custom("seeded", verify=f"{TASKS}:within_one")
    workload.check = check
    found = _verify_a_second_run(workload)
    assert found is not None and "returned 42 (int); it must return True or None" in found


def test_the_checkers_module_is_a_requirement_of_the_job() -> None:
    workload = _custom("seeded", verify=f"{TASKS}:within_one")
    assert workload.requirements() == (TASKS, TASKS)


@pytest.mark.parametrize(
    ("name", "value", "same"),
    [
        # memory and shared_input kept their old tolerance (rel 1e-12 / 1e-9, the same absolute)
        ("memory", 1.0 + 5e-13, True),
        ("memory", 1.0 + 5e-12, False),
        ("shared_input", 1.0 + 5e-10, True),
        ("gil_release", 1.0 + 5e-10, True),
        ("gil_release", 1.0 + 5e-9, False),
    ],
)
def test_builtin_workloads_keep_their_tolerances(name: str, value: float, same: bool) -> None:
    workload = WORKLOADS[name](size=1, grain=1)
    assert (workload.verify([1.0], [value]) is None) == same


def test_builtin_int_results_stay_exact() -> None:
    workload = WORKLOADS["cpu_python"](size=2, grain=10)
    assert workload.verify([1, 2], [1, 3]) == "result 1: is 3, expected 2"
    assert workload.fields() == {"verify": "exact"}


# -- through the real command ------------------------------------------------------------------


def coresweep(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # so workers can import tests.verify_tasks
    cmd = [sys.executable, "-m", "coresweep.experiments.entry", *args]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def rows_of(sweep: Path) -> list[dict[str, Any]]:
    rows = []
    for path in sorted(sweep.glob("*/results.jsonl")):
        rows += [json.loads(line) for line in path.read_text().splitlines()]
    return rows


TINY = ["backend=process_pool", "workers=1,2", "rounds=1", "repeats=1", "workload.size=6", "min_time_s=0"]


@pytest.mark.slow
def test_sweep_rows_say_which_check_ran_and_why_a_run_failed(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    out = coresweep(
        "workload=custom",
        "-m",
        f"workload.fn={TASKS}:nested_arrays,{TASKS}:nan_floats,{TASKS}:unseeded",
        *TINY,
        "report=false",
        f"hydra.sweep.dir={sweep}",
        cwd=tmp_path,
    )
    assert out.returncode == 1, out.stderr  # the unseeded function's rows failed
    rows = rows_of(sweep)
    assert len(rows) == 3 * 2
    for row in rows:
        assert row["verify"] == "close(rtol=1e-09, atol=0)", row
        if row["fn"].endswith(":unseeded"):
            assert not row["ok"] and not row["verified"]
            assert f"{TASKS}:unseeded(0) gave different results on two sequential calls" in row["error"]
            assert "numpy.random.default_rng(i)" in row["error"]
        else:
            assert row["ok"] and row["verified"] and row["error"] is None, row["error"]


@pytest.mark.slow
def test_sweep_with_checkers_and_none_and_a_loud_report(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    out = coresweep(
        "workload=custom",
        f"workload.fn={TASKS}:unseeded",
        "-m",
        f"workload.verify={TASKS}:within_one,{TASKS}:broken_checker,none",
        *TINY,
        f"hydra.sweep.dir={sweep}",
        cwd=tmp_path,
    )
    assert out.returncode == 1, out.stderr  # the broken checker's rows failed
    by_check: dict[str, list[dict[str, Any]]] = {}
    for row in rows_of(sweep):
        by_check.setdefault(row["verify"], []).append(row)
    assert sorted(by_check) == sorted(
        [f"checker {TASKS}:within_one", f"checker {TASKS}:broken_checker", "none"]
    )
    assert all(r["ok"] and r["verified"] for r in by_check[f"checker {TASKS}:within_one"])
    assert all(r["ok"] and r["verified"] is None for r in by_check["none"])
    for row in by_check[f"checker {TASKS}:broken_checker"]:
        assert not row["ok"]
        assert (
            f"the checker {TASKS}:broken_checker raised RuntimeError: this checker is broken" in row["error"]
        )
    page = (sweep / "report" / "index.html").read_text()
    assert "Results not verified" in page and "results not verified: workload.verify=none" in page
    summary = (sweep / "report" / "summary.md").read_text()
    assert "results not verified: workload.verify=none for 2 of 6 timed runs" in summary


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "error"),
    [
        (
            [f"workload.verify={TASKS}:missing"],
            f"coresweep: error: workload.verify='{TASKS}:missing': "
            f"module '{TASKS}' has no attribute 'missing'",
        ),
        (["workload.rtol=-1"], "coresweep: error: workload.rtol=-1: must be a number >= 0"),
    ],
)
def test_bad_verification_settings_exit_2_before_anything_runs(
    tmp_path: Path, args: list[str], error: str
) -> None:
    sweep = tmp_path / "sweep"
    out = coresweep(
        "workload=custom", f"workload.fn={TASKS}:seeded", *args, f"hydra.sweep.dir={sweep}", cwd=tmp_path
    )
    assert out.returncode == 2
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(error), out.stderr
    assert not sweep.exists()


@pytest.mark.slow
def test_rows_of_jobs_under_another_interpreter_record_the_check(tmp_path: Path) -> None:
    # python=<path>: the job runs in a fresh interpreter (experiments/launch/interpreter.py),
    # which verifies and sends back the check that ran.
    sweep = tmp_path / "sweep"
    out = coresweep(
        "workload=custom",
        f"workload.fn={TASKS}:nested_arrays",
        "workload.verify=close",
        "workload.rtol=1e-6",
        f"python={sys.executable}",
        "-m",
        *TINY,
        "report=false",
        f"hydra.sweep.dir={sweep}",
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    rows = rows_of(sweep)
    assert len(rows) == 2
    for row in rows:
        assert row["ok"] and row["verify"] == "close(rtol=1e-06, atol=0)"
        assert row["python_executable"] == sys.executable


@pytest.mark.parametrize(
    ("rows", "lines"),
    [
        # a folder from before the verify field: nothing to say, nothing breaks
        (pd.DataFrame({"workload": ["cpu_python"], "ok": [True]}), 0),
        (pd.DataFrame({"workload": ["custom"], "verify": ["exact"], "fn": ["m:f"]}), 0),
        (
            pd.DataFrame(
                {"workload": ["custom", "cpu_python"], "verify": ["none", None], "fn": ["m:f", None]}
            ),
            1,
        ),
    ],
)
def test_report_says_when_results_were_not_verified(rows: pd.DataFrame, lines: int) -> None:
    from coresweep.analysis.verification import unverified_lines

    found = unverified_lines(rows)
    assert len(found) == lines
    if lines:
        assert found[0].startswith(
            "results not verified: workload.verify=none for 1 of 2 timed runs (custom m:f)"
        )
