"""Topology detection on fake machines (sysfs trees in tmp_path) and on this one."""

from __future__ import annotations

import json
import platform
import shutil
import struct
import subprocess
import sys

import pytest

from coresweep.experiments.machine.topology import (
    Topology,
    detect,
    format_cpu_list,
    parse_cpu_list,
    parse_cpus_option,
    pinning_plan,
    restrict,
    worker_ladder,
)
from coresweep.experiments.machine.topology_cli import main

from .sysfs_trees import (
    Core,
    Machine,
    hybrid,
    regular,
    write_cgroup_v1,
    write_cgroup_v2,
    write_tree,
)

DESIGN_KEYS = {"logical_cores", "physical_cores", "threads_per_core", "sockets", "numa_nodes",
               "affinity_cpus", "usable_cpus", "cpu_model", "core_types", "caches", "cpus"}


def _detect(tmp_path, machine, affinity=None, **extra):
    roots = write_tree(tmp_path, machine)
    cpus = affinity if affinity is not None else machine.all_cpus
    return detect(**roots.kwargs, affinity=cpus, **extra)


# --------------------------------------------------------------------------- cpu lists


@pytest.mark.parametrize(
    ("text", "cpus"),
    [("0-3,8,10-11", [0, 1, 2, 3, 8, 10, 11]), ("5", [5]), ("", []), ("0-1\n", [0, 1]),
     (" 2 , 0 ", [0, 2]), ("0-7:2/4", [0, 1, 4, 5]), ("3,3,1-2", [1, 2, 3])],
)
def test_parse_cpu_list(text, cpus):
    assert parse_cpu_list(text) == cpus


@pytest.mark.parametrize("text", ["a", "3-1", "1-", "-1", "0-3:3/2", "1;2", "0-99999999"])
def test_parse_cpu_list_rejects_garbage(text):
    with pytest.raises(ValueError, match="CPU list"):
        parse_cpu_list(text)


@pytest.mark.parametrize("cpus", [[], [0], [0, 1, 2, 3, 8, 10, 11], [7, 1, 2], [1, 3, 5]])
def test_format_cpu_list_round_trips(cpus):
    assert parse_cpu_list(format_cpu_list(cpus)) == sorted(cpus)


def test_format_cpu_list_matches_kernel_style():
    assert format_cpu_list([0, 1, 2, 3, 8, 10, 11]) == "0-3,8,10-11"


# --------------------------------------------------------------------------- machines


def test_smt_single_socket(tmp_path):
    topo = _detect(tmp_path, regular(sockets=1, cores_per_socket=4, threads=2))
    assert topo.source == "sysfs"
    assert topo.counts() == {"logical_cores": 8, "physical_cores": 4, "sockets": 1,
                             "numa_nodes": 1, "affinity_cpus": 8, "usable_cpus": 8}
    assert topo.threads_per_core == 2
    assert topo.cpu_model == "Fake CPU @ 3.00GHz"
    assert topo.core_types == {}
    assert topo.offline_cpus == []
    assert topo.cpu_quota is None
    # CPU n and n+4 are siblings (Linux numbering): same core.
    core_of = {e["cpu"]: e["core"] for e in topo.cpus}
    assert core_of[0] == core_of[4] != core_of[1]
    assert worker_ladder(topo) == [1, 2, 4, 8, 16]


def test_smt_pinning_plans(tmp_path):
    topo = _detect(tmp_path, regular(sockets=1, cores_per_socket=4, threads=2))
    assert pinning_plan(topo, "none", 2) == [list(range(8))] * 2
    assert pinning_plan(topo, "compact", 4) == [[0], [4], [1], [5]]
    assert pinning_plan(topo, "scatter", 5) == [[0], [1], [2], [3], [4]]
    assert pinning_plan(topo, "physical", 4) == [[0], [1], [2], [3]]
    # Beyond the CPUs, plans wrap around (oversubscription) ...
    assert pinning_plan(topo, "compact", 10)[8:] == [[0], [4]]
    # ... except physical, which promises a core per worker.
    with pytest.raises(ValueError, match="physical.*5 workers.*4 physical"):
        pinning_plan(topo, "physical", 5)


def test_pinning_rejects_unknown_mode_and_bad_workers(tmp_path):
    topo = _detect(tmp_path, regular())
    with pytest.raises(ValueError, match="pinning='spread' is not one of: none, compact"):
        pinning_plan(topo, "spread", 2)
    with pytest.raises(ValueError, match="workers=0"):
        pinning_plan(topo, "compact", 0)


