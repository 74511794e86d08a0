"""Shared fixtures. A hung test dumps every thread's traceback instead of hanging CI silently."""

from __future__ import annotations

import faulthandler
import sys

import pytest
from hydra import initialize_config_module
from hydra.core.global_hydra import GlobalHydra


@pytest.fixture(autouse=True)
def _dump_traceback_if_hung():
    faulthandler.dump_traceback_later(240, exit=False, file=sys.stderr)
    yield
    faulthandler.cancel_dump_traceback_later()


@pytest.fixture()
def hydra_ctx():
    """Hydra's compose API on the packaged configs (``compose("config", overrides=...)``)."""
    GlobalHydra.instance().clear()
    with initialize_config_module("coresweep.conf", version_base="1.3"):
        yield
    GlobalHydra.instance().clear()
