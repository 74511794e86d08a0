"""Plan and check a whole sweep before any job runs.

Hydra composes each job's config only when the job starts, so a typo in the last value of
a sweep would surface after the first jobs had run. ``plan`` expands the sweep exactly as
Hydra's basic sweeper does (its params, then the command line, the command line winning) and
``check_job`` validates every job's composed config, so bad input fails in one line, first.
A key that applies to no job is refused before any composing (``applies.py``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from omegaconf import DictConfig, OmegaConf

from ..backends import BACKENDS, Backend, BackendError
from ..backends import backend_class as _backend_class
from ..backends.base import available_start_methods
from ..errors import ConfigError, suggest
from ..job.collect import COLLECT_MODES, COLLECTORS
from ..job.resources import parse_memory
from ..launch import interpreter
from ..launch.busy import BUSY_POLICIES
from ..machine.pinning import pinning_refusal
from ..machine.topology import (
    PINNING_MODES,
    Topology,
    job_topology,
    pinning_plan,
    worker_ladder,
)
from ..workloads import WORKLOADS, WorkloadError
from ..workloads import make_workload as _make_workload
from ..workloads.patterns import DIMENSIONS
from . import resolvers  # noqa: F401  (presets use ${mul:...})
from .applies import BACKEND_KEYS, check_applies, check_known, job_choice, option_keys

CONFIG_MODULE = "coresweep.conf"
CONFIG_NAME = "config"


@dataclass
class SweepPlan:
    #: The primary config composed with the non-sweep overrides (hydra node included), less
    #: the workload's and backend's own keys (each job's composition has those).
    base: DictConfig
    jobs: list[list[str]]  # each job's overrides, in launch order
    extra_overrides: list[str]  # overrides the CLI must add (e.g. workers=auto expanded)
    #: Combinations left out because a dimension or workload key does not apply to the job's
    #: workload (``share`` with workload=stateful, ``workload.input_mb`` with init_heavy, ...).
    not_applicable: int = 0


def _parse(overrides: Sequence[str]) -> list[Any]:
    from hydra.core.override_parser.overrides_parser import OverridesParser

    try:
        return OverridesParser.create().parse_overrides(list(overrides))
    except Exception as exc:
        raise ConfigError(_one_line(exc)) from None


def _one_line(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return "; ".join(lines) if lines else type(exc).__name__


def compose(overrides: Sequence[str]) -> DictConfig:
    """Compose the config for one set of (non-sweep) overrides; errors become ConfigError."""
    from hydra import compose as hydra_compose

    return compose_with(
        lambda o: hydra_compose(CONFIG_NAME, overrides=o, return_hydra_config=True), overrides
    )


def compose_with(composer: Callable[[list[str]], DictConfig], overrides: Sequence[str]) -> DictConfig:
    """Compose with ``composer``; Hydra's and OmegaConf's errors become one-line ConfigErrors."""
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    try:
        return composer(list(overrides))
    except (HydraException, OmegaConfBaseException, ValueError) as exc:
        raise ConfigError(_friendly_compose_error(exc)) from None


def _friendly_compose_error(exc: BaseException) -> str:
    text = str(exc)
    if "Could not find '" in text and "Available options" in text:
        missing = text.split("Could not find '", 1)[1].split("'", 1)[0]
        group, _, option = missing.rpartition("/")
        options = []
        for line in text.split("Available options", 1)[1].splitlines()[1:]:
            if not line.strip() or "search path" in line.lower():
                break  # what follows is Hydra's search path, not options
            options.append(line.strip())
        hint = ""
        if group == "hydra/launcher" and option.startswith(("submitit", "coresweep_s")):
            hint = (
                "; Hydra's submitit launcher is the extra coresweep[slurm]: pip install '.[slurm]' in "
                "the coresweep checkout, or pip install hydra-submitit-launcher"
            )
        hint = hint or suggest(option, options)
        return f"{group}={option}: unknown {group}; choose one of {', '.join(options)}{hint}"
    if "Could not append to config. An item is already at '" in text:
        key = text.split("An item is already at '", 1)[1].split("'", 1)[0]
        return f"+{key}: {key} is already an option; set it without the +, {key}=VALUE"
    if "Could not override '" in text:  # never Hydra's "use +key": nothing would read that key
        key = text.split("Could not override '", 1)[1].split("'", 1)[0]
        if key.startswith("hydra."):
            return f"{key}: not an option of Hydra's config; `coresweep --hydra-help` lists them"
        return f"{key}: not a coresweep option, so nothing would read it; `coresweep --help` lists them"
    if "Key '" in text:
        return _one_line(exc).replace("\n", " ")
    return _one_line(exc)


def plan(cli_overrides: Sequence[str], topo: Topology | None = None) -> SweepPlan:
    """Expand the sweep; needs an initialised Hydra (``initialize_config_module``).

    Refuses (ConfigError) a key that is no option, or that applies to no job (applies.py).
    """
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper

    parsed = _parse(cli_overrides)
    user = [o.input_line for o in parsed if not o.is_hydra_override()]
    check_known(user, KNOWN_KEYS - {"hydra"}, ("experiment",))
    fixed = [o.input_line for o in parsed if not o.is_sweep_override()]
    # A workload's or backend's own key waits for the jobs it applies to (check_applies below
    # names its owner when none has it): composed here, Hydra would say "use +key".
    base = compose([ln for ln in fixed if not _own_key(ln)])
    params = OmegaConf.select(base, "hydra.sweeper.params") or {}
    param_lines = [f"{k}={v}" for k, v in params.items()]
    all_lines = param_lines + list(cli_overrides)

    extra: list[str] = []
    workers_lines = [ln for ln in all_lines if ln.split("=", 1)[0] == "workers"]
    if workers_lines and "auto" in workers_lines[-1].split("=", 1)[1].split(","):
        values = workers_lines[-1].split("=", 1)[1].split(",")
        if values != ["auto"]:
            raise ConfigError(
                f"{workers_lines[-1]}: workers=auto stands alone (it expands to the topology "
                "ladder); give either auto or explicit numbers"
            )
        if topo is None:
            raise ConfigError("workers=auto: the core topology could not be detected")
        ladder = worker_ladder(job_topology(base.get("cpus"), topo)[0])
        expanded = "workers=" + ",".join(str(n) for n in ladder)
        extra.append(expanded)
        all_lines.append(expanded)

    overrides = _parse(all_lines)
    batches = BasicSweeper.split_arguments(overrides, None)[0]
    jobs = [[ln for ln in job if not ln.startswith(("hydra.", "hydra/"))] for job in batches]
    base_workload = str(OmegaConf.select(base, "workload.name"))
    base_backend = str(OmegaConf.select(base, "backend.name"))
    workload_text = str(OmegaConf.to_container(base.workload, resolve=False))
    follows = [k for k in BACKEND_KEYS if "${" + k + "}" in workload_text]
    check_applies(user, jobs, base_backend, base_workload, VALUE_CHECKS, str(base.get("repeats")), follows)
    kept = applicable_jobs(jobs, base_workload, base_backend)
    return SweepPlan(base=base, jobs=kept, extra_overrides=extra, not_applicable=len(jobs) - len(kept))


def _workload_keys(name: str) -> set[str] | None:
    """The keys of ``conf/workload/NAME.yaml`` (None for a workload coresweep does not ship)."""
    return option_keys("workload", name)


def _own_key(line: str) -> bool:
    """A ``workload.KEY`` or ``backend.KEY`` override (not the choice of a workload or backend)."""
    return line.lstrip("+~").startswith(("workload.", "backend."))


def check_choice(key: str, value: Any, allowed: Sequence[str]) -> None:
    """An enumerated option's value must be one of ``allowed``; a near miss is named."""
    if value not in allowed:
        raise ConfigError(f"{key}={value}: choose one of {', '.join(allowed)}{suggest(value, allowed)}")


