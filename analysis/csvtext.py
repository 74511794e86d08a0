"""A table as CSV text, byte for byte what ``DataFrame.to_csv(index=False, lineterminator="\\n")`` writes.

pandas hands every cell of a 100k-row results table to the ``csv`` module one by one (about a
second for 3.8 million cells). Here each column is turned into text once per *distinct* value
(a sweep repeats most values: configuration, core counts, the same cpus list in every row),
cells that need quoting (a comma, a quote or a line break: rare) get it from the ``csv`` module
itself, and rows are joined in C with ``str.join``: about a third of the time, the same bytes.
A table this code has no rule for (a single column, a datetime or categorical column) is left
to pandas.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pandas as pd

#: Rows turned into text at a time: bounds the memory of the text to a few MiB.
CHUNK_ROWS = 8192
#: Characters that make the ``csv`` module quote a cell (QUOTE_MINIMAL, "\n" line terminator).
_SPECIAL = (",", '"', "\n", "\r")


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """Write ``frame`` to ``path`` as ``frame.to_csv(path, index=False, lineterminator="\\n")`` would."""
    if not _supported(frame):
        frame.to_csv(path, index=False, lineterminator="\n")
        return
    columns = [frame.iloc[:, i] for i in range(frame.shape[1])]
    with open(path, "w", encoding="utf-8", newline="") as handle:
        handle.write(_quoted_line([str(c) for c in frame.columns]))
        for start in range(0, len(frame), CHUNK_ROWS):
            cells = [_column_text(col.iloc[start : start + CHUNK_ROWS]) for col in columns]
            handle.write("\n".join(map(",".join, zip(*cells))))
            handle.write("\n")


def _supported(frame: pd.DataFrame) -> bool:
    """Plain columns only (float, int, bool, object, and pandas' nullable Int64/boolean), 2 or more.

    (With one column the ``csv`` module writes an empty cell as ``""``: a rule not copied here.)
    """
    if frame.shape[1] < 2 or not frame.columns.is_unique:
        return False
    for dtype in frame.dtypes:
        if isinstance(dtype, np.dtype):
            plain = dtype.kind in "iubO" or (dtype.kind == "f" and dtype.itemsize in (4, 8))
            if not plain:
                return False
        elif not isinstance(dtype, (pd.Int64Dtype, pd.BooleanDtype)):
            return False
    return True


def _quoted_line(cells: list[str]) -> str:
    """One row through the ``csv`` module (pandas' writer settings): header and quoted cells."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(cells)
    return buffer.getvalue()


def _quote(text: str) -> str:
    return _quoted_line([text])[:-1] if any(c in text for c in _SPECIAL) else text


def _column_text(values: pd.Series) -> list[str]:
    """The cells of one column as pandas writes them: missing values empty, everything else
    ``str`` of the value (for floats numpy's shortest repr, as pandas' ``astype(str)``).

    Each distinct value is converted once. Floats are told apart by their bits (0.0 and -0.0
    compare equal but print differently); an object column is deduplicated only when it holds
    nothing but text (1, 1.0 and True compare equal too).
    """
    dtype = values.dtype
    if dtype.kind == "O":
        array = values.to_numpy()
        if pd.api.types.infer_dtype(array, skipna=True) not in ("string", "empty"):
            missing = pd.isna(array)
            return [
                "" if gone else _quote(v if type(v) is str else str(v)) for v, gone in zip(array, missing)
            ]
        codes, uniques = pd.factorize(array, use_na_sentinel=True)
        texts = list(uniques)
    elif dtype.kind == "f":
        array = values.to_numpy()
        codes, uniques = pd.factorize(array.view(f"i{array.itemsize}"), use_na_sentinel=False)
        codes[np.isnan(array)] = -1
        texts = uniques.view(array.dtype).astype(str).tolist()
    else:  # ints and bools (numpy or nullable): str() of the Python value
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
        texts = [str(v) for v in uniques.tolist()]
    texts = [_quote(t) for t in texts]
    texts.append("")  # code -1 (missing) indexes this last entry
    return np.array(texts, dtype=object)[codes].tolist()
