"""Racing configurations: drop the clearly slower ones round by round, then confirm on fresh rounds.

A full sweep gives every configuration the same rounds, including those that are 2x slower
after the first round. A race (F-Race, Birattari et al. 2002; irace, Lopez-Ibanez et al. 2016)
spends the rounds on the configurations that could still be the best. Rounds are the blocks:
each round times every surviving configuration and the sequential baseline once, in a new
seeded order, so a slow stretch of the machine slows every configuration of the round and
cancels in a paired comparison.

**The rule** (``Race.record``), after each round from round ``FIRST_TEST`` on:

- the current best is the survivor with the largest mean log speedup over the rounds it ran;
- every other survivor i is tested against it by a one-sided paired t test on the per-round log
  time ratios d_r = log(t_i / t_best) (= log speedup of the best minus that of i; the
  baseline cancels), H0: mean d <= log(1 + MARGIN), K - 1 degrees of freedom over the K common
  rounds: "clearly slower" is slower by more than the equivalence margin. A race tests after
  every round, and with H0: mean d <= 0 two equal configurations lost one of them in about 25 %
  of simulated races of 15-20 rounds (repeated looks, and a best chosen as the larger of two
  noisy means); with the margin the false drop is rare, and differences below the margin are
  the confirmation's to settle (its best set holds every configuration within it);
- Holm's step-down correction over those comparisons keeps the family-wise error of one
  step at ``ALPHA``; every rejected survivor is dropped, with its evidence (``Drop``).

Why a paired t with Holm and not Friedman's test with its post-hoc: log times are close to
normal, the candidates are few (a dozen, not irace's hundreds), and the ratio itself is the
evidence a user reads; Friedman's ranks throw the size of a difference away, and a 2x slower
configuration would need as many rounds as a 1 % slower one to rank last often enough. Why not
the block model's pooled variance (``blockmodel``): a race's survivors differ in noise (threads
against processes) and a wrong pooled variance drops the noisy one; each pair's own differences
make no such assumption. irace offers the same test (``testType = "t-test-holm"``).

**Stopping** (``Race.stop_reason``):

- ``"one left"``: a single survivor;
- ``"equivalent"``: every survivor's ratio to the best has its two-sided (Bonferroni over the
  survivors) interval inside [1/(1 + MARGIN), 1 + MARGIN]: more rounds could only separate
  differences below the margin, which the answer does not claim anyway;
- ``"budget"``: the next round would take the race past its share of the budget
  (``RACE_SHARE``), or leave the confirmation less than ``MIN_CONFIRM_ROUNDS`` rounds of the
  best ``MAX_CONFIRM`` survivors. Each configuration's cost of a round is estimated as the
  median of its measured seconds per round so far (what the caller reports: its runs and
  their overhead).

**Confirmation** (``confirm``). The race chose which configurations to confirm from its own
data, so its estimates of the chosen are biased upward (the winner's curse) and their intervals
too short on that side. The final intervals and the best set come from fresh rounds alone
(data splitting): ``compare_with_best`` (Hsu's MCB with the equivalence margin) on the block
model of the confirmation rounds only. tests/test_analysis_race.py shows both: fresh intervals
cover at the nominal rate after the selection, the race's own do not.

This module takes per-round log speedups (``block_log_speedups`` values, or any mapping from a
configuration key to its log speedup in the round) and seconds; it runs nothing. The sweeper
runs the rounds and asks ``Race.to_run`` which configurations the next round holds.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from scipy import special

from ..load import GROUP_KEYS
from .blockmodel import BlockModel, Difference, t_quantile_real
from .compare import (
    MARGIN,
    TARGET_DIFFERENCE,
    Candidate,
    Comparison,
    compare_with_best,
    rounds_for,
    rounds_to_decide_best_set,
)

#: The first round after which configurations may be dropped (irace's firstTest is 5 with
#: instances as blocks; rounds are cheaper to add than instances, and at 3 rounds a paired t
#: has 2 dof: enough to drop a 2x slower configuration, never a 5 % slower one by chance).
FIRST_TEST = 3
#: Family-wise error of one elimination step (one-sided, Holm over the survivors).
ALPHA = 0.05
#: Share of ``budget_s`` the race may spend; the rest confirms. More than half: the race is
#: where the candidates are many; the confirmation times at most ``MAX_CONFIRM`` of them.
RACE_SHARE = 0.6
#: Survivors confirmed at most (the issue's default): the fastest by the race's estimates.
MAX_CONFIRM = 3
#: Fewest confirmation rounds: a paired t with 2 dof; the race stops early enough to leave them.
MIN_CONFIRM_ROUNDS = 3


TEST_T_HOLM = "one-sided paired t on per-round log time ratios, Holm over the survivors"
TEST_FAILED = f"failed: no ok run in {FIRST_TEST} rounds in a row"
TEST_CUT = f"not confirmed: more than {MAX_CONFIRM} survivors when the race stopped (slowest by the race)"


@dataclass(frozen=True)
class Drop:
    """Why a configuration left the race: after which round, against which best, on what evidence."""

    key: Hashable
    after_round: int  # rounds run when it was dropped (1-based count)
    best: Hashable  # the best it was compared with
    ratio: float  # its time over the best's (geometric mean over the common rounds; > 1 slower)
    ratio_low: float  # one-sided lower bound of that ratio at the Holm-adjusted level
    p_value: float  # one-sided, raw
    p_holm: float  # Holm-adjusted
    rounds: int  # common rounds the test used
    test: str = TEST_T_HOLM


@dataclass
class Race:
    """The state of one race: survivors, drops, measured values and seconds per round.

    ``candidates`` are configuration keys; ``baseline`` (when given) is the sequential key: it
    runs every round, is a candidate too (speedup 1; "use no parallelism" is an answer) but is
    never taken out of the rounds, since every other value needs it.
    """

    candidates: Sequence[Hashable]
    budget_s: float
    baseline: Hashable | None = None
    first_test: int = FIRST_TEST
    alpha: float = ALPHA
    margin: float = MARGIN
    race_share: float = RACE_SHARE
    max_rounds: int | None = None
    values: dict[Hashable, dict[int, float]] = field(default_factory=dict)
    seconds: dict[Hashable, list[float]] = field(default_factory=dict)
    dropped: dict[Hashable, Drop] = field(default_factory=dict)
    rounds: list[int] = field(default_factory=list)
    spent_s: float = 0.0
    #: One record per (round, configuration still racing before the round's test): the race
    #: figure's data (``trace``).
    history: list[dict] = field(default_factory=list)
    #: Rounds in a row without an ok run, per configuration (``TEST_FAILED`` at ``first_test``).
    failed_streak: dict[Hashable, int] = field(default_factory=dict)
    #: Why the race stopped, fixed by ``cut_to_confirm`` (cutting survivors changes the reason).
    stopped: str | None = None

    def __post_init__(self) -> None:
        if not (
            isinstance(self.budget_s, (int, float)) and math.isfinite(self.budget_s) and self.budget_s > 0
        ):
            raise ValueError(f"budget_s must be a positive number of seconds, got {self.budget_s!r}")
        keys = list(dict.fromkeys(self.candidates))
        if self.baseline is not None and self.baseline not in keys:
            keys.append(self.baseline)
        if not keys:
            raise ValueError("a race needs at least one candidate configuration")
        self.candidates = keys
        for k in keys:
            self.values.setdefault(k, {})
            self.seconds.setdefault(k, [])

    # ------------------------------------------------------------------------ who runs

    @property
    def survivors(self) -> list[Hashable]:
        """Candidates not dropped, in the order given."""
        return [k for k in self.candidates if k not in self.dropped]

    def to_run(self) -> list[Hashable]:
        """What the next round times: the survivors and the baseline (always)."""
        keys = self.survivors
        if self.baseline is not None and self.baseline not in keys:
            keys.append(self.baseline)
        return keys

    def round_cost_s(self, keys: Sequence[Hashable] | None = None) -> float:
        """Estimated seconds of one round of ``keys`` (default ``to_run``): each one's median
        measured seconds per round; one never measured costs the largest median measured."""
        keys = self.to_run() if keys is None else list(keys)
        known = {k: float(np.median(self.seconds[k])) for k in keys if self.seconds.get(k)}
        fill = max(known.values()) if known else 0.0
        return float(sum(known.get(k, fill) for k in keys))

    # ------------------------------------------------------------------------ recording

    def record(
        self, round_id: int, log_speedups: Mapping[Hashable, float], seconds: Mapping[Hashable, float]
    ) -> list[Drop]:
        """Add one round (each configuration's log speedup in it and the seconds it took), then,
        from round ``first_test`` on, drop the clearly slower survivors. Returns the new drops.

        A configuration missing from ``log_speedups`` or with a non-finite value (a failed run)
        has no value in this round; its seconds still count against the budget.
        """
        running = [k for k in self.to_run() if k != self.baseline]
        self.rounds.append(int(round_id))
        for k, s in seconds.items():
            if k in self.seconds and s is not None and math.isfinite(float(s)):
                self.seconds[k].append(float(s))
                self.spent_s += float(s)
        for k, v in log_speedups.items():
            if k in running and v is not None and math.isfinite(float(v)):  # dropped ones no longer count
                self.values[k][int(round_id)] = float(v)
        if self.baseline is not None:
            self.values[self.baseline][int(round_id)] = 0.0
        for k in running:
            ok = int(round_id) in self.values[k]
            self.failed_streak[k] = 0 if ok else self.failed_streak.get(k, 0) + 1
        new = self.eliminate() if len(self.rounds) >= self.first_test else []
        new += self._failing(exclude={d.key for d in new})
        self._trace_round(new)
        for d in new:
            self.dropped[d.key] = d
        return new

    def _failing(self, exclude: set) -> list[Drop]:
        """Survivors without an ok run in their last ``first_test`` rounds: a failed run is never
        counted fast, and a configuration that keeps failing has no time to race with."""
        best = self.best()
        return [
            Drop(k, len(self.rounds), best, math.nan, math.nan, math.nan, math.nan, 0, TEST_FAILED)
            for k in self.survivors
            if k not in exclude and k != self.baseline and self.failed_streak.get(k, 0) >= self.first_test
        ]

    def _trace_round(self, new: list[Drop]) -> None:
        """Each survivor's time ratio to the best after this round, and whether it was dropped."""
        best = self.best()
        gone = {d.key for d in new}
        for k, (r, lo, hi) in self.ratio_intervals().items():
            self.history.append(
                {
                    "round": len(self.rounds),
                    "key": k,
                    "best": best,
                    "ratio": r,
                    "low": lo,
                    "high": hi,
                    "dropped": k in gone,
                }  # fmt: skip
            )

    def trace(self) -> pd.DataFrame:
        """The history as a table (round, key, best, ratio, low, high, dropped): per round, each
        survivor's time ratio to the current best with its Bonferroni interval (> 1: slower)."""
        cols = ["round", "key", "best", "ratio", "low", "high", "dropped"]
        return pd.DataFrame.from_records(self.history, columns=cols)

    def _logs(self, key: Hashable) -> dict[int, float]:
        return self.values.get(key, {})

    def best(self) -> Hashable | None:
        """The survivor with the largest mean log speedup (ties: the earlier candidate)."""
        means = {k: float(np.mean(list(self._logs(k).values()))) for k in self.survivors if self._logs(k)}
        return max(means, key=lambda k: means[k]) if means else None

    def _paired(self, key: Hashable, best: Hashable) -> np.ndarray:
        """Per common round: log(t_key / t_best) = log speedup of the best minus that of key."""
        va, vb = self._logs(key), self._logs(best)
        return np.array([vb[r] - va[r] for r in sorted(set(va) & set(vb))], dtype="float64")

    def eliminate(self) -> list[Drop]:
        """The survivors that Holm's one-sided paired t tests show slower than the current best by
        more than the margin (H0: log(t_i / t_best) <= log(1 + margin))."""
        best = self.best()
        if best is None:
            return []
        shift = math.log1p(self.margin)
        tests = []
        for k in self.survivors:
            if k == best:
                continue
            d = self._paired(k, best)
            if d.size < 2:
                continue
            mean, sd = float(d.mean()), float(d.std(ddof=1))
            dof = d.size - 1
            excess = mean - shift  # slower than the best by more than the margin?
            if sd > 0:
                p = float(special.stdtr(dof, -excess / (sd / math.sqrt(d.size))))
            else:
                p = 0.0 if excess > 0 else 1.0
            tests.append((p, k, mean, sd, d.size))
        tests.sort(key=lambda t: t[0])
        m = len(tests)
        drops: list[Drop] = []
        running = 0.0
        for j, (p, k, mean, sd, n) in enumerate(tests):
            level = self.alpha / (m - j)
            running = max(running, min(1.0, p * (m - j)))  # Holm-adjusted p (monotone)
            if p > level:
                break  # Holm stops at the first non-rejection
            q = t_quantile_real(1 - 2 * level, n - 1)  # one-sided quantile at the step's level
            low = mean - q * sd / math.sqrt(n)
            drops.append(Drop(k, len(self.rounds), best, math.exp(mean), math.exp(low), p, running, n))
        return drops

    # ------------------------------------------------------------------------ stopping

    def ratio_intervals(self) -> dict[Hashable, tuple[float, float, float]]:
        """Each survivor's time ratio to the current best with a two-sided interval (Bonferroni
        over the survivors at ``alpha``); the best's own is (1, 1, 1)."""
        best = self.best()
        out: dict[Hashable, tuple[float, float, float]] = {}
        others = [k for k in self.survivors if k != best]
        for k in others:
            d = self._paired(k, best)
            if d.size < 2:
                out[k] = (math.nan, math.nan, math.nan)
                continue
            half = t_quantile_real(1 - self.alpha / len(others), d.size - 1) * float(d.std(ddof=1))
            half /= math.sqrt(d.size)
            out[k] = (math.exp(d.mean()), math.exp(d.mean() - half), math.exp(d.mean() + half))
        if best is not None:
            out[best] = (1.0, 1.0, 1.0)
        return out

    def confirm_keys(self, limit: int = MAX_CONFIRM) -> list[Hashable]:
        """The survivors to confirm: the ``limit`` fastest by the race's estimates (the baseline
        runs in the confirmation anyway and is not counted)."""
        logs = {
            k: np.mean(list(self._logs(k).values())) if self._logs(k) else -np.inf for k in self.survivors
        }
        racing = [k for k in self.survivors if k != self.baseline]
        return sorted(racing, key=lambda k: (-logs[k], self.candidates.index(k)))[:limit]

    def confirm_cost_s(self, rounds: int = MIN_CONFIRM_ROUNDS) -> float:
        """Estimated seconds of ``rounds`` confirmation rounds of the baseline and ``MAX_CONFIRM``
        survivors, the costliest ones: which are confirmed may change with the next round."""
        racing = [k for k in self.survivors if k != self.baseline]
        costs = sorted((self.round_cost_s([k]) for k in racing), reverse=True)[:MAX_CONFIRM]
        base = self.round_cost_s([self.baseline]) if self.baseline is not None else 0.0
        return rounds * (sum(costs) + base)

    def stop_reason(self) -> str | None:
        """Why the race stops now (None: run another round). See the module's docstring."""
        racing = [k for k in self.survivors if k != self.baseline]
        if len(self.survivors) <= 1 or not racing:
            return "one left"
        if len(self.rounds) >= self.first_test:
            ratios = self.ratio_intervals()
            limit = 1 + self.margin
            if all(1 / limit < lo and hi < limit for (_, lo, hi) in ratios.values()):
                return "equivalent"
        if self.max_rounds is not None and len(self.rounds) >= self.max_rounds:
            return "max rounds"
        if self.rounds:  # costs are known after one round
            nxt = self.round_cost_s()
            if self.spent_s + nxt > self.race_share * self.budget_s:
                return "budget"
            if self.spent_s + nxt + self.confirm_cost_s() > self.budget_s:
                return "budget"
        return None

    def confirm_rounds(self) -> int:
        """Confirmation rounds the rest of the budget affords. Fewer than ``MIN_CONFIRM_ROUNDS``
        only where the budget could not hold the first race round and them: the first round
        always runs (costs are unknown before it), and the answer then says what budget would do."""
        if not [k for k in self.survivors if k != self.baseline]:
            return 0  # nothing left to confirm: sequential is the answer
        per = self.confirm_cost_s(1)
        if not per > 0:
            return MIN_CONFIRM_ROUNDS
        return max(0, int((self.budget_s - self.spent_s) // per))

    def rounds_to_separate(self) -> int | None:
        """Rounds a paired comparison of the two leaders needs to detect a 5 % difference, at the
        noise of their race rounds (the noise, unlike the leader's estimate, is not what the
        race selected on); None with fewer than two racing survivors or rounds."""
        keys = self.confirm_keys(2)
        if len(keys) < 2:
            return None
        d = self._paired(keys[1], keys[0])
        if d.size < 2:
            return None
        return rounds_for(float(d.std(ddof=1)), TARGET_DIFFERENCE)


# ---------------------------------------------------------------------------- confirmation


@dataclass
class Entry:
    """One confirmed configuration: its speedup over sequential and ratio to the best, from the
    confirmation rounds alone."""

    key: Hashable
    speedup: float
    low: float
    high: float
    ratio_to_best: tuple[float, float, float]  # speedup ratio to the fastest estimate (<= 1), interval
    in_best_set: bool
    rounds: int


@dataclass
class Answer:
    """What the race and its confirmation say: the best (or the undecided set), intervals, budget."""

    best: Hashable | None  # None when undecided
    best_set: list[Hashable]
    decided: bool
    entries: dict[Hashable, Entry]
    dropped: dict[Hashable, Drop]
    race_rounds: int
    confirm_rounds: int
    budget_s: float
    used_s: float
    stop_reason: str | None
    #: When undecided: confirmation rounds that would decide at the measured noise (the larger of
    #: what a 5 % difference needs and what the observed differences need to fall clearly inside
    #: or outside the margin; ``compare.rounds_to_decide_best_set``), and the budget (seconds)
    #: that buys them after this race.
    rounds_needed: int | None = None
    budget_needed_s: float | None = None

    def to_dict(self) -> dict:
        """JSON-ready (keys as strings; ``choice.json``)."""
        name = lambda k: k if isinstance(k, str) else list(k) if isinstance(k, tuple) else str(k)  # noqa: E731
        return {
            "best": None if self.best is None else name(self.best),
            "best_set": [name(k) for k in self.best_set],
            "decided": self.decided,
            "entries": [{**asdict(e), "key": name(e.key)} for e in self.entries.values()],
            "dropped": [
                {**asdict(d), "key": name(d.key), "best": name(d.best)} for d in self.dropped.values()
            ],
            "race_rounds": self.race_rounds,
            "confirm_rounds": self.confirm_rounds,
            "budget_s": self.budget_s,
            "used_s": self.used_s,
            "stop_reason": self.stop_reason,
            "rounds_needed": self.rounds_needed,
            "budget_needed_s": self.budget_needed_s,
        }


class _WithBaseline:
    """A block model whose differences also reach the baseline (log speedup 0 in every block):
    a configuration against sequential is its own speedup interval (the model's se and dof)."""

    def __init__(self, model: BlockModel, baseline: Hashable | None) -> None:
        self.model, self.baseline = model, baseline
        self.rows = {tuple(r[: len(GROUP_KEYS)]): r for r in _table_rows(model.table)}

    def difference(self, a: Hashable, b: Hashable) -> Difference | None:
        if self.baseline is not None and b == self.baseline and a != b:
            r = self.rows.get(tuple(a))
            if r is None or not np.isfinite(r[-2]):
                return None
            return Difference(float(r[-3]), float(r[-2]), float(r[-1]), int(r[-4]), False)
        if self.baseline is not None and a == self.baseline and a != b:
            d = self.difference(b, a)
            return None if d is None else Difference(-d.estimate, d.se, d.dof, d.n_blocks, d.pooled)
        return self.model.difference(a, b)


def _table_rows(table: pd.DataFrame) -> list[tuple]:
    cols = [*GROUP_KEYS, "n_blocks", "log_estimate", "se", "dof"]
    return list(table[cols].itertuples(index=False, name=None)) if len(table) else []


def _workers(key: Hashable) -> int:
    if isinstance(key, tuple) and len(key) == len(GROUP_KEYS):
        try:
            return int(key[GROUP_KEYS.index("workers")])
        except (TypeError, ValueError):
            return 1
    return 1


def confirm(blocks: pd.DataFrame, race: Race, seconds_s: float) -> Answer:
    """The answer from the confirmation rounds alone.

    ``blocks`` holds ``block_log_speedups`` rows of the confirmation rounds only (never the
    race's: see the module docstring); ``seconds_s`` is what the confirmation took. The best set
    is Hsu's MCB with the margin (``compare_with_best``) over the confirmed configurations and
    the baseline; when it is decided with several members, the fewest workers is named.
    """
    confirm_rounds = int(blocks["block"].nunique()) if len(blocks) else 0
    if race.baseline is not None and race.survivors == [race.baseline]:
        return _sequential(race, seconds_s, confirm_rounds)
    if confirm_rounds < 2:
        return _too_small(blocks, race, seconds_s, confirm_rounds)
    model = BlockModel(blocks)
    keyed = _WithBaseline(model, race.baseline)
    cands = []
    for r in _table_rows(model.table):
        key, n, log_est, se, dof = tuple(r[: len(GROUP_KEYS)]), r[-4], r[-3], r[-2], r[-1]
        half = t_quantile_real(model.confidence, dof) * se if np.isfinite(se) and np.isfinite(dof) else np.nan
        cands.append(
            Candidate(key, float(log_est), float(log_est - half), float(log_est + half), _workers(key))
        )
    if race.baseline is not None:
        cands.append(Candidate(race.baseline, 0.0, 0.0, 0.0, 1))
    comparison: Comparison = compare_with_best(cands, keyed, race.margin)
    entries: dict[Hashable, Entry] = {}
    rounds_of = {tuple(r[: len(GROUP_KEYS)]): r[-4] for r in _table_rows(model.table)}
    for c in cands:
        lo, hi = (math.exp(c.log_low), math.exp(c.log_high)) if np.isfinite(c.log_low) else (np.nan, np.nan)
        n = confirm_rounds if c.key == race.baseline else int(rounds_of.get(c.key, 0))
        ratio = comparison.ratio_to_best.get(c.key, (np.nan, np.nan, np.nan))
        entries[c.key] = Entry(c.key, math.exp(c.log_speedup), lo, hi, ratio, c.key in comparison.best_set, n)
    best: Hashable | None = None
    if comparison.decided and comparison.best_set:
        # The simplest: fewest workers, and among one-worker answers no parallelism at all.
        best = min(
            comparison.best_set,
            key=lambda k: (_workers(k), k != race.baseline, comparison.order.index(k)),
        )
    best_set = list(comparison.best_set)
    answer = _answer(race, seconds_s, confirm_rounds, best, best_set, comparison.decided, entries)
    if not comparison.decided:
        needed = rounds_to_decide_best_set(keyed, comparison, race.margin, floor=MIN_CONFIRM_ROUNDS)
        answer.rounds_needed = needed or race.rounds_to_separate()
        if answer.rounds_needed is not None and confirm_rounds:
            per_round = seconds_s / confirm_rounds
            answer.budget_needed_s = race.spent_s + answer.rounds_needed * per_round
    return answer


def _answer(
    race: Race,
    seconds_s: float,
    confirm_rounds: int,
    best: Hashable | None,
    best_set: list,
    decided: bool,
    entries: dict,
) -> Answer:
    """An answer with what every answer carries from the race: its drops, rounds, budget, stop."""
    return Answer(
        best=best,
        best_set=best_set,
        decided=decided,
        entries=entries,
        dropped=dict(race.dropped),
        race_rounds=len(race.rounds),
        confirm_rounds=confirm_rounds,
        budget_s=race.budget_s,
        used_s=race.spent_s + seconds_s,
        stop_reason=race.stopped or race.stop_reason(),
    )


def _sequential(race: Race, seconds_s: float, confirm_rounds: int) -> Answer:
    """Every parallel configuration was dropped as clearly slower than sequential: nothing is left
    to confirm, and the answer is the baseline (speedup 1 by definition), the drops its evidence."""
    b = race.baseline
    entries = {b: Entry(b, 1.0, 1.0, 1.0, (1.0, 1.0, 1.0), True, len(race.rounds))}
    return _answer(race, seconds_s, confirm_rounds, b, [b], True, entries)


def _too_small(blocks: pd.DataFrame, race: Race, seconds_s: float, confirm_rounds: int) -> Answer:
    """Under two confirmation rounds there is no interval: undecided, with what would decide."""
    keys = race.confirm_keys()
    entries = {k: Entry(k, math.nan, math.nan, math.nan, (math.nan,) * 3, True, confirm_rounds) for k in keys}
    needed = max(race.rounds_to_separate() or MIN_CONFIRM_ROUNDS, MIN_CONFIRM_ROUNDS)
    answer = _answer(race, seconds_s, confirm_rounds, None, keys, False, entries)
    answer.rounds_needed = needed
    answer.budget_needed_s = race.spent_s + needed * race.confirm_cost_s(1)
    return answer


def block_values(blocks: pd.DataFrame, block: int) -> dict[tuple, float]:
    """One block's log speedups from a ``block_log_speedups`` table, keyed by configuration
    (``GROUP_KEYS`` tuples): what ``Race.record`` takes for that round."""
    part = blocks[blocks["block"] == block]
    keys = part[list(GROUP_KEYS)].itertuples(index=False, name=None)
    return {tuple(k): float(v) for k, v in zip(keys, part["log_speedup"].astype("float64"))}


def cut_to_confirm(race: Race, limit: int = MAX_CONFIRM) -> list[Hashable]:
    """Record the survivors beyond ``limit`` as cut (with their ratio to the best), and return the
    configurations to confirm."""
    race.stopped = race.stop_reason()
    keep = race.confirm_keys(limit)
    best = race.best()
    ratios = race.ratio_intervals()
    for k in race.survivors:
        if k in keep or k == race.baseline:
            continue
        r, lo, _ = ratios.get(k, (math.nan, math.nan, math.nan))
        # ratio_intervals gives speedup-ratio-as-time-ratio: > 1 means slower than the best
        race.dropped[k] = Drop(
            k, len(race.rounds), best, r, lo, math.nan, math.nan, len(race.rounds), TEST_CUT
        )
    return keep
