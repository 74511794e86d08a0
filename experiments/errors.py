"""The error every layer of the runner raises for bad input (a leaf: it imports nothing)."""

from __future__ import annotations


class ConfigError(ValueError):
    """Bad input: reported as one line, exit status 2, before any work starts."""
