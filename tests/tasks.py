"""Module-level (so picklable by every start method) task functions used by the tests."""

from __future__ import annotations

import os


def square(i: int) -> int:
    return i * i


def fail_on_three(i: int) -> int:
    if i == 3:
        raise ValueError("task 3 fails on purpose")
    return i


def wrong_answer(i: int) -> int:
    return i + 1 if os.environ.get("CORESWEEP_TEST_WRONG") else i


def not_callable_value() -> None:
    return None


NOT_CALLABLE = 42


def die_on_two(i: int) -> int:
    if i == 2:
        os._exit(3)
    return i


IDENTITY = lambda i: i  # noqa: E731 - a lambda cannot be pickled by reference


def segfault_on_two(i: int) -> int:
    if i == 2:
        import ctypes
        import faulthandler

        faulthandler.disable()  # the crash is the point: no "Fatal Python error" dump in CI logs
        ctypes.string_at(0)  # reads address 0: SIGSEGV
    return i


def kill_self_on_two(i: int) -> int:
    if i == 2:
        import signal

        os.kill(os.getpid(), signal.SIGKILL)
    return i


def hang_on_two(i: int) -> int:
    if i == 2:
        import time

        time.sleep(3600)
    return i


def hog_memory(i: int) -> int:
    """Hold ~800 MiB for a while: the max_memory guard must stop it."""
    if i == 1:
        import time

        block = bytearray(800 * 2**20)
        block[:: 4096] = b"x" * len(block[:: 4096])  # touch every page so it is resident
        time.sleep(5)
        return len(block) // 2**20 * 0 + i
    return i


CALLS: list[int] = []


def count_call(i: int) -> int:
    """Notes every call in this process: a result served from a cache would not be noted."""
    CALLS.append(i)
    return i


def kill_own_process_off_main_thread(i: int) -> int:
    """SIGKILL the process that runs it when called from a thread other than the main one.

    A sequential job (main thread) finishes; a thread backend's job dies with its process, as a
    job killed by the OOM killer or a scheduler would; a process backend's workers (main thread
    there) finish too.
    """
    import threading

    if threading.current_thread() is not threading.main_thread():
        import signal

        os.kill(os.getpid(), signal.SIGKILL)
    return i


def kill_parent_off_main_thread(i: int) -> int:
    """SIGKILL the parent of the process that runs it, from a thread other than the main one.

    A job's process is a child of the process that runs the job function (a submitit job
    process, under submitit): this kills that process outright, as a scheduler's time limit
    or the OOM killer would, while sequential jobs and process backends' workers finish.
    """
    import threading

    if threading.current_thread() is not threading.main_thread():
        import signal

        os.kill(os.getppid(), signal.SIGKILL)
    return i


def burn(i: int) -> int:
    """About a millisecond of pure-Python work: worth a process pool on two cores."""
    total = 0
    for k in range(20_000):
        total += (k * i) % 7
    return total
