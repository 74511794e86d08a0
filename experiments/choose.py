"""``from coresweep import choose``: which backend and how many workers for a function, from Python.

``choose(func, size=N, budget_s=60)`` runs the same engine as the command
``coresweep +experiment=choose workload=custom workload.fn=MODULE:NAME workload.size=N``, in a
subprocess (each job is measured in processes of its own anyway, and Hydra wants a process of
its own), and returns its answer. The function travels by name: worker processes import it,
so it must be a top-level function of an importable module, never a lambda, a nested function
or one defined in ``__main__`` (a script or a notebook). That is checked here, before anything
runs, with one line that says what to do.
"""

from __future__ import annotations

import importlib
import json
import math
import os
import pickle
import subprocess
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

#: Where a function must live for worker processes to find it.
PUT_IT_IN_A_MODULE = (
    "put it at the top level of a module (a .py file, e.g. mywork.py next to the notebook or "
    "script), import it from there (from mywork import func), and pass that"
)


@dataclass
class Choice:
    """The answer of a race: what to use, how sure, and where the report is."""

    sentence: str  # the answer in one sentence (as on the terminal)
    decided: bool
    best: dict[str, Any] | None  # the configuration to use (backend, workers, ...); None: undecided
    code: str | None  # the line of code that applies it
    best_set: list[dict[str, Any]]  # configurations that cannot be told apart from the best
    #: Confirmed configurations: speedup over sequential with its 95 % interval, from the
    #: confirmation rounds alone (``speedup``, ``low``, ``high``, ``in_best_set``, ``key``).
    entries: list[dict[str, Any]]
    budget_s: float
    used_s: float
    report: Path | None
    sweep_dir: Path
    #: choice.json as written (every field, dropped configurations and their evidence included).
    raw: dict[str, Any] = field(repr=False, default_factory=dict)

    def __str__(self) -> str:
        return self.sentence


def function_spec(func: Callable[..., Any]) -> tuple[str, Path | None]:
    """``module:qualname`` of ``func`` and the folder to put on PYTHONPATH for its module; a
    ValueError (TypeError for no function) in one line where workers could not import it."""
    if not callable(func):
        raise TypeError(f"choose(func): func must be a function, got {type(func).__name__}")
    name = getattr(func, "__qualname__", None) or getattr(func, "__name__", None)
    module_name = getattr(func, "__module__", None)
    if not name or not module_name:
        raise ValueError(
            f"choose(func): {func!r} has no module and name to import it by; {PUT_IT_IN_A_MODULE}"
        )
    if name == "<lambda>" or name.endswith(".<lambda>"):
        raise ValueError(
            "choose(func): a lambda cannot be imported by worker processes; define it with def and "
            + PUT_IT_IN_A_MODULE
        )
    if "<locals>" in name:
        raise ValueError(
            f"choose(func): {name} is defined inside another function, so worker processes cannot "
            f"import it; {PUT_IT_IN_A_MODULE}"
        )
    if module_name == "__main__":
        raise ValueError(
            f"choose(func): {name} is defined in __main__ (a script or notebook), which worker "
            f"processes cannot import; {PUT_IT_IN_A_MODULE}"
        )
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise ValueError(
            f"choose(func): its module {module_name} cannot be imported ({exc}); {PUT_IT_IN_A_MODULE}"
        ) from None
    found: Any = module
    for part in name.split("."):
        found = getattr(found, part, None)
    if found is not func:
        raise ValueError(
            f"choose(func): {module_name}:{name} does not name this function (redefined or wrapped?); "
            f"{PUT_IT_IN_A_MODULE}"
        )
    try:
        pickle.dumps(func)
    except Exception as exc:
        raise ValueError(
            f"choose(func): {module_name}:{name} cannot be pickled for worker processes "
            f"({type(exc).__name__}: {exc}); {PUT_IT_IN_A_MODULE}"
        ) from None
    return f"{module_name}:{name}", _import_root(module, module_name)


def _import_root(module: Any, module_name: str) -> Path | None:
    """The folder from which ``module_name`` imports (for the subprocess's PYTHONPATH)."""
    file = getattr(module, "__file__", None)
    if not file:
        return None
    path = Path(file).resolve()
    depth = module_name.count(".") + (1 if path.name == "__init__.py" else 0)
    root = path.parent
    for _ in range(depth):
        root = root.parent
    return root