def test_two_sockets_two_numa_nodes_each(tmp_path):
    machine = regular(sockets=2, cores_per_socket=4, threads=2, nodes_per_socket=2)
    topo = _detect(tmp_path, machine)
    assert topo.counts() == {"logical_cores": 16, "physical_cores": 8, "sockets": 2,
                             "numa_nodes": 4, "affinity_cpus": 16, "usable_cpus": 16}
    node_of = {e["cpu"]: e["numa_node"] for e in topo.cpus}
    socket_of = {e["cpu"]: e["socket"] for e in topo.cpus}
    assert [node_of[c] for c in range(8)] == [0, 0, 1, 1, 2, 2, 3, 3]
    # core_id repeats across sockets (0-3 on each); cores must still be told apart.
    assert len({e["core"] for e in topo.cpus}) == 8

    scatter = [cpus[0] for cpus in pinning_plan(topo, "scatter", 8)]
    # Alternate sockets first, then NUMA nodes within a socket, SMT siblings last.
    assert [socket_of[c] for c in scatter[:4]] == [0, 1, 0, 1]
    assert [node_of[c] for c in scatter[:4]] == [0, 2, 1, 3]
    assert len({c % 8 for c in scatter}) == 8  # one per physical core before any sibling

    compact = [cpus[0] for cpus in pinning_plan(topo, "compact", 4)]
    assert compact == [0, 8, 1, 9]  # fill siblings, stay on node 0 of socket 0
    physical = [cpus[0] for cpus in pinning_plan(topo, "physical", 8)]
    assert sorted(physical) == list(range(8))
    assert worker_ladder(topo) == [1, 2, 4, 8, 16, 32]


def test_hybrid_laptop(tmp_path):
    topo = _detect(tmp_path, hybrid(p_cores=6, e_cores=8))
    assert topo.logical_cores == 20
    assert topo.physical_cores == 14
    assert topo.threads_per_core == 2
    assert topo.core_types == {"performance": list(range(12)), "efficiency": list(range(12, 20))}
    types = {e["cpu"]: e["core_type"] for e in topo.cpus}
    assert types[0] == types[11] == "performance"
    assert types[12] == types[19] == "efficiency"
    # a rung at the 6 performance cores (one worker per fast core), before E-cores join in
    assert worker_ladder(topo) == [1, 2, 4, 6, 8, 14, 16, 20, 40]
    assert [c[0] for c in pinning_plan(topo, "physical", 14)] == [*range(0, 12, 2), *range(12, 20)]
    with pytest.raises(ValueError, match="15 workers"):
        pinning_plan(topo, "physical", 15)


def test_big_little_from_cpu_capacity(tmp_path):
    cores = [Core((i,), capacity=1024) for i in range(4)]
    cores += [Core((4 + i,), capacity=1010) for i in range(2)]  # favoured cores: same tier
    cores += [Core((6 + i,), capacity=446) for i in range(2)]
    topo = _detect(tmp_path, Machine(cores))
    assert topo.core_types == {"performance": [0, 1, 2, 3, 4, 5], "efficiency": [6, 7]}


def test_three_capacity_tiers(tmp_path):
    caps = [1024, 1024, 870, 870, 870, 300, 300, 300]
    topo = _detect(tmp_path, Machine([Core((i,), capacity=c) for i, c in enumerate(caps)]))
    assert topo.core_types == {"performance": [0, 1], "mid": [2, 3, 4],
                               "efficiency": [5, 6, 7]}


def test_arm_package_id_minus_one(tmp_path):
    roots = write_tree(tmp_path, regular(cores_per_socket=4, threads=1))
    for cpu in range(4):
        topo_dir = roots.sysfs / "devices" / "system" / "cpu" / f"cpu{cpu}" / "topology"
        (topo_dir / "physical_package_id").write_text("-1\n")
    topo = detect(**roots.kwargs, affinity=range(4))
    assert (topo.sockets, topo.physical_cores) == (1, 4)


def test_equal_capacities_are_not_hybrid(tmp_path):
    topo = _detect(tmp_path, Machine([Core((i,), capacity=1024) for i in range(4)]))
    assert topo.core_types == {}


