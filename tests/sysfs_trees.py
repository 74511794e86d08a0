"""Fake /sys, /proc and cgroup trees built from a compact machine description.

Tests describe a machine as a list of cores (which CPUs, which socket and NUMA node) and this
writes the files ``topology.detect()`` reads, the way Linux lays them out: topology ids,
sibling lists, NUMA node cpulists, caches, hybrid PMU devices, cgroup v1/v2 quota files.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from coresweep.experiments.machine.topology import format_cpu_list, parse_cpu_list


@dataclass
class Core:
    """One physical core: its logical CPUs (SMT siblings), socket and NUMA node."""

    cpus: tuple[int, ...]
    socket: int = 0
    node: int = 0
    capacity: Optional[int] = None


@dataclass
class Machine:
    """A fake machine; ``offline`` CPUs belong to cores but are switched off."""

    cores: list[Core]
    offline: Sequence[int] = ()
    model: str = "Fake CPU @ 3.00GHz"
    pmu: dict[str, str] = field(default_factory=dict)  # e.g. {"cpu_core": "0-11"}
    hypervisor_flag: bool = False
    dmi_vendor: Optional[str] = None
    dmi_product: Optional[str] = None
    caches: bool = True

    @property
    def all_cpus(self) -> list[int]:
        return sorted(c for core in self.cores for c in core.cpus)


@dataclass
class Roots:
    """Where a fake machine lives; ``kwargs`` feeds ``detect(**roots.kwargs)``."""

    base: Path

    @property
    def sysfs(self) -> Path:
        return self.base / "sys"

    @property
    def proc(self) -> Path:
        return self.base / "proc"

    @property
    def cgroup(self) -> Path:
        return self.base / "cgroup"

    @property
    def root(self) -> Path:
        return self.base / "root"

    @property
    def kwargs(self) -> dict[str, Path]:
        return {"sysfs_root": self.sysfs, "proc_root": self.proc,
                "cgroup_root": self.cgroup, "root": self.root}


def regular(sockets: int = 1, cores_per_socket: int = 4, threads: int = 2,
            nodes_per_socket: int = 1) -> Machine:
    """A homogeneous machine numbered as Linux does on x86: first threads of every core,
    then the second threads (CPU 0 and CPU n_cores are siblings)."""
    n_cores = sockets * cores_per_socket
    per_node = cores_per_socket // nodes_per_socket
    cores = []
    for core in range(n_cores):
        socket, local = divmod(core, cores_per_socket)
        node = socket * nodes_per_socket + min(local // per_node, nodes_per_socket - 1)
        cores.append(Core(tuple(core + t * n_cores for t in range(threads)), socket, node))
    return Machine(cores)


def hybrid(p_cores: int = 6, e_cores: int = 8) -> Machine:
    """An Intel hybrid laptop part: SMT-2 P-cores (siblings adjacent) then single-thread
    E-cores, with the cpu_core / cpu_atom PMU devices listing each type."""
    cores = [Core((2 * i, 2 * i + 1)) for i in range(p_cores)]
    cores += [Core((2 * p_cores + i,)) for i in range(e_cores)]
    n_p = 2 * p_cores
    return Machine(cores, pmu={"cpu_core": f"0-{n_p - 1}",
                               "cpu_atom": f"{n_p}-{n_p + e_cores - 1}"})


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n")


def cpu_mask(cpus: Iterable[int], n_cpus: int) -> str:
    """The kernel's hex bitmap ("00000000,0000000f"): 32-bit words, most significant first."""
    value = sum(1 << c for c in cpus)
    words = max(1, -(-n_cpus // 32))
    return ",".join(f"{(value >> (32 * i)) & 0xFFFFFFFF:08x}" for i in reversed(range(words)))


def write_tree(base: Path, machine: Machine) -> Roots:
    """Write the machine's sysfs and procfs files under ``base``; returns the roots."""
    roots = Roots(Path(base))
    cpu_dir = roots.sysfs / "devices" / "system" / "cpu"
    offline = set(machine.offline)
    online = [c for c in machine.all_cpus if c not in offline]
    _write(cpu_dir / "online", format_cpu_list(online))
    _write(cpu_dir / "present", format_cpu_list(machine.all_cpus))
    _write(cpu_dir / "possible", format_cpu_list(machine.all_cpus))
    _write(cpu_dir / "offline", format_cpu_list(offline))
    n_cpus = max(machine.all_cpus) + 1
    _write(cpu_dir / "kernel_max", str(max(n_cpus, 64) - 1))
    core_ids: dict[int, int] = {}
    for core in machine.cores:
        core_id = core_ids.setdefault(core.socket, 0)
        core_ids[core.socket] += 1
        siblings = format_cpu_list(c for c in core.cpus if c not in offline)
        socket_cpus = [c for k in machine.cores if k.socket == core.socket for c in k.cpus
                       if c not in offline]
        for cpu in core.cpus:
            here = cpu_dir / f"cpu{cpu}"
            if cpu in offline:
                _write(here / "online", "0")  # the kernel drops topology/ while offline
                continue
            _write(here / "online", "1")
            topo = here / "topology"
            _write(topo / "core_id", str(core_id))  # per-socket, as on real x86 machines
            _write(topo / "physical_package_id", str(core.socket))
            _write(topo / "die_id", "0")
            sibling_ids = [c for c in core.cpus if c not in offline]
            for name, cpus in (("thread_siblings", sibling_ids), ("core_cpus", sibling_ids),
                               ("core_siblings", socket_cpus), ("package_cpus", socket_cpus),
                               ("die_cpus", socket_cpus)):
                _write(topo / f"{name}_list", format_cpu_list(cpus))
                _write(topo / name, cpu_mask(cpus, n_cpus))
            if core.capacity is not None:
                _write(here / "cpu_capacity", str(core.capacity))
            if machine.caches:
                caches = [(1, "Data", "48K", siblings), (1, "Instruction", "32K", siblings),
                          (2, "Unified", "1280K", siblings),
                          (3, "Unified", "30720K", format_cpu_list(socket_cpus))]
                for i, (level, kind, size, shared) in enumerate(caches):
                    _write(here / "cache" / f"index{i}" / "level", str(level))
                    _write(here / "cache" / f"index{i}" / "type", kind)
                    _write(here / "cache" / f"index{i}" / "size", size)
                    _write(here / "cache" / f"index{i}" / "shared_cpu_list", shared)
                    _write(here / "cache" / f"index{i}" / "shared_cpu_map",
                           cpu_mask(parse_cpu_list(shared), n_cpus))
    nodes: dict[int, list[int]] = {}
    for core in machine.cores:
        nodes.setdefault(core.node, []).extend(c for c in core.cpus if c not in offline)
    for node, cpus in nodes.items():
        node_dir = roots.sysfs / "devices" / "system" / "node" / f"node{node}"
        _write(node_dir / "cpulist", format_cpu_list(cpus))
        _write(node_dir / "cpumap", cpu_mask(cpus, n_cpus))
    _write(roots.sysfs / "devices" / "system" / "node" / "online",
           format_cpu_list(nodes) if nodes else "0")
    for pmu, cpus in machine.pmu.items():
        _write(roots.sysfs / "devices" / pmu / "cpus", cpus)
    if machine.dmi_vendor:
        _write(roots.sysfs / "class" / "dmi" / "id" / "sys_vendor", machine.dmi_vendor)
    if machine.dmi_product:
        _write(roots.sysfs / "class" / "dmi" / "id" / "product_name", machine.dmi_product)
    flags = "fpu vme de pse tsc msr pae ht" + (" hypervisor" if machine.hypervisor_flag else "")
    _write(roots.proc / "cpuinfo", "\n\n".join(
        f"processor\t: {cpu}\nmodel name\t: {machine.model}\nflags\t\t: {flags}"
        for cpu in online))
    _write(roots.proc / "self" / "cgroup", "0::/")
    roots.cgroup.mkdir(parents=True, exist_ok=True)
    roots.root.mkdir(parents=True, exist_ok=True)
    return roots


def write_cgroup_v2(roots: Roots, cpu_max: str, path: str = "/",
                    ancestors: Iterable[tuple[str, str]] = ()) -> None:
    """A unified hierarchy with this process in ``path`` whose cpu.max is ``cpu_max``;
    ``ancestors`` are extra (path, cpu.max) pairs higher up."""
    _write(roots.cgroup / "cgroup.controllers", "cpuset cpu io memory pids")
    _write(roots.cgroup.joinpath(*path.strip("/").split("/")) / "cpu.max", cpu_max)
    for where, value in ancestors:
        _write(roots.cgroup.joinpath(*where.strip("/").split("/")) / "cpu.max", value)
    _write(roots.proc / "self" / "cgroup", f"0::{path}")


def write_cgroup_v1(roots: Roots, quota_us: int, period_us: int = 100000,
                    path: str = "/", mount: str = "cpu,cpuacct") -> None:
    """A v1 cpu controller (mounted at ``mount``) with a CFS quota for ``path``."""
    directory = roots.cgroup / mount
    directory = directory.joinpath(*path.strip("/").split("/")) if path.strip("/") else directory
    _write(roots.cgroup / mount / "cpu.cfs_quota_us", "-1")  # the root has no limit
    _write(roots.cgroup / mount / "cpu.cfs_period_us", "100000")
    _write(directory / "cpu.cfs_quota_us", str(quota_us))
    _write(directory / "cpu.cfs_period_us", str(period_us))
    _write(roots.proc / "self" / "cgroup",
           f"12:memory:{path}\n4:cpu,cpuacct:{path}\n0::/")
