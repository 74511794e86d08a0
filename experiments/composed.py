"""Compose each job's config once per sweep, not twice.

Preflight composes every job to validate it before anything runs; Hydra's launcher then
composed each one again when the job started (about 46 ms a job on the 2-core VM, the largest
per-job cost outside the timed work). Preflight now composes through the same loader call the
launcher makes (same config name, same overrides: the sweep's ``hydra.*`` overrides, then the
job's), keeps each result, and while the sweep runs the loader hands a kept config to the
launcher instead of composing it again. The key is the whole call, search path included, so
anything not foreseen (``--config-dir``, a job the plan did not list) is composed as before:
the cache can only save time, never change a config.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

from omegaconf import DictConfig

Key = tuple[Any, ...]


def _key(loader: Any, config_name: str | None, overrides: Sequence[str], run_mode: Any) -> Key:
    search = tuple((p.provider, p.path) for p in loader.get_search_path().get_path())
    return (config_name, tuple(overrides), str(run_mode), search)


class ComposedConfigs:
    """Job configs composed in preflight, each handed once to Hydra's launcher."""

    def __init__(self) -> None:
        self._configs: dict[Key, DictConfig] = {}
        self.hits = 0
        self.misses = 0

    def compose(self, loader: Any, config_name: str, overrides: Sequence[str]) -> DictConfig:
        """Compose as the launcher will (``load_sweep_config``), keep it, return it."""
        from hydra.types import RunMode

        cfg = loader.load_configuration(
            config_name=config_name, overrides=list(overrides), run_mode=RunMode.RUN
        )
        self._configs[_key(loader, config_name, overrides, RunMode.RUN)] = cfg
        return cfg

    def clear(self) -> None:
        self._configs.clear()
        self.hits = self.misses = 0

    @contextlib.contextmanager
    def serving(self) -> Iterator[None]:
        """While inside, Hydra's loader returns a kept config for a call it has seen."""
        from hydra._internal.config_loader_impl import ConfigLoaderImpl

        original = ConfigLoaderImpl.load_configuration
        cache = self

        def load_configuration(
            loader: Any, config_name: str | None, overrides: list[str], run_mode: Any, *args: Any, **kw: Any
        ) -> DictConfig:
            kept = cache._configs.pop(_key(loader, config_name, overrides, run_mode), None)
            if kept is not None:
                cache.hits += 1
                return kept
            cache.misses += 1
            return original(loader, config_name, overrides, run_mode, *args, **kw)

        ConfigLoaderImpl.load_configuration = load_configuration  # type: ignore[method-assign]
        try:
            yield
        finally:
            ConfigLoaderImpl.load_configuration = original  # type: ignore[method-assign]
            self._configs.clear()  # a sweep's configs are for that sweep only


def hydra_overrides(lines: Sequence[str]) -> list[str]:
    """The ``hydra.*`` overrides of a command line, in order, as Hydra records them."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parsed = OverridesParser.create().parse_overrides(list(lines))
    return [o.input_line for o in parsed if o.is_hydra_override()]
