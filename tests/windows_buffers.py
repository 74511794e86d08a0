"""GetLogicalProcessorInformationEx buffers of real Windows machines, built byte by byte.

No raw buffer of a hybrid machine is published, but what Windows puts in one is: per core
its logical processors, SMT flag and EfficiencyClass (recorded by tools that print them), per
cache its level, size and processors (what Sysinternals coreinfo prints, and coreinfo reads
exactly this buffer). Each machine below is that published record, written as a compact
description; ``build`` packs it as Windows does (winnt.h's 64-bit structures, one
``SYSTEM_LOGICAL_PROCESSOR_INFORMATION_EX`` after another, each with its ``Size``), so the
parser reads bytes laid out as on the machine. ``tests/test_platforms.py`` checks the packing
against ctypes' own layout of the same structures and the parsed result against the counts
the machine's tools printed (``expected``).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

CORE, NUMA, CACHE, PACKAGE, GROUP = 0, 1, 2, 3, 4
CACHE_TYPE = {"Unified": 0, "Instruction": 1, "Data": 2, "Trace": 3}
KB, MB = 1 << 10, 1 << 20


@dataclass
class Core:
    cpus: tuple[int, ...]
    efficiency_class: int


@dataclass
class Cache:
    level: int
    kind: str
    size: int
    cpus: tuple[int, ...]
    line: int = 64
    assoc: int = 8


@dataclass
class WinMachine:
    """CPU ids are global: group g holds the ``groups[g]`` ids after those of earlier groups."""

    name: str
    cores: list[Core]
    caches: list[Cache]
    groups: list[int]
    packages: list[tuple[int, ...]] = field(default_factory=list)
    numa: list[tuple[int, ...]] = field(default_factory=list)
    #: what the machine's own tools (coreinfo, the recorded listing) say
    expected: dict[str, object] = field(default_factory=dict)

    def group_bit(self, cpu: int) -> tuple[int, int]:
        for group, count in enumerate(self.groups):
            if cpu < count:
                return group, cpu
            cpu -= count
        raise ValueError(f"cpu {cpu} is in no group")


def _masks(machine: WinMachine, cpus: tuple[int, ...]) -> list[tuple[int, int]]:
    by_group: dict[int, int] = {}
    for cpu in cpus:
        group, bit = machine.group_bit(cpu)
        by_group[group] = by_group.get(group, 0) | 1 << bit
    return sorted((g, m) for g, m in by_group.items())


def _group_affinity(group: int, mask: int) -> bytes:
    return struct.pack("<QH6x", mask, group)  # KAFFINITY Mask; WORD Group; WORD Reserved[3]


def _record(relation: int, body: bytes) -> bytes:
    return struct.pack("<II", relation, 8 + len(body)) + body


def _processor(flags: int, efficiency: int, masks: list[tuple[int, int]]) -> bytes:
    # BYTE Flags; BYTE EfficiencyClass; BYTE Reserved[20]; WORD GroupCount; GROUP_AFFINITY[]
    head = struct.pack("<BB20xH", flags, efficiency, len(masks))
    return head + b"".join(_group_affinity(g, m) for g, m in masks)


def build(machine: WinMachine) -> bytes:
    """The buffer GetLogicalProcessorInformationEx(RelationAll, ...) fills on ``machine``."""
    out = []
    for core in machine.cores:
        flags = 1 if len(core.cpus) > 1 else 0  # LTP_PC_SMT
        out.append(_record(CORE, _processor(flags, core.efficiency_class, _masks(machine, core.cpus))))
    for node, cpus in enumerate(machine.numa or [tuple(range(sum(machine.groups)))]):
        masks = _masks(machine, cpus)
        # DWORD NodeNumber; BYTE Reserved[18]; WORD GroupCount; GROUP_AFFINITY[]
        body = struct.pack("<I18xH", node, len(masks)) + b"".join(_group_affinity(g, m) for g, m in masks)
        out.append(_record(NUMA, body))
    for cache in machine.caches:
        masks = _masks(machine, cache.cpus)
        # BYTE Level; BYTE Associativity; WORD LineSize; DWORD CacheSize;
        # PROCESSOR_CACHE_TYPE Type; BYTE Reserved[18]; WORD GroupCount; GROUP_AFFINITY[]
        body = struct.pack("<BBHII18xH", cache.level, cache.assoc, cache.line, cache.size,
                           CACHE_TYPE[cache.kind], len(masks))
        out.append(_record(CACHE, body + b"".join(_group_affinity(g, m) for g, m in masks)))
    for cpus in machine.packages or [tuple(range(sum(machine.groups)))]:
        out.append(_record(PACKAGE, _processor(0, 0, _masks(machine, cpus))))
    # WORD MaximumGroupCount; WORD ActiveGroupCount; BYTE Reserved[20]; PROCESSOR_GROUP_INFO[]
    infos = b"".join(struct.pack("<BB38xQ", 64, n, (1 << n) - 1) for n in machine.groups)
    out.append(_record(GROUP, struct.pack("<HH20x", len(machine.groups), len(machine.groups)) + infos))
    return b"".join(out)


def _per_core(cores: list[Core], level: int, kind: str, size: int, assoc: int = 8) -> list[Cache]:
    return [Cache(level, kind, size, c.cpus, assoc=assoc) for c in cores]


def i5_14600k() -> WinMachine:
    """Intel Core i5-14600K: 6 P-cores with Hyper-Threading, 8 E-cores (20 logical processors).

    Cores, SMT flags and EfficiencyClass as recorded with GetLogicalProcessorInformationEx on
    a real i5-14600K and published in SimonvBez/CPUSetSetter issue #3 (2025-10-31): cores
    0-5 isSMT 1, Efficiency 1, masks 0b11 << 2k; cores 6-13 isSMT 0, Efficiency 0, one
    processor each from 12 on. That listing has no caches: they are Intel's documented ones
    for Raptor Lake-S (P-core 48 KiB L1d, 32 KiB L1i, 2 MiB L2; E-core 32 KiB L1d, 64 KiB L1i;
    4 MiB L2 per cluster of 4 E-cores; 24 MiB L3; Intel ARK: 20 MB L2 in all).
    """
    p = [Core((2 * i, 2 * i + 1), 1) for i in range(6)]
    e = [Core((12 + i,), 0) for i in range(8)]
    caches = (_per_core(p, 1, "Data", 48 * KB, 12) + _per_core(p, 1, "Instruction", 32 * KB)
              + _per_core(p, 2, "Unified", 2 * MB, 16)
              + _per_core(e, 1, "Data", 32 * KB) + _per_core(e, 1, "Instruction", 64 * KB)
              + [Cache(2, "Unified", 4 * MB, tuple(range(12, 16)), assoc=16),
                 Cache(2, "Unified", 4 * MB, tuple(range(16, 20)), assoc=16),
                 Cache(3, "Unified", 24 * MB, tuple(range(20)), assoc=12)])
    return WinMachine("i5-14600k", p + e, caches, groups=[20], expected={
        "logical": 20, "physical": 14, "threads_per_core": 2, "sockets": 1, "numa": 1,
        "core_types": {"performance": "0-11", "efficiency": "12-19"},
        "caches": {"L1 Data": 14, "L1 Instruction": 14, "L2 Unified": 8, "L3 Unified": 1},
        "l2_total": 20 * MB, "l3": 24 * MB,
    })


def core_ultra_7_165u() -> WinMachine:
    """Intel Core Ultra 7 165U: 2 P-cores with Hyper-Threading, 8 E-cores, 2 LP E-cores.

    Every processor and cache as Sysinternals coreinfo v4.0 printed them on this CPU in its
    documentation (MicrosoftDocs/sysinternals, sysinternals/downloads/coreinfo.md): P-cores
    on processors 0-1 and 10-11 (48 KB L1d, 64 KB L1i, 2 MB L2 each), E-cores 2-9 (32 KB L1d,
    64 KB L1i; 2 MB L2 per 4), LP E-cores 12-13 (2 MB L2 shared, outside the 12 MB L3 of
    0-11). coreinfo does not print EfficiencyClass: P-cores are given 1 and both kinds of
    E-core 0, as on other Intel hybrids (folo-rs/folo#57 reports the LP E-cores share the
    E-cores' class).
    """
    p0, p9 = Core((0, 1), 1), Core((10, 11), 1)
    e = [Core((cpu,), 0) for cpu in range(2, 10)]
    lpe = [Core((12,), 0), Core((13,), 0)]
    caches = [Cache(1, "Data", 48 * KB, (0, 1), assoc=12), Cache(1, "Instruction", 64 * KB, (0, 1), assoc=16),
              Cache(2, "Unified", 2 * MB, (0, 1), assoc=16),
              Cache(3, "Unified", 12 * MB, tuple(range(12)), assoc=12),
              Cache(2, "Unified", 2 * MB, (2, 3, 4, 5), assoc=16),
              Cache(2, "Unified", 2 * MB, (6, 7, 8, 9), assoc=16),
              Cache(1, "Data", 48 * KB, (10, 11), assoc=12),
              Cache(1, "Instruction", 64 * KB, (10, 11), assoc=16),
              Cache(2, "Unified", 2 * MB, (10, 11), assoc=16),
              Cache(2, "Unified", 2 * MB, (12, 13), assoc=16)]
    for cpu in [*range(2, 10), 12, 13]:
        caches += [Cache(1, "Data", 32 * KB, (cpu,)), Cache(1, "Instruction", 64 * KB, (cpu,))]
    return WinMachine("core-ultra-7-165u", [p0, *e, p9, *lpe], caches, groups=[14], expected={
        # coreinfo: "Logical to Physical Processor Map" 12 rows, 2 "(Hyperthreaded)"; 14 columns
        "logical": 14, "physical": 12, "threads_per_core": 2, "sockets": 1, "numa": 1,
        "core_types": {"performance": "0-1,10-11", "efficiency": "2-9,12-13"},
        # coreinfo: Data Cache 0-11, Instruction Cache 0-11, Unified Cache 0-5 (L2 x5, L3 x1)
        "caches": {"L1 Data": 12, "L1 Instruction": 12, "L2 Unified": 5, "L3 Unified": 1},
        "l2_total": 10 * MB, "l3": 12 * MB,
    })


def two_group_server() -> WinMachine:
    """Two 24-core sockets with Hyper-Threading: 96 logical processors in 2 processor groups.

    Constructed, not recorded: Windows puts at most 64 logical processors in a group and
    keeps a NUMA node in one group, so this machine has one group per socket (48 each),
    SMT siblings on adjacent bits. Caches of a Xeon Gold 6442Y (Intel ARK: 24 cores, 2 MB L2
    per core, 60 MB L3). It exercises RelationGroup, group-relative masks and the refusal
    of pinning across groups.
    """
    cores = [Core((2 * i, 2 * i + 1), 0) for i in range(48)]
    caches = (_per_core(cores, 1, "Data", 48 * KB, 12) + _per_core(cores, 1, "Instruction", 32 * KB)
              + _per_core(cores, 2, "Unified", 2 * MB, 16)
              + [Cache(3, "Unified", 60 * MB, tuple(range(48)), assoc=15),
                 Cache(3, "Unified", 60 * MB, tuple(range(48, 96)), assoc=15)])
    halves = [tuple(range(48)), tuple(range(48, 96))]
    return WinMachine("two-group-server", cores, caches, groups=[48, 48], packages=halves, numa=halves,
                      expected={
                          "logical": 96, "physical": 48, "threads_per_core": 2, "sockets": 2, "numa": 2,
                          "core_types": {},
                          "caches": {"L1 Data": 48, "L1 Instruction": 48, "L2 Unified": 48, "L3 Unified": 2},
                          "l2_total": 96 * MB, "l3": 60 * MB,
                      })


MACHINES = {m.name: m for m in (i5_14600k(), core_ultra_7_165u(), two_group_server())}
