"""The environment record and the noise guards."""

from __future__ import annotations

from coresweep.experiments.machine.environment import NoiseMonitor, collect_environment, noise_warnings


def test_environment_has_what_a_rebuild_needs() -> None:
    env = collect_environment(
        sweep_id="s", machine="m", command=["coresweep", "-m", "workers=1,2"], overrides=["workers=1,2"],
        topology={"logical_cores": 2, "cpu_model": "X"},
    )
    for key in ("python", "packages", "platform", "loadavg", "command_line", "topology", "git_commit"):
        assert key in env
    assert env["command_line"] == "coresweep -m workers=1,2"
    assert env["packages"]["numpy"]


def test_noise_monitor_reports_other_processes_share() -> None:
    import time

    monitor = NoiseMonitor()
    time.sleep(0.2)
    noise = monitor.finish(logical_cpus=2)
    assert 0 <= noise["busy_cpu_percent_other"] <= 100
    assert {"loadavg_start", "loadavg_end", "cpu_governor", "throttle_count_end"} <= set(noise)


def test_quiet_machine_gets_no_warning() -> None:
    quiet = {"loadavg_start": [0.1, 0.1, 0.1], "busy_cpu_percent_other": 1.0, "cpu_governor": "performance"}
    assert noise_warnings(quiet, 2) == []


def test_busy_machine_is_named() -> None:
    busy = {
        "loadavg_start": [3.0, 2.0, 1.0],
        "busy_cpu_percent_other": 35.0,
        "cpu_governor": "powersave",
        "throttle_count_start": 1,
        "throttle_count_end": 4,
    }
    text = " | ".join(noise_warnings(busy, 2))
    assert "load average 3.00" in text and "35%" in text and "powersave" in text and "3 times" in text


def test_gil_detection_on_free_threaded_builds(monkeypatch) -> None:
    import sys

    from coresweep.experiments.machine.environment import gil_enabled, python_info

    monkeypatch.setattr(sys, "_is_gil_enabled", lambda: False, raising=False)
    assert gil_enabled() is False and python_info()["gil_enabled"] is False
    monkeypatch.setattr(sys, "_is_gil_enabled", lambda: True, raising=False)
    assert gil_enabled() is True


def test_gil_is_assumed_on_interpreters_without_the_check(monkeypatch) -> None:
    import sys

    from coresweep.experiments.machine.environment import gil_enabled

    monkeypatch.delattr(sys, "_is_gil_enabled", raising=False)
    assert gil_enabled() is True


def test_environment_records_the_hypervisor_and_where_it_came_from(tmp_path) -> None:
    """A KVM guest without DMI (this VM's case): CPUID names it, environment.json says so."""
    import json
    import struct

    from coresweep.experiments.machine.topology import detect

    from .sysfs_trees import regular, write_tree

    machine = regular(cores_per_socket=2, threads=1)
    machine.hypervisor_flag = True
    roots = write_tree(tmp_path, machine)
    kvm = struct.unpack("<III", b"KVMKVMKVM\0\0\0")

    def cpuid(leaf: int):
        return (0x40000001, *kvm) if leaf == 0x40000000 else (0, 0, 0, 0)

    topology = detect(**roots.kwargs, affinity=[0, 1], cpuid=cpuid, detect_virt=lambda: None).to_dict()
    env = json.loads(json.dumps(collect_environment(
        sweep_id="s", machine="m", command=["coresweep"], overrides=[], topology=topology)))
    assert env["hypervisor"] == "KVM"
    assert {k: env["topology"][k] for k in ("virtualized", "hypervisor", "hypervisor_source",
                                            "hypervisor_cpuid")} == {
        "virtualized": True, "hypervisor": "KVM", "hypervisor_source": "cpuid",
        "hypervisor_cpuid": "KVMKVMKVM"}

    bare = write_tree(tmp_path / "metal", regular(cores_per_socket=2, threads=1))
    topology = detect(**bare.kwargs, affinity=[0, 1], cpuid=cpuid, detect_virt=lambda: None).to_dict()
    env = collect_environment(sweep_id="s", machine="m", command=["coresweep"], overrides=[],
                              topology=topology)
    assert env["hypervisor"] is None and env["topology"]["virtualized"] is False
