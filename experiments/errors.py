"""The error every layer of the runner raises for bad input (a leaf: only the standard library)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class ConfigError(ValueError):
    """Bad input: reported as one line, exit status 2, before any work starts."""


def suggest(value: object, choices: Iterable[object]) -> str:
    """``"; did you mean X?"`` for the closest of ``choices`` to a mistyped ``value`` (or "")."""
    options = [str(c) for c in choices]
    text = str(value)
    # The same word in other case (Exact), then the one option it begins (cpu -> cpu_python),
    # then the closest spelling.
    found = [o for o in options if o.lower() == text.lower()]
    if not found and len(text) >= 3:
        found = [o for o in options if o.lower().startswith(text.lower())]
        found = found if len(found) == 1 else []
    if not found:
        found = difflib.get_close_matches(text, options, n=1, cutoff=0.6)
    return f"; did you mean {found[0]}?" if found and found[0] != text else ""