def test_container_cgroup_v2_quota_and_affinity(tmp_path):
    roots = write_tree(tmp_path, regular(sockets=1, cores_per_socket=8, threads=2))
    write_cgroup_v2(roots, "200000 100000", path="/kubepods/pod1/ctr")
    (roots.root / ".dockerenv").touch()
    topo = detect(**roots.kwargs, affinity=[0, 1, 2, 3])
    assert topo.logical_cores == 16
    assert topo.affinity_cpus == [0, 1, 2, 3]
    assert topo.cpu_quota == 2.0
    assert topo.usable_cpus == 2
    assert topo.counts()["affinity_cpus"] == 4
    assert topo.in_container
    assert "cpu.max" in topo.cpu_quota_source
    assert worker_ladder(topo) == [1, 2, 4]
    # Plans only ever use the CPUs this process may run on.
    assert pinning_plan(topo, "none", 1) == [[0, 1, 2, 3]]
    assert sorted(c[0] for c in pinning_plan(topo, "compact", 4)) == [0, 1, 2, 3]
    assert pinning_plan(topo, "physical", 4) == [[0], [1], [2], [3]]


@pytest.mark.parametrize(
    ("cpu_max", "ancestors", "quota", "usable"),
    [("max 100000", (), None, 4), ("150000 100000", (), 1.5, 1.5),
     ("max 100000", [("/kubepods", "100000 100000")], 1.0, 1),
     ("800000 100000", [("/kubepods", "300000 100000")], 3.0, 3),
     ("1600000 100000", (), 16.0, 4), ("garbage", (), None, 4)],
)
def test_cgroup_v2_cpu_max_forms(tmp_path, cpu_max, ancestors, quota, usable):
    roots = write_tree(tmp_path, regular(sockets=1, cores_per_socket=8, threads=2))
    write_cgroup_v2(roots, cpu_max, path="/kubepods/pod1", ancestors=ancestors)
    topo = detect(**roots.kwargs, affinity=[0, 1, 2, 3])
    assert topo.cpu_quota == quota
    assert topo.usable_cpus == usable


def test_cgroup_v2_unresolvable_path_falls_back_to_root(tmp_path):
    # Without a cgroup namespace the container sees the host's path, which is not mounted.
    roots = write_tree(tmp_path, regular())
    write_cgroup_v2(roots, "100000 100000", path="/")
    (roots.proc / "self" / "cgroup").write_text("0::/system.slice/docker-abc.scope\n")
    topo = detect(**roots.kwargs, affinity=[0, 1, 2, 3])
    assert topo.cpu_quota == 1.0
    assert topo.in_container  # "docker" in the cgroup path


def test_cgroup_v1_quota(tmp_path):
    roots = write_tree(tmp_path, regular(sockets=1, cores_per_socket=4, threads=2))
    write_cgroup_v1(roots, quota_us=300000, period_us=100000, path="/docker/abc")
    topo = detect(**roots.kwargs, affinity=list(range(8)))
    assert topo.cpu_quota == 3.0
    assert topo.usable_cpus == 3
    assert "cfs_quota_us" in topo.cpu_quota_source
    assert worker_ladder(topo) == [1, 2, 3, 6]


def test_cgroup_v1_without_quota(tmp_path):
    roots = write_tree(tmp_path, regular())
    write_cgroup_v1(roots, quota_us=-1, mount="cpu")
    topo = detect(**roots.kwargs, affinity=list(range(8)))
    assert topo.cpu_quota is None
    assert topo.usable_cpus == 8


def test_offline_cpus(tmp_path):
    machine = regular(sockets=1, cores_per_socket=4, threads=2)
    machine.offline = [6, 7]  # SMT siblings of cores 2 and 3 switched off
    topo = _detect(tmp_path, machine, affinity=list(range(6)))
    assert topo.logical_cores == 6
    assert topo.physical_cores == 4
    assert topo.offline_cpus == [6, 7]
    offline = [e for e in topo.cpus if not e["online"]]
    assert [e["cpu"] for e in offline] == [6, 7]
    assert all(e["core"] is None for e in offline)
    assert pinning_plan(topo, "physical", 4) == [[0], [1], [2], [3]]
    with pytest.raises(ValueError, match="not online"):
        parse_cpus_option("5-6", topo)


def test_missing_sysfs_falls_back_to_psutil(tmp_path, monkeypatch):
    import psutil

    monkeypatch.setattr(psutil, "cpu_count", lambda logical=True: 20 if logical else 14)
    topo = detect(sysfs_root=tmp_path / "nosys", proc_root=tmp_path / "noproc",
                  cgroup_root=tmp_path / "nocg", root=tmp_path, affinity=range(20))
    assert topo.source == "psutil"
    assert (topo.logical_cores, topo.physical_cores, topo.threads_per_core) == (20, 14, 2)
    assert topo.sockets == topo.numa_nodes == 1
    assert topo.cpu_model  # platform fallback, never empty
    assert worker_ladder(topo) == [1, 2, 4, 8, 14, 16, 20, 40]


