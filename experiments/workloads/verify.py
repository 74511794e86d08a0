"""Is a run's answer the sequential one? Results compared by type, as scientific code needs.

``bool(want == have)`` fails on numpy arrays (their ``==`` is element-wise), on NaN (never
equal to itself) and on floats whose last bits moved because a parallel reduction added in
another order. Here each type is compared for what it is:

- numpy arrays by shape, dtype and values, NaN equal to NaN (floats within the tolerance);
- floats and complex numbers (Python's or numpy's) within ``rtol``/``atol``, NaN equal to NaN,
  ``-0.0`` equal to ``0.0`` (IEEE equality: a sum in another order may flip the sign of a zero);
- lists, tuples, dicts, sets and pandas objects element by element, so a mismatch names where
  it is (``result 3[1]['x']: array values differ at 2 of 100 elements ...``);
- anything else by ``==``.

``workload.verify`` picks the check: ``auto`` (exact for ints, strings, bytes, bools; the
tolerance for floats), ``exact``, ``close`` (the tolerance for every number), ``none``, or a
checker ``pkg.module:func`` called as ``func(expected, got)`` per task. The comparison lives
here, apart from the workloads, so it is tested on its own and the same for every workload.
"""

from __future__ import annotations

import cmath
import math
import numbers
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Callable

#: The named checks of ``workload.verify`` (besides a checker ``pkg.module:func``).
MODES: tuple[str, ...] = ("auto", "exact", "close", "none")
#: Default relative tolerance: a parallel reduction (a sum split across workers) may change the
#: last bits of a float64 (about 1e-16 relative per addition); 1e-9 leaves room for millions of
#: reordered additions and is still far tighter than any real mistake.
DEFAULT_RTOL = 1e-9
#: Default absolute tolerance: none, so a result near zero is compared relatively too (an
#: absolute floor depends on the units of the result, which only the user knows).
DEFAULT_ATOL = 0.0

_REMEDY = "set workload.verify=pkg.module:checker (docs/usage.md, Your own function)"


class CheckerFailed(Exception):
    """The user's checker raised or returned something outside its contract (the run fails)."""


def _short(value: Any) -> str:
    if type(value).__module__ == "numpy" and getattr(value, "shape", None) == ():
        value = value.item()  # 2.001, not np.float64(2.001)
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _numpy() -> Any:
    """numpy if something already imported it (an array can only exist then), else None."""
    return sys.modules.get("numpy")


def _is_array(value: Any) -> bool:
    np = _numpy()
    return np is not None and isinstance(value, np.ndarray)


def _pandas_kind(value: Any) -> str | None:
    """The pandas kind (DataFrame, Series, Index: compared by pandas itself), else None."""
    pd = sys.modules.get("pandas")
    if pd is None:
        return None
    for kind in ("DataFrame", "Series", "Index"):
        if isinstance(value, getattr(pd, kind)):
            return kind
    return None


def _inexact(value: Any) -> bool:
    """A float or complex number (Python's or numpy's): where a tolerance makes sense."""
    return isinstance(value, numbers.Complex) and not isinstance(value, numbers.Rational)


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool) or type(value).__name__ in ("bool", "bool_")  # numpy's too


def _is_nan(value: Any) -> bool:
    try:
        return (
            cmath.isnan(value)
            if isinstance(value, complex) or "complex" in type(value).__name__
            else math.isnan(value)
        )
    except (TypeError, ValueError, OverflowError):
        return False


