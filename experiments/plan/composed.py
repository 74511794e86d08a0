"""Each job's config, composed once per sweep (in preflight) and handed to the launcher.

Preflight composes every job to validate it before anything runs; composing it again when the
job starts cost about 46 ms a job on the 2-core VM, and with rounds a job starts ``rounds``
times. Preflight composes through the same loader call Hydra's launchers make
(``load_sweep_config``: the sweep's ``hydra.*`` overrides, then the job's) and keeps the result
under those overrides; coresweep's launcher takes it from here and composes only what was not
foreseen (``--config-dir``, a job the plan did not list), so this can only save time, never
change a config.

Jobs of a sweep that choose the same config groups and set the same keys, only to other plain
values (``workers=1`` then ``workers=2``), differ after composition in those values and in the
override records alone. Such a job is derived from its sibling's composition: a copy, Hydra's
own override step for its values, and its ``hydra.overrides.task`` and ``override_dirname``
(about 10 ms instead of 80 ms a job). Anything else (``+``/``~`` overrides, a dict or list value,
another group choice) is composed in full; a test compares both ways for every preset's jobs.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from omegaconf import DictConfig

Key = tuple[tuple[str, ...], tuple[str, ...]]
_PLAIN = (str, int, float, bool, type(None))


class ComposedConfigs:
    """Job configs composed in preflight, keyed by (sweep's hydra overrides, job's overrides)."""

    def __init__(self) -> None:
        self._configs: dict[Key, DictConfig] = {}
        # (hydra lines, config name, group choices, value keys) -> a pristine composition
        self._siblings: dict[tuple, DictConfig] = {}
        self.hits = 0
        self.misses = 0
        self.derived = 0

    def compose(
        self, loader: Any, config_name: str, hydra_lines: Sequence[str], job: Sequence[str]
    ) -> DictConfig:
        """Compose as a launcher will (``load_sweep_config``), keep it, return it."""
        from hydra.types import RunMode

        values, family = _family(loader, job)
        sibling = self._siblings.get((tuple(hydra_lines), config_name, family)) if family else None
        if sibling is not None:
            cfg = _derive(sibling, job, values)
            self.derived += 1
        else:
            cfg = loader.load_configuration(
                config_name=config_name, overrides=[*hydra_lines, *job], run_mode=RunMode.RUN
            )
            if family:
                self._siblings[(tuple(hydra_lines), config_name, family)] = copy.deepcopy(cfg)
        self._configs[(tuple(hydra_lines), tuple(job))] = cfg
        return cfg

    def get(self, hydra_lines: Sequence[str], job: Sequence[str]) -> DictConfig | None:
        """The kept config of that job (the same object each round), or None."""
        cfg = self._configs.get((tuple(hydra_lines), tuple(job)))
        if cfg is None:
            self.misses += 1
        else:
            self.hits += 1
        return cfg

    def clear(self) -> None:
        self._configs.clear()
        self._siblings.clear()
        self.hits = self.misses = self.derived = 0


def _family(loader: Any, job: Sequence[str]) -> tuple[list[Any], tuple | None]:
    """(the job's plain value overrides, what its siblings share) or (.., None): compose in full.

    Siblings choose the same groups (the same group overrides, line for line) and set the same
    keys, each to a plain value; only those values may differ.
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.core.override_parser.types import OverrideType, ValueType

    try:
        parsed = OverridesParser.create().parse_overrides(list(job))
    except Exception:
        return [], None  # Hydra's own composition reports it
    groups, values = [], []
    for o in parsed:
        if o.is_hydra_override() or o.package is not None:
            return [], None
        if loader.repository.group_exists(o.key_or_group):
            groups.append(o.input_line)
            continue
        if o.type != OverrideType.CHANGE or o.value_type != ValueType.ELEMENT:
            return [], None
        if not isinstance(o.value(), _PLAIN):
            return [], None
        values.append(o)
    return values, (tuple(groups), tuple(o.key_or_group for o in values))


def _derive(sibling: DictConfig, job: Sequence[str], values: list[Any]) -> DictConfig:
    """What Hydra composes for ``job``, from a sibling's composition (see the module's text)."""
    from hydra._internal.config_loader_impl import ConfigLoaderImpl, get_overrides_dirname
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from omegaconf import open_dict, read_write

    cfg = copy.deepcopy(sibling)
    ConfigLoaderImpl._apply_overrides_to_config(values, cfg)
    with read_write(cfg.hydra), open_dict(cfg.hydra):
        cfg.hydra.overrides.task = list(job)
        conf = cfg.hydra.job.config.override_dirname
        cfg.hydra.job.override_dirname = get_overrides_dirname(
            overrides=OverridesParser.create().parse_overrides(list(job)),
            kv_sep=conf.kv_sep,
            item_sep=conf.item_sep,
            exclude_keys=conf.exclude_keys,
        )
    return cfg


def hydra_overrides(lines: Sequence[str]) -> list[str]:
    """The ``hydra.*`` overrides of a command line, in order, as Hydra records them."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parsed = OverridesParser.create().parse_overrides(list(lines))
    return [o.input_line for o in parsed if o.is_hydra_override()]
