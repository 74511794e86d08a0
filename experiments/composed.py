"""Each job's config, composed once per sweep (in preflight) and handed to the launcher.

Preflight composes every job to validate it before anything runs; composing it again when the
job starts cost about 46 ms a job on the 2-core VM, and with rounds a job starts ``rounds``
times. Preflight composes through the same loader call Hydra's launchers make
(``load_sweep_config``: the sweep's ``hydra.*`` overrides, then the job's) and keeps the result
under those overrides; coresweep's launcher takes it from here and composes only what was not
foreseen (``--config-dir``, a job the plan did not list), so this can only save time, never
change a config.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from omegaconf import DictConfig

Key = tuple[tuple[str, ...], tuple[str, ...]]


class ComposedConfigs:
    """Job configs composed in preflight, keyed by (sweep's hydra overrides, job's overrides)."""

    def __init__(self) -> None:
        self._configs: dict[Key, DictConfig] = {}
        self.hits = 0
        self.misses = 0

    def compose(
        self, loader: Any, config_name: str, hydra_lines: Sequence[str], job: Sequence[str]
    ) -> DictConfig:
        """Compose as a launcher will (``load_sweep_config``), keep it, return it."""
        from hydra.types import RunMode

        cfg = loader.load_configuration(
            config_name=config_name, overrides=[*hydra_lines, *job], run_mode=RunMode.RUN
        )
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
        self.hits = self.misses = 0


def hydra_overrides(lines: Sequence[str]) -> list[str]:
    """The ``hydra.*`` overrides of a command line, in order, as Hydra records them."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parsed = OverridesParser.create().parse_overrides(list(lines))
    return [o.input_line for o in parsed if o.is_hydra_override()]
