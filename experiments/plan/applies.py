"""Which option each key of the command line belongs to, and the refusal of one that applies
to no job of the sweep.

Hydra answers a key the config lacks with "Could not override ...; use +key", and with
``+key`` (or ``++key``) it adds the key where nothing reads it: ``+workload.fn=mod:f``
without ``workload=custom`` measured the default workloads, not the user's function, and
``backend=joblib_loky start_method=spawn`` recorded loky in every row. Here every key the
user gives is matched with the jobs it applies to before anything is composed:

- ``workload.KEY`` applies to a job whose workload's config file (``conf/workload/*.yaml``)
  has KEY; ``backend.KEY`` likewise (``conf/backend/*.yaml``). The files themselves are read,
  so a key added to a workload is known here with no change to this module.
- ``share``, ``init``, ``state`` apply to the workload that uses each (``DIMENSIONS``).
- ``workers``, ``start_method``, ``pinning`` apply to a job whose backend does not ignore
  them (``Backend.ignored_keys``: sequential ignores all three, thread backends, loky and
  dask ignore ``start_method``), except for the values that say "nothing special"
  (``workers=1``, ``start_method=auto``, ``pinning=none``): those are true of every backend.

A key that applies to at least one job of the sweep is kept (a job that ignores it runs
once, and its rows record what really ran); a key that applies to none is refused in one
line naming the option that owns it. A key given twice is refused too (Hydra keeps the last
value without a word).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from importlib import resources as importlib_resources
from typing import Any

from omegaconf import DictConfig, OmegaConf

from ..errors import ConfigError, suggest

CONFIG_MODULE = "coresweep.conf"
#: Keys of the backend, and values of them that every backend does honour.
BACKEND_KEYS = ("workers", "start_method", "pinning")
NEUTRAL = {"workers": "1", "start_method": "auto", "pinning": "none"}
#: Keys a workload's config file carries for the common shape that its class does not use,
#: with the one value that says so (``workload=custom`` calls fn(i): one call is one task).
#: custom's inputs are range(size), whatever the seed: fn(i) seeds itself from i if it draws.
UNUSED = {("custom", "grain"): "1", ("custom", "seed"): "0"}
WHY_UNUSED = {
    "grain": " (one call of fn(i) is one task)",
    "seed": " (fn(i) receives i; a function that draws random numbers seeds itself per task, "
    "e.g. random.Random(i))",
}
#: Keys that only ``repeats=auto`` reads.
AUTO_REPEATS_KEYS = ("repeats_target", "repeats_max", "repeats_budget_s")


@cache
def group_options(group: str) -> tuple[str, ...]:
    """The options coresweep ships for a config group (``conf/GROUP/*.yaml``)."""
    try:
        folder = importlib_resources.files(CONFIG_MODULE) / group
        names = [p.name for p in folder.iterdir() if p.name.endswith(".yaml")]
    except (OSError, ModuleNotFoundError):
        return ()
    return tuple(sorted(n[: -len(".yaml")] for n in names))


@cache
def option_node(group: str, option: str) -> DictConfig | None:
    """``conf/GROUP/OPTION.yaml`` as read from the installed package (None: not shipped)."""
    try:
        text = (importlib_resources.files(CONFIG_MODULE) / group / f"{option}.yaml").read_text()
    except (OSError, ModuleNotFoundError):
        return None
    node = OmegaConf.create(text)
    return node if isinstance(node, DictConfig) else None


def option_keys(group: str, option: str) -> set[str] | None:
    """The keys of ``conf/GROUP/OPTION.yaml`` (None for an option coresweep does not ship)."""
    node = option_node(group, option)
    return None if node is None else {str(k) for k in node}


def owners(group: str, key: str) -> list[str]:
    """The options of ``group`` whose config has ``key``."""
    return [o for o in group_options(group) if key in (option_keys(group, o) or ())]


def check_given_twice(lines: Sequence[str]) -> None:
    """One key, one value: ``workers=2 -m workers=1,2`` is refused, not settled silently."""
    first: dict[str, str] = {}
    for line in lines:
        key = line.partition("=")[0].lstrip("+~")
        if key in first:
            raise ConfigError(
                f"{key} is given twice: {first[key]} and {line}; give it once (a list sweeps it: {key}=A,B)"
            )
        first[key] = line


def check_known(lines: Sequence[str], known: Iterable[str], groups: Iterable[str]) -> None:
    """A top-level key that is no coresweep option: refused with the nearest one, instead of
    Hydra's "Could not override ...; use +key" (which would add it where nothing reads it)."""
    options = sorted(set(known) | set(groups))
    for line in lines:
        key = line.partition("=")[0].lstrip("+~")
        top = key.split(".", 1)[0].split("/", 1)[0]
        if top in options or top == "hydra":
            continue
        raise ConfigError(
            f"{key}: not a coresweep option{suggest(top, options)} (options: "
            f"{', '.join(o for o in options if o != 'schedule')})"
        )


def job_choice(job: Sequence[str], group: str, default: str) -> str:
    """The option of ``group`` a job's overrides choose (``default`` when they choose none)."""
    name = default
    for line in job:
        if line.partition("=")[0].lstrip("+~") == group:
            name = line.partition("=")[2]
    return name


def _backend_ignores(backend: str) -> tuple[str, ...] | None:
    """The keys a backend's measurement ignores (None: not a backend coresweep ships)."""
    from ..backends import backend_class

    node = option_node("backend", backend)
    if node is None or "_target_" not in node:
        return None
    try:
        return tuple(backend_class(str(node["_target_"])).ignored_keys())
    except Exception:
        return None


def _workload_uses(workload: str) -> tuple[str, ...] | None:
    from ..workloads import WORKLOADS

    cls = WORKLOADS.get(workload)
    return None if cls is None else tuple(getattr(cls, "dimensions", ()))


def applies(key: str, value: str, backend: str, workload: str, follows: Iterable[str] = ()) -> bool:
    """Whether ``key=value`` changes what a job of that backend and workload measures.

    ``follows``: keys the workload's config interpolates (weak scaling's
    ``size: ${mul:${workers},32}``): those change every job's work. An option coresweep does
    not ship (``--config-dir``) is given the benefit of the doubt.
    """
    if key in follows:
        return True
    from ..workloads.patterns import DIMENSIONS

    if key.startswith("workload."):
        keys = option_keys("workload", workload)
        sub = key.split(".")[1]
        if (workload, sub) in UNUSED:
            return value == UNUSED[(workload, sub)]
        return keys is None or sub in keys
    if key.startswith("backend."):
        keys = option_keys("backend", backend)
        return keys is None or key.split(".")[1] in keys
    if key in DIMENSIONS:
        uses = _workload_uses(workload)
        return uses is None or key in uses
    if key in BACKEND_KEYS:
        ignored = _backend_ignores(backend)
        return ignored is None or key not in ignored or value == NEUTRAL[key]
    return True


def check_applies(
    lines: Sequence[str],
    jobs: Sequence[Sequence[str]],
    base_backend: str,
    base_workload: str,
    values_check: Mapping[str, Any] | None = None,
    base_repeats: str = "",
    follows: Iterable[str] = (),
) -> None:
    """Refuse, in one line, a command-line key that applies to no job of the sweep.

    ``lines``: the user's overrides; ``jobs``: every job's overrides as expanded (before
    anything is left out). ``values_check``: for enumerated keys, a function that raises on a
    value outside the list (a typo is named as such before "does not apply").
    """
    from ..workloads.patterns import DIMENSIONS

    for line in lines:
        key, _, value = line.partition("=")
        key = key.lstrip("+~")
        if key in AUTO_REPEATS_KEYS and line[0] != "~":
            if not any(
                v == "auto" for j in jobs for v in _values(f"r={job_choice(j, 'repeats', base_repeats)}")
            ):
                raise ConfigError(
                    f"{line}: {key} is read by repeats=auto only, and this sweep runs a fixed number "
                    "of repeats; add repeats=auto or drop it"
                )
            continue
        if line.startswith("~") or not (
            key.startswith(("workload.", "backend.")) or key in DIMENSIONS or key in BACKEND_KEYS
        ):
            continue
        given = [str(v) for v in _values(line)]
        if values_check and key in values_check:
            for v in given:
                values_check[key](v)
        pairs = {
            (job_choice(j, "backend", base_backend), job_choice(j, "workload", base_workload)) for j in jobs
        }
        if any(applies(key, v, b, w, follows) for b, w in pairs for v in given):
            continue
        raise ConfigError(_refusal(key, line, sorted({b for b, _ in pairs}), sorted({w for _, w in pairs})))


def _values(line: str) -> list[Any]:
    """The values an override line stands for (one, or each of a sweep)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    try:
        (o,) = OverridesParser.create().parse_overrides([line])
    except Exception:
        return [line.partition("=")[2]]
    if o.is_sweep_override():
        return list(o.sweep_string_iterator())
    return [o.get_value_element_as_str()] if o.value() is not None else ["null"]


def _refusal(key: str, line: str, backends: list[str], workloads: list[str]) -> str:
    """The one line for a key that applies to none of these backends and workloads."""
    from ..workloads.patterns import DIMENSIONS

    def listed(group: str, names: list[str]) -> str:
        return ", ".join(f"{group}={n}" for n in names)

    if key.startswith(("workload.", "backend.")):
        group, sub = key.split(".", 2)[:2]
        mine = workloads if group == "workload" else backends
        if group == "workload" and all((w, sub) in UNUSED for w in mine):
            why = WHY_UNUSED.get(sub, "")
            return f"{line}: workload={mine[0]} does not use {sub}{why}; drop it"
        own = owners(group, sub)
        if own:
            add = f"{group}={own[0]}" if len(own) == 1 else f"{group}=" + " or ".join(own)
            return f"{key} belongs to {listed(group, own)}; add {add} (this sweep runs {listed(group, mine)})"
        keys = sorted({k for n in mine for k in (option_keys(group, n) or ())} - {"_target_", "name"})
        whose = "its" if len(mine) == 1 else "their"
        allowed = ", ".join(f"{group}.{k}" for k in keys) or "none"
        return (
            f"{key}: not an option of {listed(group, mine)} ({whose} options: {allowed}){suggest(sub, keys)}"
        )
    if key in DIMENSIONS:
        owner = DIMENSIONS[key][1]
        return (
            f"{line}: {key} applies to workload={owner} only, and this sweep runs "
            f"{listed('workload', workloads)}; add workload={owner} or drop {key}"
        )
    users = [b for b in group_options("backend") if key not in (_backend_ignores(b) or ())]
    why = {
        "workers": "it runs the tasks in one loop",
        "start_method": _start_method_why(backends),
        "pinning": "it runs in the main process",
    }[key]
    return (
        f"{line}: {listed('backend', backends)} {'ignores' if len(backends) == 1 else 'ignore'} "
        f"{key} ({why}), so rows would record a setting that did not apply; use it with "
        f"{', '.join(users)}, or drop it"
    )


def _start_method_why(backends: Sequence[str]) -> str:
    """Why these backends take no start method: threads, or processes started their own way."""
    from ..backends import backend_class

    kinds = set()
    for name in backends:
        node = option_node("backend", name)
        try:
            kinds.add(backend_class(str(node["_target_"])).uses_processes if node is not None else None)
        except Exception:
            kinds.add(None)
    if kinds == {True}:
        return (
            "it starts its worker processes its own way"
            if len(backends) == 1
            else "they start theirs their own way"
        )
    if kinds == {False}:
        return "it starts no processes" if len(backends) == 1 else "they start no processes"
    return "they start no processes, or start them their own way"
