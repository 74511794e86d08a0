"""``coresweep-topology``: show the core layout the sweeps will run on.

Worth a look before trusting any speedup curve: it shows where SMT siblings are, which CPUs
this process may use, and whether a container quota quietly caps parallelism.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any, Optional

from rich.console import Console
from rich.text import Text
from rich.tree import Tree

from .topology import Topology, detect, format_cpu_list, parse_cpu_list, worker_ladder

#: Above this many cores in one NUMA node, runs of alike cores share one line.
_COMPRESS_ABOVE = 16
_TYPE_TAGS = {"performance": "P", "efficiency": "E"}
_CACHE_NAMES = {"Data": "d", "Instruction": "i"}
_HYPERVISOR_SOURCES = {"dmi": "DMI", "cpuid": "CPUID", "sysfs": "/sys/hypervisor"}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="coresweep-topology",
        description="Print the detected core layout (sockets, NUMA nodes, cores, SMT "
                    "siblings, core types, caches) and the CPUs this process may use.",
    )
    parser.add_argument("--json", action="store_true",
                        help="print the full topology as JSON (the environment.json format)")
    # Hidden: point detection at a fake machine (tests, or a tree copied off another box).
    for name in ("sysfs-root", "proc-root", "cgroup-root", "root"):
        parser.add_argument(f"--{name}", help=argparse.SUPPRESS)
    parser.add_argument("--affinity", type=parse_cpu_list, help=argparse.SUPPRESS)
    # Hidden: describe a Mac or a Windows machine by what its own tools recorded (`sysctl hw
    # machdep.cpu.brand_string` text; a GetLogicalProcessorInformationEx buffer, as written
    # by `python -m coresweep.experiments.machine.windows FILE` there).
    parser.add_argument("--sysctl-file", help=argparse.SUPPRESS)
    parser.add_argument("--windows-buffer-file", help=argparse.SUPPRESS)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point; returns the exit status (argparse exits 2 on a bad command line)."""
    args = _parser().parse_args(argv)
    roots = {"sysfs_root": args.sysfs_root, "proc_root": args.proc_root,
             "cgroup_root": args.cgroup_root}
    kwargs: dict[str, Any] = {k: v for k, v in roots.items() if v is not None}
    if args.root is not None:
        kwargs["root"] = args.root
    try:
        if args.sysctl_file is not None:
            with open(args.sysctl_file, encoding="utf-8") as fh:
                kwargs["sysctl_text"] = fh.read()
        if args.windows_buffer_file is not None:
            with open(args.windows_buffer_file, "rb") as fh:
                kwargs["windows_buffer"] = fh.read()
        topo = detect(**kwargs, affinity=args.affinity)
    except (OSError, ValueError) as exc:
        print(f"coresweep-topology: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(topo.to_dict(), indent=2))
        return 0
    console = Console(file=sys.stdout, highlight=False)
    console.print(layout_tree(topo))
    for line in summary_lines(topo):
        console.print(line, soft_wrap=True)
    return 0


def _cpus_text(cpus: Sequence[int], allowed: set[int]) -> Text:
    """CPU ids, with those outside the affinity dimmed and starred (readable without color)."""
    text = Text()
    for i, cpu in enumerate(sorted(cpus)):
        if i:
            text.append(",")
        if cpu in allowed:
            text.append(str(cpu), style="bold green")
        else:
            text.append(f"{cpu}*", style="dim strike")
    return text


def _core_label(cores: list[int], cpus: list[int], core_type: Optional[str], threads: int,
                allowed: set[int]) -> Text:
    noun = f"core {cores[0]}" if len(cores) == 1 else f"cores {format_cpu_list(cores)}"
    label = Text(noun, style="bold")
    if core_type:
        tag = _TYPE_TAGS.get(core_type, core_type)
        label.append(f" [{tag}]", style="cyan" if tag == "P" else "magenta")
    if threads > 1:
        label.append(f" SMT-{threads}", style="yellow")
    label.append(": cpu " if len(cpus) == 1 else ": cpus ")
    if len(cores) == 1:
        return label + _cpus_text(cpus, allowed)
    inside = [c for c in cpus if c in allowed]
    outside = [c for c in cpus if c not in allowed]
    if inside:
        label.append(format_cpu_list(inside), style="bold green")
    if outside:
        label.append(("," if inside else "") + format_cpu_list(outside) + "*", style="dim strike")
    return label


def layout_tree(topo: Topology) -> Tree:
    """Machine → socket → NUMA node → core → logical CPUs."""
    allowed = set(topo.affinity_cpus)
    title = Text(topo.cpu_model or "unknown CPU", style="bold")
    title.append(f"  ({topo.source})", style="dim")
    tree = Tree(title)
    online = [e for e in topo.cpus if e.get("online", True)]
    for socket in sorted({e["socket"] for e in online}, key=str):
        in_socket = [e for e in online if e["socket"] == socket]
        branch = tree.add(Text(f"socket {socket}", style="bold blue"))
        for node in sorted({e["numa_node"] for e in in_socket}, key=str):
            in_node = [e for e in in_socket if e["numa_node"] == node]
            name = "NUMA node ?" if node is None else f"NUMA node {node}"
            leaf = branch.add(Text(f"{name}: cpus {format_cpu_list(e['cpu'] for e in in_node)}",
                                   style="blue"))
            _add_cores(leaf, in_node, allowed)
    if topo.offline_cpus:
        tree.add(Text(f"offline: cpus {format_cpu_list(topo.offline_cpus)}", style="red"))
    return tree


def _add_cores(leaf: Tree, entries: list[dict[str, Any]], allowed: set[int]) -> None:
    by_core: dict[Any, list[dict[str, Any]]] = {}
    for e in entries:
        by_core.setdefault(e["core"], []).append(e)
    rows = []
    for core, members in sorted(by_core.items(), key=lambda kv: min(e["cpu"] for e in kv[1])):
        cpus = sorted(e["cpu"] for e in members)
        access = tuple(c in allowed for c in cpus)
        kind = "all" if all(access) else "none" if not any(access) else "some"
        rows.append((core, cpus, members[0]["core_type"], len(cpus), kind))
    if len(rows) <= _COMPRESS_ABOVE:
        for core, cpus, core_type, threads, _ in rows:
            leaf.add(_core_label([core], cpus, core_type, threads, allowed))
        return
    # Big machines: one line per run of consecutive cores that look alike.
    run: list[tuple[Any, ...]] = []
    for row in [*rows, None]:
        if run and (row is None or row[2:] != run[-1][2:]
                    or not isinstance(row[0], int) or row[0] != run[-1][0] + 1):
            cpus = sorted(c for r in run for c in r[1])
            leaf.add(_core_label([r[0] for r in run], cpus, run[0][2], run[0][3], allowed))
            run = []
        if row is not None:
            run.append(row)


def _size(num_bytes: Optional[int]) -> str:
    if num_bytes is None:
        return "?"
    units = (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10))
    for unit, scale in units:  # the largest unit that shows it exactly (1280 KiB, 30 MiB)
        if num_bytes >= scale and num_bytes % scale == 0:
            return f"{num_bytes // scale} {unit}"
    for unit, scale in units:
        if num_bytes >= scale:
            return f"{num_bytes / scale:.1f} {unit}"
    return f"{num_bytes} B"


