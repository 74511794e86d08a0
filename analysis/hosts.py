"""Which machine a sweep ran on: the label is the user's, the host is what environment.json says.

Two sweeps with one label may have run on different hardware: the default label is the
hostname, and cloud VMs are often all called "vm". Read as one machine, their rows become
blocks of one machine and the report gives one verdict for two. A sweep's host fingerprint
(CPU model, hostname, core counts, from its environment.json) tells them apart; sweeps of one
host still combine (several sweeps of a machine are more blocks of it).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

#: The topology counts that belong to the hardware (affinity and quotas are a sweep's choice).
FINGERPRINT_CORES: tuple[str, ...] = ("logical_cores", "physical_cores", "sockets")
#: Where a sweep's rows are shown under another label, its environment records it here.
LABEL_KEY = "machine_label"

#: Marketing and clock text that names no difference between two CPUs of a report.
_NOISE_WORDS = re.compile(r"\((?:R|TM|tm|r)\)|\bCPU\b|\bProcessor\b|@\s*[\d.]+\s*[GM]Hz|\bwith Radeon.*$")


def short_cpu_model(model: Any) -> str:
    """ "Intel(R) Xeon(R) Processor" -> "Intel Xeon": what a label needs to tell two CPUs apart."""
    text = _NOISE_WORDS.sub(" ", str(model or ""))
    text = " ".join(text.split())
    return text[:40].rstrip() or "unknown CPU"


def fingerprint(env: Mapping[str, Any] | None) -> tuple | None:
    """(CPU model, hostname, core counts) of the host a sweep ran on; None when not recorded."""
    if not env:
        return None
    topo = env.get("topology")
    topo = topo if isinstance(topo, Mapping) else {}
    model = env.get("cpu_model") or topo.get("cpu_model")
    host = env.get("hostname")
    cores = tuple(topo.get(k) for k in FINGERPRINT_CORES)
    if model is None and host is None and all(c is None for c in cores):
        return None
    return (str(model or ""), str(host or ""), cores)


def _suffixes(prints: Sequence[tuple]) -> list[str]:
    """One distinguishing text per fingerprint: the CPU model where models differ, else the
    hostname, else the core counts; "#n" where even those agree."""
    models = {p[0] for p in prints}
    hosts = {p[1] for p in prints}
    out = []
    for p in prints:
        parts = []
        if len(models) > 1:
            parts.append(short_cpu_model(p[0]))
        if len(hosts) > 1 and (len(models) == 1 or len({(q[0], q[1]) for q in prints}) > len(models)):
            parts.append(p[1] or "no hostname")
        if not parts:
            logical, physical, _ = p[2]
            parts.append(f"{physical} cores, {logical} logical")
        out.append(", ".join(parts))
    seen: dict[str, int] = {}
    for i, text in enumerate(out):
        seen[text] = seen.get(text, 0) + 1
        if seen[text] > 1:
            out[i] = f"{text} #{seen[text]}"
    return out


def _what_differs(prints: Sequence[tuple]) -> str:
    fields = []
    if len({p[0] for p in prints}) > 1:
        fields.append("CPU model " + " vs ".join(repr(m) for m in dict.fromkeys(p[0] for p in prints)))
    if len({p[1] for p in prints}) > 1:
        fields.append("hostname " + " vs ".join(repr(h) for h in dict.fromkeys(p[1] for p in prints)))
    if len({p[2] for p in prints}) > 1:
        fields.append(
            "cores " + " vs ".join("/".join(map(str, c)) for c in dict.fromkeys(p[2] for p in prints))
        )
    return "; ".join(fields)


def host_labels(
    pairs: Sequence[tuple[str, str]],
    environments: Mapping[str, Mapping[str, Any]],
    warnings: list[str],
) -> dict[tuple[str, str], str]:
    """New labels for the (label, sweep key) pairs whose label covers several hosts.

    ``pairs`` are the distinct (machine label, sweep key) of the rows, in reading order. Each
    label whose sweeps ran on more than one host is split, one label per host ("vm (Intel
    Xeon)", "vm (AMD EPYC)"), with one warning line; sweeps without a fingerprint keep the
    label. Returns only the pairs that change.
    """
    by_label: dict[str, dict[tuple, list[str]]] = {}
    for label, key in pairs:
        print_ = fingerprint(environments.get(key))
        if print_ is not None:
            by_label.setdefault(label, {}).setdefault(print_, []).append(key)
    taken = {label for label, _ in pairs}
    out: dict[tuple[str, str], str] = {}
    for label, hosts in by_label.items():
        if len(hosts) < 2:
            continue
        prints = list(hosts)
        names = []
        for suffix in _suffixes(prints):
            name = f"{label} ({suffix})"
            while name in taken:  # another sweep is already labelled so: keep them apart
                name += "'"
            taken.add(name)
            names.append(name)
        for print_, name in zip(prints, names):
            for key in hosts[print_]:
                out[(label, key)] = name
        shown = " and ".join(
            f"{name!r} ({len(hosts[p])} sweep{'s' if len(hosts[p]) != 1 else ''})"
            for p, name in zip(prints, names)
        )
        warnings.append(
            f"sweeps labelled {label!r} ran on {len(prints)} different machines ({_what_differs(prints)}): "
            f"shown apart as {shown}; label each machine with machine=NAME to name them yourself"
        )
    return out
