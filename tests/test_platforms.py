"""macOS and Windows, simulated on any system: topology from recorded output, pinning,
start methods and job isolation through their platform code paths.

Nothing here runs on a Mac or a Windows machine: recorded ``sysctl`` text
(``tests/platform_fixtures/macos-*.txt``) and processor-information buffers built from
recorded machines (``tests/windows_buffers.py``) stand in for the machines, and the few OS
calls (kernel32, kqueue, psutil's affinity, Popen) are fakes that record what they were
asked. docs/platforms.md says which rows of its table rest on these tests alone.
"""

from __future__ import annotations

import ctypes
import json
import re
import threading
import types
from pathlib import Path

import pytest

from coresweep.experiments.backends import BACKENDS
from coresweep.experiments.launch import isolation, job_child, winjob
from coresweep.experiments.machine import (
    macos,
    pinning,
    platform_topology,
    platforms,
    topology,
    windows,
)
from coresweep.experiments.machine.topology import (
    detect,
    format_cpu_list,
    pinning_plan,
    worker_ladder,
)
from coresweep.experiments.machine.topology_cli import main

from .windows_buffers import CACHE, MACHINES, build

FIXTURES = Path(__file__).parent / "platform_fixtures"
MiB = 1 << 20


def _simulate(monkeypatch: pytest.MonkeyPatch, system: str) -> None:
    monkeypatch.setattr(platforms, "system", lambda: system)


