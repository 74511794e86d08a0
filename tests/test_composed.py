"""Each job's config is composed once (in preflight) and is exactly what Hydra would compose."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import time
from pathlib import Path

import pytest
from omegaconf import DictConfig, OmegaConf

from coresweep.experiments import cli
from coresweep.experiments.callbacks import LAST_SWEEP
from coresweep.experiments.launch.hydra_job import yaml_text
from coresweep.experiments.plan.composed import ComposedConfigs, hydra_overrides

SWEEP = ["-m", "backend=sequential,thread_pool", "workers=1,2", "workload=io_sleep", "workload.size=4",
         "workload.grain=500", "repeats=1", "warmup=0", "report=false"]


def _hydra_files(sweep: Path) -> dict[str, str]:
    return {
        str(p.relative_to(sweep)): p.read_text().replace(str(sweep), "SWEEP")
        for p in sorted(sweep.glob("*/.hydra/*.yaml"))
    }


@pytest.mark.slow  # two real sweeps, in this process
def test_launcher_gets_the_preflight_configs_and_they_equal_hydras(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kept, plain = tmp_path / "kept", tmp_path / "plain"
    assert cli.main([*SWEEP, "rounds=2", f"hydra.sweep.dir={kept}"]) == 0
    # 3 jobs (sequential once, thread_pool at 1 and 2 workers) x 2 rounds: none composed again
    assert LAST_SWEEP["jobs_composed_once"] == 6
    monkeypatch.setattr(ComposedConfigs, "get", lambda self, hydra_lines, job: None)
    assert cli.main([*SWEEP, "rounds=2", f"hydra.sweep.dir={plain}"]) == 0
    assert LAST_SWEEP["jobs_composed_once"] == 0
    kept_files, plain_files = _hydra_files(kept), _hydra_files(plain)
    assert len(kept_files) == 9  # config, hydra, overrides for each of 3 jobs (the last round's)
    assert kept_files == plain_files


def test_hydra_overrides_are_picked_in_order() -> None:
    lines = ["backend=pool", "hydra.sweep.dir=/x", "+experiment=grain", "hydra/launcher=basic"]
    assert hydra_overrides(lines) == ["hydra.sweep.dir=/x", "hydra/launcher=basic"]


def _compose_all(argv: list[str], derive: bool, read_once: bool | None = None) -> ComposedConfigs:
    kept = ComposedConfigs()
    kept.derive = derive  # False: every job composed in full by Hydra
    # and, unless told otherwise, with each composition reading its files afresh (as Hydra does)
    kept.read_once = derive if read_once is None else read_once
    cli.preflight(argv, kept)
    return kept


def test_files_read_once_give_hydras_compositions() -> None:
    """Without deriving: every job composed with the shared files equals Hydra's own."""
    argv = ["-m", "backend=pool,thread", "workload=cpu_python,io_sleep", "workers=1,2", "rounds=1"]
    shared, fresh = _compose_all(argv, False, read_once=True), _compose_all(argv, False, read_once=False)
    assert shared._repositories and not fresh._repositories
    assert shared._configs.keys() == fresh._configs.keys()
    for key, cfg in fresh._configs.items():
        other = shared._configs[key]
        assert repr(OmegaConf.to_container(other)) == repr(OmegaConf.to_container(cfg)), key
        assert OmegaConf.is_struct(other) == OmegaConf.is_struct(cfg)
        assert OmegaConf.is_readonly(other.hydra) == OmegaConf.is_readonly(cfg.hydra)


@pytest.mark.parametrize("bad", ["backend=nope", "workload=nope", "hydra/launcher=nope", "nokey=1"])
def test_files_read_once_give_hydras_errors(bad: str) -> None:
    """An option that does not exist is named, with the options there are, as Hydra names it."""
    from coresweep.experiments.errors import ConfigError

    argv = ["-m", "backend=pool,thread", "workers=1,2", "rounds=1"]
    messages = []
    for read_once in (False, True):
        kept = ComposedConfigs()
        kept.read_once = read_once
        cli.preflight(argv, kept)  # the files are read (and shared) by then
        with pytest.raises(ConfigError) as caught:
            cli.preflight([*argv, bad], kept)
        messages.append(str(caught.value))
    assert messages[0] == messages[1]


