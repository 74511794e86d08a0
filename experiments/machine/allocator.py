"""One fixed state of glibc's memory allocator for the harness and every worker it starts.

glibc's malloc serves a block above its *mmap threshold* (128 KiB when a process starts) with
fresh pages from the kernel and returns them on free, so every such allocation pays a page
fault per 4 KiB it touches. The first time a process frees one of those blocks, glibc raises
the threshold to that block's size (up to 32 MiB) and the trim threshold to twice that, for
the rest of the process's life. The same task therefore runs at different speeds depending on
what the process did before: in a sweep the first job (usually the sequential baseline) ran
with the cold thresholds and later jobs, and the workers forked from them, with raised ones.
A 256 KiB hashing task took 30 % longer cold (10 240 page faults per run of 64 tasks, against
none), which inflated every speedup of that workload (benchmarks/fidelity.py, README).

So coresweep fixes the thresholds at the values a process reaches after freeing one large
block: in this process with ``mallopt``, and for children that start a fresh interpreter
(spawn, forkserver, loky) through ``GLIBC_TUNABLES``; forked children inherit them. A user
who sets the malloc tunables in ``GLIBC_TUNABLES`` keeps theirs. Elsewhere (macOS, musl,
Windows) nothing is changed and the state is recorded as untouched.
"""

from __future__ import annotations

import functools
import os
from typing import Any, Callable

#: glibc's upper bound for the dynamic mmap threshold on 64-bit (DEFAULT_MMAP_THRESHOLD_MAX).
MMAP_THRESHOLD = 32 * 2**20
#: What glibc sets beside a raised mmap threshold: twice it.
TRIM_THRESHOLD = 2 * MMAP_THRESHOLD
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt parameter numbers (malloc.h)
#: The same thresholds for a process that starts a fresh interpreter (read by glibc at exec).
TUNABLES = f"glibc.malloc.mmap_threshold={MMAP_THRESHOLD}:glibc.malloc.trim_threshold={TRIM_THRESHOLD}"

def fix_allocator() -> dict[str, Any]:
    """Apply the fixed thresholds in this process (idempotent); returns what was done."""
    tunables = os.environ.get("GLIBC_TUNABLES", "")
    ours = TUNABLES in tunables
    if not ours and ("glibc.malloc.mmap_threshold" in tunables or "glibc.malloc.trim_threshold" in tunables):
        return {"state": "user", "glibc_tunables": tunables}
    mallopt = _mallopt()
    if mallopt is None:  # not glibc: no dynamic threshold to pin
        return {"state": "untouched", "why": "no glibc mallopt on this platform"}
    if not (mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) and mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)):
        return {"state": "untouched", "why": "mallopt refused the thresholds"}
    if not ours:
        os.environ["GLIBC_TUNABLES"] = f"{tunables}:{TUNABLES}" if tunables else TUNABLES
    return {"state": "fixed", "mmap_threshold": MMAP_THRESHOLD, "trim_threshold": TRIM_THRESHOLD}


@functools.lru_cache(maxsize=1)
def _mallopt() -> Callable[[int, int], int] | None:
    try:
        import ctypes

        return ctypes.CDLL(None).mallopt  # type: ignore[no-any-return]
    except (OSError, AttributeError):
        return None
