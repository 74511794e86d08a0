"""``Topology`` for macOS (sysctl) and Windows (GetLogicalProcessorInformationEx).

``topology.detect()`` comes here on those systems, or when a test hands it recorded output
(``sysctl_text=``, ``windows_buffer=``): the parsing lives in ``macos.py`` and ``windows.py``,
and this module turns their layout into the same ``Topology`` Linux gets from sysfs, so the
worker ladder, pinning plans, the CLI and the report treat every system alike.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Callable, Optional

from . import macos, windows
from .topology import Topology, _assemble, _loky_cpu_count, sort_caches


def from_sysctl(text: str, affinity: Optional[Iterable[int]] = None) -> Topology:
    """A Mac's topology from ``sysctl hw ...`` text (recorded, or read by ``detect_macos``)."""
    facts = macos.layout(macos.parse_sysctl(text))
    entries = facts["entries"]
    online = [e["cpu"] for e in entries]
    if affinity is None:  # no affinity on macOS: the enabled CPUs (hw.activecpu) are everyone's
        chosen = online[: facts["active_cpus"]] or online
    else:
        chosen = sorted(set(affinity).intersection(online)) or online
    virtualized = bool(facts["virtualized"])
    return _assemble(
        entries,
        chosen,
        virtualized=virtualized,
        hypervisor_source="sysctl" if virtualized else None,
        cpu_model=facts["cpu_model"],
        core_types=facts["core_types"],
        caches=sort_caches(facts["caches"]),
        loky_cpu_count=_loky_cpu_count(),
        source="sysctl",
        affinity_source=macos.AFFINITY_SOURCE,
        os_details={"system": "macos", "perf_levels": facts["perf_levels"],
                    "kern.hv_vmm_present": facts["virtualized"]},
    )


def detect_macos(run: Optional[Callable[..., Any]] = None) -> Optional[Topology]:
    """This Mac's topology, or None where sysctl gives nothing usable."""
    text = macos.read_sysctl(run) if run is not None else macos.read_sysctl()
    if text is None:
        return None
    try:
        return from_sysctl(text)
    except ValueError:
        return None


def from_buffer(buffer: bytes, affinity: Optional[Iterable[int]] = None,
                cpu_model: str = "") -> Topology:
    """A Windows machine's topology from its processor-information buffer."""
    facts = windows.layout(windows.parse_buffer(buffer))
    entries = facts["entries"]
    online = [e["cpu"] for e in entries]
    several_groups = len(facts["groups"]) > 1
    if affinity is None or several_groups:
        # psutil's affinity is the primary group's mask: with several groups it says too little.
        chosen = online
    else:
        chosen = sorted(set(affinity).intersection(online)) or online
    return _assemble(
        entries,
        chosen,
        cpu_model=cpu_model,
        core_types=facts["core_types"],
        caches=sort_caches(facts["caches"]),
        loky_cpu_count=_loky_cpu_count(),
        source="GetLogicalProcessorInformationEx",
        affinity_source=windows.AFFINITY_SOURCE_GROUPS if several_groups else windows.AFFINITY_SOURCE,
        os_details={"system": "windows", "groups": facts["groups"], "cores": facts["cores"]},
    )


def detect_windows(k32: Any = None, affinity: Optional[Iterable[int]] = None) -> Optional[Topology]:
    """This Windows machine's topology, or None where the call fails."""
    try:
        buffer = windows.read_buffer(k32)
        if affinity is None:
            affinity = _psutil_affinity()
        return from_buffer(buffer, affinity, cpu_model=windows.cpu_model())
    except (OSError, ValueError, AttributeError):
        return None


def _psutil_affinity() -> Optional[list[int]]:
    try:
        import psutil

        return sorted(psutil.Process().cpu_affinity())
    except Exception:
        return None
