"""The workload patterns (issue 16): their figures and their two claims, from files on disk.

- ``patterns_share``: speedup against input size, one line per ``share`` method, a panel per
  backend (top), and the peak PSS of the process tree (bottom: copy-on-write against copies);
- ``patterns_init``: ``init=per_task`` against ``init=per_worker``, speedup against init_ms;
- ``patterns_state``: ``state=manager`` and ``state=mapreduce`` side by side.

Each figure shows one worker count per backend: the one nearest the machine's physical cores
(where parallel work should pay most; others are in summary.csv). Claims follow folklore.py's
form (verdict, evidence, threshold applied to the interval: one straddling it = depends).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

from .figures import FigureFile, backend_palette, save  # noqa: E402
from .stats.compare import paired_log_ratio  # noqa: E402

PROCESS_BACKENDS = ("process", "pool", "process_pool", "joblib_loky", "joblib_multiprocessing")
SHARE_ORDER = ("argument", "inherit", "shared_memory", "memmap")
SHARE_STYLE = {"argument": "o-", "inherit": "s--", "shared_memory": "^-.", "memmap": "D:"}

#: "Initialise once per worker" holds where per-task initialisation makes a run at least this
#: many times slower than per-worker (ratio of median run times; the interval must clear it).
INIT_MIN_GAIN = 1.1

CAPTIONS = {
    "patterns_share": (
        "One large input read by every task (workload=shared_input), at the worker count nearest the "
        "physical cores. Top: speedup over sequential against input size, one line per share method "
        "(argument: pickled with every task; inherit: a global inherited at fork or sent once per "
        "worker; shared_memory; memmap); below 1, sending the input costs more than the parallel work "
        "gains. Bottom: peak PSS of the process tree (pages shared after fork counted once), per run."
    ),
    "patterns_init": (
        "An object costing init_ms to build (workload=init_heavy): built in every task (per_task, "
        "dashed) or once per worker through the backend's initializer (per_worker, solid); median "
        "run time against init_ms. Per-worker builds of pools land in start-up (startup_s), not in "
        "these run times; per-task builds grow every run with init_ms."
    ),
    "patterns_state": (
        "Per-worker state merged at the end (workload=stateful): a Manager-held counter per worker "
        "(manager) against partial counts returned and merged by the caller (mapreduce); median run "
        "time with its interval, per backend and worker count. Both are verified against the serial "
        "counts."
    ),
}


def _ok(summary: pd.DataFrame, workload: str) -> pd.DataFrame:
    if summary.empty or "workload" not in summary:
        return summary.iloc[0:0]
    part = summary[summary["workload"].eq(workload) & (summary["n_ok"] > 0)]
    return part[np.isfinite(part["median_wall_s"].astype("float64"))]


def _near_physical(part: pd.DataFrame, topology: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """Each machine's and backend's rows at the worker count nearest its physical cores."""
    keep = []
    for (machine, _backend), group in part.groupby(["machine", "backend"], sort=True):
        cores = (topology.get(machine) or {}).get("physical_cores") or group["workers"].max()
        workers = sorted(group["workers"].unique(), key=lambda w: (abs(int(w) - int(cores)), -int(w)))
        keep.append(group[group["workers"].eq(workers[0])])
    return pd.concat(keep) if keep else part.iloc[0:0]


def _panels(n: int) -> tuple[plt.Figure, np.ndarray]:
    cols = max(1, n)
    return plt.subplots(2, cols, figsize=(3.4 * cols + 1.2, 6.2), squeeze=False, sharex=True)


def share_figure(summary: pd.DataFrame, rows: pd.DataFrame, topology: Mapping) -> plt.Figure | None:
    part = _near_physical(_ok(summary, "shared_input"), topology)
    part = part[part["backend"].ne("sequential")]
    if part.empty:
        return None
    backends = sorted(part["backend"].unique(), key=lambda b: (b not in PROCESS_BACKENDS, b))
    pss = _pss_by_config(rows)
    fig, axes = _panels(len(backends))
    for col, backend in enumerate(backends):
        top, bottom = axes[0][col], axes[1][col]
        data = part[part["backend"].eq(backend)]
        for share in SHARE_ORDER:
            line = data[data["share"].eq(share)].sort_values("input_mb")
            if line.empty:
                continue
            x = line["input_mb"].astype("float64").to_numpy()
            y = line["speedup"].astype("float64").to_numpy()
            lo = line["speedup_ci_low"].astype("float64").to_numpy()
            hi = line["speedup_ci_high"].astype("float64").to_numpy()
            colour = f"C{SHARE_ORDER.index(share)}"  # the same in every panel, whatever is missing
            top.plot(x, y, SHARE_STYLE[share], color=colour, label=share, markersize=5)
            lo, hi = np.where(np.isfinite(lo), lo, y), np.where(np.isfinite(hi), hi, y)
            top.fill_between(x, lo, hi, color=colour, alpha=0.15)
            mem = [
                pss.get((r.machine, backend, int(r.workers), share, int(r.input_mb)))
                for r in line.itertuples()
            ]
            mem_y = np.array([np.nan if m is None else m / 2**20 for m in mem], dtype="float64")
            bottom.plot(x, mem_y, SHARE_STYLE[share], color=colour, label=share, markersize=5)
        workers = int(data["workers"].iloc[0])
        top.set_title(f"{backend} ×{workers}", fontsize=10)
        top.axhline(1.0, color="grey", lw=0.8, ls=":")
        top.set_xscale("log")
        top.set_yscale("log", base=2)
        bottom.set_xscale("log")
        bottom.set_yscale("log")
        bottom.set_xlabel("input size (MiB)")
        for ax in (top, bottom):
            ax.grid(True, which="both", alpha=0.3)
    for top in axes[0]:
        _whole_octaves(top)
    axes[0][0].set_ylabel("speedup over sequential")
    axes[1][0].set_ylabel("peak PSS of the tree (MiB)")
    # One legend for every panel, under the title: inside a panel it covered the lines.
    handles, labels = [], []
    for ax in axes[0]:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            if label not in labels:
                handles.append(handle)
                labels.append(label)
    order = sorted(range(len(labels)), key=lambda i: SHARE_ORDER.index(labels[i]))
    if order:
        fig.legend(
            [handles[i] for i in order],
            [labels[i] for i in order],
            title="share",
            fontsize=8,
            title_fontsize=8,
            loc="upper center",
            ncol=len(labels),
            bbox_to_anchor=(0.5, 0.955),
        )
    fig.suptitle("Sharing one large input: speedup and memory against input size", fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.9))
    return fig


def _whole_octaves(ax: plt.Axes) -> None:
    """Widen a base-2 log axis to whole powers of two, so it shows a tick at either end (a
    panel whose values span less than an octave showed a single tick)."""
    low, high = ax.get_ylim()
    if low > 0 and high > low:
        ax.set_ylim(2.0 ** np.floor(np.log2(low)), 2.0 ** np.ceil(np.log2(high)))


def _pss_by_config(rows: pd.DataFrame) -> dict[tuple, float]:
    """Median peak PSS (ok runs) per (machine, backend, workers, share, input_mb)."""
    if rows.empty or "peak_pss_bytes" not in rows:
        return {}
    part = rows[rows["workload"].eq("shared_input") & rows["ok"].astype(bool)]
    part = part[pd.to_numeric(part["peak_pss_bytes"], errors="coerce").notna()]
    if part.empty:
        return {}
    med = part.groupby(["machine", "backend", "workers", "share", "input_mb"])["peak_pss_bytes"].median()
    return {(m, b, int(w), s, int(i)): float(v) for (m, b, w, s, i), v in med.items()}


def init_figure(summary: pd.DataFrame, topology: Mapping) -> plt.Figure | None:
    part = _near_physical(_ok(summary, "init_heavy"), topology)
    part = part[part["backend"].ne("sequential")]
    if part.empty:
        return None
    palette = backend_palette(sorted(part["backend"].unique()))
    fig, ax = plt.subplots(figsize=(7.6, 4.4))
    shown: dict[str, str] = {}  # backend -> its legend label
    for backend in sorted(part["backend"].unique()):
        for init, style in (("per_task", "--"), ("per_worker", "-")):
            line = part[part["backend"].eq(backend) & part["init"].eq(init)].sort_values("init_ms")
            if line.empty:
                continue
            x = line["init_ms"].astype("float64").clip(lower=0.5).to_numpy()
            workers = int(line["workers"].iloc[0])
            ax.plot(
                x,
                line["median_wall_s"].astype("float64") * 1e3,
                style,
                marker="o",
                markersize=4,
                color=palette.get(backend),
            )
            shown.setdefault(backend, f"{backend} ×{workers}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("init_ms (nominal cost of building the object)")
    ax.set_ylabel("median run time (ms)")
    ax.set_title("Expensive initialisation: once per task (dashed) or once per worker (solid)", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    # Colour names the backend, the line style the init (a legend entry per pair hid the dashes).
    handles = [
        Line2D([], [], color=palette.get(b), marker="o", markersize=4, label=label)
        for b, label in shown.items()
    ]
    handles += [
        Line2D([], [], color="black", ls=style, label=init)
        for init, style in (("per_task", "--"), ("per_worker", "-"))
    ]
    ax.legend(handles=handles, fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5), handlelength=3)
    fig.tight_layout()
    return fig


def state_figure(summary: pd.DataFrame) -> plt.Figure | None:
    part = _ok(summary, "stateful")
    if part.empty:
        return None
    part = part.sort_values(["backend", "workers"])
    labels = list(
        dict.fromkeys(
            f"{b} ×{int(w)}" if b != "sequential" else b for b, w in zip(part["backend"], part["workers"])
        )
    )
    fig, ax = plt.subplots(figsize=(max(6.0, 0.7 * len(labels) + 2), 4.2))
    width = 0.38
    for k, (state, colour) in enumerate((("manager", "#d95f02"), ("mapreduce", "#1b9e77"))):
        data = part[part["state"].eq(state)]
        xs, ys, err = [], [], [[], []]
        for _, r in data.iterrows():
            label = r["backend"] if r["backend"] == "sequential" else f"{r['backend']} ×{int(r['workers'])}"
            y = float(r["median_wall_s"]) * 1e3
            lo, hi = float(r["wall_ci_low"]) * 1e3, float(r["wall_ci_high"]) * 1e3
            xs.append(labels.index(label) + (k - 0.5) * width)
            ys.append(y)
            err[0].append(max(0.0, y - lo) if np.isfinite(lo) else 0.0)
            err[1].append(max(0.0, hi - y) if np.isfinite(hi) else 0.0)
        ax.bar(xs, ys, width, yerr=err, color=colour, label=state, capsize=2)
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels(labels, rotation=35, ha="right", fontsize=8)
    ax.set_ylabel("median run time (ms)")
    ax.set_yscale("log")
    ax.set_title("Per-worker state: Manager-held counters vs map-reduce (merged counts checked)", fontsize=10)
    ax.legend(title="state", fontsize=8)
    ax.grid(True, axis="y", which="both", alpha=0.3)
    fig.tight_layout()
    return fig


def pattern_figures(
    summary: pd.DataFrame, rows: pd.DataFrame, topology: Mapping, out_dir: Path
) -> list[FigureFile]:
    """Draw and save the pattern figures that have data (none for a sweep without patterns)."""
    drawn = {
        "patterns_share": share_figure(summary, rows, topology),
        "patterns_init": init_figure(summary, topology),
        "patterns_state": state_figure(summary),
    }
    return [save(fig, Path(out_dir), name, CAPTIONS[name]) for name, fig in drawn.items() if fig is not None]


# ----------------------------------------------------------------------------- claims


def _claim(claim_id: int, claim: str, verdict: str, evidence: list[str] | str, threshold: str) -> dict:
    return {
        "claim_id": claim_id,
        "claim": claim,
        "verdict": verdict,
        "evidence": "; ".join(evidence) if isinstance(evidence, list) else evidence,
        "threshold": threshold,
    }


def _interval(row: Any, col: str = "speedup") -> tuple[float, float, float]:
    v = float(row[col])
    lo, hi = float(row[f"{col}_ci_low"]), float(row[f"{col}_ci_high"])
    if not (np.isfinite(lo) and np.isfinite(hi)):
        lo = hi = v
    return v, lo, hi


def claim_large_input(summary: pd.DataFrame, claim_id: int) -> dict:
    """ "Sending a large input to processes can cost more than the work", with the input size
    from which ``share=argument`` is slower than sequential (speedup interval below 1)."""
    claim = "Sending a large input to processes can cost more than the work (share=argument)"
    threshold = (
        "speedup interval upper bound < 1 (slower than sequential) for every process backend with ≥ 2 "
        "workers at that input size; lower bound ≥ 1 for all: faster; else depends"
    )
    part = _ok(summary, "shared_input")
    part = part[
        part["share"].eq("argument")
        & part["backend"].isin(PROCESS_BACKENDS)
        & (part["workers"] >= 2)
        & np.isfinite(part["speedup"].astype("float64"))
    ]
    if part.empty:
        return _claim(
            claim_id,
            claim,
            "not measured",
            "no shared_input runs with share=argument on a process backend with ≥ 2 workers",
            threshold,
        )
    status: dict[float, str] = {}
    evidence = []
    for size, group in part.groupby("input_mb", sort=True):
        bounds = [_interval(r) for _, r in group.iterrows()]
        slower = all(hi < 1.0 for _, _, hi in bounds)
        faster = all(lo >= 1.0 for _, lo, _ in bounds)
        status[float(size)] = "slower" if slower else "faster" if faster else "depends"
        best = group.loc[group["speedup"].astype("float64").idxmax()]
        worst = group.loc[group["speedup"].astype("float64").idxmin()]
        evidence.append(
            f"{int(size)} MiB: {status[float(size)]} (speedup {float(worst['speedup']):.2g}× "
            f"[{worst['backend']} ×{int(worst['workers'])}] to {float(best['speedup']):.2g}× "
            f"[{best['backend']} ×{int(best['workers'])}])"
        )
    sizes = sorted(status)
    above = None
    for i, size in enumerate(sizes):
        if all(status[s] == "slower" for s in sizes[i:]):
            above = size
            break
    if above is not None:
        verdict = "supported"
        evidence.insert(0, f"share=argument is slower than sequential from {above:g} MiB up")
    elif all(s == "faster" for s in status.values()):
        verdict = "refuted"
    else:
        verdict = "depends"
    return _claim(claim_id, claim, verdict, evidence, threshold)


def _init_runs(rows: pd.DataFrame | None, keys: list[str]) -> dict[tuple, tuple[np.ndarray, np.ndarray]]:
    """The ok init_heavy runs per (init, *keys): their wall times and blocks (sweep x round)."""
    if rows is None or rows.empty or "init" not in rows:
        return {}
    from .stats.paired import blocks_of

    blk, _ = blocks_of(rows)
    mask = (rows["workload"].eq("init_heavy") & rows["ok"].astype(bool)).to_numpy()
    if not mask.any():
        return {}
    part = rows.loc[mask, ["init", *keys, "wall_s"]].assign(_blk=blk[mask])
    return {
        tuple(key): (g["wall_s"].to_numpy(dtype="float64"), g["_blk"].to_numpy())
        for key, g in part.groupby(["init", *keys], sort=True, dropna=False)
    }


def claim_init_once(summary: pd.DataFrame, claim_id: int, rows: pd.DataFrame | None = None) -> dict:
    """ "Initialise once per worker, not once per task": per_task run time over per_worker's."""
    claim = "Initialise once per worker, not once per task (init=per_worker)"
    threshold = (
        f"run time per_task / per_worker ≥ {INIT_MIN_GAIN:g}× (its interval, paired by round with t over "
        f"rounds, or with one round from the two time intervals, clears {INIT_MIN_GAIN:g}: per_worker "
        "pays; entirely below: it does not; else "
        "depends); same backend, workers and init_ms; per-worker builds of pools are in start-up"
    )
    part = _ok(summary, "init_heavy")
    part = part[part["backend"].ne("sequential")]
    keys = ["machine", "backend", "workers", "init_ms", "size", "grain"]
    task = part[part["init"].eq("per_task")].set_index(keys)
    worker = part[part["init"].eq("per_worker")].set_index(keys)
    both = task.index.intersection(worker.index)
    if len(both) == 0:
        return _claim(
            claim_id,
            claim,
            "not measured",
            "no configuration ran with both init=per_task and init=per_worker",
            threshold,
        )
    by_ms: dict[int, list[str]] = {}
    statuses = []
    runs = _init_runs(rows, keys)
    for key in both:
        t, w = task.loc[key], worker.loc[key]
        if isinstance(t, pd.DataFrame):
            t, w = t.iloc[0], w.iloc[0]
        paired = None
        if ("per_task", *key) in runs and ("per_worker", *key) in runs:
            paired = paired_log_ratio(*runs[("per_task", *key)], *runs[("per_worker", *key)])
        if paired is not None:  # rounds: per_task / per_worker paired by round, t over rounds
            ratio, lo, hi, _ = paired
        else:  # one round: the two time intervals' ends (conservative)
            ratio = float(t["median_wall_s"]) / float(w["median_wall_s"])
            t_lo, t_hi = float(t["wall_ci_low"]), float(t["wall_ci_high"])
            w_lo, w_hi = float(w["wall_ci_low"]), float(w["wall_ci_high"])
            lo = t_lo / w_hi if np.isfinite(t_lo) and np.isfinite(w_hi) and w_hi > 0 else ratio
            hi = t_hi / w_lo if np.isfinite(t_hi) and np.isfinite(w_lo) and w_lo > 0 else ratio
        s = "pass" if lo >= INIT_MIN_GAIN else "fail" if hi < INIT_MIN_GAIN else "depends"
        statuses.append(s)
        by_ms.setdefault(int(key[3]), []).append(s)
    evidence = []
    for ms, ss in sorted(by_ms.items()):
        evidence.append(
            f"init_ms={ms}: pays in {ss.count('pass')} of {len(ss)} configurations, "
            f"does not in {ss.count('fail')}, unclear in {ss.count('depends')}"
        )
    pays_from = next(
        (
            ms
            for ms in sorted(by_ms)
            if all(all(s == "pass" for s in by_ms[m]) for m in sorted(by_ms) if m >= ms)
        ),
        None,
    )
    if pays_from is not None:
        evidence.insert(0, f"per_worker is faster in every configuration from init_ms={pays_from} up")
    verdict = (
        "supported"
        if all(s == "pass" for s in statuses)
        else "refuted"
        if all(s == "fail" for s in statuses)
        else "depends"
    )
    return _claim(claim_id, claim, verdict, evidence, threshold)


def pattern_claims(summary: pd.DataFrame, rows: pd.DataFrame | None = None) -> list[dict]:
    """Claims 8 and 9, *not measured* for a sweep without the pattern workloads. Claim 8 reads the
    speedup intervals (paired with sequential by round); claim 9 pairs per_task and per_worker by
    round from ``rows`` where the sweep has rounds."""
    if summary.empty or "workload" not in summary or "share" not in summary or "init" not in summary:
        return [
            _claim(
                8,
                "Sending a large input to processes can cost more than the work (share=argument)",
                "not measured",
                "no shared_input runs",
                "",
            ),
            _claim(
                9,
                "Initialise once per worker, not once per task (init=per_worker)",
                "not measured",
                "no init_heavy runs",
                "",
            ),
        ]
    return [claim_large_input(summary, 8), claim_init_once(summary, 9, rows)]
