"""The report folder from synthetic sweeps: files, columns, failures, determinism, comparison, CLI."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from coresweep.analysis.cli import main
from coresweep.analysis.load import AnalysisError, load_results
from coresweep.analysis.report import build_report
from tests.test_analysis_synth import amdahl_wall, ladder, write_sweep

FIGURES = ("speedup", "efficiency")


def _fail_some(config, rep):
    if config["backend"] == "thread_pool" and config["workers"] == 4 and rep == 0:
        return "BrokenProcessPool: <b>worker died</b>"
    return None


def _sweep(tmp_path: Path, name: str = "sweep", **kwargs) -> Path:
    return write_sweep(
        tmp_path / name, ladder(["process_pool", "thread_pool"], [1, 2, 4]), amdahl_wall(1.0, 0.1), **kwargs
    )


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_report_writes_every_file(tmp_path: Path) -> None:
    sweep = _sweep(tmp_path)
    result = build_report([sweep])
    out = sweep / "report"
    assert result.out_dir == out and result.index_html == out / "index.html"
    for name in ("index.html", "results.csv", "summary.csv", "summary.md", "scaling.csv"):
        assert (out / name).is_file(), name
    for fig in FIGURES:
        assert (out / f"{fig}.png").stat().st_size > 1000
        assert (out / f"{fig}.svg").read_text().lstrip().startswith("<?xml")
    assert (result.n_rows, result.n_ok, result.n_failed) == (35, 35, 0)


def test_csv_columns(tmp_path: Path) -> None:
    sweep = _sweep(tmp_path)
    build_report([sweep])
    results = _csv(sweep / "report" / "results.csv")
    assert len(results) == 35
    for col in ("machine", "backend", "workers", "wall_s", "ok", "error", "affinity_cpus", "timestamp"):
        assert col in results[0]
    summary = _csv(sweep / "report" / "summary.csv")
    assert len(summary) == 7
    for col in (
        "median_wall_s",
        "speedup",
        "speedup_ci_low",
        "speedup_ci_high",
        "efficiency",
        "efficiency_ci_low",
        "efficiency_ci_high",
        "n_ok",
        "n_failed",
        "karp_flatt",
    ):
        assert col in summary[0]
    assert summary[0]["backend"] == "sequential"


def test_failures_are_listed_and_not_counted(tmp_path: Path) -> None:
    sweep = _sweep(tmp_path, fail=_fail_some)
    result = build_report([sweep])
    assert result.n_failed == 1 and result.n_ok == 34
    summary = {(r["backend"], r["workers"]): r for r in _csv(sweep / "report" / "summary.csv")}
    assert summary[("thread_pool", "4")]["n_failed"] == "1"
    assert summary[("thread_pool", "4")]["n_ok"] == "4"
    page = result.index_html.read_text()
    assert "BrokenProcessPool: &lt;b&gt;worker died&lt;/b&gt;" in page  # escaped, not markup
    assert "<b>worker died</b>" not in page
    assert "1 failed" in page
    md = (sweep / "report" / "summary.md").read_text()
    assert "## Failures" in md and "BrokenProcessPool" in md


def test_html_is_self_contained(tmp_path: Path) -> None:
    sweep = _sweep(tmp_path)
    page = build_report([sweep]).index_html.read_text()
    assert page.count("data:image/png;base64,") >= 2
    assert "<script" not in page and "http://" not in page and "https://" not in page
    for section in ("Verdict", "Figures", "Summary by configuration", "Failures", "Environment", "Reproduce"):
        assert section in page
    assert "coresweep -m backend=sequential,process_pool workers=1,2,4" in page
    assert "coresweep-report" in page
    assert "best is process_pool with 4 workers" in page
    assert "Synthetic CPU" in page and "numpy" in page


def test_rebuild_is_byte_identical(tmp_path: Path) -> None:
    sweep = _sweep(tmp_path, fail=_fail_some)
    first = build_report([sweep], tmp_path / "r1")
    second = build_report([sweep], tmp_path / "r2")
    for name in (
        "results.csv",
        "summary.csv",
        "summary.md",
        "scaling.csv",
        "speedup.svg",
        "efficiency.svg",
        "speedup.png",
    ):
        assert (first.out_dir / name).read_bytes() == (second.out_dir / name).read_bytes(), name


def test_two_machines_are_compared(tmp_path: Path) -> None:
    a = _sweep(tmp_path, "a", machine="alpha")
    b = write_sweep(
        tmp_path / "b",
        ladder(["process_pool", "thread_pool"], [1, 2, 4, 8]),
        lambda c: 1.0 / c["workers"] if c["backend"] == "thread_pool" else 1.0,
        machine="beta",
        topology={
            "logical_cores": 8,
            "physical_cores": 8,
            "threads_per_core": 1,
            "sockets": 1,
            "numa_nodes": 1,
            "cpu_model": "Other CPU",
        },
    )
    result = build_report([a, b], tmp_path / "cmp")
    page = result.index_html.read_text()
    assert "Machines compared" in page and "Where the best backend or worker count differs" in page
    assert "Other CPU" in page and "Synthetic CPU" in page
    summary = _csv(result.out_dir / "summary.csv")
    assert {r["machine"] for r in summary} == {"alpha", "beta"}
    assert ">yes<" in page  # alpha's best is process_pool, beta's is thread_pool


def test_parent_folder_with_several_sweeps_and_a_job_folder(tmp_path: Path) -> None:
    _sweep(tmp_path / "all", "s1", machine="alpha", sweep_id="one")
    _sweep(tmp_path / "all", "s2", machine="alpha", sweep_id="two")
    rows, envs, _ = load_results([tmp_path / "all"])
    assert set(envs) == {"one", "two"} and len(rows) == 70
    rows, envs, _ = load_results([tmp_path / "all" / "s1" / "3"])
    assert len(rows) == 5 and set(envs) == {"one"}


def test_malformed_input_warns_and_goes_on(tmp_path: Path) -> None:
    sweep = _sweep(tmp_path)
    job = sweep / "1" / "results.jsonl"
    lines = job.read_text().splitlines()
    lines.insert(1, "{not json")
    lines[-1] = lines[-1][: len(lines[-1]) // 2]  # truncated by a kill mid-write
    job.write_text("\n".join(lines) + "\n")
    extra = json.loads((sweep / "2" / "results.jsonl").read_text().splitlines()[0])
    extra.update(schema=3, shiny_new_field=[1, 2], machine=None)
    with (sweep / "2" / "results.jsonl").open("a") as fh:
        fh.write(json.dumps(extra) + "\n")
    (sweep / "99").mkdir()
    (sweep / "99" / "results.jsonl").write_text("")
    result = build_report([sweep])
    text = "\n".join(result.warnings)
    assert "invalid JSON" in text and "truncated last line" in text
    assert "schema 3" in text and "no rows" in text
    assert result.n_rows == 35 - 1 + 1
    results = _csv(sweep / "report" / "results.csv")
    assert "shiny_new_field" in results[0]
    assert {r["machine"] for r in results} == {"alpha"}  # the row without machine got the sweep's
    assert "Warnings while reading" in result.index_html.read_text()


def test_missing_environment_is_a_warning(tmp_path: Path) -> None:
    sweep = _sweep(tmp_path)
    (sweep / "environment.json").unlink()
    result = build_report([sweep])
    assert any("environment.json" in w for w in result.warnings)
    assert result.index_html.is_file()


@pytest.mark.parametrize("case", ["sequential_only", "failures_only", "single_worker_count"])
def test_degenerate_sweeps_still_give_a_report(tmp_path: Path, case: str) -> None:
    if case == "sequential_only":
        configs, fail = [{"backend": "sequential", "workers": 1}], None
    elif case == "failures_only":
        configs, fail = ladder(["process_pool"], [2]), (lambda c, r: "boom")
    else:
        configs, fail = ladder(["process_pool", "thread"], [2]), None
    sweep = write_sweep(tmp_path / "s", configs, amdahl_wall(1.0, 0.0), fail=fail)
    result = build_report([sweep])
    page = result.index_html.read_text()
    if case == "single_worker_count":  # one worker count: nothing to draw against workers, said why
        assert not (result.out_dir / "speedup.png").exists()
        assert "every run used 2 workers" in page
    else:
        assert (result.out_dir / "speedup.png").is_file() and (result.out_dir / "efficiency.svg").is_file()
    if case == "failures_only":
        assert result.n_ok == 0 and "No configuration has a successful run" in page
    if case == "sequential_only":
        assert "only sequential runs succeeded" in page


def test_missing_path_and_empty_folder_are_errors(tmp_path: Path) -> None:
    with pytest.raises(AnalysisError, match="does not exist"):
        load_results([tmp_path / "nope"])
    with pytest.raises(AnalysisError, match="no results found under"):
        load_results([tmp_path])


def test_cli_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = _sweep(tmp_path, "good")
    assert main([str(good), "-o", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert str(tmp_path / "out" / "index.html") in out and "35 runs: 35 ok, 0 failed" in out

    bad = _sweep(tmp_path, "bad", fail=_fail_some)
    assert main([str(bad)]) == 1
    assert (bad / "report" / "index.html").is_file()

    assert main([str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "does not exist" in err and "Traceback" not in err

    empty = tmp_path / "empty"
    empty.mkdir()
    assert main([str(empty)]) == 2
    err = capsys.readouterr().err
    assert err.strip() == (
        f"coresweep-report: error: no results found under {empty}: expected <sweep>/<job>/results.jsonl"
    )


def test_cli_usage_error_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main([])
    assert exc.value.code == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_cli_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    assert "coresweep-report" in capsys.readouterr().out


def test_two_folders_with_different_schemas_warn_and_go_on(tmp_path, capsys) -> None:
    import json as _json

    from coresweep.analysis.cli import main

    for name, schema in (("a", 1), ("b", 2)):
        job = tmp_path / name / "0"
        job.mkdir(parents=True)
        row = {"schema": schema, "backend": "sequential", "workers": 1, "workload": "cpu_python",
               "size": 1, "grain": 1, "repeat": 0, "wall_s": 0.1, "ok": True, "verified": True}
        (job / "results.jsonl").write_text(_json.dumps(row) + "\n")
    code = main([str(tmp_path / "a"), str(tmp_path / "b"), "-o", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 0
    assert "different record schemas" in err and "schema 2" in err
    assert (tmp_path / "out" / "index.html").exists()
    assert (tmp_path / "out" / "results.csv").read_text().count("\n") == 3  # header + both rows


def test_launcher_warning_reaches_the_report_and_the_terminal(tmp_path: Path, capsys) -> None:
    # A launcher that timed jobs at the same time corrupts every figure: the page must say so,
    # from environment.json alone, as the terminal did when the sweep ran.
    sweep = _sweep(tmp_path)
    env = json.loads((sweep / "environment.json").read_text())
    env["launcher"] = {
        "launcher": "submitit_local", "where": "this machine", "jobs_at_once": 3,
        "warning": "hydra/launcher=submitit_local runs up to 3 jobs at the same time on this machine: "
                   "they share its cores, so every timing is corrupted",
    }
    (sweep / "environment.json").write_text(json.dumps(env))
    result = build_report([sweep])
    page = result.index_html.read_text()
    noise_box = page.split('<div class="noise" id="noise">', 1)[1].split("</div>", 1)[0]
    assert "submitit_local runs up to 3 jobs at the same time" in noise_box
    assert any("every timing is corrupted" in w for w in result.noise_warnings)
    assert "every timing is corrupted" in (sweep / "report" / "summary.md").read_text()
    assert main([str(sweep)]) == 0
    assert "submitit_local runs up to 3 jobs at the same time" in capsys.readouterr().err
    # A record without the text (jobs_at_once > 1 on this machine) still gives a line.
    del env["launcher"]["warning"]
    (sweep / "environment.json").write_text(json.dumps(env))
    assert any("ran up to 3 jobs at the same time" in w for w in build_report([sweep]).noise_warnings)
    # One job at a time: nothing to warn about.
    env["launcher"] = {"launcher": "basic", "where": "this machine", "jobs_at_once": 1, "warning": None}
    (sweep / "environment.json").write_text(json.dumps(env))
    assert not any("at the same time" in w for w in build_report([sweep]).noise_warnings)
    assert main([str(sweep)]) == 0
    assert "at the same time" not in capsys.readouterr().err
