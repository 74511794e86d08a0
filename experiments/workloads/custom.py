"""The user's own function, named by import path: ``workload.fn=pkg.module:func``."""

from __future__ import annotations

import importlib
from typing import Any, Callable, ClassVar

from .base import Workload, WorkloadError


def resolve_function(spec: str | None) -> Callable[[Any], Any]:
    """Import ``pkg.module:func`` and return it; every failure is a one-line WorkloadError.

    Worker processes started with spawn/forkserver/loky re-import the function by name, so it
    must live in an importable module, never in ``__main__`` or a notebook.
    """
    if not spec or not isinstance(spec, str):
        raise WorkloadError("workload=custom needs workload.fn=pkg.module:func")
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise WorkloadError(
            f"workload.fn={spec!r}: expected 'pkg.module:func' (a module path, a colon, a name)"
        )
    if module_name == "__main__":
        raise WorkloadError(
            f"workload.fn={spec!r}: functions in __main__ (a script or notebook) cannot be "
            "found by spawned worker processes; move it into a module on PYTHONPATH"
        )
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # any import-time failure is the user's module, say which
        raise WorkloadError(
            f"workload.fn={spec!r}: cannot import module {module_name!r} "
            f"({type(exc).__name__}: {exc}); is it installed or on PYTHONPATH?"
        ) from None
    func: Any = module
    for part in attr.split("."):
        try:
            func = getattr(func, part)
        except AttributeError:
            raise WorkloadError(
                f"workload.fn={spec!r}: module {module_name!r} has no attribute {attr!r}"
            ) from None
    if not callable(func):
        raise WorkloadError(f"workload.fn={spec!r}: {attr!r} is not callable")
    if getattr(func, "__module__", None) == "__main__":
        raise WorkloadError(
            f"workload.fn={spec!r}: the function is defined in __main__; move it into an "
            "importable module so worker processes can find it"
        )
    return func


class Custom(Workload):
    name: ClassVar[str] = "custom"
    summary: ClassVar[str] = "your function: fn(i) for i in range(size), by import path"
    uses_grain: ClassVar[bool] = False

    def __init__(self, size: int, grain: int = 1, seed: int = 0, fn: str | None = None) -> None:
        super().__init__(size, grain, seed)
        self.spec = fn
        self.func = resolve_function(fn)

    def key(self) -> tuple[Any, ...]:
        return (*super().key(), self.spec)

    def requirements(self) -> tuple[str, ...]:
        return (str(self.spec).partition(":")[0],)

    @property
    def task(self) -> Callable[[Any], Any]:
        return self.func

    def inputs(self) -> list[Any]:
        return list(range(self.size))
