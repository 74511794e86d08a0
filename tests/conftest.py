"""Shared fixtures. A hung test dumps every thread's traceback instead of hanging CI silently."""

from __future__ import annotations

import faulthandler
import sys

import pytest


@pytest.fixture(autouse=True)
def _dump_traceback_if_hung():
    faulthandler.dump_traceback_later(240, exit=False, file=sys.stderr)
    yield
    faulthandler.cancel_dump_traceback_later()
