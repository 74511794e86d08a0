"""The classic claims about Python threads and processes, each checked against the data present.

Every claim becomes one row: the claim, a verdict, the evidence (numbers with their 95%
intervals) and the threshold the verdict used. Verdicts:

- **supported**: every relevant measurement passes the threshold;
- **refuted**: every relevant measurement fails it;
- **depends**: some pass and some fail (e.g. one IO workload but not the other), or an
  interval straddles the threshold so the data cannot decide;
- **not measured**: the sweep has no runs that bear on the claim (the evidence says which
  runs would).

Only what was measured is judged: no claim borrows numbers from another machine or workload.
A configuration whose speedup the cores cannot give (``physics_flag``, see ``analysis.physics``)
is no evidence either way: it stays in the evidence with the flag's text and counts as unclear,
so a claim resting on it reads *depends*, never *supported* or *refuted*.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from .physics import FLAG
from .stats import bootstrap_medians, group_seed, percentile_ci
from .stats.compare import paired_log_ratio
from .stats.paired import blocks_of

# The tutorial's claims are about the standard library's and joblib's backends; other engines
# (dask_distributed, interpreter_pool) are measured beside them but are not evidence for them.
THREAD_BACKENDS = ("thread", "thread_pool", "joblib_threading")
PROCESS_BACKENDS = ("process", "pool", "process_pool", "joblib_loky", "joblib_multiprocessing")
CPU_WORKLOAD = "cpu_python"
IO_WORKLOADS = ("io_sleep", "io_file")

# Thresholds (module constants so the report states exactly what was used):
#: (1) threads on pure-Python CPU work count as "no speedup" when the speedup CI's upper bound is
#: below this: a 20% margin over 1x absorbs timer noise and the threads' own small overhead.
THREADS_CPU_MAX_SPEEDUP = 1.2
#: (2) threads "help" with IO when the speedup CI's lower bound is above this (workers >= 2):
#: clearly more than one task waiting at a time, whatever the worker count.
THREADS_IO_MIN_SPEEDUP = 1.5
#: (3) processes "use all cores" when efficiency (speedup / workers) at workers = physical cores
#: reaches this: 80% of perfect scaling, leaving room for start-up and result transfer.
PROCESS_CPU_MIN_EFFICIENCY = 0.8
#: (5) Manager().list is "costly" when collecting through it is at least this many times slower
#: than returning results (the interval of the wall time ratio, same backend, workers and workload).
MANAGER_MIN_SLOWDOWN = 1.2
#: (10) subinterpreters give "processes' parallelism" when interpreter_pool's efficiency CI at
#: workers = physical cores lies at or above claim 3's threshold, and "threads' start-up cost" when
#: the CI of its median executor start-up lies below the geometric mean of the thread and the
#: process backends' medians (nearer threads than processes on a log scale), same machine,
#: interpreter and worker count.
SUBINTERPRETER_BACKEND = "interpreter_pool"

FOLKLORE_COLUMNS = ("claim_id", "claim", "verdict", "evidence", "threshold")
#: Dimensions that must match when two configurations are compared "like for like".
_SAME = (
    "machine",
    "workload",
    "size",
    "grain",
    "start_method",
    "pinning",
    "collect",
    "workers",
    "python",
    "gil_enabled",
)


def _f(value: Any, digits: int = 3) -> str:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return "–"
    return f"{v:.{digits}g}" if np.isfinite(v) else "–"


def _ci(value: Any, low: Any, high: Any, suffix: str = "×") -> str:
    text = _f(value) + suffix
    if np.isfinite(float(low)) and np.isfinite(float(high)):
        return text + f" [{_f(low)}, {_f(high)}]"
    return text + " (no CI: fewer than 2 ok runs)"


def _verdict(statuses: list[str]) -> str:
    if not statuses:
        return "not measured"
    if all(s == "pass" for s in statuses):
        return "supported"
    if all(s == "fail" for s in statuses):
        return "refuted"
    return "depends"


def _bounds(row: Mapping[str, Any], col: str) -> tuple[float, float, float]:
    """(value, low, high); without an interval the point value stands for both bounds."""
    v = float(row[col])
    lo, hi = float(row[f"{col}_ci_low"]), float(row[f"{col}_ci_high"])
    if not (np.isfinite(lo) and np.isfinite(hi)):
        lo = hi = v
    return v, lo, hi


def _against(bounds: tuple[float, float, float], threshold: float) -> str:
    """ "pass" when the whole interval reaches ``threshold``, "fail" when it all lies below, else
    "unclear" (an interval that straddles the threshold cannot decide). Without an interval the
    point value stands for both bounds."""
    value, low, high = bounds
    if not (np.isfinite(low) and np.isfinite(high)):
        low = high = value
    if not np.isfinite(low):
        return "unclear"
    return "pass" if low >= threshold else "fail" if high < threshold else "unclear"


def _label(row: Mapping[str, Any], extra: tuple[str, ...] = ()) -> str:
    text = f"{row['backend']} ×{int(row['workers'])}"
    for d in extra:
        text += f", {d}={row[d]}"
    return text


def _varying(frame: pd.DataFrame) -> tuple[str, ...]:
    dims = ("machine", "size", "grain", "start_method", "pinning", "collect", "python", "gil_enabled")
    return tuple(d for d in dims if d in frame and frame[d].nunique(dropna=False) > 1)


def _row(claim_id: int, claim: str, verdict: str, evidence: list[str] | str, threshold: str) -> dict:
    if isinstance(evidence, list):
        evidence = "; ".join(evidence)
    return {
        "claim_id": claim_id,
        "claim": claim,
        "verdict": verdict,
        "evidence": evidence,
        "threshold": threshold,
    }


def _ok(summary: pd.DataFrame) -> pd.DataFrame:
    """Successful configurations; results collected the plain way (return) where there are any, so
    a claim about threads or processes is not confounded by an expensive way of collecting."""
    ok = summary[(summary["n_ok"] > 0) & np.isfinite(summary["median_wall_s"].astype("float64"))]
    plain = ok["collect"].eq("return") | ok["backend"].eq("sequential")
    return ok[plain] if (plain & ok["backend"].ne("sequential")).any() else ok


def _flagged(row: Mapping[str, Any]) -> bool:
    value = row.get("physics_flag") if hasattr(row, "get") else None
    return isinstance(value, str) and bool(value.strip())


def _flag_text(row: Mapping[str, Any]) -> str:
    """Appended to a flagged configuration's evidence: why it does not count."""
    return f" (flagged, not counted: {FLAG})" if _flagged(row) else ""