def _cache_summary(caches: list[dict[str, Any]]) -> str:
    groups: dict[tuple[Any, str], list[dict[str, Any]]] = {}
    for cache in caches:
        groups.setdefault((cache["level"], cache["type"]), []).append(cache)
    parts = []
    for (level, kind), members in groups.items():
        name = f"L{level}{_CACHE_NAMES.get(kind, '')}"
        sizes = sorted({_size(c["size_bytes"]) for c in members})
        if len(members) == 1:
            parts.append(f"{name} {sizes[0]} (cpus {members[0]['shared_cpu_list']})")
        else:
            parts.append(f"{name} {'/'.join(sizes)} ×{len(members)}")
    return " · ".join(parts)


def _plural(n: Any, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def summary_lines(topo: Topology) -> list[Text]:
    """The counts, what this process may use, and why (affinity, quota, VM, container)."""
    lines = [Text(" · ".join([
        _plural(topo.logical_cores, "logical CPU"),
        _plural(topo.physical_cores, "physical core"),
        f"{topo.threads_per_core} thread{'s' if topo.threads_per_core != 1 else ''} per core",
        _plural(topo.sockets, "socket"),
        _plural(topo.numa_nodes, "NUMA node"),
    ]), style="bold")]
    if topo.core_types:
        lines.append(Text("Hybrid: " + ", ".join(
            f"{name} cpus {format_cpu_list(cpus)}" for name, cpus in topo.core_types.items())))
    if topo.caches:
        lines.append(Text("Caches: " + _cache_summary(topo.caches)))
    affinity = topo.affinity_cpus
    usable = Text(f"This process: affinity cpus {format_cpu_list(affinity)} "
                  f"({len(affinity)} of {topo.logical_cores}), usable CPUs ")
    usable.append(str(topo.usable_cpus), style="bold green")
    lines.append(usable)
    if len(affinity) < topo.logical_cores:
        lines.append(Text("* outside this process's affinity", style="dim"))
    if topo.affinity_source:
        lines.append(Text(f"affinity from {topo.affinity_source}", style="dim"))
    if topo.cpu_quota is not None:
        if topo.cpu_quota < len(affinity):
            lines.append(Text(
                f"container/VM with CPU quota {float(topo.cpu_quota)} "
                f"of {topo.logical_cores} visible CPUs: at most {topo.usable_cpus} CPUs of "
                f"work per second, however many workers run ({topo.cpu_quota_source})",
                style="bold yellow"))
        else:
            lines.append(Text(f"CPU quota {float(topo.cpu_quota)} (not limiting)", style="dim"))
    where = []
    if topo.in_container:
        where.append("in a container")
    if topo.virtualized:
        source = _HYPERVISOR_SOURCES.get(topo.hypervisor_source or "", topo.hypervisor_source)
        name = (f"{topo.hypervisor}, from {source}" if topo.hypervisor and source
                else topo.hypervisor or "hypervisor not identified")
        where.append(f"in a virtual machine ({name}"
                     "; vCPUs may share host cores, so the layout above may be nominal)")
    if where:
        lines.append(Text("Running " + " and ".join(where), style="yellow"))
    tail = f"workers=auto ladder: {', '.join(map(str, worker_ladder(topo)))}"
    if topo.loky_cpu_count is not None:
        tail += f" · loky cpu_count: {topo.loky_cpu_count}"
    lines.append(Text(tail))
    return lines


if __name__ == "__main__":
    sys.exit(main())