def test_unreadable_files_degrade(tmp_path):
    roots = write_tree(tmp_path, regular(sockets=1, cores_per_socket=2, threads=2))
    cpu_dir = roots.sysfs / "devices" / "system" / "cpu"
    (cpu_dir / "cpu1" / "topology" / "core_id").write_text("garbage\n")
    shutil.rmtree(cpu_dir / "cpu3" / "topology")
    shutil.rmtree(cpu_dir / "cpu0" / "cache" / "index2")
    (cpu_dir / "online").unlink()  # then cpuN directories are counted
    (roots.proc / "cpuinfo").unlink()
    topo = detect(**roots.kwargs, affinity=[0, 1, 2, 3])
    assert topo.logical_cores == 4
    assert 1 <= topo.physical_cores <= 4
    assert topo.cpu_model
    json.dumps(topo.to_dict())


def test_foreign_affinity_is_ignored(tmp_path):
    # An affinity that names no CPU of the described machine (e.g. the real process's
    # affinity against a fake tree) must not leave the topology without usable CPUs.
    topo = _detect(tmp_path, regular(cores_per_socket=2, threads=1), affinity=[40, 41])
    assert topo.affinity_cpus == [0, 1]


@pytest.mark.parametrize(
    "marker", [".dockerenv", "run/.containerenv", "proc/1/environ"]
)
def test_container_markers(tmp_path, marker):
    roots = write_tree(tmp_path, regular(cores_per_socket=2, threads=1))
    assert not detect(**roots.kwargs, affinity=[0, 1]).in_container
    if marker == "proc/1/environ":
        path = roots.proc / "1" / "environ"
        path.parent.mkdir(parents=True)
        path.write_bytes(b"PATH=/bin\0container=lxc\0")
    else:
        path = roots.root / marker
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
    assert detect(**roots.kwargs, affinity=[0, 1]).in_container


def test_xen_guest_without_x86_flags(tmp_path):
    roots = write_tree(tmp_path, regular(cores_per_socket=2, threads=1))
    (roots.proc / "cpuinfo").write_text("processor\t: 0\nCPU implementer\t: 0x41\n")
    (roots.sysfs / "hypervisor").mkdir()
    (roots.sysfs / "hypervisor" / "type").write_text("xen\n")
    topo = detect(**roots.kwargs, affinity=[0, 1])
    assert topo.virtualized and topo.hypervisor == "Xen"


def test_virtualization_detection(tmp_path):
    machine = regular(cores_per_socket=2, threads=1)
    machine.hypervisor_flag, machine.dmi_vendor, machine.dmi_product = True, "QEMU", "Standard PC"
    topo = _detect(tmp_path / "vm", machine)
    assert topo.virtualized and topo.hypervisor == "QEMU"

    machine.hypervisor_flag, machine.dmi_vendor, machine.dmi_product = False, "Amazon EC2", "m5.metal"
    topo = _detect(tmp_path / "metal", machine)
    assert not topo.virtualized and topo.hypervisor is None and not topo.in_container


def fake_cpuid(signatures):
    """A CPUID that answers the hypervisor leaves with these vendor ids (``leaf -> text``);
    records the leaves asked for in ``.asked``."""
    def cpuid(leaf):
        cpuid.asked.append(leaf)
        if leaf not in signatures:
            return (0, 0, 0, 0)
        ebx, ecx, edx = struct.unpack("<III", signatures[leaf].encode().ljust(12, b"\0"))
        return (0x40000001, ebx, ecx, edx)

    cpuid.asked = []
    return cpuid


def _vm(tmp_path, vendor=None, product=None, flag=True):
    machine = regular(cores_per_socket=2, threads=1)
    machine.hypervisor_flag, machine.dmi_vendor, machine.dmi_product = flag, vendor, product
    return write_tree(tmp_path, machine)


KVM = {0x40000000: "KVMKVMKVM"}


