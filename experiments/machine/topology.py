"""The machine's core layout, as the runner and the report need it.

A speedup curve means little without knowing where the physical cores end and SMT siblings
begin, how many CPUs this process may actually use (affinity, cgroup quota) and whether the
machine is a VM or a container. ``detect()`` reads all of that from Linux sysfs/procfs and
degrades to psutil elsewhere; it never raises for a missing or unreadable file, it fills what
it can and says where the numbers came from (``Topology.source``).

Everything is read from roots passed as arguments, so tests describe fake machines as small
directory trees instead of patching ``open``.
"""

from __future__ import annotations

import dataclasses
import math
import os
import platform
import re
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

from . import platforms
from .hypervisor import (  # noqa: F401 - read_cpuid and systemd_detect_virt: detect()'s defaults
    CpuidFn,
    hypervisor_from_cpuid,
    read_cpuid,
    systemd_detect_virt,
    virtualization,
)

#: Bump when a field of ``Topology.to_dict()`` changes meaning (readers ignore unknown keys).
SCHEMA = 1

PINNING_MODES: tuple[str, ...] = ("none", "compact", "scatter", "physical")

Number = Union[int, float]

# "0-1023:2/256" is valid kernel bitmap-list syntax (used CPUs per group); accepted on input.
_MAX_CPU_ID = 1 << 16  # Linux NR_CPUS is at most 8192 today
_RANGE = re.compile(r"([0-9]+)(?:-([0-9]+)(?::([0-9]+)/([0-9]+))?)?")
_CPU_DIR = re.compile(r"cpu(\d+)")
_NODE_DIR = re.compile(r"node(\d+)")
_SIZE = re.compile(r"(\d+)\s*([KMGT]?)i?B?", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
_CACHE_TYPE_ORDER = {"Data": 0, "Instruction": 1, "Unified": 2}

_CONTAINER_CGROUP_HINTS = ("docker", "kubepods", "containerd", "libpod", "podman", "lxc")


@dataclass(frozen=True)
class Topology:
    """What one process sees of the machine's CPUs (immutable; lists must not be mutated).

    Counts describe the machine (online CPUs); ``affinity_cpus`` and ``usable_cpus`` describe
    what this process may use, which in containers and batch jobs is often much less.
    """

    logical_cores: int
    physical_cores: int
    threads_per_core: int
    sockets: int
    numa_nodes: int
    affinity_cpus: list[int]
    usable_cpus: Number
    cpu_quota: Optional[float] = None
    cpu_quota_source: Optional[str] = None
    in_container: bool = False
    virtualized: bool = False
    hypervisor: Optional[str] = None
    #: where ``hypervisor`` came from: "dmi", "cpuid", "sysfs" (/sys/hypervisor/type) or
    #: "systemd-detect-virt"; None when not virtualized or not identified.
    hypervisor_source: Optional[str] = None
    #: CPUID leaf 0x40000000's vendor id as read (e.g. "KVMKVMKVM"), None where not read.
    hypervisor_cpuid: Optional[str] = None
    cpu_model: str = ""
    core_types: dict[str, list[int]] = field(default_factory=dict)
    caches: list[dict[str, Any]] = field(default_factory=list)
    cpus: list[dict[str, Any]] = field(default_factory=list)
    offline_cpus: list[int] = field(default_factory=list)
    loky_cpu_count: Optional[int] = None
    source: str = "sysfs"
    #: Where ``affinity_cpus`` came from where it is not Linux's sched_getaffinity (None):
    #: macOS has no affinity (every enabled CPU), Windows asks GetProcessAffinityMask.
    affinity_source: Optional[str] = None
    #: What the OS says beyond the common fields: macOS's performance levels (sysctl names),
    #: Windows's processor groups and per-core EfficiencyClass/SMT flags. {} on Linux.
    os_details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The ``coresweep-topology --json`` contract (also stored in environment.json)."""
        data = dataclasses.asdict(self)
        data["schema"] = SCHEMA
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Topology:
        """Rebuild from ``to_dict()`` output (unknown keys, e.g. from newer versions, ignored)."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    def counts(self) -> dict[str, Number]:
        """The few numbers recorded in every result row (DESIGN.md, "Records")."""
        return {
            "logical_cores": self.logical_cores,
            "physical_cores": self.physical_cores,
            "sockets": self.sockets,
            "numa_nodes": self.numa_nodes,
            "affinity_cpus": len(self.affinity_cpus),
            "usable_cpus": self.usable_cpus,
        }

    @classmethod
    def synthetic(
        cls,
        physical_cores: int = 4,
        threads_per_core: int = 2,
        sockets: int = 1,
        numa_nodes: int = 1,
        cpu_quota: Optional[float] = None,
    ) -> Topology:
        """A made-up regular machine (Linux numbering), for tests that need any topology."""
        if physical_cores % sockets or numa_nodes % sockets:
            raise ValueError("physical_cores and numa_nodes must be multiples of sockets")
        per_socket = physical_cores // sockets
        nodes_per_socket = numa_nodes // sockets
        cores_per_node = max(1, per_socket // nodes_per_socket)
        entries = []
        for thread in range(threads_per_core):
            for core in range(physical_cores):
                socket = core // per_socket
                node = socket * nodes_per_socket + min(
                    (core % per_socket) // cores_per_node, nodes_per_socket - 1
                )
                entries.append(_entry(thread * physical_cores + core, core, socket, node))
        entries.sort(key=lambda e: e["cpu"])
        return _assemble(entries, [e["cpu"] for e in entries], cpu_quota=cpu_quota,
                         cpu_model="synthetic", source="synthetic")


# --------------------------------------------------------------------------- cpu lists


def parse_cpu_list(text: str) -> list[int]:
    """Parse the kernel's CPU list format ("0-3,8,10-11") into sorted unique CPU ids."""
    cpus: set[int] = set()
    for raw in str(text).replace("\n", ",").split(","):
        part = raw.strip()
        if not part:
            continue
        match = _RANGE.fullmatch(part)
        if not match:
            raise ValueError(f"not a CPU list: {text!r} (expected e.g. '0-3,8,10-11')")
        first = int(match[1])
        last = int(match[2]) if match[2] is not None else first
        used, group = (int(match[3]), int(match[4])) if match[3] is not None else (1, 1)
        if last < first or not 0 < used <= group:
            raise ValueError(f"not a CPU list: {text!r} (bad range {part!r})")
        if last > _MAX_CPU_ID:  # a typo like 0-99999999 must not build a huge set
            raise ValueError(f"not a CPU list: {text!r} (CPU ids stop at {_MAX_CPU_ID})")
        cpus.update(c for c in range(first, last + 1) if (c - first) % group < used)
    return sorted(cpus)


def format_cpu_list(cpus: Iterable[int]) -> str:
    """Format CPU ids the way the kernel does ("0-3,8,10-11"); the inverse of parse_cpu_list."""
    ordered = sorted(set(cpus))
    parts: list[str] = []
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        parts.append(str(ordered[i]) if i == j else f"{ordered[i]}-{ordered[j]}")
        i = j + 1
    return ",".join(parts)


def parse_cpus_option(value: Any, topo: Topology, option: str = "cpus") -> list[int]:
    """Turn the user's ``cpus=`` option into CPU ids this process may use.

    Numbers and lists name CPU ids (``cpus=0`` is CPU 0, ``cpus=0-3,8`` or ``[0,1]``);
    ``cpus=count:4`` asks for the first 4 CPUs of the affinity, in order. ``None``/"all" means
    the whole affinity. Errors are one line naming the option and the CPUs that are allowed.
    """
    allowed = list(topo.affinity_cpus)
    allowed_text = f"allowed CPUs: {format_cpu_list(allowed) or 'none'} ({len(allowed)} CPUs)"
    if value is None or (isinstance(value, str) and value.strip().lower() == "all"):
        return allowed
    if isinstance(value, bool):
        raise ValueError(f"{option}={value}: expected a CPU count or list; {allowed_text}")
    if isinstance(value, str) and value.strip().lower().startswith("count:"):
        text = value.strip()[6:]
        count = int(text) if text.strip().isdigit() else 0
        if not 1 <= count <= len(allowed):
            raise ValueError(
                f"{option}={value}: a CPU count must be between 1 and {len(allowed)}; {allowed_text}"
            )
        return allowed[:count]
    if isinstance(value, int):
        value = str(value)
    if isinstance(value, str):
        try:
            cpus = parse_cpu_list(value)
        except ValueError:
            raise ValueError(
                f"{option}={value!r}: not a CPU list or count (e.g. 0-3,8 or count:4); {allowed_text}"
            ) from None
        shown = value
    elif isinstance(value, Iterable):
        try:
            cpus = sorted({int(v) for v in value})
        except (TypeError, ValueError):
            raise ValueError(
                f"{option}={value!r}: CPU ids must be integers; {allowed_text}"
            ) from None
        shown = format_cpu_list(cpus) if cpus and min(cpus) >= 0 else str(list(value))
    else:
        raise ValueError(f"{option}={value!r}: expected a CPU count or list; {allowed_text}")
    if not cpus:
        raise ValueError(f"{option}={shown!r}: the CPU list is empty; {allowed_text}")
    _check_allowed(cpus, topo, f"{option}={shown}")
    return cpus


def _check_allowed(cpus: Sequence[int], topo: Topology, what: str) -> None:
    """Raise a one-line ValueError when ``cpus`` are not on the machine or not in affinity."""
    allowed = set(topo.affinity_cpus)
    online = {e["cpu"] for e in topo.cpus if e.get("online", True)} or allowed
    absent = [c for c in cpus if c not in online]
    if absent:
        raise ValueError(
            f"{what}: CPU {format_cpu_list(absent)} not online on this machine "
            f"(online: {format_cpu_list(online)}); "
            f"allowed CPUs: {format_cpu_list(allowed)} ({len(allowed)} CPUs)"
        )
    outside = [c for c in cpus if c not in allowed]
    if outside:
        raise ValueError(
            f"{what}: CPU {format_cpu_list(outside)} outside this process's affinity; "
            f"allowed CPUs: {format_cpu_list(allowed)} ({len(allowed)} CPUs)"
        )


# --------------------------------------------------------------------------- derived plans


def _usable_entries(topo: Topology) -> list[dict[str, Any]]:
    allowed = set(topo.affinity_cpus)
    entries = [e for e in topo.cpus if e.get("online", True) and e["cpu"] in allowed]
    if entries:
        return entries
    # No per-CPU facts (e.g. a Topology built by hand): one core per affinity CPU.
    return [_entry(c, c, 0, 0) for c in topo.affinity_cpus]


def worker_ladder(topo: Topology) -> list[int]:
    """Worker counts for ``workers=auto``: powers of two, the physical and logical counts of
    the usable CPUs, and one oversubscribed point (2 x logical) to show what too many costs.

    On hybrid machines (performance and efficiency cores: Intel, Apple, ARM) the number of
    usable performance cores is a rung too: one worker per fast core, before slower cores
    join in, is where such machines most often stop scaling.
    """
    entries = _usable_entries(topo)
    logical = max(1, min(len(entries), math.ceil(topo.usable_cpus or len(entries))))
    physical = max(1, min(len({e["core"] for e in entries}), logical))
    ladder = {physical, logical, 2 * logical}
    fast = len({e["core"] for e in entries if e.get("core_type") == "performance"})
    if 0 < fast < physical:
        ladder.add(fast)
    power = 1
    while power <= logical:
        ladder.add(power)
        power *= 2
    return sorted(ladder)


def _ranks(values: Iterable[Any]) -> dict[Any, int]:
    return {v: i for i, v in enumerate(sorted(set(values), key=_none_first))}


def _none_first(value: Any) -> tuple[bool, Any]:
    return (value is not None, value if value is not None else 0)


def _placement_orders(topo: Topology) -> tuple[list[int], list[int], list[int]]:
    """CPU orders for compact, scatter and physical pinning over the usable CPUs."""
    entries = _usable_entries(topo)
    socket_rank = _ranks(e["socket"] for e in entries)
    nodes_of: dict[Any, set[Any]] = {}
    cores_of: dict[tuple[Any, Any], set[Any]] = {}
    cpus_of: dict[Any, list[int]] = {}
    for e in entries:  # group once: machines with thousands of CPUs exist
        nodes_of.setdefault(e["socket"], set()).add(e["numa_node"])
        cores_of.setdefault((e["socket"], e["numa_node"]), set()).add(e["core"])
        cpus_of.setdefault(e["core"], []).append(e["cpu"])
    node_rank = {(sock, node): r for sock, nodes in nodes_of.items()
                 for node, r in _ranks(nodes).items()}
    core_rank = {core: r for cores in cores_of.values() for core, r in _ranks(cores).items()}
    thread_rank = {cpu: r for cpus in cpus_of.values() for r, cpu in enumerate(sorted(cpus))}

    def domain(e: dict[str, Any]) -> tuple[int, int]:
        return socket_rank[e["socket"]], node_rank[(e["socket"], e["numa_node"])]

    compact = sorted(entries, key=lambda e: (*domain(e), core_rank[e["core"]], e["cpu"]))
    # Scatter: consecutive workers cycle over sockets first, then NUMA nodes, then cores, and
    # only take a second SMT thread once every core has one worker.
    scatter = sorted(
        entries,
        key=lambda e: (thread_rank[e["cpu"]], core_rank[e["core"]], domain(e)[1], domain(e)[0]),
    )
    physical = [e for e in compact if thread_rank[e["cpu"]] == 0]
    return [e["cpu"] for e in compact], [e["cpu"] for e in scatter], [e["cpu"] for e in physical]


def pinning_plan(topo: Topology, mode: str, workers: int) -> list[list[int]]:
    """The CPU set for each worker under a pinning mode.

    none: every worker may run on all usable CPUs (the OS decides). compact: fill a core's SMT
    siblings, then the next core of the same NUMA node/socket (shares caches). scatter: spread
    over sockets, NUMA nodes, then cores, SMT siblings last (most cache and memory bandwidth).
    physical: one logical CPU per physical core, never two workers on SMT siblings.
    Workers beyond the CPUs wrap around (oversubscription), except for physical.
    """
    if mode not in PINNING_MODES:
        raise ValueError(f"pinning={mode!r} is not one of: {', '.join(PINNING_MODES)}")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers={workers!r}: pinning needs a positive worker count")
    if mode == "none":
        cpus = sorted(e["cpu"] for e in _usable_entries(topo))
        return [list(cpus) for _ in range(workers)]
    compact, scatter, physical = _placement_orders(topo)
    if mode == "physical":
        if workers > len(physical):
            raise ValueError(
                f"pinning=physical needs one physical core per worker: {workers} workers but "
                f"only {len(physical)} physical cores in CPUs {format_cpu_list(compact)}"
            )
        return [[cpu] for cpu in physical[:workers]]
    order = compact if mode == "compact" else scatter
    return [[order[i % len(order)]] for i in range(workers)]


def restrict(topo: Topology, cpus: Iterable[int]) -> Topology:
    """The topology as seen by a run restricted to ``cpus`` (counts recomputed over them)."""
    wanted = sorted(set(cpus))
    if not wanted:
        raise ValueError("restrict: the CPU list is empty; allowed CPUs: "
                         f"{format_cpu_list(topo.affinity_cpus)}")
    _check_allowed(wanted, topo, f"cpus={format_cpu_list(wanted)}")
    keep = set(wanted)
    entries = [e for e in topo.cpus if e["cpu"] in keep]
    if not entries:
        entries = [_entry(c, c, 0, 0) for c in wanted]
    summary = _summarise(entries)
    core_types = {k: [c for c in v if c in keep] for k, v in topo.core_types.items()}
    caches = [c for c in topo.caches
              if keep.intersection(parse_cpu_list(c.get("shared_cpu_list") or ""))]
    return dataclasses.replace(
        topo,
        **summary,
        affinity_cpus=wanted,
        usable_cpus=_usable(len(wanted), topo.cpu_quota),
        core_types={k: v for k, v in core_types.items() if v},
        caches=caches,
        cpus=[dict(e) for e in entries],
    )


# --------------------------------------------------------------------------- detection


def detect(
    sysfs_root: Union[str, os.PathLike] = "/sys",
    proc_root: Union[str, os.PathLike] = "/proc",
    cgroup_root: Union[str, os.PathLike] = "/sys/fs/cgroup",
    affinity: Optional[Iterable[int]] = None,
    *,
    root: Union[str, os.PathLike] = "/",
    cpuid: Optional[CpuidFn] = None,
    detect_virt: Optional[Callable[[], Optional[str]]] = None,
    sysctl_text: Optional[str] = None,
    windows_buffer: Optional[bytes] = None,
) -> Topology:
    """Detect the topology; ``affinity`` overrides os.sched_getaffinity(0) (for tests).

    ``root`` is where container markers (/.dockerenv, /run/.containerenv) are looked for.
    ``cpuid`` and ``detect_virt`` name the hypervisor where DMI does not (CPUID leaf
    0x40000000, ``systemd-detect-virt --vm``); they ask the machine this runs on, so by
    default they are used only when ``sysfs_root`` is the real /sys (tests pass fakes).

    On macOS the layout comes from sysctl, on Windows from GetLogicalProcessorInformationEx
    (``platform_topology``); ``sysctl_text`` or ``windows_buffer`` (recorded output of those)
    describes such a machine on any system. Where they give nothing, psutil's counts remain.
    """
    if sysctl_text is not None or windows_buffer is not None:
        from . import platform_topology

        if sysctl_text is not None:
            return platform_topology.from_sysctl(sysctl_text, affinity)
        return platform_topology.from_buffer(windows_buffer or b"", affinity)
    if str(sysfs_root) == "/sys" and platforms.system() in ("macos", "windows"):
        from . import platform_topology

        found = (platform_topology.detect_macos() if platforms.system() == "macos"
                 else platform_topology.detect_windows(affinity=affinity))
        if found is not None:
            return found
    sysfs, proc = Path(sysfs_root), Path(proc_root)
    cpu_dir = sysfs / "devices" / "system" / "cpu"
    online = _online_cpus(cpu_dir)
    cpuinfo = _read(proc / "cpuinfo") or ""
    if online:
        source = "sysfs"
        entries = _sysfs_entries(sysfs, cpu_dir, online)
        offline = _offline_cpus(cpu_dir, online)
        entries += [_entry(c, None, None, None, online=False) for c in offline]
        entries.sort(key=lambda e: e["cpu"])
        core_types = _core_types(sysfs, cpu_dir, online)
        for e in entries:
            e["core_type"] = next((k for k, v in core_types.items() if e["cpu"] in v), None)
        caches = _caches(cpu_dir, online)
    else:
        source = "psutil"
        entries = _psutil_entries()
        online = [e["cpu"] for e in entries]
        core_types, caches = {}, []

    if affinity is None:
        affinity = _process_affinity(online)
    chosen = sorted(set(affinity).intersection(online))
    if not chosen:  # an affinity from another view of the machine: use what sysfs says
        chosen = list(online)

    quota, quota_source = _cpu_quota(Path(cgroup_root), proc)
    if _is_real_sysfs(sysfs):
        cpuid = cpuid or read_cpuid
        detect_virt = detect_virt or systemd_detect_virt
    virt = virtualization(sysfs, _cpuinfo_value(cpuinfo, "flags"), cpuid, detect_virt)
    return _assemble(
        entries,
        chosen,
        cpu_quota=quota,
        cpu_quota_source=quota_source,
        in_container=_in_container(Path(root), proc),
        **virt,
        cpu_model=_cpu_model(cpuinfo),
        core_types=core_types,
        caches=caches,
        loky_cpu_count=_loky_cpu_count(),
        source=source,
    )


def _entry(cpu: int, core: Any, socket: Any, node: Any, online: bool = True) -> dict[str, Any]:
    return {"cpu": cpu, "core": core, "socket": socket, "numa_node": node,
            "core_type": None, "online": online}


def _summarise(entries: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """Counts over online per-CPU entries."""
    live = [e for e in entries if e.get("online", True)]
    per_core: dict[Any, int] = {}
    for e in live:
        per_core[e["core"]] = per_core.get(e["core"], 0) + 1
    nodes = {e["numa_node"] for e in live if e["numa_node"] is not None}
    return {
        "logical_cores": len(live),
        "physical_cores": max(1, len(per_core)) if live else 0,
        "threads_per_core": max(per_core.values(), default=1),
        "sockets": max(1, len({e["socket"] for e in live})) if live else 0,
        "numa_nodes": max(1, len(nodes)) if live else 0,
    }


def _usable(n_affinity: int, quota: Optional[float]) -> Number:
    if quota is None or quota >= n_affinity:
        return n_affinity
    return int(quota) if float(quota).is_integer() else round(quota, 3)


def _assemble(entries: list[dict[str, Any]], affinity: list[int], *,
              cpu_quota: Optional[float] = None, **rest: Any) -> Topology:
    online = [e for e in entries if e["online"]]
    return Topology(
        **_summarise(online),
        affinity_cpus=list(affinity),
        usable_cpus=_usable(len(affinity), cpu_quota),
        cpu_quota=cpu_quota,
        offline_cpus=[e["cpu"] for e in entries if not e["online"]],
        cpus=entries,
        **rest,
    )


def _read(path: Path) -> Optional[str]:
    """File contents stripped, or None when missing/unreadable (sysfs files come and go)."""
    try:
        return path.read_text(errors="replace").strip()
    except (OSError, ValueError):
        return None


def _read_int(path: Path) -> Optional[int]:
    text = _read(path)
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def _read_cpu_list(path: Path) -> Optional[list[int]]:
    text = _read(path)
    if text is None:
        return None
    try:
        return parse_cpu_list(text)
    except ValueError:
        return None


def _numbered(directory: Path, pattern: re.Pattern[str]) -> list[tuple[int, Path]]:
    try:
        children = list(directory.iterdir())
    except OSError:
        return []
    found = [(int(m[1]), p) for p in children if (m := pattern.fullmatch(p.name))]
    return sorted(found)


def _online_cpus(cpu_dir: Path) -> list[int]:
    listed = _read_cpu_list(cpu_dir / "online")
    if listed:
        return listed
    # No "online" file: every cpuN directory counts unless it says it is offline.
    return [n for n, path in _numbered(cpu_dir, _CPU_DIR) if _read(path / "online") != "0"]


def _offline_cpus(cpu_dir: Path, online: list[int]) -> list[int]:
    # "present" rather than "offline": the latter also lists possible-but-absent CPUs
    # (hot-plug slots), which on VMs can be hundreds.
    present = set(_read_cpu_list(cpu_dir / "present") or [])
    present.update(n for n, _ in _numbered(cpu_dir, _CPU_DIR))
    return sorted(present - set(online))


def _sysfs_entries(sysfs: Path, cpu_dir: Path, online: list[int]) -> list[dict[str, Any]]:
    """Per online CPU: core, socket, NUMA node, numbered like lscpu's logical ids."""
    online_set = set(online)
    node_of: dict[int, int] = {}
    for node, path in _numbered(sysfs / "devices" / "system" / "node", _NODE_DIR):
        for cpu in _read_cpu_list(path / "cpulist") or []:
            node_of.setdefault(cpu, node)
    core_index: dict[Any, int] = {}
    socket_index: dict[int, int] = {}
    entries = []
    for cpu in online:
        topo = cpu_dir / f"cpu{cpu}" / "topology"
        package = _read_int(topo / "physical_package_id")
        package = package if package is not None and package >= 0 else 0
        siblings = _read_cpu_list(topo / "core_cpus_list")
        if siblings is None:
            siblings = _read_cpu_list(topo / "thread_siblings_list")
        core_id = _read_int(topo / "core_id")
        # The sibling set identifies a core uniquely; core_id repeats across packages/dies.
        if siblings and cpu in siblings:
            key: tuple[Any, ...] = ("siblings", tuple(c for c in siblings if c in online_set))
        elif core_id is not None and core_id >= 0:
            key = ("id", package, _read_int(topo / "die_id"), core_id)
        else:
            key = ("cpu", cpu)
        core = core_index.setdefault(key, len(core_index))
        socket = socket_index.setdefault(package, len(socket_index))
        entries.append(_entry(cpu, core, socket, node_of.get(cpu)))
    return entries


def _core_types(sysfs: Path, cpu_dir: Path, online: list[int]) -> dict[str, list[int]]:
    """Performance/efficiency CPUs on hybrid parts, {} when all cores are alike."""
    online_set = set(online)
    types: dict[str, list[int]] = {}
    # Intel hybrid: one PMU device per core type.
    for pmu, name in (("cpu_core", "performance"), ("cpu_atom", "efficiency")):
        cpus = [c for c in _read_cpu_list(sysfs / "devices" / pmu / "cpus") or []
                if c in online_set]
        if cpus:
            types[name] = cpus
    if len(types) > 1:
        return types
    # ARM big.LITTLE (and others): cpu_capacity differs by core type. Small differences
    # (favoured cores of the same type) stay in one tier.
    capacity = {c: _read_int(cpu_dir / f"cpu{c}" / "cpu_capacity") for c in online}
    known = {c: v for c, v in capacity.items() if v}
    if len(known) < len(online) or len(set(known.values())) < 2:
        return {}
    tiers: list[list[int]] = []
    floor = None
    for value in sorted(set(known.values()), reverse=True):
        if floor is None or value < 0.9 * floor:
            tiers.append([])
        tiers[-1].append(value)
        floor = value
    if len(tiers) < 2:
        return {}
    names = ["performance", *(f"mid{i}" if len(tiers) > 3 else "mid"
                              for i in range(1, len(tiers) - 1)), "efficiency"]
    return {name: sorted(c for c, v in known.items() if v in tier)
            for name, tier in zip(names, tiers)}


def _parse_size(text: Optional[str]) -> Optional[int]:
    match = _SIZE.fullmatch(text.strip()) if text else None
    return int(match[1]) * _SIZE_UNITS[match[2].upper()] if match else None


def _caches(cpu_dir: Path, online: list[int]) -> list[dict[str, Any]]:
    """One entry per distinct cache instance (level, type, CPUs sharing it)."""
    seen: dict[tuple[Any, ...], dict[str, Any]] = {}
    for cpu in online:
        for _, index in _numbered(cpu_dir / f"cpu{cpu}" / "cache", re.compile(r"index(\d+)")):
            level = _read_int(index / "level")
            kind = _read(index / "type") or "Unified"
            shared = _read_cpu_list(index / "shared_cpu_list") or [cpu]
            shared_text = format_cpu_list(shared)
            key = (level, kind, shared_text)
            if key not in seen:
                seen[key] = {"level": level, "type": kind,
                             "size_bytes": _parse_size(_read(index / "size")),
                             "shared_cpu_list": shared_text}
    return sort_caches(seen.values())


def sort_caches(caches: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Caches by level, then data/instruction/unified, then their first CPUs."""
    return sorted(caches, key=lambda c: (c["level"] or 0, _CACHE_TYPE_ORDER.get(c["type"], 9),
                                         parse_cpu_list(c["shared_cpu_list"])))


def _psutil_entries() -> list[dict[str, Any]]:
    """Best guess without sysfs: counts from psutil, SMT siblings assumed adjacent (as
    Windows numbers them); the per-CPU mapping is a guess, hence source="psutil"."""
    try:
        import psutil

        logical = psutil.cpu_count(logical=True) or 0
        physical = psutil.cpu_count(logical=False) or 0
    except Exception:  # psutil missing or failing on an exotic platform
        logical = physical = 0
    logical = logical or os.cpu_count() or 1
    physical = min(physical or logical, logical)
    per_core_max = -(-logical // physical)
    smt_cores = (logical - physical) // (per_core_max - 1) if per_core_max > 1 else 0
    threads = [per_core_max] * smt_cores + [1] * (physical - smt_cores)
    for i in range(logical - sum(threads)):  # remainder when the shape is irregular
        threads[smt_cores + i % max(1, physical - smt_cores)] += 1
    entries, cpu = [], 0
    for core, count in enumerate(threads):
        for _ in range(count):
            entries.append(_entry(cpu, core, 0, 0))
            cpu += 1
    return entries


def _process_affinity(online: list[int]) -> list[int]:
    if hasattr(os, "sched_getaffinity"):
        try:
            return sorted(os.sched_getaffinity(0))
        except OSError:
            pass
    try:  # Windows and FreeBSD have an affinity API too
        import psutil

        return sorted(psutil.Process().cpu_affinity())
    except Exception:
        return list(online)


def _cgroup_paths(proc: Path) -> dict[str, str]:
    """Controller name -> this process's cgroup path ("" key: the v2 unified hierarchy)."""
    paths: dict[str, str] = {}
    for line in (_read(proc / "self" / "cgroup") or "").splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        for name in controllers.split(",") if controllers else [""]:
            paths.setdefault(name, path)
    return paths


def _walk_up(base: Path, path: str) -> list[Path]:
    """base/path and each ancestor up to base (a quota on any ancestor also applies)."""
    parts = [p for p in path.split("/") if p and p not in (".", "..")]
    return [base.joinpath(*parts[:i]) for i in range(len(parts), -1, -1)]


def _cpu_quota(cgroup_root: Path, proc: Path) -> tuple[Optional[float], Optional[str]]:
    """The tightest CFS quota in CPUs over this process's cgroup and its ancestors."""
    paths = _cgroup_paths(proc)
    found: list[tuple[float, str]] = []
    # cgroup v2: "<quota> <period>" or "max <period>".
    for directory in _walk_up(cgroup_root, paths.get("", "/")):
        text = _read(directory / "cpu.max")
        fields = text.split() if text else []
        if fields and fields[0] != "max":
            try:
                quota, period = int(fields[0]), int(fields[1]) if len(fields) > 1 else 100000
            except ValueError:
                continue
            if quota > 0 and period > 0:
                found.append((quota / period, f"cgroup v2 {directory / 'cpu.max'}"))
    # cgroup v1: cpu.cfs_quota_us (-1 = none) over cpu.cfs_period_us, on the cpu controller.
    for mount in ("cpu", "cpu,cpuacct", "cpuacct,cpu"):
        base = cgroup_root / mount
        if not base.is_dir():
            continue
        for directory in _walk_up(base, paths.get("cpu", "/")):
            quota = _read_int(directory / "cpu.cfs_quota_us")
            period = _read_int(directory / "cpu.cfs_period_us") or 100000
            if quota is not None and quota > 0 and period > 0:
                found.append((quota / period, f"cgroup v1 {directory / 'cpu.cfs_quota_us'}"))
        break
    if not found:
        return None, None
    quota, where = min(found)
    return round(quota, 6), where


def _cpuinfo_value(cpuinfo: str, *keys: str) -> Optional[str]:
    wanted = {k.lower() for k in keys}
    for line in cpuinfo.splitlines():
        name, sep, value = line.partition(":")
        if sep and name.strip().lower() in wanted and value.strip():
            return value.strip()
    return None


def _cpu_model(cpuinfo: str) -> str:
    # x86 "model name"; some ARM kernels "Processor"/"Hardware"; POWER "cpu"; MIPS "cpu model".
    for key in ("model name", "Processor", "cpu model", "Hardware", "cpu"):
        value = _cpuinfo_value(cpuinfo, key)
        if value and not value.isdigit():
            return value
    if sys.platform == "darwin":
        try:
            out = subprocess.run(["sysctl", "-n", "machdep.cpu.brand_string"],
                                 capture_output=True, text=True, timeout=5)
            if out.returncode == 0 and out.stdout.strip():
                return out.stdout.strip()
        except (OSError, subprocess.SubprocessError):
            pass
    return platform.processor() or platform.machine() or "unknown"


def _is_real_sysfs(sysfs: Path) -> bool:
    try:
        return sysfs.resolve() == Path("/sys").resolve()
    except OSError:
        return False


def _in_container(root: Path, proc: Path) -> bool:
    if (root / ".dockerenv").exists() or (root / "run" / ".containerenv").exists():
        return True
    if (root / "var" / "run" / "secrets" / "kubernetes.io").exists():
        return True
    for path in (proc / "1" / "cgroup", proc / "self" / "cgroup"):
        text = (_read(path) or "").lower()
        if any(hint in text for hint in _CONTAINER_CGROUP_HINTS):
            return True
    environ = _read(proc / "1" / "environ") or ""  # readable as root; systemd-nspawn, lxc
    return any(v.startswith("container=") for v in environ.split("\0"))


def _loky_cpu_count() -> Optional[int]:
    """What joblib/loky would use by default, recorded to compare with our own count."""
    try:
        from joblib.externals.loky import cpu_count

        return int(cpu_count())
    except Exception:
        return None


def job_topology(cpus: Any, topo: Topology) -> tuple[Topology, list[int] | None]:
    """The topology a job runs on: the whole affinity, or the CPUs that ``cpus=`` names."""
    from ..errors import ConfigError

    if cpus in (None, "all"):
        return topo, None
    try:
        chosen = parse_cpus_option(cpus, topo)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    return restrict(topo, chosen), chosen
