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
(about 10 ms instead of 80 ms a job).

A job that chooses another option of a group (``backend=pool`` where a sibling has
``backend=thread_pool``) is derived too when every option it chooses was composed before beside
the sibling's other choices, and that option is *local*: its composition differs from the
sibling's only under the group's own key (and the records of the choice). The default sweep's
7 backends x 2 workloads then take 8 compositions, not 14. Anything else (``+``/``~``
overrides, a dict or list value, a group that writes outside its own key) is composed in full;
a test compares both ways for every preset's jobs.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from contextlib import nullcontext
from typing import Any

from omegaconf import DictConfig

from .config_files import read_once

Key = tuple[tuple[str, ...], tuple[str, ...]]
_PLAIN = (str, int, float, bool, type(None))


class ComposedConfigs:
    """Job configs composed in preflight, keyed by (sweep's hydra overrides, job's overrides)."""

    def __init__(self) -> None:
        self._configs: dict[Key, DictConfig] = {}
        # (hydra lines, config name, group keys, value keys) -> {group lines: pristine composition}
        self._siblings: dict[tuple, dict[tuple[str, ...], DictConfig]] = {}
        self._local: dict[tuple, bool] = {}  # (kin, base's group lines, position, choice) -> local?
        #: False: compose every job in full (tests compare both ways).
        self.derive = True
        #: False: every composition reads its files afresh, as Hydra does (config_files.py).
        self.read_once = True
        self._repositories: dict[str, Any] = {}
        self.hits = 0
        self.misses = 0
        self.derived = 0

    def compose(
        self, loader: Any, config_name: str, hydra_lines: Sequence[str], job: Sequence[str]
    ) -> DictConfig:
        """Compose as a launcher will (``load_sweep_config``), keep it, return it."""
        from hydra.types import RunMode

        parsed, values, family = _family(loader, job)
        kin: dict[tuple[str, ...], DictConfig] = {}
        cfg = None
        if family is not None:
            groups, keys = family
            kin_key = (tuple(hydra_lines), config_name, tuple(_group_key(g) for g in groups), keys)
            kin = self._siblings.setdefault(kin_key, {})
            if self.derive:
                cfg = self._derived(kin_key, kin, groups, job, parsed, values)
        if cfg is not None:
            self.derived += 1
        else:
            with read_once(loader, self._repositories) if self.read_once else nullcontext():
                cfg = loader.load_configuration(
                    config_name=config_name, overrides=[*hydra_lines, *job], run_mode=RunMode.RUN
                )
            if family is not None:
                kin[family[0]] = copy.deepcopy(cfg)
        self._configs[(tuple(hydra_lines), tuple(job))] = cfg
        return cfg

    def _derived(
        self, kin_key: tuple, kin: dict[tuple[str, ...], DictConfig], groups: tuple[str, ...],
        job: Sequence[str], parsed: list[Any], values: list[Any],
    ) -> DictConfig | None:
        """The job's config derived from compositions of its kin, or None (compose it)."""
        same = kin.get(groups)
        if same is not None:
            return _derive(same, job, parsed, values, [])
        for base_groups, base in kin.items():
            swaps = [i for i, (a, b) in enumerate(zip(base_groups, groups)) if a != b]
            donors: list[tuple[str, DictConfig]] = []
            for i in swaps:
                donor = kin.get((*base_groups[:i], groups[i], *base_groups[i + 1:]))
                if donor is None or not self._is_local(kin_key, base_groups, base, donor, groups[i], i):
                    break
                donors.append((_group_key(groups[i]), donor))
            else:
                return _derive(base, job, parsed, values, donors)
        return None

    def _is_local(
        self, kin_key: tuple, base_groups: tuple[str, ...], base: DictConfig, donor: DictConfig,
        choice: str, i: int,
    ) -> bool:
        """Whether the donor's ``choice`` (at position ``i``) changes only its own group's key."""
        memo = (kin_key, base_groups, i, choice)
        if memo not in self._local:
            group, value_keys = _group_key(choice), kin_key[-1]
            swappable = not any(line.startswith(("+", "~")) for line in (base_groups[i], choice))
            swappable = swappable and "/" not in group
            swappable = swappable and group in base and group in donor
            # repr: key order and 1 vs True count, as they do in the composed config
            self._local[memo] = swappable and repr(_outside(base, group, value_keys)) == repr(
                _outside(donor, group, value_keys)
            )
        return self._local[memo]

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
        self._local.clear()
        self._repositories.clear()
        self.hits = self.misses = self.derived = 0


def _group_key(line: str) -> str:
    return line.partition("=")[0]


def _outside(cfg: DictConfig, group: str, value_keys: Sequence[str]) -> Any:
    """The composition without the group's key, the records of the choice and the job's values:
    what must be the same for two choices of ``group`` to be swappable."""
    from omegaconf import OmegaConf

    if group not in cfg:
        return None
    data: Any = OmegaConf.to_container(cfg, resolve=False)
    del data[group]
    hydra = data["hydra"]
    hydra["runtime"]["choices"].pop(group, None)
    hydra["overrides"]["task"] = None
    hydra["job"]["override_dirname"] = None
    for key in value_keys:
        *path, last = key.split(".")
        node = data
        for part in path:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(last, None)
    return data


def _family(loader: Any, job: Sequence[str]) -> tuple[list[Any], list[Any], tuple | None]:
    """(the job's parsed overrides, its plain value overrides, what its siblings share), the
    last None when the job is composed in full.

    Siblings choose the same groups (the same group overrides, line for line) and set the same
    keys, each to a plain value; only those values may differ.
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.core.override_parser.types import OverrideType, ValueType

    try:
        parsed = OverridesParser.create().parse_overrides(list(job))
    except Exception:
        return [], [], None  # Hydra's own composition reports it
    groups, values = [], []
    for o in parsed:
        if o.is_hydra_override() or o.package is not None:
            return parsed, [], None
        if loader.repository.group_exists(o.key_or_group):
            groups.append(o.input_line)
            continue
        if o.type != OverrideType.CHANGE or o.value_type != ValueType.ELEMENT:
            return parsed, [], None
        if not isinstance(o.value(), _PLAIN):
            return parsed, [], None
        values.append(o)
    return parsed, values, (tuple(groups), tuple(o.key_or_group for o in values))


def _derive(
    sibling: DictConfig, job: Sequence[str], parsed: list[Any], values: list[Any],
    swaps: Sequence[tuple[str, DictConfig]],
) -> DictConfig:
    """What Hydra composes for ``job``, from a sibling's composition and, for each group it
    chooses otherwise, that group's key from a donor (see the module's text)."""
    from hydra._internal.config_loader_impl import ConfigLoaderImpl, get_overrides_dirname
    from omegaconf import open_dict, read_write

    cfg = copy.deepcopy(sibling)
    for group, donor in swaps:
        with read_write(cfg), open_dict(cfg):
            cfg[group] = donor[group]  # OmegaConf copies an assigned node
        with read_write(cfg.hydra), open_dict(cfg.hydra):
            cfg.hydra.runtime.choices[group] = donor.hydra.runtime.choices[group]
    ConfigLoaderImpl._apply_overrides_to_config(values, cfg)
    with read_write(cfg.hydra), open_dict(cfg.hydra):
        cfg.hydra.overrides.task = list(job)
        conf = cfg.hydra.job.config.override_dirname
        cfg.hydra.job.override_dirname = get_overrides_dirname(
            overrides=parsed,
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
