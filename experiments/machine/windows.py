"""The core layout of a Windows machine, from ``GetLogicalProcessorInformationEx``.

Windows describes its processors as one buffer of variable-size records
(``SYSTEM_LOGICAL_PROCESSOR_INFORMATION_EX``): one per core (``RelationProcessorCore``: its
logical processors, ``LTP_PC_SMT`` when it has more than one, and ``EfficiencyClass``: a
higher class is a faster, less efficient core), per cache, per socket, per NUMA node, and one
listing the processor groups (a group holds at most 64 logical processors; bigger machines
have several). Every set of processors is a (group, 64-bit mask) pair.

``parse_buffer`` reads that buffer with ``struct`` at the offsets of winnt.h's 64-bit layout,
so tests feed buffers built from recorded machines (``tests/windows_buffers.py``) on any OS;
only ``read_buffer`` calls Windows, through ctypes. Efficiency classes become core kinds as
Linux's hybrid cores do: the highest class ``performance``, the lowest ``efficiency``.
"""

from __future__ import annotations

import ctypes
import struct
from dataclasses import dataclass, field
from typing import Any, Optional

RELATION_PROCESSOR_CORE = 0
RELATION_NUMA_NODE = 1
RELATION_CACHE = 2
RELATION_PROCESSOR_PACKAGE = 3
RELATION_GROUP = 4
RELATION_ALL = 0xFFFF
#: PROCESSOR_RELATIONSHIP.Flags: the core has more than one logical processor (SMT).
LTP_PC_SMT = 0x1
#: PROCESSOR_CACHE_TYPE (CacheTrace is an instruction trace cache; not a data cache level).
CACHE_TYPES = {0: "Unified", 1: "Instruction", 2: "Data", 3: "Trace"}
ERROR_INSUFFICIENT_BUFFER = 122

#: Where a record's relationship-specific part starts (after Relationship and Size, 2 DWORDs).
_BODY = 8
#: GROUP_AFFINITY: KAFFINITY Mask (8 bytes on 64-bit Windows), WORD Group, WORD Reserved[3].
_GROUP_AFFINITY = struct.Struct("<QH6x")
#: PROCESSOR_GROUP_INFO: BYTE MaximumProcessorCount, BYTE ActiveProcessorCount,
#: BYTE Reserved[38], KAFFINITY ActiveProcessorMask.
_GROUP_INFO = struct.Struct("<BB38xQ")

AFFINITY_SOURCE = "GetProcessAffinityMask (psutil.Process().cpu_affinity())"
AFFINITY_SOURCE_GROUPS = ("all processor groups: Windows 11 runs a process's threads on every "
                          "group; psutil's affinity sees only the primary group")


@dataclass(frozen=True)
class GroupMask:
    group: int
    mask: int

    def bits(self) -> list[int]:
        return [b for b in range(64) if self.mask >> b & 1]


@dataclass
class Record:
    """One parsed record: its relationship and the fields coresweep uses."""

    relation: int
    masks: list[GroupMask] = field(default_factory=list)
    smt: bool = False
    efficiency_class: int = 0
    level: int = 0
    cache_type: str = ""
    size_bytes: int = 0
    line_size: int = 0
    associativity: int = 0
    node: int = 0
    groups: list[tuple[int, int, int]] = field(default_factory=list)  # (max, active, mask)


def _masks(buffer: bytes, offset: int, count: int, end: int) -> list[GroupMask]:
    masks = []
    for i in range(max(1, count)):  # GroupCount is 0 in Windows 10's NUMA and cache records
        at = offset + i * _GROUP_AFFINITY.size
        if at + _GROUP_AFFINITY.size > end:
            raise ValueError(f"processor information: group mask {i} runs past its record at {at}")
        mask, group = _GROUP_AFFINITY.unpack_from(buffer, at)
        masks.append(GroupMask(group, mask))
    return masks


