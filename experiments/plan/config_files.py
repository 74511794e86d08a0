"""Config files read once per preflight, not once per composition.

Hydra gives each composition a fresh ``CachingConfigRepository``: every composition of a sweep
reads and parses the same YAML files again (the primary config, each group option, Hydra's own
``hydra/*``), about a quarter of a composition's time. Preflight composes many jobs of one
sweep against the same search path, so it keeps one repository for all of them. Each
composition still gets its own copy of what it loads, because Hydra merges loaded nodes into
the config without copying them and updates a loaded defaults list in place; the result is the
config Hydra composes alone (tests/test_composed.py compares them for every preset's jobs).

A command line that sets ``hydra.searchpath`` gets Hydra's own repository, unshared.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from hydra._internal.config_repository import CachingConfigRepository
from hydra.core.object_type import ObjectType
from hydra.core.override_parser.overrides_parser import OverridesParser


class ReadOnceRepository(CachingConfigRepository):
    """Hydra's per-composition cache kept across compositions; hands out copies (through a
    :class:`OneComposition` per composition, so each composition copies a file once)."""

    def __init__(self, first: CachingConfigRepository) -> None:
        # Not super().__init__: that copies the delegate; this takes over the first
        # composition's, whose sources already follow the primary config's search path.
        self.delegate = first.delegate
        self.cache = dict(first.cache)
        self._answers: dict[tuple[str, str, Any], Any] = {}

    def load_config(self, config_path: str) -> Any:
        key = f"config_path={config_path}"
        if key not in self.cache:
            self.cache[key] = self.delegate.load_config(config_path=config_path)
        result = self.cache[key]
        if result is None:
            return None
        return copy.deepcopy(result)

    def _ask(self, what: str, config_path: str, extra: Any = None) -> Any:
        key = (what, config_path, extra)
        if key not in self._answers:
            if what == "options":
                self._answers[key] = self.delegate.get_group_options(config_path, results_filter=extra)
            else:
                self._answers[key] = getattr(self.delegate, what)(config_path=config_path)
        answer = self._answers[key]
        return list(answer) if isinstance(answer, list) else answer

    def group_exists(self, config_path: str) -> bool:
        return bool(self._ask("group_exists", config_path))

    def config_exists(self, config_path: str) -> bool:
        return bool(self._ask("config_exists", config_path))

    def get_group_options(self, group_name: str, results_filter: Any = ObjectType.CONFIG) -> list[str]:
        return self._ask("options", group_name, results_filter)


class OneComposition(CachingConfigRepository):
    """One composition's view: Hydra's own cache, filled with copies from the shared files."""

    def __init__(self, files: ReadOnceRepository) -> None:
        self.delegate = files
        self.cache = {}


_STEP = "_parse_overrides_and_create_caching_repo"
_MISSING = object()


@contextmanager
def read_once(loader: Any, shared: dict[str, Any]) -> Iterator[None]:
    """Compositions by ``loader`` inside this block share one repository per primary config
    (kept in ``shared`` from one block to the next, for this loader only). A loader without
    Hydra 1.3's step for this (another Hydra, a stand-in) composes as it always does."""
    original = getattr(loader, _STEP, None)
    if original is None:
        yield
        return
    if shared.get("loader") is not loader:  # files read through another loader's search path
        shared.clear()
        shared["loader"] = loader

    def parse_overrides_and_share_repo(config_name: Any, overrides: list[str]) -> tuple[list[Any], Any]:
        parsed = OverridesParser.create().parse_overrides(overrides=overrides)
        if config_name is None or any(o.get_key_element() == "hydra.searchpath" for o in parsed):
            return original(config_name, overrides)
        files = shared.get(config_name)
        if files is None:
            parsed, first = original(config_name, overrides)
            files = shared[config_name] = ReadOnceRepository(first)
        return parsed, OneComposition(files)

    before = vars(loader).get(_STEP, _MISSING)  # an attribute of the instance itself, if any
    setattr(loader, _STEP, parse_overrides_and_share_repo)
    try:
        yield
    finally:
        if before is _MISSING:
            delattr(loader, _STEP)
        else:
            setattr(loader, _STEP, before)