#: Every start method Python knows; one of them this platform lacks is "not available".
START_METHODS = ("fork", "spawn", "forkserver")


def check_start_method(value: Any) -> None:
    allowed = ["auto", *available_start_methods()]
    if value in allowed:
        return
    if value in START_METHODS:
        raise ConfigError(
            f"start_method={value}: not available on this platform; choose one of {', '.join(allowed)}"
        )
    raise ConfigError(
        f"start_method={value}: unknown start method; choose one of {', '.join(allowed)}"
        f"{suggest(value, START_METHODS)}"
    )


#: Checks of the values of the enumerated keys ``check_applies`` looks at.
VALUE_CHECKS: dict[str, Callable[[Any], None]] = {
    "start_method": check_start_method,
    "pinning": lambda v: check_choice("pinning", v, PINNING_MODES),
    **{k: (lambda v, k=k: check_choice(k, v, DIMENSIONS[k][0])) for k in DIMENSIONS},
}


def applicable_jobs(
    jobs: Sequence[Sequence[str]], base_workload: str, base_backend: str | None = None
) -> list[list[str]]:
    """Each job without the overrides that do not apply to its workload, duplicates left out.

    ``share=``, ``init=`` and ``state=`` apply only to the workload that uses each; in a sweep
    over several workloads, a ``workload.KEY`` the job's workload does not have applies to the
    others only. So ``workload=shared_input,init_heavy share=argument,inherit
    workload.init_ms=1,10`` runs shared_input once per share (not per init_ms) and init_heavy
    once per init_ms (not per share). Likewise a ``backend.KEY`` goes with the backends that
    have it (``backend.processes`` with dask_distributed only). A key that applies to no job
    was refused before (``applies.check_applies``).
    """
    workloads = {base_workload}
    for job in jobs:
        for line in job:
            if line.partition("=")[0].lstrip("+~") == "workload":
                workloads.add(line.partition("=")[2])
    several = len(workloads) > 1
    kept: list[list[str]] = []
    seen: set[tuple[str, ...]] = set()
    keys_of: dict[str, set[str] | None] = {}
    for job in jobs:
        name = base_workload
        for line in job:
            if line.partition("=")[0].lstrip("+~") == "workload":
                name = line.partition("=")[2]
        cls = WORKLOADS.get(name)
        uses = set(cls.dimensions) if cls is not None else set(DIMENSIONS)
        if name not in keys_of:
            keys_of[name] = _workload_keys(name)
        own = keys_of[name]
        backend = job_choice(job, "backend", base_backend) if base_backend else None
        backend_keys = option_keys("backend", backend) if backend else None
        out = []
        for line in job:
            key = line.partition("=")[0].lstrip("+~")
            value = line.partition("=")[2]
            if key in DIMENSIONS and key not in uses and value in DIMENSIONS[key][0]:
                continue  # (a value outside the list is kept, for check_job to refuse)
            if several and own is not None and key.startswith("workload.") and key[9:] not in own:
                continue
            if backend_keys is not None and key.startswith("backend.") and key[8:] not in backend_keys:
                continue
            out.append(line)
        signature = tuple(out)
        if signature in seen:
            continue
        seen.add(signature)
        kept.append(out)
    return kept


