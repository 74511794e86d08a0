"""Every command in README.md and docs/*.md is checked here, or listed as checked by hand.

Commands are taken from fenced code blocks and inline code. Nothing runs a sweep:

- ``coresweep ...`` goes through coresweep's own preflight (Hydra's parser, planning, composing
  and checking every job: what turns a bad command line into exit status 2 before any work),
  keeping the compositions as the command does (jobs derived from a sibling's composition;
  tests/test_composed.py checks those equal Hydra's own);
  Hydra's informational flags (``--help``, ``--cfg job``, ``-sc``) run for real, in-process.
- ``coresweep-report ...`` is parsed by its argument parser; folders under examples/ must exist.
- ``coresweep-topology ...`` runs for real.

A command this machine cannot check goes in ``BY_HAND`` with the reason; docs/design.md says
those are checked by hand before each release. An entry that no longer appears in the docs
fails the test, so the list stays honest. The relative links (and their #anchors) of the same
pages must resolve, and analysis/ must never import the runner (docs/design.md).
"""

from __future__ import annotations

import ast
import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
PROGRAMS = ("coresweep", "coresweep-report", "coresweep-topology")

#: Commands checked by hand before each release, with why this test cannot check them.
BY_HAND = {
    # placeholders: the command shows a shape, not a value
    "coresweep -m KEY=A,B ...": "placeholder (KEY, A, B)",
    "coresweep +experiment=NAME": "placeholder (NAME); every preset is composed by tests/test_config.py",
    "coresweep-report PATH [PATH ...] [-o OUT]": "placeholder (PATH, OUT)",
    "coresweep ...": "placeholder (...)",
    "coresweep workload=custom workload.fn=mypkg.mod:func workload.size=100 -m "
    "backend=sequential,thread_pool,process_pool workers=1,2":
        "placeholder module (mypkg.mod:func); tests/test_guards.py preflights the same shape with a real one",
    "coresweep-report ...": "placeholder (...)",
    "coresweep +experiment=choose workload=custom workload.fn=mypkg.mod:func workload.size=100":
        "placeholder module (mypkg.mod:func); tests/test_choose.py runs the same shape with a real one",
    "coresweep +experiment=choose workload=custom workload.fn=mypkg.mod:func workload.size=100 budget_s=60":
        "placeholder module (mypkg.mod:func); tests/test_choose.py runs the same shape with a real one",
    "coresweep +experiment=choose workload=custom workload.fn=pkg.mod:func workload.size=N":
        "placeholder (pkg.mod:func, N)",
    "coresweep-report <sweep dir>": "placeholder (<sweep dir>)",
    "coresweep-report A B": "placeholder (A, B)",
    "coresweep-topology ...": "placeholder (...)",
    "coresweep-topology [--json]": "placeholder ([optional]); `coresweep-topology` and `--json` are run",
    "coresweep-report examples/2core-vm-default examples/<server>-default": "another machine's folder",
    "coresweep machine=<server> hydra.sweep.dir=examples/<server>-default": "placeholder (<server>)",
    "coresweep +experiment=folklore machine=<server> hydra.sweep.dir=examples/<server>-folklore":
        "placeholder (<server>)",
    "coresweep -m python=$(bash .ci/python314.sh | tail -1) backend=sequential,interpreter_pool ...":
        "needs .ci/python314.sh's Python 3.14 (tests/test_python314.py runs it for real)",
    # machines or interpreters CI does not have
    "coresweep cpus=count:4 workers=auto -m backend=sequential,process_pool workload=cpu_python":
        "needs 4 CPUs or more",
    "coresweep -m python=3.11,3.12,3.13 backend=sequential,thread_pool,process_pool workers=1,2 "
    "workload=cpu_python": "needs Python 3.12 and 3.13 installed",
    "coresweep python=3.12 backend=joblib_loky": "an error example: needs a bare Python 3.12",
    "coresweep python=3.14": "an error example: its text depends on the interpreters installed",
    "coresweep -m python=3.14 backend=sequential,thread_pool,interpreter_pool workers=1,2 "
    "workload=cpu_python": "needs Python 3.14",
    "coresweep -m python=3.13,3.13t backend=sequential,thread_pool,process_pool workers=1,2 "
    "workload=cpu_python": "needs Python 3.13 and a free-threaded 3.13t",
    "coresweep python=3.7": "an error example (refused by name); its text depends on what is installed",
    "coresweep hydra/launcher=coresweep_slurm hydra.launcher.partition=PART hydra.launcher.cpus_per_task=16 "
    "-m backend=sequential,process_pool workers=1,2,4,8,16": "needs a SLURM cluster",
    "coresweep hydra/launcher=coresweep_slurm hydra.launcher.partition=PART "
    "hydra.launcher.cpus_per_task=16 +hydra.launcher.additional_parameters.exclusive=true "
    "hydra.launcher.timeout_min=120 -m backend=sequential,process_pool,joblib_loky workers=1,2,4,8,16":
        "needs a SLURM cluster",
    # folders of a sweep that is not there
    "coresweep -m backend=sequential,pool workers=1,2 resume=outputs/2026-12-06/10-00-00":
        "needs an interrupted sweep's folder (tests/test_interrupts.py resumes one for real)",
}


def _fenced_commands(text: str) -> list[str]:
    commands = []
    for block in re.findall(r"^```[^\n]*\n(.*?)^```", text, flags=re.S | re.M):
        block = block.replace("\\\n", " ")
        for line in block.splitlines():
            line = line.strip()
            if line.startswith("$ "):
                line = line[2:]
            commands.extend(_segments(line))
    return commands