def test_a_search_path_on_the_command_line_gets_hydras_own_repository() -> None:
    from hydra import initialize_config_module
    from hydra.core.global_hydra import GlobalHydra

    from coresweep.experiments.plan.config_files import OneComposition, read_once

    GlobalHydra.instance().clear()
    with initialize_config_module("coresweep.conf", version_base="1.3"):
        loader = GlobalHydra.instance().config_loader()
        shared: dict = {}
        with read_once(loader, shared):
            _, plain = loader._parse_overrides_and_create_caching_repo(
                "config", ["hydra.searchpath=[pkg://coresweep.conf]"]
            )
            _, mine = loader._parse_overrides_and_create_caching_repo("config", ["workers=2"])
        assert not isinstance(plain, OneComposition) and isinstance(mine, OneComposition)
        assert "_parse_overrides_and_create_caching_repo" not in vars(loader)  # put back
        # put back after an error too, and what was there before (a nested block) stays
        with pytest.raises(KeyError), read_once(loader, shared), read_once(loader, shared):
            raise KeyError("x")
        assert "_parse_overrides_and_create_caching_repo" not in vars(loader)
    GlobalHydra.instance().clear()


PRESETS = sorted(p.stem for p in (Path(cli.__file__).parent.parent / "conf" / "experiment").glob("*.yaml"))
ROOT = Path(__file__).resolve().parents[1]
SMALL_CASE = ["-m", "workers=1,2,4", "backend=pool,thread", "repeats=1,3", "rounds=1"]
CASES = [[], *([f"+experiment={name}"] for name in PRESETS), SMALL_CASE]
#: Every preset and the default sweep composed in full by Hydra take seconds each (the patterns
#: preset's 260 jobs about half a minute): the slow tier. The small sweep stays in the fast one.
PARAMS = [
    pytest.param(argv, id=" ".join(argv) or "default", marks=() if argv == SMALL_CASE else pytest.mark.slow)
    for argv in CASES
]
#: The selected cases' compositions in full are made by this many processes of their own,
#: started with this module's first test, so that they take the cores while this process
#: derives its compositions and runs the module's other tests.
BACKGROUND_PROCESSES = 2


def full_compositions(argv: list[str]) -> tuple[int, dict, list[tuple[str, str]]]:
    """Every job of ``argv`` composed in full by Hydra: its derived count (0), key -> what is
    compared, and (ours, OmegaConf's) .hydra/ texts of the first 12 configs, twice over."""
    full = _compose_all(argv, derive=False)
    compared = {
        key: (repr(OmegaConf.to_container(cfg)), OmegaConf.is_struct(cfg), OmegaConf.is_readonly(cfg.hydra))
        for key, cfg in full._configs.items()
    }
    # What .hydra/ gets (launch/hydra_job.py): OmegaConf's text, blocks remembered or not.
    texts = []
    for cfg in [*full._configs.values()][:12] * 2:
        task = OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"])
        for part in (task, OmegaConf.masked_copy(cfg, "hydra"), cfg.hydra.overrides.task):
            texts.append((yaml_text(part), OmegaConf.to_yaml(part)))
    return full.derived, compared, texts


_CHILD = (
    "import json, os, pickle, sys\n"
    "from tests.test_composed import full_compositions\n"
    "for name, argv in json.loads(sys.argv[1]):\n"
    "    try:  # the next case no process has claimed yet\n"
    "        os.close(os.open(name + '.claim', os.O_CREAT | os.O_EXCL))\n"
    "    except FileExistsError:\n"
    "        continue\n"
    "    out = full_compositions(argv)\n"
    "    with open(name + '.tmp', 'wb') as f:\n"
    "        pickle.dump(out, f)\n"
    "    os.replace(name + '.tmp', name)  # whole, or not there\n"
)


