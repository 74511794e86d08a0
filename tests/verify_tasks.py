"""Functions and checkers as scientists write them, for tests/test_verify.py.

Module level, so every start method can pickle them by reference; imported by worker processes
through PYTHONPATH (the repository root), like tests/tasks.py.
"""

from __future__ import annotations

import random

import numpy as np


def nested_arrays(i: int) -> list:
    """A list of arrays and a dict: containers compared element by element."""
    return [np.arange(4.0) * i, {"x": np.full(3, i / 7.0), "n": i}]


def nan_floats(i: int) -> float:
    """NaN for one task (NaN must equal NaN), -0.0 for another."""
    if i == 3:
        return float("nan")
    if i == 0:
        return -0.0
    return i / 3.0


def summed(i: int) -> float:
    """A float sum whose last bits depend on the order of the additions."""
    return float(np.sum(np.linspace(0.0, 1.0, 1000 + i) ** 2))


def unseeded(i: int) -> float:
    """Monte Carlo without a per-task seed: a different answer every call."""
    return random.random()


def seeded(i: int) -> float:
    """Monte Carlo seeded per task: the same answer for the same i, in any process."""
    rng = np.random.default_rng(i)
    return float(rng.random(100).mean())


def within_one(expected: float, got: float) -> bool | str:
    """A checker: an estimate in [0, 1) is acceptable within 1 of the sequential one (always)."""
    return abs(expected - got) <= 1.0 or f"{got:.3f} is more than 1 from {expected:.3f}"


def strict(expected: float, got: float) -> bool:
    """A checker that only accepts the identical float."""
    return expected == got


def broken_checker(expected: float, got: float) -> bool:
    raise RuntimeError("this checker is broken on purpose")
