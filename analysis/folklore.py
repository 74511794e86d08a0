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
#: than returning results (median wall time ratio, same backend, workers and workload).
MANAGER_MIN_SLOWDOWN = 1.2

FOLKLORE_COLUMNS = ("claim_id", "claim", "verdict", "evidence", "threshold")
#: Dimensions that must match when two configurations are compared "like for like".
_SAME = (
    "machine", "workload", "size", "grain", "start_method", "pinning", "collect", "workers",
    "python", "gil_enabled",
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
        f"efficiency (speedup / workers) ≥ {PROCESS_CPU_MIN_EFFICIENCY:g} at workers = physical cores "
        f"({CPU_WORKLOAD}, process backends)"
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
            passes = float(r["efficiency"]) >= PROCESS_CPU_MIN_EFFICIENCY
            statuses.append("unclear" if _flagged(r) else "pass" if passes else "fail")
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
        "backends at the same machine and worker count (runs pooled over workloads; "
        "CI = bootstrap of the median)"
    )
    used = ["machine", "workers", "backend", "startup_s", "peak_rss_bytes"]  # groups copy only these
    ok = (
        rows.loc[rows["ok"] & rows["backend"].isin(THREAD_BACKENDS + PROCESS_BACKENDS), used]
        if len(rows)
        else rows
    )
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
        slower = st["process"][0] > st["thread"][0]
        bigger = rss["process"][0] > rss["thread"][0]
        statuses.append("pass" if slower and bigger else "fail" if not slower and not bigger else "unclear")
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
) -> list[tuple[tuple, np.ndarray, np.ndarray]]:
    """Like-for-like pairs: (key, walls where column == a, walls where column == b)."""
    if not len(rows):
        return []
    is_a, is_b = rows[column].eq(a), rows[column].eq(b)
    if not (is_a & rows["ok"]).any() or not (is_b & rows["ok"]).any():
        return []
    # Only the keys that ran with ``a`` can pair up: keep the (often many) other rows out of the groupby.
    keys_a = pd.MultiIndex.from_frame(rows.loc[is_a & rows["ok"], list(same)].drop_duplicates())
    ok = rows.loc[rows["ok"] & (is_a | is_b), list(dict.fromkeys([*same, column, "wall_s"]))]
    ok = ok[pd.MultiIndex.from_frame(ok[list(same)]).isin(keys_a)]
    out = []
    for key, part in ok.groupby(list(same), sort=True):
        wa = part.loc[part[column].eq(a), "wall_s"].to_numpy(dtype="float64")
        wb = part.loc[part[column].eq(b), "wall_s"].to_numpy(dtype="float64")
        if wa.size and wb.size:
            out.append((key, wa, wb))
    return out


def _varying_keys(pairs: list, names: tuple[str, ...], shown: tuple[str, ...]) -> list[str]:
    """Key fields (beyond those always shown) that differ between pairs: they name each pair."""
    keys = [k for k, _, _ in pairs]
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
        f"median wall time with collect=manager_list ≥ {MANAGER_MIN_SLOWDOWN:g}× that with collect=return "
        "(same backend, workers, workload, size, grain)"
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
    for key, wa, wb in pairs:
        ratio, lo, hi = _ratio_ci(wa, wb, *key)
        statuses.append("pass" if ratio >= MANAGER_MIN_SLOWDOWN else "fail")
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
        "median wall time of backend=pool above that of backend=process with non-overlapping 95% CIs "
        "(same workers, workload, size, grain, collect, start method); the reverse refutes; overlap = depends"
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
    for key, wa, wb in pairs:
        ma, la, ha = _median_ci(wa, "pool", *key)
        mb, lb, hb = _median_ci(wb, "process", *key)
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
        "speedup gained per added worker from physical → logical cores smaller than from 1 → physical cores "
        "(same backend and workload; the 1-worker point is that backend's own run, else sequential = 1×)"
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
            ["backend", "workload", "size", "grain", "start_method", "pinning", "collect", "python",
             "gil_enabled"],
            sort=True,
        ):
            by_w = part.groupby("workers")["speedup"].max()
            if physical not in by_w.index or logical not in by_w.index:
                continue
            found = True
            s1 = float(by_w.get(1, 1.0))
            gain_phys = (float(by_w[physical]) - s1) / (physical - 1)
            gain_smt = (float(by_w[logical]) - float(by_w[physical])) / (logical - physical)
            statuses.append("pass" if gain_smt < gain_phys else "fail")
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
    """The seven classic claims, each judged only from the data present (``FOLKLORE_COLUMNS``).

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
        ]
    from .patterns import pattern_claims  # issue 16: the workload patterns' claims, where measured

    records += pattern_claims(summary, len(records) + 1)
    return pd.DataFrame.from_records(records, columns=list(FOLKLORE_COLUMNS))