@dataclass
class Verification:
    """One job's check: how results are compared, and which comparisons actually ran."""

    mode: str = "auto"
    rtol: float = DEFAULT_RTOL
    atol: float = DEFAULT_ATOL
    #: ``pkg.module:func`` of a checker (mode ``checker``), and the function itself.
    spec: str | None = None
    checker: Callable[[Any, Any], Any] | None = None
    #: "exact" / "close": the comparisons made so far (what the row's ``verify`` field says).
    used: set[str] = field(default_factory=set)
    _compare: _Compare | None = field(default=None, repr=False, compare=False)

    @classmethod
    def build(
        cls,
        verify: Any = "auto",
        rtol: Any = None,
        atol: Any = None,
        default_rtol: float = DEFAULT_RTOL,
        default_atol: float = DEFAULT_ATOL,
    ) -> Verification:
        """The check ``workload.verify``/``rtol``/``atol`` ask for; ValueError (one line) when
        a value is not allowed or would be ignored. A checker is imported here, before any work."""
        if not isinstance(verify, str) or not (verify in MODES or ":" in verify):
            from ..errors import suggest

            hint = suggest(verify, MODES) if isinstance(verify, str) else ""
            if not hint and isinstance(verify, str) and "." in verify:
                module, _, name = verify.rpartition(".")
                hint = f"; a checker is named with a colon: {module}:{name}"
            raise ValueError(
                f"workload.verify={verify!r}: choose one of {', '.join(MODES)}, or a checker "
                f"pkg.module:func called as func(expected, got){hint}"
            )
        for key, value, default in (("rtol", rtol, default_rtol), ("atol", atol, default_atol)):
            if value is None:
                continue
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not math.isfinite(value)
                or value < 0
            ):
                raise ValueError(
                    f"workload.{key}={value!r}: must be a number >= 0 (e.g. 1e-9), or null for "
                    f"this workload's default ({default:g})"
                )
            if verify not in ("auto", "close"):
                raise ValueError(
                    f"workload.{key}={value!r} has no effect with workload.verify={verify}: "
                    "tolerances apply to workload.verify=auto or close"
                )
        check = cls(
            mode=verify if verify in MODES else "checker",
            rtol=float(default_rtol if rtol is None else rtol),
            atol=float(default_atol if atol is None else atol),
        )
        if check.mode == "checker":
            from .custom import resolve_function  # here: custom imports base, which imports this

            check.spec = verify
            check.checker = resolve_function(verify, option="workload.verify")
        return check

    def label(self) -> str:
        """What the rows record as ``verify``: the check that ran (for ``auto``, the comparisons
        the results needed: ``exact`` for ints and strings, ``close(...)`` once a float was
        compared; ``auto(...)`` before any result was)."""
        tolerance = f"(rtol={self.rtol:g}, atol={self.atol:g})"
        if self.mode == "checker":
            return f"checker {self.spec}"
        if self.mode in ("exact", "none"):
            return self.mode
        if self.mode == "close" or "close" in self.used:
            return "close" + tolerance
        return "exact" if self.used else "auto" + tolerance

    def requirements(self) -> tuple[str, ...]:
        """Modules a job process must import to verify (the checker's)."""
        return (str(self.spec).partition(":")[0],) if self.spec else ()

    def mismatch(self, want: Any, have: Any, where: str) -> str | None:
        """None when ``have`` is acceptable for ``want``; else where and how they differ.

        Raises :class:`CheckerFailed` when the user's checker raises or breaks its contract."""
        if self.mode == "none":
            return None
        if self.checker is not None:
            return self._ask_checker(want, have, where)
        if self._compare is None:
            self._compare = _Compare(self)
        return self._compare.diff(want, have, where)

    def differs_by_type(self, want: Any, have: Any, where: str) -> str | None:
        """The comparison by type (``auto`` for a checker's job): is a re-run the same answer?"""
        check = (
            self
            if self.checker is None and self.mode != "none"
            else Verification(rtol=self.rtol, atol=self.atol)
        )
        return _Compare(check).diff(want, have, where)

    def _ask_checker(self, want: Any, have: Any, where: str) -> str | None:
        assert self.checker is not None
        try:
            verdict = self.checker(want, have)
        except Exception as exc:
            raise CheckerFailed(
                f"{where}: the checker {self.spec} raised {type(exc).__name__}: {exc}".strip()
            ) from None
        if _is_bool(verdict) and getattr(verdict, "shape", ()) == ():
            verdict = bool(verdict)
        if verdict is None or verdict is True:
            return None
        if verdict is False:
            return (
                f"{where}: rejected by the checker {self.spec} (got {_short(have)}, expected {_short(want)})"
            )
        if isinstance(verdict, str):
            return f"{where}: {verdict or 'rejected'} (checker {self.spec})"
        raise CheckerFailed(
            f"{where}: the checker {self.spec} returned {_short(verdict)} ({type(verdict).__name__}); "
            "it must return True or None (acceptable), or False or a message (not)"
        )