@pytest.mark.parametrize(
    ("vendor", "product", "cpuid", "systemd", "expected"),
    [
        # this machine's case: a KVM guest without DMI (no /sys/class/dmi); lscpu says KVM
        (None, None, KVM, None, ("KVM", "cpuid", "KVMKVMKVM")),
        # QEMU's board under KVM: DMI names the device model, CPUID the hypervisor
        ("QEMU", "Standard PC (Q35 + ICH9, 2009)", KVM, None, ("KVM", "cpuid", "KVMKVMKVM")),
        ("QEMU", "Standard PC (i440FX + PIIX, 1996)", {0x40000000: "TCGTCGTCGTCG"}, None,
         ("QEMU", "cpuid", "TCGTCGTCGTCG")),
        ("QEMU", "Standard PC (i440FX + PIIX, 1996)", None, None, ("QEMU", "dmi", None)),
        # clouds: DMI names the cloud, CPUID the hypervisor underneath (kept beside it)
        ("Amazon EC2", "m5.large", KVM, None, ("Amazon EC2", "dmi", "KVMKVMKVM")),
        ("Google", "Google Compute Engine", KVM, None, ("Google Compute Engine", "dmi", "KVMKVMKVM")),
        ("Microsoft Corporation", "Virtual Machine", {0x40000000: "Microsoft Hv"}, None,
         ("Hyper-V", "dmi", "Microsoft Hv")),
        ("VMware, Inc.", "VMware Virtual Platform", {0x40000000: "VMwareVMware"}, None,
         ("VMware", "dmi", "VMwareVMware")),
        # KVM with Hyper-V enlightenments: "Microsoft Hv" first, KVM at 0x40000100
        (None, None, {0x40000000: "Microsoft Hv", 0x40000100: "KVMKVMKVM"}, None,
         ("KVM", "cpuid", "Microsoft Hv")),
        (None, None, {0x40000000: "Microsoft Hv"}, None, ("Hyper-V", "cpuid", "Microsoft Hv")),
        (None, None, {0x40000000: "VBoxVBoxVBox"}, None, ("VirtualBox", "cpuid", "VBoxVBoxVBox")),
        (None, None, {0x40000000: "NewVisor"}, None, ("NewVisor", "cpuid", "NewVisor")),
        # CPUID unreadable (no executable mapping allowed): systemd-detect-virt, then nothing
        (None, None, None, "KVM", ("KVM", "systemd-detect-virt", None)),
        (None, None, {}, None, (None, None, None)),
    ],
)
def test_hypervisor_named_from_dmi_cpuid_or_systemd(tmp_path, vendor, product, cpuid, systemd, expected):
    roots = _vm(tmp_path, vendor, product)
    topo = detect(**roots.kwargs, affinity=[0, 1],
                  cpuid=fake_cpuid(cpuid) if cpuid is not None else (lambda leaf: None),
                  detect_virt=lambda: systemd)
    assert topo.virtualized
    assert (topo.hypervisor, topo.hypervisor_source, topo.hypervisor_cpuid) == expected
    again = Topology.from_dict(json.loads(json.dumps(topo.to_dict())))
    assert (again.hypervisor, again.hypervisor_source, again.hypervisor_cpuid) == expected


def test_hypervisor_leaves_are_not_read_on_bare_metal(tmp_path):
    # Without CPUID's hypervisor bit, leaf 0x40000000 holds no vendor id (Intel answers with
    # the highest basic leaf): not asked, and a cloud name in DMI means a metal instance.
    cpuid = fake_cpuid(KVM)
    roots = _vm(tmp_path, "Amazon EC2", "m5.metal", flag=False)
    topo = detect(**roots.kwargs, affinity=[0, 1], cpuid=cpuid, detect_virt=lambda: "KVM")
    assert not topo.virtualized and cpuid.asked == []
    assert (topo.hypervisor, topo.hypervisor_source, topo.hypervisor_cpuid) == (None, None, None)


def test_arm_guest_named_by_systemd_detect_virt(tmp_path):
    roots = _vm(tmp_path)
    (roots.proc / "cpuinfo").write_text("processor\t: 0\nCPU implementer\t: 0x41\n")
    topo = detect(**roots.kwargs, affinity=[0, 1], detect_virt=lambda: "KVM")
    assert topo.virtualized and (topo.hypervisor, topo.hypervisor_source) == ("KVM", "systemd-detect-virt")
    assert not detect(**roots.kwargs, affinity=[0, 1], detect_virt=lambda: None).virtualized


def test_machine_probes_are_not_used_for_a_fake_tree(tmp_path, monkeypatch):
    from coresweep.experiments.machine import topology

    def boom(*args):
        raise AssertionError("asked the real machine about a fake tree")

    monkeypatch.setattr(topology, "read_cpuid", boom)
    monkeypatch.setattr(topology, "systemd_detect_virt", boom)
    topo = detect(**_vm(tmp_path).kwargs, affinity=[0, 1])
    assert topo.virtualized and topo.hypervisor is None


