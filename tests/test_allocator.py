"""The fixed malloc state: applied once per process, inherited by children, user settings kept."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from coresweep.experiments.machine.allocator import TUNABLES, fix_allocator

glibc_only = pytest.mark.skipif(
    not sys.platform.startswith("linux") or os.confstr("CS_GNU_LIBC_VERSION") is None,
    reason="the thresholds exist only in glibc's malloc",
)


@glibc_only
def test_fixed_once_and_handed_to_children(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GLIBC_TUNABLES", "glibc.pthread.rseq=1")
    assert fix_allocator()["state"] == "fixed"
    assert fix_allocator()["state"] == "fixed"  # a second job in the same process
    assert os.environ["GLIBC_TUNABLES"] == f"glibc.pthread.rseq=1:{TUNABLES}"


def test_user_malloc_tunables_are_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GLIBC_TUNABLES", "glibc.malloc.mmap_threshold=65536")
    assert fix_allocator() == {"state": "user", "glibc_tunables": "glibc.malloc.mmap_threshold=65536"}
    assert os.environ["GLIBC_TUNABLES"] == "glibc.malloc.mmap_threshold=65536"


@glibc_only
def test_large_blocks_are_reused_not_faulted_in_again() -> None:
    # The reason for the fixed state: without it, each 256 KiB block comes fresh from the
    # kernel (64 page faults) until the process happens to free a larger one.
    code = (
        "import sys, resource\n"
        "from coresweep.experiments.machine.allocator import fix_allocator\n"
        "if sys.argv[1] == 'fixed': fix_allocator()\n"
        "from coresweep.experiments.workloads.gil_release import hash_block\n"
        "hash_block((1, 256))\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt\n"
        "for seed in range(20): hash_block((seed, 256))\n"  # 256 KiB blocks, allocated and freed
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "GLIBC_TUNABLES"}
    faults = {
        state: int(subprocess.run([sys.executable, "-c", code, state], capture_output=True, text=True,
                                  env=env, check=True).stdout)
        for state in ("cold", "fixed")
    }
    assert faults["fixed"] < 64 < 20 * 64 < faults["cold"], faults
