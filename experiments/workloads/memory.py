"""Memory-bandwidth-bound work: streaming passes over an array far larger than the caches."""

from __future__ import annotations

from typing import Any, Callable, ClassVar

try:
    import numpy as np
except ImportError:  # a bare interpreter (python=...): preflight refuses this workload there
    np = None  # type: ignore[assignment]

from .base import Workload


def stream_array(arg: tuple[int, int]) -> float:
    """Fill ``grain`` MiB of float64, then a triad pass (b = a * s + a) and a sum: bandwidth-bound."""
    index, grain_mib = arg
    n = grain_mib * (1 << 20) // 8
    a = np.full(n, float(index % 97 + 1))
    b = a * 1.5
    b += a
    return float(b.sum())


class Memory(Workload):
    name: ClassVar[str] = "memory"
    pair_auto: ClassVar[bool] = True
    summary: ClassVar[str] = "streaming passes over grain MiB per task: limited by memory bandwidth"
    releases_gil: ClassVar[bool] = True
    requires: ClassVar[tuple[str, ...]] = ("numpy",)
    default_rtol: ClassVar[float] = 1e-12
    default_atol: ClassVar[float] = 1e-12

    @property
    def task(self) -> Callable[[Any], Any]:
        return stream_array

    def inputs(self) -> list[Any]:
        return [(i, self.grain) for i in range(self.size)]