def _limit(items: list[str], n: int = 6) -> list[str]:
    return items[:n] + ([f"and {len(items) - n} more"] if len(items) > n else [])


def claim_threads_cpu(summary: pd.DataFrame) -> dict:
    claim = "Threads give no parallel speedup for pure-Python CPU work (the GIL)"
    threshold = (
        f"speedup CI upper bound < {THREADS_CPU_MAX_SPEEDUP:g}× "
        f"({CPU_WORKLOAD}, thread backends, workers ≥ 2)"
    )
    s = _ok(summary)
    part = s[
        s["workload"].eq(CPU_WORKLOAD)
        & s["backend"].isin(THREAD_BACKENDS)
        & (s["workers"] >= 2)
        & np.isfinite(s["speedup"].astype("float64"))
    ]
    if part.empty:
        return _row(
            1,
            claim,
            "not measured",
            f"no {CPU_WORKLOAD} runs of a thread backend with ≥ 2 workers",
            threshold,
        )
    statuses, evidence = [], []
    extra = _varying(part)
    part = part.sort_values("speedup", ascending=False, kind="mergesort")
    for _, r in part.iterrows():
        v, lo, hi = _bounds(r, "speedup")
        statuses.append(
            "unclear"
            if _flagged(r)
            else "pass"
            if hi < THREADS_CPU_MAX_SPEEDUP
            else "fail"
            if lo >= THREADS_CPU_MAX_SPEEDUP
            else "unclear"
        )
        speedup = _ci(r["speedup"], r["speedup_ci_low"], r["speedup_ci_high"])
        evidence.append(f"{_label(r, extra)}: {speedup}{_flag_text(r)}")
    return _row(1, claim, _verdict(statuses), _limit(evidence), threshold)


