"""The core layout of a Mac, read from ``sysctl`` (no root needed).

macOS has no /sys and no CPU affinity, so Linux's way of reading the layout does not apply.
What it has is ``sysctl``: ``hw.physicalcpu``, ``hw.logicalcpu`` and, since macOS 12, one set
of keys per *performance level* (``hw.nperflevels``; ``hw.perflevelN.physicalcpu``,
``.logicalcpu``, ``.name``, ``.l1dcachesize``, ``.l2cachesize``, ``.cpusperl2``, ...), where a
lower N is the faster kind of core (Apple, "Determining system capabilities"). The levels
become core kinds as Linux's hybrid cores do: level 0 ``performance``, the last
``efficiency``, any between ``mid``.

The parser takes the text ``sysctl`` prints (``name: value`` lines), so tests feed recorded
output of real Macs (``tests/platform_fixtures/macos-*.txt``). macOS numbers no CPUs for
programs (nothing can be pinned to one), so the CPU ids here are coresweep's own: the
fastest level first, SMT siblings adjacent.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Mapping
from typing import Any, Callable, Optional

#: What ``read_sysctl`` asks for: the hw tree (counts, levels, caches), the CPU's name and
#: whether this macOS runs in a virtual machine (an unknown key only costs a line on stderr).
SYSCTL_ARGS = ("hw", "machdep.cpu.brand_string", "kern.hv_vmm_present")

#: What macOS gives instead of Linux's ``Cpus_allowed``: every enabled CPU, for every process.
AFFINITY_SOURCE = ("hw.activecpu: macOS has no CPU affinity (thread affinity tags are hints "
                   "the scheduler may ignore), so every enabled CPU is this process's")

_LINE = re.compile(r"^\s*([A-Za-z0-9_.]+)\s*[:=]\s?(.*?)\s*$")
_LEVEL_KEY = re.compile(r"hw\.perflevel(\d+)\.")
_CACHE_NAMES = (("l1dcachesize", 1, "Data"), ("l1icachesize", 1, "Instruction"),
                ("l2cachesize", 2, "Unified"), ("l3cachesize", 3, "Unified"))


def read_sysctl(run: Callable[..., Any] = subprocess.run) -> Optional[str]:
    """``sysctl hw ...`` as printed, or None where sysctl is missing or prints nothing."""
    try:
        out = run(["sysctl", *SYSCTL_ARGS], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    # A key this macOS lacks makes sysctl exit 1 after printing the others: keep what it printed.
    return out.stdout if out.stdout and out.stdout.strip() else None


def parse_sysctl(text: str) -> dict[str, str]:
    """``name: value`` lines (``sysctl`` output; ``name = value`` too) into a dict."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        match = _LINE.match(line.split("#", 1)[0])
        if match:
            values[match[1]] = match[2]
    return values


def _int(values: Mapping[str, str], key: str) -> Optional[int]:
    try:
        return int(values[key].split()[0])
    except (KeyError, ValueError, IndexError):
        return None


def level_count(values: Mapping[str, str]) -> int:
    """``hw.nperflevels``, or the levels the keys name where it is missing (0: none)."""
    declared = _int(values, "hw.nperflevels")
    if declared:
        return declared
    named = {int(m[1]) for key in values if (m := _LEVEL_KEY.match(key))}
    return max(named) + 1 if named else 0


def level_kinds(levels: int) -> list[Optional[str]]:
    """Core-kind names by level (lower level = faster), as Linux names its hybrid tiers."""
    if levels < 2:
        return [None] * levels
    middle = ["mid" if levels == 3 else f"mid{i}" for i in range(1, levels - 1)]
    return ["performance", *middle, "efficiency"]