def swept_keys(jobs: Sequence[Sequence[str]]) -> set[str]:
    """The config keys whose value differs between the jobs of a sweep."""
    values: dict[str, set[str]] = {}
    for job in jobs:
        for line in job:
            key, _, value = line.partition("=")
            values.setdefault(key.lstrip("+~"), set()).add(value)
    return {k for k, v in values.items() if len(v) > 1 or any(k not in _keys(job) for job in jobs)}


def _keys(job: Sequence[str]) -> set[str]:
    return {line.partition("=")[0].lstrip("+~") for line in job}


def sweep_wide(message: str, jobs: Sequence[Sequence[str]]) -> bool:
    """Whether a job's error is about an option with one value in the whole sweep.

    Errors name their option first (``python=3.7: ...``, ``cpus=0-9: ...``). When nothing
    about that option is swept, every job fails alike, so naming one job would only mislead.
    """
    import re

    match = re.match(r"([A-Za-z_][\w.]*)[=:]", message)
    if match is None:
        return False
    key = match.group(1)
    for swept in swept_keys(jobs):
        if swept == key or key.startswith(swept + ".") or swept.startswith(key + "."):
            return False
    return True


#: Top-level keys of a job config; anything else came from a `+key=value` typo.
KNOWN_KEYS = {
    "backend",
    "workload",
    "workers",
    "start_method",
    "pinning",
    "cpus",
    "collect",
    "repeats",
    "repeats_target",
    "repeats_max",
    "repeats_budget_s",
    "warmup",
    "min_time_s",
    "timeout_s",
    "max_memory",
    "blas_threads",
    "machine",
    "resume",
    "report",
    "python",
    "hydra",
    "rounds",
    "order_seed",
    "schedule",
    "busy",
    "pair",
    "race",
    "budget_s",
    *DIMENSIONS,
}


