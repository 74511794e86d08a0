"""Real file IO: each task writes, syncs and reads back a file in a temporary folder."""

from __future__ import annotations

import functools
import os
import shutil
import tempfile
import zlib
from pathlib import Path
from typing import Any, Callable, ClassVar

try:
    import numpy as np
except ImportError:  # a bare interpreter (python=...): preflight refuses this workload there
    np = None  # type: ignore[assignment]

from .base import Workload, task_seed


def write_read_file(arg: tuple[int, int, int], directory: str, fsync: bool) -> int:
    """Write ``grain`` KiB to a file of its own, read it back, delete it, return the CRC."""
    index, seed, grain = arg
    data = np.random.default_rng(seed).integers(0, 256, grain * 1024, dtype=np.uint8).tobytes()
    path = os.path.join(directory, f"task-{index}-{os.getpid()}.bin")
    with open(path, "wb") as fh:
        fh.write(data)
        if fsync:
            fh.flush()
            os.fsync(fh.fileno())
    with open(path, "rb") as fh:
        back = fh.read()
    os.remove(path)
    return zlib.crc32(back)


class IoFile(Workload):
    name: ClassVar[str] = "io_file"
    summary: ClassVar[str] = "write + read back grain KiB per task in a temporary folder"
    releases_gil: ClassVar[bool] = True
    requires: ClassVar[tuple[str, ...]] = ("numpy",)

    def __init__(
        self,
        size: int,
        grain: int = 256,
        seed: int = 0,
        fsync: bool = True,
        dir: str | None = None,
        **checks: Any,
    ) -> None:
        super().__init__(size, grain, seed, **checks)
        self.fsync = bool(fsync)
        self.parent = dir
        self._directory: str | None = None

    def setup(self) -> None:
        self._directory = tempfile.mkdtemp(prefix="coresweep-io-", dir=self.parent)

    def teardown(self) -> None:
        if self._directory is not None:
            shutil.rmtree(self._directory, ignore_errors=True)
            self._directory = None

    @property
    def directory(self) -> Path:
        if self._directory is None:
            raise RuntimeError("io_file: setup() was not called")
        return Path(self._directory)

    def key(self) -> tuple[Any, ...]:
        return (*super().key(), self.fsync)

    @property
    def task(self) -> Callable[[Any], Any]:
        return functools.partial(write_read_file, directory=str(self.directory), fsync=self.fsync)

    def inputs(self) -> list[Any]:
        return [(i, task_seed(self.seed, i), self.grain) for i in range(self.size)]