def _levels(values: Mapping[str, str]) -> list[dict[str, Any]]:
    """Per level: cores, logical CPUs, name and cache keys (one level without perflevel keys)."""
    count = level_count(values)
    if count == 0:  # an Intel Mac before macOS 12: one kind of core, the hw.* totals
        physical = _int(values, "hw.physicalcpu") or _int(values, "hw.ncpu") or 1
        logical = _int(values, "hw.logicalcpu") or _int(values, "hw.ncpu") or physical
        config = [int(v) for v in values.get("hw.cacheconfig", "").split() if v.lstrip("-").isdigit()]
        level = {"physical": physical, "logical": logical, "name": None, "prefix": "hw."}
        # hw.cacheconfig[k]: how many logical CPUs share one level-k cache
        level["sharing"] = {k: config[k] for k in (1, 2, 3) if k < len(config) and config[k] > 0}
        return [level]
    levels = []
    for n in range(count):
        prefix = f"hw.perflevel{n}."
        physical = _int(values, prefix + "physicalcpu")
        logical = _int(values, prefix + "logicalcpu")
        if physical is None and logical is None:
            raise ValueError(f"sysctl: {prefix}physicalcpu and {prefix}logicalcpu are missing "
                             f"(hw.nperflevels={count})")
        physical = physical or logical or 1
        logical = max(logical or physical, physical)
        sharing = {2: _int(values, prefix + "cpusperl2"), 3: _int(values, prefix + "cpusperl3")}
        levels.append({"physical": physical, "logical": logical, "prefix": prefix,
                       "name": values.get(prefix + "name"),
                       "sharing": {k: v for k, v in sharing.items() if v}})
    return levels


def layout(values: Mapping[str, str]) -> dict[str, Any]:
    """Per-CPU entries, core kinds and caches from parsed sysctl values.

    Returns ``entries`` (``topology._entry`` dicts), ``core_types``, ``caches``,
    ``perf_levels`` (what each level is called and holds, as sysctl says), ``cpu_model``,
    ``active_cpus`` (``hw.activecpu``) and ``virtualized`` (``kern.hv_vmm_present``, None
    where not reported).
    """
    levels = _levels(values)
    kinds = level_kinds(len(levels))
    packages = max(1, _int(values, "hw.packages") or 1)
    total_cores = sum(lv["physical"] for lv in levels)
    entries: list[dict[str, Any]] = []
    core_types: dict[str, list[int]] = {}
    caches: list[dict[str, Any]] = []
    perf_levels = []
    cpu = core = 0
    for level, kind in zip(levels, kinds):
        threads = max(1, level["logical"] // level["physical"])
        first_cpu = cpu
        for _ in range(level["physical"]):
            socket = min(packages - 1, core * packages // max(1, total_cores))
            for _ in range(threads):
                entries.append({"cpu": cpu, "core": core, "socket": socket, "numa_node": 0,
                                "core_type": kind, "online": True})
                cpu += 1
            core += 1
        level_cpus = list(range(first_cpu, cpu))
        if kind is not None:
            core_types[kind] = level_cpus
        caches += _level_caches(values, level, level_cpus, threads)
        perf_levels.append({"level": len(perf_levels), "name": level["name"], "kind": kind,
                            "physical_cores": level["physical"], "logical_cpus": len(level_cpus)})
    vmm = _int(values, "kern.hv_vmm_present")
    return {
        "entries": entries,
        "core_types": core_types,
        "caches": caches,
        "perf_levels": perf_levels,
        "cpu_model": values.get("machdep.cpu.brand_string") or "",
        "active_cpus": _int(values, "hw.activecpu") or _int(values, "hw.logicalcpu") or len(entries),
        "virtualized": None if vmm is None else vmm == 1,
    }


def _level_caches(values: Mapping[str, str], level: Mapping[str, Any], cpus: list[int],
                  threads: int) -> list[dict[str, Any]]:
    """One entry per cache instance: L1 per core, L2 (L3) per ``cpusperl2`` (``cpusperl3``) CPUs."""
    from .topology import format_cpu_list

    found = []
    for key, cache_level, kind in _CACHE_NAMES:
        size = _int(values, level["prefix"] + key)
        if not size:
            continue
        default = threads if cache_level == 1 else len(cpus)
        width = level["sharing"].get(cache_level) or default
        width = max(1, min(width, len(cpus)))
        for start in range(0, len(cpus), width):
            found.append({"level": cache_level, "type": kind, "size_bytes": size,
                          "shared_cpu_list": format_cpu_list(cpus[start:start + width])})
    return found