def check_job(cfg: DictConfig, topo: Topology | None = None) -> None:
    """Validate one composed job config; raise ConfigError naming the option and allowed values."""
    unknown = sorted(set(cfg.keys()) - KNOWN_KEYS)
    if unknown:
        options = sorted(KNOWN_KEYS - {"hydra", "schedule"})
        raise ConfigError(
            f"{unknown[0]}: not a coresweep option{suggest(unknown[0], options)} (options: "
            f"{', '.join(options)})"
        )
    try:
        backend_class(cfg)
    except Exception:
        raise ConfigError(
            f"backend={OmegaConf.select(cfg, 'backend.name')}: its _target_ is not a coresweep "
            f"backend class; built-in backends: {', '.join(BACKENDS)}"
        ) from None
    workload_name = OmegaConf.select(cfg, "workload.name")
    if workload_name not in WORKLOADS:
        raise ConfigError(
            f"workload={workload_name}: unknown workload; choose one of {', '.join(WORKLOADS)}"
            f"{suggest(workload_name, WORKLOADS)}"
        )
    _positive_int(cfg, "workers", alternative=" (or auto: a ladder from the core topology)")
    if cfg.get("repeats") == "auto":
        target = cfg.get("repeats_target")
        if isinstance(target, bool) or not isinstance(target, (int, float)) or not 0 < target < 1:
            raise ConfigError(f"repeats_target={target}: must be a fraction between 0 and 1 (e.g. 0.05)")
        _positive_int(cfg, "repeats_max", minimum=6)
        budget = cfg.get("repeats_budget_s")
        if isinstance(budget, bool) or not isinstance(budget, (int, float)) or budget <= 0:
            raise ConfigError(f"repeats_budget_s={budget}: must be a number of seconds > 0")
    elif isinstance(cfg.get("repeats"), str):
        repeats = cfg.get("repeats")
        raise ConfigError(f"repeats={repeats}: must be an integer >= 1 or auto{suggest(repeats, ['auto'])}")
    else:
        _positive_int(cfg, "repeats")
    _positive_int(cfg, "warmup", minimum=0)
    start_method = cfg.get("start_method")
    check_start_method(start_method)
    check_choice("collect", cfg.get("collect"), COLLECT_MODES)
    for key, (allowed_values, _) in DIMENSIONS.items():
        check_choice(key, cfg.get(key), allowed_values)
    pinning = cfg.get("pinning")
    check_choice("pinning", pinning, PINNING_MODES)
    refusal = pinning_refusal(pinning, backend_class(cfg), topo)
    if refusal is not None:
        raise ConfigError(refusal)
    if topo is not None:
        run_topo, _ = job_topology(cfg.get("cpus"), topo)
        workers = 1 if backend_class(cfg).single_worker else cfg.workers
        try:
            pinning_plan(run_topo, pinning, workers)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
    min_time = cfg.get("min_time_s")
    if isinstance(min_time, bool) or not isinstance(min_time, (int, float)) or min_time < 0:
        raise ConfigError(f"min_time_s={min_time}: must be a number of seconds >= 0")
    timeout = cfg.get("timeout_s")
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0
    ):
        raise ConfigError(f"timeout_s={timeout}: must be a number of seconds > 0 (or null: no limit)")
    try:
        parse_memory(cfg.get("max_memory"))
    except ValueError as exc:
        raise ConfigError(f"max_memory={cfg.get('max_memory')}: {exc}") from None
    blas = cfg.get("blas_threads")
    if blas not in ("auto", "none", None) and not (
        isinstance(blas, int) and not isinstance(blas, bool) and blas >= 1
    ):
        hint = suggest(blas, ["auto", "none"]) if isinstance(blas, str) else ""
        raise ConfigError(f"blas_threads={blas}: must be auto, none or an integer >= 1{hint}")
    machine = cfg.get("machine")
    if machine is not None and (not isinstance(machine, str) or not machine.strip()):
        raise ConfigError(f"machine={machine!r}: must be a non-empty label or null")
    cls = backend_class(cfg)
    try:
        interp = interpreter.selected(cfg.get("python"))
    except interpreter.InterpreterError as exc:
        raise ConfigError(str(exc)) from None
    try:
        workload = make_workload(cfg)
        # Under python=..., a backend this interpreter lacks (interpreter_pool) may exist there.
        if interp is None or cls.available():
            cls(cfg.workers, start_method, **backend_options(cfg))
    except (WorkloadError, BackendError) as exc:
        raise ConfigError(_with_suggestion(str(exc))) from None
    except TypeError:  # a backend.KEY that this backend's class does not take
        raise ConfigError(_unknown_backend_option(cfg, cls)) from None
    if cls.uses_processes and cfg.workload.name == "custom":
        _check_picklable(workload.task, f"workload.fn={cfg.workload.fn}")
    _check_pattern(cfg, cls, workload)
    _check_pair(cfg, workload)
    if interp is not None:
        _check_interpreter(interp, cfg, cls, workload)


