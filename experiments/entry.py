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


def _runs_a_sweep_with_report(argv: list[str]) -> bool:
    """A sweep that will want its report process: no Hydra flag (--help, --cfg...) and no
    report=false. cli.main decides for sure; a guess here only starts the process sooner."""
    from .report_builder import report_wanted

    return report_wanted(argv) and all(a in ("-m", "--multirun") for a in argv if a.startswith("-"))


def prepare(argv: list[str]) -> None:
    """What runs before Hydra is imported: the shadowing check (exit 2), and the report
    process started for a sweep that will want it."""
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
    from .report_builder import BUILDER

    if _runs_a_sweep_with_report(argv):
        # Before importing Hydra (~0.3 s): the report's imports then finish by the end of
        # planning instead of keeping the first job waiting (README, "Overhead").
        BUILDER.start()


def main() -> None:
    prepare(sys.argv[1:])
    try:
        from .cli import entry
    except BaseException:  # Ctrl-C while Hydra imports: no report process left importing
        from .report_builder import BUILDER

        BUILDER.close()
        raise

    try:
        entry()
    except BrokenPipeError:  # `coresweep --help | head`: the reader left, nothing is wrong
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(0)


if __name__ == "__main__":
    main()
