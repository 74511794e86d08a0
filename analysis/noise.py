"""Was the machine quiet enough to trust small differences? Warnings from the numbers on disk.

Three sources: the repeats themselves (a configuration whose wall times scatter by more than
``NOISY_CV`` of their mean), the ``noise`` section the runner adds to ``environment.json``
(load at the start, CPU used by other processes, the frequency governor, thermal throttling)
and its ``launcher`` record (a launcher that timed several jobs at once on one machine).
Every key is optional: an older sweep without them simply gives no machine warnings.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

#: Coefficient of variation (std / mean of a configuration's wall times) above which it is noisy.
NOISY_CV = 0.10
#: Load average at the start above this share of the logical CPUs: the machine was busy.
BUSY_LOAD_PER_CPU = 0.5
#: Other processes' CPU use during the sweep (% of all CPUs) above which the machine was busy.
BUSY_OTHER_PERCENT = 10.0
#: How many noisy configurations a warning names before "and N more".
MAX_NAMED = 8


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if np.isfinite(value) else None


def _config_label(row: Mapping[str, Any], dims: list[str]) -> str:
    text = f"{row['workload']} {row['backend']}"
    if row["backend"] != "sequential":
        text += f" ×{int(row['workers'])}"
    extras = [f"{d}={row[d]}" for d in dims]
    return text + (f" ({', '.join(extras)})" if extras else "")


def noisy_configurations(summary: pd.DataFrame, threshold: float = NOISY_CV) -> pd.DataFrame:
    """Configurations whose repeats scatter by more than ``threshold`` (CV), noisiest first."""
    if summary.empty or "cv" not in summary:
        return summary.iloc[0:0]
    cv = summary["cv"].astype("float64")
    noisy = summary[np.isfinite(cv) & (cv > threshold)]
    return noisy.sort_values("cv", ascending=False, kind="mergesort")


def cv_warning(summary: pd.DataFrame, max_named: int = MAX_NAMED) -> str | None:
    """One line naming the noisy configurations (CV > ``NOISY_CV``), or None."""
    noisy = noisy_configurations(summary)
    if noisy.empty:
        return None
    dims = [
        d
        for d in ("machine", "size", "grain", "start_method", "pinning", "collect")
        if summary[d].nunique(dropna=False) > 1
    ]
    named = [f"{_config_label(r, dims)}: CV {r['cv']:.0%}" for _, r in noisy.head(max_named).iterrows()]
    more = f" and {len(noisy) - max_named} more" if len(noisy) > max_named else ""
    return (
        f"{len(noisy)} of {len(summary)} configurations are noisy (CV of wall time > {NOISY_CV:.0%}; "
        f"their intervals are wide, small differences are not real): " + "; ".join(named) + more
    )


def environment_warnings(name: str, env: Mapping[str, Any]) -> list[str]:
    """A busy machine, a power-saving governor or throttling, from one sweep's environment.json."""
    noise = env.get("noise")
    noise = noise if isinstance(noise, Mapping) else {}
    topo = env.get("topology")
    topo = topo if isinstance(topo, Mapping) else {}
    logical = _number(topo.get("logical_cores")) or _number(env.get("logical_cores"))
    where = f"sweep {name}"
    out = []
    launcher = _launcher_warning(env.get("launcher"))
    if launcher:
        out.append(f"{where}: {launcher}")
    loads = noise.get("loadavg_start")
    if not isinstance(loads, (list, tuple)) or not loads:
        loads = env.get("loadavg")
    load = _number(loads[0]) if isinstance(loads, (list, tuple)) and loads else None
    if load is not None and logical and load > BUSY_LOAD_PER_CPU * logical:
        out.append(
            f"{where}: the machine was busy when the sweep started (load average {load:.2f} on "
            f"{logical:g} logical CPUs; more than {BUSY_LOAD_PER_CPU:g} per CPU)"
        )
    other = _number(noise.get("busy_cpu_percent_other"))
    if other is not None and other > BUSY_OTHER_PERCENT:
        out.append(
            f"{where}: other processes used {other:.0f}% of the CPUs during the sweep "
            f"(more than {BUSY_OTHER_PERCENT:g}%)"
        )
    governor = noise.get("cpu_governor")
    if isinstance(governor, str) and governor.strip() and governor.strip() != "performance":
        out.append(
            f"{where}: CPU frequency governor is '{governor.strip()}' (not 'performance'): clocks may vary"
        )
    start, end = _number(noise.get("throttle_count_start")), _number(noise.get("throttle_count_end"))
    if start is not None and end is not None and end > start:
        out.append(f"{where}: the CPU was thermally throttled {end - start:g} times during the sweep")
    return out


def _launcher_warning(launcher: Any) -> str | None:
    """The launcher warning the sweep recorded: jobs timed at the same time on one machine.

    Taken as recorded (``launcher.warning``); a record without that text but with more than
    one job at once on this machine gets a line made from its figures."""
    if not isinstance(launcher, Mapping):
        return None
    text = launcher.get("warning")
    if isinstance(text, str) and text.strip():
        return text.strip()
    at_once = _number(launcher.get("jobs_at_once"))
    if launcher.get("where") == "this machine" and at_once is not None and at_once > 1:
        return (
            f"hydra/launcher={launcher.get('launcher')} ran up to {at_once:g} jobs at the same time "
            "on this machine: they shared its cores, so every timing is corrupted"
        )
    return None