def _with_suggestion(message: str) -> str:
    """A workload's or backend's own "KEY='value': choose one of A, B" gets "did you mean"."""
    import re

    match = re.match(r"[\w.]+=('?)(.*?)\1: choose one of ([\w, ]+)$", message)
    if match is None:
        return message
    return message + suggest(match.group(2), [c.strip() for c in match.group(3).split(",")])


def _check_pattern(cfg: DictConfig, cls: type[Backend], workload: Any) -> None:
    """A pattern workload's method that this backend cannot do, or an input too large: one line."""
    name = cfg.workload.name
    uses = workload.dimensions
    if "share" in uses and cfg.share == "inherit" and cls.uses_processes and not cls.has_initializer:
        raise ConfigError(
            f"share=inherit: backend={cfg.backend.name} has no per-worker initializer to hand "
            "the input to its workers; use share=argument, shared_memory or memmap"
        )
    if "init" in workload.dimensions and cfg.init == "per_worker" and not cls.has_initializer:
        raise ConfigError(
            f"init=per_worker: backend={cfg.backend.name} has no per-worker initializer; "
            "use init=per_task or another backend"
        )
    if "state" in workload.dimensions:
        if cfg.state == "manager" and not cls.supports_manager:
            raise ConfigError(
                f"state=manager: backend={cfg.backend.name} cannot reach a Manager from its "
                "workers; use state=mapreduce"
            )
        if cfg.collect != "return":
            raise ConfigError(
                f"collect={cfg.collect}: workload={name} merges each run's state itself; use collect=return"
            )
    need = getattr(workload, "input_bytes", None)
    if need is not None:
        from ..job.resources import psutil

        available = psutil.virtual_memory().available if psutil is not None else None
        if available is not None and need() > available:
            raise ConfigError(
                f"workload.input_mb={workload.input_mb}: the input ({need() / 2**20:.0f} MiB) is larger "
                f"than the memory available ({available / 2**20:.0f} MiB); choose a smaller input_mb"
            )


def _check_pair(cfg: DictConfig, workload: Any) -> None:
    """``pair``: one of its modes; ``on`` only for a workload whose task can run beside the runs."""
    from ..job.pairing import PAIR_MODES, pair_mode

    mode = pair_mode(cfg.get("pair", "auto"))
    if mode is None:
        raise ConfigError(f"pair={cfg.get('pair')}: choose one of {', '.join(PAIR_MODES)}")
    if mode == "on" and not workload.pairable:
        raise ConfigError(
            f"pair=on: workload={cfg.workload.name} cannot be paired (its tasks need their workers' "
            "set-up or change state the runs read); use pair=auto or pair=off"
        )


def _check_interpreter(
    interp: interpreter.Interpreter, cfg: DictConfig, cls: type[Backend], workload: Any
) -> None:
    """Everything the job imports under that interpreter, by who needs it (one line on a gap)."""
    workload_who = f"workload={cfg.workload.name}"
    if cfg.workload.name == "custom":
        workload_who = f"workload.fn={cfg.workload.fn}"
    needs = [
        (f"backend={cfg.backend.name}", (*cls.requires, cls.__module__)),
        (workload_who, (*workload.requirements(), type(workload).__module__)),
        (f"collect={cfg.collect}", COLLECTORS[cfg.collect].requires),
    ]
    try:
        interpreter.check_requirements(interp, needs)
    except interpreter.InterpreterError as exc:
        raise ConfigError(str(exc)) from None