def _segments(line: str) -> list[str]:
    """The coresweep commands of one shell line (``a && b | c``), comments dropped."""
    if line.startswith("#"):
        return []
    line = re.sub(r"\s+#\s.*$", "", line)
    # a command inside $(...), as in eval "$(coresweep -sc install=bash)"
    found = [inner for inner in re.findall(r"\$\(([^()]*)\)", line) if inner.split(" ", 1)[0] in PROGRAMS]
    for part in re.split(r"\s*&&\s*|\s*;\s*", line):
        part = " ".join(part.split())
        if part.split(" ", 1)[0] in PROGRAMS:
            # a pipe ends the command, unless it is inside $(...)
            if "$(" not in part:
                part = part.split(" | ", 1)[0]
            found.append(part.strip())
    return found


def _inline_commands(text: str) -> list[str]:
    text = re.sub(r"^```[^\n]*\n.*?^```", "", text, flags=re.S | re.M)
    commands = []
    for span in re.findall(r"`([^`]+)`", text):
        span = " ".join(span.split())
        if span == "coresweep-report":  # the program's name in a sentence, not a command
            continue
        if span.split(" ", 1)[0] in PROGRAMS or "$(" in span:
            # a table cell may list alternatives: `coresweep --help` / `--cfg job`
            commands.extend(_segments(span))
    return commands


def documented_commands() -> list[tuple[str, str]]:
    seen: dict[str, str] = {}
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for command in _fenced_commands(text) + _inline_commands(text):
            seen.setdefault(command, page.relative_to(ROOT).as_posix())
    return sorted(seen.items(), key=lambda item: item[0])


COMMANDS = documented_commands()


def test_the_docs_have_commands_and_the_by_hand_list_is_current() -> None:
    found = {command for command, _ in COMMANDS}
    assert len(found) > 20
    stale = sorted(set(BY_HAND) - found)
    assert not stale, f"BY_HAND lists commands no page has any more: {stale}"


def _is_informational(args: list[str]) -> bool:
    flags = ("--help", "-h", "--hydra-help", "--cfg", "-c", "-sc", "--shell-completion")
    return any(a in flags for a in args)


#: Commands whose preflight composes hundreds of jobs (seconds each): the slow tier.
SLOW_COMMANDS = ("+experiment=patterns",)


@pytest.mark.parametrize(("command", "page"), [
    pytest.param(c, page, marks=pytest.mark.slow if any(w in c.split() for w in SLOW_COMMANDS) else ())
    for c, page in COMMANDS if c not in BY_HAND
])
def test_documented_command_passes_its_checks(command: str, page: str, tmp_path, monkeypatch, capsys) -> None:
    args = shlex.split(command)
    program, args = args[0], args[1:]
    if program == "coresweep-report":
        from coresweep.analysis.cli import build_parser

        parsed = build_parser().parse_args(args)
        for path in parsed.paths:
            if path.parts and path.parts[0] == "examples":
                committed = (ROOT / path / "environment.json").is_file()
                assert committed, f"{page}: {path} is not a committed sweep"
        return
    if program == "coresweep-topology":
        from coresweep.experiments.machine.topology_cli import main as topology_main

        monkeypatch.chdir(ROOT)  # a recorded machine's file is named relative to the repository
        assert topology_main(args) in (0, None)
        assert capsys.readouterr().out.strip()
        return
    monkeypatch.chdir(tmp_path)  # hydra.sweep.dir=runs/... is probed here, never in the repository
    if _is_informational(args):
        from coresweep.experiments.cli import main

        assert main(args) == 0, f"{page}: {command}"
        return
    from coresweep.experiments.cli import preflight
    from coresweep.experiments.plan.composed import ComposedConfigs
    from coresweep.experiments.plan.sweep import ConfigError

    multirun = [a for a in args if a in ("-m", "--multirun")]
    argv = multirun[:1] + [a for a in args if a not in ("-m", "--multirun")]
    try:
        _, jobs = preflight(argv, ComposedConfigs())
    except ConfigError as exc:
        pytest.fail(f"{page}: `{command}` is refused: {exc}")
    assert jobs >= 1


_LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)|!\[[^\]]*\]\(([^)\s]+)\)")


def _anchors(page: Path) -> set[str]:
    text = re.sub(r"^```[^\n]*\n.*?^```", "", page.read_text(encoding="utf-8"), flags=re.S | re.M)
    anchors = set()
    for heading in re.findall(r"^#+\s+(.*)$", text, flags=re.M):
        anchors.add(re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-"))
    return anchors


HISTORY = ROOT / "benchmarks" / "results" / "HISTORY.md"


@pytest.mark.parametrize("page", [*PAGES, HISTORY], ids=lambda p: p.name)
def test_relative_links_point_at_files_and_headings_that_exist(page: Path) -> None:
    text = re.sub(r"^```[^\n]*\n.*?^```", "", page.read_text(encoding="utf-8"), flags=re.S | re.M)
    broken = []
    for match in _LINK.finditer(text):
        target = match.group(1) or match.group(2)
        if re.match(r"[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists():
            broken.append(f"{target}: no such file")
        elif anchor and file.suffix == ".md" and anchor not in _anchors(file):
            broken.append(f"{target}: no heading #{anchor} in {file.name}")
    assert not broken, f"{page.name}: " + "; ".join(broken)


def test_analysis_never_imports_the_runner() -> None:
    offenders = []
    modules = sorted((ROOT / "analysis").rglob("*.py"))
    assert {m.parent.name for m in modules} >= {"analysis", "figures", "stats"}, "analysis/ not found whole"
    for module in modules:
        for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [("." * node.level) + (node.module or "")]
            where = module.relative_to(ROOT)
            offenders += [f"{where}: {n}" for n in names if "experiments" in n.split(".")]
    assert not offenders, offenders
