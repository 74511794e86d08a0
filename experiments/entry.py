"""Console entry point: guard against shadowed modules before importing anything heavy.

A file named ``multiprocessing.py`` (or ``threading.py``, ``joblib.py``...) in a folder on
``sys.path`` replaces the real module for coresweep and for every worker it starts, and the
failure shows up much later as a baffling AttributeError. This check runs first and names
the file. Only the standard library is imported here, on purpose.
"""

from __future__ import annotations

import os
import sys
import sysconfig

#: Modules coresweep relies on that a user's file could shadow.
GUARDED = ("multiprocessing", "threading", "concurrent", "queue", "pickle", "signal", "joblib",
           "numpy", "psutil", "hydra", "omegaconf")


def _trusted_roots() -> list[str]:
    paths = sysconfig.get_paths()
    roots = {paths[k] for k in ("stdlib", "platstdlib", "purelib", "platlib") if k in paths}
    roots.update(p for p in sys.path if p.endswith(("site-packages", "dist-packages")))
    return [os.path.realpath(r) for r in roots if r]


def shadowing_files(path: list[str] | None = None, cwd: str | None = None) -> list[tuple[str, str]]:
    """(module, file) pairs where a file outside the installation would be imported instead."""
    cwd = cwd or os.getcwd()
    trusted = _trusted_roots()
    found: list[tuple[str, str]] = []
    for name in GUARDED:
        for entry in path if path is not None else sys.path:
            folder = os.path.realpath(entry or cwd)
            candidates = (os.path.join(folder, f"{name}.py"), os.path.join(folder, name, "__init__.py"))
            hit = next((c for c in candidates if os.path.isfile(c)), None)
            if hit is None:
                continue
            if not any(folder == r or folder.startswith(r + os.sep) for r in trusted):
                found.append((name, hit))
            break  # the first folder that has the module is the one Python imports
    return found


def main() -> None:
    shadows = shadowing_files()
    if shadows:
        name, file = shadows[0]
        print(
            f"coresweep: error: {file} shadows the module '{name}' (its folder is on sys.path, "
            f"e.g. through PYTHONPATH or the current directory); rename that file (and remove "
            f"its __pycache__ entry) so the real '{name}' is imported",
            file=sys.stderr,
        )
        sys.exit(2)
    from .cli import entry

    try:
        entry()
    except BrokenPipeError:  # `coresweep --help | head`: the reader left, nothing is wrong
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(0)


if __name__ == "__main__":
    main()
