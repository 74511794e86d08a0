"""The summary table: per configuration, medians with intervals, speedup against its baseline, efficiency."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..load import GROUP_KEYS
from ..physics import physics_flags, usable_cpus_per_row
from .intervals import (
    CONFIDENCE,
    N_BOOT,
    bootstrap_medians,
    group_seed,
    percentile_ci,
    seed_key,
    t_log_mean,
    t_quantiles,
)
from .keys import BASELINE_KEYS, SEQUENTIAL
from .models import karp_flatt

SUMMARY_COLUMNS: tuple[str, ...] = (
    *GROUP_KEYS,
    "n_runs",
    "n_ok",
    "n_failed",
    "median_wall_s",
    "wall_ci_low",
    "wall_ci_high",
    "cv",
    "speedup",
    "speedup_ci_low",
    "speedup_ci_high",
    "efficiency",
    "efficiency_ci_low",
    "efficiency_ci_high",
    "speedup_vs_1worker",
    "karp_flatt",
    "baseline_wall_s",
    "baseline_n",
    "baseline",
    "median_cpu_s",
    "cpu_per_wall",
    "median_peak_rss_bytes",
    "median_startup_s",
    "median_teardown_s",
    "note",
    "rounds",
    "interval_design",
    "usable_cpus",
    "physics_flag",
    "baseline_sweep",
)


#: The measured columns ``summarize`` reads (besides the configuration keys).
_SUMMED_COLUMNS = ("wall_s", "cpu_user_s", "cpu_sys_s", "peak_rss_bytes", "startup_s", "teardown_s")


#: ``interval_design`` of a configuration measured in >= 2 rounds: per round the median time of
#: the configuration (and, for the speedup, the same round's sequential median over it); the
#: interval is a Student t interval over rounds on the log of those values, R - 1 degrees of
#: freedom, and the speedup is the geometric mean of the per-round speedups.
DESIGN_ROUNDS = "rounds (per-round medians; speedup paired by round; t on log; R-1 dof)"
#: ``interval_design`` of a configuration measured in one round: bootstrap over its repeats only.
DESIGN_RUNS = "runs only (1 round: between-job drift not included)"
#: ``interval_design`` of a configuration whose jobs timed sequential runs between their runs
#: (``pair``) in >= 2 rounds: per round the mean, over its runs, of the log ratio of the
#: sequential runs beside a run to the run; t over rounds on those means, R - 1 dof.
DESIGN_PAIRS = (
    "adjacent pairs (per round the mean log ratio of each run to the sequential runs beside it; "
    "t on log over rounds; R-1 dof)"
)
#: ``baseline`` of a configuration whose speedup comes from its adjacent pairs.
BASELINE_PAIRS = "adjacent sequential runs (timed between this configuration's own runs, in its job)"
#: The row fields of adjacent pairs the summary reads (where rows have them).
PAIR_FIELDS = ("paired", "pair_wall_s", "pair_before_s", "pair_after_s")


def _blocks(rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Each row's round block, numbered in sorted (sweep, round) order, and each block's sweep number.

    A block is one round of one sweep: what was timed together. Rows without ``round`` (sweeps
    from before rounds) are round 0; rows without ``sweep_id`` are one sweep.
    """
    n = len(rows)
    if "sweep_id" in rows:
        sweep = rows["sweep_id"].astype(object).where(rows["sweep_id"].notna(), "")
        sweep_code, _ = pd.factorize(sweep.astype(str), sort=True)
    else:
        sweep_code = np.zeros(n, dtype="int64")
    if "round" in rows:
        rnd = pd.to_numeric(rows["round"], errors="coerce").fillna(0).to_numpy(dtype="int64")
        rnd = rnd - min(int(rnd.min()), 0) if n else rnd
    else:
        rnd = np.zeros(n, dtype="int64")
    span = int(rnd.max()) + 1 if n else 1
    combined = sweep_code.astype("int64") * span + rnd
    uniques, blk = np.unique(combined, return_inverse=True)
    return blk.astype("int64"), (uniques // span).astype("int64")


def summarize(rows: pd.DataFrame, n_boot: int = N_BOOT) -> pd.DataFrame:
    """One row per configuration (``GROUP_KEYS``): counts, medians with CIs, speedup, efficiency.

    Failed rows are counted (``n_failed``) and never timed. Speedup compares with the
    sequential runs of the same sweep, machine, workload, size and grain (collect=return
    preferred); the ``baseline`` column says which sequential runs were used, or why there are
    none. A baseline is never taken from another sweep.

    Intervals (``interval_design`` says which, ``rounds`` how many rounds): a configuration
    timed in >= 2 rounds (``round``; each round of each sweep counts) gets t intervals over its
    rounds (R - 1 degrees of freedom): the time's on the log of each round's median, the
    speedup's on the log of each round's ratio of the sequential median to the configuration's
    median in that same round (rounds without an ok sequential run are left out); the speedup
    is then the geometric mean of those per-round ratios. The machine's drift between jobs and
    rounds is inside these intervals. A configuration timed in one round keeps the exact
    bootstrap over its repeats (and the baseline's) and the ratio of medians, which do not see
    that drift. ``median_wall_s`` is always the median of all ok runs (its interval is widened
    to include it where the per-round interval does not). ``physics_flag`` marks speedups the
    cores cannot give (``analysis.physics``), judged with the largest ``usable_cpus`` of the
    configuration's rows (``usable_cpus``, else ``logical_cores``, else the ``affinity_cpus`` count).
    """
    if rows.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in SUMMARY_COLUMNS})
    keys = list(GROUP_KEYS)
    # One grouping pass over the nine key columns (the costly part on 100k rows); everything
    # after works on the integer group ids, numbered in sorted key order.
    gid = rows.groupby(keys, sort=True, dropna=False).ngroup().to_numpy()
    n_groups = int(gid.max()) + 1
    first = np.empty(n_groups, dtype="int64")
    first[gid[::-1]] = np.arange(len(gid) - 1, -1, -1)  # each group's first row
    ok_mask = rows["ok"].to_numpy(dtype=bool)
    n_runs = np.bincount(gid, minlength=n_groups)
    n_ok = np.bincount(gid[ok_mask], minlength=n_groups)
    counts = (
        rows.iloc[first][keys].reset_index(drop=True).assign(n_runs=n_runs, n_ok=n_ok, n_failed=n_runs - n_ok)
    )
    blk, block_sweep = _blocks(rows)

    # Sorted by round and value within each group so float sums (mean, std) do not depend on
    # row order. Only the columns used below (copying all of a 100k-row table twice cost more
    # than the medians).
    used = list(dict.fromkeys([*keys, *BASELINE_KEYS, "collect", *_SUMMED_COLUMNS]))
    used += [c for c in PAIR_FIELDS if c in rows.columns]
    ok_gid = gid[ok_mask]
    ok_blk = blk[ok_mask]
    order = np.lexsort((rows["wall_s"].to_numpy(dtype="float64")[ok_mask], ok_blk, ok_gid))
    ok_gid = ok_gid[order]
    ok_blk = ok_blk[order]
    ok = rows[used].iloc[np.flatnonzero(ok_mask)[order]]
    ok = ok.assign(cpu_s=ok[["cpu_user_s", "cpu_sys_s"]].sum(axis=1, min_count=1), _blk=ok_blk)
    agg = ok.groupby(ok_gid, sort=True).agg(
        median_wall_s=("wall_s", "median"),
        mean_wall_s=("wall_s", "mean"),
        std_wall_s=("wall_s", "std"),
        median_cpu_s=("cpu_s", "median"),
        median_peak_rss_bytes=("peak_rss_bytes", "median"),
        median_startup_s=("startup_s", "median"),
        median_teardown_s=("teardown_s", "median"),
    )
    summary = counts.join(agg, how="left")
    summary["cv"] = summary["std_wall_s"] / summary["mean_wall_s"]
    summary["cpu_per_wall"] = summary["median_cpu_s"] / summary["median_wall_s"]

    walls = ok["wall_s"].to_numpy(dtype="float64")
    cells = _Cells(ok_gid, ok_blk, walls, n_groups)
    group_ids = np.arange(n_groups)
    starts = np.searchsorted(ok_gid, group_ids, side="left")
    ends = np.searchsorted(ok_gid, group_ids, side="right")
    rounds = cells.count
    boots: dict[tuple, np.ndarray] = {}
    ci_low = np.full(len(summary), np.nan)
    ci_high = np.full(len(summary), np.nan)
    group_tuples = [tuple(r) for r in summary[keys].itertuples(index=False, name=None)]
    # One round: the exact bootstrap of the median over the repeats.
    for i in np.flatnonzero((rounds == 1) & (ends - starts >= 2)):
        key = group_tuples[i]
        seed = group_seed("wall", *seed_key(keys, key))
        boot = bootstrap_medians(walls[starts[i] : ends[i]], seed, n_boot)
        boots[key] = boot
        ci_low[i], ci_high[i] = percentile_ci(boot)
    # Several rounds: a t interval over the rounds on the log of each round's median (vectorised).
    multi = rounds >= 2
    if multi.any():
        low, high = cells.t_interval()
        ci_low[multi], ci_high[multi] = low[multi], high[multi]
        med = summary["median_wall_s"].to_numpy(dtype="float64")
        ci_low[multi] = np.fmin(ci_low[multi], med[multi])
        ci_high[multi] = np.fmax(ci_high[multi], med[multi])
    summary["wall_ci_low"] = ci_low
    summary["wall_ci_high"] = ci_high

    # Configurations without an ok run still name the baseline they would have been compared with.
    idle = np.flatnonzero(n_ok == 0)
    idle_sweeps: dict[int, np.ndarray] = {}
    if idle.size:
        mask = np.isin(gid, idle)
        pairs = np.unique(np.stack([gid[mask], block_sweep[blk[mask]]]), axis=1)
        idle_sweeps = {int(g): pairs[1][pairs[0] == g] for g in idle}
    if "sweep_id" in rows:
        names = rows["sweep_id"].astype(object).where(rows["sweep_id"].notna(), "").astype(str)
        sweep_names = sorted(names.unique())
    else:
        sweep_names = [""]
    design = _add_speedup(
        summary, ok, group_tuples, boots, n_boot, cells, block_sweep, idle_sweeps, sweep_names
    )
    # Sequential runs use one core whatever "workers" a sweep paired them with.
    used = summary["workers"].astype("float64").where(summary["backend"].ne(SEQUENTIAL), 1.0)
    summary["efficiency"] = summary["speedup"] / used
    summary["efficiency_ci_low"] = summary["speedup_ci_low"] / used
    summary["efficiency_ci_high"] = summary["speedup_ci_high"] / used
    summary["karp_flatt"] = karp_flatt(
        summary["speedup"].to_numpy(dtype="float64"), summary["workers"].to_numpy(dtype="float64")
    )
    summary.loc[summary["backend"].eq(SEQUENTIAL), "karp_flatt"] = np.nan
    _add_vs_one_worker(summary)
    summary["rounds"] = rounds
    # Where there is no speedup interval, the time interval's design (if it has one).
    wall_design = np.where(multi, DESIGN_ROUNDS, np.where(np.isfinite(ci_low), DESIGN_RUNS, ""))
    summary["interval_design"] = np.where(design != "", design, wall_design).astype(object)
    usable = pd.Series(usable_cpus_per_row(rows)).groupby(gid, sort=True).max()
    summary["usable_cpus"] = usable.reindex(group_ids).to_numpy(dtype="float64")
    summary["physics_flag"] = physics_flags(summary)

    order = summary.assign(_seq=summary["backend"].ne(SEQUENTIAL)).sort_values(
        [
            "machine",
            "workload",
            "size",
            "grain",
            "_seq",
            "backend",
            "start_method",
            "pinning",
            "collect",
            "workers",
        ],
        kind="mergesort",
    )
    # Configurations with >= 2 blocks in a group the pooled block model fits: its intervals.
    from .blockmodel import moderate_summary

    return moderate_summary(order[list(SUMMARY_COLUMNS)].reset_index(drop=True), rows)