def claim_threads_io(summary: pd.DataFrame) -> dict:
    claim = "Threads help with IO-bound work"
    threshold = (
        f"speedup CI lower bound > {THREADS_IO_MIN_SPEEDUP:g}× ({' or '.join(IO_WORKLOADS)}, "
        "thread backends, workers ≥ 2; one threshold for every worker count)"
    )
    s = _ok(summary)
    part = s[
        s["workload"].isin(IO_WORKLOADS)
        & s["backend"].isin(THREAD_BACKENDS)
        & (s["workers"] >= 2)
        & np.isfinite(s["speedup"].astype("float64"))
    ]
    if part.empty:
        return _row(
            2,
            claim,
            "not measured",
            "no io_sleep / io_file runs of a thread backend with ≥ 2 workers",
            threshold,
        )
    statuses, evidence = [], []
    extra = _varying(part)
    for workload, wpart in part.groupby("workload", sort=True):
        items = []
        for _, r in wpart.sort_values(["backend", "workers"], kind="mergesort").iterrows():
            v, lo, hi = _bounds(r, "speedup")
            statuses.append(
                "unclear"
                if _flagged(r)
                else "pass"
                if lo > THREADS_IO_MIN_SPEEDUP
                else "fail"
                if hi <= THREADS_IO_MIN_SPEEDUP
                else "unclear"
            )
            items.append(
                f"{_label(r, extra)} {_ci(r['speedup'], r['speedup_ci_low'], r['speedup_ci_high'])}"
                + _flag_text(r)
            )
        evidence.append(f"{workload}: " + ", ".join(_limit(items, 5)))
    return _row(2, claim, _verdict(statuses), evidence, threshold)


def _physical(topology: Mapping[str, Mapping[str, Any]], machine: str) -> int | None:
    topo = topology.get(str(machine)) or {}
    value = topo.get("physical_cores")
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        return int(value)
    return None


def claim_processes_cpu(summary: pd.DataFrame, topology: Mapping[str, Mapping[str, Any]]) -> dict:
    claim = "Processes use all cores for CPU work"
    threshold = (
        f"efficiency (speedup / workers) CI lower bound ≥ {PROCESS_CPU_MIN_EFFICIENCY:g} at workers = "
        f"physical cores ({CPU_WORKLOAD}, process backends); upper bound below it refutes; "
        "straddling = depends"
    )
    s = _ok(summary)
    base = s[
        s["workload"].eq(CPU_WORKLOAD)
        & s["backend"].isin(PROCESS_BACKENDS)
        & np.isfinite(s["efficiency"].astype("float64"))
    ]
    statuses, evidence, missing = [], [], []
    for machine, mpart in base.groupby("machine", sort=True):
        physical = _physical(topology, machine)
        if physical is None:
            missing.append(f"{machine}: physical core count unknown")
            continue
        part = mpart[mpart["workers"].eq(physical)]
        if part.empty:
            missing.append(f"{machine}: no run at workers = {physical} (physical cores)")
            continue
        extra = _varying(part)
        for _, r in part.sort_values("efficiency", ascending=False, kind="mergesort").iterrows():
            passes = _against(_bounds(r, "efficiency"), PROCESS_CPU_MIN_EFFICIENCY)
            statuses.append("unclear" if _flagged(r) else passes)
            evidence.append(
                f"{_label(r, extra)}: efficiency "
                + _ci(r["efficiency"], r["efficiency_ci_low"], r["efficiency_ci_high"], "")
                + _flag_text(r)
            )
    if not statuses:
        why = missing or [f"no {CPU_WORKLOAD} runs of a process backend ({', '.join(PROCESS_BACKENDS)})"]
        return _row(3, claim, "not measured", why, threshold)
    return _row(3, claim, _verdict(statuses), _limit(evidence) + missing, threshold)


def _median_ci(values: np.ndarray, *key: Any) -> tuple[float, float, float]:
    values = values[np.isfinite(values)]
    if values.size == 0:
        return np.nan, np.nan, np.nan
    med = float(np.median(values))
    if values.size < 2:
        return med, np.nan, np.nan
    lo, hi = percentile_ci(bootstrap_medians(values, group_seed("folklore", *key)))
    return med, lo, hi


def _larger(a: tuple[float, float, float], b: tuple[float, float, float]) -> str:
    """Is ``a`` larger than ``b`` (each (median, low, high))? "yes" when a's interval lies wholly
    above b's, "no" when wholly below, else "unclear" (overlapping intervals cannot tell).
    Without intervals the medians stand for them."""
    (va, la, ha), (vb, lb, hb) = a, b
    if not (np.isfinite(la) and np.isfinite(ha)):
        la = ha = va
    if not (np.isfinite(lb) and np.isfinite(hb)):
        lb = hb = vb
    return "yes" if la > hb else "no" if ha < lb else "unclear"


