"""``coresweep-report PATH [PATH ...]``: rebuild the report from results folders, no re-run needed.

Exit status follows the sweep's: 0 when every run was ok, 1 when some failed (the report is
still written and lists them), 2 when there is nothing to build from (one line on stderr).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from .load import AnalysisError

EXIT_OK = 0
EXIT_FAILED_RUNS = 1
EXIT_USAGE = 2
MAX_WARNINGS_SHOWN = 10


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (the rest is in --help)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="coresweep-report",
        description=(
            "Build (or rebuild) a coresweep report from results folders: index.html (self-contained: "
            "figures, tables, environment, reproduce command), results.csv, summary.csv, summary.md, "
            "warnings.txt (speedups the cores cannot give) and every figure as PNG and SVG. "
            "Several folders, e.g. copied from different machines, "
            "give one comparison report."
        ),
        epilog=(
            "A results folder is a sweep folder <sweep>/<job>/results.jsonl (with <sweep>/environment.json), "
            "a folder holding several sweeps, or one job folder. Exit status: 0 all runs ok, 1 some runs "
            "failed (report still written), 2 nothing to build from."
        ),
    )
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="results folder(s) to read")
    parser.add_argument(
        "-o",
        "--out",
        type=Path,
        default=None,
        metavar="OUT",
        help="where to write the report (default: PATH/report for the first PATH)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="print only the path of index.html")
    return parser


def _schema_of(path: Path) -> int | None:
    """The record schema a results folder was written with (its first row says), if any."""
    for results in sorted(Path(path).rglob("results.jsonl")):
        try:
            with open(results, encoding="utf-8") as fh:
                first = fh.readline()
            return int(json.loads(first).get("schema"))
        except (OSError, ValueError, TypeError, AttributeError):
            continue
    return None


def _schema_mix(paths: Sequence[Path]) -> str | None:
    """Folders written with different record schemas: said once, then read as best the loader can.

    A comparison with a folder from an older coresweep is worth having; the loader already
    fills fields an older schema lacks and warns about rows it does not know.
    """
    schemas = {str(p): _schema_of(Path(p)) for p in paths if Path(p).exists()}
    known = {p: s for p, s in schemas.items() if s is not None}
    if len(set(known.values())) <= 1:
        return None
    listed = ", ".join(f"{p} (schema {s})" for p, s in known.items())
    return (
        f"these folders were written with different record schemas: {listed}; "
        "fields one of them lacks are shown as missing"
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from .report import build_report  # heavy imports (matplotlib) only once the command line is fine

    mix = _schema_mix(args.paths)
    if mix and not args.quiet:
        print(f"coresweep-report: warning: {mix}", file=sys.stderr)
    try:
        result = build_report(args.paths, args.out)
    except AnalysisError as exc:
        print(f"coresweep-report: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:  # e.g. the output folder cannot be written
        print(
            f"coresweep-report: error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "),
            file=sys.stderr,
        )
        return EXIT_USAGE
    if not args.quiet:
        for flag in result.physics_flags[:MAX_WARNINGS_SHOWN]:
            print(f"coresweep-report: physics check: {flag}", file=sys.stderr)
        if len(result.physics_flags) > MAX_WARNINGS_SHOWN:
            print(
                f"coresweep-report: ... {len(result.physics_flags) - MAX_WARNINGS_SHOWN} more physics flags "
                f"in {result.out_dir / 'warnings.txt'}",
                file=sys.stderr,
            )
        for warning in result.noise_warnings:
            print(f"coresweep-report: noise warning: {warning}", file=sys.stderr)
        for warning in result.warnings[:MAX_WARNINGS_SHOWN]:
            print(f"coresweep-report: warning: {warning}", file=sys.stderr)
        if len(result.warnings) > MAX_WARNINGS_SHOWN:
            print(
                f"coresweep-report: ... {len(result.warnings) - MAX_WARNINGS_SHOWN} more warnings "
                "in the report",
                file=sys.stderr,
            )
        print(f"{result.n_rows} runs: {result.n_ok} ok, {result.n_failed} failed")
        print(f"report: {result.index_html}")
    else:
        print(result.index_html)
    return EXIT_FAILED_RUNS if result.n_failed else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