class _Cells:
    """The ok runs of each (configuration, round) cell: rows sorted by group, block, then wall time.

    ``start``/``end`` index the sorted rows of each cell, ``gid``/``blk`` say whose cell it is,
    ``median`` is its median time; ``first``/``count`` give each group's cells (``count`` is the
    number of rounds the group has ok runs in).
    """

    def __init__(self, gid: np.ndarray, blk: np.ndarray, walls: np.ndarray, n_groups: int) -> None:
        self.walls = walls
        n = gid.size
        if n:
            change = np.flatnonzero((np.diff(gid) != 0) | (np.diff(blk) != 0)) + 1
            self.start = np.concatenate([[0], change]).astype("int64")
        else:
            self.start = np.zeros(0, dtype="int64")
        self.end = np.append(self.start[1:], n).astype("int64")
        self.gid = gid[self.start]
        self.blk = blk[self.start]
        size = self.end - self.start
        self.median = (walls[self.start + (size - 1) // 2] + walls[self.start + size // 2]) / 2.0
        self.count = np.bincount(self.gid, minlength=n_groups)
        self.first = np.searchsorted(self.gid, np.arange(n_groups), side="left")

    def of(self, i: int) -> slice:
        """The cells of group ``i``."""
        return slice(int(self.first[i]), int(self.first[i] + self.count[i]))

    def walls_of(self, cells: np.ndarray) -> np.ndarray:
        """The ok times of these cells (indices into the cell arrays), in one array."""
        return np.concatenate([self.walls[self.start[c] : self.end[c]] for c in cells])

    def t_interval(self, confidence: float = CONFIDENCE) -> tuple[np.ndarray, np.ndarray]:
        """Per group: exp of the t interval (R - 1 dof) of the mean log per-round median; NaN if R < 2."""
        logs = np.log(self.median)
        r = self.count.astype("float64")
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.bincount(self.gid, logs, minlength=r.size) / r
            ss = np.bincount(self.gid, (logs - mean[self.gid]) ** 2, minlength=r.size)
            half = t_quantiles(self.count - 1, confidence) * np.sqrt(ss / (r - 1.0)) / np.sqrt(r)
            return np.exp(mean - half), np.exp(mean + half)


def _add_speedup(
    summary: pd.DataFrame,
    ok: pd.DataFrame,
    group_tuples: list[tuple],
    boots: dict[tuple, np.ndarray],
    n_boot: int,
    cells: _Cells,
    block_sweep: np.ndarray,
    idle_sweeps: dict[int, np.ndarray],
    sweep_names: Sequence[str] = ("",),
) -> np.ndarray:
    """Speedup against the same sweep's sequential runs; returns each configuration's interval design.

    A configuration whose jobs timed sequential runs between their own (adjacent pairs, rows
    with ``pair_wall_s``) takes its speedup from those pairs instead (``_PairCells``): they were
    timed a fraction of a second from each run, so the machine's drift over seconds, which
    the sequential job's runs carry, is not in it (``DESIGN_PAIRS``, ``BASELINE_PAIRS``).

    A configuration whose own sweep has no ok sequential run of its workload and size borrows
    the baseline of another sweep of the same machine (interpreter, workload, size, grain),
    visibly: ``baseline_sweep`` names that sweep, ``baseline`` and ``note`` say so, and its
    interval is the bootstrap over the runs of both (the drift between the sweeps is not in it).

    Only rounds where both the configuration and its baseline have ok runs count. With >= 2
    such rounds, each round gives its own ratio of medians (that round's sequential median over
    the configuration's: a slow round slows both, and cancels); the speedup is their geometric
    mean and its interval the t interval (R - 1 dof) on their logs. With one, the speedup is
    the ratio of the two medians and its interval the bootstrap of that ratio over the repeats.
    ``baseline_wall_s`` / ``baseline_n`` are the median and count of the baseline's runs in the
    rounds used (with rounds, speedup can differ slightly from baseline_wall_s / median_wall_s,
    which pool the rounds).
    """
    seq_mask = ok["backend"].eq(SEQUENTIAL).to_numpy()
    seq = ok[seq_mask]
    seq_sweep = block_sweep[ok["_blk"].to_numpy()[seq_mask]]
    # (machine, python, ..., size, sweep) -> list of (grain, collect, walls, blocks)
    pools: dict[tuple, list[tuple[Any, str, np.ndarray, np.ndarray]]] = {}
    # (machine, python, ..., size) with a baseline in some sweep: to say why none was borrowed
    anywhere: set[tuple] = set()
    if len(seq):
        seq = seq.assign(_sweep=seq_sweep)
        groups = seq.groupby([*BASELINE_KEYS, "collect", "_sweep"], sort=True, dropna=False)
        for (*pool_key, grain, collect, sweep), part in groups:
            pools.setdefault((*pool_key, sweep), []).append(
                (
                    grain,
                    str(collect),
                    part["wall_s"].to_numpy(dtype="float64"),
                    part["_blk"].to_numpy(dtype="int64"),
                )
            )
            anywhere.add(tuple(pool_key))

    cache: dict[tuple, tuple[str, np.ndarray, np.ndarray, dict[int, float]]] = {}

    def baseline_for(key: tuple, sweep: int) -> tuple[str, np.ndarray, np.ndarray, dict[int, float]]:
        """(label, walls, their blocks, median per block) of the sequential runs this key compares with."""
        if (key, sweep) in cache:
            return cache[(key, sweep)]
        *pool_key, grain = key
        candidates = pools.get((*pool_key, sweep), [])
        result = None
        for same_grain, want_return in ((True, True), (True, False), (False, True), (False, False)):
            picked = [
                (w, b)
                for g, c, w, b in candidates
                if (g == grain or not same_grain) and (c == "return" or not want_return)
            ]
            if picked:
                where = "same grain" if same_grain else "any grain"
                what = "collect=return" if want_return else "any collect"
                w = np.concatenate([p[0] for p in picked])
                b = np.concatenate([p[1] for p in picked])
                order = np.lexsort((w, b))
                w, b = w[order], b[order]
                edges = np.flatnonzero(np.diff(b)) + 1
                meds = {
                    int(part_b[0]): float(np.median(part_w))
                    for part_w, part_b in zip(np.split(w, edges), np.split(b, edges))
                }
                result = (f"sequential ({where}, {what})", w, b, meds)
                break
        if result is None:
            result = ("", np.empty(0), np.empty(0, dtype="int64"), {})
        cache[(key, sweep)] = result
        return result

    boot_cache: dict[tuple, np.ndarray | None] = {}
    pooled: dict[tuple, tuple[float, int]] = {}

    def baseline_boot(key: tuple, sweep: int, block: int, walls: np.ndarray) -> np.ndarray | None:
        if (key, sweep, block) not in boot_cache:
            seed = group_seed("baseline", *seed_key(BASELINE_KEYS, key))
            boot = bootstrap_medians(walls, seed, n_boot) if walls.size >= 2 else None
            boot_cache[(key, sweep, block)] = boot
        return boot_cache[(key, sweep, block)]

    n = len(summary)
    speedup = np.full(n, np.nan)
    base_wall = np.full(n, np.nan)
    base_n = np.zeros(n, dtype="int64")
    labels: list[str] = []
    notes: list[str] = []
    borrowed_from = [""] * n
    design = np.full(n, "", dtype=object)
    s_low = np.full(n, np.nan)
    s_high = np.full(n, np.nan)
    key_index = {k: i for i, k in enumerate(GROUP_KEYS)}
    base_pos = [key_index[k] for k in BASELINE_KEYS]
    seed_names = list(GROUP_KEYS)
    med = summary["median_wall_s"].to_numpy(dtype="float64")
    n_ok = summary["n_ok"].to_numpy()
    pairs = _PairCells(ok, cells)
    for i, key in enumerate(group_tuples):
        bkey = tuple(key[p] for p in base_pos)
        note = []
        if n_ok[i] == 0:
            note.append("no ok run")
        mine = cells.of(i)
        blocks = cells.blk[mine]
        sweeps = block_sweep[blocks]
        if pairs.count[mine].sum() > 0:
            result = pairs.speedup(i, key, n_boot)
            speedup[i], s_low[i], s_high[i], design[i], base_wall[i], base_n[i], extra = result
            labels.append(BASELINE_PAIRS)
            notes.append("; ".join(note + extra))
            continue
        if pairs.flagged[mine].any():
            note.append(
                "no complete adjacent pair (a sequential run beside the runs failed): "
                "speedup from the round medians"
            )
        chosen: dict[int, tuple[str, np.ndarray, np.ndarray, dict[int, float]]] = {}
        for sweep in np.unique(sweeps) if blocks.size else idle_sweeps.get(i, ()):
            found = baseline_for(bkey, int(sweep))
            if found[3]:
                chosen[int(sweep)] = found
        paired = np.flatnonzero(
            [int(s) in chosen and int(b) in chosen[int(s)][3] for b, s in zip(blocks, sweeps)]
        ).astype("int64")
        if not chosen and n_ok[i] and blocks.size:
            lender = _lender(bkey, pools, baseline_for)
            if lender is not None:
                other, (label, w, _b, _m) = lender
                name = sweep_names[other] if other < len(sweep_names) else str(other)
                mine_walls = cells.walls_of(np.arange(mine.start, mine.stop))
                base_wall[i], base_n[i] = float(np.median(w)), w.size
                speedup[i] = base_wall[i] / float(np.median(mine_walls))
                borrowed_from[i] = name or "(unnamed)"
                labels.append(f"{label}, borrowed from sweep {borrowed_from[i]}")
                note.append(
                    f"baseline borrowed from sweep {borrowed_from[i]} (another sweep of this machine: "
                    "the drift between the sweeps is not in the interval)"
                )
                if w.size >= 2 and mine_walls.size >= 2:
                    b_seed = group_seed("borrowed", *seed_key(BASELINE_KEYS, bkey))
                    c_seed = group_seed("wall", *seed_key(seed_names, key))
                    bboot = bootstrap_medians(w, b_seed, n_boot)
                    cboot = bootstrap_medians(mine_walls, c_seed, n_boot)
                    s_low[i], s_high[i] = percentile_ci(bboot / cboot)
                    design[i] = DESIGN_RUNS
                notes.append("; ".join(note))
                continue
        if not chosen:
            pool_key = bkey[:-1]
            labels.append(
                "none: no ok sequential run of this workload and size in this sweep "
                "(never borrowed from another sweep)"
                if pool_key in anywhere and n_ok[i]
                else "none: no ok sequential run of this workload and size"
            )
            notes.append("; ".join(note))
            continue
        labels.append(" + ".join(dict.fromkeys(c[0] for c in chosen.values())))
        if blocks.size == 0:  # no ok run: no speedup, but the baseline it would have had
            all_walls = np.concatenate([chosen[s][1] for s in sorted(chosen)])
            base_wall[i], base_n[i] = float(np.median(all_walls)), all_walls.size
            notes.append("; ".join(note))
            continue
        if paired.size == 0:
            note.append("no round has ok runs of both this configuration and the sequential baseline")
            notes.append("; ".join(note))
            continue
        if paired.size < blocks.size:
            note.append(
                f"{blocks.size - paired.size} of {blocks.size} rounds have no ok sequential run: "
                "left out of the speedup"
            )
        cell_ids = np.arange(mine.start, mine.stop)[paired]
        paired_blocks = blocks[paired]
        pooled_key = (bkey, tuple(paired_blocks.tolist()))
        if pooled_key not in pooled:  # configurations of one baseline mostly share their rounds
            base_walls = np.concatenate(
                [w[np.isin(b, paired_blocks)] for _, w, b, _ in (chosen[s] for s in sorted(chosen))]
            )
            pooled[pooled_key] = (float(np.median(base_walls)), base_walls.size)
        base_wall[i], base_n[i] = pooled[pooled_key]
        if paired.size >= 2:
            # Each round's own ratio of medians; their geometric mean and its t interval.
            base_meds = np.array(
                [chosen[int(s)][3][int(b)] for b, s in zip(paired_blocks, sweeps[paired])], dtype="float64"
            )
            log_ratios = np.log(base_meds) - np.log(cells.median[cell_ids])
            speedup[i], s_low[i], s_high[i] = t_log_mean(log_ratios)
            design[i] = DESIGN_ROUNDS
        else:
            config_median = med[i] if blocks.size == 1 else float(np.median(cells.walls_of(cell_ids)))
            speedup[i] = base_wall[i] / config_median
            block, sweep = int(paired_blocks[0]), int(sweeps[paired][0])
            _, w, b, _ = chosen[sweep]
            bboot = baseline_boot(bkey, sweep, block, w[b == block])
            if blocks.size == 1:
                cboot = boots.get(key)
            else:  # the configuration's runs of that one round only
                mine_walls = cells.walls_of(cell_ids)
                cboot = None
                if mine_walls.size >= 2:
                    seed = group_seed("wall", *seed_key(seed_names, key))
                    cboot = bootstrap_medians(mine_walls, seed, n_boot)
                note.append("speedup from the one round with an ok sequential run")
            if bboot is None or cboot is None:
                if np.isfinite(med[i]):
                    note.append("no CI: fewer than 2 ok runs here or in the baseline")
            else:
                s_low[i], s_high[i] = percentile_ci(bboot / cboot)
                design[i] = DESIGN_RUNS
        notes.append("; ".join(note))
    summary["baseline_wall_s"] = base_wall
    summary["baseline_n"] = base_n
    summary["baseline"] = labels
    summary["baseline_sweep"] = borrowed_from
    summary["speedup"] = speedup
    summary["speedup_ci_low"] = s_low
    summary["speedup_ci_high"] = s_high
    summary["note"] = notes
    return design


class _PairCells:
    """Adjacent pairs per (configuration, round) cell of ``_Cells``: what ``pair`` measured.

    ``mean`` is the cell's mean of log(pair_wall_s / wall_s) over its ok runs with a complete
    pair, ``count`` how many, ``flagged`` whether its job paired at all (``paired``), ``missing``
    its ok runs of a paired job without a complete pair (a sequential run beside them failed).
    Rows without the pair fields (unpaired jobs, older runners) give count 0.
    """

    def __init__(self, ok: pd.DataFrame, cells: _Cells) -> None:
        self.ok, self.cells = ok, cells
        n_cells = cells.start.size
        size = cells.end - cells.start
        cell_of_row = np.repeat(np.arange(n_cells), size)
        if "pair_wall_s" in ok.columns:
            pair = pd.to_numeric(ok["pair_wall_s"], errors="coerce").to_numpy(dtype="float64")
        else:
            pair = np.full(len(ok), np.nan)
        valid = np.isfinite(pair) & (pair > 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            logs = np.where(valid, np.log(np.where(valid, pair, 1.0)) - np.log(cells.walls), 0.0)
        flag = ok["paired"].eq(True).to_numpy(dtype=bool) if "paired" in ok.columns else valid
        self.valid, self.pair = valid, pair
        self.count = np.bincount(cell_of_row, valid.astype("int64"), minlength=n_cells).astype("int64")
        self.flagged = np.bincount(cell_of_row, (flag | valid).astype("int64"), minlength=n_cells) > 0
        lost = (flag & ~valid).astype("int64")
        self.missing = np.bincount(cell_of_row, lost, minlength=n_cells).astype("int64")
        with np.errstate(divide="ignore", invalid="ignore"):
            self.mean = np.bincount(cell_of_row, logs, minlength=n_cells) / self.count

    def speedup(
        self, i: int, key: tuple, n_boot: int
    ) -> tuple[float, float, float, str, float, int, list[str]]:
        """(speedup, low, high, design, baseline_wall_s, baseline_n, notes) of group ``i`` from its pairs.

        Rounds with a complete pair count; with >= 2 of them the speedup is the geometric mean of
        their per-round mean ratios and the interval Student t over rounds (R - 1 dof). With one
        round, the runs-only design of one round: the ratio of the median sequential time beside
        the runs to the median run, bootstrap over each (pairs sharing a sequential run are not
        independent, so no t over them).
        """
        cells = self.cells
        mine = np.arange(cells.of(i).start, cells.of(i).stop)
        good = mine[self.count[mine] > 0]
        notes: list[str] = []
        if good.size < mine.size:
            notes.append(
                f"{mine.size - good.size} of {mine.size} rounds have no complete adjacent pair "
                "(unpaired jobs or a sequential run beside the runs failed): left out of the speedup"
            )
        missing = int(self.missing[good].sum())
        if missing:
            notes.append(f"{missing} ok runs without a complete adjacent pair (see pair_error): left out")
        rows = np.concatenate([np.arange(cells.start[c], cells.end[c]) for c in good])
        rows = rows[self.valid[rows]]
        base_wall, base_n = float(np.median(self.pair[rows])), int(rows.size)
        if good.size >= 2:
            speedup, low, high = t_log_mean(self.mean[good])
            return speedup, low, high, DESIGN_PAIRS, base_wall, base_n, notes
        seq = self._sequential_runs(rows)
        mine_walls = cells.walls[rows]
        speedup = float(np.median(seq)) / float(np.median(mine_walls))
        if seq.size < 2 or mine_walls.size < 2:
            notes.append("no CI: one round, fewer than 2 runs or 2 sequential runs beside them")
            return speedup, np.nan, np.nan, "", base_wall, base_n, notes
        names = list(GROUP_KEYS)
        bboot = bootstrap_medians(seq, group_seed("pairs", *seed_key(names, key)), n_boot)
        cboot = bootstrap_medians(mine_walls, group_seed("wall", *seed_key(names, key)), n_boot)
        low, high = percentile_ci(bboot / cboot)
        return speedup, low, high, DESIGN_RUNS, base_wall, base_n, notes

    def _sequential_runs(self, rows: np.ndarray) -> np.ndarray:
        """The distinct sequential runs beside these rows (a run between two runs counts once)."""
        sides = [
            pd.to_numeric(self.ok[c], errors="coerce").to_numpy(dtype="float64")[rows]
            for c in ("pair_before_s", "pair_after_s")
            if c in self.ok.columns
        ]
        values = np.concatenate(sides) if sides else self.pair[rows]
        values = np.unique(values[np.isfinite(values) & (values > 0)])
        return values if values.size else self.pair[rows]


def _lender(bkey: tuple, pools: Mapping[tuple, Any], baseline_for: Callable) -> tuple[int, tuple] | None:
    """The first other sweep (in sweep order) with an ok sequential baseline for ``bkey``."""
    pool_key = tuple(bkey[:-1])
    for other in sorted(int(k[-1]) for k in pools if tuple(k[:-1]) == pool_key):
        found = baseline_for(bkey, other)
        if found[3]:
            return other, found
    return None


def _add_vs_one_worker(summary: pd.DataFrame) -> None:
    """Speedup against the fastest 1-worker configuration of the same backend (its own overhead)."""
    ladder = ["machine", "python", "gil_enabled", "backend", "workload", "size", "grain"]
    one = summary[summary["workers"].eq(1)].groupby(ladder, sort=True, dropna=False)["median_wall_s"].min()
    one = one.rename("_best_one").reset_index()
    merged = summary[ladder].merge(one, on=ladder, how="left")
    summary["speedup_vs_1worker"] = merged["_best_one"].to_numpy(dtype="float64") / summary[
        "median_wall_s"
    ].to_numpy(dtype="float64")


def best_per_workload(summary: pd.DataFrame) -> pd.DataFrame:
    """The fastest configuration per (machine, workload, size): the report's verdict lines."""
    ok = summary[(summary["n_ok"] > 0) & np.isfinite(summary["median_wall_s"].astype("float64"))]
    if ok.empty:
        return summary.iloc[0:0]
    ok = ok.sort_values(
        ["machine", "workload", "size", "median_wall_s", "backend", "workers"], kind="mergesort"
    )
    return ok.groupby(["machine", "workload", "size"], sort=True, dropna=False).head(1).reset_index(drop=True)
