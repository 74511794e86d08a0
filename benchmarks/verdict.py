"""What the verdict names, sweep after sweep: is it right, undecided, or wrong?

Issue 29's check: ``coresweep -m backend=sequential,process_pool workers=1,2,4
workload=cpu_python`` on a 2-core machine must name process_pool with 2 workers (or say it is
undecided between 2 and 4 workers) in at least 9 of 10 sweeps, and never name 1 worker. This
runs the same sweep ``--sweeps`` times, reads each report's verdict line for the workload
(report/summary.md, as a user reads it) and classifies it, with each sweep's noise beside it
(the sequential runs' round-to-round CV, and the share of busy executions when recorded):

    python -m benchmarks.verdict --sweeps 10 [--out benchmarks/results] [--reuse DIR]

``--expect`` names the right answer's worker counts (default 2; undecided counts as right when
every configuration it names has one of ``--expect-or`` counts, default 2 and 4).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from ._results import machine_header, write_result

DEFAULT_SWEEP = ["-m", "backend=sequential,process_pool", "workers=1,2,4", "workload=cpu_python"]


def verdict_line(sweep: Path, workload: str) -> str:
    """The report's verdict line for ``workload`` (summary.md's bullet that starts with it)."""
    text = (sweep / "report" / "summary.md").read_text(encoding="utf-8")
    for line in text.splitlines():
        body = line.lstrip("-* ").strip()
        if body.startswith(f"{workload} on ") or body.startswith(f"{workload} (size="):
            return body
    return ""


def classify(line: str, expect: set[int], expect_or: set[int]) -> str:
    """right / undecided-right / undecided-other / wrong-1-worker / wrong / no-pick / none."""
    if not line:
        return "none"
    if "undecided:" in line:
        head = line.split("cannot be told apart", 1)[0]
        among = {int(n) for n in re.findall(r"with (\d+) workers?", head)}
        return "undecided-right" if among and among <= expect_or else "undecided-other"
    if "best is" in line:
        best = int(re.search(r"best is [^:]*? with (\d+) workers?", line).group(1))  # type: ignore[union-attr]
        if best in expect:
            return "right"
        return "wrong-1-worker" if best == 1 else "wrong"
    return "no-pick"


def sweep_noise(sweep: Path) -> dict[str, Any]:
    """The sequential job's round-to-round CV (of its per-round medians) and busy executions."""
    rows = [
        json.loads(line)
        for path in sweep.glob("*/results.jsonl")
        for line in path.read_text().splitlines()
        if line.strip()
    ]
    seq: dict[int, list[float]] = {}
    for r in rows:
        if r.get("backend") == "sequential" and r.get("ok") and r.get("wall_s"):
            seq.setdefault(int(r.get("round") or 0), []).append(float(r["wall_s"]))
    medians = np.array([np.median(v) for _, v in sorted(seq.items())])
    cv = float(np.std(medians, ddof=1) / np.mean(medians)) if medians.size >= 2 else None
    busy = [r.get("busy") for r in rows if r.get("busy") is not None]
    return {
        "sequential_round_cv": cv,
        "busy_rows": int(sum(bool(b) for b in busy)),
        "rows": len(rows),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sweeps", type=int, default=10)
    parser.add_argument("--workload", default="cpu_python")
    parser.add_argument("--expect", default="2", help="worker counts a right pick has (comma list)")
    parser.add_argument("--expect-or", default="2,4", help="worker counts an acceptable undecided names")
    parser.add_argument("--sweeps-dir", type=Path, default=None, help="keep the sweeps here")
    parser.add_argument("--reuse", type=Path, default=None, help="classify the sweeps in this folder")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--name", default="verdict.json")
    parser.add_argument("overrides", nargs="*", help="the sweep (default: " + " ".join(DEFAULT_SWEEP) + ")")
    args = parser.parse_args(argv)
    expect = {int(x) for x in args.expect.split(",")}
    expect_or = {int(x) for x in args.expect_or.split(",")}
    overrides = args.overrides or DEFAULT_SWEEP
    if args.reuse:
        sweeps = sorted(p for p in args.reuse.iterdir() if (p / "report" / "summary.md").is_file())
        walls = [None] * len(sweeps)
    else:
        base = args.sweeps_dir or Path("outputs") / time.strftime("verdict-%Y%m%d-%H%M%S")
        sweeps, walls = [], []
        for k in range(args.sweeps):
            sweep = base / f"sweep-{k:02d}"
            t0 = time.perf_counter()
            proc = subprocess.run(
                [sys.executable, "-m", "coresweep.experiments.entry", *overrides,
                 f"hydra.sweep.dir={sweep}"],
                capture_output=True, text=True,
            )
            walls.append(time.perf_counter() - t0)
            if proc.returncode not in (0, 1):
                print(proc.stderr[-2000:], file=sys.stderr)
                return proc.returncode
            sweeps.append(sweep)
            print(f"sweep {k + 1}/{args.sweeps}: {walls[-1]:.1f} s", file=sys.stderr)
    results = []
    for sweep, wall in zip(sweeps, walls):
        line = verdict_line(sweep, args.workload)
        results.append(
            {"sweep": str(sweep), "wall_s": wall, "verdict": line,
             "class": classify(line, expect, expect_or), **sweep_noise(sweep)}
        )
    counts: dict[str, int] = {}
    for r in results:
        counts[r["class"]] = counts.get(r["class"], 0) + 1
    ok = counts.get("right", 0) + counts.get("undecided-right", 0)
    record = {
        **machine_header(),
        "when": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "command": "coresweep " + " ".join(overrides),
        "expect_workers": sorted(expect),
        "undecided_ok_among": sorted(expect_or),
        "counts": counts,
        "right_or_undecided_right": f"{ok} of {len(results)}",
        "named_one_worker": counts.get("wrong-1-worker", 0),
        "sweeps": results,
    }
    for r in results:
        cv = r["sequential_round_cv"]
        print(f"{r['class']:16s} cv={'-' if cv is None else f'{cv:.1%}':>6s}  {r['verdict'][:160]}")
    print(f"right or undecided between {sorted(expect_or)}: {ok} of {len(results)}; "
          f"named 1 worker: {counts.get('wrong-1-worker', 0)}")
    write_result(args.out, args.name, record)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