def _ms(v: float, lo: float, hi: float) -> str:
    """A duration and its interval in one unit chosen by the value (s, ms or µs)."""
    scale, unit = (1.0, "s") if abs(v) >= 1 else (1e3, "ms") if abs(v) >= 1e-3 else (1e6, "µs")
    text = f"{_f(v * scale)} {unit}"
    return text + (f" [{_f(lo * scale)}, {_f(hi * scale)}]" if np.isfinite(lo) else "")


def _mib(v: float, lo: float, hi: float) -> str:
    text = f"{_f(v / 2**20)} MiB"
    return text + (f" [{_f(lo / 2**20)}, {_f(hi / 2**20)}]" if np.isfinite(lo) else "")


def claim_process_cost(rows: pd.DataFrame) -> dict:
    claim = "Processes are slower to start and use more memory than threads"
    threshold = (
        "median start-up time and median peak RSS of process backends both larger than those of thread "
        "backends at the same machine and worker count (runs pooled over workloads): with rounds, the "
        "ratio process / thread paired by round has its 95% CI (t over rounds) above 1; one round: "
        "non-overlapping bootstrap CIs of the medians; both clearly smaller refutes; else depends"
    )
    used = ["machine", "workers", "backend", "startup_s", "peak_rss_bytes"]  # groups copy only these
    if len(rows):
        mask = (rows["ok"] & rows["backend"].isin(THREAD_BACKENDS + PROCESS_BACKENDS)).to_numpy(dtype=bool)
        ok = rows.loc[mask, used].assign(_blk=blocks_of(rows)[0][mask])
    else:
        ok = rows
    if ok.empty:
        why = f"no ok runs of thread or process backends ({', '.join(THREAD_BACKENDS + PROCESS_BACKENDS)})"
        return _row(4, claim, "not measured", why, threshold)
    family = np.where(ok["backend"].isin(PROCESS_BACKENDS), "process", "thread")
    ok = ok.assign(_family=family)
    statuses, evidence = [], []
    for (machine, workers), part in ok.groupby(["machine", "workers"], sort=True):
        fams = {f: p for f, p in part.groupby("_family")}
        if len(fams) < 2:
            continue
        st = {
            f: _median_ci(p["startup_s"].to_numpy(dtype="float64", na_value=np.nan), machine, workers, f, "s")
            for f, p in fams.items()
        }
        rss = {
            f: _median_ci(
                p["peak_rss_bytes"].astype("float64").to_numpy(na_value=np.nan), machine, workers, f, "m"
            )
            for f, p in fams.items()
        }
        if not (np.isfinite(st["process"][0]) and np.isfinite(st["thread"][0])):
            continue
        if not (np.isfinite(rss["process"][0]) and np.isfinite(rss["thread"][0])):
            continue
        slower = _larger(st["process"], st["thread"])
        bigger = _larger(rss["process"], rss["thread"])
        # With rounds: process / thread per round (a slow round slows both), t over rounds.
        for column, verdict in (("startup_s", "slower"), ("peak_rss_bytes", "bigger")):
            pa, pt = fams["process"], fams["thread"]
            paired = paired_log_ratio(
                pa[column].to_numpy(dtype="float64", na_value=np.nan),
                pa["_blk"].to_numpy(),
                pt[column].to_numpy(dtype="float64", na_value=np.nan),
                pt["_blk"].to_numpy(),
            )
            if paired is not None:
                _, lo, hi, _ = paired
                answer = "yes" if lo > 1.0 else "no" if hi < 1.0 else "unclear"
                slower, bigger = (answer, bigger) if verdict == "slower" else (slower, answer)
        statuses.append(
            "pass" if slower == bigger == "yes" else "fail" if slower == bigger == "no" else "unclear"
        )
        where = f"{machine}, " if ok["machine"].nunique() > 1 else ""
        evidence.append(
            f"{where}{int(workers)} worker{'s' if workers != 1 else ''}: "
            f"start-up processes {_ms(*st['process'])} "
            f"vs threads {_ms(*st['thread'])}; "
            f"peak RSS {_mib(*rss['process'])} vs {_mib(*rss['thread'])}"
        )
    if not statuses:
        return _row(
            4,
            claim,
            "not measured",
            "no worker count ran both a thread and a process backend with start-up and memory recorded",
            threshold,
        )
    return _row(4, claim, _verdict(statuses), _limit(evidence, 4), threshold)


