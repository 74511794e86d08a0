"""The process-tree readings: the memory sampler sees children, and survives them ending."""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
import time

import pytest

from coresweep.experiments.resources import PeakMemory, _StatmReader

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def _hold(megabytes: int, seconds: float, ready) -> None:  # type: ignore[no-untyped-def]
    block = bytearray(megabytes * 2**20)
    block[:: 4096] = b"x" * len(block[:: 4096])  # touch every page so it is resident
    ready.set()
    time.sleep(seconds)


def test_sampler_sees_a_child_process_peak() -> None:
    ctx = mp.get_context("fork")
    ready = ctx.Event()
    with PeakMemory(sample_children=True) as memory:
        child = ctx.Process(target=_hold, args=(64, 0.3, ready))
        child.start()
        assert ready.wait(10)
        child.join()
    baseline = PeakMemory(sample_children=True)
    with baseline:
        time.sleep(0.1)
    assert memory.peak_bytes is not None and baseline.peak_bytes is not None
    assert memory.peak_bytes - baseline.peak_bytes > 48 * 2**20


def test_statm_reader_skips_a_process_that_ended() -> None:
    ctx = mp.get_context("fork")
    ready = ctx.Event()
    child = ctx.Process(target=_hold, args=(1, 0.05, ready))
    child.start()
    assert ready.wait(10)
    reader = _StatmReader()
    try:
        both = reader.rss([os.getpid(), child.pid])
        own = reader.rss([os.getpid()])
        assert both > own > 0
        child.join()
        assert reader.rss([child.pid]) == 0  # its kept descriptor now fails to read: skipped
    finally:
        reader.close()
