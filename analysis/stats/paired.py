"""Per-block speedup estimates: the paired values that comparisons between configurations test.

A *block* is one round of one sweep: what was timed close together. Every comparison that
coresweep makes between two configurations (the verdict's best set, the claims) pairs them by
block, so that a slow stretch of the machine, which slows every configuration timed in it,
cancels instead of widening the comparison.

``block_log_speedups`` is the one source of these values. Each row is one configuration in one
block: the log of that block's speedup over sequential. Where a job timed sequential runs next
to its own runs (adjacent pairs), those pairs give the value; otherwise the block's sequential
median over the configuration's median does (``source`` says which).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..load import GROUP_KEYS
from .keys import BASELINE_KEYS, SEQUENTIAL

#: ``source`` of a value taken from the round's medians (the sequential job's against this one's).
SOURCE_ROUNDS = "round medians"
#: ``source`` of a value taken from the job's adjacent pairs (``pair``): the block's mean, over
#: its ok runs with a complete pair, of log(pair_wall_s / wall_s); ``n`` counts those pairs.
SOURCE_PAIRS = "adjacent pairs"

BLOCK_COLUMNS: tuple[str, ...] = (*GROUP_KEYS, "block", "sweep", "log_speedup", "n", "source", "log_base")


def blocks_of(rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Each row's block (sweep x round, numbered in sorted order) and each block's sweep number."""
    from .summary import _blocks  # one definition of a block

    return _blocks(rows)


def block_log_speedups(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per (configuration, block) with an ok run of it and of its sequential baseline.

    Columns: the configuration's ``GROUP_KEYS``, ``block`` and ``sweep`` (integers, as
    ``blocks_of``), ``log_speedup`` (natural log of that block's speedup over sequential), ``n``
    (ok runs of the configuration behind it; for adjacent pairs, the pairs), ``source`` and
    ``log_base`` (the log of the block's baseline median time; NaN for adjacent pairs), which
    lets the block model treat the baseline as one more configuration.
    Sequential configurations are left out (their speedup is 1 by definition).

    A configuration with adjacent pairs (rows with ``pair_wall_s``, in any block) takes every
    value from them: per block the mean log ratio of its pairs, blocks without a complete pair
    left out; it needs no sequential job. Any other takes the block's sequential median over its
    own median: the baseline is the same sweep and block's sequential runs of the same machine,
    interpreter, workload, size and grain, collect=return preferred (as the summary's).
    """
    if rows.empty or "ok" not in rows:
        return _empty()
    blk, block_sweep = blocks_of(rows)
    ok_mask = rows["ok"].to_numpy(dtype=bool) & np.isfinite(pd.to_numeric(rows["wall_s"], errors="coerce"))
    pair_cols = [c for c in ("pair_wall_s",) if c in rows.columns]
    frame = rows.loc[ok_mask, list(dict.fromkeys([*GROUP_KEYS, *BASELINE_KEYS, "wall_s", *pair_cols]))].copy()
    frame["block"] = blk[ok_mask]
    frame["sweep"] = block_sweep[frame["block"].to_numpy()]
    frame["wall_s"] = frame["wall_s"].astype("float64")
    keys = [*GROUP_KEYS, "block", "sweep"]
    parts = []
    par = frame[frame["backend"].ne(SEQUENTIAL)]
    paired_keys = pd.DataFrame(columns=list(GROUP_KEYS))
    if pair_cols and not par.empty:
        pair = pd.to_numeric(par["pair_wall_s"], errors="coerce").to_numpy(dtype="float64")
        valid = np.isfinite(pair) & (pair > 0)
        if valid.any():
            with_pairs = par[valid].assign(
                _lr=np.log(pair[valid]) - np.log(par["wall_s"].to_numpy(dtype="float64")[valid])
            )
            cells = with_pairs.groupby(keys, dropna=False).agg(log_speedup=("_lr", "mean"), n=("_lr", "size"))
            cells = cells.reset_index().assign(source=SOURCE_PAIRS, log_base=np.nan)
            parts.append(cells)
            paired_keys = cells[list(GROUP_KEYS)].drop_duplicates()
            # Configurations with pairs take no value from the round medians.
            marker = par[list(GROUP_KEYS)].merge(paired_keys.assign(_p=True), on=list(GROUP_KEYS), how="left")
            par = par[~marker["_p"].eq(True).to_numpy()]
    rounds = _from_round_medians(frame[frame["backend"].eq(SEQUENTIAL)], par, keys)
    if rounds is not None:
        parts.append(rounds)
    if not parts:
        return _empty()
    out = pd.concat(parts, ignore_index=True)
    out["n"] = out["n"].astype("int64")
    out = out[list(BLOCK_COLUMNS)].sort_values([*GROUP_KEYS, "block"], kind="mergesort")
    return out.reset_index(drop=True)


def _from_round_medians(seq: pd.DataFrame, par: pd.DataFrame, keys: list[str]) -> pd.DataFrame | None:
    """Per (configuration, block): the block's sequential median over the configuration's median."""
    if seq.empty or par.empty:
        return None
    base_keys = [*BASELINE_KEYS, "block"]
    seq = seq.assign(_pref=seq["collect"].astype(str).ne("return"))
    best = seq.groupby(base_keys, dropna=False)["_pref"].transform("min")
    seq = seq[seq["_pref"].eq(best)]
    base = seq.groupby(base_keys, dropna=False)["wall_s"].median().rename("_base").reset_index()
    cells = par.groupby(keys, dropna=False).agg(_med=("wall_s", "median"), _n=("wall_s", "size"))
    cells = cells.reset_index()
    merged = cells.merge(base, on=base_keys, how="inner")
    if merged.empty:
        return None
    return merged.assign(
        log_speedup=np.log(merged["_base"].to_numpy(dtype="float64"))
        - np.log(merged["_med"].to_numpy(dtype="float64")),
        n=merged["_n"].astype("int64"),
        source=SOURCE_ROUNDS,
        log_base=np.log(merged["_base"].to_numpy(dtype="float64")),
    )


def _empty() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="object") for c in BLOCK_COLUMNS})