def _pairs(
    rows: pd.DataFrame, column: str, a: str, b: str, same: tuple[str, ...]
) -> list[tuple[tuple, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """Like-for-like pairs: (key, walls where column == a, walls where column == b, and the block
    (sweep x round) of each wall, a's then b's)."""
    if not len(rows):
        return []
    is_a, is_b = rows[column].eq(a), rows[column].eq(b)
    if not (is_a & rows["ok"]).any() or not (is_b & rows["ok"]).any():
        return []
    blk, _ = blocks_of(rows)
    # Only the keys that ran with ``a`` can pair up: keep the (often many) other rows out of the groupby.
    keys_a = pd.MultiIndex.from_frame(rows.loc[is_a & rows["ok"], list(same)].drop_duplicates())
    mask = (rows["ok"] & (is_a | is_b)).to_numpy(dtype=bool)
    ok = rows.loc[mask, list(dict.fromkeys([*same, column, "wall_s"]))].assign(_blk=blk[mask])
    ok = ok[pd.MultiIndex.from_frame(ok[list(same)]).isin(keys_a)]
    out = []
    for key, part in ok.groupby(list(same), sort=True):
        pa, pb = part[part[column].eq(a)], part[part[column].eq(b)]
        wa = pa["wall_s"].to_numpy(dtype="float64")
        wb = pb["wall_s"].to_numpy(dtype="float64")
        if wa.size and wb.size:
            out.append((key, wa, wb, pa["_blk"].to_numpy(), pb["_blk"].to_numpy()))
    return out


def _varying_keys(pairs: list, names: tuple[str, ...], shown: tuple[str, ...]) -> list[str]:
    """Key fields (beyond those always shown) that differ between pairs: they name each pair."""
    keys = [k for k, *_ in pairs]
    return [n for i, n in enumerate(names) if n not in shown and len({k[i] for k in keys}) > 1]


def _ratio_ci(wa: np.ndarray, wb: np.ndarray, *key: Any) -> tuple[float, float, float]:
    ratio = float(np.median(wa) / np.median(wb))
    if wa.size < 2 or wb.size < 2:
        return ratio, np.nan, np.nan
    ba = bootstrap_medians(wa, group_seed("ratio-a", *key))
    bb = bootstrap_medians(wb, group_seed("ratio-b", *key))
    lo, hi = percentile_ci(ba / bb)
    return ratio, lo, hi


def claim_manager_list(rows: pd.DataFrame) -> dict:
    claim = "Sharing results through Manager().list is costly"
    threshold = (
        "wall time with collect=manager_list / with collect=return: CI lower bound "
        f"≥ {MANAGER_MIN_SLOWDOWN:g}× (same backend, workers, workload, size, grain; with rounds, the "
        "ratio paired by round, t over rounds; one round: bootstrap over the runs); "
        "upper bound below it refutes; straddling = depends"
    )
    same = tuple(d for d in _SAME if d != "collect") + ("backend",)
    pairs = _pairs(rows, "collect", "manager_list", "return", same)
    if not pairs:
        return _row(
            5,
            claim,
            "not measured",
            "no configuration ran with both collect=manager_list and collect=return",
            threshold,
        )
    statuses, evidence = [], []
    names = dict(zip(same, range(len(same))))
    extra = _varying_keys(pairs, same, ("workload", "backend", "workers"))
    for key, wa, wb, ba, bb in pairs:
        paired = paired_log_ratio(wa, ba, wb, bb)
        ratio, lo, hi = paired[:3] if paired else _ratio_ci(wa, wb, *key)
        statuses.append(_against((ratio, lo, hi), MANAGER_MIN_SLOWDOWN))
        evidence.append(
            f"{key[names['workload']]} {key[names['backend']]} ×{int(key[names['workers']])}"
            + "".join(f", {d}={key[names[d]]}" for d in extra)
            + ": "
            f"manager_list / return = {_ci(ratio, lo, hi)}"
        )
    return _row(5, claim, _verdict(statuses), _limit(evidence), threshold)


def claim_pool_vs_process(rows: pd.DataFrame) -> dict:
    claim = "Pool takes more execution time than Process"
    threshold = (
        "wall time of backend=pool above that of backend=process (same workers, workload, size, grain, "
        "collect, start method): with rounds, the ratio pool / process paired by round has its 95% CI above "
        "1 (below 1 refutes); one round: non-overlapping bootstrap CIs of the medians; else depends"
    )
    pairs = _pairs(rows, "backend", "pool", "process", _SAME)
    if not pairs:
        return _row(
            6,
            claim,
            "not measured",
            "no configuration ran with both backend=pool and backend=process",
            threshold,
        )
    statuses, evidence = [], []
    names = dict(zip(_SAME, range(len(_SAME))))
    extra = _varying_keys(pairs, _SAME, ("workload", "workers"))
    for key, wa, wb, ba, bb in pairs:
        ma, la, ha = _median_ci(wa, "pool", *key)
        mb, lb, hb = _median_ci(wb, "process", *key)
        paired = paired_log_ratio(wa, ba, wb, bb)
        if paired is not None:  # rounds: the ratio pool / process paired by round
            ratio, lo, hi, _ = paired
            statuses.append(_against((ratio, lo, hi), 1.0))
            evidence.append(
                f"{key[names['workload']]} ×{int(key[names['workers']])}"
                + "".join(f", {d}={key[names[d]]}" for d in extra)
                + f": pool / process = {_ci(ratio, lo, hi)} (paired by round)"
            )
            continue
        if not (np.isfinite(la) and np.isfinite(lb)):
            statuses.append("unclear")
        elif la > hb:
            statuses.append("pass")
        elif lb > ha:
            statuses.append("fail")
        else:
            statuses.append("unclear")
        evidence.append(
            f"{key[names['workload']]} ×{int(key[names['workers']])}"
            + "".join(f", {d}={key[names[d]]}" for d in extra)
            + f": pool {_ms(ma, la, ha)} vs process {_ms(mb, lb, hb)}"
        )
    return _row(6, claim, _verdict(statuses), _limit(evidence), threshold)


def claim_smt(summary: pd.DataFrame, topology: Mapping[str, Mapping[str, Any]]) -> dict:
    claim = "Logical (SMT) cores add less than physical cores"
    threshold = (
        "speedup gained per added worker from physical → logical cores smaller than from 1 → physical cores, "
        "by the gains' ranges from the speedups' 95% CIs (same backend and workload; the 1-worker point is "
        "that backend's own run, else sequential = 1×); overlapping ranges = depends"
    )
    s = _ok(summary)
    s = s[s["backend"].ne("sequential") & np.isfinite(s["speedup"].astype("float64"))]
    statuses, evidence, notes = [], [], []
    if "physics_flag" in s:
        flagged = s["physics_flag"].fillna("").astype(str).str.strip().ne("")
        if flagged.any():
            notes.append(f"{int(flagged.sum())} flagged configurations left out ({FLAG})")
            s = s[~flagged]
    smt_machines = 0
    for machine in sorted(topology):
        topo = topology[machine] or {}
        physical, logical = topo.get("physical_cores"), topo.get("logical_cores")
        tpc = topo.get("threads_per_core")
        if (
            not isinstance(tpc, (int, float))
            and isinstance(physical, int)
            and isinstance(logical, int)
            and physical
        ):
            tpc = logical / physical
        if (
            not (isinstance(physical, int) and isinstance(logical, int))
            or not isinstance(tpc, (int, float))
            or tpc <= 1
        ):
            notes.append(f"{machine}: no SMT (threads_per_core = {tpc if tpc is not None else 'unknown'})")
            continue
        smt_machines += 1
        if physical < 2:
            notes.append(f"{machine}: only one physical core, no 1 → physical gain to compare")
            continue
        mpart = s[s["machine"].astype(str).eq(machine)]
        found = False
        for key, part in mpart.groupby(
            [
                "backend",
                "workload",
                "size",
                "grain",
                "start_method",
                "pinning",
                "collect",
                "python",
                "gil_enabled",
            ],
            sort=True,
        ):
            best = part.sort_values("speedup", kind="mergesort").groupby("workers").tail(1)
            best = best.set_index("workers")
            if physical not in best.index or logical not in best.index:
                continue
            found = True
            one = _bounds(best.loc[1], "speedup") if 1 in best.index else (1.0, 1.0, 1.0)
            at_p, at_l = _bounds(best.loc[physical], "speedup"), _bounds(best.loc[logical], "speedup")
            gain_phys = (at_p[0] - one[0]) / (physical - 1)
            gain_smt = (at_l[0] - at_p[0]) / (logical - physical)
            # The gains' widest ranges from the speedups' intervals: a pass needs the SMT gain's
            # whole range below the physical gain's, a fail the reverse; otherwise depends.
            n_phys, n_smt = physical - 1, logical - physical
            phys_range = ((at_p[1] - one[2]) / n_phys, (at_p[2] - one[1]) / n_phys)
            smt_range = ((at_l[1] - at_p[2]) / n_smt, (at_l[2] - at_p[1]) / n_smt)
            passes, fails = smt_range[1] < phys_range[0], smt_range[0] >= phys_range[1]
            statuses.append("pass" if passes else "fail" if fails else "unclear")
            evidence.append(
                f"{key[1]} {key[0]}: +{_f(gain_phys, 2)}× per worker 1→{physical}, "
                f"+{_f(gain_smt, 2)}× per worker {physical}→{logical}"
            )
        if not found:
            notes.append(
                f"{machine}: no runs at both workers = {physical} (physical) and {logical} (logical)"
            )
    if not statuses:
        verdict = "not measured on this machine (no SMT)" if smt_machines == 0 else "not measured"
        return _row(7, claim, verdict, notes or ["no machine topology recorded"], threshold)
    return _row(7, claim, _verdict(statuses), _limit(evidence) + notes, threshold)


def _part_status(statuses: list[str]) -> str:
    """One part of a two-part claim: pass, fail, or unclear (mixed or undecided)."""
    if statuses and all(st == "pass" for st in statuses):
        return "pass"
    if statuses and all(st == "fail" for st in statuses):
        return "fail"
    return "unclear"


def claim_subinterpreters(
    summary: pd.DataFrame, rows: pd.DataFrame, topology: Mapping[str, Mapping[str, Any]]
) -> dict:
    claim = "Subinterpreters give processes' parallelism at threads' start-up cost"
    threshold = (
        f"{SUBINTERPRETER_BACKEND} efficiency CI ≥ {PROCESS_CPU_MIN_EFFICIENCY:g} at workers = physical "
        f"cores ({CPU_WORKLOAD}), and the CI of its median start-up below the geometric mean of the "
        "thread and process backends' medians (same machine, interpreter and workers ≥ 2); both must hold"
    )
    s = _ok(summary)
    sub = s[s["backend"].eq(SUBINTERPRETER_BACKEND)]
    if sub.empty:
        why = f"no {SUBINTERPRETER_BACKEND} runs (Python 3.14+: python=3.14 backend={SUBINTERPRETER_BACKEND})"
        return _row(10, claim, "not measured", why, threshold)
    parallel, parallel_ev = [], []
    cpu = sub[sub["workload"].eq(CPU_WORKLOAD) & np.isfinite(sub["efficiency"].astype("float64"))]
    for _, r in cpu.iterrows():
        physical = _physical(topology, r["machine"])
        if physical is None or int(r["workers"]) != physical:
            continue
        v, lo, hi = _bounds(r, "efficiency")
        parallel.append(
            "unclear"
            if _flagged(r)
            else "pass"
            if lo >= PROCESS_CPU_MIN_EFFICIENCY
            else "fail"
            if hi < PROCESS_CPU_MIN_EFFICIENCY
            else "unclear"
        )
        parallel_ev.append(
            f"{_label(r)} ({r['python']}): speedup "
            f"{_ci(r['speedup'], r['speedup_ci_low'], r['speedup_ci_high'])}, efficiency "
            f"{_ci(r['efficiency'], r['efficiency_ci_low'], r['efficiency_ci_high'], '')}{_flag_text(r)}"
        )
    startup, startup_ev = [], []
    families = {"sub": (SUBINTERPRETER_BACKEND,), "thread": THREAD_BACKENDS, "process": PROCESS_BACKENDS}
    used = ["machine", "python", "workers", "backend", "startup_s", "peak_rss_bytes"]
    ok = rows.loc[rows["ok"] & rows["backend"].isin(sum(families.values(), ())), used] if len(rows) else rows
    for (machine, python, workers), part in (
        ok.groupby(["machine", "python", "workers"], sort=True) if len(ok) else []
    ):
        if workers < 2:
            continue
        st, rss = {}, {}
        for fam, backends in families.items():
            p_ = part[part["backend"].isin(backends)]
            if p_.empty:
                break
            key = (machine, python, workers, fam)
            st[fam] = _median_ci(p_["startup_s"].to_numpy(dtype="float64", na_value=np.nan), *key, "s")
            rss[fam] = _median_ci(p_["peak_rss_bytes"].astype("float64").to_numpy(na_value=np.nan), *key, "m")
        if len(st) < 3 or not all(np.isfinite(v[0]) and v[0] > 0 for v in st.values()):
            continue
        middle = float(np.sqrt(st["thread"][0] * st["process"][0]))
        v, lo, hi = st["sub"]
        lo, hi = (v, v) if not np.isfinite(lo) else (lo, hi)
        startup.append("pass" if hi < middle else "fail" if lo >= middle else "unclear")
        startup_ev.append(
            f"{int(workers)} workers ({python}): start-up subinterpreters {_ms(*st['sub'])} vs threads "
            f"{_ms(*st['thread'])}, processes {_ms(*st['process'])} "
            f"(midpoint {_ms(middle, np.nan, np.nan)}); "
            f"peak RSS {_mib(*rss['sub'])} vs {_mib(*rss['thread'])}, {_mib(*rss['process'])}"
        )
    if not parallel and not startup:
        why = (
            f"{SUBINTERPRETER_BACKEND} ran, but not on {CPU_WORKLOAD} at workers = physical cores, nor "
            "beside a thread and a process backend at the same worker count"
        )
        return _row(10, claim, "not measured", why, threshold)
    parts = [
        _part_status(parallel) if parallel else "unclear",
        _part_status(startup) if startup else "unclear",
    ]
    verdict = "refuted" if "fail" in parts else "supported" if parts == ["pass", "pass"] else "depends"
    missing = (
        [] if parallel else [f"parallelism not measured (no {CPU_WORKLOAD} run at workers = physical cores)"]
    )
    missing += [] if startup else ["start-up not measured (no thread and process backend beside it)"]
    return _row(10, claim, verdict, _limit(parallel_ev, 3) + _limit(startup_ev, 3) + missing, threshold)


def row_claims(rows: pd.DataFrame) -> list[dict]:
    """Claims 4, 5 and 6: judged from the rows alone (so a forked child can judge them while
    the report process summarises)."""
    return [claim_process_cost(rows), claim_manager_list(rows), claim_pool_vs_process(rows)]


def folklore_table(
    summary: pd.DataFrame,
    rows: pd.DataFrame,
    topology: Mapping[str, Mapping[str, Any]],
    judged_rows: Callable[[], list[dict]] | None = None,
) -> pd.DataFrame:
    """The classic claims (1-7), the patterns' (8, 9) and subinterpreters' (10), each judged only
    from the data present (``FOLKLORE_COLUMNS``).

    ``judged_rows`` gives ``row_claims(rows)`` where it was computed elsewhere (asked only when
    some configuration has data).
    """
    if summary.empty:
        records = [
            _row(i, claim, "not measured", "no successful runs", "")
            for i, claim in enumerate(
                (
                    "Threads give no parallel speedup for pure-Python CPU work (the GIL)",
                    "Threads help with IO-bound work",
                    "Processes use all cores for CPU work",
                    "Processes are slower to start and use more memory than threads",
                    "Sharing results through Manager().list is costly",
                    "Pool takes more execution time than Process",
                    "Logical (SMT) cores add less than physical cores",
                ),
                start=1,
            )
        ]
        records.append(
            _row(
                10,
                "Subinterpreters give processes' parallelism at threads' start-up cost",
                "not measured",
                "no successful runs",
                "",
            )
        )
    else:
        process_cost, manager_list, pool_vs_process = (
            judged_rows() if judged_rows is not None else row_claims(rows)
        )
        records = [
            claim_threads_cpu(summary),
            claim_threads_io(summary),
            claim_processes_cpu(summary, topology),
            process_cost,
            manager_list,
            pool_vs_process,
            claim_smt(summary, topology),
            claim_subinterpreters(summary, rows, topology),
        ]
    from .patterns import pattern_claims  # claims 8 and 9: the workload patterns (docs/patterns.md)

    records[7:7] = pattern_claims(summary, rows)
    return pd.DataFrame.from_records(records, columns=list(FOLKLORE_COLUMNS))