def _size(argv: list[str]) -> int:
    """About how many jobs a case composes (its sweep's product before planning), to start the
    longest first."""
    import itertools

    if not argv:
        return 26  # the default sweep's jobs
    params: dict = {}
    for name in [a.split("=", 1)[1] for a in argv if a.startswith("+experiment=")]:
        preset = OmegaConf.to_container(OmegaConf.load(ROOT / "conf" / "experiment" / f"{name}.yaml"))
        params.update(preset.get("hydra", {}).get("sweeper", {}).get("params", {}))
    params.update(a.split("=", 1) for a in argv if "=" in a and not a.startswith("+"))
    return len(list(itertools.product(*(str(v).split(",") for v in params.values()))))


@pytest.fixture(scope="module", autouse=True)
def background_full(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """Case (its words) -> (process, its folder, the file its full compositions land in), for
    the selected cases of ``test_derived_configs_equal_hydras_own``: ``BACKGROUND_PROCESSES``
    processes in one folder take the cases one at a time, longest first."""
    here = Path(__file__).resolve()
    selected = [
        item.callspec.params["argv"] for item in request.session.items
        if Path(str(item.path)).resolve() == here and getattr(item, "callspec", None) is not None
        and "argv" in item.callspec.params
    ]
    if not selected:
        yield {}
        return
    folder = tmp_path_factory.mktemp("full")  # one cwd: hydra.runtime.cwd is part of a config
    longest_first = sorted(selected, key=_size, reverse=True)
    named = [(str(folder / f"{i}.pkl"), argv) for i, argv in enumerate(longest_first)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = []
    with open(folder / "stderr.txt", "w") as err:
        for _ in range(min(BACKGROUND_PROCESSES, len(named))):
            procs.append(subprocess.Popen([sys.executable, "-c", _CHILD, json.dumps(named)], cwd=folder,
                                          env=env, stdin=subprocess.DEVNULL, stdout=err, stderr=err))
    try:
        yield {" ".join(argv): (procs, folder, Path(name)) for name, argv in named}
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()


def _full_of(argv: list[str], background_full) -> tuple[int, dict, list[tuple[str, str]]]:
    """The case's full compositions, from its background process (or made here)."""
    if " ".join(argv) not in background_full:
        return full_compositions(argv)
    procs, folder, result = background_full[" ".join(argv)]
    deadline = time.monotonic() + 600
    while not result.exists() and any(p.poll() is None for p in procs) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert result.exists(), (folder / "stderr.txt").read_text()[-3000:]
    with open(result, "rb") as f:
        return pickle.load(f)


@pytest.mark.parametrize("argv", PARAMS)
def test_derived_configs_equal_hydras_own(argv: list[str], tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch, background_full) -> None:
    """Jobs derived from a sibling's composition are exactly what Hydra composes for them."""
    here = tmp_path
    if " ".join(argv) in background_full:
        here = background_full[" ".join(argv)][1]  # where it was composed: hydra.runtime.cwd too
    monkeypatch.chdir(here)
    derived = _compose_all(argv, derive=True)
    full_derived, full, texts = _full_of(argv, background_full)
    assert derived.derived > 0 and full_derived == 0
    assert full.keys() == derived._configs.keys()
    for key, (container, struct, readonly) in full.items():
        other = derived._configs[key]
        # repr: key order and 1 vs True count too
        assert repr(OmegaConf.to_container(other)) == container, key
        assert OmegaConf.is_struct(other) == struct
        assert OmegaConf.is_readonly(other.hydra) == readonly
    assert texts
    for ours, omegaconfs in texts:
        assert ours == omegaconfs


def test_what_is_derived(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    # Each option composed once: nothing to derive from.
    one = ["workers=2", "workload=cpu_python"]
    assert _compose_all(["-m", "backend=pool,thread", *one], derive=True).derived == 0
    # Another plain value: derived from the sibling.
    assert _compose_all(["-m", "backend=pool", "workers=1,2", one[1]], derive=True).derived == 1
    # Two groups swept: the fourth job takes its backend and its workload from two others.
    two = _compose_all(["-m", "backend=pool,thread", "workload=cpu_python,io_sleep", "workers=2"], True)
    assert (len(two._configs), two.derived) == (4, 1)
    # The default sweep: 7 backends x 2 workloads, each backend and each workload composed once.
    default = _compose_all([], derive=True)
    assert len(default._configs) - default.derived == 1 + 6 + 1


def test_a_group_that_writes_outside_its_key_is_not_swapped() -> None:
    from coresweep.experiments.plan.composed import _outside

    def cfg(backend: str, extra: int) -> DictConfig:
        return OmegaConf.create({
            "backend": {"name": backend}, "workers": 2, "extra": extra,
            "hydra": {"runtime": {"choices": {"backend": backend}},
                      "overrides": {"task": [f"backend={backend}"]},
                      "job": {"override_dirname": f"backend={backend}"}},
        })

    def outside(backend: str, extra: int, keys: list[str]) -> object:
        return _outside(cfg(backend, extra), "backend", keys)

    assert outside("pool", 1, ["workers"]) == outside("thread", 1, ["workers"])
    assert outside("pool", 1, []) == outside("thread", 1, [])
    assert outside("pool", 1, ["workers"]) != outside("thread", 2, ["workers"])  # "extra" differs


def test_what_makes_siblings() -> None:
    from coresweep.experiments.plan.composed import _family

    class Loader:
        class repository:  # noqa: N801 - stands in for Hydra's config repository
            @staticmethod
            def group_exists(name: str) -> bool:
                return name in ("backend", "workload")

    parsed, values, family = _family(Loader, ["backend=pool", "workers=2", "workload.size=8"])
    assert family == (("backend=pool",), ("workers", "workload.size")) and len(values) == 2
    assert [o.input_line for o in parsed] == ["backend=pool", "workers=2", "workload.size=8"]
    odd = ("+workload.note=1", "~workers", "workers=[1,2]", "workload.args={a: 1}", "hydra.verbose=true")
    for line in odd:
        assert _family(Loader, ["backend=pool", line])[2] is None, line


class _FakeLoader:
    """Composes from a table: backend=weird also writes outside its own key."""

    class repository:  # noqa: N801 - stands in for Hydra's config repository
        @staticmethod
        def group_exists(name: str) -> bool:
            return name in ("backend", "workload")

    composed = 0

    def load_configuration(self, config_name: str, overrides: list[str], run_mode: object) -> DictConfig:
        _FakeLoader.composed += 1
        chosen = dict(o.split("=", 1) for o in overrides)
        cfg = OmegaConf.create({
            "backend": {"name": chosen["backend"]}, "workload": {"name": chosen["workload"]},
            "workers": int(chosen["workers"]),
            "hydra": {"runtime": {"choices": {"backend": chosen["backend"], "workload": chosen["workload"]}},
                      "overrides": {"task": list(overrides)},
                      "job": {"override_dirname": ",".join(sorted(overrides)),
                              "config": {"override_dirname": {"kv_sep": "=", "item_sep": ",",
                                                              "exclude_keys": []}}}},
        })
        if chosen["backend"] == "weird":
            cfg.extra = 1
        if chosen["backend"] == "global":  # a `# @package _global_` option: no backend key
            del cfg["backend"]
            cfg.global_setting = 2
        return cfg


def test_a_non_local_option_is_composed_whatever_was_derived_before() -> None:
    kept, loader = ComposedConfigs(), _FakeLoader()
    jobs = [[f"backend={b}", "workers=2", f"workload={w}"]
            for b in ("sequential", "pool", "weird", "global") for w in ("cpu_python", "io_sleep")]
    _FakeLoader.composed = 0
    for job in jobs:
        cfg = kept.compose(loader, "config", [], job)
        hydras = loader.load_configuration("config", job, None)
        assert repr(OmegaConf.to_container(cfg)) == repr(OmegaConf.to_container(hydras)), job
    # pool x io_sleep alone is derived: weird writes outside its key, global has no key of its own
    assert kept.derived == 1
