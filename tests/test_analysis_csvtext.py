"""results.csv's writer gives exactly the bytes pandas' to_csv gives, odd values included."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from coresweep.analysis import csvtext
from coresweep.analysis.csvtext import write_csv


def _odd_frame(n: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    floats = np.concatenate(
        [[0.0, -0.0, np.inf, -np.inf, np.nan, 1e16, 1e-5, 5e-324], rng.lognormal(0, 9, n)]
    )
    n = floats.size
    texts = [
        "plain",
        "comma, inside",
        'a "quote"',
        "line\nbreak",
        "cr\rhere",
        "",
        " pad ",
        "ünï",
        None,
        np.nan,
    ]
    mixed = [1, 1.0, True, "1", None, np.nan, np.float64(2.5), [1, 2], pd.NA, 0]
    return pd.DataFrame(
        {
            "f": floats,
            "f32": floats.astype("float32"),
            "i": np.arange(n, dtype="int64") - 3,
            "u": np.arange(n, dtype="uint8"),
            "b": np.arange(n) % 3 == 0,
            "I": pd.array([None if k % 4 == 0 else k for k in range(n)], dtype="Int64"),
            "B": pd.array([None if k % 5 == 0 else k % 2 == 0 for k in range(n)], dtype="boolean"),
            "text": [texts[k % len(texts)] for k in range(n)],
            "mixed": [mixed[k % len(mixed)] for k in range(n)],
            "all none": [None] * n,
            'odd, "name"': [f"r{k}" for k in range(n)],
        }
    )


@pytest.mark.parametrize("chunk", [1, 7, 8192])
def test_same_bytes_as_pandas(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int) -> None:
    monkeypatch.setattr(csvtext, "CHUNK_ROWS", chunk)
    frame = _odd_frame()
    frame.to_csv(tmp_path / "pandas.csv", index=False, lineterminator="\n")
    write_csv(frame, tmp_path / "ours.csv")
    assert (tmp_path / "ours.csv").read_bytes() == (tmp_path / "pandas.csv").read_bytes()


@pytest.mark.parametrize(
    "frame",
    [
        pd.DataFrame({"only": ["", "x", None]}),  # one column: csv writes an empty cell as ""
        pd.DataFrame({"t": pd.to_datetime(["2026-01-01", None]), "x": [1, 2]}),
        pd.DataFrame({"c": pd.Categorical(["a", "b"]), "x": [1, 2]}),
        pd.DataFrame({"x": [], "y": []}),
    ],
)
def test_other_tables_are_left_to_pandas(tmp_path: Path, frame: pd.DataFrame) -> None:
    frame.to_csv(tmp_path / "pandas.csv", index=False, lineterminator="\n")
    write_csv(frame, tmp_path / "ours.csv")
    assert (tmp_path / "ours.csv").read_bytes() == (tmp_path / "pandas.csv").read_bytes()