def _unknown_backend_option(cfg: DictConfig, cls: type[Backend]) -> str:
    """One line naming the keys this backend does not take, and the ones it does."""
    import inspect

    common = {"self", "workers", "start_method", "initializer", "initargs"}
    params = inspect.signature(cls.__init__).parameters
    named = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    takes = [n for n, p in params.items() if n not in common and p.kind in named]
    unknown = [f"backend.{k}" for k in backend_options(cfg) if k not in takes]
    allowed = ", ".join(f"backend.{k}" for k in takes) or "none"
    what = ", ".join(unknown) or "backend options"
    return f"{what}: not an option of backend={cfg.backend.name} (its options: {allowed})"


def _check_picklable(obj: Any, what: str) -> None:
    """Process backends send the task to workers by pickling: find out now, not mid-sweep."""
    import pickle

    try:
        pickle.dumps(obj)
    except Exception as exc:
        raise ConfigError(
            f"{what}: cannot be sent to worker processes ({type(exc).__name__}: {exc}); make it a "
            "plain module-level function, or use a thread backend (thread, thread_pool, "
            "joblib_threading)"
        ) from None


def check_sweep_dir(path: str | os.PathLike[str]) -> None:
    """The sweep folder must be creatable and writable, or every result would be lost.

    Probes by creating (and removing) a temporary folder in the nearest existing ancestor:
    ``os.access`` says yes to root everywhere, even on /proc.
    """
    import tempfile

    p = Path(path).absolute()
    probe = p
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent
    if not probe.is_dir():
        raise ConfigError(f"hydra.sweep.dir={path}: {probe} is a file, not a folder")
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".coresweep-probe-", dir=probe))
    except OSError as exc:
        raise ConfigError(f"hydra.sweep.dir={path}: cannot write in {probe} ({exc.strerror})") from None


def _comparable(overrides: Sequence[str]) -> list[str]:
    skip = ("resume=", "+resume=", "hydra.", "hydra/", "schedule.")
    return sorted(o for o in overrides if not o.startswith(skip))


def check_rounds(base: DictConfig, jobs: Sequence[Sequence[str]]) -> int:
    """``rounds``, ``order_seed`` and ``busy`` belong to the whole sweep: one value each; returns rounds."""
    given = sorted({line.partition("=")[0].lstrip("+~") for job in jobs for line in job})
    for key in given:
        if key.startswith("schedule"):
            raise ConfigError(
                f"{key}: set by coresweep's sweeper for each run of a job, not an option; "
                "use rounds=N and order_seed=N"
            )
    swept = swept_keys(jobs)
    for key in ("rounds", "order_seed", "busy"):
        if key in swept:
            raise ConfigError(
                f"{key}: one value for the whole sweep (it plans every job's runs); give "
                f"{key}={'|'.join(BUSY_POLICIES) if key == 'busy' else 'N'}, not a list to sweep"
            )
    rounds = base.get("rounds")
    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
        raise ConfigError(f"rounds={rounds}: must be an integer >= 1 (the times every job runs)")
    seed = base.get("order_seed")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"order_seed={seed}: must be an integer >= 0")
    busy = base.get("busy", "keep")
    if busy not in BUSY_POLICIES:
        raise ConfigError(f"busy={busy}: choose one of {', '.join(BUSY_POLICIES)}")
    return rounds


def check_resume(resume: str, sweep: SweepPlan) -> list[str]:
    """``resume=DIR``: DIR must hold a coresweep sweep; returns the overrides to add.

    The jobs themselves are compared once the sweep's job list is final (``check_resume_jobs``).
    """
    folder = Path(resume)
    if not (folder / "environment.json").is_file():
        raise ConfigError(f"resume={resume}: not a coresweep sweep folder (no environment.json)")
    given = OmegaConf.select(sweep.base, "hydra.sweep.dir")
    if given and Path(str(given)).absolute() != folder.absolute() and "${" not in str(given):
        here = Path(str(given)).absolute()
        if not str(given).startswith("outputs/") or here.exists():
            raise ConfigError(f"resume={resume}: conflicts with hydra.sweep.dir={given}; give only resume")
    return [f"hydra.sweep.dir={folder.absolute()}"]