def noise_warnings(
    summary: pd.DataFrame,
    environments: Mapping[str, Mapping[str, Any]],
    rows: pd.DataFrame | None = None,
) -> list[str]:
    """Every noise warning for a report: a busy machine (from ``rows``, issue 29) first, then
    noisy configurations, then each sweep's machine."""
    out = []
    if rows is not None:
        from .busy import busy_warning

        busy = busy_warning(rows)
        if busy:
            out.append(busy)
    line = cv_warning(summary)
    if line:
        out.append(line)
    for name, env in environments.items():
        if isinstance(env, Mapping):
            out += environment_warnings(name, env)
    return out


#: The speedup half-width the report's noise line quotes rounds for.
TARGET_HALF_WIDTH = 0.05


def rounds_for_half_width(
    sd_per_round: float, target: float = TARGET_HALF_WIDTH, dof_per_round: float = 1.0
) -> int | None:
    """Smallest R whose t interval over R rounds has a half-width below ``target`` (relative),
    when one round's log value has SD ``sd_per_round`` and the interval has ``dof_per_round``
    degrees of freedom per round beyond the first (1: the plain t over rounds, R - 1 dof; the
    pooled model has more, from every configuration of the workload); None if not known."""
    from scipy import stats

    if not (np.isfinite(sd_per_round) and sd_per_round > 0):
        return None
    goal = float(np.log1p(target))
    per = max(float(dof_per_round), 1.0) if np.isfinite(dof_per_round) else 1.0
    for r in range(2, 1000):
        if stats.t.ppf(0.975, per * (r - 1)) * sd_per_round / np.sqrt(r) <= goal:
            return r
    return 1000


def sequential_round_cv(rows: pd.DataFrame) -> tuple[float, int]:
    """The sequential runs' round-to-round CV: per baseline (machine, workload, size, ... in one
    sweep), the SD over rounds of the log of each round's median time; the median over baselines.
    Returns (CV, rounds), (NaN, rounds) where no baseline ran in >= 2 rounds."""
    from .stats.keys import BASELINE_KEYS
    from .stats.paired import blocks_of

    if rows.empty or "backend" not in rows:
        return np.nan, 0
    blk, block_sweep = blocks_of(rows)
    mask = rows["backend"].eq("sequential").to_numpy() & rows["ok"].to_numpy(dtype=bool)
    if not mask.any():
        return np.nan, 0
    seq = rows.loc[mask, [*BASELINE_KEYS, "wall_s"]].assign(_blk=blk[mask], _sweep=block_sweep[blk[mask]])
    seq = seq[np.isfinite(seq["wall_s"].astype("float64")) & (seq["wall_s"].astype("float64") > 0)]
    keys = [*BASELINE_KEYS, "_sweep"]
    med = seq.groupby([*keys, "_blk"], dropna=False)["wall_s"].median().reset_index()
    med["_log"] = np.log(med["wall_s"].astype("float64"))
    per = med.groupby(keys, dropna=False)["_log"].agg(["std", "size"])
    rounds = int(per["size"].max()) if len(per) else 0
    per = per[per["size"] >= 2]
    return (float(per["std"].median()) if len(per) else np.nan), rounds


def machine_noise_line(rows: pd.DataFrame, model_table: pd.DataFrame | None = None) -> str:
    """How noisy the machine was during the sweep, for the top of the report, and the rounds a 5 %
    half-width on a speedup would need at that noise (issue 29, point 8): per workload where the
    sweep has several, since a quiet IO workload and a noisy CPU one need very different rounds."""
    cv, rounds = sequential_round_cv(rows)
    if not np.isfinite(cv):
        return (
            "one round only, so the machine's round-to-round noise was not measured; a sweep with "
            "rounds=3 or more measures it and puts it in the intervals."
        )
    head = f"the sequential runs' median moved {cv:.1%} from round to round (CV over {rounds} rounds)"
    t = pd.DataFrame()
    if model_table is not None and len(model_table) and "se" in model_table:
        t = model_table[np.isfinite(model_table["se"].astype("float64"))]
    if t.empty:
        need = rounds_for_half_width(cv * np.sqrt(2))
        text = head + "."
        if need is not None:
            text += (
                f" At this noise about {need} rounds would give a 5 % half-width on a speedup (the plain "
                f"t over rounds; this sweep ran {rounds})."
            )
        return text
    per_workload = []
    for workload, part in t.groupby("workload", sort=True):
        per_round = part["se"].astype("float64") * np.sqrt(part["n_blocks"].astype("float64"))
        sd = float(per_round.median())
        pooled = part[part["pooled"].astype(bool)] if "pooled" in part else part.iloc[0:0]
        dof_per_round = 1.0
        own = ""
        if len(pooled):
            own = f"own noise {float(np.sqrt(pooled['resid_var'].astype('float64')).median()):.1%}, "
            blocks = float(pooled["n_blocks"].astype("float64").median())
            if blocks >= 2:
                dof_per_round = float(np.nanmedian(pooled["dof"].astype("float64"))) / (blocks - 1)
        need = rounds_for_half_width(sd, dof_per_round=dof_per_round)
        rounds_text = f", about {need} rounds for a 5 % half-width" if need is not None else ""
        per_workload.append(f"{workload}: {own}a speedup's spread {sd:.1%}{rounds_text}")
    return (
        f"{head}. Per configuration and round (median; block model where it applies): "
        + "; ".join(per_workload)
        + f" (this sweep ran {rounds} rounds)."
    )
