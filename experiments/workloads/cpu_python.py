"""Pure-Python CPU work: holds the GIL, so threads cannot run it in parallel."""

from __future__ import annotations

from typing import Any, Callable, ClassVar

from .base import Workload, task_seed

_MODULUS = 2_147_483_647  # the MINSTD generator: small ints, no big-int arithmetic


def lcg_sum(arg: tuple[int, int]) -> int:
    """Run ``grain`` steps of a Lehmer generator and fold the values: pure bytecode, no C calls."""
    state, grain = arg
    acc = 0
    for _ in range(grain):
        state = (state * 48_271) % _MODULUS
        acc = (acc + state) & 0xFFFF_FFFF
    return acc


class CpuPython(Workload):
    name: ClassVar[str] = "cpu_python"
    pair_auto: ClassVar[bool] = True
    summary: ClassVar[str] = "pure-Python loop (holds the GIL): threads should not speed it up"

    @property
    def task(self) -> Callable[[Any], Any]:
        return lcg_sum

    def inputs(self) -> list[Any]:
        return [(task_seed(self.seed, i), self.grain) for i in range(self.size)]
