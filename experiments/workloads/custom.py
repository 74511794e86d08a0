"""The user's own function, named by import path: ``workload.fn=pkg.module:func``."""

from __future__ import annotations

import importlib
from typing import Any, Callable, ClassVar

from .base import Workload, WorkloadError


def resolve_function(spec: str | None, option: str = "workload.fn") -> Callable[..., Any]:
    """Import ``pkg.module:func`` and return it; every failure is a one-line WorkloadError
    naming ``option`` (``workload.fn``, or ``workload.verify`` for a checker).

    Worker processes started with spawn/forkserver/loky re-import the function by name, so it
    must live in an importable module, never in ``__main__`` or a notebook.
    """
    if not spec or not isinstance(spec, str):
        raise WorkloadError("workload=custom needs workload.fn=pkg.module:func")
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise WorkloadError(f"{option}={spec!r}: expected 'pkg.module:func' (a module path, a colon, a name)")
    if module_name == "__main__":
        raise WorkloadError(
            f"{option}={spec!r}: functions in __main__ (a script or notebook) cannot be "
            "found by spawned worker processes; move the function to the top level of a module "
            "on PYTHONPATH and name it as module:function"
        )
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # any import-time failure is the user's module, say which
        raise WorkloadError(
            f"{option}={spec!r}: cannot import module {module_name!r} "
            f"({type(exc).__name__}: {exc}); is it installed or on PYTHONPATH?"
        ) from None
    func: Any = module
    for part in attr.split("."):
        try:
            func = getattr(func, part)
        except AttributeError:
            guarded = _defined_under_main_guard(module, attr.split(".")[0])
            if guarded:
                raise WorkloadError(
                    f"{option}={spec!r}: {attr.split('.')[0]!r} is defined only under "
                    f'`if __name__ == "__main__":` in {guarded}, so importing {module_name!r} (as '
                    "coresweep and its worker processes do) never defines it; move its definition "
                    "to the top level of the module, above that block"
                ) from None
            if _only_in_main_script(module, attr.split(".")[0]):
                raise WorkloadError(
                    f"{option}={spec!r}: {attr.split('.')[0]!r} exists only in the script run as "
                    f"__main__, not when {module_name!r} is imported (as coresweep and its worker "
                    "processes do); define it at the top level of an importable module"
                ) from None
            raise WorkloadError(
                f"{option}={spec!r}: module {module_name!r} has no attribute {attr!r}"
            ) from None
    if not callable(func):
        raise WorkloadError(f"{option}={spec!r}: {attr!r} is not callable")
    if getattr(func, "__module__", None) == "__main__":
        raise WorkloadError(
            f"{option}={spec!r}: the function is defined in __main__; move it into an "
            "importable module so worker processes can find it"
        )
    return func


def _is_main_guard(test: Any) -> bool:
    """``__name__ == "__main__"`` (either side)."""
    import ast

    if not (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq)):
        return False
    sides = [test.left, test.comparators[0]]
    names = [s for s in sides if isinstance(s, ast.Name) and s.id == "__name__"]
    mains = [s for s in sides if isinstance(s, ast.Constant) and s.value == "__main__"]
    return bool(names and mains)


def _defined_under_main_guard(module: Any, name: str) -> str | None:
    """The module's file when ``name`` is defined (def, class, assignment, import) only inside a
    top-level ``if __name__ == "__main__":`` block of its source; else None."""
    import ast

    path = getattr(module, "__file__", None)
    if not path or not str(path).endswith(".py"):
        return None
    try:
        with open(path, encoding="utf-8") as fh:
            tree = ast.parse(fh.read(), filename=str(path))
    except (OSError, SyntaxError, ValueError):
        return None

    def binds(node: Any) -> bool:
        for sub in ast.walk(node):
            if isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and sub.name == name:
                return True
            if isinstance(sub, ast.Name) and sub.id == name and isinstance(sub.ctx, ast.Store):
                return True
            if isinstance(sub, ast.alias) and (sub.asname or sub.name.split(".")[0]) == name:
                return True
        return False

    for node in tree.body:
        if isinstance(node, ast.If) and _is_main_guard(node.test) and any(binds(b) for b in node.body):
            return str(path)
    return None


def _only_in_main_script(module: Any, name: str) -> bool:
    """The module is the script running as ``__main__`` too, and only that run defined ``name``."""
    import os
    import sys

    main = sys.modules.get("__main__")
    main_file, mod_file = getattr(main, "__file__", None), getattr(module, "__file__", None)
    if not (main is not None and main_file and mod_file and hasattr(main, name)):
        return False
    try:
        return os.path.samefile(main_file, mod_file)
    except OSError:
        return False


class Custom(Workload):
    name: ClassVar[str] = "custom"
    pair_auto: ClassVar[bool] = True
    summary: ClassVar[str] = "your function: fn(i) for i in range(size), by import path"
    uses_grain: ClassVar[bool] = False
    rerun_on_mismatch: ClassVar[bool] = True

    def __init__(
        self, size: int, grain: int = 1, seed: int = 0, fn: str | None = None, **checks: Any
    ) -> None:
        self.spec = fn
        self.func = resolve_function(fn)  # first: a bad fn is the first thing to say
        super().__init__(size, grain, seed, **checks)

    def call_name(self, index: int) -> str:
        return f"{self.spec}({index})"

    def key(self) -> tuple[Any, ...]:
        return (*super().key(), self.spec)

    def requirements(self) -> tuple[str, ...]:
        return (str(self.spec).partition(":")[0], *super().requirements())

    @property
    def task(self) -> Callable[[Any], Any]:
        return self.func

    def inputs(self) -> list[Any]:
        return list(range(self.size))