def test_cli_names_the_hypervisor_and_its_source(tmp_path, capsys):
    for name, vendor, said in [("unknown", None, "(hypervisor not identified;"),
                               ("qemu", "QEMU", "(QEMU, from DMI;")]:
        roots = _vm(tmp_path / name, vendor, "Standard PC")
        argv = [f"--{key.replace('_', '-')}={path}" for key, path in roots.kwargs.items()]
        assert main([*argv, "--affinity=0-1"]) == 0
        assert f"in a virtual machine {said}" in capsys.readouterr().out


def test_cpuid_on_this_machine_agrees_with_lscpu():
    """The real CPUID read (machine code through ctypes) against lscpu's "Hypervisor vendor"."""
    from coresweep.experiments.machine.topology import hypervisor_from_cpuid, read_cpuid

    if platform.machine() != "x86_64" or not sys.platform.startswith("linux"):
        assert read_cpuid(0) is None
        return
    regs = read_cpuid(0)
    if regs is None:
        pytest.skip("CPUID cannot be read here (no executable mapping allowed)")
    vendor = struct.pack("<III", regs[1], regs[3], regs[2]).decode("ascii", "replace")
    assert vendor in ("GenuineIntel", "AuthenticAMD", "HygonGenuine", "CentaurHauls", "  Shanghai  ")
    lscpu = shutil.which("lscpu")
    if lscpu is None:
        pytest.skip("no lscpu to compare with")
    out = subprocess.run([lscpu], capture_output=True, text=True, timeout=30,
                         env={"LC_ALL": "C", "PATH": "/usr/bin:/bin"}).stdout
    said = [line.split(":", 1)[1].strip() for line in out.splitlines()
            if line.startswith("Hypervisor vendor:")]
    if not said:
        pytest.skip("lscpu names no hypervisor (bare metal?)")
    names = {"KVM": "KVM", "Microsoft": "Hyper-V", "VMware": "VMware", "Xen": "Xen"}
    if said[0] not in names:
        pytest.skip(f"lscpu's hypervisor vendor {said[0]!r} is not one this test maps")
    assert hypervisor_from_cpuid(read_cpuid)[1] == names[said[0]]
    topo = detect()
    assert topo.virtualized and topo.hypervisor is not None and topo.hypervisor_source is not None


# --------------------------------------------------------------------------- options


def test_parse_cpus_option(tmp_path):
    topo = _detect(tmp_path, regular(sockets=1, cores_per_socket=8, threads=2),
                   affinity=[2, 3, 4, 5, 10, 11])
    assert parse_cpus_option("3-4", topo) == [3, 4]
    assert parse_cpus_option([5, 2, 2], topo) == [2, 5]
    assert parse_cpus_option("count:4", topo) == [2, 3, 4, 5]  # first N of the affinity
    assert parse_cpus_option("4", topo) == [4]  # a number names a CPU
    assert parse_cpus_option(2, topo) == [2]
    assert parse_cpus_option("4-4", topo) == [4]
    assert parse_cpus_option(None, topo) == [2, 3, 4, 5, 10, 11]
    assert parse_cpus_option("all", topo) == [2, 3, 4, 5, 10, 11]
    omegaconf = pytest.importorskip("omegaconf")  # what Hydra hands over for cpus=[2,3]
    assert parse_cpus_option(omegaconf.OmegaConf.create([3, 2]), topo) == [2, 3]


@pytest.mark.parametrize(
    ("value", "message"),
    [("0-3", r"cpus=0-3: CPU 0-1 outside this process's affinity; allowed CPUs: 2-5,10-11"),
     ("count:40", r"cpus=count:40: a CPU count must be between 1 and 6"),
     ("count:0", r"cpus=count:0: a CPU count must be between 1 and 6"),
     ("0", r"cpus=0: CPU 0 outside this process's affinity"),
     (40, r"cpus=40: CPU 40 not online"),
     ("30-31", r"CPU 30-31 not online on this machine \(online: 0-15\)"),
     ("", r"cpus='': the CPU list is empty; allowed CPUs: 2-5,10-11 \(6 CPUs\)"),
     ([], r"the CPU list is empty"),
     ("zero", r"cpus='zero': not a CPU list or count"),
     (True, r"expected a CPU count or list"),
     (["a"], r"CPU ids must be integers")],
)
def test_parse_cpus_option_errors(tmp_path, value, message):
    topo = _detect(tmp_path, regular(sockets=1, cores_per_socket=8, threads=2),
                   affinity=[2, 3, 4, 5, 10, 11])
    with pytest.raises(ValueError, match=message) as info:
        parse_cpus_option(value, topo)
    assert "\n" not in str(info.value)
    assert "allowed CPUs" in str(info.value)


