"""Does coresweep time a sequential run as pyperf does?

pyperf (psf/pyperf) is the reference for timing Python code: it calibrates loops, spreads
its values over fresh worker processes and discards warm-ups. Where it applies, a sequential
workload, both time the same statement: one run of the workload's tasks in a plain loop,
``[task(x) for x in items]``, with the harness's own task functions and inputs. pyperf runs
it through ``python -m pyperf timeit``; coresweep through ``backend=sequential``. Prints the
median time of one run from each and their ratio (harness / pyperf).

Needs pyperf: ``pip install "coresweep[bench]"`` (or ``pip install pyperf``).

    python -m benchmarks.pyperf_compare [--rounds 2] [--repeats 10] [--fast] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks._results import machine_header, write_result

RESULTS = Path(__file__).resolve().parent / "results"
CASES = {
    # workload: (size, grain): one sequential run takes ~0.15-0.35 s here
    "cpu_python": (64, 20000),
    "io_sleep": (64, 5000),
}


def pyperf_time(workload: str, fast: bool, out: Path) -> dict[str, float]:
    size, grain = CASES[workload]
    setup = (
        "from coresweep.experiments.workloads import WORKLOADS; "
        f"wl = WORKLOADS[{workload!r}](size={size}, grain={grain}); task = wl.task; items = wl.inputs()"
    )
    cmd = [sys.executable, "-m", "pyperf", "timeit", "--quiet", "-o", str(out), "-s", setup,
           "[task(x) for x in items]"]
    if fast:
        cmd.insert(4, "--fast")
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"pyperf failed:\n{proc.stderr[-2000:]}")
    import pyperf

    bench = pyperf.Benchmark.load(str(out))
    return {"median_s": bench.median(), "stdev_s": bench.stdev(), "values": bench.get_nvalue(),
            "processes": bench.get_nrun()}


def harness_time(workload: str, repeats: int, sweep: Path) -> dict[str, float]:
    size, grain = CASES[workload]
    cmd = [sys.executable, "-m", "coresweep.experiments.cli", "backend=sequential", "workers=1",
           f"workload={workload}", f"workload.size={size}", f"workload.grain={grain}",
           f"repeats={repeats}", "warmup=1", "report=false", f"hydra.sweep.dir={sweep}"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"coresweep failed:\n{proc.stderr[-2000:]}")
    rows = [json.loads(line) for p in sweep.glob("*/results.jsonl") for line in p.read_text().splitlines()]
    walls = [r["wall_s"] for r in rows]
    return {"median_s": statistics.median(walls), "stdev_s": statistics.stdev(walls), "values": len(walls),
            "loops": rows[0]["loops"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=2, help="pyperf + coresweep pairs per workload")
    parser.add_argument("--repeats", type=int, default=10, help="coresweep's timed runs per round")
    parser.add_argument("--fast", action="store_true", help="pyperf --fast (fewer processes)")
    parser.add_argument("--workloads", default=",".join(CASES))
    parser.add_argument("--size", type=int, help="tasks per run for every workload (a quick check)")
    parser.add_argument("--grain", type=int, help="grain for every workload (a quick check)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for pyperf_compare.json")
    args = parser.parse_args(argv)
    for name, (size, grain) in CASES.items():
        CASES[name] = (args.size or size, args.grain or grain)
    try:
        import pyperf  # noqa: F401
    except ImportError:
        print("pyperf is not installed: pip install 'coresweep[bench]'", file=sys.stderr)
        return 2
    report = {**machine_header(),
              "loadavg_start": os.getloadavg()[0], "results": []}
    print(f"{'workload':12} {'pyperf ms':>10} {'coresweep ms':>13} {'ratio':>7} {'ratio range':>13}")
    for workload in args.workloads.split(","):
        rounds = []
        for r in range(args.rounds):
            with tempfile.TemporaryDirectory() as tmp:
                order = ("pyperf", "harness") if r % 2 == 0 else ("harness", "pyperf")
                got = {}
                for side in order:
                    if side == "pyperf":
                        got[side] = pyperf_time(workload, args.fast, Path(tmp) / "pyperf.json")
                    else:
                        got[side] = harness_time(workload, args.repeats, Path(tmp) / "sweep")
            rounds.append({**got, "ratio": got["harness"]["median_s"] / got["pyperf"]["median_s"]})
        ratios = [x["ratio"] for x in rounds]
        row = {
            "workload": workload,
            "pyperf_median_s": statistics.median(x["pyperf"]["median_s"] for x in rounds),
            "harness_median_s": statistics.median(x["harness"]["median_s"] for x in rounds),
            "ratio": statistics.median(ratios), "ratio_min": min(ratios), "ratio_max": max(ratios),
            "rounds": rounds,
        }
        report["results"].append(row)
        print(f"{workload:12} {row['pyperf_median_s'] * 1e3:10.1f} {row['harness_median_s'] * 1e3:13.1f} "
              f"{row['ratio']:7.3f} {row['ratio_min']:6.3f}-{row['ratio_max']:.3f}")
    report["loadavg_end"] = os.getloadavg()[0]
    write_result(args.out, "pyperf_compare.json", report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