def _cache_counts(caches: list[dict]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for c in caches:
        key = f"L{c['level']} {c['type']}"
        counts[key] = counts.get(key, 0) + 1
    return counts


# --------------------------------------------------------------------------- macOS

#: What each recorded Mac is, as Apple's own numbers say: sysctl's counts (also checked
#: against the text itself below) and the L2 clusters hw.perflevelN.cpusperl2 implies.
MACS = {
    "macos-m1-pro.txt": {
        "model": "Apple M1 Pro", "logical": 10, "physical": 10, "threads": 1,
        "core_types": {"performance": "0-7", "efficiency": "8-9"},
        "caches": {"L1 Data": 10, "L1 Instruction": 10, "L2 Unified": 3},
        "l2": [(12 * MiB, "0-3"), (12 * MiB, "4-7"), (4 * MiB, "8-9")],
        "ladder": [1, 2, 4, 8, 10, 20],
    },
    "macos-m4-pro.txt": {
        "model": "", "logical": 14, "physical": 14, "threads": 1,
        "core_types": {"performance": "0-9", "efficiency": "10-13"},
        "caches": {"L1 Data": 14, "L1 Instruction": 14, "L2 Unified": 3},
        "l2": [(16 * MiB, "0-4"), (16 * MiB, "5-9"), (4 * MiB, "10-13")],
        "ladder": [1, 2, 4, 8, 10, 14, 28],
    },
    "macos-m3-max.txt": {
        "model": "", "logical": 16, "physical": 16, "threads": 1,
        "core_types": {"performance": "0-11", "efficiency": "12-15"},
        "caches": {"L1 Data": 16, "L1 Instruction": 16, "L2 Unified": 3},
        "l2": [(16 * MiB, "0-5"), (16 * MiB, "6-11"), (4 * MiB, "12-15")],
        "ladder": [1, 2, 4, 8, 12, 16, 32],
    },
    "macos-intel-i7-3615qm.txt": {
        "model": "Intel(R) Core(TM) i7-3615QM CPU @ 2.30GHz", "logical": 8, "physical": 4,
        "threads": 2, "core_types": {},
        "caches": {"L1 Data": 4, "L1 Instruction": 4, "L2 Unified": 4, "L3 Unified": 1},
        "l2": [(256 << 10, "0-1"), (256 << 10, "2-3"), (256 << 10, "4-5"), (256 << 10, "6-7")],
        "ladder": [1, 2, 4, 8, 16],
    },
}


def _sysctl_says(text: str) -> dict[str, int]:
    """The counts straight from the recorded text (an independent reading, by regex)."""
    found = {k: int(v) for k, v in re.findall(r"^(hw\.[a-z0-9.]+): (\d+)$", text, re.MULTILINE)}
    levels = sorted({int(n) for n in re.findall(r"^hw\.perflevel(\d+)\.", text, re.MULTILINE)})
    return {
        "physical": found["hw.physicalcpu"], "logical": found["hw.logicalcpu"],
        **{f"level{n}": found[f"hw.perflevel{n}.physicalcpu"] for n in levels},
    }


@pytest.mark.parametrize("name", sorted(MACS))
def test_macos_fixture_json_matches_sysctl(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = FIXTURES / name
    assert main(["--sysctl-file", str(path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    want, says = MACS[name], _sysctl_says(path.read_text())
    assert (data["physical_cores"], data["logical_cores"]) == (says["physical"], says["logical"])
    assert (data["physical_cores"], data["logical_cores"]) == (want["physical"], want["logical"])
    assert data["threads_per_core"] == want["threads"]
    assert (data["sockets"], data["numa_nodes"], data["source"]) == (1, 1, "sysctl")
    assert data["cpu_model"] == want["model"]
    assert {k: format_cpu_list(v) for k, v in data["core_types"].items()} == want["core_types"]
    for level, kind in enumerate(data["core_types"]):  # level N's cores are sysctl's perflevelN
        assert len(data["core_types"][kind]) == says[f"level{level}"]
    assert _cache_counts(data["caches"]) == want["caches"]
    l2 = [(c["size_bytes"], c["shared_cpu_list"]) for c in data["caches"] if c["level"] == 2]
    assert l2 == want["l2"]
    # No affinity on macOS: every enabled CPU, and the record says where that came from.
    assert data["affinity_cpus"] == list(range(want["logical"]))
    assert "hw.activecpu" in data["affinity_source"]
    assert worker_ladder(topology.Topology.from_dict(data)) == want["ladder"]


def test_macos_levels_keep_sysctl_names_and_order() -> None:
    topo = detect(sysctl_text=(FIXTURES / "macos-m3-max.txt").read_text())
    assert topo.os_details["perf_levels"] == [
        {"level": 0, "name": "Performance", "kind": "performance", "physical_cores": 12, "logical_cpus": 12},
        {"level": 1, "name": "Efficiency", "kind": "efficiency", "physical_cores": 4, "logical_cpus": 4},
    ]
    assert {e["core_type"] for e in topo.cpus if e["cpu"] < 12} == {"performance"}


def test_macos_three_levels_and_a_virtual_machine() -> None:
    text = "\n".join([
        "hw.physicalcpu: 6", "hw.logicalcpu: 6", "hw.nperflevels: 3", "kern.hv_vmm_present: 1",
        *(f"hw.perflevel{n}.{k}: 2" for n in range(3) for k in ("physicalcpu", "logicalcpu")),
    ])
    topo = detect(sysctl_text=text)
    assert topo.core_types == {"performance": [0, 1], "mid": [2, 3], "efficiency": [4, 5]}
    assert topo.virtualized and topo.hypervisor_source == "sysctl"


def test_macos_missing_level_is_one_line() -> None:
    with pytest.raises(ValueError, match=r"hw.perflevel1.physicalcpu and hw.perflevel1.logicalcpu"):
        detect(sysctl_text="hw.nperflevels: 2\nhw.perflevel0.physicalcpu: 4\n")


def test_macos_human_output_tags_p_and_e(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--sysctl-file", str(FIXTURES / "macos-m1-pro.txt")]) == 0
    out = capsys.readouterr().out
    assert "[P]" in out and "[E]" in out and "Apple M1 Pro" in out
    assert "workers=auto ladder: 1, 2, 4, 8, 10, 20" in out
    assert "macOS has no CPU affinity" in out


def test_read_sysctl_keeps_output_of_a_partial_failure() -> None:
    calls = []

    def run(args, **kwargs):
        calls.append(args)
        return types.SimpleNamespace(returncode=1, stdout="hw.physicalcpu: 8\n",
                                     stderr="sysctl: unknown oid 'kern.hv_vmm_present'")

    assert macos.read_sysctl(run) == "hw.physicalcpu: 8\n"
    assert calls == [["sysctl", *macos.SYSCTL_ARGS]]
    assert macos.read_sysctl(lambda *a, **k: (_ for _ in ()).throw(FileNotFoundError())) is None


def test_detect_on_simulated_macos_reads_sysctl(monkeypatch: pytest.MonkeyPatch) -> None:
    _simulate(monkeypatch, "macos")
    text = (FIXTURES / "macos-m4-pro.txt").read_text()
    monkeypatch.setattr(macos, "read_sysctl", lambda run=None: text)
    topo = detect()
    assert (topo.source, topo.logical_cores) == ("sysctl", 14)
    monkeypatch.setattr(macos, "read_sysctl", lambda run=None: None)
    assert detect().source != "sysctl"  # sysctl gave nothing: the old path (psutil on a Mac)


# --------------------------------------------------------------------------- Windows


class _Groupaffinity(ctypes.Structure):
    _fields_ = [("Mask", ctypes.c_uint64), ("Group", ctypes.c_uint16), ("Reserved", ctypes.c_uint16 * 3)]


class _ProcessorRelationship(ctypes.Structure):
    _fields_ = [("Flags", ctypes.c_uint8), ("EfficiencyClass", ctypes.c_uint8),
                ("Reserved", ctypes.c_uint8 * 20), ("GroupCount", ctypes.c_uint16),
                ("GroupMask", _Groupaffinity * 1)]


class _CacheRelationship(ctypes.Structure):
    _fields_ = [("Level", ctypes.c_uint8), ("Associativity", ctypes.c_uint8),
                ("LineSize", ctypes.c_uint16), ("CacheSize", ctypes.c_uint32),
                ("Type", ctypes.c_uint32), ("Reserved", ctypes.c_uint8 * 18),
                ("GroupCount", ctypes.c_uint16), ("GroupMask", _Groupaffinity * 1)]


class _GroupInfo(ctypes.Structure):
    _fields_ = [("MaximumProcessorCount", ctypes.c_uint8), ("ActiveProcessorCount", ctypes.c_uint8),
                ("Reserved", ctypes.c_uint8 * 38), ("ActiveProcessorMask", ctypes.c_uint64)]


class _GroupRelationship(ctypes.Structure):
    _fields_ = [("MaximumGroupCount", ctypes.c_uint16), ("ActiveGroupCount", ctypes.c_uint16),
                ("Reserved", ctypes.c_uint8 * 20), ("GroupInfo", _GroupInfo * 1)]


class _Info(ctypes.Structure):
    class _U(ctypes.Union):
        _fields_ = [("Processor", _ProcessorRelationship), ("Cache", _CacheRelationship),
                    ("Group", _GroupRelationship)]

    _anonymous_ = ("u",)
    _fields_ = [("Relationship", ctypes.c_uint32), ("Size", ctypes.c_uint32), ("u", _U)]


def test_buffer_layout_is_winnt_h_as_ctypes_lays_it_out() -> None:
    # ctypes lays the structures out as a C compiler does (natural alignment, as MSVC on x64):
    # the offsets the parser and the fixture builder use by hand must be the same.
    assert ctypes.sizeof(_Groupaffinity) == 16
    assert _ProcessorRelationship.GroupCount.offset == 22 and _ProcessorRelationship.GroupMask.offset == 24
    assert _CacheRelationship.GroupCount.offset == 30 and _CacheRelationship.GroupMask.offset == 32
    assert ctypes.sizeof(_GroupInfo) == 48 and _GroupRelationship.GroupInfo.offset == 24
    assert ctypes.sizeof(_Info) == 80  # SYSTEM_LOGICAL_PROCESSOR_INFORMATION_EX on x64
    machine = MACHINES["i5-14600k"]
    buffer = build(machine)
    info = _Info.from_buffer_copy(buffer[:48].ljust(80, b"\0"))  # the first record: core 0
    assert (info.Relationship, info.Size) == (0, 48)
    assert (info.Processor.Flags, info.Processor.EfficiencyClass, info.Processor.GroupCount) == (1, 1, 1)
    assert (info.Processor.GroupMask[0].Group, info.Processor.GroupMask[0].Mask) == (0, 0b11)
    offset = 0  # the first cache record, read by ctypes
    while int.from_bytes(buffer[offset:offset + 4], "little") != CACHE:
        offset += int.from_bytes(buffer[offset + 4:offset + 8], "little")
    cache = _Info.from_buffer_copy(buffer[offset:offset + 56].ljust(80, b"\0")).Cache
    assert (cache.Level, cache.CacheSize, cache.Type, cache.LineSize) == (1, 48 << 10, 2, 64)
    assert cache.GroupMask[0].Mask == 0b11


@pytest.mark.parametrize("name", sorted(MACHINES))
def test_windows_fixture_json_matches_coreinfo(name: str, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    machine = MACHINES[name]
    path = tmp_path / f"{name}.bin"
    path.write_bytes(build(machine))
    assert main(["--windows-buffer-file", str(path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    want = machine.expected
    assert data["source"] == "GetLogicalProcessorInformationEx"
    assert (data["logical_cores"], data["physical_cores"], data["threads_per_core"]) == (
        want["logical"], want["physical"], want["threads_per_core"])
    assert (data["sockets"], data["numa_nodes"]) == (want["sockets"], want["numa"])
    assert {k: format_cpu_list(v) for k, v in data["core_types"].items()} == want["core_types"]
    assert _cache_counts(data["caches"]) == want["caches"]
    assert sum(c["size_bytes"] for c in data["caches"] if c["level"] == 2) == want["l2_total"]
    assert {c["size_bytes"] for c in data["caches"] if c["level"] == 3} == {want["l3"]}
    # LTP_PC_SMT agrees with the processors each core record lists
    per_core: dict[int, int] = {}
    for e in data["cpus"]:
        per_core[e["core"]] = per_core.get(e["core"], 0) + 1
    assert [c["smt"] for c in data["os_details"]["cores"]] == [per_core[c["core"]] > 1
                                                                for c in data["os_details"]["cores"]]


def test_windows_hybrid_core_kinds_and_ladder() -> None:
    topo = detect(windows_buffer=build(MACHINES["i5-14600k"]))
    assert topo.core_types == {"performance": list(range(12)), "efficiency": list(range(12, 20))}
    assert {e["core_type"] for e in topo.cpus if e["cpu"] >= 12} == {"efficiency"}
    # the ladder has a rung at the 6 performance cores, before the E-cores join in
    assert worker_ladder(topo) == [1, 2, 4, 6, 8, 14, 16, 20, 40]
    assert pinning_plan(topo, "physical", 6) == [[0], [2], [4], [6], [8], [10]]
    assert topo.affinity_source == windows.AFFINITY_SOURCE


def test_windows_processor_groups_number_on() -> None:
    topo = detect(windows_buffer=build(MACHINES["two-group-server"]), affinity=[0, 1])
    assert topo.os_details["groups"] == [{"group": 0, "active_cpus": 48, "max_cpus": 64},
                                         {"group": 1, "active_cpus": 48, "max_cpus": 64}]
    second = [e for e in topo.cpus if e["socket"] == 1]
    assert [e["cpu"] for e in second] == list(range(48, 96))
    assert {e["numa_node"] for e in second} == {1}
    # psutil sees only the primary group: with several groups every CPU counts as usable
    assert topo.affinity_cpus == list(range(96))
    assert "processor groups" in (topo.affinity_source or "")


def test_windows_10_cache_records_without_group_count() -> None:
    # Windows 10's CACHE_RELATIONSHIP has Reserved[20] where Windows 11 has GroupCount: 0 there
    body = bytes([2, 16]) + (64).to_bytes(2, "little") + (2 * MiB).to_bytes(4, "little")
    body += (0).to_bytes(4, "little") + bytes(20) + (0b1111).to_bytes(8, "little") + bytes(8)
    record = (2).to_bytes(4, "little") + (8 + len(body)).to_bytes(4, "little") + body
    (rec,) = windows.parse_buffer(record)
    assert (rec.level, rec.cache_type, rec.size_bytes) == (2, "Unified", 2 * MiB)
    assert rec.masks == [windows.GroupMask(0, 0b1111)]


@pytest.mark.parametrize("cut", [3, 47, 60])
def test_windows_truncated_buffer_is_one_line(cut: int) -> None:
    with pytest.raises(ValueError, match="processor information"):
        windows.parse_buffer(build(MACHINES["i5-14600k"])[:cut])


def test_windows_bad_buffer_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.bin"
    path.write_bytes(b"\0\0\0\0\x04\0\0\0")
    assert main(["--windows-buffer-file", str(path)]) == 2
    assert capsys.readouterr().err.count("\n") == 1


class _FakeKernel32:
    """Records kernel32 calls; answers as Windows would for ``buffer`` and ``groups``."""

    def __init__(self, buffer: bytes = b"", groups: tuple[int, ...] = (20,), where: tuple[int, int] = (0, 0)):
        self.buffer, self.groups, self.where, self.calls = buffer, groups, where, []
        outer = self

        def glpi(relation, buf, plen):
            outer.calls.append(("GetLogicalProcessorInformationEx", relation))
            size = plen._obj
            if buf is None or size.value < len(outer.buffer):
                size.value = len(outer.buffer)
                return 0
            ctypes.memmove(buf, outer.buffer, len(outer.buffer))
            size.value = len(outer.buffer)
            return 1

        def processor_number(ref):
            ref._obj.Group, ref._obj.Number = outer.where

        def create_job(attrs, name):
            outer.calls.append(("CreateJobObjectW", attrs, name))
            return 4242

        def set_info(handle, info_class, ref, size):
            info = ref._obj
            outer.calls.append(("SetInformationJobObject", handle.value, info_class,
                                info.BasicLimitInformation.LimitFlags, size))
            return 1

        self.GetLogicalProcessorInformationEx = glpi
        self.GetCurrentProcessorNumberEx = processor_number
        self.GetActiveProcessorCount = lambda group: self.groups[group]
        self.CreateJobObjectW = create_job
        self.SetInformationJobObject = set_info
        self.AssignProcessToJobObject = lambda job, proc: self.calls.append(
            ("AssignProcessToJobObject", job.value, proc.value)) or 1
        self.TerminateJobObject = lambda job, code: self.calls.append(("TerminateJobObject", job.value))
        self.CloseHandle = lambda handle: self.calls.append(("CloseHandle", handle.value))


def test_windows_read_buffer_through_fake_kernel32() -> None:
    buffer = build(MACHINES["core-ultra-7-165u"])
    k32 = _FakeKernel32(buffer)
    assert windows.read_buffer(k32) == buffer
    assert k32.calls[0] == ("GetLogicalProcessorInformationEx", windows.RELATION_ALL)


def test_detect_on_simulated_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    _simulate(monkeypatch, "windows")
    monkeypatch.setattr(windows, "kernel32", lambda: _FakeKernel32(build(MACHINES["i5-14600k"])))
    monkeypatch.setattr(platform_topology, "_psutil_affinity", lambda: [0, 1, 2, 3])
    topo = detect()
    assert (topo.source, topo.logical_cores, topo.affinity_cpus) == (
        "GetLogicalProcessorInformationEx", 20, [0, 1, 2, 3])


def test_windows_current_cpu_counts_earlier_groups() -> None:
    assert windows.current_cpu(_FakeKernel32(groups=(48, 48), where=(1, 5))) == 53
    assert windows.current_cpu(_FakeKernel32(groups=(20,), where=(0, 7))) == 7


# --------------------------------------------------------------------------- pinning


def test_pinning_refused_on_macos_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    _simulate(monkeypatch, "macos")
    assert not pinning.can_pin()
    message = pinning.pinning_refusal("compact", BACKENDS["process_pool"])
    assert message is not None and "\n" not in message
    assert message.startswith("pinning=compact: macOS cannot pin") and "pinning=none" in message
    assert pinning.pinning_refusal("none", BACKENDS["thread_pool"]) is None


def test_check_job_refuses_pinning_on_simulated_macos(hydra_ctx, monkeypatch: pytest.MonkeyPatch) -> None:
    from hydra import compose

    from coresweep.experiments.plan.sweep import ConfigError, check_job

    _simulate(monkeypatch, "macos")
    cfg = compose("config", overrides=["backend=process_pool", "pinning=physical", "workers=1"])
    with pytest.raises(ConfigError, match="^pinning=physical: macOS cannot pin"):
        check_job(cfg)


def test_pinning_on_windows_is_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    _simulate(monkeypatch, "windows")
    hybrid = detect(windows_buffer=build(MACHINES["i5-14600k"]))
    for name in ("process", "pool", "process_pool", "joblib_loky", "joblib_multiprocessing"):
        assert pinning.pinning_refusal("compact", BACKENDS[name], hybrid) is None, name
    for name in ("thread", "thread_pool", "joblib_threading"):
        message = pinning.pinning_refusal("scatter", BACKENDS[name], hybrid)
        assert message is not None and "not threads" in message and "\n" not in message
    server = detect(windows_buffer=build(MACHINES["two-group-server"]))
    message = pinning.pinning_refusal("compact", BACKENDS["process_pool"], server)
    assert message is not None and "2 processor groups" in message


def test_windows_pinning_goes_through_psutil_cpu_affinity(monkeypatch: pytest.MonkeyPatch) -> None:
    _simulate(monkeypatch, "windows")
    calls: list[list[int]] = []

    class FakeProcess:
        def cpu_affinity(self, cpus=None):
            if cpus is None:
                return list(range(20))
            calls.append(list(cpus))

    monkeypatch.setattr(pinning, "_psutil_process", lambda: FakeProcess())
    monkeypatch.setattr(windows, "current_cpu", lambda: 6)
    pinner = pinning.Pinner([[6], [8]], workers_per_run=False)
    try:
        task = pinner.wrap(abs)
        assert [task(-3), task(-4)] == [3, 4]  # one worker here: claims slot 0 once
        ok, seen = pinner.verdict()
    finally:
        pinner.close()
    assert calls == [[6], list(range(20))]  # pinned, then the affinity put back
    assert ok and seen == {0: [6]}


# --------------------------------------------------------------------------- start methods


@pytest.mark.parametrize("system", ["macos", "windows"])
def test_auto_start_method_is_spawn(monkeypatch: pytest.MonkeyPatch, system: str) -> None:
    _simulate(monkeypatch, system)
    backend = BACKENDS["process_pool"](2)
    assert backend.start_method == "spawn"
    assert backend.context().get_start_method() == "spawn"
    assert BACKENDS["thread_pool"](2).start_method == "thread"


def test_start_method_python_lacks_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    # Windows's Python has only spawn: fork is refused in one line, naming what there is
    from coresweep.experiments.plan import sweep

    monkeypatch.setattr(sweep, "available_start_methods", lambda: ["spawn"])
    with pytest.raises(sweep.ConfigError, match=r"^start_method=fork: not available on this "
                                                r"platform; choose one of auto, spawn$"):
        sweep.check_start_method("fork")


def test_linux_keeps_pythons_default_start_method() -> None:
    import multiprocessing as mp

    if platforms.system() != "linux":
        pytest.skip("Linux only")
    assert BACKENDS["process_pool"](2).start_method == mp.get_start_method()


# --------------------------------------------------------------------------- job isolation


@pytest.mark.parametrize("system", ["macos", "windows"])
def test_no_fork_job_server_off_linux(monkeypatch: pytest.MonkeyPatch, system: str) -> None:
    _simulate(monkeypatch, system)
    where = isolation.Isolation()
    where.start_server()
    assert where.server is None
    assert isinstance(where.runner(None), isolation.FreshInterpreter)


def test_kill_on_close_job_through_fake_kernel32() -> None:
    k32 = _FakeKernel32()
    job = winjob.KillOnCloseJob(k32)
    job.assign(77)
    job.terminate()
    job.close()
    job.close()  # once only
    size = ctypes.sizeof(winjob.ExtendedLimitInformation)
    assert k32.calls == [
        ("CreateJobObjectW", None, None),
        ("SetInformationJobObject", 4242, 9, winjob.JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE, size),
        ("AssignProcessToJobObject", 4242, 77),
        ("TerminateJobObject", 4242),
        ("CloseHandle", 4242),
    ]
    if ctypes.sizeof(ctypes.c_void_p) == 8:
        assert size == 144  # JOBOBJECT_EXTENDED_LIMIT_INFORMATION on 64-bit Windows


def test_fresh_job_on_windows_starts_suspended_inside_its_job(monkeypatch: pytest.MonkeyPatch,
                                                              tmp_path: Path) -> None:
    _simulate(monkeypatch, "windows")
    events: list[tuple] = []

    class FakeJob:
        def assign(self, handle):
            events.append(("assign", handle))

        def terminate(self):
            events.append(("terminate",))

        def close(self):
            events.append(("close",))

    class FakePopen:
        def __init__(self, args, **kwargs):
            events.append(("popen", kwargs.get("creationflags")))
            self.pid, self._handle = 321, 99

        def kill(self):
            events.append(("kill",))

    monkeypatch.setattr(winjob, "KillOnCloseJob", FakeJob)
    monkeypatch.setattr(winjob, "resume", lambda pid: events.append(("resume", pid)))
    monkeypatch.setattr(isolation.subprocess, "Popen", FakePopen)
    child = isolation.FreshInterpreter().start(["req", "res"], str(tmp_path / "err"), {})
    assert events == [("popen", winjob.CREATE_SUSPENDED), ("assign", 99), ("resume", 321)]
    child.signal_group(2)  # Ctrl-C or a kill: the job's whole tree ends
    child.close()
    assert events[3:] == [("terminate",), ("close",)]


def test_failed_start_on_windows_closes_its_job(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _simulate(monkeypatch, "windows")
    closed = []

    class FakeJob:
        def close(self):
            closed.append(True)

    def popen(*args, **kwargs):
        raise FileNotFoundError("no such interpreter")

    monkeypatch.setattr(winjob, "KillOnCloseJob", FakeJob)
    monkeypatch.setattr(isolation.subprocess, "Popen", popen)
    with pytest.raises(FileNotFoundError):
        isolation.FreshInterpreter().start([], str(tmp_path / "err"), {})
    assert closed == [True]


def test_macos_job_ends_when_its_parent_exits(monkeypatch: pytest.MonkeyPatch) -> None:
    ended = threading.Event()
    registered = []

    class FakeKqueue:
        def control(self, changes, max_events, timeout=None):
            if changes:
                registered.extend(changes)
                return []
            return [changes]  # the parent exited

    fake_select = types.SimpleNamespace(
        kqueue=FakeKqueue, kevent=lambda ident, **kw: {"ident": ident, **kw},
        KQ_FILTER_PROC=-5, KQ_EV_ADD=1, KQ_EV_ONESHOT=16, KQ_NOTE_EXIT=0x80000000,
    )
    monkeypatch.setattr(job_child, "_end_group", lambda signum, frame: ended.set())
    thread = job_child.watch_parent_exit(1234, fake_select)
    thread.join(10)
    assert ended.is_set()
    assert registered == [{"ident": 1234, "filter": -5, "flags": 17, "fflags": 0x80000000}]