def test_restrict(tmp_path):
    topo = _detect(tmp_path, regular(sockets=2, cores_per_socket=4, threads=2))
    sub = restrict(topo, [0, 8])  # two siblings of one core
    assert sub.counts() == {"logical_cores": 2, "physical_cores": 1, "sockets": 1,
                            "numa_nodes": 1, "affinity_cpus": 2, "usable_cpus": 2}
    assert sub.threads_per_core == 2
    assert worker_ladder(sub) == [1, 2, 4]
    assert pinning_plan(sub, "physical", 1) == [[0]]
    cross = restrict(topo, [0, 4])
    assert (cross.sockets, cross.physical_cores, cross.threads_per_core) == (2, 2, 1)
    assert all(set(parse_cpu_list(c["shared_cpu_list"])) & {0, 4} for c in cross.caches)
    with pytest.raises(ValueError, match="not online"):
        restrict(topo, [99])
    with pytest.raises(ValueError, match="empty"):
        restrict(topo, [])


def test_restrict_keeps_quota(tmp_path):
    roots = write_tree(tmp_path, regular(sockets=1, cores_per_socket=4, threads=2))
    write_cgroup_v2(roots, "150000 100000")
    topo = detect(**roots.kwargs, affinity=range(8))
    assert restrict(topo, [0, 1, 2]).usable_cpus == 1.5
    assert restrict(topo, [0]).usable_cpus == 1


# --------------------------------------------------------------------------- contract


def test_to_dict_contract(tmp_path):
    topo = _detect(tmp_path, hybrid())
    data = json.loads(json.dumps(topo.to_dict()))
    assert set(data) >= DESIGN_KEYS
    assert isinstance(data["affinity_cpus"], list)
    for cpu in data["cpus"]:
        assert {"cpu", "core", "socket", "numa_node", "core_type", "online"} <= set(cpu)
    for cache in data["caches"]:
        assert {"level", "type", "size_bytes", "shared_cpu_list"} <= set(cache)
    l3 = [c for c in data["caches"] if c["level"] == 3]
    assert l3 == [{"level": 3, "type": "Unified", "size_bytes": 30 << 20,
                   "shared_cpu_list": "0-19"}]
    assert Topology.from_dict(data) == topo


def test_synthetic_matches_a_detected_machine(tmp_path):
    detected = _detect(tmp_path, regular(sockets=2, cores_per_socket=4, threads=2,
                                         nodes_per_socket=2))
    synthetic = Topology.synthetic(physical_cores=8, threads_per_core=2, sockets=2,
                                   numa_nodes=4)
    assert synthetic.counts() == detected.counts()
    for mode in ("compact", "scatter", "physical"):
        assert pinning_plan(synthetic, mode, 8) == pinning_plan(detected, mode, 8)


# --------------------------------------------------------------------------- this machine


def test_this_machine():
    topo = detect()
    assert topo.logical_cores >= 1
    assert 1 <= topo.physical_cores <= topo.logical_cores
    assert 0 < topo.usable_cpus <= len(topo.affinity_cpus) <= topo.logical_cores
    assert worker_ladder(topo)[0] == 1
    json.dumps(topo.to_dict())


