"""Module-level (picklable) task functions that crash a job's process, for tests/test_isolation.py.

Each is a custom workload function (``workload=custom workload.fn=tests.crashers:NAME``): the job
calls ``fn(i)`` for ``i`` in ``range(size)``, first in its sequential reference, then in the
timed runs. A crash must happen in the timed runs, never in the reference (a reference that
fails gives "sequential reference failed" rows, a different path), under every backend:

- sequential: the timed runs call ``fn`` in the job process's main thread, as the reference does;
- thread backends: in threads of the job process;
- fork-based process backends (pool, process_pool): in workers forked from the job process after
  the reference, which inherit any module-level state the reference left behind;
- joblib_loky: in fresh worker processes that share no state with the job process at all;
- and the reference is computed once per sweep and interpreter: later jobs get the answer from
  the driver and never call ``fn`` in a reference.

So no call counter, pid or thread test tells a reference call from a timed one under all five.
What does is the call stack: the reference is ``Workload.reference`` (coresweep's
``experiments/workloads/base.py``, called from ``job_child``'s ``reference``), and a timed run
never calls ``fn`` from inside a function of that name. ``in_reference`` walks the stack for a
frame of a function named ``reference`` in a coresweep source file. If coresweep renames that
method, ``test_the_reference_is_recognised`` in test_isolation.py fails first, saying so.
"""

from __future__ import annotations

import os
import sys
import time


def in_reference() -> bool:
    """True when called (at any depth) from coresweep's sequential reference computation."""
    frame = sys._getframe(1)
    while frame is not None:
        code = frame.f_code
        if code.co_name == "reference" and "coresweep" in code.co_filename.replace(os.sep, "/"):
            return True
        frame = frame.f_back
    return False


def _quiet_crash() -> None:
    """The crash is the point: no "Fatal Python error" traceback dump in CI logs."""
    try:
        import faulthandler
    except ImportError:  # a subinterpreter (interpreter_pool) cannot load it, nor has it on
        return
    faulthandler.disable()


def fine(i: int) -> int:
    """The control: never fails."""
    return i * 3


def exit13(i: int) -> int:
    """``os._exit(13)`` in a timed run: the process that runs it ends at once, no cleanup."""
    if not in_reference():
        os._exit(13)
    return i


def segfault(i: int) -> int:
    """Reads address 0 in a timed run: SIGSEGV."""
    if not in_reference():
        import ctypes

        _quiet_crash()
        ctypes.string_at(0)
    return i


def abort(i: int) -> int:
    """``os.abort()`` in a timed run: SIGABRT."""
    if not in_reference():
        _quiet_crash()
        os.abort()
    return i


def spin(i: int) -> int:
    """An endless pure-Python loop in a timed run (holds the GIL between switch intervals)."""
    if not in_reference():
        while True:
            pass
    return i


#: How fast ``grow`` allocates, and where it gives up on its own.
GROW_STEP_BYTES = 16 * 2**20
GROW_STEP_S = 0.02
GROW_CAP_BYTES = 512 * 2**20


def grow(i: int) -> int:
    """In a timed run, allocate a growing list of touched bytearrays (~800 MiB/s per caller).

    A ``max_memory`` guard well below ``GROW_CAP_BYTES`` stops the run long before the cap. A
    thread cannot be stopped, so under sequential or thread backends the allocation goes on
    until the cap anyway; there it raises (freeing it all), which ends the run either way: a
    guard that fired makes it a "memory:" row, a guard that never fired leaves this error,
    which says so. (Holding the memory instead would end only at timeout_s, whose row names
    both limits and so could not tell which one fired.)
    """
    if in_reference():
        return i
    blocks: list[bytearray] = []
    total = 0
    while total < GROW_CAP_BYTES:
        block = bytearray(GROW_STEP_BYTES)
        block[::4096] = b"x" * len(block[::4096])  # touch every page: resident, not just reserved
        blocks.append(block)
        total += len(block)
        time.sleep(GROW_STEP_S)
    raise RuntimeError(f"grow reached its {GROW_CAP_BYTES >> 20} MiB cap: nothing stopped it")


def fail_in_reference(i: int) -> int:
    """Raises only in the sequential reference; the timed runs would succeed."""
    if in_reference():
        raise ValueError(f"reference call {i} fails on purpose")
    return i


def where_am_i(i: int) -> int:
    """Returns 1 when called from the reference, 0 otherwise (checks ``in_reference`` itself)."""
    return 1 if in_reference() else 0


#: How a fresh ``python -c`` job process handles these signals (CPython ignores SIGPIPE and
#: SIGXFSZ at start-up, so a write to a closed pipe raises BrokenPipeError instead of killing
#: the process). SIGTERM: see ``signals_as_in_a_fresh_python``.
FRESH_PYTHON_SIGNALS = {"SIGPIPE": "SIG_IGN", "SIGXFSZ": "SIG_IGN"}


def signals_as_in_a_fresh_python(i: int) -> int:
    """Raises unless the process that runs it handles signals as a fresh interpreter does."""
    import signal

    wrong = []
    for name, want in FRESH_PYTHON_SIGNALS.items():
        have = signal.getsignal(getattr(signal, name))
        have_name = getattr(have, "name", repr(have))
        if have_name != want:
            wrong.append(f"{name} is {have_name}, not {want}")
    # SIGTERM: the job's own process (it leads its process group) ends its whole group
    # (coresweep's handler), forked or fresh; its workers keep the default.
    term = signal.getsignal(signal.SIGTERM)
    leads = os.getpgid(0) == os.getpid()
    want_term = "_end_group" if leads else "SIG_DFL"
    have_term = getattr(term, "__name__", getattr(term, "name", repr(term)))
    if have_term != want_term:
        wrong.append(f"SIGTERM is {have_term}, not {want_term}")
    if wrong:
        raise RuntimeError(f"pid {os.getpid()}: " + "; ".join(wrong))
    return i


def exit_in_reference(i: int) -> int:
    """``os._exit(13)`` in the sequential reference (the job process computes it itself)."""
    if in_reference():
        os._exit(13)
    return i


def spin_in_reference(i: int) -> int:
    """An endless pure-Python loop in the sequential reference (holds the GIL)."""
    if in_reference():
        while True:
            pass
    return i