def check_resume_jobs(
    resume: str, jobs: Sequence[Sequence[str]], skipped: Sequence[Sequence[str]] = ()
) -> None:
    """The sweep in DIR must have run the same jobs as this command makes.

    Jobs are matched by number, so the sweep must expand to the same job list as before;
    Hydra's own record of each job's overrides (``<job>/.hydra/overrides.yaml``) is the check.
    ``skipped``: the jobs this command leaves out (``duplicate_key``); a folder that ran one of
    them was made by a coresweep that ran sequential once per worker count.
    """
    folder = Path(resume)
    dropped = [_comparable(job) for job in skipped]
    for num, job in enumerate(jobs):
        record = folder / str(num) / ".hydra" / "overrides.yaml"
        if not record.is_file() or record.stat().st_size == 0:
            continue  # never started; empty: cut by a kill mid-write (Hydra writes it before the job runs)
        before = _comparable(OmegaConf.to_container(OmegaConf.load(record)))  # type: ignore[arg-type]
        now = _comparable(job)
        if before != now and before in dropped:
            raise ConfigError(
                f"resume={resume}: job {num} of that sweep is [{' '.join(before)}], which this version "
                "skips (sequential ignores workers, start_method and pinning and now runs once per "
                "configuration), so its jobs "
                f"are numbered differently and it cannot be resumed; coresweep-report {resume} builds "
                "the report of its rows, and the same command without resume= runs it anew"
            )
        if before != now:
            raise ConfigError(
                f"resume={resume}: job {num} was [{' '.join(before)}], this command makes it "
                f"[{' '.join(now)}]; resume with the sweep's original command"
            )


def duplicate_key(cfg: DictConfig) -> str | None:
    """For a backend that ignores some keys (sequential: ``workers``, ``start_method``,
    ``pinning``; thread backends: ``start_method``), what its job measures: the resolved config
    without those keys (and Hydra's node). Two jobs with the same key time the same thing, so
    one is enough. None for backends that use every key.

    Resolved, so a key that follows the workers (``workload.size=${mul:32,${workers}}`` in
    weak scaling) differs and both jobs run.
    """
    import json

    try:
        ignored = set(backend_class(cfg).ignored_keys())
    except Exception:
        return None
    if not ignored:
        return None
    shown = {}
    for key in sorted(str(k) for k in cfg):
        if key == "hydra" or key in ignored:
            continue
        value = cfg[key]
        shown[key] = OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value
    return json.dumps(shown, sort_keys=True, default=str)


def ignored_by(cfg: DictConfig) -> tuple[str, ...]:
    """The keys ``cfg``'s backend ignores (see ``duplicate_key``)."""
    try:
        return tuple(backend_class(cfg).ignored_keys())
    except Exception:
        return ()


def _positive_int(cfg: DictConfig, key: str, minimum: int = 1, alternative: str = "") -> int:
    value = cfg.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{key}={value}: must be an integer >= {minimum}{alternative}")
    return value


def dimension_options(cfg: DictConfig, workload_cls: Any) -> dict[str, Any]:
    """The top-level dimensions (``share``, ``init``, ``state``) this workload class takes."""
    return {key: cfg.get(key) for key in getattr(workload_cls, "dimensions", ()) if key in cfg}


def backend_class(cfg: DictConfig) -> type[Backend]:
    """The class named by ``backend._target_`` (the registry's ``backends.backend_class``)."""
    return _backend_class(str(cfg.backend._target_))


def backend_options(cfg: DictConfig) -> dict[str, Any]:
    """The backend's own keys (besides _target_ and name), passed to its class by keyword."""
    node = OmegaConf.to_container(cfg.backend, resolve=True)
    assert isinstance(node, dict)
    return {str(k): v for k, v in node.items() if k not in ("_target_", "name")}


def make_workload(cfg: DictConfig) -> Any:
    """Build the workload from its config node (the registry's ``workloads.make_workload``)."""
    node = OmegaConf.to_container(cfg.workload, resolve=True)
    assert isinstance(node, dict)
    target = str(node.pop("_target_"))
    node.pop("name", None)
    return _make_workload(target, str(cfg.workload.name), node, _dimensions(cfg))


def _dimensions(cfg: DictConfig) -> dict[str, Any]:
    """The pattern dimensions the config sets (a workload takes those it uses)."""
    return {key: cfg.get(key) for key in DIMENSIONS if key in cfg}
