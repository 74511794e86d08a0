"""Workloads by name: the registry that configs, validation and tests share."""

from __future__ import annotations

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

__all__ = ["WORKLOADS", "Workload", "WorkloadError"]