def parse_buffer(buffer: bytes) -> list[Record]:
    """The records of a ``GetLogicalProcessorInformationEx(RelationAll)`` buffer.

    Offsets (winnt.h, 64-bit): PROCESSOR_RELATIONSHIP Flags +8, EfficiencyClass +9,
    GroupCount +30, GroupMask[] +32; NUMA_NODE_RELATIONSHIP NodeNumber +8, GroupCount +30,
    GroupMask[] +32; CACHE_RELATIONSHIP Level +8, Associativity +9, LineSize +10,
    CacheSize +12, Type +16, GroupCount +38, GroupMask[] +40; GROUP_RELATIONSHIP
    MaximumGroupCount +8, ActiveGroupCount +10, GroupInfo[] +32 (48 bytes each).
    """
    records = []
    offset = 0
    while offset < len(buffer):
        if offset + _BODY > len(buffer):
            raise ValueError(f"processor information: truncated record header at byte {offset}")
        relation, size = struct.unpack_from("<II", buffer, offset)
        end = offset + size
        if size < _BODY or end > len(buffer):
            raise ValueError(f"processor information: record at byte {offset} has size {size} "
                             f"(buffer of {len(buffer)} bytes)")
        body = offset + _BODY
        rec = Record(relation)
        if relation in (RELATION_PROCESSOR_CORE, RELATION_PROCESSOR_PACKAGE):
            flags, eff = struct.unpack_from("<BB", buffer, body)
            (count,) = struct.unpack_from("<H", buffer, body + 22)
            rec.smt, rec.efficiency_class = bool(flags & LTP_PC_SMT), eff
            rec.masks = _masks(buffer, body + 24, count, end)
        elif relation == RELATION_NUMA_NODE:
            (rec.node,) = struct.unpack_from("<I", buffer, body)
            (count,) = struct.unpack_from("<H", buffer, body + 22)
            rec.masks = _masks(buffer, body + 24, count, end)
        elif relation == RELATION_CACHE:
            level, assoc, line, cache_size, kind = struct.unpack_from("<BBHII", buffer, body)
            (count,) = struct.unpack_from("<H", buffer, body + 30)
            rec.level, rec.associativity, rec.line_size, rec.size_bytes = level, assoc, line, cache_size
            rec.cache_type = CACHE_TYPES.get(kind, f"type {kind}")
            rec.masks = _masks(buffer, body + 32, count, end)
        elif relation == RELATION_GROUP:
            _, active = struct.unpack_from("<HH", buffer, body)
            for i in range(active):
                at = body + 24 + i * _GROUP_INFO.size
                if at + _GROUP_INFO.size > end:
                    raise ValueError(f"processor information: group {i} runs past its record")
                rec.groups.append(_GROUP_INFO.unpack_from(buffer, at))
        records.append(rec)  # other relations (dies, modules, NUMA ex) are skipped
        offset = end
    return records


def _cpu_ids(records: list[Record]) -> dict[tuple[int, int], int]:
    """(group, bit) -> coresweep's CPU id: groups in order, active processors numbered on.

    In group 0 (every machine up to 64 logical processors) the id is the bit, as psutil's
    ``cpu_affinity`` and Task Manager number them.
    """
    groups = next((r.groups for r in records if r.relation == RELATION_GROUP), [])
    ids: dict[tuple[int, int], int] = {}
    if groups:
        for group, (_, _, active_mask) in enumerate(groups):
            for bit in GroupMask(group, active_mask).bits():
                ids[(group, bit)] = len(ids)
        return ids
    # No group record (a partial buffer): number the cores' processors in order.
    for rec in records:
        if rec.relation == RELATION_PROCESSOR_CORE:
            for m in rec.masks:
                for bit in m.bits():
                    ids.setdefault((m.group, bit), m.group * 64 + bit)
    return ids


def efficiency_kinds(classes: list[int]) -> dict[int, Optional[str]]:
    """EfficiencyClass -> core kind: all alike -> None; highest performance, lowest efficiency."""
    distinct = sorted(set(classes), reverse=True)
    if len(distinct) < 2:
        return {c: None for c in distinct}
    middle = ["mid" if len(distinct) == 3 else f"mid{i}" for i in range(1, len(distinct) - 1)]
    return dict(zip(distinct, ["performance", *middle, "efficiency"]))


