"""Every config group option and preset composes and validates without running anything."""

from __future__ import annotations

from importlib import resources

import pytest
from hydra import compose

from coresweep.experiments.backends import BACKENDS
from coresweep.experiments.plan.sweep import backend_class, check_job, make_workload
from coresweep.experiments.workloads import WORKLOADS

CONF = resources.files("coresweep.conf")


def _options(group: str) -> list[str]:
    return sorted(p.name[:-5] for p in CONF.joinpath(group).iterdir() if p.name.endswith(".yaml"))


def test_every_registered_backend_has_a_config_and_back() -> None:
    assert set(_options("backend")) == set(BACKENDS)


def test_every_registered_workload_has_a_config_and_back() -> None:
    assert set(_options("workload")) == set(WORKLOADS)


@pytest.mark.parametrize("backend", _options("backend"))
def test_backend_config_targets_its_class(hydra_ctx, backend: str) -> None:
    cfg = compose("config", overrides=[f"backend={backend}"])
    assert backend_class(cfg) is BACKENDS[backend]
    if BACKENDS[backend].available():
        check_job(cfg)


@pytest.mark.skipif(BACKENDS["interpreter_pool"].available(), reason="this Python has subinterpreters")
def test_interpreter_pool_is_refused_clearly_before_3_14(hydra_ctx) -> None:
    from coresweep.experiments.plan.sweep import ConfigError

    cfg = compose("config", overrides=["backend=interpreter_pool"])
    with pytest.raises(ConfigError, match="needs concurrent.futures.InterpreterPoolExecutor"):
        check_job(cfg)


@pytest.mark.parametrize("workload", [w for w in _options("workload") if w != "custom"])
def test_workload_config_builds_its_class(hydra_ctx, workload: str) -> None:
    cfg = compose("config", overrides=[f"workload={workload}"])
    assert type(make_workload(cfg)) is WORKLOADS[workload]
    check_job(cfg)


def test_custom_workload_with_importable_function(hydra_ctx) -> None:
    cfg = compose("config", overrides=["workload=custom", "workload.fn=tests.tasks:square"])
    check_job(cfg)
    assert make_workload(cfg).task(3) == 9


@pytest.mark.parametrize("preset", _options("experiment"))
def test_presets_compose_and_validate(hydra_ctx, preset: str) -> None:
    cfg = compose("config", overrides=[f"+experiment={preset}"], return_hydra_config=True)
    assert cfg.hydra.sweeper.params, f"{preset} defines no sweep"
    check_job(cfg)


def test_every_yaml_key_has_a_comment() -> None:
    for group in ("backend", "workload"):
        for name in _options(group):
            lines = CONF.joinpath(group, f"{name}.yaml").read_text().splitlines()
            assert lines[0].startswith("#"), f"{group}/{name}.yaml has no header comment"
            for line in lines[1:]:
                if line.strip() and not line.startswith("#"):
                    assert "#" in line, f"{group}/{name}.yaml: no comment on {line!r}"
