"""The topology seen by this process, detected once (jobs of a sweep share it)."""

from __future__ import annotations

import functools
from typing import Any


@functools.lru_cache(maxsize=1)
def current_topology() -> Any:
    from .topology import detect

    return detect()
