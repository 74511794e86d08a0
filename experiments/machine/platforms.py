"""Which operating system this process runs on, asked in one place.

Topology, pinning, start methods and job isolation differ between Linux, macOS and Windows;
each asks ``system()`` here instead of reading ``sys.platform`` itself, so that a test can run
the macOS or Windows path of any of them on Linux by patching this one function.
"""

from __future__ import annotations

import sys
from typing import Optional

#: The systems coresweep has its own code paths for (docs/platforms.md says how far each goes).
SYSTEMS = ("linux", "macos", "windows")


def system() -> str:
    """``linux``, ``macos``, ``windows``, or ``sys.platform`` for any other system."""
    if sys.platform.startswith("linux"):
        return "linux"
    if sys.platform == "darwin":
        return "macos"
    if sys.platform in ("win32", "cygwin"):
        return "windows"
    return sys.platform


def platform_start_method() -> Optional[str]:
    """The start method ``start_method=auto`` means where coresweep fixes it, else None.

    macOS and Windows: spawn. Windows has nothing else; on macOS fork is unsafe once system
    frameworks hold threads (Python's own default there since 3.8). Linux keeps Python's
    default (fork, forkserver from 3.14), which every figure so far was measured with.
    """
    return "spawn" if system() in ("macos", "windows") else None