def layout(records: list[Record]) -> dict[str, Any]:
    """Per-CPU entries, core kinds, caches and groups from parsed records (``macos.layout``'s shape)."""
    from .topology import format_cpu_list

    ids = _cpu_ids(records)

    def cpus_of(rec: Record) -> list[int]:
        return sorted(ids[(m.group, b)] for m in rec.masks for b in m.bits() if (m.group, b) in ids)

    cores = [r for r in records if r.relation == RELATION_PROCESSOR_CORE]
    if not cores:
        raise ValueError("processor information: no RelationProcessorCore record")
    kinds = efficiency_kinds([r.efficiency_class for r in cores])
    socket_of = {c: i for i, r in enumerate(r for r in records
                                            if r.relation == RELATION_PROCESSOR_PACKAGE)
                 for c in cpus_of(r)}
    node_of = {c: r.node for r in records if r.relation == RELATION_NUMA_NODE for c in cpus_of(r)}
    entries: list[dict[str, Any]] = []
    smt_flags = []
    for core, rec in enumerate(cores):
        smt_flags.append({"core": core, "smt": rec.smt, "efficiency_class": rec.efficiency_class})
        for cpu in cpus_of(rec):
            entries.append({"cpu": cpu, "core": core, "socket": socket_of.get(cpu, 0),
                            "numa_node": node_of.get(cpu, 0),
                            "core_type": kinds[rec.efficiency_class], "online": True})
    entries.sort(key=lambda e: e["cpu"])
    core_types: dict[str, list[int]] = {}
    for kind in dict.fromkeys(k for k in kinds.values() if k is not None):
        core_types[kind] = [e["cpu"] for e in entries if e["core_type"] == kind]
    caches = [{"level": r.level, "type": r.cache_type, "size_bytes": r.size_bytes,
               "shared_cpu_list": format_cpu_list(cpus_of(r))}
              for r in records if r.relation == RELATION_CACHE and r.cache_type != "Trace"]
    groups = next((r.groups for r in records if r.relation == RELATION_GROUP), [])
    return {
        "entries": entries,
        "core_types": core_types,
        "caches": caches,
        "cores": smt_flags,
        "groups": [{"group": g, "active_cpus": active, "max_cpus": most}
                   for g, (most, active, _) in enumerate(groups)],
    }


def last_error() -> int:
    """The calling thread's last Windows error (0 off Windows, where fakes stand in)."""
    get = getattr(ctypes, "get_last_error", None)
    return int(get()) if get is not None else 0


# --------------------------------------------------------------------------- Windows calls


def kernel32() -> Any:
    """kernel32 through ctypes (Windows only; tests pass a fake instead)."""
    return ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]


def read_buffer(k32: Any = None) -> bytes:
    """The ``GetLogicalProcessorInformationEx(RelationAll)`` buffer of this machine."""
    k32 = k32 if k32 is not None else kernel32()
    length = ctypes.c_uint32(0)
    k32.GetLogicalProcessorInformationEx(RELATION_ALL, None, ctypes.byref(length))
    for _ in range(3):  # the layout can grow between the calls (a CPU hot-added)
        buf = ctypes.create_string_buffer(length.value)
        if k32.GetLogicalProcessorInformationEx(RELATION_ALL, buf, ctypes.byref(length)):
            return buf.raw[: length.value]
        error = last_error()
        if error != ERROR_INSUFFICIENT_BUFFER:
            raise OSError(error, "GetLogicalProcessorInformationEx failed")
    raise OSError(ERROR_INSUFFICIENT_BUFFER, "GetLogicalProcessorInformationEx: buffer kept growing")


def cpu_model() -> str:
    """The processor's marketing name from the registry (what Task Manager shows)."""
    try:
        import winreg  # type: ignore[import-not-found]

        key = winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, r"HARDWARE\DESCRIPTION\System\CentralProcessor\0")
        return str(winreg.QueryValueEx(key, "ProcessorNameString")[0]).strip()
    except Exception:  # not Windows, or the key is missing
        return ""


class _ProcessorNumber(ctypes.Structure):
    _fields_ = [("Group", ctypes.c_uint16), ("Number", ctypes.c_uint8), ("Reserved", ctypes.c_uint8)]


def current_cpu(k32: Any = None) -> Optional[int]:
    """The logical processor the calling thread runs on, numbered as ``_cpu_ids`` does."""
    try:
        k32 = k32 if k32 is not None else kernel32()
        number = _ProcessorNumber()
        k32.GetCurrentProcessorNumberEx(ctypes.byref(number))
        before = sum(int(k32.GetActiveProcessorCount(g)) for g in range(number.Group))
        return before + int(number.Number)
    except Exception:
        return None


def main(argv: Optional[list[str]] = None) -> int:
    """``python -m coresweep.experiments.machine.windows FILE``: record this machine's buffer
    (for ``coresweep-topology --windows-buffer-file FILE`` elsewhere, or a bug report)."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m coresweep.experiments.machine.windows FILE", file=sys.stderr)
        return 2
    if sys.platform != "win32":
        print("windows: GetLogicalProcessorInformationEx exists only on Windows", file=sys.stderr)
        return 2
    with open(args[0], "wb") as fh:
        fh.write(read_buffer())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