class _Compare:
    """One comparison by type, recording in ``check.used`` which kinds of comparison ran."""

    def __init__(self, check: Verification) -> None:
        self.check = check
        #: ``close``: every number within the tolerance; ``auto``: floats only.
        self.all_numbers = check.mode == "close"
        self.tolerant = check.mode in ("auto", "close")

    def _tolerance(self, inexact: bool) -> bool:
        close = self.tolerant and (inexact or self.all_numbers)
        self.check.used.add("close" if close else "exact")
        return close

    def _beyond(self) -> str:
        return f"beyond rtol={self.check.rtol:g}, atol={self.check.atol:g}"

    def diff(self, want: Any, have: Any, where: str) -> str | None:
        kind = type(want)
        if kind is type(have):  # the common case, kept cheap: 100 000 results verify in ~0.1 s
            if kind in _EXACT:
                self.check.used.add("close" if self.all_numbers and kind is int else "exact")
                if want == have:
                    return None
            elif kind is float:
                self.check.used.add("close" if self.tolerant else "exact")
                if want == have:
                    return None
        if _is_array(want) or _is_array(have):
            return self._arrays(want, have, where)
        if _pandas_kind(want) or _pandas_kind(have):
            return self._pandas(want, have, where)
        if isinstance(want, Mapping) or isinstance(have, Mapping):
            return self._mappings(want, have, where)
        if isinstance(want, (list, tuple)) or isinstance(have, (list, tuple)):
            return self._sequences(want, have, where)
        if isinstance(want, (set, frozenset)) and isinstance(have, (set, frozenset)):
            return self._sets(want, have, where)
        if (
            isinstance(want, numbers.Number)
            and isinstance(have, numbers.Number)
            and not _is_bool(want)
            and not _is_bool(have)
        ):
            return self._numbers(want, have, where)
        return self._equal(want, have, where)

    def _kind_differs(self, want: Any, have: Any, where: str) -> str | None:
        """A list where a tuple was expected, a dict where a list was, ...: one line, or None."""
        for family in (Mapping, list, tuple):
            if isinstance(want, family) and isinstance(have, family):
                return None
        return f"{where}: is a {type(have).__name__} ({_short(have)}), expected a {type(want).__name__}"

    def _numbers(self, want: Any, have: Any, where: str) -> str | None:
        inexact = _inexact(want) or _inexact(have)
        close = self._tolerance(inexact)
        if _is_nan(want) or _is_nan(have):
            if _is_nan(want) and _is_nan(have):
                return None
            return f"{where}: is {_short(have)}, expected {_short(want)}"
        if want == have:  # -0.0 == 0.0 and inf == inf, as IEEE says
            return None
        if close and not (_is_inf(want) or _is_inf(have)):
            if isinstance(want, numbers.Integral) and isinstance(have, numbers.Integral):
                a, b = int(want), int(have)
                gap, scale = float(abs(a - b)), float(max(abs(a), abs(b)))
            else:
                a, b = complex(want), complex(have)
                gap, scale = abs(a - b), max(abs(a), abs(b))
            if gap <= max(self.check.rtol * scale, self.check.atol):
                return None
            return f"{where}: is {_short(have)}, expected {_short(want)} (diff {gap:.3g}, {self._beyond()})"
        return f"{where}: is {_short(have)}, expected {_short(want)}"

    def _arrays(self, want: Any, have: Any, where: str) -> str | None:
        np = _numpy()
        if not (_is_array(want) and _is_array(have)):
            if _is_array(want):
                return (
                    f"{where}: is a {type(have).__name__} ({_short(have)}), expected a numpy array "
                    f"of shape {want.shape} and dtype {want.dtype}"
                )
            return (
                f"{where}: is a numpy array of shape {have.shape}, "
                f"expected a {type(want).__name__} ({_short(want)})"
            )
        if want.shape != have.shape:
            return f"{where}: array shape is {have.shape}, expected {want.shape}"
        if want.dtype != have.dtype:
            return f"{where}: array dtype is {have.dtype}, expected {want.dtype}"
        kind = want.dtype.kind
        if kind == "O" or want.dtype.fields is not None:  # objects, records: element by element
            self.check.used.add("exact")
            for index in np.ndindex(want.shape):
                problem = self.diff(want[index], have[index], where + _index(index))
                if problem:
                    return problem
            return None
        if kind not in "fciu":  # bools, strings, dates: equal or not
            self.check.used.add("exact")
            try:
                same = np.array_equal(want, have, equal_nan=kind in "mM")
            except TypeError:
                same = np.array_equal(want, have)
            if same:
                return None
            bad = np.asarray(want != have)
            return self._array_message(want, have, bad, where, None)
        close = self._tolerance(kind in "fc")
        with np.errstate(invalid="ignore", over="ignore"):
            same = want == have  # ints compared as ints, never rounded through float64
            if kind in "fc":
                same = same | (np.isnan(want) & np.isnan(have))
            a = want.astype(np.float64) if kind in "iu" else want
            b = have.astype(np.float64) if kind in "iu" else have
            gap = np.abs(a - b)
            if close:
                limit = np.maximum(self.check.rtol * np.maximum(np.abs(a), np.abs(b)), self.check.atol)
                same = same | (np.isfinite(gap) & (gap <= limit))
        bad = ~np.asarray(same)
        if not bad.any():
            return None
        return self._array_message(want, have, bad, where, gap, close)

    def _array_message(
        self, want: Any, have: Any, bad: Any, where: str, gap: Any, close: bool = False
    ) -> str:
        np = _numpy()
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        text = f"{where}: array values differ at {int(bad.sum())} of {bad.size} elements"
        detail = f"first at {_index(first) or '[()]'}: {_short(have[first])}, expected {_short(want[first])}"
        if gap is not None:
            gaps = np.asarray(gap)[bad]
            finite = gaps[np.isfinite(gaps)]
            if finite.size:
                detail += f"; max abs diff {float(finite.max()):.3g}"
        if close:
            detail += f"; {self._beyond()}"
        return f"{text} ({detail})"

    def _pandas(self, want: Any, have: Any, where: str) -> str | None:
        import pandas.testing as pdt

        kind = _pandas_kind(want)
        if kind is None or kind != _pandas_kind(have):
            return f"{where}: is a {type(have).__name__}, expected a {type(want).__name__}"
        close = self._tolerance(True)
        assert_equal = {
            "DataFrame": pdt.assert_frame_equal,
            "Series": pdt.assert_series_equal,
            "Index": pdt.assert_index_equal,
        }[kind]
        options: dict[str, Any] = {"check_exact": not close}
        if close:
            options.update(rtol=self.check.rtol, atol=self.check.atol)
        try:
            assert_equal(want, have, **options)
        except AssertionError as exc:
            lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
            return f"{where}: {kind} differs: {'; '.join(lines)[:300]}"
        return None

    def _mappings(self, want: Any, have: Any, where: str) -> str | None:
        if not (isinstance(want, Mapping) and isinstance(have, Mapping)):
            return self._kind_differs(want, have, where) or self._equal(want, have, where)
        missing = [k for k in want if k not in have]
        extra = [k for k in have if k not in want]
        if missing or extra:
            parts = []
            if missing:
                parts.append(f"missing keys {_short(missing)}")
            if extra:
                parts.append(f"unexpected keys {_short(extra)}")
            return f"{where}: {', '.join(parts)}"
        for key in want:
            problem = self.diff(want[key], have[key], f"{where}[{key!r}]")
            if problem:
                return problem
        return None

    def _sequences(self, want: Any, have: Any, where: str) -> str | None:
        if not (isinstance(want, (list, tuple)) and isinstance(have, (list, tuple))):
            return self._kind_differs(want, have, where) or self._equal(want, have, where)
        problem = self._kind_differs(want, have, where)
        if problem:
            return problem
        if len(want) != len(have):
            return f"{where}: has {len(have)} items, expected {len(want)}"
        for index, (w, h) in enumerate(zip(want, have)):
            problem = self.diff(w, h, f"{where}[{index}]")
            if problem:
                return problem
        return None

    def _sets(self, want: Any, have: Any, where: str) -> str | None:
        self.check.used.add("exact")
        if want == have:
            return None
        missing, extra = list(want - have), list(have - want)
        return f"{where}: set differs: missing {_short(missing)}, unexpected {_short(extra)}"

    def _equal(self, want: Any, have: Any, where: str) -> str | None:
        self.check.used.add("exact")
        try:
            same = want == have
            same = bool(same)
        except Exception as exc:
            return (
                f"{where}: {type(want).__name__} results cannot be compared with == "
                f"({type(exc).__name__}: {exc}); {_REMEDY}"
            )
        if same:
            return None
        text = f"{where}: is {_short(have)}, expected {_short(want)}"
        if type(want) is type(have) and type(want).__eq__ is object.__eq__:
            text += (
                f" ({type(want).__name__} objects compare by identity, so a result made by another "
                f"call never equals the first: define __eq__, or {_REMEDY})"
            )
        return text


#: Types compared by == (ints within the tolerance under ``close``, where == is a first check).
_EXACT = (int, str, bytes, bool, type(None))


def _is_inf(value: Any) -> bool:
    try:
        return cmath.isinf(complex(value))
    except (TypeError, ValueError, OverflowError):
        return False


def _index(index: tuple[int, ...]) -> str:
    return f"[{', '.join(str(i) for i in index)}]" if index else ""