def _check_number(name: str, value: Any, integer: bool) -> None:
    ok = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok or not math.isfinite(value) or value <= 0:
        kind = "an integer >= 1" if integer else "a positive number of seconds"
        raise ValueError(f"{name}={value!r}: must be {kind}")


def command(
    spec: str, size: int, budget_s: float, overrides: Sequence[str] = (), sweep_dir: str | None = None
) -> list[str]:
    """The coresweep command line that ``choose`` runs."""
    args = [
        "+experiment=choose",
        "workload=custom",
        f"workload.fn={spec}",
        f"workload.size={size}",
        f"budget_s={budget_s:g}",
        *overrides,
    ]
    if sweep_dir is not None:
        args.append(f"hydra.sweep.dir={sweep_dir}")
    return args


def choose(
    func: Callable[[int], Any],
    size: int = 100,
    budget_s: float = 60,
    overrides: Sequence[str] = (),
    sweep_dir: str | os.PathLike[str] | None = None,
    quiet: bool = False,
) -> Choice:
    """Race every backend x the worker ladder on ``func(i) for i in range(size)`` within
    ``budget_s`` seconds and return the answer (``Choice``: the sentence, the best, the line of
    code, the confirmed intervals, the report's path).

    ``overrides``: more of the command line, e.g. ``["backend=sequential,thread_pool,process_pool"]``
    or ``["workers=1,2"]``. Progress goes to stderr (``quiet=True``: none). Raises ValueError
    (one line) for a function worker processes cannot import and for a bad size, budget or
    command line; RuntimeError when the run ended without an answer.
    """
    spec, root = function_spec(func)
    _check_number("size", size, integer=True)
    _check_number("budget_s", budget_s, integer=False)
    if isinstance(overrides, str):
        raise TypeError("overrides: a list of KEY=VALUE strings, e.g. ['workers=1,2']")
    env = dict(os.environ)
    if root is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(root), *filter(None, [env.get("PYTHONPATH")])])
    argv = command(spec, size, budget_s, overrides, None if sweep_dir is None else str(sweep_dir))
    proc = subprocess.Popen(
        [sys.executable, "-m", "coresweep.experiments.entry", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    errors: list[str] = []

    def relay() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            errors.append(line.rstrip("\n"))
            if not quiet:
                sys.stderr.write(line)
                sys.stderr.flush()

    reader = threading.Thread(target=relay, daemon=True)
    reader.start()
    try:
        out, _ = proc.communicate()
    except BaseException:  # Ctrl-C in a notebook: the run stops (rows kept), then the error
        proc.terminate()
        proc.wait()
        raise
    reader.join()
    if proc.returncode == 2:
        line = next((e for e in reversed(errors) if "error:" in e), errors[-1] if errors else "bad input")
        raise ValueError(line.split("error: ", 1)[-1])
    report = next((ln[len("report: ") :] for ln in out.splitlines() if ln.startswith("report: ")), None)
    folder = Path(report).parent.parent if report else (Path(sweep_dir) if sweep_dir is not None else None)
    path = folder / "choice.json" if folder is not None else None
    if path is None or not path.is_file():
        last = errors[-1] if errors else f"exit status {proc.returncode}"
        raise RuntimeError(f"coresweep ended without an answer ({last})")
    return _choice(json.loads(path.read_text(encoding="utf-8")), folder, report)


def _choice(raw: dict[str, Any], folder: Path, report: str | None) -> Choice:
    keys = raw.get("group_keys") or []

    def fields(key: Any) -> dict[str, Any]:
        return dict(zip(keys, key)) if isinstance(key, list) else {"key": key}

    return Choice(
        sentence=str(raw.get("sentence") or ""),
        decided=bool(raw.get("decided")),
        best=raw.get("best_config"),
        code=raw.get("code"),
        best_set=[fields(k) for k in raw.get("best_set") or []],
        entries=[{**e, "config": fields(e.get("key"))} for e in raw.get("entries") or []],
        budget_s=float(raw.get("budget_s") or 0.0),
        used_s=float(raw.get("used_s") or 0.0),
        report=Path(report) if report else None,
        sweep_dir=folder,
        raw=raw,
    )
