"""Workloads by name: the registry that configs, validation and tests share."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import ConfigError
from .base import Workload, WorkloadError
from .cpu_python import CpuPython
from .custom import Custom
from .gil_release import GilRelease
from .init_heavy import InitHeavy
from .io_file import IoFile
from .io_sleep import IoSleep
from .memory import Memory
from .shared_input import SharedInput
from .stateful import Stateful

WORKLOADS: dict[str, type[Workload]] = {
    cls.name: cls
    for cls in (CpuPython, GilRelease, IoSleep, IoFile, Memory, Custom, SharedInput, InitHeavy, Stateful)
}



def make_workload(target: str, name: str, options: Mapping[str, Any], dimensions: Mapping[str, Any]) -> Any:
    """Build the workload ``target`` names from its options (its config's keys besides
    ``_target_`` and ``name``) and the pattern dimensions it uses (of ``dimensions``)."""
    from hydra.utils import get_class

    cls = get_class(target)
    node = dict(options)
    node.update({k: v for k, v in dimensions.items() if k in getattr(cls, "dimensions", ())})
    for key in ("size", "grain"):
        if key in node and not isinstance(node[key], int) or isinstance(node.get(key), bool):
            raise ConfigError(f"workload.{key}={node[key]!r}: must be an integer >= 1")
    try:
        return cls(**node)
    except TypeError as exc:
        raise ConfigError(f"workload={name}: {exc}") from None


__all__ = ["WORKLOADS", "Workload", "WorkloadError", "make_workload"]
