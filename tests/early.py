"""A slow command that mostly waits (a timeout, a grace period, a launcher's polling), started
with its module's first test so that it runs beside the module's other tests; its own test
then waits for it and checks what it left. (tests/test_isolation.py starts several at once.)

In a module::

    @pytest.fixture(scope="module", autouse=True)
    def slow_one(request, tmp_path_factory):
        if not early.selected(request, __file__, "test_name"):
            yield None
            return
        folder = tmp_path_factory.mktemp("slow")
        with early.started(subprocess.run, cmd, cwd=folder, ...) as future:
            yield folder, future
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest


def selected(request: pytest.FixtureRequest, module_file: str, test_name: str) -> bool:
    """Whether this session runs the test ``test_name`` of the module ``module_file``."""
    here = Path(module_file).resolve()
    return any(
        getattr(item, "originalname", item.name) == test_name and Path(str(item.path)).resolve() == here
        for item in request.session.items
    )


@contextmanager
def started(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Iterator[Future[Any]]:
    """``fn(*args, **kwargs)`` running in a thread; leaving the block waits for it."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="early") as pool:
        yield pool.submit(fn, *args, **kwargs)
