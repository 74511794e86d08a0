"""The process-tree readings: the memory sampler sees children, and survives them ending."""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
import time

import pytest

from coresweep.experiments.job.resources import PeakMemory, _StatmReader

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


def _spike_on_request(megabytes: int, go, done, stop) -> None:  # type: ignore[no-untyped-def]
    """A long-lived worker: on each ``go``, hold ``megabytes`` resident for a moment, then free it."""
    while not stop.is_set():
        if go.wait(0.05):
            go.clear()
            block = bytearray(megabytes * 2**20)
            block[::4096] = b"x" * len(block[::4096])
            del block
            done.set()


def test_workers_that_outlive_the_run_are_read_from_their_own_marks() -> None:
    """Pools: each worker's kernel high-water mark, reset on entry: exact, and no sampler thread."""
    import threading

    ctx = mp.get_context("fork")
    go, done, stop = ctx.Event(), ctx.Event(), ctx.Event()
    worker = ctx.Process(target=_spike_on_request, args=(64, go, done, stop), daemon=True)
    worker.start()
    try:
        go.set()  # a peak before the run: not the run's
        assert done.wait(10)
        done.clear()
        with PeakMemory(sample_children=True, relist_first=False) as quiet:
            time.sleep(0.05)
        with PeakMemory(sample_children=True, relist_first=False) as spiking:
            assert not any(t.name == "coresweep-rss" for t in threading.enumerate())
            go.set()  # comes and goes within the run: no sample needed to see it
            assert done.wait(10)
    finally:
        stop.set()
        worker.join(10)
    assert quiet.peak_bytes is not None and spiking.peak_bytes is not None
    assert spiking.peak_bytes - quiet.peak_bytes > 48 * 2**20
    assert quiet.peak_bytes < 48 * 2**20 + quiet._sampled  # the earlier spike was reset away