def _lscpu_rows(*args: str) -> list[list[str]]:
    """``lscpu -p=CPU,CORE,SOCKET,NODE`` rows, or skip when lscpu is missing or fails."""
    lscpu = shutil.which("lscpu")
    if lscpu is None:
        pytest.skip("lscpu not installed")
    try:
        out = subprocess.run([lscpu, *args, "-p=CPU,CORE,SOCKET,NODE"], capture_output=True,
                             text=True, timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        pytest.skip(f"lscpu {' '.join(args)} failed: {exc}")
    return [line.split(",") for line in out.splitlines() if line and not line.startswith("#")]


def _assert_matches_lscpu(topo: Topology, rows: list[list[str]]) -> None:
    """Same online CPUs, same grouping into cores and sockets, same NUMA nodes as lscpu.

    Groupings rather than ids: lscpu numbers cores and sockets its own way.
    """
    ours = {e["cpu"]: e for e in topo.cpus if e["online"]}
    assert sorted(int(r[0]) for r in rows) == sorted(ours)

    def groups(pairs):
        found: dict[object, set[int]] = {}
        for cpu, key in pairs:
            found.setdefault(key, set()).add(cpu)
        return sorted(sorted(g) for g in found.values())

    for column, key in ((1, "core"), (2, "socket")):
        theirs = groups((int(r[0]), r[column]) for r in rows)
        assert groups((cpu, e[key]) for cpu, e in ours.items()) == theirs, key
    if all(r[3] for r in rows):  # lscpu leaves NODE empty without NUMA information
        assert {int(r[0]): int(r[3]) for r in rows} == {c: e["numa_node"] for c, e in ours.items()}


def test_this_machine_matches_lscpu():
    rows = _lscpu_rows()
    topo = detect()
    if topo.source != "sysfs":
        pytest.skip("no sysfs on this machine")
    _assert_matches_lscpu(topo, rows)


def test_this_machine_caches_match_lscpu():
    """Which CPUs share each L1d, L1i, L2 and L3 instance, as ``lscpu -p=CPU,CACHE`` says."""
    lscpu = shutil.which("lscpu")
    if lscpu is None:
        pytest.skip("lscpu not installed")
    try:
        out = subprocess.run([lscpu, "-p=CPU,CACHE"], capture_output=True, text=True, timeout=30,
                             check=True).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        pytest.skip(f"lscpu -p=CPU,CACHE failed: {exc}")
    topo = detect()
    if topo.source != "sysfs":
        pytest.skip("no sysfs on this machine")
    header = [line for line in out.splitlines() if line.startswith("#")][-1].lstrip("# ").split(",")
    rows = [line.split(",") for line in out.splitlines() if line and not line.startswith("#")]
    online = {int(r[0]) for r in rows}
    checked = 0
    for (level, kind), name in {(1, "Data"): "L1d", (1, "Instruction"): "L1i", (2, "Unified"): "L2",
                                (3, "Unified"): "L3"}.items():
        if name not in header:
            continue
        column = header.index(name)
        theirs: dict[str, set[int]] = {}
        for r in rows:
            if r[column]:
                theirs.setdefault(r[column], set()).add(int(r[0]))
        ours = sorted(sorted(set(parse_cpu_list(c["shared_cpu_list"])) & online)
                      for c in topo.caches if (c["level"], c["type"]) == (level, kind))
        assert ours == sorted(sorted(g) for g in theirs.values()), name
        checked += 1
    if not checked:
        pytest.skip("lscpu reports no caches here")


def _offline_machine() -> Machine:
    machine = regular(sockets=2, cores_per_socket=3, threads=2)
    machine.offline = [7, 9]
    return machine


@pytest.mark.parametrize(
    "machine",
    [regular(sockets=1, cores_per_socket=4, threads=2),
     regular(sockets=2, cores_per_socket=4, threads=2, nodes_per_socket=2),
     hybrid(p_cores=6, e_cores=8), _offline_machine()],
    ids=["smt", "2socket-4numa", "hybrid", "offline"],
)
def test_fake_trees_agree_with_lscpu_sysroot(tmp_path, machine):
    # lscpu reads the same files from a --sysroot: checks the fake trees are realistic and
    # that our reading of them agrees with util-linux's.
    roots = write_tree(tmp_path, machine)
    rows = _lscpu_rows("--sysroot", str(tmp_path))
    _assert_matches_lscpu(detect(**roots.kwargs, affinity=machine.all_cpus), rows)


# --------------------------------------------------------------------------- CLI


def test_cli_json(capsys):
    assert main(["--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) >= DESIGN_KEYS
    assert data["logical_cores"] >= 1


def test_cli_human_on_fake_container(tmp_path, capsys):
    roots = write_tree(tmp_path, hybrid())
    write_cgroup_v2(roots, "200000 100000")
    argv = [f"--{name.replace('_', '-')}={path}" for name, path in roots.kwargs.items()]
    assert main([*argv, "--affinity=0-3"]) == 0
    out = capsys.readouterr().out
    assert "Fake CPU" in out
    assert "CPU quota 2.0 of 20 visible CPUs" in out
    assert "performance" in out.lower() and "efficiency" in out.lower()
    assert "outside this process's affinity" in out


def test_cli_json_on_fake_tree(tmp_path, capsys):
    roots = write_tree(tmp_path, regular(sockets=2, cores_per_socket=2, threads=2))
    argv = [f"--{name.replace('_', '-')}={path}" for name, path in roots.kwargs.items()]
    assert main([*argv, "--affinity=0-7", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["logical_cores"], data["physical_cores"], data["sockets"]) == (8, 4, 2)


def test_cli_bad_option_exits_2(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--no-such-option"])
    assert info.value.code == 2
