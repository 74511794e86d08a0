"""Bad input: one line on stderr, exit status 2, no job run, no traceback."""

from __future__ import annotations

import pytest

from coresweep.experiments.cli import main

BAD = [
    (["backend=nope"], "backend=nope: unknown backend; choose one of"),
    (["workload=nope"], "workload=nope: unknown workload; choose one of"),
    (["-m", "backend=thread_pool,nope"], "backend=nope"),
    (["workers=0"], "workers=0: must be an integer >= 1"),
    (["workers=-1"], "workers=-1: must be an integer >= 1"),
    (["workers=x"], "workers=x: must be an integer >= 1"),
    (
        ["backend=pool", "+backend.chunksize=4"],
        "backend.chunksize: not an option of backend=pool (its options: none)",
    ),
    (["-m", "workers=1,0"], "workers=0"),
    (["workers=auto,2"], "workers=auto stands alone"),
    (["workload.size=0"], "workload.size=0: must be an integer >= 1"),
    (["workload.grain=-5"], "workload.grain=-5: must be an integer >= 1"),
    (["repeats=0"], "repeats=0: must be an integer >= 1"),
    (["repeats=many"], "repeats=many: must be an integer >= 1 or auto"),
    (["repeats=auto", "repeats_target=2"], "repeats_target=2: must be a fraction"),
    (["repeats=auto", "repeats_max=3"], "repeats_max=3: must be an integer >= 6"),
    (["warmup=-1"], "warmup=-1: must be an integer >= 0"),
    (["start_method=teleport"], "start_method=teleport: unknown start method; choose one of auto, "),
    (["collect=carrier_pigeon"], "collect=carrier_pigeon: choose one of return, manager_list"),
    (["pinning=diagonal"], "pinning=diagonal: choose one of"),
    (["min_time_s=-1"], "min_time_s=-1"),
    (["blas_threads=0"], "blas_threads=0"),
    (["workload=custom"], "workload=custom needs workload.fn=pkg.module:func"),
    (["workload=custom", "workload.fn=nodots"], "expected 'pkg.module:func'"),
    (["workload=custom", "workload.fn=no_such_module_xyz:f"], "cannot import module 'no_such_module_xyz'"),
    (["workload=custom", "workload.fn=tests.tasks:missing"], "has no attribute 'missing'"),
    (["workload=custom", "workload.fn=tests.tasks:NOT_CALLABLE"], "is not callable"),
    (["workload=custom", "workload.fn=__main__:f"], "__main__"),
    (["workload=gil_release", "workload.kind=laser"], "workload.kind='laser': choose one of"),
    (["+experiment=nope"], "experiment=nope"),
    (["hydra.sweep.dir=/proc/coresweep"], "hydra.sweep.dir=/proc/coresweep"),
    (["nokey=1"], "nokey: not a coresweep option"),
    (["workers.x=1"], "workers.x: not a coresweep option, so nothing would read it"),
    (["hydra.nokey=1"], "hydra.nokey: not an option of Hydra's config"),
    (["+workers=3"], "+workers: workers is already an option; set it without the +"),
    (["+worker=4"], "worker: not a coresweep option; did you mean workers? (options: "),
    (["timeout_s=0"], "timeout_s=0: must be a number of seconds > 0"),
    (["timeout_s=-3"], "timeout_s=-3"),
    (["max_memory=lots"], "max_memory=lots: expected bytes"),
    (["cpus=99"], "cpus=99: CPU 99 not online"),
    (["cpus=count:99"], "a CPU count must be between 1 and"),
    (["cpus=''"], "the CPU list is empty"),
    (["pinning=physical", "workers=64"], "pinning=physical needs one physical core per worker"),
    (["resume=/nonexistent/sweep"], "resume=/nonexistent/sweep: not a coresweep sweep folder"),
]


@pytest.mark.parametrize("argv,message", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_input_is_one_line_and_exit_2(argv, message, capsys, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("coresweep: error: ")
    assert message in lines[0]
    assert "Traceback" not in err
    assert "search path" not in err.lower(), "Hydra's internals leaked into the message"
    assert not (tmp_path / "outputs").exists(), "no work may start on bad input"


#: Errors about an option with one value in the whole sweep: every job fails alike.
SWEEP_WIDE = [
    ["python=/nonexistent/python3"],
    ["cpus=99"],
    ["workers=0"],
    ["pinning=physical", "-m", "workers=1,64"],
    ["workload=custom", "workload.fn=no_such_module_xyz:f"],
    ["+worker=4"],
]


@pytest.mark.parametrize("argv", SWEEP_WIDE, ids=[" ".join(a) for a in SWEEP_WIDE])
def test_sweep_wide_error_names_no_job(argv, capsys, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    (line,) = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert line.startswith("coresweep: error: ") and "[job:" not in line


def test_error_of_one_swept_value_names_the_job(capsys, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["-m", "backend=sequential", "workload=cpu_python", "workload.size=4,0"]) == 2
    (line,) = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert "workload.size=0: must be an integer >= 1" in line
    assert line.endswith("[job: backend=sequential workers=1 workload=cpu_python workload.size=0]")
