"""Work done in C code that releases the GIL (hashlib, zlib, numpy), so threads can scale."""

from __future__ import annotations

import hashlib
import zlib
from typing import Any, Callable, ClassVar

try:
    import numpy as np
except ImportError:  # a bare interpreter (python=...): preflight refuses this workload there
    np = None  # type: ignore[assignment]

from .base import Workload, WorkloadError, task_seed

KINDS = ("hash", "zlib", "numpy")


def hash_block(arg: tuple[int, int]) -> int:
    """sha256 over ``grain`` KiB (hashlib drops the GIL for buffers over 2 KiB)."""
    seed, grain = arg
    data = np.random.default_rng(seed).integers(0, 256, grain * 1024, dtype=np.uint8).tobytes()
    digest = hashlib.sha256(data).digest()
    for _ in range(3):
        digest = hashlib.sha256(data + digest).digest()
    return int.from_bytes(digest[:7], "little")


def zlib_block(arg: tuple[int, int]) -> int:
    """zlib compression of ``grain`` KiB of semi-compressible bytes (zlib drops the GIL)."""
    seed, grain = arg
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 16, grain * 1024, dtype=np.uint8).tobytes()
    return zlib.crc32(zlib.compress(data, 6))


def numpy_block(arg: tuple[int, int]) -> float:
    """A ``grain``×``grain`` matrix product (BLAS drops the GIL; its own threads are capped)."""
    seed, grain = arg
    a = np.random.default_rng(seed).standard_normal((grain, grain))
    return float(np.trace(a @ a.T))


_TASKS: dict[str, Callable[[Any], Any]] = {"hash": hash_block, "zlib": zlib_block, "numpy": numpy_block}


class GilRelease(Workload):
    name: ClassVar[str] = "gil_release"
    pair_auto: ClassVar[bool] = True
    summary: ClassVar[str] = "hashlib/zlib/numpy work that releases the GIL: threads can scale"
    releases_gil: ClassVar[bool] = True
    requires: ClassVar[tuple[str, ...]] = ("numpy",)
    # kind=numpy: BLAS sums in a different order with a different thread count, so allow
    # rounding (hash and zlib return ints, compared exactly under verify=auto).
    default_rtol: ClassVar[float] = 1e-9
    default_atol: ClassVar[float] = 1e-9

    def __init__(self, size: int, grain: int = 64, seed: int = 0, kind: str = "hash", **checks: Any) -> None:
        super().__init__(size, grain, seed, **checks)
        if kind not in KINDS:
            raise WorkloadError(f"workload.kind={kind!r}: choose one of {', '.join(KINDS)}")
        self.kind = kind

    def key(self) -> tuple[Any, ...]:
        return (*super().key(), self.kind)

    @property
    def task(self) -> Callable[[Any], Any]:
        return _TASKS[self.kind]

    def inputs(self) -> list[Any]:
        return [(task_seed(self.seed, i), self.grain) for i in range(self.size)]
